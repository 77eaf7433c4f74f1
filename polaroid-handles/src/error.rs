use std::fmt;
use std::time::Duration;

use polars::error::PolarsError;

use crate::id::HandleId;

pub type Result<T, E = HandleError> = std::result::Result<T, E>;

/// Everything the handle store can refuse. Each variant's doc says whose
/// fault it is, so a server can map it to the right status.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The client named a handle that is not (or no longer) in its namespace.
    #[error("handle {id} not found: {reason}")]
    NotFound { id: HandleId, reason: GoneReason },
    /// The client sent text that is not a handle id.
    #[error("malformed handle id {input:?}: {reason}")]
    MalformedId { input: String, reason: &'static str },
    /// The client asked to keep one frame larger than the whole memory budget.
    #[error(
        "a frame of {bytes} bytes is larger than the whole memory budget of {budget} bytes; \
         filter or aggregate it first, or raise the budget"
    )]
    TooLarge { bytes: u64, budget: u64 },
    /// Polars rejected the plan (for example while resolving its schema).
    #[error(transparent)]
    Polars(#[from] PolarsError),
}

/// Why a handle cannot be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoneReason {
    /// Unused for longer than the idle TTL.
    Expired { idle_ttl: Duration },
    /// Older than the store's hard maximum lifetime.
    LifetimeEnded { max_lifetime: Duration },
    /// Evicted, least recently used first, to stay within the memory budget.
    Evicted { budget: u64 },
    /// Dropped by the client.
    Dropped,
    /// Not known here: never created, created in another namespace, or gone
    /// so long ago it was forgotten.
    NeverExisted,
}

impl fmt::Display for GoneReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Expired { idle_ttl } => write!(f, "it expired after {} idle", human(*idle_ttl)),
            Self::LifetimeEnded { max_lifetime } => {
                write!(f, "it reached the maximum lifetime of {}", human(*max_lifetime))
            },
            Self::Evicted { budget } => {
                write!(f, "it was evicted to stay within the memory budget of {budget} bytes")
            },
            Self::Dropped => f.write_str("it was dropped by the client"),
            Self::NeverExisted => f.write_str("no such handle exists"),
        }
    }
}

/// `90s` -> `1m30s`, `1800s` -> `30m`, `250ms` -> `250ms`.
fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if s > 0 || out.is_empty() {
        out += &format!("{s}s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_polars_durations() {
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::from_secs(1800)), "30m");
        assert_eq!(human(Duration::from_secs(3600 + 5)), "1h5s");
    }
}
