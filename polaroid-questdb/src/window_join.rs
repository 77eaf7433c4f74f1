//! QuestDB's WINDOW JOIN: `SELECT t.sym, t.ts, sum(p.price) FROM trades t
//! WINDOW JOIN prices p [ON (t.sym = p.sym) [AND p.price < 300]] RANGE
//! BETWEEN 1 minute PRECEDING AND 1 minute FOLLOWING [INCLUDE | EXCLUDE
//! PREVAILING] [WHERE ...] [ORDER BY ...] [LIMIT ...]`: each row of the
//! left (master) table with aggregates over the right table's rows of its
//! key whose designated timestamp lies in the window around its own, bounds
//! included. INCLUDE PREVAILING (the default) adds the latest right row
//! before the window's start, the value that prevailed when it opened,
//! unless a row sits at the start itself (QuestDB's rule: the prevailing row
//! is the latest at or before the start).
//!
//! Planned as the pairs it aggregates, and only those: the right rows some
//! window can reach (from the earliest window's start to the latest one's
//! end, and each key's prevailing row before that) are numbered within
//! their key in time order, two as-of joins find where each
//! window starts and ends among them (its prevailing row is the one before
//! the start when none is at it), and the window's positions, exploded, are joined to their
//! rows, then grouped by the left row they belong to. The work grows with
//! the rows and the pairs, not with the rows of a key squared (a range join
//! on a key compares every pair of the key's rows). A left row with no pair keeps its place, its
//! aggregates over no rows (`count()` 0, `sum` null). Rows come in the left
//! table's order unless the query orders them.
//!
//! WINDOW JOINs may be chained (`... WINDOW JOIN bids p ... RANGE ...
//! WINDOW JOIN asks q ... RANGE ...`): each join's aggregates are planned
//! over its own pairs, one row per left row, and lined up by the left row.

use std::sync::OnceLock;

use polaroid_core::{Core, CoreError, Namespace};
use polars::prelude::*;

use regex::Regex;

use crate::dialect::{
    column_named, cross_join_in_order, excerpt, invalid, keyword, regex, split_select, sql_plan, timestamp_column, top_level_commas,
    unqualified, JoinSide,
    Named, Planned,
};
use crate::join_on::{join_at, join_keys, keys_meet_as_text, left_query, qualifier};

const ROW: &str = "__wj_row";
const RIGHT_TS: &str = "__wj_ts";
const START: &str = "__wj_start";
const END: &str = "__wj_end";
/// A right row's place among its key's rows in time order.
const POSITION: &str = "__wj_position";
const AT: &str = "__wj_at";
/// The earliest window's start and the latest one's end.
const EARLIEST: &str = "__wj_earliest";
const LATEST: &str = "__wj_latest";

#[derive(Debug)]
pub(crate) struct WindowJoin {
    items: String,
    left: JoinSide,
    /// One or more WINDOW JOINs, each aggregated on its own (QuestDB's
    /// chained WINDOW JOINs: bids over one window, asks over another).
    windows: Vec<Window>,
    /// The WHERE on the left rows, and what follows it (ORDER BY, LIMIT).
    filter: Option<String>,
    tail: String,
}

/// One WINDOW JOIN: the right table, how its rows meet the left's, and the window.
#[derive(Debug)]
struct Window {
    right: JoinSide,
    /// Key column pairs (left, right).
    keys: Vec<(String, String)>,
    /// The ON clause's other conditions, on the right table's columns.
    right_filter: Option<String>,
    /// The window's bounds, in nanoseconds from the left row's timestamp.
    start: i64,
    end: i64,
    prevailing: bool,
}

impl WindowJoin {
    pub(crate) fn parse(query: &str) -> Result<Option<Self>, CoreError> {
        let query = query.trim().trim_end_matches(';');
        let Some((window, mut join)) = join_at(query, "WINDOW", 0) else { return Ok(None) };
        let select = split_select(&query[..window])?;
        let left = crate::dialect::relation(select.from)?;
        let mut windows = Vec::new();
        let rest = loop {
            let after = join + "JOIN".len();
            let next = join_at(query, "WINDOW", after);
            let (parsed, rest) = Window::parse(&query[after..next.map_or(query.len(), |(w, _)| w)], &left)?;
            windows.push(parsed);
            match next {
                Some(_) if !rest.is_empty() => {
                    return Err(invalid(format!("WINDOW JOIN: expected another WINDOW JOIN after the RANGE, found {}", excerpt(rest))))
                },
                Some((_, next_join)) => join = next_join,
                None => break rest,
            }
        };
        let qualifiers: Vec<&str> = windows.iter().map(|w| qualifier(&w.right)).collect();
        if let Some(twice) = qualifiers.iter().enumerate().find(|(i, q)| qualifiers[..*i].contains(q) || **q == qualifier(&left)) {
            return Err(invalid(format!("WINDOW JOIN: {} names two tables of the query; give each its own alias", twice.1)));
        }
        let tail_at = ["ORDER", "LIMIT"].iter().filter_map(|w| keyword(rest, w, 0)).min().unwrap_or(rest.len());
        let filter = match rest[..tail_at].trim() {
            "" => None,
            w if w.len() > 5 && w[..5].eq_ignore_ascii_case("WHERE") => Some(w[5..].trim().to_string()),
            other => return Err(invalid(format!("WINDOW JOIN: expected WHERE, ORDER BY or LIMIT after the RANGE, found {}", excerpt(other)))),
        };
        Ok(Some(Self { items: select.items.trim().to_string(), left, windows, filter, tail: rest[tail_at..].trim().to_string() }))
    }

    pub(crate) fn plan(&self, core: &Core, ns: &Namespace, lifted: Named) -> Planned {
        let others: Vec<&str> = self.windows.iter().map(|w| qualifier(&w.right)).collect();
        let (left_sql, filter) = left_query(&self.left, self.filter.as_deref(), &others);
        let (mut left, left_tables) = sql_plan(core, ns, &left_sql, lifted.clone())?;
        let left_schema = left.collect_schema()?;
        let left_ts = timestamp_column(&left_schema, &left_tables)?;
        let left = Left { rows: left.with_row_index(ROW, None), schema: left_schema, ts: left_ts, filter: filter.map(str::to_string) };
        let mut tables = left_tables;
        tables.truncate(1);
        let lf = match &self.windows[..] {
            [window] => {
                // count() counts the pairs (a left row with none has one row of nulls).
                let items = bare_count().replace_all(&self.items, format!("count(\"{RIGHT_TS}\")"));
                let tail = match keyword(&self.tail, "ORDER", 0) {
                    None => format!("ORDER BY {ROW} {}", self.tail),
                    Some(_) => self.tail.clone(),
                };
                window.aggregate(core, ns, &lifted, &left, &self.left, &Self::aggregate_sql(&items, &left), &tail)?
            },
            _ => self.plan_chained(core, ns, &lifted, &left)?,
        };
        Ok((lf.drop(Selector::ByName { names: [ROW.into()].into(), strict: true }), tables))
    }

    /// `SELECT __wj_row, items FROM __wj [WHERE ...]` (the WHERE when it
    /// could not be read with the left rows), to which each join
    /// adds `GROUP BY __wj_row, <the left's columns>`: every left row is a
    /// group of its own, its pairs the rows.
    fn aggregate_sql(items: &str, left: &Left) -> String {
        let mut sql = format!("SELECT {ROW}, {items} FROM __wj");
        if let Some(filter) = &left.filter {
            sql.push_str(&format!(" WHERE {filter}"));
        }
        sql
    }

    /// Chained WINDOW JOINs: each join's aggregates over its own pairs, one
    /// row per left row, lined up by the left row, the left's own items with
    /// the first join's. A bare `count()` would not say whose rows it counts.
    fn plan_chained(&self, core: &Core, ns: &Namespace, lifted: &Named, left: &Left) -> Result<LazyFrame, CoreError> {
        let owners: Vec<Regex> = (self.windows.iter())
            .map(|w| Regex::new(&format!(r"\b{}\.", regex::escape(qualifier(&w.right)))).expect("an escaped name"))
            .collect();
        static STAR: OnceLock<regex::Regex> = OnceLock::new();
        let left_star = regex(&STAR, r"^(\w+)\s*\.\s*\*$");
        let items = top_level_commas(&self.items);
        // Each item's join (the left's go with the first) and its width (`t.*` is every left column).
        let mut owned: Vec<(usize, usize)> = Vec::with_capacity(items.len());
        for item in &items {
            let item = item.trim();
            let reads: Vec<usize> = (0..owners.len()).filter(|&j| owners[j].is_match(item)).collect();
            let width = match left_star.captures(item) {
                Some(caps) if &caps[1] == qualifier(&self.left) => left.schema.len(),
                _ => 1,
            };
            match reads[..] {
                [] if bare_count().is_match(item) => {
                    return Err(invalid(format!(
                        "chained WINDOW JOINs: {item} does not say which join's rows it counts; count a column of one, count({}.{})",
                        qualifier(&self.windows[0].right),
                        "ts"
                    )))
                },
                [] => owned.push((0, width)),
                [j] => owned.push((j, width)),
                _ => return Err(invalid(format!("WINDOW JOIN: {item} reads two joined tables; an aggregate reads one"))),
            }
        }
        // One frame per join with items: `__wj_row`, then its items' columns in the query's order.
        let mut frames: Vec<Option<(LazyFrame, Vec<PlSmallStr>)>> = Vec::with_capacity(self.windows.len());
        for (j, window) in self.windows.iter().enumerate() {
            let mine: Vec<&str> = (items.iter().zip(&owned)).filter(|(_, (o, _))| *o == j).map(|(i, _)| i.trim()).collect();
            if mine.is_empty() {
                frames.push(None);
                continue;
            }
            let mut lf = window.aggregate(core, ns, lifted, left, &self.left, &Self::aggregate_sql(&mine.join(", "), left), "")?;
            let names: Vec<PlSmallStr> = lf.collect_schema()?.iter_names().skip(1).cloned().collect();
            frames.push(Some((lf, names)));
        }
        // The columns in the query's order, each under a name of its own
        // here; their own names follow, a clash between joins numbered as
        // the dialect numbers one (`sum`, `sum1`).
        let mut next_in_frame = vec![0usize; frames.len()];
        let mut renames: Vec<(Vec<PlSmallStr>, Vec<PlSmallStr>)> = vec![(Vec::new(), Vec::new()); frames.len()];
        let mut outputs: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for &(j, width) in &owned {
            let Some((_, names)) = &frames[j] else { continue };
            for _ in 0..width {
                let name = names.get(next_in_frame[j]).ok_or_else(|| invalid("WINDOW JOIN: an item gave no column"))?;
                next_in_frame[j] += 1;
                let internal = format!("__wj_c{}", outputs.len());
                let mut shown = name.to_string();
                let mut n = 1;
                while !seen.insert(shown.clone()) {
                    shown = format!("{name}{n}");
                    n += 1;
                }
                outputs.push(format!("\"{internal}\" AS \"{}\"", shown.replace('"', "\"\"")));
                renames[j].0.push(name.clone());
                renames[j].1.push(internal.into());
            }
        }
        let mut all = left.rows.clone();
        for (frame, (from, to)) in frames.into_iter().zip(renames) {
            if let Some((lf, _)) = frame {
                let lf = lf.select(std::iter::once(col(ROW)).chain(from.iter().zip(&to).map(|(f, t)| col(f.clone()).alias(t.clone()))).collect::<Vec<_>>());
                all = all.join(lf, [col(ROW)], [col(ROW)], JoinArgs::new(JoinType::Inner));
            }
        }
        let mut sql = format!("SELECT {ROW}, {} FROM __wj_all", outputs.join(", "));
        match keyword(&self.tail, "ORDER", 0) {
            None => sql.push_str(&format!(" ORDER BY {ROW} {}", self.tail)),
            Some(_) => sql.push_str(&format!(" {}", unqualified_left(&self.tail, &self.left, &left.schema))),
        }
        Ok(sql_plan(core, ns, &sql, vec![("__wj_all".into(), all)])?.0)
    }
}

/// The left side, planned once for every join: its rows numbered in `__wj_row`.
struct Left {
    rows: LazyFrame,
    schema: SchemaRef,
    ts: String,
    /// The query's WHERE when it reads the right side's columns too.
    filter: Option<String>,
}

/// `count()` or `count(*)`: the rows of a window, its pairs.
fn bare_count() -> &'static Regex {
    static COUNT: OnceLock<Regex> = OnceLock::new();
    regex(&COUNT, r"(?i)\bcount\s*\(\s*\*?\s*\)")
}

/// ORDER BY over chained joins' result: the left's qualified columns by name.
fn unqualified_left(tail: &str, side: &JoinSide, schema: &Schema) -> String {
    let pattern = Regex::new(&format!(r"\b{}\.(\w+)", regex::escape(qualifier(side)))).expect("an escaped name");
    pattern.replace_all(tail, |caps: &regex::Captures<'_>| format!("\"{}\"", column_named(schema, &caps[1]))).into_owned()
}

impl Window {
    /// `right [alias] [ON ...] RANGE BETWEEN ... [INCLUDE|EXCLUDE PREVAILING]`,
    /// and what follows it.
    fn parse<'q>(text: &'q str, left: &JoinSide) -> Result<(Self, &'q str), CoreError> {
        let range = keyword(text, "RANGE", 0)
            .ok_or_else(|| invalid("WINDOW JOIN: expected RANGE BETWEEN <n> <unit> PRECEDING|FOLLOWING AND <n> <unit> PRECEDING|FOLLOWING"))?;
        let (right_text, on_text) = match keyword(text, "ON", 0).filter(|on| *on < range) {
            Some(on) => (&text[..on], Some(text[on + 2..range].trim())),
            None => (&text[..range], None),
        };
        let right = crate::dialect::relation(right_text)?;
        let (keys, right_filter) = match on_text {
            Some(on) => crate::join_on::on_clause(on, left, &right, "WINDOW JOIN", true)?,
            None => (Vec::new(), None),
        };
        static RANGE: OnceLock<regex::Regex> = OnceLock::new();
        let bound = r"(\d+)\s*([A-Za-z]+)\s+(PRECEDING|FOLLOWING)";
        let pattern = format!(r"(?is)^RANGE\s+BETWEEN\s+{bound}\s+AND\s+{bound}(?:\s+(INCLUDE|EXCLUDE)\s+PREVAILING)?\b");
        let caps = regex(&RANGE, &pattern).captures(&text[range..]).ok_or_else(|| {
            invalid(format!(
                "WINDOW JOIN: expected RANGE BETWEEN <n> <unit> PRECEDING|FOLLOWING AND <n> <unit> PRECEDING|FOLLOWING, found {}",
                excerpt(&text[range..])
            ))
        })?;
        let offset = |n: usize| -> Result<i64, CoreError> {
            let count: i64 = caps[n].parse().map_err(|_| invalid(format!("WINDOW JOIN RANGE: {} is too large", &caps[n])))?;
            let nanos = unit_nanos(&caps[n + 1], count)?;
            Ok(if caps[n + 2].eq_ignore_ascii_case("PRECEDING") { -nanos } else { nanos })
        };
        let (start, end) = (offset(1)?, offset(4)?);
        if end < start {
            return Err(invalid("WINDOW JOIN RANGE: the window's high boundary is before its low boundary"));
        }
        let prevailing = caps.get(7).is_none_or(|m| m.as_str().eq_ignore_ascii_case("INCLUDE"));
        let rest = text[range + caps.get(0).map_or(0, |m| m.end())..].trim();
        Ok((Self { right, keys, right_filter, start, end, prevailing }, rest))
    }

    /// The query's aggregates (`sql`, reading the pairs as `__wj`) over this
    /// join's pairs: every left row with each right row of its window.
    #[allow(clippy::too_many_arguments)]
    fn aggregate(&self, core: &Core, ns: &Namespace, lifted: &Named, left: &Left, left_side: &JoinSide, head: &str, tail: &str) -> Result<LazyFrame, CoreError> {
        let right_query = match &self.right_filter {
            Some(filter) => format!("SELECT * FROM {} WHERE {filter}", self.right.0),
            None => format!("SELECT * FROM {}", self.right.0),
        };
        let (mut right, right_tables) = sql_plan(core, ns, &right_query, lifted.clone())?;
        let right_schema = right.collect_schema()?;
        let right_ts = timestamp_column(&right_schema, &right_tables)?;
        let left_schema: &Schema = &left.schema;
        let left_ts = &left.ts;
        let keys = join_keys(&self.keys, (left_side, left_schema), (&self.right, &right_schema), "WINDOW JOIN")?;
        // A right column whose name the left has is read as `name1`, as in ASOF JOIN.
        let right_name = |c: &str| match polars::sql::column_in_any_case(left_schema, c) {
            Some(_) => format!("{c}1"),
            None => c.to_string(),
        };
        let as_key = |i: usize, name: &str, schema: &Schema, other: &str, other_schema: &Schema| {
            let key = col(name).alias(format!("__wj_key{i}"));
            match keys_meet_as_text(schema, name, other_schema, other) {
                true => key.cast(DataType::String),
                false => key,
            }
        };
        let key_names: Vec<PlSmallStr> = (0..keys.len()).map(|i| format!("__wj_key{i}").into()).collect();
        // Instants compared in nanoseconds, whatever unit each side keeps
        // (a TIMESTAMP_NS table's to the nanosecond).
        let nanos = DataType::Datetime(TimeUnit::Nanoseconds, None);
        let shifted = |offset: i64| (col(left_ts.as_str()).cast(nanos.clone()).cast(DataType::Int64) + lit(offset)).cast(nanos.clone());
        let mut probe_columns: Vec<Expr> = vec![shifted(self.start).alias(START), shifted(self.end).alias(END)];
        probe_columns.extend(keys.iter().enumerate().map(|(i, (l, r))| as_key(i, l, left_schema, r, &right_schema)));
        let probe_left = left.rows.clone().with_columns(probe_columns);

        // Only the right rows some window can reach: those from the
        // earliest window's start to the latest one's end and, with the
        // prevailing row, each key's latest row before them. A WHERE that
        // keeps an hour of trades no longer numbers and hashes a year of
        // quotes. In time order, sorted by time alone (a table's rows mostly
        // are already): the numbering within each key below follows the
        // rows' order, and the as-of joins want time order, not each key's
        // rows side by side (sorting by key and time compared every key's
        // text, most of the time such a join took).
        let mut right_columns: Vec<Expr> = right_schema.iter_names().map(|c| col(c.clone()).alias(right_name(c))).collect();
        right_columns.push(col(right_ts.as_str()).cast(nanos.clone()).alias(RIGHT_TS));
        right_columns.extend(keys.iter().enumerate().map(|(i, (l, r))| as_key(i, r, &right_schema, l, left_schema)));
        let span = probe_left.clone().select([col(START).min().alias(EARLIEST), col(END).max().alias(LATEST)]);
        let in_span = col(RIGHT_TS).gt_eq(col(EARLIEST)).and(col(RIGHT_TS).lt_eq(col(LATEST)));
        let reachable = match self.prevailing {
            // The last row before the span of each key: the last of the rows
            // with its key and `before` set (the rows are in time order).
            true => {
                let before = col(RIGHT_TS).lt(col(EARLIEST));
                let mut last_of = key_names.iter().map(|k| col(k.clone())).collect::<Vec<_>>();
                last_of.push(before.clone());
                in_span.or(before.and(as_struct(last_of).is_last_distinct()))
            },
            false => in_span,
        };
        let sorted = right.select(right_columns).sort([RIGHT_TS], SortMultipleOptions::default().with_maintain_order(true));
        right = cross_join_in_order(sorted, span)
            .filter(reachable)
            .drop(Selector::ByName { names: [EARLIEST.into(), LATEST.into()].into(), strict: true });
        let numbered = (col(RIGHT_TS).cum_count(false) - lit(1)).cast(DataType::Int64);
        let position = match key_names.is_empty() {
            true => numbered,
            false => numbered.over(key_names.iter().map(|k| col(k.clone())).collect::<Vec<_>>())?,
        };
        // Read by the as-of joins and by the pairs' join: made once.
        right = right.with_column(position.alias(POSITION)).cache();

        // Each window as the positions it spans: from the first right row at
        // or after its start (the one before, with its prevailing row) to
        // the last at or before its end. Its end sorts as its start does.
        let index = right.clone().select(key_names.iter().map(|k| col(k.clone())).chain([col(RIGHT_TS).alias(AT), col(POSITION)]).collect::<Vec<_>>());
        let last_before = |probe: LazyFrame, on: &str, allow_eq: bool, into: &str| {
            let options = AsOfOptions {
                strategy: AsofStrategy::Backward,
                left_by: (!key_names.is_empty()).then(|| key_names.clone()),
                right_by: (!key_names.is_empty()).then(|| key_names.clone()),
                allow_eq,
                ..Default::default()
            };
            probe
                .join_builder()
                .with(index.clone())
                .left_on([col(on)])
                .right_on([col(AT)])
                .how(JoinType::AsOf(Box::new(options)))
                .finish()
                .drop(Selector::ByName { names: [AT.into()].into(), strict: false })
                .rename([POSITION], [into], true)
        };
        let probe = probe_left.sort([START], SortMultipleOptions::default().with_maintain_order(true));
        let probe = last_before(probe, START, false, "__wj_before");
        let mut probe = last_before(probe, END, true, "__wj_upto");
        let count = |c: &str| (col(c) + lit(1i64)).fill_null(lit(0i64));
        // A window's rows end after the last at or before its end, which is
        // at or after the first at or after its start.
        let first = match self.prevailing {
            // With its prevailing row, it starts at the last row before its
            // start, unless a row is at the start: QuestDB's prevailing row
            // is the latest at or before the start, so then it is in the
            // window already and the one before is not added.
            true => {
                probe = last_before(probe, START, true, "__wj_upto_start");
                let at_start = count("__wj_upto_start").gt(count("__wj_before"));
                when(at_start).then(count("__wj_before")).otherwise(col("__wj_before").fill_null(lit(0i64)))
            },
            false => count("__wj_before"),
        };
        let positions = int_ranges(first, count("__wj_upto"), lit(1i64), DataType::Int64);
        // One row per pair; a window with none keeps one row, of nulls.
        let pairs = probe.with_column(positions.alias(POSITION)).explode(
            Selector::ByName { names: [POSITION.into()].into(), strict: true },
            ExplodeOptions { empty_as_null: true, keep_nulls: true },
        );
        let mut join_on: Vec<Expr> = key_names.iter().map(|k| col(k.clone())).collect();
        join_on.push(col(POSITION));
        let joined = pairs
            .join(right, join_on.clone(), join_on, JoinArgs::new(JoinType::Left))
            .sort([ROW, POSITION], SortMultipleOptions::default().with_maintain_order(true).with_nulls_last(true));
        let group: Vec<String> = std::iter::once(ROW.to_string()).chain(left_schema.iter_names().map(|c| format!("\"{c}\""))).collect();
        let sql = format!("{head} GROUP BY {} {tail}", group.join(", "));
        let sql = unqualified(sql, (left_side, left_schema), (&self.right, &right_schema), &right_name);
        let (lf, _) = sql_plan(core, ns, &sql, vec![("__wj".into(), joined)]).map_err(|e| match e.to_string().contains("should participate in the GROUP BY") {
            true => invalid(format!("WINDOW JOIN: the right table's columns are read through aggregates (sum(p.px), last(p.px)), as QuestDB reads them ({e})")),
            false => e,
        })?;
        Ok(lf)
    }
}

/// `count` of QuestDB's WINDOW JOIN `unit`s, in nanoseconds.
fn unit_nanos(unit: &str, count: i64) -> Result<i64, CoreError> {
    let unit = unit.to_ascii_lowercase();
    let per: i64 = match unit.trim_end_matches('s') {
        "nanosecond" => 1,
        "microsecond" => 1_000,
        "millisecond" => 1_000_000,
        "second" => 1_000_000_000,
        "minute" => 60_000_000_000,
        "hour" => 3_600_000_000_000,
        "day" => 86_400_000_000_000,
        _ => {
            return Err(invalid(format!(
                "WINDOW JOIN RANGE: unknown unit {unit:?}; expected nanoseconds, microseconds, milliseconds, seconds, minutes, hours or days"
            )))
        },
    };
    per.checked_mul(count).ok_or_else(|| invalid("WINDOW JOIN RANGE: the window is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_joins_are_read_as_questdb_writes_them() {
        let j = WindowJoin::parse(
            "SELECT t.sym, sum(p.price) AS s FROM trades t WINDOW JOIN prices p ON (t.sym = p.sym) AND p.price < 300 \
             RANGE BETWEEN 2 minutes PRECEDING AND 1 minute PRECEDING EXCLUDE PREVAILING WHERE t.price < 450 ORDER BY t.ts LIMIT 5;",
        )
        .unwrap()
        .unwrap();
        let w = &j.windows[0];
        assert_eq!((j.left.0.as_str(), j.left.1.as_deref(), w.right.0.as_str(), w.right.1.as_deref()), ("trades", Some("t"), "prices", Some("p")));
        assert_eq!(w.keys, [("sym".to_string(), "sym".to_string())]);
        assert_eq!(w.right_filter.as_deref(), Some("price < 300"));
        assert_eq!((w.start, w.end, w.prevailing), (-120_000_000_000, -60_000_000_000, false));
        assert_eq!((j.filter.as_deref(), j.tail.as_str()), (Some("t.price < 450"), "ORDER BY t.ts LIMIT 5"));
        // Keys named alike, the window around the row, INCLUDE PREVAILING by default.
        let j = WindowJoin::parse("SELECT count() FROM a WINDOW JOIN b ON (sym, venue) RANGE BETWEEN 5 seconds PRECEDING AND 500 milliseconds FOLLOWING")
            .unwrap()
            .unwrap();
        let w = &j.windows[0];
        assert_eq!(w.keys.len(), 2);
        assert_eq!((w.start, w.end, w.prevailing, j.filter.is_none()), (-5_000_000_000, 500_000_000, true, true));
        // No ON: every right row in the window; b.x = a.x either way round.
        assert!(WindowJoin::parse("SELECT count() FROM a WINDOW JOIN b RANGE BETWEEN 1 day PRECEDING AND 1 day FOLLOWING").unwrap().unwrap().windows[0].keys.is_empty());
        let j = WindowJoin::parse("SELECT count() FROM a x WINDOW JOIN b y ON y.k = x.k RANGE BETWEEN 1 hour FOLLOWING AND 2 hours FOLLOWING").unwrap().unwrap();
        assert_eq!(j.windows[0].keys, [("k".to_string(), "k".to_string())]);
        assert!(WindowJoin::parse("SELECT * FROM t WINDOW w AS (ORDER BY ts)").unwrap().is_none());
        // QuestDB's chained WINDOW JOINs (its reference's example), each with its own window, in nanoseconds.
        let j = WindowJoin::parse(
            "SELECT t.sym, t.ts, t.price, sum(p.bid) AS sum_bids, avg(q.ask) AS avg_asks FROM trades t \
             WINDOW JOIN bids p ON (t.sym = p.sym) RANGE BETWEEN 1 minute PRECEDING AND 1 minute FOLLOWING \
             WINDOW JOIN asks q ON (t.sym = q.sym) RANGE BETWEEN 30 seconds PRECEDING AND 2000 nanoseconds FOLLOWING EXCLUDE PREVAILING \
             WHERE t.price > 1 LIMIT 3",
        )
        .unwrap()
        .unwrap();
        let bounds: Vec<_> = j.windows.iter().map(|w| (w.right.0.as_str(), w.start, w.end, w.prevailing)).collect();
        assert_eq!(bounds, [("bids", -60_000_000_000, 60_000_000_000, true), ("asks", -30_000_000_000, 2_000, false)]);
        assert_eq!((j.filter.as_deref(), j.tail.as_str()), (Some("t.price > 1"), "LIMIT 3"));
    }

    #[test]
    fn a_malformed_window_join_is_refused_by_name() {
        let err = |q: &str| WindowJoin::parse(q).unwrap_err().to_string();
        assert!(err("SELECT count() FROM a WINDOW JOIN b ON (k)").contains("expected RANGE BETWEEN"));
        assert!(err("SELECT count() FROM a WINDOW JOIN b RANGE BETWEEN 1 minute FOLLOWING AND 1 minute PRECEDING").contains("high boundary is before"));
        assert!(err("SELECT count() FROM a WINDOW JOIN b RANGE BETWEEN 1 week PRECEDING AND 1 day FOLLOWING").contains("unknown unit \"week\""));
        assert!(err("SELECT count() FROM a WINDOW JOIN b RANGE BETWEEN UNBOUNDED PRECEDING AND 1 day FOLLOWING").contains("expected RANGE BETWEEN <n>"));
        assert!(err("SELECT count() FROM a x WINDOW JOIN b y ON x.px > 1 RANGE BETWEEN 1 day PRECEDING AND 1 day FOLLOWING").contains("goes in the WHERE"));
        assert!(err("SELECT 1 FROM a WINDOW JOIN b RANGE BETWEEN 1 day PRECEDING AND 1 day FOLLOWING WHERE x > 1 WINDOW JOIN c RANGE BETWEEN 1 day PRECEDING AND 1 day FOLLOWING")
            .contains("expected another WINDOW JOIN after the RANGE, found 'WHERE x > 1'"));
        assert!(err("SELECT 1 FROM a WINDOW JOIN b RANGE BETWEEN 1 day PRECEDING AND 1 day FOLLOWING WINDOW JOIN b RANGE BETWEEN 1 day PRECEDING AND 1 day FOLLOWING")
            .contains("b names two tables of the query"));
        assert!(err("SELECT 1 FROM a WINDOW JOIN b RANGE BETWEEN 200000 days PRECEDING AND 1 day FOLLOWING").contains("the window is too large"));
    }
}
