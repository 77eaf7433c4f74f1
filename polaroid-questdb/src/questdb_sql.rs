//! QuestDB's SQL where it means something else than polars-sql, rewritten
//! on the parsed query (sqlparser, the parser polars-sql uses) before
//! polars-sql plans it. Where the two would answer differently, QuestDB's
//! meaning wins, because QuestDB's clients wrote the query:
//!
//! - **GROUP BY is optional.** `SELECT sym, count() FROM t` is one row per
//!   `sym` in QuestDB; polars-sql would broadcast one total to every row.
//!   A SELECT with aggregates and other columns, and no GROUP BY, groups
//!   by those columns.
//! - **Column names.** An unnamed item is named as QuestDB names it: a
//!   column by its name, a function by the function (`avg`, `count`), a
//!   cast `cast`, anything else `column`; a name taken already gets 1, 2, ...
//!   (`first`, `first1`). polars-sql would name `first(px), last(px)` both
//!   `px` and refuse the query.
//! - **Functions** QuestDB has under other names or other arguments:
//!   `count_distinct`, `log` (natural), `now()`/`systimestamp()`,
//!   `dateadd`, `datediff`, `timestamp_floor` (counts from the epoch or an
//!   offset), `timestamp_ceil`, `to_timezone`/`to_utc`, `hour()`, `day()`,
//!   ..., `to_str`, `to_timestamp` (QuestDB's date formats), `ksum`/`nsum`,
//!   and the market-data functions `mid`, `spread`, `spread_bps`, `wmid`,
//!   `l2price` (`twap`/`vwap` are polars-sql's, patch 0099).
//! - **SYMBOL columns are text**: `LIKE`, `~` and the string functions read
//!   them as strings (polars keeps them categorical).
//! - **Timestamps as text**: `ts > '2024-01-01T00:00:00Z'` (or `+01:00`) compares with the
//!   instant (the `Z` is UTC, which the tables' naive timestamps are), and
//!   `ts IN '2024-01'` is every instant of that month (`'2024-01-01T10;2h'`
//!   extends the end).
//!   TICK's intervals (date variables, ranges, lists, bracket expansion,
//!   `@zone`, `#workday`, durations) name instants too (`tick_intervals`).
//! - **Table functions**: `long_sequence(n)`, `tables()`,
//!   `table_columns('t')` become frames the caller registers ([`Source`]).

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::OnceLock;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use polaroid_core::CoreError;
use regex::{Captures, Regex};

use crate::generators::{Generated, Literal};
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, JoinConstraint, JoinOperator, LimitClause, ObjectName,
    Offset, OffsetRows, OrderBy, OrderByKind, Query, Select, SelectItem, SetExpr, Statement, TableFactor, Value, VisitMut, VisitorMut,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// A frame a rewritten query reads under a reserved name.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `long_sequence(n[, seed1, seed2])`: a LONG column `x` of 1..=n, and
    /// the columns of the generators the query calls
    /// ([`crate::generators`]), drawn from the seeds when given.
    LongSequence { rows: u64, seed: Option<u64>, generated: Vec<(String, Generated)> },
    /// `generate_series(start, end[, step])` ([`crate::generators::Series`]).
    Series(crate::generators::Series),
    /// `tables()`: the caller's tables.
    Tables,
    /// `table_columns('t')`: the columns of `t`.
    TableColumns(String),
}

/// A query in polars-sql's terms, and the frames it reads by reserved name.
#[derive(Debug)]
pub struct Rewritten {
    pub sql: String,
    pub sources: Vec<(String, Source)>,
}

/// The most rows `long_sequence` makes (8 bytes each).
const MAX_SEQUENCE: u64 = 1_000_000_000;

/// Aggregate functions, by QuestDB's names and polars-sql's.
const AGGREGATES: &[&str] = &[
    "avg", "count", "count_distinct", "first", "last", "first_not_null", "last_not_null", "max", "min", "sum", "ksum",
    "nsum", "stddev", "stddev_samp", "stddev_pop", "stdev", "variance", "var", "var_samp", "var_pop", "median",
    "string_agg", "string_distinct_agg", "listagg", "group_concat", "array_agg", "corr", "covar_pop", "covar_samp",
    "quantile_cont", "quantile_disc", "approx_percentile", "approx_count_distinct", "bool_and", "bool_or", "mode",
    "total", "mean", "geomean", "approx_median", "arg_min", "arg_max", "twap", "vwap", "regr_slope", "regr_intercept",
];

/// String functions whose first argument polars wants as text, not categorical.
const STRING_FUNCTIONS: &[&str] = &[
    "length", "char_length", "upper", "lower", "left", "right", "substr", "substring", "strpos", "replace",
    "starts_with", "ends_with", "ltrim", "rtrim", "split_part", "reverse", "lpad", "rpad", "initcap", "regexp_like",
];

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument(message.into())
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("a valid pattern"))
}

/// Rewrite `sql` (one query) with QuestDB's meanings; `now` is the query's
/// start, what `now()` answers. Text sqlparser cannot read, or a statement
/// that is not a query, is left as it is, for polars-sql to judge.
pub fn rewrite(sql: &str, now: NaiveDateTime) -> Result<Rewritten, CoreError> {
    let text = standard_window_frames(&expand_interval_literals(sql, now)?);
    let Ok(mut statements) = Parser::parse_sql(&GenericDialect {}, &text) else {
        return Ok(Rewritten { sql: text, sources: Vec::new() });
    };
    let [Statement::Query(_)] = statements.as_slice() else {
        return Ok(Rewritten { sql: text, sources: Vec::new() });
    };
    let mut visitor = QuestDb { now, sources: Vec::new(), generated: Vec::new(), error: None };
    let _ = statements.visit(&mut visitor);
    if let Some(error) = visitor.error {
        return Err(error);
    }
    let mut sources = visitor.sources;
    if !visitor.generated.is_empty() {
        // The generators' columns join the query's one long_sequence.
        let mut sequences = sources.iter_mut().filter_map(|(_, s)| match s {
            Source::LongSequence { generated, .. } => Some(generated),
            _ => None,
        });
        match (sequences.next(), sequences.next()) {
            (Some(generated), None) => *generated = visitor.generated,
            _ => {
                let names: Vec<&str> = visitor.generated.iter().map(|(_, g)| g.function()).collect();
                return Err(invalid(format!(
                    "{}: QuestDB's generators are answered in a query over one long_sequence(n)",
                    names.join(", ")
                )));
            },
        }
    }
    Ok(Rewritten { sql: statements[0].to_string(), sources })
}

/// Name and group a SELECT list as QuestDB does: the items' names (given
/// or QuestDB's), then the GROUP BY a SELECT with aggregates and no GROUP
/// BY implies. Also for the SELECT lists the dialect builds itself.
pub fn name_items(select: &mut Select) -> Vec<(Expr, String)> {
    let mut given = Vec::new();
    let mut taken: HashSet<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    for item in select.projection.iter_mut() {
        let SelectItem::UnnamedExpr(expr) = item else { continue };
        let base = default_name(expr);
        let mut name = base.clone();
        let mut n = 1;
        while taken.contains(&name.to_ascii_lowercase()) {
            name = format!("{base}{n}");
            n += 1;
        }
        taken.insert(name.to_ascii_lowercase());
        // A plain column keeps its own name: no alias needed unless deduplicated.
        if matches!(expr, Expr::Identifier(id) if id.value == name) {
            continue;
        }
        given.push((expr.clone(), name.clone()));
        *item = SelectItem::ExprWithAlias { expr: expr.clone(), alias: Ident::with_quote('"', name) };
    }
    given
}

/// The GROUP BY QuestDB implies: the non-aggregate items of a SELECT that
/// has aggregates, when it has no GROUP BY of its own.
fn imply_group_by(select: &mut Select) {
    let GroupByExpr::Expressions(keys, modifiers) = &select.group_by else { return };
    if !keys.is_empty() || !modifiers.is_empty() {
        return;
    }
    let mut aggregated = false;
    let mut implied = Vec::new();
    for item in &select.projection {
        let expr = match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
            // `*` beside an aggregate: polars-sql's own error says it best.
            _ => return,
        };
        if has_aggregate(expr) {
            aggregated = true;
        } else if reads_columns(expr) {
            implied.push(expr.clone());
        }
    }
    if aggregated && !implied.is_empty() {
        select.group_by = GroupByExpr::Expressions(implied, Vec::new());
    }
}

fn default_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(id) => id.value.clone(),
        Expr::CompoundIdentifier(parts) => parts.last().map_or_else(|| "column".into(), |id| id.value.clone()),
        Expr::Function(f) => function_name(&f.name),
        Expr::Cast { .. } => "cast".into(),
        // Functions sqlparser reads as their own syntax.
        Expr::Ceil { .. } => "ceil".into(),
        Expr::Floor { .. } => "floor".into(),
        Expr::Extract { .. } => "extract".into(),
        Expr::Substring { .. } => "substring".into(),
        Expr::Trim { .. } => "trim".into(),
        Expr::Position { .. } => "position".into(),
        Expr::Nested(inner) => default_name(inner),
        _ => "column".into(),
    }
}

fn function_name(name: &ObjectName) -> String {
    name.0.last().map(|part| part.to_string().trim_matches('"').to_ascii_lowercase()).unwrap_or_default()
}

fn function_args(args: &FunctionArguments) -> Vec<&Expr> {
    match args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|arg| match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                FunctionArg::Named { arg: FunctionArgExpr::Expr(e), .. } => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `expr` aggregates (outside window functions and subqueries).
fn has_aggregate(expr: &Expr) -> bool {
    match expr {
        Expr::Function(f) => {
            let windowed = f.over.is_some();
            !windowed
                && (AGGREGATES.contains(&function_name(&f.name).as_str())
                    || function_args(&f.args).into_iter().any(has_aggregate))
        },
        Expr::BinaryOp { left, right, .. } => has_aggregate(left) || has_aggregate(right),
        Expr::UnaryOp { expr, .. } | Expr::Nested(expr) | Expr::Cast { expr, .. } => has_aggregate(expr),
        Expr::IsNull(e) | Expr::IsNotNull(e) => has_aggregate(e),
        Expr::Case { operand, conditions, else_result, .. } => {
            operand.as_deref().is_some_and(has_aggregate)
                || conditions.iter().any(|w| has_aggregate(&w.condition) || has_aggregate(&w.result))
                || else_result.as_deref().is_some_and(has_aggregate)
        },
        _ => false,
    }
}

/// Whether `expr` reads a column (a constant needs no grouping).
fn reads_columns(expr: &Expr) -> bool {
    sqlparser::ast::visit_expressions(expr, |e| {
        if matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

struct QuestDb {
    now: NaiveDateTime,
    sources: Vec<(String, Source)>,
    /// Columns of QuestDB's generators, by the name their calls now read.
    generated: Vec<(String, Generated)>,
    error: Option<CoreError>,
}

impl QuestDb {
    fn fail(&mut self, error: CoreError) -> ControlFlow<()> {
        self.error = Some(error);
        ControlFlow::Break(())
    }

    /// A call of one of QuestDB's generators becomes the name of its
    /// column ([`crate::generators`]); whether `expr` was one.
    fn generator(&mut self, expr: &mut Expr) -> Result<bool, CoreError> {
        let Expr::Function(f) = expr else { return Ok(false) };
        let name = function_name(&f.name);
        if !crate::generators::is_generator(&name) {
            return Ok(false);
        }
        let args: Vec<Literal> = function_args(&f.args).into_iter().map(literal).collect();
        let Some(generated) = crate::generators::spec(&name, &args)? else { return Ok(false) };
        let name = format!("__generated_{}", self.generated.len());
        self.generated.push((name.clone(), generated));
        *expr = Expr::Identifier(Ident::new(name));
        Ok(true)
    }

    fn source(&mut self, source: Source) -> String {
        if let Some((name, _)) = self.sources.iter().find(|(_, s)| *s == source) {
            return name.clone();
        }
        let name = format!("__questdb_{}", self.sources.len());
        self.sources.push((name.clone(), source));
        name
    }
}

impl VisitorMut for QuestDb {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        // QuestDB's `LIMIT m, n` is rows m+1 to n, not MySQL's offset and
        // count (the dialect answers it at a query's end, every form; here,
        // in a subquery, its forms from the start).
        if let Some(LimitClause::OffsetCommaLimit { offset, limit }) = &query.limit_clause {
            let bound = |e: &Expr| match e {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => n.parse::<u64>().ok(),
                    _ => None,
                },
                _ => None,
            };
            let Some((m, n)) = bound(offset).zip(bound(limit)) else {
                return self.fail(invalid(format!(
                    "LIMIT {offset}, {limit}: in a subquery, QuestDB's LIMIT m, n takes two whole numbers (rows m+1 to n); the last rows (-m, -n) only at a query's end"
                )));
            };
            let number = |k: u64| Expr::value(Value::Number(k.to_string(), false));
            query.limit_clause = Some(LimitClause::LimitOffset {
                limit: Some(number(m.max(n) - m.min(n))),
                offset: Some(Offset { value: number(m.min(n)), rows: OffsetRows::None }),
                limit_by: Vec::new(),
            });
        }
        // Name the SELECT's items here, where its ORDER BY is seen too: an
        // ORDER BY of an item's expression (`ORDER BY sum(qty)`) then reads
        // the item by the name it was given.
        let SetExpr::Select(select) = query.body.as_mut() else { return ControlFlow::Continue(()) };
        let given = name_items(select);
        if let Some(OrderBy { kind: OrderByKind::Expressions(keys), .. }) = query.order_by.as_mut() {
            for key in keys {
                if let Some((_, name)) = given.iter().find(|(expr, _)| *expr == key.expr) {
                    key.expr = Expr::Identifier(Ident::with_quote('"', name.as_str()));
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        // Before the functions inside are renamed: names are QuestDB's
        // (for a query's own SELECT, already given with its ORDER BY).
        name_items(select);
        // A generator's column is grouped by as any column is (QuestDB's
        // `SELECT rnd_int(1, 3, 0) v, count() FROM long_sequence(100)`).
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
                let found = sqlparser::ast::visit_expressions_mut(e, |e| match self.generator(e) {
                    Ok(_) => ControlFlow::Continue(()),
                    Err(error) => ControlFlow::Break(error),
                });
                if let ControlFlow::Break(error) = found {
                    return self.fail(error);
                }
            }
        }
        imply_group_by(select);
        if let Some(join) = unanswered_join(select) {
            return self.fail(invalid(format!("{join} JOIN is read here as a query's one join (`FROM a {join} JOIN b ...`), not beside other joins")));
        }
        join_on_named_columns(select);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, args: args @ Some(_), alias, .. } = factor else { return ControlFlow::Continue(()) };
        let function = function_name(name);
        let values: Vec<String> = args.as_ref().map_or_else(Vec::new, |a| {
            a.args.iter().map(|arg| arg.to_string()).collect()
        });
        let source = match (function.as_str(), values.as_slice()) {
            ("long_sequence", [n, seeds @ ..]) if matches!(seeds.len(), 0 | 2) => {
                let whole = |v: &String| v.trim().trim_end_matches(['L', 'l']).parse::<i64>().ok();
                let rows = match whole(n) {
                    Some(n) if (0..=MAX_SEQUENCE as i64).contains(&n) => n as u64,
                    _ => return self.fail(invalid(format!("long_sequence takes a count of rows up to {MAX_SEQUENCE}, got {n}"))),
                };
                let seed = match seeds {
                    [a, b] => match (whole(a), whole(b)) {
                        (Some(a), Some(b)) => Some((a as u64).rotate_left(32) ^ b as u64),
                        _ => return self.fail(invalid(format!("long_sequence's seeds are whole numbers, got {a}, {b}"))),
                    },
                    _ => None,
                };
                Source::LongSequence { rows, seed, generated: Vec::new() }
            },
            ("tables", []) => Source::Tables,
            // QuestDB's forms (a period step like '5d', numbers, bounds either
            // way round) over literals; polars-sql answers PostgreSQL's
            // (patch 0050: INTERVAL steps, expressions, `AS g(x)`).
            ("generate_series", _) if !aliases_columns(alias.as_ref()) => {
                let exprs: Vec<&Expr> = args.as_ref().map_or_else(Vec::new, |a| {
                    a.args.iter().filter_map(|arg| if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = arg { Some(e) } else { None }).collect()
                });
                let literals: Vec<Literal> = exprs.into_iter().map(literal).collect();
                if literals.iter().any(|l| matches!(l, Literal::Other(_))) {
                    return ControlFlow::Continue(());
                }
                match crate::generators::Series::read(&literals) {
                    Ok(series) => Source::Series(series),
                    Err(e) => return self.fail(e),
                }
            },
            ("table_columns", [t]) => Source::TableColumns(t.trim().trim_matches('\'').to_string()),
            _ => return ControlFlow::Continue(()),
        };
        let reserved = self.source(source);
        *name = ObjectName::from(vec![Ident::new(reserved)]);
        *args = None;
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match self.generator(expr) {
            Ok(true) => return ControlFlow::Continue(()),
            Ok(false) => {},
            Err(e) => return self.fail(e),
        }
        match translate(expr, self.now) {
            Ok(Some(new)) => *expr = new,
            Ok(None) => {},
            Err(e) => return self.fail(e),
        }
        ControlFlow::Continue(())
    }
}

/// QuestDB's SPLICE and HORIZON joins, which sqlparser reads as an alias of
/// the relation before them (`t SPLICE JOIN q` is t named `SPLICE`, joined
/// to q): they would be answered as another join, silently. The dialect
/// plans them as a query's one join; one left here sits beside others.
fn unanswered_join(select: &Select) -> Option<String> {
    for from in &select.from {
        let relations = std::iter::once(&from.relation).chain(from.joins.iter().map(|j| &j.relation));
        // Each relation but the last has a join after it.
        for relation in relations.take(from.joins.len()) {
            let (TableFactor::Table { alias: Some(alias), .. } | TableFactor::Derived { alias: Some(alias), .. }) = relation else {
                continue;
            };
            let name = &alias.name;
            if !alias.explicit && name.quote_style.is_none() && ["SPLICE", "HORIZON"].iter().any(|j| name.value.eq_ignore_ascii_case(j)) {
                return Some(name.value.to_ascii_uppercase());
            }
        }
    }
    None
}

/// QuestDB's `JOIN q ON (sym)` and `ON (sym, venue)`: the columns of those
/// names equal on both sides, which SQL writes `USING (sym, venue)`
/// (polars-sql read `(sym)` as a condition: "filter predicate must be of
/// type `Boolean`").
fn join_on_named_columns(select: &mut Select) {
    for join in select.from.iter_mut().flat_map(|t| t.joins.iter_mut()) {
        let (JoinOperator::Join(constraint)
        | JoinOperator::Inner(constraint)
        | JoinOperator::Left(constraint)
        | JoinOperator::LeftOuter(constraint)
        | JoinOperator::Right(constraint)
        | JoinOperator::RightOuter(constraint)
        | JoinOperator::FullOuter(constraint)) = &mut join.join_operator
        else {
            continue;
        };
        let JoinConstraint::On(on) = constraint else { continue };
        let names: Option<Vec<Ident>> = match on {
            Expr::Nested(inner) => match inner.as_ref() {
                Expr::Identifier(name) => Some(vec![name.clone()]),
                _ => None,
            },
            Expr::Tuple(items) => items.iter().map(|e| if let Expr::Identifier(name) = e { Some(name.clone()) } else { None }).collect(),
            _ => None,
        };
        if let Some(names) = names {
            *constraint = JoinConstraint::Using(names.into_iter().map(|name| ObjectName::from(vec![name])).collect());
        }
    }
}

/// Whether a relation's alias names its columns (`AS g(x)`).
fn aliases_columns(alias: Option<&sqlparser::ast::TableAlias>) -> bool {
    alias.is_some_and(|a| !a.columns.is_empty())
}

/// A generator's argument as [`crate::generators::spec`] reads it.
fn literal(expr: &Expr) -> Literal {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Literal::Number(n.clone()),
            Value::SingleQuotedString(s) => Literal::Text(s.clone()),
            _ => Literal::Other(expr.to_string()),
        },
        Expr::UnaryOp { op: sqlparser::ast::UnaryOperator::Minus, expr: inner } => match literal(inner) {
            Literal::Number(n) => Literal::Number(format!("-{n}")),
            _ => Literal::Other(expr.to_string()),
        },
        // QuestDB's own examples start a sequence at `to_timestamp('2019-10-17T00:00:00',
        // 'yyyy-MM-ddTHH:mm:ss')`: the instant, in microseconds.
        Expr::Function(f) if function_name(&f.name) == "to_timestamp" => {
            let args: Vec<Literal> = function_args(&f.args).into_iter().map(literal).collect();
            let at = match args.as_slice() {
                [Literal::Text(text), Literal::Text(format)] => chrono_format(format)
                    .ok()
                    .and_then(|format| chrono::NaiveDateTime::parse_from_str(text, &format).ok())
                    .or_else(|| interval(text).ok().flatten().map(|(at, _)| at)),
                [Literal::Text(text)] => interval(text).ok().flatten().map(|(at, _)| at),
                _ => None,
            };
            match at {
                Some(at) => Literal::Number(at.and_utc().timestamp_micros().to_string()),
                None => Literal::Other(expr.to_string()),
            }
        },
        _ => Literal::Other(expr.to_string()),
    }
}

fn parse_expr(text: &str) -> Result<Expr, CoreError> {
    Parser::new(&GenericDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| CoreError::Internal(format!("a QuestDB function rewrote to SQL that does not parse ({text}): {e}")))
}

fn is_column(expr: &Expr) -> bool {
    matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
}

fn as_text(expr: &Expr) -> Expr {
    if is_column(expr) {
        parse_expr(&format!("CAST({expr} AS VARCHAR)")).unwrap_or_else(|_| expr.clone())
    } else {
        expr.clone()
    }
}

fn string_literal(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s.as_str()),
            _ => None,
        },
        _ => None,
    }
}

/// A timestamp in text compared with `other`: polars-sql reads text as a
/// timestamp beside a column, without a `Z` (the UTC the tables' naive
/// timestamps are in); beside any other expression (`dateadd(...)`,
/// `now()`) it must be parsed here.
fn timestamp_text(expr: &mut Expr, other: &Expr) {
    static ISO: OnceLock<Regex> = OnceLock::new();
    let iso = regex(&ISO, r"^(\d{4}-\d{2}-\d{2})(?:([T ])(\d{2})(:\d{2})?(:\d{2})?(\.\d{1,9})?)?(Z)?$");
    let Expr::Value(v) = &mut *expr else { return };
    let Value::SingleQuotedString(s) = &mut v.value else { return };
    // An offset from UTC (`+01:00`, `-0530`, `+02`) names an instant: it is
    // that instant's UTC time, as a `Z` would write it.
    if let Some(utc) = utc_of_offset_text(s) {
        *s = utc;
    }
    let text = s.clone();
    let Some(caps) = iso.captures(&text) else { return };
    if caps.get(7).is_some() {
        s.pop();
    }
    if is_column(other) || matches!(other, Expr::Value(_)) {
        return;
    }
    let mut format = "%Y-%m-%d".to_string();
    if let Some(sep) = caps.get(2) {
        format.push_str(sep.as_str());
        format.push_str("%H");
        for (i, piece) in [(4, ":%M"), (5, ":%S"), (6, "%.f")] {
            if caps.get(i).is_some() {
                format.push_str(piece);
            }
        }
    }
    if caps.get(2).is_some() && caps.get(4).is_none() {
        // chrono needs minutes to read a time.
        s.push_str(":00");
        format.push_str(":%M");
    }
    if let Ok(parsed) = parse_expr(&format!("strptime('{s}', '{format}')")) {
        *expr = parsed;
    }
}

/// `2024-01-01T10:00:00+01:00` (or `+0100`, `+01`, a space for the `T`)
/// as `2024-01-01T09:00:00Z`; `None` for text without an offset.
pub(crate) fn utc_of_offset_text(text: &str) -> Option<String> {
    static OFFSET: OnceLock<Regex> = OnceLock::new();
    let offset = regex(&OFFSET, r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)([+-]\d{2})(?::?(\d{2}))?$");
    let caps = offset.captures(text)?;
    let time = if caps[2].len() == 5 { format!("{}:00", &caps[2]) } else { caps[2].to_string() };
    let minutes = caps.get(4).map_or("00", |m| m.as_str());
    let rfc3339 = format!("{}T{}{}:{}", &caps[1], time, &caps[3], minutes);
    let instant = chrono::DateTime::parse_from_rfc3339(&rfc3339).ok()?;
    Some(format!("{}Z", instant.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f")))
}

/// QuestDB's type names polars-sql does not know, as polars-sql's.
fn sql_type(questdb: &str) -> Option<&'static str> {
    Some(match questdb.to_ascii_uppercase().as_str() {
        "LONG" => "BIGINT",
        "SHORT" => "SMALLINT",
        "BYTE" => "TINYINT",
        "FLOAT" => "REAL",
        "STRING" | "SYMBOL" => "VARCHAR",
        _ => return None,
    })
}

/// One QuestDB expression in polars-sql's terms, if it differs.
fn translate(expr: &mut Expr, now: NaiveDateTime) -> Result<Option<Expr>, CoreError> {
    use sqlparser::ast::BinaryOperator as Op;
    match expr {
        Expr::Like { expr: e, .. } | Expr::ILike { expr: e, .. } | Expr::SimilarTo { expr: e, .. } | Expr::RLike { expr: e, .. } => {
            **e = as_text(e);
            Ok(None)
        },
        Expr::BinaryOp { left, op, right } => {
            match op {
                Op::PGRegexMatch | Op::PGRegexIMatch | Op::PGRegexNotMatch | Op::PGRegexNotIMatch => **left = as_text(left),
                Op::Gt | Op::Lt | Op::GtEq | Op::LtEq | Op::Eq | Op::NotEq => {
                    let (l, r) = (left.as_ref().clone(), right.as_ref().clone());
                    timestamp_text(left, &r);
                    timestamp_text(right, &l);
                },
                _ => {},
            }
            Ok(None)
        },
        Expr::Between { expr: e, low, high, .. } => {
            timestamp_text(low, e);
            timestamp_text(high, e);
            Ok(None)
        },
        Expr::InList { expr: e, list, .. } => {
            list.iter_mut().for_each(|item| timestamp_text(item, e));
            Ok(None)
        },
        Expr::Cast { expr: e, data_type, .. } => match sql_type(&data_type.to_string()) {
            Some(known) => parse_expr(&format!("CAST({e} AS {known})")).map(Some),
            None => Ok(None),
        },
        Expr::Function(f) if f.over.is_none() => translate_function(f, now),
        _ => Ok(None),
    }
}

fn translate_function(f: &mut sqlparser::ast::Function, now: NaiveDateTime) -> Result<Option<Expr>, CoreError> {
    let name = function_name(&f.name);
    let args: Vec<Expr> = function_args(&f.args).into_iter().cloned().collect();
    let unit_arg = |i: usize| -> Result<String, CoreError> {
        args.get(i)
            .and_then(string_literal)
            .map(str::to_string)
            .ok_or_else(|| invalid(format!("{name}: argument {} is a unit in quotes, like 'd' or 'h'", i + 1)))
    };
    let text = match (name.as_str(), args.as_slice()) {
        ("count_distinct", [x]) => format!("count(DISTINCT {x})"),
        ("log", [x]) => format!("ln({x})"),
        ("ksum" | "nsum", [x]) => format!("sum({x})"),
        // Exact answers where QuestDB estimates.
        ("approx_median", [x]) => format!("median({x})"),
        ("approx_percentile", [x, p] | [x, p, _]) => format!("quantile_cont({x}, {p})"),
        ("approx_count_distinct", [x]) => format!("count(DISTINCT {x})"),
        ("geomean", [x]) => format!("exp(avg(ln({x})))"),
        ("first_not_null", [x]) => format!("first({x}) FILTER (WHERE {x} IS NOT NULL)"),
        ("last_not_null", [x]) => format!("last({x}) FILTER (WHERE {x} IS NOT NULL)"),
        // QuestDB's market-data functions (twap and vwap are polars-sql's, patch 0099).
        ("mid", [bid, ask]) => format!("((CAST({bid} AS DOUBLE) + CAST({ask} AS DOUBLE)) / 2)"),
        ("spread", [bid, ask]) => format!("(CAST({ask} AS DOUBLE) - CAST({bid} AS DOUBLE))"),
        ("spread_bps", [bid, ask]) => {
            format!("((CAST({ask} AS DOUBLE) - CAST({bid} AS DOUBLE)) / ((CAST({bid} AS DOUBLE) + CAST({ask} AS DOUBLE)) / 2) * 10000)")
        },
        ("wmid", [bid_size, bid, ask, ask_size]) => {
            let imbalance = format!("(CAST({bid_size} AS DOUBLE) / (CAST({bid_size} AS DOUBLE) + CAST({ask_size} AS DOUBLE)))");
            format!("(CAST({ask} AS DOUBLE) * {imbalance} + CAST({bid} AS DOUBLE) * (1 - {imbalance}))")
        },
        ("l2price", [target, levels @ ..]) => level2_price(target, levels)?,
        ("mid" | "spread" | "spread_bps" | "wmid" | "l2price", _) => {
            let takes = match name.as_str() {
                "wmid" => "four arguments (bidSize, bidPrice, askPrice, askSize)",
                "l2price" => "a target size and size/price pairs of numbers",
                _ => "two arguments (bid, ask)",
            };
            return Err(invalid(format!("{name} takes {takes}; got {} arguments", args.len())));
        },
        ("now" | "systimestamp" | "sysdate", []) => timestamp_literal(now),
        ("dateadd", [_, n, ts]) => {
            let unit = interval_unit(&unit_arg(0)?, &name)?;
            let count: i64 = n.to_string().replace(' ', "").parse().map_err(|_| {
                CoreError::Unimplemented(format!("dateadd: the count must be a whole number here, got {n}"))
            })?;
            let sign = if count < 0 { '-' } else { '+' };
            format!("({} {sign} INTERVAL '{} {unit}')", timestamp_value(ts), count.unsigned_abs())
        },
        ("datediff", [_, a, b]) => {
            let seconds = match unit_arg(0)?.as_str() {
                "T" => 0.001,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                "d" => 86400.0,
                "w" => 604800.0,
                other => {
                    return Err(CoreError::Unimplemented(format!(
                        "datediff in '{other}' is not supported; use 'T', 's', 'm', 'h', 'd' or 'w'"
                    )))
                },
            };
            let (a, b) = (timestamp_value(a), timestamp_value(b));
            format!("CAST(trunc(abs(EXTRACT(EPOCH FROM {a}) - EXTRACT(EPOCH FROM {b})) / {seconds}) AS BIGINT)")
        },
        ("timestamp_floor", [_, ts]) | ("timestamp_floor", [_, ts, _]) => {
            timestamp_floor(&unit_arg(0)?, &timestamp_value(ts), args.get(2))?
        },
        ("timestamp_ceil", [_, ts]) => {
            let unit = unit_arg(0)?;
            let ts = timestamp_value(ts);
            let floor = timestamp_floor(&unit, &ts, None)?;
            let (count, word) = floor_step(&unit)?;
            format!("(CASE WHEN {floor} = {ts} THEN {ts} ELSE {floor} + INTERVAL '{count} {word}' END)")
        },
        // A UTC timestamp as wall-clock time in the zone, and back.
        ("to_timezone", [ts, _]) => format!("(({}) AT TIME ZONE 'UTC') AT TIME ZONE '{}'", timestamp_value(ts), zone_name(&unit_arg(1)?)?),
        ("to_utc", [ts, _]) => format!("(({}) AT TIME ZONE '{}') AT TIME ZONE 'UTC'", timestamp_value(ts), zone_name(&unit_arg(1)?)?),
        ("to_str", [ts, _]) => format!("strftime({}, '{}')", timestamp_value(ts), chrono_format(&unit_arg(1)?)?),
        ("to_timestamp", [s]) => format!("CAST({s} AS TIMESTAMP)"),
        ("to_timestamp", [s, _]) => format!("strptime({s}, '{}')", chrono_format(&unit_arg(1)?)?),
        ("year" | "month" | "day" | "hour" | "minute" | "second" | "day_of_week" | "week_of_year" | "day_of_year", [ts]) => {
            let field = match name.as_str() {
                "day_of_week" => "isodow",
                "week_of_year" => "week",
                "day_of_year" => "doy",
                other => other,
            };
            format!("CAST(EXTRACT({field} FROM {}) AS INTEGER)", timestamp_value(ts))
        },
        (n, [first, ..]) if STRING_FUNCTIONS.contains(&n) && is_column(first) => {
            if let FunctionArguments::List(list) = &mut f.args {
                if let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(e))) = list.args.first_mut() {
                    *e = as_text(e);
                }
            }
            return Ok(None);
        },
        _ => return Ok(None),
    };
    parse_expr(&text).map(Some)
}

/// QuestDB's `l2price(target, size1, price1, ..., sizeN, priceN)`: the
/// average price of a market order of `target` filled against the book's
/// levels in order: each level gives what is still wanted, up to its size.
/// NULL if the levels hold less than `target`, if `target` is not positive,
/// or if any argument is NULL (QuestDB's "incomplete data").
fn level2_price(target: &Expr, levels: &[Expr]) -> Result<String, CoreError> {
    if levels.is_empty() || levels.len() % 2 != 0 {
        let arrays = levels.len() == 2 && levels.iter().all(|l| matches!(l, Expr::Array(_)));
        return Err(if arrays {
            CoreError::Unimplemented("l2price over arrays is not supported (tables have no array columns); pass size/price pairs".into())
        } else {
            invalid(format!("l2price takes a target size and size/price pairs; got {} arguments", levels.len() + 1))
        });
    }
    let double = |e: &Expr| format!("CAST({e} AS DOUBLE)");
    let target = double(target);
    let mut any_null = vec![format!("{target} IS NULL")];
    let mut before = Vec::new();
    let mut cost = Vec::new();
    for pair in levels.chunks(2) {
        let (size, price) = (double(&pair[0]), double(&pair[1]));
        any_null.push(format!("{size} IS NULL OR {price} IS NULL"));
        // What the order still wants when it reaches this level.
        let wanted = if before.is_empty() { target.clone() } else { format!("({target} - ({}))", before.join(" + ")) };
        cost.push(format!("LEAST({size}, GREATEST({wanted}, 0)) * {price}"));
        before.push(size);
    }
    Ok(format!(
        "(CASE WHEN {} THEN NULL WHEN {target} <= 0 OR {} < {target} THEN NULL ELSE ({}) / {target} END)",
        any_null.join(" OR "),
        before.join(" + "),
        cost.join(" + ")
    ))
}

/// A time zone polars knows: an IANA name or a UTC offset.
fn zone_name(name: &str) -> Result<&str, CoreError> {
    match polars::prelude::TimeZone::opt_try_new(Some(name)) {
        Ok(Some(_)) => Ok(name),
        _ => Err(invalid(format!(
            "'{name}' is not a time zone here: give an IANA name such as 'America/Los_Angeles' or an offset such as '-08:00' (abbreviations such as PST are not read)"
        ))),
    }
}

/// A timestamp argument: a column or expression as it is, QuestDB's text
/// (`'2024-01-01T10:00:00Z'`) or Unix microseconds as a timestamp.
fn timestamp_value(expr: &Expr) -> String {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(text) => format!("CAST('{}' AS TIMESTAMP)", text.trim_end_matches('Z').replace('\'', "''")),
            Value::Number(n, _) => format!("make_timestamp({n})"),
            _ => expr.to_string(),
        },
        _ => expr.to_string(),
    }
}

/// `timestamp_floor`'s and `timestamp_ceil`'s unit (`'15m'`, `'d'`): its
/// count and the unit as an INTERVAL names it.
fn floor_step(unit: &str) -> Result<(u32, &'static str), CoreError> {
    let digits = unit.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let letter = &unit[digits.len()..];
    let count = if digits.is_empty() { Some(1) } else { digits.parse::<u32>().ok().filter(|n| *n > 0) };
    // QuestDB's floors have no weeks.
    let word = interval_unit(letter, "timestamp_floor").ok().filter(|w| *w != "weeks").unwrap_or("");
    match count {
        Some(count) if !word.is_empty() => Ok((count, word)),
        _ => Err(invalid(format!(
            "'{unit}' is not a unit of timestamp_floor or timestamp_ceil: a count and one of U, T, s, m, h, d, M, y, like '15m'"
        ))),
    }
}

/// QuestDB's `timestamp_floor(unit, ts[, offset])`: the start of `ts`'s
/// bucket of `unit`, buckets counted from the Unix epoch (or `offset`, a
/// timestamp in QuestDB's text); a month or a year is its calendar one.
fn timestamp_floor(unit: &str, ts: &str, offset: Option<&Expr>) -> Result<String, CoreError> {
    let (count, word) = floor_step(unit)?;
    if matches!(word, "months" | "years") {
        if count != 1 || offset.is_some() {
            return Err(CoreError::Unimplemented(format!(
                "timestamp_floor('{unit}', ...) with a count or an offset of months or years is not supported; use 'M' or 'y', or SAMPLE BY"
            )));
        }
        return Ok(format!("date_trunc('{}', {ts})", word.trim_end_matches('s')));
    }
    let origin = match offset {
        None => chrono::DateTime::UNIX_EPOCH.naive_utc(),
        Some(expr) => string_literal(expr)
            .and_then(|text| interval(text).ok().flatten())
            .map(|(start, _)| start)
            .ok_or_else(|| invalid(format!("timestamp_floor's offset is a timestamp in quotes, like '2018-01-01'; got {expr}")))?,
    };
    Ok(format!("time_bucket(INTERVAL '{count} {word}', {ts}, TIMESTAMP '{}')", origin.format("%Y-%m-%d %H:%M:%S%.6f")))
}

fn timestamp_literal(at: NaiveDateTime) -> String {
    format!("strptime('{}', '%Y-%m-%d %H:%M:%S%.6f')", at.format("%Y-%m-%d %H:%M:%S%.6f"))
}

/// A QuestDB unit letter as a word polars-sql's INTERVAL reads.
fn interval_unit(unit: &str, function: &str) -> Result<&'static str, CoreError> {
    Ok(match unit {
        "y" => "years",
        "M" => "months",
        "w" => "weeks",
        "d" => "days",
        "h" => "hours",
        "m" => "minutes",
        "s" => "seconds",
        "T" => "milliseconds",
        "u" | "U" => "microseconds",
        other => return Err(invalid(format!("{function}: unknown unit '{other}'; use y, M, w, d, h, m, s, T or u"))),
    })
}

/// QuestDB's date format (`yyyy-MM-ddTHH:mm:ss.SSSUUU`) as chrono's.
pub fn chrono_format(questdb: &str) -> Result<String, CoreError> {
    let chars: Vec<char> = questdb.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        let piece = match (c, run) {
            ('y', 4) => "%Y",
            ('y', 2) => "%y",
            ('M', 4) => "%B",
            ('M', 3) => "%b",
            ('M', 2) => "%m",
            ('M', 1) => "%-m",
            ('d', 2) => "%d",
            ('d', 1) => "%-d",
            ('H', 2) => "%H",
            ('H', 1) => "%-H",
            ('h', 2) => "%I",
            ('h', 1) => "%-I",
            ('m', 2) => "%M",
            ('s', 2) => "%S",
            ('a', 1) => "%p",
            ('E', 4) => "%A",
            ('E', 1..=3) => "%a",
            ('z', _) => "%Z",
            ('Z', _) => "%z",
            // Fractions: milliseconds, then micro- and nanoseconds of them.
            ('S', 3) if chars.get(i + 3) == Some(&'U') => {
                let micros = chars[i + 3..].iter().take_while(|&&u| u == 'U').count();
                let nanos = chars[i + 3 + micros..].iter().take_while(|&&n| n == 'N').count();
                if micros != 3 || !(nanos == 0 || nanos == 3) {
                    return Err(invalid(format!("date format {questdb}: expected SSSUUU or SSSUUUNNN")));
                }
                out.push_str(if nanos == 3 { "%9f" } else { "%6f" });
                i += 6 + nanos;
                continue;
            },
            ('S', 3) => "%3f",
            (c, _) if c.is_ascii_alphabetic() && c != 'T' => {
                return Err(invalid(format!("date format {questdb}: the letter {c} ({run} of it) is not a QuestDB format unit")))
            },
            ('%', _) => {
                out.push_str(&"%%".repeat(run));
                i += run;
                continue;
            },
            _ => {
                out.extend(std::iter::repeat_n(c, run));
                i += run;
                continue;
            },
        };
        out.push_str(piece);
        i += run;
    }
    Ok(out)
}

/// `col [NOT] IN '<interval>'` as a range: QuestDB's interval literals
/// are a date or time prefix (`2024`, `2024-01`, `2024-01-01T10`, ...)
/// standing for every instant it covers, optionally `;<n><unit>` longer.
fn expand_interval_literals(sql: &str, now: NaiveDateTime) -> Result<String, CoreError> {
    static IN: OnceLock<Regex> = OnceLock::new();
    let pattern = regex(&IN, r#"(?i)([\w."]+)\s+(NOT\s+)?IN\s+'([^']*)'"#);
    replace_unquoted(sql, pattern, |caps| {
        let column = &caps[1];
        // QuestDB's `sym IN 'A'`: a one-value list (sqlparser reads no list without parentheses).
        let Some(intervals) = tick_intervals(&caps[3], now)? else {
            return Ok(Some(format!("{column} {}IN ('{}')", caps.get(2).map_or("", |_| "NOT "), &caps[3])));
        };
        let fmt = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
        Ok(Some(match (intervals.as_slice(), caps.get(2).is_some()) {
            ([(lo, hi)], true) => format!("({column} < '{}' OR {column} >= '{}')", fmt(*lo), fmt(*hi)),
            ([(lo, hi)], false) => format!("({column} >= '{}' AND {column} < '{}')", fmt(*lo), fmt(*hi)),
            (many, negated) => {
                let any = many
                    .iter()
                    .map(|(lo, hi)| format!("({column} >= '{}' AND {column} < '{}')", fmt(*lo), fmt(*hi)))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                if negated { format!("(NOT ({any}))") } else { format!("({any})") }
            },
        }))
    })
}

/// The intervals of QuestDB's TICK text: dates and times (`'2024-01'`,
/// `'2024-01-15T09:30'`) with bracket expansion (`'2024-01-[10..12,15]'`,
/// `'T[09:00,14:30]'`), a time zone (`@America/New_York`, `@+02:00`: the
/// wall-clock time there) and a day filter (`#workday`, `#weekend`,
/// `#Mon,Fri`); date variables (`$today`, `$yesterday`, `$tomorrow`: that
/// day; `$now`: the instant) moved by `+ 5d`, `- 2h`, `- 3bd` (business
/// days); ranges of two of those (`'$now - 1h..$now'`); lists of any of
/// them in brackets (`'[$today, 2024-01-15]T09:30'`); and `;6h30m` at the
/// end, which extends each one's end. `None` for text that is none of
/// these (a string compared as a string); ISO weeks are refused by name.
fn tick_intervals(text: &str, now: NaiveDateTime) -> Result<Option<Vec<(NaiveDateTime, NaiveDateTime)>>, CoreError> {
    let text = text.trim();
    if !text.starts_with(|c: char| c.is_ascii_digit() || c == '$' || c == '[') {
        return Ok(None);
    }
    // A plain prefix with one `;n<unit>` (or none) is read as ever.
    static ONE_UNIT: OnceLock<Regex> = OnceLock::new();
    let plain_duration = match text.split_once(';') {
        None => true,
        Some((_, duration)) => regex(&ONE_UNIT, r"^-?\d+[a-zA-Z]$").is_match(duration.trim()),
    };
    if plain_duration && !text.contains(['$', '[', '@', '#']) && !text.contains("..") {
        if let Some(one) = interval(text)? {
            return Ok(Some(vec![one]));
        }
    }
    let (body, duration) = match top_level(text, ';').last() {
        Some(&at) => (text[..at].trim(), Some(text[at + 1..].trim())),
        None => (text, None),
    };
    if !top_level(body, ';').is_empty() {
        return Err(CoreError::Unimplemented(format!("the interval '{text}' repeats (;period;count), which is not supported here")));
    }
    // A list of dates, and what follows it (a time, zone or filter for each).
    // (A date starts with its year: a bracket first is a list.)
    let elements: Vec<String> = match body.strip_prefix('[').and_then(|_| matching_bracket(body, 0)) {
        Some(close) => {
            let suffix = &body[close + 1..];
            let inner = &body[1..close];
            let mut cuts = vec![0];
            cuts.extend(top_level(inner, ',').into_iter().map(|c| c + 1));
            let ends = top_level(inner, ',').into_iter().chain([inner.len()]);
            cuts.into_iter().zip(ends).map(|(a, b)| format!("{}{suffix}", inner[a..b].trim())).collect()
        },
        _ => vec![body.to_string()],
    };
    let mut intervals = Vec::new();
    for element in &elements {
        // A range's `..` is outside brackets (inside, it ranges numbers).
        let range = top_level(element, '.').into_iter().find(|at| element[*at..].starts_with(".."));
        let mut pieces = match range {
            Some(at) => {
                let (from, to) = (tick_element(&element[..at], now, text)?, tick_element(&element[at + 2..], now, text)?);
                let (lo, hi) = (from.iter().map(|p| p.0).min(), to.iter().map(|p| p.1).max());
                lo.zip(hi).into_iter().collect()
            },
            None => tick_element(element, now, text)?,
        };
        for (_, hi) in &mut pieces {
            if let Some(duration) = duration {
                *hi = extend_by(*hi, duration)
                    .ok_or_else(|| invalid(format!("the interval '{text}': '{duration}' is not a duration like 1h or 6h30m")))?;
            }
        }
        intervals.extend(pieces);
    }
    if intervals.iter().any(|(lo, hi)| hi <= lo) {
        return Err(invalid(format!("the interval '{text}' is empty")));
    }
    Ok(Some(intervals))
}

/// Positions of `c` in `text` outside brackets.
fn top_level(text: &str, c: char) -> Vec<usize> {
    let mut depth = 0i32;
    let mut at = Vec::new();
    for (i, ch) in text.char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if ch == c && depth == 0 => at.push(i),
            _ => {},
        }
    }
    at
}

/// The `]` closing the `[` at `open`.
fn matching_bracket(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, ch) in text[open..].char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            },
            _ => {},
        }
    }
    None
}

/// `text` with its first bracket group replaced by each of its values
/// (`a,b`, ranges `a..b` keeping `a`'s width), recursively: every
/// combination.
fn expand_brackets(text: &str) -> Result<Vec<String>, CoreError> {
    let Some(open) = text.find('[') else { return Ok(vec![text.to_string()]) };
    let close = matching_bracket(text, open).ok_or_else(|| invalid(format!("'{text}': a [ without its ]")))?;
    let (head, inner, tail) = (&text[..open], &text[open + 1..close], &text[close + 1..]);
    let mut out = Vec::new();
    for item in inner.split(',').map(str::trim) {
        let values: Vec<String> = match item.split_once("..") {
            Some((a, b)) => {
                let (from, to) = (a.trim().parse::<u32>(), b.trim().parse::<u32>());
                let (Ok(from), Ok(to)) = (from, to) else {
                    return Err(invalid(format!("'{text}': {item} is not a range of numbers")));
                };
                if to < from || to - from > 10_000 {
                    return Err(invalid(format!("'{text}': {item} is not a range from a smaller number")));
                }
                (from..=to).map(|v| format!("{v:0width$}", width = a.trim().len())).collect()
            },
            None => vec![item.to_string()],
        };
        for value in values {
            for rest in expand_brackets(tail)? {
                out.push(format!("{head}{value}{rest}"));
            }
        }
    }
    Ok(out)
}

/// The weekdays a TICK day filter keeps (0 Monday ... 6 Sunday).
fn day_filter(filter: &str) -> Result<Vec<u32>, CoreError> {
    let mut days = Vec::new();
    for name in filter.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        match name.as_str() {
            "workday" | "wd" => days.extend(0..5),
            "weekend" => days.extend(5..7),
            _ => {
                const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
                let day = DAYS
                    .iter()
                    .position(|d| name == *d || (name.len() == 3 && d.starts_with(name.as_str())))
                    .ok_or_else(|| invalid(format!("#{filter}: '{name}' is not a day (Mon ... Sun, workday, weekend)")))?;
                days.push(day as u32);
            },
        }
    }
    Ok(days)
}

/// A wall-clock time in `zone` (an IANA name or an offset) as UTC; a time
/// a change of clocks skips is read an hour later, one it repeats the
/// earlier.
fn zoned_to_utc(local: NaiveDateTime, zone: &str) -> Result<NaiveDateTime, CoreError> {
    use chrono::{Offset, TimeZone};
    static OFFSET: OnceLock<Regex> = OnceLock::new();
    if matches!(zone.to_ascii_uppercase().as_str(), "UTC" | "GMT" | "Z") {
        return Ok(local);
    }
    if let Some(caps) = regex(&OFFSET, r"^([+-])(\d{2}):?(\d{2})?$").captures(zone) {
        let minutes = caps[2].parse::<i64>().unwrap_or(0) * 60 + caps.get(3).map_or(0, |m| m.as_str().parse().unwrap_or(0));
        let sign = if &caps[1] == "-" { -1 } else { 1 };
        return Ok(local - Duration::minutes(sign * minutes));
    }
    let tz: chrono_tz::Tz = zone.parse().map_err(|_| invalid(format!("@{zone}: not a time zone; give an IANA name such as America/New_York or an offset such as +02:00")))?;
    let resolved = tz.from_local_datetime(&local).earliest().or_else(|| tz.from_local_datetime(&(local + Duration::hours(1))).earliest());
    resolved
        .map(|at| local - Duration::seconds(i64::from(at.offset().fix().local_minus_utc())))
        .ok_or_else(|| invalid(format!("@{zone}: {local} does not exist there")))
}

/// One element of a TICK list or range: a date variable moved by its
/// arithmetic, or dates and times (bracket expansion, `@zone`, `#days`).
fn tick_element(element: &str, now: NaiveDateTime, text: &str) -> Result<Vec<(NaiveDateTime, NaiveDateTime)>, CoreError> {
    static VARIABLE: OnceLock<Regex> = OnceLock::new();
    static STEP: OnceLock<Regex> = OnceLock::new();
    static ISO_WEEK: OnceLock<Regex> = OnceLock::new();
    let element = element.trim();
    let bad = || invalid(format!("the interval '{text}': '{element}' is not a date, a time or $today/$yesterday/$tomorrow/$now ± n<unit>"));
    if !element.starts_with('$') {
        if regex(&ISO_WEEK, r"^\d{4}-W").is_match(element) {
            return Err(CoreError::Unimplemented(format!("the interval '{text}' names ISO weeks, which are not supported here")));
        }
        let (dates, days) = match top_level(element, '#').first() {
            Some(&at) => (&element[..at], Some(day_filter(&element[at + 1..])?)),
            None => (element, None),
        };
        let (dates, zone) = match top_level(dates, '@').first() {
            Some(&at) => (&dates[..at], Some(dates[at + 1..].trim())),
            None => (dates, None),
        };
        if dates.contains('@') {
            return Err(CoreError::Unimplemented(format!("the interval '{text}' gives a time zone per bracketed time, which is not supported here; give one after them")));
        }
        let mut out = Vec::new();
        for one in expand_brackets(dates)? {
            let (lo, hi) = interval(&one)?.ok_or_else(bad)?;
            if days.as_ref().is_some_and(|days| !days.contains(&chrono::Datelike::weekday(&lo).num_days_from_monday())) {
                continue;
            }
            out.push(match zone {
                Some(zone) => (zoned_to_utc(lo, zone)?, zoned_to_utc(hi, zone)?),
                None => (lo, hi),
            });
        }
        return Ok(out);
    }
    let variable = regex(&VARIABLE, r"^\$(?i:(today|yesterday|tomorrow|now))((?:\s*[+-]\s*\d+\s*(?:bd|[yMwdDhmsTun]))*)$");
    let caps = variable.captures(element).ok_or_else(bad)?;
    let today = now.date().and_time(NaiveTime::MIN);
    let (mut at, whole_day) = match caps[1].to_ascii_lowercase().as_str() {
        "today" => (today, true),
        "yesterday" => (today - Duration::days(1), true),
        "tomorrow" => (today + Duration::days(1), true),
        _ => (now, false),
    };
    let step = regex(&STEP, r"([+-])\s*(\d+)\s*(bd|[yMwdDhmsTun])");
    for m in step.captures_iter(&caps[2]) {
        let n: i64 = m[2].parse().map_err(|_| bad())?;
        let n = if &m[1] == "-" { -n } else { n };
        at = shifted(at, n, &m[3]).ok_or_else(bad)?;
    }
    // A day's variable is that whole day; $now the one microsecond.
    Ok(vec![(at, if whole_day { at + Duration::days(1) } else { at + Duration::microseconds(1) })])
}

/// `at` moved by `n` of QuestDB's unit: y M w d (D) h m s T (ms) u (U,
/// microseconds) n (nanoseconds), or bd, business days.
fn shifted(at: NaiveDateTime, n: i64, unit: &str) -> Option<NaiveDateTime> {
    Some(match unit {
        "bd" => add_business_days(at, n)?,
        "y" => add_months(at, n.checked_mul(12)?)?,
        "M" => add_months(at, n)?,
        "w" => at + Duration::weeks(n),
        "d" | "D" => at + Duration::days(n),
        "h" => at + Duration::hours(n),
        "m" => at + Duration::minutes(n),
        "s" => at + Duration::seconds(n),
        "T" => at + Duration::milliseconds(n),
        "u" | "U" => at + Duration::microseconds(n),
        "n" => at + Duration::nanoseconds(n),
        _ => return None,
    })
}

/// `at` moved by `n` weekdays (Saturdays and Sundays are skipped).
fn add_business_days(mut at: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
    use chrono::Datelike;
    let step = if n < 0 { -1 } else { 1 };
    let mut left = n.unsigned_abs();
    while left > 0 {
        at += Duration::days(step);
        if at.weekday().num_days_from_monday() < 5 {
            left -= 1;
        }
    }
    Some(at)
}

/// `at` extended by a duration of one or more counts of units (`6h30m`).
fn extend_by(mut at: NaiveDateTime, duration: &str) -> Option<NaiveDateTime> {
    static PART: OnceLock<Regex> = OnceLock::new();
    let part = regex(&PART, r"(\d+)([yMwdDhmsTun])");
    let mut read = 0;
    for m in part.captures_iter(duration) {
        read += m[0].len();
        at = shifted(at, m[1].parse().ok()?, &m[2])?;
    }
    (read > 0 && read == duration.len()).then_some(at)
}

/// QuestDB's window frames in standard SQL: a RANGE offset written
/// `'1' MINUTE PRECEDING` (no INTERVAL) becomes `INTERVAL '1' MINUTE
/// PRECEDING`, and `CUMULATIVE` is `ROWS BETWEEN UNBOUNDED PRECEDING AND
/// CURRENT ROW`, as QuestDB defines it.
fn standard_window_frames(sql: &str) -> String {
    static OFFSET: OnceLock<Regex> = OnceLock::new();
    static CUMULATIVE: OnceLock<Regex> = OnceLock::new();
    let offset = regex(
        &OFFSET,
        r"(?i)(\bINTERVAL\s+)?('?)(\d+)('?)\s+(MICROSECOND|MILLISECOND|SECOND|MINUTE|HOUR|DAY|WEEK)S?\s+(PRECEDING|FOLLOWING)\b",
    );
    let cumulative = regex(&CUMULATIVE, r"(?i)\bCUMULATIVE\s*\)");
    let infallible = "these replacements never fail";
    let sql = replace_unquoted(sql, offset, |caps| {
        // Standard already, or a quote that is not the number's own.
        if caps.get(1).is_some() || caps[2] != caps[4] {
            return Ok(None);
        }
        // The unit singular: SQL's interval fields are.
        Ok(Some(format!("INTERVAL '{}' {} {}", &caps[3], caps[5].to_ascii_uppercase(), &caps[6])))
    })
    .expect(infallible);
    replace_unquoted(&sql, cumulative, |_| Ok(Some("ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)".into())))
        .expect(infallible)
}

/// `sql` with each match of `pattern` outside quoted text replaced by what
/// `replace` makes of it (`None` keeps the match).
fn replace_unquoted(
    sql: &str,
    pattern: &Regex,
    mut replace: impl FnMut(&Captures) -> Result<Option<String>, CoreError>,
) -> Result<String, CoreError> {
    let mut out = String::with_capacity(sql.len());
    let mut last = 0;
    for caps in pattern.captures_iter(sql) {
        let whole = caps.get(0).expect("the match");
        if inside_quotes(&sql[..whole.start()]) {
            continue;
        }
        let Some(replacement) = replace(&caps)? else { continue };
        out.push_str(&sql[last..whole.start()]);
        out.push_str(&replacement);
        last = whole.end();
    }
    out.push_str(&sql[last..]);
    Ok(out)
}

fn inside_quotes(before: &str) -> bool {
    before.chars().filter(|&c| c == '\'').count() % 2 == 1
}

/// The instants `[lo, hi)` an interval literal covers, if it is one.
pub(crate) fn interval(text: &str) -> Result<Option<(NaiveDateTime, NaiveDateTime)>, CoreError> {
    static PREFIX: OnceLock<Regex> = OnceLock::new();
    let pattern = regex(
        &PREFIX,
        r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?)?)?)?Z?(?:;(-?\d+)([a-zA-Z]))?$",
    );
    let Some(caps) = pattern.captures(text.trim()) else {
        if text.contains(';') && text.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            return Err(CoreError::Unimplemented(format!(
                "the interval '{text}' is not supported: only a date or time prefix, optionally ;<n><unit> longer"
            )));
        }
        return Ok(None);
    };
    let num = |i: usize| caps.get(i).map(|m| m.as_str().parse::<u32>().expect("digits"));
    let bad = || invalid(format!("'{text}' is not a valid date or time"));
    let year = num(1).expect("a year") as i32;
    let month = num(2).unwrap_or(1);
    let day = num(3).unwrap_or(1);
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(bad)?;
    let time = NaiveTime::from_hms_opt(num(4).unwrap_or(0), num(5).unwrap_or(0), num(6).unwrap_or(0)).ok_or_else(bad)?;
    let mut lo = date.and_time(time);
    let hi = if let Some(fraction) = caps.get(7) {
        let digits = fraction.as_str();
        let micros: i64 = format!("{digits:0<6}").parse().expect("digits");
        lo += Duration::microseconds(micros);
        lo + Duration::microseconds(10_i64.pow(6 - digits.len() as u32))
    } else if caps.get(6).is_some() {
        lo + Duration::seconds(1)
    } else if caps.get(5).is_some() {
        lo + Duration::minutes(1)
    } else if caps.get(4).is_some() {
        lo + Duration::hours(1)
    } else if caps.get(3).is_some() {
        lo + Duration::days(1)
    } else if caps.get(2).is_some() {
        add_months(lo, 1).ok_or_else(bad)?
    } else {
        add_months(lo, 12).ok_or_else(bad)?
    };
    let hi = match (caps.get(8), caps.get(9)) {
        (Some(n), Some(unit)) => {
            let n: i64 = n.as_str().parse().map_err(|_| bad())?;
            if !matches!(unit.as_str(), "y" | "M" | "w" | "d" | "h" | "m" | "s" | "T" | "u" | "U") {
                return Err(invalid(format!("'{text}': unknown unit '{}'; use y, M, w, d, h, m, s, T or u", unit.as_str())));
            }
            shifted(hi, n, unit.as_str()).ok_or_else(bad)?
        },
        _ => hi,
    };
    if hi <= lo {
        return Err(invalid(format!("the interval '{text}' is empty")));
    }
    Ok(Some((lo, hi)))
}

fn add_months(at: NaiveDateTime, months: i64) -> Option<NaiveDateTime> {
    let step = chrono::Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    let date = if months >= 0 { at.date().checked_add_months(step)? } else { at.date().checked_sub_months(step)? };
    Some(date.and_time(at.time()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 4).unwrap().and_hms_micro_opt(18, 11, 33, 123456).unwrap()
    }

    fn sql(q: &str) -> String {
        rewrite(q, now()).unwrap().sql
    }

    #[test]
    fn aggregates_beside_columns_group_by_them_and_are_named_as_questdb_names_them() {
        assert_eq!(
            sql("SELECT sym, count(), avg(px) FROM t"),
            r#"SELECT sym, count() AS "count", avg(px) AS "avg" FROM t GROUP BY sym"#
        );
        assert_eq!(
            sql("SELECT ts, first(px), last(px), first(qty) FROM t GROUP BY ts"),
            r#"SELECT ts, first(px) AS "first", last(px) AS "last", first(qty) AS "first1" FROM t GROUP BY ts"#
        );
        // ORDER BY an item's expression reads the item by its name.
        assert_eq!(
            sql("SELECT sym, sum(qty) FROM t ORDER BY sum(qty) DESC, sym"),
            r#"SELECT sym, sum(qty) AS "sum" FROM t GROUP BY sym ORDER BY "sum" DESC, sym"#
        );
        // No aggregate, or only aggregates, or a window: nothing implied.
        assert_eq!(sql("SELECT sym, px FROM t"), "SELECT sym, px FROM t");
        assert_eq!(sql("SELECT count(*) AS n FROM t"), "SELECT count(*) AS n FROM t");
        assert_eq!(
            sql("SELECT sym, avg(px) OVER (PARTITION BY sym) FROM t"),
            r#"SELECT sym, avg(px) OVER (PARTITION BY sym) AS "avg" FROM t"#
        );
        // Inside CTEs and subqueries too; an expression of a key is a key.
        assert_eq!(
            sql("WITH m AS (SELECT upper(sym) u, max(px) FROM t) SELECT * FROM m"),
            r#"WITH m AS (SELECT upper(CAST(sym AS VARCHAR)) AS u, max(px) AS "max" FROM t GROUP BY upper(CAST(sym AS VARCHAR))) SELECT * FROM m"#
        );
    }

    #[test]
    fn questdb_functions_become_polars_sql() {
        assert_eq!(sql("SELECT count_distinct(s) FROM t"), r#"SELECT count(DISTINCT s) AS "count_distinct" FROM t"#);
        assert_eq!(sql("SELECT log(x) l FROM t"), "SELECT ln(x) AS l FROM t");
        assert_eq!(sql("SELECT k, geomean(x) FROM t"), r#"SELECT k, exp(avg(ln(x))) AS "geomean" FROM t GROUP BY k"#);
        // Market data: twap and vwap aggregate (an implied GROUP BY), the rest is arithmetic per row.
        assert_eq!(
            sql("SELECT sym, twap(px, ts), vwap(px, qty), regr_slope(px, qty) FROM t"),
            r#"SELECT sym, twap(px, ts) AS "twap", vwap(px, qty) AS "vwap", regr_slope(px, qty) AS "regr_slope" FROM t GROUP BY sym"#
        );
        assert_eq!(sql("SELECT mid(b, a) FROM t"), r#"SELECT ((CAST(b AS DOUBLE) + CAST(a AS DOUBLE)) / 2) AS "mid" FROM t"#);
        assert_eq!(
            sql("SELECT l2price(5, s, p) x FROM t"),
            "SELECT (CASE WHEN CAST(5 AS DOUBLE) IS NULL OR CAST(s AS DOUBLE) IS NULL OR CAST(p AS DOUBLE) IS NULL THEN NULL \
             WHEN CAST(5 AS DOUBLE) <= 0 OR CAST(s AS DOUBLE) < CAST(5 AS DOUBLE) THEN NULL \
             ELSE (LEAST(CAST(s AS DOUBLE), GREATEST(CAST(5 AS DOUBLE), 0)) * CAST(p AS DOUBLE)) / CAST(5 AS DOUBLE) END) AS x FROM t"
        );
        assert!(rewrite("SELECT l2price(5, s) FROM t", now()).unwrap_err().to_string().contains("size/price pairs"));
        // Floors of a count of units are buckets from the epoch; a month is the calendar's.
        assert_eq!(
            sql("SELECT timestamp_floor('15m', ts) f FROM t"),
            "SELECT time_bucket(INTERVAL '15 minutes', ts, TIMESTAMP '1970-01-01 00:00:00.000000') AS f FROM t"
        );
        assert_eq!(sql("SELECT timestamp_floor('M', ts) f FROM t"), "SELECT date_trunc('month', ts) AS f FROM t");
        assert_eq!(
            sql("SELECT to_utc(ts, 'Europe/Berlin') u FROM t"),
            "SELECT ((ts) AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'UTC' AS u FROM t"
        );
        assert_eq!(sql("SELECT now() n"), "SELECT strptime('2026-12-04 18:11:33.123456', '%Y-%m-%d %H:%M:%S%.6f') AS n");
        assert_eq!(sql("SELECT dateadd('d', -2, ts) a FROM t"), "SELECT (ts - INTERVAL '2 days') AS a FROM t");
        assert_eq!(sql("SELECT hour(ts) h FROM t"), "SELECT CAST(EXTRACT(HOUR FROM ts) AS INTEGER) AS h FROM t");
        assert_eq!(sql("SELECT * FROM t WHERE sym LIKE 'A%'"), "SELECT * FROM t WHERE CAST(sym AS VARCHAR) LIKE 'A%'");
        assert_eq!(sql("SELECT * FROM t WHERE ts > '2024-01-01T00:01:00Z'"), "SELECT * FROM t WHERE ts > '2024-01-01T00:01:00'");
        // An offset is an instant: its UTC time (worked by hand).
        assert_eq!(sql("SELECT * FROM t WHERE ts > '2024-01-01T01:01:00+01:00'"), "SELECT * FROM t WHERE ts > '2024-01-01T00:01:00'");
        assert_eq!(sql("SELECT * FROM t WHERE ts >= '2024-01-01 00:30:00.25-0530'"), "SELECT * FROM t WHERE ts >= '2024-01-01T06:00:00.250'");
        assert_eq!(sql("SELECT * FROM t WHERE '2023-12-31T23:00+02' < ts"), "SELECT * FROM t WHERE '2023-12-31T21:00:00' < ts");
        assert_eq!(
            sql("SELECT * FROM t WHERE dateadd('h', 1, ts) < '2024-01-01T10Z'"),
            "SELECT * FROM t WHERE (ts + INTERVAL '1 hours') < strptime('2024-01-01T10:00', '%Y-%m-%dT%H:%M')"
        );
        assert_eq!(sql("SELECT px::long p FROM t"), "SELECT CAST(px AS BIGINT) AS p FROM t");
        let r = rewrite("SELECT x FROM long_sequence(3) s", now()).unwrap();
        assert_eq!(r.sql, "SELECT x FROM __questdb_0 s");
        let sequence = Source::LongSequence { rows: 3, seed: None, generated: Vec::new() };
        assert_eq!(r.sources, vec![("__questdb_0".to_string(), sequence)]);
    }

    #[test]
    fn a_join_on_named_columns_is_a_join_using_them() {
        assert_eq!(sql("SELECT * FROM a JOIN b ON (sym)"), "SELECT * FROM a JOIN b USING(sym)");
        assert_eq!(sql("SELECT * FROM a LEFT JOIN b ON (sym, venue)"), "SELECT * FROM a LEFT JOIN b USING(sym, venue)");
        // QuestDB's SPLICE JOIN read as `a` named SPLICE joined to b.
        let refused = rewrite("SELECT * FROM a SPLICE JOIN b ON (sym)", now()).unwrap_err();
        assert_eq!(refused.to_string(), "SPLICE JOIN is read here as a query's one join (`FROM a SPLICE JOIN b ...`), not beside other joins");
        assert!(rewrite("SELECT * FROM a AS splice JOIN b ON (sym)", now()).is_ok());
        // Conditions are left as they are.
        assert_eq!(sql("SELECT * FROM a JOIN b ON (a.sym = b.sym)"), "SELECT * FROM a JOIN b ON (a.sym = b.sym)");
        assert_eq!(sql("SELECT * FROM a JOIN b ON a.sym = b.sym"), "SELECT * FROM a JOIN b ON a.sym = b.sym");
    }

    #[test]
    fn a_sequence_starts_where_questdb_s_own_example_starts_it() {
        // QuestDB's reference: `to_timestamp` with its format as the start.
        let r = rewrite(
            "SELECT x, timestamp_sequence(to_timestamp('2019-10-17T00:00:00', 'yyyy-MM-ddTHH:mm:ss'), 100000L) FROM long_sequence(5)",
            now(),
        )
        .unwrap();
        let [(_, Source::LongSequence { generated, .. })] = r.sources.as_slice() else { panic!("{:?}", r.sources) };
        let start = 1_571_270_400_000_000; // 2019-10-17T00:00:00Z
        assert_eq!(generated[0].1, Generated::Sequence { start, step: 100_000 });
    }

    #[test]
    fn questdb_window_frames_are_written_in_standard_sql() {
        assert_eq!(
            standard_window_frames(
                "SELECT avg(px) OVER (PARTITION BY sym ORDER BY ts RANGE BETWEEN '1' MINUTE PRECEDING AND CURRENT ROW), \
                 sum(q) OVER (ORDER BY ts CUMULATIVE), count() OVER (ORDER BY ts RANGE 30 seconds PRECEDING) FROM t"
            ),
            "SELECT avg(px) OVER (PARTITION BY sym ORDER BY ts RANGE BETWEEN INTERVAL '1' MINUTE PRECEDING AND CURRENT ROW), \
                 sum(q) OVER (ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), count() OVER (ORDER BY ts RANGE INTERVAL '30' SECOND PRECEDING) FROM t"
        );
        // Standard SQL, ROWS offsets and text are left as they are.
        for sql in [
            "SELECT sum(q) OVER (ORDER BY ts RANGE BETWEEN INTERVAL '1' MINUTE PRECEDING AND CURRENT ROW) FROM t",
            "SELECT sum(q) OVER (ORDER BY ts ROWS BETWEEN 3 PRECEDING AND 1 FOLLOWING) FROM t",
            "SELECT '1 MINUTE PRECEDING', 'CUMULATIVE)' FROM t",
        ] {
            assert_eq!(standard_window_frames(sql), sql);
        }
    }

    #[test]
    fn interval_literals_are_the_instants_they_cover() {
        assert_eq!(
            sql("SELECT * FROM t WHERE ts IN '2024-01'"),
            "SELECT * FROM t WHERE (ts >= '2024-01-01 00:00:00.000000' AND ts < '2024-02-01 00:00:00.000000')"
        );
        assert_eq!(
            sql("SELECT * FROM t WHERE ts IN '2024-12-31T23;2h' AND s = 'IN ''2024'''"),
            "SELECT * FROM t WHERE (ts >= '2024-12-31 23:00:00.000000' AND ts < '2025-01-01 02:00:00.000000') AND s = 'IN ''2024'''"
        );
        assert_eq!(
            sql("SELECT * FROM t WHERE ts NOT IN '2024'"),
            "SELECT * FROM t WHERE (ts < '2024-01-01 00:00:00.000000' OR ts >= '2025-01-01 00:00:00.000000')"
        );
        // Text that names no instants is one value: QuestDB's `sym IN 'A'`.
        assert_eq!(sql("SELECT * FROM t WHERE sym IN 'A' AND v NOT IN 'b c'"), "SELECT * FROM t WHERE sym IN ('A') AND v NOT IN ('b c')");
        assert!(rewrite("SELECT * FROM t WHERE ts IN '2024-02-30'", now()).is_err());
        assert!(matches!(rewrite("SELECT * FROM t WHERE ts IN '2024;1d;1w;3'", now()), Err(CoreError::Unimplemented(_))));
    }

    #[test]
    fn tick_date_variables_ranges_and_lists_are_the_instants_they_name() {
        // now() is Friday 2026-12-04 18:11:33.123456.
        let at = |text: &str| tick_intervals(text, now()).unwrap().unwrap();
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        assert_eq!(at("$today"), [(t("2026-12-04 00:00:00"), t("2026-12-05 00:00:00"))]);
        assert_eq!(at("[$YESTERDAY]"), [(t("2026-12-03 00:00:00"), t("2026-12-04 00:00:00"))]);
        assert_eq!(at("$now - 1h..$now"), [(t("2026-12-04 17:11:33.123456"), t("2026-12-04 18:11:33.123457"))]);
        // Five business days back from Friday is the Friday before; one back, Thursday.
        assert_eq!(at("$today-5bd..$today-1bd"), [(t("2026-11-27 00:00:00"), t("2026-12-04 00:00:00"))]);
        assert_eq!(at("$today + 1M"), [(t("2027-01-04 00:00:00"), t("2027-01-05 00:00:00"))]);
        assert_eq!(
            at("[$today, 2024-01-15];1h30m"),
            [(t("2026-12-04 00:00:00"), t("2026-12-05 01:30:00")), (t("2024-01-15 00:00:00"), t("2024-01-16 01:30:00"))]
        );
        assert_eq!(
            sql("SELECT * FROM t WHERE ts NOT IN '[$today, $tomorrow]'"),
            "SELECT * FROM t WHERE (NOT ((ts >= '2026-12-04 00:00:00.000000' AND ts < '2026-12-05 00:00:00.000000') \
             OR (ts >= '2026-12-05 00:00:00.000000' AND ts < '2026-12-06 00:00:00.000000')))"
        );
        // Bracket expansion, time lists, a zone (New York is UTC-5 in January) and day filters
        // (2024-01-13 and 14 were a weekend).
        assert_eq!(at("2024-01-[10..11,15]").len(), 3);
        assert_eq!(at("2024-01-15T[09:00,14:30];1h")[1], (t("2024-01-15 14:30:00"), t("2024-01-15 15:31:00")));
        assert_eq!(
            at("2024-01-[12..15]T09:30@America/New_York#workday;6h29m"),
            [(t("2024-01-12 14:30:00"), t("2024-01-12 21:00:00")), (t("2024-01-15 14:30:00"), t("2024-01-15 21:00:00"))]
        );
        assert_eq!(at("[2024-01-15, 2024-07-15]T08:00@Europe/London")[1].0, t("2024-07-15 07:00:00"));
        assert_eq!(at("2024-01-[01..31]#Sat,Sun").len(), 8);
        assert_eq!(at("2024-01-15;6h30m"), [(t("2024-01-15 00:00:00"), t("2024-01-16 06:30:00"))]);
        // Text that is no interval stays a string; ISO weeks are refused by name.
        assert_eq!(tick_intervals("AAPL", now()).unwrap(), None);
        assert!(matches!(tick_intervals("2024-W01-1", now()), Err(CoreError::Unimplemented(_))));
        assert!(tick_intervals("$soon", now()).is_err());
        assert!(tick_intervals("2024-01-15@Mars/Olympus", now()).is_err());
    }

    #[test]
    fn questdb_date_formats_read_as_chrono_formats() {
        assert_eq!(chrono_format("yyyy-MM-ddTHH:mm:ss.SSSUUUZ").unwrap(), "%Y-%m-%dT%H:%M:%S.%6f%z");
        assert_eq!(chrono_format("dd/MM/yy hh:mm a").unwrap(), "%d/%m/%y %I:%M %p");
        assert!(chrono_format("yyyy-QQ").is_err());
    }
}
