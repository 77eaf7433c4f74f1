//! Which handle pays for each materialized frame.
//!
//! Handles share frames: a plan built on an uploaded frame scans the very
//! same `Arc<DataFrame>`. Each frame's bytes are charged to exactly one live
//! handle that keeps it alive, so N handles over one frame weigh one frame.
//! When that handle goes (dropped, expired, evicted) while others still
//! hold the frame, the charge moves to one of them: the bytes stay counted
//! for as long as they stay in memory, and evicting handles frees what the
//! budget says it frees.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::entry::{FrameRef, Namespace};
use crate::id::HandleId;

struct FrameUse {
    bytes: u64,
    /// Live handles that keep the frame alive, the charged one among them.
    holders: Vec<HandleId>,
    charged_to: HandleId,
}

#[derive(Default)]
pub(crate) struct FrameLedger {
    frames: Mutex<HashMap<(Namespace, usize), FrameUse>>,
    /// Charges moved by removals, to be applied to their new holders.
    moved: Mutex<Vec<(Namespace, HandleId, u64)>>,
}

impl FrameLedger {
    /// The bytes a new handle holding `frames` would be charged: those of
    /// the frames no live handle holds yet.
    pub(crate) fn charge_for(&self, ns: &Namespace, frames: &[FrameRef]) -> u64 {
        let known = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        frames.iter().filter(|f| !known.contains_key(&(ns.clone(), f.ptr))).map(|f| f.bytes).sum()
    }

    /// Record that `id` holds `frames`; it is charged for the new ones.
    pub(crate) fn claim(&self, ns: &Namespace, id: HandleId, frames: &[FrameRef]) -> u64 {
        let mut known = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        let mut charge = 0;
        for f in frames {
            known
                .entry((ns.clone(), f.ptr))
                .and_modify(|u| u.holders.push(id))
                .or_insert_with(|| {
                    charge += f.bytes;
                    FrameUse { bytes: f.bytes, holders: vec![id], charged_to: id }
                });
        }
        charge
    }

    /// `id` is gone: it no longer holds its frames. A frame it was charged
    /// for that others still hold moves to one of them.
    pub(crate) fn release(&self, ns: &Namespace, id: HandleId, frames: &[FrameRef]) {
        let mut known = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        let mut moved = Vec::new();
        for f in frames {
            let key = (ns.clone(), f.ptr);
            let Some(u) = known.get_mut(&key) else { continue };
            u.holders.retain(|h| *h != id);
            match u.holders.first() {
                None => {
                    known.remove(&key);
                },
                Some(next) if u.charged_to == id => {
                    u.charged_to = *next;
                    moved.push((ns.clone(), *next, u.bytes));
                },
                Some(_) => {},
            }
        }
        drop(known);
        self.moved.lock().unwrap_or_else(|p| p.into_inner()).extend(moved);
    }

    /// The charges moved since the last call.
    pub(crate) fn take_moved(&self) -> Vec<(Namespace, HandleId, u64)> {
        std::mem::take(&mut *self.moved.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
