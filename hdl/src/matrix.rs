//! The hash as a linear map, derived from [`abi::hash`] at elaboration time.
//!
//! CRC over a fixed-width input is affine: `hash(x) = L(x) ^ C` with
//! `C = hash(0)`. Column `j` of `L` is `hash(e_j) ^ C` for the unit vector
//! `e_j`; row `i` (one per hash bit) collects bit `i` of every column. The
//! hardware computes bit `i` as the parity of `x & row_i`, a balanced XOR tree,
//! so it never restates the polynomial.

use abi::{FlowKey, HW_KEY_BITS, HW_KEY_WORDS};

/// The affine map of the key hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashMatrix {
    /// `rows[i][w]`: which bits of key word `w` feed hash bit `i`.
    pub rows: [[u64; HW_KEY_WORDS]; 32],
    /// Hash of the all-zero input.
    pub constant: u32,
}

impl HashMatrix {
    /// Derives the matrix from [`abi::hash_masked`].
    pub fn from_abi() -> Self {
        let constant = abi::hash_masked(&FlowKey::ZERO, &FlowKey::ONES);
        let mut rows = [[0u64; HW_KEY_WORDS]; 32];
        for j in 0..HW_KEY_BITS {
            let mut words = [0u64; HW_KEY_WORDS];
            words[j / 64] = 1 << (j % 64);
            let col = abi::hash_masked(&FlowKey::from_hw_words(&words), &FlowKey::ONES) ^ constant;
            for (i, row) in rows.iter_mut().enumerate() {
                if col >> i & 1 == 1 {
                    row[j / 64] |= 1 << (j % 64);
                }
            }
        }
        HashMatrix { rows, constant }
    }

    /// Evaluates the map (software model of the XOR tree).
    pub fn eval(&self, words: &[u64; HW_KEY_WORDS]) -> u32 {
        let mut h = self.constant;
        for (i, row) in self.rows.iter().enumerate() {
            let parity = row
                .iter()
                .zip(words)
                .fold(0u32, |p, (r, w)| p ^ (r & w).count_ones());
            h ^= (parity & 1) << i;
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::hash::TEST_VECTORS;

    #[test]
    fn matrix_reproduces_abi_hash() {
        let m = HashMatrix::from_abi();
        for (k, mask, h) in TEST_VECTORS {
            let masked = FlowKey::from_hw_words(k).masked(&FlowKey::from_hw_words(mask));
            assert_eq!(m.eval(masked.hw_words()), *h);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200 {
            let mut w = [0u64; HW_KEY_WORDS];
            for v in w.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *v = x;
            }
            let k = FlowKey::from_hw_words(&w);
            assert_eq!(m.eval(&w), abi::hash_key(&k));
        }
    }
}
