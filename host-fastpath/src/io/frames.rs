//! Building well-formed frames from flow keys (for traces, synthetic traffic
//! and tests): every checksum correct, lengths consistent, and extraction of
//! the frame gives back the key's fields.

use crate::odp::csum;
use abi::key::{FRAG_ANY, FRAG_LATER, VLAN_PRESENT};
use abi::{Field, FlowKey};

/// Smallest Ethernet frame without FCS (64 bytes on the wire).
pub const MIN_FRAME: usize = 60;

fn put48(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes()[2..]);
}

/// Builds a frame whose key is `key` (in_port aside), padded to at least `min_len` bytes.
///
/// Handles Ethernet with up to two VLAN tags, IPv4 (fragments included),
/// IPv6 (a fragment header when `nw_frag` says so), ARP, TCP, UDP, SCTP,
/// ICMP and ICMPv6. Fields a frame cannot carry (bits of unused key space)
/// are ignored.
pub fn frame_from_key(key: &FlowKey, min_len: usize) -> Vec<u8> {
    let g = |f: Field| key.get(f);
    let mut out = Vec::with_capacity(min_len.max(128));
    put48(&mut out, g(Field::DlDst));
    put48(&mut out, g(Field::DlSrc));
    let t1 = g(Field::VlanTci) as u16;
    let t2 = g(Field::VlanTci2) as u16;
    if t1 & VLAN_PRESENT != 0 {
        let outer_tpid: u16 = if t2 & VLAN_PRESENT != 0 {
            0x88a8
        } else {
            0x8100
        };
        out.extend_from_slice(&outer_tpid.to_be_bytes());
        out.extend_from_slice(&(t1 & !VLAN_PRESENT).to_be_bytes());
        if t2 & VLAN_PRESENT != 0 {
            out.extend_from_slice(&0x8100u16.to_be_bytes());
            out.extend_from_slice(&(t2 & !VLAN_PRESENT).to_be_bytes());
        }
    }
    let dl = g(Field::DlType) as u16;
    out.extend_from_slice(&dl.to_be_bytes());
    let l3 = out.len();
    let proto = g(Field::NwProto) as u8;
    let frag = g(Field::NwFrag) as u8;
    let later = frag & FRAG_LATER != 0;
    let (sp, dp) = (g(Field::TpSrc) as u16, g(Field::TpDst) as u16);
    match dl {
        0x0800 => {
            let l4 = if later {
                Vec::new()
            } else {
                l4_header(proto, sp, dp, g(Field::TcpFlags) as u16)
            };
            let hdr_and_l4 = l3 + 20 + l4.len();
            let pad = min_len.saturating_sub(hdr_and_l4);
            let total = (20 + l4.len() + pad) as u16;
            let mut ip = [0u8; 20];
            ip[0] = 0x45;
            ip[1] = g(Field::NwTos) as u8;
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            let mut ff: u16 = 0;
            if frag & FRAG_ANY != 0 {
                ff |= 0x2000; // more fragments
                if later {
                    ff |= 1; // offset 8 bytes
                }
            }
            ip[6..8].copy_from_slice(&ff.to_be_bytes());
            ip[8] = g(Field::NwTtl) as u8;
            ip[9] = proto;
            ip[12..16].copy_from_slice(&(g(Field::NwSrc) as u32).to_be_bytes());
            ip[16..20].copy_from_slice(&(g(Field::NwDst) as u32).to_be_bytes());
            let c = csum::checksum(&ip, 0);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            out.extend_from_slice(&ip);
            let l4_at = out.len();
            out.extend_from_slice(&l4);
            out.resize(out.len() + pad, 0);
            if !later {
                let pseudo = csum::pseudo_v4(
                    g(Field::NwSrc) as u32,
                    g(Field::NwDst) as u32,
                    proto,
                    total - 20,
                );
                fill_l4_checksum(&mut out[l4_at..], proto, pseudo, false);
            }
        }
        0x86dd => {
            let mut ext = Vec::new();
            let mut next = proto;
            if frag & FRAG_ANY != 0 {
                ext.extend_from_slice(&[proto, 0]);
                let off: u16 = if later { 8 | 1 } else { 1 };
                ext.extend_from_slice(&off.to_be_bytes());
                ext.extend_from_slice(&[0, 0, 0, 1]);
                next = 44;
            }
            let mut l4 = if later {
                Vec::new()
            } else {
                l4_header(proto, sp, dp, g(Field::TcpFlags) as u16)
            };
            if !later && abi::parser::is_nd(true, proto, sp as u8, dp as u8) {
                // The target, then a link-layer option per address set (zero
                // padding after them ends the option walk).
                l4.extend_from_slice(&key.nd_target().to_be_bytes());
                for (ty, f) in [(1u8, Field::NdSll), (2, Field::NdTll)] {
                    if g(f) != 0 {
                        l4.extend_from_slice(&[ty, 1]);
                        put48(&mut l4, g(f));
                    }
                }
            }
            let pad = min_len.saturating_sub(l3 + 40 + ext.len() + l4.len());
            let plen = (ext.len() + l4.len() + pad) as u16;
            let tc = g(Field::NwTos) as u8;
            out.push(0x60 | (tc >> 4));
            out.push(tc << 4);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&plen.to_be_bytes());
            out.push(next);
            out.push(g(Field::NwTtl) as u8);
            out.extend_from_slice(&key.ipv6_src().to_be_bytes());
            out.extend_from_slice(&key.ipv6_dst().to_be_bytes());
            out.extend_from_slice(&ext);
            let l4_at = out.len();
            out.extend_from_slice(&l4);
            out.resize(out.len() + pad, 0);
            if !later {
                let len = (l4.len() + pad) as u32;
                let pseudo = csum::pseudo_v6(key.ipv6_src(), key.ipv6_dst(), proto, len);
                fill_l4_checksum(&mut out[l4_at..], proto, pseudo, true);
            }
        }
        0x0806 => {
            out.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4]);
            out.extend_from_slice(&(g(Field::NwProto) as u16).to_be_bytes());
            put48(&mut out, g(Field::ArpSha));
            out.extend_from_slice(&(g(Field::NwSrc) as u32).to_be_bytes());
            put48(&mut out, g(Field::ArpTha));
            out.extend_from_slice(&(g(Field::NwDst) as u32).to_be_bytes());
        }
        _ => {}
    }
    if out.len() < min_len {
        out.resize(min_len, 0);
    }
    out
}

fn l4_header(proto: u8, sp: u16, dp: u16, flags: u16) -> Vec<u8> {
    match proto {
        6 => {
            let mut h = vec![0u8; 20];
            h[0..2].copy_from_slice(&sp.to_be_bytes());
            h[2..4].copy_from_slice(&dp.to_be_bytes());
            h[4..8].copy_from_slice(&1u32.to_be_bytes());
            h[12..14].copy_from_slice(&((5u16 << 12) | (flags & 0x0fff)).to_be_bytes());
            h[14..16].copy_from_slice(&0xffffu16.to_be_bytes());
            h
        }
        17 => {
            let mut h = vec![0u8; 8];
            h[0..2].copy_from_slice(&sp.to_be_bytes());
            h[2..4].copy_from_slice(&dp.to_be_bytes());
            h
        }
        132 => {
            let mut h = vec![0u8; 12];
            h[0..2].copy_from_slice(&sp.to_be_bytes());
            h[2..4].copy_from_slice(&dp.to_be_bytes());
            h[4..8].copy_from_slice(&0x0102_0304u32.to_be_bytes());
            h
        }
        1 | 58 => vec![sp as u8, dp as u8, 0, 0, 0, 0, 0, 0],
        _ => Vec::new(),
    }
}

/// Writes the L4 checksum of `seg` (L4 header + payload) from scratch.
fn fill_l4_checksum(seg: &mut [u8], proto: u8, pseudo: u32, v6: bool) {
    let len = seg.len() as u16;
    match proto {
        6 if seg.len() >= 20 => {
            seg[16..18].fill(0);
            let c = csum::checksum(seg, pseudo);
            seg[16..18].copy_from_slice(&c.to_be_bytes());
        }
        17 if seg.len() >= 8 => {
            seg[4..6].copy_from_slice(&len.to_be_bytes());
            seg[6..8].fill(0);
            let mut c = csum::checksum(seg, pseudo);
            if c == 0 {
                c = 0xffff;
            }
            seg[6..8].copy_from_slice(&c.to_be_bytes());
        }
        132 if seg.len() >= 12 => {
            seg[8..12].fill(0);
            let c = csum::crc32c(seg);
            seg[8..12].copy_from_slice(&c.to_le_bytes());
        }
        1 if !v6 && seg.len() >= 4 => {
            seg[2..4].fill(0);
            let c = csum::checksum(seg, 0);
            seg[2..4].copy_from_slice(&c.to_be_bytes());
        }
        58 if v6 && seg.len() >= 4 => {
            seg[2..4].fill(0);
            let c = csum::checksum(seg, pseudo);
            seg[2..4].copy_from_slice(&c.to_be_bytes());
        }
        _ => {}
    }
}

/// Checks every checksum of a frame from scratch (IPv4 header, TCP, UDP,
/// ICMP, ICMPv6, SCTP). Returns a description of the first bad one.
pub fn verify_checksums(frame: &[u8]) -> Result<(), String> {
    let mut at = 12;
    let mut ty = u16::from_be_bytes([frame[at], frame[at + 1]]);
    while ty == 0x8100 || ty == 0x88a8 {
        at += 4;
        ty = u16::from_be_bytes([frame[at], frame[at + 1]]);
    }
    let l3 = at + 2;
    match ty {
        0x0800 => {
            let ihl = (frame[l3] & 0x0f) as usize * 4;
            if csum::checksum(&frame[l3..l3 + ihl], 0) != 0 {
                return Err("IPv4 header checksum".into());
            }
            let total = u16::from_be_bytes([frame[l3 + 2], frame[l3 + 3]]) as usize;
            let ff = u16::from_be_bytes([frame[l3 + 6], frame[l3 + 7]]);
            if ff & 0x1fff != 0 {
                return Ok(());
            }
            let proto = frame[l3 + 9];
            let src = u32::from_be_bytes([
                frame[l3 + 12],
                frame[l3 + 13],
                frame[l3 + 14],
                frame[l3 + 15],
            ]);
            let dst = u32::from_be_bytes([
                frame[l3 + 16],
                frame[l3 + 17],
                frame[l3 + 18],
                frame[l3 + 19],
            ]);
            let seg = &frame[l3 + ihl..l3 + total];
            let pseudo = csum::pseudo_v4(src, dst, proto, seg.len() as u16);
            check_l4(seg, proto, pseudo, false)
        }
        0x86dd => {
            let plen = u16::from_be_bytes([frame[l3 + 4], frame[l3 + 5]]) as usize;
            let mut next = frame[l3 + 6];
            let mut p = l3 + 40;
            if next == 44 {
                let off = u16::from_be_bytes([frame[p + 2], frame[p + 3]]) & 0xfff8;
                if off != 0 {
                    return Ok(());
                }
                next = frame[p];
                p += 8;
            }
            let seg = &frame[p..l3 + 40 + plen];
            let src = u128::from_be_bytes(frame[l3 + 8..l3 + 24].try_into().map_err(|_| "short")?);
            let dst = u128::from_be_bytes(frame[l3 + 24..l3 + 40].try_into().map_err(|_| "short")?);
            let pseudo = csum::pseudo_v6(src, dst, next, seg.len() as u32);
            check_l4(seg, next, pseudo, true)
        }
        _ => Ok(()),
    }
}

fn check_l4(seg: &[u8], proto: u8, pseudo: u32, v6: bool) -> Result<(), String> {
    let bad = match proto {
        6 => csum::checksum(seg, pseudo) != 0,
        17 => seg[6..8] != [0, 0] && csum::checksum(seg, pseudo) != 0,
        1 if !v6 => csum::checksum(seg, 0) != 0,
        58 if v6 => csum::checksum(seg, pseudo) != 0,
        132 => {
            let mut s = seg.to_vec();
            let want = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
            s[8..12].fill(0);
            csum::crc32c(&s) != want
        }
        _ => false,
    };
    if bad {
        Err(format!("L4 checksum (protocol {proto})"))
    } else {
        Ok(())
    }
}
