//! What a source is: where its feed comes from, how a message becomes
//! rows, and which table they go to. Read from `sources.toml` at boot, or
//! from the JSON body of `POST /sources`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use polaroid_core::retention::{Retention, Ttl};
use polaroid_core::CoreError;
use serde::{Deserialize, Serialize};

use crate::error::SourceError;

/// One live source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Unique among running sources; names its status and metrics.
    pub name: String,
    /// The table the rows are appended to (created on the first batch).
    pub table: String,
    /// The feed: a `[source.websocket]` or a `[source.kafka]` table.
    #[serde(default)]
    pub websocket: Option<WebsocketFeed>,
    #[serde(default)]
    pub kafka: Option<KafkaFeed>,
    /// How each message becomes rows.
    pub format: Format,
    /// For `format = "json"`: each column's JSON pointer and type; for
    /// `format = "csv"`: each column's field (0-based) and type.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnSpec>,
    /// For `format = "csv"`: the field separator (default `,`).
    #[serde(default)]
    pub separator: Option<char>,
    /// For `format = "json"` and `"csv"`: the designated timestamp column (default `ts`).
    #[serde(default)]
    pub timestamp: Option<String>,
    /// For `format = "json"`: only messages whose value at this pointer
    /// equals `when_equals` are rows (e.g. `/e` = `trade`).
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub when_equals: Option<String>,
    /// For `format = "json"`: a JSON pointer to the array in each message
    /// whose elements are the rows (`/data`; `""` for a message that is an
    /// array). Most feeds send several trades per message. Columns' `path`
    /// and `row_when` are then read in each element; `message_path` and
    /// `when` in the whole message. A message without it holds no rows.
    #[serde(default)]
    pub rows: Option<String>,
    /// With `rows`: only elements whose value at this pointer equals
    /// `row_when_equals` are rows (e.g. Polygon's `/ev` = `T`).
    #[serde(default)]
    pub row_when: Option<String>,
    #[serde(default)]
    pub row_when_equals: Option<String>,
    /// Rows per append (default 10,000).
    #[serde(default)]
    pub batch_rows: Option<usize>,
    /// Longest a row waits to be appended, in ms (default 100).
    #[serde(default)]
    pub batch_ms: Option<u64>,
    /// Rows that may wait for the writer before new ones are dropped
    /// (counted and logged; default 100,000).
    #[serde(default)]
    pub max_pending_rows: Option<usize>,
    /// The table's TTL in QuestDB's form (`"7 DAYS"`, `"12h"`): day
    /// partitions that ended that long before the newest row are dropped.
    #[serde(default)]
    pub ttl: Option<String>,
    /// The most bytes the table's partitions may take; the oldest go first.
    #[serde(default)]
    pub max_table_bytes: Option<u64>,
    /// The table's upsert keys (QuestDB's DEDUP UPSERT KEYS; the designated
    /// timestamp among them, e.g. `["ts", "symbol", "trade_id"]`): a row
    /// whose keys equal a stored row's replaces it, so trades a feed sends
    /// again after a reconnect (Kraken's snapshot) are stored once.
    #[serde(default)]
    pub upsert_keys: Option<Vec<String>>,
}

/// A WebSocket feed (`ws://` or `wss://`): text frames, one message each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebsocketFeed {
    pub url: String,
    /// Text frames sent after each connect (subscriptions).
    #[serde(default)]
    pub subscribe: Vec<String>,
    /// First wait before reconnecting, in ms (doubling up to `reconnect_max_ms`).
    #[serde(default)]
    pub reconnect_min_ms: Option<u64>,
    #[serde(default)]
    pub reconnect_max_ms: Option<u64>,
    /// Every `ping_ms` (default 20,000; 0 for never) the source sends a
    /// WebSocket ping, and this text if the feed wants its own heartbeat
    /// (OKX closes a connection silent for 30 s unless sent `ping`; Bybit
    /// asks for `{"op":"ping"}` every 20 s). A connection from which no
    /// frame at all (a message, a pong) came for three periods is lost:
    /// the source reconnects, as when the feed closes it.
    #[serde(default)]
    pub ping: Option<String>,
    #[serde(default)]
    pub ping_ms: Option<u64>,
    /// The feed's answer to `ping`, skipped rather than decoded (default `pong`).
    #[serde(default)]
    pub pong: Option<String>,
    /// A message with a value at this JSON pointer is the feed's own
    /// heartbeat: it is answered with `reply`, not decoded. HTX sends
    /// `{"ping": 1492420473027}` and closes a connection that does not
    /// answer `{"pong": 1492420473027}`: `reply_to = "/ping"`,
    /// `reply = '{"pong": $}'`.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// The answer; `$` stands for the value at `reply_to`, as JSON.
    #[serde(default)]
    pub reply: Option<String>,
}

impl WebsocketFeed {
    pub(crate) fn backoff(&self) -> (Duration, Duration) {
        let min = Duration::from_millis(self.reconnect_min_ms.unwrap_or(100).max(1));
        let max = Duration::from_millis(self.reconnect_max_ms.unwrap_or(10_000));
        (min, max.max(min))
    }

    /// How often to ping, if at all.
    pub(crate) fn ping_every(&self) -> Option<Duration> {
        Some(Duration::from_millis(self.ping_ms.unwrap_or(20_000))).filter(|d| !d.is_zero())
    }

    /// The answer to `text` if it is the feed's own heartbeat (`reply_to`).
    pub(crate) fn reply_for(&self, text: &str) -> Option<String> {
        let (pointer, reply) = self.reply_to.as_deref().zip(self.reply.as_deref())?;
        // Most messages are not heartbeats: only parse those that name its key.
        let key = pointer.rsplit('/').next().unwrap_or_default();
        if !text.contains(key) {
            return None;
        }
        let message: serde_json::Value = serde_json::from_str(text).ok()?;
        let value = message.pointer(pointer).filter(|v| !v.is_null())?;
        Some(reply.replace('$', &value.to_string()))
    }

    /// A text message that answers the source's own `ping`.
    pub(crate) fn is_pong(&self, text: &str) -> bool {
        self.ping.is_some() && text.trim() == self.pong.as_deref().unwrap_or("pong")
    }
}

/// A Kafka feed: a consumer group reading `topics`.
/// Offsets are committed only after the rows are durable in the table, and
/// the table keeps `kafka_topic, kafka_partition, kafka_offset`, so a
/// message read again after a crash is recognised and skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaFeed {
    /// `host:port[,host:port...]`.
    pub brokers: String,
    pub topics: Vec<String>,
    /// The consumer group (default `polaroid-<source name>`).
    #[serde(default)]
    pub group: Option<String>,
    /// Where a group without committed offsets starts: `earliest` (default) or `latest`.
    #[serde(default)]
    pub start: Option<String>,
    /// More librdkafka consumer settings (e.g. `security.protocol`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// How a message becomes rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Binance `<symbol>@trade` events (raw or combined-stream wrapped):
    /// `symbol, ts, price, size, trade_id, buyer_is_maker`.
    BinanceTrade,
    /// Coinbase Exchange `matches` channel: `symbol, ts, price, size,
    /// trade_id, side`.
    CoinbaseMatches,
    /// Any JSON, by the `columns` mapping: a message is one row, or with
    /// `rows` an array of them.
    Json,
    /// CSV records (no header), one per line, by the `columns` mapping of
    /// field numbers: what Kafka producers of delimited text send.
    Csv,
}

/// One column of a generic JSON source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// `format = "json"`: a JSON pointer (RFC 6901), e.g. `/data/p`; with
    /// the source's `rows`, inside each row.
    #[serde(default)]
    pub path: String,
    /// `format = "json"` with `rows`: a JSON pointer in the whole message
    /// instead (a symbol or channel its envelope names once for all rows).
    #[serde(default)]
    pub message_path: Option<String>,
    /// `format = "csv"`: the field's position in the record, from 0.
    #[serde(default)]
    pub field: Option<usize>,
    /// A Kafka source: the column comes from the Kafka record rather than
    /// its value: `key` (producers often key by symbol), `timestamp` (the
    /// record's time, type `timestamp_ms`) or `header:<name>`. Key and
    /// header bytes are read as text of the column's type.
    #[serde(default)]
    pub kafka: Option<String>,
    #[serde(rename = "type")]
    pub kind: ColumnKind,
}

impl ColumnSpec {
    /// A JSON column at `pointer` (in each row, with the source's `rows`).
    pub fn path(pointer: &str, kind: ColumnKind) -> Self {
        Self { path: pointer.into(), message_path: None, field: None, kafka: None, kind }
    }

    /// A JSON column at `pointer` in the whole message (with `rows`).
    pub fn message_path(pointer: &str, kind: ColumnKind) -> Self {
        Self { message_path: Some(pointer.into()), ..Self::path("", kind) }
    }

    /// A CSV column: field `field`, from 0.
    pub fn field(field: usize, kind: ColumnKind) -> Self {
        Self { field: Some(field), ..Self::path("", kind) }
    }

    /// A column from the Kafka record: `key`, `timestamp` or `header:<name>`.
    pub fn kafka(part: &str, kind: ColumnKind) -> Self {
        Self { kafka: Some(part.into()), ..Self::path("", kind) }
    }
}

/// The type of a generic JSON column. Numbers may arrive as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Float,
    Int,
    String,
    /// Text stored as QuestDB's SYMBOL (a ticker, a side): read back as a
    /// categorical, what bars and `LATEST ON` by it run fastest on.
    Symbol,
    Bool,
    /// A timestamp: seconds, milliseconds, microseconds or nanoseconds
    /// since the epoch, or an RFC 3339 string.
    TimestampS,
    TimestampMs,
    TimestampUs,
    TimestampNs,
    TimestampIso,
}

/// `sources.toml`: `[[source]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesFile {
    #[serde(default)]
    source: Vec<SourceSpec>,
}

/// The sources of a TOML file, each checked.
pub fn read_sources_file(path: &Path) -> Result<Vec<SourceSpec>, SourceError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SourceError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    let file: SourcesFile =
        toml::from_str(&text).map_err(|e| SourceError::Invalid(format!("{}: {e}", path.display())))?;
    for spec in &file.source {
        spec.check()?;
    }
    Ok(file.source)
}

impl SourceSpec {
    /// Everything that can be checked before connecting.
    pub fn check(&self) -> Result<(), SourceError> {
        let invalid = |m: String| Err(SourceError::Invalid(format!("source {:?}: {m}", self.name)));
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return invalid("a name is letters, digits, '_' and '-'".into());
        }
        if self.table.is_empty() {
            return invalid("needs a table".into());
        }
        match (&self.websocket, &self.kafka) {
            (Some(ws), None) => {
                if !(ws.url.starts_with("ws://") || ws.url.starts_with("wss://")) {
                    return invalid(format!("url {:?} is not ws:// or wss://", ws.url));
                }
                if ws.ping.is_some() && ws.ping_every().is_none() {
                    return invalid("ping needs ping_ms above 0 (how often to send it)".into());
                }
                if ws.pong.is_some() && ws.ping.is_none() {
                    return invalid("pong is the answer to ping; give ping too".into());
                }
                match (&ws.reply_to, &ws.reply) {
                    (Some(p), Some(_)) if !p.starts_with('/') => {
                        return invalid(format!("reply_to {p:?} is not a JSON pointer (/a/b)"))
                    },
                    (Some(_), None) | (None, Some(_)) => return invalid("reply_to and reply go together".into()),
                    _ => {},
                }
            },
            (None, Some(k)) => {
                if k.brokers.trim().is_empty() || k.topics.is_empty() || k.topics.iter().any(|t| t.trim().is_empty()) {
                    return invalid("a kafka feed needs brokers and at least one topic".into());
                }
                if let Some(start) = &k.start {
                    if start != "earliest" && start != "latest" {
                        return invalid(format!("kafka start {start:?} is not earliest or latest"));
                    }
                }
            },
            (Some(_), Some(_)) => return invalid("has both a websocket and a kafka feed; give one".into()),
            (None, None) => return invalid("needs a feed: a [source.websocket] or [source.kafka] table".into()),
        }
        match self.format {
            Format::Json | Format::Csv => {
                let format = if self.format == Format::Json { "json" } else { "csv" };
                if self.columns.is_empty() {
                    return invalid(format!("format {format} needs [source.columns]"));
                }
                let ts = self.timestamp_column();
                match self.columns.get(ts) {
                    Some(c) if c.kind.is_timestamp() => {},
                    Some(_) => return invalid(format!("timestamp column {ts:?} must have a timestamp type")),
                    None => return invalid(format!("timestamp column {ts:?} is not among the columns")),
                }
                let pointer = |what: String, p: &str| {
                    if p.is_empty() || p.starts_with('/') {
                        Ok(())
                    } else {
                        invalid(format!("{what} {p:?} is not a JSON pointer (/a/b)"))
                    }
                };
                for (name, c) in &self.columns {
                    if let Some(part) = &c.kafka {
                        if self.kafka.is_none() {
                            return invalid(format!("column {name}: kafka = {part:?} is for kafka feeds"));
                        }
                        if !c.path.is_empty() || c.message_path.is_some() || c.field.is_some() {
                            return invalid(format!("column {name}: a kafka column has no path, message_path or field"));
                        }
                        match part.as_str() {
                            "key" => {},
                            "timestamp" if c.kind == ColumnKind::TimestampMs => {},
                            "timestamp" => {
                                return invalid(format!("column {name}: a Kafka timestamp is in milliseconds; its type is timestamp_ms"))
                            },
                            header if header.strip_prefix("header:").is_some_and(|h| !h.is_empty()) => {},
                            other => {
                                return invalid(format!(
                                    "column {name}: kafka = {other:?} is not key, timestamp or header:<name>"
                                ))
                            },
                        }
                        continue;
                    }
                    match self.format {
                        Format::Json if c.field.is_some() => {
                            return invalid(format!("column {name}: field is for format csv; json columns have a path"))
                        },
                        Format::Json => {
                            pointer(format!("column {name}: path"), &c.path)?;
                            if let Some(p) = &c.message_path {
                                if !c.path.is_empty() {
                                    return invalid(format!("column {name}: give a path or a message_path, not both"));
                                }
                                if self.rows.is_none() {
                                    return invalid(format!(
                                        "column {name}: message_path is for sources with rows; without, path is in the message"
                                    ));
                                }
                                pointer(format!("column {name}: message_path"), p)?;
                            }
                        },
                        Format::Csv if c.field.is_none() || !c.path.is_empty() || c.message_path.is_some() => {
                            return invalid(format!("column {name}: csv columns have a field (its position from 0), not a path"))
                        },
                        _ => {},
                    }
                }
                if self.format == Format::Csv && (self.when.is_some() || self.rows.is_some() || self.row_when.is_some()) {
                    return invalid("when, rows and row_when apply to format json only".into());
                }
                if self.when.is_some() != self.when_equals.is_some() {
                    return invalid("when and when_equals go together".into());
                }
                if self.row_when.is_some() != self.row_when_equals.is_some() {
                    return invalid("row_when and row_when_equals go together".into());
                }
                if self.row_when.is_some() && self.rows.is_none() {
                    return invalid("row_when needs rows (the array of rows in each message); without, use when".into());
                }
                for (what, p) in [("when", &self.when), ("rows", &self.rows), ("row_when", &self.row_when)] {
                    if let Some(p) = p {
                        pointer(what.to_string(), p)?;
                    }
                }
            },
            _ => {
                if !self.columns.is_empty() || self.when.is_some() || self.rows.is_some() || self.row_when.is_some() {
                    return invalid("columns, when, rows and row_when apply to formats json and csv only".into());
                }
            },
        }
        if self.separator.is_some() && self.format != Format::Csv {
            return invalid("separator applies to format csv only".into());
        }
        if self.separator.is_some_and(|c| !c.is_ascii() || c == '"' || c == '\n' || c == '\r') {
            return invalid(format!("separator {:?} must be one ASCII character other than a quote or newline", self.separator.unwrap()));
        }
        if let Err(e) = self.retention() {
            return invalid(e.to_string());
        }
        if self.batch_rows == Some(0) || self.max_pending_rows == Some(0) {
            return invalid("batch_rows and max_pending_rows must be positive".into());
        }
        if let Some(keys) = &self.upsert_keys {
            let columns = crate::decode::column_names(self);
            if let Some(unknown) = keys.iter().find(|k| !columns.contains(k)) {
                return invalid(format!("upsert key {unknown:?} is not one of the source's columns ({})", columns.join(", ")));
            }
            let ts = self.timestamp_column();
            if !keys.iter().any(|k| k == ts) {
                return invalid(format!("upsert_keys must include the designated timestamp {ts:?}"));
            }
        }
        Ok(())
    }

    /// The retention the source gives its table, if it sets one.
    pub fn retention(&self) -> Result<Option<Retention>, CoreError> {
        if self.ttl.is_none() && self.max_table_bytes.is_none() {
            return Ok(None);
        }
        let ttl = self.ttl.as_deref().map(Ttl::parse).transpose()?;
        Ok(Some(Retention { ttl: ttl.filter(|t| t.count > 0), max_bytes: self.max_table_bytes.filter(|&b| b > 0) }))
    }

    /// The designated timestamp column.
    pub fn timestamp_column(&self) -> &str {
        match self.format {
            Format::Json | Format::Csv => self.timestamp.as_deref().unwrap_or("ts"),
            _ => "ts",
        }
    }

    /// Where the feed is, for the status.
    pub fn url(&self) -> String {
        match (&self.websocket, &self.kafka) {
            (Some(ws), _) => ws.url.clone(),
            (_, Some(k)) => format!("kafka://{}/{}", k.brokers, k.topics.join(",")),
            _ => String::new(),
        }
    }

    pub(crate) fn batch_rows(&self) -> usize {
        self.batch_rows.unwrap_or(10_000)
    }

    pub(crate) fn batch_wait(&self) -> Duration {
        Duration::from_millis(self.batch_ms.unwrap_or(100))
    }

    pub(crate) fn max_pending_rows(&self) -> usize {
        self.max_pending_rows.unwrap_or(100_000)
    }
}

impl ColumnKind {
    pub(crate) fn is_timestamp(self) -> bool {
        matches!(
            self,
            ColumnKind::TimestampS
                | ColumnKind::TimestampMs
                | ColumnKind::TimestampUs
                | ColumnKind::TimestampNs
                | ColumnKind::TimestampIso
        )
    }
}
