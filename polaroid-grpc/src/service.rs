use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use polaroid_handles::{Entry, HandleId, HandleInfo as StoreInfo, HandleStore, Namespace, Payload, PayloadKind};
use polars::prelude::*;
use polars_arrow::io::ipc::write::Compression;
use polaroid_timeseries::{stream_ohlcv, OhlcvExt, StreamProgress, TimeseriesError};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::namespace;
use crate::collect::{collect_plan, stoppable};
use crate::error::ServiceError;
use crate::fetch::{frame_parts, read_ipc_stream, stream_result, ChunkedReader, EncodedBatch, IpcEncoder, Window, END_OF_STREAM};
use crate::proto::polaroid_server::Polaroid;
use crate::proto::{self, FileFormat, IpcCompression, IpcMessage};
use crate::sandbox::Sandbox;
use crate::slots::{CancelOnDrop, CancelToken, QuerySlots, Slot, SlotConfig};
use crate::transforms;

/// What one closed bar costs in memory, about: ts, open, high, low, close,
/// volume, vwap (with its validity), trade count and series id.
const BAR_BYTES: u64 = 72;

/// Messages a Fetch may run ahead of a slow client: bounded, so a result far
/// larger than memory streams through a small window.
const FETCH_WINDOW: usize = 4;

/// The `polaroid.v1.Polaroid` service. It holds only shared state.
#[derive(Clone)]
pub struct PolaroidService {
    state: Arc<State>,
}

/// What every RPC of either protocol works on.
pub(crate) struct State {
    pub(crate) store: HandleStore,
    sandbox: Sandbox,
    pub(crate) max_message_size: usize,
    active_fetches: Arc<AtomicU64>,
    pub(crate) slots: QuerySlots,
}

/// Counts a running Fetch for as long as it lives.
struct FetchGuard(Arc<AtomicU64>);

impl FetchGuard {
    fn new(counter: &Arc<AtomicU64>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter.clone())
    }
}

impl Drop for FetchGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PolaroidService {
    /// `data_dir` must exist; it is canonicalized once here.
    pub fn new(store: HandleStore, data_dir: PathBuf, max_message_size: usize, slots: SlotConfig) -> std::io::Result<Self> {
        let sandbox = Sandbox::new(&data_dir)?;
        let active_fetches = Arc::new(AtomicU64::new(0));
        let slots = QuerySlots::new(slots);
        Ok(Self { state: Arc::new(State { store, sandbox, max_message_size, active_fetches, slots }) })
    }

    pub fn store(&self) -> &HandleStore {
        &self.state.store
    }

    pub(crate) fn state(&self) -> Arc<State> {
        self.state.clone()
    }
}

impl PolaroidService {
    /// Every single-parent transform has this shape: decode, build the new
    /// plan off the async runtime, keep it as a new handle.
    async fn transform<R: Send + 'static>(
        &self,
        request: Request<R>,
        handle: fn(&R) -> &str,
        build: fn(LazyFrame, &R) -> Result<(LazyFrame, String), ServiceError>,
    ) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        self.state.run(move |state, _| state.derive(&ns, handle(&req), |lf| build(lf, &req))).await.map(Response::new)
    }
}

/// Run query work on the blocking pool, never on the async runtime, and turn
/// a panic inside polars into INTERNAL instead of a dead worker.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, Status> {
    match tokio::task::spawn_blocking(move || std::panic::catch_unwind(AssertUnwindSafe(work))).await {
        Ok(Ok(result)) => result.map_err(Status::from),
        Ok(Err(panic)) => Err(ServiceError::Internal(format!("polars panicked: {}", panic_message(&*panic))).into()),
        Err(join) => Err(ServiceError::Internal(format!("query task failed: {join}")).into()),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".into()
    }
}

pub(crate) fn parse_id(text: &str) -> Result<HandleId, ServiceError> {
    Ok(text.parse::<HandleId>()?)
}

fn proto_schema(schema: &Schema) -> proto::Schema {
    proto::Schema {
        fields: schema
            .iter()
            .map(|(name, dtype)| proto::Field { name: name.to_string(), dtype: dtype.to_string() })
            .collect(),
    }
}

fn epoch_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn proto_info(info: &StoreInfo) -> proto::HandleInfo {
    proto::HandleInfo {
        handle: info.id.to_string(),
        kind: match info.kind {
            PayloadKind::Plan => proto::HandleKind::Plan,
            PayloadKind::Frame => proto::HandleKind::Frame,
        } as i32,
        schema: Some(proto_schema(&info.schema)),
        rows: info.rows.map(|r| r as u64),
        estimated_bytes: info.estimated_bytes,
        lineage: info.lineage.to_string(),
        created_ms: epoch_ms(info.created),
        last_access_ms: epoch_ms(info.last_access),
        name: info.name.as_deref().map(str::to_string),
    }
}

impl State {
    /// Query work: wait for a query slot, then run `work` on the blocking
    /// pool (a polars panic becomes INTERNAL). `work` gets a token that
    /// fires if this request goes away (tonic drops its future when the
    /// client disconnects or its deadline passes); the slot is held until
    /// the work itself has stopped.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&State, &CancelToken) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, Status> {
        let slot = self.slots.acquire().await?;
        let cancel = CancelOnDrop::new();
        let (state, token) = (self.clone(), cancel.token());
        blocking(move || {
            let _slot = slot;
            work(&state, &token)
        })
        .await
    }

    /// The one way a plan enters the store: confined to the data directory
    /// first (every source resolved inside it, no file sinks), then resolved
    /// (its schema), then kept. A refused plan leaves no handle.
    pub(crate) fn keep_plan(
        &self,
        ns: &Namespace,
        lf: LazyFrame,
        lineage: impl AsRef<str>,
    ) -> Result<proto::HandleReply, ServiceError> {
        let lf = self.sandbox.confine(lf)?;
        self.keep(ns, Entry::plan(lf, lineage)?)
    }

    /// Keep a materialized frame.
    pub(crate) fn keep_frame(&self, ns: &Namespace, entry: Entry) -> Result<proto::HandleReply, ServiceError> {
        if entry.kind() != PayloadKind::Frame {
            return Err(ServiceError::Internal("a plan must be stored through keep_plan".into()));
        }
        self.keep(ns, entry)
    }

    fn keep(&self, ns: &Namespace, entry: Entry) -> Result<proto::HandleReply, ServiceError> {
        let id = self.store.insert(ns, entry)?;
        let entry = self.store.get(ns, id)?;
        Ok(proto::HandleReply { info: Some(proto_info(&entry.info(id))) })
    }

    /// Stream a handle's result from the blocking pool: `head`, then each
    /// encoded batch as `wrap` turns it into messages, then `tail` once the
    /// result is complete. A receiver that goes away stops the query; an
    /// error or a panic ends the stream with its status.
    pub(crate) fn spawn_result_stream<M: Send + 'static>(
        &self,
        id: HandleId,
        entry: Arc<Entry>,
        window: Window,
        encoder: IpcEncoder,
        head: Vec<M>,
        wrap: impl Fn(EncodedBatch) -> Vec<M> + Send + 'static,
        tail: Vec<M>,
        slot: Slot,
    ) -> ReceiverStream<Result<M, Status>> {
        let (tx, rx) = mpsc::channel(FETCH_WINDOW);
        let guard = FetchGuard::new(&self.active_fetches);
        tokio::task::spawn_blocking(move || {
            let (_guard, _slot) = (guard, slot);
            let run = || -> Result<bool, ServiceError> {
                for m in head {
                    if tx.blocking_send(Ok(m)).is_err() {
                        return Ok(false);
                    }
                }
                let batch_tx = tx.clone();
                let send = move |batch: EncodedBatch| wrap(batch).into_iter().all(|m| batch_tx.blocking_send(Ok(m)).is_ok());
                // The client is gone when the stream's receiver is dropped.
                let gone = CancelToken::when({
                    let tx = tx.clone();
                    move || tx.is_closed()
                });
                if !stream_result(&entry, window, encoder, send, &gone)? {
                    return Ok(false);
                }
                Ok(tail.into_iter().all(|m| tx.blocking_send(Ok(m)).is_ok()))
            };
            let status = match std::panic::catch_unwind(AssertUnwindSafe(run)) {
                Ok(Ok(true)) => None,
                Ok(Ok(false)) => {
                    tracing::debug!(handle = %id, "result stream stopped: the client went away");
                    None
                },
                Ok(Err(e)) => Some(Status::from(e)),
                Err(panic) => Some(ServiceError::Internal(format!("polars panicked: {}", panic_message(&*panic))).into()),
            };
            if let Some(status) = status {
                let _ = tx.blocking_send(Err(status));
            }
        });
        ReceiverStream::new(rx)
    }

    fn scan(&self, ns: &Namespace, req: proto::ScanRequest) -> Result<proto::HandleReply, ServiceError> {
        let path = self.sandbox.resolve(&req.path)?;
        let format = match FileFormat::try_from(req.format).unwrap_or(FileFormat::Unspecified) {
            FileFormat::Unspecified => format_from_extension(&req.path)?,
            f => f,
        };
        let pl_path = PlRefPath::new(path.to_string_lossy().as_ref());
        let lf = match format {
            FileFormat::Parquet => LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default())?,
            FileFormat::Ipc => LazyFrame::scan_ipc(pl_path, Default::default(), Default::default())?,
            FileFormat::Csv => {
                let separator = match req.csv_separator.as_deref() {
                    None => b',',
                    Some(s) if s.len() == 1 => s.as_bytes()[0],
                    Some(s) => {
                        return Err(ServiceError::InvalidArgument(format!(
                            "csv_separator must be one byte, got {s:?}"
                        )))
                    },
                };
                LazyCsvReader::new(pl_path)
                    .with_has_header(req.csv_has_header.unwrap_or(true))
                    .with_separator(separator)
                    .finish()?
            },
            FileFormat::Unspecified => unreachable!("resolved above"),
        };
        let kind = format.as_str_name().trim_start_matches("FILE_FORMAT_").to_lowercase();
        // A scan carries no expression of the client's: if its schema cannot
        // be read, the file is at fault, not the request.
        self.keep_plan(ns, lf, format!("scan_{kind}({:?})", req.path)).map_err(|e| match e {
            ServiceError::Polars(e) | ServiceError::Handle(polaroid_handles::HandleError::Polars(e)) => {
                ServiceError::FailedPrecondition(format!(
                    "{:?} in the server's data directory cannot be read as {kind}: {e}",
                    req.path
                ))
            },
            other => other,
        })
    }

    /// A new plan handle built on one parent's plan. The lineage reads like
    /// the method chain that made it: `scan_parquet("t.parquet").sort(ts)`.
    fn derive(
        &self,
        ns: &Namespace,
        handle: &str,
        build: impl FnOnce(LazyFrame) -> Result<(LazyFrame, String), ServiceError>,
    ) -> Result<proto::HandleReply, ServiceError> {
        let parent = self.store.get(ns, parse_id(handle)?)?;
        let (lf, op) = build(parent.lazy())?;
        self.keep_plan(ns, lf, lineage(&format!("{}.{op}", parent.lineage())))
    }

    /// A materialized handle from an Arrow IPC stream received in `chunks`.
    pub(crate) fn upload(&self, ns: &Namespace, name: String, chunks: Vec<bytes::Bytes>) -> Result<proto::HandleReply, ServiceError> {
        if chunks.iter().all(|c| c.is_empty()) {
            return Err(ServiceError::InvalidArgument("the upload is empty: send an Arrow IPC stream".into()));
        }
        // What the stream declares is checked before polars allocates it.
        crate::upload::check_ipc_stream(&chunks, self.build_limit())?;
        // A corrupt stream can make the reader panic; either way it is the
        // upload's fault, and no handle is created.
        let read = std::panic::catch_unwind(AssertUnwindSafe(|| read_ipc_stream(ChunkedReader::new(chunks))));
        let df = match read {
            Ok(Ok(df)) => df,
            Ok(Err(e)) => return Err(ServiceError::InvalidArgument(format!("the upload is not a valid Arrow IPC stream: {e}"))),
            Err(panic) => {
                return Err(ServiceError::InvalidArgument(format!(
                    "the upload is not a valid Arrow IPC stream: {}",
                    panic_message(&*panic)
                )))
            },
        };
        let label = if name.is_empty() { "upload()".to_string() } else { format!("upload({name:?})") };
        self.keep_frame(ns, Entry::frame(df, label).named(&name))
    }

    /// The most one request may build (Collect, Ohlcv, an upload): the
    /// caller's share of the memory budget, since a result larger than that
    /// could never be kept. Storing it evicts the caller's least recently
    /// used handles, never another tenant's.
    pub(crate) fn build_limit(&self) -> u64 {
        self.store.config().namespace_budget()
    }

    fn concat(&self, ns: &Namespace, req: proto::ConcatRequest) -> Result<proto::HandleReply, ServiceError> {
        let mut plans = Vec::with_capacity(req.handles.len());
        let mut parts = Vec::with_capacity(req.handles.len());
        for handle in &req.handles {
            let entry = self.store.get(ns, parse_id(handle)?)?;
            parts.push(entry.lineage().to_string());
            plans.push(entry.lazy());
        }
        let lf = transforms::concat_plans(plans)?;
        self.keep_plan(ns, lf, lineage(&format!("concat([{}])", parts.join(", "))))
    }

    fn join(&self, ns: &Namespace, req: proto::JoinRequest) -> Result<proto::HandleReply, ServiceError> {
        let left = self.store.get(ns, parse_id(&req.left)?)?;
        let right = self.store.get(ns, parse_id(&req.right)?)?;
        let (lf, op) = transforms::join(left.lazy(), right.lazy(), &req)?;
        let op = op.replacen("join(", &format!("join({}, ", right.lineage()), 1);
        self.keep_plan(ns, lf, lineage(&format!("{}.{op}", left.lineage())))
    }

    pub(crate) fn sql(&self, ns: &Namespace, req: proto::SqlRequest) -> Result<proto::HandleReply, ServiceError> {
        if req.query.trim().is_empty() {
            return Err(ServiceError::InvalidArgument("the SQL query is empty".into()));
        }
        // Table functions (`read_parquet('t.parquet')`) resolve in the data
        // directory before polars opens anything.
        let (mut ctx, refusals) = self.sandbox.sql_context();
        let mut names: Vec<_> = req.tables.iter().collect();
        names.sort();
        for (name, handle) in &names {
            let entry = self.store.get(ns, parse_id(handle)?)?;
            ctx.register(name, entry.lazy());
        }
        let lf = ctx.execute(&req.query).map_err(|e| refusals.explain(e))?;
        let tables = names.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
        self.keep_plan(ns, lf, format!("sql({:?} over [{tables}])", req.query))
    }

    fn ohlcv(&self, ns: &Namespace, req: proto::OhlcvRequest, cancel: &CancelToken) -> Result<proto::HandleReply, ServiceError> {
        let entry = self.store.get(ns, parse_id(&req.handle)?)?;
        let (options, op) = crate::timeseries::ohlcv_options(&req)?;
        let bars = match entry.payload() {
            Payload::Frame(df) => df.as_ref().ohlcv(&options)?,
            // Streamed through the kernel: between batches, stop if the
            // client left or the closed bars outgrow the budget.
            Payload::Plan(lf) => {
                let (token, budget) = (cancel.clone(), self.build_limit());
                let keep_going = move |p: StreamProgress| !token.is_cancelled() && p.bars as u64 * BAR_BYTES <= budget;
                match stoppable(cancel, || Ok(stream_ohlcv(lf.clone(), &options, keep_going)))? {
                    Err(TimeseriesError::Stopped) => {
                        cancel.check()?;
                        return Err(ServiceError::ResourceExhausted(format!(
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

    pub(crate) fn collect(&self, ns: &Namespace, req: proto::CollectRequest, cancel: &CancelToken) -> Result<proto::HandleReply, ServiceError> {
        let id = parse_id(&req.handle)?;
        let entry = self.store.get(ns, id)?;
        let engine = match proto::Engine::try_from(req.engine).unwrap_or(proto::Engine::Auto) {
            proto::Engine::Auto => Engine::Auto,
            proto::Engine::InMemory => Engine::InMemory,
            proto::Engine::Streaming => Engine::Streaming,
        };
        let df = match entry.payload() {
            Payload::Frame(df) => df.clone(),
            Payload::Plan(lf) => Arc::new(collect_plan(lf.clone(), engine, self.build_limit(), cancel)?),
        };
        self.keep_frame(ns, Entry::frame(df, format!("collect({})", entry.lineage())))
    }
}

/// An upload whose bytes alone exceed what the memory budget has left.
pub(crate) fn upload_too_large(budget_left: u64) -> ServiceError {
    ServiceError::ResourceExhausted(format!(
        "the upload is larger than the {budget_left} bytes of your share of the server's memory budget"
    ))
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


fn format_from_extension(path: &str) -> Result<FileFormat, ServiceError> {
    let ext = std::path::Path::new(path).extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "parquet" | "pq" => Ok(FileFormat::Parquet),
        "csv" | "tsv" => Ok(FileFormat::Csv),
        "ipc" | "arrow" | "feather" => Ok(FileFormat::Ipc),
        _ => Err(ServiceError::InvalidArgument(format!(
            "cannot tell the format of {path:?} from its extension; set `format`"
        ))),
    }
}

#[tonic::async_trait]
impl Polaroid for PolaroidService {
    async fn scan(&self, request: Request<proto::ScanRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        self.state.run(move |state, _| state.scan(&ns, req)).await.map(Response::new)
    }

    async fn upload(
        &self,
        request: Request<Streaming<proto::UploadChunk>>,
    ) -> Result<Response<proto::HandleReply>, Status> {
        let (state, ns) = (self.state.clone(), namespace(&request)?);
        let mut stream = request.into_inner();
        let budget = state.build_limit();
        let (mut name, mut chunks, mut size, mut first) = (String::new(), Vec::new(), 0u64, true);
        while let Some(chunk) = stream.message().await? {
            if std::mem::take(&mut first) {
                name = chunk.name;
            }
            size += chunk.data.len() as u64;
            if size > budget {
                return Err(upload_too_large(budget).into());
            }
            chunks.push(chunk.data);
        }
        state.run(move |state, _| state.upload(&ns, name, chunks)).await.map(Response::new)
    }

    async fn select(&self, request: Request<proto::SelectRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::select).await
    }

    async fn filter(&self, request: Request<proto::FilterRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::filter).await
    }

    async fn with_columns(
        &self,
        request: Request<proto::WithColumnsRequest>,
    ) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::with_columns).await
    }

    async fn group_by(&self, request: Request<proto::GroupByRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::group_by).await
    }

    async fn sort(&self, request: Request<proto::SortRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::sort).await
    }

    async fn slice(&self, request: Request<proto::SliceRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::slice).await
    }

    async fn unique(&self, request: Request<proto::UniqueRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::unique).await
    }

    async fn drop_nulls(&self, request: Request<proto::DropNullsRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::drop_nulls).await
    }

    async fn rename(&self, request: Request<proto::RenameRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::rename).await
    }

    async fn concat(&self, request: Request<proto::ConcatRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        self.state.run(move |state, _| state.concat(&ns, req)).await.map(Response::new)
    }

    async fn join(&self, request: Request<proto::JoinRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        self.state.run(move |state, _| state.join(&ns, req)).await.map(Response::new)
    }

    async fn sql(&self, request: Request<proto::SqlRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        self.state.run(move |state, _| state.sql(&ns, req)).await.map(Response::new)
    }

    async fn ohlcv(&self, request: Request<proto::OhlcvRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        self.state.run(move |state, cancel| state.ohlcv(&ns, req, cancel)).await.map(Response::new)
    }

    async fn tick_analytics(
        &self,
        request: Request<proto::TickAnalyticsRequest>,
    ) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, crate::timeseries::tick_analytics).await
    }

    async fn collect(&self, request: Request<proto::CollectRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        self.state.run(move |state, cancel| state.collect(&ns, req, cancel)).await.map(Response::new)
    }

    type FetchStream = ReceiverStream<Result<IpcMessage, Status>>;

    async fn fetch(&self, request: Request<proto::FetchRequest>) -> Result<Response<Self::FetchStream>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        let id = parse_id(&req.handle)?;
        let entry = self.state.store.get(&ns, id).map_err(ServiceError::from)?;
        let compression = match IpcCompression::try_from(req.compression).unwrap_or(IpcCompression::None) {
            IpcCompression::None => None,
            IpcCompression::Lz4 => Some(Compression::LZ4),
            IpcCompression::Zstd => Some(Compression::ZSTD(Default::default())),
        };
        let window = Window {
            offset: i64::try_from(req.offset).map_err(|_| ServiceError::InvalidArgument("offset is too large".into()))?,
            limit: req.limit.map(|l| l.min(IdxSize::MAX as u64) as IdxSize),
        };
        let (encoder, schema) = IpcEncoder::start(entry.schema(), self.state.max_message_size, compression);
        // One gRPC message per batch: its messages framed as an IPC stream,
        // sent as parts so no body is copied before tonic encodes it.
        let to_message = |batch: EncodedBatch| {
            let mut parts = Vec::with_capacity(3 * batch.messages.len());
            for m in batch.messages {
                frame_parts(m, &mut parts);
            }
            vec![IpcMessage::new(parts, batch.rows as u64)]
        };
        let mut head = Vec::new();
        frame_parts(schema, &mut head);
        let head = IpcMessage::new(head, 0);
        let tail = IpcMessage::new(vec![bytes::Bytes::from_static(&END_OF_STREAM)], 0);
        let slot = self.state.slots.acquire().await?;
        let stream = self.state.spawn_result_stream(id, entry, window, encoder, vec![head], to_message, vec![tail], slot);
        Ok(Response::new(stream))
    }

    async fn schema(&self, request: Request<proto::HandleRequest>) -> Result<Response<proto::SchemaReply>, Status> {
        let ns = namespace(&request)?;
        let id = parse_id(&request.get_ref().handle)?;
        let entry = self.state.store.get(&ns, id).map_err(ServiceError::from)?;
        Ok(Response::new(proto::SchemaReply { schema: Some(proto_schema(entry.schema())) }))
    }

    async fn explain(&self, request: Request<proto::ExplainRequest>) -> Result<Response<proto::ExplainReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        self.state.run(move |state, _| {
            let entry = state.store.get(&ns, parse_id(&req.handle)?)?;
            let lf = entry.lazy();
            let plan = if req.unoptimized { lf.describe_plan()? } else { lf.describe_optimized_plan()? };
            Ok(proto::ExplainReply { plan })
        })
        .await
        .map(Response::new)
    }

    async fn drop(&self, request: Request<proto::HandleRequest>) -> Result<Response<proto::DropReply>, Status> {
        let ns = namespace(&request)?;
        let id = parse_id(&request.get_ref().handle)?;
        self.state.store.drop(&ns, id).map_err(ServiceError::from)?;
        Ok(Response::new(proto::DropReply {}))
    }

    async fn keep_alive(&self, request: Request<proto::HandleRequest>) -> Result<Response<proto::HandleInfo>, Status> {
        let ns = namespace(&request)?;
        let id = parse_id(&request.get_ref().handle)?;
        let entry = self.state.store.get(&ns, id).map_err(ServiceError::from)?;
        Ok(Response::new(proto_info(&entry.info(id))))
    }

    async fn list(&self, request: Request<proto::ListRequest>) -> Result<Response<proto::ListReply>, Status> {
        let ns = namespace(&request)?;
        let handles = self.state.store.list(&ns).iter().map(proto_info).collect();
        Ok(Response::new(proto::ListReply { handles }))
    }

    async fn stats(&self, request: Request<proto::StatsRequest>) -> Result<Response<proto::StatsReply>, Status> {
        // Counted after the store's maintenance, so expired handles are gone.
        let s = self.state.store.stats();
        // A tenant sees its own handles, never how much others hold.
        let mine = self.state.store.list(&namespace(&request)?);
        Ok(Response::new(proto::StatsReply {
            handles: mine.len() as u64,
            bytes: mine.iter().filter_map(|h| h.estimated_bytes).sum(),
            memory_budget: self.state.store.config().memory_budget,
            inserted: s.inserted,
            hits: s.hits,
            misses: s.misses,
            expired: s.expired,
            evicted: s.evicted,
            dropped: s.dropped,
            active_fetches: self.state.active_fetches.load(Ordering::Relaxed),
            running_queries: self.state.slots.running() as u64,
            queued_queries: self.state.slots.waiting() as u64,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_query_work_becomes_internal_and_the_runtime_goes_on() {
        let err = blocking::<()>(|| panic!("boom in a kernel")).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Internal);
        assert_eq!(err.message(), "internal error: polars panicked: boom in a kernel");
        let ok = blocking(|| Ok(41 + 1)).await.unwrap();
        assert_eq!(ok, 42);
    }
}
