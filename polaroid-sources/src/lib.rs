//! Live tick sources: the server subscribes to a feed (a WebSocket or Kafka topics) and appends what it
//! receives to one of the core's tables, in batches, so every query, bar
//! and as-of join sees the table up to its last appended batch.
//!
//! - `spec.rs`: what a source is (TOML at boot, JSON over HTTP).
//! - `decode.rs`: messages to rows (Binance trades, Coinbase matches,
//!   generic JSON by pointer, one row or an array of them per message, CSV).
//! - `run.rs`: one source's life: connect, subscribe, read, reconnect with
//!   backoff (recording each gap), and the batching writer with its bound.
//! - `kafka.rs`: a consumer group whose offsets follow the table's durability.
//! - `registry.rs`: the running sources, started and stopped by name.

mod decode;
mod error;
mod kafka;
mod registry;
mod run;
mod spec;

pub use error::SourceError;
pub use registry::{SourceState, SourceStatus, Sources, GAPS_TABLE};
pub use spec::{read_sources_file, ColumnKind, ColumnSpec, Format, KafkaFeed, SourceSpec, WebsocketFeed};
