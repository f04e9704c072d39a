//! Table geometry and the functions that pick candidate positions.
//!
//! Hardware tables have a fixed geometry, announced in the capability block;
//! software tables may grow, but use the same candidate functions so the host
//! can compute a hardware placement with the [`crate::hash`] it already has.

use thiserror::Error;

/// Table sizes of one hardware build (all powers of two are given as log2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// log2 of the number of EMC entries (1..=16; two banks of half).
    pub emc_log2_entries: u8,
    /// Number of megaflow mask slots searched in parallel (1..=16).
    pub mf_slots: u8,
    /// log2 of the cuckoo buckets per mask slot (1..=16; two banks of half).
    pub mf_log2_buckets: u8,
    /// Entries per cuckoo bucket (1, 2, 4 or 8: a power of two, so that an
    /// entry index is `bucket << log2(k) | way`).
    pub mf_bucket_slots: u8,
    /// log2 of the miss-queue depth (1..=16).
    pub missq_log2_depth: u8,
}

/// Why a geometry is not supported.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum GeometryError {
    /// A field is outside its range.
    #[error("geometry field {field} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// Offending field.
        field: &'static str,
        /// Its value.
        value: u32,
        /// Smallest supported value.
        min: u32,
        /// Largest supported value.
        max: u32,
    },
    /// A field that sizes a table is not a power of two.
    #[error("geometry field {field} = {value} is not a power of two")]
    NotPowerOfTwo {
        /// Offending field.
        field: &'static str,
        /// Its value.
        value: u32,
    },
}

impl GeometryError {
    /// The offending field.
    pub fn field(&self) -> &'static str {
        match self {
            GeometryError::OutOfRange { field, .. }
            | GeometryError::NotPowerOfTwo { field, .. } => field,
        }
    }
}

/// EMC candidate positions per key ("ways"); fixed by this ABI version.
pub const EMC_WAYS: u8 = 2;
/// Largest supported log2 table size: both candidate functions take their
/// two positions from disjoint or rotated halves of one 32-bit hash.
pub const MAX_LOG2: u8 = 16;
/// Most mask slots a build may have (the slot number is 8 bits wide in the
/// encodings, but the result stage's priority encoder is sized for 16).
pub const MAX_MF_SLOTS: u8 = 16;
/// Most entries per cuckoo bucket.
pub const MAX_BUCKET_SLOTS: u8 = 8;

// Every table is a power of two deep, so an entry index is a bucket number
// and a way side by side (`bucket << log2(k) | way`): wires in logic, no
// divider in the command path.
const _: () = assert!(MAX_BUCKET_SLOTS.is_power_of_two());

impl Geometry {
    /// Default hardware build: 4096-entry EMC, 8 mask slots of 512 buckets × 4
    /// entries (2048 megaflows per mask, 16 384 in all), 512 queued misses.
    pub const DEFAULT: Geometry = Geometry {
        emc_log2_entries: 12,
        mf_slots: 8,
        mf_log2_buckets: 9,
        mf_bucket_slots: 4,
        missq_log2_depth: 9,
    };

    /// Checks every field against the ranges this ABI supports.
    pub fn validate(&self) -> Result<(), GeometryError> {
        let check = |field, value: u8, min: u8, max: u8| {
            if value < min || value > max {
                Err(GeometryError::OutOfRange {
                    field,
                    value: value as u32,
                    min: min as u32,
                    max: max as u32,
                })
            } else {
                Ok(())
            }
        };
        check("emc_log2_entries", self.emc_log2_entries, 1, MAX_LOG2)?;
        check("mf_slots", self.mf_slots, 1, MAX_MF_SLOTS)?;
        check("mf_log2_buckets", self.mf_log2_buckets, 1, MAX_LOG2)?;
        check("mf_bucket_slots", self.mf_bucket_slots, 1, MAX_BUCKET_SLOTS)?;
        check("missq_log2_depth", self.missq_log2_depth, 1, MAX_LOG2)?;
        if !self.mf_bucket_slots.is_power_of_two() {
            return Err(GeometryError::NotPowerOfTwo {
                field: "mf_bucket_slots",
                value: self.mf_bucket_slots as u32,
            });
        }
        Ok(())
    }

    /// EMC entries.
    pub fn emc_entries(&self) -> u32 {
        1 << self.emc_log2_entries
    }

    /// Cuckoo buckets per mask slot.
    pub fn mf_buckets(&self) -> u32 {
        1 << self.mf_log2_buckets
    }

    /// log2 of the entries per cuckoo bucket (the way bits of an index).
    pub fn mf_log2_bucket_slots(&self) -> u8 {
        self.mf_bucket_slots.trailing_zeros() as u8
    }

    /// Entries per mask slot (buckets × slots per bucket).
    pub fn mf_entries_per_slot(&self) -> u32 {
        self.mf_buckets() << self.mf_log2_bucket_slots()
    }

    /// The two EMC positions of a key with hash `hash`.
    pub fn emc_candidates(&self, hash: u32) -> [u32; 2] {
        emc_candidates(hash, self.emc_log2_entries)
    }

    /// The two cuckoo buckets of a masked key with hash `hash`.
    pub fn mf_candidate_buckets(&self, hash: u32) -> [u32; 2] {
        cuckoo_buckets(hash, self.mf_log2_buckets)
    }

    /// Entry index of `way` in `bucket` (the index used in commands):
    /// `bucket << log2(k) | way`.
    pub fn mf_index(&self, bucket: u32, way: u8) -> u32 {
        bucket << self.mf_log2_bucket_slots() | way as u32
    }

    /// Table positions: every EMC entry, then each mask slot's megaflow
    /// entries. The per-entry statistics and the action RAM have one word
    /// per position.
    pub fn positions(&self) -> u32 {
        self.emc_entries() + self.mf_slots as u32 * self.mf_entries_per_slot()
    }

    /// Table position of EMC entry `index`.
    pub fn emc_position(&self, index: u32) -> u32 {
        index
    }

    /// Table position of megaflow entry `index` of mask slot `slot`.
    pub fn mf_position(&self, slot: u8, index: u32) -> u32 {
        self.emc_entries() + ((slot as u32) << self.mf_log2_entries_per_slot()) + index
    }

    /// log2 of [`Geometry::mf_entries_per_slot`] (a power of two).
    pub fn mf_log2_entries_per_slot(&self) -> u8 {
        self.mf_log2_buckets + self.mf_log2_bucket_slots()
    }

    /// Bucket and way of entry `index` (inverse of [`Geometry::mf_index`]).
    pub fn mf_bucket_way(&self, index: u32) -> (u32, u8) {
        (
            index >> self.mf_log2_bucket_slots(),
            (index & (self.mf_bucket_slots as u32 - 1)) as u8,
        )
    }
}

impl Default for Geometry {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// EMC candidates for a table of `1 << log2` entries, one in each bank: the
/// low `log2 - 1` bits of the hash index bank A (entries `[0, half)`), the
/// next `log2 - 1` bits bank B (`[half, 2·half)`), half = 2^(log2-1) (Open
/// vSwitch's EM_FLOW_HASH_SHIFT scheme, split in two banks so each entry is
/// stored once and both candidates are read in one clock).
#[inline(always)]
pub fn emc_candidates(hash: u32, log2: u8) -> [u32; 2] {
    let Some(hl) = log2.checked_sub(1) else {
        return [0, 0];
    };
    let half = 1u32 << hl.min(31);
    let m = half - 1;
    [
        hash & m,
        half | (hash.checked_shr(hl as u32).unwrap_or(0) & m),
    ]
}

/// Cuckoo bucket candidates for a table of `1 << log2` buckets, one in each
/// bank: bank A (buckets `[0, half)`) from the low bits of the hash, bank B
/// (`[half, 2·half)`) from the low bits of the hash rotated by 16, half =
/// 2^(log2-1). In logic both are wire selections. Software tables larger
/// than 2^17 buckets reuse the same rule (their two indexes then share a few
/// hash bits, which only costs a little load factor).
#[inline(always)]
pub fn cuckoo_buckets(hash: u32, log2: u8) -> [u32; 2] {
    let Some(hl) = log2.checked_sub(1) else {
        return [0, 0];
    };
    let half = 1u32 << hl.min(31);
    let m = half - 1;
    [hash & m, half | (hash.rotate_right(16) & m)]
}

/// Signatures of a masked key with hash `hash` in its two cuckoo buckets:
/// the 16 hash bits that did not choose the bucket. Bank A takes its bucket
/// from the low bits of the hash, so its signature is `hash[31:16]`; bank B
/// from the low bits of the hash rotated by 16, so its signature is
/// `hash[15:0]`. A way stores the signature of its bank; a lookup compares
/// the full key only of the first valid way whose signature matches.
#[inline(always)]
pub fn signatures(hash: u32) -> [u16; 2] {
    [(hash >> 16) as u16, hash as u16]
}

/// Signature bits (see [`signatures`]).
pub const SIG_BITS: u8 = 16;

// A signature is independent of its bucket number while a bank has at most
// 2^SIG_BITS buckets (log2(half) = mf_log2_buckets - 1 <= 16): then bucket
// and signature are disjoint hash bits.
const _: () = assert!(MAX_LOG2 - 1 <= SIG_BITS);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_sized() {
        Geometry::DEFAULT.validate().unwrap();
        assert_eq!(Geometry::DEFAULT.emc_entries(), 4096);
        assert_eq!(Geometry::DEFAULT.mf_entries_per_slot(), 2048);
    }

    #[test]
    fn invalid_fields_are_named() {
        let mut g = Geometry::DEFAULT;
        g.mf_slots = 0;
        assert_eq!(g.validate().unwrap_err().field(), "mf_slots");
        g = Geometry::DEFAULT;
        g.emc_log2_entries = 17;
        assert!(matches!(
            g.validate().unwrap_err(),
            GeometryError::OutOfRange {
                field: "emc_log2_entries",
                value: 17,
                ..
            }
        ));
    }

    #[test]
    fn bucket_slots_must_be_a_power_of_two() {
        for k in 1..=MAX_BUCKET_SLOTS {
            let g = Geometry {
                mf_bucket_slots: k,
                ..Geometry::DEFAULT
            };
            match g.validate() {
                Ok(()) => assert!(k.is_power_of_two(), "k = {k} accepted"),
                Err(e) => {
                    assert!(!k.is_power_of_two(), "k = {k}: {e}");
                    assert_eq!(
                        e,
                        GeometryError::NotPowerOfTwo {
                            field: "mf_bucket_slots",
                            value: k as u32
                        }
                    );
                    assert_eq!(
                        e.to_string(),
                        format!("geometry field mf_bucket_slots = {k} is not a power of two")
                    );
                }
            }
        }
    }

    #[test]
    fn index_is_bucket_and_way_side_by_side() {
        for k in [1u8, 2, 4, 8] {
            let g = Geometry {
                mf_bucket_slots: k,
                ..Geometry::DEFAULT
            };
            for bucket in [0u32, 1, 7, g.mf_buckets() - 1] {
                for way in 0..k {
                    let i = g.mf_index(bucket, way);
                    // The same number the v1 rule `bucket × k + way` gave.
                    assert_eq!(i, bucket * k as u32 + way as u32);
                    assert!(i < g.mf_entries_per_slot());
                    assert_eq!(g.mf_bucket_way(i), (bucket, way));
                }
            }
        }
    }

    #[test]
    fn signatures_are_the_bits_the_bucket_did_not_use() {
        for log2 in 1..=MAX_LOG2 {
            let hl = log2 - 1;
            for bit in 0..32 {
                let h = 1u32 << bit;
                let [ba, bb] = cuckoo_buckets(h, log2);
                let [sa, sb] = signatures(h);
                let half = 1u32 << hl;
                // A hash bit moves the bucket or the signature of a bank,
                // never both.
                assert!(ba == 0 || sa == 0, "bank A bit {bit} log2 {log2}");
                assert!(bb == half || sb == 0, "bank B bit {bit} log2 {log2}");
            }
        }
        assert_eq!(signatures(0x1234_5678), [0x1234, 0x5678]);
    }

    #[test]
    fn candidates_are_one_per_bank() {
        let h = 0x02ab_3f0f_u32;
        let [a, b] = emc_candidates(h, 13);
        assert_eq!(a, h & 0xfff);
        assert_eq!(b, 0x1000 | ((h >> 12) & 0xfff));
        let [c, d] = cuckoo_buckets(0x1234_5678, 8);
        assert_eq!((c, d), (0x78 & 0x7f, 0x80 | (0x34 & 0x7f)));
        let mut x = 0x9e37_79b9_u32;
        for log2 in 1..=16u8 {
            let half = 1u32 << (log2 - 1);
            for _ in 0..64 {
                x = x.wrapping_mul(0x0019_660d).wrapping_add(0x3c6e_f35f);
                for [a, b] in [emc_candidates(x, log2), cuckoo_buckets(x, log2)] {
                    assert!(a < half, "bank A holds [0, half)");
                    assert!((half..2 * half).contains(&b), "bank B holds [half, 2 half)");
                }
            }
        }
    }
}
