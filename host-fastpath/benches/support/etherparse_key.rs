//! Flow key built from `etherparse`'s view of a frame: the contender in the
//! extract benchmark and the independent oracle in the extract tests. Covers
//! well-formed, unfragmented Ethernet II frames with VLAN tags, Ethernet/IPv4
//! ARP, IPv4/IPv6 (with extension headers), TCP, UDP, ICMP and ICMPv6;
//! anything else is `None`.

use abi::{Field, FlowKey};
use etherparse::{LinkExtSlice, LinkSlice, NetSlice, SlicedPacket, TransportSlice};

fn mac(b: [u8; 6]) -> u64 {
    u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
}

/// The key of `frame` as etherparse sees it, or `None` outside its coverage.
pub fn etherparse_key(frame: &[u8], in_port: u32) -> Option<FlowKey> {
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    let mut k = FlowKey::ZERO;
    k.set(Field::InPort, in_port as u64);
    let Some(LinkSlice::Ethernet2(eth)) = &p.link else {
        return None;
    };
    k.set(Field::DlDst, mac(eth.destination()));
    k.set(Field::DlSrc, mac(eth.source()));
    let mut dl_type = eth.ether_type().0;
    for (i, ext) in p.link_exts.iter().enumerate() {
        let LinkExtSlice::Vlan(v) = ext else {
            return None;
        };
        let tci = ((v.priority_code_point().value() as u16) << 13)
            | v.vlan_identifier().value()
            | abi::key::VLAN_PRESENT;
        match i {
            0 => k.set(Field::VlanTci, tci as u64),
            1 => k.set(Field::VlanTci2, tci as u64),
            _ => return None,
        }
        dl_type = v.ether_type().0;
    }
    k.set(Field::DlType, dl_type as u64);
    let proto = match &p.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            if ip.is_payload_fragmented() {
                return None;
            }
            k.set(Field::NwSrc, u32::from_be_bytes(h.source()) as u64);
            k.set(Field::NwDst, u32::from_be_bytes(h.destination()) as u64);
            k.set(Field::NwTos, h.slice()[1] as u64);
            k.set(Field::NwTtl, h.ttl() as u64);
            ip.payload().ip_number.0
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            if ip.is_payload_fragmented() {
                return None;
            }
            k.set_ipv6_src(u128::from_be_bytes(h.source()));
            k.set_ipv6_dst(u128::from_be_bytes(h.destination()));
            k.set(Field::NwTos, h.traffic_class() as u64);
            k.set(Field::NwTtl, h.hop_limit() as u64);
            ip.payload().ip_number.0
        }
        // Ethernet/IPv4 ARP only (as the key); the key keeps opcodes up to
        // 255 (Open vSwitch matches the low 8 bits only and drops larger ones).
        Some(NetSlice::Arp(a)) => {
            let (sha, spa) = (a.sender_hw_addr(), a.sender_protocol_addr());
            let (tha, tpa) = (a.target_hw_addr(), a.target_protocol_addr());
            if a.hw_addr_type().0 != 1 || a.proto_addr_type().0 != 0x0800 {
                return None;
            }
            let (Ok(sha), Ok(spa), Ok(tha), Ok(tpa)) = (
                <[u8; 6]>::try_from(sha),
                <[u8; 4]>::try_from(spa),
                <[u8; 6]>::try_from(tha),
                <[u8; 4]>::try_from(tpa),
            ) else {
                return None;
            };
            k.set(Field::ArpSha, mac(sha));
            k.set(Field::ArpTha, mac(tha));
            k.set(Field::NwSrc, u32::from_be_bytes(spa) as u64);
            k.set(Field::NwDst, u32::from_be_bytes(tpa) as u64);
            if a.operation().0 <= 0xff {
                k.set(Field::NwProto, a.operation().0 as u64);
            }
            return Some(k);
        }
        None => return Some(k),
    };
    k.set(Field::NwProto, proto as u64);
    match &p.transport {
        Some(TransportSlice::Tcp(t)) => {
            k.set(Field::TpSrc, t.source_port() as u64);
            k.set(Field::TpDst, t.destination_port() as u64);
            let s = t.header_slice();
            let ctl = u16::from_be_bytes([s[12], s[13]]) & 0x0fff;
            k.set(Field::TcpFlags, ctl as u64);
        }
        Some(TransportSlice::Udp(u)) => {
            k.set(Field::TpSrc, u.source_port() as u64);
            k.set(Field::TpDst, u.destination_port() as u64);
        }
        Some(TransportSlice::Icmpv4(i)) => {
            k.set(Field::TpSrc, i.slice()[0] as u64);
            k.set(Field::TpDst, i.slice()[1] as u64);
        }
        // etherparse does not parse ND bodies: outside its coverage.
        Some(TransportSlice::Icmpv6(i))
            if abi::parser::is_nd(true, 58, i.type_u8(), i.code_u8()) =>
        {
            return None
        }
        Some(TransportSlice::Icmpv6(i)) => {
            k.set(Field::TpSrc, i.type_u8() as u64);
            k.set(Field::TpDst, i.code_u8() as u64);
        }
        // etherparse does not slice SCTP: outside its coverage.
        None if proto == 132 => return None,
        None => {}
        Some(_) => return None,
    }
    Some(k)
}
