//! `GET /exec` (JSON) and `GET /exp` (CSV): a SQL query run once and
//! streamed back as it is produced, in QuestDB's shapes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use polaroid_core::results::{ResultSink, Window};
use polaroid_core::{Core, CoreError, Entry};
use polars::prelude::*;
use tokio::sync::mpsc::Receiver;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{json_string, QueryError};
use crate::render::{csv_quoted, questdb_type, Format, RowWriter};
use polaroid_questdb::{Changed, Kind};
use crate::Door;

/// Rendered rows are sent in chunks of about this many bytes.
const CHUNK: usize = 256 << 10;

/// What `/exec` and `/exp` take besides the query.
struct Options {
    query: String,
    window: Window,
    /// `count=true`: report the full result's row count, not the rows sent.
    count: bool,
    /// `nm=true`: no metadata (`columns` in JSON, the header line in CSV).
    no_meta: bool,
    timings: bool,
    explain: bool,
    quote_large: bool,
    /// `cols=a,b`: only these columns, in this order.
    columns: Option<Vec<String>>,
    /// The `Statement-Timeout` header, in milliseconds.
    timeout: Option<Duration>,
    /// `distributed=true`: DataFusion on the Ballista cluster runs it.
    distributed: bool,
}

fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument(message.into())
}

/// `limit`: `N` (the first N rows), `-N` (the last N) or `A,B` (rows A to
/// B, counted from 1, both included).
fn parse_limit(text: Option<&String>) -> Result<Window, CoreError> {
    let Some(text) = text.map(|t| t.trim()).filter(|t| !t.is_empty()) else {
        return Ok(Window::default());
    };
    let number = |s: &str| s.trim().parse::<i64>().map_err(|_| invalid(format!("limit {text:?}: expected N, -N or A,B")));
    let window = match text.split_once(',') {
        Some((a, b)) => {
            let (a, b) = (number(a)?.max(1), number(b)?);
            Window { offset: a - 1, limit: Some((b - a + 1).max(0) as IdxSize) }
        },
        None => match number(text)? {
            n if n < 0 => Window { offset: n, limit: Some(n.unsigned_abs() as IdxSize) },
            n => Window { offset: 0, limit: Some(n as IdxSize) },
        },
    };
    Ok(window)
}

impl Options {
    fn parse(params: &HashMap<String, String>, headers: &HeaderMap) -> Result<Self, CoreError> {
        let query = params.get("query").map(|q| q.trim().to_string()).unwrap_or_default();
        if query.is_empty() {
            return Err(invalid("empty query"));
        }
        let timeout = match headers.get("Statement-Timeout") {
            None => None,
            Some(v) => {
                let ms = v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok());
                let ms = ms.ok_or_else(|| invalid("Statement-Timeout must be a whole number of milliseconds"))?;
                (ms > 0).then(|| Duration::from_millis(ms))
            },
        };
        let columns = params
            .get("cols")
            .map(|c| c.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect::<Vec<_>>())
            .filter(|c| !c.is_empty());
        Ok(Self {
            window: parse_limit(params.get("limit"))?,
            count: flag(params, "count"),
            no_meta: flag(params, "nm"),
            timings: flag(params, "timings"),
            explain: flag(params, "explain"),
            quote_large: flag(params, "quoteLargeNum"),
            columns,
            timeout,
            distributed: flag(params, "distributed"),
            query,
        })
    }
}

/// The query's plan, checked like every plan, and what `/exec` reports
/// about it.
struct Prepared {
    entry: Arc<Entry>,
    compile_ns: u64,
    /// The full result's row count (`count=true`), and what counting took.
    total: Option<(u64, u64)>,
    explain: Option<String>,
    /// The designated timestamp's column index, or -1.
    timestamp_index: i64,
}

fn prepare(core: &Core, ns: &polaroid_core::Namespace, options: &Options) -> Result<Prepared, CoreError> {
    let started = Instant::now();
    let (mut lf, tables) = polaroid_questdb::plan(core, ns, &options.query)?;
    if let Some(columns) = &options.columns {
        lf = lf.select(columns.iter().map(|c| col(c.as_str())).collect::<Vec<_>>());
    }
    let entry = core.prepare_plan(ns, lf, format!("exec({:?})", options.query))?;
    let compile_ns = started.elapsed().as_nanos() as u64;
    let total = if options.count {
        let started = Instant::now();
        let counted = entry.lazy().select([len()]).collect()?;
        let rows = counted.column("len")?.get(0)?.extract::<u64>().unwrap_or(0);
        Some((rows, started.elapsed().as_nanos() as u64))
    } else {
        None
    };
    let explain = if options.explain { Some(entry.lazy().describe_optimized_plan()?) } else { None };
    let timestamp_index = designated_timestamp(entry.schema(), &tables);
    Ok(Prepared { entry, compile_ns, total, explain, timestamp_index })
}

/// `distributed=true`: the cluster runs the query; its result (a frame, or
/// a plan over its spilled file) is rendered like any other, and not kept
/// as a handle.
async fn prepare_distributed(
    core: &Arc<Core>,
    ns: &polaroid_core::Namespace,
    options: &Options,
) -> Result<Prepared, CoreError> {
    let started = Instant::now();
    let info = core.sql_distributed(ns, &options.query, &[]).await?;
    let mut entry = core.handle(ns, info.id)?;
    core.drop_handle(ns, info.id)?;
    if let Some(columns) = &options.columns {
        let lf = entry.lazy().select(columns.iter().map(|c| col(c.as_str())).collect::<Vec<_>>());
        entry = core.prepare_plan(ns, lf, format!("exec({:?})", options.query))?;
    }
    // A large result comes back as a plan over its spilled file: count it.
    let total = match (options.count, info.rows) {
        (false, _) => None,
        (true, Some(rows)) => Some((rows as u64, 0)),
        (true, None) => {
            let counted = entry.lazy().select([len()]).collect()?;
            Some((counted.column("len")?.get(0)?.extract::<u64>().unwrap_or(0), 0))
        },
    };
    let explain = options.explain.then(|| info.lineage.to_string());
    // A query's run is its compile here: the cluster plans and runs at once.
    Ok(Prepared { entry, compile_ns: started.elapsed().as_nanos() as u64, total, explain, timestamp_index: -1 })
}

/// Where the designated timestamp of the one table a query reads sits in
/// its result, as QuestDB reports it; -1 when there is none.
fn designated_timestamp(schema: &Schema, tables: &[polaroid_core::tables::TableDef]) -> i64 {
    let [table] = tables else { return -1 };
    let Some(ts) = &table.timestamp else { return -1 };
    match schema.get_full(ts.as_str()) {
        Some((index, _, dtype)) if dtype.is_temporal() => index as i64,
        _ => -1,
    }
}

/// `/exec`'s JSON: `{"query", "columns", "timestamp", "dataset": [rows...],
/// "count"[, "timings"][, "explain"]}`. The opening is held back until the
/// first rows (or the end), so an error before any row is still a 400.
struct JsonSink {
    opening: Option<Vec<u8>>,
    rows: u64,
    quote_large: bool,
    total: Option<(u64, u64)>,
    compile_ns: u64,
    started: Instant,
    timings: bool,
    explain: Option<String>,
}

impl JsonSink {
    fn new(options: &Options, prepared: &Prepared, started: Instant) -> Self {
        // Keys in QuestDB's order, written by hand: serde_json's maps sort them.
        let mut opening = format!("{{\"query\":{}", json_string(&options.query));
        if !options.no_meta {
            let columns: Vec<String> = prepared
                .entry
                .schema()
                .iter()
                .map(|(name, dtype)| format!("{{\"name\":{},\"type\":\"{}\"}}", json_string(name), questdb_type(dtype)))
                .collect();
            opening.push_str(&format!(",\"columns\":[{}]", columns.join(",")));
        }
        opening.push_str(&format!(",\"timestamp\":{},\"dataset\":[", prepared.timestamp_index));
        let opening = opening.into_bytes();
        Self {
            opening: Some(opening),
            rows: 0,
            quote_large: options.quote_large,
            total: prepared.total,
            compile_ns: prepared.compile_ns,
            started,
            timings: options.timings,
            explain: prepared.explain.clone(),
        }
    }
}

impl ResultSink for JsonSink {
    type Message = Bytes;

    fn head(&mut self) -> Vec<Bytes> {
        Vec::new()
    }

    fn batch(&mut self, df: &DataFrame, send: &mut dyn FnMut(Bytes) -> bool) -> Result<bool, CoreError> {
        let format = Format::Json { quote_large: self.quote_large };
        let opening = self.opening.take().unwrap_or_default();
        let rows = &mut self.rows;
        let comma = |out: &mut Vec<u8>| {
            if *rows > 0 {
                out.push(b',');
            }
            *rows += 1;
        };
        send_rows(df, format, opening, comma, b"", send)
    }

    fn tail(&mut self) -> Vec<Bytes> {
        let mut out = self.opening.take().unwrap_or_default();
        let count = self.total.map_or(self.rows, |(rows, _)| rows);
        out.extend_from_slice(format!("],\"count\":{count}").as_bytes());
        if self.timings {
            let timings = format!(
                ",\"timings\":{{\"authentication\":0,\"compiler\":{},\"execute\":{},\"count\":{}}}",
                self.compile_ns,
                self.started.elapsed().as_nanos(),
                self.total.map_or(0, |(_, ns)| ns)
            );
            out.extend_from_slice(timings.as_bytes());
        }
        if let Some(plan) = &self.explain {
            out.extend_from_slice(format!(",\"explain\":{{\"jitCompiled\":false,\"plan\":{}}}", json_string(plan)).as_bytes());
        }
        out.push(b'}');
        vec![Bytes::from(out)]
    }
}

/// `/exp`'s CSV: a header line of quoted names (unless `nm`), then rows.
struct CsvSink {
    header: Option<Vec<u8>>,
}

impl CsvSink {
    fn new(schema: &Schema, no_meta: bool) -> Self {
        let mut header = Vec::new();
        if !no_meta {
            for (i, name) in schema.iter_names().enumerate() {
                if i > 0 {
                    header.push(b',');
                }
                csv_quoted(name, &mut header);
            }
            header.push(b'\n');
        }
        Self { header: Some(header) }
    }
}

impl ResultSink for CsvSink {
    type Message = Bytes;

    fn head(&mut self) -> Vec<Bytes> {
        Vec::new()
    }

    fn batch(&mut self, df: &DataFrame, send: &mut dyn FnMut(Bytes) -> bool) -> Result<bool, CoreError> {
        let header = self.header.take().unwrap_or_default();
        send_rows(df, Format::Csv, header, |_| {}, b"\n", send)
    }

    fn tail(&mut self) -> Vec<Bytes> {
        self.header.take().filter(|h| !h.is_empty()).map(Bytes::from).into_iter().collect()
    }
}

/// Render `df`'s rows after `out` (bytes not yet sent), each one after
/// what `before` writes and followed by `after`, sending chunks of about
/// [`CHUNK`] bytes. Returns false once `send` does.
fn send_rows(
    df: &DataFrame,
    format: Format,
    mut out: Vec<u8>,
    mut before: impl FnMut(&mut Vec<u8>),
    after: &[u8],
    send: &mut dyn FnMut(Bytes) -> bool,
) -> Result<bool, CoreError> {
    let mut df = df.clone();
    df.rechunk_mut_par();
    let writer = RowWriter::new(&df, format)?;
    for row in 0..df.height() {
        before(&mut out);
        writer.write_row(row, &mut out);
        out.extend_from_slice(after);
        // After a full chunk the result is large: the next one gets its
        // room at once (a small result never asks for it).
        if out.len() >= CHUNK && !send(Bytes::from(std::mem::replace(&mut out, Vec::with_capacity(CHUNK + CHUNK / 4)))) {
            return Ok(false);
        }
    }
    Ok(out.is_empty() || send(Bytes::from(out)))
}

/// Run the query and stream what `sink` makes of it. The response starts
/// only once the first piece exists, so any error before it is a 400.
async fn run<S: ResultSink<Message = Bytes>>(
    door: &Door,
    headers: &HeaderMap,
    params: HashMap<String, String>,
    content_type: &'static str,
    make_sink: fn(&Options, &Prepared, Instant) -> S,
) -> Response {
    let started = Instant::now();
    let query = params.get("query").cloned().unwrap_or_default();
    let fail = |error| QueryError { query: query.clone(), error }.into_response();
    let (options, ns) = match Options::parse(&params, headers).and_then(|o| Ok((o, crate::auth::namespace(&door.core, headers)?))) {
        Ok(parsed) => parsed,
        Err(e) => return fail(e),
    };
    let deadline = options.timeout.map(|t| started + t);
    let options = Arc::new(options);
    let prepared = {
        let work = async {
            if options.distributed {
                prepare_distributed(&door.core, &ns, &options).await
            } else {
                let options = options.clone();
                door.core.run(move |core, _| prepare(core, &ns, &options)).await
            }
        };
        match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), work)
                .await
                .unwrap_or_else(|_| Err(CoreError::DeadlineExceeded("timeout, query aborted while planning".into()))),
            None => work.await,
        }
    };
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let slot = match door.core.slot().await {
        Ok(slot) => slot,
        Err(e) => return fail(e),
    };
    let sink = make_sink(&options, &prepared, started);
    let rx = door.core.stream_until(prepared.entry, options.window, sink, slot, deadline);
    match first_then_rest(rx).await {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => fail(e),
    }
}

/// A body that starts with the stream's first piece; an error in place of
/// that piece is returned instead. A later error cuts the body short.
async fn first_then_rest(mut rx: Receiver<Result<Bytes, CoreError>>) -> Result<Body, CoreError> {
    let first = match rx.recv().await {
        Some(Ok(first)) => first,
        Some(Err(e)) => return Err(e),
        None => Bytes::new(),
    };
    let rest = ReceiverStream::new(rx).map(|r| r.map_err(std::io::Error::other));
    Ok(Body::from_stream(futures::stream::once(async { Ok(first) }).chain(rest)))
}

pub async fn exec(State(door): State<Door>, headers: HeaderMap, Query(params): Query<HashMap<String, String>>) -> Response {
    let query = params.get("query").map(|q| q.trim().to_string()).unwrap_or_default();
    // The distributed engine judges every statement itself (and refuses
    // all but queries), so none is taken for a QuestDB table change.
    if flag(&params, "distributed") {
        return run(&door, &headers, params, "application/json", JsonSink::new).await;
    }
    match polaroid_questdb::kind(&query) {
        Kind::Query => run(&door, &headers, params, "application/json", JsonSink::new).await,
        kind => change(&door, &headers, query, kind).await,
    }
}

/// A statement that changes tables: `{"ddl":"OK"}` or `{"dml":"OK"}`.
async fn change(door: &Door, headers: &HeaderMap, query: String, kind: Kind) -> Response {
    let ns = match crate::auth::namespace(&door.core, headers) {
        Ok(ns) => ns,
        Err(error) => return QueryError { query, error }.into_response(),
    };
    let sql = query.clone();
    let done = door.core.run(move |core, cancel| polaroid_questdb::change(core, &ns, &sql, kind, None, cancel)).await;
    let done = done.map(|changed| match changed {
        Changed::Definition => "{\"ddl\":\"OK\"}",
        Changed::Inserted(_) => "{\"dml\":\"OK\"}",
    });
    match done {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => QueryError { query, error }.into_response(),
    }
}

/// `GET /chk?j=<table>`: `{"status":"Exists"}` or `{"status":"Does not exist"}`.
pub async fn check(State(door): State<Door>, headers: HeaderMap, Query(params): Query<HashMap<String, String>>) -> Response {
    let name = params.get("j").cloned().unwrap_or_default();
    let exists = crate::auth::namespace(&door.core, &headers).and_then(|ns| door.core.tables().get(&ns, &name));
    match exists {
        Ok(found) => {
            let status = if found.is_some() { "Exists" } else { "Does not exist" };
            axum::Json(serde_json::json!({ "status": status })).into_response()
        },
        Err(error) => QueryError { query: name, error }.into_response(),
    }
}

pub async fn export(State(door): State<Door>, headers: HeaderMap, Query(params): Query<HashMap<String, String>>) -> Response {
    let csv = |options: &Options, prepared: &Prepared, _| CsvSink::new(prepared.entry.schema(), options.no_meta);
    run(&door, &headers, params, "text/csv; charset=utf-8", csv).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_like_questdb_s() {
        let w = |t: &str| parse_limit(Some(&t.to_string())).unwrap();
        assert_eq!((w("10").offset, w("10").limit), (0, Some(10)));
        assert_eq!((w("-3").offset, w("-3").limit), (-3, Some(3)));
        // Rows 2..=4, counted from 1: offset 1, three rows.
        assert_eq!((w("2,4").offset, w("2,4").limit), (1, Some(3)));
        assert_eq!(w("5,4").limit, Some(0));
        assert!(parse_limit(Some(&"ten".to_string())).is_err());
    }
}
