//! InfluxDB line protocol over HTTP (`POST /write`, `/api/v1/write`), as
//! QuestDB takes it: `table,tag=v field=1.5,n=3i,s="x",b=t 1700000000000000000`.
//!
//! Tags become SYMBOL columns; a field is a DOUBLE, LONG (`3i`), VARCHAR
//! (`"x"`), BOOLEAN (`t`/`f`) or TIMESTAMP (`123t`, microseconds); the
//! trailing number is the designated timestamp in the request's
//! `precision` (nanoseconds by default), or the server's clock when absent.
//! A request is all or nothing: any bad line and nothing is written, and
//! the answer names the line. Rows are durable (fsync'd) before the 204.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use polaroid_core::tables::{AutoCreate, PartitionBy};
use polaroid_core::{CoreError, Namespace};
use polars::prelude::*;
use polars_core::utils::rayon::prelude::*;
use polars_core::runtime::RAYON;

use crate::error::json_string;
use crate::Door;

/// A value of one field or tag. Names and text are small strings: the
/// usual table, column and symbol names fit inline, so a line allocates
/// little more than its list of values.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Symbol(PlSmallStr),
    Str(PlSmallStr),
    Long(i64),
    Double(f64),
    Bool(bool),
    /// Microseconds since the epoch.
    Timestamp(i64),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Symbol(_) => "SYMBOL",
            Value::Str(_) => "VARCHAR",
            Value::Long(_) => "LONG",
            Value::Double(_) => "DOUBLE",
            Value::Bool(_) => "BOOLEAN",
            Value::Timestamp(_) => "TIMESTAMP",
        }
    }
}

/// One parsed line.
#[derive(Debug, PartialEq)]
pub(crate) struct Line {
    table: PlSmallStr,
    values: Vec<(PlSmallStr, Value)>,
    /// Nanoseconds since the epoch, if the line gave one.
    at: Option<i64>,
}

/// A line's error, with its 1-based number.
#[derive(Debug)]
struct LineError {
    line: usize,
    message: String,
}

/// Nanoseconds per unit of the `precision` parameter.
fn precision_ns(precision: Option<&str>) -> Result<i64, String> {
    match precision.unwrap_or("n") {
        "n" | "ns" => Ok(1),
        "u" | "us" => Ok(1_000),
        "ms" => Ok(1_000_000),
        "s" => Ok(1_000_000_000),
        other => Err(format!("unknown precision {other:?}; use n, us, ms or s")),
    }
}

/// Split at the first unescaped `stop` byte outside double quotes (when
/// `quotes`); the escapes stay in both halves.
fn split_unescaped(text: &str, stop: u8, quotes: bool) -> (&str, Option<&str>) {
    let bytes = text.as_bytes();
    let (mut i, mut quoted) = (0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'"' if quotes => quoted = !quoted,
            b if b == stop && !quoted => return (&text[..i], Some(&text[i + 1..])),
            _ => {},
        }
        i += 1;
    }
    (text, None)
}

/// Every piece between unescaped `sep` bytes, without collecting them (a
/// line's tags and fields are read once, in order).
fn split_all(text: &str, sep: u8, quotes: bool) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let (part, next) = split_unescaped(rest?, sep, quotes);
        rest = next;
        Some(part)
    })
}

fn unescape(text: &str) -> PlSmallStr {
    if !text.contains('\\') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out.into()
}

fn field_value(text: &str) -> Result<Value, String> {
    let bad = || format!("cannot read field value {text:?}");
    if let Some(inner) = text.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or_else(|| format!("unterminated string {text:?}"))?;
        return Ok(Value::Str(unescape(inner)));
    }
    match text {
        "t" | "T" | "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        _ => {},
    }
    if let Some(n) = text.strip_suffix('i') {
        return n.parse().map(Value::Long).map_err(|_| bad());
    }
    if let Some(n) = text.strip_suffix('t') {
        return n.parse().map(Value::Timestamp).map_err(|_| bad());
    }
    text.parse::<f64>().map(Value::Double).map_err(|_| bad())
}

/// One line of ILP; `precision` converts its timestamp to nanoseconds.
pub(crate) fn parse_line(text: &str, precision: i64) -> Result<Line, String> {
    let (head, rest) = split_unescaped(text, b' ', false);
    let rest = rest.ok_or("a line needs a table, at least one field, and optionally a timestamp")?;
    let (fields, timestamp) = split_unescaped(rest.trim_start(), b' ', true);
    let mut head_parts = split_all(head, b',', false);
    let table = unescape(head_parts.next().unwrap_or_default());
    if table.is_empty() {
        return Err("the table name is empty".into());
    }
    // A value per comma and one more: the list is allocated once. Escaped
    // and quoted commas over-count, so the guess is capped (a string full
    // of commas must not reserve a value's slot for each) and any excess
    // given back below, as the lines wait for their frame.
    let commas = text.bytes().filter(|&b| b == b',').count();
    let mut values = Vec::with_capacity((commas + 1).min(MAX_VALUES_GUESS));
    for tag in head_parts {
        let (key, value) = split_unescaped(tag, b'=', false);
        let value = value.ok_or_else(|| format!("tag {tag:?} has no '='"))?;
        values.push((unescape(key), Value::Symbol(unescape(value))));
    }
    for field in split_all(fields, b',', true) {
        let (key, value) = split_unescaped(field, b'=', false);
        let value = value.ok_or_else(|| format!("field {field:?} has no '='"))?;
        values.push((unescape(key), field_value(value)?));
    }
    if values.iter().all(|(_, v)| matches!(v, Value::Symbol(_))) {
        return Err("a line needs at least one field".into());
    }
    let at = match timestamp.map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => {
            let n: i64 = t.parse().map_err(|_| format!("cannot read timestamp {t:?}"))?;
            Some(n.checked_mul(precision).ok_or_else(|| format!("timestamp {t} is out of range"))?)
        },
    };
    // A no-op unless commas were over-counted.
    values.shrink_to_fit();
    Ok(Line { table, values, at })
}

/// The most values a line's list is first sized for.
const MAX_VALUES_GUESS: usize = 256;

/// Bodies longer than this are cut at line ends and the pieces parsed on
/// polars' thread pool (a client's flush is often megabytes of lines).
const PARSE_PIECE: usize = 1 << 20;

/// A parsed line with its number in the body (or on the connection), which
/// names it when its row cannot be written.
pub(crate) type Numbered = (usize, Line);

/// Parse the whole body; any bad line fails it (QuestDB's transaction),
/// and the first bad line is the one named.
fn parse_body(body: &str, precision: i64) -> Result<Vec<Numbered>, LineError> {
    if body.len() <= PARSE_PIECE {
        return parse_lines(body, 0, precision);
    }
    // (lines before the piece, the piece, ending with its '\n')
    let mut pieces = Vec::new();
    let (mut rest, mut lines_before) = (body, 0);
    while !rest.is_empty() {
        let end = match rest.as_bytes().get(PARSE_PIECE..).and_then(|tail| tail.iter().position(|&b| b == b'\n')) {
            Some(newline) => PARSE_PIECE + newline + 1,
            None => rest.len(),
        };
        let (piece, tail) = rest.split_at(end);
        pieces.push((lines_before, piece));
        lines_before += piece.bytes().filter(|&b| b == b'\n').count();
        rest = tail;
    }
    let parsed: Vec<_> =
        RAYON.install(|| pieces.into_par_iter().map(|(before, piece)| parse_lines(piece, before, precision)).collect());
    let mut lines = Vec::with_capacity(parsed.iter().map(|p| p.as_ref().map_or(0, Vec::len)).sum());
    // In order, so the first error met is the first bad line.
    for piece in parsed {
        lines.extend(piece?);
    }
    Ok(lines)
}

/// The lines of `text`, numbered after the `lines_before` that precede it.
fn parse_lines(text: &str, lines_before: usize, precision: i64) -> Result<Vec<Numbered>, LineError> {
    let mut lines = Vec::new();
    for (i, text) in text.split('\n').enumerate() {
        let text = text.trim_end_matches('\r');
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            continue;
        }
        let number = lines_before + i + 1;
        lines.push((number, parse_line(text, precision).map_err(|message| LineError { line: number, message })?));
    }
    Ok(lines)
}

/// The rows of one table as a frame: columns in order of first appearance,
/// the designated timestamp `ts` (microseconds) last; and the names of the
/// columns that are tags (SYMBOL, kept as text: a table stores a SYMBOL as
/// text, and interning each value in polars' global categories on the way
/// would add every tag value to a mapping that only grows for as long as
/// any categorical column, a handle's or a live reader's, keeps it alive).
/// A column whose type changes between lines is an error on that line.
fn frame(lines: Vec<Numbered>, ts: &str, now_ns: i64) -> Result<(DataFrame, Vec<String>), LineError> {
    let height = lines.len();
    let first = lines.first().map_or(0, |(number, _)| *number);
    let stamps: Vec<i64> = lines.iter().map(|(_, l)| l.at.unwrap_or(now_ns).div_euclid(1000)).collect();
    // Columns in order of first appearance; the names are looked up, not
    // cloned, for every value after a column's first (most are not new).
    let mut columns: Vec<(PlSmallStr, &'static str, Vec<Option<Value>>)> = Vec::new();
    let mut index: PlHashMap<PlSmallStr, usize> = PlHashMap::new();
    for (row, (number, line)) in lines.into_iter().enumerate() {
        for (k, (name, value)) in line.values.into_iter().enumerate() {
            // A table's lines mostly list their values in one order: the
            // k-th column is tried before the name is hashed.
            let at = if columns.get(k).is_some_and(|(known, ..)| *known == name) {
                k
            } else if let Some(&at) = index.get(name.as_str()) {
                at
            } else {
                index.insert(name.clone(), columns.len());
                columns.push((name, value.kind(), vec![None; height]));
                columns.len() - 1
            };
            let (name, kind, values) = &mut columns[at];
            if *kind != value.kind() {
                return Err(LineError {
                    line: number,
                    message: format!("column {name} is {} here but {} in an earlier line", value.kind(), kind),
                });
            }
            values[row] = Some(value);
        }
    }
    let mut out = Vec::with_capacity(columns.len() + 1);
    for (name, kind, values) in &columns {
        out.push(column(name, kind, values).map_err(|e| LineError { line: first, message: e.to_string() })?);
    }
    let ts_column = Column::new(ts.into(), stamps)
        .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
        .map_err(|e| LineError { line: first, message: e.to_string() })?;
    out.push(ts_column);
    let symbols = columns.iter().filter(|(_, kind, _)| *kind == "SYMBOL").map(|(name, ..)| name.to_string()).collect();
    let df = DataFrame::new(height, out).map_err(|e| LineError { line: first, message: e.to_string() })?;
    Ok((df, symbols))
}

fn column(name: &str, kind: &str, values: &[Option<Value>]) -> PolarsResult<Column> {
    let name: PlSmallStr = name.into();
    Ok(match kind {
        "SYMBOL" | "VARCHAR" => {
            let texts: Vec<Option<&str>> = values
                .iter()
                .map(|v| match v {
                    Some(Value::Symbol(s) | Value::Str(s)) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            Column::new(name, texts)
        },
        "LONG" => Column::new(name, values.iter().map(|v| if let Some(Value::Long(n)) = v { Some(*n) } else { None }).collect::<Vec<_>>()),
        "DOUBLE" => Column::new(name, values.iter().map(|v| if let Some(Value::Double(x)) = v { Some(*x) } else { None }).collect::<Vec<_>>()),
        "BOOLEAN" => Column::new(name, values.iter().map(|v| if let Some(Value::Bool(b)) = v { Some(*b) } else { None }).collect::<Vec<_>>()),
        _ => Column::new(name, values.iter().map(|v| if let Some(Value::Timestamp(t)) = v { Some(*t) } else { None }).collect::<Vec<_>>())
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?,
    })
}

/// QuestDB's ILP error body; its clients parse it only as `application/json`.
fn error(status: StatusCode, code: &str, message: &str, line: Option<usize>) -> Response {
    let body = format!(
        "{{\"code\":{},\"message\":{},\"line\":{},\"errorId\":{}}}",
        json_string(code),
        json_string(message),
        line.map_or(-1, |l| l as i64),
        json_string(&format!("polaroid-{:x}", std::process::id())),
    );
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Append each table's rows; the first failure stops (earlier tables of the
/// request stay written, each durably). A failure names the line it was
/// met on, by the number the line came with.
pub(crate) fn write(core: &polaroid_core::Core, ns: &Namespace, lines: Vec<Numbered>) -> Result<(), (Option<usize>, CoreError)> {
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let mut by_table: Vec<(PlSmallStr, Vec<Numbered>)> = Vec::new();
    for (number, line) in lines {
        match by_table.iter_mut().find(|(t, _)| t.eq_ignore_ascii_case(&line.table)) {
            Some((_, rows)) => rows.push((number, line)),
            None => by_table.push((line.table.clone(), vec![(number, line)])),
        }
    }
    for (table, rows) in by_table {
        let first = rows[0].0;
        let existing = core.tables().get(ns, table.as_str()).map_err(|e| (None, e))?;
        let ts = existing.as_ref().and_then(|t| t.def().timestamp).unwrap_or_else(|| "timestamp".into());
        let (df, symbols) = frame(rows, &ts, now_ns).map_err(|e| (Some(e.line), CoreError::InvalidArgument(e.message)))?;
        let auto = AutoCreate { timestamp: ts, partition_by: PartitionBy::Day, retention: Default::default(), symbols, upsert_keys: Vec::new() };
        let appended = core.tables().append(ns, table.as_str(), df, Some(auto)).map_err(|e| (Some(first), e))?;
        core.metrics().ingested(table.as_str(), appended);
    }
    Ok(())
}

pub async fn ingest(
    State(door): State<Door>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let ns = match crate::auth::namespace(&door.core, &headers) {
        Ok(ns) => ns,
        Err(e) => return error(crate::http_status(&e), "unauthorized", &e.to_string(), None),
    };
    let precision = match precision_ns(params.get("precision").map(String::as_str)) {
        Ok(p) => p,
        Err(message) => return error(StatusCode::BAD_REQUEST, "invalid", &message, None),
    };
    // Parsed where it is written, off the async runtime: megabytes of
    // lines would hold up every other request on this worker.
    let outcome = door
        .core
        .run(move |core, _| {
            let Ok(text) = std::str::from_utf8(&body) else {
                return Ok(Err(Refused::NotUtf8));
            };
            let lines = match parse_body(text, precision) {
                Ok(lines) => lines,
                Err(e) => return Ok(Err(Refused::Line(e))),
            };
            Ok(write(core, &ns, lines).map_err(|(line, e)| Refused::Write(line, e)))
        })
        .await;
    match outcome {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(Refused::NotUtf8)) => error(StatusCode::BAD_REQUEST, "invalid", "the body is not UTF-8", None),
        Ok(Err(Refused::Line(e))) => {
            let message = format!("failed to parse line protocol: error in line {}: {}", e.line, e.message);
            error(StatusCode::BAD_REQUEST, "invalid", &message, Some(e.line))
        },
        Ok(Err(Refused::Write(line, e))) => error(crate::http_status(&e), "invalid", &e.to_string(), line),
        Err(e) => error(crate::http_status(&e), "internal error", &e.to_string(), None),
    }
}

/// Why a request's rows were not written.
enum Refused {
    NotUtf8,
    Line(LineError),
    /// The line that failed, when one did, and why.
    Write(Option<usize>, CoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_with_escapes_types_and_timestamps() {
        let line = parse_line(r#"trades,sym=AA\ PL,venue=X px=1.5,qty=3i,note="a \"b\", c",ok=t,at=5t 1700000000000000000"#, 1).unwrap();
        assert_eq!(line.table, "trades");
        assert_eq!(
            line.values,
            vec![
                ("sym".into(), Value::Symbol("AA PL".into())),
                ("venue".into(), Value::Symbol("X".into())),
                ("px".into(), Value::Double(1.5)),
                ("qty".into(), Value::Long(3)),
                ("note".into(), Value::Str("a \"b\", c".into())),
                ("ok".into(), Value::Bool(true)),
                ("at".into(), Value::Timestamp(5)),
            ]
        );
        assert_eq!(line.at, Some(1_700_000_000_000_000_000));
        assert_eq!(parse_line("t x=1 1700000000", 1_000_000_000).unwrap().at, Some(1_700_000_000_000_000_000));
        assert_eq!(parse_line("t x=1", 1).unwrap().at, None);
    }

    #[test]
    fn quoted_and_escaped_commas_reserve_no_more_than_the_values() {
        let commas = ",".repeat(10_000);
        let line = parse_line(&format!("t,k=a\\,b s=\"{commas}\",x=1"), 1).unwrap();
        assert_eq!(line.values.len(), 3);
        assert_eq!(line.values.capacity(), 3);
        assert_eq!(line.values[0].1, Value::Symbol("a,b".into()));
        assert_eq!(line.values[1].1, Value::Str(commas.as_str().into()));
    }

    #[test]
    fn a_bad_line_is_named_by_number() {
        let err = parse_body("t x=1\n\nt,sym=a\nt x=2", 1).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("at least one field"), "{}", err.message);
        assert_eq!(parse_body("t x=1\nt y=abc", 1).unwrap_err().line, 2);
        assert!(parse_body("t x=\"open", 1).is_err());
    }

    #[test]
    fn a_long_body_is_parsed_in_pieces_in_order_and_its_first_bad_line_named() {
        // ~3.8 MB: four pieces, with blank lines, comments and CRLF ends.
        let n = 100_000;
        let body: String = (0..n)
            .map(|i| match i % 1000 {
                7 => "\n".to_string(),
                8 => "# a comment\r\n".to_string(),
                _ => format!("t,sym=S{} px={}.5,qty={}i {}\r\n", i % 50, i, i, i),
            })
            .collect();
        assert!(body.len() > 3 * PARSE_PIECE);
        let lines = parse_body(&body, 1).unwrap();
        let expected: Vec<i64> = (0..n).filter(|i| !matches!(i % 1000, 7 | 8)).collect();
        assert_eq!(lines.iter().map(|(_, l)| l.at.unwrap()).collect::<Vec<_>>(), expected);
        // Each keeps its number in the body (line i + 1 holds i).
        assert!(lines.iter().all(|(number, l)| l.at == Some(*number as i64 - 1)));
        assert_eq!(lines[3].1.values[1], ("px".into(), Value::Double(3.5)));

        // Two bad lines in later pieces: the first is named, by its number in the body.
        let mut bad: Vec<String> = body.split_inclusive('\n').map(str::to_string).collect();
        bad[60_000] = "t,sym=a\n".into();
        bad[90_000] = "t x=oops\n".into();
        let err = parse_body(&bad.concat(), 1).unwrap_err();
        assert_eq!(err.line, 60_001);
        assert!(err.message.contains("at least one field"), "{}", err.message);
    }

    #[test]
    fn every_kind_becomes_its_column_and_a_repeated_field_keeps_its_last_value() {
        let body = "t,s=a v=\"x\",b=t,at=5t,n=1i,x=0.5 1000\nt,s=b n=2i,n=3i 2000\nt x=1.5,b=f 3000";
        let (df, symbols) = frame(parse_body(body, 1).unwrap(), "timestamp", 0).unwrap();
        assert_eq!(df.get_column_names(), ["s", "v", "b", "at", "n", "x", "timestamp"]);
        assert_eq!(symbols, ["s"]);
        let column = |name: &str| df.column(name).unwrap().clone();
        assert_eq!(column("s").str().unwrap().iter().collect::<Vec<_>>(), [Some("a"), Some("b"), None]);
        assert_eq!(column("v").str().unwrap().iter().collect::<Vec<_>>(), [Some("x"), None, None]);
        assert_eq!(column("b").bool().unwrap().iter().collect::<Vec<_>>(), [Some(true), None, Some(false)]);
        assert_eq!(column("at").dtype(), &DataType::Datetime(TimeUnit::Microseconds, None));
        assert_eq!(column("at").datetime().unwrap().physical().iter().collect::<Vec<_>>(), [Some(5), None, None]);
        assert_eq!(column("n").i64().unwrap().iter().collect::<Vec<_>>(), [Some(1), Some(3), None]);
        assert_eq!(column("x").f64().unwrap().iter().collect::<Vec<_>>(), [Some(0.5), None, Some(1.5)]);
    }

    #[test]
    fn lines_of_a_table_become_one_frame_with_nulls_for_missing_fields() {
        let lines = parse_body("t,s=a x=1.5 1000\nt y=2i 2000", 1).unwrap();
        let (df, _) = frame(lines, "timestamp", 0).unwrap();
        assert_eq!(df.get_column_names(), ["s", "x", "y", "timestamp"]);
        assert_eq!(df.column("x").unwrap().f64().unwrap().get(1), None);
        assert_eq!(df.column("y").unwrap().i64().unwrap().get(1), Some(2));
        // Nanoseconds 1000 and 2000 are microseconds 1 and 2.
        assert_eq!(df.column("timestamp").unwrap().datetime().unwrap().physical().get(1), Some(2));
        let clash = parse_body("t x=1.5\nt x=2i", 1).unwrap();
        assert_eq!(frame(clash, "timestamp", 0).unwrap_err().line, 2);
        // A clash is named by its line in the body, blank lines and comments counted.
        let clash = parse_body("t x=1.5\n# a comment\n\nt x=2i\n", 1).unwrap();
        assert_eq!(frame(clash, "timestamp", 0).unwrap_err().line, 4);
    }
}
