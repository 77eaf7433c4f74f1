//! One source's life. A reader task keeps the feed: it connects, sends the
//! subscriptions, decodes each message into the pending rows, and on a lost
//! connection waits (doubling from `reconnect_min_ms` to `reconnect_max_ms`),
//! reconnects, resubscribes and records the gap. A writer task appends the
//! pending rows in batches (`batch_rows`, or `batch_ms` after the oldest),
//! each durable. Pending rows are bounded by `max_pending_rows`: when the
//! writer falls behind, new rows are dropped, counted and logged, never
//! buffered without bound.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use polaroid_core::tables::{AutoCreate, PartitionBy};
use polaroid_core::{Core, Namespace};
use polars::prelude::*;
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::Message;

use crate::decode::{Cell, Decoder, Record, Rows};
use crate::kafka::Offsets;
use rdkafka::consumer::StreamConsumer;
use crate::registry::{SourceState, SourceStatus, GAPS_TABLE};
use crate::spec::{SourceSpec, WebsocketFeed};

/// The longest a connect (TCP, TLS and the WebSocket handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the reader, the writer and the registry share.
pub(crate) struct Shared {
    pub(crate) status: Mutex<SourceStatus>,
    pub(crate) pending: Mutex<Pending>,
    /// The writer's wake-up: a batch is full, or its first row arrived.
    wake: Notify,
    /// The reader's wake-up: the writer took a batch (Kafka waits for it).
    pub(crate) drained: Notify,
    /// A Kafka source's consumer: the writer commits through it.
    pub(crate) kafka: Mutex<Option<Arc<StreamConsumer>>>,
}

pub(crate) struct Pending {
    pub(crate) rows: Rows,
    /// When the oldest pending row arrived.
    since: Option<Instant>,
    /// Where a dropped message is decoded, to count its rows.
    overflow: Rows,
    /// Kafka: the highest offset per partition among the pending rows.
    offsets: Offsets,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn new(spec: &SourceSpec, status: SourceStatus) -> Self {
        let decoder = Decoder::new(spec);
        Self {
            status: Mutex::new(status),
            pending: Mutex::new(Pending { rows: decoder.rows(), since: None, overflow: decoder.rows(), offsets: Offsets::new() }),
            wake: Notify::new(),
            drained: Notify::new(),
            kafka: Mutex::new(None),
        }
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut SourceStatus)) {
        f(&mut lock(&self.status));
    }
}

/// Run the source until `stop` turns true; then append what is pending.
pub(crate) async fn run(core: Arc<Core>, ns: Namespace, spec: SourceSpec, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let writer = tokio::spawn(write_batches(core.clone(), ns.clone(), spec.clone(), shared.clone(), stop.clone()));
    if let Some(feed) = spec.websocket.clone() {
        read_websocket(&core, &ns, &spec, &feed, &shared, stop).await;
    } else if let Some(feed) = spec.kafka.clone() {
        crate::kafka::read_kafka(&core, &ns, &spec, &feed, &shared, stop).await;
    }
    if let Err(e) = writer.await {
        shared.update(|s| s.last_error = Some(format!("the writer failed: {e}")));
    }
    shared.update(|s| s.state = SourceState::Stopped);
}

pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The next tick of `interval`; never without one.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        },
        None => std::future::pending().await,
    }
}

async fn read_websocket(
    core: &Arc<Core>,
    ns: &Namespace,
    spec: &SourceSpec,
    feed: &WebsocketFeed,
    shared: &Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let decoder = Decoder::new(spec);
    let (min_wait, max_wait) = feed.backoff();
    let mut wait = min_wait;
    // Set when a connection that was up is lost: when, and why.
    let mut lost: Option<(i64, String)> = None;
    loop {
        shared.update(|s| s.state = SourceState::Connecting);
        let connect = tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(feed.url.as_str()));
        let connected = tokio::select! {
            () = stopped(&mut stop) => return,
            c = connect => c,
        };
        let failure = match connected {
            Err(_) => format!("connect to {} timed out after {CONNECT_TIMEOUT:?}", feed.url),
            Ok(Err(e)) => format!("connect to {} failed: {e}", feed.url),
            Ok(Ok((mut socket, _))) => {
                let mut subscribed = Ok(());
                for message in &feed.subscribe {
                    if let Err(e) = socket.send(Message::text(message.clone())).await {
                        subscribed = Err(format!("subscribe failed: {e}"));
                        break;
                    }
                }
                match subscribed {
                    Err(e) => e,
                    Ok(()) => {
                        wait = min_wait;
                        if let Some((from, reason)) = lost.take() {
                            record_gap(core, ns, spec, from, now_micros(), &reason).await;
                            core.metrics().source_reconnected(&spec.name);
                            shared.update(|s| s.reconnects += 1);
                        }
                        shared.update(|s| s.state = SourceState::Connected);
                        let Some(reason) = read_connection(core, spec, feed, &decoder, shared, &mut socket, &mut stop).await
                        else {
                            let _ = socket.close(None).await;
                            return;
                        };
                        tracing::warn!(source = %spec.name, "feed lost: {reason}; reconnecting");
                        lost = Some((now_micros(), reason.clone()));
                        reason
                    },
                }
            },
        };
        shared.update(|s| {
            s.state = SourceState::Backoff;
            s.last_error = Some(failure);
        });
        tokio::select! {
            () = stopped(&mut stop) => return,
            () = tokio::time::sleep(wait) => {},
        }
        wait = (wait * 2).min(max_wait);
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Read one connection's messages into the pending rows, pinging it, until
/// it is lost (why) or the source stops (`None`).
async fn read_connection(
    core: &Arc<Core>,
    spec: &SourceSpec,
    feed: &WebsocketFeed,
    decoder: &Decoder,
    shared: &Arc<Shared>,
    socket: &mut Socket,
    stop: &mut watch::Receiver<bool>,
) -> Option<String> {
    let every = feed.ping_every();
    let mut pings = every.map(|d| {
        let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
        pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        pings
    });
    let mut last_frame = Instant::now();
    loop {
        let next = tokio::select! {
            () = stopped(stop) => return None,
            () = tick(&mut pings) => {
                // A half-open connection (a peer gone without a FIN) reads
                // nothing forever: no frame at all, not even a pong, for
                // three periods means the feed is lost.
                let every = every.expect("pings tick only with a period");
                if last_frame.elapsed() >= every * 3 {
                    return Some(format!("no frame from the feed for {} ms", last_frame.elapsed().as_millis()));
                }
                let mut sent = socket.send(Message::Ping(Default::default())).await;
                if let (Ok(()), Some(text)) = (&sent, &feed.ping) {
                    sent = socket.send(Message::text(text.clone())).await;
                }
                match sent {
                    Ok(()) => continue,
                    Err(e) => return Some(format!("ping failed: {e}")),
                }
            },
            next = socket.next() => next,
        };
        last_frame = Instant::now();
        let message = match next {
            Some(Ok(message)) => message,
            Some(Err(e)) => return Some(format!("read failed: {e}")),
            None => return Some("the connection ended".into()),
        };
        let text = match &message {
            Message::Text(text) => std::borrow::Cow::Borrowed(text.as_str()),
            Message::Binary(bytes) => match binary_text(bytes) {
                Ok(text) => text,
                Err(why) => {
                    shared.update(|s| {
                        s.messages += 1;
                        s.decode_errors += 1;
                        s.last_error = Some(format!("message {}: {why}", s.messages));
                    });
                    continue;
                },
            },
            Message::Close(frame) => {
                return Some(match frame {
                    Some(f) => format!("closed by the feed: {} {}", f.code, f.reason),
                    None => "closed by the feed".into(),
                })
            },
            // Pings are answered by tungstenite as the stream is read.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        };
        if feed.is_pong(&text) {
            continue;
        }
        if let Some(reply) = feed.reply_for(&text) {
            if let Err(e) = socket.send(Message::text(reply)).await {
                return Some(format!("reply to the feed's heartbeat failed: {e}"));
            }
            continue;
        }
        receive(core, spec, decoder, shared, &text);
    }
}

/// The most bytes a compressed frame may inflate to.
const MAX_INFLATED: u64 = 64 << 20;

/// A binary frame's text: gzip (HTX), zlib or raw deflate compressed,
/// or plain UTF-8.
fn binary_text(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, String> {
    use std::io::Read;
    let inflate = |reader: &mut dyn Read| -> Result<std::borrow::Cow<'_, str>, String> {
        let mut text = String::new();
        let read = reader.take(MAX_INFLATED + 1).read_to_string(&mut text);
        match read {
            Ok(n) if n as u64 > MAX_INFLATED => Err(format!("a compressed message inflates past {MAX_INFLATED} bytes")),
            Ok(_) => Ok(text.into()),
            Err(e) => Err(format!("a compressed message that does not inflate to UTF-8 text: {e}")),
        }
    };
    match bytes {
        [0x1f, 0x8b, ..] => inflate(&mut flate2::read::GzDecoder::new(bytes)),
        // zlib's header: deflate, a window size, and a check of both.
        [cmf, flg, ..] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0 => {
            inflate(&mut flate2::read::ZlibDecoder::new(bytes))
        },
        _ => match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.into()),
            Err(_) => inflate(&mut flate2::read::DeflateDecoder::new(bytes))
                .map_err(|_| "a binary message that is neither UTF-8 text nor gzip, zlib or deflate compressed".into()),
        },
    }
}

/// One message: its rows go to the pending batch, or are dropped if the
/// batch is at its bound.
fn receive(core: &Core, spec: &SourceSpec, decoder: &Decoder, shared: &Shared, text: &str) {
    receive_rows(core, spec, decoder, shared, text, Vec::new(), None, &Record::default());
}

/// [`receive`], with the cells of the columns after the message's own and,
/// for Kafka, where the message came from and its record.
#[allow(clippy::too_many_arguments)]
pub(crate) fn receive_rows(
    core: &Core,
    spec: &SourceSpec,
    decoder: &Decoder,
    shared: &Shared,
    text: &str,
    extra: Vec<Cell>,
    origin: Option<(String, i32, i64)>,
    record: &Record,
) {
    let mut pending = lock(&shared.pending);
    let full = pending.rows.len() >= spec.max_pending_rows();
    let Pending { rows, overflow, since, offsets } = &mut *pending;
    let decoded =
        if full { decoder.decode_with(text, overflow, extra, record) } else { decoder.decode_with(text, rows, extra, record) };
    let mut status = lock(&shared.status);
    status.messages += 1;
    if let Some(e) = decoded.error {
        let before = status.decode_errors;
        status.decode_errors += decoded.errors as u64;
        // The first ten are logged, then one in a thousand; the count says the rest.
        if before < 10 || before / 1000 != status.decode_errors / 1000 {
            tracing::warn!(source = %spec.name, errors = status.decode_errors, "cannot decode a message: {e}");
        }
        status.last_error = Some(format!("message {}: {e}", status.messages));
    }
    if decoded.rows == 0 {
        return;
    }
    if full {
        overflow.clear();
        status.dropped_rows += decoded.rows as u64;
        core.metrics().source_dropped(&spec.name, decoded.rows as u64);
        // The first drop of a run of drops is logged; the count says the rest.
        if !status.dropping {
            tracing::warn!(source = %spec.name, "the writer is behind: dropping rows ({} pending)", rows.len());
        }
        status.dropping = true;
        return;
    }
    status.dropping = false;
    if let Some((topic, partition, offset)) = origin {
        let max = offsets.entry((topic, partition)).or_insert(offset);
        *max = (*max).max(offset);
    }
    if let Some(ts) = rows.last_time() {
        status.lag_ms = Some((now_micros() - ts) as f64 / 1e3);
    }
    let first = since.is_none();
    since.get_or_insert_with(Instant::now);
    if first || rows.len() >= spec.batch_rows() {
        shared.wake.notify_one();
    }
}

/// Append the pending rows whenever a batch is full or due, until stopped;
/// then once more.
async fn write_batches(core: Arc<Core>, ns: Namespace, spec: SourceSpec, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let (len, since) = {
            let p = lock(&shared.pending);
            (p.rows.len(), p.since)
        };
        let due = since.map(|s| s + spec.batch_wait());
        if len >= spec.batch_rows() || due.is_some_and(|d| d <= Instant::now()) {
            append(&core, &ns, &spec, &shared).await;
            continue;
        }
        tokio::select! {
            () = stopped(&mut stop) => break,
            () = shared.wake.notified() => {},
            () = async {
                match due {
                    Some(due) => tokio::time::sleep_until(due.into()).await,
                    None => std::future::pending().await,
                }
            } => {},
        }
    }
    append(&core, &ns, &spec, &shared).await;
}

/// Append what is pending, durably, off the async workers.
async fn append(core: &Arc<Core>, ns: &Namespace, spec: &SourceSpec, shared: &Arc<Shared>) {
    let (frame, offsets, symbols) = {
        let mut p = lock(&shared.pending);
        p.since = None;
        if p.rows.len() == 0 {
            return;
        }
        (p.rows.take_frame(), std::mem::take(&mut p.offsets), p.rows.symbol_columns())
    };
    shared.drained.notify_one();
    let consumer = lock(&shared.kafka).clone();
    let rows = frame.as_ref().map_or(0, |df| df.height() as u64);
    let (core2, ns, table) = (core.clone(), ns.clone(), spec.table.clone());
    let auto = AutoCreate {
        timestamp: spec.timestamp_column().to_string(),
        partition_by: PartitionBy::Day,
        // Checked when the source started.
        retention: spec.retention().ok().flatten().unwrap_or_default(),
        symbols,
        upsert_keys: spec.upsert_keys.clone().unwrap_or_default(),
    };
    let appended = tokio::task::spawn_blocking(move || {
        let df = frame.map_err(|e| e.to_string())?;
        let n = core2.tables().append(&ns, &table, df, Some(auto)).map_err(|e| e.to_string())?;
        // Only now, with the rows durable: the broker may forget them.
        let committed = consumer.map(|c| crate::kafka::commit(&c, &offsets)).unwrap_or(Ok(()));
        Ok::<_, String>((n, committed))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match appended {
        Ok((n, committed)) => {
            if let Err(e) = committed {
                // The rows are in the table; read again after a restart, they are skipped.
                tracing::warn!(source = %spec.name, "{e}");
                shared.update(|s| s.last_error = Some(e));
            }
            core.metrics().source_rows(&spec.name, n);
            core.metrics().ingested(&spec.table, n);
            shared.update(|s| {
                s.rows += n;
                s.batches += 1;
            });
        },
        Err(e) => {
            tracing::warn!(source = %spec.name, rows, "append to {} failed: {e}", spec.table);
            core.metrics().source_dropped(&spec.name, rows);
            shared.update(|s| {
                s.dropped_rows += rows;
                s.last_error = Some(format!("append of {rows} rows to {} failed: {e}", spec.table));
            });
        },
    }
}

/// A row of the gaps table: the feed of `source` was down from `from` to `to`.
async fn record_gap(core: &Arc<Core>, ns: &Namespace, spec: &SourceSpec, from: i64, to: i64, reason: &str) {
    let (core, ns, source, table, reason) = (core.clone(), ns.clone(), spec.name.clone(), spec.table.clone(), reason.to_string());
    let written = tokio::task::spawn_blocking(move || -> Result<u64, String> {
        let micros = |name: &str, v: i64| {
            Column::new(name.into(), [v]).cast(&DataType::Datetime(TimeUnit::Microseconds, None)).map_err(|e| e.to_string())
        };
        let df = DataFrame::new(
            1,
            vec![
                Column::new("source".into(), [source.as_str()]),
                Column::new("table".into(), [table.as_str()]),
                micros("gap_from", from)?,
                micros("ts", to)?,
                Column::new("reason".into(), [reason.as_str()]),
            ],
        )
        .map_err(|e| e.to_string())?;
        let auto = AutoCreate { timestamp: "ts".into(), partition_by: PartitionBy::Day, retention: Default::default(), symbols: Vec::new(), upsert_keys: Vec::new() };
        core.tables().append(&ns, GAPS_TABLE, df, Some(auto)).map_err(|e| e.to_string())
    })
    .await;
    if let Err(e) = written.map_err(|e| e.to_string()).and_then(|r| r) {
        tracing::warn!(source = %spec.name, "cannot record the gap: {e}");
    }
}

pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
