//! What a distributed request may say: exactly one query. DataFusion's SQL
//! can also create tables over any path (`CREATE EXTERNAL TABLE`) and write
//! files (`COPY ... TO`); both would step outside the data directory, so
//! they are refused here, by name, before anything is planned.

use std::collections::HashMap;
use std::ops::ControlFlow;

use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast::{visit_relations_mut, Ident, ObjectName, ObjectNamePart, Statement as SqlStatement};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::common::TableReference;
use polaroid_core::CoreError;

use crate::errors::to_core_error;

/// The tables `query` reads, each one identifier (CTE names left out).
pub fn table_names(query: &str) -> Result<Vec<String>, CoreError> {
    let statement = one_query(query)?;
    // DataFusion folds unquoted names to lower case; so does the lookup.
    let (tables, _ctes) = resolve_table_references(&statement, true).map_err(to_core_error)?;
    tables.into_iter().map(one_identifier).collect()
}

/// `query` with each of `tables` renamed to a plain identifier
/// (`"trades.parquet"` becomes `trades_parquet`), and the names given.
///
/// Ballista ships plans to its scheduler with table and column qualifiers
/// as text, which it parses again: a name with a dot in it comes back as
/// `schema.table` and no longer matches. Plain names survive the trip.
pub fn with_plain_names(query: &str, tables: &[String]) -> Result<(String, HashMap<String, String>), CoreError> {
    let mut plain: HashMap<String, String> = HashMap::new();
    for name in tables {
        let mut candidate = plain_identifier(name);
        let mut n = 1;
        while plain.values().any(|p| p == &candidate) || (candidate != *name && tables.contains(&candidate)) {
            n += 1;
            candidate = format!("{}_{n}", plain_identifier(name));
        }
        plain.insert(name.clone(), candidate);
    }
    if plain.iter().all(|(name, p)| name == p) {
        return Ok((query.to_string(), plain));
    }
    let mut statement = one_query(query)?;
    let Statement::Statement(inner) = &mut statement else {
        return Err(CoreError::Internal("a checked query is no longer a query".into()));
    };
    let _ = visit_relations_mut(inner.as_mut(), |relation: &mut ObjectName| {
        if let [ObjectNamePart::Identifier(ident)] = relation.0.as_slice() {
            let name = if ident.quote_style.is_some() { ident.value.clone() } else { ident.value.to_lowercase() };
            if let Some(p) = plain.get(&name) {
                *relation = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(p.clone()))]);
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Ok((statement.to_string(), plain))
}

/// Lower-case ASCII letters, digits and `_`, not starting with a digit.
fn plain_identifier(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The one statement of `query`, which must be a query.
fn one_query(query: &str) -> Result<Statement, CoreError> {
    let mut statements = DFParser::parse_sql_with_dialect(query, &GenericDialect {}).map_err(to_core_error)?;
    let statement = match (statements.pop_front(), statements.is_empty()) {
        (Some(statement), true) => statement,
        (None, _) => return Err(CoreError::InvalidArgument("the SQL query is empty".into())),
        (Some(_), false) => {
            return Err(CoreError::InvalidArgument(
                "a distributed request runs one statement; send the queries one at a time".into(),
            ))
        },
    };
    check_is_query(&statement)?;
    Ok(statement)
}

fn check_is_query(statement: &Statement) -> Result<(), CoreError> {
    match statement {
        Statement::Statement(inner) if matches!(inner.as_ref(), SqlStatement::Query(_)) => Ok(()),
        Statement::CreateExternalTable(_) => Err(CoreError::PermissionDenied(
            "CREATE EXTERNAL TABLE is refused: distributed queries read only the data directory's files and the \
             server's tables, named in FROM (FROM \"ticks.parquet\")"
                .into(),
        )),
        Statement::CopyTo(_) => Err(CoreError::PermissionDenied(
            "COPY ... TO is refused: distributed queries write no files; the result comes back as a handle".into(),
        )),
        other => Err(CoreError::InvalidArgument(format!(
            "a distributed request runs a query (SELECT, WITH ... SELECT, VALUES), not {}",
            first_words(&other.to_string())
        ))),
    }
}

fn one_identifier(reference: TableReference) -> Result<String, CoreError> {
    match reference {
        TableReference::Bare { table } => Ok(table.to_string()),
        other => Err(CoreError::InvalidArgument(format!(
            "{other}: distributed queries name tables by one identifier; quote a file name whole \
             (FROM \"daily/ticks.parquet\")"
        ))),
    }
}

/// The statement's first words, for a message.
fn first_words(text: &str) -> String {
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_names_its_tables_once_each_and_not_its_ctes() {
        let mut names = table_names(
            "WITH big AS (SELECT * FROM trades WHERE size > 10) \
             SELECT b.sym, q.bid FROM big b JOIN \"quotes.parquet\" q ON b.sym = q.sym \
             WHERE b.sym IN (SELECT sym FROM Trades)",
        )
        .unwrap();
        names.sort();
        assert_eq!(names, ["quotes.parquet", "trades"]);
    }

    #[test]
    fn names_ballista_cannot_carry_become_plain_identifiers() {
        let tables = vec!["trades.parquet".to_string(), "fills".to_string(), "trades_parquet".to_string()];
        let (sql, plain) = with_plain_names(
            "SELECT t.sym, f.qty FROM \"trades.parquet\" t JOIN fills f ON t.sym = f.sym JOIN trades_parquet x ON true",
            &tables,
        )
        .unwrap();
        assert_eq!(plain["trades.parquet"], "trades_parquet_2");
        assert_eq!(plain["fills"], "fills");
        assert_eq!(plain["trades_parquet"], "trades_parquet");
        assert_eq!(sql, "SELECT t.sym, f.qty FROM trades_parquet_2 t JOIN fills f ON t.sym = f.sym JOIN trades_parquet x ON true");
        // Plain names leave the text as the caller wrote it.
        let (same, _) = with_plain_names("select * from fills", &["fills".to_string()]).unwrap();
        assert_eq!(same, "select * from fills");
    }

    #[test]
    fn ddl_and_copy_are_refused_by_name() {
        let ddl = table_names("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc/'").unwrap_err();
        assert_eq!(ddl.kind(), polaroid_core::ErrorKind::PermissionDenied);
        assert!(ddl.to_string().starts_with("CREATE EXTERNAL TABLE is refused"), "{ddl}");
        let copy = table_names("COPY (SELECT 1) TO '/tmp/out.parquet'").unwrap_err();
        assert_eq!(copy.kind(), polaroid_core::ErrorKind::PermissionDenied);
        assert!(copy.to_string().starts_with("COPY ... TO is refused"), "{copy}");
        let insert = table_names("INSERT INTO t VALUES (1)").unwrap_err();
        assert_eq!(insert.kind(), polaroid_core::ErrorKind::InvalidArgument);
        assert!(insert.to_string().ends_with("not INSERT INTO t"), "{insert}");
    }

    #[test]
    fn bad_sql_and_qualified_names_are_the_callers_mistake() {
        let bad = table_names("SELEC 1").unwrap_err();
        assert!(bad.to_string().contains("SELEC"), "{bad}");
        assert_eq!(bad.kind(), polaroid_core::ErrorKind::InvalidArgument);
        let two = table_names("SELECT 1; SELECT 2").unwrap_err();
        assert!(two.to_string().contains("one statement"), "{two}");
        let qualified = table_names("SELECT * FROM data.ticks").unwrap_err();
        assert!(qualified.to_string().starts_with("data.ticks: distributed queries name tables by one identifier"), "{qualified}");
    }
}
