use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;

use crate::config::HandleConfig;
use crate::entry::{Entry, HandleInfo, Namespace};
use crate::frames::FrameLedger;
use crate::error::{GoneReason, HandleError, Result};
use crate::gone::GoneMemory;
use crate::id::HandleId;

/// moka weighs entries in `u32`; weighing in KiB lets one frame reach 4 TiB.
const WEIGHT_UNIT: u64 = 1024;
/// What a lazy plan (or a tiny frame) weighs: one unit.
const MIN_WEIGHT: u32 = 1;

#[derive(Default)]
struct Counters {
    inserted: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    expired: AtomicU64,
    evicted: AtomicU64,
    dropped: AtomicU64,
    /// Estimated bytes of the materialized frames currently held.
    bytes: AtomicU64,
}

/// A snapshot of the store's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Handles currently held.
    pub count: u64,
    /// Estimated bytes of the materialized frames held.
    pub bytes: u64,
    pub inserted: u64,
    /// Successful lookups (`get`, `touch`).
    pub hits: u64,
    /// Lookups of a handle that was not there.
    pub misses: u64,
    /// Handles that expired (idle TTL or hard lifetime).
    pub expired: u64,
    /// Handles evicted to stay within the memory budget.
    pub evicted: u64,
    /// Handles dropped by their client.
    pub dropped: u64,
}

/// A stored handle and the frame bytes it is charged for (see
/// [`FrameLedger`]); its weight in the cache is its charge.
#[derive(Clone)]
struct Held {
    entry: Arc<Entry>,
    charge: u64,
}

type NamespaceCache = Cache<HandleId, Held>;

/// The handle store: moka caches of [`Entry`] values keyed by handle id, one
/// per namespace. Each namespace has its own memory budget
/// ([`HandleConfig::namespace_budget`]), so one tenant's inserts evict only
/// that tenant's handles; a handle of another namespace is simply not in the
/// caller's cache, so a lookup misses exactly like an unknown id. Cloning
/// the store is cheap and every clone shares the same caches; all methods
/// are safe to call from many threads.
#[derive(Clone)]
pub struct HandleStore {
    caches: Arc<RwLock<HashMap<Namespace, NamespaceCache>>>,
    ledger: Arc<FrameLedger>,
    gone: Arc<GoneMemory>,
    counters: Arc<Counters>,
    config: Arc<HandleConfig>,
}

impl HandleStore {
    pub fn new(config: HandleConfig) -> Self {
        Self {
            caches: Arc::default(),
            ledger: Arc::default(),
            gone: Arc::new(GoneMemory::new(config.gone_memory)),
            counters: Arc::new(Counters::default()),
            config: Arc::new(config),
        }
    }

    /// The cache of `ns`, made on first use.
    fn cache(&self, ns: &Namespace) -> NamespaceCache {
        if let Some(cache) = self.caches.read().unwrap_or_else(|p| p.into_inner()).get(ns) {
            return cache.clone();
        }
        let mut caches = self.caches.write().unwrap_or_else(|p| p.into_inner());
        caches.entry(ns.clone()).or_insert_with(|| self.build_cache(ns)).clone()
    }

    /// The cache of `ns` if it exists; lookups never create one.
    fn existing(&self, ns: &Namespace) -> Option<NamespaceCache> {
        self.caches.read().unwrap_or_else(|p| p.into_inner()).get(ns).cloned()
    }

    fn all_caches(&self) -> Vec<NamespaceCache> {
        self.caches.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    fn build_cache(&self, ns: &Namespace) -> NamespaceCache {
        let config = &self.config;
        let budget = config.namespace_budget();
        let capacity_units = (budget / WEIGHT_UNIT).max(1);
        let listener = {
            let (gone, counters, ns) = (self.gone.clone(), self.counters.clone(), ns.clone());
            let ledger = self.ledger.clone();
            let (idle_ttl, max_lifetime) = (config.idle_ttl, config.max_lifetime);
            move |id: Arc<HandleId>, held: Held, cause: RemovalCause| {
                // A charge moving to this handle replaces its value; it is
                // still here.
                if cause == RemovalCause::Replaced {
                    return;
                }
                let entry = held.entry;
                counters.bytes.fetch_sub(held.charge, Ordering::Relaxed);
                ledger.release(&ns, *id, entry.frames());
                let reason = match cause {
                    RemovalCause::Expired => {
                        counters.expired.fetch_add(1, Ordering::Relaxed);
                        match max_lifetime {
                            Some(max_lifetime) if entry.age() >= max_lifetime => {
                                GoneReason::LifetimeEnded { max_lifetime }
                            },
                            _ => GoneReason::Expired { idle_ttl },
                        }
                    },
                    RemovalCause::Size => {
                        counters.evicted.fetch_add(1, Ordering::Relaxed);
                        GoneReason::Evicted { budget }
                    },
                    RemovalCause::Explicit => {
                        counters.dropped.fetch_add(1, Ordering::Relaxed);
                        GoneReason::Dropped
                    },
                    RemovalCause::Replaced => return,
                };
                tracing::debug!(
                    handle = %id,
                    bytes = entry.estimated_bytes().unwrap_or(0),
                    lineage = entry.lineage(),
                    "handle removed: {reason}"
                );
                gone.remember(*id, ns.clone(), reason);
            }
        };

        let mut builder = Cache::builder()
            // LRU never refuses a fresh insert; the default TinyLFU admission
            // could, and a client must be able to use the id it was just given.
            .eviction_policy(EvictionPolicy::lru())
            .max_capacity(capacity_units)
            .weigher(|_id: &HandleId, held: &Held| weight(held.charge))
            .time_to_idle(config.idle_ttl)
            .eviction_listener(listener);
        if let Some(lifetime) = config.max_lifetime {
            builder = builder.time_to_live(lifetime);
        }
        builder.build()
    }

    pub fn config(&self) -> &HandleConfig {
        &self.config
    }

    /// Keep `entry` under a new id in namespace `ns`.
    ///
    /// Refuses a single frame larger than the whole memory budget. Otherwise
    /// the least recently used handles make room, and the new handle is
    /// retrievable at once.
    pub fn insert(&self, ns: &Namespace, entry: Entry) -> Result<HandleId> {
        // Frames another live handle holds are paid for already.
        let bytes = self.ledger.charge_for(ns, entry.frames());
        let budget = self.config.namespace_budget();
        if bytes > budget {
            return Err(HandleError::TooLarge { bytes, budget });
        }
        let entry = Arc::new(entry.with_namespace(ns));
        let cache = self.cache(ns);
        let id = self.fresh_id(&cache);
        let charge = self.ledger.claim(ns, id, entry.frames());
        self.counters.inserted.fetch_add(1, Ordering::Relaxed);
        self.counters.bytes.fetch_add(charge, Ordering::Relaxed);
        cache.insert(id, Held { entry, charge });
        // Apply the write now. moka replays buffered reads before buffered
        // writes, so a read of a not-yet-applied entry would be lost and LRU
        // order would be wrong; and eviction happens here, so the budget
        // holds when insert returns rather than some writes later.
        cache.run_pending_tasks();
        self.settle();
        Ok(id)
    }

    /// Apply the charges that removals moved to other holders: each such
    /// handle is stored again with its larger weight, which may evict more.
    fn settle(&self) {
        // Each round applies the moves of the previous one; a move only
        // happens when a handle goes, so this ends.
        for _ in 0..64 {
            let moved = self.ledger.take_moved();
            if moved.is_empty() {
                return;
            }
            for (ns, id, bytes) in moved {
                let Some(cache) = self.existing(&ns) else { continue };
                // Gone meanwhile: its own removal moved the charge on again.
                let Some(held) = cache.get(&id) else { continue };
                self.counters.bytes.fetch_add(bytes, Ordering::Relaxed);
                cache.insert(id, Held { entry: held.entry, charge: held.charge + bytes });
                cache.run_pending_tasks();
            }
        }
    }

    /// The entry for `id`, extending its idle TTL.
    pub fn get(&self, ns: &Namespace, id: HandleId) -> Result<Arc<Entry>> {
        match self.existing(ns).and_then(|cache| cache.get(&id)) {
            Some(Held { entry, .. }) => {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                entry.mark_accessed();
                Ok(entry)
            },
            None => {
                self.counters.misses.fetch_add(1, Ordering::Relaxed);
                Err(HandleError::NotFound { id, reason: self.why_gone(ns, id) })
            },
        }
    }

    /// Extend the idle TTL of `id` without reading it.
    pub fn touch(&self, ns: &Namespace, id: HandleId) -> Result<()> {
        self.get(ns, id).map(|_| ())
    }

    /// Remove `id`. Its buffers are freed once no running query holds them.
    pub fn drop(&self, ns: &Namespace, id: HandleId) -> Result<()> {
        let cache = self.existing(ns);
        match cache.as_ref().and_then(|cache| cache.remove(&id)) {
            Some(held) => {
                drop(held);
                // moka keeps the removed value in its write log until its
                // next maintenance; run it now, so what the handle alone
                // kept alive (its frame, a result file) goes with it.
                if let Some(cache) = cache {
                    cache.run_pending_tasks();
                }
                self.settle();
                Ok(())
            },
            None => Err(HandleError::NotFound { id, reason: self.why_gone(ns, id) }),
        }
    }

    /// The handles of `ns`, oldest first.
    pub fn list(&self, ns: &Namespace) -> Vec<HandleInfo> {
        let Some(cache) = self.existing(ns) else { return Vec::new() };
        let mut out: Vec<HandleInfo> = cache.iter().map(|(id, held)| held.entry.info(*id)).collect();
        out.sort_by_key(|info| (info.created, info.id));
        out
    }

    /// Counters and current size. Runs pending maintenance first, so
    /// expired entries are counted as expired rather than as still held.
    pub fn stats(&self) -> StoreStats {
        let caches = self.all_caches();
        caches.iter().for_each(|cache| cache.run_pending_tasks());
        self.settle();
        let c = &self.counters;
        StoreStats {
            count: caches.iter().map(|cache| cache.entry_count()).sum(),
            bytes: c.bytes.load(Ordering::Relaxed),
            inserted: c.inserted.load(Ordering::Relaxed),
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            expired: c.expired.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }

    /// Idle TTL as configured.
    pub fn idle_ttl(&self) -> Duration {
        self.config.idle_ttl
    }

    fn why_gone(&self, ns: &Namespace, id: HandleId) -> GoneReason {
        // An entry past its TTL is invisible to `get` before maintenance has
        // removed it; run maintenance so the listener records why.
        if let Some(cache) = self.existing(ns) {
            cache.run_pending_tasks();
        }
        self.gone.reason(ns, id)
    }

    /// 128 random bits do not collide in practice; checking the live and the
    /// recently gone ids makes "never reused" hold for every id this store
    /// could still answer about.
    fn fresh_id(&self, cache: &NamespaceCache) -> HandleId {
        loop {
            let id = HandleId::generate();
            if !self.gone.contains(id) && !cache.contains_key(&id) {
                return id;
            }
        }
    }
}

fn weight(bytes: u64) -> u32 {
    let units = bytes.div_ceil(WEIGHT_UNIT).min(u64::from(u32::MAX)) as u32;
    units.max(MIN_WEIGHT)
}
