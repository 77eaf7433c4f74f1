//! [`Core`]: handles, plans and query slots, with no protocol in sight.
//!
//! Every door (native gRPC, Arrow Flight, HTTP) decodes its request into
//! polars types, calls one method here, and encodes the answer. Plans enter
//! the store only through [`Core::keep_plan`], which confines them to the
//! data directory first.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use polaroid_handles::{Entry, HandleConfig, HandleId, HandleInfo, HandleStore, Namespace, Payload, PayloadKind};
use polaroid_timeseries::{stream_ohlcv, OhlcvExt, OhlcvOptions, StreamProgress, TimeseriesError};
use polars::prelude::*;
use tokio::sync::mpsc;

use crate::collect::{collect_plan, stoppable};
use crate::csv_options::CsvOptions;
use crate::distributed::{kind_of_path, not_file_backed, scanned_files, DistributedEngine, FileKind, FileTable};
use crate::result_files::{ResultFile, ResultFiles};
use crate::error::{panic_message, CoreError};
use crate::metrics::Metrics;
use crate::results::{spawn_result, ResultSink, Window};
use crate::sandbox::Sandbox;
use crate::sql_parameters::Parameters;
use crate::slots::{CancelOnDrop, CancelToken, QuerySlots, Slot, SlotConfig};
use crate::tables::{TableDef, Tables};
use crate::tenants::Tenants;
use crate::upload::{check_ipc_stream, read_ipc_stream, ChunkedReader};

/// What one closed bar costs in memory, about: ts, open, high, low, close,
/// volume, vwap (with its validity), trade count and series id.
const BAR_BYTES: u64 = 72;

/// A distributed result up to this size (or the caller's budget, if
/// smaller) is kept as a frame; a larger one is written to a result file.
const SPILL_AFTER: u64 = 64 << 20;

/// polars-sql's table functions, which the SQL parser reports as table names.
const TABLE_FUNCTIONS: &[&str] = &["read_csv", "read_parquet", "read_ipc", "read_json"];

/// The core's settings, shared by every door.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Files that plans may read live under this directory; nothing outside
    /// it is reachable. It must exist. Default: `./data`.
    pub data_dir: PathBuf,
    /// Idle time after which an unused handle expires. Default: 30 minutes.
    pub handle_ttl: Duration,
    /// Memory budget, in bytes, for materialized frames held in handles;
    /// each tenant may hold an equal share. Default: 4 GiB.
    pub memory_limit: u64,
    /// Query slots: how many requests do query work at once, how many may
    /// wait, and for how long. See [`SlotConfig`].
    pub slots: SlotConfig,
    /// If not empty, every call needs `authorization: Bearer <token>` with
    /// one of these tokens, and each token has its own handle namespace.
    pub auth_tokens: Vec<String>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            handle_ttl: Duration::from_secs(30 * 60),
            memory_limit: 4 << 30,
            slots: SlotConfig::default(),
            auth_tokens: Vec::new(),
        }
    }
}

/// A file source: files in the data directory and how to read them.
#[derive(Debug, Clone, Default)]
pub struct ScanSpec {
    /// Relative to the data directory: a file, a directory (its files) or a
    /// glob pattern; or the name of one of the caller's tables.
    pub path: String,
    /// Instead of `path`: several of them, read as one frame in this order.
    pub paths: Vec<String>,
    /// `None`: from the first path's extension.
    pub format: Option<FileFormat>,
    /// Columns from `key=value` directories; `None`: on for a directory, as polars.
    pub hive_partitioning: Option<bool>,
    /// How a CSV file is read (polars' scan_csv options).
    pub csv: CsvOptions,
}

/// How [`Core::concat`] puts frames together, as polars' `pl.concat(how=...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConcatHow {
    /// One schema, rows stacked.
    #[default]
    Vertical,
    /// Rows stacked, each column cast to the frames' common type.
    VerticalRelaxed,
    /// The union of the columns; null where a frame lacks one.
    Diagonal,
    /// Diagonal, with each column cast to the common type.
    DiagonalRelaxed,
    /// Side by side; the frames must be of one height.
    Horizontal,
    /// Side by side; shorter frames padded with nulls.
    HorizontalExtend,
}

impl ConcatHow {
    const ALL: [Self; 6] = [
        Self::Vertical,
        Self::VerticalRelaxed,
        Self::Diagonal,
        Self::DiagonalRelaxed,
        Self::Horizontal,
        Self::HorizontalExtend,
    ];

    /// polars' name for it ("vertical_relaxed").
    pub fn name(self) -> &'static str {
        match self {
            Self::Vertical => "vertical",
            Self::VerticalRelaxed => "vertical_relaxed",
            Self::Diagonal => "diagonal",
            Self::DiagonalRelaxed => "diagonal_relaxed",
            Self::Horizontal => "horizontal",
            Self::HorizontalExtend => "horizontal_extend",
        }
    }

    /// From polars' name; empty is vertical.
    pub fn parse(name: &str) -> Result<Self, CoreError> {
        if name.is_empty() {
            return Ok(Self::Vertical);
        }
        Self::ALL.into_iter().find(|how| how.name() == name).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|h| h.name()).collect();
            CoreError::InvalidArgument(format!("unknown concat how {name:?} ({})", names.join(", ")))
        })
    }
}

/// The file formats Scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Parquet,
    Csv,
    Ipc,
}

impl FileFormat {
    /// From a path's extension, case-insensitive.
    pub fn from_path(path: &str) -> Result<Self, CoreError> {
        let ext = std::path::Path::new(path).extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext.to_ascii_lowercase().as_str() {
            "parquet" | "pq" => Ok(Self::Parquet),
            "csv" | "tsv" => Ok(Self::Csv),
            "ipc" | "arrow" | "feather" => Ok(Self::Ipc),
            _ => Err(CoreError::InvalidArgument(format!(
                "cannot tell the format of {path:?} from its extension; set `format`"
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv => "csv",
            Self::Ipc => "ipc",
        }
    }
}

/// Server-wide counters, with the caller's own handles.
#[derive(Debug, Clone, Default)]
pub struct CoreStats {
    /// The caller's handles and their estimated bytes.
    pub handles: u64,
    pub bytes: u64,
    pub memory_budget: u64,
    pub inserted: u64,
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
    pub dropped: u64,
    pub active_fetches: u64,
    pub running_queries: u64,
    pub queued_queries: u64,
}

/// Counts a running result stream for as long as it lives.
struct StreamGuard(Arc<AtomicU64>);

impl StreamGuard {
    fn new(counter: &Arc<AtomicU64>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter.clone())
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where SQL dialects differ, how a door's SQL reads. The default is
/// polars-sql's (DuckDB's) reading; QuestDB's doors ask for theirs.
#[derive(Clone, Copy, Debug, Default)]
pub struct SqlOptions {
    /// `/` of two integers is their integer quotient, truncated toward
    /// zero (QuestDB's and PostgreSQL's `SELECT 5 / 2` is 2).
    pub integer_division: bool,
    /// A column name no column has as written reads the one whose name
    /// differs from it in case only (QuestDB's `SELECT PX` of `px`).
    pub case_insensitive_columns: bool,
}

/// The shared state every door works on.
pub struct Core {
    store: HandleStore,
    sandbox: Sandbox,
    tenants: Tenants,
    slots: QuerySlots,
    active_streams: Arc<AtomicU64>,
    metrics: Metrics,
    tables: Tables,
    /// Set once at start when the server has a distributed engine.
    distributed: std::sync::OnceLock<crate::distributed::Engine>,
    /// Results spilled to files, alive while a handle reads them.
    results: ResultFiles,
    /// Set when the server shuts down: endless streams (live bars) end.
    pub(crate) closing: tokio::sync::watch::Sender<bool>,
}

impl Core {
    /// `config.data_dir` must exist; it is canonicalized once here.
    pub fn new(config: CoreConfig) -> std::io::Result<Arc<Self>> {
        crate::collect::quiet_query_stops();
        let tenants = Tenants::new(config.auth_tokens);
        // Fair shares: with N tokens each tenant may hold memory_limit / N,
        // so no tenant's uploads can evict another's frames and together
        // they stay within the limit.
        let store = HandleStore::new(HandleConfig {
            idle_ttl: config.handle_ttl,
            memory_budget: config.memory_limit,
            namespace_budget: Some(config.memory_limit / tenants.count() as u64),
            ..HandleConfig::default()
        });
        Self::with_store(store, &config.data_dir, tenants, config.slots)
    }

    /// A core over an existing store (tests, embedders).
    pub fn with_store(
        store: HandleStore,
        data_dir: &std::path::Path,
        tenants: Tenants,
        slots: SlotConfig,
    ) -> std::io::Result<Arc<Self>> {
        let sandbox = Sandbox::new(data_dir)?;
        let tables = Tables::new(sandbox.root());
        let results = ResultFiles::new(sandbox.root());
        Ok(Arc::new(Self {
            tables,
            store,
            sandbox,
            tenants,
            slots: QuerySlots::new(slots),
            active_streams: Arc::new(AtomicU64::new(0)),
            metrics: Metrics::default(),
            distributed: std::sync::OnceLock::new(),
            results,
            closing: tokio::sync::watch::Sender::new(false),
        }))
    }

    /// End every endless stream (live bar subscriptions) with UNAVAILABLE,
    /// so that a graceful shutdown, which waits for in-flight calls, ends.
    pub fn end_subscriptions(&self) {
        self.closing.send_replace(true);
    }

    pub fn store(&self) -> &HandleStore {
        &self.store
    }

    pub fn tenants(&self) -> &Tenants {
        &self.tenants
    }

    /// The canonical data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.sandbox.root()
    }

    /// Query work: wait for a query slot, then run `work` on the blocking
    /// pool (a polars panic becomes INTERNAL). `work` gets a token that
    /// fires if the caller goes away (the door drops this future when its
    /// client disconnects or its deadline passes); the slot is held until
    /// the work itself has stopped.
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Core, &CancelToken) -> Result<T, CoreError> + Send + 'static,
    ) -> Result<T, CoreError> {
        let slot = self.slots.acquire().await?;
        let cancel = CancelOnDrop::new();
        let (core, token) = (self.clone(), cancel.token());
        blocking(move || {
            let _slot = slot;
            work(&core, &token)
        })
        .await
    }

    /// A query slot, for work the door runs itself (a result stream).
    pub async fn slot(&self) -> Result<Slot, CoreError> {
        self.slots.acquire().await
    }

    /// Stream a handle's result through `sink` from the blocking pool, in
    /// the slot the caller holds. See [`crate::results`].
    pub fn stream<S: ResultSink>(
        &self,
        id: HandleId,
        entry: Arc<Entry>,
        window: Window,
        sink: S,
        slot: Slot,
    ) -> mpsc::Receiver<Result<S::Message, CoreError>> {
        spawn_result(id, entry, window, sink, slot, StreamGuard::new(&self.active_streams), None)
    }

    /// [`Core::stream`] that stops at `deadline` (a statement timeout).
    pub fn stream_until<S: ResultSink>(
        &self,
        entry: Arc<Entry>,
        window: Window,
        sink: S,
        slot: Slot,
        deadline: Option<std::time::Instant>,
    ) -> mpsc::Receiver<Result<S::Message, CoreError>> {
        let guard = StreamGuard::new(&self.active_streams);
        spawn_result(HandleId::generate(), entry, window, sink, slot, guard, deadline)
    }

    /// Named, durable tables (per tenant).
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    // ---- handles ----

    /// A handle of the caller's; reading it refreshes its idle timer.
    pub fn handle(&self, ns: &Namespace, id: HandleId) -> Result<Arc<Entry>, CoreError> {
        Ok(self.store.get(ns, id)?)
    }

    pub fn info(&self, ns: &Namespace, id: HandleId) -> Result<HandleInfo, CoreError> {
        Ok(self.handle(ns, id)?.info(id))
    }

    pub fn drop_handle(&self, ns: &Namespace, id: HandleId) -> Result<(), CoreError> {
        Ok(self.store.drop(ns, id)?)
    }

    pub fn list(&self, ns: &Namespace) -> Vec<HandleInfo> {
        self.store.list(ns)
    }

    pub fn stats(&self, ns: &Namespace) -> CoreStats {
        // A tenant sees its own handles, never how much others hold.
        let mine = self.store.list(ns);
        self.stats_with(mine.len() as u64, mine.iter().filter_map(|h| h.estimated_bytes).sum())
    }

    /// Server-wide numbers for operators (metrics), not for tenants.
    pub fn server_stats(&self) -> CoreStats {
        let s = self.store.stats();
        self.stats_with(s.count, s.bytes)
    }

    /// The store's counters (read after its maintenance, so expired handles
    /// are gone) and the query slots, with `handles` and `bytes` as given.
    fn stats_with(&self, handles: u64, bytes: u64) -> CoreStats {
        let s = self.store.stats();
        CoreStats {
            handles,
            bytes,
            memory_budget: self.store.config().memory_budget,
            inserted: s.inserted,
            hits: s.hits,
            misses: s.misses,
            expired: s.expired,
            evicted: s.evicted,
            dropped: s.dropped,
            active_fetches: self.active_streams.load(Ordering::Relaxed),
            running_queries: self.slots.running() as u64,
            queued_queries: self.slots.waiting() as u64,
        }
    }

    /// The most one request may build (Collect, Ohlcv, an upload): the
    /// caller's share of the memory budget, since a result larger than that
    /// could never be kept. Storing it evicts the caller's least recently
    /// used handles, never another tenant's.
    pub fn build_limit(&self) -> u64 {
        self.store.config().namespace_budget()
    }

    /// The one way a plan enters the store: confined to the data directory
    /// first (every source resolved inside it, no file sinks), then resolved
    /// (its schema), then kept. A refused plan leaves no handle.
    pub fn keep_plan(&self, ns: &Namespace, lf: LazyFrame, lineage: impl AsRef<str>) -> Result<HandleInfo, CoreError> {
        let entry = self.confined_entry(ns, lf, lineage)?;
        self.keep(ns, entry)
    }

    /// A plan confined for `ns`, as an entry that holds the result files
    /// it reads.
    fn confined_entry(&self, ns: &Namespace, lf: LazyFrame, lineage: impl AsRef<str>) -> Result<Entry, CoreError> {
        let (lf, read) = self.sandbox.confine_reading(lf, ns)?;
        Ok(Entry::plan(lf, lineage)?.holding(self.results.held_by(&read)))
    }

    /// A plan checked exactly as [`Core::keep_plan`] checks it (confined,
    /// resolved), but not kept: for doors that run a query once.
    pub fn prepare_plan(&self, ns: &Namespace, lf: LazyFrame, lineage: impl AsRef<str>) -> Result<Arc<Entry>, CoreError> {
        Ok(Arc::new(self.confined_entry(ns, lf, lineage)?))
    }

    /// Keep a materialized frame.
    pub fn keep_frame(&self, ns: &Namespace, entry: Entry) -> Result<HandleInfo, CoreError> {
        if entry.kind() != PayloadKind::Frame {
            return Err(CoreError::Internal("a plan must be stored through keep_plan".into()));
        }
        self.keep(ns, entry)
    }

    fn keep(&self, ns: &Namespace, entry: Entry) -> Result<HandleInfo, CoreError> {
        let id = self.store.insert(ns, entry)?;
        Ok(self.store.get(ns, id)?.info(id))
    }

    // ---- sources ----

    pub fn scan(&self, ns: &Namespace, spec: &ScanSpec) -> Result<HandleInfo, CoreError> {
        let requested: Vec<&str> = match (spec.path.is_empty(), spec.paths.is_empty()) {
            (false, false) => return Err(CoreError::InvalidArgument("set path or paths, not both".into())),
            (true, false) => spec.paths.iter().map(String::as_str).collect(),
            _ => vec![spec.path.as_str()],
        };
        // A table by name: a path with no extension that names one.
        if spec.paths.is_empty() && spec.format.is_none() && std::path::Path::new(&spec.path).extension().is_none() {
            if let Some(info) = self.scan_table(ns, &spec.path)? {
                return Ok(info);
            }
        }
        let mut files = Vec::new();
        let mut one_directory = false;
        for path in &requested {
            let (found, is_dir) = self.sandbox.resolve_files(path)?;
            files.extend(found);
            one_directory = is_dir && requested.len() == 1;
        }
        let format = match spec.format {
            Some(f) => f,
            None if one_directory => FileFormat::from_path(&files[0].to_string_lossy())?,
            None => FileFormat::from_path(requested[0])?,
        };
        let sources = ScanSources::Paths(files.iter().map(|f| PlRefPath::new(f.to_string_lossy().as_ref())).collect());
        // The paths are expanded here, inside the sandbox: polars reads exactly these files.
        let hive_options = HiveOptions {
            enabled: Some(spec.hive_partitioning.unwrap_or(one_directory)),
            ..HiveOptions::new_disabled()
        };
        let lf = match format {
            FileFormat::Parquet => {
                let args = ScanArgsParquet { glob: false, hive_options, ..Default::default() };
                LazyFrame::scan_parquet_sources(sources, args)?
            },
            FileFormat::Ipc => {
                let args = UnifiedScanArgs { glob: false, hive_options, ..Default::default() };
                LazyFrame::scan_ipc_sources(sources, Default::default(), args)?
            },
            FileFormat::Csv => {
                if spec.hive_partitioning == Some(true) {
                    return Err(CoreError::InvalidArgument("hive_partitioning is for parquet and ipc files".into()));
                }
                spec.csv.reader(sources)?.with_glob(false).finish()?
            },
        };
        let label_path = if spec.paths.is_empty() { format!("{:?}", spec.path) } else { format!("{:?}", spec.paths) };
        let kind = format.name();
        // A scan carries no expression of the client's: if its schema cannot
        // be read, the file is at fault, not the request.
        self.keep_plan(ns, lf, format!("scan_{kind}({label_path})")).map_err(|e| match e {
            CoreError::Polars(e) | CoreError::Handle(polaroid_handles::HandleError::Polars(e)) => {
                CoreError::FailedPrecondition(format!(
                    "{label_path} in the server's data directory cannot be read as {kind}: {e}"
                ))
            },
            other => other,
        })
    }

    /// A plan handle over the caller's table `name`, if there is one.
    pub fn scan_table(&self, ns: &Namespace, name: &str) -> Result<Option<HandleInfo>, CoreError> {
        match self.tables.get(ns, name)? {
            Some(table) => Ok(Some(self.keep_plan(ns, table.scan()?, format!("table({:?})", table.def().name))?)),
            None => Ok(None),
        }
    }

    /// A materialized handle from an Arrow IPC stream received in `chunks`.
    pub fn upload(&self, ns: &Namespace, name: &str, chunks: Vec<bytes::Bytes>) -> Result<HandleInfo, CoreError> {
        let df = self.decode_upload(chunks)?;
        let label = if name.is_empty() { "upload()".to_string() } else { format!("upload({name:?})") };
        self.keep_frame(ns, Entry::frame(df, label).named(name))
    }

    /// The rows of an Arrow IPC stream received in `chunks`, checked
    /// against the caller's budget before polars allocates them.
    pub fn decode_upload(&self, chunks: Vec<bytes::Bytes>) -> Result<DataFrame, CoreError> {
        if chunks.iter().all(|c| c.is_empty()) {
            return Err(CoreError::InvalidArgument("the upload is empty: send an Arrow IPC stream".into()));
        }
        // What the stream declares is checked before polars allocates it.
        check_ipc_stream(&chunks, self.build_limit())?;
        // A corrupt stream can make the reader panic; either way it is the
        // upload's fault.
        let read = std::panic::catch_unwind(AssertUnwindSafe(|| read_ipc_stream(ChunkedReader::new(chunks))));
        match read {
            Ok(Ok(df)) => Ok(df),
            Ok(Err(e)) => Err(CoreError::InvalidArgument(format!("the upload is not a valid Arrow IPC stream: {e}"))),
            Err(panic) => Err(CoreError::InvalidArgument(format!(
                "the upload is not a valid Arrow IPC stream: {}",
                panic_message(&*panic)
            ))),
        }
    }

    /// An upload whose bytes alone exceed what the memory budget has left.
    pub fn upload_too_large(&self) -> CoreError {
        CoreError::ResourceExhausted(format!(
            "the upload is larger than the {} bytes of your share of the server's memory budget",
            self.build_limit()
        ))
    }

    // ---- plans ----

    /// A new plan handle built on one parent's plan. The lineage reads like
    /// the method chain that made it: `scan_parquet("t.parquet").sort(ts)`.
    pub fn derive(
        &self,
        ns: &Namespace,
        parent: HandleId,
        build: impl FnOnce(LazyFrame) -> Result<(LazyFrame, String), CoreError>,
    ) -> Result<HandleInfo, CoreError> {
        let parent = self.store.get(ns, parent)?;
        let (lf, op) = build(parent.lazy())?;
        self.keep_plan(ns, lf, lineage(&format!("{}.{op}", parent.lineage())))
    }

    /// A new plan handle built on two parents (a join). `build` returns the
    /// plan and the operation's text, whose first `(` is followed by the
    /// right side's lineage.
    pub fn derive2(
        &self,
        ns: &Namespace,
        left: HandleId,
        right: HandleId,
        build: impl FnOnce(LazyFrame, LazyFrame) -> Result<(LazyFrame, String), CoreError>,
    ) -> Result<HandleInfo, CoreError> {
        let left = self.store.get(ns, left)?;
        let right = self.store.get(ns, right)?;
        let (lf, op) = build(left.lazy(), right.lazy())?;
        let op = match op.split_once('(') {
            Some((name, rest)) => format!("{name}({}, {rest}", right.lineage()),
            None => op,
        };
        self.keep_plan(ns, lf, lineage(&format!("{}.{op}", left.lineage())))
    }

    /// The rows of several handles, one after another (schemas must match).
    /// The frames stacked as polars' `pl.concat(how=...)` does (see [`ConcatHow`]).
    /// `broadcast_unit_length` (with `HorizontalExtend` only) repeats a one-row
    /// frame to the others' height, as polars' plans of SQL's scalar subqueries do.
    pub fn concat(&self, ns: &Namespace, ids: &[HandleId], how: ConcatHow, broadcast_unit_length: bool) -> Result<HandleInfo, CoreError> {
        if ids.len() < 2 {
            return Err(CoreError::InvalidArgument("concat needs at least two handles".into()));
        }
        // polars' strict horizontal concat wants one height and ignores the option: refused, not ignored.
        if broadcast_unit_length && how != ConcatHow::HorizontalExtend {
            return Err(CoreError::InvalidArgument(format!(
                "broadcast_unit_length applies to how=horizontal_extend, not how={}",
                how.name()
            )));
        }
        let mut plans = Vec::with_capacity(ids.len());
        let mut parts = Vec::with_capacity(ids.len());
        for id in ids {
            let entry = self.store.get(ns, *id)?;
            parts.push(entry.lineage().to_string());
            plans.push(entry.lazy());
        }
        let relaxed = UnionArgs { to_supertypes: true, ..Default::default() };
        let lf = match how {
            ConcatHow::Vertical => concat(plans, UnionArgs::default())?,
            ConcatHow::VerticalRelaxed => concat(plans, relaxed)?,
            ConcatHow::Diagonal => concat_lf_diagonal(plans, UnionArgs::default())?,
            ConcatHow::DiagonalRelaxed => concat_lf_diagonal(plans, relaxed)?,
            ConcatHow::Horizontal | ConcatHow::HorizontalExtend => {
                let strict = how == ConcatHow::Horizontal;
                concat_lf_horizontal(plans, HConcatOptions { strict, broadcast_unit_length, ..Default::default() })?
            },
        };
        let op = match how {
            ConcatHow::Vertical => String::new(),
            other => format!(", how={}", other.name()),
        } + if broadcast_unit_length { ", broadcast_unit_length=true" } else { "" };
        self.keep_plan(ns, lf, lineage(&format!("concat([{}]{op})", parts.join(", "))))
    }

    /// A SQL query over handles registered under the given table names;
    /// any other name resolves as in [`Core::sql_over_namespace`] (one of
    /// the caller's tables, an upload's name, a handle id), as Flight SQL
    /// and the HTTP door resolve it.
    pub fn sql(&self, ns: &Namespace, query: &str, tables: &[(String, HandleId)]) -> Result<HandleInfo, CoreError> {
        let lf = self.sql_plan(ns, query, tables)?;
        let mut names: Vec<_> = tables.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        self.keep_plan(ns, lf, format!("sql({query:?} over [{}])", names.join(", ")))
    }

    /// The plan of a SQL query over the given tables, not yet confined or
    /// kept: doors that run a query at once still pass it through
    /// [`Core::keep_plan`].
    pub fn sql_plan(&self, ns: &Namespace, query: &str, tables: &[(String, HandleId)]) -> Result<LazyFrame, CoreError> {
        let mut sources = Vec::with_capacity(tables.len());
        for (name, id) in tables {
            sources.push((name.clone(), self.store.get(ns, *id)?.lazy()));
        }
        // Other names resolve among the caller's tables and handles.
        Ok(self.namespace_sql_plan_with(ns, query, sources, SqlOptions::default())?.0)
    }

    /// `query` over named plans.
    fn sql_over(&self, query: &str, mut sources: Vec<(String, LazyFrame)>, options: SqlOptions) -> Result<LazyFrame, CoreError> {
        if query.trim().is_empty() {
            return Err(CoreError::InvalidArgument("the SQL query is empty".into()));
        }
        refuse_changes(query)?;
        // polars-sql would call a placeholder an unsupported literal.
        Parameters::of(query)?.unbound()?;
        // Table functions (`read_parquet('t.parquet')`) resolve in the data
        // directory before polars opens anything.
        let (ctx, refusals) = self.sandbox.sql_context();
        let mut ctx = ctx
            .with_integer_division(options.integer_division)
            .with_case_insensitive_columns(options.case_insensitive_columns);
        sources.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, lf) in sources {
            ctx.register(&name, lf);
        }
        ctx.execute(query).map_err(|e| refusals.explain(e))
    }

    /// Run `query` with every table it names resolved among the caller's
    /// tables and handles (a handle id, quoted as ids contain dashes, or an
    /// upload name).
    pub fn sql_over_namespace(&self, ns: &Namespace, query: &str) -> Result<HandleInfo, CoreError> {
        let (lf, tables) = self.namespace_sql_plan(ns, query)?;
        let names: Vec<_> = tables.iter().map(|t| t.name.as_str()).collect();
        self.keep_plan(ns, lf, format!("sql({query:?} over [{}])", names.join(", ")))
    }

    /// [`Core::sql_over_namespace`] with bound parameters (see
    /// [`crate::sql_parameters`]): the query once per row of `values`, the
    /// rows' results one after another. Without values, a query that
    /// takes parameters is refused.
    pub fn sql_with_parameters(&self, ns: &Namespace, query: &str, values: Option<&DataFrame>) -> Result<HandleInfo, CoreError> {
        self.bound_sql(ns, query, values, None)
    }

    /// [`Core::sql`] (over the handles `tables` names) with bound parameters,
    /// as [`Core::sql_with_parameters`] binds them.
    pub fn sql_with_parameters_over(
        &self,
        ns: &Namespace,
        query: &str,
        values: Option<&DataFrame>,
        tables: &[(String, HandleId)],
    ) -> Result<HandleInfo, CoreError> {
        self.bound_sql(ns, query, values, Some(tables))
    }

    /// A query once per row of `values`, over `tables` (or the caller's
    /// tables and handles by name).
    fn bound_sql(
        &self,
        ns: &Namespace,
        query: &str,
        values: Option<&DataFrame>,
        tables: Option<&[(String, HandleId)]>,
    ) -> Result<HandleInfo, CoreError> {
        let parameters = Parameters::of(query)?;
        let Some(values) = values.filter(|v| v.width() > 0) else {
            let query = parameters.unbound()?;
            return match tables {
                Some(tables) => self.sql(ns, query, tables),
                None => self.sql_over_namespace(ns, query),
            };
        };
        let mut plans = Vec::with_capacity(values.height());
        let mut names = Vec::new();
        for bound in parameters.bind(values)? {
            let lf = match tables {
                Some(tables) => {
                    names = tables.iter().map(|(name, _)| name.clone()).collect();
                    names.sort();
                    self.sql_plan(ns, &bound, tables)?
                },
                None => {
                    let (lf, defs) = self.namespace_sql_plan(ns, &bound)?;
                    names = defs.into_iter().map(|t| t.name).collect();
                    lf
                },
            };
            plans.push(lf);
        }
        let lf = if plans.len() == 1 { plans.pop().expect("one plan") } else { concat(plans, UnionArgs::default())? };
        let lineage = format!("sql({query:?} over [{}], {} row(s) of parameters)", names.join(", "), values.height());
        self.keep_plan(ns, lf, lineage)
    }

    /// The plan of a query whose names resolve among the caller's tables
    /// (first) and handles (by id or upload name), not yet confined or
    /// kept; and the definitions of the tables it reads.
    pub fn namespace_sql_plan(&self, ns: &Namespace, query: &str) -> Result<(LazyFrame, Vec<TableDef>), CoreError> {
        self.namespace_sql_plan_with(ns, query, Vec::new(), SqlOptions::default())
    }

    /// [`Core::namespace_sql_plan`] with more named plans (a door's
    /// intermediate results), which win over tables and handles, and the
    /// door's dialect's readings.
    pub fn namespace_sql_plan_with(
        &self,
        ns: &Namespace,
        query: &str,
        extra: Vec<(String, LazyFrame)>,
        options: SqlOptions,
    ) -> Result<(LazyFrame, Vec<TableDef>), CoreError> {
        if first_word(query) == "SHOW" && query.split_whitespace().map(str::to_ascii_uppercase).collect::<Vec<_>>() == ["SHOW", "TABLES"] {
            // The caller's tables and upload names (polars-sql would list
            // only the tables this query had registered: none).
            let mut names = self.tables.names(ns)?;
            names.extend(self.store.list(ns).into_iter().filter_map(|info| info.name.map(|n| n.to_string())));
            names.sort();
            names.dedup();
            let frame = DataFrame::new(names.len(), vec![Column::new("name".into(), names)])?;
            return Ok((frame.lazy(), Vec::new()));
        }
        let (handles, unresolved) = self.resolve_tables(ns, query)?;
        let mut sources = extra;
        let mut defs = Vec::new();
        let mut missing = Vec::new();
        for name in unresolved {
            if sources.iter().any(|(n, _)| n == &name) {
                continue;
            }
            match self.tables.get(ns, &name)? {
                Some(table) => {
                    defs.push(table.def());
                    sources.push((name, table.scan()?));
                },
                None => missing.push(name),
            }
        }
        for (name, id) in handles {
            if !sources.iter().any(|(n, _)| n == &name) {
                sources.push((name, self.store.get(ns, id)?.lazy()));
            }
        }
        let lf = self.sql_over(query, sources, options).map_err(|e| explain_unresolved(e, &missing))?;
        Ok((lf, defs))
    }

    /// A shipped polars plan ([`crate::shipping`]) as one new plan handle.
    ///
    /// Each `polaroid://<name>` scan in it becomes the plan of: the handle
    /// `bindings` maps `name` to, else the handle with id `name`, else the
    /// caller's table `name` (never another tenant's). Then the plan is
    /// kept as every plan is: confined to the data directory, resolved.
    pub fn ship_plan(
        &self,
        ns: &Namespace,
        bytes: &[u8],
        bindings: &HashMap<String, String>,
        client_polars: &str,
        description: &str,
    ) -> Result<HandleInfo, CoreError> {
        let mut plan = crate::shipping::decode(bytes, client_polars)?;
        let mut sources = Vec::new();
        crate::shipping::resolve(&mut plan, &mut |name| {
            let (lf, lineage) = self.placeholder_plan(ns, name, bindings)?;
            sources.push(lineage);
            Ok(lf)
        })?;
        let text = match description.trim() {
            "" => format!("plan({})", sources.join(", ")),
            described => described.to_string(),
        };
        self.keep_plan(ns, LazyFrame::from(plan), lineage(&text))
    }

    /// What a `polaroid://<name>` scan stands for, and its lineage.
    fn placeholder_plan(
        &self,
        ns: &Namespace,
        name: &str,
        bindings: &HashMap<String, String>,
    ) -> Result<(LazyFrame, String), CoreError> {
        let handle = match bindings.get(name) {
            Some(id) => Some(id.parse::<HandleId>().map_err(|_| {
                CoreError::InvalidArgument(format!("the binding {name:?} maps to {id:?}, which is not a handle id"))
            })?),
            None => name.parse::<HandleId>().ok(),
        };
        if let Some(id) = handle {
            let entry = self.store.get(ns, id)?;
            return Ok((entry.lazy(), entry.lineage().to_string()));
        }
        match self.tables.get(ns, name)? {
            Some(table) => Ok((table.scan()?, format!("table({name:?})"))),
            None => Err(CoreError::NotFound(format!(
                "the plan scans polaroid://{name}, which is no binding of this request, handle id or table of yours"
            ))),
        }
    }

    /// The tables `query` names, resolved among the caller's handles, and
    /// the names that are none of them (CTEs, aliases, or mistakes).
    pub fn resolve_tables(&self, ns: &Namespace, query: &str) -> Result<(Vec<(String, HandleId)>, Vec<String>), CoreError> {
        if query.trim().is_empty() {
            return Err(CoreError::InvalidArgument("the SQL query is empty".into()));
        }
        let names = polars::sql::extract_table_identifiers(query, false, true)?;
        let mut tables = HashMap::new();
        let mut unresolved = Vec::new();
        for name in names {
            // Table functions read data-directory files; SQL resolves them itself.
            if TABLE_FUNCTIONS.contains(&name.as_str()) {
                continue;
            }
            let id = match name.parse::<HandleId>() {
                Ok(id) => Some(id),
                // A table of that name wins over an upload's name.
                Err(_) if self.tables.get(ns, &name)?.is_some() => None,
                Err(_) => self.newest_upload(ns, &name),
            };
            match id {
                Some(id) => {
                    tables.insert(name, id);
                },
                None => unresolved.push(name),
            }
        }
        Ok((tables.into_iter().collect(), unresolved))
    }

    /// The caller's handle uploaded (or kept) under `name`: the newest, as
    /// a name uploaded again refers to the latest upload.
    fn newest_upload(&self, ns: &Namespace, name: &str) -> Option<HandleId> {
        self.store.list(ns).iter().rev().find(|h| h.name.as_deref() == Some(name)).map(|h| h.id)
    }

    /// Give this core the engine `distributed=true` queries run on. Set
    /// once; a second engine is refused.
    pub fn set_distributed(&self, engine: Arc<dyn DistributedEngine>) -> Result<(), CoreError> {
        self.distributed
            .set(engine)
            .map_err(|_| CoreError::Internal("the distributed engine is already set".into()))
    }

    /// Run `query` on the distributed engine and keep its result: a frame
    /// handle, or when it outgrows [`SPILL_AFTER`] (or the caller's budget)
    /// a plan handle over a result file. Names resolve as
    /// [`crate::distributed`] says; the request's `tables` bind names to
    /// handles first.
    pub async fn sql_distributed(
        self: &Arc<Self>,
        ns: &Namespace,
        query: &str,
        tables: &[(String, HandleId)],
    ) -> Result<HandleInfo, CoreError> {
        let engine = self.distributed.get().cloned().ok_or_else(|| {
            CoreError::Unimplemented(
                "this server runs no distributed engine (build polaroid-server with the `distributed` feature)".into(),
            )
        })?;
        if query.trim().is_empty() {
            return Err(CoreError::InvalidArgument("the SQL query is empty".into()));
        }
        let names = engine.table_names(query)?;
        // Writing a table's log out to parts is file work: off the runtime.
        let (core, caller, bound) = (self.clone(), ns.clone(), tables.to_vec());
        let files = blocking(move || {
            let mut files: Vec<FileTable> = Vec::with_capacity(names.len());
            for name in names {
                if !files.iter().any(|t| t.name == name) {
                    files.push(core.file_table(&caller, &name, &bound)?);
                }
            }
            Ok(files)
        })
        .await?;
        let mut described: Vec<_> = files.iter().map(|t| t.name.clone()).collect();
        described.sort();
        let _slot = self.slot().await?;
        let mut batches = engine.submit(query.to_string(), files).await?;
        let text = format!("sql_distributed({query:?} over [{}] on {})", described.join(", "), engine.describe());
        // Up to the threshold the result is a frame; past it, everything
        // goes to a result file and the handle reads it as a plan.
        let spill_after = SPILL_AFTER.min(self.build_limit());
        let (mut held, mut held_bytes) = (Vec::new(), 0u64);
        let mut schema: Option<SchemaRef> = None;
        let mut spilled: Option<(Arc<ResultFile>, polars::io::ipc::BatchedWriter<std::fs::File>)> = None;
        while let Some(batch) = batches.recv().await {
            let batch = batch?;
            let schema = schema.get_or_insert_with(|| batch.schema().clone());
            if batch.height() == 0 {
                continue;
            }
            if let Some((_, writer)) = spilled.as_mut() {
                tokio::task::block_in_place(|| writer.write_batch(&batch))?;
                continue;
            }
            held_bytes += batch.estimated_size() as u64;
            held.push(batch);
            if held_bytes > spill_after {
                let (file, out) = self.results.create(ns)?;
                let writer = tokio::task::block_in_place(|| -> Result<_, CoreError> {
                    let arrow = schema.to_arrow(CompatLevel::newest());
                    let fields = polars_arrow::io::ipc::write::default_ipc_fields(arrow.iter_values());
                    let mut writer = IpcWriter::new(out).batched(schema, fields)?;
                    for df in held.drain(..) {
                        writer.write_batch(&df)?;
                    }
                    Ok(writer)
                })?;
                held_bytes = 0;
                spilled = Some((file, writer));
            }
        }
        let schema = schema.ok_or_else(|| CoreError::Internal("the distributed engine sent no schema".into()))?;
        match spilled {
            None => {
                let mut df = DataFrame::empty_with_schema(&schema);
                for batch in held {
                    df.vstack_mut_owned(batch)?;
                }
                self.keep_frame(ns, Entry::frame(df, lineage(&text)))
            },
            Some((file, mut writer)) => {
                tokio::task::block_in_place(|| writer.finish())?;
                let path = PlRefPath::new(file.path().to_string_lossy().as_ref());
                let lf = LazyFrame::scan_ipc(path, Default::default(), Default::default())?;
                // The kept entry holds `file` from here on (found by path).
                self.keep_plan(ns, lf, lineage(&text))
            },
        }
    }

    /// The files behind `name` in a distributed query.
    fn file_table(&self, ns: &Namespace, name: &str, bound: &[(String, HandleId)]) -> Result<FileTable, CoreError> {
        if let Some((_, id)) = bound.iter().find(|(n, _)| n == name) {
            return self.file_backed_handle(ns, name, *id);
        }
        if let Some(table) = self.tables.get(ns, name)? {
            let def = table.def();
            return Ok(FileTable {
                name: name.to_string(),
                kind: FileKind::Ipc,
                files: table.flushed_parts()?,
                schema: Some(Arc::new(def.schema()?)),
            });
        }
        if let Ok(id) = name.parse::<HandleId>() {
            return self.file_backed_handle(ns, name, id);
        }
        if let Some(id) = self.newest_upload(ns, name) {
            return self.file_backed_handle(ns, name, id);
        }
        if std::path::Path::new(name).extension().is_some() {
            let path = self.sandbox.resolve(name)?;
            return Ok(FileTable { name: name.to_string(), kind: kind_of_path(name)?, files: vec![path], schema: None });
        }
        Err(CoreError::NotFound(format!(
            "the query reads {name:?}, which is none of your tables, handles or uploads, and no file in the \
             data directory (quote file names: FROM \"ticks.parquet\")"
        )))
    }

    fn file_backed_handle(&self, ns: &Namespace, name: &str, id: HandleId) -> Result<FileTable, CoreError> {
        let entry = self.store.get(ns, id)?;
        let Payload::Plan(lf) = entry.payload() else {
            return Err(not_file_backed(name));
        };
        let (kind, files) = scanned_files(&lf.logical_plan).ok_or_else(|| not_file_backed(name))?;
        // Paths were confined when the handle was kept; check them again,
        // as every door does before anything is read.
        for file in &files {
            if !file.starts_with(self.sandbox.root()) {
                return Err(CoreError::PermissionDenied(format!(
                    "{name:?} reads {} outside the server's data directory",
                    file.display()
                )));
            }
        }
        Ok(FileTable { name: name.to_string(), kind, files, schema: None })
    }

    /// The plan of a handle, described (optimized unless `unoptimized`).
    pub fn explain(&self, ns: &Namespace, id: HandleId, unoptimized: bool) -> Result<String, CoreError> {
        let lf = self.store.get(ns, id)?.lazy();
        // Optimized, as it runs: with the nearest rows read back.
        Ok(if unoptimized { lf.describe_plan()? } else { crate::read_back::nearest_rows(lf).describe_optimized_plan()? })
    }

    // ---- materializing ----

    /// OHLCV bars of a handle's ticks, materialized. `op` is the lineage text.
    pub fn ohlcv(
        &self,
        ns: &Namespace,
        id: HandleId,
        options: &OhlcvOptions,
        op: &str,
        cancel: &CancelToken,
    ) -> Result<HandleInfo, CoreError> {
        let entry = self.store.get(ns, id)?;
        let bars = match entry.payload() {
            Payload::Frame(df) => df.as_ref().ohlcv(options)?,
            // Streamed through the kernel: between batches, stop if the
            // client left or the closed bars outgrow the budget.
            Payload::Plan(lf) => {
                let (token, budget) = (cancel.clone(), self.build_limit());
                let keep_going = move |p: StreamProgress| !token.is_cancelled() && p.bars as u64 * BAR_BYTES <= budget;
                match stoppable(cancel, || Ok(stream_ohlcv(lf.clone(), options, keep_going)))? {
                    Err(TimeseriesError::Stopped) => {
                        cancel.check()?;
                        return Err(CoreError::ResourceExhausted(format!(
                            "the bars outgrew the {budget} bytes of your share of the server's memory budget; \
                             use a coarser `every` or fewer symbols"
                        )));
                    },
                    other => other?,
                }
            },
        };
        self.keep_frame(ns, Entry::frame(bars, lineage(&format!("{}.{op}", entry.lineage()))))
    }

    /// A handle's result materialized into a new handle.
    pub fn collect(&self, ns: &Namespace, id: HandleId, engine: Engine, cancel: &CancelToken) -> Result<HandleInfo, CoreError> {
        let entry = self.store.get(ns, id)?;
        let df = self.collect_entry(&entry, engine, cancel)?;
        self.keep_frame(ns, Entry::frame(df, format!("collect({})", entry.lineage())))
    }

    /// A handle's result as one frame, within the caller's budget.
    pub fn collect_entry(&self, entry: &Entry, engine: Engine, cancel: &CancelToken) -> Result<Arc<DataFrame>, CoreError> {
        Ok(match entry.payload() {
            Payload::Frame(df) => df.clone(),
            Payload::Plan(lf) => Arc::new(collect_plan(lf.clone(), engine, self.build_limit(), cancel)?),
        })
    }
}

/// The first word of a SQL statement, upper-cased.
fn first_word(query: &str) -> String {
    query.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or_default().to_ascii_uppercase()
}

/// Statements that change tables. polars-sql runs them on the query's own
/// context, which goes with the query, and answers as if they were done:
/// refused by name instead.
fn refuse_changes(query: &str) -> Result<(), CoreError> {
    let first = first_word(query);
    if matches!(first.as_str(), "CREATE" | "DROP" | "TRUNCATE" | "INSERT" | "UPDATE" | "DELETE" | "ALTER") {
        return Err(CoreError::InvalidArgument(format!(
            "{first} is not run by this SQL, which reads: the change would last only as long as this query. Store \
             tables through Flight SQL (bulk ingest; INSERT, CREATE/DROP TABLE, TRUNCATE), the HTTP door (QuestDB's /exec: \
             CREATE TABLE, INSERT, TRUNCATE, DROP) or ILP; every query's result is kept as a handle already"
        )));
    }
    Ok(())
}

/// Name the tables that resolved to nothing when polars says a relation
/// was not found.
fn explain_unresolved(e: CoreError, unresolved: &[String]) -> CoreError {
    match e {
        CoreError::Polars(p) if !unresolved.is_empty() && p.to_string().contains("not found") => {
            CoreError::InvalidArgument(format!(
                "{p}; tables are named by a table name, a handle id (quoted) or the name of one of \
                 your uploads (not resolved here: {})",
                unresolved.join(", ")
            ))
        },
        other => other,
    }
}

/// Run query work on the blocking pool, never on the async runtime, and
/// turn a panic inside polars into INTERNAL instead of a dead worker.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CoreError> + Send + 'static,
) -> Result<T, CoreError> {
    match tokio::task::spawn_blocking(move || std::panic::catch_unwind(AssertUnwindSafe(work))).await {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(CoreError::Internal(format!("polars panicked: {}", panic_message(&*panic)))),
        Err(join) => Err(CoreError::Internal(format!("query task failed: {join}"))),
    }
}

/// Lineage is for people: keep it short, eliding the middle of long chains.
fn lineage(text: &str) -> String {
    const MAX: usize = 400;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let head: String = text.chars().take(MAX / 2).collect();
    let tail: String = text.chars().rev().take(MAX / 2).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_query_work_becomes_internal_and_the_runtime_goes_on() {
        let err = blocking::<()>(|| panic!("boom in a kernel")).await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Internal);
        assert_eq!(err.to_string(), "internal error: polars panicked: boom in a kernel");
        let ok = blocking(|| Ok(41 + 1)).await.unwrap();
        assert_eq!(ok, 42);
    }

    /// QuestDB's column names are case-insensitive (`SELECT PX` of a column
    /// `px`), which its doors ask for with `case_insensitive_columns`; a
    /// bare column is shown as written. Without it, names are polars' own.
    #[test]
    fn column_names_resolve_in_any_case_when_a_door_asks() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::new(CoreConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).unwrap();
        let ns = Namespace::anonymous();
        let t = df!("sym" => ["a", "b", "a"], "px" => [1.0, 2.0, 4.0], "Size" => [10i64, 20, 30], "PX" => [7.0, 8.0, 9.0])
            .unwrap()
            .drop("PX")
            .unwrap();
        let any_case = SqlOptions { case_insensitive_columns: true, ..Default::default() };
        let run = |query: &str, frames: Vec<(String, LazyFrame)>, options: SqlOptions| {
            core.namespace_sql_plan_with(&ns, query, frames, options).and_then(|(lf, _)| Ok(lf.collect()?))
        };
        let frames = || vec![("t".to_string(), t.clone().lazy())];
        // Every clause reads `sym`, `px` and `Size`, each as differently written:
        // by hand, a's rows are 1.0 and 4.0 (sizes 10 and 30), b's 2.0 (20).
        let got = run(
            "SELECT SYM, sum(PX) AS total, sum(size) AS n FROM t WHERE Px > 1.5 OR SIZE = 10 GROUP BY Sym ORDER BY sYm",
            frames(),
            any_case,
        )
        .unwrap();
        let want = df!("SYM" => ["a", "b"], "total" => [5.0, 2.0], "n" => [40i64, 20]).unwrap();
        assert!(got.equals(&want), "{got}");
        // A bare column keeps the query's spelling; a qualified one resolves too.
        let got = run("SELECT PX, t.SIZE AS s FROM t ORDER BY Px DESC LIMIT 1", frames(), any_case).unwrap();
        assert!(got.equals(&df!("PX" => [4.0], "s" => [30i64]).unwrap()), "{got}");
        // An exact name wins over one in another case.
        let both = df!("px" => [1.0], "PX" => [2.0]).unwrap();
        let got = run("SELECT PX, px FROM t", vec![("t".into(), both.clone().lazy())], any_case).unwrap();
        assert!(got.equals(&both.select(["PX", "px"]).unwrap()), "{got}");
        // Of two in other cases, the first (DuckDB picks one too).
        let got = run("SELECT Px FROM t", vec![("t".into(), both.lazy())], any_case).unwrap();
        assert!(got.equals(&df!("Px" => [1.0]).unwrap()), "{got}");
        // Nothing in any case: polars' own refusal, naming it.
        let err = run("SELECT qty FROM t", frames(), any_case).unwrap_err();
        assert!(err.to_string().contains("unable to find column \"qty\""), "{err}");
        // Off (the gRPC door's and Flight SQL's reading, upstream polars'): refused.
        let err = run("SELECT PX FROM t", frames(), SqlOptions::default()).unwrap_err();
        assert!(err.to_string().contains("unable to find column \"PX\""), "{err}");
    }

    /// DuckDB's ASOF JOIN over tables named in the query, at every door
    /// that resolves names (the gRPC door's SQL, Flight SQL), and over a
    /// table and a frame given by name. sqlparser could not list such a
    /// query's tables ("Expected: MATCH_CONDITION, found: ON"), so Flight
    /// SQL refused it and the gRPC SQL read only the frames given. A
    /// table's symbols (categorical) meet a frame's text (string) as text,
    /// in an as-of join's keys and an equality join's: polars refused
    /// (the as-of join as it ran, "`u32` and `str`").
    #[test]
    fn an_asof_join_reads_the_tables_it_names_and_symbols_meet_text() {
        use crate::tables::{ColumnDef, PartitionBy};
        let dir = tempfile::tempdir().unwrap();
        let core = Core::new(CoreConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).unwrap();
        let ns = Namespace::anonymous();
        // 2024-01-02T09:30:00 plus seconds.
        let at = |s: i64| 1_704_187_800_000_000 + s * 1_000_000;
        let frame = |sym: &[&str], secs: &[i64], value: (&str, &[f64])| {
            df!("ts" => secs.iter().map(|&s| at(s)).collect::<Vec<_>>(), "sym" => sym, value.0 => value.1)
                .unwrap()
                .lazy()
                .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
                .collect()
                .unwrap()
        };
        let trades = frame(&["a", "a", "b", "b"], &[5, 9, 3, 8], ("px", &[1.0, 2.0, 3.0, 4.0]));
        let quotes = frame(&["a", "a", "b"], &[4, 8, 9], ("bid", &[10.0, 11.0, 12.0]));
        for (name, value, rows) in [("trades", "px", &trades), ("quotes", "bid", &quotes)] {
            let columns = [("ts", "TIMESTAMP"), ("sym", "SYMBOL"), (value, "DOUBLE")]
                .map(|(name, kind)| ColumnDef { name: name.into(), kind: kind.into() })
                .to_vec();
            let def = TableDef {
                name: name.into(),
                columns,
                timestamp: Some("ts".into()),
                partition_by: PartitionBy::Day,
                retention: Default::default(),
                upsert_keys: Vec::new(),
            };
            core.tables().create(&ns, def, false).unwrap();
            core.tables().append(&ns, name, rows.clone(), None).unwrap();
        }
        let quotes_frame = core.keep_plan(&ns, quotes.lazy(), "quotes").unwrap().id;
        let collect = |info: HandleInfo| {
            let df = core.collect_entry(&core.handle(&ns, info.id).unwrap(), Engine::Streaming, &CancelToken::default()).unwrap();
            df.as_ref().clone().lazy().with_column(col("sym").cast(DataType::String)).collect().unwrap()
        };
        // a's trades at :05 and :09 see the quotes of :04 and :08; b's
        // quote comes at :09, after both its trades.
        let want = df!(
            "sym" => ["a", "a", "b", "b"],
            "ts" => [at(5), at(9), at(3), at(8)],
            "bid" => [Some(10.0), Some(11.0), None, None],
        )
        .unwrap()
        .lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
        .collect()
        .unwrap();
        let same = |got: DataFrame, want: &DataFrame, door: &str| assert!(got.equals_missing(want), "{door}: {got} vs {want}");
        let query = "SELECT t.sym, t.ts, q.bid FROM trades AS t ASOF LEFT JOIN quotes AS q \
                     ON t.sym = q.sym AND t.ts >= q.ts ORDER BY t.sym, t.ts";
        same(collect(core.sql(&ns, query, &[]).unwrap()), &want, "the gRPC door's SQL");
        same(collect(core.sql_over_namespace(&ns, query).unwrap()), &want, "Flight SQL");
        let given = core.sql(&ns, query, &[("quotes".to_string(), quotes_frame)]).unwrap();
        same(collect(given), &want, "a table and a frame given");
        // Without LEFT, b's trades meet no quote.
        let inner = query.replace("ASOF LEFT JOIN", "ASOF JOIN");
        same(collect(core.sql_over_namespace(&ns, &inner).unwrap()), &want.head(Some(2)), "ASOF JOIN");
        // Every pair of a's (2 × 2) and b's (2 × 1).
        for query in [
            "SELECT count(*) AS n FROM trades AS t JOIN quotes AS q ON t.sym = q.sym",
            "SELECT count(*) AS n FROM trades JOIN quotes USING (sym)",
            "SELECT count(*) AS n FROM trades AS t ASOF JOIN quotes AS q USING (sym, ts)",
        ] {
            let given = core.sql(&ns, query, &[("quotes".to_string(), quotes_frame)]).unwrap();
            let got = core.collect_entry(&core.handle(&ns, given.id).unwrap(), Engine::Streaming, &CancelToken::default()).unwrap();
            let n = got.column("n").unwrap().get(0).unwrap().extract::<u64>().unwrap();
            assert_eq!(n, if query.contains("ASOF") { 2 } else { 6 }, "{query}");
        }
        // A name that is nothing of the caller's is still named as such.
        let err = core.sql_over_namespace(&ns, &query.replace("quotes", "quotez")).unwrap_err();
        assert!(err.to_string().contains("not resolved here: quotez"), "{err}");
    }
}
