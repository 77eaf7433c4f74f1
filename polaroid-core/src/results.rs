//! A handle's result as a stream of batches, whatever the door renders them
//! as (Arrow IPC for gRPC and Flight, JSON or CSV for HTTP).
//!
//! A materialized frame is sliced; a plan runs on the streaming engine and
//! each batch is rendered as it is produced, so a result far larger than
//! memory streams through a bounded window. [`spawn_result`] runs this on
//! the blocking pool and hands messages to the async side over a channel.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use polaroid_handles::{Entry, HandleId, Payload};
use polars::prelude::*;
use tokio::sync::mpsc;

use crate::collect::stoppable;
use crate::error::{panic_message, CoreError};
use crate::slots::{CancelToken, Slot};

/// Messages a result stream may run ahead of a slow client: bounded, so a
/// result far larger than memory streams through a small window.
const STREAM_WINDOW: usize = 4;

/// How much of a handle's result to send: rows `offset..offset + limit`;
/// a negative offset counts from the end.
#[derive(Clone, Copy, Debug, Default)]
pub struct Window {
    pub offset: i64,
    pub limit: Option<IdxSize>,
}

/// How one door renders a result: messages before the first batch, for
/// each batch, and after the last.
pub trait ResultSink: Send + 'static {
    type Message: Send + 'static;

    /// Messages that open the stream (a schema, a JSON prologue).
    fn head(&mut self) -> Vec<Self::Message>;

    /// Render `df`, handing each message to `send`. Returns false as soon
    /// as `send` does: the receiver went away.
    fn batch(&mut self, df: &DataFrame, send: &mut dyn FnMut(Self::Message) -> bool) -> Result<bool, CoreError>;

    /// Messages that close a complete result (an end marker, a row count).
    fn tail(&mut self) -> Vec<Self::Message>;
}

/// Run `entry` through `sink`, handing each message to `send`. Returns false
/// when `send` reported that the receiver went away (the query is stopped).
pub fn stream_result<S: ResultSink>(
    entry: &Entry,
    window: Window,
    sink: S,
    send: impl FnMut(S::Message) -> bool + Send + 'static,
    cancel: &CancelToken,
) -> Result<bool, CoreError> {
    let state = Arc::new(Mutex::new((sink, send)));
    {
        let mut guard = lock(&*state);
        let (sink, send) = &mut *guard;
        if !sink.head().into_iter().all(|m| send(m)) {
            return Ok(false);
        }
    }
    let open = match entry.payload() {
        Payload::Frame(df) => {
            let height = df.height() as i64;
            // A negative offset counts from the end, as polars' slice does.
            let start = if window.offset < 0 { (height + window.offset).max(0) } else { window.offset.min(height) };
            let len = window.limit.map_or(height - start, |l| (l as i64).min(height - start));
            let mut guard = lock(&*state);
            let (sink, send) = &mut *guard;
            sink.batch(&df.slice(start, len as usize), send)?
        },
        Payload::Plan(lf) => {
            let open = Arc::new(AtomicBool::new(true));
            let (still_open, in_callback) = (open.clone(), state.clone());
            let callback = PlanCallback::new(move |df: DataFrame| {
                let mut guard = lock(&*in_callback);
                let (sink, send) = &mut *guard;
                let alive = sink.batch(&df, send).map_err(|e| polars_err!(ComputeError: "{e}"))?;
                still_open.store(alive, Ordering::Relaxed);
                // `true` stops the query: the client went away.
                Ok(!alive)
            });
            let mut lf = lf.clone();
            if window.offset != 0 || window.limit.is_some() {
                lf = lf.slice(window.offset, window.limit.unwrap_or(IdxSize::MAX));
            }
            let lf = crate::read_back::nearest_rows(lf);
            let ran = stoppable(cancel, || Ok(lf.sink_batches(callback, true, None)?.collect_with_engine(Engine::Streaming)?));
            match ran {
                Err(CoreError::Cancelled(_)) => false,
                other => other.map(|_| open.load(Ordering::Relaxed))?,
            }
        },
    };
    if !open {
        return Ok(false);
    }
    let mut guard = lock(&*state);
    let (sink, send) = &mut *guard;
    Ok(sink.tail().into_iter().all(|m| send(m)))
}

/// Stream `entry`'s result from the blocking pool through `sink`. A
/// receiver that goes away stops the query; an error or a panic ends the
/// stream with that error. `slot` is held until the work has stopped, and
/// `guard` (a counter of running streams) as long as it runs. Past
/// `deadline` the query stops and the stream ends with DEADLINE_EXCEEDED.
pub(crate) fn spawn_result<S: ResultSink, G: Send + 'static>(
    id: HandleId,
    entry: Arc<Entry>,
    window: Window,
    sink: S,
    slot: Slot,
    guard: G,
    deadline: Option<Instant>,
) -> mpsc::Receiver<Result<S::Message, CoreError>> {
    let (tx, rx) = mpsc::channel(STREAM_WINDOW);
    tokio::task::spawn_blocking(move || {
        let (_guard, _slot) = (guard, slot);
        let run = || {
            let batch_tx = tx.clone();
            let send = move |m| batch_tx.blocking_send(Ok(m)).is_ok();
            // The client is gone when the stream's receiver is dropped.
            let gone = CancelToken::when({
                let tx = tx.clone();
                move || tx.is_closed() || deadline.is_some_and(|d| Instant::now() >= d)
            });
            stream_result(&entry, window, sink, send, &gone)
        };
        let error = match std::panic::catch_unwind(AssertUnwindSafe(run)) {
            Ok(Ok(true)) => None,
            Ok(Ok(false)) if deadline.is_some_and(|d| Instant::now() >= d) => {
                Some(CoreError::DeadlineExceeded("timeout, query aborted: it ran past its statement timeout".into()))
            },
            Ok(Ok(false)) => {
                tracing::debug!(handle = %id, "result stream stopped: the client went away");
                None
            },
            Ok(Err(e)) => Some(e),
            Err(panic) => Some(CoreError::Internal(format!("polars panicked: {}", panic_message(&*panic)))),
        };
        if let Some(error) = error {
            let _ = tx.blocking_send(Err(error));
        }
    });
    rx
}

/// A poisoned lock still holds a usable sink: its last batch failed, and
/// that error has already been reported.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
