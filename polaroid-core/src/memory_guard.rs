//! Queries stop while the server's memory is over its limit.
//!
//! polars does not account for what a query allocates: a plan that builds a
//! cross product can take all of the machine's memory, and then the kernel
//! kills the server with every handle in it. Once [`watch`] has started, a
//! sampler reads the process's resident size every 20 ms; when it is over
//! the limit and still growing, every query running under
//! [`crate::collect::stoppable`] (the streaming engine's tasks check at each
//! poll) stops with RESOURCE_EXHAUSTED, and the server stays up. Resident
//! size is the process's, so this is process-wide: one sampler.
//!
//! "Still growing": the allocator keeps pages a stopped query freed (idle
//! threads do not hand them back at once), so after a stop the resident
//! size can stay over the limit with nothing running. Only growth past the
//! lowest size seen since the last stop, by [`GROWTH`], stops queries again;
//! queries that reuse the kept pages run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::CoreError;

/// Growth over the lowest resident size since the last stop that stops queries again.
const GROWTH: u64 = 64 << 20;

/// How many times running queries were told to stop (over the limit, and growing).
static TRIPS: AtomicU64 = AtomicU64::new(0);
static LIMIT: OnceLock<u64> = OnceLock::new();

/// Start sampling against `limit` bytes of resident memory. Once per
/// process; later calls keep the first limit and return false.
pub fn watch(limit: u64) -> bool {
    if LIMIT.set(limit).is_err() {
        return false;
    }
    let sampler = move || {
        let mut floor = 0; // the lowest resident size since the last stop
        loop {
            if let Some(rss) = resident_bytes() {
                floor = floor.min(rss);
                if rss > limit && rss > floor + GROWTH {
                    TRIPS.fetch_add(1, Ordering::Relaxed);
                    floor = rss;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    std::thread::Builder::new().name("polaroid-memory".into()).spawn(sampler).is_ok()
}

/// A mark to pass to [`tripped_since`] later.
pub(crate) fn mark() -> u64 {
    TRIPS.load(Ordering::Relaxed)
}

/// Whether a sample has found the memory over the limit since `mark`.
pub(crate) fn tripped_since(mark: u64) -> bool {
    TRIPS.load(Ordering::Relaxed) != mark
}

pub(crate) fn over_limit() -> CoreError {
    CoreError::ResourceExhausted(format!(
        "the server's memory passed its query limit of {} bytes while this query ran, so it was stopped; \
         narrow it (filter or aggregate before a join; a join without keys makes every pair of rows)",
        LIMIT.get().copied().unwrap_or_default()
    ))
}

/// The process's resident set size (VmRSS of /proc/self/status).
pub fn resident_bytes() -> Option<u64> {
    proc_kib("/proc/self/status", "VmRSS:")
}

/// The machine's memory (MemTotal of /proc/meminfo).
pub fn total_memory() -> Option<u64> {
    proc_kib("/proc/meminfo", "MemTotal:")
}

/// A `key  N kB` line of a /proc file, in bytes.
fn proc_kib(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
