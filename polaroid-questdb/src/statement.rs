//! QuestDB's statements that are not queries: `CREATE TABLE`, `INSERT`,
//! `DROP TABLE`, `ALTER TABLE ... SET TTL`. Queries go to polars-sql
//! through the core.
//!
//! QuestDB's `CREATE TABLE` has clauses standard SQL lacks
//! (`timestamp(ts) PARTITION BY DAY`, `WAL`), so it is read here; `INSERT`
//! is standard and read with sqlparser, the parser polars-sql uses.

use std::sync::OnceLock;

use polaroid_core::retention::{Retention, Ttl};
use polaroid_core::tables::{kind_of, storage_type, ColumnDef, PartitionBy, TableDef};
use polaroid_core::sql_parameters::bind_one;
use polaroid_core::{CancelToken, Core, CoreError, Namespace};
use polars::prelude::*;
use regex::Regex;
use sqlparser::ast::{Expr, SetExpr, Statement as Ast};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// What a statement is, by its first word.
pub enum Kind {
    Create,
    Insert,
    Drop,
    Alter,
    Truncate,
    Rename,
    /// A statement QuestDB has and this door does not (`UPDATE`, ...).
    Unsupported(String),
    Query,
}

pub fn kind(sql: &str) -> Kind {
    let first = sql.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    match first.as_str() {
        "CREATE" => Kind::Create,
        "INSERT" => Kind::Insert,
        "DROP" => Kind::Drop,
        "ALTER" => Kind::Alter,
        "TRUNCATE" => Kind::Truncate,
        "RENAME" => Kind::Rename,
        "UPDATE" | "DELETE" | "COPY" | "VACUUM" | "REINDEX" | "BACKUP" | "SNAPSHOT" | "CANCEL" | "GRANT"
        | "REVOKE" | "REFRESH" => Kind::Unsupported(first),
        _ => Kind::Query,
    }
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument(message.into())
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("a valid pattern"))
}

/// `CREATE TABLE [IF NOT EXISTS] name (col TYPE, ...) | AS (SELECT ...)
/// [timestamp(col)] [PARTITION BY unit] [TTL n unit] [WAL | BYPASS WAL]
/// [WITH maxUncommittedRows=n, o3MaxLag=t] [DEDUP UPSERT KEYS(ts, ...)]`.
pub fn create(core: &Core, ns: &Namespace, sql: &str, cancel: &CancelToken) -> Result<(), CoreError> {
    static HEAD: OnceLock<Regex> = OnceLock::new();
    static TAIL: OnceLock<Regex> = OnceLock::new();
    let sql = sql.trim().trim_end_matches(';').trim();
    // A name may carry PostgreSQL's schema, `public` (ADBC writes
    // `"public" . "t"`): every table is in it.
    let head = regex(
        &HEAD,
        r"(?is)^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(?:(?:\x22public\x22|public)\s*\.\s*)?(\x22[^\x22]+\x22|'[^']+'|[\w.\-]+)\s*(AS\s*)?\(",
    );
    let caps = head.captures(sql).ok_or_else(|| {
        invalid("expected CREATE TABLE [IF NOT EXISTS] name (column TYPE, ...) or CREATE TABLE name AS (SELECT ...)")
    })?;
    let if_not_exists = caps.get(1).is_some();
    let name = caps[2].trim_matches(|c| c == '"' || c == '\'').to_string();
    let as_select = caps.get(3).is_some();
    let open = caps.get(0).expect("the whole match").end();
    let close = matching_paren(sql, open - 1).ok_or_else(|| invalid("unbalanced parentheses in CREATE TABLE"))?;
    let inner = &sql[open..close];
    let tail = regex(
        &TAIL,
        r"(?is)^\s*(?:timestamp\s*\(\s*(\w+)\s*\))?\s*(?:PARTITION\s+BY\s+(\w+))?\s*(?:TTL\s+(\d+\s*[A-Za-z]+))?\s*(?:(?:BYPASS\s+)?WAL)?\s*(?:WITH\s+\w+\s*=\s*\w+(?:\s*,\s*\w+\s*=\s*\w+)*)?\s*(?:DEDUP\s+UPSERT\s+KEYS\s*\(([^)]*)\))?\s*$",
    );
    let rest = &sql[close + 1..];
    let clauses = tail.captures(rest).ok_or_else(|| invalid(format!("unexpected text after the column list: {}", rest.trim())))?;
    let timestamp = clauses.get(1).map(|m| m.as_str().to_string());
    let partition_by = clauses.get(2).map_or(Ok(PartitionBy::None), |m| PartitionBy::parse(m.as_str()))?;
    let retention = Retention { ttl: clauses.get(3).map(|m| Ttl::parse(m.as_str())).transpose()?, max_bytes: None };
    let upsert_keys = clauses.get(4).map(|m| upsert_keys(m.as_str())).transpose()?.unwrap_or_default();
    if as_select {
        // The SELECT is QuestDB's, as any query here (`SAMPLE BY` makes a
        // table of bars).
        let (lf, _) = crate::dialect::plan(core, ns, inner)?;
        let entry = core.prepare_plan(ns, lf, format!("create table {name} as"))?;
        let rows = core.collect_entry(&entry, Engine::Auto, cancel)?;
        let columns = rows.schema().iter().map(|(c, dtype)| ColumnDef { name: c.to_string(), kind: kind_of(dtype).into() }).collect();
        let def = TableDef { name: name.clone(), columns, timestamp, partition_by, retention, upsert_keys };
        if core.tables().create(ns, def, if_not_exists)? {
            // The table comes with its rows or not at all: one whose rows
            // failed to go in is not left behind, empty.
            let appended = core.tables().append(ns, &name, rows.as_ref().clone(), None).inspect_err(|_| {
                let _ = core.tables().drop(ns, &name, true);
            })?;
            core.metrics().ingested(&name, appended);
        }
        return Ok(());
    }
    let columns = column_definitions(inner)?;
    core.tables().create(ns, TableDef { name, columns, timestamp, partition_by, retention, upsert_keys }, if_not_exists)?;
    Ok(())
}

/// `name TYPE [options], ...`: the columns of a CREATE TABLE or an ADD COLUMN.
fn column_definitions(list: &str) -> Result<Vec<ColumnDef>, CoreError> {
    crate::dialect::top_level_commas(list)
        .into_iter()
        .map(|c| {
            let mut words = c.split_whitespace();
            let column = words.next().ok_or_else(|| invalid("an empty column definition"))?;
            let kind = column_type(&words.collect::<Vec<_>>().join(" "));
            if kind.is_empty() {
                return Err(invalid(format!("column {column} needs a type")));
            }
            Ok(ColumnDef { name: column.trim_matches('"').to_string(), kind })
        })
        .collect()
}

/// The partitions of `table` whose start satisfies `condition`, a
/// condition on the designated timestamp as QuestDB's `DROP PARTITION
/// WHERE` takes it (`ts < dateadd('d', -30, now())`).
fn partitions_where(core: &Core, ns: &Namespace, table: &str, condition: &str) -> Result<Vec<String>, CoreError> {
    let def = core.tables().existing(ns, table)?.def();
    let ts = def.timestamp.clone().ok_or_else(|| invalid(format!("table {table} has no designated timestamp")))?;
    let names = core.tables().partitions(ns, table)?;
    let starts: Vec<Option<i64>> = names
        .iter()
        .map(|n| polaroid_core::retention::partition_start(def.partition_by, n).map(|t| t.and_utc().timestamp_micros()))
        .collect();
    let frame = df!["__partition" => names.clone(), ts.as_str() => starts]?
        .lazy()
        .with_column(col(ts.as_str()).cast(DataType::Datetime(TimeUnit::Microseconds, None)));
    let query = format!("SELECT __partition FROM __partitions WHERE {condition}");
    let (lf, _) = crate::dialect::plan_over(core, ns, &query, vec![("__partitions".into(), frame)])?;
    let chosen = lf.collect()?;
    Ok(chosen.column("__partition")?.str()?.iter().flatten().map(str::to_string).collect())
}

/// The table as QuestDB's `SHOW CREATE TABLE` writes it, which `CREATE
/// TABLE` reads back (`WITH` gives QuestDB's defaults, which change
/// nothing here). A size cap is not SQL's: `ALTER TABLE ... SET MAX SIZE`.
pub fn create_statement(def: &TableDef) -> String {
    let columns: Vec<String> = def
        .columns
        .iter()
        .map(|c| if c.kind == "SYMBOL" { format!("\t{} SYMBOL CAPACITY 256 CACHE", c.name) } else { format!("\t{} {}", c.name, c.kind) })
        .collect();
    let mut ddl = format!("CREATE TABLE '{}' ( \n{}\n)", def.name, columns.join(",\n"));
    if let Some(ts) = &def.timestamp {
        ddl.push_str(&format!(" timestamp({ts})"));
    }
    if def.partition_by != PartitionBy::None {
        ddl.push_str(&format!(" PARTITION BY {}", def.partition_by.name()));
        if let Some(ttl) = def.retention.ttl {
            ddl.push_str(&format!(" TTL {ttl}"));
        }
        ddl.push_str(" WAL\nWITH maxUncommittedRows=500000, o3MaxLag=600000000us");
    }
    if !def.upsert_keys.is_empty() {
        ddl.push_str(&format!("\nDEDUP UPSERT KEYS({})", def.upsert_keys.join(",")));
    }
    ddl.push(';');
    ddl
}

/// The columns of `UPSERT KEYS(a, b)`.
fn upsert_keys(list: &str) -> Result<Vec<String>, CoreError> {
    let keys: Vec<String> = list.split(',').map(|k| k.trim().trim_matches('"').to_string()).collect();
    if keys.iter().any(String::is_empty) {
        return Err(invalid(format!("UPSERT KEYS({list}): expected column names separated by commas")));
    }
    Ok(keys)
}

/// The QuestDB type of a column definition's type, which may be written
/// as PostgreSQL writes it (drivers and ORMs create tables on the
/// PostgreSQL door: `text`, `double precision`, `FLOAT(53)`,
/// `timestamp without time zone`, `VARCHAR(32)`). Options after the type
/// change nothing here: QuestDB's (CAPACITY, INDEX, ...), PostgreSQL's
/// (NOT NULL, DEFAULT, ...). An unknown type is kept, for
/// `storage_type` to refuse by name.
fn column_type(definition: &str) -> String {
    const OPTIONS: [&str; 14] = [
        "CAPACITY", "CACHE", "NOCACHE", "INDEX", "NOT", "NULL", "DEFAULT", "PRIMARY", "UNIQUE", "CONSTRAINT", "REFERENCES",
        "CHECK", "COLLATE", "GENERATED",
    ];
    let upper = definition.to_ascii_uppercase();
    let words: Vec<&str> = upper.split_whitespace().take_while(|w| !OPTIONS.contains(w)).collect();
    let written = words.join(" ");
    // `FLOAT(p)`: PostgreSQL's real up to 24 bits of precision, double past them.
    let (base, precision) = match written.split_once('(') {
        Some((base, args)) => (base.trim().to_string(), args.trim_end_matches(')').trim().parse::<u32>().ok()),
        None => (written.clone(), None),
    };
    match base.as_str() {
        "TEXT" | "CHARACTER VARYING" | "CHARACTER" | "BPCHAR" | "NAME" => "VARCHAR".into(),
        "VARCHAR" | "CHAR" => "VARCHAR".into(),
        "BOOL" => "BOOLEAN".into(),
        "INT2" | "SMALLINT" => "SHORT".into(),
        "INT4" | "INTEGER" => "INT".into(),
        "INT8" | "BIGINT" => "LONG".into(),
        "FLOAT4" | "REAL" => "FLOAT".into(),
        "FLOAT8" | "DOUBLE PRECISION" => "DOUBLE".into(),
        "FLOAT" if precision.is_some_and(|p| p > 24) => "DOUBLE".into(),
        // A timestamp with a zone is an instant, stored in UTC as QuestDB's are.
        "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" | "TIMESTAMP WITHOUT TIME ZONE" => "TIMESTAMP".into(),
        "BYTEA" => "BINARY".into(),
        _ => base,
    }
}

/// `ALTER TABLE name SET TTL n unit` (QuestDB's; `0 HOURS` keeps everything
/// again), and, beyond QuestDB, `ALTER TABLE name SET MAX SIZE n [KB|MB|GB|TB]`
/// (`0` lifts the cap). Partitions past them are dropped at once.
/// `ALTER TABLE name DEDUP ENABLE UPSERT KEYS(ts, ...)` and `DEDUP DISABLE`
/// apply to the rows appended after them.
pub fn alter(core: &Core, ns: &Namespace, sql: &str) -> Result<(), CoreError> {
    static ALTER: OnceLock<Regex> = OnceLock::new();
    static DEDUP: OnceLock<Regex> = OnceLock::new();
    let dedup = regex(
        &DEDUP,
        r"(?is)^\s*ALTER\s+TABLE\s+(\x22[^\x22]+\x22|[\w.\-]+)\s+DEDUP\s+(?:(ENABLE)\s+UPSERT\s+KEYS\s*\(([^)]*)\)|DISABLE)\s*;?\s*$",
    );
    if let Some(caps) = dedup.captures(sql) {
        let keys = if caps.get(2).is_some() { upsert_keys(&caps[3])? } else { Vec::new() };
        return core.tables().set_upsert_keys(ns, caps[1].trim_matches('"'), keys);
    }
    static ADD: OnceLock<Regex> = OnceLock::new();
    let add = regex(
        &ADD,
        r"(?is)^\s*ALTER\s+TABLE\s+(\x22[^\x22]+\x22|[\w.\-]+)\s+ADD\s+COLUMN\s+(IF\s+NOT\s+EXISTS\s+)?(.+?)\s*;?\s*$",
    );
    if let Some(caps) = add.captures(sql) {
        let columns = column_definitions(&caps[3])?;
        for c in &columns {
            storage_type(&c.kind)?;
        }
        return core.tables().add_columns(ns, caps[1].trim_matches('"'), columns, caps.get(2).is_some());
    }
    static DROP_PARTITION: OnceLock<Regex> = OnceLock::new();
    let drop_partition = regex(
        &DROP_PARTITION,
        r"(?is)^\s*ALTER\s+TABLE\s+(\x22[^\x22]+\x22|[\w.\-]+)\s+DROP\s+PARTITION\s+(?:LIST\s+(.+?)|WHERE\s+(.+?))\s*;?\s*$",
    );
    if let Some(caps) = drop_partition.captures(sql) {
        let name = caps[1].trim_matches('"');
        let partitions = match caps.get(2) {
            Some(list) => crate::dialect::top_level_commas(list.as_str())
                .into_iter()
                .map(|p| {
                    let p = p.trim();
                    p.strip_prefix('\'')
                        .and_then(|p| p.strip_suffix('\''))
                        .map(str::to_string)
                        .ok_or_else(|| invalid(format!("DROP PARTITION LIST takes partition names in quotes ('2026-11-23'), not {p}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => partitions_where(core, ns, name, &caps[3])?,
        };
        return core.tables().drop_partitions(ns, name, &partitions);
    }
    let pattern = regex(
        &ALTER,
        r"(?is)^\s*ALTER\s+TABLE\s+(\x22[^\x22]+\x22|[\w.\-]+)\s+SET\s+(?:TTL\s+(\d+\s*[A-Za-z]+)|MAX\s+SIZE\s+(\d+)\s*([KMGT]i?B|B)?)\s*;?\s*$",
    );
    let caps = pattern
        .captures(sql)
        .ok_or_else(|| {
            invalid(
                "expected ALTER TABLE name SET TTL n HOURS|DAYS|WEEKS|MONTHS|YEARS, SET MAX SIZE n [KB|MB|GB|TB], \
                 DEDUP ENABLE UPSERT KEYS(ts, ...), DEDUP DISABLE, ADD COLUMN name TYPE[, ...], \
                 DROP PARTITION LIST 'name'[, ...] or DROP PARTITION WHERE condition on the designated timestamp",
            )
        })?;
    let name = caps[1].trim_matches('"');
    let table = core.tables().existing(ns, name)?;
    let mut retention = table.def().retention;
    if let Some(ttl) = caps.get(2) {
        let ttl = Ttl::parse(ttl.as_str())?;
        retention.ttl = (ttl.count > 0).then_some(ttl);
    } else {
        let n: u64 = caps[3].parse().map_err(|_| invalid(format!("MAX SIZE {} is too large", &caps[3])))?;
        let unit: u64 = match caps.get(4).map(|m| m.as_str().to_ascii_uppercase()).as_deref() {
            None | Some("B") => 1,
            Some("KB") | Some("KIB") => 1 << 10,
            Some("MB") | Some("MIB") => 1 << 20,
            Some("GB") | Some("GIB") => 1 << 30,
            _ => 1 << 40,
        };
        let bytes = n.checked_mul(unit).ok_or_else(|| invalid("MAX SIZE is too large"))?;
        retention.max_bytes = (bytes > 0).then_some(bytes);
    }
    core.tables().set_retention(ns, name, retention)
}

/// `DROP TABLE [IF EXISTS] [public.]name`.
pub fn drop(core: &Core, ns: &Namespace, sql: &str) -> Result<(), CoreError> {
    static DROP: OnceLock<Regex> = OnceLock::new();
    let pattern = regex(&DROP, r"(?is)^\s*DROP\s+TABLE\s+(IF\s+EXISTS\s+)?(?:(?:\x22public\x22|public)\s*\.\s*)?(\x22[^\x22]+\x22|[\w.\-]+)\s*;?\s*$");
    let caps = pattern.captures(sql).ok_or_else(|| invalid("expected DROP TABLE [IF EXISTS] name"))?;
    core.tables().drop(ns, caps[2].trim_matches('"'), caps.get(1).is_some())
}

/// `RENAME TABLE old TO new` (names bare or quoted, as QuestDB's
/// `RENAME TABLE 'test.csv' TO 'trades'`).
pub fn rename(core: &Core, ns: &Namespace, sql: &str) -> Result<(), CoreError> {
    static RENAME: OnceLock<Regex> = OnceLock::new();
    let pattern = regex(
        &RENAME,
        r"(?is)^\s*RENAME\s+TABLE\s+(\x22[^\x22]+\x22|'[^']+'|[\w.\-]+)\s+TO\s+(\x22[^\x22]+\x22|'[^']+'|[\w.\-]+)\s*;?\s*$",
    );
    let caps = pattern.captures(sql).ok_or_else(|| invalid("expected RENAME TABLE old TO new"))?;
    let name = |i: usize| caps[i].trim_matches(|c| c == '"' || c == '\'').to_string();
    core.tables().rename(ns, &name(1), &name(2))
}

/// `TRUNCATE TABLE [IF EXISTS] name[, name ...] [KEEP SYMBOL MAPS]`: each
/// table is emptied and keeps its definition.
pub fn truncate(core: &Core, ns: &Namespace, sql: &str) -> Result<(), CoreError> {
    static TRUNCATE: OnceLock<Regex> = OnceLock::new();
    let pattern = regex(
        &TRUNCATE,
        r"(?is)^\s*TRUNCATE\s+TABLE\s+(IF\s+EXISTS\s+)?((?:\x22[^\x22]+\x22|[\w.\-]+)(?:\s*,\s*(?:\x22[^\x22]+\x22|[\w.\-]+))*)(?:\s+KEEP\s+SYMBOL\s+MAPS)?\s*;?\s*$",
    );
    let caps = pattern.captures(sql).ok_or_else(|| invalid("expected TRUNCATE TABLE [IF EXISTS] name[, name ...]"))?;
    let names: Vec<&str> = caps[2].split(',').map(|n| n.trim().trim_matches('"')).collect();
    // Every table is found before any is emptied.
    for name in &names {
        if core.tables().get(ns, name)?.is_none() && caps.get(1).is_none() {
            return Err(CoreError::NotFound(format!("table does not exist: {name}")));
        }
    }
    for name in names {
        if core.tables().get(ns, name)?.is_some() {
            core.tables().truncate(ns, name)?;
        }
    }
    Ok(())
}

/// A statement QuestDB has that this door does not run, refused by name.
pub fn unsupported(word: &str) -> CoreError {
    let why = match word {
        "UPDATE" | "DELETE" => {
            "tables here are append-only; replace rows by key with DEDUP UPSERT KEYS, or rewrite the table: \
             CREATE TABLE new AS (SELECT ...), DROP TABLE old, RENAME TABLE new TO old"
        },
        _ => "it is not part of this server's QuestDB-compatible API",
    };
    CoreError::Unimplemented(format!("{word} is not supported: {why}"))
}

/// `INSERT INTO name [(columns)] VALUES (...), ...` or `INSERT INTO name
/// [(columns)] SELECT ...`. Rows are appended durably before it returns.
/// `values` (one row) are bound to its placeholders: a placeholder in
/// VALUES takes its value as it is (cast to the column's type, strictly),
/// one in a SELECT is written in as a literal.
pub fn insert(
    core: &Core,
    ns: &Namespace,
    sql: &str,
    values: Option<&DataFrame>,
    cancel: &CancelToken,
) -> Result<u64, CoreError> {
    let bound = values.filter(|v| v.width() > 0);
    if let Some((name, columns, query)) = insert_select(sql) {
        let (name, targets, _) = targets(core, ns, &name, columns)?;
        let rows = selected(core, ns, &name, &targets, &query, bound, cancel)?;
        return append(core, ns, &name, rows);
    }
    let separated = crate::dialect::digits_separated(sql);
    let sql = separated.as_deref().unwrap_or(sql);
    let statements = Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| invalid(format!("sql parser error: {e}")))?;
    let [Ast::Insert(insert)] = statements.as_slice() else {
        return Err(invalid("expected one INSERT statement"));
    };
    let name = match &insert.table {
        sqlparser::ast::TableObject::TableName(name) => name.to_string(),
        other => other.to_string(),
    };
    let columns = insert.columns.iter().map(|c| c.to_string()).collect();
    let (name, targets, def) = targets(core, ns, &name, columns)?;
    let source = insert.source.as_ref().ok_or_else(|| invalid("INSERT needs VALUES or a SELECT"))?;
    let rows = match source.body.as_ref() {
        SetExpr::Values(values) => {
            let texts: Vec<Vec<String>> = values.rows.iter().map(|row| row.iter().map(|e| uncast(e).to_string()).collect()).collect();
            values_frame(&def, &targets, &texts, bound)?
        },
        _ => selected(core, ns, &name, &targets, &source.to_string(), bound, cancel)?,
    };
    append(core, ns, &name, rows)
}

/// `INSERT INTO t [(columns)] SELECT ...` (or `WITH ...`) as text: the
/// table, its columns and the query, which is QuestDB's SQL (`SAMPLE BY`
/// downsamples into a table) and so not for sqlparser to read.
fn insert_select(sql: &str) -> Option<(String, Vec<String>, String)> {
    static INSERT_SELECT: OnceLock<Regex> = OnceLock::new();
    let pattern = regex(
        &INSERT_SELECT,
        r#"(?is)^\s*INSERT\s+INTO\s+((?:"?public"?\s*\.\s*)?(?:"[^"]+"|[\w\-]+))\s*(?:\(([^()]*)\))?\s*((?:SELECT|WITH)\b.*?)\s*;?\s*$"#,
    );
    let caps = pattern.captures(sql)?;
    let columns = caps.get(2).map_or(Vec::new(), |c| c.as_str().split(',').map(|c| c.trim().to_string()).collect());
    Some((caps[1].to_string(), columns, caps[3].to_string()))
}

/// The table an INSERT names (`"public"."t"` is `t`: every table is in
/// PostgreSQL's schema public), the columns it fills (those named, or all
/// in order), and the table's definition.
fn targets(core: &Core, ns: &Namespace, name: &str, columns: Vec<String>) -> Result<(String, Vec<String>, TableDef), CoreError> {
    let parts: Vec<&str> = name.split('.').map(|p| p.trim().trim_matches('"')).collect();
    let name = match parts.as_slice() {
        [schema, table] if schema.eq_ignore_ascii_case("public") => table.to_string(),
        _ => name.trim_matches('"').to_string(),
    };
    let table = core.tables().existing(ns, &name)?;
    let def = table.def();
    let targets = if columns.is_empty() {
        def.columns.iter().map(|c| c.name.clone()).collect()
    } else {
        columns.into_iter().map(|c| c.trim_matches('"').to_string()).collect()
    };
    Ok((name, targets, def))
}

/// The rows a SELECT gives for `targets`, named as them.
fn selected(
    core: &Core,
    ns: &Namespace,
    name: &str,
    targets: &[String],
    query: &str,
    bound: Option<&DataFrame>,
    cancel: &CancelToken,
) -> Result<DataFrame, CoreError> {
    let (lf, _) = crate::dialect::plan(core, ns, &bind_one(query, bound)?)?;
    let entry = core.prepare_plan(ns, lf, format!("insert into {name}"))?;
    let selected = core.collect_entry(&entry, Engine::Auto, cancel)?;
    if selected.width() != targets.len() {
        return Err(invalid(format!(
            "the SELECT gives {} columns for {} target columns of {name}",
            selected.width(),
            targets.len()
        )));
    }
    let mut renamed = selected.as_ref().clone();
    renamed.set_column_names(targets)?;
    Ok(renamed)
}

fn append(core: &Core, ns: &Namespace, name: &str, rows: DataFrame) -> Result<u64, CoreError> {
    let appended = core.tables().append(ns, name, rows, None)?;
    core.metrics().ingested(name, appended);
    Ok(appended)
}

/// A VALUES cell without its casts (`$1::TIMESTAMP WITHOUT TIME ZONE`,
/// `CAST('7' AS BIGINT)`: SQLAlchemy casts each bound value): the value
/// goes into its column as the column's type in any case.
fn uncast(expr: &Expr) -> &Expr {
    match expr {
        Expr::Cast { expr, .. } => uncast(expr),
        Expr::Nested(inner) => uncast(inner),
        other => other,
    }
}

/// SQL literals as rendered by sqlparser (`'text'`, `1.5`, `NULL`,
/// `true`, `-3`), typed by the target columns; a placeholder (`$2`, `?`)
/// is its value in `bound`.
fn values_frame(def: &TableDef, targets: &[String], rows: &[Vec<String>], bound: Option<&DataFrame>) -> Result<DataFrame, CoreError> {
    let mut columns = Vec::with_capacity(targets.len());
    let placeholders = Placeholders::of(rows, bound)?;
    for (i, target) in targets.iter().enumerate() {
        let column = def
            .columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(target))
            .ok_or_else(|| invalid(format!("column {target} does not exist in table {}", def.name)))?;
        let dtype = storage_type(&column.kind)?;
        let texts = rows
            .iter()
            .map(|row| row.get(i).ok_or_else(|| invalid(format!("a row has {} values for {} columns", row.len(), targets.len()))))
            .collect::<Result<Vec<_>, CoreError>>()?;
        if !placeholders.any_in(i) {
            let literals: Vec<Option<String>> = texts.iter().map(|t| literal(t)).collect();
            columns.push(typed_column(&column.name, &dtype, &literals)?);
            continue;
        }
        // Some rows' values are bound: each row is typed on its own, then
        // the rows are stacked.
        let mut stacked: Option<Column> = None;
        for (row, text) in texts.iter().enumerate() {
            let one = match placeholders.value(row, i) {
                Some(value) => bound_as(value?.as_materialized_series(), &column.name, &dtype).map_err(|e| {
                    invalid(format!("column {}: the value bound to {text} (row {}): {e}", column.name, row + 1))
                })?,
                None => typed_column(&column.name, &dtype, &[literal(text)])?.take_materialized_series(),
            };
            let one = one.with_name(column.name.as_str().into()).into_column();
            match stacked.as_mut() {
                None => stacked = Some(one),
                Some(all) => {
                    all.append(&one)?;
                },
            }
        }
        columns.push(stacked.expect("rows were checked to be there"));
    }
    Ok(DataFrame::new(rows.len(), columns)?)
}

/// A bound value as a value of the column's type: text as QuestDB reads
/// a literal of that type (a timestamp's ISO text), an instant in a zone
/// as its UTC time (the tables' timestamps are UTC), anything else cast
/// strictly (3,000,000,000 into an INT is refused, not wrapped).
fn bound_as(value: &Series, name: &str, dtype: &DataType) -> Result<Series, CoreError> {
    match (value.dtype(), dtype) {
        (DataType::String, to) if to != &DataType::String => {
            let text = value.str()?.get(0).map(str::to_string);
            Ok(typed_column(name, to, &[text])?.take_materialized_series())
        },
        (DataType::Datetime(unit, Some(_)), DataType::Datetime(_, None)) => {
            Ok(value.to_physical_repr().cast(&DataType::Datetime(*unit, None))?.strict_cast(dtype)?)
        },
        _ => Ok(value.strict_cast(dtype)?),
    }
}

/// Where VALUES' placeholders take their values: `$N` is the bound row's
/// column N; each `?` the next column, in the order they appear.
struct Placeholders<'a> {
    bound: Option<&'a DataFrame>,
    /// Each cell's bound column (rows × values), if it is a placeholder.
    columns: Vec<Vec<Option<usize>>>,
}

impl<'a> Placeholders<'a> {
    fn of(rows: &[Vec<String>], bound: Option<&'a DataFrame>) -> Result<Self, CoreError> {
        let mut next = 0;
        let mut columns = Vec::with_capacity(rows.len());
        for row in rows {
            let mut cells = Vec::with_capacity(row.len());
            for text in row {
                let text = text.trim();
                cells.push(if text == "?" {
                    next += 1;
                    Some(next - 1)
                } else if is_placeholder(text) {
                    match text[1..].parse::<usize>() {
                        Ok(n) if n >= 1 => Some(n - 1),
                        _ => return Err(invalid(format!("parameter {text}: numbered parameters start at 1"))),
                    }
                } else {
                    None
                });
            }
            columns.push(cells);
        }
        if bound.is_none() && columns.iter().flatten().any(Option::is_some) {
            return Err(invalid("the INSERT has placeholders ($1, ?) and no values are bound to them"));
        }
        Ok(Self { bound, columns })
    }

    /// The value bound to the cell at `row`, `column`, if it is a placeholder.
    fn value(&self, row: usize, column: usize) -> Option<Result<Column, CoreError>> {
        let index = (*self.columns.get(row)?.get(column)?)?;
        let bound = self.bound?;
        Some(bound.columns().get(index).map(|c| c.slice(0, 1)).ok_or_else(|| {
            invalid(format!("parameter {} of the INSERT: {} value(s) were bound", index + 1, bound.width()))
        }))
    }

    fn any_in(&self, column: usize) -> bool {
        self.columns.iter().any(|row| row.get(column).copied().flatten().is_some())
    }
}

fn is_placeholder(text: &str) -> bool {
    let text = text.trim();
    text == "?" || (text.len() > 1 && text.starts_with('$') && text[1..].bytes().all(|b| b.is_ascii_digit()))
}

/// A literal's text: `None` for NULL, unquoted strings.
fn literal(text: &str) -> Option<String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("null") {
        None
    } else if text.len() >= 2 && text.starts_with('\'') && text.ends_with('\'') {
        Some(text[1..text.len() - 1].replace("''", "'"))
    } else {
        Some(text.to_string())
    }
}

/// A column of `dtype` from literal texts.
pub fn typed_column(name: &str, dtype: &DataType, texts: &[Option<String>]) -> Result<Column, CoreError> {
    let bad = |v: &str| invalid(format!("column {name}: {v:?} is not a {dtype}"));
    let column = match dtype {
        DataType::Datetime(unit, _) => {
            let values = texts
                .iter()
                .map(|t| t.as_deref().map(|v| parse_timestamp(v, *unit).ok_or_else(|| bad(v))).transpose())
                .collect::<Result<Vec<_>, _>>()?;
            Column::new(name.into(), values).cast(dtype)?
        },
        DataType::Boolean => {
            let values = texts
                .iter()
                .map(|t| {
                    t.as_deref()
                        .map(|v| match v.to_ascii_lowercase().as_str() {
                            "true" => Ok(true),
                            "false" => Ok(false),
                            _ => Err(bad(v)),
                        })
                        .transpose()
                })
                .collect::<Result<Vec<_>, _>>()?;
            Column::new(name.into(), values)
        },
        _ => {
            let strings: Vec<Option<&str>> = texts.iter().map(|t| t.as_deref()).collect();
            Column::new(name.into(), strings).strict_cast(dtype).map_err(|e| invalid(format!("column {name}: {e}")))?
        },
    };
    Ok(column)
}

/// An instant in `unit` since the epoch: ISO 8601 (`2026-11-23T14:30:00Z`,
/// with or without fraction, zone or time, an offset as `+01:00`, `+0100`
/// or `+01`) or a whole number of microseconds,
/// as QuestDB reads TIMESTAMP literals; `now()` is the current time.
pub fn parse_timestamp(text: &str, unit: TimeUnit) -> Option<i64> {
    let text = text.trim();
    let nanos = if text.eq_ignore_ascii_case("now()") || text.eq_ignore_ascii_case("systimestamp()") {
        chrono::Utc::now().timestamp_nanos_opt()?
    } else if let Ok(micros) = text.parse::<i64>() {
        micros.checked_mul(1000)?
    } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        t.timestamp_nanos_opt()?
    } else if let Some(utc) = crate::questdb_sql::utc_of_offset_text(text) {
        // An offset as PostgreSQL writes one (`+00`, `-0530`, after a space).
        chrono::DateTime::parse_from_rfc3339(&utc).ok()?.timestamp_nanos_opt()?
    } else {
        let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%d %H:%M:%S%.fZ"]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
            .or_else(|| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
        naive.and_utc().timestamp_nanos_opt()?
    };
    Some(match unit {
        TimeUnit::Nanoseconds => nanos,
        TimeUnit::Microseconds => nanos.div_euclid(1000),
        TimeUnit::Milliseconds => nanos.div_euclid(1_000_000),
    })
}

/// The index of the `)` closing the `(` at `open`, outside quotes.
pub fn matching_paren(sql: &str, open: usize) -> Option<usize> {
    let (mut depth, mut quote) = (0usize, None::<char>);
    for (i, c) in sql.char_indices().skip_while(|(i, _)| *i < open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {},
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            },
            _ => {},
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_insert_of_a_select_is_read_as_text() {
        assert_eq!(
            insert_select("INSERT INTO \"public\".bars (ts, \"sym\") SELECT ts, sym FROM t SAMPLE BY 1h;"),
            Some(("\"public\".bars".to_string(), vec!["ts".to_string(), "\"sym\"".to_string()], "SELECT ts, sym FROM t SAMPLE BY 1h".to_string()))
        );
        assert_eq!(insert_select("insert into b with x as (select 1) select * from x").map(|i| i.2), Some("with x as (select 1) select * from x".to_string()));
        assert_eq!(insert_select("INSERT INTO b VALUES (1)"), None);
        assert_eq!(insert_select("INSERT INTO b (SELECT 1)"), None);
    }

    #[test]
    fn column_types_may_be_written_as_postgresql_writes_them() {
        for (written, kind) in [
            ("SYMBOL CAPACITY 256 CACHE INDEX", "SYMBOL"),
            ("text", "VARCHAR"),
            ("character varying(32) NOT NULL", "VARCHAR"),
            ("double precision", "DOUBLE"),
            ("FLOAT(53)", "DOUBLE"),
            ("float(10)", "FLOAT"),
            ("float8", "DOUBLE"),
            ("BIGINT", "LONG"),
            ("integer DEFAULT 0", "INT"),
            ("timestamp without time zone", "TIMESTAMP"),
            ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP"),
            ("timestamp", "TIMESTAMP"),
            ("bytea", "BINARY"),
            ("numeric(10, 2)", "NUMERIC"),
            ("", ""),
        ] {
            assert_eq!(column_type(written), kind, "{written}");
        }
    }

    #[test]
    fn timestamps_read_as_questdb_reads_them() {
        let us = TimeUnit::Microseconds;
        assert_eq!(parse_timestamp("2026-11-23T14:30:00.000001Z", us), Some(1_795_444_200_000_001));
        assert_eq!(parse_timestamp("2026-11-23T14:30:00Z", us), Some(1_795_444_200_000_000));
        assert_eq!(parse_timestamp("2026-11-23 14:30:00", us), Some(1_795_444_200_000_000));
        assert_eq!(parse_timestamp("2026-11-23", us), Some(1_795_392_000_000_000));
        assert_eq!(parse_timestamp("1795444200000000", us), Some(1_795_444_200_000_000));
        assert_eq!(parse_timestamp("2026-11-23T14:30:00.5+01:00", TimeUnit::Milliseconds), Some(1_795_440_600_500));
        // Offsets as PostgreSQL writes them (psycopg's COPY of an aware datetime).
        assert_eq!(parse_timestamp("2026-11-23 15:30:00+01", us), Some(1_795_444_200_000_000));
        assert_eq!(parse_timestamp("2026-11-23 09:00:00.25-0530", us), Some(1_795_444_200_250_000));
        assert_eq!(parse_timestamp("yesterday", us), None);
    }

    #[test]
    fn placeholders_in_values_take_their_bound_columns() {
        let rows: Vec<Vec<String>> = vec![
            vec!["?".into(), "'a'".into(), "?".into()],
            vec!["?".into(), "NULL".into(), "?".into()],
        ];
        let bound = df!("1" => [10i64], "2" => [20i64], "3" => [30i64], "4" => [40i64]).unwrap();
        let p = Placeholders::of(&rows, Some(&bound)).unwrap();
        // `?` counts in the order they appear, row by row.
        let at = |r, c| p.value(r, c).map(|v| v.unwrap().get(0).unwrap().extract::<i64>().unwrap());
        assert_eq!((at(0, 0), at(0, 1), at(0, 2), at(1, 0), at(1, 2)), (Some(10), None, Some(20), Some(30), Some(40)));
        assert!(p.any_in(0) && !p.any_in(1));
        let numbered = vec![vec!["$2".into(), "$1".into(), "$2".into()]];
        let p = Placeholders::of(&numbered, Some(&bound)).unwrap();
        assert_eq!((at2(&p, 0), at2(&p, 1), at2(&p, 2)), (20, 10, 20));
        assert!(Placeholders::of(&numbered, None).is_err());
        let past = vec![vec!["$9".into()]];
        assert!(Placeholders::of(&past, Some(&bound)).unwrap().value(0, 0).unwrap().is_err());
    }

    fn at2(p: &Placeholders, c: usize) -> i64 {
        p.value(0, c).unwrap().unwrap().get(0).unwrap().extract::<i64>().unwrap()
    }

    #[test]
    fn parentheses_and_commas_split_at_the_top_level() {
        let sql = "CREATE TABLE t (a DOUBLE, b VARCHAR) timestamp(a)";
        let open = sql.find('(').unwrap();
        assert_eq!(matching_paren(sql, open), Some(35));
        assert_eq!(crate::dialect::top_level_commas("a DOUBLE, b DECIMAL(10, 2) , c INT"), vec!["a DOUBLE", "b DECIMAL(10, 2)", "c INT"]);
        // A comma in a quoted default or name does not cut.
        assert_eq!(crate::dialect::top_level_commas("a VARCHAR DEFAULT 'x, y', \"b,c\" INT,"), vec!["a VARCHAR DEFAULT 'x, y'", "\"b,c\" INT"]);
        assert_eq!(literal("'it''s'"), Some("it's".into()));
        assert_eq!(literal("NULL"), None);
    }
}
