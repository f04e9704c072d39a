//! The hand-written parser behind [`super::miniflow_extract`].
//!
//! Structure and every bounds decision follow Open vSwitch's
//! `miniflow_extract()` (lib/flow.c): the same sanity checks, the same
//! "record what was parsed, stop at the first bad header" behaviour, the same
//! quirks (IPv6 later fragments report `nw_proto` 44; an IPv6 packet whose
//! extension headers are truncated keeps its addresses but no
//! proto/tos/ttl/frag; L2 padding behind the IP packet is never parsed).
//!
//! Headers are read through fixed-size arrays obtained with one length check
//! each (`first_chunk`), so the compiler drops every per-byte bounds check and
//! no input can panic.

use abi::bits::BitField;
use abi::key::{self, FRAG_ANY, FRAG_LATER, VLAN_PRESENT};
use abi::FlowKey;

use super::{ExtractConfig, ExtractStats, HeaderOffsets};

use super::ETH_HEADER_LEN;
/// Ethernet types below this are 802.3 lengths.
const ETH_TYPE_MIN: u16 = 0x0600;
/// OVS's FLOW_DL_TYPE_NONE: an 802.2 frame without an Ethernet SNAP type.
pub(crate) const DL_TYPE_NONE: u16 = 0x05ff;
pub(crate) const ETH_TYPE_IP: u16 = 0x0800;
pub(crate) const ETH_TYPE_ARP: u16 = 0x0806;
pub(crate) const ETH_TYPE_RARP: u16 = 0x8035;
pub(crate) const ETH_TYPE_IPV6: u16 = 0x86dd;
pub(crate) const ETH_TYPE_VLAN_8021Q: u16 = 0x8100;
pub(crate) const ETH_TYPE_VLAN_8021AD: u16 = 0x88a8;
/// Largest frame whose offsets fit the 16-bit [`HeaderOffsets`].
const MAX_FRAME_LEN: usize = abi::parser::MAX_FRAME_LEN;

pub(crate) const IPPROTO_HOPOPTS: u8 = 0;
pub(crate) const IPPROTO_ICMP: u8 = 1;
pub(crate) const IPPROTO_TCP: u8 = 6;
pub(crate) const IPPROTO_UDP: u8 = 17;
pub(crate) const IPPROTO_ROUTING: u8 = 43;
pub(crate) const IPPROTO_FRAGMENT: u8 = 44;
pub(crate) const IPPROTO_AH: u8 = 51;
pub(crate) const IPPROTO_ICMPV6: u8 = 58;
pub(crate) const IPPROTO_DSTOPTS: u8 = 60;
pub(crate) const IPPROTO_SCTP: u8 = 132;

const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const ARP_ETH_HEADER_LEN: usize = 28;
const TCP_HEADER_LEN: usize = 20;
const UDP_HEADER_LEN: usize = 8;
const SCTP_HEADER_LEN: usize = 12;
const ICMP_HEADER_LEN: usize = 8;
const ICMPV6_HEADER_LEN: usize = 8;
/// IPv4 flag MF | fragment offset.
const IP_MORE_FRAGMENTS_OR_OFFSET: u16 = 0x3fff;
const IP_FRAG_OFF_MASK: u16 = 0x1fff;
/// IPv6 fragment header offset bits (ip6f_offlg & IP6F_OFF_MASK).
const IP6F_OFF_MASK: u16 = 0xfff8;
/// TCP flags kept in the key: the low 12 bits of the data-offset/flags word.
const TCP_FLAGS_MASK: u16 = 0x0fff;

/// ORs a value into a zero-initialised field. Field positions come from the
/// abi layout as constants, so this folds to one shift and one OR.
#[inline(always)]
fn put(w: &mut [u64; abi::KEY_WORDS], f: BitField, v: u64) {
    w[f.word()] |= (v & f.value_mask()) << f.shift();
}

#[inline(always)]
fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

#[inline(always)]
fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

#[inline(always)]
fn be48(b: &[u8], i: usize) -> u64 {
    u64::from_be_bytes([0, 0, b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5]])
}

#[inline(always)]
fn be64(b: &[u8], i: usize) -> u64 {
    u64::from_be_bytes([
        b[i],
        b[i + 1],
        b[i + 2],
        b[i + 3],
        b[i + 4],
        b[i + 5],
        b[i + 6],
        b[i + 7],
    ])
}

#[inline(always)]
fn tail(b: &[u8], from: usize) -> &[u8] {
    b.get(from..).unwrap_or(&[])
}

/// Parses one frame into `out`, recording header offsets into `off` (which
/// the caller passes as [`HeaderOffsets::NONE`]).
#[inline(always)]
pub(crate) fn parse(
    frame: &[u8],
    in_port: u32,
    cfg: &ExtractConfig,
    stats: &mut ExtractStats,
    off: &mut HeaderOffsets,
    out: &mut FlowKey,
) {
    let w = &mut out.words;
    *w = [0; abi::KEY_WORDS];
    put(w, key::IN_PORT, in_port as u64);

    let Some(eth) = frame.first_chunk::<ETH_HEADER_LEN>() else {
        stats.too_short_eth += 1;
        return;
    };
    put(w, key::DL_DST, be48(eth, 0));
    put(w, key::DL_SRC, be48(eth, 6));

    // VLAN tags: OVS parse_vlan(). Each tag needs 4 bytes plus the 2 of the
    // type that follows; a short tag ends the loop and its TPID becomes
    // dl_type. A tag beyond the VLAN limit is not parsed: dl_type is its TPID.
    let mut pos = 12;
    let mut ty = be16(eth, 12);
    let mut tags = 0;
    while ty == ETH_TYPE_VLAN_8021Q || ty == ETH_TYPE_VLAN_8021AD {
        if tags == cfg.vlan_limit() {
            stats.too_many_vlans += 1;
            break;
        }
        let Some(tag) = tail(frame, pos).first_chunk::<6>() else {
            stats.truncated_vlan += 1;
            break;
        };
        let tci = (be16(tag, 2) | VLAN_PRESENT) as u64;
        if tags == 0 {
            put(w, key::VLAN_TCI, tci);
        } else {
            put(w, key::VLAN_TCI2, tci);
        }
        off.vlan[tags] = Some(pos as u16);
        tags += 1;
        pos += 4;
        ty = be16(tag, 4);
    }
    off.eth_type = pos as u16;
    pos += 2;

    // OVS parse_ethertype(): 802.3 length frames carry an LLC header; only
    // SNAP with the Ethernet OUI yields a real type.
    let dl_type = if ty >= ETH_TYPE_MIN {
        ty
    } else {
        match tail(frame, pos).first_chunk::<8>() {
            Some(llc) if llc[..6] == [0xaa, 0xaa, 0x03, 0, 0, 0] => {
                pos += 8;
                let t = be16(llc, 6);
                if t >= ETH_TYPE_MIN {
                    t
                } else {
                    DL_TYPE_NONE
                }
            }
            _ => DL_TYPE_NONE,
        }
    };
    put(w, key::DL_TYPE, dl_type as u64);

    if frame.len() > MAX_FRAME_LEN {
        stats.oversized_frame += 1;
        return;
    }
    let l3 = tail(frame, pos);
    match dl_type {
        ETH_TYPE_IP => parse_ipv4(l3, pos, stats, off, w),
        ETH_TYPE_IPV6 => parse_ipv6(l3, pos, stats, off, w),
        ETH_TYPE_ARP | ETH_TYPE_RARP => parse_arp(l3, pos, stats, off, w),
        _ => {}
    }
}

#[inline(always)]
fn parse_ipv4(
    l3: &[u8],
    pos: usize,
    stats: &mut ExtractStats,
    off: &mut HeaderOffsets,
    w: &mut [u64; abi::KEY_WORDS],
) {
    // OVS ipv4_sanity_check(): a header that lies about its lengths yields an
    // L2-only key rather than fields read from the wrong place.
    let Some(h) = l3.first_chunk::<IPV4_HEADER_LEN>() else {
        stats.truncated_ipv4 += 1;
        return;
    };
    let ihl = (h[0] & 0x0f) as usize * 4;
    if ihl < IPV4_HEADER_LEN {
        stats.bad_ipv4_ihl += 1;
        return;
    }
    if l3.len() < ihl {
        stats.truncated_ipv4 += 1;
        return;
    }
    let tot_len = be16(h, 2) as usize;
    if tot_len > l3.len() || tot_len < ihl {
        stats.bad_ipv4_total_len += 1;
        return;
    }
    if h[0] >> 4 != 4 {
        stats.bad_ip_version += 1;
    }
    put(w, key::NW_SRC, be32(h, 12) as u64);
    put(w, key::NW_DST, be32(h, 16) as u64);
    let frag_off = be16(h, 6);
    let mut frag = 0;
    if frag_off & IP_MORE_FRAGMENTS_OR_OFFSET != 0 {
        frag = FRAG_ANY;
        if frag_off & IP_FRAG_OFF_MASK != 0 {
            frag |= FRAG_LATER;
        }
    }
    let proto = h[9];
    put(w, key::NW_TOS, h[1] as u64);
    put(w, key::NW_TTL, h[8] as u64);
    put(w, key::NW_PROTO, proto as u64);
    put(w, key::NW_FRAG, frag as u64);
    off.l3 = Some(pos as u16);
    off.l3_end = Some((pos + tot_len) as u16);
    off.l4 = Some((pos + ihl) as u16);
    if frag & FRAG_LATER == 0 {
        // Padding behind the IP packet is never part of L4 (OVS "never pull padding").
        let l4 = l3.get(ihl..tot_len).unwrap_or(&[]);
        parse_l4(l4, proto, false, stats, w);
    }
}

#[inline(always)]
fn parse_ipv6(
    l3: &[u8],
    pos: usize,
    stats: &mut ExtractStats,
    off: &mut HeaderOffsets,
    w: &mut [u64; abi::KEY_WORDS],
) {
    let Some(h) = l3.first_chunk::<IPV6_HEADER_LEN>() else {
        stats.truncated_ipv6 += 1;
        return;
    };
    let plen = be16(h, 4) as usize;
    if IPV6_HEADER_LEN + plen > l3.len() {
        stats.bad_ipv6_payload_len += 1;
        return;
    }
    if h[0] >> 4 != 6 {
        stats.bad_ip_version += 1;
    }
    put(w, key::IPV6_SRC_HI, be64(h, 8));
    put(w, key::IPV6_SRC_LO, be64(h, 16));
    put(w, key::IPV6_DST_HI, be64(h, 24));
    put(w, key::IPV6_DST_LO, be64(h, 32));
    off.l3 = Some(pos as u16);
    off.l3_end = Some((pos + IPV6_HEADER_LEN + plen) as u16);

    let tos = (be32(h, 0) >> 20) as u8;
    let ttl = h[7];
    let mut proto = h[6];
    let mut frag = 0u8;
    let mut data = l3
        .get(IPV6_HEADER_LEN..IPV6_HEADER_LEN + plen)
        .unwrap_or(&[]);
    let mut l4_pos = pos + IPV6_HEADER_LEN;

    // OVS parse_ipv6_ext_hdrs__(): walk hop-by-hop, routing, destination
    // options, AH and fragment headers; each is at least 8 bytes and every
    // step consumes at least 8, so the loop ends.
    loop {
        if !matches!(
            proto,
            IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS | IPPROTO_AH | IPPROTO_FRAGMENT
        ) {
            break;
        }
        let Some(ext) = data.first_chunk::<8>() else {
            // OVS records the addresses but not proto/tos/ttl/frag here.
            stats.truncated_ipv6_ext += 1;
            return;
        };
        let next = ext[0];
        let len = match proto {
            IPPROTO_AH => (ext[1] as usize + 2) * 4,
            IPPROTO_FRAGMENT => 8,
            _ => (ext[1] as usize + 1) * 8,
        };
        if data.len() < len {
            stats.truncated_ipv6_ext += 1;
            return;
        }
        let is_frag = proto == IPPROTO_FRAGMENT;
        proto = next;
        data = &data[len..];
        l4_pos += len;
        if is_frag {
            let offlg = be16(ext, 2);
            if offlg != 0 {
                frag = FRAG_ANY;
                if offlg & IP6F_OFF_MASK != 0 {
                    // Only the first fragment has L4; OVS reports the
                    // fragment header itself as the protocol.
                    frag |= FRAG_LATER;
                    proto = IPPROTO_FRAGMENT;
                    break;
                }
            }
        }
    }
    put(w, key::NW_TOS, tos as u64);
    put(w, key::NW_TTL, ttl as u64);
    put(w, key::NW_PROTO, proto as u64);
    put(w, key::NW_FRAG, frag as u64);
    off.l4 = Some(l4_pos as u16);
    if frag & FRAG_LATER == 0 {
        parse_l4(data, proto, true, stats, w);
    }
}

#[inline(always)]
fn parse_arp(
    l3: &[u8],
    pos: usize,
    stats: &mut ExtractStats,
    off: &mut HeaderOffsets,
    w: &mut [u64; abi::KEY_WORDS],
) {
    let Some(a) = l3.first_chunk::<ARP_ETH_HEADER_LEN>() else {
        stats.truncated_arp += 1;
        return;
    };
    // Only Ethernet/IPv4 ARP has fields in the key.
    if be16(a, 0) != 1 || be16(a, 2) != ETH_TYPE_IP || a[4] != 6 || a[5] != 4 {
        stats.bad_arp_format += 1;
        return;
    }
    put(w, key::NW_SRC, be32(a, 14) as u64);
    put(w, key::NW_DST, be32(a, 24) as u64);
    let op = be16(a, 6);
    // OVS matches only the low 8 bits of the opcode; larger opcodes read as 0.
    if op <= 0xff {
        put(w, key::NW_PROTO, op as u64);
    }
    put(w, key::ARP_SHA, be48(a, 8));
    put(w, key::ARP_THA, be48(a, 18));
    off.l3 = Some(pos as u16);
    off.l3_end = Some((pos + ARP_ETH_HEADER_LEN) as u16);
}

/// Transport header of the first (or only) fragment; `l4` ends at the end of
/// the IP packet.
#[inline(always)]
fn parse_l4(
    l4: &[u8],
    proto: u8,
    ipv6: bool,
    stats: &mut ExtractStats,
    w: &mut [u64; abi::KEY_WORDS],
) {
    match proto {
        IPPROTO_TCP => {
            let Some(t) = l4.first_chunk::<TCP_HEADER_LEN>() else {
                stats.truncated_tcp += 1;
                return;
            };
            let hdr_len = (t[12] >> 4) as usize * 4;
            if hdr_len < TCP_HEADER_LEN || hdr_len > l4.len() {
                stats.bad_tcp_offset += 1;
                return;
            }
            put(w, key::TP_SRC, be16(t, 0) as u64);
            put(w, key::TP_DST, be16(t, 2) as u64);
            put(w, key::TCP_FLAGS, (be16(t, 12) & TCP_FLAGS_MASK) as u64);
        }
        IPPROTO_UDP => {
            let Some(u) = l4.first_chunk::<UDP_HEADER_LEN>() else {
                stats.truncated_udp += 1;
                return;
            };
            put(w, key::TP_SRC, be16(u, 0) as u64);
            put(w, key::TP_DST, be16(u, 2) as u64);
        }
        IPPROTO_SCTP => {
            let Some(s) = l4.first_chunk::<SCTP_HEADER_LEN>() else {
                stats.truncated_sctp += 1;
                return;
            };
            put(w, key::TP_SRC, be16(s, 0) as u64);
            put(w, key::TP_DST, be16(s, 2) as u64);
        }
        IPPROTO_ICMP => {
            let Some(i) = l4.first_chunk::<ICMP_HEADER_LEN>() else {
                stats.truncated_icmp += 1;
                return;
            };
            put(w, key::TP_SRC, i[0] as u64);
            put(w, key::TP_DST, i[1] as u64);
        }
        IPPROTO_ICMPV6 => {
            let Some(i) = l4.first_chunk::<ICMPV6_HEADER_LEN>() else {
                stats.truncated_icmpv6 += 1;
                return;
            };
            put(w, key::TP_SRC, i[0] as u64);
            put(w, key::TP_DST, i[1] as u64);
            if abi::parser::is_nd(ipv6, proto, i[0], i[1]) {
                parse_nd(&l4[ICMPV6_HEADER_LEN..], w);
            }
        }
        _ => {}
    }
}

/// ND option types whose 6-byte value is in the key.
const ND_OPT_SOURCE_LINKADDR: u8 = 1;
const ND_OPT_TARGET_LINKADDR: u8 = 2;

/// The neighbour-discovery body after the ICMPv6 header, as Open vSwitch's
/// `parse_icmpv6`: the target address, then options of `len * 8` bytes; the
/// first source and target link-layer options of 8 bytes give `nd_sll` and
/// `nd_tll`. A short target or option ends parsing with what was found; a
/// repeated link-layer option makes all three fields zero (OVS: invalid).
/// Never counted as malformed (OVS neither).
#[inline(never)]
fn parse_nd(body: &[u8], w: &mut [u64; abi::KEY_WORDS]) {
    let Some(target) = body.first_chunk::<16>() else {
        return;
    };
    let (mut sll, mut tll) = (0u64, 0u64);
    let mut opts = &body[16..];
    while opts.len() >= 8 {
        let len = opts[1] as usize * 8;
        if len == 0 || len > opts.len() {
            break;
        }
        if len == 8 {
            let mac = be48(opts, 2);
            let slot = match opts[0] {
                ND_OPT_SOURCE_LINKADDR => Some(&mut sll),
                ND_OPT_TARGET_LINKADDR => Some(&mut tll),
                _ => None,
            };
            if let Some(slot) = slot {
                // OVS tells "not seen yet" by a zero address.
                if *slot != 0 {
                    return;
                }
                *slot = mac;
            }
        }
        opts = &opts[len..];
    }
    let t = u128::from_be_bytes(*target);
    put(w, key::ND_TARGET_HI, (t >> 64) as u64);
    put(w, key::ND_TARGET_LO, t as u64);
    put(w, key::ND_SLL, sll);
    put(w, key::ND_TLL, tll);
}
