//! QuestDB's WINDOW JOIN: `SELECT t.sym, t.ts, sum(p.price) FROM trades t
//! WINDOW JOIN prices p [ON (t.sym = p.sym) [AND p.price < 300]] RANGE
//! BETWEEN 1 minute PRECEDING AND 1 minute FOLLOWING [INCLUDE | EXCLUDE
//! PREVAILING] [WHERE ...] [ORDER BY ...] [LIMIT ...]`: each row of the
//! left (master) table with aggregates over the right table's rows of its
//! key whose designated timestamp lies in the window around its own, bounds
//! included. INCLUDE PREVAILING (the default) adds the latest right row
//! before the window's start, the value that prevailed when it opened.
//!
//! Planned as the pairs it aggregates: the rows in each window (polars'
//! `join_where`, a range join), and with INCLUDE PREVAILING each window's
//! prevailing row (an as-of join, strictly before the start), grouped by the
//! left row they belong to. A left row with no pair keeps its place, its
//! aggregates over no rows (`count()` 0, `sum` null). Rows come in the left
//! table's order unless the query orders them.

use std::sync::OnceLock;

use polaroid_core::{Core, CoreError, Namespace};
use polars::prelude::*;

use crate::dialect::{column_named, excerpt, invalid, keyword, regex, split_select, sql_plan, timestamp_column, unqualified, JoinSide, Named, Planned};

const ROW: &str = "__wj_row";
const RIGHT_TS: &str = "__wj_ts";
const START: &str = "__wj_start";
const END: &str = "__wj_end";

#[derive(Debug)]
pub(crate) struct WindowJoin {
    items: String,
    left: JoinSide,
    right: JoinSide,
    /// Key column pairs (left, right).
    keys: Vec<(String, String)>,
    /// The ON clause's other conditions, on the right table's columns.
    right_filter: Option<String>,
    /// The window's bounds, in microseconds from the left row's timestamp.
    start: i64,
    end: i64,
    prevailing: bool,
    /// The WHERE on the left rows, and what follows it (ORDER BY, LIMIT).
    filter: Option<String>,
    tail: String,
}

impl WindowJoin {
    pub(crate) fn parse(query: &str) -> Result<Option<Self>, CoreError> {
        let query = query.trim().trim_end_matches(';');
        let Some((window, join)) = window_join_at(query, 0) else { return Ok(None) };
        if window_join_at(query, join).is_some() {
            return Err(invalid("one WINDOW JOIN per query here: join the others' results in an outer query"));
        }
        let select = split_select(&query[..window])?;
        let left = crate::dialect::relation(select.from)?;
        let after = join + "JOIN".len();
        let range = keyword(query, "RANGE", after)
            .ok_or_else(|| invalid("WINDOW JOIN: expected RANGE BETWEEN <n> <unit> PRECEDING|FOLLOWING AND <n> <unit> PRECEDING|FOLLOWING"))?;
        let (right_text, on_text) = match keyword(query, "ON", after).filter(|on| *on < range) {
            Some(on) => (&query[after..on], Some(query[on + 2..range].trim())),
            None => (&query[after..range], None),
        };
        let right = crate::dialect::relation(right_text)?;
        let (keys, right_filter) = match on_text {
            Some(text) => on_clause(text, &left, &right)?,
            None => (Vec::new(), None),
        };
        static RANGE: OnceLock<regex::Regex> = OnceLock::new();
        let bound = r"(\d+)\s*([A-Za-z]+)\s+(PRECEDING|FOLLOWING)";
        let pattern = format!(r"(?is)^RANGE\s+BETWEEN\s+{bound}\s+AND\s+{bound}(?:\s+(INCLUDE|EXCLUDE)\s+PREVAILING)?\b");
        let caps = regex(&RANGE, &pattern).captures(&query[range..]).ok_or_else(|| {
            invalid(format!(
                "WINDOW JOIN: expected RANGE BETWEEN <n> <unit> PRECEDING|FOLLOWING AND <n> <unit> PRECEDING|FOLLOWING, found {}",
                excerpt(&query[range..])
            ))
        })?;
        let offset = |n: usize| -> Result<i64, CoreError> {
            let count: i64 = caps[n].parse().map_err(|_| invalid(format!("WINDOW JOIN RANGE: {} is too large", &caps[n])))?;
            let micros = unit_micros(&caps[n + 1])?.checked_mul(count).ok_or_else(|| invalid("WINDOW JOIN RANGE: the window is too large"))?;
            Ok(if caps[n + 2].eq_ignore_ascii_case("PRECEDING") { -micros } else { micros })
        };
        let (start, end) = (offset(1)?, offset(4)?);
        if end < start {
            return Err(invalid("WINDOW JOIN RANGE: the window's high boundary is before its low boundary"));
        }
        let prevailing = caps.get(7).is_none_or(|m| m.as_str().eq_ignore_ascii_case("INCLUDE"));
        let rest = query[range + caps.get(0).map_or(0, |m| m.end())..].trim();
        let tail_at = ["ORDER", "LIMIT"].iter().filter_map(|w| keyword(rest, w, 0)).min().unwrap_or(rest.len());
        let filter = match rest[..tail_at].trim() {
            "" => None,
            w if w.len() > 5 && w[..5].eq_ignore_ascii_case("WHERE") => Some(w[5..].trim().to_string()),
            other => return Err(invalid(format!("WINDOW JOIN: expected WHERE, ORDER BY or LIMIT after the RANGE, found {}", excerpt(other)))),
        };
        Ok(Some(Self {
            items: select.items.trim().to_string(),
            left,
            right,
            keys,
            right_filter,
            start,
            end,
            prevailing,
            filter,
            tail: rest[tail_at..].trim().to_string(),
        }))
    }

    pub(crate) fn plan(&self, core: &Core, ns: &Namespace, lifted: Named) -> Planned {
        let (left, left_tables) = sql_plan(core, ns, &format!("SELECT * FROM {}", self.left.0), lifted.clone())?;
        let right_query = match &self.right_filter {
            Some(filter) => format!("SELECT * FROM {} WHERE {filter}", self.right.0),
            None => format!("SELECT * FROM {}", self.right.0),
        };
        let (right, right_tables) = sql_plan(core, ns, &right_query, lifted)?;
        let (mut left, mut right) = (left, right);
        let (left_schema, right_schema) = (left.collect_schema()?, right.collect_schema()?);
        let left_ts = timestamp_column(&left_schema, &left_tables)?;
        let right_ts = timestamp_column(&right_schema, &right_tables)?;
        let keys: Vec<(String, String)> =
            self.keys.iter().map(|(l, r)| (column_named(&left_schema, l), column_named(&right_schema, r))).collect();
        // A right column whose name the left has is read as `name1`, as in ASOF JOIN.
        let right_name = |c: &str| match polars::sql::column_in_any_case(&left_schema, c) {
            Some(_) => format!("{c}1"),
            None => c.to_string(),
        };
        // Keys meet as text when their kinds differ (a table's symbols, a file's strings).
        let key = |i: usize| format!("__wj_key{i}");
        let text = |d: &DataType| d.is_string() || d.is_categorical() || d.is_enum();
        let key_expr = |name: &str, i: usize, schema: &Schema, other: &Schema, other_name: &str| {
            let differ = match (schema.get(name), other.get(other_name)) {
                (Some(a), Some(b)) => a != b && text(a) && text(b),
                _ => false,
            };
            let e = col(name);
            if differ { e.cast(DataType::String).alias(key(i)) } else { e.alias(key(i)) }
        };
        // Instants compared in microseconds, whatever unit each side keeps.
        let micros = DataType::Datetime(TimeUnit::Microseconds, None);
        let shifted = |offset: i64| (col(left_ts.as_str()).cast(micros.clone()).cast(DataType::Int64) + lit(offset)).cast(micros.clone());
        let mut left_extra: Vec<Expr> = vec![shifted(self.start).alias(START), shifted(self.end).alias(END)];
        left_extra.extend(keys.iter().enumerate().map(|(i, (l, r))| key_expr(l, i, &left_schema, &right_schema, r)));
        left = left.with_row_index(ROW, None).with_columns(left_extra);
        let mut right_columns: Vec<Expr> = right_schema.iter_names().map(|c| col(c.clone()).alias(right_name(c))).collect();
        right_columns.push(col(right_ts.as_str()).cast(micros.clone()).alias(RIGHT_TS));
        right_columns.extend(keys.iter().enumerate().map(|(i, (l, r))| key_expr(r, i, &right_schema, &left_schema, l).alias(format!("{}_r", key(i)))));
        right = right.select(right_columns);
        let right_names: Vec<PlSmallStr> = right.collect_schema()?.iter_names().filter(|n| !n.ends_with("_r") || !n.starts_with("__wj_key")).cloned().collect();
        // The rows in each window.
        let probe = left.clone().select([col(ROW), col(START), col(END)].into_iter().chain((0..keys.len()).map(|i| col(key(i)))).collect::<Vec<_>>());
        let mut conditions = vec![col(RIGHT_TS).gt_eq(col(START)), col(RIGHT_TS).lt_eq(col(END))];
        conditions.extend((0..keys.len()).map(|i| col(key(i)).eq(col(format!("{}_r", key(i))))));
        let pair_columns: Vec<Expr> = std::iter::once(col(ROW)).chain(right_names.iter().map(|n| col(n.clone()))).collect();
        let mut pairs = vec![probe.clone().join_builder().with(right.clone()).join_where(conditions).select(pair_columns.clone())];
        // The row that prevailed when each window opened: the latest strictly before its start.
        if self.prevailing {
            let by: Vec<PlSmallStr> = (0..keys.len()).map(|i| key(i).into()).collect();
            let renamed_keys: Vec<Expr> = (0..keys.len()).map(|i| col(format!("{}_r", key(i))).alias(key(i))).collect();
            let mut right_keyed = right.clone().with_columns(renamed_keys);
            right_keyed = right_keyed.with_column(col(RIGHT_TS).alias("__wj_on")).sort([RIGHT_TS], SortMultipleOptions::default());
            let options = AsOfOptions {
                strategy: AsofStrategy::Backward,
                left_by: (!by.is_empty()).then(|| by.clone()),
                right_by: (!by.is_empty()).then(|| by.clone()),
                allow_eq: false,
                ..Default::default()
            };
            let prevailing = probe
                .with_column(col(START).alias("__wj_on"))
                .sort(["__wj_on"], SortMultipleOptions::default())
                .join_builder()
                .with(right_keyed)
                .left_on([col("__wj_on")])
                .right_on([col("__wj_on")])
                .how(JoinType::AsOf(Box::new(options)))
                .finish()
                .filter(col(RIGHT_TS).is_not_null())
                .select(pair_columns);
            pairs.push(prevailing);
        }
        let pairs = concat(pairs, UnionArgs { rechunk: false, parallel: true, ..Default::default() })?;
        let left_columns: Vec<Expr> = std::iter::once(col(ROW)).chain(left_schema.iter_names().map(|c| col(c.clone()))).collect();
        // Each left row's pairs in time order, for first() and last().
        let joined = left
            .select(left_columns)
            .join(pairs, [col(ROW)], [col(ROW)], JoinArgs::new(JoinType::Left))
            .sort([ROW, RIGHT_TS], SortMultipleOptions::default().with_maintain_order(true));
        // Every left row is a group of its own, its pairs the rows; count()
        // counts pairs (a left row with none has one row of nulls).
        static COUNT: OnceLock<regex::Regex> = OnceLock::new();
        let items = regex(&COUNT, r"(?i)\bcount\s*\(\s*\*?\s*\)").replace_all(&self.items, format!("count(\"{RIGHT_TS}\")"));
        let group: Vec<String> = std::iter::once(ROW.to_string()).chain(left_schema.iter_names().map(|c| format!("\"{c}\""))).collect();
        let mut sql = format!("SELECT {ROW}, {items} FROM __wj");
        if let Some(filter) = &self.filter {
            sql.push_str(&format!(" WHERE {filter}"));
        }
        sql.push_str(&format!(" GROUP BY {}", group.join(", ")));
        match self.tail.is_empty() || keyword(&self.tail, "ORDER", 0).is_none() {
            true => sql.push_str(&format!(" ORDER BY {ROW} {}", self.tail)),
            false => sql.push_str(&format!(" {}", self.tail)),
        }
        let sql = unqualified(sql, (&self.left, &left_schema), (&self.right, &right_schema), &right_name);
        let (lf, _) = sql_plan(core, ns, &sql, vec![("__wj".into(), joined)])?;
        let mut tables = left_tables;
        tables.truncate(1);
        Ok((lf.drop(Selector::ByName { names: [ROW.into()].into(), strict: true }), tables))
    }
}

/// Where `WINDOW JOIN` is (its two words), at or after `from`.
fn window_join_at(query: &str, from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    while let Some(window) = keyword(query, "WINDOW", at) {
        if let Some(join) = keyword(query, "JOIN", window).filter(|j| query[window + "WINDOW".len()..*j].trim().is_empty()) {
            return Some((window, join));
        }
        at = window + "WINDOW".len();
    }
    None
}

/// `(t.sym = p.sym [AND ...]) [AND p.px < 300]`, `(sym, venue)` or `t.sym
/// = p.sym AND p.px < 300`: the key pairs, and the other conditions (on the
/// right table, its qualifier taken off).
fn on_clause(text: &str, left: &JoinSide, right: &JoinSide) -> Result<(Vec<(String, String)>, Option<String>), CoreError> {
    let qualifier = |side: &JoinSide| side.1.clone().unwrap_or_else(|| side.0.clone());
    let (lq, rq) = (qualifier(left), qualifier(right));
    let (group, rest) = match text.starts_with('(') {
        true => {
            let close = crate::statement::matching_paren(text, 0).ok_or_else(|| invalid("WINDOW JOIN ON (: the parenthesis is not closed"))?;
            (Some(&text[1..close]), text[close + 1..].trim())
        },
        false => (None, text),
    };
    let mut keys = Vec::new();
    let mut others = Vec::new();
    let conjuncts = |t: &str| -> Vec<String> {
        let mut parts = Vec::new();
        let mut at = 0;
        while let Some(and) = keyword(t, "AND", at) {
            parts.push(t[at..and].trim().to_string());
            at = and + "AND".len();
        }
        parts.push(t[at..].trim().to_string());
        parts.into_iter().filter(|p| !p.is_empty()).collect()
    };
    match group {
        // `(sym, venue)`: the same names on both sides.
        Some(list) if !list.contains('=') => keys.extend(list.split(',').map(|k| (k.trim().to_string(), k.trim().to_string()))),
        Some(conditions) => others.extend(conjuncts(conditions)),
        None => {},
    }
    others.extend(conjuncts(rest));
    let strip = |s: &str, q: &str| s.trim().strip_prefix(&format!("{q}.")).map(str::to_string);
    let mut filters = Vec::new();
    for condition in others {
        let as_key = condition.split_once('=').filter(|(a, b)| !a.ends_with(['<', '>', '!']) && !b.starts_with('=')).and_then(|(a, b)| {
            match (strip(a, &lq), strip(b, &rq), strip(a, &rq), strip(b, &lq)) {
                (Some(l), Some(r), ..) | (.., Some(r), Some(l)) if is_name(&l) && is_name(&r) => Some((l, r)),
                _ => None,
            }
        });
        match as_key {
            Some(pair) => keys.push(pair),
            None => {
                let on_right = regex::Regex::new(&format!(r"\b{}\.", regex::escape(&rq))).expect("an escaped name");
                if regex::Regex::new(&format!(r"\b{}\.", regex::escape(&lq))).expect("an escaped name").is_match(&condition) {
                    return Err(invalid(format!(
                        "WINDOW JOIN ON {condition}: a condition on the left table's columns goes in the WHERE clause"
                    )));
                }
                filters.push(on_right.replace_all(&condition, "").into_owned());
            },
        }
    }
    let filter = (!filters.is_empty()).then(|| filters.join(" AND "));
    Ok((keys, filter))
}

fn is_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// QuestDB's WINDOW JOIN units, in microseconds.
fn unit_micros(unit: &str) -> Result<i64, CoreError> {
    let unit = unit.to_ascii_lowercase();
    Ok(match unit.trim_end_matches('s') {
        "microsecond" => 1,
        "millisecond" => 1_000,
        "second" => 1_000_000,
        "minute" => 60_000_000,
        "hour" => 3_600_000_000,
        "day" => 86_400_000_000,
        _ => {
            return Err(invalid(format!(
                "WINDOW JOIN RANGE: unknown unit {unit:?}; expected microseconds, milliseconds, seconds, minutes, hours or days"
            )))
        },
    })
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
        assert_eq!((j.left.0.as_str(), j.left.1.as_deref(), j.right.0.as_str(), j.right.1.as_deref()), ("trades", Some("t"), "prices", Some("p")));
        assert_eq!(j.keys, [("sym".to_string(), "sym".to_string())]);
        assert_eq!(j.right_filter.as_deref(), Some("price < 300"));
        assert_eq!((j.start, j.end, j.prevailing), (-120_000_000, -60_000_000, false));
        assert_eq!((j.filter.as_deref(), j.tail.as_str()), (Some("t.price < 450"), "ORDER BY t.ts LIMIT 5"));
        // Keys named alike, the window around the row, INCLUDE PREVAILING by default.
        let j = WindowJoin::parse("SELECT count() FROM a WINDOW JOIN b ON (sym, venue) RANGE BETWEEN 5 seconds PRECEDING AND 500 milliseconds FOLLOWING")
            .unwrap()
            .unwrap();
        assert_eq!(j.keys.len(), 2);
        assert_eq!((j.start, j.end, j.prevailing, j.filter.is_none()), (-5_000_000, 500_000, true, true));
        // No ON: every right row in the window; b.x = a.x either way round.
        assert!(WindowJoin::parse("SELECT count() FROM a WINDOW JOIN b RANGE BETWEEN 1 day PRECEDING AND 1 day FOLLOWING").unwrap().unwrap().keys.is_empty());
        let j = WindowJoin::parse("SELECT count() FROM a x WINDOW JOIN b y ON y.k = x.k RANGE BETWEEN 1 hour FOLLOWING AND 2 hours FOLLOWING").unwrap().unwrap();
        assert_eq!(j.keys, [("k".to_string(), "k".to_string())]);
        assert!(WindowJoin::parse("SELECT * FROM t WINDOW w AS (ORDER BY ts)").unwrap().is_none());
    }

    #[test]
    fn a_malformed_window_join_is_refused_by_name() {
        let err = |q: &str| WindowJoin::parse(q).unwrap_err().to_string();
        assert!(err("SELECT count() FROM a WINDOW JOIN b ON (k)").contains("expected RANGE BETWEEN"));
        assert!(err("SELECT count() FROM a WINDOW JOIN b RANGE BETWEEN 1 minute FOLLOWING AND 1 minute PRECEDING").contains("high boundary is before"));
        assert!(err("SELECT count() FROM a WINDOW JOIN b RANGE BETWEEN 1 week PRECEDING AND 1 day FOLLOWING").contains("unknown unit \"week\""));
        assert!(err("SELECT count() FROM a WINDOW JOIN b RANGE BETWEEN UNBOUNDED PRECEDING AND 1 day FOLLOWING").contains("expected RANGE BETWEEN <n>"));
        assert!(err("SELECT count() FROM a x WINDOW JOIN b y ON x.px > 1 RANGE BETWEEN 1 day PRECEDING AND 1 day FOLLOWING").contains("goes in the WHERE"));
        assert!(err("SELECT count() FROM a WINDOW JOIN b RANGE BETWEEN 1 day PRECEDING AND 1 day FOLLOWING WINDOW JOIN c RANGE BETWEEN 1 day PRECEDING AND 1 day FOLLOWING")
            .contains("one WINDOW JOIN per query"));
    }
}
