//! Cycle-level driving of rust-hdl blocks for unit tests: set inputs, call
//! [`tick`], read outputs. Cheaper than rust-hdl's threaded `Simulation`.

use rust_hdl::prelude::*;

/// Settles combinational logic after inputs changed; panics if the circuit
/// oscillates (a design bug, never input-dependent).
pub fn settle<B: Block>(uut: &mut B) {
    assert!(simulate(uut, 1000), "circuit failed to converge");
}

/// One rising then falling clock edge; `clock` selects the block's clock.
pub fn tick<B: Block>(uut: &mut B, clock: fn(&mut B) -> &mut Signal<In, Clock>) {
    clock(uut).next = true.into();
    settle(uut);
    clock(uut).next = false.into();
    settle(uut);
}

/// A 512-bit value from key words (word `i` = bits `64 i + 63 .. 64 i`).
pub fn key_bits(words: &[u64; abi::HW_KEY_WORDS]) -> Bits<512> {
    let mut b = Bits::<512>::default();
    for (i, w) in words.iter().enumerate() {
        b.set_bits::<64>(64 * i, (*w).into());
    }
    b
}

/// Key words from a 512-bit value.
pub fn key_words(b: Bits<512>) -> [u64; abi::HW_KEY_WORDS] {
    let mut w = [0u64; abi::HW_KEY_WORDS];
    for (i, v) in w.iter_mut().enumerate() {
        *v = b.get_bits::<64>(64 * i).to_u64();
    }
    w
}
