//! Binary prefix trie with Open vSwitch's lookup contract.
//!
//! Holds the prefixes (value, length) of rules on one field and answers, for
//! a packet's value, (a) at which prefix lengths some rule's prefix matches
//! and (b) how many leading bits had to be examined to know that: the
//! matching bits plus the one bit where the packet left the trie if another
//! branch exists there. This is `trie_lookup_value` from OVS
//! lib/classifier.c; the trie here is uncompressed (one node per bit), which
//! gives identical answers and keeps insert/remove trivial.
//!
//! [`PrefixTrie`] is path-compressed (one node per branching point or rule
//! prefix, an edge holding up to 128 bits), so a lookup costs a cache miss
//! per branching point instead of per bit. [`RefTrie`], one node per bit, is
//! the straightforward reference the tests compare it with.

/// Reference trie: one node per bit (tests compare [`PrefixTrie`] with it).
#[derive(Clone, Debug)]
pub struct RefTrie {
    n_bits: u32,
    /// Node 0 is the root. One 12-byte node per step keeps a lookup at one
    /// cache line per bit.
    nodes: Vec<Node>,
    free: Vec<u32>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Node {
    /// [child for bit 0, child for bit 1]; 0 = none.
    child: [u32; 2],
    /// Rules whose prefix ends here.
    n_rules: u32,
}

/// Result of a lookup.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrieMatch {
    /// Bit `len - 1` set when a prefix of length `len` matches.
    pub plens: u128,
    /// Leading bits that must be un-wildcarded to rely on `plens`.
    pub maskbits: u32,
}

impl RefTrie {
    /// An empty trie over `n_bits`-bit values.
    pub fn new(n_bits: u32) -> Self {
        Self {
            n_bits,
            nodes: vec![Node::default()],
            free: Vec::new(),
        }
    }

    /// Width of the values.
    pub fn n_bits(&self) -> u32 {
        self.n_bits
    }

    #[inline]
    fn bit(&self, value: u128, i: u32) -> usize {
        ((value >> (self.n_bits - 1 - i)) & 1) as usize
    }

    /// Adds one rule with prefix `value` (right-aligned `n_bits` value) of length `len` (≥ 1).
    pub fn insert(&mut self, value: u128, len: u32) {
        let mut node = 0usize;
        for i in 0..len.min(self.n_bits) {
            let b = self.bit(value, i);
            let c = self.nodes[node].child[b];
            node = if c == 0 {
                let n = match self.free.pop() {
                    Some(n) => {
                        self.nodes[n as usize] = Node::default();
                        n
                    }
                    None => {
                        self.nodes.push(Node::default());
                        (self.nodes.len() - 1) as u32
                    }
                };
                self.nodes[node].child[b] = n;
                n as usize
            } else {
                c as usize
            };
        }
        self.nodes[node].n_rules += 1;
    }

    /// Removes one rule inserted with the same arguments; prunes empty branches.
    pub fn remove(&mut self, value: u128, len: u32) -> bool {
        let mut path = Vec::with_capacity(len as usize + 1);
        let mut node = 0usize;
        path.push(node);
        for i in 0..len.min(self.n_bits) {
            let c = self.nodes[node].child[self.bit(value, i)];
            if c == 0 {
                return false;
            }
            node = c as usize;
            path.push(node);
        }
        if self.nodes[node].n_rules == 0 {
            return false;
        }
        self.nodes[node].n_rules -= 1;
        // Prune nodes left with neither rules nor children, deepest first.
        for d in (1..path.len()).rev() {
            let n = path[d];
            if self.nodes[n].n_rules != 0 || self.nodes[n].child != [0, 0] {
                break;
            }
            let parent = path[d - 1];
            let b = self.bit(value, (d - 1) as u32);
            self.nodes[parent].child[b] = 0;
            self.free.push(n as u32);
        }
        true
    }

    /// OVS `trie_lookup_value`.
    #[inline]
    pub fn lookup(&self, value: u128) -> TrieMatch {
        let mut plens = 0u128;
        let mut node = 0usize;
        if self.nodes[0].child == [0, 0] && self.nodes[0].n_rules == 0 {
            return TrieMatch { plens, maskbits: 0 };
        }
        let mut depth = 0u32;
        loop {
            let nd = self.nodes[node];
            if depth > 0 && nd.n_rules > 0 {
                plens |= 1u128 << (depth - 1);
            }
            if depth >= self.n_bits {
                return TrieMatch {
                    plens,
                    maskbits: self.n_bits,
                };
            }
            let b = self.bit(value, depth);
            let c = nd.child[b];
            if c == 0 {
                // Left the trie: the bit at `depth` must be examined only if
                // the other branch exists.
                let other = nd.child[1 - b];
                let maskbits = if other != 0 { depth + 1 } else { depth };
                return TrieMatch { plens, maskbits };
            }
            node = c as usize;
            depth += 1;
        }
    }
}

/// Path-compressed prefix trie over `n_bits`-bit values (≤ 128).
#[derive(Clone, Debug)]
pub struct PrefixTrie {
    n_bits: u32,
    /// Node 0 is the root (empty edge).
    nodes: Vec<CNode>,
    free: Vec<u32>,
}

#[derive(Clone, Copy, Debug, Default)]
struct CNode {
    /// Edge bits leading to this node, left-aligned (first bit = MSB).
    bits: u128,
    /// Edge length in bits (0 only for the root).
    len: u32,
    n_rules: u32,
    child: [u32; 2],
}

#[inline]
fn top(n: u32) -> u128 {
    if n == 0 {
        0
    } else if n >= 128 {
        u128::MAX
    } else {
        !(u128::MAX >> n)
    }
}

impl PrefixTrie {
    /// An empty trie over `n_bits`-bit values.
    pub fn new(n_bits: u32) -> Self {
        Self {
            n_bits,
            nodes: vec![CNode::default()],
            free: Vec::new(),
        }
    }

    /// Width of the values.
    pub fn n_bits(&self) -> u32 {
        self.n_bits
    }

    /// Nodes in use (diagnostics).
    pub fn n_nodes(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    #[inline]
    fn align(&self, value: u128) -> u128 {
        if self.n_bits >= 128 {
            value
        } else {
            value << (128 - self.n_bits)
        }
    }

    fn alloc(&mut self, n: CNode) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = n;
                i
            }
            None => {
                self.nodes.push(n);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Adds one rule with prefix `value` (right-aligned) of length `len` (≥ 1).
    pub fn insert(&mut self, value: u128, len: u32) {
        let len = len.min(self.n_bits);
        let v = self.align(value) & top(len);
        let mut node = 0usize;
        let mut depth = 0u32;
        loop {
            if depth == len {
                self.nodes[node].n_rules += 1;
                return;
            }
            let rest = v << depth;
            let b = (rest >> 127) as usize;
            let c = self.nodes[node].child[b];
            if c == 0 {
                let leaf = self.alloc(CNode {
                    bits: rest & top(len - depth),
                    len: len - depth,
                    n_rules: 1,
                    child: [0, 0],
                });
                self.nodes[node].child[b] = leaf;
                return;
            }
            let cn = self.nodes[c as usize];
            let eq = ((rest ^ cn.bits).leading_zeros())
                .min(cn.len)
                .min(len - depth);
            if eq == cn.len {
                depth += cn.len;
                node = c as usize;
                continue;
            }
            // Split the edge after `eq` bits.
            let lower_bit = ((cn.bits << eq) >> 127) as usize;
            let mut mid = CNode {
                bits: cn.bits & top(eq),
                len: eq,
                n_rules: 0,
                child: [0, 0],
            };
            mid.child[lower_bit] = c;
            {
                let cm = &mut self.nodes[c as usize];
                cm.bits <<= eq;
                cm.len -= eq;
            }
            let m = self.alloc(mid);
            self.nodes[node].child[b] = m;
            node = m as usize;
            depth += eq;
        }
    }

    /// Removes one rule inserted with the same arguments; prunes empty leaves.
    pub fn remove(&mut self, value: u128, len: u32) -> bool {
        let len = len.min(self.n_bits);
        let v = self.align(value) & top(len);
        let mut path: Vec<(usize, usize)> = Vec::new();
        let mut node = 0usize;
        let mut depth = 0u32;
        while depth < len {
            let rest = v << depth;
            let b = (rest >> 127) as usize;
            let c = self.nodes[node].child[b];
            if c == 0 {
                return false;
            }
            let cn = self.nodes[c as usize];
            if cn.len > len - depth || (rest ^ cn.bits) & top(cn.len) != 0 {
                return false;
            }
            path.push((node, b));
            node = c as usize;
            depth += cn.len;
        }
        if self.nodes[node].n_rules == 0 {
            return false;
        }
        self.nodes[node].n_rules -= 1;
        // Unlink childless nodes without rules, deepest first. Single-child
        // nodes stay: they answer lookups exactly as a merged edge would.
        let mut cur = node;
        while let Some((parent, b)) = path.pop() {
            let n = self.nodes[cur];
            if n.n_rules != 0 || n.child != [0, 0] {
                break;
            }
            self.nodes[parent].child[b] = 0;
            self.free.push(cur as u32);
            cur = parent;
        }
        true
    }

    /// Re-lays the nodes out in depth-first order, so that the nodes of a
    /// subtree (a cluster of nested prefixes) share cache lines and a lookup
    /// walks mostly forward through memory. Call after loading a rule table.
    pub fn compact(&mut self) {
        let mut out: Vec<CNode> = Vec::with_capacity(self.n_nodes());
        // Iterative preorder copy: (old index, new index of parent, which child).
        let mut stack: Vec<(u32, usize, usize)> = vec![(0, usize::MAX, 0)];
        while let Some((old, parent, b)) = stack.pop() {
            let mut n = self.nodes[old as usize];
            let kids = n.child;
            n.child = [0, 0];
            out.push(n);
            let me = out.len() - 1;
            if parent != usize::MAX {
                out[parent].child[b] = me as u32;
            }
            // Push child 1 first so child 0 is copied right after its parent.
            for cb in [1usize, 0] {
                if kids[cb] != 0 {
                    stack.push((kids[cb], me, cb));
                }
            }
        }
        self.nodes = out;
        self.free.clear();
    }

    /// OVS `trie_lookup_value`.
    #[inline]
    pub fn lookup(&self, value: u128) -> TrieMatch {
        let mut w = Walk::new(self, value);
        loop {
            if let Some(m) = w.step(self) {
                return m;
            }
        }
    }

    /// Two lookups (in two tries) walked in lockstep, one node of each per
    /// step, so the cache misses of the two walks overlap instead of
    /// following each other (a translation needs both address tries, and a
    /// 10 000-rule trie is not in cache). Same answers as two
    /// [`PrefixTrie::lookup`]s.
    pub fn lookup_pair(
        (ta, va): (&PrefixTrie, u128),
        (tb, vb): (&PrefixTrie, u128),
    ) -> (TrieMatch, TrieMatch) {
        let (mut wa, mut wb) = (Walk::new(ta, va), Walk::new(tb, vb));
        let (mut ra, mut rb) = (None, None);
        loop {
            if ra.is_none() {
                ra = wa.step(ta);
            }
            if rb.is_none() {
                rb = wb.step(tb);
            }
            if let (Some(a), Some(b)) = (ra, rb) {
                return (a, b);
            }
        }
    }
}

/// A lookup in progress (see [`PrefixTrie::lookup`]).
struct Walk {
    v: u128,
    node: u32,
    depth: u32,
    plens: u128,
}

impl Walk {
    #[inline(always)]
    fn new(t: &PrefixTrie, value: u128) -> Walk {
        Walk {
            v: t.align(value),
            node: 0,
            depth: 0,
            plens: 0,
        }
    }

    /// Takes one node; the answer when the walk ends there.
    #[inline(always)]
    fn step(&mut self, t: &PrefixTrie) -> Option<TrieMatch> {
        let plens = self.plens;
        let Some(node) = t.nodes.get(self.node as usize) else {
            // Never: children are valid indexes. Stop where we are.
            return Some(TrieMatch {
                plens,
                maskbits: self.depth,
            });
        };
        if self.node == 0 && node.child == [0, 0] {
            return Some(TrieMatch { plens, maskbits: 0 });
        }
        let depth = self.depth;
        let mut plens = plens;
        if depth > 0 && node.n_rules > 0 {
            plens |= 1u128 << (depth - 1);
        }
        self.plens = plens;
        if depth >= t.n_bits {
            return Some(TrieMatch {
                plens,
                maskbits: t.n_bits,
            });
        }
        let rest = self.v << depth;
        let b = (rest >> 127) as usize;
        let c = node.child[b];
        if c == 0 {
            let maskbits = if node.child[1 - b] != 0 {
                depth + 1
            } else {
                depth
            };
            return Some(TrieMatch { plens, maskbits });
        }
        let Some(cn) = t.nodes.get(c as usize) else {
            return Some(TrieMatch {
                plens,
                maskbits: depth,
            });
        };
        let eq = (rest ^ cn.bits).leading_zeros();
        if eq < cn.len {
            // Left the trie inside the edge: that bit had to be examined.
            return Some(TrieMatch {
                plens,
                maskbits: depth + eq + 1,
            });
        }
        self.depth = depth + cn.len;
        self.node = c;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    proptest! {
        /// The lockstep pair walk answers as two separate lookups.
        #[test]
        fn pair_lookup_equals_two_lookups(
            a_rules in proptest::collection::vec((any::<u32>(), 1u32..=32), 0..40),
            b_rules in proptest::collection::vec((any::<u32>(), 1u32..=32), 0..40),
            probes in proptest::collection::vec((any::<u32>(), any::<u32>()), 1..40),
        ) {
            let (mut a, mut b) = (PrefixTrie::new(32), PrefixTrie::new(32));
            for (v, l) in a_rules {
                a.insert((v & (u32::MAX << (32 - l))) as u128, l);
            }
            for (v, l) in b_rules {
                b.insert((v & (u32::MAX << (32 - l))) as u128, l);
            }
            a.compact();
            for (x, y) in probes {
                let (ma, mb) = PrefixTrie::lookup_pair((&a, x as u128), (&b, y as u128));
                let (wa, wb) = (a.lookup(x as u128), b.lookup(y as u128));
                prop_assert_eq!((ma.plens, ma.maskbits), (wa.plens, wa.maskbits));
                prop_assert_eq!((mb.plens, mb.maskbits), (wb.plens, wb.maskbits));
            }
        }

        #[test]
        fn compressed_equals_reference(
            ops in proptest::collection::vec((any::<u32>(), 1u32..=32, any::<bool>()), 1..60),
            probes in proptest::collection::vec(any::<u32>(), 1..40),
        ) {
            let mut a = PrefixTrie::new(32);
            let mut r = RefTrie::new(32);
            let mut live: Vec<(u128, u32)> = Vec::new();
            for (v, l, del) in ops {
                // Cluster values so prefixes nest and share edges.
                let v = (v & 0xff0f_00ff) as u128 & (((1u128 << l) - 1) << (32 - l));
                if del && !live.is_empty() {
                    let (v, l) = live.remove(0);
                    prop_assert_eq!(a.remove(v, l), r.remove(v, l));
                } else {
                    a.insert(v, l);
                    r.insert(v, l);
                    live.push((v, l));
                }
                let mut c = a.clone();
                c.compact();
                for &p in &probes {
                    let p = (p & 0xff0f_00ff) as u128;
                    let (x, y, z) = (a.lookup(p), r.lookup(p), c.lookup(p));
                    prop_assert_eq!((x.plens, x.maskbits), (y.plens, y.maskbits));
                    prop_assert_eq!((z.plens, z.maskbits), (y.plens, y.maskbits));
                }
            }
        }
    }

    #[test]
    fn ovs_examples() {
        let mut t = PrefixTrie::new(32);
        assert_eq!(t.lookup(5).maskbits, 0);
        t.insert(0x0a00_0000, 8);
        let r = t.lookup(0x0a01_0203);
        assert_eq!((r.plens, r.maskbits), (1 << 7, 8));
        let r = t.lookup(0x0b00_0000);
        // 0x0a vs 0x0b differ at bit 7: 8 bits examined.
        assert_eq!((r.plens, r.maskbits), (0, 8));
        t.insert(0x0a01_0000, 16);
        let r = t.lookup(0x0a01_0203);
        assert_eq!((r.plens, r.maskbits), ((1 << 7) | (1 << 15), 16));
        let r = t.lookup(0x0a02_0000);
        assert_eq!(r.plens, 1 << 7);
        assert_eq!(r.maskbits, 15);
        assert!(t.remove(0x0a01_0000, 16));
        assert!(!t.remove(0x0a01_0000, 16));
        let r = t.lookup(0x0a01_0203);
        assert_eq!((r.plens, r.maskbits), (1 << 7, 8));
    }

    #[test]
    fn ports_example_from_issue() {
        // Rule tp_dst=80 (exact), packet tp_dst=79: 28 of 32 bits → 0xfff0 on tp_dst.
        let mut t = PrefixTrie::new(32);
        t.insert(80, 32);
        assert_eq!(t.lookup(79).maskbits, 28);
    }
}
