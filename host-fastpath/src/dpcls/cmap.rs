//! Concurrent cuckoo hash map from 512-bit keys to `u32` values, with the
//! semantics of Open vSwitch's `cmap`: one writer at a time, any number of
//! lock-free readers.
//!
//! # Layout
//! A power-of-two array of 64-byte buckets. A bucket holds a version counter
//! and [`BUCKET_SLOTS`] slots of `(hash, entry index, value)`. A key may live
//! in either of its two candidate buckets, given by
//! [`abi::geometry::cuckoo_buckets`] — the function the hardware megaflow
//! table uses, so a hardware placement can be computed from the same hash.
//! Keys live in an arena (`arena.rs`, one cache line per key) addressed by the entry
//! index. Keys whose 32-bit hashes are equal share one slot: the slot points
//! at the head of a chain linked through the arena (a constant hash puts every
//! key into one chain; a good one almost never chains). The head's value is
//! cached in the slot, so a hit touches two cache lines: bucket and key.
//!
//! Why 5 slots of 12 bytes rather than 7 of 8 (hash, index): with the value
//! in the slot a hit needs no third cache line, and 5 slots with two choices
//! still fill beyond the 85 % growth threshold (OVS's cmap also has 5).
//!
//! # Readers: per-bucket sequence lock
//! The writer makes a bucket's counter odd, publishes with a release fence,
//! stores the slots, then makes the counter even again with a release store.
//! A reader loads the counter (acquire; odd → retry), reads slots, arena keys
//! and links with relaxed atomic loads, issues an acquire fence and re-reads
//! the counter; any change → retry. If the reader read any value stored after
//! the writer's release fence, fence-to-fence synchronisation guarantees the
//! re-read sees the odd (or a later) counter: so a reader either retries or
//! used data that was consistent at one instant. Every shared location is an
//! atomic, so racing reads are never data races (no UB), merely discarded.
//!
//! * **Hit** — validated on the bucket it was found in.
//! * **Miss** — both candidate counters are read before the searches and both
//!   re-checked after, so an entry moving between its buckets is never missed:
//!   the writer moves by first writing the destination slot and only then
//!   overwriting the source (like `cmap_insert_bfs`), so an entry present
//!   throughout is always in at least one bucket.
//! * **Entry reuse** — an unlinked index may be reused at once: the unlink
//!   bumped the counter of the bucket the reader got the index from, and the
//!   arena write of the new contents is preceded by a release fence, so a
//!   reader that sees the new contents also sees the bump and retries.
//! * **Chains** are walked with a counter re-check every
//!   [`CHAIN_CHECK_EVERY`] steps, so a torn read can never loop forever;
//!   an index that points outside the arena (torn) also means retry.
//!
//! # Resizing
//! Above 85 % slot load the writer builds a bucket array twice as large
//! (below 20 %: half as large) off to the side, publishes it, then *retires*
//! the old array by making every counter odd. Readers that still hold the
//! old array retry and reload the current one (the retire stores are
//! release, so a reader that sees one also sees the new array). Entries do
//! not move: only slots are rehashed.
//!
//! Bucket arrays are never freed while the map lives: there is one
//! [`OnceLock`] per size, and a resize back to a size used before reuses
//! (rebuilds) that array. A buffer that is never freed needs no reader
//! tracking at all: a reader finds the current array with one acquire load
//! of its size, with no reference count and no `unsafe`. We measured the
//! alternative first: swapping `Arc`s with `arc_swap` cost a sequentially
//! consistent store plus a locked compare-exchange per lookup (~40 % of a
//! single cached lookup); `crossbeam-epoch` pins cost a full fence each and
//! need `unsafe` dereferences. The price is memory: all sizes ever used are
//! kept, which is less than twice the largest (sizes are powers of two), the
//! same peak-retention policy as the entry arena; a subtable's map is
//! freed as a whole when its last megaflow goes. A rebuilt array keeps every
//! counter odd until it is published, so a reader that still holds it from
//! its previous life retries instead of reading a half-built table.
//!
//! # Batches
//! [`Cmap::get_batch`] overlaps the memory latencies of a burst in passes
//! over it: fetch every key's first candidate bucket; scan each and fetch
//! the key line its matching slot names (or else the second candidate,
//! scanned in a pass of its own); then probe — so a hit costs two lines
//! (bucket, key) rather than three. The scan and the probe form one read
//! section: the counter is read before the scan, slot and key line are read
//! in it, and the hit stands if the key line equals the key and the counter
//! is unchanged at the probe; anything else takes the full probe. A key
//! whose hash neither scan found is a miss once both counters, read before
//! the scans, are re-checked unchanged (the miss rule above).

use super::arena::{Arena, StoredKey};
use super::prefetch::prefetch;
use super::{Bits, Padded};
use abi::geometry::cuckoo_buckets;
use abi::FlowKey;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{fence, AtomicU32, AtomicU8, AtomicUsize};
use std::sync::{Mutex, MutexGuard, OnceLock};
use thiserror::Error;

/// Slots per 64-byte bucket.
pub const BUCKET_SLOTS: usize = 5;
/// Smallest bucket array (log2 of buckets).
pub const MIN_LOG2: u8 = 1;
/// Largest bucket array (log2 of buckets).
pub const MAX_LOG2: u8 = 30;
/// Grow when an insertion would push slot load above this percentage
/// (as OVS: cuckoo with two choices and 5 slots still inserts cheaply there).
pub const GROW_PERCENT: usize = 85;
/// Shrink when slot load falls below this percentage (hysteresis: after a
/// shrink the load is below 40 %, after a growth above 42 %).
pub const SHRINK_PERCENT: usize = 20;
/// Chain steps between two counter re-checks in a reader (a power of two).
pub const CHAIN_CHECK_EVERY: u32 = 16;
/// Most buckets a cuckoo path search (BFS) visits before giving up and
/// growing the table.
const BFS_MAX_NODES: usize = 512;
/// From this size on (16K buckets = 1 MiB of buckets, beyond L2)
/// [`Cmap::get_batch_hashing`] fetches each bucket as soon as its key is
/// hashed: the fetches are long enough that overlapping them with the
/// later keys' hashing pays (1M keys: 22–30 against 25–39 ns per lookup).
/// For cached maps one batch hash first is cheaper (a dpcls subtable visit
/// 12.1 against 12.8 ns).
const FUSED_HASH_MIN_LOG2: u8 = 14;
/// A bucket array may have at most this many buckets per used slot: growth
/// beyond it (a degenerate hash that keeps colliding in both candidates at
/// every size) is refused instead of exhausting memory.
const MAX_BUCKETS_PER_SLOT: usize = 16;

const EMPTY: u32 = u32::MAX;

const NO_PARENT: u32 = u32::MAX;

/// Why an insertion failed. Nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum CmapError {
    /// No cuckoo path and no acceptable larger table.
    #[error("cuckoo map full: no free candidate slot for hash {hash:#010x} with {len} entries in 2^{log2} buckets")]
    Full {
        /// Hash of the key that could not be placed.
        hash: u32,
        /// Entries in the map.
        len: usize,
        /// log2 of the current bucket count.
        log2: u8,
    },
}

/// Writer-side event counters (for tests and diagnostics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CmapWriterStats {
    /// Slots moved to their alternate bucket by cuckoo displacement.
    pub moves: u64,
    /// Bucket arrays doubled.
    pub grows: u64,
    /// Bucket arrays halved.
    pub shrinks: u64,
    /// Placements that found no cuckoo path (followed by a growth).
    pub failed_placements: u64,
}

/// Where the slots of a map sit (see [`Cmap::occupancy`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CmapOccupancy {
    /// Buckets in the live array.
    pub buckets: usize,
    /// Used slots in their hash's first candidate bucket: a batch lookup
    /// finds these with one bucket line.
    pub first: usize,
    /// Used slots in their second candidate bucket (a second bucket line).
    pub second: usize,
}

#[repr(C, align(64))]
struct Bucket {
    seq: AtomicU32,
    hash: [AtomicU32; BUCKET_SLOTS],
    entry: [AtomicU32; BUCKET_SLOTS],
    value: [AtomicU32; BUCKET_SLOTS],
}

const _: () = assert!(size_of::<Bucket>() == 64);

impl Bucket {
    /// A bucket not yet live (odd counter).
    fn new() -> Self {
        Self {
            seq: AtomicU32::new(1),
            hash: Default::default(),
            entry: [const { AtomicU32::new(EMPTY) }; BUCKET_SLOTS],
            value: Default::default(),
        }
    }

    /// Writer: opens a write section (counter odd), returns the old counter.
    #[inline]
    fn begin_write(&self) -> u32 {
        let s = self.seq.load(Relaxed);
        self.seq.store(s.wrapping_add(1), Relaxed);
        fence(Release);
        s
    }

    /// Writer: closes a write section opened at counter `s`.
    #[inline]
    fn end_write(&self, s: u32) {
        self.seq.store(s.wrapping_add(2), Release);
    }

    /// Writer: stores a slot. In a live bucket (even counter) inside a write
    /// section; a bucket of an array being built (odd counter, invisible to
    /// readers) is written directly.
    fn set_slot(&self, slot: usize, hash: u32, entry: u32, value: u32) {
        let live = self.seq.load(Relaxed) & 1 == 0;
        let s = if live { self.begin_write() } else { 0 };
        self.hash[slot].store(hash, Relaxed);
        self.entry[slot].store(entry, Relaxed);
        self.value[slot].store(value, Relaxed);
        if live {
            self.end_write(s);
        }
    }

    /// Bitmap of the slots whose stored hash is `hash` (used or not).
    #[inline(always)]
    fn matching(&self, hash: u32) -> u32 {
        let mut m = 0u32;
        for s in 0..BUCKET_SLOTS {
            m |= ((self.hash[s].load(Relaxed) == hash) as u32) << s;
        }
        m
    }

    fn empty_slot(&self) -> Option<usize> {
        (0..BUCKET_SLOTS).find(|&s| self.entry[s].load(Relaxed) == EMPTY)
    }

    /// Writer: the used slot holding `hash`.
    fn slot_of(&self, hash: u32) -> Option<usize> {
        (0..BUCKET_SLOTS)
            .find(|&s| self.entry[s].load(Relaxed) != EMPTY && self.hash[s].load(Relaxed) == hash)
    }
}

struct BucketArray {
    log2: u8,
    buckets: Box<[Bucket]>,
}

impl BucketArray {
    fn new(log2: u8) -> Self {
        Self {
            log2,
            buckets: super::hugepage::boxed_slice(1usize << log2, Bucket::new),
        }
    }

    /// Writer: empties a retired array for reuse; counters stay odd.
    fn clear(&self) {
        for b in self.buckets.iter() {
            debug_assert!(b.seq.load(Relaxed) & 1 == 1);
            for s in 0..BUCKET_SLOTS {
                b.entry[s].store(EMPTY, Relaxed);
                b.hash[s].store(0, Relaxed);
                b.value[s].store(0, Relaxed);
            }
        }
    }

    /// Writer: makes every counter even (release): readers may use it.
    fn make_live(&self) {
        for b in self.buckets.iter() {
            let s = b.seq.load(Relaxed);
            b.seq.store(s.wrapping_add(1), Release);
        }
    }

    /// Writer: makes every counter odd (release): readers retry elsewhere.
    fn retire(&self) {
        self.make_live();
    }

    #[inline(always)]
    fn candidates(&self, hash: u32) -> [usize; 2] {
        let [a, b] = cuckoo_buckets(hash, self.log2);
        [a as usize, b as usize]
    }

    fn capacity(&self) -> usize {
        self.buckets.len() * BUCKET_SLOTS
    }
}

/// Per-key state of a batch lookup, indexed by the
/// key's position in the burst, one array per field (a pass touches only
/// the fields it needs).
struct BatchState<'a> {
    /// The bucket scanned last and its counter as read before the scan: a
    /// hit is validated on them, and (for a second candidate) a miss too.
    bucket: [&'a Bucket; 32],
    seq: [u32; 32],
    /// The first candidate and its counter, kept while the second is scanned.
    first: [&'a Bucket; 32],
    first_seq: [u32; 32],
    /// Key line and value of the slot whose hash matched.
    key: [Option<&'a StoredKey>; 32],
    value: [u32; 32],
}

impl BatchState<'_> {
    /// True when the scans of both candidates of key `k` found no slot with
    /// its hash and neither bucket has changed since (or was being written):
    /// then the key was absent when the second was scanned (an entry moving
    /// between its buckets is written to the new one before the old one is
    /// cleared, so it is always in one of them).
    #[inline(always)]
    fn scanned_miss(&self, k: usize) -> bool {
        let (s0, s1) = (self.first_seq[k], self.seq[k]);
        if (s0 | s1) & 1 != 0 {
            return false;
        }
        fence(Acquire);
        self.first[k].seq.load(Relaxed) == s0 && self.bucket[k].seq.load(Relaxed) == s1
    }

    /// Key `k`'s hit from its scan: the value of the scanned slot if the key
    /// line it named equals `key & mask` and the bucket's counter, even when
    /// scanned, is unchanged now (one seqlock window from the scan to here:
    /// slot, value and key line were then consistent at one instant). `None`
    /// (no match, a chain, a concurrent write): the caller runs the full probe.
    #[inline(always)]
    fn hit(&self, k: usize, key: &FlowKey, mask: &FlowKey) -> Option<u32> {
        // A key line is recorded only by a scan that matched.
        let line = self.key[k]?;
        let seq = self.seq[k];
        if seq & 1 != 0 || !line.matches(key, mask) {
            return None;
        }
        fence(Acquire);
        (self.bucket[k].seq.load(Relaxed) == seq).then_some(self.value[k])
    }
}

enum Probe {
    Hit(u32),
    Miss,
    Retry,
}

#[derive(Clone, Copy)]
struct BfsNode {
    bucket: u32,
    parent: u32,
    /// Slot in the parent's bucket whose entry moves into `bucket`.
    slot: u8,
}

struct Writer {
    free: Vec<u32>,
    fresh: u32,
    used_slots: usize,
    bfs: Vec<BfsNode>,
    stats: CmapWriterStats,
}

/// The concurrent cuckoo map. Readers ([`Cmap::get`], [`Cmap::get_batch`])
/// never block; writers are serialized by an internal mutex.
pub struct Cmap {
    /// Bucket arrays by log2 size; `current` names the live one.
    arrays: [OnceLock<BucketArray>; MAX_LOG2 as usize + 1],
    current: AtomicU8,
    arena: Arena,
    /// Written on every insert and remove: kept off the line of `current`.
    len: Padded<AtomicUsize>,
    writer: Mutex<Writer>,
}

impl Default for Cmap {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Cmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cmap")
            .field("len", &self.len())
            .field("buckets", &self.buckets())
            .finish()
    }
}

impl Cmap {
    /// An empty map with the smallest bucket array.
    pub fn new() -> Self {
        Self::with_log2(MIN_LOG2)
    }

    /// An empty map sized for `n` keys with distinct hashes without growing.
    pub fn with_capacity(n: usize) -> Self {
        let mut log2 = MIN_LOG2;
        while log2 < MAX_LOG2 && (n * 100) > (BUCKET_SLOTS << log2) * GROW_PERCENT {
            log2 += 1;
        }
        Self::with_log2(log2)
    }

    fn with_log2(log2: u8) -> Self {
        let m = Self {
            arrays: [const { OnceLock::new() }; MAX_LOG2 as usize + 1],
            current: AtomicU8::new(log2),
            arena: Arena::new(),
            len: Padded(AtomicUsize::new(0)),
            writer: Mutex::new(Writer {
                free: Vec::new(),
                fresh: 0,
                used_slots: 0,
                // Grown on the first cuckoo path search: most maps (one per
                // megaflow mask) never need one, and creating a subtable must
                // stay cheap (an upcall may create one).
                bfs: Vec::new(),
                stats: CmapWriterStats::default(),
            }),
        };
        m.arrays[log2 as usize]
            .get_or_init(|| BucketArray::new(log2))
            .make_live();
        m
    }

    /// The live bucket array.
    #[inline(always)]
    fn array(&self) -> &BucketArray {
        // `current` is stored (release) only after its array is initialised.
        self.arrays[self.current.load(Acquire) as usize]
            .get()
            .expect("the current bucket array is initialised before it is published")
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.len.0.load(Relaxed)
    }

    /// True when the map holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Current number of buckets.
    pub fn buckets(&self) -> usize {
        self.array().buckets.len()
    }

    /// Bytes of memory held by buckets and entries.
    pub fn memory_bytes(&self) -> usize {
        self.buckets() * size_of::<Bucket>() + self.arena.bytes()
    }

    /// Writer-side event counters.
    pub fn writer_stats(&self) -> CmapWriterStats {
        self.lock().stats
    }

    /// Counts used slots by candidate (under the writer lock; walks the
    /// whole array, for tests and diagnostics).
    pub fn occupancy(&self) -> CmapOccupancy {
        let _w = self.lock();
        let a = self.array();
        let mut o = CmapOccupancy {
            buckets: a.buckets.len(),
            ..CmapOccupancy::default()
        };
        for (bi, b) in a.buckets.iter().enumerate() {
            for s in 0..BUCKET_SLOTS {
                if b.entry[s].load(Relaxed) != EMPTY {
                    if a.candidates(b.hash[s].load(Relaxed))[0] == bi {
                        o.first += 1;
                    } else {
                        o.second += 1;
                    }
                }
            }
        }
        o
    }

    // ------------------------------------------------------------------
    // Readers.

    /// The value of `key` (exact), whose hash is `hash`.
    #[inline]
    pub fn get(&self, hash: u32, key: &FlowKey) -> Option<u32> {
        self.get_masked(hash, key, &FlowKey::ONES)
    }

    /// The value of the stored key equal to `key & mask`, whose hash is
    /// `hash` (so a subtable probes with the packet key and its mask without
    /// materialising the masked key).
    #[inline]
    pub fn get_masked(&self, hash: u32, key: &FlowKey, mask: &FlowKey) -> Option<u32> {
        let mut a = self.array();
        self.probe_retrying(&mut a, hash, key, mask)
    }

    /// Batch lookup of `keys[i] & mask` with hash `hashes[i]` for every bit
    /// `i` of `map` (at most 32 keys). Writes `out[i]` for found keys only
    /// and returns the bitmap of found keys.
    pub fn get_batch(
        &self,
        keys: &[FlowKey],
        mask: &FlowKey,
        hashes: &[u32],
        map: u32,
        out: &mut [Option<u32>],
    ) -> u32 {
        let n = keys.len().min(hashes.len()).min(out.len()).min(32);
        let mut h = [0u32; 32];
        h[..n].copy_from_slice(&hashes[..n]);
        self.batch::<false>(&keys[..n], mask, &mut h, map & low_bits(n), out)
    }

    /// [`Cmap::get_batch`] that hashes `keys[i] & mask` itself. In a map
    /// beyond L2 it fetches each key's bucket as soon as its hash is ready:
    /// the memory system is busy while the later keys of the burst are
    /// hashed, instead of idle for the ~100 ns that 32 hashes take.
    pub fn get_batch_hashing(
        &self,
        keys: &[FlowKey],
        mask: &FlowKey,
        map: u32,
        out: &mut [Option<u32>],
    ) -> u32 {
        let n = keys.len().min(out.len()).min(32);
        let mut h = [0u32; 32];
        self.batch::<true>(&keys[..n], mask, &mut h, map & low_bits(n), out)
    }

    /// The batch lookup of the keys in `map` (`keys` at most 32, `out` at
    /// least as long); with `HASH` the hashes are computed into `hashes`,
    /// else read from it.
    #[inline(always)]
    fn batch<const HASH: bool>(
        &self,
        keys: &[FlowKey],
        mask: &FlowKey,
        hashes: &mut [u32; 32],
        map: u32,
        out: &mut [Option<u32>],
    ) -> u32 {
        // Four passes over the burst.
        //
        //   1. fetch every key's first candidate bucket (as soon as its
        //      hash is known, with `get_batch_hashing`);
        //   2. scan each: a slot with its hash → fetch the key line it
        //      names; none → fetch the second candidate bucket;
        //   3. scan those second buckets: a match → fetch the key line;
        //      none in either bucket → a miss if neither counter changed
        //      since its scan (no rescan, no key line);
        //   4. probe: the key line equals the key and the scanned
        //      bucket's counter is unchanged → a hit (one seqlock window
        //      from scan to probe); anything else → the full probe.
        //
        // So a hit touches two lines (a bucket, a key) rather than three
        // (both buckets and the key): the second bucket is fetched only
        // for keys not in their first, which first-fit insertion keeps
        // few (12.6 % at the 80 % load of 1M keys; no placement can do
        // much better: with 4 keys per bucket on average, ~10 % of the
        // keys of a 5-slot bucket overflow it). Why passes rather than
        // a software pipeline (a key a step, its stages some steps
        // apart, as in the previous version): each pass is a short loop,
        // so while one scan waits for its line the core's out-of-order
        // window already holds the next keys' scans and fetches; a
        // pipeline step is ~200 instructions, which left room for one
        // step ahead. Measured side by side on the 1M bench: 22.9–23.7
        // against 25.1–25.9 ns per lookup (fastest pass), and no worse
        // for misses, cached lines or all-DRAM sweeps. Small, cached maps
        // take the same path: it was 18.3 → 15.8 ns for a dpcls hit in
        // its first subtable against probing straight away (both
        // candidates prefetched), and equal for a miss.
        //
        // The passes read one array throughout: if a resize retires it
        // meanwhile, its counters turn odd, its hits and misses fail
        // validation and those keys take the full probe on the current
        // array (`cur`).
        let arr = self.array();
        let mut cur = arr;
        let mut p = BatchState {
            bucket: [&arr.buckets[0]; 32],
            seq: [0; 32],
            first: [&arr.buckets[0]; 32],
            first_seq: [0; 32],
            key: [None; 32],
            value: [0; 32],
        };
        if HASH && arr.log2 >= FUSED_HASH_MIN_LOG2 {
            abi::hash::for_each_hash_masked(keys, mask, map, |i, h| {
                hashes[i] = h;
                let b = &arr.buckets[arr.candidates(h)[0]];
                prefetch(b);
                p.bucket[i] = b;
            });
        } else {
            if HASH {
                hash_keys(keys, mask, map, hashes);
            }
            for i in Bits(map) {
                let b = &arr.buckets[arr.candidates(hashes[i])[0]];
                prefetch(b);
                p.bucket[i] = b;
            }
        }
        // Keys whose first candidate holds no slot with their hash, and
        // keys whose second does not either, validated as a miss.
        let (mut second, mut missed) = (0u32, 0u32);
        for i in Bits(map) {
            if !self.scan(&mut p, i, hashes[i]) {
                let b = &arr.buckets[arr.candidates(hashes[i])[1]];
                prefetch(b);
                p.first[i] = p.bucket[i];
                p.first_seq[i] = p.seq[i];
                p.bucket[i] = b;
                second |= 1 << i;
            }
        }
        for i in Bits(second) {
            if !self.scan(&mut p, i, hashes[i]) && p.scanned_miss(i) {
                missed |= 1 << i;
            }
        }
        let mut found = 0;
        for i in Bits(map & !missed) {
            let hit = match p.hit(i, &keys[i], mask) {
                Some(v) => Some(v),
                None => self.probe_retrying(&mut cur, hashes[i], &keys[i], mask),
            };
            if let Some(v) = hit {
                out[i] = Some(v);
                found |= 1 << i;
            }
        }
        found
    }

    /// Batch pass: reads the counter of `p.bucket[k]` (acquire) and scans
    /// its slot hashes for `hash`. On a match records the slot's value and
    /// key line, prefetches the line and returns true. Nothing read here is
    /// trusted until [`BatchState::hit`] validates it on the same counter.
    #[inline(always)]
    fn scan<'a>(&'a self, p: &mut BatchState<'a>, k: usize, hash: u32) -> bool {
        let b = p.bucket[k];
        p.seq[k] = b.seq.load(Acquire);
        // Branch-free compare: where the match sits is random, a branch per
        // slot would mispredict about once per key.
        let matching = b.matching(hash);
        if matching == 0 {
            return false;
        }
        let s = matching.trailing_zeros() as usize % BUCKET_SLOTS;
        p.value[k] = b.value[s].load(Relaxed);
        // None (an empty slot whose stale hash matched, or a torn index):
        // the probe pass takes the full probe.
        p.key[k] = self.arena.key(b.entry[s].load(Relaxed));
        if let Some(line) = p.key[k] {
            prefetch(line);
        }
        true
    }

    /// Probes until the read is consistent (reloading the array on retries).
    #[inline(always)]
    fn probe_retrying<'a>(
        &'a self,
        a: &mut &'a BucketArray,
        hash: u32,
        key: &FlowKey,
        mask: &FlowKey,
    ) -> Option<u32> {
        loop {
            match self.probe(a, hash, key, mask) {
                Probe::Hit(v) => return Some(v),
                Probe::Miss => return None,
                Probe::Retry => {
                    std::hint::spin_loop();
                    *a = self.array();
                }
            }
        }
    }

    #[inline(always)]
    fn probe(&self, a: &BucketArray, hash: u32, key: &FlowKey, mask: &FlowKey) -> Probe {
        let [i0, i1] = a.candidates(hash);
        let b0 = &a.buckets[i0];
        let s0 = b0.seq.load(Acquire);
        if s0 & 1 != 0 {
            return Probe::Retry;
        }
        match self.search(b0, s0, hash, key, mask) {
            Err(()) => return Probe::Retry,
            Ok(Some(v)) => return validate(b0, s0, Probe::Hit(v)),
            Ok(None) => {}
        }
        if i1 == i0 {
            return validate(b0, s0, Probe::Miss);
        }
        let b1 = &a.buckets[i1];
        let s1 = b1.seq.load(Acquire);
        if s1 & 1 != 0 {
            return Probe::Retry;
        }
        match self.search(b1, s1, hash, key, mask) {
            Err(()) => Probe::Retry,
            Ok(Some(v)) => validate(b1, s1, Probe::Hit(v)),
            Ok(None) => {
                fence(Acquire);
                if b0.seq.load(Relaxed) == s0 && b1.seq.load(Relaxed) == s1 {
                    Probe::Miss
                } else {
                    Probe::Retry
                }
            }
        }
    }

    /// Searches one bucket (unvalidated). `Err` = inconsistent read.
    #[inline(always)]
    fn search(
        &self,
        b: &Bucket,
        seq: u32,
        hash: u32,
        key: &FlowKey,
        mask: &FlowKey,
    ) -> Result<Option<u32>, ()> {
        // Branch-free compare of all slot hashes: most probes of a subtable
        // miss, and a miss then costs five loads and one predictable branch.
        for s in Bits(b.matching(hash)) {
            let mut idx = b.entry[s].load(Relaxed);
            if idx == EMPTY {
                continue;
            }
            let mut value = b.value[s].load(Relaxed);
            let mut steps = 0u32;
            loop {
                if self.arena.key(idx).ok_or(())?.matches(key, mask) {
                    return Ok(Some(value));
                }
                let next = self.arena.link(idx).ok_or(())?.next.load(Relaxed);
                if next == EMPTY {
                    break;
                }
                idx = next;
                value = self.arena.link(idx).ok_or(())?.value.load(Relaxed);
                steps += 1;
                if steps & (CHAIN_CHECK_EVERY - 1) == 0 {
                    fence(Acquire);
                    if b.seq.load(Relaxed) != seq {
                        return Err(());
                    }
                }
            }
        }
        Ok(None)
    }

    // ------------------------------------------------------------------
    // Writer.

    fn lock(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the lock cannot leave a bucket half written
        // (no code between begin_write and end_write can panic), so the
        // state is usable after poisoning.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Inserts or replaces; returns the previous value of `key`.
    pub fn insert(&self, hash: u32, key: &FlowKey, value: u32) -> Result<Option<u32>, CmapError> {
        let mut w = self.lock();
        self.insert_locked(&mut w, hash, key, value, true)
    }

    /// Inserts only if `key` is absent; returns the existing value otherwise
    /// (and then changes nothing).
    pub fn insert_unique(
        &self,
        hash: u32,
        key: &FlowKey,
        value: u32,
    ) -> Result<Option<u32>, CmapError> {
        let mut w = self.lock();
        self.insert_locked(&mut w, hash, key, value, false)
    }

    /// Removes `key`; returns its value.
    pub fn remove(&self, hash: u32, key: &FlowKey) -> Option<u32> {
        let mut w = self.lock();
        let a = self.array();
        let (bi, s) = find_slot(a, hash)?;
        let bucket = &a.buckets[bi];
        let head = bucket.entry[s].load(Relaxed);
        let mut prev = EMPTY;
        let mut idx = head;
        while idx != EMPTY {
            let link = self.wlink(idx);
            let next = link.next.load(Relaxed);
            if self.wkey(idx).equals(key) {
                let old = link.value.load(Relaxed);
                let mut slot_freed = false;
                let seq = bucket.begin_write();
                if prev != EMPTY {
                    self.wlink(prev).next.store(next, Relaxed);
                } else if next != EMPTY {
                    bucket.entry[s].store(next, Relaxed);
                    bucket.value[s].store(self.wlink(next).value.load(Relaxed), Relaxed);
                } else {
                    bucket.entry[s].store(EMPTY, Relaxed);
                    bucket.hash[s].store(0, Relaxed);
                    bucket.value[s].store(0, Relaxed);
                    slot_freed = true;
                }
                bucket.end_write(seq);
                w.free.push(idx);
                self.len.0.fetch_sub(1, Relaxed);
                if slot_freed {
                    w.used_slots -= 1;
                    if a.log2 > MIN_LOG2 && w.used_slots * 100 < a.capacity() * SHRINK_PERCENT {
                        // Best effort: a failed rehash keeps the larger array.
                        if self.resize(&mut w, a.log2 - 1) {
                            w.stats.shrinks += 1;
                        }
                    }
                }
                return Some(old);
            }
            prev = idx;
            idx = next;
        }
        None
    }

    /// Calls `f(key, value)` for every entry (under the writer lock, so the
    /// view is consistent; do not call writer methods from `f`).
    pub fn for_each(&self, mut f: impl FnMut(&FlowKey, u32)) {
        let _w = self.lock();
        let a = self.array();
        for b in a.buckets.iter() {
            for s in 0..BUCKET_SLOTS {
                let mut idx = b.entry[s].load(Relaxed);
                while idx != EMPTY {
                    let link = self.wlink(idx);
                    f(&self.wkey(idx).load(), link.value.load(Relaxed));
                    idx = link.next.load(Relaxed);
                }
            }
        }
    }

    fn wkey(&self, idx: u32) -> &super::arena::StoredKey {
        self.arena
            .key(idx)
            .expect("writer invariant: linked entry indexes are allocated")
    }

    fn wlink(&self, idx: u32) -> &super::arena::Link {
        self.arena
            .link(idx)
            .expect("writer invariant: linked entry indexes are allocated")
    }

    fn insert_locked(
        &self,
        w: &mut Writer,
        hash: u32,
        key: &FlowKey,
        value: u32,
        replace: bool,
    ) -> Result<Option<u32>, CmapError> {
        let a = self.array();
        if let Some((bi, s)) = find_slot(a, hash) {
            let bucket = &a.buckets[bi];
            let head = bucket.entry[s].load(Relaxed);
            let mut idx = head;
            while idx != EMPTY {
                let link = self.wlink(idx);
                if self.wkey(idx).equals(key) {
                    let old = link.value.load(Relaxed);
                    if replace {
                        let seq = bucket.begin_write();
                        link.value.store(value, Relaxed);
                        if idx == head {
                            bucket.value[s].store(value, Relaxed);
                        }
                        bucket.end_write(seq);
                    }
                    return Ok(Some(old));
                }
                idx = link.next.load(Relaxed);
            }
            // Same hash, new key: the new entry becomes the chain's head.
            let e = self.alloc(w, hash)?;
            self.arena.write(e, key, head, value);
            bucket.set_slot(s, hash, e, value);
            self.len.0.fetch_add(1, Relaxed);
            return Ok(None);
        }
        let e = self.alloc(w, hash)?;
        self.arena.write(e, key, EMPTY, value);
        if let Err(err) = self.add_slot(w, hash, e, value) {
            w.free.push(e);
            return Err(err);
        }
        w.used_slots += 1;
        self.len.0.fetch_add(1, Relaxed);
        Ok(None)
    }

    fn alloc(&self, w: &mut Writer, hash: u32) -> Result<u32, CmapError> {
        if let Some(e) = w.free.pop() {
            return Ok(e);
        }
        if w.fresh == EMPTY {
            return Err(self.full(hash));
        }
        let e = w.fresh;
        self.arena.ensure(e);
        w.fresh += 1;
        Ok(e)
    }

    fn full(&self, hash: u32) -> CmapError {
        CmapError::Full {
            hash,
            len: self.len(),
            log2: self.array().log2,
        }
    }

    /// Finds a slot for a new hash, growing the table as needed.
    fn add_slot(&self, w: &mut Writer, hash: u32, e: u32, value: u32) -> Result<(), CmapError> {
        let mut a = self.array();
        if (w.used_slots + 1) * 100 > a.capacity() * GROW_PERCENT {
            self.grow(w, a.log2, hash)?;
            a = self.array();
        }
        loop {
            if place(w, a, hash, e, value) {
                return Ok(());
            }
            w.stats.failed_placements += 1;
            self.grow(w, a.log2, hash)?;
            a = self.array();
        }
    }

    /// Rehashes into the smallest larger array that takes every slot.
    fn grow(&self, w: &mut Writer, from: u8, hash: u32) -> Result<(), CmapError> {
        for log2 in from + 1..=MAX_LOG2 {
            if (1usize << log2) > MAX_BUCKETS_PER_SLOT * (w.used_slots + 1).max(64) {
                break;
            }
            if self.resize(w, log2) {
                w.stats.grows += 1;
                return Ok(());
            }
        }
        Err(self.full(hash))
    }

    /// Rehashes every slot into a new array of `1 << log2` buckets and
    /// retires the old one. False (nothing changed) if a slot finds no place.
    fn resize(&self, w: &mut Writer, log2: u8) -> bool {
        let old = self.array();
        let new = self.arrays[log2 as usize].get_or_init(|| BucketArray::new(log2));
        new.clear();
        let moves = w.stats.moves;
        for b in old.buckets.iter() {
            for s in 0..BUCKET_SLOTS {
                let e = b.entry[s].load(Relaxed);
                if e != EMPTY
                    && !place(w, new, b.hash[s].load(Relaxed), e, b.value[s].load(Relaxed))
                {
                    w.stats.moves = moves;
                    return false;
                }
            }
        }
        // Moves inside the private array are not displacements readers see.
        w.stats.moves = moves;
        new.make_live();
        self.current.store(log2, Release);
        // Retire. Release, so that a reader that sees an odd counter then
        // loads the new array on its retry.
        old.retire();
        true
    }
}

#[inline(always)]
fn validate(b: &Bucket, seq: u32, result: Probe) -> Probe {
    fence(Acquire);
    if b.seq.load(Relaxed) == seq {
        result
    } else {
        Probe::Retry
    }
}

/// `hashes[i]` = hash of `keys[i] & mask` for every bit `i` of `map`: one
/// batch call when `map` is a run from key 0 (it overlaps the crc32 chains
/// of consecutive keys), else key by key.
#[inline(always)]
fn hash_keys(keys: &[FlowKey], mask: &FlowKey, map: u32, hashes: &mut [u32; 32]) {
    let n = (32 - map.leading_zeros() as usize).min(keys.len());
    if map == low_bits(n) {
        abi::hash::hash_masked_batch(&keys[..n], mask, &mut hashes[..n]);
    } else {
        for i in Bits(map) {
            hashes[i] = abi::hash_masked(&keys[i], mask);
        }
    }
}

#[inline(always)]
fn low_bits(n: usize) -> u32 {
    if n >= 32 {
        u32::MAX
    } else {
        (1u32 << n) - 1
    }
}

/// Writer: the (bucket, slot) holding `hash`.
fn find_slot(a: &BucketArray, hash: u32) -> Option<(usize, usize)> {
    let [i0, i1] = a.candidates(hash);
    if let Some(s) = a.buckets[i0].slot_of(hash) {
        return Some((i0, s));
    }
    a.buckets[i1].slot_of(hash).map(|s| (i1, s))
}

/// Writer: puts slot `(hash, e, value)` into one of its candidate buckets,
/// displacing other slots along the shortest cuckoo path found by BFS (as
/// OVS's `cmap_insert_bfs`). Each displaced slot is written to its new
/// bucket before its old place is overwritten, so readers never miss it.
fn place(w: &mut Writer, a: &BucketArray, hash: u32, e: u32, value: u32) -> bool {
    let [i0, i1] = a.candidates(hash);
    for bi in [i0, i1] {
        if let Some(s) = a.buckets[bi].empty_slot() {
            a.buckets[bi].set_slot(s, hash, e, value);
            return true;
        }
    }
    let q = &mut w.bfs;
    q.clear();
    q.push(BfsNode {
        bucket: i0 as u32,
        parent: NO_PARENT,
        slot: 0,
    });
    if i1 != i0 {
        q.push(BfsNode {
            bucket: i1 as u32,
            parent: NO_PARENT,
            slot: 0,
        });
    }
    let mut head = 0;
    while head < q.len() {
        let node = q[head];
        let b = &a.buckets[node.bucket as usize];
        for s in 0..BUCKET_SLOTS {
            let [c0, c1] = a.candidates(b.hash[s].load(Relaxed));
            let other = if c0 == node.bucket as usize { c1 } else { c0 };
            if other == node.bucket as usize || on_path(q, head, other as u32) {
                continue;
            }
            if q.len() >= BFS_MAX_NODES {
                return false;
            }
            q.push(BfsNode {
                bucket: other as u32,
                parent: head as u32,
                slot: s as u8,
            });
            if let Some(free) = a.buckets[other].empty_slot() {
                let last = q.len() - 1;
                w.stats.moves += move_along(q, last, free, a);
                let root = &q[path_root_child(q, last)];
                let root_bucket = &a.buckets[q[root.parent as usize].bucket as usize];
                root_bucket.set_slot(root.slot as usize, hash, e, value);
                return true;
            }
        }
        head += 1;
    }
    false
}

/// True when `bucket` is `q[node]` or one of its ancestors.
fn on_path(q: &[BfsNode], mut node: usize, bucket: u32) -> bool {
    loop {
        if q[node].bucket == bucket {
            return true;
        }
        if q[node].parent == NO_PARENT {
            return false;
        }
        node = q[node].parent as usize;
    }
}

/// The node on the path to `node` whose parent is a root (a candidate bucket
/// of the new key).
fn path_root_child(q: &[BfsNode], mut node: usize) -> usize {
    while q[q[node].parent as usize].parent != NO_PARENT {
        node = q[node].parent as usize;
    }
    node
}

/// Moves slots along the path ending at `q[last]`, from the far end
/// (into `free` of `q[last].bucket`) back towards the root. Returns moves.
fn move_along(q: &[BfsNode], last: usize, free: usize, a: &BucketArray) -> u64 {
    let mut node = last;
    let mut dst_slot = free;
    let mut moves = 0;
    loop {
        let n = q[node];
        let parent = q[n.parent as usize];
        let src = &a.buckets[parent.bucket as usize];
        let s = n.slot as usize;
        a.buckets[n.bucket as usize].set_slot(
            dst_slot,
            src.hash[s].load(Relaxed),
            src.entry[s].load(Relaxed),
            src.value[s].load(Relaxed),
        );
        moves += 1;
        if parent.parent == NO_PARENT {
            return moves;
        }
        dst_slot = s;
        node = n.parent as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u64) -> FlowKey {
        FlowKey::from_hw_words(&[i, i ^ 0x55, 0, 0, 0, 0, 0, i.wrapping_mul(3)])
    }

    #[test]
    fn insert_get_remove_small() {
        let m = Cmap::new();
        for i in 0..100u64 {
            assert_eq!(
                m.insert(abi::hash_key(&key(i)), &key(i), i as u32),
                Ok(None)
            );
        }
        assert_eq!(m.len(), 100);
        for i in 0..100u64 {
            assert_eq!(m.get(abi::hash_key(&key(i)), &key(i)), Some(i as u32));
        }
        assert_eq!(m.get(abi::hash_key(&key(100)), &key(100)), None);
        for i in 0..100u64 {
            assert_eq!(m.remove(abi::hash_key(&key(i)), &key(i)), Some(i as u32));
        }
        assert!(m.is_empty());
        assert_eq!(m.buckets(), 1 << MIN_LOG2);
    }

    #[test]
    fn bfs_path_moves_slots_into_alternates() {
        // 4 buckets: bank A 0..2, bank B 2..4. Five hashes with candidates
        // (0, 3) fill bucket 0, ten with (1, 2) fill buckets 1 and 2; a hash
        // with candidates (0, 2) then finds both full and must move one slot
        // from bucket 0 to bucket 3.
        let m = Cmap::with_capacity(16);
        assert_eq!(m.array().log2, 2);
        let h = |c0: u32, c1: u32, j: u32| {
            let x = ((c1 - 2) << 16) | (j << 1) | c0;
            assert_eq!(cuckoo_buckets(x, 2), [c0, c1]);
            x
        };
        let mut keys = Vec::new();
        for j in 0..5 {
            keys.push(h(0, 3, j));
        }
        for j in 0..10 {
            keys.push(h(1, 2, j));
        }
        keys.push(h(0, 2, 7));
        for (i, &hash) in keys.iter().enumerate() {
            assert_eq!(m.insert(hash, &key(i as u64), i as u32), Ok(None));
        }
        assert_eq!(m.writer_stats().moves, 1);
        assert_eq!(m.writer_stats().grows, 0);
        for (i, &hash) in keys.iter().enumerate() {
            assert_eq!(m.get(hash, &key(i as u64)), Some(i as u32));
        }
    }

    #[test]
    fn occupancy_counts_slots_by_candidate() {
        // 4 buckets: hashes with candidates (0, 2) fill bucket 0 (first
        // candidate), the sixth goes to bucket 2 (second candidate).
        let m = Cmap::with_capacity(16);
        let h = |j: u32| (2 << 16) | (j << 2);
        for j in 0..6 {
            assert_eq!(m.insert(h(j), &key(j as u64), j), Ok(None));
        }
        let o = m.occupancy();
        assert_eq!((o.buckets, o.first, o.second), (4, 5, 1));
        // Equal hashes share a slot.
        assert_eq!(m.insert(h(0), &key(99), 99), Ok(None));
        assert_eq!(m.occupancy(), o);
    }

    /// Batch lookups in a DRAM-sized map (≥ 16K buckets) under a writer that grows,
    /// shrinks, displaces, replaces and reuses entries: stable keys are
    /// always found with their value, churning keys never with a wrong one.
    /// ~1 s; `FASTPATH_LONG=1` runs 20 s.
    #[test]
    fn dram_sized_batches_under_churn() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        use std::time::{Duration, Instant};
        const STABLE: u64 = 40_000;
        const CHURN: u64 = 110_000;
        let value = |id: u64| (id as u32).wrapping_mul(2_654_435_761);
        let m = Arc::new(Cmap::new());
        for id in 0..STABLE {
            m.insert(abi::hash_key(&key(id)), &key(id), value(id))
                .unwrap();
        }
        assert!(m.array().log2 >= 14);
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (m, stop) = (m.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut base = 0u64;
                let mut rounds = 0u64;
                let mut out = [None; 32];
                while !stop.load(Relaxed) || rounds < 100 {
                    let ids: [u64; 32] = std::array::from_fn(|i| {
                        base.wrapping_add(i as u64 * 7919) % (STABLE + CHURN)
                    });
                    let keys = ids.map(key);
                    let hashes = keys.map(|k| abi::hash_key(&k));
                    out.fill(None);
                    // Every other round the map hashes the keys itself
                    // (these keys are stored under the abi hash).
                    let found = if rounds.is_multiple_of(2) {
                        m.get_batch(&keys, &FlowKey::ONES, &hashes, u32::MAX, &mut out)
                    } else {
                        m.get_batch_hashing(&keys, &FlowKey::ONES, u32::MAX, &mut out)
                    };
                    for (i, &id) in ids.iter().enumerate() {
                        let hit = found >> i & 1 == 1;
                        assert_eq!(out[i], hit.then(|| value(id)), "key {id}");
                        assert!(hit || id >= STABLE, "stable key {id} missed");
                    }
                    base = base.wrapping_add(104_729);
                    rounds += 1;
                }
            })
        };
        let secs = if std::env::var("FASTPATH_LONG").is_ok_and(|v| v == "1") {
            20
        } else {
            1
        };
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut rounds = 0;
        while Instant::now() < deadline || rounds < 2 {
            for id in STABLE..STABLE + CHURN {
                m.insert(abi::hash_key(&key(id)), &key(id), value(id))
                    .unwrap();
                if id % 3 == 0 {
                    // Remove and re-insert an older one: its entry index is
                    // reused at once.
                    let old = STABLE + (id - STABLE) / 2;
                    assert_eq!(
                        m.remove(abi::hash_key(&key(old)), &key(old)),
                        Some(value(old))
                    );
                    m.insert(abi::hash_key(&key(old)), &key(old), value(old))
                        .unwrap();
                }
            }
            for id in STABLE..STABLE + CHURN {
                assert_eq!(m.remove(abi::hash_key(&key(id)), &key(id)), Some(value(id)));
            }
            rounds += 1;
        }
        stop.store(true, Relaxed);
        reader.join().expect("reader saw a wrong or missing entry");
        let st = m.writer_stats();
        assert!(st.grows > 0 && st.shrinks > 0 && st.moves > 0, "{st:?}");
        assert_eq!(m.len(), STABLE as usize);
    }

    /// Batch lookups while the writer keeps displacing the keys
    /// looked up: stable and churning keys crowd 6 buckets of a 16K-bucket
    /// map (filler keys elsewhere keep it from shrinking), so every insert
    /// runs cuckoo moves through them. A miss reported from the scans
    /// without validation, or a hit on a stale slot, fails the reader.
    #[test]
    fn dram_sized_batches_while_displacing() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        use std::time::{Duration, Instant};
        // Candidates (c0 in bank A, c1 in bank B), made unique by 4 bits `j`
        // outside both bucket indexes (2^14 buckets: two banks of 2^13).
        let h = |c0: u32, c1: u32, j: u32| {
            let x = c0 | (j & 3) << 13 | (c1 - 8192) << 16 | (j >> 2) << 29;
            debug_assert_eq!(cuckoo_buckets(x, 14), [c0, c1]);
            x
        };
        let m = Arc::new(Cmap::with_capacity(60_000));
        assert_eq!(m.array().log2, 14);
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for id in 0..30_000u64 {
            let (c0, c1) = (8 + next() as u32 % 8184, 8200 + next() as u32 % 8184);
            m.insert(h(c0, c1, id as u32 % 16), &key(1 << 40 | id), 0)
                .unwrap();
        }
        // 8 stable and 18 churning keys with random candidate pairs among
        // buckets 0..3 and 8192..8195 (30 slots): near-full, so inserts run
        // cuckoo paths.
        let crowd: Vec<u32> = (0..26u32)
            .map(|i| {
                let r = next() as u32;
                h(r % 3, 8192 + (r >> 8) % 3, i % 16)
            })
            .collect();
        let value = |i: usize| 1000 + i as u32;
        for (i, &hash) in crowd.iter().enumerate().take(8) {
            m.insert(hash, &key(i as u64), value(i)).unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (m, stop, crowd) = (m.clone(), stop.clone(), crowd.clone());
            std::thread::spawn(move || {
                let keys: [FlowKey; 26] = std::array::from_fn(|i| key(i as u64));
                let hashes: [u32; 26] = std::array::from_fn(|i| crowd[i]);
                let mut out = [None; 26];
                let mut rounds = 0u64;
                while !stop.load(Relaxed) || rounds < 1000 {
                    out.fill(None);
                    let found = m.get_batch(&keys, &FlowKey::ONES, &hashes, u32::MAX, &mut out);
                    for (i, o) in out.iter().enumerate() {
                        let hit = found >> i & 1 == 1;
                        assert_eq!(*o, hit.then(|| value(i)), "key {i}");
                        assert!(hit || i >= 8, "stable key {i} missed");
                    }
                    rounds += 1;
                }
            })
        };
        let secs = if std::env::var("FASTPATH_LONG").is_ok_and(|v| v == "1") {
            20
        } else {
            1
        };
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut order: Vec<usize> = (8..26).collect();
        while Instant::now() < deadline {
            // A new order every round, so placements (and moves) differ.
            for j in (1..order.len()).rev() {
                order.swap(j, next() as usize % (j + 1));
            }
            for &i in &order {
                m.insert(crowd[i], &key(i as u64), value(i)).unwrap();
            }
            for &i in order.iter().rev() {
                assert_eq!(m.remove(crowd[i], &key(i as u64)), Some(value(i)));
            }
        }
        stop.store(true, Relaxed);
        reader.join().expect("reader saw a wrong or missing entry");
        let st = m.writer_stats();
        assert!(st.moves > 1000, "{st:?}");
        assert!(m.array().log2 >= 14, "{st:?}");
    }
}
