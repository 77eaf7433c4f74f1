//! QuestDB's PIVOT: `source PIVOT (aggregate [AS a], ... FOR column IN
//! (value [AS name], ...) [ELSE 'name'] [column IN (...) ...] [GROUP BY
//! ...] [SAMPLE BY ...] [ORDER BY ...] [LIMIT ...])`, rewritten into the
//! query QuestDB compiles it to: one aggregate per combination of the IN
//! lists' values and aggregate, each over the rows of its combination
//! (`avg(price) FILTER (WHERE symbol = 'A' AND side = 'buy')`), grouped by
//! the GROUP BY's keys only (one row without one), the rows whose values no
//! list names filtered out first. polars-sql reads PIVOT as DuckDB does,
//! grouping by every other column of its input: `trades PIVOT (avg(price)
//! FOR symbol IN (...))` answered a row per trade, silently.
//!
//! The source is a table (or a CTE's name), `SELECT * FROM` one, a
//! parenthesized query (QuestDB's `(trades LIMIT 10)` too) or a SELECT.
//! Columns are named as QuestDB names them: the combination's values (or
//! their `AS` names) joined by `_`, then, when there are several
//! aggregates or one has an alias, `_` and the alias, or the function's
//! name as written (`_avg`), or with its argument when two aggregates call
//! the same function (`_avg_price`). An IN list may be a subquery, run as
//! the query is read (as QuestDB runs it); its values are those of its one
//! column, each once, nulls left out.
//!
//! `source UNPIVOT [INCLUDE NULLS | EXCLUDE NULLS] (value FOR name IN
//! ('Jan', feb, ...))`, its inverse: each row of the source becomes one row
//! per listed column (in the list's order), beside the other columns, with
//! the column's name (as the table spells it; the list may name it in any
//! case, quoted or not) and its value; rows whose value is null are left
//! out unless INCLUDE NULLS. polars-sql's UNPIVOT took identifiers only, in
//! their exact case, and gave the rows column by column.

use std::sync::OnceLock;

use polaroid_core::CoreError;
use polars::prelude::*;

use crate::dialect::{excerpt, invalid, keyword, regex, top_level_commas, unquoted};
use crate::statement::matching_paren;

/// At most this many columns from one PIVOT: each is an aggregate, and a
/// dynamic IN list could otherwise ask for one per row of a table.
const MAX_COLUMNS: usize = 5_000;

/// One value of an IN list: as SQL reads it, and as a column name shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    literal: String,
    name: String,
}

/// What a PIVOT needs read from the tables as it is rewritten.
pub(crate) trait Reader {
    /// The values of an IN list's subquery (see [`values_of`]).
    fn values(&mut self, query: &str) -> Result<Vec<Value>, CoreError>;

    /// The designated timestamp of `query`'s rows (`SELECT * FROM` the
    /// PIVOT's source): a PIVOT with SAMPLE BY groups by its buckets, and
    /// shows them.
    fn timestamp(&mut self, query: &str) -> Result<String, CoreError>;
}

/// `query` with each PIVOT rewritten, if it has one.
pub(crate) fn rewritten(query: &str, reader: &mut dyn Reader) -> Result<Option<String>, CoreError> {
    let mut query = query.to_string();
    let mut changed = false;
    while let Some(found) = next_pivot(&query) {
        let close = matching_paren(&query, found.open).ok_or_else(|| invalid("PIVOT (: the parenthesis is not closed"))?;
        let (with, relation) = relation(query[found.source_start..found.keyword].trim())?;
        let body = &query[found.open + 1..close];
        let select = Pivot::parse(body, &with, reader)?.select(&with, &relation, reader)?;
        query.replace_range(found.source_start..=close, &format!(" {select}"));
        changed = true;
    }
    Ok(changed.then_some(query))
}

/// The values of the one column of an IN list's subquery, each once, in
/// the order it gives them.
pub(crate) fn values_of(frame: &DataFrame) -> Result<Vec<Value>, CoreError> {
    let [column] = frame.columns() else {
        return Err(invalid(format!(
            "PIVOT ... IN (SELECT ...): the subquery gives {} columns; its one column holds the values",
            frame.width()
        )));
    };
    let quoted = !(column.dtype().is_primitive_numeric() || column.dtype() == &DataType::Boolean);
    let shown = column.cast(&DataType::String)?;
    let mut values: Vec<Value> = Vec::new();
    for name in shown.str()?.iter().flatten() {
        if values.iter().any(|v| v.name == name) {
            continue;
        }
        if values.len() == MAX_COLUMNS {
            return Err(too_many(values.len() + 1));
        }
        let literal = if quoted { format!("'{}'", name.replace('\'', "''")) } else { name.to_string() };
        values.push(Value { literal, name: name.to_string() });
    }
    Ok(values)
}

/// Where a PIVOT is: its source starts at `source_start` (after the
/// parenthesis that encloses it, or at the query's start), the keyword at
/// `keyword`, its parenthesis at `open`.
struct Found {
    source_start: usize,
    keyword: usize,
    open: usize,
}

/// The first PIVOT (not UNPIVOT) outside quotes followed by `(`.
fn next_pivot(query: &str) -> Option<Found> {
    let bytes = query.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut enclosing = Vec::new();
    for (i, c) in unquoted(query) {
        match c {
            '(' => enclosing.push(i),
            ')' => {
                enclosing.pop();
            },
            'p' | 'P' if query.len() >= i + 5 && query.is_char_boundary(i + 5) && query[i..i + 5].eq_ignore_ascii_case("PIVOT") => {
                if (i > 0 && word(bytes[i - 1])) || bytes.get(i + 5).is_some_and(|b| word(*b)) {
                    continue;
                }
                let after = query[i + 5..].trim_start();
                if after.starts_with('(') {
                    let open = query.len() - after.len();
                    return Some(Found { source_start: enclosing.last().map_or(0, |o| o + 1), keyword: i, open });
                }
            },
            _ => {},
        }
    }
    None
}

/// One aggregate: its call as written, its function's name and argument,
/// its alias.
#[derive(Debug)]
struct Aggregate {
    call: String,
    function: String,
    argument: String,
    alias: Option<String>,
}

/// `column IN (values) [ELSE 'name']`.
#[derive(Debug)]
struct ForList {
    column: String,
    values: Vec<Value>,
    otherwise: Option<String>,
}

#[derive(Debug, Default)]
struct Pivot {
    aggregates: Vec<Aggregate>,
    lists: Vec<ForList>,
    group_by: Option<String>,
    /// SAMPLE BY, ORDER BY and LIMIT as written, in order.
    tail: Vec<String>,
}

impl Pivot {
    /// The PIVOT's parenthesized text; an IN list's subquery may read the
    /// CTEs of `with`, the source's WITH.
    fn parse(body: &str, with: &str, reader: &mut dyn Reader) -> Result<Self, CoreError> {
        let for_at = keyword(body, "FOR", 0).ok_or_else(|| invalid("PIVOT (...): expected FOR column IN (values) after the aggregates"))?;
        let aggregates = top_level_commas(&body[..for_at]).into_iter().map(aggregate).collect::<Result<Vec<_>, _>>()?;
        if aggregates.is_empty() {
            return Err(invalid("PIVOT (...): expected an aggregate (like avg(price)) before FOR"));
        }
        // The clauses after the IN lists, where each starts.
        let mut clauses: Vec<(usize, &str)> = Vec::new();
        for (first, second, name) in [("GROUP", Some("BY"), "GROUP BY"), ("SAMPLE", Some("BY"), "SAMPLE BY"), ("ORDER", Some("BY"), "ORDER BY"), ("LIMIT", None, "LIMIT")] {
            let mut from = for_at;
            while let Some(at) = keyword(body, first, from) {
                let rest = body[at + first.len()..].trim_start();
                if second.is_none_or(|s| rest.len() >= 2 && rest[..2].eq_ignore_ascii_case(s) && !rest[2..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')) {
                    clauses.push((at, name));
                    break;
                }
                from = at + first.len();
            }
        }
        clauses.sort();
        let lists_end = clauses.first().map_or(body.len(), |(at, _)| *at);
        let lists = for_lists(&body[for_at + "FOR".len()..lists_end], &mut |query| reader.values(&format!("{with}{query}")))?;
        let mut pivot = Pivot { aggregates, lists, ..Default::default() };
        for (i, &(at, name)) in clauses.iter().enumerate() {
            let end = clauses.get(i + 1).map_or(body.len(), |(next, _)| *next);
            let text = body[at..end].trim();
            if name == "GROUP BY" {
                let keys = text["GROUP".len()..].trim_start()["BY".len()..].trim();
                if keys.is_empty() {
                    return Err(invalid("PIVOT (... GROUP BY): expected the columns to group by"));
                }
                if top_level_commas(keys).iter().any(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_digit())) {
                    return Err(invalid("cannot use positional group by inside `PIVOT`: name the columns (GROUP BY side)"));
                }
                pivot.group_by = Some(keys.to_string());
            } else {
                pivot.tail.push(text.to_string());
            }
        }
        let columns = pivot.lists.iter().map(|l| l.values.len() + usize::from(l.otherwise.is_some())).try_fold(pivot.aggregates.len(), |n, m| n.checked_mul(m));
        match columns {
            Some(n) if n <= MAX_COLUMNS => Ok(pivot),
            n => Err(too_many(n.unwrap_or(usize::MAX))),
        }
    }

    /// The SELECT QuestDB runs for this PIVOT over `relation`.
    fn select(&self, with: &str, relation: &str, reader: &mut dyn Reader) -> Result<String, CoreError> {
        let mut items: Vec<String> = Vec::new();
        if self.tail.iter().any(|clause| clause.to_ascii_uppercase().starts_with("SAMPLE")) {
            items.push(reader.timestamp(&format!("{with}SELECT * FROM {relation}"))?);
        }
        items.extend(self.group_by.iter().cloned());
        let suffixes = self.suffixes();
        for (combination, condition) in self.combinations() {
            for (aggregate, suffix) in self.aggregates.iter().zip(&suffixes) {
                let name = format!("{combination}{suffix}").replace('"', "\"\"");
                items.push(format!("{} FILTER (WHERE {condition}) AS \"{name}\"", aggregate.call));
            }
        }
        let mut select = format!("{with}SELECT {} FROM {relation}", items.join(", "));
        let kept: Vec<String> = self
            .lists
            .iter()
            .filter(|l| l.otherwise.is_none())
            .map(|l| format!("{} IN ({})", l.column, literals(&l.values)))
            .collect();
        if !kept.is_empty() {
            select.push_str(&format!(" WHERE {}", kept.join(" AND ")));
        }
        if let Some(keys) = &self.group_by {
            select.push_str(&format!(" GROUP BY {keys}"));
        }
        for clause in &self.tail {
            select.push(' ');
            select.push_str(clause);
        }
        Ok(select)
    }

    /// Each combination of the lists' values (the first list's varying
    /// slowest): its name, and the condition its rows meet.
    fn combinations(&self) -> Vec<(String, String)> {
        let mut combinations = vec![(String::new(), String::new())];
        for list in &self.lists {
            let mut choices: Vec<(String, String)> =
                list.values.iter().map(|v| (v.name.clone(), format!("{} = {}", list.column, v.literal))).collect();
            if let Some(otherwise) = &list.otherwise {
                let others = format!("({column} NOT IN ({}) OR {column} IS NULL)", literals(&list.values), column = list.column);
                choices.push((otherwise.clone(), others));
            }
            combinations = combinations
                .iter()
                .flat_map(|(name, condition)| {
                    choices.iter().map(move |(value, test)| match name.is_empty() {
                        true => (value.clone(), test.clone()),
                        false => (format!("{name}_{value}"), format!("{condition} AND {test}")),
                    })
                })
                .collect();
        }
        combinations
    }

    /// What follows a combination's name in each aggregate's column.
    fn suffixes(&self) -> Vec<String> {
        let several = self.aggregates.len() > 1;
        self.aggregates
            .iter()
            .map(|a| match &a.alias {
                Some(alias) => format!("_{alias}"),
                None if !several => String::new(),
                None if self.aggregates.iter().filter(|b| b.function.eq_ignore_ascii_case(&a.function)).count() > 1 => {
                    format!("_{}_{}", a.function, a.argument.trim_matches('"'))
                },
                None => format!("_{}", a.function),
            })
            .collect()
    }
}

/// `avg(price) [AS] [name]`.
fn aggregate(text: &str) -> Result<Aggregate, CoreError> {
    let bad = || invalid(format!("PIVOT (...): expected an aggregate call like avg(price) [AS name], found '{text}'"));
    let open = text.find('(').ok_or_else(bad)?;
    let function = text[..open].trim();
    if !function.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') || !function.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(bad());
    }
    let close = matching_paren(text, open).ok_or_else(bad)?;
    let after = text[close + 1..].trim();
    static ALIAS: OnceLock<regex::Regex> = OnceLock::new();
    let alias = match after {
        "" => None,
        _ => {
            let caps = regex(&ALIAS, r#"(?is)^(?:AS\s+)?('(?:[^']|'')*'|"[^"]+"|\w+)$"#).captures(after).ok_or_else(bad)?;
            Some(unquote(&caps[1]))
        },
    };
    Ok(Aggregate { call: text[..=close].trim().to_string(), function: function.to_string(), argument: text[open + 1..close].trim().to_string(), alias })
}

/// The IN lists after FOR, separated by whitespace (or commas).
fn for_lists(mut text: &str, subquery: &mut dyn FnMut(&str) -> Result<Vec<Value>, CoreError>) -> Result<Vec<ForList>, CoreError> {
    static LIST: OnceLock<regex::Regex> = OnceLock::new();
    static ELSE: OnceLock<regex::Regex> = OnceLock::new();
    static QUERY: OnceLock<regex::Regex> = OnceLock::new();
    let mut lists = Vec::new();
    loop {
        text = text.trim_start().trim_start_matches(',').trim_start();
        if text.is_empty() {
            break;
        }
        let caps = regex(&LIST, r#"(?is)^("[^"]+"|[A-Za-z_]\w*)\s+IN\s*\("#)
            .captures(text)
            .ok_or_else(|| invalid(format!("PIVOT (... FOR): expected column IN (values), found {}", excerpt(text))))?;
        let column = caps[1].to_string();
        let open = caps.get(0).map_or(0, |m| m.end()) - 1;
        let close = matching_paren(text, open).ok_or_else(|| invalid(format!("PIVOT (... FOR {column} IN (: the parenthesis is not closed")))?;
        let content = &text[open + 1..close];
        let values = match regex(&QUERY, r"(?is)^\s*(SELECT|WITH)\b").is_match(content) {
            true => subquery(content)?,
            false => top_level_commas(content).into_iter().map(|item| value(item, &column)).collect::<Result<Vec<_>, _>>()?,
        };
        if values.is_empty() {
            return Err(invalid(format!("PIVOT (... FOR {column} IN (...)): the list has no values")));
        }
        text = &text[close + 1..];
        let otherwise = match regex(&ELSE, r#"(?is)^\s*ELSE\s+('(?:[^']|'')*'|"[^"]+"|\w+)"#).captures(text) {
            Some(caps) => {
                text = &text[caps.get(0).map_or(0, |m| m.end())..];
                Some(unquote(&caps[1]))
            },
            None => None,
        };
        lists.push(ForList { column, values, otherwise });
    }
    if lists.is_empty() {
        return Err(invalid("PIVOT (...): expected column IN (values) after FOR"));
    }
    Ok(lists)
}

/// `'BTC-USD' [AS bitcoin]`, `2000`, `true`.
fn value(item: &str, column: &str) -> Result<Value, CoreError> {
    static VALUE: OnceLock<regex::Regex> = OnceLock::new();
    let pattern = r#"(?is)^('(?:[^']|'')*'|[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false)(?:\s+AS\s+('(?:[^']|'')*'|"[^"]+"|\w+))?$"#;
    let caps = regex(&VALUE, pattern).captures(item.trim()).ok_or_else(|| {
        invalid(format!("PIVOT (... FOR {column} IN (...)): expected a constant (a string or a number) [AS name], found '{}'", item.trim()))
    })?;
    let literal = caps[1].to_string();
    let name = caps.get(2).map_or_else(|| unquote(&literal), |alias| unquote(alias.as_str()));
    Ok(Value { literal, name })
}

/// The part before the SELECT (a WITH's CTEs) and the relation the SELECT
/// reads, for a PIVOT's source.
fn relation(source: &str) -> Result<(String, String), CoreError> {
    if source.is_empty() {
        return Err(invalid("PIVOT follows what it pivots: a table, a SELECT or a parenthesized query"));
    }
    static WITH: OnceLock<regex::Regex> = OnceLock::new();
    let (with, query) = match regex(&WITH, r"(?is)^WITH\b").is_match(source) {
        true => {
            let at = keyword(source, "SELECT", 0).ok_or_else(|| invalid("PIVOT: a WITH's query (SELECT * FROM ...) goes before PIVOT"))?;
            (format!("{} ", source[..at].trim()), source[at..].trim())
        },
        false => (String::new(), source),
    };
    static STAR: OnceLock<regex::Regex> = OnceLock::new();
    static NAME: OnceLock<regex::Regex> = OnceLock::new();
    static QUERY: OnceLock<regex::Regex> = OnceLock::new();
    let from = regex(&STAR, r"(?is)^SELECT\s+\*\s+FROM\s+(.+)$").captures(query).map(|caps| caps[1].trim().to_string());
    let is_query = |text: &str| regex(&QUERY, r"(?is)^(SELECT|WITH|VALUES)\b").is_match(text);
    let input = "__pivot_input";
    let relation = match from.as_deref().unwrap_or(query) {
        name if regex(&NAME, r#"^("[^"]+"|[A-Za-z_][\w.\-]*)$"#).is_match(name) => name.to_string(),
        nested if nested.starts_with('(') && matching_paren(nested, 0) == Some(nested.len() - 1) => {
            let inner = nested[1..nested.len() - 1].trim();
            match is_query(inner) {
                true => format!("({inner}) AS {input}"),
                // QuestDB's `(trades LIMIT 10)`: SELECT * FROM left out.
                false => format!("(SELECT * FROM {inner}) AS {input}"),
            }
        },
        // `SELECT * FROM trades WHERE ...`, or QuestDB's `trades WHERE ...`.
        rest if from.is_some() || !is_query(rest) => format!("(SELECT * FROM {rest}) AS {input}"),
        select => format!("({select}) AS {input}"),
    };
    Ok((with, relation))
}

/// A query whose last step is an UNPIVOT.
#[derive(Debug, PartialEq)]
pub(crate) struct Unpivot {
    /// The query of the rows it unpivots.
    pub(crate) source: String,
    value: String,
    name: String,
    /// The columns, as the list names them.
    columns: Vec<String>,
    include_nulls: bool,
}

impl Unpivot {
    /// The UNPIVOT `query` ends with (outside parentheses), if it does.
    pub(crate) fn parse(query: &str) -> Result<Option<Self>, CoreError> {
        let Some(at) = keyword(query, "UNPIVOT", 0) else { return Ok(None) };
        static NULLS: OnceLock<regex::Regex> = OnceLock::new();
        let after = &query[at + "UNPIVOT".len()..];
        let nulls = regex(&NULLS, r"(?is)^\s*(?:(INCLUDE|EXCLUDE)\s+NULLS\s*)?\(").captures(after).ok_or_else(|| {
            invalid("UNPIVOT: expected (value FOR name IN (columns)) after UNPIVOT [INCLUDE NULLS | EXCLUDE NULLS]")
        })?;
        let open = at + "UNPIVOT".len() + nulls.get(0).map_or(0, |m| m.end()) - 1;
        let close = matching_paren(query, open).ok_or_else(|| invalid("UNPIVOT (: the parenthesis is not closed"))?;
        if !query[close + 1..].trim().trim_end_matches(';').trim().is_empty() {
            return Err(invalid(format!(
                "UNPIVOT (...) ends the query here; wrap it to go on: SELECT * FROM (... UNPIVOT (...)) {}",
                excerpt(query[close + 1..].trim())
            )));
        }
        static BODY: OnceLock<regex::Regex> = OnceLock::new();
        let body = regex(&BODY, r#"(?is)^\s*("[^"]+"|[A-Za-z_]\w*)\s+FOR\s+("[^"]+"|[A-Za-z_]\w*)\s+IN\s*\((.*)\)\s*$"#)
            .captures(&query[open + 1..close])
            .ok_or_else(|| invalid(format!("UNPIVOT: expected (value FOR name IN (columns)), found {}", excerpt(&query[open + 1..close]))))?;
        let columns: Vec<String> = top_level_commas(&body[3]).into_iter().map(unquote).collect();
        if columns.is_empty() {
            return Err(invalid("UNPIVOT (... IN ()): name the columns to unpivot"));
        }
        let (with, relation) = relation(query[..at].trim())?;
        Ok(Some(Unpivot {
            source: format!("{with}SELECT * FROM {relation}"),
            value: unquote(&body[1]),
            name: unquote(&body[2]),
            columns,
            include_nulls: nulls.get(1).is_some_and(|m| m.as_str().eq_ignore_ascii_case("INCLUDE")),
        }))
    }

    /// `rows` unpivoted: a row per listed column of each, in the rows'
    /// order and then the list's.
    pub(crate) fn plan(&self, mut rows: LazyFrame) -> Result<LazyFrame, CoreError> {
        let schema = rows.collect_schema()?;
        let mut on = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            let found = polars::sql::column_in_any_case(&schema, column)
                .ok_or_else(|| invalid(format!("UNPIVOT ... IN: no column {column:?} in its source ({})", names(&schema))))?;
            if on.contains(&found) {
                return Err(invalid(format!("UNPIVOT ... IN: the column {found:?} is listed twice")));
            }
            on.push(found);
        }
        let row = "__questdb_row";
        let mut index: Vec<PlSmallStr> = schema.iter_names().filter(|n| !on.contains(&n.as_str())).cloned().collect();
        index.push(row.into());
        let names = |names: Vec<PlSmallStr>| Selector::ByName { names: names.into(), strict: true };
        let args = UnpivotArgsDSL {
            on: Some(names(on.iter().map(|n| PlSmallStr::from(*n)).collect())),
            index: names(index),
            variable_name: Some(self.name.as_str().into()),
            value_name: Some(self.value.as_str().into()),
        };
        // polars unpivots column by column; QuestDB gives each row's in turn.
        let mut unpivoted = rows.with_row_index(row, None).unpivot(args).sort([row], SortMultipleOptions::default().with_maintain_order(true));
        if !self.include_nulls {
            unpivoted = unpivoted.filter(col(self.value.as_str()).is_not_null());
        }
        Ok(unpivoted.drop(names(vec![row.into()])))
    }
}

fn names(schema: &Schema) -> String {
    schema.iter_names().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
}

fn literals(values: &[Value]) -> String {
    values.iter().map(|v| v.literal.as_str()).collect::<Vec<_>>().join(", ")
}

/// A name as written, without its quotes (`''` is a quote in a string).
fn unquote(text: &str) -> String {
    match text.chars().next() {
        Some('\'') if text.len() >= 2 => text[1..text.len() - 1].replace("''", "'"),
        Some('"') if text.len() >= 2 => text[1..text.len() - 1].to_string(),
        _ => text.to_string(),
    }
}

fn too_many(columns: usize) -> CoreError {
    invalid(format!("PIVOT would make {columns} columns; at most {MAX_COLUMNS} (fewer values, or a GROUP BY of the column instead)"))
}



#[cfg(test)]
mod tests {
    use super::*;

    /// Answers subqueries with `values`, and gives every relation the
    /// timestamp `ts`; notes what it was asked.
    #[derive(Default)]
    struct Fake {
        values: Vec<Value>,
        asked: Vec<String>,
    }

    impl Reader for Fake {
        fn values(&mut self, query: &str) -> Result<Vec<Value>, CoreError> {
            self.asked.push(query.trim().to_string());
            Ok(self.values.clone())
        }

        fn timestamp(&mut self, query: &str) -> Result<String, CoreError> {
            self.asked.push(query.to_string());
            Ok("ts".into())
        }
    }

    fn pivot(query: &str) -> String {
        rewritten(query, &mut Fake::default()).unwrap().expect("a PIVOT").trim().to_string()
    }

    /// QuestDB's own examples (its PIVOT reference and tests), as QuestDB
    /// compiles them.
    #[test]
    fn a_pivot_becomes_one_filtered_aggregate_per_combination() {
        assert_eq!(
            pivot("SELECT * FROM cities PIVOT (SUM(population) FOR year IN (2000, 2010) GROUP BY country);"),
            "SELECT country, SUM(population) FILTER (WHERE year = 2000) AS \"2000\", SUM(population) FILTER (WHERE year = 2010) AS \"2010\" \
             FROM cities WHERE year IN (2000, 2010) GROUP BY country;"
        );
        // Several lists (the first varies slowest) and aggregates: named as QuestDB names them.
        assert_eq!(
            pivot("(trades LIMIT 10) PIVOT (avg(price), avg(amount) FOR symbol IN ('BTC-USD' AS bitcoin) side IN ('buy', 'sell'))"),
            "SELECT avg(price) FILTER (WHERE symbol = 'BTC-USD' AND side = 'buy') AS \"bitcoin_buy_avg_price\", \
             avg(amount) FILTER (WHERE symbol = 'BTC-USD' AND side = 'buy') AS \"bitcoin_buy_avg_amount\", \
             avg(price) FILTER (WHERE symbol = 'BTC-USD' AND side = 'sell') AS \"bitcoin_sell_avg_price\", \
             avg(amount) FILTER (WHERE symbol = 'BTC-USD' AND side = 'sell') AS \"bitcoin_sell_avg_amount\" \
             FROM (SELECT * FROM trades LIMIT 10) AS __pivot_input WHERE symbol IN ('BTC-USD') AND side IN ('buy', 'sell')"
        );
        // An alias names even a single aggregate; distinct functions are named alone.
        assert!(pivot("trades PIVOT (count(price) AS total FOR side IN ('buy'))").contains("AS \"buy_total\" FROM trades"));
        let two = pivot("trades PIVOT (avg(price), SUM(price) FOR side IN ('buy'))");
        assert!(two.contains("AS \"buy_avg\"") && two.contains("AS \"buy_SUM\""), "{two}");
        // ELSE: the rows of every other value (and none), so no filter on that column.
        assert_eq!(
            pivot("WITH t AS (trades LIMIT 10) SELECT * FROM t PIVOT (avg(price) FOR symbol IN ('A') ELSE 'REST' GROUP BY side ORDER BY side LIMIT -1)"),
            "WITH t AS (trades LIMIT 10) SELECT side, avg(price) FILTER (WHERE symbol = 'A') AS \"A\", \
             avg(price) FILTER (WHERE (symbol NOT IN ('A') OR symbol IS NULL)) AS \"REST\" FROM t GROUP BY side ORDER BY side LIMIT -1"
        );
        // Nested: the PIVOT is the subquery; UNPIVOT and quoted text are left alone.
        assert_eq!(
            pivot("SELECT * FROM (SELECT * FROM trades WHERE note = 'PIVOT (' PIVOT (max(px) FOR sym IN ('A') SAMPLE BY 1h)) WHERE A > 1"),
            "SELECT * FROM ( SELECT ts, max(px) FILTER (WHERE sym = 'A') AS \"A\" FROM (SELECT * FROM trades WHERE note = 'PIVOT (') AS __pivot_input \
             WHERE sym IN ('A') SAMPLE BY 1h) WHERE A > 1"
        );
        assert_eq!(rewritten("SELECT * FROM t UNPIVOT (v FOR k IN (a, b))", &mut Fake::default()).unwrap(), None);
    }

    #[test]
    fn an_in_list_may_be_a_subquery() {
        let values = values_of(&df!["symbol" => [Some("A"), None, Some("B'x"), Some("A")]].unwrap()).unwrap();
        let mut fake = Fake { values, ..Default::default() };
        let select = rewritten("trades PIVOT (sum(px) FOR symbol IN (SELECT DISTINCT symbol FROM trades))", &mut fake).unwrap().unwrap();
        assert_eq!(fake.asked, ["SELECT DISTINCT symbol FROM trades"]);
        assert!(select.contains("WHERE symbol IN ('A', 'B''x')") && select.contains("AS \"B'x\""), "{select}");
        // The subquery reads the source's CTEs.
        let mut fake = Fake { values: fake.values, ..Default::default() };
        rewritten("WITH l AS (trades LIMIT 10) SELECT * FROM l PIVOT (sum(px) FOR symbol IN (SELECT DISTINCT symbol FROM l))", &mut fake).unwrap();
        assert_eq!(fake.asked, ["WITH l AS (trades LIMIT 10) SELECT DISTINCT symbol FROM l"]);
        let numbers = values_of(&df!["year" => [2000i32, 2010]].unwrap()).unwrap();
        assert_eq!(numbers.iter().map(|v| v.literal.as_str()).collect::<Vec<_>>(), ["2000", "2010"]);
        let err = values_of(&df!["a" => [1], "b" => [2]].unwrap()).unwrap_err().to_string();
        assert!(err.contains("the subquery gives 2 columns"), "{err}");
    }

    /// QuestDB's UnpivotTest's monthly sales, by hand.
    #[test]
    fn an_unpivot_gives_each_row_s_columns_in_turn() {
        let sales = df![
            "empid" => [1, 2], "dept" => ["electronics", "clothes"],
            "Jan" => [Some(1), Some(10)], "Feb" => [Some(2), None], "Mar" => [3, 30],
        ]
        .unwrap();
        let unpivot = Unpivot::parse("monthly_sales UNPIVOT (sales FOR month IN (jan, 'FEB', \"Mar\"));").unwrap().unwrap();
        assert_eq!(unpivot.source, "SELECT * FROM monthly_sales");
        let got = unpivot.plan(sales.clone().lazy()).unwrap().collect().unwrap();
        let want = df![
            "empid" => [1, 1, 1, 2, 2], "dept" => ["electronics", "electronics", "electronics", "clothes", "clothes"],
            "month" => ["Jan", "Feb", "Mar", "Jan", "Mar"], "sales" => [1, 2, 3, 10, 30],
        ]
        .unwrap();
        assert_eq!(got, want);
        let with_nulls = Unpivot::parse("(monthly_sales) UNPIVOT INCLUDE NULLS (sales FOR month IN (Feb))").unwrap().unwrap();
        let got = with_nulls.plan(sales.clone().lazy()).unwrap().collect().unwrap();
        assert_eq!(got.column("sales").unwrap().i32().unwrap().iter().collect::<Vec<_>>(), [Some(2), None]);
        assert_eq!(got.get_column_names(), ["empid", "dept", "Jan", "Mar", "month", "sales"]);
        let err = |q: &str| match Unpivot::parse(q).and_then(|u| u.unwrap().plan(sales.clone().lazy())) {
            Ok(_) => panic!("{q} was planned"),
            Err(e) => e.to_string(),
        };
        assert!(err("t UNPIVOT (v FOR k IN (apr))").contains("no column \"apr\" in its source (empid, dept, Jan, Feb, Mar)"));
        assert!(err("t UNPIVOT (v FOR k IN (jan, Jan))").contains("listed twice"));
        assert!(err("t UNPIVOT (v IN (jan))").contains("expected (value FOR name IN (columns))"));
        assert!(err("t UNPIVOT (v FOR k IN (jan)) WHERE v > 1").contains("wrap it to go on"));
        assert_eq!(Unpivot::parse("SELECT * FROM (t UNPIVOT (v FOR k IN (a)))").unwrap(), None);
    }

    #[test]
    fn a_malformed_pivot_is_refused_by_name() {
        let err = |query: &str| rewritten(query, &mut Fake::default()).unwrap_err().to_string();
        assert!(err("trades PIVOT (avg(price))").contains("expected FOR column IN (values)"));
        assert!(err("trades PIVOT (FOR side IN ('a'))").contains("expected an aggregate"));
        assert!(err("trades PIVOT (avg(price) FOR side ('a'))").contains("expected column IN (values), found 'side ('a')'"));
        assert!(err("trades PIVOT (avg(price) FOR side IN (lower(x)))").contains("expected a constant"));
        assert!(err("trades PIVOT (avg(price) FOR side IN ('a') GROUP BY 1)").contains("cannot use positional group by inside `PIVOT`"));
        assert!(err("PIVOT (avg(price) FOR side IN ('a'))").contains("PIVOT follows what it pivots"));
        assert!(err("trades PIVOT (avg(price) FOR side IN ('a')").contains("not closed"));
        let many: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let wide = format!("t PIVOT (sum(x) FOR a IN ({l}) b IN ({l}))", l = many.join(", "));
        assert!(err(&wide).contains("PIVOT would make 10000 columns; at most 5000"));
    }
}
