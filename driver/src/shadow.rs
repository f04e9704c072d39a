//! Host copies of the hardware tables, and cuckoo path search.
//!
//! The NIC never reads entries back: the host knows what it wrote, so it
//! keeps the key, hash and flow id of every entry here. That is what lets it
//! place an entry (which candidate is free, which resident can move) without
//! a single register read.

use abi::action::ActionEntry;
use abi::geometry::cuckoo_buckets;
use abi::{FlowKey, Geometry};

/// One EMC entry as the host wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EmcEntry {
    pub key: FlowKey,
    pub hash: u32,
    pub flow_id: u32,
    /// Action-RAM word written with the entry.
    pub action: ActionEntry,
}

/// One megaflow entry as the host wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MfEntry {
    /// `key & mask`.
    pub masked: FlowKey,
    pub hash: u32,
    pub flow_id: u32,
    /// Action-RAM word written with the entry (and again at every move).
    pub action: ActionEntry,
    /// Hits counted by hardware at earlier positions: a move rewrites the
    /// entry, which restarts its hardware counter.
    pub hits_carry: u64,
    /// Bytes counted likewise, modulo 2^[`abi::regs::STATS_BYTES_BITS`].
    pub bytes_carry: u64,
}

/// One mask slot: its mask and its cuckoo table.
#[derive(Clone, Debug)]
pub(crate) struct MfSlot {
    pub mask: Option<FlowKey>,
    pub entries: Vec<Option<MfEntry>>,
    pub count: usize,
}

impl MfSlot {
    pub fn new(g: &Geometry) -> Self {
        MfSlot {
            mask: None,
            entries: vec![None; g.mf_entries_per_slot() as usize],
            count: 0,
        }
    }

    /// Index of the entry with this masked key, searching only its buckets.
    pub fn find(&self, g: &Geometry, masked: &FlowKey, hash: u32) -> Option<u32> {
        for b in cuckoo_buckets(hash, g.mf_log2_buckets) {
            for w in 0..g.mf_bucket_slots {
                let i = g.mf_index(b, w);
                if let Some(e) = &self.entries[i as usize] {
                    if e.hash == hash && e.masked == *masked {
                        return Some(i);
                    }
                }
            }
        }
        None
    }

    fn free_way(&self, g: &Geometry, bucket: u32) -> Option<u32> {
        (0..g.mf_bucket_slots)
            .map(|w| g.mf_index(bucket, w))
            .find(|&i| self.entries[i as usize].is_none())
    }

    /// Where a new entry with `hash` goes: the free position it takes and the
    /// moves (source index → destination index) to make first, in execution
    /// order. Breadth-first over buckets, so the path is a shortest one;
    /// `max_moves` bounds it (`false`: no path, the table is full here).
    /// `scratch` is reused across calls so an install does not allocate.
    pub fn place(&self, g: &Geometry, hash: u32, max_moves: usize, scratch: &mut Scratch) -> bool {
        let Scratch {
            nodes,
            seen,
            placement,
        } = scratch;
        nodes.clear();
        seen.clear();
        placement.moves.clear();
        for b in cuckoo_buckets(hash, g.mf_log2_buckets) {
            if !seen.contains(&b) {
                seen.push(b);
                nodes.push(Node {
                    bucket: b,
                    parent: usize::MAX,
                    moved: 0,
                    depth: 0,
                });
            }
        }
        let mut head = 0;
        while head < nodes.len() {
            let (bucket, depth) = (nodes[head].bucket, nodes[head].depth);
            if let Some(free) = self.free_way(g, bucket) {
                // Unwind: each moved entry goes to the position its child freed.
                let mut dst = free;
                let mut n = head;
                while nodes[n].parent != usize::MAX {
                    placement.moves.push((nodes[n].moved, dst));
                    dst = nodes[n].moved;
                    n = nodes[n].parent;
                }
                placement.target = dst;
                return true;
            }
            if depth < max_moves {
                for w in 0..g.mf_bucket_slots {
                    let i = g.mf_index(bucket, w);
                    let Some(e) = &self.entries[i as usize] else {
                        continue;
                    };
                    let [a, b] = cuckoo_buckets(e.hash, g.mf_log2_buckets);
                    let alt = if a == bucket { b } else { a };
                    // `seen` stays short (≤ a few hundred buckets at depth 4),
                    // so a linear scan beats hashing here.
                    if alt == bucket || seen.contains(&alt) {
                        continue;
                    }
                    seen.push(alt);
                    nodes.push(Node {
                        bucket: alt,
                        parent: head,
                        moved: i,
                        depth: depth + 1,
                    });
                }
            }
            head += 1;
        }
        false
    }
}

/// One bucket reached by the path search.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    bucket: u32,
    parent: usize,
    /// Index (in the parent's bucket) of the entry that moves here.
    moved: u32,
    depth: usize,
}

/// Buffers of [`MfSlot::place`], kept by the Nic between installs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    nodes: Vec<Node>,
    seen: Vec<u32>,
    /// The last placement found.
    pub placement: Placement,
}

/// Result of [`MfSlot::place`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Placement {
    /// Index the new entry takes (free once the moves are done).
    pub target: u32,
    /// `(from, to)` entry moves, deepest first: each destination is free (or
    /// already copied elsewhere) when it is written.
    pub moves: Vec<(u32, u32)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> Geometry {
        Geometry {
            emc_log2_entries: 4,
            mf_slots: 2,
            mf_log2_buckets: 2,
            mf_bucket_slots: 1,
            missq_log2_depth: 2,
        }
    }

    fn put(s: &mut MfSlot, i: u32, hash: u32) {
        s.entries[i as usize] = Some(MfEntry {
            masked: FlowKey::from_words([hash as u64, 0, 0, 0, 0, 0, 0, 0]),
            hash,
            flow_id: hash,
            action: ActionEntry::TO_HOST,
            hits_carry: 0,
            bytes_carry: 0,
        });
        s.count += 1;
    }

    /// A hash whose two buckets (4 buckets: bank A 0..2, bank B 2..4) are
    /// `a` and `b`.
    fn h(a: u32, b: u32) -> u32 {
        assert!(a < 2 && (2..4).contains(&b));
        let x = a | ((b - 2) << 16);
        assert_eq!(cuckoo_buckets(x, 2), [a, b]);
        x
    }

    fn place(s: &MfSlot, g: &Geometry, hash: u32, max: usize) -> Option<Placement> {
        let mut sc = Scratch::default();
        s.place(g, hash, max, &mut sc).then_some(sc.placement)
    }

    #[test]
    fn direct_then_displacement_then_full() {
        let g = g();
        let mut s = MfSlot::new(&g);
        // Empty: straight into the first candidate.
        let p = place(&s, &g, h(1, 2), 4).unwrap();
        assert_eq!((p.target, p.moves.len()), (1, 0));
        put(&mut s, 1, h(1, 3));
        put(&mut s, 2, h(0, 2));
        // New key wants 1 or 2 (both taken); 1's resident can go to 3, 2's to 0.
        let p = place(&s, &g, h(1, 2), 4).unwrap();
        assert_eq!(p.moves.len(), 1);
        assert!(p.moves == vec![(1, 3)] || p.moves == vec![(2, 0)]);
        // 3 taken by an entry that can only go back to 1: 2's resident goes
        // to 0 directly.
        put(&mut s, 3, h(1, 3));
        let p = place(&s, &g, h(1, 2), 4).unwrap();
        assert_eq!(p.moves, vec![(2, 0)]);
        assert_eq!(p.target, 2);
        put(&mut s, 0, h(0, 2));
        assert_eq!(place(&s, &g, h(1, 2), 4), None);
    }

    #[test]
    fn path_length_is_bounded() {
        let g = g();
        let mut s = MfSlot::new(&g);
        // New key wants 0 or 2. 0's resident can only go to 2; 2's to 1;
        // 1's to 3 (free): a chain of two moves.
        put(&mut s, 0, h(0, 2));
        put(&mut s, 2, h(1, 2));
        put(&mut s, 1, h(1, 3));
        let p = place(&s, &g, h(0, 2), 4).unwrap();
        assert_eq!(p.moves, vec![(1, 3), (2, 1)]);
        assert_eq!(p.target, 2);
        assert_eq!(place(&s, &g, h(0, 2), 1), None);
    }
}
