//! Hash unit: CRC32-C of `key & mask`, two pipeline stages, one per clock.
//!
//! Cycle 1 registers, for each of the eight key words, the 32 partial
//! parities `^(key_w & mask_w & row_i_w)` (64-input XOR trees); cycle 2 XORs
//! the eight partials with the constant. The rows come from
//! [`crate::matrix::HashMatrix`], derived from [`abi::hash`].

use crate::matrix::HashMatrix;
use abi::HW_KEY_WORDS;
use rust_hdl::prelude::*;

/// Cycles from `key`/`mask` to `hash`.
pub const HASH_LATENCY: usize = 2;

/// Pipelined key hash (`hash = L(key & mask) ^ C`).
#[derive(LogicBlock)]
pub struct HashUnit {
    /// Pipeline clock.
    pub clock: Signal<In, Clock>,
    /// Key (word `i` in bits `64 i + 63 .. 64 i`).
    pub key: Signal<In, Bits<512>>,
    /// Mask applied before hashing (all ones: the EMC hash).
    pub mask: Signal<In, Bits<512>>,
    /// Hash of the inputs presented [`HASH_LATENCY`] cycles earlier.
    pub hash: Signal<Out, Bits<32>>,
    rows: Vec<Constant<Bits<64>>>,
    init: Constant<Bits<32>>,
    masked: Signal<Local, Bits<512>>,
    // One 32-bit partial per key word: building a 256-bit vector bit by bit
    // made Verilator shift 256-bit values 256 times per unit per clock
    // (three quarters of the simulated NIC's run time).
    part: Vec<Signal<Local, Bits<32>>>,
    acc: Signal<Local, Bits<32>>,
    part_q: Vec<DFF<Bits<32>>>,
    hash_q: DFF<Bits<32>>,
}

impl Default for HashUnit {
    fn default() -> Self {
        let m = HashMatrix::from_abi();
        let mut rows = Vec::with_capacity(HW_KEY_WORDS * 32);
        for w in 0..HW_KEY_WORDS {
            for row in &m.rows {
                rows.push(Constant::new(row[w].into()));
            }
        }
        HashUnit {
            clock: Default::default(),
            key: Default::default(),
            mask: Default::default(),
            hash: Default::default(),
            rows,
            init: Constant::new((m.constant as u64).into()),
            masked: Default::default(),
            part: (0..HW_KEY_WORDS).map(|_| Default::default()).collect(),
            acc: Default::default(),
            part_q: (0..HW_KEY_WORDS).map(|_| Default::default()).collect(),
            hash_q: Default::default(),
        }
    }
}

impl Logic for HashUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, hash_q);
        self.masked.next = self.key.val() & self.mask.val();
        for w in 0..8 {
            self.part[w].next = 0.into();
            for i in 0..32 {
                self.part[w].next = self.part[w].val().replace_bit(
                    i,
                    (self.masked.val().get_bits::<64>(w * 64) & self.rows[w * 32 + i].val()).xor(),
                );
            }
            self.part_q[w].clock.next = self.clock.val();
            self.part_q[w].d.next = self.part[w].val();
        }
        self.acc.next = self.init.val();
        for w in 0..8 {
            self.acc.next = self.acc.val() ^ self.part_q[w].q.val();
        }
        self.hash_q.d.next = self.acc.val();
        self.hash.next = self.hash_q.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simtools::{key_bits, settle, tick};
    use abi::hash::TEST_VECTORS;
    use abi::FlowKey;

    #[test]
    fn pipelined_hash_matches_abi() {
        // Vectors plus pseudo-random keys under random masks, one per clock.
        let mut cases: Vec<([u64; 8], [u64; 8], u32)> = TEST_VECTORS.to_vec();
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..12 {
            let k: [u64; 8] = std::array::from_fn(|_| next());
            let m: [u64; 8] = std::array::from_fn(|_| next());
            let h = abi::hash_masked(&FlowKey::from_hw_words(&k), &FlowKey::from_hw_words(&m));
            cases.push((k, m, h));
        }
        let mut uut = HashUnit::default();
        uut.connect_all();
        settle(&mut uut);
        // Each input's hash must appear exactly HASH_LATENCY edges later.
        let mut seen = Vec::new();
        for c in 0..cases.len() + HASH_LATENCY {
            if let Some((k, m, _)) = cases.get(c) {
                uut.key.next = key_bits(k);
                uut.mask.next = key_bits(m);
            }
            tick(&mut uut, |u| &mut u.clock);
            if c + 1 >= HASH_LATENCY {
                seen.push(uut.hash.val().to_u64() as u32);
            }
        }
        let want: Vec<u32> = cases.iter().map(|c| c.2).collect();
        assert_eq!(&seen[..want.len()], &want[..]);
    }
}
