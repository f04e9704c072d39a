//! Tuple space search over the subtables of one in_port.
//!
//! Readers see a ranked list of subtables through an [`ArcSwap`]. The list
//! has spare capacity: adding a subtable (the common change, one per new
//! mask) fills the next free slot and then publishes the longer length, so
//! it costs O(1) instead of copying the list (which, with hundreds of masks,
//! was hundreds of reference-count updates per install). Removing or
//! re-ranking subtables publishes a new list; a reader still walking the old
//! one keeps its subtables alive until it drops its guard.

use super::subtable::Subtable;
use crate::FlowId;
use abi::FlowKey;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Slots of a list when a port gets its first subtable (doubled when full).
const INITIAL_SLOTS: usize = 16;

/// A ranked subtable list: `slots[..len]` are set, later slots are free for
/// appends by the (single) writer.
pub(crate) struct SubtableList {
    slots: Box<[OnceLock<Arc<Subtable>>]>,
    len: AtomicUsize,
}

impl SubtableList {
    fn with_slots(items: Vec<Arc<Subtable>>, slots: usize) -> Self {
        let n = items.len();
        let mut v: Vec<OnceLock<Arc<Subtable>>> = items.into_iter().map(OnceLock::from).collect();
        v.resize_with(slots.max(n), OnceLock::new);
        Self {
            slots: v.into_boxed_slice(),
            len: AtomicUsize::new(n),
        }
    }

    /// The published subtables, in rank order.
    #[inline]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Subtable>> {
        // Acquire pairs with the writer's release store of `len`: every slot
        // below it is set.
        let n = self.len.load(Ordering::Acquire);
        self.slots[..n].iter().filter_map(|s| s.get())
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }
}

pub(crate) struct Classifier {
    subtables: ArcSwap<SubtableList>,
}

impl Classifier {
    pub(crate) fn new() -> Self {
        Self {
            subtables: ArcSwap::from_pointee(SubtableList::with_slots(Vec::new(), INITIAL_SLOTS)),
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

    /// The current subtable list (readers and writer).
    pub(crate) fn subtables(&self) -> Arc<SubtableList> {
        self.subtables.load_full()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.subtables.load().len() == 0
    }

    /// Writer: appends a subtable (last in rank until the next ranking, as
    /// in OVS: a new mask has no hits yet).
    pub(crate) fn push(&self, st: Arc<Subtable>) {
        let cur = self.subtables.load();
        let n = cur.len();
        if let Some(slot) = cur.slots.get(n) {
            if slot.set(st.clone()).is_ok() {
                cur.len.store(n + 1, Ordering::Release);
                return;
            }
        }
        // Full (or, never expected, a slot already taken): a list twice as
        // large, so appends stay O(1) amortized.
        let mut v: Vec<Arc<Subtable>> = cur.iter().cloned().collect();
        v.push(st);
        let slots = (2 * v.len()).max(INITIAL_SLOTS);
        self.subtables
            .store(Arc::new(SubtableList::with_slots(v, slots)));
    }

    /// Writer: removes the subtable (by identity).
    pub(crate) fn remove(&self, st: &Arc<Subtable>) {
        let cur = self.subtables.load_full();
        let v: Vec<Arc<Subtable>> = cur
            .iter()
            .filter(|s| !Arc::ptr_eq(s, st))
            .cloned()
            .collect();
        let slots = cur.slots.len();
        self.subtables
            .store(Arc::new(SubtableList::with_slots(v, slots)));
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
            let slots = cur.slots.len();
            self.subtables
                .store(Arc::new(SubtableList::with_slots(order, slots)));
        }
    }
}
