//! Builds well-formed frames from header fields, for tests, benchmarks and
//! synthetic traffic. Each function returns the bytes of one header plus its
//! payload and fills in every length and the IPv4 checksum, so a test states
//! the field values it puts in and asserts the key against the same values.
//!
//! ```
//! use fastpath::extract::frame::*;
//! let f = ethernet(0x5054_0000_0009, 0x5054_0000_000a, &[], 0x0800,
//!                  &ipv4(&Ipv4::new(0x0a00_0002, 0x0a00_0001, 17), &udp(1024, 53, &[0; 22])));
//! assert_eq!(f.len(), 64);
//! ```

/// Ethernet header (with VLAN tags given as `(tpid, tci)`, outer first) and
/// payload. `eth_type` below 0x0600 is written as is (an 802.3 length).
pub fn ethernet(
    dst: u64,
    src: u64,
    vlans: &[(u16, u16)],
    eth_type: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 4 * vlans.len() + payload.len());
    f.extend_from_slice(&dst.to_be_bytes()[2..]);
    f.extend_from_slice(&src.to_be_bytes()[2..]);
    for &(tpid, tci) in vlans {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&eth_type.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// 802.2 LLC + SNAP header with the Ethernet OUI and `eth_type`, then payload
/// (the payload of an 802.3 frame whose length field is `len()`).
pub fn llc_snap(eth_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0xaa, 0xaa, 0x03, 0, 0, 0];
    f.extend_from_slice(&eth_type.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// IPv4 header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv4 {
    /// Source address.
    pub src: u32,
    /// Destination address.
    pub dst: u32,
    /// Protocol.
    pub proto: u8,
    /// TOS byte (DSCP and ECN).
    pub tos: u8,
    /// Time to live.
    pub ttl: u8,
    /// Flags and fragment offset, the raw 16-bit field (0x2000 = MF, low 13 bits = offset / 8).
    pub frag: u16,
    /// Options, padded with zeros to a multiple of 4 bytes.
    pub options: Vec<u8>,
}

impl Ipv4 {
    /// A header with TOS 0, TTL 64, not fragmented, no options.
    pub fn new(src: u32, dst: u32, proto: u8) -> Self {
        Self {
            src,
            dst,
            proto,
            tos: 0,
            ttl: 64,
            frag: 0,
            options: Vec::new(),
        }
    }
}

/// IPv4 header (IHL, total length and checksum computed) followed by payload.
pub fn ipv4(h: &Ipv4, payload: &[u8]) -> Vec<u8> {
    let mut opts = h.options.clone();
    while !opts.len().is_multiple_of(4) {
        opts.push(0);
    }
    let hlen = 20 + opts.len();
    let tot = (hlen + payload.len()) as u16;
    let mut p = Vec::with_capacity(hlen + payload.len());
    p.push(0x40 | (hlen / 4) as u8);
    p.push(h.tos);
    p.extend_from_slice(&tot.to_be_bytes());
    p.extend_from_slice(&0x1234u16.to_be_bytes());
    p.extend_from_slice(&h.frag.to_be_bytes());
    p.push(h.ttl);
    p.push(h.proto);
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&h.src.to_be_bytes());
    p.extend_from_slice(&h.dst.to_be_bytes());
    p.extend_from_slice(&opts);
    let mut sum = 0u32;
    for c in p.chunks(2) {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    p[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// IPv6 header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv6 {
    /// Source address.
    pub src: u128,
    /// Destination address.
    pub dst: u128,
    /// Next header (the first extension header or the transport protocol).
    pub next: u8,
    /// Traffic class.
    pub tclass: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
    /// Hop limit.
    pub hop_limit: u8,
}

impl Ipv6 {
    /// A header with traffic class 0, flow label 0, hop limit 64.
    pub fn new(src: u128, dst: u128, next: u8) -> Self {
        Self {
            src,
            dst,
            next,
            tclass: 0,
            flow_label: 0,
            hop_limit: 64,
        }
    }
}

/// IPv6 header (payload length computed) followed by payload (extension
/// headers and the transport packet).
pub fn ipv6(h: &Ipv6, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(40 + payload.len());
    let vtf = (6u32 << 28) | ((h.tclass as u32) << 20) | (h.flow_label & 0xf_ffff);
    p.extend_from_slice(&vtf.to_be_bytes());
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.push(h.next);
    p.push(h.hop_limit);
    p.extend_from_slice(&h.src.to_be_bytes());
    p.extend_from_slice(&h.dst.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Hop-by-hop, routing or destination-options header of `(len8 + 1) * 8`
/// bytes (body filled with a PadN option), followed by payload.
pub fn ipv6_opts(next: u8, len8: u8, payload: &[u8]) -> Vec<u8> {
    let total = (len8 as usize + 1) * 8;
    let mut p = vec![next, len8, 1, (total - 4) as u8];
    p.resize(total, 0);
    p.extend_from_slice(payload);
    p
}

/// Authentication header of `(len4 + 2) * 4` bytes, followed by payload.
pub fn ipv6_ah(next: u8, len4: u8, payload: &[u8]) -> Vec<u8> {
    let total = (len4 as usize + 2) * 4;
    let mut p = vec![next, len4];
    p.resize(total, 0);
    p.extend_from_slice(payload);
    p
}

/// Fragment header (`offset8` in 8-byte units, `more` = M flag), followed by payload.
pub fn ipv6_frag(next: u8, offset8: u16, more: bool, payload: &[u8]) -> Vec<u8> {
    let offlg = (offset8 << 3) | more as u16;
    let mut p = vec![next, 0];
    p.extend_from_slice(&offlg.to_be_bytes());
    p.extend_from_slice(&0xdead_beefu32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// TCP header with `flags` (low 12 bits of the offset/flags word) and
/// `options` (zero-padded to a multiple of 4), followed by payload.
pub fn tcp(src: u16, dst: u16, flags: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut opts = options.to_vec();
    while !opts.len().is_multiple_of(4) {
        opts.push(0);
    }
    let hlen = 20 + opts.len();
    let mut p = Vec::with_capacity(hlen + payload.len());
    p.extend_from_slice(&src.to_be_bytes());
    p.extend_from_slice(&dst.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    let ctl = (((hlen / 4) as u16) << 12) | (flags & 0x0fff);
    p.extend_from_slice(&ctl.to_be_bytes());
    p.extend_from_slice(&0xffffu16.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]);
    p.extend_from_slice(&opts);
    p.extend_from_slice(payload);
    p
}

/// UDP header (length computed, checksum 0) followed by payload.
pub fn udp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + payload.len());
    p.extend_from_slice(&src.to_be_bytes());
    p.extend_from_slice(&dst.to_be_bytes());
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// SCTP common header followed by payload (chunks).
pub fn sctp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.extend_from_slice(&src.to_be_bytes());
    p.extend_from_slice(&dst.to_be_bytes());
    p.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// ICMP or ICMPv6 header (type, code, zero checksum, 4 rest-of-header bytes)
/// followed by payload.
pub fn icmp(ty: u8, code: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![ty, code, 0, 0, 0, 1, 0, 1];
    p.extend_from_slice(payload);
    p
}

/// Ethernet/IPv4 ARP packet.
pub fn arp(op: u16, sha: u64, spa: u32, tha: u64, tpa: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(28);
    p.extend_from_slice(&1u16.to_be_bytes());
    p.extend_from_slice(&0x0800u16.to_be_bytes());
    p.extend_from_slice(&[6, 4]);
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(&sha.to_be_bytes()[2..]);
    p.extend_from_slice(&spa.to_be_bytes());
    p.extend_from_slice(&tha.to_be_bytes()[2..]);
    p.extend_from_slice(&tpa.to_be_bytes());
    p
}
