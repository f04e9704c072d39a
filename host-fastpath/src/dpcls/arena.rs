//! Entry storage of the cuckoo map: keys and chain links addressed by a
//! 32-bit index, in chunks that never move and are never freed while the map
//! lives.
//!
//! Why chunks instead of a `Vec`: readers hold plain references into the
//! storage while the writer allocates more, so the storage must never be
//! reallocated. Chunk `k` holds `BASE << k` entries, so 31 chunks cover the
//! whole 32-bit index space, and a chunk is published once through a
//! [`OnceLock`] (an acquire load for readers, no `unsafe`).
//!
//! Every field is an atomic: the writer may reuse an index (after unlinking
//! it) while a reader still reads the old contents. Such a reader is told by
//! its bucket's version counter to retry (see `cmap`), and the atomics make
//! the racing read well defined instead of a data race.

use abi::{FlowKey, KEY_WORDS};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

/// log2 of the first chunk's size. Small: every megaflow mask has its own
/// map, most hold a few flows, and an upcall that creates a subtable pays
/// for initialising this chunk (64 entries were 4.5 KB of fresh memory).
const BASE_LOG2: u32 = 2;
/// Chunks needed to address every `u32` index.
const MAX_CHUNKS: usize = (33 - BASE_LOG2) as usize;

/// A stored key: one cache line, like [`FlowKey`].
#[repr(C, align(64))]
#[derive(Default)]
pub(crate) struct StoredKey {
    words: [AtomicU64; KEY_WORDS],
}

impl StoredKey {
    /// True when `key & mask` equals the stored key.
    #[inline(always)]
    pub(crate) fn matches(&self, key: &FlowKey, mask: &FlowKey) -> bool {
        let mut diff = 0;
        for i in 0..KEY_WORDS {
            diff |= self.words[i].load(Relaxed) ^ (key.words[i] & mask.words[i]);
        }
        diff == 0
    }

    /// True when the stored key equals `key` (writer side).
    #[inline]
    pub(crate) fn equals(&self, key: &FlowKey) -> bool {
        self.matches(key, &FlowKey::ONES)
    }

    /// The stored key (writer side, or validated by the caller).
    pub(crate) fn load(&self) -> FlowKey {
        let mut k = FlowKey::ZERO;
        for (w, a) in k.words.iter_mut().zip(self.words.iter()) {
            *w = a.load(Relaxed);
        }
        k
    }

    fn store(&self, key: &FlowKey) {
        for (a, w) in self.words.iter().zip(key.words.iter()) {
            a.store(*w, Relaxed);
        }
    }
}

/// Chain link and value of an entry. The value is also cached in the bucket
/// slot of a chain's head, so a hit on a head reads no link.
#[derive(Default)]
pub(crate) struct Link {
    pub(crate) next: AtomicU32,
    pub(crate) value: AtomicU32,
}

struct Chunk {
    keys: Box<[StoredKey]>,
    links: Box<[Link]>,
}

/// Chunked entry storage. Only the map's single writer calls [`Arena::ensure`]
/// and [`Arena::write`].
pub(crate) struct Arena {
    chunks: [OnceLock<Chunk>; MAX_CHUNKS],
}

#[inline(always)]
fn locate(idx: u32) -> (usize, usize) {
    let i = idx as u64 + (1u64 << BASE_LOG2);
    let k = 63 - i.leading_zeros() - BASE_LOG2;
    (k as usize, (i - (1u64 << (k + BASE_LOG2))) as usize)
}

impl Arena {
    pub(crate) fn new() -> Self {
        Self {
            chunks: [const { OnceLock::new() }; MAX_CHUNKS],
        }
    }

    /// The key at `idx`, or `None` if `idx` was never allocated (only a torn
    /// read produces such an index; the caller retries).
    #[inline(always)]
    pub(crate) fn key(&self, idx: u32) -> Option<&StoredKey> {
        let (k, off) = locate(idx);
        self.chunks.get(k)?.get()?.keys.get(off)
    }

    /// The link at `idx` (see [`Arena::key`]).
    #[inline(always)]
    pub(crate) fn link(&self, idx: u32) -> Option<&Link> {
        let (k, off) = locate(idx);
        self.chunks.get(k)?.get()?.links.get(off)
    }

    /// Makes sure `idx` is backed by memory (writer only).
    pub(crate) fn ensure(&self, idx: u32) {
        let (k, _) = locate(idx);
        self.chunks[k].get_or_init(|| {
            let n = 1usize << (k as u32 + BASE_LOG2);
            Chunk {
                keys: super::hugepage::boxed_slice(n, StoredKey::default),
                links: super::hugepage::boxed_slice(n, Link::default),
            }
        });
    }

    /// Writes a whole entry (writer only; `idx` must have been ensured and
    /// must not be reachable from any bucket: the caller publishes it after).
    pub(crate) fn write(&self, idx: u32, key: &FlowKey, next: u32, value: u32) {
        // Release fence: a reader that still follows an old reference to
        // `idx` and reads any of these stores is then guaranteed (fence to
        // fence synchronisation with its acquire fence) to see every bucket
        // version bump made before, in particular the one that unlinked
        // `idx`, and so retries.
        std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
        if let (Some(k), Some(l)) = (self.key(idx), self.link(idx)) {
            k.store(key);
            l.next.store(next, Relaxed);
            l.value.store(value, Relaxed);
        }
    }

    /// Memory held, in bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.chunks
            .iter()
            .filter_map(|c| c.get())
            .map(|c| c.keys.len() * (size_of::<StoredKey>() + size_of::<Link>()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_covers_the_index_space_without_gaps() {
        let base = 1u32 << BASE_LOG2;
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(base - 1), (0, base as usize - 1));
        assert_eq!(locate(base), (1, 0));
        assert_eq!(locate(3 * base - 1), (1, 2 * base as usize - 1));
        assert_eq!(locate(3 * base), (2, 0));
        let (k, off) = locate(u32::MAX);
        assert!(k < MAX_CHUNKS);
        assert!(off < 1 << (k as u32 + BASE_LOG2));
        for i in 0..5000u32 {
            let (k, off) = locate(i);
            let start = ((1u64 << (k as u32 + BASE_LOG2)) - (1 << BASE_LOG2)) as u32;
            assert_eq!(start + off as u32, i);
        }
    }

    #[test]
    fn unallocated_indexes_read_as_none() {
        let a = Arena::new();
        assert!(a.key(0).is_none());
        // Chunk 1 holds indexes base..3 * base.
        let base = 1u32 << BASE_LOG2;
        a.ensure(base + 1);
        assert!(a.key(base).is_some() && a.key(3 * base - 1).is_some());
        assert!(a.key(0).is_none() && a.key(3 * base).is_none());
        let k = FlowKey::from_hw_words(&[1, 2, 3, 4, 5, 6, 7, 8]);
        a.write(base + 1, &k, 9, 10);
        assert_eq!(a.key(base + 1).map(|s| s.load()), Some(k));
        assert!(a.key(base + 1).is_some_and(|s| s.equals(&k)));
    }
}
