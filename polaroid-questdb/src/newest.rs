//! Queries whose answer lies in a stored table's newest (or oldest) rows,
//! read from its newest (oldest) parts only, as QuestDB reads back from its
//! newest partition:
//!
//! - the newest rows: `SELECT ... FROM t [WHERE ...] ORDER BY ts DESC LIMIT
//!   n`, and the oldest, `ORDER BY ts [ASC] LIMIT n`;
//! - when the table (or some of its rows) last had a row, `SELECT max(ts)
//!   FROM t [WHERE ...]`, and first had one, `min(ts)`; both at once
//!   (`SELECT min(ts), max(ts)`), its span;
//! - each symbol's latest row: `LATEST ON ts PARTITION BY sym` (planned in
//!   the dialect, its rows from here) and its plain SQL, `SELECT sym,
//!   max(ts) FROM t [WHERE ...] GROUP BY sym`.
//!
//! `ts` is the table's designated timestamp, `sym` a SYMBOL column.
//! Without a WHERE, or with one that keeps a set of symbols (`sym = 'A'`,
//! `sym IN ('A', 'B')`), the table's footers say how far the answer lies
//! from the end: the query gains `ts >= T` (`ts < T`), and the parts beyond
//! T are skipped unopened. With any other WHERE (`side = 'buy'`) only
//! reading tells: the table is read back in windows from the end, each
//! twice as many parts as the one before ([`Table::read_back_windows`]),
//! until the rows read hold the answer. Anything else is planned as
//! written.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use polaroid_core::read_back::read_back;
use polaroid_core::tables::{End, Table, TableDef};
use polaroid_core::{Core, CoreError, Namespace};
use polars::prelude::*;
use regex::Regex;
use sqlparser::ast::{Expr as Ast, SelectItem, SetExpr, Statement, Visit, Visitor};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::dialect::{keyword, regex, sql_plan, Named};

/// A plan, and the definitions of the tables it reads, if the query is one
/// of those above.
pub(crate) type MaybePlanned = Result<Option<(LazyFrame, Vec<TableDef>)>, CoreError>;

/// `SELECT ... FROM t [WHERE ...] ORDER BY ts DESC LIMIT n`: the newest rows
/// (that pass the WHERE), which QuestDB reads from the newest partitions
/// only; `ORDER BY ts [ASC] LIMIT n`, the oldest, from the oldest.
pub(crate) fn end_rows(core: &Core, ns: &Namespace, query: &str, lifted: &Named) -> MaybePlanned {
    static ROWS: OnceLock<Regex> = OnceLock::new();
    let pattern = r#"(?is)^\s*SELECT\s+(.+)\s+FROM\s+("[^"]+"|\w+)(?:\s+WHERE\s+(.+?))?\s+ORDER\s+BY\s+("[^"]+"|\w+)(\s+(?:ASC|DESC))?\s+LIMIT\s+(\d+)\s*;?\s*$"#;
    let Some(caps) = regex(&ROWS, pattern).captures(query) else { return Ok(None) };
    let (items, name, ts) = (&caps[1], &caps[2], &caps[4]);
    let direction = caps.get(5).map_or("", |d| d.as_str());
    let end = if direction.trim().eq_ignore_ascii_case("DESC") { End::Newest } else { End::Oldest };
    let Ok(n) = caps[6].parse::<usize>() else { return Ok(None) };
    // What the query computes over its rows must not change when only the
    // newest (oldest) of them are there: no aggregate, window or subquery.
    if !plain_items(items) {
        return Ok(None);
    }
    let filter = caps.get(3).map(|f| f.as_str());
    let bounded = |filter: &str| format!("SELECT {items} FROM {name} WHERE {filter} ORDER BY {ts}{direction} LIMIT {n}");
    nearest_end(core, ns, query, lifted, name, ts, end, filter, n, bounded)
}

/// `SELECT max(ts) [AS a] FROM t [WHERE ...]`: when the table (or the rows
/// that pass the WHERE) last had a row, the freshness a dashboard asks
/// for, read from the newest part that holds one; `min(ts)`, when it
/// first had one, from the oldest.
pub(crate) fn end_instant(core: &Core, ns: &Namespace, query: &str, lifted: &Named) -> MaybePlanned {
    static INSTANT: OnceLock<Regex> = OnceLock::new();
    let pattern = r#"(?is)^\s*SELECT\s+((max|min)\s*\(\s*("[^"]+"|\w+)\s*\)(?:\s+AS\s+("[^"]+"|\w+))?)\s+FROM\s+("[^"]+"|\w+)(?:\s+WHERE\s+(.+?))?\s*;?\s*$"#;
    let Some(caps) = regex(&INSTANT, pattern).captures(query) else { return Ok(None) };
    let (item, ts, name) = (&caps[1], &caps[3], &caps[5]);
    let end = if caps[2].eq_ignore_ascii_case("max") { End::Newest } else { End::Oldest };
    let filter = caps.get(6).map(|f| f.as_str());
    let bounded = |filter: &str| format!("SELECT {item} FROM {name} WHERE {filter}");
    nearest_end(core, ns, query, lifted, name, ts, end, filter, 1, bounded)
}

/// `SELECT min(ts) [AS a], max(ts) [AS b] FROM t [WHERE k = 'v' | k IN
/// ('v', ...)]` (either first): the span of the table (or of those
/// symbols), read from the oldest and the newest parts that hold a row,
/// as `ts < A OR ts >= B` (see [`nearest_end`]). With another WHERE, it is
/// planned as written.
pub(crate) fn time_span(core: &Core, ns: &Namespace, query: &str, lifted: &Named) -> MaybePlanned {
    static SPAN: OnceLock<Regex> = OnceLock::new();
    let item = r#"((max|min)\s*\(\s*("[^"]+"|\w+)\s*\)(?:\s+AS\s+(?:"[^"]+"|\w+))?)"#;
    let pattern = format!(r#"(?is)^\s*SELECT\s+{item}\s*,\s*{item}\s+FROM\s+("[^"]+"|\w+)(?:\s+WHERE\s+(.+?))?\s*;?\s*$"#);
    let Some(caps) = regex(&SPAN, &pattern).captures(query) else { return Ok(None) };
    let (ts, name) = (&caps[3], &caps[7]);
    if caps[2].eq_ignore_ascii_case(&caps[5]) || !caps[3].eq_ignore_ascii_case(&caps[6]) {
        return Ok(None);
    }
    let Some((table, def)) = stored_table(core, ns, lifted, name, ts)? else { return Ok(None) };
    let filter = caps.get(8).map(|f| f.as_str());
    let only = match filter {
        None => None,
        Some(filter) => match symbol_set(filter, &def) {
            Some(set) => Some(set),
            None => return Ok(None),
        },
    };
    let only = only.as_ref().map(|(key, values)| (key.as_str(), values.as_slice()));
    let (Some(first), Some(last)) = (table.rows_bound(End::Oldest, 1, only)?, table.rows_bound(End::Newest, 1, only)?) else {
        return Ok(None);
    };
    let span = format!("({} OR {})", bound_filter(ts, End::Oldest, first), bound_filter(ts, End::Newest, last));
    let filter = filter.map_or(span.clone(), |f| format!("({f}) AND {span}"));
    sql_plan(core, ns, &format!("SELECT {}, {} FROM {name} WHERE {filter}", &caps[1], &caps[4]), lifted.clone()).map(Some)
}

/// `query`, whose answer is computed from the `n` rows of the stored table
/// `name` nearest its `end` that pass `filter`, `ts` its designated
/// timestamp. Without a filter or with a set of symbols (`k = 'v'`, `k IN
/// ('v', ...)`), `bounded` writes the query with the WHERE `filter AND ts
/// >= T` (from the oldest, `ts < T`): the table's footers and log place at
/// least n of those rows between T and the end, so every one of the n
/// passes and partition pruning skips the parts beyond T. With another
/// filter, `query` runs over those rows read back. `None` for anything
/// else.
#[allow(clippy::too_many_arguments)]
fn nearest_end(
    core: &Core,
    ns: &Namespace,
    query: &str,
    lifted: &Named,
    name: &str,
    ts: &str,
    end: End,
    filter: Option<&str>,
    n: usize,
    bounded: impl Fn(&str) -> String,
) -> MaybePlanned {
    let Some((table, def)) = stored_table(core, ns, lifted, name, ts)? else { return Ok(None) };
    let only = match filter {
        None => None,
        Some(filter) => match symbol_set(filter, &def) {
            Some(set) => Some(set),
            None => return end_read_back(core, ns, query, lifted, (&table, &def), name, end, filter, n),
        },
    };
    let only = only.as_ref().map(|(key, values)| (key.as_str(), values.as_slice()));
    let Some(bound) = table.rows_bound(end, n, only)? else { return Ok(None) };
    sql_plan(core, ns, &bounded(&time_filter(filter, ts, end, bound)), lifted.clone()).map(Some)
}

/// `query` over the `n` rows of the stored table `name` nearest its `end`
/// that pass `filter`, read back until they are found: at first the rows
/// that could hold n of them (n of the symbols the filter keeps, if it
/// keeps some), then windows of parts farther from the end. `None` for a
/// filter that is not a plain condition on a row, or a table whose counts
/// are not known.
#[allow(clippy::too_many_arguments)]
fn end_read_back(
    core: &Core,
    ns: &Namespace,
    query: &str,
    lifted: &Named,
    (table, def): (&Table, &TableDef),
    name: &str,
    end: End,
    filter: &str,
    n: usize,
) -> MaybePlanned {
    if !plain_filter(filter) {
        return Ok(None);
    }
    let only = symbol_term(filter, def);
    let only = only.as_ref().map(|(key, values)| (key.as_str(), values.as_slice()));
    let Some(first) = table.rows_bound(end, n, only)? else { return Ok(None) };
    let Some(windows) = table.read_back_windows(end, first)? else { return Ok(None) };
    let ts = def.timestamp.clone().unwrap_or_default();
    let (rows, tables) = sql_plan(core, ns, &format!("SELECT * FROM {name} WHERE {filter}"), lifted.clone())?;
    let order = SortMultipleOptions::default().with_order_descending(end == End::Newest).with_maintain_order(true);
    let nearest = move |rows: LazyFrame| Ok(rows.sort([ts.as_str()], order.clone()).limit(n as IdxSize));
    let read = read_back(windows_of(&rows, windows), nearest, move |read: &DataFrame| Ok(read.height() >= n))?;
    rerun_over(core, ns, query, lifted, name, read, tables)
}

/// QuestDB's last rows that pass a WHERE: `SELECT ... FROM t WHERE ...`
/// (`head`, its `LIMIT -n` taken off), `t` a stored table. The table is
/// read back in its order, from its log and last part (see
/// [`Table::read_back_scans`]), until n rows have passed. `None` for
/// anything else: no WHERE (a table's tail reads only its last parts
/// anyway), an aggregate, window or subquery, upsert keys.
pub(crate) fn last_rows(core: &Core, ns: &Namespace, head: &str, n: IdxSize, lifted: &Named) -> MaybePlanned {
    static LAST: OnceLock<Regex> = OnceLock::new();
    let pattern = r#"(?is)^\s*SELECT\s+(.+)\s+FROM\s+("[^"]+"|\w+)\s+WHERE\s+(.+?)\s*$"#;
    let Some(caps) = regex(&LAST, pattern).captures(head) else { return Ok(None) };
    let (items, name, filter) = (&caps[1], &caps[2], &caps[3]);
    if !plain_items(items) || !plain_filter(filter) || named_elsewhere(lifted, name) {
        return Ok(None);
    }
    let Some(table) = core.tables().get(ns, name.trim_matches('"'))? else { return Ok(None) };
    let Some(passes) = row_filter(core, ns, lifted, name, filter, &table)? else { return Ok(None) };
    let Some(scans) = table.read_back_scans()? else { return Ok(None) };
    // Each window filtered as the plan of the WHERE filters (planning it by
    // SQL would open each window's first part now).
    let windows = scans.into_iter().map(|scan| scan.filter(passes.clone())).collect();
    let read = read_back(windows, move |rows| Ok(rows.tail(n)), move |read: &DataFrame| Ok(read.height() >= n as usize))?;
    let Some((plan, _)) = rerun_over(core, ns, head, lifted, name, read, vec![table.def()])? else { return Ok(None) };
    Ok(Some((plan.tail(n), vec![table.def()])))
}

/// `SELECT k, max(ts) [AS a] FROM t [WHERE ...] GROUP BY k [ORDER BY ... |
/// LIMIT ...]`: when each symbol last traded, LATEST ON written as SQL,
/// from each one's latest row (see [`latest_rows_of`]).
pub(crate) fn latest_by_group(core: &Core, ns: &Namespace, query: &str, lifted: &Named) -> MaybePlanned {
    static LATEST: OnceLock<Regex> = OnceLock::new();
    let pattern = r#"(?is)^\s*SELECT\s+(\w+)\s*,\s*(max\s*\(\s*("[^"]+"|\w+)\s*\)(?:\s+AS\s+("[^"]+"|\w+))?)\s+FROM\s+("[^"]+"|\w+)(?:\s+WHERE\s+(.+?))?\s+GROUP\s+BY\s+(\w+)(\s+(?:ORDER|LIMIT)\b.*?)?\s*;?\s*$"#;
    let Some(caps) = regex(&LATEST, pattern).captures(query) else { return Ok(None) };
    let (key, ts, name) = (&caps[1], &caps[3], &caps[5]);
    if !caps[7].eq_ignore_ascii_case(key) {
        return Ok(None);
    }
    let filter = caps.get(6).map(|f| f.as_str());
    match latest_rows_of(core, ns, lifted, name, ts, key, filter)? {
        Some((rows, tables)) => rerun_over(core, ns, query, lifted, name, rows, tables),
        None => Ok(None),
    }
}

/// Rows of the stored table `name` that pass `filter` and hold the latest
/// row of each value of `key` among them, `ts` its designated timestamp
/// and `key` a SYMBOL column, and the tables read. Without a filter or with
/// a set of the key's values, those after the bound the footers give (see
/// [`latest_filter`]). With another filter, the table is read back until
/// every value it holds (of that set, if the filter keeps one) has a row
/// that passes, or to its first row. `None` for anything else: a filter
/// that is not a plain condition on a row, a table whose values are not
/// known.
pub(crate) fn latest_rows_of(
    core: &Core,
    ns: &Namespace,
    lifted: &Named,
    name: &str,
    ts: &str,
    key: &str,
    filter: Option<&str>,
) -> MaybePlanned {
    let Some((table, def)) = stored_table(core, ns, lifted, name, ts)? else { return Ok(None) };
    let Some(key) = def.columns.iter().find(|c| c.name.eq_ignore_ascii_case(key)).map(|c| c.name.clone()) else { return Ok(None) };
    let read_back_filter = match filter.map(|f| (f, symbol_set(f, &def))) {
        None => None,
        Some((_, Some((set_key, _)))) if set_key == key => None,
        Some((filter, _)) => Some(filter),
    };
    let Some(filter_read_back) = read_back_filter else {
        let Some(bounded) = latest_filter(&table, &def, ts, &key, filter)? else { return Ok(None) };
        return sql_plan(core, ns, &format!("SELECT * FROM {name} WHERE {bounded}"), lifted.clone()).map(Some);
    };
    if !plain_filter(filter_read_back) {
        return Ok(None);
    }
    // The values to find: those the table holds, of the filter's set.
    let only = symbol_term(filter_read_back, &def).filter(|(set_key, _)| *set_key == key).map(|(_, values)| values);
    let Some((first, wanted)) = table.latest_by_key(&key, only.as_deref())? else { return Ok(None) };
    let Some(windows) = table.read_back_windows(End::Newest, first)? else { return Ok(None) };
    let (rows, tables) = sql_plan(core, ns, &format!("SELECT * FROM {name} WHERE {filter_read_back}"), lifted.clone())?;
    let ts = def.timestamp.clone().unwrap_or_default();
    let keys = vec![key.clone()];
    let found = move |read: &DataFrame| {
        let values = read.column(&key)?.cast(&DataType::String)?;
        let found: HashSet<Option<&str>> = values.str()?.iter().collect();
        Ok(wanted.iter().all(|value| found.contains(&value.as_deref())))
    };
    let read = read_back(windows_of(&rows, windows), move |rows| latest_rows(rows, &ts, &keys), found)?;
    Ok(Some((read, tables)))
}

/// The latest row of each value of `keys` in `rows`, in `rows`' columns
/// and ordered by `ts`: of rows tied on the timestamp, the last one.
pub(crate) fn latest_rows(rows: LazyFrame, ts: &str, keys: &[String]) -> PolarsResult<LazyFrame> {
    // The columns in their order (the grouping puts the keys first).
    let schema = rows.clone().collect_schema()?;
    let columns: Vec<Expr> = schema.iter_names().map(|n| col(n.clone())).collect();
    // `LATEST ON TS PARTITION BY SYM` of `ts` and `sym`, as QuestDB reads it.
    let ts = crate::dialect::column_named(&schema, ts);
    let keys: Vec<String> = keys.iter().map(|k| crate::dialect::column_named(&schema, k)).collect();
    Ok(rows
        .with_row_index("__row", None)
        .sort_by_exprs([col(ts.as_str()), col("__row")], SortMultipleOptions::default())
        .group_by(keys.iter().map(|k| col(k.as_str())).collect::<Vec<_>>())
        .agg([all().exclude_cols(keys.clone()).as_expr().last()])
        .sort_by_exprs([col(ts.as_str())], SortMultipleOptions::default())
        .select(columns))
}

/// `rows` in each window, as [`read_back`] reads them.
fn windows_of(rows: &LazyFrame, windows: Vec<Expr>) -> Vec<LazyFrame> {
    windows.into_iter().map(|window| rows.clone().filter(window)).collect()
}

/// `query` planned with the stored table `name` read as `rows` (which hold
/// all of the table that the query's answer needs), and `tables` as the
/// tables it reads.
fn rerun_over(core: &Core, ns: &Namespace, query: &str, lifted: &Named, name: &str, rows: LazyFrame, tables: Vec<TableDef>) -> MaybePlanned {
    let mut lifted = lifted.clone();
    lifted.push((name.trim_matches('"').to_string(), rows));
    let (plan, _) = sql_plan(core, ns, query, lifted)?;
    Ok(Some((plan, tables)))
}

/// Whether `filter` is a condition on each row alone, which holds of a row
/// whatever other rows are read: no subquery, grouping or window.
fn plain_filter(filter: &str) -> bool {
    let clauses = ["GROUP", "HAVING", "ORDER", "LIMIT", "UNION", "EXCEPT", "INTERSECT", "SAMPLE", "LATEST", "WINDOW"];
    !mentions(filter, "SELECT") && !mentions(filter, "OVER") && clauses.iter().all(|clause| keyword(filter, clause, 0).is_none())
}

/// Whether the SELECT list `items` computes each row from that row alone:
/// no aggregate, window function or subquery, which would read the rows
/// that are not read back.
fn plain_items(items: &str) -> bool {
    let Ok(parsed) = Parser::parse_sql(&GenericDialect {}, &format!("SELECT {items} FROM x")) else { return false };
    let [Statement::Query(query)] = parsed.as_slice() else { return false };
    let SetExpr::Select(select) = query.body.as_ref() else { return false };
    select.projection.iter().all(|item| match item {
        SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } | SelectItem::ExprWithAliases { expr, .. } => {
            !crate::dialect::has_aggregate(expr) && expr.visit(&mut RowWise).is_continue()
        },
        SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => true,
    })
}

/// Breaks at a window function or a subquery.
struct RowWise;

impl Visitor for RowWise {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Ast) -> std::ops::ControlFlow<()> {
        match expr {
            Ast::Function(f) if f.over.is_some() => std::ops::ControlFlow::Break(()),
            Ast::Subquery(_) | Ast::Exists { .. } | Ast::InSubquery { .. } => std::ops::ControlFlow::Break(()),
            _ => std::ops::ControlFlow::Continue(()),
        }
    }
}

/// Whether `word` appears in `text` as a whole word outside quotes, at
/// any depth of parentheses.
fn mentions(text: &str, word: &str) -> bool {
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    crate::dialect::unquoted(text).any(|(i, _)| {
        text.is_char_boundary(i)
            && text.len() - i >= word.len()
            && text.is_char_boundary(i + word.len())
            && text[i..i + word.len()].eq_ignore_ascii_case(word)
            && (i == 0 || !is_word(bytes[i - 1]))
            && bytes.get(i + word.len()).is_none_or(|b| !is_word(*b))
    })
}

/// The stored table `name` (quoted or not) and its definition, if `ts` is
/// its designated timestamp and `lifted` gives the name no other plan
/// (which would take precedence).
fn stored_table(core: &Core, ns: &Namespace, lifted: &Named, name: &str, ts: &str) -> Result<Option<(Arc<Table>, TableDef)>, CoreError> {
    if named_elsewhere(lifted, name) {
        return Ok(None);
    }
    let Some(table) = core.tables().get(ns, name.trim_matches('"'))? else { return Ok(None) };
    let def = table.def();
    let designated = def.timestamp.as_ref().is_some_and(|designated| designated.eq_ignore_ascii_case(ts.trim_matches('"')));
    Ok(designated.then_some((table, def)))
}

/// `filter`, a WHERE of the stored table `name` in QuestDB's SQL, as the
/// polars expression its plan filters with: the WHERE planned over none of
/// the table's rows. `None` if the plan is not a filter of its rows alone.
fn row_filter(core: &Core, ns: &Namespace, lifted: &Named, name: &str, filter: &str, table: &Table) -> Result<Option<Expr>, CoreError> {
    let no_rows = DataFrame::empty_with_schema(table.scan()?.collect_schema()?.as_ref());
    let mut reading = lifted.clone();
    reading.push((name.trim_matches('"').to_string(), no_rows.lazy()));
    let (plan, _) = sql_plan(core, ns, &format!("SELECT * FROM {name} WHERE {filter}"), reading)?;
    /// The predicate of a filter of a frame's rows, under the projection
    /// of all its columns that `SELECT *` gives.
    fn predicate(plan: &DslPlan, selected: bool) -> Option<Expr> {
        match plan {
            DslPlan::IR { dsl, .. } => predicate(dsl, selected),
            DslPlan::Select { expr, input, .. } if !selected && expr.iter().all(|e| matches!(e, Expr::Column(_))) => predicate(input, true),
            DslPlan::Filter { input, predicate: kept } if matches!(rows_of(input), Some(DslPlan::DataFrameScan { .. })) => Some(kept.clone()),
            _ => None,
        }
    }
    fn rows_of(plan: &DslPlan) -> Option<&DslPlan> {
        match plan {
            DslPlan::IR { dsl, .. } => rows_of(dsl),
            other => Some(other),
        }
    }
    Ok(predicate(&plan.logical_plan, false))
}

/// Whether `lifted` gives the name `name` (quoted or not) a plan, which
/// takes precedence over a stored table of that name.
fn named_elsewhere(lifted: &Named, name: &str) -> bool {
    let name = name.trim_matches('"');
    lifted.iter().any(|(other, _)| other.eq_ignore_ascii_case(name))
}

/// A WHERE that keeps the rows of some symbols: `k = 'v'` or `k IN ('v',
/// ...)`, `k` one of `def`'s columns (its name as `def` spells it, and the
/// values). `None` for any other filter.
fn symbol_set(filter: &str, def: &TableDef) -> Option<(String, Vec<String>)> {
    static SET: OnceLock<Regex> = OnceLock::new();
    static QUOTED: OnceLock<Regex> = OnceLock::new();
    let pattern = r"(?is)^(\w+)\s*(?:=\s*('[^']*')|IN\s*\(\s*('[^']*'(?:\s*,\s*'[^']*')*)\s*\))$";
    let set = regex(&SET, pattern).captures(filter.trim())?;
    let key = def.columns.iter().find(|c| c.name.eq_ignore_ascii_case(&set[1]))?.name.clone();
    let values = set.get(2).or(set.get(3)).map_or("", |v| v.as_str());
    Some((key, regex(&QUOTED, "'([^']*)'").captures_iter(values).map(|v| v[1].to_string()).collect()))
}

/// A set of a SYMBOL column's values that every row passing `filter` is
/// in: a term of its top-level AND that is one (see [`symbol_set`]).
/// `None` if there is none, or the filter has a top-level OR or BETWEEN
/// (whose AND is not a term's).
fn symbol_term(filter: &str, def: &TableDef) -> Option<(String, Vec<String>)> {
    if keyword(filter, "OR", 0).is_some() || keyword(filter, "BETWEEN", 0).is_some() {
        return None;
    }
    let mut terms = Vec::new();
    let mut start = 0;
    while let Some(at) = keyword(filter, "AND", start) {
        terms.push(&filter[start..at]);
        start = at + "AND".len();
    }
    terms.push(&filter[start..]);
    let symbol = |key: &str| def.columns.iter().any(|c| c.name == key && c.kind.eq_ignore_ascii_case("SYMBOL"));
    terms.into_iter().filter_map(|term| symbol_set(term, def)).find(|(key, _)| symbol(key))
}

/// The WHERE that keeps the latest row of each value of `key` in `table`
/// among the rows that pass `filter` (none, or `key = 'v'` / `key IN ('v',
/// ...)`), `ts` its designated timestamp and `key` a SYMBOL column:
/// `filter` and `ts >= T`, T an instant at or after which the table's
/// footers and log place every value's latest row, so each one passes and
/// partition pruning skips the parts before T. QuestDB too reads back only
/// until it has found every value. `None` for a table whose values are not
/// known.
fn latest_filter(table: &Table, def: &TableDef, ts: &str, key: &str, filter: Option<&str>) -> Result<Option<String>, CoreError> {
    let only = filter.and_then(|filter| symbol_set(filter, def)).map(|(_, values)| values);
    let Some(bound) = table.latest_by_key_bound(key, only.as_deref())? else { return Ok(None) };
    Ok(Some(time_filter(filter, ts, End::Newest, bound)))
}

/// `filter` (if any) and the rows from `bound` to the table's `end` (see
/// [`bound_filter`]), as a WHERE.
fn time_filter(filter: Option<&str>, ts: &str, end: End, bound: chrono::NaiveDateTime) -> String {
    let filter = filter.map_or(String::new(), |f| format!("({f}) AND "));
    format!("{filter}{}", bound_filter(ts, end, bound))
}

/// The rows from `bound` to the table's `end`, in microseconds (a table of
/// nanoseconds gets a bound no nearer its end than `bound`): `ts >=
/// bound` toward the newest; toward the oldest `ts <` the microsecond
/// after it.
fn bound_filter(ts: &str, end: End, bound: chrono::NaiveDateTime) -> String {
    let text = |at: chrono::NaiveDateTime| at.format("%Y-%m-%dT%H:%M:%S%.6fZ");
    match end {
        End::Newest => format!("{ts} >= '{}'", text(bound)),
        End::Oldest => {
            let after = bound.and_utc().timestamp_micros().saturating_add(1);
            let after = chrono::DateTime::from_timestamp_micros(after).map_or(bound, |at| at.naive_utc());
            format!("{ts} < '{}'", text(after))
        },
    }
}

#[cfg(test)]
mod tests {
    use polaroid_core::tables::PartitionBy;

    use super::*;

    fn def() -> TableDef {
        TableDef::new("t", &[("ts", "TIMESTAMP"), ("sym", "SYMBOL"), ("venue", "SYMBOL"), ("px", "DOUBLE"), ("note", "STRING")], Some("ts"), PartitionBy::Day)
    }

    #[test]
    fn a_term_of_the_and_that_keeps_some_symbols_bounds_the_read_back() {
        let set = |key: &str, values: &[&str]| Some((key.to_string(), values.iter().map(|v| v.to_string()).collect::<Vec<_>>()));
        let cases = [
            ("sym = 'A' AND px > 1", set("sym", &["A"])),
            ("px > 1 AND SYM IN ('A', 'B,C')", set("sym", &["A", "B,C"])),
            ("px > 1 and venue = 'X' AND sym = 'A'", set("venue", &["X"])),
            ("sym = 'A AND B' AND px > 1", set("sym", &["A AND B"])),
            ("px > 1 AND (sym = 'A')", None),
            ("sym = 'A' OR px > 1", None),
            ("(sym = 'A' OR sym = 'B') AND px > 1", None),
            ("px BETWEEN 1 AND 2 AND sym = 'A'", None),
            ("note = 'A' AND px > 1", None),
            ("px > 1", None),
        ];
        for (filter, want) in cases {
            assert_eq!(symbol_term(filter, &def()), want, "{filter}");
        }
    }

    #[test]
    fn only_a_condition_on_each_row_and_a_list_computed_row_by_row_are_read_back() {
        for (filter, plain) in [
            ("px > 1", true),
            ("note = 'GROUP BY' AND sym IN ('SELECT', 'OVER')", true),
            ("px > (SELECT avg(px) FROM t)", false),
            ("EXISTS (select 1 FROM u)", false),
            ("px > 1 GROUP BY sym", false),
            ("px > 1 UNION SELECT * FROM u", false),
            ("px > 1 SAMPLE BY 1h", false),
        ] {
            assert_eq!(plain_filter(filter), plain, "{filter}");
        }
        for (items, plain) in [
            ("*", true),
            ("ts, px * 2 AS double, round(px, 2)", true),
            ("t.*", true),
            ("ts, avg(px) OVER () AS mean", false),
            ("count(*)", false),
            ("ts, round(sum(px), 2)", false),
            ("ts, (SELECT max(px) FROM t) AS top", false),
            ("ts, px IN (SELECT px FROM u)", false),
            ("ts,, px", false),
        ] {
            assert_eq!(plain_items(items), plain, "{items}");
        }
    }
}
