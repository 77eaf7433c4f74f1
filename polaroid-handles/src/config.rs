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
    /// Upper bound, in bytes, on the estimated size of the materialized
    /// frames one namespace holds (all of them, with a single namespace).
    /// When an insert goes over it, that namespace's least recently used
    /// handles are evicted; a single frame larger than the budget is
    /// refused. With several namespaces, set `namespace_budget` to bound
    /// their total. Default: 4 GiB.
    pub memory_budget: u64,
    /// Each namespace's share of the budget: the frames one namespace holds
    /// stay under it, and an insert over it evicts that namespace's own
    /// least recently used handles, never another's. `None` gives every
    /// namespace the whole `memory_budget` (right for a single tenant). A
    /// server with N tokens sets `memory_budget / N`, so the tenants
    /// together stay within the budget. Default: none.
    pub namespace_budget: Option<u64>,
    /// How many recently gone handle ids are remembered, so a lookup can say
    /// whether the handle expired, was evicted or was dropped. Default: 10 000.
    pub gone_memory: usize,
}

impl HandleConfig {
    /// The budget of one namespace.
    pub fn namespace_budget(&self) -> u64 {
        self.namespace_budget.map_or(self.memory_budget, |b| b.min(self.memory_budget))
    }
}

impl Default for HandleConfig {
    fn default() -> Self {
        Self {
            idle_ttl: Duration::from_secs(30 * 60),
            max_lifetime: None,
            memory_budget: 4 << 30,
            namespace_budget: None,
            gone_memory: 10_000,
        }
    }
}
