//! Declarative bit-field layouts over arrays of 64-bit words.
//!
//! A [`BitField`] names a run of bits by its global LSB-first bit offset
//! (`word * 64 + bit`) and width. Layout tables (key fields, register and
//! entry encodings) are `const` arrays of them. Two access paths exist:
//! [`BitField::load_bitvec`]/[`BitField::store_bitvec`] go through `bitvec`
//! and are the readable reference; [`BitField::get`]/[`BitField::set`] use
//! shifts and masks derived from the same declaration and are what the
//! per-packet path uses. Every field here lies inside one 64-bit word, which
//! keeps the hardware a pure wire selection and the software a single shift.

use bitvec::prelude::*;

/// A run of bits inside an array of 64-bit words (LSB-first numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BitField {
    /// Name used in documentation and error messages.
    pub name: &'static str,
    /// Global bit offset: `word * 64 + bit_in_word`.
    pub offset: u16,
    /// Width in bits, 1..=64.
    pub width: u8,
}

impl BitField {
    /// Declares a field; `const` so layouts are tables evaluated at compile time.
    pub const fn new(name: &'static str, offset: u16, width: u8) -> Self {
        Self {
            name,
            offset,
            width,
        }
    }

    /// Index of the 64-bit word holding the field.
    #[inline(always)]
    pub const fn word(&self) -> usize {
        (self.offset / 64) as usize
    }

    /// Bit position of the field's LSB inside its word.
    #[inline(always)]
    pub const fn shift(&self) -> u32 {
        (self.offset % 64) as u32
    }

    /// All-ones value of the field's width (right-aligned).
    #[inline(always)]
    pub const fn value_mask(&self) -> u64 {
        if self.width >= 64 {
            u64::MAX
        } else {
            (1u64 << self.width) - 1
        }
    }

    /// The field's bits in place inside its word.
    #[inline(always)]
    pub const fn word_mask(&self) -> u64 {
        self.value_mask() << self.shift()
    }

    /// True when the field does not cross a 64-bit word boundary.
    pub const fn fits_one_word(&self) -> bool {
        self.width >= 1 && self.width <= 64 && self.shift() as u16 + self.width as u16 <= 64
    }

    /// Reads the field with shifts (hot path).
    #[inline(always)]
    pub fn get(&self, words: &[u64]) -> u64 {
        (words[self.word()] >> self.shift()) & self.value_mask()
    }

    /// Writes the field with shifts (hot path). Bits of `value` above the
    /// field's width are ignored.
    #[inline(always)]
    pub fn set(&self, words: &mut [u64], value: u64) {
        let w = &mut words[self.word()];
        *w = (*w & !self.word_mask()) | ((value & self.value_mask()) << self.shift());
    }

    /// Reads the field through `bitvec` (reference path).
    pub fn load_bitvec(&self, words: &[u64]) -> u64 {
        let bits = words.view_bits::<Lsb0>();
        let start = self.offset as usize;
        bits[start..start + self.width as usize].load_le::<u64>()
    }

    /// Writes the field through `bitvec` (reference path).
    pub fn store_bitvec(&self, words: &mut [u64], value: u64) {
        let bits = words.view_bits_mut::<Lsb0>();
        let start = self.offset as usize;
        bits[start..start + self.width as usize].store_le::<u64>(value & self.value_mask());
    }
}

/// Checks a layout table: every field fits one word, lies inside `words`
/// words, and no two fields overlap unless both are listed in `aliases`.
pub fn check_layout(
    fields: &[BitField],
    words: usize,
    aliases: &[(&str, &str)],
) -> Result<(), String> {
    for f in fields {
        if !f.fits_one_word() {
            return Err(format!("{} crosses a word boundary", f.name));
        }
        if f.word() >= words {
            return Err(format!("{} lies outside {} words", f.name, words));
        }
    }
    for (i, a) in fields.iter().enumerate() {
        for b in &fields[i + 1..] {
            let overlap = a.word() == b.word() && a.word_mask() & b.word_mask() != 0;
            let allowed = aliases
                .iter()
                .any(|&(x, y)| (x == a.name && y == b.name) || (x == b.name && y == a.name));
            if overlap && !allowed {
                return Err(format!("{} overlaps {}", a.name, b.name));
            }
        }
    }
    Ok(())
}

/// Declares a layout: a `const` table of [`BitField`]s plus one named constant
/// per field, so users write `regs::CMD_OP.set(..)` and tools iterate the table.
#[macro_export]
macro_rules! layout {
    ($(#[$m:meta])* $table:ident { $($(#[$fm:meta])* $name:ident = ($off:expr, $w:expr)),+ $(,)? }) => {
        $($(#[$fm])* pub const $name: $crate::bits::BitField =
            $crate::bits::BitField::new(stringify!($name), $off, $w);)+
        $(#[$m])*
        pub const $table: &[$crate::bits::BitField] = &[$($name),+];
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Shifts and bitvec agree for every field shape that fits one word.
        #[test]
        fn shift_path_matches_bitvec(word in 0u16..4, shift in 0u16..64, width in 1u8..=64,
                                     init in proptest::array::uniform4(any::<u64>()), v in any::<u64>()) {
            prop_assume!(shift + width as u16 <= 64);
            let f = BitField::new("f", word * 64 + shift, width);
            let mut a = init;
            let mut b = init;
            f.set(&mut a, v);
            f.store_bitvec(&mut b, v);
            prop_assert_eq!(a, b);
            prop_assert_eq!(f.get(&a), f.load_bitvec(&a));
            prop_assert_eq!(f.get(&init), f.load_bitvec(&init));
            prop_assert_eq!(f.get(&a), v & f.value_mask());
        }
    }

    #[test]
    fn overlap_is_detected() {
        let a = BitField::new("a", 0, 8);
        let b = BitField::new("b", 7, 4);
        assert!(check_layout(&[a, b], 1, &[]).is_err());
        assert!(check_layout(&[a, b], 1, &[("b", "a")]).is_ok());
        assert!(check_layout(&[BitField::new("x", 60, 8)], 1, &[]).is_err());
        assert!(check_layout(&[BitField::new("x", 64, 8)], 1, &[]).is_err());
    }
}
