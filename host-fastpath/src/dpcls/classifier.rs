//! Tuple space search over the subtables of one in_port.
//!
//! Readers see an immutable, ranked vector of subtables through an
//! [`ArcSwap`]; the writer (serialized by [`super::Dpcls`]) publishes a new
//! vector to add, remove or re-rank subtables, and a reader still walking the
//! old vector keeps its subtables alive until it drops its guard.

use super::subtable::Subtable;
use crate::FlowId;
use abi::FlowKey;
use arc_swap::ArcSwap;
use std::sync::Arc;

pub(crate) struct Classifier {
    subtables: ArcSwap<Vec<Arc<Subtable>>>,
}

impl Classifier {
    pub(crate) fn new() -> Self {
        Self {
            subtables: ArcSwap::from_pointee(Vec::new()),
        }
    }

    /// Looks up every key of `map` (keys of this classifier's in_port) and
    /// returns the bitmap of found keys. Subtables are visited in rank order
    /// and the search stops once every key is found: megaflows never overlap,
    /// so the first match is the only one. `pos_sum` accumulates, per hit,
    /// the 1-based position of the subtable that matched (OVS's "subtable
    /// lookups per megaflow hit" numerator).
    #[inline]
    pub(crate) fn lookup_batch(
        &self,
        keys: &[FlowKey],
        map: u32,
        out: &mut [Option<FlowId>],
        pos_sum: &mut u64,
    ) -> u32 {
        let list = self.subtables.load();
        let mut remaining = map;
        for (pos, st) in list.iter().enumerate() {
            let found = st.lookup_batch(keys, remaining, out);
            *pos_sum += (pos as u64 + 1) * found.count_ones() as u64;
            remaining &= !found;
            if remaining == 0 {
                break;
            }
        }
        map & !remaining
    }

    /// The current subtable vector (readers and writer).
    pub(crate) fn subtables(&self) -> Arc<Vec<Arc<Subtable>>> {
        self.subtables.load_full()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.subtables.load().is_empty()
    }

    /// Writer: the subtable of `mask`.
    pub(crate) fn find(&self, mask: &FlowKey) -> Option<Arc<Subtable>> {
        self.subtables
            .load()
            .iter()
            .find(|st| st.mask == *mask)
            .cloned()
    }

    /// Writer: appends a subtable (last in rank until the next ranking, as
    /// in OVS: a new mask has no hits yet).
    pub(crate) fn push(&self, st: Arc<Subtable>) {
        let mut v = Vec::clone(&self.subtables.load());
        v.push(st);
        self.subtables.store(Arc::new(v));
    }

    /// Writer: removes the subtable (by identity).
    pub(crate) fn remove(&self, st: &Arc<Subtable>) {
        let mut v = Vec::clone(&self.subtables.load());
        v.retain(|s| !Arc::ptr_eq(s, st));
        self.subtables.store(Arc::new(v));
    }

    /// Writer: re-sorts subtables by hits in the interval since the last
    /// ranking (most first; stable, so ties keep their order) and starts a
    /// new interval.
    pub(crate) fn rank(&self) {
        let cur = self.subtables.load_full();
        let mut v: Vec<(u64, Arc<Subtable>)> = cur
            .iter()
            .map(|st| (st.take_recent_hits(), st.clone()))
            .collect();
        v.sort_by_key(|(hits, _)| std::cmp::Reverse(*hits));
        let order: Vec<Arc<Subtable>> = v.into_iter().map(|(_, st)| st).collect();
        let unchanged = order.iter().zip(cur.iter()).all(|(a, b)| Arc::ptr_eq(a, b));
        if !unchanged {
            self.subtables.store(Arc::new(order));
        }
    }
}
