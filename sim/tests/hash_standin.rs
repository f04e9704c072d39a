//! The fast model's hash stand-in equals the RTL hash unit on every input.
//!
//! Both are affine maps over GF(2) of the 512-bit `key & mask`: the RTL by
//! construction (each hash bit is the parity of the input ANDed with a
//! constant row, XOR a constant), CRC32-C because a CRC of a fixed-width
//! input is. Two affine maps `f(x) = A x ^ a`, `g(x) = B x ^ b` are equal
//! iff `a = b` (the zero vector) and `A e_j = B e_j` for every unit vector
//! `e_j`, so the 513 checks below cover all 2^512 inputs. sim/build.rs
//! replaces only modules textually identical to `fastpath_hash_unit`, the
//! module checked here. Random inputs and the affine law of the stand-in
//! are checked too, to catch a stand-in that is not affine at all.

mod common;

use abi::{FlowKey, HW_KEY_WORDS};
use rand::Rng;
use sim::hash_check::{standin_hash, ExactHashUnit};

const ONES: [u64; HW_KEY_WORDS] = [u64::MAX; HW_KEY_WORDS];

fn unit(j: usize) -> [u64; HW_KEY_WORDS] {
    let mut w = [0u64; HW_KEY_WORDS];
    w[j / 64] = 1 << (j % 64);
    w
}

#[test]
fn standin_equals_rtl_hash_unit_on_a_basis() {
    let mut rtl = ExactHashUnit::new().expect("Verilated fastpath_hash_unit");
    let zero = [0u64; HW_KEY_WORDS];
    assert_eq!(standin_hash(&zero), rtl.hash(&zero, &ONES), "zero vector");
    for j in 0..HW_KEY_WORDS * 64 {
        let e = unit(j);
        assert_eq!(standin_hash(&e), rtl.hash(&e, &ONES), "unit vector {j}");
    }
}

#[test]
fn standin_is_affine_and_matches_rtl_and_abi_on_random_inputs() {
    let mut rtl = ExactHashUnit::new().expect("Verilated fastpath_hash_unit");
    let c = standin_hash(&[0; HW_KEY_WORDS]);
    // xorshift64 must not start at 0.
    let mut x = common::rng(0x9e37_79b9_7f4a_7c15).gen::<u64>().max(1);
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..2000 {
        let k: [u64; HW_KEY_WORDS] = std::array::from_fn(|_| next());
        let m: [u64; HW_KEY_WORDS] = std::array::from_fn(|_| next());
        let b: [u64; HW_KEY_WORDS] = std::array::from_fn(|_| next());
        let km: [u64; HW_KEY_WORDS] = std::array::from_fn(|i| k[i] & m[i]);
        let h = standin_hash(&km);
        // The RTL masks itself; the stand-in gets the masked key as the
        // fast model's Verilog hands it over.
        assert_eq!(h, rtl.hash(&k, &m), "key {k:x?} mask {m:x?}");
        assert_eq!(
            h,
            abi::hash_masked(&FlowKey::from_hw_words(&k), &FlowKey::from_hw_words(&m))
        );
        let kb: [u64; HW_KEY_WORDS] = std::array::from_fn(|i| km[i] ^ b[i]);
        assert_eq!(standin_hash(&kb), h ^ standin_hash(&b) ^ c, "affine law");
    }
}
