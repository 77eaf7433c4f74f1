//! QuestDB's HORIZON JOIN, for markout analysis: `SELECT h.offset / 1000000
//! AS sec, t.sym, avg(p.mid - t.price) FROM trades AS t HORIZON JOIN quotes
//! AS p ON (sym) RANGE FROM 0s TO 60s STEP 1s AS h [WHERE ...] [GROUP BY
//! ...] [ORDER BY ...] [LIMIT ...]`, or `LIST (0, 1s, 5s, 1m) AS h`: every
//! left row at every offset, matched as ASOF JOIN matches (the right row of
//! its keys current at the left row's timestamp plus the offset), then the
//! query's own SELECT, grouped as QuestDB groups (by its columns outside
//! aggregates). `h.offset` is the offset in the unit of the left table's
//! timestamps (microseconds, or nanoseconds for TIMESTAMP_NS), `h.timestamp`
//! the instant matched. Right tables may
//! follow one another (`HORIZON JOIN quotes AS p ON (sym) HORIZON JOIN book
//! AS b ON (sym) RANGE ...`), each matched on its own.
//!
//! Planned as the left rows crossed with the offsets, in the order of the
//! instants they match at, and one polars as-of join per right table.

use std::collections::HashMap;
use std::sync::OnceLock;

use polaroid_core::{Core, CoreError, Namespace};
use polars::prelude::*;
use regex::Regex;

use crate::dialect::{
    cross_join_in_order, excerpt, invalid, keyword, regex, relation, split_select, sql_plan, timestamp_column, top_level_commas,
    unqualified, JoinSide, Named, Planned,
};
use crate::join_on::{join_at, join_keys, keys_meet_as_text, left_query, on_clause, qualifier};

/// The offset in the left's unit, as `h.offset` shows it.
const OFFSET: &str = "__hz_offset";
const OFFSET_NANOS: &str = "__hz_offset_ns";
/// The instant a left row is matched at, its timestamp plus the offset, in
/// nanoseconds (so either side's precision is kept), and in the left's unit.
const AT: &str = "__hz_at";
const TIMESTAMP: &str = "__hz_timestamp";
const RIGHT_AT: &str = "__hz_right_at";
/// More offsets than this would multiply the left rows past any use.
const MAX_OFFSETS: usize = 100_000;

#[derive(Debug)]
pub(crate) struct HorizonJoin {
    items: String,
    left: JoinSide,
    rights: Vec<Right>,
    /// In nanoseconds, increasing.
    offsets: Vec<i64>,
    /// The horizon pseudo-table's alias (`h` of `h.offset`).
    horizon: String,
    /// WHERE, GROUP BY, ORDER BY and LIMIT, as written.
    rest: String,
}

#[derive(Debug)]
struct Right {
    side: JoinSide,
    /// Key column pairs (left, right).
    keys: Vec<(String, String)>,
    /// The ON clause's other conditions, on the right table's columns.
    filter: Option<String>,
}

impl HorizonJoin {
    pub(crate) fn parse(query: &str) -> Result<Option<Self>, CoreError> {
        let query = query.trim().trim_end_matches(';');
        let Some((horizon_at, mut join)) = join_at(query, "HORIZON", 0) else { return Ok(None) };
        let select = split_select(&query[..horizon_at])?;
        let left = relation(select.from)?;
        let mut rights = Vec::new();
        loop {
            let after = join + "JOIN".len();
            if let Some((next, next_join)) = join_at(query, "HORIZON", after) {
                rights.push(Right::parse(&query[after..next], &left)?);
                join = next_join;
                continue;
            }
            let grid = [keyword(query, "RANGE", after), keyword(query, "LIST", after)].into_iter().flatten().min().ok_or_else(|| {
                invalid("HORIZON JOIN: expected RANGE FROM <offset> TO <offset> STEP <offset> AS h, or LIST (<offset>, ...) AS h")
            })?;
            rights.push(Right::parse(&query[after..grid], &left)?);
            let (offsets, horizon, rest) = grid_clause(&query[grid..])?;
            let qualifiers: Vec<&str> = std::iter::once(&left).chain(rights.iter().map(|r| &r.side)).map(qualifier).collect();
            if let Some((_, twice)) = qualifiers.iter().enumerate().find(|(i, q)| qualifiers[..*i].contains(q) || q.eq_ignore_ascii_case(&horizon)) {
                return Err(invalid(format!("HORIZON JOIN: {twice} names two tables of the query; give each its own alias")));
            }
            return Ok(Some(Self { items: select.items.trim().to_string(), left, rights, offsets, horizon, rest: rest.to_string() }));
        }
    }

    pub(crate) fn plan(&self, core: &Core, ns: &Namespace, lifted: Named) -> Planned {
        // The WHERE filters the left rows (QuestDB's rule), before they are crossed with the offsets.
        let tail_at = ["GROUP", "ORDER", "LIMIT"].iter().filter_map(|w| keyword(&self.rest, w, 0)).min().unwrap_or(self.rest.len());
        let filter = match self.rest[..tail_at].trim() {
            "" => None,
            w if w.len() > 5 && w[..5].eq_ignore_ascii_case("WHERE") => Some(w[5..].trim()),
            other => return Err(invalid(format!("HORIZON JOIN: expected WHERE, GROUP BY, ORDER BY or LIMIT after the offsets, found {}", excerpt(other)))),
        };
        let others: Vec<&str> = self.rights.iter().map(|r| qualifier(&r.side)).chain([self.horizon.as_str()]).collect();
        let (left_sql, filter) = left_query(&self.left, filter, &others);
        let (mut left, left_tables) = sql_plan(core, ns, &left_sql, lifted.clone())?;
        let left_schema = left.collect_schema()?;
        let left_ts = timestamp_column(&left_schema, &left_tables)?;
        // Instants compared in nanoseconds, whatever unit each side keeps;
        // `h.offset` in the left's (QuestDB's rule).
        let unit = match left_schema.get(&left_ts) {
            Some(DataType::Datetime(unit, _)) => *unit,
            _ => TimeUnit::Microseconds,
        };
        let per: i64 = match unit {
            TimeUnit::Nanoseconds => 1,
            TimeUnit::Microseconds => 1_000,
            TimeUnit::Milliseconds => 1_000_000,
        };
        if let Some(finer) = self.offsets.iter().find(|o| *o % per != 0) {
            return Err(invalid(format!("HORIZON JOIN: an offset of {finer}n is finer than {}'s timestamps ({unit})", self.left.0)));
        }
        let in_unit: Vec<i64> = self.offsets.iter().map(|o| o / per).collect();
        let offsets = DataFrame::new(self.offsets.len(), vec![
            Column::new(OFFSET.into(), &in_unit),
            Column::new(OFFSET_NANOS.into(), &self.offsets),
        ])?;
        let nanos = DataType::Datetime(TimeUnit::Nanoseconds, None);
        let at = (col(left_ts.as_str()).cast(nanos.clone()).cast(DataType::Int64) + col(OFFSET_NANOS)).cast(nanos.clone());
        let mut probe = (cross_join_in_order(left, offsets.lazy()).with_column(at.alias(AT)))
            .with_column(col(AT).cast(DataType::Datetime(unit, None)).alias(TIMESTAMP))
            .sort([AT], SortMultipleOptions::default().with_maintain_order(true));
        // A right column whose name is taken is read as `name1` (`name2`, ...), as in ASOF JOIN.
        let mut taken: Vec<String> = left_schema.iter_names().map(|c| c.to_string()).collect();
        let mut sides = Vec::with_capacity(self.rights.len());
        for (j, right) in self.rights.iter().enumerate() {
            let right_query = match &right.filter {
                Some(filter) => format!("SELECT * FROM {} WHERE {filter}", right.side.0),
                None => format!("SELECT * FROM {}", right.side.0),
            };
            let (mut right_lf, right_tables) = sql_plan(core, ns, &right_query, lifted.clone())?;
            let right_schema = right_lf.collect_schema()?;
            let right_ts = timestamp_column(&right_schema, &right_tables)?;
            let mut names = HashMap::new();
            for c in right_schema.iter_names() {
                let mut name = c.to_string();
                for n in 1.. {
                    if !taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
                        break;
                    }
                    name = format!("{c}{n}");
                }
                taken.push(name.clone());
                names.insert(c.to_string(), name);
            }
            let keys = join_keys(&right.keys, (&self.left, &left_schema), (&right.side, &right_schema), "HORIZON JOIN")?;
            let key_names: Vec<PlSmallStr> = (0..keys.len()).map(|i| format!("__hz_key{j}_{i}").into()).collect();
            // Keys meet as text when their kinds differ (a table's symbols, a file's strings).
            let as_key = |name: &str, schema: &Schema, other: &str, other_schema: &Schema, key: &PlSmallStr| {
                let column = col(name).alias(key.clone());
                match keys_meet_as_text(schema, name, other_schema, other) {
                    true => column.cast(DataType::String),
                    false => column,
                }
            };
            probe = probe.with_columns(keys.iter().zip(&key_names).map(|((l, r), k)| as_key(l, &left_schema, r, &right_schema, k)).collect::<Vec<_>>());
            let mut right_columns: Vec<Expr> = right_schema.iter_names().map(|c| col(c.clone()).alias(names[c.as_str()].as_str())).collect();
            right_columns.push(col(right_ts.as_str()).cast(nanos.clone()).alias(RIGHT_AT));
            right_columns.extend(keys.iter().zip(&key_names).map(|((l, r), k)| as_key(r, &right_schema, l, &left_schema, k)));
            let right_lf = right_lf.select(right_columns).sort([RIGHT_AT], SortMultipleOptions::default().with_maintain_order(true));
            let options = AsOfOptions {
                strategy: AsofStrategy::Backward,
                left_by: (!key_names.is_empty()).then(|| key_names.clone()),
                right_by: (!key_names.is_empty()).then(|| key_names.clone()),
                allow_eq: true,
                ..Default::default()
            };
            let dropped: Vec<PlSmallStr> = key_names.iter().cloned().chain([RIGHT_AT.into()]).collect();
            probe = (probe.join_builder().with(right_lf).left_on([col(AT)]).right_on([col(RIGHT_AT)]))
                .how(JoinType::AsOf(Box::new(options)))
                .finish()
                .drop(Selector::ByName { names: dropped.into(), strict: false });
            sides.push((right_schema, names));
        }
        let sql = self.sql(filter, &self.rest[tail_at..]);
        let left_side = (&self.left, left_schema.as_ref());
        let sql = (self.rights.iter().zip(&sides)).fold(sql, |sql, (right, (schema, names))| {
            let named = |c: &str| names.get(c).cloned().unwrap_or_else(|| c.to_string());
            unqualified(sql, left_side, (&right.side, schema), &named)
        });
        let (lf, _) = sql_plan(core, ns, &sql, vec![("__hz".into(), probe)])?;
        let mut tables = left_tables;
        tables.truncate(1);
        Ok((lf, tables))
    }

    /// The query over the matched rows (`__hz`), the horizon's columns by
    /// their names here; `h.offset` alone is still named `offset`. `filter`
    /// is a WHERE that could not be read with the left rows.
    fn sql(&self, filter: Option<&str>, tail: &str) -> String {
        let horizon = Regex::new(&format!(r"(?i)\b{}\s*\.\s*(offset|timestamp)\b", regex::escape(&self.horizon))).expect("an escaped name");
        let internal = |text: &str| {
            (horizon.replace_all(text, |caps: &regex::Captures<'_>| match caps[1].eq_ignore_ascii_case("offset") {
                true => format!("\"{OFFSET}\""),
                false => format!("\"{TIMESTAMP}\""),
            }))
            .into_owned()
        };
        let items: Vec<String> = (top_level_commas(&self.items).into_iter())
            .map(|item| match horizon.captures(item.trim()).filter(|caps| caps[0].len() == item.trim().len()) {
                Some(caps) => format!("{} AS \"{}\"", internal(item), caps[1].to_ascii_lowercase()),
                None => internal(item),
            })
            .collect();
        let filter = filter.map(|f| format!("WHERE {} ", internal(f))).unwrap_or_default();
        format!("SELECT {} FROM __hz {filter}{}", items.join(", "), internal(tail))
    }
}

impl Right {
    /// `table [AS] alias [ON (...)]`.
    fn parse(text: &str, left: &JoinSide) -> Result<Self, CoreError> {
        let (side, on) = match keyword(text, "ON", 0) {
            Some(on) => (relation(&text[..on])?, Some(text[on + 2..].trim())),
            None => (relation(text)?, None),
        };
        let (keys, filter) = match on {
            Some(on) => on_clause(on, left, &side, "HORIZON JOIN", true)?,
            None => (Vec::new(), None),
        };
        Ok(Self { side, keys, filter })
    }
}

/// `RANGE FROM -5s TO 5s STEP 1s AS h` or `LIST (0, 1s, 1m) AS h`: the
/// offsets in nanoseconds, the alias, and what follows.
fn grid_clause(text: &str) -> Result<(Vec<i64>, String, &str), CoreError> {
    static RANGE: OnceLock<Regex> = OnceLock::new();
    static LIST: OnceLock<Regex> = OnceLock::new();
    let alias = r"\s+AS\s+([A-Za-z_]\w*)";
    let (offsets, caps) = if let Some(caps) = regex(&RANGE, &format!(r"(?is)^RANGE\s+FROM\s+(\S+)\s+TO\s+(\S+)\s+STEP\s+(\S+){alias}\b")).captures(text) {
        let (from, to, step) = (offset(&caps[1])?, offset(&caps[2])?, offset(&caps[3])?);
        if step <= 0 {
            return Err(invalid(format!("HORIZON JOIN RANGE: STEP {} must be positive", &caps[3])));
        }
        if from > to {
            return Err(invalid(format!("HORIZON JOIN RANGE: FROM {} is after TO {}", &caps[1], &caps[2])));
        }
        let count = (to - from) / step + 1;
        if count as u64 > MAX_OFFSETS as u64 {
            return Err(invalid(format!("HORIZON JOIN RANGE: {count} offsets; at most {MAX_OFFSETS}")));
        }
        ((0..count).map(|i| from + i * step).collect::<Vec<_>>(), caps)
    } else if let Some(caps) = regex(&LIST, &format!(r"(?is)^LIST\s*\(([^)]*)\){alias}\b")).captures(text) {
        let offsets = (caps[1].split(',').map(str::trim).filter(|o| !o.is_empty())).map(offset).collect::<Result<Vec<_>, _>>()?;
        if offsets.is_empty() {
            return Err(invalid("HORIZON JOIN LIST: at least one offset expected"));
        }
        if offsets.len() > MAX_OFFSETS {
            return Err(invalid(format!("HORIZON JOIN LIST: {} offsets; at most {MAX_OFFSETS}", offsets.len())));
        }
        if offsets.windows(2).any(|w| w[0] >= w[1]) {
            return Err(invalid(format!("HORIZON JOIN LIST ({}): the offsets must increase", caps[1].trim())));
        }
        (offsets, caps)
    } else {
        return Err(invalid(format!(
            "HORIZON JOIN: expected RANGE FROM <offset> TO <offset> STEP <offset> AS h, or LIST (<offset>, ...) AS h, found {}",
            excerpt(text)
        )));
    };
    let alias = caps[caps.len() - 1].to_string();
    let rest = text[caps.get(0).map_or(0, |m| m.end())..].trim();
    Ok((offsets, alias, rest))
}

/// An offset as QuestDB writes one, `-5s`, `250T`, `1m`, `0`, in nanoseconds.
fn offset(text: &str) -> Result<i64, CoreError> {
    static OFFSET_LITERAL: OnceLock<Regex> = OnceLock::new();
    let caps = regex(&OFFSET_LITERAL, r"^(-?)(\d+)([A-Za-z]*)$").captures(text.trim()).ok_or_else(|| {
        invalid(format!("HORIZON JOIN: expected an offset such as 5s, -2m or 0, found {}", excerpt(text)))
    })?;
    let count: i64 = caps[2].parse().map_err(|_| invalid(format!("HORIZON JOIN: offset {text} is too large")))?;
    let per: i64 = match &caps[3] {
        "" if count == 0 => 1,
        "" => return Err(invalid(format!("HORIZON JOIN: offset {text} needs a unit (n, U, T, s, m, h, d or w)"))),
        "n" => 1,
        "U" => 1_000,
        "T" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 7 * 86_400_000_000_000,
        unit => return Err(invalid(format!("HORIZON JOIN: unknown unit {unit:?} in offset {text}; expected n, U, T, s, m, h, d or w"))),
    };
    let nanos = per.checked_mul(count).ok_or_else(|| invalid(format!("HORIZON JOIN: offset {text} is too large")))?;
    Ok(if &caps[1] == "-" { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_joins_are_read_as_questdb_writes_them() {
        // QuestDB's reference: a markout curve, then LIST and negative offsets.
        let j = HorizonJoin::parse(
            "SELECT h.offset / 1000000 AS horizon_sec, t.symbol, avg(m.mid) AS avg_mid FROM fx_trades AS t \
             HORIZON JOIN market_data AS m ON (symbol) RANGE FROM 1s TO 60s STEP 1s AS h ORDER BY t.symbol, horizon_sec;",
        )
        .unwrap()
        .unwrap();
        assert_eq!((j.left.0.as_str(), j.left.1.as_deref(), j.horizon.as_str()), ("fx_trades", Some("t"), "h"));
        assert_eq!((j.rights.len(), j.rights[0].side.1.as_deref()), (1, Some("m")));
        assert_eq!(j.rights[0].keys, [("symbol".to_string(), "symbol".to_string())]);
        assert_eq!((j.offsets.len(), j.offsets[0], j.offsets[59]), (60, 1_000_000_000, 60_000_000_000));
        assert_eq!(j.rest, "ORDER BY t.symbol, horizon_sec");
        assert_eq!(
            j.sql(None, &j.rest),
            "SELECT \"__hz_offset\" / 1000000 AS horizon_sec, t.symbol, avg(m.mid) AS avg_mid FROM __hz ORDER BY t.symbol, horizon_sec"
        );
        let j = HorizonJoin::parse("SELECT h.offset, count() FROM t HORIZON JOIN q ON t.s = q.s LIST (-1m, 0, 2000n, 250T, 5s) AS h WHERE t.px > 1")
            .unwrap()
            .unwrap();
        assert_eq!(j.offsets, [-60_000_000_000, 0, 2_000, 250_000_000, 5_000_000_000]);
        assert_eq!(j.sql(Some("h.offset > 0"), ""), "SELECT \"__hz_offset\" AS \"offset\", count() FROM __hz WHERE \"__hz_offset\" > 0 ");
        // Two right tables, each with its own keys; no ON matches any row.
        let j = HorizonJoin::parse("SELECT avg(p.bid), avg(b.ask) FROM t HORIZON JOIN p ON (sym) HORIZON JOIN b RANGE FROM -5s TO 5s STEP 5s AS h")
            .unwrap()
            .unwrap();
        assert_eq!((j.rights.len(), j.rights[0].keys.len(), j.rights[1].keys.len(), j.offsets.clone()), (2, 1, 0, vec![-5_000_000_000, 0, 5_000_000_000]));
        assert!(HorizonJoin::parse("SELECT * FROM t WHERE horizon = 1").unwrap().is_none());
    }

    #[test]
    fn a_malformed_horizon_join_is_refused_by_name() {
        let err = |q: &str| HorizonJoin::parse(q).unwrap_err().to_string();
        assert!(err("SELECT 1 FROM t HORIZON JOIN q ON (s)").contains("expected RANGE FROM"));
        assert!(err("SELECT 1 FROM t HORIZON JOIN q RANGE FROM 0s TO 5 STEP 1s AS h").contains("offset 5 needs a unit"));
        assert!(err("SELECT 1 FROM t HORIZON JOIN q RANGE FROM 0s TO 5s STEP 0s AS h").contains("STEP 0s must be positive"));
        assert!(err("SELECT 1 FROM t HORIZON JOIN q RANGE FROM 5s TO 0s STEP 1s AS h").contains("FROM 5s is after TO 0s"));
        assert!(err("SELECT 1 FROM t HORIZON JOIN q RANGE FROM 0s TO 5y STEP 1s AS h").contains("unknown unit \"y\""));
        assert!(err("SELECT 1 FROM t HORIZON JOIN q RANGE FROM 0s TO 1d STEP 1U AS h").contains("at most 100000"));
        assert!(err("SELECT 1 FROM t HORIZON JOIN q LIST (0, 300000w) AS h").contains("offset 300000w is too large"));
        assert!(err("SELECT 1 FROM t HORIZON JOIN q LIST () AS h").contains("at least one offset"));
        assert!(err("SELECT 1 FROM t HORIZON JOIN q LIST (1s, 0) AS h").contains("the offsets must increase"));
        assert!(err("SELECT 1 FROM t HORIZON JOIN q LIST (0) h").contains("expected RANGE FROM"));
        assert!(err("SELECT 1 FROM t HORIZON JOIN q HORIZON JOIN q LIST (0) AS h").contains("q names two tables"));
    }
}
