//! The statements that change the caller's tables in SQL's own terms
//! (what a Flight SQL client sends: literals as polars-sql reads them,
//! bound parameters): `INSERT INTO table [(columns)] VALUES (...) |
//! SELECT ...`, appended durably; `CREATE [OR REPLACE] TABLE [IF NOT
//! EXISTS] name (column TYPE, ...) | AS SELECT ...`; `DROP TABLE [IF
//! EXISTS] name, ...`; `TRUNCATE [TABLE] name, ...`. A table made so has no
//! designated timestamp: QuestDB's CREATE TABLE on the HTTP door gives one
//! (and partitions).
//!
//! `VALUES` of placeholders alone (`VALUES (?, ?, ?)`, DB-API's
//! `executemany`) stores the bound columns themselves, row for row, with
//! no SQL in between. Any other source is planned by polars-sql (each
//! `VALUES` row as a `SELECT` of its expressions, once per bound row) and
//! its rows conformed to the table's types as every append is.

use polaroid_handles::Namespace;
use polars::prelude::*;
use sqlparser::ast::{
    CreateTable, DataType as SqlDataType, Expr as SqlExpr, ObjectName, ObjectNamePart, ObjectType, SetExpr, Statement,
    TableObject, Value,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::core::Core;
use crate::error::CoreError;
use crate::slots::CancelToken;
use crate::sql_parameters::{bind_one, Parameters};
use crate::tables::{storage_type, IfExists, PartitionBy, TableDef};

/// Whether `statement` changes tables (by its first word): INSERT,
/// CREATE, DROP, TRUNCATE.
pub fn is_change(statement: &str) -> bool {
    matches!(first_word(statement).as_str(), "INSERT" | "CREATE" | "DROP" | "TRUNCATE")
}

fn first_word(statement: &str) -> String {
    statement.split_whitespace().next().unwrap_or_default().to_ascii_uppercase()
}

impl Core {
    /// Run a statement that changes tables ([`is_change`]), with `values`
    /// bound to its placeholders (an INSERT's rows; one row's, written in,
    /// for `CREATE TABLE t AS SELECT ... WHERE x > ?`). Returns the rows
    /// stored (none for DROP and TRUNCATE).
    pub fn change(&self, ns: &Namespace, statement: &str, values: Option<&DataFrame>, cancel: &CancelToken) -> Result<u64, CoreError> {
        let first = first_word(statement);
        if first == "INSERT" {
            return self.insert(ns, statement, values, cancel);
        }
        let bound = bind_one(statement, values)?;
        let statements =
            Parser::parse_sql(&GenericDialect {}, &bound).map_err(|e| CoreError::InvalidArgument(e.to_string()))?;
        if let [Statement::CreateTable(create)] = statements.as_slice() {
            return self.create_table(ns, create, cancel);
        }
        let (names, if_exists, truncate) = match statements.as_slice() {
            [Statement::Drop { object_type: ObjectType::Table, if_exists, names, .. }] => (names.clone(), *if_exists, false),
            [Statement::Drop { object_type, .. }] => {
                return Err(CoreError::InvalidArgument(format!("DROP {object_type}: the tables here are the only objects to drop")))
            },
            [Statement::Truncate(truncate)] => {
                (truncate.table_names.iter().map(|t| t.name.clone()).collect(), truncate.if_exists, true)
            },
            _ => return Err(CoreError::InvalidArgument(format!("expected one {first} TABLE statement"))),
        };
        let names = names.iter().map(table_name).collect::<Result<Vec<_>, _>>()?;
        // Every table is checked before any goes.
        for name in &names {
            if !if_exists && self.tables().get(ns, name)?.is_none() {
                return Err(CoreError::NotFound(format!("table does not exist: {name}")));
            }
        }
        for name in &names {
            match (truncate, self.tables().get(ns, name)?.is_some()) {
                (true, true) => self.tables().truncate(ns, name)?,
                (false, true) => self.tables().drop(ns, name, if_exists)?,
                (_, false) => {},
            }
        }
        Ok(0)
    }

    /// Run an INSERT (see the module), with `values` bound to its
    /// placeholders. Returns the rows appended.
    pub fn insert(&self, ns: &Namespace, statement: &str, values: Option<&DataFrame>, cancel: &CancelToken) -> Result<u64, CoreError> {
        let parameters = Parameters::of(statement)?;
        let values = values.filter(|v| v.width() > 0);
        let target = self.insert_target(ns, statement)?;
        let rows = match (values, target.values_of_placeholders) {
            (Some(values), true) => {
                let mut columns = parameters.columns(values)?;
                target.check_width(columns.len())?;
                for (column, name) in columns.iter_mut().zip(&target.columns) {
                    column.rename(name.as_str().into());
                }
                DataFrame::new(values.height(), columns)?
            },
            (Some(values), false) => {
                let mut frames = Vec::new();
                for bound in parameters.bind(values)? {
                    frames.push(self.insert_source(ns, &self.insert_target(ns, &bound)?, cancel)?);
                }
                concat_frames(frames)?
            },
            (None, _) => self.insert_source(ns, &target, cancel_or_unbound(&parameters, cancel)?)?,
        };
        let appended = self.tables().append(ns, &target.table, rows, None)?;
        self.metrics().ingested(&target.table, appended);
        Ok(appended)
    }

    /// `CREATE TABLE`: of the columns it names, or of a query's rows
    /// (which it stores). Returns the rows stored.
    fn create_table(&self, ns: &Namespace, create: &CreateTable, cancel: &CancelToken) -> Result<u64, CoreError> {
        let refused = |what: &str| Err(CoreError::Unimplemented(format!("CREATE {what} is not supported here: tables are durable, of columns and rows")));
        if create.temporary {
            return refused("TEMPORARY TABLE (a temporary table is an upload: Flight SQL's bulk ingest with temporary=true)");
        }
        if create.external || create.location.is_some() {
            return refused("EXTERNAL TABLE (read files with read_parquet('...') in a query)");
        }
        if create.like.is_some() || create.clone.is_some() {
            return refused("TABLE ... LIKE/CLONE");
        }
        if !create.constraints.is_empty() || create.columns.iter().any(|c| !c.options.is_empty()) {
            return Err(CoreError::InvalidArgument(format!(
                "CREATE TABLE {}: tables here keep no keys or constraints (NOT NULL, PRIMARY KEY, DEFAULT, ...); name the columns and their types",
                create.name
            )));
        }
        let name = table_name(&create.name)?;
        let exists = self.tables().get(ns, &name)?.is_some();
        if exists && create.if_not_exists {
            return Ok(0);
        }
        if exists && !create.or_replace {
            return Err(CoreError::InvalidArgument(format!("table already exists: {name}")));
        }
        let if_exists = if create.or_replace { IfExists::Replace } else { IfExists::Fail };
        match &create.query {
            Some(query) => {
                let (lf, _) = self.namespace_sql_plan(ns, &query.to_string())?;
                let entry = self.prepare_plan(ns, lf, format!("create table {name}"))?;
                let mut rows = self.collect_entry(&entry, Engine::Auto, cancel)?.as_ref().clone();
                if !create.columns.is_empty() {
                    if create.columns.len() != rows.width() {
                        return Err(CoreError::InvalidArgument(format!(
                            "CREATE TABLE {name} names {} column(s) for the query's {}",
                            create.columns.len(),
                            rows.width()
                        )));
                    }
                    let names: Vec<&str> = create.columns.iter().map(|c| c.name.value.as_str()).collect();
                    rows.set_column_names(&names)?;
                }
                self.tables().ingest(ns, &name, rows, true, if_exists)
            },
            None => {
                let columns = create
                    .columns
                    .iter()
                    .map(|c| Ok((c.name.value.as_str(), table_kind(&c.name.value, &c.data_type)?)))
                    .collect::<Result<Vec<_>, CoreError>>()?;
                let def = TableDef::new(&name, &columns, None, PartitionBy::None);
                let empty = DataFrame::empty_with_schema(&def.schema()?);
                self.tables().ingest(ns, &name, empty, true, if_exists)
            },
        }
    }

    /// What `statement` inserts into: an existing table of the caller's,
    /// and the columns it fills (all of the table's when it names none).
    fn insert_target(&self, ns: &Namespace, statement: &str) -> Result<Target, CoreError> {
        let mut target = Target::of(statement)?;
        let table = self
            .tables()
            .existing(ns, &target.table)?;
        let def = table.def();
        if target.columns.is_empty() {
            target.columns = def.columns.iter().map(|c| c.name.clone()).collect();
        }
        for name in &target.columns {
            let Some(column) = def.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)) else {
                return Err(CoreError::InvalidArgument(format!("column {name} does not exist in table {}", def.name)));
            };
            target.types.push(storage_type(&column.kind)?);
        }
        Ok(target)
    }

    /// The rows an INSERT's source gives, named as the target columns.
    fn insert_source(&self, ns: &Namespace, target: &Target, cancel: &CancelToken) -> Result<DataFrame, CoreError> {
        let queries: Vec<String> = match &target.rows {
            // Each row a SELECT of its expressions, so that polars-sql
            // reads the literals (DATE '...', -1.5, CAST(...)) as a query would.
            Some(rows) => rows
                .iter()
                .map(|row| {
                    let items: Vec<String> = row.iter().enumerate().map(|(i, e)| format!("{e} AS \"{i}\"")).collect();
                    format!("SELECT {}", items.join(", "))
                })
                .collect(),
            None => vec![target.query.clone()],
        };
        let mut frames = Vec::with_capacity(queries.len());
        for query in queries {
            let (lf, _) = self.namespace_sql_plan(ns, &query)?;
            let entry = self.prepare_plan(ns, lf, format!("insert into {}", target.table))?;
            let rows = self.collect_entry(&entry, Engine::Auto, cancel)?;
            target.check_width(rows.width())?;
            // Each row set typed as the table's columns before they meet:
            // `(TIMESTAMP '...', ...), ('2024-01-01T00:00:02Z', ...)` is two
            // timestamps, not text in two formats.
            let mut typed = Vec::with_capacity(rows.width());
            for ((column, name), dtype) in rows.columns().iter().zip(&target.columns).zip(&target.types) {
                let cast = column.strict_cast(dtype).map_err(|e| {
                    CoreError::InvalidArgument(format!(
                        "column {name} of {}: cannot store {} as {dtype}: {e}",
                        target.table,
                        column.dtype()
                    ))
                })?;
                typed.push(cast.with_name(name.as_str().into()));
            }
            frames.push(DataFrame::new(rows.height(), typed)?);
        }
        concat_frames(frames)
    }
}

/// Without bound values a statement may not have placeholders.
fn cancel_or_unbound<'a>(parameters: &Parameters, cancel: &'a CancelToken) -> Result<&'a CancelToken, CoreError> {
    if parameters.is_empty() {
        Ok(cancel)
    } else {
        Err(CoreError::InvalidArgument(format!(
            "the INSERT takes {} parameter(s) ({}) and none was bound",
            parameters.count(),
            parameters.placeholder_texts().join(", ")
        )))
    }
}

/// Frames of one row set each, one after another; a column null in one
/// and typed in another takes the type.
fn concat_frames(frames: Vec<DataFrame>) -> Result<DataFrame, CoreError> {
    if frames.len() == 1 {
        return Ok(frames.into_iter().next().expect("one frame"));
    }
    let plans: Vec<LazyFrame> = frames.into_iter().map(DataFrame::lazy).collect();
    Ok(concat(plans, UnionArgs { to_supertypes: true, ..Default::default() })?.collect()?)
}

/// The table type (QuestDB's name, as tables keep them) of a column SQL
/// declares: SQL's standard names, and QuestDB's own (`SYMBOL`, `LONG`).
fn table_kind(column: &str, data_type: &SqlDataType) -> Result<&'static str, CoreError> {
    let text = data_type.to_string().to_ascii_uppercase();
    let base = text.split('(').next().unwrap_or_default().trim();
    Ok(match base {
        "BOOLEAN" | "BOOL" => "BOOLEAN",
        "TINYINT" | "INT1" | "BYTE" => "BYTE",
        "SMALLINT" | "INT2" | "SHORT" => "SHORT",
        "INT" | "INTEGER" | "INT4" => "INT",
        "BIGINT" | "INT8" | "INT64" | "LONG" => "LONG",
        "REAL" | "FLOAT4" => "FLOAT",
        "DOUBLE" | "DOUBLE PRECISION" | "FLOAT8" | "FLOAT" | "FLOAT64" => "DOUBLE",
        "VARCHAR" | "CHARACTER VARYING" | "TEXT" | "STRING" | "CHAR" | "CHARACTER" | "NVARCHAR" => "VARCHAR",
        "SYMBOL" => "SYMBOL",
        "TIMESTAMP" | "DATETIME" | "TIMESTAMP WITHOUT TIME ZONE" => "TIMESTAMP",
        "TIMESTAMP_NS" => "TIMESTAMP_NS",
        "BLOB" | "BYTEA" | "BINARY" | "VARBINARY" => "BINARY",
        _ => {
            return Err(CoreError::InvalidArgument(format!(
                "column {column} is {text}, which no table type holds as it is: tables store BOOLEAN, TINYINT, \
                 SMALLINT, INTEGER, BIGINT, REAL, DOUBLE, VARCHAR (or SYMBOL), TIMESTAMP (without a zone: time is \
                 stored in UTC) and BLOB"
            )))
        },
    })
}

/// A table's name, which has no schema or catalog here.
fn table_name(name: &ObjectName) -> Result<String, CoreError> {
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => Ok(ident.value.clone()),
        _ => Err(CoreError::InvalidArgument(format!("tables here have no schema or catalog: {name} names one"))),
    }
}

/// What an INSERT names: its table, the columns it fills (all of the
/// table's when it names none), and its source.
struct Target {
    table: String,
    columns: Vec<String>,
    /// `VALUES` rows (expressions), or `None` for a query.
    rows: Option<Vec<Vec<SqlExpr>>>,
    /// The source as a query's text.
    query: String,
    /// `VALUES` is one row of placeholders alone.
    values_of_placeholders: bool,
    /// The table's types of `columns` (filled with the table).
    types: Vec<DataType>,
}

impl Target {
    /// A source of `width` columns must fill the target's columns.
    fn check_width(&self, width: usize) -> Result<(), CoreError> {
        if width == self.columns.len() {
            return Ok(());
        }
        Err(CoreError::InvalidArgument(format!(
            "the source gives {width} column(s) for {} column(s) of {}",
            self.columns.len(),
            self.table
        )))
    }

    fn of(statement: &str) -> Result<Self, CoreError> {
        let invalid = |m: String| CoreError::InvalidArgument(m);
        let statements = Parser::parse_sql(&GenericDialect {}, statement).map_err(|e| invalid(e.to_string()))?;
        let [Statement::Insert(insert)] = statements.as_slice() else {
            return Err(invalid("expected one INSERT statement".into()));
        };
        if insert.on.is_some() || insert.returning.is_some() || insert.overwrite || insert.or.is_some() || insert.replace_into {
            return Err(CoreError::Unimplemented(
                "INSERT here appends rows: ON CONFLICT, RETURNING, OR REPLACE and OVERWRITE are not supported".into(),
            ));
        }
        let TableObject::TableName(name) = &insert.table else {
            return Err(invalid("INSERT INTO a table function is not supported: name a table".into()));
        };
        let table = table_name(name)?;
        let source = insert.source.as_ref().ok_or_else(|| invalid("INSERT needs VALUES or a SELECT".into()))?;
        let rows = match source.body.as_ref() {
            SetExpr::Values(values) if source.order_by.is_none() && source.limit_clause.is_none() => {
                Some(values.rows.iter().map(|row| row.content.clone()).collect::<Vec<_>>())
            },
            _ => None,
        };
        let values_of_placeholders = rows.as_ref().is_some_and(|rows| {
            rows.len() == 1
                && rows[0].iter().all(|e| matches!(e, SqlExpr::Value(v) if matches!(v.value, Value::Placeholder(_))))
        });
        let columns = insert
            .columns
            .iter()
            .map(|c| match c.0.as_slice() {
                [ObjectNamePart::Identifier(ident)] => Ok(ident.value.clone()),
                _ => Err(invalid(format!("INSERT names column {c}: name columns plainly"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { table, columns, rows, query: source.to_string(), values_of_placeholders, types: Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::core::CoreConfig;
    use crate::tables::{PartitionBy, TableDef};

    fn core_with_ticks() -> (tempfile::TempDir, Arc<Core>, Namespace) {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::new(CoreConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).unwrap();
        let def = TableDef::new("ticks", &[("ts", "TIMESTAMP"), ("sym", "SYMBOL"), ("qty", "INT")], Some("ts"), PartitionBy::Day);
        core.tables().create(&Namespace::anonymous(), def, false).unwrap();
        (dir, core, Namespace::anonymous())
    }

    fn stored(core: &Core, ns: &Namespace) -> Vec<(i64, Option<String>, Option<i32>)> {
        let rows = core.tables().get(ns, "ticks").unwrap().unwrap().scan().unwrap().sort(["ts"], Default::default()).collect().unwrap();
        let ts = rows.column("ts").unwrap().to_physical_repr().cast(&DataType::Int64).unwrap();
        let sym = rows.column("sym").unwrap().cast(&DataType::String).unwrap();
        let qty = rows.column("qty").unwrap();
        (0..rows.height())
            .map(|i| {
                (
                    ts.i64().unwrap().get(i).unwrap(),
                    sym.str().unwrap().get(i).map(str::to_string),
                    qty.i32().unwrap().get(i),
                )
            })
            .collect()
    }

    #[test]
    fn values_of_literals_of_placeholders_and_a_select_are_appended_as_the_tables_types() {
        let (_dir, core, ns) = core_with_ticks();
        let cancel = CancelToken::default();
        // Literals as polars-sql reads them; rows typed as the table's columns.
        // (Text of a time is a time here, as the table reads it.)
        let sql = "INSERT INTO ticks VALUES (TIMESTAMP '1970-01-01 00:00:01', 'A', 5), ('1970-01-01T00:00:02Z', NULL, -1)";
        assert_eq!(core.insert(&ns, sql, None, &cancel).unwrap(), 2);
        // executemany: the bound columns themselves, to the named columns in their order.
        let values = df!("0" => [7i64, 8], "1" => [3_000_000i64, 4_000_000]).unwrap();
        let values = values.lazy().with_column(col("1").cast(DataType::Datetime(TimeUnit::Microseconds, None))).collect().unwrap();
        assert_eq!(core.insert(&ns, "INSERT INTO ticks (qty, ts) VALUES (?, ?)", Some(&values), &cancel).unwrap(), 2);
        // Placeholders among other expressions: bound as literals, row by row.
        let values = df!("a" => ["B", "C"]).unwrap();
        let sql = "INSERT INTO ticks (ts, sym, qty) VALUES (TIMESTAMP '1970-01-01 00:00:05', $a, 1 + 1)";
        assert_eq!(core.insert(&ns, sql, Some(&values), &cancel).unwrap(), 2);
        // A SELECT over the table itself, planned before the rows go in.
        let sql = "INSERT INTO ticks SELECT ts + INTERVAL '10 seconds', sym, qty * 10 FROM ticks WHERE qty = 5";
        assert_eq!(core.insert(&ns, sql, None, &cancel).unwrap(), 1);
        let want = vec![
            (1_000_000, Some("A".to_string()), Some(5)),
            (2_000_000, None, Some(-1)),
            (3_000_000, None, Some(7)),
            (4_000_000, None, Some(8)),
            (5_000_000, Some("B".to_string()), Some(2)),
            (5_000_000, Some("C".to_string()), Some(2)),
            (11_000_000, Some("A".to_string()), Some(50)),
        ];
        let mut got = stored(&core, &ns);
        got.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn bad_inserts_are_refused_and_store_nothing() {
        let (_dir, core, ns) = core_with_ticks();
        let cancel = CancelToken::default();
        let refused = |sql: &str, values: Option<&DataFrame>| core.insert(&ns, sql, values, &cancel).unwrap_err().to_string();
        assert!(refused("INSERT INTO nope VALUES (1)", None).contains("table does not exist: nope"));
        assert!(refused("INSERT INTO ticks (ts, nope) VALUES (TIMESTAMP '1970-01-01', 1)", None).contains("column nope does not exist"));
        assert!(refused("INSERT INTO ticks VALUES (1, 2)", None).contains("the source gives 2 column(s) for 3 column(s) of ticks"));
        assert!(refused("INSERT INTO ticks (qty) VALUES (1)", None).contains("designated timestamp ts of ticks cannot be null"));
        assert!(refused("INSERT INTO ticks (ts, qty) VALUES (TIMESTAMP '1970-01-01', 'x')", None).contains("cannot store str as i32"));
        // 3_000_000_000 does not fit an INT: refused, not wrapped.
        let big = "INSERT INTO ticks (ts, qty) VALUES (TIMESTAMP '1970-01-01', 3000000000)";
        assert!(refused(big, None).contains("column qty of ticks: cannot store i64 as i32"), "{}", refused(big, None));
        assert!(refused("INSERT INTO ticks (qty, ts) VALUES (?, ?)", None).contains("takes 2 parameter(s) (?, ?) and none was bound"));
        let one = df!("a" => [1i64]).unwrap();
        assert!(refused("INSERT INTO ticks (qty, ts) VALUES (?, ?)", Some(&one)).contains("takes 2 parameter(s) and 1 were bound"));
        assert!(refused("INSERT INTO ticks VALUES (1, 2, 3) RETURNING qty", None).contains("RETURNING"));
        assert!(refused("INSERT INTO s.ticks VALUES (1, 2, 3)", None).contains("no schema or catalog"));
        assert!(stored(&core, &ns).is_empty());
    }

    #[test]
    fn create_table_of_columns_or_of_a_query_and_its_refusals() {
        let (_dir, core, ns) = core_with_ticks();
        let cancel = CancelToken::default();
        let sql = "CREATE TABLE orders (ts TIMESTAMP, sym VARCHAR(8), qty INTEGER, px DOUBLE PRECISION, ok BOOLEAN, note TEXT)";
        assert_eq!(core.change(&ns, sql, None, &cancel).unwrap(), 0);
        let def = core.tables().get(&ns, "orders").unwrap().unwrap().def();
        let kinds: Vec<_> = def.columns.iter().map(|c| (c.name.as_str(), c.kind.as_str())).collect();
        let want = [("ts", "TIMESTAMP"), ("sym", "VARCHAR"), ("qty", "INT"), ("px", "DOUBLE"), ("ok", "BOOLEAN"), ("note", "VARCHAR")];
        assert_eq!(kinds, want);
        let refused = core.change(&ns, sql, None, &cancel).unwrap_err();
        assert!(refused.to_string().contains("table already exists: orders"), "{refused}");
        assert_eq!(core.change(&ns, &sql.replace("TABLE", "TABLE IF NOT EXISTS"), None, &cancel).unwrap(), 0);
        // Of a query's rows, stored; named anew; replaced.
        let insert = "INSERT INTO ticks VALUES (TIMESTAMP '1970-01-01 00:00:01', 'A', 5), (TIMESTAMP '1970-01-01 00:00:02', 'B', 7)";
        core.change(&ns, insert, None, &cancel).unwrap();
        let ctas = "CREATE TABLE big AS SELECT ts AS t, sym AS s, qty * 2 AS q FROM ticks WHERE qty > 5";
        assert_eq!(core.change(&ns, ctas, None, &cancel).unwrap(), 1);
        let big = core.tables().get(&ns, "big").unwrap().unwrap().scan().unwrap().collect().unwrap();
        assert_eq!(big.get_column_names(), ["t", "s", "q"]);
        assert_eq!(big.column("q").unwrap().get(0).unwrap(), AnyValue::Int64(14));
        let replace = "CREATE OR REPLACE TABLE big AS SELECT qty FROM ticks";
        assert_eq!(core.change(&ns, replace, None, &cancel).unwrap(), 2);
        // One row of values is written in; more are refused (it runs once).
        let bound = "CREATE OR REPLACE TABLE big AS SELECT qty FROM ticks WHERE qty > ?";
        assert_eq!(core.change(&ns, bound, Some(&df!("q" => [6i64]).unwrap()), &cancel).unwrap(), 1);
        let refused = core.change(&ns, bound, Some(&df!("q" => [6i64, 7]).unwrap()), &cancel).unwrap_err();
        assert!(refused.to_string().contains("2 rows of parameters were bound"), "{refused}");
        let refusals = [
            ("CREATE TABLE x (a INT NOT NULL)", "keep no keys or constraints"),
            ("CREATE TABLE x (a INT, PRIMARY KEY (a))", "keep no keys or constraints"),
            ("CREATE TABLE x (d DATE)", "column d is DATE, which no table type holds"),
            ("CREATE TABLE x (d DECIMAL(10, 2))", "column d is DECIMAL(10,2), which no table type holds"),
            ("CREATE TEMPORARY TABLE x (a INT)", "a temporary table is an upload"),
            ("CREATE TABLE x (c INT) AS SELECT ts, sym FROM ticks", "names 1 column(s) for the query's 2"),
            ("CREATE TABLE s.x (a INT)", "no schema or catalog"),
        ];
        for (sql, message) in refusals {
            let refused = core.change(&ns, sql, None, &cancel).unwrap_err();
            assert!(refused.to_string().contains(message), "{sql}: {refused}");
        }
        assert!(core.tables().get(&ns, "x").unwrap().is_none());
    }

    #[test]
    fn drop_and_truncate_check_every_table_before_changing_any() {
        let (_dir, core, ns) = core_with_ticks();
        let cancel = CancelToken::default();
        let insert = "INSERT INTO ticks VALUES (TIMESTAMP '1970-01-01 00:00:01', 'A', 5)";
        core.change(&ns, insert, None, &cancel).unwrap();
        let refused = core.change(&ns, "DROP TABLE ticks, nope", None, &cancel).unwrap_err();
        assert!(matches!(&refused, CoreError::NotFound(m) if m == "table does not exist: nope"), "{refused}");
        assert_eq!(stored(&core, &ns).len(), 1);
        let refused = core.change(&ns, "DROP VIEW ticks", None, &cancel).unwrap_err();
        assert!(refused.to_string().contains("DROP VIEW: the tables here are the only objects to drop"), "{refused}");
        // TRUNCATE keeps the table, empty.
        core.change(&ns, "TRUNCATE TABLE ticks", None, &cancel).unwrap();
        assert!(stored(&core, &ns).is_empty());
        core.change(&ns, insert, None, &cancel).unwrap();
        assert_eq!(stored(&core, &ns).len(), 1);
        core.change(&ns, "DROP TABLE IF EXISTS ticks, nope", None, &cancel).unwrap();
        assert!(core.tables().get(&ns, "ticks").unwrap().is_none());
        core.change(&ns, "DROP TABLE IF EXISTS ticks", None, &cancel).unwrap();
    }
}
