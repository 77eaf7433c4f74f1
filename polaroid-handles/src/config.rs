use std::time::Duration;

/// How a [`HandleStore`](crate::HandleStore) keeps handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandleConfig {
    /// A handle not used for this long expires. Every successful `get` or
    /// `touch` restarts the clock. Default: 30 minutes.
    pub idle_ttl: Duration,
    /// If set, a handle expires this long after it was created, however
    /// often it is used. Default: none.
    pub max_lifetime: Option<Duration>,
    /// Upper bound, in bytes, on the estimated size of all materialized
    /// frames held. When an insert goes over it, the least recently used
    /// handles are evicted; a single frame larger than the whole budget is
    /// refused. Default: 4 GiB.
    pub memory_budget: u64,
    /// How many recently gone handle ids are remembered, so a lookup can say
    /// whether the handle expired, was evicted or was dropped. Default: 10 000.
    pub gone_memory: usize,
}

impl Default for HandleConfig {
    fn default() -> Self {
        Self {
            idle_ttl: Duration::from_secs(30 * 60),
            max_lifetime: None,
            memory_budget: 4 << 30,
            gone_memory: 10_000,
        }
    }
}
