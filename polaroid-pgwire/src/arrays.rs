//! PostgreSQL's arrays where they are constants. Grafana lists tables and
//! columns by the search path read as an array
//! (`string_to_array(current_setting('search_path'), ',')`, walked by
//! `generate_series` over its bounds), and splits a table's name with
//! `parse_ident`. polars-sql has no such arrays, but over constants each
//! folds to what it holds, before the query is planned:
//! - `string_to_array('text', 'sep')` and `parse_ident('name')` are arrays
//!   of text (`parse_ident` folds unquoted names to lower case, as
//!   PostgreSQL does);
//! - `array_length(a, 1)`, `array_lower(a, 1)`, `array_upper(a, 1)` and
//!   `a[n]` are their values (NULL past the array's end, as PostgreSQL);
//! - `current_schemas(b)` is the search path's schemas (`public`, after
//!   `pg_catalog` when `b` asks for the implicit ones);
//! - `a[expr]` of a place the row decides is a CASE over the places, and
//!   `x = ANY(a)` is `x IN (...)` (the JDBC driver walks the search path
//!   with `generate_series(1, array_upper(current_schemas(false), 1))`);
//! - a FROM list of `generate_series(lo, hi) AS i` and `a AS s`, the way
//!   to walk an array by its places before UNNEST, is one VALUES list of
//!   the places and elements, `s(i, element)`, and `s[i]` is `s.element`.

use std::ops::ControlFlow;

use sqlparser::ast::{
    visit_expressions_mut, AccessExpr, Array, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectName, Select, SetExpr, Statement,
    Subscript, TableFactor, Value, VisitMut, VisitorMut,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// The functions that make or read an array, one of which a query must
/// name to have anything to fold.
const ARRAY_FUNCTIONS: [&str; 6] = ["string_to_array", "parse_ident", "array_length", "array_lower", "array_upper", "current_schemas"];

/// `sql` with its constant arrays folded, `None` when it has none (or is
/// not one statement sqlparser reads).
pub fn fold(sql: &str) -> Option<String> {
    let lower = sql.to_ascii_lowercase();
    if !ARRAY_FUNCTIONS.iter().any(|f| lower.contains(f)) {
        return None;
    }
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    let [statement] = statements.as_mut_slice() else { return None };
    let mut folded = false;
    let _ = visit_expressions_mut(statement, |expr| {
        if let Some(value) = fold_expr(expr) {
            *expr = value;
            folded = true;
        }
        ControlFlow::<()>::Continue(())
    });
    let mut walks = Walks { walked: false };
    let _ = VisitMut::visit(statement, &mut walks);
    (folded || walks.walked).then(|| statement.to_string())
}

/// The elements of a constant array of text (NULL ones `None`).
fn text_array(expr: &Expr) -> Option<Vec<Option<String>>> {
    match strip(expr) {
        Expr::Array(Array { elem, .. }) => elem.iter().map(|e| text(e).map(Some).or_else(|| null(e).then_some(None))).collect(),
        _ => None,
    }
}

fn strip(expr: &Expr) -> &Expr {
    match expr {
        Expr::Nested(inner) => strip(inner),
        other => other,
    }
}

fn text(expr: &Expr) -> Option<String> {
    match strip(expr) {
        Expr::Value(v) => v.value.clone().into_string(),
        _ => None,
    }
}

fn null(expr: &Expr) -> bool {
    matches!(strip(expr), Expr::Value(v) if v.value == Value::Null)
}

fn integer(expr: &Expr) -> Option<i64> {
    match strip(expr) {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

fn args(arguments: &FunctionArguments) -> Option<Vec<&Expr>> {
    match arguments {
        FunctionArguments::List(list) => list.args.iter().map(unnamed).collect(),
        _ => None,
    }
}

fn unnamed(arg: &FunctionArg) -> Option<&Expr> {
    match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
        _ => None,
    }
}

fn name_of(name: &ObjectName) -> String {
    name.0.last().and_then(|p| p.as_ident()).map(|i| i.value.to_ascii_lowercase()).unwrap_or_default()
}

fn array_of(values: Vec<Option<String>>) -> Expr {
    let elem = values.into_iter().map(|v| v.map_or(Expr::Value(Value::Null.into()), |t| Expr::Value(Value::SingleQuotedString(t).into()))).collect();
    Expr::Array(Array { elem, named: true })
}

fn number(n: i64) -> Expr {
    Expr::Value(Value::Number(n.to_string(), false).into())
}

/// What a call of one of the array functions on constants is, if it is.
fn call(name: &str, args: &[&Expr]) -> Option<Expr> {
    match (name, args) {
        ("string_to_array", [list, separator]) => {
            let (list, separator) = (text(list)?, text(separator)?);
            Some(array_of(split(&list, &separator).into_iter().map(Some).collect()))
        },
        ("parse_ident", [name]) => Some(array_of(parse_ident(&text(name)?)?.into_iter().map(Some).collect())),
        ("current_schemas", [implicit]) => {
            let implicit = match strip(implicit) {
                Expr::Value(v) => match v.value {
                    Value::Boolean(b) => b,
                    _ => return None,
                },
                _ => return None,
            };
            let schemas = if implicit { vec!["pg_catalog", "public"] } else { vec!["public"] };
            Some(array_of(schemas.into_iter().map(|s| Some(s.to_string())).collect()))
        },
        ("array_length" | "array_lower" | "array_upper", [array, dimension]) => {
            let (len, dimension) = (text_array(array)?.len() as i64, integer(dimension)?);
            // An empty array, or one asked of a dimension it lacks, has
            // no bounds.
            if len == 0 || dimension != 1 {
                return Some(Expr::Value(Value::Null.into()));
            }
            Some(number(if name == "array_lower" { 1 } else { len }))
        },
        _ => None,
    }
}

fn fold_expr(expr: &Expr) -> Option<Expr> {
    match expr {
        Expr::Function(f) => call(&name_of(&f.name), &args(&f.args)?),
        // `a[n]`, places counted from 1; a place each row decides is a CASE.
        Expr::CompoundFieldAccess { root, access_chain } => match access_chain.as_slice() {
            [AccessExpr::Subscript(Subscript::Index { index })] => {
                let array = text_array(root)?;
                let Some(place) = integer(index) else {
                    let places: Vec<String> =
                        array.iter().enumerate().map(|(at, e)| format!("WHEN {} THEN {}", at + 1, quote(e))).collect();
                    return if places.is_empty() { Some(Expr::Value(Value::Null.into())) } else { sql_expr(&format!("CASE {index} {} END", places.join(" "))) };
                };
                let element = usize::try_from(place - 1).ok().and_then(|at| array.get(at).cloned()).flatten();
                Some(element.map_or(Expr::Value(Value::Null.into()), |t| Expr::Value(Value::SingleQuotedString(t).into())))
            },
            _ => None,
        },
        // `x = ANY(a)`: one of the array's elements.
        Expr::AnyOp { left, compare_op: sqlparser::ast::BinaryOperator::Eq, right, .. } => {
            let elements: Vec<String> = text_array(right)?.iter().filter(|e| e.is_some()).map(quote).collect();
            if elements.is_empty() {
                return Some(Expr::Value(Value::Boolean(false).into()));
            }
            sql_expr(&format!("{left} IN ({})", elements.join(", ")))
        },
        _ => None,
    }
}

/// An element as a SQL literal.
fn quote(element: &Option<String>) -> String {
    element.as_ref().map_or("NULL".to_string(), |t| format!("'{}'", t.replace('\'', "''")))
}

fn sql_expr(text: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {}).try_with_sql(text).ok()?.parse_expr().ok()
}

/// PostgreSQL's `string_to_array(text, sep)`: an empty text is an empty
/// array; an empty separator keeps the text whole.
fn split(list: &str, separator: &str) -> Vec<String> {
    if list.is_empty() {
        return Vec::new();
    }
    if separator.is_empty() {
        return vec![list.to_string()];
    }
    list.split(separator).map(str::to_string).collect()
}

/// PostgreSQL's `parse_ident`: dotted names, each quoted (kept as
/// written, `""` a quote) or not (folded to lower case); `None` for what
/// it would refuse.
fn parse_ident(name: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = name.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    },
                    '"' => break,
                    c => part.push(c),
                }
            }
            if part.is_empty() {
                return None;
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' || c.is_whitespace() {
                    break;
                }
                part.push(c.to_ascii_lowercase());
                chars.next();
            }
            if part.is_empty() {
                return None;
            }
        }
        parts.push(part);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Some(parts),
            Some('.') => while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            },
            Some(_) => return None,
        }
    }
}

/// Makes each `FROM generate_series(lo, hi) AS i, a AS s` over a constant
/// array one VALUES list.
struct Walks {
    walked: bool,
}

impl VisitorMut for Walks {
    type Break = ();

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        let Some((place, array, walk)) = walk(select) else { return ControlFlow::Continue(()) };
        select.from = vec![walk];
        // `s[i]` names the element of the row's place.
        let _ = visit_expressions_mut(&mut select.projection, |expr| rename(expr, &place, &array));
        if let Some(selection) = &mut select.selection {
            let _ = visit_expressions_mut(selection, |expr| rename(expr, &place, &array));
        }
        self.walked = true;
        ControlFlow::Continue(())
    }
}

fn rename(expr: &mut Expr, place: &str, array: &str) -> ControlFlow<()> {
    if let Expr::CompoundFieldAccess { root, access_chain } = expr {
        let indexed_by_place = matches!(access_chain.as_slice(),
            [AccessExpr::Subscript(Subscript::Index { index: Expr::Identifier(i) })] if i.value.eq_ignore_ascii_case(place));
        if indexed_by_place && matches!(root.as_ref(), Expr::Identifier(a) if a.value.eq_ignore_ascii_case(array)) {
            *expr = Expr::CompoundIdentifier(vec![array.into(), "element".into()]);
        }
    }
    ControlFlow::Continue(())
}

/// A function in FROM with an alias and no column names: its name, its
/// arguments and the alias.
fn table_function(factor: &TableFactor) -> Option<(String, Vec<&Expr>, String)> {
    match factor {
        TableFactor::Table { name, args: Some(args), alias: Some(alias), .. } if alias.columns.is_empty() => {
            Some((name_of(name), args.args.iter().map(unnamed).collect::<Option<Vec<_>>>()?, alias.name.value.clone()))
        },
        _ => None,
    }
}

/// The walk's place and array names, and the VALUES list that replaces
/// its FROM list.
fn walk(select: &Select) -> Option<(String, String, sqlparser::ast::TableWithJoins)> {
    let [series, array] = select.from.as_slice() else { return None };
    if !(series.joins.is_empty() && array.joins.is_empty()) {
        return None;
    }
    let (series_name, bounds, place) = table_function(&series.relation)?;
    let (array_name, array_args, array_alias) = table_function(&array.relation)?;
    let (lo, hi) = match (series_name.as_str(), bounds.as_slice()) {
        ("generate_series", [lo, hi]) => (integer(lo)?, integer(hi)?),
        _ => return None,
    };
    let elements = text_array(&call(&array_name, &array_args)?)?;
    if lo > hi {
        return None;
    }
    let rows: Vec<String> = (lo..=hi)
        .map(|k| format!("({k}, {})", quote(&usize::try_from(k - 1).ok().and_then(|at| elements.get(at).cloned()).flatten())))
        .collect();
    let sql = format!("SELECT * FROM (VALUES {}) AS \"{array_alias}\"(\"{place}\", element)", rows.join(", "));
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, &sql).ok()?;
    let [Statement::Query(query)] = statements.as_slice() else { return None };
    let SetExpr::Select(values) = query.body.as_ref() else { return None };
    Some((place, array_alias, values.from.first()?.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_arrays_fold_to_what_they_hold() {
        assert_eq!(
            fold("SELECT array_length(parse_ident('trades'), 1) = 2, (parse_ident('Public.\"Trades\"'))[2], (parse_ident('t'))[2]").as_deref(),
            Some("SELECT 1 = 2, 'Trades', NULL")
        );
        assert_eq!(
            fold("SELECT array_lower(string_to_array('a,b', ','), 1), array_upper(string_to_array('a,b', ','), 1), array_upper(string_to_array('', ','), 1)")
                .as_deref(),
            Some("SELECT 1, 2, NULL")
        );
        assert_eq!(parse_ident(" a . \"B\"\"c\" "), Some(vec!["a".to_string(), "B\"c".to_string()]));
        assert_eq!((parse_ident("a..b"), parse_ident("\"\""), parse_ident("a b")), (None, None, None));
        assert_eq!(
            fold("SELECT (current_schemas(false))[s.r], n.nspname = ANY(current_schemas(true)) FROM generate_series(1, array_upper(current_schemas(false), 1)) AS s(r)")
                .as_deref(),
            Some("SELECT CASE s.r WHEN 1 THEN 'public' END, n.nspname IN ('pg_catalog', 'public') FROM generate_series(1, 1) AS s (r)")
        );
        assert_eq!(fold("SELECT x FROM t"), None);
        assert_eq!(fold("SELECT array_length(col, 1) FROM t"), None);
    }

    #[test]
    fn a_walk_of_an_array_by_its_places_is_a_values_list() {
        let sql = "SELECT t FROM tables WHERE s IN (SELECT CASE WHEN trim(s[i]) = '\"$user\"' THEN 'ann' ELSE trim(s[i]) END \
                   FROM generate_series(array_lower(string_to_array('\"$user\", public', ','), 1), \
                   array_upper(string_to_array('\"$user\", public', ','), 1)) AS i, string_to_array('\"$user\", public', ',') s)";
        assert_eq!(
            fold(sql).as_deref(),
            Some(
                "SELECT t FROM tables WHERE s IN (SELECT CASE WHEN TRIM(s.element) = '\"$user\"' THEN 'ann' ELSE TRIM(s.element) END \
                 FROM (VALUES (1, '\"$user\"'), (2, ' public')) AS \"s\" (\"i\", element))"
            )
        );
    }
}
