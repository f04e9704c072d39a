//! Internet checksum helpers: incremental update (RFC 1624) and from-scratch
//! computation (used by tests and frame builders), plus SCTP's CRC32-C.

/// One's-complement sum of `data` (odd length padded with zero), folded, not inverted.
pub fn sum(data: &[u8], init: u32) -> u32 {
    let mut s = init as u64;
    let mut it = data.chunks_exact(2);
    for c in &mut it {
        s += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [b] = it.remainder() {
        s += (*b as u64) << 8;
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u32
}

/// The Internet checksum of `data` with an initial partial sum.
pub fn checksum(data: &[u8], init: u32) -> u16 {
    !(sum(data, init) as u16)
}

/// Partial sum of the IPv4 pseudo-header.
pub fn pseudo_v4(src: u32, dst: u32, proto: u8, len: u16) -> u32 {
    let mut b = [0u8; 12];
    b[0..4].copy_from_slice(&src.to_be_bytes());
    b[4..8].copy_from_slice(&dst.to_be_bytes());
    b[9] = proto;
    b[10..12].copy_from_slice(&len.to_be_bytes());
    sum(&b, 0)
}

/// Partial sum of the IPv6 pseudo-header.
pub fn pseudo_v6(src: u128, dst: u128, proto: u8, len: u32) -> u32 {
    let mut b = [0u8; 40];
    b[0..16].copy_from_slice(&src.to_be_bytes());
    b[16..32].copy_from_slice(&dst.to_be_bytes());
    b[32..36].copy_from_slice(&len.to_be_bytes());
    b[39] = proto;
    sum(&b, 0)
}

/// RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`.
#[inline]
pub fn replace16(cs: u16, old: u16, new: u16) -> u16 {
    let mut s = (!cs) as u32 + (!old) as u32 + new as u32;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

/// Updates the checksum stored at `at` for a 16-bit word changing from `old`
/// to `new`. `udp`: a stored 0 means "no checksum" and stays 0, and a
/// computed 0 is sent as 0xffff.
#[inline]
pub fn update16(frame: &mut [u8], at: usize, old: u16, new: u16, udp: bool) {
    if at + 2 > frame.len() {
        return;
    }
    let cs = u16::from_be_bytes([frame[at], frame[at + 1]]);
    if udp && cs == 0 {
        return;
    }
    let mut n = replace16(cs, old, new);
    if udp && n == 0 {
        n = 0xffff;
    }
    frame[at..at + 2].copy_from_slice(&n.to_be_bytes());
}

/// [`update16`] for a 32-bit value (two words).
#[inline]
pub fn update32(frame: &mut [u8], at: usize, old: u32, new: u32, udp: bool) {
    update16(frame, at, (old >> 16) as u16, (new >> 16) as u16, udp);
    update16(frame, at, old as u16, new as u16, udp);
}

/// CRC32-C (Castagnoli) as SCTP uses it (bitwise; SCTP rewrites are rare).
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_equals_recomputed() {
        let mut hdr = [
            0x45u8, 0, 0, 20, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let c = checksum(&hdr, 0);
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&hdr, 0), 0);
        let old = u32::from_be_bytes([hdr[12], hdr[13], hdr[14], hdr[15]]);
        hdr[12..16].copy_from_slice(&0xc0a8_0101u32.to_be_bytes());
        update32(&mut hdr, 10, old, 0xc0a8_0101, false);
        assert_eq!(checksum(&hdr, 0), 0);
    }

    #[test]
    fn crc32c_vector() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }
}
