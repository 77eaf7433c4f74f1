use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::entry::Namespace;
use crate::error::GoneReason;
use crate::id::HandleId;

/// A bounded memory of handles that left the store, and why. The oldest
/// record is forgotten first.
pub(crate) struct GoneMemory {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    reasons: HashMap<HandleId, (Namespace, GoneReason)>,
    order: VecDeque<HandleId>,
}

impl GoneMemory {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity, inner: Mutex::new(Inner::default()) }
    }

    pub(crate) fn remember(&self, id: HandleId, ns: Namespace, reason: GoneReason) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.reasons.insert(id, (ns, reason)).is_none() {
            inner.order.push_back(id);
        }
        while inner.order.len() > self.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.reasons.remove(&old);
            }
        }
    }

    /// Why `id` is gone, as seen from `ns`. Another namespace's handle is
    /// reported exactly like one that never existed.
    pub(crate) fn reason(&self, ns: &Namespace, id: HandleId) -> GoneReason {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match inner.reasons.get(&id) {
            Some((owner, reason)) if owner == ns => reason.clone(),
            _ => GoneReason::NeverExisted,
        }
    }

    pub(crate) fn contains(&self, id: HandleId) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.reasons.contains_key(&id)
    }
}
