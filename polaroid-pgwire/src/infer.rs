//! The types of parameters the query leaves untyped, read from what they
//! are compared with or stored into, as PostgreSQL infers them: in
//! `WHERE qty > $1` the parameter is `qty`'s type, in `INSERT INTO t
//! VALUES ($1, $2)` each is its column's. Drivers that ask for the types
//! before binding (asyncpg) then send an integer as an integer; without
//! this every untyped parameter is text.
//!
//! Read from the parsed query (sqlparser, as polars-sql parses it): a
//! column compared (`=`, `<`, ..., BETWEEN, IN) with a parameter, looked up
//! in the schema of the query's FROM; an INSERT's columns in its table's
//! definition. Anything else keeps the type it had (text).

use std::ops::ControlFlow;

use polaroid_core::{Core, CoreError, Namespace};
use polars::prelude::*;
use sqlparser::ast::{visit_expressions, Expr, Ident, SetExpr, Statement, Value};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// Where an untyped parameter's type can be read from.
pub enum Source {
    /// `(parameter, column)` pairs and the FROM clause the columns are in.
    Compared { from: String, columns: Vec<(usize, String)> },
    /// `(parameter, column)` pairs of an INSERT into `table`.
    Inserted { table: String, columns: Vec<(usize, String)> },
}

/// The parameter a `$N` placeholder is (0-based).
fn parameter(expr: &Expr) -> Option<usize> {
    let Expr::Value(value) = expr else { return None };
    let Value::Placeholder(text) = &value.value else { return None };
    text.strip_prefix('$')?.parse::<usize>().ok().filter(|n| *n >= 1).map(|n| n - 1)
}

/// A column's name as the FROM's schema holds it.
fn column(expr: &Expr) -> Option<String> {
    let unquoted = |i: &Ident| i.value.clone();
    match expr {
        Expr::Identifier(i) => Some(unquoted(i)),
        Expr::CompoundIdentifier(parts) => parts.last().map(unquoted),
        Expr::Nested(e) => column(e),
        _ => None,
    }
}

/// Where `sql`'s untyped parameters take their types from, if anywhere.
pub fn source(sql: &str) -> Option<Source> {
    let parse = |sql: &str| Parser::parse_sql(&GenericDialect {}, sql).ok();
    let statements = parse(sql).or_else(|| parse(&without_questdb_clauses(sql)))?;
    let [statement] = statements.as_slice() else { return None };
    match statement {
        Statement::Query(query) => {
            let SetExpr::Select(select) = query.body.as_ref() else { return None };
            if select.from.is_empty() {
                return None;
            }
            let from = select.from.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
            let mut columns = Vec::new();
            let _ = visit_expressions(statement, |expr| {
                let mut pair = |a: &Expr, b: &Expr| {
                    if let (Some(p), Some(c)) = (parameter(a), column(b)) {
                        columns.push((p, c));
                    }
                };
                match expr {
                    Expr::BinaryOp { left, right, .. } => {
                        pair(left, right);
                        pair(right, left);
                    },
                    Expr::Between { expr, low, high, .. } => {
                        pair(low, expr);
                        pair(high, expr);
                    },
                    Expr::InList { expr, list, .. } => list.iter().for_each(|item| pair(item, expr)),
                    _ => {},
                }
                ControlFlow::<()>::Continue(())
            });
            (!columns.is_empty()).then_some(Source::Compared { from, columns })
        },
        Statement::Insert(insert) => {
            let source = insert.source.as_ref()?;
            let SetExpr::Values(values) = source.body.as_ref() else { return None };
            let table = insert.table.to_string().trim_matches('"').to_string();
            let named: Vec<String> = insert.columns.iter().map(|c| c.to_string().trim_matches('"').to_string()).collect();
            let mut columns = Vec::new();
            for row in &values.rows {
                for (position, cell) in row.iter().enumerate() {
                    if let Some(p) = parameter(cell) {
                        // Without a column list, the table's columns in order.
                        columns.push((p, named.get(position).cloned().unwrap_or_else(|| format!("#{position}"))));
                    }
                }
            }
            (!columns.is_empty()).then_some(Source::Inserted { table, columns })
        },
        _ => None,
    }
}

/// `sql` without QuestDB's clauses that standard SQL lacks and that hold
/// no parameter (`LATEST ON ... PARTITION BY ...`, `SAMPLE BY ... [FILL]
/// [ALIGN TO ...]`, and `LIMIT -n` as `LIMIT n`), so that the rest parses
/// and its WHERE types its parameters (`WHERE sym = $1 LATEST ON ...`).
fn without_questdb_clauses(sql: &str) -> String {
    static CLAUSES: std::sync::OnceLock<[regex::Regex; 3]> = std::sync::OnceLock::new();
    let [latest, sample, last] = CLAUSES.get_or_init(|| {
        [
            r#"(?is)\s+LATEST\s+ON\s+[\w"]+\s+PARTITION\s+BY\s+[\w"]+(?:\s*,\s*[\w"]+)*"#,
            r"(?is)\s+SAMPLE\s+BY\s+\S+(?:\s+FROM\s+\S+\s+TO\s+\S+)?(?:\s+FILL\s*\([^)]*\))?(?:\s+ALIGN\s+TO\s+(?:FIRST\s+OBSERVATION|CALENDAR(?:\s+TIME\s+ZONE\s+'[^']*')?(?:\s+WITH\s+OFFSET\s+'[^']*')?))?",
            r"(?i)\bLIMIT\s+-\s*(\d+)",
        ]
        .map(|pattern| regex::Regex::new(pattern).expect("a valid pattern"))
    });
    let sql = latest.replace_all(sql, "");
    let sql = sample.replace_all(&sql, "");
    last.replace_all(&sql, "LIMIT $1").into_owned()
}

/// The polars type of each parameter `source` names, found on the server:
/// the FROM's schema (planned, not run) or the table's definition.
pub fn types(core: &Core, ns: &Namespace, source: &Source) -> Result<Vec<(usize, DataType)>, CoreError> {
    match source {
        Source::Compared { from, columns } => {
            let (lf, _) = polaroid_questdb::plan(core, ns, &format!("SELECT * FROM {from}"))?;
            let schema = core.prepare_plan(ns, lf, "pgwire(parameter types)")?.schema().clone();
            let find = |name: &str| {
                schema.get(name).or_else(|| schema.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, d)| d))
            };
            Ok(columns.iter().filter_map(|(p, c)| find(c).map(|d| (*p, d.clone()))).collect())
        },
        Source::Inserted { table, columns } => {
            let Some(table) = core.tables().get(ns, table)? else { return Ok(Vec::new()) };
            let def = table.def();
            let mut typed = Vec::new();
            for (p, name) in columns {
                let column = match name.strip_prefix('#').and_then(|i| i.parse::<usize>().ok()) {
                    Some(position) => def.columns.get(position),
                    None => def.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)),
                };
                if let Some(column) = column {
                    typed.push((*p, polaroid_core::tables::storage_type(&column.kind)?));
                }
            }
            Ok(typed)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_paired_with_the_columns_they_meet() {
        let Some(Source::Compared { from, columns }) =
            source("SELECT * FROM read_parquet('t.parquet') t WHERE t.qty > $1 AND $2 = sym AND ts BETWEEN $3 AND $4 AND x IN ($5, 7)")
        else {
            panic!()
        };
        assert_eq!(from, "read_parquet('t.parquet') t");
        let names: Vec<(usize, &str)> = columns.iter().map(|(p, c)| (*p, c.as_str())).collect();
        assert_eq!(names, vec![(0, "qty"), (1, "sym"), (2, "ts"), (3, "ts"), (4, "x")]);
        let Some(Source::Inserted { table, columns }) = source("INSERT INTO fills (px, sym) VALUES ($2, $1)") else { panic!() };
        assert_eq!((table.as_str(), columns), ("fills", vec![(1, "px".to_string()), (0, "sym".to_string())]));
        let Some(Source::Inserted { columns, .. }) = source("INSERT INTO fills VALUES ($1, 'a', $2)") else { panic!() };
        assert_eq!(columns, vec![(0, "#0".to_string()), (1, "#2".to_string())]);
        assert!(source("SELECT $1").is_none() && source("SELECT * FROM t SAMPLE BY 1m").is_none());
        // QuestDB's clauses that hold no parameter are read past.
        for sql in [
            "SELECT * FROM t WHERE px > $1 LATEST ON ts PARTITION BY sym, venue ORDER BY sym",
            "SELECT ts, avg(x) FROM t WHERE px > $1 SAMPLE BY 1h FILL(PREV) ALIGN TO CALENDAR TIME ZONE 'Europe/Paris' LIMIT 5",
            "SELECT * FROM t WHERE px > $1 LIMIT -10",
        ] {
            let Some(Source::Compared { from, columns }) = source(sql) else { panic!("{sql}") };
            assert_eq!((from.as_str(), columns), ("t", vec![(0, "px".to_string())]), "{sql}");
        }
    }
}
