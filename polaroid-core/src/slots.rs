//! Query slots: at most N requests do query work at once; the rest wait in
//! a bounded queue for a bounded time. And the cancel token that tells
//! running work its client has gone.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::CoreError;

/// How many queries run and wait, and for how long one may wait.
#[derive(Debug, Clone, Copy)]
pub struct SlotConfig {
    /// Queries (Collect, Ohlcv, Fetch/DoGet streams, uploads, plan building)
    /// that run at once. Default: twice the cores, at least 4.
    pub max_running: usize,
    /// Requests that may wait for a slot; one more is refused at once with
    /// RESOURCE_EXHAUSTED. Default: 256.
    pub max_waiting: usize,
    /// How long a request waits for a slot before RESOURCE_EXHAUSTED.
    /// Default: 30 s.
    pub max_wait: Duration,
}

impl Default for SlotConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self { max_running: (2 * cores).max(4), max_waiting: 256, max_wait: Duration::from_secs(30) }
    }
}

pub(crate) struct QuerySlots {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    config: SlotConfig,
}

/// A running query's slot; the slot frees when it is dropped.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl QuerySlots {
    pub fn new(config: SlotConfig) -> Self {
        Self { permits: Arc::new(Semaphore::new(config.max_running.max(1))), waiting: AtomicUsize::new(0), config }
    }

    /// Queries running now.
    pub fn running(&self) -> usize {
        self.config.max_running.max(1) - self.permits.available_permits()
    }

    /// Requests waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// A slot, at once if one is free, else after waiting in the queue.
    pub(crate) async fn acquire(&self) -> Result<Slot, CoreError> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(Slot { _permit: permit });
        }
        let queued = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = LeaveQueue(&self.waiting);
        if queued >= self.config.max_waiting {
            return Err(CoreError::ResourceExhausted(format!(
                "the server is busy: {} queries running and {queued} waiting (the queue holds {}); retry later",
                self.running(),
                self.config.max_waiting
            )));
        }
        match tokio::time::timeout(self.config.max_wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Slot { _permit: permit }),
            Ok(Err(_closed)) => Err(CoreError::Internal("the query slots were closed".into())),
            Err(_elapsed) => Err(CoreError::ResourceExhausted(format!(
                "the server is busy: no query slot came free within {:?}; retry later",
                self.config.max_wait
            ))),
        }
    }
}

struct LeaveQueue<'a>(&'a AtomicUsize);

impl Drop for LeaveQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Set when the request that started some work is gone (its client
/// disconnected or its deadline passed, so tonic dropped the handler).
/// Long work checks it between batches and stops.
#[derive(Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    /// Another sign the work is unwanted (a result stream whose receiver is gone).
    gone: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl CancelToken {
    /// A token that fires when `gone` says so.
    pub fn when(gone: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        Self { flag: Arc::default(), gone: Some(Arc::new(gone)) }
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed) || self.gone.as_ref().is_some_and(|gone| gone())
    }

    pub fn check(&self) -> Result<(), CoreError> {
        if self.is_cancelled() {
            Err(CoreError::Cancelled("the client went away; the query was stopped".into()))
        } else {
            Ok(())
        }
    }
}

/// Cancels its token when dropped: held by the request's future, so the
/// token fires when tonic drops that future.
pub struct CancelOnDrop(CancelToken);

impl CancelOnDrop {
    pub fn new() -> Self {
        Self(CancelToken::default())
    }

    pub fn token(&self) -> CancelToken {
        self.0.clone()
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.flag.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_is_refused_and_a_long_wait_times_out() {
        let slots = Arc::new(QuerySlots::new(SlotConfig {
            max_running: 1,
            max_waiting: 1,
            max_wait: Duration::from_millis(200),
        }));
        let held = slots.acquire().await.unwrap();
        assert_eq!(slots.running(), 1);
        // One waits; the next finds the queue full at once.
        let waiter = tokio::spawn({
            let slots = slots.clone();
            async move { slots.acquire().await.map(|_| ()) }
        });
        while slots.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        match slots.acquire().await {
            Err(CoreError::ResourceExhausted(m)) => assert!(m.contains("1 waiting"), "{m}"),
            other => panic!("expected a full queue, got {:?}", other.map(|_| ())),
        }
        // The waiter gives up after max_wait.
        match waiter.await.unwrap() {
            Err(CoreError::ResourceExhausted(m)) => assert!(m.contains("200ms"), "{m}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert_eq!(slots.waiting(), 0);
        // Freed, the slot is taken at once.
        drop(held);
        let _again = slots.acquire().await.unwrap();
    }

    #[test]
    fn dropping_the_guard_cancels_the_token() {
        let guard = CancelOnDrop::new();
        let token = guard.token();
        assert!(token.check().is_ok());
        drop(guard);
        assert!(token.is_cancelled());
    }
}
