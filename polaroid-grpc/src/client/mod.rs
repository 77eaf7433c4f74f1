//! A Polars-style async client for `polaroid-server`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), polaroid_grpc::client::ClientError> {
//! use polaroid_grpc::client::Client;
//! use polars::prelude::*;
//!
//! let client = Client::connect("http://127.0.0.1:50051").await?;
//! let trades = client.scan_parquet("trades.parquet").await?;
//! let vwap = trades
//!     .filter(col("size").gt_eq(lit(100)))
//!     .await?
//!     .group_by([col("symbol")])
//!     .agg([((col("price") * col("size")).sum() / col("size").sum()).alias("vwap")])
//!     .await?;
//! let df: DataFrame = vwap.sort(["symbol"], Default::default()).await?.fetch().await?;
//! # Ok(()) }
//! ```
//!
//! Every method that makes data returns a new [`RemoteFrame`] naming a
//! server-side handle; the data stays on the server until [`RemoteFrame::fetch`].
//!
//! Any polars [`LazyFrame`] runs on the server in one call with
//! [`Client::remote`]: the plan travels whole, serialized by polars itself,
//! and [`RemoteFrame::lazy`] puts a server-side handle into it:
//!
//! ```no_run
//! # async fn demo() -> Result<(), polaroid_grpc::client::ClientError> {
//! # use polaroid_grpc::client::Client;
//! # use polars::prelude::*;
//! # let client = Client::connect("http://127.0.0.1:50051").await?;
//! let sectors = client.upload(&df!("symbol" => ["AAPL"], "sector" => ["tech"])?).await?;
//! let lf = LazyFrame::scan_parquet(PlRefPath::new("trades.parquet"), Default::default())?
//!     .filter(col("size").gt(lit(100)))
//!     .join(sectors.lazy(), [col("symbol")], [col("symbol")], JoinArgs::new(JoinType::Inner))
//!     .group_by([col("sector")])
//!     .agg([col("price").mean()]);
//! let df: DataFrame = client.remote(lf).collect().await?; // one Plan call, one Fetch
//! # Ok(()) }
//! ```
//!
//! The methods of [`RemoteFrame`] ship plans too ([`Shipping::Plan`], the
//! default); [`Shipping::Expressions`] sends polaroid.v1's expression tree
//! instead (the protocol clients in other languages use), refusing before
//! anything is sent what that tree cannot carry ([`ClientError::UnsupportedExpr`]).

pub(crate) mod to_proto;

use std::collections::HashMap;

use polars::prelude::*;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::Request;

use crate::proto::polaroid_client::PolaroidClient;
use crate::proto::{self, FileFormat};
pub use polaroid_core::ConcatHow;

/// Whose fault a failed call was: the server's answer, the connection, or
/// an expression this client cannot send.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused the call; the status code says why.
    #[error("{}: {}", .0.code(), .0.message())]
    Status(#[from] tonic::Status),
    /// The server could not be reached.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The expression has a node the protocol does not carry.
    #[error("{path}: {what} is not supported by polaroid.v1")]
    UnsupportedExpr { path: String, what: String },
    /// The plan has a node that cannot run on the server (a closure,
    /// `map_batches`), named in the message.
    #[error("{0}")]
    UnsupportedPlan(String),
    /// The result could not be decoded.
    #[error(transparent)]
    Polars(#[from] PolarsError),
}

/// How the Polars-style methods of [`RemoteFrame`] send work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shipping {
    /// The polars plan itself, serialized by polars (one `Plan` call): every
    /// expression this build of polars has travels.
    #[default]
    Plan,
    /// polaroid.v1's expression tree, one call per operation: what clients in
    /// other languages send. Only the expressions the tree covers travel.
    Expressions,
}

/// Bytes per Upload message (slices of one buffer, not copies).
const UPLOAD_CHUNK: usize = 1 << 20;

/// Fetch messages received ahead of the decoder.
const DECODE_WINDOW: usize = 8;

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Closed bars as the server sends them ([`Client::subscribe_bars`]).
pub struct BarStream {
    messages: tonic::Streaming<proto::IpcMessage>,
    /// The stream's schema message, which each batch is decoded after.
    schema: Option<Vec<bytes::Bytes>>,
}

impl BarStream {
    /// The next frame of closed bars (sorted by `ts`, then the by-keys);
    /// `None` once the server ends the stream. Waits for bars to close.
    pub async fn next(&mut self) -> Option<Result<DataFrame>> {
        loop {
            let message = match self.messages.message().await {
                Ok(Some(message)) => message,
                Ok(None) => return None,
                Err(status) => return Some(Err(status.into())),
            };
            if message.rows == 0 && self.schema.is_none() {
                self.schema = Some(message.into_parts());
                continue;
            }
            let Some(schema) = &self.schema else {
                return Some(Err(tonic::Status::internal("the server sent bars before their schema").into()));
            };
            let parts = schema.iter().cloned().chain(message.into_parts());
            let reader = polaroid_core::upload::ChunkedReader::new(parts);
            return Some(polaroid_core::upload::read_ipc_stream(reader).map_err(ClientError::from));
        }
    }
}

/// A connection to a Polaroid server. Cloning is cheap and shares the channel.
#[derive(Clone)]
pub struct Client {
    rpc: PolaroidClient<Channel>,
    token: Option<MetadataValue<tonic::metadata::Ascii>>,
    shipping: Shipping,
}

impl Client {
    /// Connect to e.g. `http://127.0.0.1:50051`.
    pub async fn connect(url: impl Into<String>) -> Result<Self> {
        let channel = Channel::from_shared(url.into())
            .map_err(|e| tonic::Status::invalid_argument(format!("bad server url: {e}")))?
            // Fetch streams MiB-sized messages: flow-control windows of
            // several messages, not HTTP/2's 64 KiB default...
            .initial_stream_window_size(crate::HTTP2_STREAM_WINDOW)
            .initial_connection_window_size(crate::HTTP2_CONNECTION_WINDOW)
            // ...and in frames of up to 1 MiB, not 16 KiB: a sixty-fourth of
            // the frames to parse and wake up for (Fetch: 2x the bytes/s).
            .max_frame_size(crate::HTTP2_MAX_FRAME_SIZE)
            .tcp_nodelay(true)
            .connect()
            .await?;
        Ok(Self { rpc: PolaroidClient::new(channel).max_decoding_message_size(64 << 20), token: None, shipping: Shipping::default() })
    }

    /// Send `authorization: Bearer <token>` with every call.
    pub fn with_token(mut self, token: &str) -> Result<Self> {
        let value = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| tonic::Status::invalid_argument("the token must be printable ASCII"))?;
        self.token = Some(value);
        Ok(self)
    }

    /// Choose how [`RemoteFrame`]'s methods send work (default: [`Shipping::Plan`]).
    pub fn with_shipping(mut self, shipping: Shipping) -> Self {
        self.shipping = shipping;
        self
    }

    /// Run `lf` on the server: [`RemoteQuery::collect`] brings the result
    /// here, [`RemoteQuery::handle`] keeps it there. Scans read the server's
    /// data directory (relative paths); [`RemoteFrame::lazy`] names handles.
    pub fn remote(&self, lf: LazyFrame) -> RemoteQuery {
        RemoteQuery { client: self.clone(), lf, bindings: HashMap::new(), description: String::new() }
    }

    /// The generated `polaroid.v1` client on this connection, for calls the
    /// Polars-style API does not wrap. Add the token yourself if one is set.
    pub fn raw(&self) -> PolaroidClient<Channel> {
        self.rpc.clone()
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(token) = &self.token {
            request.metadata_mut().insert("authorization", token.clone());
        }
        request
    }

    fn frame(&self, reply: tonic::Response<proto::HandleReply>) -> Result<RemoteFrame> {
        let info = reply.into_inner().info.ok_or_else(|| tonic::Status::internal("the server sent no handle"))?;
        Ok(RemoteFrame { client: self.clone(), info })
    }

    async fn scan(&self, path: &str, format: FileFormat) -> Result<RemoteFrame> {
        let request = self.request(proto::ScanRequest { path: path.into(), format: format as i32, ..Default::default() });
        let reply = self.rpc.clone().scan(request).await?;
        self.frame(reply)
    }

    /// Bars of the table `table` as they close while it grows (ILP, a live
    /// source): first those closed since `start` (RFC 3339, or UTC; `None`:
    /// only bars still open now), then each append's closed bars. `grace`
    /// (a fixed duration such as `"2s"`) keeps a time bar open that long
    /// after the newest tick passed its end, for ticks that come late.
    pub async fn subscribe_bars(
        &self,
        table: &str,
        options: &polaroid_timeseries::OhlcvOptions,
        start: Option<&str>,
        grace: Option<&str>,
    ) -> Result<BarStream> {
        let request = proto::SubscribeBarsRequest {
            table: table.into(),
            bars: Some(ohlcv_request(options)),
            start: start.unwrap_or_default().into(),
            grace: grace.unwrap_or_default().into(),
        };
        let messages = self.rpc.clone().subscribe_bars(self.request(request)).await?.into_inner();
        Ok(BarStream { messages, schema: None })
    }

    /// Start a live source (the README's "Live sources"): the server reads
    /// its feed (a WebSocket or Kafka topics) and appends the rows to one of
    /// your tables. A bad spec is `InvalidArgument` naming what is wrong, a
    /// name already running `AlreadyExists`.
    pub async fn start_source(&self, spec: &polaroid_sources::SourceSpec) -> Result<proto::SourceStatus> {
        let spec_json =
            serde_json::to_string(spec).map_err(|e| tonic::Status::invalid_argument(format!("the source spec: {e}")))?;
        let request = self.request(proto::StartSourceRequest { spec_json });
        Ok(self.rpc.clone().start_source(request).await?.into_inner())
    }

    /// Stop one of your sources, after it appends what it has pending; its
    /// final status. `NotFound` if you have no source of that name.
    pub async fn stop_source(&self, name: &str) -> Result<proto::SourceStatus> {
        let request = self.request(proto::StopSourceRequest { name: name.into() });
        Ok(self.rpc.clone().stop_source(request).await?.into_inner())
    }

    /// Your running sources, each with its state and counters.
    pub async fn sources(&self) -> Result<Vec<proto::SourceStatus>> {
        Ok(self.rpc.clone().sources(self.request(proto::SourcesRequest {})).await?.into_inner().sources)
    }

    /// A lazy scan of a parquet file under the server's data directory.
    pub async fn scan_parquet(&self, path: &str) -> Result<RemoteFrame> {
        self.scan(path, FileFormat::Parquet).await
    }

    pub async fn scan_csv(&self, path: &str) -> Result<RemoteFrame> {
        self.scan(path, FileFormat::Csv).await
    }

    pub async fn scan_ipc(&self, path: &str) -> Result<RemoteFrame> {
        self.scan(path, FileFormat::Ipc).await
    }

    /// Send a local frame to the server, in messages of at most 1 MiB.
    pub async fn upload(&self, df: &DataFrame) -> Result<RemoteFrame> {
        self.upload_named(df, "").await
    }

    pub async fn upload_named(&self, df: &DataFrame, name: &str) -> Result<RemoteFrame> {
        let mut bytes = Vec::new();
        IpcStreamWriter::new(&mut bytes).finish(&mut df.clone())?;
        let bytes = bytes::Bytes::from(bytes);
        let chunks: Vec<proto::UploadChunk> = (0..bytes.len().max(1))
            .step_by(UPLOAD_CHUNK)
            .enumerate()
            .map(|(i, at)| proto::UploadChunk {
                name: if i == 0 { name.into() } else { String::new() },
                data: bytes.slice(at..(at + UPLOAD_CHUNK).min(bytes.len())),
            })
            .collect();
        let reply = self.rpc.clone().upload(self.request(tokio_stream::iter(chunks))).await?;
        self.frame(reply)
    }

    /// SQL over remote frames registered under table names.
    pub async fn sql(&self, tables: &[(&str, &RemoteFrame)], query: &str) -> Result<RemoteFrame> {
        self.sql_on(tables, query, false).await
    }

    /// SQL run by the server's distributed engine (DataFusion on Ballista)
    /// over data-directory files (`FROM "ticks.parquet"`), the caller's
    /// tables, and remote frames backed by files (what `scan` returns).
    /// The result is a frame, or for a large one a plan over its spilled file.
    pub async fn sql_distributed(&self, tables: &[(&str, &RemoteFrame)], query: &str) -> Result<RemoteFrame> {
        self.sql_on(tables, query, true).await
    }

    /// [`Client::sql`] with values bound to the query's placeholders (`?`,
    /// `$1`, `$name`): the columns of `parameters` in order (or by name),
    /// one execution per row, the results one after another. Each value is
    /// written into the query as the SQL literal a user would type.
    pub async fn sql_with_parameters(
        &self,
        tables: &[(&str, &RemoteFrame)],
        query: &str,
        parameters: &DataFrame,
    ) -> Result<RemoteFrame> {
        let mut ipc = Vec::new();
        IpcStreamWriter::new(&mut ipc).finish(&mut parameters.clone())?;
        self.send_sql(tables, query, false, ipc).await
    }

    async fn sql_on(&self, tables: &[(&str, &RemoteFrame)], query: &str, distributed: bool) -> Result<RemoteFrame> {
        self.send_sql(tables, query, distributed, Default::default()).await
    }

    async fn send_sql(
        &self,
        tables: &[(&str, &RemoteFrame)],
        query: &str,
        distributed: bool,
        parameters: Vec<u8>,
    ) -> Result<RemoteFrame> {
        let tables = tables.iter().map(|(name, f)| (name.to_string(), f.id().to_string())).collect();
        let request = proto::SqlRequest { tables, query: query.into(), distributed, parameters };
        let reply = self.rpc.clone().sql(self.request(request)).await?;
        self.frame(reply)
    }
}

/// A polars plan bound for the server (see [`Client::remote`]).
#[must_use = "a remote query does nothing until it is collected or kept"]
pub struct RemoteQuery {
    client: Client,
    lf: LazyFrame,
    bindings: HashMap<String, String>,
    description: String,
}

impl RemoteQuery {
    /// Let scans of `polaroid://<name>` in the plan read `frame`
    /// ([`polaroid_core::shipping::placeholder`] builds such a scan).
    pub fn bind(mut self, name: &str, frame: &RemoteFrame) -> Self {
        self.bindings.insert(name.to_string(), frame.id().to_string());
        self
    }

    /// The new handle's lineage (default: the server lists the plan's sources).
    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Send the plan (one `Plan` call): a new lazy handle on the server.
    pub async fn handle(self) -> Result<RemoteFrame> {
        let lf = self.lf;
        // Serializing copies any in-memory frames in the plan: off the runtime.
        let plan = tokio::task::spawn_blocking(move || polaroid_core::shipping::encode(&lf))
            .await
            .map_err(|e| PolarsError::ComputeError(format!("serializing the plan failed: {e}").into()))?
            .map_err(|e| ClientError::UnsupportedPlan(e.to_string()))?;
        let request = proto::PlanRequest {
            plan: plan.into(),
            bindings: self.bindings,
            client_polars: polars::VERSION.into(),
            description: self.description,
        };
        let reply = self.client.rpc.clone().plan(self.client.request(request)).await?;
        self.client.frame(reply)
    }

    /// Run the plan on the server and bring the result here: one `Plan`
    /// call and one `Fetch`; the handle in between is dropped.
    pub async fn collect(self) -> Result<DataFrame> {
        let frame = self.handle().await?;
        let fetched = frame.fetch().await;
        // Best effort and off the caller's path: an unreachable server
        // would expire the handle anyway.
        tokio::spawn(async move {
            let _ = frame.drop().await;
        });
        fetched
    }

    /// The optimized plan as the server's polars prints it.
    pub async fn explain(self) -> Result<String> {
        let frame = self.handle().await?;
        let plan = frame.explain().await;
        let _ = frame.drop().await;
        plan
    }
}

/// A handle on the server: a lazy plan or a materialized frame.
#[derive(Clone)]
pub struct RemoteFrame {
    client: Client,
    info: proto::HandleInfo,
}

impl std::fmt::Debug for RemoteFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteFrame").field("handle", &self.info.handle).field("lineage", &self.info.lineage).finish()
    }
}

impl RemoteFrame {
    /// The handle id.
    pub fn id(&self) -> &str {
        &self.info.handle
    }

    /// How the handle was made, e.g. `scan_parquet("t.parquet").sort(ts)`.
    pub fn lineage(&self) -> &str {
        &self.info.lineage
    }

    /// Rows, once collected.
    pub fn rows(&self) -> Option<u64> {
        self.info.rows
    }

    /// Column names and polars dtype names, as the server resolved them.
    pub fn schema(&self) -> Vec<(String, String)> {
        self.info.schema.as_ref().map_or_else(Vec::new, |s| s.fields.iter().map(|f| (f.name.clone(), f.dtype.clone())).collect())
    }

    fn rpc(&self) -> PolaroidClient<Channel> {
        self.client.rpc.clone()
    }

    /// A polars `LazyFrame` that reads this handle (a scan of
    /// `polaroid://<handle id>`), to build on and send with [`Client::remote`].
    /// Its schema is known here (polars-sql and `collect_schema` work on it);
    /// its data is not: it runs on the server.
    pub fn lazy(&self) -> LazyFrame {
        match self.arrow_schema() {
            Some(schema) => polaroid_core::shipping::placeholder_with_schema(self.id(), schema),
            None => polaroid_core::shipping::placeholder(self.id()),
        }
    }

    /// The handle's schema as the server sends its data (None if the
    /// server did not say).
    pub fn arrow_schema(&self) -> Option<SchemaRef> {
        if self.info.arrow_schema.is_empty() {
            return None;
        }
        let (arrow, ..) = polars_arrow::io::ipc::read::deserialize_schema(&self.info.arrow_schema).ok()?;
        Some(Arc::new(Schema::from_arrow_schema(&arrow)))
    }

    /// Whether the methods below ship plans (else expression trees).
    fn ships_plans(&self) -> bool {
        self.client.shipping == Shipping::Plan
    }

    /// `lf` (built on [`RemoteFrame::lazy`]) as a new handle whose lineage
    /// reads `<this lineage>.<op>`.
    async fn ship(&self, lf: LazyFrame, op: String) -> Result<RemoteFrame> {
        self.client.remote(lf).describe(format!("{}.{op}", self.lineage())).handle().await
    }

    pub async fn select<E: AsRef<[Expr]>>(&self, exprs: E) -> Result<RemoteFrame> {
        if self.ships_plans() {
            let exprs = exprs.as_ref().to_vec();
            let op = format!("select({})", listed(&exprs));
            return self.ship(self.lazy().select(exprs), op).await;
        }
        let exprs = to_proto::exprs(exprs.as_ref(), "exprs")?;
        let reply = self.rpc().select(self.client.request(proto::SelectRequest { handle: self.id().into(), exprs })).await?;
        self.client.frame(reply)
    }

    pub async fn filter(&self, predicate: Expr) -> Result<RemoteFrame> {
        if self.ships_plans() {
            let op = format!("filter({predicate})");
            return self.ship(self.lazy().filter(predicate), op).await;
        }
        let predicate = Some(to_proto::expr(&predicate, "predicate")?);
        let reply = self.rpc().filter(self.client.request(proto::FilterRequest { handle: self.id().into(), predicate })).await?;
        self.client.frame(reply)
    }

    pub async fn with_columns<E: AsRef<[Expr]>>(&self, exprs: E) -> Result<RemoteFrame> {
        if self.ships_plans() {
            let exprs = exprs.as_ref().to_vec();
            let op = format!("with_columns({})", listed(&exprs));
            return self.ship(self.lazy().with_columns(exprs), op).await;
        }
        let exprs = to_proto::exprs(exprs.as_ref(), "exprs")?;
        let request = proto::WithColumnsRequest { handle: self.id().into(), exprs };
        let reply = self.rpc().with_columns(self.client.request(request)).await?;
        self.client.frame(reply)
    }

    /// Start a group-by; finish it with [`RemoteGroupBy::agg`].
    pub fn group_by<E: AsRef<[Expr]>>(&self, keys: E) -> RemoteGroupBy {
        RemoteGroupBy { frame: self.clone(), keys: keys.as_ref().to_vec(), maintain_order: false, window: None }
    }

    /// Like [`group_by`](Self::group_by), keeping groups in order of first appearance.
    pub fn group_by_stable<E: AsRef<[Expr]>>(&self, keys: E) -> RemoteGroupBy {
        RemoteGroupBy { frame: self.clone(), keys: keys.as_ref().to_vec(), maintain_order: true, window: None }
    }

    /// Windows of `index_column` (sorted within each key group), as polars'
    /// `group_by_dynamic`; `keys` may be empty.
    pub fn group_by_dynamic<E: AsRef<[Expr]>>(&self, index_column: &str, keys: E, mut options: DynamicGroupOptions) -> RemoteGroupBy {
        options.index_column = index_column.into();
        RemoteGroupBy { frame: self.clone(), keys: keys.as_ref().to_vec(), maintain_order: false, window: Some(GroupWindow::Dynamic(options)) }
    }

    /// One window per row of `index_column`, ending at it, as polars' `rolling`.
    pub fn rolling<E: AsRef<[Expr]>>(&self, index_column: &str, keys: E, mut options: RollingGroupOptions) -> RemoteGroupBy {
        options.index_column = index_column.into();
        RemoteGroupBy { frame: self.clone(), keys: keys.as_ref().to_vec(), maintain_order: false, window: Some(GroupWindow::Rolling(options)) }
    }

    /// Pairs of rows for which every predicate holds, as polars'
    /// `join_where` (a right-hand column whose name clashes takes `suffix`).
    pub async fn join_where<E: AsRef<[Expr]>>(&self, other: &RemoteFrame, predicates: E, suffix: Option<&str>) -> Result<RemoteFrame> {
        let predicates = predicates.as_ref().to_vec();
        if self.ships_plans() {
            let op = format!("join_where({}, [{}])", other.lineage(), listed(&predicates));
            let mut builder = self.lazy().join_builder().with(other.lazy());
            if let Some(suffix) = suffix {
                builder = builder.suffix(suffix);
            }
            return self.ship(builder.join_where(predicates), op).await;
        }
        let request = proto::JoinRequest {
            left: self.id().into(),
            right: other.id().into(),
            how: proto::JoinHow::Where as i32,
            suffix: suffix.map(str::to_string),
            predicates: to_proto::exprs(&predicates, "predicates")?,
            ..Default::default()
        };
        let reply = self.rpc().join(self.client.request(request)).await?;
        self.client.frame(reply)
    }

    /// This frame and `other`, both sorted ascending by `key`, merged into one
    /// frame sorted by it (polars' `merge_sorted`; one schema). Of rows with
    /// equal keys this frame's come first.
    pub async fn merge_sorted(&self, other: &RemoteFrame, key: &[&str]) -> Result<RemoteFrame> {
        if self.ships_plans() {
            let op = format!("merge_sorted({}, key={key:?})", other.lineage());
            return self.ship(self.lazy().merge_sorted(other.lazy(), key.iter().copied(), true)?, op).await;
        }
        let request = proto::MergeSortedRequest {
            left: self.id().into(),
            right: other.id().into(),
            key: key.iter().map(|k| k.to_string()).collect(),
        };
        let reply = self.rpc().merge_sorted(self.client.request(request)).await?;
        self.client.frame(reply)
    }

    /// Join on key columns; `args.how` picks the kind (as-of options included).
    pub async fn join(&self, other: &RemoteFrame, left_on: &[&str], right_on: &[&str], args: JoinArgs) -> Result<RemoteFrame> {
        if self.ships_plans() {
            let op = format!("join({}, {left_on:?}, {right_on:?}, {:?})", other.lineage(), args.how);
            let (l, r): (Vec<Expr>, Vec<Expr>) = (left_on.iter().map(|c| col(*c)).collect(), right_on.iter().map(|c| col(*c)).collect());
            return self.ship(self.lazy().join(other.lazy(), l, r, args), op).await;
        }
        let how = match &args.how {
            JoinType::Inner => proto::JoinHow::Inner,
            JoinType::Left => proto::JoinHow::Left,
            JoinType::Right => proto::JoinHow::Right,
            JoinType::Full => proto::JoinHow::Full,
            JoinType::Semi => proto::JoinHow::Semi,
            JoinType::Anti => proto::JoinHow::Anti,
            JoinType::Cross => proto::JoinHow::Cross,
            JoinType::AsOf(_) => proto::JoinHow::Asof,
            #[allow(unreachable_patterns)]
            other => {
                return Err(ClientError::UnsupportedExpr { path: "join.how".into(), what: format!("join type {other:?}") })
            },
        };
        let asof = match &args.how {
            JoinType::AsOf(o) => Some(proto::AsofOptions {
                strategy: match o.strategy {
                    AsofStrategy::Backward => proto::AsofStrategy::Backward,
                    AsofStrategy::Forward => proto::AsofStrategy::Forward,
                    AsofStrategy::Nearest => proto::AsofStrategy::Nearest,
                } as i32,
                left_by: o.left_by.iter().flatten().map(|s| s.to_string()).collect(),
                right_by: o.right_by.iter().flatten().map(|s| s.to_string()).collect(),
                tolerance: match (&o.tolerance_str, &o.tolerance) {
                    (Some(s), _) => Some(proto::asof_options::Tolerance::ToleranceDuration(s.to_string())),
                    (None, Some(scalar)) => Some(proto::asof_options::Tolerance::ToleranceNumber(
                        scalar.value().extract::<f64>().ok_or_else(|| ClientError::UnsupportedExpr {
                            path: "join.asof.tolerance".into(),
                            what: "a non-numeric tolerance".into(),
                        })?,
                    )),
                    (None, None) => None,
                },
                allow_exact_matches: Some(o.allow_eq),
            }),
            _ => None,
        };
        let request = proto::JoinRequest {
            left: self.id().into(),
            right: other.id().into(),
            left_on: left_on.iter().map(|s| s.to_string()).collect(),
            right_on: right_on.iter().map(|s| s.to_string()).collect(),
            how: how as i32,
            suffix: args.suffix.as_ref().map(|s| s.to_string()),
            asof,
            coalesce: match args.coalesce {
                JoinCoalesce::JoinSpecific => None,
                JoinCoalesce::CoalesceColumns => Some(true),
                JoinCoalesce::KeepColumns => Some(false),
            },
            nulls_equal: args.nulls_equal,
            maintain_order: <&'static str>::from(args.maintain_order).to_string(),
            validate: match args.validation {
                JoinValidation::ManyToMany => "m:m",
                JoinValidation::OneToMany => "1:m",
                JoinValidation::ManyToOne => "m:1",
                JoinValidation::OneToOne => "1:1",
            }
            .into(),
            ..Default::default()
        };
        let reply = self.rpc().join(self.client.request(request)).await?;
        self.client.frame(reply)
    }

    pub async fn sort<S: AsRef<str>>(&self, by: impl IntoIterator<Item = S>, options: SortMultipleOptions) -> Result<RemoteFrame> {
        let by: Vec<String> = by.into_iter().map(|s| s.as_ref().to_string()).collect();
        if self.ships_plans() {
            let op = format!("sort({by:?})");
            return self.ship(self.lazy().sort(by, options), op).await;
        }
        let flag = |v: &[bool], i: usize| v.get(i).or(v.first()).copied().unwrap_or(false);
        let keys = by
            .iter()
            .enumerate()
            .map(|(i, c)| proto::SortKey { column: c.clone(), descending: flag(&options.descending, i), nulls_last: flag(&options.nulls_last, i) })
            .collect();
        let request = proto::SortRequest { handle: self.id().into(), by: keys, maintain_order: options.maintain_order };
        let reply = self.rpc().sort(self.client.request(request)).await?;
        self.client.frame(reply)
    }

    pub async fn slice(&self, offset: i64, length: u64) -> Result<RemoteFrame> {
        if self.ships_plans() {
            let length = IdxSize::try_from(length).unwrap_or(IdxSize::MAX);
            return self.ship(self.lazy().slice(offset, length), format!("slice({offset}, {length})")).await;
        }
        let request = proto::SliceRequest { handle: self.id().into(), offset, length: Some(length) };
        let reply = self.rpc().slice(self.client.request(request)).await?;
        self.client.frame(reply)
    }

    pub async fn limit(&self, n: u64) -> Result<RemoteFrame> {
        self.slice(0, n).await
    }

    /// This frame and `others` put together as polars' `pl.concat(how=...)`
    /// (stacked, diagonally, side by side); all from one client.
    pub async fn concat(&self, others: &[RemoteFrame], how: ConcatHow) -> Result<RemoteFrame> {
        if others.is_empty() {
            return Ok(self.clone());
        }
        if self.ships_plans() {
            let frames: Vec<LazyFrame> = std::iter::once(self).chain(others).map(RemoteFrame::lazy).collect();
            let relaxed = UnionArgs { to_supertypes: true, ..Default::default() };
            let lf = match how {
                ConcatHow::Vertical => concat(frames, UnionArgs::default()),
                ConcatHow::VerticalRelaxed => concat(frames, relaxed),
                ConcatHow::Diagonal => concat_lf_diagonal(frames, UnionArgs::default()),
                ConcatHow::DiagonalRelaxed => concat_lf_diagonal(frames, relaxed),
                ConcatHow::Horizontal => concat_lf_horizontal(frames, HConcatOptions { strict: true, ..Default::default() }),
                ConcatHow::HorizontalExtend => concat_lf_horizontal(frames, HConcatOptions { strict: false, ..Default::default() }),
            }?;
            let op = format!("concat([{}], how={})", others.iter().map(RemoteFrame::lineage).collect::<Vec<_>>().join(", "), how.name());
            return self.ship(lf, op).await;
        }
        let handles = std::iter::once(self).chain(others).map(|f| f.id().to_string()).collect();
        let request = proto::ConcatRequest { handles, how: how.name().into(), ..Default::default() };
        let reply = self.rpc().concat(self.client.request(request)).await?;
        self.client.frame(reply)
    }

    /// Distinct rows (judged on `subset` if given), keeping input order.
    pub async fn unique(&self, subset: Option<&[&str]>, keep: UniqueKeepStrategy) -> Result<RemoteFrame> {
        if self.ships_plans() {
            let op = format!("unique({subset:?}, {keep:?})");
            let columns = subset.map(|s| cols(s.iter().map(|c| c.to_string()).collect::<Vec<_>>()));
            return self.ship(self.lazy().unique_stable(columns, keep), op).await;
        }
        let keep = match keep {
            UniqueKeepStrategy::First => proto::UniqueKeep::First,
            UniqueKeepStrategy::Last => proto::UniqueKeep::Last,
            UniqueKeepStrategy::None => proto::UniqueKeep::None,
            UniqueKeepStrategy::Any => proto::UniqueKeep::Any,
        };
        let subset = subset.unwrap_or(&[]).iter().map(|s| s.to_string()).collect();
        let request = proto::UniqueRequest { handle: self.id().into(), subset, keep: keep as i32, maintain_order: true };
        let reply = self.rpc().unique(self.client.request(request)).await?;
        self.client.frame(reply)
    }

    /// Materialize on the server: a new frame handle.
    pub async fn collect(&self) -> Result<RemoteFrame> {
        self.collect_with_engine(proto::Engine::Auto).await
    }

    /// [`RemoteFrame::collect`] on a chosen engine. `Auto` and `Streaming`
    /// build the result batch by batch (the memory budget is checked as it
    /// grows, and the query stops if this call is dropped); `InMemory` runs
    /// polars' in-memory engine to the end.
    pub async fn collect_with_engine(&self, engine: proto::Engine) -> Result<RemoteFrame> {
        let request = proto::CollectRequest { handle: self.id().into(), engine: engine as i32 };
        let reply = self.rpc().collect(self.client.request(request)).await?;
        self.client.frame(reply)
    }

    /// OHLCV bars of these ticks, computed on the server by the same kernel
    /// as [`polaroid_timeseries::OhlcvExt`]: a new frame handle.
    pub async fn ohlcv(&self, options: &polaroid_timeseries::OhlcvOptions) -> Result<RemoteFrame> {
        let request = proto::OhlcvRequest { handle: self.id().into(), ..ohlcv_request(options) };
        let reply = self.rpc().ohlcv(self.client.request(request)).await?;
        self.client.frame(reply)
    }

    /// Bring the result here as a local DataFrame.
    ///
    /// Batches are decoded on a blocking thread as they arrive, so receiving
    /// and decoding overlap and the raw bytes are never held whole. The frame
    /// keeps one chunk per batch, as sent; rechunk it if one buffer matters.
    pub async fn fetch(&self) -> Result<DataFrame> {
        let request = proto::FetchRequest { handle: self.id().into(), ..Default::default() };
        let mut stream = self.rpc().fetch(self.client.request(request)).await?.into_inner();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<proto::IpcMessage>(DECODE_WINDOW);
        let decoder = tokio::task::spawn_blocking(move || {
            let parts = std::iter::from_fn(|| rx.blocking_recv()).flat_map(proto::IpcMessage::into_parts);
            polaroid_core::upload::read_ipc_stream(polaroid_core::upload::ChunkedReader::new(parts))
        });
        let mut received = Ok(());
        loop {
            match stream.message().await {
                // A send fails only when the decoder stopped; its error says why.
                Ok(Some(message)) => {
                    if tx.send(message).await.is_err() {
                        break;
                    }
                },
                Ok(None) => break,
                Err(status) => {
                    received = Err(status);
                    break;
                },
            }
        }
        drop(tx);
        let decoded = decoder
            .await
            .map_err(|e| PolarsError::ComputeError(format!("decoding the result failed: {e}").into()))?;
        // The server's error explains a cut-short stream better than the decoder.
        received?;
        Ok(decoded?)
    }

    /// The optimized plan, as polars prints it.
    pub async fn explain(&self) -> Result<String> {
        let request = proto::ExplainRequest { handle: self.id().into(), unoptimized: false };
        Ok(self.rpc().explain(self.client.request(request)).await?.into_inner().plan)
    }

    /// Free the handle on the server.
    pub async fn drop(self) -> Result<()> {
        self.rpc().drop(self.client.request(proto::HandleRequest { handle: self.id().into() })).await?;
        Ok(())
    }
}

/// A pending group-by on a remote frame.
pub struct RemoteGroupBy {
    frame: RemoteFrame,
    keys: Vec<Expr>,
    maintain_order: bool,
    window: Option<GroupWindow>,
}

pub(crate) enum GroupWindow {
    Dynamic(DynamicGroupOptions),
    Rolling(RollingGroupOptions),
}

impl RemoteGroupBy {
    pub async fn agg<E: AsRef<[Expr]>>(self, aggs: E) -> Result<RemoteFrame> {
        if self.frame.ships_plans() {
            let aggs = aggs.as_ref().to_vec();
            let lf = self.frame.lazy();
            let (grouped, how) = match self.window {
                None if self.maintain_order => (lf.group_by_stable(self.keys.clone()), "group_by_stable"),
                None => (lf.group_by(self.keys.clone()), "group_by"),
                Some(GroupWindow::Dynamic(o)) => (lf.group_by_dynamic(col(o.index_column.clone()), self.keys.clone(), o), "group_by_dynamic"),
                Some(GroupWindow::Rolling(o)) => (lf.rolling(col(o.index_column.clone()), self.keys.clone(), o), "rolling"),
            };
            let op = format!("{how}([{}]).agg([{}])", listed(&self.keys), listed(&aggs));
            return self.frame.ship(grouped.agg(aggs), op).await;
        }
        let request = proto::GroupByRequest {
            handle: self.frame.id().into(),
            keys: to_proto::exprs(&self.keys, "keys")?,
            aggs: to_proto::exprs(aggs.as_ref(), "aggs")?,
            maintain_order: self.maintain_order,
            window: self.window.as_ref().map(to_proto::group_window).transpose()?,
        };
        let reply = self.frame.rpc().group_by(self.frame.client.request(request)).await?;
        self.frame.client.frame(reply)
    }
}

/// Expressions as polars prints them, comma-separated (for lineage).
fn listed(exprs: &[Expr]) -> String {
    exprs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ")
}

/// The OhlcvRequest of `options` (no handle).
fn ohlcv_request(options: &polaroid_timeseries::OhlcvOptions) -> proto::OhlcvRequest {
    use polaroid_timeseries::{BarKind, Fill};
    let (kind, threshold) = match options.kind {
        BarKind::Time => (proto::BarKind::Time, 0.0),
        BarKind::Tick(n) => (proto::BarKind::Tick, n as f64),
        BarKind::Volume(v) => (proto::BarKind::Volume, v),
        BarKind::Dollar(d) => (proto::BarKind::Dollar, d),
    };
    proto::OhlcvRequest {
        handle: String::new(),
        time: options.time.to_string(),
        price: options.price.to_string(),
        size: options.size.to_string(),
        by: options.by.iter().map(|b| b.to_string()).collect(),
        kind: kind as i32,
        threshold,
        every: options.every.to_string(),
        period: options.period.map(|p| p.to_string()).unwrap_or_default(),
        offset: options.offset.to_string(),
        time_zone: options.time_zone.as_ref().map(|z| z.to_string()).unwrap_or_default(),
        fill: match options.fill {
            Fill::None => proto::BarFill::None,
            Fill::Forward => proto::BarFill::Forward,
        } as i32,
        drop_partial: !options.emit_partial,
    }
}
