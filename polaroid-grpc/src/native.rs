//! The native door: `polaroid.v1.Polaroid` over the core.
//!
//! Each method decodes its request ([`crate::decode`]), calls one [`Core`]
//! method, and encodes the answer; core errors become statuses in
//! [`crate::status`].

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use polaroid_core::ipc::{frame_parts, EncodedBatch, IpcSink, END_OF_STREAM};
use polaroid_core::results::{ResultSink, Window};
use polaroid_core::{Core, CoreError, CsvOptions, FileFormat, HandleId, HandleInfo, PayloadKind, ScanSpec};
use polaroid_sources::{SourceError, SourceSpec, SourceState, SourceStatus, Sources};
use polars::prelude::*;
use polars_arrow::io::ipc::write::Compression;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::namespace;
use crate::decode::{timeseries, transforms};
use crate::parts::{PartsRoute, PartsStream};
use crate::proto::polaroid_server::{Polaroid, PolaroidServer};
use crate::proto::{self, IpcCompression, IpcMessage};
use crate::status::{invalid, status, OrStatus};

/// The `polaroid.v1.Polaroid` service. It holds only shared state.
#[derive(Clone)]
pub struct PolaroidService {
    core: Arc<Core>,
    sources: Arc<Sources>,
    max_message_size: usize,
}

impl PolaroidService {
    /// Results are sent in messages of at most `max_message_size` bytes.
    pub fn new(core: Arc<Core>, max_message_size: usize) -> Self {
        let sources = Sources::new(core.clone());
        Self { core, sources, max_message_size }
    }

    /// Live sources from this registry (the one other doors share).
    pub fn with_sources(mut self, sources: Arc<Sources>) -> Self {
        self.sources = sources;
        self
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Query work in a slot on the blocking pool, answered with a handle.
    async fn run(
        &self,
        work: impl FnOnce(&Core, &polaroid_core::CancelToken) -> Result<HandleInfo, CoreError> + Send + 'static,
    ) -> Result<Response<proto::HandleReply>, Status> {
        let info = self.core.run(work).await.map_err(status)?;
        Ok(Response::new(reply(&info)))
    }

    /// Every single-parent transform has this shape: decode, build the new
    /// plan off the async runtime, keep it as a new handle.
    async fn transform<R: Send + 'static>(
        &self,
        request: Request<R>,
        handle: fn(&R) -> &str,
        build: fn(LazyFrame, &R) -> Result<(LazyFrame, String), CoreError>,
    ) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        let id = parse_id(handle(&req))?;
        self.run(move |core, _| core.derive(&ns, id, |lf| build(lf, &req))).await
    }
}

pub(crate) fn parse_id(text: &str) -> Result<HandleId, Status> {
    text.parse::<HandleId>().or_status()
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

fn proto_info(info: &HandleInfo) -> proto::HandleInfo {
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
        arrow_schema: polaroid_core::ipc::IpcEncoder::schema_message_cached(&info.schema),
    }
}

fn reply(info: &HandleInfo) -> proto::HandleReply {
    proto::HandleReply { info: Some(proto_info(info)) }
}

fn scan_spec(req: proto::ScanRequest) -> Result<ScanSpec, Status> {
    let format = match proto::FileFormat::try_from(req.format).unwrap_or(proto::FileFormat::Unspecified) {
        proto::FileFormat::Unspecified => None,
        proto::FileFormat::Parquet => Some(FileFormat::Parquet),
        proto::FileFormat::Csv => Some(FileFormat::Csv),
        proto::FileFormat::Ipc => Some(FileFormat::Ipc),
    };
    let csv = CsvOptions {
        has_header: req.csv_has_header,
        separator: req.csv_separator,
        skip_rows: req.csv_skip_rows,
        skip_rows_after_header: req.csv_skip_rows_after_header,
        null_values: req.csv_null_values,
        quote_char: req.csv_quote_char,
        comment_prefix: req.csv_comment_prefix,
        missing_is_null: req.csv_missing_is_null,
        try_parse_dates: req.csv_try_parse_dates,
        decimal_comma: req.csv_decimal_comma,
        infer_schema_length: req.csv_infer_schema_length,
        infer_schema_all: req.csv_infer_schema_all.unwrap_or(false),
        ignore_errors: req.csv_ignore_errors,
        truncate_ragged_lines: req.csv_truncate_ragged_lines,
        schema: csv_schema("csv_schema", &req.csv_schema)?,
        schema_overrides: csv_schema("csv_schema_overrides", &req.csv_schema_overrides)?,
        eol_char: req.csv_eol_char,
        utf8_lossy: req.csv_utf8_lossy.unwrap_or(false),
    };
    Ok(ScanSpec { path: req.path, paths: req.paths, format, hive_partitioning: req.hive_partitioning, csv })
}

/// Fields as a schema (`None` when there are none); dtypes as Cast names them.
fn csv_schema(what: &str, fields: &[proto::Field]) -> Result<Option<Schema>, Status> {
    if fields.is_empty() {
        return Ok(None);
    }
    let mut schema = Schema::with_capacity(fields.len());
    for field in fields {
        let dtype = crate::decode::expr::parse_dtype(&field.dtype)
            .map_err(|e| invalid(format!("{what}: column {:?}: {e}", field.name)))?;
        if schema.insert(field.name.as_str().into(), dtype).is_some() {
            return Err(invalid(format!("{what} names column {:?} twice", field.name)));
        }
    }
    Ok(Some(schema))
}

fn engine(engine: i32) -> Engine {
    match proto::Engine::try_from(engine).unwrap_or(proto::Engine::Auto) {
        proto::Engine::Auto => Engine::Auto,
        proto::Engine::InMemory => Engine::InMemory,
        proto::Engine::Streaming => Engine::Streaming,
    }
}

fn window(req: &proto::FetchRequest) -> Result<Window, Status> {
    Ok(Window {
        offset: i64::try_from(req.offset).map_err(|_| invalid("offset is too large"))?,
        limit: req.limit.map(|l| l.min(IdxSize::MAX as u64) as IdxSize),
    })
}

/// A Fetch stream: the schema, one gRPC message per record batch (its IPC
/// messages framed as a stream, sent as parts so no body is copied before
/// tonic encodes it), then the end-of-stream marker.
fn fetch_sink(
    schema: &Schema,
    max_message: usize,
    compression: Option<Compression>,
) -> IpcSink<IpcMessage, impl FnMut(EncodedBatch) -> Vec<IpcMessage> + Send + 'static> {
    let head = |schema| {
        let mut parts = Vec::new();
        frame_parts(schema, &mut parts);
        vec![IpcMessage::new(parts, 0)]
    };
    let wrap = |batch: EncodedBatch| {
        let mut parts = Vec::with_capacity(3 * batch.messages.len());
        for m in batch.messages {
            frame_parts(m, &mut parts);
        }
        vec![IpcMessage::new(parts, batch.rows as u64)]
    };
    let tail = vec![IpcMessage::new(vec![bytes::Bytes::from_static(&END_OF_STREAM)], 0)];
    IpcSink::new(schema, max_message, compression, head, wrap, tail)
}

/// The service with Fetch answered from the result's own buffers
/// ([`crate::parts`]); every other method goes to the generated server.
pub(crate) fn routes(
    service: PolaroidService,
    max_decoding_message_size: usize,
) -> PartsRoute<PolaroidServer<PolaroidService>, proto::FetchRequest> {
    let generated = PolaroidServer::new(service.clone())
        .max_decoding_message_size(max_decoding_message_size)
        .max_encoding_message_size(service.max_message_size);
    PartsRoute::new(generated, "/polaroid.v1.Polaroid/Fetch", max_decoding_message_size, move |request| {
        let service = service.clone();
        Box::pin(async move {
            let messages = service.fetch(request).await?.into_inner();
            Ok(Box::pin(messages.map(|m| m.map(IpcMessage::into_wire_parts))) as PartsStream)
        })
    })
}

pub(crate) type StatusStream<M> = std::pin::Pin<Box<dyn futures::Stream<Item = Result<M, Status>> + Send + 'static>>;

/// The core's result channel as a gRPC response stream.
pub(crate) fn status_stream<M: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<Result<M, CoreError>>,
) -> StatusStream<M> {
    Box::pin(ReceiverStream::new(rx).map(|r| r.map_err(status)))
}

#[tonic::async_trait]
impl Polaroid for PolaroidService {
    async fn scan(&self, request: Request<proto::ScanRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let spec = scan_spec(request.into_inner())?;
        self.run(move |core, _| core.scan(&ns, &spec)).await
    }

    async fn upload(
        &self,
        request: Request<Streaming<proto::UploadChunk>>,
    ) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let mut stream = request.into_inner();
        let budget = self.core.build_limit();
        let (mut name, mut chunks, mut size, mut first) = (String::new(), Vec::new(), 0u64, true);
        while let Some(chunk) = stream.message().await? {
            if std::mem::take(&mut first) {
                name = chunk.name;
            }
            size += chunk.data.len() as u64;
            if size > budget {
                return Err(status(self.core.upload_too_large()));
            }
            chunks.push(chunk.data);
        }
        self.run(move |core, _| core.upload(&ns, &name, chunks)).await
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

    async fn drop_columns(&self, request: Request<proto::DropColumnsRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::drop_columns).await
    }

    async fn rename(&self, request: Request<proto::RenameRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::rename).await
    }

    async fn explode(&self, request: Request<proto::ExplodeRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::explode).await
    }

    async fn unpivot(&self, request: Request<proto::UnpivotRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::unpivot).await
    }

    async fn with_row_index(&self, request: Request<proto::WithRowIndexRequest>) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, transforms::with_row_index).await
    }

    async fn concat(&self, request: Request<proto::ConcatRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let ids = request.get_ref().handles.iter().map(|h| parse_id(h)).collect::<Result<Vec<_>, _>>()?;
        let how = polaroid_core::ConcatHow::parse(&request.get_ref().how).or_status()?;
        let broadcast = request.get_ref().broadcast_unit_length;
        self.run(move |core, _| core.concat(&ns, &ids, how, broadcast)).await
    }

    async fn join(&self, request: Request<proto::JoinRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        let (left, right) = (parse_id(&req.left)?, parse_id(&req.right)?);
        self.run(move |core, _| core.derive2(&ns, left, right, |l, r| transforms::join(l, r, &req))).await
    }

    async fn merge_sorted(&self, request: Request<proto::MergeSortedRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        let (left, right) = (parse_id(&req.left)?, parse_id(&req.right)?);
        self.run(move |core, _| core.derive2(&ns, left, right, |l, r| transforms::merge_sorted(l, r, &req))).await
    }

    async fn sql(&self, request: Request<proto::SqlRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        let tables = req.tables.iter().map(|(name, h)| Ok((name.clone(), parse_id(h)?))).collect::<Result<Vec<_>, Status>>()?;
        let values = match req.parameters.is_empty() {
            true => None,
            false => Some(self.core.decode_upload(vec![req.parameters.into()]).map_err(status)?),
        };
        if req.distributed {
            let query = polaroid_core::sql_parameters::bind_one(&req.query, values.as_ref()).map_err(status)?;
            let info = self.core.sql_distributed(&ns, &query, &tables).await.map_err(status)?;
            return Ok(Response::new(reply(&info)));
        }
        self.run(move |core, _| core.sql_with_parameters_over(&ns, &req.query, values.as_ref(), &tables)).await
    }

    async fn plan(&self, request: Request<proto::PlanRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        self.run(move |core, _| core.ship_plan(&ns, &req.plan, &req.bindings, &req.client_polars, &req.description)).await
    }

    async fn ohlcv(&self, request: Request<proto::OhlcvRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        let id = parse_id(&req.handle)?;
        let (options, op) = timeseries::ohlcv_options(&req).or_status()?;
        self.run(move |core, cancel| core.ohlcv(&ns, id, &options, &op, cancel)).await
    }

    type SubscribeBarsStream = StatusStream<IpcMessage>;

    async fn subscribe_bars(
        &self,
        request: Request<proto::SubscribeBarsRequest>,
    ) -> Result<Response<Self::SubscribeBarsStream>, Status> {
        let ns = namespace(&request)?;
        let subscription = timeseries::bar_subscription(request.get_ref()).or_status()?;
        let feed = self.core.subscribe_bars(&ns, subscription).await.or_status()?;
        // The first frame fixes the schema; each frame is one record batch
        // (or a few, past the message size), never an end-of-stream marker.
        let max_message = self.max_message_size;
        let mut sink = None;
        let messages = futures::StreamExt::flat_map(ReceiverStream::new(feed), move |frame| {
            let mut out = Vec::new();
            match frame {
                Ok(bars) => {
                    let sink = sink.get_or_insert_with(|| fetch_sink(bars.schema(), max_message, None));
                    out.extend(sink.head().into_iter().map(Ok));
                    if let Err(e) = sink.batch(&bars, &mut |m| {
                        out.push(Ok(m));
                        true
                    }) {
                        out.push(Err(status(e)));
                    }
                },
                Err(e) => out.push(Err(status(e))),
            }
            futures::stream::iter(out)
        });
        Ok(Response::new(Box::pin(messages)))
    }

    async fn tick_analytics(
        &self,
        request: Request<proto::TickAnalyticsRequest>,
    ) -> Result<Response<proto::HandleReply>, Status> {
        self.transform(request, |r| &r.handle, timeseries::tick_analytics).await
    }

    async fn collect(&self, request: Request<proto::CollectRequest>) -> Result<Response<proto::HandleReply>, Status> {
        let ns = namespace(&request)?;
        let (id, engine) = (parse_id(&request.get_ref().handle)?, engine(request.get_ref().engine));
        self.run(move |core, cancel| core.collect(&ns, id, engine, cancel)).await
    }

    type FetchStream = StatusStream<IpcMessage>;

    async fn fetch(&self, request: Request<proto::FetchRequest>) -> Result<Response<Self::FetchStream>, Status> {
        let ns = namespace(&request)?;
        let req = request.into_inner();
        let id = parse_id(&req.handle)?;
        let entry = self.core.handle(&ns, id).or_status()?;
        let compression = match IpcCompression::try_from(req.compression).unwrap_or(IpcCompression::None) {
            IpcCompression::None => None,
            IpcCompression::Lz4 => Some(Compression::LZ4),
            IpcCompression::Zstd => Some(Compression::ZSTD(Default::default())),
        };
        let sink = fetch_sink(entry.schema(), self.max_message_size, compression);
        let slot = self.core.slot().await.or_status()?;
        let rx = self.core.stream(id, entry, window(&req)?, sink, slot);
        Ok(Response::new(status_stream(rx)))
    }

    async fn schema(&self, request: Request<proto::HandleRequest>) -> Result<Response<proto::SchemaReply>, Status> {
        let ns = namespace(&request)?;
        let entry = self.core.handle(&ns, parse_id(&request.get_ref().handle)?).or_status()?;
        Ok(Response::new(proto::SchemaReply { schema: Some(proto_schema(entry.schema())) }))
    }

    async fn explain(&self, request: Request<proto::ExplainRequest>) -> Result<Response<proto::ExplainReply>, Status> {
        let ns = namespace(&request)?;
        let (id, unoptimized) = (parse_id(&request.get_ref().handle)?, request.get_ref().unoptimized);
        let plan = self.core.run(move |core, _| core.explain(&ns, id, unoptimized)).await.map_err(status)?;
        Ok(Response::new(proto::ExplainReply { plan }))
    }

    async fn drop(&self, request: Request<proto::HandleRequest>) -> Result<Response<proto::DropReply>, Status> {
        let ns = namespace(&request)?;
        self.core.drop_handle(&ns, parse_id(&request.get_ref().handle)?).or_status()?;
        Ok(Response::new(proto::DropReply {}))
    }

    async fn keep_alive(&self, request: Request<proto::HandleRequest>) -> Result<Response<proto::HandleInfo>, Status> {
        let ns = namespace(&request)?;
        let info = self.core.info(&ns, parse_id(&request.get_ref().handle)?).or_status()?;
        Ok(Response::new(proto_info(&info)))
    }

    async fn list(&self, request: Request<proto::ListRequest>) -> Result<Response<proto::ListReply>, Status> {
        let ns = namespace(&request)?;
        Ok(Response::new(proto::ListReply { handles: self.core.list(&ns).iter().map(proto_info).collect() }))
    }

    async fn start_source(&self, request: Request<proto::StartSourceRequest>) -> Result<Response<proto::SourceStatus>, Status> {
        let ns = namespace(&request)?;
        let spec: SourceSpec = serde_json::from_str(&request.get_ref().spec_json)
            .map_err(|e| invalid(format!("spec_json is not a source: {e}")))?;
        let started = self.sources.start_kept(&ns, spec).map_err(source_status)?;
        Ok(Response::new(proto_source(started)))
    }

    async fn stop_source(&self, request: Request<proto::StopSourceRequest>) -> Result<Response<proto::SourceStatus>, Status> {
        let ns = namespace(&request)?;
        let stopped = self.sources.stop(&ns, &request.get_ref().name).await.map_err(source_status)?;
        Ok(Response::new(proto_source(stopped)))
    }

    async fn sources(&self, request: Request<proto::SourcesRequest>) -> Result<Response<proto::SourcesReply>, Status> {
        let ns = namespace(&request)?;
        Ok(Response::new(proto::SourcesReply { sources: self.sources.list(&ns).into_iter().map(proto_source).collect() }))
    }

    async fn stats(&self, request: Request<proto::StatsRequest>) -> Result<Response<proto::StatsReply>, Status> {
        let s = self.core.stats(&namespace(&request)?);
        Ok(Response::new(proto::StatsReply {
            handles: s.handles,
            bytes: s.bytes,
            memory_budget: s.memory_budget,
            inserted: s.inserted,
            hits: s.hits,
            misses: s.misses,
            expired: s.expired,
            evicted: s.evicted,
            dropped: s.dropped,
            active_fetches: s.active_fetches,
            running_queries: s.running_queries,
            queued_queries: s.queued_queries,
        }))
    }
}

/// A taken name is ALREADY_EXISTS here (the core's kinds have no such code).
fn source_status(e: SourceError) -> Status {
    match e {
        SourceError::AlreadyRunning(_) => Status::already_exists(e.to_string()),
        other => status(other.into()),
    }
}

fn proto_source(s: SourceStatus) -> proto::SourceStatus {
    let state = match s.state {
        SourceState::Connecting => "connecting",
        SourceState::Connected => "connected",
        SourceState::Backoff => "backoff",
        SourceState::Stopped => "stopped",
    };
    proto::SourceStatus {
        name: s.name,
        table: s.table,
        url: s.url,
        state: state.into(),
        rows: s.rows,
        batches: s.batches,
        messages: s.messages,
        dropped_rows: s.dropped_rows,
        decode_errors: s.decode_errors,
        reconnects: s.reconnects,
        lag_ms: s.lag_ms,
        last_error: s.last_error,
        skipped: s.skipped,
    }
}
