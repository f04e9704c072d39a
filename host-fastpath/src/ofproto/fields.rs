//! Match fields by name: where each lives in a [`Flow`], its prerequisites,
//! and how it is written and read in `ovs-ofctl` syntax.
//!
//! Each field has its `ovs-ofctl` name, aliases, and the NXM/OXM names that
//! `load`, `move` and `set_field` use (`NXM_OF_IP_SRC`, `NXM_NX_REG0`, …).

use super::flow::{
    eth_type, ip_proto, Flow, CONJ_ID_WORD, METADATA_WORD, RECIRC_ID_WORD, REGS_WORD, TUN_ID_WORD,
};
use abi::Field;

/// Where a field's bits live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// Inside one word: `word`, LSB position `shift`, `width` bits (≤ 64).
    Bits {
        /// Word index in [`Flow::w`].
        word: u8,
        /// LSB position.
        shift: u8,
        /// Width in bits.
        width: u8,
    },
    /// A 128-bit IPv6 address in words `hi`, `hi + 1` (big-endian halves).
    Ipv6 {
        /// Word with the high 64 bits.
        hi: u8,
    },
}

/// What a packet must be for a field to exist (Open vSwitch's prerequisites).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prereq {
    /// Always present.
    None,
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
    /// IPv4 or IPv6.
    IpAny,
    /// ARP.
    Arp,
    /// TCP over IPv4 or IPv6.
    Tcp,
    /// UDP over IPv4 or IPv6.
    Udp,
    /// SCTP over IPv4 or IPv6.
    Sctp,
    /// TCP, UDP or SCTP (the legacy `tp_src`/`tp_dst`).
    Transport,
    /// ICMPv4.
    Icmp4,
    /// ICMPv6.
    Icmp6,
    /// IPv6 neighbour discovery: ICMPv6 type 135 or 136, code 0.
    Nd,
    /// Neighbour solicitation: ICMPv6 type 135, code 0.
    NdSolicit,
    /// Neighbour advertisement: ICMPv6 type 136, code 0.
    NdAdvert,
}

impl Prereq {
    /// Whether the prerequisite names an IP protocol (so `nw_proto` must be
    /// matched exactly, besides `dl_type`).
    pub fn needs_proto(self) -> bool {
        matches!(
            self,
            Prereq::Tcp
                | Prereq::Udp
                | Prereq::Sctp
                | Prereq::Transport
                | Prereq::Icmp4
                | Prereq::Icmp6
                | Prereq::Nd
                | Prereq::NdSolicit
                | Prereq::NdAdvert
        )
    }
}

/// Value syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Integer, printed in decimal.
    Dec,
    /// Integer, printed in hex.
    Hex,
    /// Ethernet address.
    Mac,
    /// IPv4 address (prefix or netmask).
    Ipv4,
    /// IPv6 address (prefix or netmask).
    Ipv6,
    /// `no|yes|first|later|not_later`.
    Frag,
    /// `+syn-ack` or value/mask.
    TcpFlags,
}

/// A match field.
#[derive(Debug)]
pub struct Mf {
    /// Canonical `ovs-ofctl` name.
    pub name: &'static str,
    /// Every accepted name (canonical, aliases, NXM/OXM).
    pub names: &'static [&'static str],
    /// Location in [`Flow`].
    pub loc: Loc,
    /// Prerequisite.
    pub prereq: Prereq,
    /// Value syntax.
    pub syntax: Syntax,
    /// Bits a match may use (e.g. `nw_tos` only the DSCP bits); all ones otherwise.
    pub usable: u128,
    /// May actions write it.
    pub writable: bool,
}

const fn key(f: Field) -> Loc {
    let d = f.def();
    Loc::Bits {
        word: d.word() as u8,
        shift: d.shift() as u8,
        width: d.width,
    }
}

const fn bits(word: usize, shift: u8, width: u8) -> Loc {
    Loc::Bits {
        word: word as u8,
        shift,
        width,
    }
}

const fn narrow(f: Field, width: u8) -> Loc {
    let d = f.def();
    Loc::Bits {
        word: d.word() as u8,
        shift: d.shift() as u8,
        width,
    }
}

const NW_TOS_SHIFT: u8 = (Field::NwTos.def().offset % 64) as u8;
const NW_TOS_WORD: usize = Field::NwTos.def().word();

macro_rules! mf {
    ($name:expr, [$($n:expr),*], $loc:expr, $pre:ident, $syn:ident, $w:expr) => {
        Mf { name: $name, names: &[$name, $($n),*], loc: $loc, prereq: Prereq::$pre,
             syntax: Syntax::$syn, usable: u128::MAX, writable: $w }
    };
}

/// Every field.
pub static FIELDS: &[Mf] = &[
    mf!(
        "in_port",
        ["NXM_OF_IN_PORT", "OXM_OF_IN_PORT"],
        key(Field::InPort),
        None,
        Dec,
        true
    ),
    mf!(
        "metadata",
        ["OXM_OF_METADATA"],
        bits(METADATA_WORD, 0, 64),
        None,
        Hex,
        true
    ),
    mf!(
        "reg0",
        ["NXM_NX_REG0"],
        bits(REGS_WORD, 32, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg1",
        ["NXM_NX_REG1"],
        bits(REGS_WORD, 0, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg2",
        ["NXM_NX_REG2"],
        bits(REGS_WORD + 1, 32, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg3",
        ["NXM_NX_REG3"],
        bits(REGS_WORD + 1, 0, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg4",
        ["NXM_NX_REG4"],
        bits(REGS_WORD + 2, 32, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg5",
        ["NXM_NX_REG5"],
        bits(REGS_WORD + 2, 0, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg6",
        ["NXM_NX_REG6"],
        bits(REGS_WORD + 3, 32, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg7",
        ["NXM_NX_REG7"],
        bits(REGS_WORD + 3, 0, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg8",
        ["NXM_NX_REG8"],
        bits(REGS_WORD + 4, 32, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg9",
        ["NXM_NX_REG9"],
        bits(REGS_WORD + 4, 0, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg10",
        ["NXM_NX_REG10"],
        bits(REGS_WORD + 5, 32, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg11",
        ["NXM_NX_REG11"],
        bits(REGS_WORD + 5, 0, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg12",
        ["NXM_NX_REG12"],
        bits(REGS_WORD + 6, 32, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg13",
        ["NXM_NX_REG13"],
        bits(REGS_WORD + 6, 0, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg14",
        ["NXM_NX_REG14"],
        bits(REGS_WORD + 7, 32, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "reg15",
        ["NXM_NX_REG15"],
        bits(REGS_WORD + 7, 0, 32),
        None,
        Hex,
        true
    ),
    mf!(
        "xreg0",
        ["OXM_OF_PKT_REG0"],
        bits(REGS_WORD, 0, 64),
        None,
        Hex,
        true
    ),
    mf!(
        "xreg1",
        ["OXM_OF_PKT_REG1"],
        bits(REGS_WORD + 1, 0, 64),
        None,
        Hex,
        true
    ),
    mf!(
        "xreg2",
        ["OXM_OF_PKT_REG2"],
        bits(REGS_WORD + 2, 0, 64),
        None,
        Hex,
        true
    ),
    mf!(
        "xreg3",
        ["OXM_OF_PKT_REG3"],
        bits(REGS_WORD + 3, 0, 64),
        None,
        Hex,
        true
    ),
    mf!(
        "xreg4",
        ["OXM_OF_PKT_REG4"],
        bits(REGS_WORD + 4, 0, 64),
        None,
        Hex,
        true
    ),
    mf!(
        "xreg5",
        ["OXM_OF_PKT_REG5"],
        bits(REGS_WORD + 5, 0, 64),
        None,
        Hex,
        true
    ),
    mf!(
        "xreg6",
        ["OXM_OF_PKT_REG6"],
        bits(REGS_WORD + 6, 0, 64),
        None,
        Hex,
        true
    ),
    mf!(
        "xreg7",
        ["OXM_OF_PKT_REG7"],
        bits(REGS_WORD + 7, 0, 64),
        None,
        Hex,
        true
    ),
    mf!(
        "xxreg0",
        ["NXM_NX_XXREG0"],
        Loc::Ipv6 {
            hi: REGS_WORD as u8,
        },
        None,
        Hex,
        true
    ),
    mf!(
        "xxreg1",
        ["NXM_NX_XXREG1"],
        Loc::Ipv6 {
            hi: (REGS_WORD + 2) as u8,
        },
        None,
        Hex,
        true
    ),
    mf!(
        "xxreg2",
        ["NXM_NX_XXREG2"],
        Loc::Ipv6 {
            hi: (REGS_WORD + 4) as u8,
        },
        None,
        Hex,
        true
    ),
    mf!(
        "xxreg3",
        ["NXM_NX_XXREG3"],
        Loc::Ipv6 {
            hi: (REGS_WORD + 6) as u8,
        },
        None,
        Hex,
        true
    ),
    mf!(
        "tun_id",
        ["tunnel_id", "NXM_NX_TUN_ID", "OXM_OF_TUNNEL_ID"],
        bits(TUN_ID_WORD, 0, 64),
        None,
        Hex,
        true
    ),
    mf!("conj_id", [], bits(CONJ_ID_WORD, 0, 32), None, Dec, false),
    mf!(
        "recirc_id",
        ["NXM_NX_RECIRC_ID"],
        bits(RECIRC_ID_WORD, 0, 32),
        None,
        Hex,
        false
    ),
    mf!(
        "dl_src",
        ["eth_src", "NXM_OF_ETH_SRC", "OXM_OF_ETH_SRC"],
        key(Field::DlSrc),
        None,
        Mac,
        true
    ),
    mf!(
        "dl_dst",
        ["eth_dst", "NXM_OF_ETH_DST", "OXM_OF_ETH_DST"],
        key(Field::DlDst),
        None,
        Mac,
        true
    ),
    mf!(
        "dl_type",
        ["eth_type", "NXM_OF_ETH_TYPE", "OXM_OF_ETH_TYPE"],
        key(Field::DlType),
        None,
        Hex,
        false
    ),
    mf!(
        "vlan_tci",
        ["NXM_OF_VLAN_TCI"],
        key(Field::VlanTci),
        None,
        Hex,
        true
    ),
    // OXM's vlan_vid carries the "present" bit (0x1000) above the 12-bit VID,
    // as the TCI does; writing either field marks a tag present.
    mf!(
        "vlan_vid",
        ["OXM_OF_VLAN_VID"],
        narrow(Field::VlanTci, 13),
        None,
        Dec,
        true
    ),
    mf!(
        "vlan_pcp",
        ["OXM_OF_VLAN_PCP"],
        bits(
            Field::VlanTci.def().word(),
            Field::VlanTci.def().shift() as u8 + 13,
            3
        ),
        None,
        Dec,
        true
    ),
    mf!(
        "nw_src",
        ["ip_src", "NXM_OF_IP_SRC", "OXM_OF_IPV4_SRC"],
        key(Field::NwSrc),
        Ipv4,
        Ipv4,
        true
    ),
    mf!(
        "nw_dst",
        ["ip_dst", "NXM_OF_IP_DST", "OXM_OF_IPV4_DST"],
        key(Field::NwDst),
        Ipv4,
        Ipv4,
        true
    ),
    mf!(
        "arp_spa",
        ["NXM_OF_ARP_SPA", "OXM_OF_ARP_SPA"],
        key(Field::NwSrc),
        Arp,
        Ipv4,
        true
    ),
    mf!(
        "arp_tpa",
        ["NXM_OF_ARP_TPA", "OXM_OF_ARP_TPA"],
        key(Field::NwDst),
        Arp,
        Ipv4,
        true
    ),
    mf!(
        "arp_sha",
        ["NXM_NX_ARP_SHA", "OXM_OF_ARP_SHA"],
        key(Field::ArpSha),
        Arp,
        Mac,
        true
    ),
    mf!(
        "arp_tha",
        ["NXM_NX_ARP_THA", "OXM_OF_ARP_THA"],
        key(Field::ArpTha),
        Arp,
        Mac,
        true
    ),
    mf!(
        "arp_op",
        ["NXM_OF_ARP_OP", "OXM_OF_ARP_OP"],
        key(Field::NwProto),
        Arp,
        Dec,
        true
    ),
    mf!(
        "ipv6_src",
        ["NXM_NX_IPV6_SRC", "OXM_OF_IPV6_SRC"],
        Loc::Ipv6 { hi: 3 },
        Ipv6,
        Ipv6,
        true
    ),
    mf!(
        "ipv6_dst",
        ["NXM_NX_IPV6_DST", "OXM_OF_IPV6_DST"],
        Loc::Ipv6 { hi: 5 },
        Ipv6,
        Ipv6,
        true
    ),
    mf!(
        "nw_proto",
        ["ip_proto", "NXM_OF_IP_PROTO", "OXM_OF_IP_PROTO"],
        key(Field::NwProto),
        IpAny,
        Dec,
        false
    ),
    Mf {
        name: "nw_tos",
        names: &["nw_tos", "NXM_OF_IP_TOS"],
        loc: key(Field::NwTos),
        prereq: Prereq::IpAny,
        syntax: Syntax::Dec,
        usable: 0xfc,
        writable: true,
    },
    mf!(
        "ip_dscp",
        ["OXM_OF_IP_DSCP"],
        bits(NW_TOS_WORD, NW_TOS_SHIFT + 2, 6),
        IpAny,
        Dec,
        true
    ),
    mf!(
        "nw_ecn",
        ["ip_ecn", "NXM_NX_IP_ECN", "OXM_OF_IP_ECN"],
        bits(NW_TOS_WORD, NW_TOS_SHIFT, 2),
        IpAny,
        Dec,
        true
    ),
    mf!(
        "nw_ttl",
        ["NXM_NX_IP_TTL"],
        key(Field::NwTtl),
        IpAny,
        Dec,
        true
    ),
    mf!(
        "nw_frag",
        ["ip_frag", "NXM_NX_IP_FRAG"],
        key(Field::NwFrag),
        IpAny,
        Frag,
        false
    ),
    mf!("tp_src", [], key(Field::TpSrc), Transport, Dec, true),
    mf!("tp_dst", [], key(Field::TpDst), Transport, Dec, true),
    mf!(
        "tcp_src",
        ["NXM_OF_TCP_SRC", "OXM_OF_TCP_SRC"],
        key(Field::TpSrc),
        Tcp,
        Dec,
        true
    ),
    mf!(
        "tcp_dst",
        ["NXM_OF_TCP_DST", "OXM_OF_TCP_DST"],
        key(Field::TpDst),
        Tcp,
        Dec,
        true
    ),
    mf!(
        "udp_src",
        ["NXM_OF_UDP_SRC", "OXM_OF_UDP_SRC"],
        key(Field::TpSrc),
        Udp,
        Dec,
        true
    ),
    mf!(
        "udp_dst",
        ["NXM_OF_UDP_DST", "OXM_OF_UDP_DST"],
        key(Field::TpDst),
        Udp,
        Dec,
        true
    ),
    mf!(
        "sctp_src",
        ["OXM_OF_SCTP_SRC"],
        key(Field::TpSrc),
        Sctp,
        Dec,
        true
    ),
    mf!(
        "sctp_dst",
        ["OXM_OF_SCTP_DST"],
        key(Field::TpDst),
        Sctp,
        Dec,
        true
    ),
    Mf {
        name: "tcp_flags",
        names: &["tcp_flags", "NXM_NX_TCP_FLAGS", "OXM_OF_TCP_FLAGS"],
        loc: key(Field::TcpFlags),
        prereq: Prereq::Tcp,
        syntax: Syntax::TcpFlags,
        usable: 0x0fff,
        writable: false,
    },
    mf!(
        "icmp_type",
        ["NXM_OF_ICMP_TYPE", "OXM_OF_ICMPV4_TYPE"],
        narrow(Field::TpSrc, 8),
        Icmp4,
        Dec,
        true
    ),
    mf!(
        "icmp_code",
        ["NXM_OF_ICMP_CODE", "OXM_OF_ICMPV4_CODE"],
        narrow(Field::TpDst, 8),
        Icmp4,
        Dec,
        true
    ),
    mf!(
        "icmpv6_type",
        ["NXM_NX_ICMPV6_TYPE", "OXM_OF_ICMPV6_TYPE"],
        narrow(Field::TpSrc, 8),
        Icmp6,
        Dec,
        true
    ),
    mf!(
        "icmpv6_code",
        ["NXM_NX_ICMPV6_CODE", "OXM_OF_ICMPV6_CODE"],
        narrow(Field::TpDst, 8),
        Icmp6,
        Dec,
        true
    ),
    mf!(
        "nd_target",
        ["NXM_NX_ND_TARGET", "OXM_OF_IPV6_ND_TARGET"],
        Loc::Ipv6 {
            hi: Field::NdTargetHi.def().word() as u8
        },
        Nd,
        Ipv6,
        true
    ),
    mf!(
        "nd_sll",
        ["NXM_NX_ND_SLL", "OXM_OF_IPV6_ND_SLL"],
        key(Field::NdSll),
        NdSolicit,
        Mac,
        true
    ),
    mf!(
        "nd_tll",
        ["NXM_NX_ND_TLL", "OXM_OF_IPV6_ND_TLL"],
        key(Field::NdTll),
        NdAdvert,
        Mac,
        true
    ),
];

/// Looks a field up by any of its names (case-sensitive, as ovs-ofctl).
pub fn by_name(name: &str) -> Option<&'static Mf> {
    FIELDS.iter().find(|m| m.names.contains(&name))
}

/// Looks a field up by its canonical name; for internal use with known names.
pub(crate) fn named(name: &str) -> &'static Mf {
    match by_name(name) {
        Some(m) => m,
        None => &FIELDS[0],
    }
}

impl PartialEq for Mf {
    fn eq(&self, o: &Mf) -> bool {
        self.name == o.name
    }
}

impl Mf {
    /// A value (or mask) in the field's syntax, as OVS's `mf_format` prints
    /// it: MACs and addresses in their notation, hex as `0x…`.
    pub fn format_value(&self, v: u128) -> String {
        match self.syntax {
            Syntax::Mac => {
                let b = (v as u64).to_be_bytes();
                format!(
                    "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                    b[2], b[3], b[4], b[5], b[6], b[7]
                )
            }
            Syntax::Ipv4 => std::net::Ipv4Addr::from(v as u32).to_string(),
            Syntax::Ipv6 => super::format::ipv6_str(v),
            Syntax::Dec | Syntax::Frag => v.to_string(),
            Syntax::Hex | Syntax::TcpFlags => format!("{v:#x}"),
        }
    }

    /// Width in bits.
    pub fn width(&self) -> u32 {
        match self.loc {
            Loc::Bits { width, .. } => width as u32,
            Loc::Ipv6 { .. } => 128,
        }
    }

    /// All-ones value of the field's width, restricted to usable bits.
    pub fn full_mask(&self) -> u128 {
        let w = self.width();
        let m = if w >= 128 {
            u128::MAX
        } else {
            (1u128 << w) - 1
        };
        m & self.usable
    }

    /// Reads the field.
    #[inline]
    pub fn get(&self, f: &Flow) -> u128 {
        match self.loc {
            Loc::Bits { word, shift, width } => {
                let v = f.w[word as usize] >> shift;
                (if width >= 64 {
                    v
                } else {
                    v & ((1u64 << width) - 1)
                }) as u128
            }
            Loc::Ipv6 { hi } => ((f.w[hi as usize] as u128) << 64) | f.w[hi as usize + 1] as u128,
        }
    }

    /// `f.field = (f.field & !mask) | (value & mask)`.
    #[inline]
    pub fn set_masked(&self, f: &mut Flow, value: u128, mask: u128) {
        match self.loc {
            Loc::Bits { word, shift, width } => {
                let wm = if width >= 64 {
                    u64::MAX
                } else {
                    (1u64 << width) - 1
                };
                let m = ((mask as u64) & wm) << shift;
                let v = ((value as u64) & wm) << shift;
                let w = &mut f.w[word as usize];
                *w = (*w & !m) | (v & m);
            }
            Loc::Ipv6 { hi } => {
                let cur = self.get(f);
                let n = (cur & !mask) | (value & mask);
                f.w[hi as usize] = (n >> 64) as u64;
                f.w[hi as usize + 1] = n as u64;
            }
        }
    }

    /// ORs `mask` into the field of a wildcard mask (un-wildcards those bits).
    #[inline]
    pub fn unwildcard(&self, wc: &mut Flow, mask: u128) {
        let cur = self.get(wc);
        self.set_masked(wc, cur | mask, u128::MAX);
    }

    /// The field's bits as a [`Flow`] mask restricted to `mask`.
    pub fn as_flow_mask(&self, mask: u128) -> Flow {
        let mut f = Flow::ZERO;
        self.set_masked(&mut f, mask, u128::MAX);
        f
    }
}

/// Does a flow meet a prerequisite? Reading the flow's protocol un-wildcards
/// it in `wc`, as Open vSwitch's `mf_are_prereqs_ok` does.
pub fn prereq_ok(p: Prereq, flow: &Flow, mut wc: Option<&mut Flow>) -> bool {
    let dl = flow.get(Field::DlType) as u16;
    let ip = dl == eth_type::IP || dl == eth_type::IPV6;
    let proto = flow.get(Field::NwProto) as u8;
    let needs_proto = p.needs_proto();
    if let Some(wc) = wc.as_deref_mut() {
        wc.set(Field::DlType, 0xffff);
        if needs_proto && ip {
            wc.set(Field::NwProto, 0xff);
        }
    }
    match p {
        Prereq::None => true,
        Prereq::Ipv4 => dl == eth_type::IP,
        Prereq::Ipv6 => dl == eth_type::IPV6,
        Prereq::IpAny => ip,
        Prereq::Arp => dl == eth_type::ARP,
        Prereq::Tcp => ip && proto == ip_proto::TCP,
        Prereq::Udp => ip && proto == ip_proto::UDP,
        Prereq::Sctp => ip && proto == ip_proto::SCTP,
        Prereq::Transport => ip && matches!(proto, ip_proto::TCP | ip_proto::UDP | ip_proto::SCTP),
        Prereq::Icmp4 => dl == eth_type::IP && proto == ip_proto::ICMP,
        Prereq::Icmp6 => dl == eth_type::IPV6 && proto == ip_proto::ICMPV6,
        Prereq::Nd | Prereq::NdSolicit | Prereq::NdAdvert => {
            // As OVS's is_nd: the code is read first, the type only when it is 0.
            if !(dl == eth_type::IPV6 && proto == ip_proto::ICMPV6) {
                return false;
            }
            if let Some(wc) = wc.as_deref_mut() {
                wc.set(Field::TpDst, 0xffff);
            }
            if flow.get(Field::TpDst) != 0 {
                return false;
            }
            if let Some(wc) = wc {
                wc.set(Field::TpSrc, 0xffff);
            }
            let ty = flow.get(Field::TpSrc) as u8;
            match p {
                Prereq::NdSolicit => ty == abi::parser::ND_NEIGHBOR_SOLICIT,
                Prereq::NdAdvert => ty == abi::parser::ND_NEIGHBOR_ADVERT,
                _ => abi::parser::is_nd(true, proto, ty, 0),
            }
        }
    }
}

/// A run of bits of a field, as `NXM_OF_IP_SRC[0..15]` names it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Subfield {
    /// The field.
    pub mf: &'static Mf,
    /// First bit (LSB = 0).
    pub ofs: u32,
    /// Number of bits.
    pub n_bits: u32,
}

impl Subfield {
    /// Mask of the run inside the field.
    pub fn mask(&self) -> u128 {
        let m = if self.n_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << self.n_bits) - 1
        };
        m << self.ofs
    }

    /// Reads the run, right-aligned.
    pub fn get(&self, f: &Flow) -> u128 {
        (self.mf.get(f) & self.mask()) >> self.ofs
    }

    /// Writes the run from a right-aligned value.
    pub fn set(&self, f: &mut Flow, v: u128) {
        self.mf.set_masked(f, v << self.ofs, self.mask());
    }
}

/// Parses `NAME[]`, `NAME[a..b]` or `NAME[n]` (also a bare `NAME`).
pub fn parse_subfield(s: &str) -> Result<Subfield, String> {
    let (name, range) = match s.find('[') {
        Some(i) => {
            if !s.ends_with(']') {
                return Err(format!("expected `]` at the end of `{s}`"));
            }
            (&s[..i], &s[i + 1..s.len() - 1])
        }
        None => (s, ""),
    };
    let mf = by_name(name).ok_or_else(|| format!("unknown field `{name}`"))?;
    let width = mf.width();
    let (ofs, n_bits) = if range.is_empty() {
        (0, width)
    } else if let Some((a, b)) = range.split_once("..") {
        let a: u32 = a
            .parse()
            .map_err(|_| format!("expected a bit number, found `{a}`"))?;
        let b: u32 = b
            .parse()
            .map_err(|_| format!("expected a bit number, found `{b}`"))?;
        if a > b {
            return Err(format!("bit range `{range}` is backwards"));
        }
        (a, b - a + 1)
    } else {
        let a: u32 = range
            .parse()
            .map_err(|_| format!("expected a bit number or range, found `{range}`"))?;
        (a, 1)
    };
    if ofs + n_bits > width {
        return Err(format!("`{s}`: field `{name}` has only {width} bits"));
    }
    Ok(Subfield { mf, ofs, n_bits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for m in FIELDS {
            for n in m.names {
                assert!(seen.insert(*n), "duplicate {n}");
            }
        }
    }

    #[test]
    fn ip_src_aliases_key_field() {
        let mut f = Flow::ZERO;
        named("nw_src").set_masked(&mut f, 0x0a00_0001, u128::MAX);
        assert_eq!(f.get(Field::NwSrc), 0x0a00_0001);
        named("ipv6_dst").set_masked(&mut f, 0x2001_0db8 << 96 | 5, u128::MAX);
        assert_eq!(f.ipv6_dst(), 0x2001_0db8 << 96 | 5);
        named("icmp_code").set_masked(&mut f, 3, u128::MAX);
        assert_eq!(f.get(Field::TpDst), 3);
        named("ip_dscp").set_masked(&mut f, 0x2e, u128::MAX);
        assert_eq!(f.get(Field::NwTos), 0x2e << 2);
    }

    #[test]
    fn subfields() {
        let s = parse_subfield("NXM_OF_IP_SRC[0..15]").unwrap();
        assert_eq!((s.ofs, s.n_bits), (0, 16));
        assert!(parse_subfield("NXM_NX_REG0[32]").is_err());
        assert!(parse_subfield("NXM_BOGUS[]").is_err());
        let mut f = Flow::ZERO;
        parse_subfield("NXM_NX_REG3[8..15]")
            .unwrap()
            .set(&mut f, 0xab);
        assert_eq!(f.reg(3), 0xab00);
    }

    #[test]
    fn xreg_and_xxreg_alias_registers_lower_register_high() {
        // As OVS: xreg0 = reg0:reg1, xxreg0 = reg0:reg1:reg2:reg3.
        let mut f = Flow::ZERO;
        named("xreg5").set_masked(&mut f, 0x1111_2222_3333_4444, u128::MAX);
        assert_eq!((f.reg(10), f.reg(11)), (0x1111_2222, 0x3333_4444));
        named("xxreg3").set_masked(&mut f, 0x1_0000_0002_0000_0003_0000_0004, u128::MAX);
        assert_eq!((f.reg(12), f.reg(13), f.reg(14), f.reg(15)), (1, 2, 3, 4));
        assert_eq!(named("xxreg3").get(&f), 0x1_0000_0002_0000_0003_0000_0004);
        named("tun_id").set_masked(&mut f, 0xabc, u128::MAX);
        assert_eq!(f.tun_id(), 0xabc);
        assert_eq!(by_name("NXM_NX_REG15").map(|m| m.name), Some("reg15"));
        assert_eq!(by_name("OXM_OF_PKT_REG7").map(|m| m.name), Some("xreg7"));
        assert_eq!(by_name("tunnel_id").map(|m| m.name), Some("tun_id"));
        assert!(by_name("reg16").is_none() && by_name("xreg8").is_none());
    }
}
