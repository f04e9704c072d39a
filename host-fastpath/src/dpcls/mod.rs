//! Megaflow classifier (dpcls): tuple space search over cuckoo subtables.
//!
//! As in Open vSwitch's dpif-netdev: one classifier per
//! in_port (megaflows are always exact on in_port, so a burst's keys are
//! grouped by port — usually one group), each a list of subtables, one per
//! distinct mask, each a concurrent cuckoo map ([`cmap::Cmap`]) from masked
//! key to [`FlowId`]. A lookup visits subtables in rank order and stops once
//! every key of the burst is found: megaflows never overlap, so the first
//! match is the only one. Ranking re-sorts subtables by their hits in the
//! last interval (OVS: every second; [`Dpcls::maybe_rank`]), so the busiest
//! mask is searched first.
//!
//! Concurrency: any number of reader threads look up without locks while one
//! writer at a time (serialized by an internal mutex) inserts, removes and
//! re-ranks. Port and subtable lists are immutable vectors swapped with
//! [`arc_swap::ArcSwap`]; the maps use per-bucket sequence locks (see
//! [`cmap`]). Counters are accumulated per burst and added once per burst
//! with relaxed atomics.
//!
//! The identity of a megaflow is its mask plus its masked key: the same
//! masked key under two masks is two flows.

mod arena;
mod classifier;
pub mod cmap;
mod hugepage;
pub(crate) mod prefetch;
mod subtable;

pub use cmap::{Cmap, CmapError, CmapOccupancy, CmapWriterStats};

use crate::{FlowId, BURST};
use abi::{Field, FlowKey};
use arc_swap::ArcSwap;
use classifier::Classifier;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};
use subtable::Subtable;
use thiserror::Error;

/// Interval of [`Dpcls::maybe_rank`] (OVS's DPCLS_OPTIMIZATION_INTERVAL).
pub const RANK_INTERVAL: Duration = Duration::from_secs(1);

/// A value alone on its cache line (no false sharing with its neighbours).
#[repr(align(64))]
#[derive(Default)]
pub(crate) struct Padded<T>(pub(crate) T);

/// Iterates the set bits of a bitmap, lowest first.
#[derive(Clone, Copy)]
pub(crate) struct Bits(pub(crate) u32);

impl Iterator for Bits {
    type Item = usize;
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(i)
    }
}

/// Why a megaflow was not installed. Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DpclsError {
    /// A megaflow with the same mask and masked key exists.
    #[error("megaflow already installed as flow {existing}")]
    Duplicate {
        /// The installed flow.
        existing: FlowId,
    },
    /// Megaflows must be exact on in_port (the classifier is per port).
    #[error("megaflow mask is not exact on in_port (in_port mask {mask:#x})")]
    InPortNotExact {
        /// The mask's in_port field.
        mask: u64,
    },
    /// The subtable's cuckoo map could not take the flow.
    #[error("megaflow table full: {0}")]
    TableFull(#[from] CmapError),
}

/// Classifier counters (cumulative) and sizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DpclsStats {
    /// Keys looked up.
    pub lookups: u64,
    /// Keys that matched a megaflow.
    pub hits: u64,
    /// Keys that matched none.
    pub misses: u64,
    /// Sum over hits of the 1-based rank of the subtable that matched:
    /// `subtable_lookups / hits` is OVS's "avg. subtable lookups per
    /// megaflow hit" (1.0 = every hit in the first subtable searched).
    pub subtable_lookups: u64,
    /// Distinct masks (a mask used on several in_ports counts once).
    pub masks: usize,
    /// Installed megaflows.
    pub flows: usize,
}

impl DpclsStats {
    /// Average subtables searched per hit (0 without hits).
    pub fn subtable_lookups_per_hit(&self) -> f64 {
        if self.hits == 0 {
            0.0
        } else {
            self.subtable_lookups as f64 / self.hits as f64
        }
    }
}

/// Hot counters on their own cache line, away from the read-mostly list
/// pointer that every lookup loads.
#[repr(align(64))]
#[derive(Default)]
struct Counters {
    lookups: AtomicU64,
    hits: AtomicU64,
    subtable_lookups: AtomicU64,
}

/// The writer's maps keyed by masks (see [`crate::wordhash`]).
type WordMap<K, V> = HashMap<K, V, BuildHasherDefault<crate::wordhash::MixedWordHasher>>;

struct Writer {
    last_rank: Instant,
    /// Subtables per mask, over all ports.
    mask_refs: WordMap<FlowKey, usize>,
    /// Every subtable by (in_port, mask): an install finds its subtable with
    /// one hash probe instead of comparing its mask with every subtable's.
    by_mask: WordMap<(u32, FlowKey), Arc<Subtable>>,
}

type PortList = Vec<(u32, Arc<Classifier>)>;

/// The megaflow classifier. `Send + Sync`: share it with `Arc`.
pub struct Dpcls {
    /// Classifiers sorted by in_port.
    ports: ArcSwap<PortList>,
    counters: Counters,
    flows: AtomicUsize,
    masks: AtomicUsize,
    /// When the next ranking is due, in ns since `created`: lets
    /// [`Dpcls::maybe_rank`] return with one relaxed load when it is not.
    next_rank_ns: AtomicU64,
    created: Instant,
    writer: Mutex<Writer>,
}

impl Default for Dpcls {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Dpcls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpcls")
            .field("stats", &self.stats())
            .finish()
    }
}

#[inline(always)]
fn in_port(key: &FlowKey) -> u32 {
    key.get(Field::InPort) as u32
}

fn find_port(ports: &PortList, port: u32) -> Option<&Arc<Classifier>> {
    ports
        .binary_search_by_key(&port, |(p, _)| *p)
        .ok()
        .map(|i| &ports[i].1)
}

impl Dpcls {
    /// An empty classifier.
    pub fn new() -> Dpcls {
        Dpcls {
            ports: ArcSwap::from_pointee(Vec::new()),
            counters: Counters::default(),
            flows: AtomicUsize::new(0),
            masks: AtomicUsize::new(0),
            next_rank_ns: AtomicU64::new(RANK_INTERVAL.as_nanos() as u64),
            created: Instant::now(),
            writer: Mutex::new(Writer {
                last_rank: Instant::now(),
                mask_refs: WordMap::default(),
                by_mask: WordMap::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        // Writer methods publish only complete states, so a poisoned lock
        // (a panic elsewhere while holding it) leaves nothing half done.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Installs megaflow `(mask, key & mask)` as `flow`.
    pub fn insert(&self, mask: &FlowKey, key: &FlowKey, flow: FlowId) -> Result<(), DpclsError> {
        let port_mask = mask.get(Field::InPort);
        if port_mask != u32::MAX as u64 {
            return Err(DpclsError::InPortNotExact { mask: port_mask });
        }
        let masked = key.masked(mask);
        let port = in_port(&masked);
        let mut w = self.lock();
        // The common install: the subtable exists (so does its port). No
        // reference count is touched: every locked read-modify-write costs
        // tens of cycles, and an install used to make eight.
        if let Some(st) = w.by_mask.get(&(port, *mask)) {
            if let Some(existing) = st.insert(&masked, flow)? {
                return Err(DpclsError::Duplicate { existing });
            }
            self.count_flows(1);
            return Ok(());
        }
        let ports = self.ports.load_full();
        let (cls, new_port) = match find_port(&ports, port) {
            Some(c) => (c.clone(), false),
            None => (Arc::new(Classifier::new()), true),
        };
        let st = Arc::new(Subtable::new(*mask));
        if let Some(existing) = st.insert(&masked, flow)? {
            return Err(DpclsError::Duplicate { existing });
        }
        // Publish bottom-up: the flow is in its subtable before the subtable
        // is listed, and the subtable before its port.
        w.by_mask.insert((port, *mask), st.clone());
        cls.push(st);
        *w.mask_refs.entry(*mask).or_insert(0) += 1;
        self.masks.store(w.mask_refs.len(), Relaxed);
        if new_port {
            let mut v = PortList::clone(&ports);
            let at = v.partition_point(|(p, _)| *p < port);
            v.insert(at, (port, cls));
            self.ports.store(Arc::new(v));
        }
        self.count_flows(1);
        Ok(())
    }

    /// Adds `delta` to the flow count. Only writers change it, under the
    /// writer lock, so a load and a store suffice (no locked add).
    fn count_flows(&self, delta: isize) {
        let n = self.flows.load(Relaxed).wrapping_add_signed(delta);
        self.flows.store(n, Relaxed);
    }

    /// Removes megaflow `(mask, masked_key & mask)`; returns its flow.
    pub fn remove(&self, mask: &FlowKey, masked_key: &FlowKey) -> Option<FlowId> {
        let masked = masked_key.masked(mask);
        let port = in_port(&masked);
        let mut w = self.lock();
        let ports = self.ports.load_full();
        let cls = find_port(&ports, port)?;
        let st = w.by_mask.get(&(port, *mask))?.clone();
        let flow = st.remove(&masked)?;
        self.count_flows(-1);
        if st.len() == 0 {
            cls.remove(&st);
            w.by_mask.remove(&(port, *mask));
            if let Some(n) = w.mask_refs.get_mut(mask) {
                *n -= 1;
                if *n == 0 {
                    w.mask_refs.remove(mask);
                }
            }
            self.masks.store(w.mask_refs.len(), Relaxed);
            if cls.is_empty() {
                let mut v = PortList::clone(&ports);
                v.retain(|(p, _)| *p != port);
                self.ports.store(Arc::new(v));
            }
        }
        Some(flow)
    }

    /// The flow matching `key`, if any.
    #[inline]
    pub fn lookup(&self, key: &FlowKey) -> Option<FlowId> {
        let mut out = [None];
        self.lookup_batch(core::slice::from_ref(key), &mut out);
        out[0]
    }

    /// Looks up `keys` (a burst of at most [`BURST`]; longer slices are
    /// processed in bursts) into `out[i]` (`None` = miss) and returns the
    /// bitmap of found keys among the first [`BURST`].
    pub fn lookup_batch(&self, keys: &[FlowKey], out: &mut [Option<FlowId>]) -> u32 {
        let mut ignored = 0;
        self.lookup_batch_counted(keys, out, &mut ignored)
    }

    /// [`Dpcls::lookup_batch`] that also adds this call's share of
    /// [`DpclsStats::subtable_lookups`] to `subtable_lookups`, for a caller
    /// (one packet thread of several) that keeps its own statistics.
    pub fn lookup_batch_counted(
        &self,
        keys: &[FlowKey],
        out: &mut [Option<FlowId>],
        subtable_lookups: &mut u64,
    ) -> u32 {
        let n = keys.len().min(out.len());
        let mut first = 0;
        let mut start = 0;
        while start < n {
            let end = (start + BURST).min(n);
            let found =
                self.lookup_burst(&keys[start..end], &mut out[start..end], subtable_lookups);
            if start == 0 {
                first = found;
            }
            start = end;
        }
        first
    }

    #[inline]
    fn lookup_burst(
        &self,
        keys: &[FlowKey],
        out: &mut [Option<FlowId>],
        subtable_lookups: &mut u64,
    ) -> u32 {
        let n = keys.len();
        out.fill(None);
        let all = if n >= 32 { u32::MAX } else { (1u32 << n) - 1 };
        let ports = self.ports.load();
        let mut pos_sum = 0u64;
        let mut found = 0u32;
        let p0 = in_port(&keys[0]);
        if keys[1..].iter().all(|k| in_port(k) == p0) {
            if let Some(c) = find_port(&ports, p0) {
                found = c.lookup_batch(keys, all, out, &mut pos_sum);
            }
        } else {
            let mut remaining = all;
            while remaining != 0 {
                let p = in_port(&keys[remaining.trailing_zeros() as usize]);
                let mut pmap = 0u32;
                for i in Bits(remaining) {
                    if in_port(&keys[i]) == p {
                        pmap |= 1 << i;
                    }
                }
                remaining &= !pmap;
                if let Some(c) = find_port(&ports, p) {
                    found |= c.lookup_batch(keys, pmap, out, &mut pos_sum);
                }
            }
        }
        let c = &self.counters;
        c.lookups.fetch_add(n as u64, Relaxed);
        c.hits.fetch_add(found.count_ones() as u64, Relaxed);
        c.subtable_lookups.fetch_add(pos_sum, Relaxed);
        *subtable_lookups += pos_sum;
        found
    }

    /// Re-sorts every port's subtables by their hits since the last ranking.
    pub fn rank(&self) {
        let mut w = self.lock();
        self.rank_locked(&mut w, Instant::now());
    }

    fn rank_locked(&self, w: &mut Writer, now: Instant) {
        for (_, c) in self.ports.load().iter() {
            c.rank();
        }
        w.last_rank = now;
        let next = now.saturating_duration_since(self.created) + RANK_INTERVAL;
        self.next_rank_ns.store(next.as_nanos() as u64, Relaxed);
    }

    /// Ranks if [`RANK_INTERVAL`] has passed since the last ranking; returns
    /// whether it did. Never waits: if a writer holds the lock, the ranking
    /// is left for a later call (so a packet thread never blocks).
    pub fn maybe_rank(&self, now: Instant) -> bool {
        // Called once per burst by packet threads: the common "not yet"
        // answer must not touch the lock.
        let t = now.saturating_duration_since(self.created).as_nanos() as u64;
        if t < self.next_rank_ns.load(Relaxed) {
            return false;
        }
        let mut w = match self.writer.try_lock() {
            Ok(w) => w,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        if now.saturating_duration_since(w.last_rank) < RANK_INTERVAL {
            return false;
        }
        self.rank_locked(&mut w, now);
        true
    }

    /// Counters and sizes.
    pub fn stats(&self) -> DpclsStats {
        let c = &self.counters;
        let lookups = c.lookups.load(Relaxed);
        let hits = c.hits.load(Relaxed);
        DpclsStats {
            lookups,
            hits,
            misses: lookups.saturating_sub(hits),
            subtable_lookups: c.subtable_lookups.load(Relaxed),
            masks: self.mask_count(),
            flows: self.flow_count(),
        }
    }

    /// Installed megaflows.
    pub fn flow_count(&self) -> usize {
        self.flows.load(Relaxed)
    }

    /// Distinct masks over all ports.
    pub fn mask_count(&self) -> usize {
        self.masks.load(Relaxed)
    }

    /// Every distinct mask with its hits since it was created and its flows,
    /// summed over ports, most hits first (ties in mask word order), for
    /// the offload manager that gives hardware mask slots to the busiest masks.
    pub fn masks(&self) -> Vec<(FlowKey, u64, usize)> {
        let _w = self.lock();
        let mut agg: WordMap<FlowKey, (u64, usize)> = WordMap::default();
        for (_, c) in self.ports.load().iter() {
            for st in c.subtables().iter() {
                let e = agg.entry(st.mask).or_insert((0, 0));
                e.0 += st.total_hits();
                e.1 += st.len();
            }
        }
        let mut v: Vec<(FlowKey, u64, usize)> =
            agg.into_iter().map(|(m, (h, f))| (m, h, f)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.words.cmp(&b.0.words)));
        v
    }

    /// Calls `f(mask, masked_key, flow)` for every megaflow (under the
    /// writer lock: do not call writer methods from `f`).
    pub fn for_each_flow(&self, mut f: impl FnMut(&FlowKey, &FlowKey, FlowId)) {
        let _w = self.lock();
        for (_, c) in self.ports.load().iter() {
            for st in c.subtables().iter() {
                st.for_each(|k, v| f(&st.mask, k, v));
            }
        }
    }

    /// The masks of `port` in current rank order (diagnostics and tests).
    pub fn ranked_masks(&self, port: u32) -> Vec<FlowKey> {
        let ports = self.ports.load();
        find_port(&ports, port)
            .map(|c| c.subtables().iter().map(|st| st.mask).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(port_exact: bool, words: [u64; 8]) -> FlowKey {
        let mut m = FlowKey::from_hw_words(&words);
        if port_exact {
            m.set(Field::InPort, u32::MAX as u64);
        }
        m
    }

    #[test]
    fn bits_iterates_set_bits() {
        assert_eq!(Bits(0b1010_0001).collect::<Vec<_>>(), vec![0, 5, 7]);
        assert_eq!(Bits(0).count(), 0);
        assert_eq!(Bits(u32::MAX).count(), 32);
    }

    #[test]
    fn insert_validates_and_detects_duplicates() {
        let d = Dpcls::new();
        let m = mask(true, [0, 0xffff, 0, 0, 0, 0, 0, 0]);
        let k = FlowKey::from_hw_words(&[7, 0x1234_5678, 1, 2, 3, 4, 5, 6]);
        assert_eq!(
            d.insert(&mask(false, [0xffff, 0, 0, 0, 0, 0, 0, 0]), &k, 1),
            Err(DpclsError::InPortNotExact { mask: 0xffff })
        );
        assert_eq!(d.flow_count(), 0);
        d.insert(&m, &k, 1).unwrap();
        let other = k.with(Field::DlSrc, 99); // differs only in wildcarded bits
        assert_eq!(
            d.insert(&m, &other, 2),
            Err(DpclsError::Duplicate { existing: 1 })
        );
        assert_eq!(d.lookup(&other), Some(1));
        assert_eq!(d.lookup(&k.with(Field::InPort, 8)), None);
        assert_eq!((d.flow_count(), d.mask_count()), (1, 1));
        assert_eq!(d.remove(&m, &k), Some(1));
        assert_eq!(d.remove(&m, &k), None);
        assert_eq!((d.flow_count(), d.mask_count()), (0, 0));
        assert_eq!(d.lookup(&k), None);
        let s = d.stats();
        assert_eq!((s.lookups, s.hits, s.misses), (3, 1, 2));
    }
}
