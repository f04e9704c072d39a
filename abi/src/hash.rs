//! The key hash: CRC32-C over the (masked) key words.
//!
//! Definition (hash id [`HASH_ID_CRC32C`]): the standard CRC-32C
//! (Castagnoli, reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF,
//! final XOR 0xFFFFFFFF) of the 64 bytes obtained by writing the eight
//! 64-bit words of the hardware key (`key & mask`'s first
//! [`HW_KEY_WORDS`]) in order, each little-endian. All eight words are
//! always hashed, including all-zero ones, so hardware needs no word map.
//! The host-only words are compared, never hashed: keys that differ only
//! there (neighbour discovery targets) share a bucket, which costs a
//! compare on rare traffic and keeps the host's and the NIC's hashes one.
//!
//! Why CRC32-C: x86 computes it with one `crc32` instruction per word
//! (SSE4.2; 3-cycle latency, 1/cycle throughput, so a burst of independent
//! keys hashes at ~8 cycles per key), and in logic a CRC over a fixed-width
//! input is linear: `hash = L(key & mask) ^ C`, a pure XOR tree that pipelines
//! freely. The portable fallback is slicing-by-8 with compile-time tables.

use crate::key::{FlowKey, HW_KEY_WORDS};

/// Capability-block identifier of this hash definition.
pub const HASH_ID_CRC32C: u8 = 1;

const POLY: u32 = 0x82F6_3B78;

const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = make_tables();

/// One CRC-32C step over a little-endian 64-bit word, without the initial or
/// final inversion (the same contract as the SSE4.2 `crc32` instruction).
#[inline]
pub fn crc32c_u64_portable(crc: u32, word: u64) -> u32 {
    let x = word ^ crc as u64;
    let t = &TABLES;
    t[7][(x & 0xff) as usize]
        ^ t[6][((x >> 8) & 0xff) as usize]
        ^ t[5][((x >> 16) & 0xff) as usize]
        ^ t[4][((x >> 24) & 0xff) as usize]
        ^ t[3][((x >> 32) & 0xff) as usize]
        ^ t[2][((x >> 40) & 0xff) as usize]
        ^ t[1][((x >> 48) & 0xff) as usize]
        ^ t[0][(x >> 56) as usize]
}

/// The hash of the hardware key's words, portable implementation
/// (reference).
pub fn hash_words_portable(words: &[u64; HW_KEY_WORDS]) -> u32 {
    let mut crc = !0u32;
    for &w in words {
        crc = crc32c_u64_portable(crc, w);
    }
    !crc
}

#[cfg(target_arch = "x86_64")]
mod sse {
    #![allow(unsafe_code)]
    use super::{FlowKey, HW_KEY_WORDS};
    use core::arch::x86_64::_mm_crc32_u64;

    #[inline]
    pub fn available() -> bool {
        std::arch::is_x86_feature_detected!("sse4.2")
    }

    #[target_feature(enable = "sse4.2")]
    #[inline]
    fn hash_masked_one(k: &FlowKey, m: &FlowKey) -> u32 {
        let mut crc = !0u64;
        for i in 0..HW_KEY_WORDS {
            crc = _mm_crc32_u64(crc, k.words[i] & m.words[i]);
        }
        !(crc as u32)
    }

    #[target_feature(enable = "sse4.2")]
    fn batch(keys: &[FlowKey], mask: &FlowKey, out: &mut [u32]) {
        // The loop body is independent per key, so the core overlaps the
        // eight-deep crc32 chains of consecutive keys.
        for (k, o) in keys.iter().zip(out.iter_mut()) {
            *o = hash_masked_one(k, mask);
        }
    }

    pub fn hash_masked(k: &FlowKey, m: &FlowKey) -> u32 {
        // SAFETY: callers check `available()` first, so the CPU supports
        // SSE4.2, the only requirement of this target-feature function.
        unsafe { hash_masked_one(k, m) }
    }

    pub fn hash_masked_batch(keys: &[FlowKey], mask: &FlowKey, out: &mut [u32]) {
        // SAFETY: as above; SSE4.2 presence was checked by the caller.
        unsafe { batch(keys, mask, out) }
    }

    #[target_feature(enable = "sse4.2")]
    #[inline]
    fn each(keys: &[FlowKey], mask: &FlowKey, map: u32, mut f: impl FnMut(usize, u32)) {
        let mut bits = map;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if let Some(k) = keys.get(i) {
                f(i, hash_masked_one(k, mask));
            }
        }
    }

    pub fn for_each_hash_masked(
        keys: &[FlowKey],
        mask: &FlowKey,
        map: u32,
        f: impl FnMut(usize, u32),
    ) {
        // SAFETY: as above; SSE4.2 presence was checked by the caller.
        unsafe { each(keys, mask, map, f) }
    }
}

#[inline]
fn fast_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        sse::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Hash of `key & mask`.
#[inline]
pub fn hash_masked(key: &FlowKey, mask: &FlowKey) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if fast_available() {
        return sse::hash_masked(key, mask);
    }
    hash_words_portable(key.masked(mask).hw_words())
}

/// Hash of the whole key (mask all ones): the EMC hash.
#[inline]
pub fn hash_key(key: &FlowKey) -> u32 {
    hash_masked(key, &FlowKey::ONES)
}

/// Hashes `keys[i] & mask` into `out[i]` for `i < min(len)`.
pub fn hash_masked_batch(keys: &[FlowKey], mask: &FlowKey, out: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if fast_available() {
        sse::hash_masked_batch(keys, mask, out);
        return;
    }
    for (k, o) in keys.iter().zip(out.iter_mut()) {
        *o = hash_words_portable(k.masked(mask).hw_words());
    }
}

/// Calls `f(i, hash of keys[i] & mask)` for every bit `i` of `map` (bits
/// beyond `keys` are ignored), in order, so that the caller can act on each
/// hash at once — say, start fetching its bucket — while the next keys are
/// hashed, instead of after the whole batch.
#[inline]
pub fn for_each_hash_masked(
    keys: &[FlowKey],
    mask: &FlowKey,
    map: u32,
    mut f: impl FnMut(usize, u32),
) {
    #[cfg(target_arch = "x86_64")]
    if fast_available() {
        sse::for_each_hash_masked(keys, mask, map, f);
        return;
    }
    let mut bits = map;
    while bits != 0 {
        let i = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        if let Some(k) = keys.get(i) {
            f(i, hash_words_portable(k.masked(mask).hw_words()));
        }
    }
}

/// Published test vectors: `(key words, mask words, hash)`. Reproduce them
/// with any CRC-32C implementation over the 64 little-endian bytes of
/// `key & mask` (e.g. Python `crcmod.predefined.mkCrcFun('crc-32c')`).
pub const TEST_VECTORS: &[([u64; HW_KEY_WORDS], [u64; HW_KEY_WORDS], u32)] = &[
    // All-zero key.
    ([0; 8], [u64::MAX; 8], 0x03C8_EB67),
    // All-ones key.
    ([u64::MAX; 8], [u64::MAX; 8], 0x2FCD_4E66),
    // Word i holds i.
    ([0, 1, 2, 3, 4, 5, 6, 7], [u64::MAX; 8], 0xB5E6_E781),
    // IPv4/UDP 10.0.0.2:1024 -> 10.0.0.1:53, in_port 1, TTL 64.
    (
        [
            0x0000_0800_0000_0001,
            0x0011_5054_0000_000a,
            0x0040_5054_0000_0009,
            0,
            0x0a00_0002,
            0,
            0x0a00_0001,
            0x0035_0400,
        ],
        [u64::MAX; 8],
        0xD311_8267,
    ),
    // The same key under a mask of in_port, dl_type and nw_dst/24 only.
    (
        [
            0x0000_0800_0000_0001,
            0x0011_5054_0000_000a,
            0x0040_5054_0000_0009,
            0,
            0x0a00_0002,
            0,
            0x0a00_0001,
            0x0035_0400,
        ],
        [0x0000_ffff_ffff_ffff, 0, 0, 0, 0, 0, 0xffff_ff00, 0],
        0x32FF_DA27,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(k: &FlowKey, m: &FlowKey) -> u32 {
        crc32c::crc32c(&k.masked(m).to_le_bytes())
    }

    #[test]
    fn test_vectors_hold() {
        for (i, (k, m, h)) in TEST_VECTORS.iter().enumerate() {
            let k = FlowKey::from_hw_words(k);
            let m = FlowKey::from_hw_words(m);
            assert_eq!(reference(&k, &m), *h, "vector {i} vs crc32c crate");
            assert_eq!(hash_masked(&k, &m), *h, "vector {i} fast path");
            assert_eq!(
                hash_words_portable(k.masked(&m).hw_words()),
                *h,
                "vector {i} portable"
            );
        }
    }

    proptest! {
        #[test]
        fn all_paths_agree(k in proptest::array::uniform8(any::<u64>()), m in proptest::array::uniform8(any::<u64>())) {
            let k = FlowKey::from_hw_words(&k);
            let m = FlowKey::from_hw_words(&m);
            let r = reference(&k, &m);
            prop_assert_eq!(hash_masked(&k, &m), r);
            prop_assert_eq!(hash_words_portable(k.masked(&m).hw_words()), r);
            let mut out = [0u32; 3];
            hash_masked_batch(&[k, k, FlowKey::ZERO], &m, &mut out);
            prop_assert_eq!(out[0], r);
            prop_assert_eq!(out[2], reference(&FlowKey::ZERO, &m));
            prop_assert_eq!(hash_key(&k), reference(&k, &FlowKey::ONES));
        }

        #[test]
        fn for_each_visits_the_map_in_order(
            k in proptest::array::uniform8(any::<u64>()),
            m in proptest::array::uniform8(any::<u64>()),
            map in any::<u32>(),
        ) {
            let keys: Vec<FlowKey> = (0..20u64)
                .map(|i| FlowKey::from_hw_words(&k.map(|w| w.rotate_left(i as u32) ^ i)))
                .collect();
            let m = FlowKey::from_hw_words(&m);
            let mut seen = Vec::new();
            for_each_hash_masked(&keys, &m, map, |i, h| seen.push((i, h)));
            // Bits 20..32 name no key and are skipped.
            let want: Vec<(usize, u32)> = (0..20)
                .filter(|i| map >> i & 1 == 1)
                .map(|i| (i, reference(&keys[i], &m)))
                .collect();
            prop_assert_eq!(seen, want);
        }
    }
}
