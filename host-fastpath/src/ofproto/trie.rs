//! Binary prefix trie with Open vSwitch's lookup contract.
//!
//! Holds the prefixes (value, length) of rules on one field and answers, for
//! a packet's value, (a) at which prefix lengths some rule's prefix matches
//! and (b) how many leading bits had to be examined to know that: the
//! matching bits plus the one bit where the packet left the trie if another
//! branch exists there. This is `trie_lookup_value` from OVS
//! lib/classifier.c; the trie here is uncompressed (one node per bit), which
//! gives identical answers and keeps insert/remove trivial.

/// Trie over left-aligned `n_bits`-bit values (≤ 128).
#[derive(Clone, Debug)]
pub struct PrefixTrie {
    n_bits: u32,
    /// children[node] = [child for bit 0, child for bit 1]; 0 = none (node 0 is the root).
    children: Vec<[u32; 2]>,
    /// Rules whose prefix ends at this node.
    n_rules: Vec<u32>,
    free: Vec<u32>,
}

/// Result of a lookup.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrieMatch {
    /// Bit `len - 1` set when a prefix of length `len` matches.
    pub plens: u128,
    /// Leading bits that must be un-wildcarded to rely on `plens`.
    pub maskbits: u32,
}

impl PrefixTrie {
    /// An empty trie over `n_bits`-bit values.
    pub fn new(n_bits: u32) -> Self {
        Self {
            n_bits,
            children: vec![[0, 0]],
            n_rules: vec![0],
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
            let c = self.children[node][b];
            node = if c == 0 {
                let n = match self.free.pop() {
                    Some(n) => {
                        self.children[n as usize] = [0, 0];
                        self.n_rules[n as usize] = 0;
                        n
                    }
                    None => {
                        self.children.push([0, 0]);
                        self.n_rules.push(0);
                        (self.children.len() - 1) as u32
                    }
                };
                self.children[node][b] = n;
                n as usize
            } else {
                c as usize
            };
        }
        self.n_rules[node] += 1;
    }

    /// Removes one rule inserted with the same arguments; prunes empty branches.
    pub fn remove(&mut self, value: u128, len: u32) -> bool {
        let mut path = Vec::with_capacity(len as usize + 1);
        let mut node = 0usize;
        path.push(node);
        for i in 0..len.min(self.n_bits) {
            let c = self.children[node][self.bit(value, i)];
            if c == 0 {
                return false;
            }
            node = c as usize;
            path.push(node);
        }
        if self.n_rules[node] == 0 {
            return false;
        }
        self.n_rules[node] -= 1;
        // Prune nodes left with neither rules nor children, deepest first.
        for d in (1..path.len()).rev() {
            let n = path[d];
            if self.n_rules[n] != 0 || self.children[n] != [0, 0] {
                break;
            }
            let parent = path[d - 1];
            let b = self.bit(value, (d - 1) as u32);
            self.children[parent][b] = 0;
            self.free.push(n as u32);
        }
        true
    }

    /// OVS `trie_lookup_value`.
    #[inline]
    pub fn lookup(&self, value: u128) -> TrieMatch {
        let mut plens = 0u128;
        let mut node = 0usize;
        if self.children[0] == [0, 0] && self.n_rules[0] == 0 {
            return TrieMatch { plens, maskbits: 0 };
        }
        let mut depth = 0u32;
        loop {
            if depth > 0 && self.n_rules[node] > 0 {
                plens |= 1u128 << (depth - 1);
            }
            if depth >= self.n_bits {
                return TrieMatch {
                    plens,
                    maskbits: self.n_bits,
                };
            }
            let b = self.bit(value, depth);
            let c = self.children[node][b];
            if c == 0 {
                // Left the trie: the bit at `depth` must be examined only if
                // the other branch exists.
                let other = self.children[node][1 - b];
                let maskbits = if other != 0 { depth + 1 } else { depth };
                return TrieMatch { plens, maskbits };
            }
            node = c as usize;
            depth += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
