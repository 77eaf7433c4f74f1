//! Messages to rows. Each format has a fixed output schema; a message is
//! zero rows (an ack, a heartbeat, another event type), one row, or, for
//! generic JSON with `rows` and for CSV, many. A message's rows are decoded
//! under the pending batch's lock and taken by the writer together, so they
//! are appended in one batch: a Kafka offset, which they share, is in the
//! table whole or not at all.

use polars::prelude::*;
use serde_json::Value;

use crate::spec::{ColumnKind, Format, SourceSpec};

/// The columns a Kafka source adds to each row.
pub(crate) const KAFKA_TOPIC: &str = "kafka_topic";
pub(crate) const KAFKA_PARTITION: &str = "kafka_partition";
pub(crate) const KAFKA_OFFSET: &str = "kafka_offset";

/// The rows decoded so far, column by column.
pub(crate) struct Rows {
    columns: Vec<(String, ColumnKind, Vec<Cell>)>,
    timestamp: String,
}

/// One decoded value (None: missing or null).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Float(f64),
    Int(i64),
    Str(String),
    Bool(bool),
    /// Microseconds since the epoch.
    Micros(i64),
}

/// Where a column's value is in a message.
#[derive(Debug, Clone)]
enum Locator {
    /// Not in the message (a fixed format's field, a Kafka column).
    Fixed,
    /// A JSON pointer in the row (the message, without `rows`).
    Pointer(Pointer),
    /// A JSON pointer in the whole message (with `rows`).
    MessagePointer(Pointer),
    /// A CSV field, from 0.
    Field(usize),
    /// A part of the Kafka record.
    Kafka(KafkaPart),
}

#[derive(Debug, Clone)]
enum KafkaPart {
    Key,
    Timestamp,
    Header(String),
}

/// What a Kafka record holds beside its value.
#[derive(Debug, Default)]
pub(crate) struct Record<'a> {
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) timestamp_ms: Option<i64>,
    pub(crate) headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

impl Record<'_> {
    /// The cell of `part` as `kind`; null where the record lacks it.
    fn cell(&self, part: &KafkaPart, kind: ColumnKind, name: &str) -> Result<Cell, String> {
        let bytes = match part {
            KafkaPart::Timestamp => return Ok(self.timestamp_ms.map_or(Cell::Null, |ms| Cell::Micros(ms * 1_000))),
            KafkaPart::Key => self.key,
            // The last of a repeated header, as Kafka's own lastHeader.
            KafkaPart::Header(header) => self.headers.iter().rev().find(|(k, _)| k == header).and_then(|(_, v)| *v),
        };
        let Some(bytes) = bytes else { return Ok(Cell::Null) };
        let text = std::str::from_utf8(bytes).map_err(|_| format!("column {name}: the record's bytes are not UTF-8"))?;
        text_cell(text, kind, name)
    }
}

/// What one message gave.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Decoded {
    /// Rows added.
    pub(crate) rows: usize,
    /// Rows that could not be decoded (1 for a message that is not JSON).
    pub(crate) errors: usize,
    /// Why the first of them could not.
    pub(crate) error: Option<String>,
}

impl Decoded {
    fn fail(&mut self, why: String) {
        self.errors += 1;
        self.error.get_or_insert(why);
    }
}

/// A message's rows, each its cells or why it has none.
type Records = Vec<Result<Vec<Cell>, String>>;

/// A JSON pointer and the value it must lead to.
type Condition = Option<(Pointer, String)>;

/// A JSON pointer (RFC 6901) split into its keys once, not at every row:
/// serde_json's `Value::pointer` parses and unescapes the text each time.
#[derive(Debug, Clone)]
struct Pointer(Vec<String>);

impl Pointer {
    fn new(text: &str) -> Self {
        Self(text.split('/').skip(1).map(|key| key.replace("~1", "/").replace("~0", "~")).collect())
    }

    fn find<'a>(&self, mut value: &'a Value) -> Option<&'a Value> {
        for key in &self.0 {
            value = match value {
                Value::Object(map) => map.get(key)?,
                // An index has no sign and no leading zero.
                Value::Array(list) if key == "0" || !key.starts_with(['0', '+']) => list.get(key.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(value)
    }
}

/// Turns one message into cells, in the order of [`Decoder::schema`].
pub(crate) struct Decoder {
    format: Format,
    schema: Vec<(String, ColumnKind, Locator)>,
    when: Condition,
    rows: Option<String>,
    row_when: Condition,
    timestamp: String,
    separator: u8,
}

/// The columns a source's rows have.
pub(crate) fn column_names(spec: &SourceSpec) -> Vec<String> {
    Decoder::new(spec).schema.into_iter().map(|(name, _, _)| name).collect()
}


impl Decoder {
    pub(crate) fn new(spec: &SourceSpec) -> Self {
        let fixed = |cols: &[(&str, ColumnKind)]| cols.iter().map(|(n, k)| (n.to_string(), *k, Locator::Fixed)).collect();
        let schema = match spec.format {
            Format::BinanceTrade => fixed(&[
                ("symbol", ColumnKind::Symbol),
                ("ts", ColumnKind::TimestampMs),
                ("price", ColumnKind::Float),
                ("size", ColumnKind::Float),
                ("trade_id", ColumnKind::Int),
                ("buyer_is_maker", ColumnKind::Bool),
            ]),
            Format::CoinbaseMatches => fixed(&[
                ("symbol", ColumnKind::Symbol),
                ("ts", ColumnKind::TimestampIso),
                ("price", ColumnKind::Float),
                ("size", ColumnKind::Float),
                ("trade_id", ColumnKind::Int),
                ("side", ColumnKind::String),
            ]),
            Format::Json => spec
                .columns
                .iter()
                .map(|(n, c)| {
                    let locator = match (kafka_part(c.kafka.as_deref()), &c.message_path) {
                        (Some(part), _) => Locator::Kafka(part),
                        (None, Some(p)) => Locator::MessagePointer(Pointer::new(p)),
                        (None, None) => Locator::Pointer(Pointer::new(&c.path)),
                    };
                    (n.clone(), c.kind, locator)
                })
                .collect(),
            Format::Csv => spec
                .columns
                .iter()
                .map(|(n, c)| {
                    let locator = kafka_part(c.kafka.as_deref())
                        .map_or_else(|| Locator::Field(c.field.unwrap_or_default()), Locator::Kafka);
                    (n.clone(), c.kind, locator)
                })
                .collect(),
        };
        let mut schema: Vec<(String, ColumnKind, Locator)> = schema;
        if spec.kafka.is_some() {
            // Where each row came from: offsets already in the table are skipped when read again.
            for (name, kind) in [(KAFKA_TOPIC, ColumnKind::String), (KAFKA_PARTITION, ColumnKind::Int), (KAFKA_OFFSET, ColumnKind::Int)] {
                schema.push((name.to_string(), kind, Locator::Fixed));
            }
        }
        // `check` allows only an ASCII separator.
        let separator = spec.separator.map_or(b',', |c| c as u8);
        Self {
            format: spec.format,
            schema,
            when: spec.when.as_deref().map(Pointer::new).zip(spec.when_equals.clone()),
            rows: spec.rows.clone(),
            row_when: spec.row_when.as_deref().map(Pointer::new).zip(spec.row_when_equals.clone()),
            timestamp: spec.timestamp_column().to_string(),
            separator,
        }
    }

    pub(crate) fn rows(&self) -> Rows {
        Rows {
            columns: self.schema.iter().map(|(n, k, _)| (n.clone(), *k, Vec::new())).collect(),
            timestamp: self.timestamp.clone(),
        }
    }

    /// Decode one text message into `rows`.
    #[cfg(test)]
    pub(crate) fn decode(&self, text: &str, rows: &mut Rows) -> Decoded {
        self.decode_with(text, rows, Vec::new(), &Record::default())
    }

    /// [`Decoder::decode`], with `extra` cells for the columns after the
    /// message's own (a Kafka message's topic, partition and offset), the
    /// same in each of its rows, and the Kafka `record` the message is the
    /// value of. A row that cannot be decoded is counted and left out; the
    /// message's other rows are kept.
    pub(crate) fn decode_with(&self, text: &str, rows: &mut Rows, extra: Vec<Cell>, record: &Record) -> Decoded {
        let mut decoded = Decoded::default();
        let own = self.schema.len() - extra.len();
        let records = match self.format {
            Format::Csv => self.csv_records(text, own, record),
            _ => self.json_records(text, own, record),
        };
        let records = match records {
            Ok(records) => records,
            Err(e) => {
                decoded.fail(e);
                return decoded;
            },
        };
        // A row without its time cannot be placed in the table.
        let ts_index = rows.columns.iter().position(|(n, ..)| *n == rows.timestamp).expect("the timestamp is a column");
        for record in records {
            let mut cells = match record {
                Ok(cells) if cells[ts_index] == Cell::Null => {
                    let why = match self.rows {
                        Some(_) => format!("a row has no {}", rows.timestamp),
                        None => format!("the message has no {}", rows.timestamp),
                    };
                    decoded.fail(why);
                    continue;
                },
                Ok(cells) => cells,
                Err(e) => {
                    decoded.fail(e);
                    continue;
                },
            };
            cells.extend(extra.iter().cloned());
            for ((_, _, column), value) in rows.columns.iter_mut().zip(cells) {
                column.push(value);
            }
            decoded.rows += 1;
        }
        decoded
    }

    /// The records of a CSV message, one per line, by their own columns.
    fn csv_records(&self, text: &str, own: usize, kafka: &Record) -> Result<Records, String> {
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(self.separator).from_reader(text.as_bytes());
        let records = reader.records().map(|record| {
            let record = record.map_err(|e| format!("not CSV: {e}"))?;
            let mut cells = Vec::with_capacity(self.schema.len());
            for (name, kind, locator) in &self.schema[..own] {
                let field = match locator {
                    Locator::Field(field) => field,
                    Locator::Kafka(part) => {
                        cells.push(kafka.cell(part, *kind, name)?);
                        continue;
                    },
                    _ => return Err(format!("column {name} has no CSV field")),
                };
                let value = record
                    .get(*field)
                    .ok_or_else(|| format!("column {name}: the record has {} fields, not field {field}", record.len()))?;
                cells.push(text_cell(value, *kind, name)?);
            }
            Ok(cells)
        });
        Ok(records.collect())
    }

    /// The rows of a JSON message, by their own columns.
    fn json_records(&self, text: &str, own: usize, kafka: &Record) -> Result<Records, String> {
        let message: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let record = match self.format {
            Format::BinanceTrade => {
                // Combined streams wrap each event: {"stream": ..., "data": {...}}.
                let event = message.get("data").unwrap_or(&message);
                if event.get("e").and_then(Value::as_str) != Some("trade") {
                    return Ok(Vec::new());
                }
                (|| {
                    Ok(vec![
                        cell(event.get("s"), ColumnKind::String, "s")?,
                        // The trade time, not the event time "E".
                        cell(event.get("T"), ColumnKind::TimestampMs, "T")?,
                        cell(event.get("p"), ColumnKind::Float, "p")?,
                        cell(event.get("q"), ColumnKind::Float, "q")?,
                        cell(event.get("t"), ColumnKind::Int, "t")?,
                        cell(event.get("m"), ColumnKind::Bool, "m")?,
                    ])
                })()
            },
            Format::CoinbaseMatches => {
                // "last_match" repeats a trade already seen before a reconnect.
                if message.get("type").and_then(Value::as_str) != Some("match") {
                    return Ok(Vec::new());
                }
                (|| {
                    Ok(vec![
                        cell(message.get("product_id"), ColumnKind::String, "product_id")?,
                        cell(message.get("time"), ColumnKind::TimestampIso, "time")?,
                        cell(message.get("price"), ColumnKind::Float, "price")?,
                        cell(message.get("size"), ColumnKind::Float, "size")?,
                        cell(message.get("trade_id"), ColumnKind::Int, "trade_id")?,
                        cell(message.get("side"), ColumnKind::String, "side")?,
                    ])
                })()
            },
            Format::Json | Format::Csv => {
                if !holds(&message, &self.when) {
                    return Ok(Vec::new());
                }
                let elements: Vec<&Value> = match &self.rows {
                    None => vec![&message],
                    Some(path) => rows_at(&message, path)?,
                };
                let rows = elements.into_iter().filter(|row| holds(row, &self.row_when));
                return Ok(rows.map(|row| self.json_row(&message, row, own, kafka)).collect());
            },
        };
        Ok(vec![record])
    }

    /// One row's cells: each column's pointer in the row, or in the message.
    fn json_row(&self, message: &Value, row: &Value, own: usize, kafka: &Record) -> Result<Vec<Cell>, String> {
        let mut cells = Vec::with_capacity(self.schema.len());
        for (name, kind, locator) in &self.schema[..own] {
            let value = match locator {
                Locator::Pointer(path) => path.find(row),
                Locator::MessagePointer(path) => path.find(message),
                Locator::Kafka(part) => {
                    cells.push(kafka.cell(part, *kind, name)?);
                    continue;
                },
                _ => return Err(format!("column {name} has no JSON path")),
            };
            cells.push(cell(value, *kind, name)?);
        }
        Ok(cells)
    }
}

/// A column's `kafka` part (checked by `SourceSpec::check`).
fn kafka_part(part: Option<&str>) -> Option<KafkaPart> {
    Some(match part? {
        "key" => KafkaPart::Key,
        "timestamp" => KafkaPart::Timestamp,
        header => KafkaPart::Header(header.strip_prefix("header:").unwrap_or(header).to_string()),
    })
}

/// The rows of `message` at `pointer`: the elements of the array there. A
/// `*` segment stands for each element of the array at that point
/// (Coinbase's `/events/*/trades`). Where the path leads nowhere (a
/// heartbeat, an acknowledgement) there are no rows.
fn rows_at<'a>(message: &'a Value, pointer: &str) -> Result<Vec<&'a Value>, String> {
    let elements = |value: &'a Value, at: &str| match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(elements) => Ok(elements.iter().collect()),
        other if at == pointer => Err(format!("rows {pointer:?} is {}, not an array", json_kind(other))),
        other => Err(format!("rows {pointer:?}: {at:?} is {}, not an array", json_kind(other))),
    };
    let mut found = vec![message];
    let mut walked = String::new();
    for segment in pointer.split('/').skip(1) {
        let mut next = Vec::new();
        for value in found {
            if segment == "*" {
                next.extend(elements(value, &walked)?);
            } else if let Some(child) = value.pointer(&format!("/{segment}")) {
                next.push(child);
            }
        }
        walked.push('/');
        walked.push_str(segment);
        found = next;
    }
    let mut rows = Vec::new();
    for value in found {
        rows.extend(elements(value, &walked)?);
    }
    Ok(rows)
}

/// Whether `value` meets the condition (none: always).
fn holds(value: &Value, condition: &Condition) -> bool {
    let Some((path, equals)) = condition else { return true };
    match path.find(value) {
        Some(Value::String(s)) => s == equals,
        Some(other) => other.to_string() == *equals,
        None => false,
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One CSV field as `kind`: empty is null, as in polars' CSV reader.
fn text_cell(text: &str, kind: ColumnKind, field: &str) -> Result<Cell, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Cell::Null);
    }
    if kind == ColumnKind::Bool {
        return boolean(text).map(Cell::Bool).ok_or_else(|| format!("field {field}: {text:?} is not Bool"));
    }
    cell(Some(&Value::String(text.to_string())), kind, field)
}

/// A boolean written as text, as CSV and some feeds write them.
fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" => Some(true),
        "false" | "f" | "0" => Some(false),
        _ => None,
    }
}

/// One JSON value as `kind`; numbers may come as strings, as exchanges send them.
fn cell(value: Option<&Value>, kind: ColumnKind, field: &str) -> Result<Cell, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(Cell::Null) };
    let bad = || format!("field {field}: {value} is not {kind:?}");
    let number = |v: &Value| -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    let integer = |v: &Value| -> Option<i64> {
        match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    Ok(match kind {
        ColumnKind::Float => Cell::Float(number(value).ok_or_else(bad)?),
        ColumnKind::Int => Cell::Int(integer(value).ok_or_else(bad)?),
        ColumnKind::String | ColumnKind::Symbol => match value {
            Value::String(s) => Cell::Str(s.clone()),
            other => Cell::Str(other.to_string()),
        },
        ColumnKind::Bool => Cell::Bool(match value {
            Value::Bool(b) => *b,
            Value::String(s) => boolean(s).ok_or_else(bad)?,
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => n.as_i64() == Some(1),
            _ => return Err(bad()),
        }),
        ColumnKind::TimestampS => Cell::Micros(epoch_micros(value, 6).ok_or_else(bad)?),
        ColumnKind::TimestampMs => Cell::Micros(epoch_micros(value, 3).ok_or_else(bad)?),
        ColumnKind::TimestampUs => Cell::Micros(epoch_micros(value, 0).ok_or_else(bad)?),
        ColumnKind::TimestampNs => Cell::Micros(epoch_micros(value, -3).ok_or_else(bad)?),
        ColumnKind::TimestampIso => {
            let text = value.as_str().ok_or_else(bad)?;
            let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| format!("field {field}: {text:?}: {e}"))?;
            Cell::Micros(at.timestamp_micros())
        },
    })
}

/// A time since the epoch in a unit `digits` decimal places above the
/// microsecond (s 6, ms 3, us 0, ns -3), as microseconds. Feeds send
/// integers, and also fractions: Kraken's `"1534614057.321597"` seconds.
/// A decimal string is read exactly; digits below the microsecond are
/// dropped (as nanoseconds' are).
fn epoch_micros(value: &Value, digits: i32) -> Option<i64> {
    let whole = |n: i64| match digits {
        0.. => n.checked_mul(10i64.pow(digits as u32)),
        _ => Some(n.div_euclid(10i64.pow(digits.unsigned_abs()))),
    };
    let float = |x: f64| {
        let micros = (x * 10f64.powi(digits)).round();
        (micros.is_finite() && micros.abs() < 9.2e18).then_some(micros as i64)
    };
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(n) => whole(n),
            None => float(n.as_f64()?),
        },
        Value::String(s) => {
            let s = s.trim();
            match s.parse::<i64>() {
                Ok(n) => whole(n),
                Err(_) => decimal_micros(s, digits).or_else(|| float(s.parse().ok()?)),
            }
        },
        _ => None,
    }
}

/// `[-]digits.digits` scaled by 10^`digits` to whole microseconds, exactly.
fn decimal_micros(text: &str, digits: i32) -> Option<i64> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, fraction) = unsigned.split_once('.')?;
    if int.len() + fraction.len() == 0 || !int.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // The integer's digits then the fraction's, to the microsecond.
    let places = digits.max(0) as usize;
    let kept: String = int.chars().chain(fraction.chars().chain(std::iter::repeat('0')).take(places)).collect();
    let mut micros: i128 = if kept.is_empty() { 0 } else { kept.parse().ok()? };
    if digits < 0 {
        micros /= 10i128.pow(digits.unsigned_abs());
    }
    i64::try_from(if negative { -micros } else { micros }).ok()
}

impl Rows {
    pub(crate) fn len(&self) -> usize {
        self.columns.first().map_or(0, |(_, _, c)| c.len())
    }

    /// The columns the table stores as SYMBOL.
    pub(crate) fn symbol_columns(&self) -> Vec<String> {
        self.columns.iter().filter(|(_, kind, _)| *kind == ColumnKind::Symbol).map(|(name, _, _)| name.clone()).collect()
    }

    /// Forget the rows, keeping the columns.
    pub(crate) fn clear(&mut self) {
        for (_, _, cells) in &mut self.columns {
            cells.clear();
        }
    }

    /// The designated timestamp of the last row, in microseconds.
    pub(crate) fn last_time(&self) -> Option<i64> {
        let (_, _, cells) = self.columns.iter().find(|(n, ..)| *n == self.timestamp)?;
        match cells.last()? {
            Cell::Micros(t) => Some(*t),
            _ => None,
        }
    }

    /// The rows as a frame (timestamps as Datetime(us)), leaving `self` empty.
    pub(crate) fn take_frame(&mut self) -> PolarsResult<DataFrame> {
        let height = self.len();
        let mut out = Vec::with_capacity(self.columns.len());
        for (name, kind, cells) in &mut self.columns {
            let cells = std::mem::take(cells);
            let name: PlSmallStr = name.as_str().into();
            let column = match kind {
                ColumnKind::Float => Column::new(name, cells.iter().map(|c| if let Cell::Float(x) = c { Some(*x) } else { None }).collect::<Vec<_>>()),
                ColumnKind::Int => Column::new(name, cells.iter().map(|c| if let Cell::Int(x) = c { Some(*x) } else { None }).collect::<Vec<_>>()),
                ColumnKind::Bool => Column::new(name, cells.iter().map(|c| if let Cell::Bool(x) = c { Some(*x) } else { None }).collect::<Vec<_>>()),
                ColumnKind::String | ColumnKind::Symbol => Column::new(
                    name,
                    cells.iter().map(|c| if let Cell::Str(x) = c { Some(x.as_str()) } else { None }).collect::<Vec<_>>(),
                ),
                _ => Column::new(name, cells.iter().map(|c| if let Cell::Micros(x) = c { Some(*x) } else { None }).collect::<Vec<_>>())
                    .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?,
            };
            out.push(column);
        }
        DataFrame::new(height, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ColumnSpec, WebsocketFeed};

    fn spec(format: Format) -> SourceSpec {
        SourceSpec {
            name: "t".into(),
            table: "t".into(),
            websocket: Some(WebsocketFeed { url: "ws://x".into(), ..Default::default() }),
            kafka: None,
            format,
            columns: Default::default(),
            timestamp: None,
            when: None,
            when_equals: None,
            rows: None,
            row_when: None,
            row_when_equals: None,
            batch_rows: None,
            batch_ms: None,
            max_pending_rows: None,
            separator: None,
            ttl: None,
            max_table_bytes: None,
            upsert_keys: None,
        }
    }

    #[test]
    fn binance_trades_raw_and_combined() {
        let d = Decoder::new(&spec(Format::BinanceTrade));
        let mut rows = d.rows();
        let raw = r#"{"e":"trade","E":1700000000123,"s":"BTCUSDT","t":42,"p":"37000.10","q":"0.005","T":1700000000120,"m":true,"M":true}"#;
        assert_eq!(d.decode(raw, &mut rows).rows, 1);
        let combined = format!(r#"{{"stream":"btcusdt@trade","data":{raw}}}"#);
        assert_eq!(d.decode(&combined, &mut rows).rows, 1);
        assert_eq!(d.decode(r#"{"result":null,"id":1}"#, &mut rows), Decoded::default());
        let df = rows.take_frame().unwrap();
        assert_eq!(df.height(), 2);
        assert_eq!(df.column("price").unwrap().f64().unwrap().get(0), Some(37000.10));
        assert_eq!(df.column("ts").unwrap().datetime().unwrap().physical().get(1), Some(1_700_000_000_120_000));
        assert_eq!(df.column("buyer_is_maker").unwrap().bool().unwrap().get(0), Some(true));
        assert_eq!(rows.len(), 0);
    }

    #[test]
    fn coinbase_matches_skip_other_types_and_parse_iso_times() {
        let d = Decoder::new(&spec(Format::CoinbaseMatches));
        let mut rows = d.rows();
        let m = r#"{"type":"match","trade_id":10,"maker_order_id":"a","taker_order_id":"b","side":"sell","size":"0.25","price":"2001.5","product_id":"ETH-USD","sequence":5,"time":"2024-03-01T12:00:00.123456Z"}"#;
        assert_eq!(d.decode(m, &mut rows).rows, 1);
        assert_eq!(d.decode(&m.replace("\"match\"", "\"last_match\""), &mut rows), Decoded::default());
        assert_eq!(d.decode(r#"{"type":"subscriptions","channels":[]}"#, &mut rows), Decoded::default());
        let df = rows.take_frame().unwrap();
        assert_eq!(df.height(), 1);
        // 2024-03-01T12:00:00Z = 1709294400 s.
        assert_eq!(df.column("ts").unwrap().datetime().unwrap().physical().get(0), Some(1_709_294_400_123_456));
        assert_eq!(df.column("side").unwrap().str().unwrap().get(0), Some("sell"));
    }

    #[test]
    fn generic_json_by_pointer_with_a_filter_and_clear_errors() {
        let mut s = spec(Format::Json);
        s.columns.insert("sym".into(), ColumnSpec::path("/d/s", ColumnKind::String));
        s.columns.insert("px".into(), ColumnSpec::path("/d/p", ColumnKind::Float));
        s.columns.insert("at".into(), ColumnSpec::path("/d/t", ColumnKind::TimestampNs));
        s.timestamp = Some("at".into());
        s.when = Some("/kind".into());
        s.when_equals = Some("tick".into());
        s.check().unwrap();
        let d = Decoder::new(&s);
        let mut rows = d.rows();
        assert_eq!(d.decode(r#"{"kind":"tick","d":{"s":"X","p":"1.5","t":1700000000000001999}}"#, &mut rows).rows, 1);
        assert_eq!(d.decode(r#"{"kind":"hb"}"#, &mut rows), Decoded::default());
        let err = d.decode(r#"{"kind":"tick","d":{"s":"X","p":"abc","t":1}}"#, &mut rows).error.unwrap();
        assert!(err.contains("px"), "{err}");
        let err = d.decode(r#"{"kind":"tick","d":{"s":"X","p":1}}"#, &mut rows).error.unwrap();
        assert!(err.contains("no at"), "{err}");
        let df = rows.take_frame().unwrap();
        assert_eq!(df.get_column_names(), ["at", "px", "sym"]);
        assert_eq!(df.column("at").unwrap().datetime().unwrap().physical().get(0), Some(1_700_000_000_000_001));
    }

    fn csv_spec(separator: Option<char>) -> SourceSpec {
        let mut s = spec(Format::Csv);
        s.separator = separator;
        for (name, field, kind) in [("sym", 0, ColumnKind::String), ("at", 1, ColumnKind::TimestampIso), ("px", 2, ColumnKind::Float), ("ok", 4, ColumnKind::Bool)] {
            s.columns.insert(name.into(), ColumnSpec::field(field, kind));
        }
        s.timestamp = Some("at".into());
        s
    }

    #[test]
    fn csv_records_by_field_with_quotes_nulls_and_clear_errors() {
        let s = csv_spec(None);
        s.check().unwrap();
        let d = Decoder::new(&s);
        let mut rows = d.rows();
        assert_eq!(d.decode("\"BRK,B\",2024-03-08T14:30:00Z,412.5,ignored,true\n", &mut rows).rows, 1);
        assert_eq!(d.decode("MSFT,2024-03-08T14:30:01.5Z,,x,0", &mut rows).rows, 1);
        assert_eq!(d.decode("", &mut rows), Decoded::default());
        let err = d.decode("A,2024-03-08T14:30:00Z,abc,x,true", &mut rows).error.unwrap();
        assert!(err.contains("px"), "{err}");
        let err = d.decode("A,2024-03-08T14:30:00Z,1", &mut rows).error.unwrap();
        assert!(err.contains("ok") && err.contains("3 fields"), "{err}");
        let err = d.decode("A,,1,x,yes", &mut rows).error.unwrap();
        assert!(err.contains("ok") || err.contains("no at"), "{err}");
        let df = rows.take_frame().unwrap();
        assert_eq!(df.get_column_names(), ["at", "ok", "px", "sym"]);
        assert_eq!(df.column("sym").unwrap().str().unwrap().get(0), Some("BRK,B"));
        assert_eq!(df.column("px").unwrap().f64().unwrap().iter().collect::<Vec<_>>(), [Some(412.5), None]);
        assert_eq!(df.column("ok").unwrap().bool().unwrap().iter().collect::<Vec<_>>(), [Some(true), Some(false)]);
        assert_eq!(df.column("at").unwrap().datetime().unwrap().physical().get(1), Some(1_709_908_201_500_000));

        // A message of several lines is as many rows; a bad line is counted
        // and the others kept. Blank lines are no records.
        let several = "A,2024-03-08T14:30:00Z,1,x,true\r\n\nB,2024-03-08T14:30:02Z,2,x,false\nC,2024-03-08T14:30:03Z,oops,x,1\n";
        let decoded = d.decode(several, &mut rows);
        assert_eq!((decoded.rows, decoded.errors), (2, 1), "{decoded:?}");
        assert!(decoded.error.unwrap().contains("px"));
        let df = rows.take_frame().unwrap();
        assert_eq!(df.column("sym").unwrap().str().unwrap().iter().collect::<Vec<_>>(), [Some("A"), Some("B")]);
        assert_eq!(df.column("px").unwrap().f64().unwrap().iter().collect::<Vec<_>>(), [Some(1.0), Some(2.0)]);

        let d = Decoder::new(&csv_spec(Some(';')));
        let mut rows = d.rows();
        assert_eq!(d.decode("A;2024-03-08T14:30:00Z;1,5;x;1", &mut rows).errors, 1); // 1,5 is no number
        assert_eq!(d.decode("A,B;2024-03-08T14:30:00Z;1.5;x;1", &mut rows).rows, 1);
        assert_eq!(rows.take_frame().unwrap().column("sym").unwrap().str().unwrap().get(0), Some("A,B"));
    }

    #[test]
    fn csv_and_json_columns_are_checked_for_their_format() {
        let mut s = csv_spec(None);
        s.columns.get_mut("px").unwrap().field = None;
        assert!(s.check().unwrap_err().to_string().contains("column px"));
        let mut s = csv_spec(Some('"'));
        assert!(s.check().unwrap_err().to_string().contains("separator"));
        s.separator = None;
        s.when = Some("/x".into());
        assert!(s.check().unwrap_err().to_string().contains("json only"));
        let mut j = spec(Format::Json);
        j.columns.insert("ts".into(), ColumnSpec { field: Some(1), ..ColumnSpec::path("/t", ColumnKind::TimestampMs) });
        assert!(j.check().unwrap_err().to_string().contains("field is for format csv"));
        j.columns.get_mut("ts").unwrap().field = None;
        j.check().unwrap();
        j.separator = Some(';');
        assert!(j.check().unwrap_err().to_string().contains("csv only"));
    }

    fn json_spec(rows: Option<&str>, columns: &[(&str, &str, ColumnKind)]) -> SourceSpec {
        let mut s = spec(Format::Json);
        s.rows = rows.map(str::to_string);
        for (name, path, kind) in columns {
            let column = match path.strip_prefix("message:") {
                Some(p) => ColumnSpec::message_path(p, *kind),
                None => ColumnSpec::path(path, *kind),
            };
            s.columns.insert(name.to_string(), column);
        }
        s
    }

    fn strings(df: &DataFrame, name: &str) -> Vec<String> {
        df.column(name).unwrap().str().unwrap().iter().map(|s| s.unwrap().to_string()).collect()
    }

    fn floats(df: &DataFrame, name: &str) -> Vec<f64> {
        df.column(name).unwrap().f64().unwrap().into_no_null_iter().collect()
    }

    fn micros(df: &DataFrame, name: &str) -> Vec<i64> {
        df.column(name).unwrap().datetime().unwrap().physical().into_no_null_iter().collect()
    }

    /// Kraken's v2 `trade` channel (docs.kraken.com): the envelope names the
    /// channel and the type, `data` holds the trades. Heartbeats and status
    /// messages are other channels; `status` has a `data` array of its own.
    #[test]
    fn rows_of_an_array_inside_the_message_with_the_envelope_filtered() {
        let mut s = json_spec(
            Some("/data"),
            &[("symbol", "/symbol", ColumnKind::String), ("price", "/price", ColumnKind::Float),
              ("qty", "/qty", ColumnKind::Float), ("side", "/side", ColumnKind::String),
              ("trade_id", "/trade_id", ColumnKind::Int), ("ts", "/timestamp", ColumnKind::TimestampIso),
              ("kind", "message:/type", ColumnKind::String)],
        );
        s.when = Some("/channel".into());
        s.when_equals = Some("trade".into());
        s.check().unwrap();
        let d = Decoder::new(&s);
        let mut rows = d.rows();
        let trades = r#"{"channel":"trade","type":"update","data":[
            {"symbol":"BTC/USD","side":"sell","price":26500.1,"qty":0.015,"ord_type":"market","trade_id":501,"timestamp":"2023-09-25T07:49:37.708706Z"},
            {"symbol":"BTC/USD","side":"buy","price":26500.2,"qty":0.5,"ord_type":"limit","trade_id":502,"timestamp":"2023-09-25T07:49:38.123456789Z"}]}"#;
        assert_eq!(d.decode(trades, &mut rows).rows, 2);
        assert_eq!(d.decode(r#"{"channel":"heartbeat"}"#, &mut rows), Decoded::default());
        let status = r#"{"channel":"status","type":"update","data":[{"version":"2.0.0","system":"online","api_version":"v2","connection_id":1,"timestamp":"x"}]}"#;
        assert_eq!(d.decode(status, &mut rows), Decoded::default());
        // An empty update, and one whose data is missing: no rows, no error.
        assert_eq!(d.decode(r#"{"channel":"trade","type":"update","data":[]}"#, &mut rows), Decoded::default());
        assert_eq!(d.decode(r#"{"channel":"trade","type":"update"}"#, &mut rows), Decoded::default());
        // One bad trade among good ones: counted, the others kept.
        let mixed = r#"{"channel":"trade","type":"snapshot","data":[
            {"symbol":"ETH/USD","side":"buy","price":"1590.5","qty":2,"trade_id":77,"timestamp":"2023-09-25T07:50:00Z"},
            {"symbol":"ETH/USD","side":"buy","price":"n/a","qty":1,"trade_id":78,"timestamp":"2023-09-25T07:50:01Z"},
            {"symbol":"ETH/USD","side":"sell","price":1590.25,"qty":1,"trade_id":79}]}"#;
        let decoded = d.decode(mixed, &mut rows);
        assert_eq!((decoded.rows, decoded.errors), (1, 2), "{decoded:?}");
        assert!(decoded.error.unwrap().contains("price"));
        let err = d.decode(r#"{"channel":"trade","data":{"symbol":"X"}}"#, &mut rows).error.unwrap();
        assert_eq!(err, r#"rows "/data" is an object, not an array"#);

        let df = rows.take_frame().unwrap();
        assert_eq!(strings(&df, "symbol"), ["BTC/USD", "BTC/USD", "ETH/USD"]);
        assert_eq!(strings(&df, "kind"), ["update", "update", "snapshot"]);
        assert_eq!(strings(&df, "side"), ["sell", "buy", "buy"]);
        assert_eq!(floats(&df, "price"), [26500.1, 26500.2, 1590.5]);
        assert_eq!(floats(&df, "qty"), [0.015, 0.5, 2.0]);
        // 2023-09-25T07:49:37Z = 1695628177 s; nanoseconds beyond the microsecond are dropped.
        assert_eq!(micros(&df, "ts"), [1_695_628_177_708_706, 1_695_628_178_123_456, 1_695_628_200_000_000]);
    }

    /// Polygon's stocks WebSocket (polygon.io docs): every message is an
    /// array of events of any kind (`ev`: `T` trades, `Q` quotes, `status`).
    #[test]
    fn a_message_that_is_an_array_with_rows_filtered_by_their_kind() {
        let mut s = json_spec(
            Some(""),
            &[("symbol", "/sym", ColumnKind::String), ("price", "/p", ColumnKind::Float),
              ("size", "/s", ColumnKind::Int), ("ts", "/t", ColumnKind::TimestampMs)],
        );
        s.row_when = Some("/ev".into());
        s.row_when_equals = Some("T".into());
        s.check().unwrap();
        let d = Decoder::new(&s);
        let mut rows = d.rows();
        let auth = r#"[{"ev":"status","status":"auth_success","message":"authenticated"}]"#;
        assert_eq!(d.decode(auth, &mut rows), Decoded::default());
        let events = r#"[{"ev":"T","sym":"MSFT","x":4,"i":"12345","z":3,"p":114.125,"s":100,"c":[0,12],"t":1536036818784,"q":3681328},
            {"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,"t":1536036818784},
            {"ev":"T","sym":"AAPL","x":11,"i":"9","z":3,"p":225.03,"s":5,"t":1536036818790,"q":3681329}]"#;
        assert_eq!(d.decode(events, &mut rows).rows, 2);
        let err = d.decode(r#"{"ev":"T"}"#, &mut rows).error.unwrap();
        assert!(err.contains("an object, not an array"), "{err}");
        let df = rows.take_frame().unwrap();
        assert_eq!(strings(&df, "symbol"), ["MSFT", "AAPL"]);
        assert_eq!(floats(&df, "price"), [114.125, 225.03]);
        assert_eq!(micros(&df, "ts"), [1_536_036_818_784_000, 1_536_036_818_790_000]);
    }

    /// Coinbase's Advanced Trade `market_trades` channel (docs.cdp.coinbase.com):
    /// each message holds events, each event an array of trades.
    #[test]
    fn rows_of_arrays_inside_arrays_by_a_wildcard() {
        let mut s = json_spec(
            Some("/events/*/trades"),
            &[("trade_id", "/trade_id", ColumnKind::Int), ("symbol", "/product_id", ColumnKind::String),
              ("price", "/price", ColumnKind::Float), ("size", "/size", ColumnKind::Float),
              ("side", "/side", ColumnKind::String), ("ts", "/time", ColumnKind::TimestampIso)],
        );
        s.when = Some("/channel".into());
        s.when_equals = Some("market_trades".into());
        s.check().unwrap();
        let d = Decoder::new(&s);
        let mut rows = d.rows();
        let trade = |id: i64, px: &str, at: &str| {
            format!(r#"{{"trade_id":"{id}","product_id":"ETH-USD","price":"{px}","size":"0.25","side":"BUY","time":"{at}"}}"#)
        };
        let message = format!(
            r#"{{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":0,
               "events":[{{"type":"snapshot","trades":[{},{}]}},{{"type":"update","trades":[]}},{{"type":"update","trades":[{}]}}]}}"#,
            trade(1, "1260.01", "2019-08-14T20:42:27.265Z"),
            trade(2, "1260.02", "2019-08-14T20:42:28.265Z"),
            trade(3, "1260.03", "2019-08-14T20:42:29.265Z"),
        );
        assert_eq!(d.decode(&message, &mut rows).rows, 3);
        assert_eq!(d.decode(r#"{"channel":"market_trades","events":[{"type":"update"}]}"#, &mut rows), Decoded::default());
        assert_eq!(d.decode(r#"{"channel":"heartbeats","events":[{"current_time":"x"}]}"#, &mut rows), Decoded::default());
        let err = d.decode(r#"{"channel":"market_trades","events":{"trades":[]}}"#, &mut rows).error.unwrap();
        assert_eq!(err, r#"rows "/events/*/trades": "/events" is an object, not an array"#);
        let err = d.decode(r#"{"channel":"market_trades","events":[{"trades":7}]}"#, &mut rows).error.unwrap();
        assert_eq!(err, r#"rows "/events/*/trades" is a number, not an array"#);
        let df = rows.take_frame().unwrap();
        assert_eq!(floats(&df, "price"), [1260.01, 1260.02, 1260.03]);
        assert_eq!(micros(&df, "ts"), [1_565_815_347_265_000, 1_565_815_348_265_000, 1_565_815_349_265_000]);
    }

    /// Kraken's v1 `trade` feed: arrays, not objects. Each trade is
    /// `[price, volume, time, side, type, misc]` with the time in fractional
    /// seconds as text; the pair is the message's last element.
    #[test]
    fn rows_that_are_arrays_with_the_symbol_from_the_message_and_fractional_seconds() {
        let mut s = json_spec(
            Some("/1"),
            &[("price", "/0", ColumnKind::Float), ("volume", "/1", ColumnKind::Float),
              ("ts", "/2", ColumnKind::TimestampS), ("side", "/3", ColumnKind::String),
              ("pair", "message:/3", ColumnKind::String)],
        );
        s.when = Some("/2".into());
        s.when_equals = Some("trade".into());
        s.check().unwrap();
        let d = Decoder::new(&s);
        let mut rows = d.rows();
        assert_eq!(d.decode(r#"{"event":"heartbeat"}"#, &mut rows), Decoded::default());
        let trade = r#"[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""],
            ["6060.00000","0.02455000","1534614057.324998","b","l",""]],"trade","XBT/USD"]"#;
        assert_eq!(d.decode(trade, &mut rows).rows, 2);
        let df = rows.take_frame().unwrap();
        assert_eq!(micros(&df, "ts"), [1_534_614_057_321_597, 1_534_614_057_324_998]);
        assert_eq!(strings(&df, "pair"), ["XBT/USD", "XBT/USD"]);
        assert_eq!(floats(&df, "volume"), [0.15850568, 0.02455]);
    }

    #[test]
    fn kafka_columns_read_the_record_and_are_checked() {
        let mut s = json_spec(None, &[("px", "/p", ColumnKind::Float)]);
        s.websocket = None;
        s.kafka = Some(crate::spec::KafkaFeed {
            brokers: "127.0.0.1:9092".into(),
            topics: vec!["t".into()],
            group: None,
            start: None,
            options: Default::default(),
        });
        for (name, part, kind) in [
            ("ts", "timestamp", ColumnKind::TimestampMs),
            ("sym", "key", ColumnKind::String),
            ("n", "header:n", ColumnKind::Int),
        ] {
            s.columns.insert(name.into(), ColumnSpec::kafka(part, kind));
        }
        s.check().unwrap();
        let d = Decoder::new(&s);
        let mut rows = d.rows();
        let record = Record {
            key: Some(b"AAPL"),
            timestamp_ms: Some(1_700_000_000_123),
            headers: vec![("n", Some(b"1")), ("other", None), ("n", Some(b" 42 "))],
        };
        let extra = vec![Cell::Str("t".into()), Cell::Int(0), Cell::Int(7)];
        assert_eq!(d.decode_with(r#"{"p":1.5}"#, &mut rows, extra.clone(), &record).rows, 1);
        // No key, no header: nulls. No record time: no row.
        let bare = Record { timestamp_ms: Some(1_700_000_000_124), ..Default::default() };
        assert_eq!(d.decode_with(r#"{"p":2.5}"#, &mut rows, extra.clone(), &bare).rows, 1);
        let err = d.decode_with(r#"{"p":3}"#, &mut rows, extra.clone(), &Record::default()).error.unwrap();
        assert!(err.contains("no ts"), "{err}");
        let bad = Record { key: Some(&[0xff, 0xfe]), ..bare };
        let err = d.decode_with(r#"{"p":3}"#, &mut rows, extra.clone(), &bad).error.unwrap();
        assert_eq!(err, "column sym: the record's bytes are not UTF-8");
        let bad = Record { headers: vec![("n", Some(b"many"))], ..Record { timestamp_ms: Some(1), ..Default::default() } };
        assert!(d.decode_with(r#"{"p":3}"#, &mut rows, extra, &bad).error.unwrap().contains("field n"));
        let df = rows.take_frame().unwrap();
        assert_eq!(micros(&df, "ts"), [1_700_000_000_123_000, 1_700_000_000_124_000]);
        assert_eq!(df.column("sym").unwrap().str().unwrap().iter().collect::<Vec<_>>(), [Some("AAPL"), None]);
        // The last of a repeated header, as Kafka's lastHeader.
        assert_eq!(df.column("n").unwrap().i64().unwrap().iter().collect::<Vec<_>>(), [Some(42), None]);

        let mut wrong = s.clone();
        wrong.columns.get_mut("ts").unwrap().kind = ColumnKind::TimestampUs;
        assert!(wrong.check().unwrap_err().to_string().contains("its type is timestamp_ms"));
        let mut wrong = s.clone();
        wrong.columns.get_mut("sym").unwrap().kafka = Some("partition".into());
        assert!(wrong.check().unwrap_err().to_string().contains(r#"kafka = "partition" is not key, timestamp or header:<name>"#));
        let mut wrong = s.clone();
        wrong.columns.get_mut("n").unwrap().kafka = Some("header:".into());
        assert!(wrong.check().unwrap_err().to_string().contains("is not key"));
        let mut wrong = s.clone();
        wrong.columns.get_mut("sym").unwrap().path = "/s".into();
        assert!(wrong.check().unwrap_err().to_string().contains("a kafka column has no path"));
        let mut wrong = s;
        wrong.kafka = None;
        wrong.websocket = Some(WebsocketFeed { url: "ws://x".into(), ..Default::default() });
        assert!(wrong.check().unwrap_err().to_string().contains("is for kafka feeds"));
    }

    #[test]
    fn websocket_pings_are_checked() {
        let mut s = spec(Format::BinanceTrade);
        let ws = s.websocket.as_mut().unwrap();
        ws.ping = Some("ping".into());
        ws.ping_ms = Some(0);
        assert!(s.check().unwrap_err().to_string().contains("ping needs ping_ms above 0"));
        let ws = s.websocket.as_mut().unwrap();
        ws.ping_ms = None;
        s.check().unwrap();
        let ws = s.websocket.as_mut().unwrap();
        assert!(ws.is_pong("pong") && !ws.is_pong("ping") && ws.ping_every() == Some(std::time::Duration::from_secs(20)));
        ws.ping = None;
        assert!(!ws.is_pong("pong"), "without a ping of ours, a pong is a message");
        ws.pong = Some("{\"op\":\"pong\"}".into());
        assert!(s.check().unwrap_err().to_string().contains("pong is the answer to ping"));
        let ws = s.websocket.as_mut().unwrap();
        ws.pong = None;
        ws.ping_ms = Some(0);
        s.check().unwrap();
        assert_eq!(s.websocket.as_ref().unwrap().ping_every(), None, "0: no pings, no silence check");

        let ws = s.websocket.as_mut().unwrap();
        ws.reply = Some(r#"{"pong":$}"#.into());
        assert!(s.check().unwrap_err().to_string().contains("reply_to and reply go together"));
        s.websocket.as_mut().unwrap().reply_to = Some("ping".into());
        assert!(s.check().unwrap_err().to_string().contains(r#"reply_to "ping" is not a JSON pointer"#));
        s.websocket.as_mut().unwrap().reply_to = Some("/ping".into());
        s.check().unwrap();
        let ws = s.websocket.as_ref().unwrap();
        assert_eq!(ws.reply_for(r#"{"ping":1492420473027}"#).as_deref(), Some(r#"{"pong":1492420473027}"#));
        assert_eq!(ws.reply_for(r#"{"ping":"abc"}"#).as_deref(), Some(r#"{"pong":"abc"}"#));
        assert_eq!(ws.reply_for(r#"{"ch":"market.ping.trade","tick":{}}"#), None, "no value at the pointer");
        assert_eq!(ws.reply_for(r#"{"ping":null}"#), None);
        assert_eq!(ws.reply_for("not json, ping"), None);
    }

    /// `Pointer` finds what serde_json's `Value::pointer` finds.
    #[test]
    fn pointers_find_what_serde_json_finds() {
        let doc: Value = serde_json::from_str(
            r#"{"a":{"b":[10,{"c":"x"}]},"m~n":1,"p/q":2,"":3,"e":[],"0":{"01":4},"arr":[[5,6]]}"#,
        )
        .unwrap();
        for path in ["", "/a", "/a/b", "/a/b/0", "/a/b/1/c", "/a/b/2", "/a/b/01", "/a/b/-", "/a/b/+1", "/m~0n", "/p~1q",
                     "/", "/e/0", "/0/01", "/arr/0/1", "/a/b/1/c/d", "/missing", "/a/x"] {
            assert_eq!(Pointer::new(path).find(&doc), doc.pointer(path), "{path}");
        }
    }

    #[test]
    fn booleans_as_json_booleans_text_or_zero_and_one() {
        let at = |v: Value| cell(Some(&v), ColumnKind::Bool, "m");
        for (v, want) in [(Value::from(true), true), (Value::from("false"), false), (Value::from(" T "), true),
                          (Value::from(1), true), (Value::from(0), false), (Value::from("0"), false)] {
            assert_eq!(at(v.clone()), Ok(Cell::Bool(want)), "{v}");
        }
        for bad in [Value::from(2), Value::from("yes"), Value::from(0.5), Value::from(vec![1])] {
            assert!(at(bad.clone()).unwrap_err().contains("is not Bool"), "{bad}");
        }
        assert_eq!(at(Value::Null), Ok(Cell::Null));
    }

    #[test]
    fn epoch_times_in_every_unit_as_integers_fractions_and_text() {
        let at = |v: Value, digits| epoch_micros(&v, digits);
        let t = 1_700_000_000_i64;
        assert_eq!(at(Value::from(t), 6), Some(t * 1_000_000));
        assert_eq!(at(Value::from("1700000000.5"), 6), Some(t * 1_000_000 + 500_000));
        assert_eq!(at(Value::from("1700000000.1234567"), 6), Some(t * 1_000_000 + 123_456));
        assert_eq!(at(Value::from(1700000000.25), 6), Some(t * 1_000_000 + 250_000));
        assert_eq!(at(Value::from("1700000000123.456"), 3), Some(t * 1_000_000 + 123_456));
        assert_eq!(at(Value::from("1700000000123456.9"), 0), Some(t * 1_000_000 + 123_456));
        assert_eq!(at(Value::from("1700000000123456789"), -3), Some(t * 1_000_000 + 123_456));
        assert_eq!(at(Value::from(".5"), 6), Some(500_000));
        assert_eq!(at(Value::from("-1.5"), 6), Some(-1_500_000));
        assert_eq!(at(Value::from("1.7e9"), 6), Some(t * 1_000_000));
        for bad in [Value::from("soon"), Value::from("."), Value::from("1.2.3"), Value::from(true), Value::from("9e30")] {
            assert_eq!(at(bad.clone(), 6), None, "{bad}");
        }
    }

    #[test]
    fn rows_row_when_and_message_paths_are_checked() {
        let mut s = json_spec(None, &[("ts", "/t", ColumnKind::TimestampMs), ("sym", "message:/s", ColumnKind::String)]);
        assert!(s.check().unwrap_err().to_string().contains("message_path is for sources with rows"));
        s.rows = Some("data".into());
        assert!(s.check().unwrap_err().to_string().contains(r#"rows "data" is not a JSON pointer"#));
        s.rows = Some("/data".into());
        s.check().unwrap();
        s.columns.get_mut("sym").unwrap().path = "/s".into();
        assert!(s.check().unwrap_err().to_string().contains("not both"));
        s.columns.get_mut("sym").unwrap().path = String::new();
        s.row_when = Some("/ev".into());
        assert!(s.check().unwrap_err().to_string().contains("row_when and row_when_equals go together"));
        s.row_when_equals = Some("T".into());
        s.check().unwrap();
        s.rows = None;
        s.columns.remove("sym");
        assert!(s.check().unwrap_err().to_string().contains("row_when needs rows"));
        let mut c = csv_spec(None);
        c.rows = Some("/data".into());
        assert!(c.check().unwrap_err().to_string().contains("json only"));
    }
}
