//! Messages to rows. Each format has a fixed output schema; a message is
//! zero rows (an ack, a heartbeat, another event type) or one row.
//! A CSV message is one record: several would share one Kafka offset, and
//! a batch boundary between them could lose some of them on a restart.

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
    /// A JSON pointer.
    Pointer(String),
    /// A CSV field, from 0.
    Field(usize),
}

/// Turns one message into cells, in the order of [`Decoder::schema`].
pub(crate) struct Decoder {
    format: Format,
    schema: Vec<(String, ColumnKind, Locator)>,
    when: Option<(String, String)>,
    timestamp: String,
    separator: u8,
}

impl Decoder {
    pub(crate) fn new(spec: &SourceSpec) -> Self {
        let fixed = |cols: &[(&str, ColumnKind)]| cols.iter().map(|(n, k)| (n.to_string(), *k, Locator::Fixed)).collect();
        let schema = match spec.format {
            Format::BinanceTrade => fixed(&[
                ("symbol", ColumnKind::String),
                ("ts", ColumnKind::TimestampMs),
                ("price", ColumnKind::Float),
                ("size", ColumnKind::Float),
                ("trade_id", ColumnKind::Int),
                ("buyer_is_maker", ColumnKind::Bool),
            ]),
            Format::CoinbaseMatches => fixed(&[
                ("symbol", ColumnKind::String),
                ("ts", ColumnKind::TimestampIso),
                ("price", ColumnKind::Float),
                ("size", ColumnKind::Float),
                ("trade_id", ColumnKind::Int),
                ("side", ColumnKind::String),
            ]),
            Format::Json => spec.columns.iter().map(|(n, c)| (n.clone(), c.kind, Locator::Pointer(c.path.clone()))).collect(),
            Format::Csv => {
                spec.columns.iter().map(|(n, c)| (n.clone(), c.kind, Locator::Field(c.field.unwrap_or_default()))).collect()
            },
        };
        let mut schema: Vec<(String, ColumnKind, Locator)> = schema;
        if spec.kafka.is_some() {
            // Where each row came from: offsets already in the table are skipped when read again.
            for (name, kind) in [(KAFKA_TOPIC, ColumnKind::String), (KAFKA_PARTITION, ColumnKind::Int), (KAFKA_OFFSET, ColumnKind::Int)] {
                schema.push((name.to_string(), kind, Locator::Fixed));
            }
        }
        let when = spec.when.clone().zip(spec.when_equals.clone());
        // `check` allows only an ASCII separator.
        let separator = spec.separator.map_or(b',', |c| c as u8);
        Self { format: spec.format, schema, when, timestamp: spec.timestamp_column().to_string(), separator }
    }

    pub(crate) fn rows(&self) -> Rows {
        Rows {
            columns: self.schema.iter().map(|(n, k, _)| (n.clone(), *k, Vec::new())).collect(),
            timestamp: self.timestamp.clone(),
        }
    }

    /// Decode one text message into `rows`; `Ok(false)` if it holds no row.
    #[cfg(test)]
    pub(crate) fn decode(&self, text: &str, rows: &mut Rows) -> Result<bool, String> {
        self.decode_with(text, rows, Vec::new())
    }

    /// [`Decoder::decode`], with `extra` cells for the columns after the
    /// message's own (a Kafka message's topic, partition and offset).
    pub(crate) fn decode_with(&self, text: &str, rows: &mut Rows, extra: Vec<Cell>) -> Result<bool, String> {
        let cells = match self.format {
            Format::Csv => self.csv_cells(text, extra.len())?,
            _ => self.json_cells(text, extra.len())?,
        };
        let Some(mut cells) = cells else { return Ok(false) };
        cells.extend(extra);
        // A row without its time cannot be placed in the table.
        let ts_index = rows.columns.iter().position(|(n, ..)| *n == rows.timestamp).expect("the timestamp is a column");
        if cells[ts_index] == Cell::Null {
            return Err(format!("the message has no {}", rows.timestamp));
        }
        for ((_, _, column), value) in rows.columns.iter_mut().zip(cells) {
            column.push(value);
        }
        Ok(true)
    }

    /// The cells of a CSV record's own columns.
    fn csv_cells(&self, text: &str, extra: usize) -> Result<Option<Vec<Cell>>, String> {
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(self.separator).from_reader(text.as_bytes());
        let mut records = reader.records();
        let record = match records.next() {
            Some(record) => record.map_err(|e| format!("not CSV: {e}"))?,
            None => return Ok(None), // an empty message
        };
        if records.next().is_some() {
            return Err("a CSV message holds one record; this one holds more".into());
        }
        let own = self.schema.len() - extra;
        let mut cells = Vec::with_capacity(self.schema.len());
        for (name, kind, locator) in &self.schema[..own] {
            let Locator::Field(field) = locator else { return Err(format!("column {name} has no CSV field")) };
            let value = record
                .get(*field)
                .ok_or_else(|| format!("column {name}: the record has {} fields, not field {field}", record.len()))?;
            cells.push(text_cell(value, *kind, name)?);
        }
        Ok(Some(cells))
    }

    /// The cells of a JSON message's own columns; `None` if it holds no row.
    fn json_cells(&self, text: &str, extra: usize) -> Result<Option<Vec<Cell>>, String> {
        let message: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let cells = match self.format {
            Format::BinanceTrade => {
                // Combined streams wrap each event: {"stream": ..., "data": {...}}.
                let event = message.get("data").unwrap_or(&message);
                if event.get("e").and_then(Value::as_str) != Some("trade") {
                    return Ok(None);
                }
                vec![
                    cell(event.get("s"), ColumnKind::String, "s")?,
                    // The trade time, not the event time "E".
                    cell(event.get("T"), ColumnKind::TimestampMs, "T")?,
                    cell(event.get("p"), ColumnKind::Float, "p")?,
                    cell(event.get("q"), ColumnKind::Float, "q")?,
                    cell(event.get("t"), ColumnKind::Int, "t")?,
                    cell(event.get("m"), ColumnKind::Bool, "m")?,
                ]
            },
            Format::CoinbaseMatches => {
                // "last_match" repeats a trade already seen before a reconnect.
                if message.get("type").and_then(Value::as_str) != Some("match") {
                    return Ok(None);
                }
                vec![
                    cell(message.get("product_id"), ColumnKind::String, "product_id")?,
                    cell(message.get("time"), ColumnKind::TimestampIso, "time")?,
                    cell(message.get("price"), ColumnKind::Float, "price")?,
                    cell(message.get("size"), ColumnKind::Float, "size")?,
                    cell(message.get("trade_id"), ColumnKind::Int, "trade_id")?,
                    cell(message.get("side"), ColumnKind::String, "side")?,
                ]
            },
            Format::Json | Format::Csv => {
                let own = self.schema.len() - extra;
                if let Some((path, equals)) = &self.when {
                    let found = message.pointer(path);
                    let matches = match found {
                        Some(Value::String(s)) => s == equals,
                        Some(other) => other.to_string() == *equals,
                        None => false,
                    };
                    if !matches {
                        return Ok(None);
                    }
                }
                let mut cells = Vec::with_capacity(self.schema.len());
                for (name, kind, locator) in &self.schema[..own] {
                    let Locator::Pointer(path) = locator else { return Err(format!("column {name} has no JSON path")) };
                    cells.push(cell(message.pointer(path), *kind, name)?);
                }
                cells
            },
        };
        Ok(Some(cells))
    }
}

/// One CSV field as `kind`: empty is null, as in polars' CSV reader.
fn text_cell(text: &str, kind: ColumnKind, field: &str) -> Result<Cell, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Cell::Null);
    }
    if kind == ColumnKind::Bool {
        return match text.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Ok(Cell::Bool(true)),
            "false" | "f" | "0" => Ok(Cell::Bool(false)),
            _ => Err(format!("field {field}: {text:?} is not Bool")),
        };
    }
    cell(Some(&Value::String(text.to_string())), kind, field)
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
        ColumnKind::String => match value {
            Value::String(s) => Cell::Str(s.clone()),
            other => Cell::Str(other.to_string()),
        },
        ColumnKind::Bool => Cell::Bool(value.as_bool().ok_or_else(bad)?),
        ColumnKind::TimestampS => Cell::Micros(integer(value).and_then(|s| s.checked_mul(1_000_000)).ok_or_else(bad)?),
        ColumnKind::TimestampMs => Cell::Micros(integer(value).and_then(|ms| ms.checked_mul(1_000)).ok_or_else(bad)?),
        ColumnKind::TimestampUs => Cell::Micros(integer(value).ok_or_else(bad)?),
        ColumnKind::TimestampNs => Cell::Micros(integer(value).ok_or_else(bad)?.div_euclid(1_000)),
        ColumnKind::TimestampIso => {
            let text = value.as_str().ok_or_else(bad)?;
            let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| format!("field {field}: {text:?}: {e}"))?;
            Cell::Micros(at.timestamp_micros())
        },
    })
}

impl Rows {
    pub(crate) fn len(&self) -> usize {
        self.columns.first().map_or(0, |(_, _, c)| c.len())
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
                ColumnKind::String => Column::new(
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
            websocket: Some(WebsocketFeed { url: "ws://x".into(), subscribe: vec![], reconnect_min_ms: None, reconnect_max_ms: None }),
            kafka: None,
            format,
            columns: Default::default(),
            timestamp: None,
            when: None,
            when_equals: None,
            batch_rows: None,
            batch_ms: None,
            max_pending_rows: None,
            separator: None,
            ttl: None,
            max_table_bytes: None,
        }
    }

    #[test]
    fn binance_trades_raw_and_combined() {
        let d = Decoder::new(&spec(Format::BinanceTrade));
        let mut rows = d.rows();
        let raw = r#"{"e":"trade","E":1700000000123,"s":"BTCUSDT","t":42,"p":"37000.10","q":"0.005","T":1700000000120,"m":true,"M":true}"#;
        assert!(d.decode(raw, &mut rows).unwrap());
        let combined = format!(r#"{{"stream":"btcusdt@trade","data":{raw}}}"#);
        assert!(d.decode(&combined, &mut rows).unwrap());
        assert!(!d.decode(r#"{"result":null,"id":1}"#, &mut rows).unwrap());
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
        assert!(d.decode(m, &mut rows).unwrap());
        assert!(!d.decode(&m.replace("\"match\"", "\"last_match\""), &mut rows).unwrap());
        assert!(!d.decode(r#"{"type":"subscriptions","channels":[]}"#, &mut rows).unwrap());
        let df = rows.take_frame().unwrap();
        assert_eq!(df.height(), 1);
        // 2024-03-01T12:00:00Z = 1709294400 s.
        assert_eq!(df.column("ts").unwrap().datetime().unwrap().physical().get(0), Some(1_709_294_400_123_456));
        assert_eq!(df.column("side").unwrap().str().unwrap().get(0), Some("sell"));
    }

    #[test]
    fn generic_json_by_pointer_with_a_filter_and_clear_errors() {
        let mut s = spec(Format::Json);
        s.columns.insert("sym".into(), ColumnSpec { path: "/d/s".into(), field: None, kind: ColumnKind::String });
        s.columns.insert("px".into(), ColumnSpec { path: "/d/p".into(), field: None, kind: ColumnKind::Float });
        s.columns.insert("at".into(), ColumnSpec { path: "/d/t".into(), field: None, kind: ColumnKind::TimestampNs });
        s.timestamp = Some("at".into());
        s.when = Some("/kind".into());
        s.when_equals = Some("tick".into());
        s.check().unwrap();
        let d = Decoder::new(&s);
        let mut rows = d.rows();
        assert!(d.decode(r#"{"kind":"tick","d":{"s":"X","p":"1.5","t":1700000000000001999}}"#, &mut rows).unwrap());
        assert!(!d.decode(r#"{"kind":"hb"}"#, &mut rows).unwrap());
        let err = d.decode(r#"{"kind":"tick","d":{"s":"X","p":"abc","t":1}}"#, &mut rows).unwrap_err();
        assert!(err.contains("px"), "{err}");
        let err = d.decode(r#"{"kind":"tick","d":{"s":"X","p":1}}"#, &mut rows).unwrap_err();
        assert!(err.contains("no at"), "{err}");
        let df = rows.take_frame().unwrap();
        assert_eq!(df.get_column_names(), ["at", "px", "sym"]);
        assert_eq!(df.column("at").unwrap().datetime().unwrap().physical().get(0), Some(1_700_000_000_000_001));
    }

    fn csv_spec(separator: Option<char>) -> SourceSpec {
        let mut s = spec(Format::Csv);
        s.separator = separator;
        for (name, field, kind) in [("sym", 0, ColumnKind::String), ("at", 1, ColumnKind::TimestampIso), ("px", 2, ColumnKind::Float), ("ok", 4, ColumnKind::Bool)] {
            s.columns.insert(name.into(), ColumnSpec { path: String::new(), field: Some(field), kind });
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
        assert!(d.decode("\"BRK,B\",2024-03-08T14:30:00Z,412.5,ignored,true\n", &mut rows).unwrap());
        assert!(d.decode("MSFT,2024-03-08T14:30:01.5Z,,x,0", &mut rows).unwrap());
        assert!(!d.decode("", &mut rows).unwrap());
        let err = d.decode("A,2024-03-08T14:30:00Z,1,x,true\nB,2024-03-08T14:30:00Z,1,x,true", &mut rows).unwrap_err();
        assert!(err.contains("one record"), "{err}");
        let err = d.decode("A,2024-03-08T14:30:00Z,abc,x,true", &mut rows).unwrap_err();
        assert!(err.contains("px"), "{err}");
        let err = d.decode("A,2024-03-08T14:30:00Z,1", &mut rows).unwrap_err();
        assert!(err.contains("ok") && err.contains("3 fields"), "{err}");
        let err = d.decode("A,,1,x,yes", &mut rows).unwrap_err();
        assert!(err.contains("ok") || err.contains("no at"), "{err}");
        let df = rows.take_frame().unwrap();
        assert_eq!(df.get_column_names(), ["at", "ok", "px", "sym"]);
        assert_eq!(df.column("sym").unwrap().str().unwrap().get(0), Some("BRK,B"));
        assert_eq!(df.column("px").unwrap().f64().unwrap().iter().collect::<Vec<_>>(), [Some(412.5), None]);
        assert_eq!(df.column("ok").unwrap().bool().unwrap().iter().collect::<Vec<_>>(), [Some(true), Some(false)]);
        assert_eq!(df.column("at").unwrap().datetime().unwrap().physical().get(1), Some(1_709_908_201_500_000));

        let d = Decoder::new(&csv_spec(Some(';')));
        let mut rows = d.rows();
        assert!(d.decode("A;2024-03-08T14:30:00Z;1,5;x;1", &mut rows).is_err()); // 1,5 is no number
        assert!(d.decode("A,B;2024-03-08T14:30:00Z;1.5;x;1", &mut rows).unwrap());
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
        j.columns.insert("ts".into(), ColumnSpec { path: "/t".into(), field: Some(1), kind: ColumnKind::TimestampMs });
        assert!(j.check().unwrap_err().to_string().contains("field is for format csv"));
        j.columns.get_mut("ts").unwrap().field = None;
        j.check().unwrap();
        j.separator = Some(';');
        assert!(j.check().unwrap_err().to_string().contains("csv only"));
    }
}
