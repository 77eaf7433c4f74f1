//! InfluxDB line protocol over plain TCP (`--ilp-listen`, QuestDB's port
//! 9009): clients stream lines and get no replies.
//!
//! Lines are parsed as they arrive (the same parser as HTTP `/write`,
//! timestamps in nanoseconds) and appended in batches: when a connection
//! has [`BATCH_ROWS`] lines pending, or its oldest pending line has waited
//! [`BATCH_WAIT`], or it closes. Each batch is durable in the table before
//! the next is read, so a writer that falls behind slows the sender through
//! TCP flow control instead of buffering without bound.
//!
//! There is no reply channel, so a bad line is handled as QuestDB does: the
//! lines before it are written, it is logged and counted, and the
//! connection is closed. ILP over TCP carries no credentials; the server
//! does not open this door when it requires tokens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use polaroid_core::{Core, CoreError, Namespace};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::ilp::{parse_line, write, Numbered};

/// Lines a connection buffers before it appends them.
pub const BATCH_ROWS: usize = 10_000;
/// The longest a parsed line waits to be appended while the sender is idle.
pub const BATCH_WAIT: Duration = Duration::from_millis(100);
/// A longer line closes the connection (it would otherwise grow a buffer without bound).
const MAX_LINE: u64 = 1 << 20;
/// Connections served at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 256;

/// Serve ILP over TCP on `listener` until `shutdown` resolves. Fails at once
/// if the core requires credentials, which this protocol cannot carry.
pub async fn serve_ilp_tcp(
    core: Arc<Core>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), CoreError> {
    let ns = core.tenants().namespace(None)?;
    tracing::info!(
        listen = %listener.local_addr().map_err(|e| CoreError::Internal(e.to_string()))?,
        "ILP/TCP door serving (InfluxDB line protocol)"
    );
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // On shutdown each connection appends what it has pending, then closes.
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            // Reap finished connections as we go.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: the next accept may work.
                    tracing::warn!(error = %e, "ILP/TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                },
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "ILP/TCP connection refused: {MAX_CONNECTIONS} connections already open");
            continue;
        };
        let (core, ns, stopped) = (core.clone(), ns.clone(), stopped.clone());
        connections.spawn(async move {
            let _slot = slot;
            match connection(&core, &ns, stream, stopped).await {
                Ok(rows) => tracing::debug!(%peer, rows, "ILP/TCP connection closed"),
                Err(e) => tracing::warn!(%peer, rows_written = e.rows, "ILP/TCP connection closed: {}", e.message),
            }
        });
    }
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Why a connection was closed early, after how many appended rows.
struct Closed {
    rows: u64,
    message: String,
}

/// What ended one wait of a connection.
enum Step {
    /// A line (or the end of the stream) was read.
    Read(std::io::Result<usize>),
    /// The oldest pending line has waited long enough.
    Due,
    /// The server is stopping.
    Stop,
}

/// Read lines until the peer closes or the server stops; the rows appended.
async fn connection(core: &Arc<Core>, ns: &Namespace, stream: TcpStream, mut stopping: watch::Receiver<bool>) -> Result<u64, Closed> {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::with_capacity(64 << 10, stream);
    let mut batch = Batch::default();
    let mut buffer = Vec::with_capacity(256);
    let mut number = 0usize;
    loop {
        let step = {
            let room = (MAX_LINE + 1).saturating_sub(buffer.len() as u64);
            let mut limited = (&mut reader).take(room);
            let due = batch.due();
            tokio::select! {
                biased;
                _ = stopping.wait_for(|stop| *stop) => Step::Stop,
                () = async {
                    match due {
                        Some(due) => tokio::time::sleep_until(due.into()).await,
                        None => std::future::pending().await,
                    }
                } => Step::Due,
                // Cancel safe: bytes of a partial line stay in `buffer`.
                read = limited.read_until(b'\n', &mut buffer) => Step::Read(read),
            }
        };
        let read = match step {
            Step::Stop => {
                batch.flush(core, ns).await?;
                return Ok(batch.written);
            },
            Step::Due => {
                batch.flush(core, ns).await?;
                continue;
            },
            Step::Read(Ok(n)) => n,
            Step::Read(Err(e)) => {
                batch.flush(core, ns).await?;
                return Err(batch.closed(format!("read failed: {e}")));
            },
        };
        let complete = buffer.last() == Some(&b'\n');
        if !complete && buffer.len() as u64 > MAX_LINE {
            batch.flush(core, ns).await?;
            return Err(batch.closed(format!("line {} is longer than {MAX_LINE} bytes", number + 1)));
        }
        if read == 0 || complete {
            if !buffer.is_empty() {
                number += 1;
                if let Err(message) = batch.add(&buffer, number) {
                    batch.flush(core, ns).await?;
                    core.metrics().refused("ilp-tcp", "line", "invalid");
                    return Err(batch.closed(message));
                }
                buffer.clear();
            }
            if batch.lines.len() >= BATCH_ROWS {
                batch.flush(core, ns).await?;
            }
        }
        if read == 0 {
            batch.flush(core, ns).await?;
            return Ok(batch.written);
        }
    }
}

/// The lines of one connection waiting to be appended.
#[derive(Default)]
struct Batch {
    /// With their numbers on the connection.
    lines: Vec<Numbered>,
    /// When the oldest pending line arrived.
    since: Option<Instant>,
    written: u64,
}

impl Batch {
    fn due(&self) -> Option<Instant> {
        self.since.map(|since| since + BATCH_WAIT)
    }

    /// Parse one line (with its newline); blank lines and comments are skipped.
    fn add(&mut self, raw: &[u8], number: usize) -> Result<(), String> {
        let text = std::str::from_utf8(raw).map_err(|_| format!("line {number} is not UTF-8"))?;
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            return Ok(());
        }
        let line = parse_line(text, 1).map_err(|e| format!("failed to parse line protocol: error in line {number}: {e}"))?;
        self.lines.push((number, line));
        self.since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Append what is pending (durably) on a query slot.
    async fn flush(&mut self, core: &Arc<Core>, ns: &Namespace) -> Result<(), Closed> {
        if self.lines.is_empty() {
            return Ok(());
        }
        let lines = std::mem::take(&mut self.lines);
        self.since = None;
        let rows = lines.len() as u64;
        let started = Instant::now();
        let ns = ns.clone();
        let written = core.run(move |core, _| Ok(write(core, &ns, lines))).await;
        let outcome = match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err((line, e))) => Err(match line {
                Some(line) => format!("line {line} could not be written, nor the rest of its batch of {rows}: {e}"),
                None => format!("a batch of {rows} lines could not be written: {e}"),
            }),
            Err(e) => Err(format!("a batch of {rows} lines could not be written: {e}")),
        };
        let code = if outcome.is_ok() { "ok" } else { "error" };
        core.metrics().request("ilp-tcp", "batch", code, started.elapsed());
        match outcome {
            Ok(()) => {
                self.written += rows;
                Ok(())
            },
            Err(message) => Err(self.closed(message)),
        }
    }

    fn closed(&self, message: String) -> Closed {
        Closed { rows: self.written, message }
    }
}
