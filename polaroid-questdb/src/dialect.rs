//! QuestDB's time-series SQL that polars-sql does not speak, compiled to
//! polars plans:
//!
//! - `SELECT ... FROM t [WHERE ...] SAMPLE BY 1m [FILL(NONE|NULL|PREV|LINEAR|v)]
//!   [ALIGN TO CALENDAR [TIME ZONE 'tz'] | ALIGN TO FIRST OBSERVATION]`:
//!   the rows are bucketed by the designated timestamp truncated to the
//!   interval (calendar-aligned, as QuestDB does by default, or from the
//!   first row), and the query becomes a GROUP BY of the bucket and the
//!   selected non-aggregate columns. A FILL adds the empty buckets between
//!   each key's first and last one.
//! - `SELECT ... FROM t [WHERE ...] LATEST ON ts PARTITION BY k1[, k2]`: the
//!   latest row of each key, before the projection, as QuestDB defines it.
//!
//! - `SELECT ... FROM a [x] ASOF JOIN b [y] [ON (k) | ON x.k = y.k]
//!   [WHERE ...]`: each row of `a` with the latest row of `b` at or before
//!   its designated timestamp (polars' as-of join, backward), per key. As in
//!   QuestDB, `b`'s columns whose names `a` already has get a `1` suffix
//!   (`ts1`), and `x.`/`y.` references are resolved to those names.
//!   `LT JOIN` takes the latest row strictly before; `TOLERANCE 50T` leaves
//!   a right row older than that unmatched.
//!
//! Everything else is polars-sql's. The intermediate plans are registered
//! under reserved names and the rewritten query runs over them, so every
//! plan still passes the core's checks.

use std::sync::OnceLock;

use polaroid_core::{Core, CoreError, Namespace};
use polars::prelude::*;
use regex::Regex;
use sqlparser::ast::{Expr as Ast, SelectItem, SetExpr, Statement};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::newest;

/// A plan, and the definitions of the tables it reads.
pub(crate) type Planned = Result<(LazyFrame, Vec<polaroid_core::tables::TableDef>), CoreError>;

/// Plans by reserved name that a query reads beside the tables.
pub(crate) type Named = Vec<(String, LazyFrame)>;

/// The plan of a query with QuestDB's extensions, and the table
/// definitions it reads.
pub fn plan(core: &Core, ns: &Namespace, query: &str) -> Planned {
    plan_with(core, ns, query, Vec::new())
}

/// [`plan`], with `frames` readable by name beside the caller's tables (a
/// door's own relations: the PostgreSQL door's catalog).
pub fn plan_over(core: &Core, ns: &Namespace, query: &str, frames: Vec<(String, LazyFrame)>) -> Planned {
    plan_with(core, ns, query, frames)
}

/// [`plan`], with the plans of subqueries lifted out of an enclosing query
/// under reserved names. A subquery that uses one of QuestDB's extensions
/// (`WITH d AS (SELECT ... SAMPLE BY 1d)`, `FROM (... LATEST ON ...)`) is
/// planned on its own, innermost first, and read as `(SELECT * FROM name)`.
fn plan_with(core: &Core, ns: &Namespace, query: &str, mut lifted: Named) -> Planned {
    let separated = digits_separated(query);
    let query = separated.as_deref().unwrap_or(query);
    let declared = crate::variables::resolved(query)?;
    let query = declared.as_deref().unwrap_or(query);
    let pivoted = crate::pivot::rewritten(query, &mut PivotReader { core, ns, lifted: &lifted })?;
    let query = pivoted.as_deref().unwrap_or(query);
    let mut query = implied_select(core, ns, query)?.unwrap_or_else(|| query.to_string());
    if let Some(written) = implied_subselects(core, ns, &query)? {
        query = written;
    }
    let mut inner_tables = Vec::new();
    // `WITH x AS (...) SELECT ... FROM x SAMPLE BY 1h`: the extension is
    // the main query's, which is planned on its own, so each CTE is planned
    // first (earlier ones readable by later ones) and read by its name.
    if let Some((ctes, main)) = split_ctes(&query).filter(|(_, main)| top_level_extension(main)) {
        for (name, body) in &ctes {
            let (lf, tables) = plan_with(core, ns, body, lifted.clone())?;
            lifted.push((name.clone(), lf));
            inner_tables.extend(tables);
        }
        query = main;
    }
    while let Some((open, close)) = nested_extension(&query) {
        let (lf, tables) = plan_with(core, ns, &query[open + 1..close], lifted.clone())?;
        let name = format!("__questdb_sub{}", lifted.len());
        lifted.push((name.clone(), lf));
        inner_tables.extend(tables);
        query.replace_range(open..=close, &format!("(SELECT * FROM {name})"));
    }
    let (lf, mut tables) = plan_query(core, ns, &query, lifted)?;
    if tables.is_empty() {
        tables = inner_tables;
    }
    Ok((lf, tables))
}

/// What a PIVOT reads as it is rewritten, planned as any query here.
struct PivotReader<'a> {
    core: &'a Core,
    ns: &'a Namespace,
    lifted: &'a Named,
}

impl crate::pivot::Reader for PivotReader<'_> {
    // An IN list's subquery runs now, as QuestDB runs it, to name the columns.
    fn values(&mut self, query: &str) -> Result<Vec<crate::pivot::Value>, CoreError> {
        let (values, _) = plan_with(self.core, self.ns, query, self.lifted.clone())?;
        crate::pivot::values_of(&values.collect()?)
    }

    fn timestamp(&mut self, query: &str) -> Result<String, CoreError> {
        let (mut rows, tables) = plan_with(self.core, self.ns, query, self.lifted.clone())?;
        timestamp_column(&*rows.collect_schema()?, &tables)
    }
}

/// QuestDB's `1_000_000` and `0.000_5`: underscores between a number's
/// digits (outside quotes and names) taken out, as QuestDB reads them. The
/// query without them, if it had any.
pub(crate) fn digits_separated(query: &str) -> Option<String> {
    let bytes = query.as_bytes();
    let is_digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let separators: Vec<usize> = unquoted(query)
        .filter(|&(i, c)| c == '_' && i > 0 && is_digit(i - 1) && is_digit(i + 1))
        .filter(|&(i, _)| {
            // The token must be a number: it starts with a digit, not inside a name (`col_1_2`).
            let start = bytes[..i].iter().rposition(|b| !(b.is_ascii_digit() || *b == b'_' || *b == b'.')).map_or(0, |p| p + 1);
            is_digit(start) && (start == 0 || !(bytes[start - 1].is_ascii_alphabetic() || bytes[start - 1] == b'_'))
        })
        .map(|(i, _)| i)
        .collect();
    if separators.is_empty() {
        return None;
    }
    let mut written = query.to_string();
    for i in separators.into_iter().rev() {
        written.remove(i);
    }
    Some(written)
}

/// QuestDB's `trades`, `trades WHERE px > 1`, `trades LATEST ON ts
/// PARTITION BY sym`: `SELECT * FROM` may be left out before one of the
/// caller's tables. The query with it written out, if it was left out.
fn implied_select(core: &Core, ns: &Namespace, query: &str) -> Result<Option<String>, CoreError> {
    static TABLE: OnceLock<Regex> = OnceLock::new();
    let table = regex(&TABLE, r#"^\s*("[^"]+"|[A-Za-z_][\w.\-]*)(\s|;|$|\(|\))"#);
    // `(SELECT sym, sum(px) total FROM trades) WHERE total > 1e6`, QuestDB's HAVING: a query in
    // parentheses, then a clause of the SELECT * FROM it that was left out.
    let trimmed = query.trim_start();
    if trimmed.starts_with('(') {
        static CLAUSE: OnceLock<Regex> = OnceLock::new();
        let clause = regex(&CLAUSE, r"(?i)^\s*(WHERE|ORDER\s+BY|LIMIT|SAMPLE\s+BY|LATEST\s+ON|GROUP\s+BY)\b");
        let close = crate::statement::matching_paren(trimmed, 0);
        return Ok(close.filter(|&c| clause.is_match(&trimmed[c + 1..])).map(|_| format!("SELECT * FROM {trimmed}")));
    }
    let Some(caps) = table.captures(query) else { return Ok(None) };
    // Or one of QuestDB's pseudo-tables: `generate_series(1, 10)`.
    if &caps[2] == "(" {
        let function = caps[1].to_ascii_lowercase();
        let pseudo_table = ["long_sequence", "generate_series"].contains(&function.as_str());
        return Ok(pseudo_table.then(|| format!("SELECT * FROM {}", query.trim_start())));
    }
    let name = caps[1].trim_matches('"');
    // A statement's first word is no table name here, whatever tables exist.
    const STATEMENTS: &[&str] = &["SELECT", "WITH", "SHOW", "EXPLAIN", "VALUES", "TABLE", "DESCRIBE", "DESC", "DECLARE", "SET"];
    let statement = !caps[1].starts_with('"') && STATEMENTS.contains(&name.to_ascii_uppercase().as_str());
    if statement || core.tables().get(ns, name)?.is_none() {
        return Ok(None);
    }
    Ok(Some(format!("SELECT * FROM {}", query.trim_start())))
}

/// QuestDB's `WITH t AS (trades LIMIT 10)`, `FROM (trades WHERE px > 1)`,
/// `trades EXCEPT (trades WHERE side = 'buy')`: [`implied_select`] in a
/// CTE, a subquery of a FROM or JOIN, or an operand of a set operation. The
/// query with each written out, if one was left out.
fn implied_subselects(core: &Core, ns: &Namespace, query: &str) -> Result<Option<String>, CoreError> {
    let mut at = Vec::new();
    for (i, _) in unquoted(query).filter(|&(_, c)| c == '(') {
        let before = query[..i].trim_end();
        let word = before.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("");
        let opens_query = before.is_empty() || ["AS", "FROM", "JOIN", "UNION", "EXCEPT", "INTERSECT", "ALL"].iter().any(|k| word.eq_ignore_ascii_case(k));
        if opens_query && implied_select(core, ns, &query[i + 1..])?.is_some() {
            at.push(i + 1);
        }
    }
    if at.is_empty() {
        return Ok(None);
    }
    let mut written = query.to_string();
    for i in at.into_iter().rev() {
        written.insert_str(i, "SELECT * FROM ");
    }
    Ok(Some(written))
}

/// `WITH a AS (...), b AS (...) <main>`: each CTE's name and query, and
/// the main query. `None` for anything else (a column list, RECURSIVE),
/// which polars-sql reads as it is.
fn split_ctes(query: &str) -> Option<(Vec<(String, String)>, String)> {
    static NAME: OnceLock<Regex> = OnceLock::new();
    let name = regex(&NAME, r#"(?is)^\s*(WITH\s+)?("[^"]+"|\w+)\s+AS\s*\("#);
    let mut ctes = Vec::new();
    let mut at = 0;
    loop {
        let caps = name.captures(&query[at..])?;
        // `WITH` before the first, none before the others.
        if ctes.is_empty() != caps.get(1).is_some() {
            return None;
        }
        let open = at + caps.get(0)?.end() - 1;
        let close = crate::statement::matching_paren(query, open)?;
        ctes.push((caps[2].trim_matches('"').to_string(), query[open + 1..close].to_string()));
        let rest = query[close + 1..].trim_start();
        match rest.strip_prefix(',') {
            Some(more) => at = query.len() - more.len(),
            None => return Some((ctes, rest.to_string())),
        }
    }
}

/// The clauses of QuestDB's extensions the dialect plans itself, at a word's start.
const EXTENSIONS: &str = r"(?i)^(SAMPLE\s+BY|LATEST\s+ON|ASOF\s+JOIN|LT\s+JOIN|SPLICE\s+JOIN|WINDOW\s+JOIN|HORIZON\s+JOIN|UNPIVOT)\b";

/// Whether `query` uses one of QuestDB's extensions outside parentheses.
fn top_level_extension(query: &str) -> bool {
    static EXTENSION: OnceLock<Regex> = OnceLock::new();
    let extension = regex(&EXTENSION, EXTENSIONS);
    let bytes = query.as_bytes();
    let mut depth = 0usize;
    unquoted(query).any(|(i, c)| match c {
        '(' => {
            depth += 1;
            false
        },
        ')' => {
            depth = depth.saturating_sub(1);
            false
        },
        _ => depth == 0 && i > 0 && bytes[i - 1].is_ascii_whitespace() && extension.is_match(&query[i..]),
    })
}

/// The innermost parenthesized subquery that uses one of QuestDB's
/// extensions: the positions of its parentheses.
fn nested_extension(query: &str) -> Option<(usize, usize)> {
    static EXTENSION: OnceLock<Regex> = OnceLock::new();
    let extension = regex(&EXTENSION, EXTENSIONS);
    let mut open = Vec::new();
    let bytes = query.as_bytes();
    for (i, c) in unquoted(query) {
        match c {
            '(' => open.push(i),
            ')' => {
                open.pop();
            },
            _ if !open.is_empty() && i > 0 && bytes[i - 1].is_ascii_whitespace() && extension.is_match(&query[i..]) => {
                let start = *open.last()?;
                return crate::statement::matching_paren(query, start).map(|end| (start, end));
            },
            _ => {},
        }
    }
    None
}

/// The characters of `text` outside quotes (`'...'`, `"..."`), with
/// their positions.
pub(crate) fn unquoted(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut quote = None::<char>;
    text.char_indices().filter(move |&(_, c)| match quote {
        Some(q) => {
            if c == q {
                quote = None;
            }
            false
        },
        None if c == '\'' || c == '"' => {
            quote = Some(c);
            false
        },
        None => true,
    })
}

/// `text` cut at its commas outside quotes and parentheses, each part
/// trimmed, empty ones left out.
pub(crate) fn top_level_commas(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in unquoted(text) {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            },
            _ => {},
        }
    }
    parts.push(text[start..].trim());
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

fn plan_query(core: &Core, ns: &Namespace, query: &str, lifted: Named) -> Planned {
    if let Some(unpivot) = crate::pivot::Unpivot::parse(query)? {
        let (rows, tables) = plan_with(core, ns, &unpivot.source, lifted)?;
        return Ok((unpivot.plan(rows)?, tables));
    }
    if let Some((head, range)) = LimitRange::parse(query)? {
        return range.plan(core, ns, head, lifted);
    }
    // `LIMIT -n`: QuestDB's last n rows.
    static LAST_ROWS: OnceLock<Regex> = OnceLock::new();
    if let Some(caps) = regex(&LAST_ROWS, r"(?is)^(.*\S)\s+LIMIT\s+-\s*(\d+)\s*;?\s*$").captures(query) {
        let n: IdxSize = caps[2].parse().map_err(|_| invalid(format!("LIMIT -{}: too many rows", &caps[2])))?;
        if let Some(planned) = newest::last_rows(core, ns, &caps[1], n, &lifted)? {
            return Ok(planned);
        }
        let (lf, tables) = plan_with(core, ns, &caps[1], lifted)?;
        return Ok((lf.tail(n), tables));
    }
    if let Some(sample) = SampleBy::parse(query)? {
        return sample.plan(core, ns, lifted);
    }
    if let Some(latest) = LatestOn::parse(query) {
        return latest.plan(core, ns, lifted);
    }
    if let Some(join) = crate::horizon_join::HorizonJoin::parse(query)? {
        return join.plan(core, ns, lifted);
    }
    if let Some(join) = crate::window_join::WindowJoin::parse(query)? {
        return join.plan(core, ns, lifted);
    }
    if let Some(asof) = AsofJoin::parse(query)? {
        return asof.plan(core, ns, lifted);
    }
    static SHOW_COLUMNS: OnceLock<Regex> = OnceLock::new();
    if let Some(caps) = regex(&SHOW_COLUMNS, r#"(?is)^\s*SHOW\s+COLUMNS\s+FROM\s+("[^"]+"|'[^']+'|[\w.\-]+)\s*;?\s*$"#).captures(query) {
        let table = caps[1].trim_matches(|c| c == '"' || c == '\'');
        return sql_plan(core, ns, &format!("SELECT * FROM table_columns('{table}')"), Vec::new());
    }
    static SHOW_PARTITIONS: OnceLock<Regex> = OnceLock::new();
    if let Some(caps) = regex(&SHOW_PARTITIONS, r#"(?is)^\s*SHOW\s+PARTITIONS\s+FROM\s+("[^"]+"|'[^']+'|[\w.\-]+)\s*;?\s*$"#).captures(query) {
        let name = caps[1].trim_matches(|c| c == '"' || c == '\'');
        let table = core.tables().existing(ns, name)?;
        return Ok((show_partitions(&table)?, vec![table.def()]));
    }
    static SHOW_CREATE: OnceLock<Regex> = OnceLock::new();
    if let Some(caps) = regex(&SHOW_CREATE, r#"(?is)^\s*SHOW\s+CREATE\s+TABLE\s+("[^"]+"|'[^']+'|[\w.\-]+)\s*;?\s*$"#).captures(query) {
        let name = caps[1].trim_matches(|c| c == '"' || c == '\'');
        let table = core.tables().existing(ns, name)?;
        let def = table.def();
        return Ok((df!["ddl" => [crate::statement::create_statement(&def)]]?.lazy(), vec![def]));
    }
    static SHOW_SERVER: OnceLock<Regex> = OnceLock::new();
    if let Some(caps) = regex(&SHOW_SERVER, r"(?is)^\s*SHOW\s+(SERVER_VERSION|PARAMETERS)\b").captures(query) {
        if caps[1].eq_ignore_ascii_case("PARAMETERS") {
            return Err(invalid("SHOW PARAMETERS: this server's settings are its command line's (polaroid-server --help), not QuestDB's keys"));
        }
        let version = format!("{} (polaroid)", crate::POSTGRESQL_VERSION);
        return Ok((df!["server_version" => [version]]?.lazy(), Vec::new()));
    }
    static SHOW_TABLES: OnceLock<Regex> = OnceLock::new();
    if regex(&SHOW_TABLES, r"(?is)^\s*SHOW\s+TABLES\s*;?\s*$").is_match(query) {
        return sql_plan(core, ns, "SELECT table_name FROM tables() ORDER BY table_name", Vec::new());
    }
    for newest in [newest::end_rows, newest::end_instant, newest::time_span, newest::latest_by_group] {
        if let Some(planned) = newest(core, ns, query, &lifted)? {
            return Ok(planned);
        }
    }
    sql_plan(core, ns, query, lifted)
}

/// QuestDB's `LIMIT m, n`: a range of the rows, not MySQL's offset and
/// count (sqlparser reads it so, and `LIMIT 2, 5` answered 5 rows from the
/// third; QuestDB's is rows 3 to 5). Rows are numbered from 1, from -1 at
/// the end:
/// - `LIMIT m, n`: rows (m, n], the bounds either way round; `LIMIT n, 0`,
///   `LIMIT n,` and `LIMIT , n` are `LIMIT n`;
/// - `LIMIT -m, -n`: the last m rows without the last n, [-m, -n), either
///   way round; `LIMIT -n, 0` and `LIMIT -n,` are `LIMIT -n`;
/// - `LIMIT m, -n`: without the first m and the last n rows.
#[derive(Debug, PartialEq)]
enum LimitRange {
    /// Rows `from + 1` to `to`.
    FromStart { from: i64, to: i64 },
    /// The last `last` rows without the last `dropped`.
    FromEnd { last: i64, dropped: i64 },
    /// Without the first `first` and the last `last`.
    Trimmed { first: i64, last: i64 },
}

impl LimitRange {
    /// The query without its `LIMIT m, n`, and the range, if it ends so.
    fn parse(query: &str) -> Result<Option<(&str, Self)>, CoreError> {
        static RANGE: OnceLock<Regex> = OnceLock::new();
        let pattern = r"(?is)^(.*\S)\s+LIMIT\s+(-\s*\d+|\d+)?\s*,\s*(-\s*\d+|\d+)?\s*;?\s*$";
        let Some(caps) = regex(&RANGE, pattern).captures(query) else { return Ok(None) };
        let bound = |i: usize| -> Result<i64, CoreError> {
            caps.get(i).map_or(Ok(0), |m| {
                let digits: String = m.as_str().chars().filter(|c| !c.is_whitespace()).collect();
                digits.parse().map_err(|_| invalid(format!("LIMIT {}: out of range", m.as_str())))
            })
        };
        let (m, n) = (bound(2)?, bound(3)?);
        let range = match (m, n) {
            (m, n) if m >= 0 && n >= 0 => Self::FromStart { from: m.min(n), to: m.max(n) },
            (m, n) if m < 0 && n <= 0 => Self::FromEnd { last: (-m).max(-n), dropped: (-m).min(-n) },
            (m, n) if m >= 0 => Self::Trimmed { first: m, last: -n },
            (m, n) => {
                return Err(invalid(format!(
                    "LIMIT {m}, {n}: QuestDB's LIMIT takes n, -n, m, n (rows m+1 to n), -m, -n (the last m without the last n) or m, -n (without the first m and the last n)"
                )))
            },
        };
        Ok(Some((caps.get(1).map_or("", |h| h.as_str()), range)))
    }

    fn plan(&self, core: &Core, ns: &Namespace, head: &str, lifted: Named) -> Planned {
        let count = |n: i64| IdxSize::try_from(n).unwrap_or(IdxSize::MAX);
        Ok(match *self {
            Self::FromStart { from, to } => {
                let (lf, tables) = plan_with(core, ns, head, lifted)?;
                (lf.slice(from, count(to - from)), tables)
            },
            // The last rows as `LIMIT -n` reads them (from the table's end).
            Self::FromEnd { last, dropped } => {
                let (lf, tables) = plan_query(core, ns, &format!("{head} LIMIT -{last}"), lifted)?;
                (lf.slice(0, count(last - dropped)), tables)
            },
            Self::Trimmed { first, last } => {
                let (lf, tables) = plan_with(core, ns, head, lifted)?;
                let row = "__questdb_row";
                let kept = col(row).cast(DataType::Int64).lt(len().cast(DataType::Int64) - lit(last));
                let trimmed = lf.with_row_index(row, None).filter(kept).slice(first, IdxSize::MAX);
                (trimmed.drop(Selector::ByName { names: [row.into()].into(), strict: true }), tables)
            },
        })
    }
}

/// QuestDB's `SHOW PARTITIONS FROM t`, its columns in its order. Every
/// partition is attached and writable; the newest is the active one.
fn show_partitions(table: &polaroid_core::tables::Table) -> Result<LazyFrame, CoreError> {
    let stats = table.partition_stats()?;
    let n = stats.height();
    let human: Vec<String> = stats.column("diskSize")?.i64()?.iter().map(|b| human_size(b.unwrap_or(0))).collect();
    let partition_by = table.def().partition_by.name();
    Ok(stats
        .lazy()
        .select([
            int_range(lit(0), len(), 1, DataType::Int32).alias("index"),
            lit(partition_by).alias("partitionBy"),
            col("name"),
            col("minTimestamp"),
            col("maxTimestamp"),
            col("numRows"),
            col("diskSize"),
            lit(Series::new("diskSizeHuman".into(), human)).alias("diskSizeHuman"),
            lit(false).alias("readOnly"),
            (int_range(lit(0), len(), 1, DataType::Int64).eq(lit(n as i64 - 1))).alias("active"),
            lit(true).alias("attached"),
            lit(false).alias("detached"),
            lit(false).alias("attachable"),
        ]))
}

/// Bytes as QuestDB writes them for people: `68.0 MiB`.
fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut size, mut unit) = (bytes as f64, 0);
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{size:.1} {}", UNITS[unit]) }
}

/// A query in QuestDB's SQL planned by polars-sql: rewritten
/// ([`crate::questdb_sql`]), over the tables, handles, `extra` plans and
/// the frames the rewrite asks for.
pub(crate) fn sql_plan(core: &Core, ns: &Namespace, query: &str, mut extra: Named) -> Planned {
    let now = chrono::Utc::now().naive_utc();
    let rewritten = crate::questdb_sql::rewrite(query, now)?;
    for (name, source) in rewritten.sources {
        extra.push((name, source_frame(core, ns, source)?));
    }
    let options = polaroid_core::SqlOptions { integer_division: true, case_insensitive_columns: true };
    core.namespace_sql_plan_with(ns, &rewritten.sql, extra, options)
}

/// The frame of one of QuestDB's table functions.
fn source_frame(core: &Core, ns: &Namespace, source: crate::questdb_sql::Source) -> Result<LazyFrame, CoreError> {
    use crate::questdb_sql::Source;
    Ok(match source {
        Source::LongSequence { rows, seed, generated } => {
            let x: Int64Chunked = (1..=rows as i64).collect_ca("x".into());
            let mut columns = vec![x.into_column()];
            let mut rng = seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
            for (name, spec) in &generated {
                columns.push(crate::generators::column(name, spec, rows as usize, &mut rng)?);
            }
            DataFrame::new_infer_height(columns)?.lazy()
        },
        Source::Series(series) => series.frame()?.lazy(),
        Source::Tables => {
            let mut defs = Vec::new();
            for name in core.tables().names(ns)? {
                if let Some(table) = core.tables().get(ns, &name)? {
                    defs.push(table.def());
                }
            }
            let ttl = |d: &polaroid_core::tables::TableDef| d.retention.ttl.map(|t| (t.count as i32, format!("{:?}", t.unit).to_ascii_uppercase()));
            df![
                "id" => (1..=defs.len() as i32).collect::<Vec<_>>(),
                "table_name" => defs.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
                "designatedTimestamp" => defs.iter().map(|d| d.timestamp.clone()).collect::<Vec<_>>(),
                "partitionBy" => defs.iter().map(|d| d.partition_by.name().to_string()).collect::<Vec<_>>(),
                // QuestDB's defaults (cairo.max.uncommitted.rows, cairo.o3.max.lag
                // in microseconds): every append here is committed at once.
                "maxUncommittedRows" => vec![500_000i32; defs.len()],
                "o3MaxLag" => vec![600_000_000i64; defs.len()],
                "walEnabled" => defs.iter().map(|_| true).collect::<Vec<_>>(),
                "directoryName" => defs.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
                "dedup" => defs.iter().map(|d| !d.upsert_keys.is_empty()).collect::<Vec<_>>(),
                "ttlValue" => defs.iter().map(|d| ttl(d).map_or(0, |t| t.0)).collect::<Vec<_>>(),
                "ttlUnit" => defs.iter().map(|d| ttl(d).map_or_else(|| "HOUR".to_string(), |t| t.1.trim_end_matches('S').to_string())).collect::<Vec<_>>(),
                "matView" => vec![false; defs.len()],
            ]?
            .lazy()
        },
        Source::TableColumns(name) => {
            let table = core.tables().existing(ns, &name)?;
            let def = table.def();
            let n = def.columns.len();
            df![
                "column" => def.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
                "type" => def.columns.iter().map(|c| c.kind.clone()).collect::<Vec<_>>(),
                "indexed" => vec![false; n],
                "indexBlockCapacity" => vec![0i32; n],
                "symbolCached" => def.columns.iter().map(|c| c.kind == "SYMBOL").collect::<Vec<_>>(),
                "symbolCapacity" => def.columns.iter().map(|c| if c.kind == "SYMBOL" { 256i32 } else { 0 }).collect::<Vec<_>>(),
                "designated" => def.columns.iter().map(|c| def.timestamp.as_deref() == Some(c.name.as_str())).collect::<Vec<_>>(),
                "upsertKey" => def.columns.iter().map(|c| def.upsert_keys.contains(&c.name)).collect::<Vec<_>>(),
            ]?
            .lazy()
        },
    })
}

/// The column of `schema` that `name` names in QuestDB's SQL, whose names
/// are case-insensitive; `name` as written if none (for polars to refuse).
pub(crate) fn column_named(schema: &Schema, name: &str) -> String {
    polars::sql::column_in_any_case(schema, name).unwrap_or(name).to_string()
}

/// Every row of `left` beside every row of `right`, in `left`'s order.
/// polars' cross join keeps no order by default: on the streaming engine
/// it takes the left side in as its build side, in whatever order its
/// morsels arrive, so rows a plan numbered or sorted before the join could
/// come out of it in another order under load.
pub(crate) fn cross_join_in_order(left: LazyFrame, right: LazyFrame) -> LazyFrame {
    left.join_builder().with(right).how(JoinType::Cross).maintain_order(MaintainOrderJoin::Left).finish()
}

pub(crate) fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument(message.into())
}

/// The start of `text`, quoted, to show in a message.
pub(crate) fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("'{}...'", &text[..at]),
        None => format!("'{text}'"),
    }
}

pub(crate) fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("a valid pattern"))
}

/// `SELECT <items> FROM <rest>` split at the top-level FROM.
pub(crate) struct Select<'a> {
    pub(crate) items: &'a str,
    pub(crate) from: &'a str,
}

pub(crate) fn split_select(head: &str) -> Result<Select<'_>, CoreError> {
    let trimmed = head.trim_start();
    let after_select = trimmed
        .get(..6)
        .filter(|w| w.eq_ignore_ascii_case("select"))
        .map(|_| &trimmed[6..])
        .ok_or_else(|| invalid("SAMPLE BY and LATEST ON follow a SELECT ... FROM ..."))?;
    let from = keyword(after_select, "FROM", 0).ok_or_else(|| invalid("SAMPLE BY and LATEST ON need a FROM clause"))?;
    Ok(Select { items: &after_select[..from], from: &after_select[from + 4..] })
}

/// The designated timestamp of the (single) table the query reads, or its
/// first timestamp column.
pub(crate) fn timestamp_column(schema: &Schema, tables: &[polaroid_core::tables::TableDef]) -> Result<String, CoreError> {
    if let [table] = tables {
        if let Some(ts) = &table.timestamp {
            return Ok(ts.clone());
        }
    }
    schema
        .iter()
        .find(|(_, dtype)| matches!(dtype, DataType::Datetime(..)))
        .map(|(name, _)| name.to_string())
        .ok_or_else(|| invalid("SAMPLE BY needs a designated timestamp or a timestamp column"))
}

/// QuestDB's interval units as polars durations: `T` is milliseconds, `U`
/// microseconds, `M` months.
fn polars_interval(text: &str) -> Result<String, CoreError> {
    polars_duration(text, "SAMPLE BY")
}

/// A count (1 if left out) and one of QuestDB's units, n U T s m h d w M
/// y, as a polars duration; `clause` names what is read in errors.
pub(crate) fn polars_duration(text: &str, clause: &str) -> Result<String, CoreError> {
    static INTERVAL: OnceLock<Regex> = OnceLock::new();
    let caps = regex(&INTERVAL, r"^(\d*)([a-zA-Z]+)$")
        .captures(text)
        .ok_or_else(|| invalid(format!("{clause} {text}: expected a number and a unit, like 1m or 15s")))?;
    let unit = match &caps[2] {
        "n" => "ns",
        "U" => "us",
        "T" => "ms",
        "s" => "s",
        "m" => "m",
        "h" => "h",
        "d" => "d",
        "w" => "w",
        "M" => "mo",
        "y" => "y",
        other => return Err(invalid(format!("{clause} {text}: unknown unit {other}; use U, T, s, m, h, d, w, M or y"))),
    };
    // The count is optional: `SAMPLE BY h` is `SAMPLE BY 1h`.
    let n: u64 = if caps[1].is_empty() { 1 } else { caps[1].parse().map_err(|_| invalid(format!("{clause} {text}: the count is too large")))? };
    if n == 0 {
        return Err(invalid(format!("{clause} needs a positive interval")));
    }
    Ok(format!("{n}{unit}"))
}

enum Fill {
    None,
    Null,
    Prev,
    Linear,
    Value(String),
    /// One mode per aggregate, in SELECT order: `FILL(NULL, 10, PREV)`.
    PerColumn(Vec<Fill>),
}

impl Fill {
    fn parse(text: &str) -> Self {
        match text.trim().to_ascii_uppercase().as_str() {
            "NONE" => Fill::None,
            "NULL" => Fill::Null,
            "PREV" => Fill::Prev,
            "LINEAR" => Fill::Linear,
            _ => Fill::Value(text.trim().to_string()),
        }
    }
}

struct SampleBy {
    items: String,
    from: String,
    every: String,
    fill: Fill,
    /// ALIGN TO FIRST OBSERVATION: buckets start at the first row's time.
    first_observation: bool,
    time_zone: Option<String>,
    /// WITH OFFSET: calendar buckets start this long after the calendar's.
    offset: Option<String>,
    /// FROM ... TO: the buckets shown (and filled), whatever the rows.
    range: (Option<String>, Option<String>),
    tail: String,
}

const AGGREGATES: &[&str] = &[
    "avg", "count", "count_distinct", "first", "last", "max", "min", "sum", "stddev", "stddev_samp", "stddev_pop",
    "variance", "var_samp", "var_pop", "median", "string_agg", "ksum", "nsum", "vwap", "twap", "mean", "first_not_null", "last_not_null",
    "regr_slope", "regr_intercept",
];

impl SampleBy {
    fn parse(query: &str) -> Result<Option<Self>, CoreError> {
        static SAMPLE: OnceLock<Regex> = OnceLock::new();
        let pattern = regex(
            &SAMPLE,
            r"(?is)^(?P<head>.*?)\s+SAMPLE\s+BY\s+(?P<every>\w+)(?:\s+FROM\s+'(?P<from>[^']*)')?(?:\s+TO\s+'(?P<to>[^']*)')?(?:\s+FILL\s*\((?P<fill>[^)]*)\))?(?:\s+ALIGN\s+TO\s+(?P<align>CALENDAR|FIRST\s+OBSERVATION)(?:\s+TIME\s+ZONE\s+'(?P<tz>[^']+)')?(?:\s+WITH\s+OFFSET\s+'(?P<offset>[^']+)')?)?(?P<tail>\s+(?:ORDER|LIMIT)\b.*?)?\s*;?\s*$",
        );
        let Some(caps) = pattern.captures(query) else { return Ok(None) };
        let first_observation = caps.name("align").is_some_and(|a| !a.as_str().to_ascii_uppercase().starts_with("CALENDAR"));
        if first_observation && caps.name("tz").is_some() {
            return Err(invalid("TIME ZONE goes with ALIGN TO CALENDAR"));
        }
        let range = (caps.name("from").map(|m| m.as_str().to_string()), caps.name("to").map(|m| m.as_str().to_string()));
        if (range.0.is_some() || range.1.is_some()) && first_observation {
            return Err(invalid("FROM-TO works with ALIGN TO CALENDAR only"));
        }
        let fill = match caps.name("fill") {
            None => Fill::None,
            Some(f) => {
                let modes = f.as_str().split(',').map(Fill::parse).collect::<Vec<_>>();
                if modes.len() == 1 { modes.into_iter().next().expect("one mode") } else { Fill::PerColumn(modes) }
            },
        };
        let head = caps.name("head").map_or("", |h| h.as_str());
        let select = split_select(head)?;
        Ok(Some(Self {
            items: select.items.to_string(),
            from: select.from.to_string(),
            every: polars_interval(&caps["every"])?,
            fill,
            first_observation,
            time_zone: caps.name("tz").map(|t| t.as_str().to_string()),
            offset: caps.name("offset").map(|o| o.as_str().to_string()),
            range,
            tail: caps.name("tail").map_or(String::new(), |t| t.as_str().to_string()),
        }))
    }

    fn plan(&self, core: &Core, ns: &Namespace, lifted: Named) -> Planned {
        let (mut rows, tables) = sql_plan(core, ns, &format!("SELECT * FROM {}", self.from), lifted)?;
        let schema = rows.collect_schema()?;
        let ts = timestamp_column(&schema, &tables)?;
        let (unit, zone) = match schema.get(ts.as_str()) {
            Some(DataType::Datetime(unit, zone)) => (*unit, zone.clone()),
            _ => return Err(invalid(format!("SAMPLE BY needs {ts} to be a timestamp"))),
        };
        // Buckets start on the calendar, in the given zone if any.
        let mut bucket = col(ts.as_str());
        if let Some(tz) = &self.time_zone {
            let tz = parse_zone(tz)?;
            if zone.is_none() {
                bucket = bucket.dt().replace_time_zone(Some(TimeZone::UTC), lit("raise"), NonExistent::Raise);
            }
            bucket = bucket.dt().convert_time_zone(tz);
        }
        bucket = if self.first_observation {
            // first + floor((ts - first) / step) * step, on the physical values.
            let step = fixed_step(&self.every, unit)?;
            let physical = col(ts.as_str()).to_physical();
            let first = physical.clone().min();
            ((physical - first.clone()).floor_div(lit(step)) * lit(step) + first).cast(DataType::Datetime(unit, zone.clone()))
        } else if let Some(offset) = &self.offset {
            // Calendar buckets shifted by the offset: truncate what is
            // that much earlier, then add it back.
            let offset = offset_duration(offset)?;
            let back = if let Some(rest) = offset.strip_prefix('-') { rest.to_string() } else { format!("-{offset}") };
            bucket.dt().offset_by(lit(back)).dt().truncate(lit(self.every.as_str())).dt().offset_by(lit(offset))
        } else {
            bucket.dt().truncate(lit(self.every.as_str()))
        };
        if self.time_zone.is_some() {
            bucket = bucket.dt().convert_time_zone(TimeZone::UTC);
            if zone.is_none() {
                bucket = bucket.dt().replace_time_zone(None, lit("raise"), NonExistent::Raise);
            }
        }
        // FROM-TO: only rows in the range, and the range's buckets filled.
        let mut bounds = (None, None);
        if self.range.0.is_some() || self.range.1.is_some() {
            let dtype = DataType::Datetime(unit, zone.clone());
            // The bounds are UTC, or local time in the TIME ZONE (QuestDB's reading).
            let local_zone = self.time_zone.as_deref().map(parse_zone).transpose()?;
            let instant = |text: &str| -> Result<Expr, CoreError> {
                let at = range_instant(text)?;
                let physical = match unit {
                    TimeUnit::Nanoseconds => at.and_utc().timestamp_nanos_opt().ok_or_else(|| invalid(format!("'{text}' is out of range")))?,
                    TimeUnit::Microseconds => at.and_utc().timestamp_micros(),
                    TimeUnit::Milliseconds => at.and_utc().timestamp_millis(),
                };
                let mut at = lit(physical).cast(DataType::Datetime(unit, None));
                if let Some(local) = &local_zone {
                    at = at
                        .dt()
                        .replace_time_zone(Some(local.clone()), lit("raise"), NonExistent::Raise)
                        .dt()
                        .convert_time_zone(TimeZone::UTC);
                }
                Ok(at.to_physical().cast(dtype.clone()))
            };
            // The bucket an instant falls in, as the rows' buckets are made.
            let bucket_of = |at: Expr| -> Result<Option<i64>, CoreError> {
                let one = DataFrame::empty().lazy().select([at.alias(ts.as_str())]).select([bucket.clone().to_physical()]).collect()?;
                Ok(one.columns()[0].cast(&DataType::Int64)?.i64()?.get(0))
            };
            if let Some(from) = &self.range.0 {
                rows = rows.filter(col(ts.as_str()).gt_eq(instant(from)?));
                bounds.0 = bucket_of(instant(from)?)?;
            }
            if let Some(to) = &self.range.1 {
                rows = rows.filter(col(ts.as_str()).lt(instant(to)?));
                // The last bucket starts before TO.
                bounds.1 = bucket_of((instant(to)?.to_physical() - lit(1i64)).cast(dtype.clone()))?;
            }
        }
        rows = rows.with_column(bucket.alias("__bucket"));
        let (items, keys) = self.rewrite_items(&ts)?;
        let mut group = vec!["__bucket".to_string()];
        group.extend(keys.iter().cloned());
        let sql = format!("SELECT __bucket, {items} FROM __sample GROUP BY {0} ORDER BY {0}", group.join(", "));
        let (mut sampled, _) = sql_plan(core, ns, &sql, vec![("__sample".into(), rows)])?;
        if !matches!(self.fill, Fill::None) {
            sampled = fill(sampled, &keys, &self.every, unit, &self.fill, bounds)?;
        }
        // The bucket shows as the timestamp column only if it was selected.
        let ts_selected = self.items_select_ts(&ts)?;
        let out = sampled.collect_schema()?;
        let columns: Vec<Expr> = out
            .iter_names()
            .filter(|n| n.as_str() != "__bucket" && n.as_str() != ts)
            .map(|n| col(n.clone()))
            .collect();
        // In the SELECT list's order, the bucket where the timestamp was.
        let columns = match ts_selected {
            Some((at, name)) => {
                let mut all = columns;
                all.insert(at.min(all.len()), col("__bucket").alias(name.as_str()));
                all
            },
            None => columns,
        };
        let result = sampled.select(columns);
        // ORDER BY and LIMIT apply to the filled result.
        if self.tail.trim().is_empty() {
            return Ok((result, tables));
        }
        let (ordered, _) = sql_plan(core, ns, &format!("SELECT * FROM __sampled {}", self.tail), vec![("__sampled".into(), result)])?;
        Ok((ordered, tables))
    }

    fn parsed_items(&self) -> Result<Vec<SelectItem>, CoreError> {
        let sql = format!("SELECT {} FROM x", self.items);
        let parsed = Parser::parse_sql(&GenericDialect {}, &sql).map_err(|e| invalid(format!("sql parser error: {e}")))?;
        match parsed.as_slice() {
            [Statement::Query(q)] => match q.body.as_ref() {
                SetExpr::Select(select) => Ok(select.projection.clone()),
                _ => Err(invalid("SAMPLE BY needs a plain SELECT list")),
            },
            _ => Err(invalid("SAMPLE BY needs a plain SELECT list")),
        }
    }

    /// Where the SELECT list names the timestamp, if it does, and the
    /// name it is shown by: its alias (`ts AS time`, what Grafana's
    /// `$__time(ts)` writes) or its name as written (`TS` of `ts` is `TS`).
    fn items_select_ts(&self, ts: &str) -> Result<Option<(usize, String)>, CoreError> {
        Ok(self.parsed_items()?.iter().enumerate().find_map(|(at, item)| match item {
            SelectItem::UnnamedExpr(Ast::Identifier(id)) if id.value.eq_ignore_ascii_case(ts) => Some((at, id.value.clone())),
            SelectItem::ExprWithAlias { expr: Ast::Identifier(id), alias } if id.value.eq_ignore_ascii_case(ts) => {
                Some((at, alias.value.clone()))
            },
            _ => None,
        }))
    }

    /// The select list without the timestamp (the bucket stands for it),
    /// and the non-aggregate columns, which become grouping keys.
    fn rewrite_items(&self, ts: &str) -> Result<(String, Vec<String>), CoreError> {
        let mut kept = Vec::new();
        let mut keys = Vec::new();
        for item in self.parsed_items()? {
            let expr = match &item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
                _ => return Err(invalid("SAMPLE BY takes named columns and aggregates, not *")),
            };
            if matches!(expr, Ast::Identifier(id) if id.value.eq_ignore_ascii_case(ts)) {
                continue;
            }
            if !has_aggregate(expr) {
                match expr {
                    Ast::Identifier(id) => keys.push(id.value.clone()),
                    other => return Err(invalid(format!("SAMPLE BY groups by plain columns; {other} is neither a column nor an aggregate"))),
                }
            }
            kept.push(item.to_string());
        }
        if kept.is_empty() {
            return Err(invalid("SAMPLE BY needs at least one aggregate"));
        }
        Ok((kept.join(", "), keys))
    }
}

pub(crate) fn has_aggregate(expr: &Ast) -> bool {
    match expr {
        Ast::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            // An aggregate, or a function of one (`round(avg(px), 2)`).
            let args = f.args.to_string().to_ascii_lowercase();
            AGGREGATES.contains(&name.as_str()) || AGGREGATES.iter().any(|a| args.contains(&format!("{a}(")))
        },
        Ast::BinaryOp { left, right, .. } => has_aggregate(left) || has_aggregate(right),
        Ast::Nested(e) | Ast::UnaryOp { expr: e, .. } | Ast::Cast { expr: e, .. } => has_aggregate(e),
        _ => false,
    }
}

/// The empty buckets between each key's first and last bucket, filled.
fn fill(
    sampled: LazyFrame,
    keys: &[String],
    every: &str,
    unit: TimeUnit,
    mode: &Fill,
    bounds: (Option<i64>, Option<i64>),
) -> Result<LazyFrame, CoreError> {
    let step = Step::of(every, unit)?;
    let df = sampled.collect()?;
    // The aggregates, in SELECT order, and how each is filled.
    let values: Vec<String> = df
        .get_column_names()
        .into_iter()
        .filter(|n| n.as_str() != "__bucket" && !keys.iter().any(|k| k == n.as_str()))
        .map(|n| n.to_string())
        .collect();
    let modes: Vec<&Fill> = match mode {
        Fill::PerColumn(list) if list.len() == values.len() => list.iter().collect(),
        Fill::PerColumn(list) => {
            return Err(invalid(format!("FILL has {} values for {} aggregates; give one, or one per aggregate", list.len(), values.len())))
        },
        one => vec![one; values.len()],
    };
    // As QuestDB fills keyed samples: every key gets every bucket from the
    // first bucket of any key (or FROM's) to the last (or TO's).
    let key_exprs: Vec<Expr> = keys.iter().map(|k| col(k.as_str())).collect();
    let physical = col("__bucket").to_physical();
    let span = df.clone().lazy().select([physical.clone().min().alias("lo"), physical.max().alias("hi")]).collect()?;
    let lo = bounds.0.or(span.column("lo")?.i64()?.get(0));
    let hi = bounds.1.or(span.column("hi")?.i64()?.get(0));
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(df.lazy());
    };
    let distinct_keys = if keys.is_empty() {
        DataFrame::empty()
    } else {
        df.clone().lazy().select(key_exprs.clone()).unique_stable(None, UniqueKeepStrategy::First).collect()?
    };
    if !keys.is_empty() && distinct_keys.height() == 0 {
        return Ok(df.lazy());
    }
    const MAX_BUCKETS: usize = 10_000_000;
    let keys_count = distinct_keys.height().max(1);
    let mut buckets = Vec::new();
    let mut t = lo;
    while t <= hi {
        buckets.push(t);
        if buckets.len().saturating_mul(keys_count) > MAX_BUCKETS {
            return Err(CoreError::ResourceExhausted(format!(
                "FILL would make more than {MAX_BUCKETS} buckets; use a coarser SAMPLE BY or a narrower WHERE"
            )));
        }
        t = step.next(t, unit).ok_or_else(|| invalid("SAMPLE BY ran past the end of time"))?;
    }
    let bucket_dtype = df.column("__bucket")?.dtype().clone();
    let bucket = Column::new("__bucket".into(), buckets).cast(&bucket_dtype)?;
    let bucket_frame = DataFrame::new(bucket.len(), vec![bucket])?.lazy();
    let grid = if keys.is_empty() { bucket_frame } else { distinct_keys.lazy().cross_join(bucket_frame, None) };
    let mut on = vec![col("__bucket")];
    on.extend(key_exprs.clone());
    let joined = grid.join(df.clone().lazy(), on.clone(), on, JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::CoalesceColumns));
    let mut order = key_exprs.clone();
    order.push(col("__bucket"));
    let mut filled = joined.sort_by_exprs(order, SortMultipleOptions::default());
    let mut linear_targets = Vec::new();
    let mut fills = Vec::new();
    for (name, mode) in values.iter().zip(modes) {
        let value = col(name.as_str());
        match mode {
            Fill::None | Fill::Null => {},
            Fill::Prev => {
                let forward = value.fill_null_with_strategy(FillNullStrategy::Forward(None));
                fills.push(if keys.is_empty() { forward } else { forward.over(key_exprs.clone())? });
            },
            Fill::Linear => linear_targets.push(name.clone()),
            Fill::Value(v) => {
                let constant: f64 = v.parse().map_err(|_| invalid(format!("FILL({v}): expected NONE, NULL, PREV, LINEAR or a number")))?;
                // The column keeps its type (a count filled with 0 is still a LONG).
                let filler = match df.schema().get(name.as_str()) {
                    Some(dtype) if dtype.is_primitive_numeric() => lit(constant).cast(dtype.clone()),
                    _ => lit(constant),
                };
                fills.push(value.fill_null(filler));
            },
            Fill::PerColumn(_) => return Err(invalid("FILL takes a list of modes, not lists")),
        }
    }
    if !fills.is_empty() {
        filled = filled.with_columns(fills);
    }
    if !linear_targets.is_empty() {
        filled = linear(filled.collect()?, keys, &linear_targets)?.lazy();
    }
    let mut by_time = vec![col("__bucket")];
    by_time.extend(key_exprs);
    Ok(filled.sort_by_exprs(by_time, SortMultipleOptions::default().with_maintain_order(true)))
}

/// A TIME ZONE's name as polars' zone.
fn parse_zone(name: &str) -> Result<TimeZone, CoreError> {
    TimeZone::opt_try_new(Some(PlSmallStr::from(name)))
        .map_err(|e| invalid(format!("TIME ZONE {name}: {e}")))?
        .ok_or_else(|| invalid("TIME ZONE needs a zone name"))
}

/// `'HH:MM'` (QuestDB's WITH OFFSET, optionally signed) as a polars duration.
fn offset_duration(text: &str) -> Result<String, CoreError> {
    static OFFSET: OnceLock<Regex> = OnceLock::new();
    let caps = regex(&OFFSET, r"^([+-])?(\d{1,2}):(\d{2})$")
        .captures(text.trim())
        .ok_or_else(|| invalid(format!("WITH OFFSET '{text}': expected 'HH:MM', like '00:45' or '-01:30'")))?;
    let minutes: i64 = caps[2].parse::<i64>().expect("digits") * 60 + caps[3].parse::<i64>().expect("digits");
    let sign = if caps.get(1).is_some_and(|m| m.as_str() == "-") { "-" } else { "" };
    Ok(format!("{sign}{minutes}m"))
}

/// A FROM or TO bound: a date or a date and time, in UTC.
fn range_instant(text: &str) -> Result<chrono::NaiveDateTime, CoreError> {
    let trimmed = text.trim().trim_end_matches('Z');
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(at) = chrono::NaiveDateTime::parse_from_str(trimmed, format) {
            return Ok(at);
        }
    }
    chrono::NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN))
        .map_err(|_| invalid(format!("FROM/TO '{text}': expected a date or a date and time")))
}

/// How one bucket follows another: a fixed length, or calendar months
/// (`1M`, `1y`), which differ in length.
enum Step {
    Fixed(i64),
    Months(i64),
}

impl Step {
    fn of(every: &str, unit: TimeUnit) -> Result<Self, CoreError> {
        let step = Duration::try_parse(every).map_err(|e| invalid(format!("SAMPLE BY {every}: {e}")))?;
        if step.months() != 0 {
            return Ok(Step::Months(step.months()));
        }
        fixed_step(every, unit).map(Step::Fixed)
    }

    /// The bucket after `t` (physical, in `unit`).
    fn next(&self, t: i64, unit: TimeUnit) -> Option<i64> {
        match self {
            Step::Fixed(step) => t.checked_add(*step),
            Step::Months(months) => {
                let at = match unit {
                    TimeUnit::Nanoseconds => chrono::DateTime::from_timestamp_nanos(t),
                    TimeUnit::Microseconds => chrono::DateTime::from_timestamp_micros(t)?,
                    TimeUnit::Milliseconds => chrono::DateTime::from_timestamp_millis(t)?,
                }
                .naive_utc();
                let next = at.checked_add_months(chrono::Months::new(u32::try_from(*months).ok()?))?.and_utc();
                match unit {
                    TimeUnit::Nanoseconds => next.timestamp_nanos_opt(),
                    TimeUnit::Microseconds => Some(next.timestamp_micros()),
                    TimeUnit::Milliseconds => Some(next.timestamp_millis()),
                }
            },
        }
    }
}

/// An interval in `unit`s, when it has a fixed length (not months or years).
fn fixed_step(every: &str, unit: TimeUnit) -> Result<i64, CoreError> {
    let step = Duration::try_parse(every).map_err(|e| invalid(format!("SAMPLE BY {every}: {e}")))?;
    if step.months() != 0 {
        return Err(CoreError::Unimplemented(
            "ALIGN TO FIRST OBSERVATION over months or years is not supported yet".into(),
        ));
    }
    Ok(match unit {
        TimeUnit::Nanoseconds => step.duration_ns(),
        TimeUnit::Microseconds => step.duration_us(),
        TimeUnit::Milliseconds => step.duration_ms(),
    })
}

/// FILL(LINEAR): each numeric column's empty buckets on the straight line
/// between the known buckets around them, per key (`df` sorted by key,
/// then bucket). Leading and trailing gaps stay empty.
fn linear(mut df: DataFrame, keys: &[String], targets: &[String]) -> Result<DataFrame, CoreError> {
    let times: Vec<Option<i64>> = df.column("__bucket")?.to_physical_repr().cast(&DataType::Int64)?.i64()?.iter().collect();
    // Where each key's rows start.
    let key_columns: Vec<Column> = keys.iter().map(|k| df.column(k).cloned()).collect::<PolarsResult<_>>()?;
    let mut starts = vec![0usize];
    for row in 1..df.height() {
        let mut changed = false;
        for c in &key_columns {
            changed |= c.get(row)? != c.get(row - 1)?;
        }
        if changed {
            starts.push(row);
        }
    }
    starts.push(df.height());
    let targets: Vec<PlSmallStr> = df
        .schema()
        .iter()
        .filter(|(name, dtype)| dtype.is_primitive_numeric() && targets.iter().any(|t| t == name.as_str()))
        .map(|(name, _)| name.clone())
        .collect();
    for name in targets {
        let values: Vec<Option<f64>> = df.column(&name)?.cast(&DataType::Float64)?.f64()?.iter().collect();
        let mut filled = values.clone();
        for span in starts.windows(2) {
            let mut last: Option<usize> = None;
            for row in span[0]..span[1] {
                if values[row].is_none() {
                    continue;
                }
                if let Some(prev) = last.filter(|p| row > p + 1) {
                    let (t0, t1) = (times[prev].unwrap_or(0) as f64, times[row].unwrap_or(0) as f64);
                    let (v0, v1) = (values[prev].unwrap_or(0.0), values[row].unwrap_or(0.0));
                    for gap in prev + 1..row {
                        let t = times[gap].unwrap_or(0) as f64;
                        filled[gap] = Some(v0 + (v1 - v0) * (t - t0) / (t1 - t0));
                    }
                }
                last = Some(row);
            }
        }
        df.with_column(Column::new(name, filled))?;
    }
    Ok(df)
}

struct LatestOn {
    items: String,
    from: String,
    ts: String,
    keys: Vec<String>,
    tail: String,
}

impl LatestOn {
    fn parse(query: &str) -> Option<Self> {
        static LATEST: OnceLock<Regex> = OnceLock::new();
        let pattern = regex(
            &LATEST,
            r"(?is)^(?P<head>.*?)\s+LATEST\s+ON\s+(?P<ts>\w+)\s+PARTITION\s+BY\s+(?P<keys>\w+(?:\s*,\s*\w+)*)(?P<tail>\s+(?:ORDER|LIMIT)\b.*?)?\s*;?\s*$",
        );
        let caps = pattern.captures(query)?;
        let select = split_select(&caps["head"]).ok()?;
        Some(Self {
            items: select.items.to_string(),
            from: select.from.to_string(),
            ts: caps["ts"].to_string(),
            keys: caps["keys"].split(',').map(|k| k.trim().to_string()).collect(),
            tail: caps.name("tail").map_or(String::new(), |t| t.as_str().to_string()),
        })
    }

    fn plan(&self, core: &Core, ns: &Namespace, lifted: Named) -> Planned {
        let (rows, tables) = match self.latest_rows_of(core, ns, &lifted)? {
            Some(rows) => rows,
            None => sql_plan(core, ns, &format!("SELECT * FROM {}", self.from), lifted)?,
        };
        let latest = newest::latest_rows(rows, &self.ts, &self.keys)?;
        let sql = format!("SELECT {} FROM __latest{}", self.items, self.tail);
        let (lf, _) = sql_plan(core, ns, &sql, vec![("__latest".into(), latest)])?;
        Ok((lf, tables))
    }

    /// The rows of `FROM t [WHERE ...]` that hold each key's latest row, `t`
    /// a stored table, its SYMBOL column the one key, `ts` its designated
    /// timestamp: bounded or read back (see [`newest::latest_rows_of`]).
    /// Anything else (several keys, a join, ...) is read whole.
    fn latest_rows_of(&self, core: &Core, ns: &Namespace, lifted: &Named) -> newest::MaybePlanned {
        static FROM: OnceLock<Regex> = OnceLock::new();
        let Some(caps) = regex(&FROM, r#"(?is)^\s*("[^"]+"|\w+)(?:\s+WHERE\s+(.+?))?\s*$"#).captures(&self.from) else {
            return Ok(None);
        };
        let [key] = self.keys.as_slice() else { return Ok(None) };
        newest::latest_rows_of(core, ns, lifted, &caps[1], &self.ts, key, caps.get(2).map(|f| f.as_str()))
    }
}

/// The position of `word` (a keyword, case-insensitive) in `text`, as a
/// whole word outside quotes and parentheses, at or after `from`.
pub(crate) fn keyword(text: &str, word: &str, from: usize) -> Option<usize> {
    let mut depth = 0i32;
    let bytes = text.as_bytes();
    for (i, c) in unquoted(text) {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if i >= from && depth == 0 && text.len() - i >= word.len() && text.is_char_boundary(i + word.len()) => {
                if text[i..i + word.len()].eq_ignore_ascii_case(word)
                    && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'_')
                    && bytes.get(i + word.len()).is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_')
                {
                    return Some(i);
                }
            },
            _ => {},
        }
    }
    None
}

/// QuestDB's TOLERANCE (`50T`, `2s`, `1h`; n U T s m h d w) as a polars
/// duration: no months or years, which have no one length.
fn tolerance_duration(text: &str) -> Result<String, CoreError> {
    match polars_duration(text, "TOLERANCE") {
        Ok(duration) if !duration.ends_with("mo") && !duration.ends_with('y') => Ok(duration),
        _ => Err(invalid(format!(
            "TOLERANCE {text}: expected a count and one of n, U, T, s, m, h, d, w, like 50T (50 milliseconds) or 2s"
        ))),
    }
}

/// A join's side: a table (or a parenthesized query) and its alias.
pub(crate) type JoinSide = (String, Option<String>);

/// `name [AS] [alias]` or `(subquery) [AS] [alias]` of a join side (QuestDB
/// joins a subquery as it joins a table).
pub(crate) fn relation(text: &str) -> Result<JoinSide, CoreError> {
    let text = text.trim();
    let refused = || invalid(format!("a join side is `table [alias]` or `(subquery) [alias]`, got {text:?}"));
    let (name, rest) = match text.starts_with('(') {
        true => {
            let close = crate::statement::matching_paren(text, 0).ok_or_else(refused)?;
            (&text[..=close], &text[close + 1..])
        },
        false => text.split_once(char::is_whitespace).unwrap_or((text, "")),
    };
    let words: Vec<&str> = rest.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok((name.to_string(), None)),
        [alias] => Ok((name.to_string(), Some(alias.to_string()))),
        [as_, alias] if as_.eq_ignore_ascii_case("as") => Ok((name.to_string(), Some(alias.to_string()))),
        _ => Err(refused()),
    }
}

struct AsofJoin {
    items: String,
    left: (String, Option<String>),
    right: (String, Option<String>),
    /// Key column pairs (left, right).
    on: Vec<(String, String)>,
    /// LT JOIN: the latest right row strictly before the left row's time.
    strictly_before: bool,
    /// SPLICE JOIN, QuestDB's full as-of join: each right row too, with
    /// the left row that prevailed at its time, the rows of both in time order.
    splice: bool,
    /// TOLERANCE: how old the right row may be, as a polars duration.
    tolerance: Option<String>,
    rest: String,
}

impl AsofJoin {
    fn parse(query: &str) -> Result<Option<Self>, CoreError> {
        let query = query.trim().trim_end_matches(';');
        // ASOF JOIN, LT JOIN (strictly before) or SPLICE JOIN (both ways).
        let joins = ["ASOF", "LT", "SPLICE"].into_iter().filter_map(|word| crate::join_on::join_at(query, word, 0).map(|(at, join)| (at, join, word)));
        let Some((asof, join, word)) = joins.min() else { return Ok(None) };
        let (strictly_before, splice) = (word == "LT", word == "SPLICE");
        let select = split_select(&query[..asof])?;
        let left = relation(select.from)?;
        let after = join + 4;
        let clauses = ["WHERE", "ORDER", "LIMIT"].iter().filter_map(|w| keyword(query, w, after)).min().unwrap_or(query.len());
        // The join ends where its TOLERANCE starts, if it has one.
        let (end, tolerance) = match keyword(query, "TOLERANCE", after).filter(|t| *t < clauses) {
            Some(at) => (at, Some(tolerance_duration(query[at + "TOLERANCE".len()..clauses].trim())?)),
            None => (clauses, None),
        };
        let (right_text, on_text) = match keyword(query, "ON", after).filter(|on| *on < end) {
            Some(on) => (&query[after..on], Some(query[on + 2..end].trim())),
            None => (&query[after..end], None),
        };
        let right = relation(right_text)?;
        // `ON (sym)`, `ON (t.sym = q.sym)`, `ON t.sym = q.sym AND ...`: QuestDB's
        // ASOF JOIN matches on key equalities only.
        let on = match on_text {
            None => Vec::new(),
            Some(text) => crate::join_on::on_clause(text, &left, &right, &format!("{word} JOIN"), false)?.0,
        };
        let rest = query[clauses..].to_string();
        Ok(Some(Self { items: select.items.to_string(), left, right, on, strictly_before, splice, tolerance, rest }))
    }

    fn plan(&self, core: &Core, ns: &Namespace, lifted: Named) -> Planned {
        let (mut left, left_tables) = sql_plan(core, ns, &format!("SELECT * FROM {}", self.left.0), lifted.clone())?;
        let (mut right, right_tables) = sql_plan(core, ns, &format!("SELECT * FROM {}", self.right.0), lifted)?;
        let (left_schema, right_schema) = (left.collect_schema()?, right.collect_schema()?);
        // `ON (SYM)` names `sym` on either side: QuestDB's names are case-insensitive.
        let on = crate::join_on::join_keys(&self.on, (&self.left, &left_schema), (&self.right, &right_schema), "ASOF JOIN")?;
        let left_ts = timestamp_column(&left_schema, &left_tables)?;
        let right_ts = timestamp_column(&right_schema, &right_tables)?;
        // Keys of two kinds of text (a table's symbols, held as categories,
        // and a file's strings) meet as text, in columns of their own: polars'
        // as-of join compares keys as stored, and failed as it ran ("`u32`
        // and `str`").
        let as_text: Vec<bool> = on.iter().map(|(l, r)| crate::join_on::keys_meet_as_text(&left_schema, l, &right_schema, r)).collect();
        let by: Vec<PlSmallStr> = (on.iter().zip(&as_text).enumerate())
            .map(|(i, ((l, _), &as_text))| if as_text { format!("__asof_by_{i}").into() } else { l.as_str().into() })
            .collect();
        let text_keys: Vec<Expr> = (on.iter().zip(&as_text).zip(&by))
            .filter(|((_, &as_text), _)| as_text)
            .map(|(((l, _), _), name)| col(l.as_str()).cast(DataType::String).alias(name.clone()))
            .collect();
        if !text_keys.is_empty() {
            left = left.with_columns(text_keys);
        }
        // Instants compared in nanoseconds, so a TIMESTAMP table meets a
        // TIMESTAMP_NS one (polars joins keys of one type) to the nanosecond.
        let nanos = DataType::Datetime(TimeUnit::Nanoseconds, None);
        // QuestDB's names for the right side: a clash gets a `1`; the keys are shared.
        let right_name = |c: &str| {
            if on.iter().any(|(_, r)| r == c) {
                on.iter().find(|(_, r)| r == c).map(|(l, _)| l.clone()).unwrap_or_default()
            } else if polars::sql::column_in_any_case(&left_schema, c).is_some() {
                format!("{c}1")
            } else {
                c.to_string()
            }
        };
        let renamed: Vec<Expr> = right_schema
            .iter_names()
            .filter(|c| !on.iter().any(|(_, r)| r == c.as_str()))
            .map(|c| col(c.clone()).alias(right_name(c)))
            .chain(on.iter().zip(&as_text).zip(&by).map(|(((_, r), &as_text), name)| match as_text {
                true => col(r.as_str()).cast(DataType::String).alias(name.clone()),
                false => col(r.as_str()).alias(name.clone()),
            }))
            .chain([col(right_ts.as_str()).cast(nanos.clone()).alias("__asof_key")])
            .collect();
        left = left.with_column(col(left_ts.as_str()).cast(nanos).alias("__asof_at")).sort(["__asof_at"], SortMultipleOptions::default());
        right = right.select(renamed).sort_by_exprs([col("__asof_key")], SortMultipleOptions::default());
        let options = AsOfOptions {
            strategy: AsofStrategy::Backward,
            left_by: (!by.is_empty()).then(|| by.clone()),
            right_by: (!by.is_empty()).then(|| by.clone()),
            allow_eq: !self.strictly_before,
            tolerance_str: self.tolerance.as_deref().map(PlSmallStr::from),
            ..Default::default()
        };
        let mut joined = (left.clone().join_builder().with(right.clone()).left_on([col("__asof_at")]).right_on([col("__asof_key")]))
            .how(JoinType::AsOf(Box::new(options.clone())))
            .finish();
        if self.splice {
            // Each right row with the left row that prevailed at its time,
            // then the rows of both sides in time order (a left row first at a tie).
            let reverse = (right.join_builder().with(left).left_on([col("__asof_key")]).right_on([col("__asof_at")]))
                .how(JoinType::AsOf(Box::new(options)))
                .finish();
            let columns: Vec<Expr> = joined.collect_schema()?.iter_names().map(|c| col(c.clone())).collect();
            let side = |lf: LazyFrame, at: &str, side: i32| lf.select(columns.clone()).with_columns([col(at).alias("__splice_at"), lit(side).alias("__splice_side")]);
            joined = concat([side(joined, "__asof_at", 0), side(reverse, "__asof_key", 1)], UnionArgs::default())?
                .sort(["__splice_at", "__splice_side"], SortMultipleOptions::default().with_maintain_order(true))
                .drop(Selector::ByName { names: ["__splice_at".into(), "__splice_side".into()].into(), strict: true });
        }
        let joined = joined
            .drop(Selector::ByName {
                names: ["__asof_key".into(), "__asof_at".into()].into_iter().chain(by.iter().filter(|b| b.starts_with("__asof_by_")).cloned()).collect(),
                strict: false,
            });
        let sql = unqualified(format!("SELECT {} FROM __asof {}", self.items, self.rest), (&self.left, &left_schema), (&self.right, &right_schema), &right_name);
        let mut tables = left_tables;
        tables.extend(right_tables);
        let (lf, _) = sql_plan(core, ns, &sql, vec![("__asof".into(), joined)])?;
        // One table's designated timestamp is reported; the left one's.
        tables.truncate(1);
        Ok((lf, tables))
    }
}

/// `sql` over two joined relations with `x.col` and `y.col` (by alias, or
/// by table name without one) written as the joined frame's names, and
/// `y.*` as each of y's columns. `right_name` gives a right column's name
/// in the joined frame (`px1` for a clash).
pub(crate) fn unqualified(
    mut sql: String,
    left: (&JoinSide, &Schema),
    right: (&JoinSide, &Schema),
    right_name: &dyn Fn(&str) -> String,
) -> String {
    for (((name, alias), schema), is_right) in [(left, false), (right, true)] {
        let qualifier = alias.as_deref().unwrap_or(name.as_str());
        if !qualifier.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        // A right column renamed for a clash (`px1`) is read by its new
        // name; any other keeps the query's spelling (`a.PX` shows `PX`).
        let named = |c: &str| {
            let own = column_named(schema, c);
            match is_right.then(|| right_name(&own)) {
                Some(renamed) if renamed != own => renamed,
                _ => c.to_string(),
            }
        };
        let every: Vec<String> = schema.iter_names().map(|c| format!("\"{}\"", named(c))).collect();
        let pattern = Regex::new(&format!(r"\b{}\.(\w+|\*)", regex::escape(qualifier))).expect("an escaped alias");
        sql = pattern
            .replace_all(&sql, |caps: &regex::Captures<'_>| if &caps[1] == "*" { every.join(", ") } else { named(&caps[1]) })
            .into_owned();
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QuestDB's LIMIT forms, as its reference lists them (rows numbered
    /// from 1; its examples over ten rows: `LIMIT 2, 5` is 3 to 5, `LIMIT
    /// -5, -3` is 6 and 7, `LIMIT 2, -1` is 3 to 9, `LIMIT 5, 2` is 3 to 5).
    #[test]
    fn limit_ranges_read_as_questdb_s() {
        let range = |q: &str| LimitRange::parse(q).unwrap().map(|(head, r)| (head.to_string(), r));
        let t = "SELECT * FROM t".to_string();
        assert_eq!(range("SELECT * FROM t LIMIT 2, 5"), Some((t.clone(), LimitRange::FromStart { from: 2, to: 5 })));
        assert_eq!(range("SELECT * FROM t LIMIT 5,2;"), Some((t.clone(), LimitRange::FromStart { from: 2, to: 5 })));
        assert_eq!(range("SELECT * FROM t limit -5, -3"), Some((t.clone(), LimitRange::FromEnd { last: 5, dropped: 3 })));
        assert_eq!(range("SELECT * FROM t LIMIT - 3, -5"), Some((t.clone(), LimitRange::FromEnd { last: 5, dropped: 3 })));
        assert_eq!(range("SELECT * FROM t LIMIT 2, -1"), Some((t.clone(), LimitRange::Trimmed { first: 2, last: 1 })));
        // The edge cases: each is LIMIT n (or -n).
        for q in ["LIMIT 4, 0", "LIMIT 0, 4", "LIMIT 4,", "LIMIT , 4"] {
            assert_eq!(range(&format!("{t} {q}")), Some((t.clone(), LimitRange::FromStart { from: 0, to: 4 })), "{q}");
        }
        for q in ["LIMIT -4, 0", "LIMIT -4,"] {
            assert_eq!(range(&format!("{t} {q}")), Some((t.clone(), LimitRange::FromEnd { last: 4, dropped: 0 })), "{q}");
        }
        // One bound, or a LIMIT inside a subquery: not this.
        assert_eq!(range("SELECT * FROM t LIMIT 5"), None);
        assert_eq!(range("SELECT * FROM (SELECT * FROM t LIMIT 1, 2) x"), None);
        let err = LimitRange::parse("SELECT * FROM t LIMIT -2, 5").unwrap_err();
        assert!(err.to_string().contains("LIMIT -2, 5: QuestDB's LIMIT takes"), "{err}");
    }

    #[test]
    fn intervals_map_questdb_units_to_polars() {
        assert_eq!(polars_interval("15m").unwrap(), "15m");
        assert_eq!(polars_interval("1M").unwrap(), "1mo");
        assert_eq!(polars_interval("250T").unwrap(), "250ms");
        assert_eq!(polars_interval("5U").unwrap(), "5us");
        assert!(polars_interval("0s").is_err());
        assert!(polars_interval("1q").is_err());
    }

    #[test]
    fn the_extensions_are_recognized_and_the_rest_is_left_alone() {
        let s = SampleBy::parse("SELECT ts, sym, first(px) AS open FROM t WHERE px > 1 SAMPLE BY 1h FILL(PREV) ALIGN TO CALENDAR TIME ZONE 'Europe/Berlin' LIMIT 5").unwrap().unwrap();
        assert_eq!((s.items.trim(), s.from.trim(), s.every.as_str()), ("ts, sym, first(px) AS open", "t WHERE px > 1", "1h"));
        assert!(matches!(s.fill, Fill::Prev));
        assert_eq!((s.time_zone.as_deref(), s.tail.trim()), (Some("Europe/Berlin"), "LIMIT 5"));
        assert_eq!(s.rewrite_items("ts").unwrap(), ("sym, first(px) AS open".to_string(), vec!["sym".to_string()]));
        assert!(SampleBy::parse("SELECT * FROM t").unwrap().is_none());
        let l = LatestOn::parse("SELECT sym, px FROM t WHERE px > 0 LATEST ON ts PARTITION BY sym, venue ORDER BY sym").unwrap();
        assert_eq!((l.ts.as_str(), l.keys.clone(), l.tail.trim()), ("ts", vec!["sym".to_string(), "venue".to_string()], "ORDER BY sym"));
        assert!(LatestOn::parse("SELECT latest FROM t").is_none());
        let a = AsofJoin::parse("SELECT t.ts, q.bid FROM trades t ASOF JOIN quotes AS q ON t.sym = q.sym WHERE t.px > 1 LIMIT 3").unwrap().unwrap();
        assert_eq!((a.left.0.as_str(), a.left.1.as_deref()), ("trades", Some("t")));
        assert_eq!((a.right.0.as_str(), a.right.1.as_deref()), ("quotes", Some("q")));
        assert_eq!(a.on, vec![("sym".to_string(), "sym".to_string())]);
        assert_eq!(a.rest, "WHERE t.px > 1 LIMIT 3");
        assert!(AsofJoin::parse("SELECT asof FROM t").unwrap().is_none());
        let lt = AsofJoin::parse("SELECT * FROM trades LT JOIN quotes ON (sym) TOLERANCE 50T WHERE px > 1").unwrap().unwrap();
        assert!(lt.strictly_before);
        assert_eq!((lt.tolerance.as_deref(), lt.rest.as_str()), (Some("50ms"), "WHERE px > 1"));
        assert_eq!(lt.on, vec![("sym".to_string(), "sym".to_string())]);
        assert!(AsofJoin::parse("SELECT lt FROM t").unwrap().is_none());
        let splice = AsofJoin::parse("SELECT * FROM a SPLICE JOIN b ON (sym)").unwrap().unwrap();
        assert!(splice.splice && !splice.strictly_before && splice.on.len() == 1);
        // Every way QuestDB writes the keys; `ON (t.sym = q.sym)` was read as a column of that name.
        let keys = |on: &str| AsofJoin::parse(&format!("SELECT * FROM t ASOF JOIN q ON {on}")).unwrap().unwrap().on;
        let pair = |l: &str, r: &str| (l.to_string(), r.to_string());
        assert_eq!(keys("(t.sym = q.sym)"), [pair("sym", "sym")]);
        assert_eq!(keys("(t.sym = q.s) AND (q.venue = t.v)"), [pair("sym", "s"), pair("v", "venue")]);
        assert_eq!(keys("(sym, venue)"), [pair("sym", "sym"), pair("venue", "venue")]);
        assert_eq!(keys("sym = s"), [pair("sym", "s")]);
        let refused = AsofJoin::parse("SELECT * FROM t ASOF JOIN q ON t.sym = q.sym AND t.ts >= q.ts").err().unwrap().to_string();
        assert!(refused.contains("ASOF JOIN ON t.ts >= q.ts: only equalities of key columns"), "{refused}");
    }

    #[test]
    fn digit_separators_are_read_as_questdb_reads_them() {
        let read = |q: &str| digits_separated(q).unwrap_or_else(|| q.to_string());
        assert_eq!(read("SELECT h.offset / 1_000_000_000 AS s, 0.000_5 * px FROM t WHERE n > 10_000"), "SELECT h.offset / 1000000000 AS s, 0.0005 * px FROM t WHERE n > 10000");
        // Names and text keep theirs; a lone or trailing underscore is no separator.
        assert_eq!(digits_separated("SELECT col_1_2, \"a 1_2\", '3_4', x_10_000 FROM t_1_000 WHERE v = 1_ OR w = _1"), None);
    }

    #[test]
    fn ctes_split_from_a_main_query_with_an_extension() {
        let (ctes, main) = split_ctes(
            "WITH a AS (SELECT * FROM t WHERE s = ')'), \"with b\" AS (SELECT (1) FROM a) ,with_c AS (SELECT 1)\nSELECT x FROM b SAMPLE BY 1h",
        )
        .unwrap();
        let names: Vec<&str> = ctes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "with b", "with_c"]);
        assert_eq!((ctes[0].1.as_str(), ctes[1].1.as_str()), ("SELECT * FROM t WHERE s = ')'", "SELECT (1) FROM a"));
        assert_eq!(main, "SELECT x FROM b SAMPLE BY 1h");
        assert!(top_level_extension(&main));
        assert!(!top_level_extension("SELECT * FROM (SELECT * FROM t SAMPLE BY 1h)"));
        assert!(!top_level_extension("SELECT 'x SAMPLE BY 1h' FROM t"));
        assert!(split_ctes("WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r").is_none());
        assert!(split_ctes("WITH a (x) AS (SELECT 1) SELECT * FROM a").is_none());
        assert!(split_ctes("SELECT * FROM t").is_none());
    }
}
