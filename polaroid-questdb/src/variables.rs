//! QuestDB's `DECLARE @a := expression[, @b := expression ...] [WITH ...]
//! SELECT ...`: variables QuestDB resolves as it parses the query, so the
//! query it compiles holds each variable's expression in its place. A
//! later binding may use an earlier one (`@start := interval_start(@day)`).

use std::sync::OnceLock;

use polaroid_core::CoreError;

use crate::dialect::{excerpt, invalid, keyword, regex, unquoted};

/// `query` with its DECLARE's variables in place, if it starts with one.
pub(crate) fn resolved(query: &str) -> Result<Option<String>, CoreError> {
    static HEAD: OnceLock<regex::Regex> = OnceLock::new();
    let Some(head) = regex(&HEAD, r"(?is)^\s*DECLARE\s+(OVERRIDABLE\s+)?@").find(query) else { return Ok(None) };
    let mut rest = &query[head.end() - 1..];
    let mut bound: Vec<(String, String)> = Vec::new();
    loop {
        static BINDING: OnceLock<regex::Regex> = OnceLock::new();
        let binding = regex(&BINDING, r"(?is)^\s*(?:OVERRIDABLE\s+)?@([A-Za-z_]\w*)\s*(:=|=)?");
        let caps = binding.captures(rest).ok_or_else(|| invalid(format!("DECLARE: expected @name := expression, found {}", excerpt(rest))))?;
        let name = caps[1].to_string();
        if caps.get(2).is_none_or(|op| op.as_str() != ":=") {
            return Err(invalid(format!("DECLARE @{name}: expected variable assignment operator `:=`")));
        }
        let body = &rest[caps.get(0).map_or(0, |m| m.end())..];
        // The expression ends at the next binding's comma or where the query starts.
        let comma = unquoted(body).scan(0i32, |depth, (i, c)| {
            *depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            Some((i, c, *depth))
        });
        let comma = comma.filter(|&(_, c, depth)| c == ',' && depth == 0).map(|(i, ..)| i).next();
        let query_at = [keyword(body, "SELECT", 0), keyword(body, "WITH", 0)].into_iter().flatten().min();
        let (end, more) = match (comma, query_at) {
            (Some(c), Some(q)) if c < q => (c, true),
            (_, Some(q)) => (q, false),
            (Some(c), None) => (c, true),
            (None, None) => return Err(invalid(format!("DECLARE @{name}: a SELECT (or WITH) query follows the variables"))),
        };
        let expression = body[..end].trim();
        if expression.is_empty() {
            return Err(invalid(format!("DECLARE @{name}: no expression after :=")));
        }
        let expression = substituted(expression, &bound)?;
        bound.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        bound.push((name, expression));
        if more {
            rest = &body[end + 1..];
        } else {
            return substituted(&body[end..], &bound).map(Some);
        }
    }
}

/// `text` with each `@name` outside quotes replaced by its expression:
/// parenthesized, as QuestDB puts the parsed expression in the name's
/// place (`@x * 2` of `@x := 1 + 2` is 6), unless it is one token or
/// already in parentheses (a list, `IN @syms`, or a subquery).
fn substituted(text: &str, bound: &[(String, String)]) -> Result<String, CoreError> {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, c) in unquoted(text) {
        if c != '@' || at < copied {
            continue;
        }
        let name_len = text[at + 1..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len() - at - 1);
        let name = &text[at + 1..at + 1 + name_len];
        // `@` before anything but a name is not a variable (PostgreSQL's `@ x`, absolute value).
        if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            continue;
        }
        let (_, expression) = bound
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| invalid(format!("@{name} is not declared: DECLARE @{name} := ... before the query")))?;
        out.push_str(&text[copied..at]);
        static TOKEN: OnceLock<regex::Regex> = OnceLock::new();
        let parenthesized = expression.starts_with('(') && crate::statement::matching_paren(expression, 0) == Some(expression.len() - 1);
        if parenthesized || regex(&TOKEN, r"^(?s)('([^']|'')*'|-?[\w.]+)$").is_match(expression) {
            out.push_str(expression);
        } else {
            out.push('(');
            out.push_str(expression);
            out.push(')');
        }
        copied = at + 1 + name_len;
    }
    out.push_str(&text[copied..]);
    Ok(out)
}



#[cfg(test)]
mod tests {
    use super::*;

    /// QuestDB's reference examples, reduced as QuestDB reduces them.
    #[test]
    fn variables_take_their_expressions_places() {
        let q = |text: &str| resolved(text).unwrap().unwrap();
        assert_eq!(q("DECLARE @x := 5 SELECT @x;").trim(), "SELECT 5;");
        assert_eq!(q("DECLARE\n  @x := 5,\n  @y := 2\nSELECT @x + @y").trim(), "SELECT 5 + 2");
        // Later bindings read earlier ones; an expression is parenthesized.
        assert_eq!(
            q("DECLARE @today := today(), @start := interval_start(@today), @n := 1 + 2 SELECT @start, @n * 2").trim(),
            "SELECT (interval_start((today()))), (1 + 2) * 2"
        );
        // Commas inside an expression, strings, WITH, and `@` in a string left alone.
        assert_eq!(
            q("DECLARE @syms := ('A', 'B'), @s := 'x@y, z' WITH t AS (SELECT 1) SELECT * FROM q WHERE sym IN @syms AND note = @s AND t = '@syms'").trim(),
            "WITH t AS (SELECT 1) SELECT * FROM q WHERE sym IN ('A', 'B') AND note = 'x@y, z' AND t = '@syms'"
        );
        // A subquery as a value; OVERRIDABLE (a view's) is read and has no effect here.
        assert_eq!(
            q("DECLARE OVERRIDABLE @lo := (SELECT min(px) FROM t) SELECT * FROM t WHERE px = @LO").trim(),
            "SELECT * FROM t WHERE px = (SELECT min(px) FROM t)"
        );
        assert_eq!(resolved("SELECT 1").unwrap(), None);
        assert_eq!(resolved("DECLARE c CURSOR FOR SELECT 1").unwrap(), None);
    }

    #[test]
    fn a_malformed_declare_is_refused_by_name() {
        let err = |text: &str| resolved(text).unwrap_err().to_string();
        assert!(err("DECLARE @x = 5 SELECT @x").contains("DECLARE @x: expected variable assignment operator `:=`"));
        assert!(err("DECLARE @x := 5 SELECT @y").contains("@y is not declared"));
        assert!(err("DECLARE @x := 5").contains("DECLARE @x: a SELECT (or WITH) query follows"));
        assert!(err("DECLARE @x := SELECT 1").contains("DECLARE @x: no expression after :="));
    }
}
