//! The ON clause of QuestDB's time-series joins (ASOF, LT, WINDOW and
//! HORIZON JOIN): `ON (sym)`, `ON (sym, venue)`, `ON (t.sym = q.sym)`, `ON
//! t.sym = q.sym AND q.px < 300`, read into key pairs and the other
//! conditions.

use polaroid_core::CoreError;
use polars::prelude::{DataType, Schema};
use regex::Regex;

use crate::dialect::{invalid, keyword, JoinSide};

/// A join's key column pairs, (left, right).
pub(crate) type KeyPairs = Vec<(String, String)>;

/// `(t.sym = p.sym [AND ...]) [AND p.px < 300]`, `(sym, venue)` or `t.sym
/// = p.sym AND p.px < 300`: the key pairs, and the other conditions (on the
/// right table, its qualifier taken off) where the join takes them.
pub(crate) fn on_clause(
    text: &str,
    left: &JoinSide,
    right: &JoinSide,
    join: &str,
    filters_allowed: bool,
) -> Result<(KeyPairs, Option<String>), CoreError> {
    let (lq, rq) = (qualifier(left).to_string(), qualifier(right).to_string());
    let (group, rest) = match text.starts_with('(') {
        true => {
            let close = crate::statement::matching_paren(text, 0).ok_or_else(|| invalid(format!("{join} ON (: the parenthesis is not closed")))?;
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
        // `(q.venue = t.venue)`: a condition in its own parentheses.
        let bare = |mut p: String| {
            while p.starts_with('(') && crate::statement::matching_paren(&p, 0) == Some(p.len() - 1) {
                p = p[1..p.len() - 1].trim().to_string();
            }
            p
        };
        parts.into_iter().map(bare).filter(|p| !p.is_empty()).collect()
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
                // Names the join's own qualifiers do not name (`sym = sym`): left = right, as written.
                _ if !names_side(&condition, &lq) && !names_side(&condition, &rq) => bare(a).zip(bare(b)),
                _ => None,
            }
        });
        match as_key {
            Some(pair) => keys.push(pair),
            None if !filters_allowed => {
                return Err(invalid(format!("{join} ON {condition}: only equalities of key columns (t.sym = q.sym) are matched on")))
            },
            None => {
                let on_right = regex::Regex::new(&format!(r"\b{}\.", regex::escape(&rq))).expect("an escaped name");
                if regex::Regex::new(&format!(r"\b{}\.", regex::escape(&lq))).expect("an escaped name").is_match(&condition) {
                    return Err(invalid(format!(
                        "{join} ON {condition}: a condition on the left table's columns goes in the WHERE clause"
                    )));
                }
                filters.push(on_right.replace_all(&condition, "").into_owned());
            },
        }
    }
    let filter = (!filters.is_empty()).then(|| filters.join(" AND "));
    Ok((keys, filter))
}

/// Whether `condition` reads a column qualified by `qualifier` (`t.px`).
fn names_side(condition: &str, qualifier: &str) -> bool {
    Regex::new(&format!(r"\b{}\.", regex::escape(qualifier))).expect("an escaped name").is_match(condition)
}

/// A column name, its qualifier (any) taken off.
fn bare(text: &str) -> Option<String> {
    let text = text.trim();
    let name = text.rsplit('.').next().unwrap_or(text);
    (is_name(name) && text.matches('.').count() <= 1).then(|| name.to_string())
}

fn is_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A join's key pairs as each side spells its columns (QuestDB's names are
/// case-insensitive: `ON (SYM)` names `sym`), or which side lacks which.
pub(crate) fn join_keys(
    keys: &[(String, String)],
    left: (&JoinSide, &Schema),
    right: (&JoinSide, &Schema),
    join: &str,
) -> Result<Vec<(String, String)>, CoreError> {
    let named = |(side, schema): (&JoinSide, &Schema), name: &str| match polars::sql::column_in_any_case(schema, name) {
        Some(found) => Ok(found.to_string()),
        // A table by its name, a subquery by its alias.
        None => Err(invalid(match (side.0.starts_with('('), side.1.as_deref()) {
            (true, Some(alias)) => format!("{join} ON: {alias} has no column {name}"),
            _ => format!("{join} ON: {} has no column {name}", side.0),
        })),
    };
    keys.iter().map(|(l, r)| Ok((named(left, l)?, named(right, r)?))).collect()
}

/// Whether a join's key columns are text of two kinds (a table's symbols,
/// held as categories, and a file's strings), which polars compares only
/// once both are cast to text.
pub(crate) fn keys_meet_as_text(left: &Schema, l: &str, right: &Schema, r: &str) -> bool {
    let text = |d: &DataType| d.is_string() || d.is_categorical() || d.is_enum();
    match (left.get(l), right.get(r)) {
        (Some(a), Some(b)) => a != b && text(a) && text(b),
        _ => false,
    }
}

/// Where `<kind> JOIN` is (its two words, `WINDOW JOIN`), at or after `from`.
pub(crate) fn join_at(query: &str, kind: &str, from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    while let Some(start) = keyword(query, kind, at) {
        if let Some(join) = keyword(query, "JOIN", start).filter(|j| query[start + kind.len()..*j].trim().is_empty()) {
            return Some((start, join));
        }
        at = start + kind.len();
    }
    None
}

/// What a join side's columns are qualified by: its alias, or its name.
pub(crate) fn qualifier(side: &JoinSide) -> &str {
    side.1.as_deref().unwrap_or(side.0.as_str())
}

/// The left side of a time-series join as a query, `SELECT * FROM trades t
/// [WHERE ...]`. QuestDB's WHERE on WINDOW and HORIZON JOIN filters the left
/// rows, so it is read with them (a table's interval read, no pairs made
/// for rows it drops) unless it reads a column of another side (`others`'
/// qualifiers): then it stays for the caller, `Some` in the answer.
pub(crate) fn left_query<'f>(left: &JoinSide, filter: Option<&'f str>, others: &[&str]) -> (String, Option<&'f str>) {
    let alias = left.1.as_deref().map(|a| format!(" {a}")).unwrap_or_default();
    match filter {
        Some(filter) if !others.iter().any(|q| names_side(filter, q)) => (format!("SELECT * FROM {}{alias} WHERE {filter}", left.0), None),
        other => (format!("SELECT * FROM {}{alias}", left.0), other),
    }
}
