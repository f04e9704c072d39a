//! Host copies of the hardware tables, and cuckoo path search.
//!
//! The NIC never reads entries back: the host knows what it wrote, so it
//! keeps the key, hash and flow id of every entry here. That is what lets it
//! place an entry (which candidate is free, which resident can move) without
//! a single register read.
//!
//! Signature invariant: a hardware way holds a 16-bit signature of its key
//! ([`abi::geometry::signatures`]) and a lookup compares the full key only of
//! the first valid way whose signature matches. So within a bucket the valid
//! ways must have distinct signatures: a way is never given to a key whose
//! signature another valid way of that bucket already has, and cuckoo moves
//! respect the same rule at every step. Then the hardware finds exactly what
//! a search of every way would.

use abi::action::ActionEntry;
use abi::geometry::{cuckoo_buckets, signatures};
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

    /// Whether a way of `bucket` other than `except` holds a valid entry
    /// with the signature a key of `hash` has in that bucket's bank.
    fn sig_taken(&self, g: &Geometry, bucket: u32, hash: u32, except: Option<u32>) -> bool {
        let bank = usize::from(bucket >= g.mf_buckets() / 2);
        let sig = signatures(hash)[bank];
        (0..g.mf_bucket_slots)
            .map(|w| g.mf_index(bucket, w))
            .filter(|&i| Some(i) != except)
            .filter_map(|i| self.entries[i as usize].as_ref())
            .any(|e| signatures(e.hash)[bank] == sig)
    }

    /// A free way of `bucket` a key of `hash` may take.
    fn free_way(&self, g: &Geometry, bucket: u32, hash: u32) -> Option<u32> {
        if self.sig_taken(g, bucket, hash, None) {
            return None;
        }
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
            if !seen.contains(&(b, hash)) {
                seen.push((b, hash));
                nodes.push(Node {
                    bucket: b,
                    hash,
                    parent: usize::MAX,
                    moved: 0,
                    depth: 0,
                });
            }
        }
        let mut head = 0;
        while head < nodes.len() {
            let (bucket, depth, entering) =
                (nodes[head].bucket, nodes[head].depth, nodes[head].hash);
            if let Some(free) = self.free_way(g, bucket, entering) {
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
                    // The entering key takes this way: no other valid way of
                    // the bucket may have its signature.
                    if self.sig_taken(g, bucket, entering, Some(i)) {
                        continue;
                    }
                    let [a, b] = cuckoo_buckets(e.hash, g.mf_log2_buckets);
                    let alt = if a == bucket { b } else { a };
                    // A bucket is searched once per entering key (its
                    // signatures decide what may enter), and at most once
                    // on a path (the planned moves assume it unchanged).
                    // `seen` stays short (≤ a few hundred buckets at depth 4),
                    // so a linear scan beats hashing here.
                    if alt == bucket || seen.contains(&(alt, e.hash)) || on_path(nodes, head, alt) {
                        continue;
                    }
                    seen.push((alt, e.hash));
                    nodes.push(Node {
                        bucket: alt,
                        hash: e.hash,
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

/// Whether `bucket` is node `n` or one of its ancestors.
fn on_path(nodes: &[Node], mut n: usize, bucket: u32) -> bool {
    loop {
        if nodes[n].bucket == bucket {
            return true;
        }
        if nodes[n].parent == usize::MAX {
            return false;
        }
        n = nodes[n].parent;
    }
}

/// One bucket reached by the path search.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    bucket: u32,
    /// Hash of the key that enters this bucket (the new one, or the entry
    /// moved here from the parent).
    hash: u32,
    parent: usize,
    /// Index (in the parent's bucket) of the entry that moves here.
    moved: u32,
    depth: usize,
}

/// Buffers of [`MfSlot::place`], kept by the Nic between installs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    nodes: Vec<Node>,
    seen: Vec<(u32, u32)>,
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
            masked: FlowKey::from_hw_words(&[hash as u64, 0, 0, 0, 0, 0, 0, 0]),
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
    fn a_way_is_never_shared_by_two_signatures() {
        let g = Geometry {
            mf_bucket_slots: 2,
            ..g()
        };
        let mut s = MfSlot::new(&g);
        let at = |b, w| g.mf_index(b, w);
        // k1, k2: bank A bucket 1, one bank A signature (0x76), bank B
        // bucket 2 (bucket and signature are disjoint hash bits, so keys
        // that clash in bank A share their bank B bucket too).
        let (k1, k2) = (0x0076_0001, 0x0076_0003);
        assert_eq!(signatures(k1)[0], signatures(k2)[0]);
        assert_eq!(cuckoo_buckets(k1, 2), [1, 2]);
        assert_eq!(cuckoo_buckets(k2, 2), [1, 2]);
        put(&mut s, at(1, 0), k1);
        // Bucket 1 has a free way, but k2's signature is taken there.
        let p = place(&s, &g, k2, 4).unwrap();
        assert_eq!((p.target, p.moves.len()), (at(2, 0), 0));
        // Bucket 2 full: y (way 0, alt bucket 0, free) may not leave for
        // k2, because x (way 1) has k2's bank B signature (3); x may, to
        // bucket 1's free way.
        let (y, x) = (0x0100_0000, 0x0100_0003);
        assert_eq!(signatures(x)[1], signatures(k2)[1]);
        put(&mut s, at(2, 0), y);
        put(&mut s, at(2, 1), x);
        let p = place(&s, &g, k2, 4).unwrap();
        assert_eq!(p.moves, vec![(at(2, 1), at(1, 1))]);
        assert_eq!(p.target, at(2, 1));
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
