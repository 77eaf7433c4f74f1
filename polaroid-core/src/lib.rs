//! Polaroid's core: handles, plans, tables and the sandbox, with no
//! protocol in sight. The doors (native gRPC and Arrow Flight in
//! `polaroid-grpc`, QuestDB-compatible HTTP in `polaroid-http`) are thin
//! adapters over [`Core`]; each maps [`CoreError`] to its own codes.
//!
//! - [`Core`], [`CoreConfig`]: the shared state and what a request can do.
//! - [`error`]: [`CoreError`] and its [`ErrorKind`].
//! - [`tenants`]: bearer tokens to handle namespaces.
//! - [`sandbox`] (private) and [`plan_walk`] (private): every plan's files
//!   resolve inside the data directory.
//! - [`results`]: a handle's result as a stream of batches.
//! - [`read_back`]: a table read back from one end of its timestamp, as
//!   far as an answer lies; the plan rule that does it for the nearest rows.
//! - [`ipc`]: Arrow IPC encoding of results; [`upload`]: checking and
//!   decoding uploaded IPC streams.
//! - [`collect`] (private): running a plan within the budget, stoppably.
//! - [`slots`]: query slots and cancel tokens.
//! - [`sql_parameters`]: bound parameters (`?`, `$1`) written into a query
//!   as literals; [`sql_changes`]: SQL's INSERT, DROP TABLE and TRUNCATE.
//! - [`tables`]: named, durable tables (write-ahead log, partitions).
//! - [`live_bars`]: bars of a live table streamed as they close.
//! - [`retention`]: a table's TTL and size cap, by whole partitions.
//! - [`result_files`]: results too large for a frame, spilled to files
//!   that live as long as a handle reads them.
//! - [`distributed`]: SQL run by a distributed engine over data-directory
//!   files (the engine itself lives in `polaroid-distributed`).
//! - [`metrics`]: request, latency and ingest counters every door feeds.
//! - [`sample`]: the small trades/quotes dataset a fresh server writes.

mod collect;
mod core;
mod csv_options;
pub mod distributed;
pub mod error;
pub mod ipc;
pub mod live_bars;
pub mod memory_guard;
pub mod metrics;
mod plan_walk;
pub mod read_back;
pub mod result_files;
pub mod retention;
pub mod results;
pub mod sample;
mod sandbox;
pub mod shipping;
pub mod slots;
pub mod sql_changes;
pub mod sql_parameters;
pub mod tables;
pub mod tenants;
pub mod upload;

pub use crate::core::{blocking, ConcatHow, Core, CoreConfig, CoreStats, FileFormat, ScanSpec, SqlOptions};
pub use crate::csv_options::CsvOptions;
pub use error::{CoreError, ErrorKind};
pub use live_bars::{BarFeed, BarSubscription};
pub use metrics::Metrics;
pub use slots::{CancelOnDrop, CancelToken, Slot, SlotConfig};
pub use tenants::Tenants;

/// Where the live sources started at run time are kept, per tenant
/// (`<data>/live_sources/<tenant>/<name>.json`), to start again after a
/// restart. Specs may hold credentials: no client path reaches them.
pub const LIVE_SOURCES_DIR: &str = "live_sources";

// What the doors name in their signatures.
pub use polaroid_handles::{Entry, HandleId, HandleInfo, HandleStore, Namespace, Payload, PayloadKind};
