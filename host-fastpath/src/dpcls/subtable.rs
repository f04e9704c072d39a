//! A subtable: every megaflow with one mask, in one cuckoo map keyed by the
//! masked key.

use super::cmap::{Cmap, CmapError};
use super::Padded;
use crate::FlowId;
use abi::{hash_masked, FlowKey};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One mask and its megaflows.
pub(crate) struct Subtable {
    pub(crate) mask: FlowKey,
    map: Cmap,
    /// Hits since the last ranking (the ranking key, reset by ranking). On
    /// its own cache line: every reader thread adds to it once per burst,
    /// and it must not invalidate the line holding the mask and map that
    /// every probe reads.
    recent_hits: Padded<AtomicU64>,
    /// Hits of the finished ranking intervals (so the hot path adds to one
    /// counter only).
    ranked_hits: AtomicU64,
}

impl Subtable {
    pub(crate) fn new(mask: FlowKey) -> Self {
        Self {
            mask,
            map: Cmap::new(),
            recent_hits: Padded(AtomicU64::new(0)),
            ranked_hits: AtomicU64::new(0),
        }
    }

    /// Hits since the subtable was created.
    pub(crate) fn total_hits(&self) -> u64 {
        self.ranked_hits.load(Relaxed) + self.recent_hits.0.load(Relaxed)
    }

    /// Ends a ranking interval: returns its hits and starts a new one.
    pub(crate) fn take_recent_hits(&self) -> u64 {
        let r = self.recent_hits.0.swap(0, Relaxed);
        self.ranked_hits.fetch_add(r, Relaxed);
        r
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Inserts `masked` (already masked) unless present; returns the
    /// existing flow if present.
    pub(crate) fn insert(
        &self,
        masked: &FlowKey,
        flow: FlowId,
    ) -> Result<Option<FlowId>, CmapError> {
        self.map
            .insert_unique(hash_masked(masked, &self.mask), masked, flow)
    }

    pub(crate) fn remove(&self, masked: &FlowKey) -> Option<FlowId> {
        self.map.remove(hash_masked(masked, &self.mask), masked)
    }

    pub(crate) fn for_each(&self, f: impl FnMut(&FlowKey, FlowId)) {
        self.map.for_each(f)
    }

    /// Looks up `keys[i] & mask` for every bit `i` of `map`; fills `out[i]`
    /// of the found ones and returns their bitmap. Counts the hits.
    #[inline]
    pub(crate) fn lookup_batch(
        &self,
        keys: &[FlowKey],
        map: u32,
        out: &mut [Option<FlowId>],
    ) -> u32 {
        // The map hashes each key's masked words itself, fetching its
        // bucket as soon as the hash is known.
        let found = self.map.get_batch_hashing(keys, &self.mask, map, out);
        if found != 0 {
            // One relaxed add per subtable and burst, not per packet.
            let hits = found.count_ones() as u64;
            self.recent_hits.0.fetch_add(hits, Relaxed);
        }
        found
    }
}
