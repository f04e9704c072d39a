//! Hashers for the writer-side and slow-path maps whose keys are words
//! (masks, masked keys, stage values): one multiply per word, where SipHash
//! over 64 bytes cost more than the rest of an install. The keys come from
//! our own translation, not from an attacker in a way that matters here.

use std::hash::Hasher;

/// Multiplicative word hasher for keys that are already well mixed.
#[derive(Default, Clone, Copy)]
pub struct WordHasher(u64);

impl Hasher for WordHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64)
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64)
    }
}

/// [`WordHasher`] with Murmur3's finalizer, for keys that differ mostly in
/// their high bits (masks): the multiply chain alone leaves the low bits
/// (a map's bucket index) depending on the words' low bits only.
#[derive(Default, Clone, Copy)]
pub struct MixedWordHasher(WordHasher);

impl Hasher for MixedWordHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = (self.0).0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes)
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0.write_u64(i)
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0.write_u32(i)
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0.write_usize(i)
    }
}
