//! Layout of a table entry word in block RAM (EMC and megaflow alike).
//!
//! `[511:0]` key (megaflow: the masked key), `[535:512]` flow id,
//! `[536]` valid. Widths come from [`abi`].

use abi::regs::FLOW_ID_BITS;
use abi::HW_KEY_BITS;
use rust_hdl::prelude::*;

/// Bit offset of the flow id.
pub const FLOW_LSB: usize = HW_KEY_BITS;
/// Bit offset of the valid flag.
pub const VALID_BIT: usize = HW_KEY_BITS + FLOW_ID_BITS as usize;
/// Width of an entry word.
pub const ENTRY_BITS: usize = VALID_BIT + 1;
/// Width of flow ids and entry indexes in the pipeline.
pub const IDX_BITS: usize = abi::regs::INDEX_BITS as usize;

/// An entry word type.
pub type Entry = Bits<ENTRY_BITS>;

/// A megaflow way word (signature RAM): `[15:0]` signature
/// (`abi::geometry::signatures`, of the way's bank), `[16]` valid, `[40:17]`
/// flow id. The masked key lives in the bank's key RAM.
pub const SIG_BITS: usize = abi::geometry::SIG_BITS as usize;
/// Bit offset of the valid flag in a way word.
pub const WAY_VALID_BIT: usize = SIG_BITS;
/// Bit offset of the flow id in a way word.
pub const WAY_FLOW_LSB: usize = SIG_BITS + 1;
/// Width of a way word.
pub const WAY_BITS: usize = WAY_FLOW_LSB + FLOW_ID_BITS as usize;
/// A way word type.
pub type Way = Bits<WAY_BITS>;

/// Packs an entry (used by tests and the simulation model).
pub fn pack(key: &[u64; abi::HW_KEY_WORDS], flow_id: u32, valid: bool) -> Entry {
    let mut e = Entry::default();
    e.set_bits::<512>(0, crate::simtools::key_bits(key));
    e.set_bits::<{ FLOW_ID_BITS as usize }>(FLOW_LSB, (flow_id as u64).into());
    e.replace_bit(VALID_BIT, valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_abi_widths() {
        assert_eq!(ENTRY_BITS, 512 + 24 + 1);
        assert_eq!(IDX_BITS, 24);
        let e = pack(&[1, 2, 3, 4, 5, 6, 7, 8], 0xabcdef, true);
        assert!(e.get_bit(VALID_BIT));
        assert_eq!(e.get_bits::<24>(FLOW_LSB).to_u64(), 0xabcdef);
        assert_eq!(e.get_bits::<64>(64 * 7).to_u64(), 8);
    }
}
