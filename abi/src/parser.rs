//! The hardware parser's contract: how deep it looks, what travels beside a
//! frame, and why a frame's key is partial (malformed) or missing (exception).
//!
//! The parser (`hdl::parser`, Verilog `fastpath_parser`) takes a frame on an
//! AXI-Stream port and produces the same [`crate::FlowKey`] as the host's
//! `extract`. It parses the first [`PARSE_WINDOW_BYTES`] bytes of a frame;
//! a frame whose key depends on bytes past the window, or on more IPv6
//! extension headers than [`MAX_IPV6_EXT_HEADERS`], or whose key has
//! host-only fields (neighbour discovery), leaves with an [`Exception`] and
//! no key, so the host parses it instead: never a wrong key.
//!
//! The malformed reasons are declared here once, by
//! [`for_each_malformed_reason!`]: the host's `ExtractStats` counters and the
//! RTL's reason codes are both generated from that list.

use crate::bits::BitField;

/// Bytes of each frame the parser captures and parses.
pub const PARSE_WINDOW_BYTES: usize = 128;
/// VLAN tags the key holds (`VLAN_TCI`, `VLAN_TCI2`); Open vSwitch's
/// `FLOW_MAX_VLAN_HEADERS`.
pub const MAX_VLAN_HEADERS: usize = 2;
/// Open vSwitch's `other_config:vlan-limit` default: only the outer tag is
/// parsed; the inner TPID becomes `dl_type`.
pub const DEFAULT_VLAN_LIMIT: usize = 1;
/// IPv6 extension headers (hop-by-hop, routing, destination options, AH,
/// fragment) the parser walks before it gives up with
/// [`Exception::TooManyIpv6Ext`].
pub const MAX_IPV6_EXT_HEADERS: usize = 4;
/// AXI-Stream data widths (bits) the parser is built for: 64 for simulation
/// and small parts, 512 for the Alveo shells (OpenNIC, Corundum).
pub const DATA_WIDTHS: &[usize] = &[64, 512];
/// Bits of the in port carried in `tuser` (OpenNIC's `tuser_src` width); the
/// key's `IN_PORT` is this value zero-extended.
pub const TUSER_IN_PORT_BITS: usize = 16;
/// Longest frame whose headers are parsed past L2 (16-bit header offsets, as
/// Open vSwitch); longer frames count `oversized_frame`.
pub const MAX_FRAME_LEN: usize = u16::MAX as usize;

/// ICMPv6 type of a neighbour solicitation.
pub const ND_NEIGHBOR_SOLICIT: u8 = 135;
/// ICMPv6 type of a neighbour advertisement.
pub const ND_NEIGHBOR_ADVERT: u8 = 136;

/// Whether an IPv6 packet's ICMPv6 header (`nw_proto` 58) of this type and
/// code is neighbour discovery, whose key has the host-only ND fields
/// ([`Exception::NeighborDiscovery`]). Open vSwitch's ND fields exist only
/// for IPv6 (it neither matches nor prints them after an IPv4 header).
pub const fn is_nd(ipv6: bool, nw_proto: u8, icmp_type: u8, icmp_code: u8) -> bool {
    ipv6 && nw_proto == 58
        && icmp_code == 0
        && (icmp_type == ND_NEIGHBOR_SOLICIT || icmp_type == ND_NEIGHBOR_ADVERT)
}

/// Calls `$m!` with every malformed reason, in counter order, as
/// `$(#[doc] CamelName / snake_name = code),+`. Code 0 means "none".
///
/// Exactly one of these is counted per frame that stopped parsing early;
/// `bad_ip_version` is the exception to the rule: it is counted *beside* the
/// reason that ended the frame (the header is parsed anyway, as Open
/// vSwitch does), so the parser reports it as its own flag.
#[macro_export]
macro_rules! for_each_malformed_reason {
    ($m:ident) => {
        $m! {
            /// Shorter than an Ethernet header (14 bytes), a runt: the key holds only
            /// `in_port` and the datapath drops the frame, as Open vSwitch's `dfc_processing`.
            TooShortEth / too_short_eth = 1,
            /// Longer than 65 535 bytes: only L2 is extracted (header offsets are 16-bit, as in OVS).
            OversizedFrame / oversized_frame = 2,
            /// A VLAN TPID with fewer than 6 bytes (tag + next type) behind it.
            TruncatedVlan / truncated_vlan = 3,
            /// A VLAN tag beyond the VLAN limit: parsing stops, `dl_type` is its TPID.
            TooManyVlans / too_many_vlans = 4,
            /// ARP/RARP shorter than the 28-byte Ethernet/IPv4 ARP header.
            TruncatedArp / truncated_arp = 5,
            /// ARP/RARP whose hardware/protocol type or lengths are not Ethernet/IPv4.
            BadArpFormat / bad_arp_format = 6,
            /// IPv4 header shorter than 20 bytes, or than its IHL says.
            TruncatedIpv4 / truncated_ipv4 = 7,
            /// IPv4 IHL below 5 words.
            BadIpv4Ihl / bad_ipv4_ihl = 8,
            /// IPv4 total length beyond the frame or below the header length.
            BadIpv4TotalLen / bad_ipv4_total_len = 9,
            /// IP version nibble disagrees with the Ethernet type. Counted only: the
            /// header is parsed anyway, as Open vSwitch does.
            BadIpVersion / bad_ip_version = 10,
            /// IPv6 header shorter than 40 bytes.
            TruncatedIpv6 / truncated_ipv6 = 11,
            /// IPv6 payload length beyond the frame.
            BadIpv6PayloadLen / bad_ipv6_payload_len = 12,
            /// An IPv6 extension header runs past the payload.
            TruncatedIpv6Ext / truncated_ipv6_ext = 13,
            /// TCP header shorter than 20 bytes.
            TruncatedTcp / truncated_tcp = 14,
            /// TCP data offset below 5 words or beyond the IP payload.
            BadTcpOffset / bad_tcp_offset = 15,
            /// UDP header shorter than 8 bytes.
            TruncatedUdp / truncated_udp = 16,
            /// SCTP common header shorter than 12 bytes.
            TruncatedSctp / truncated_sctp = 17,
            /// ICMP header shorter than 8 bytes.
            TruncatedIcmp / truncated_icmp = 18,
            /// ICMPv6 header shorter than 8 bytes.
            TruncatedIcmpv6 / truncated_icmpv6 = 19,
        }
    };
}

macro_rules! malformed_enum {
    ($($(#[$doc:meta])* $camel:ident / $snake:ident = $code:literal),+ $(,)?) => {
        /// Why a frame's key is partial: the reason code the parser reports and
        /// the name of the host's `ExtractStats` counter.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum MalformedReason {
            $($(#[$doc])* $camel = $code,)+
        }

        impl MalformedReason {
            /// Every reason, in code order.
            pub const ALL: &'static [MalformedReason] = &[$(MalformedReason::$camel),+];

            /// The counter name (`ExtractStats` field, JSON key).
            pub const fn name(self) -> &'static str {
                match self {
                    $(MalformedReason::$camel => stringify!($snake),)+
                }
            }

            /// The reason with code `c` (0 and unknown codes: `None`).
            pub const fn from_code(c: u8) -> Option<MalformedReason> {
                match c {
                    $($code => Some(MalformedReason::$camel),)+
                    _ => None,
                }
            }
        }
    };
}
for_each_malformed_reason!(malformed_enum);

/// Bits of a malformed-reason code on the parser's result port.
pub const MALFORMED_CODE_BITS: usize = 5;

/// Why the parser gave a frame no key: the host must parse it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Exception {
    /// The key depends on bytes past [`PARSE_WINDOW_BYTES`] of a frame that
    /// has them (a header the parser cannot see).
    PastWindow = 1,
    /// More than [`MAX_IPV6_EXT_HEADERS`] IPv6 extension headers before the
    /// transport header (unsupported depth).
    TooManyIpv6Ext = 2,
    /// IPv6 neighbour discovery (ICMPv6 type 135 or 136, code 0): its key
    /// has host-only fields (`crate::key::HOST_KEY_FIELDS`), so the host
    /// parses it.
    NeighborDiscovery = 3,
}

impl Exception {
    /// Every exception, in code order.
    pub const ALL: &'static [Exception] = &[
        Exception::PastWindow,
        Exception::TooManyIpv6Ext,
        Exception::NeighborDiscovery,
    ];

    /// The name used in counters and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Exception::PastWindow => "past_window",
            Exception::TooManyIpv6Ext => "too_many_ipv6_ext",
            Exception::NeighborDiscovery => "neighbor_discovery",
        }
    }

    /// The exception with code `c` (0 and unknown codes: `None`).
    pub const fn from_code(c: u8) -> Option<Exception> {
        match c {
            1 => Some(Exception::PastWindow),
            2 => Some(Exception::TooManyIpv6Ext),
            3 => Some(Exception::NeighborDiscovery),
            _ => None,
        }
    }
}

crate::layout! {
    /// The frame sideband: what travels beside a frame (AXI-Stream `tuser` in,
    /// the parser's `meta` word out).
    FRAME_SIDEBAND {
        /// Port the frame arrived on ([`TUSER_IN_PORT_BITS`] bits used).
        SB_IN_PORT = (0, 16),
        /// Frame length in bytes, saturating at 0xffff_ffff.
        SB_FRAME_LEN = (16, 32),
        /// [`MalformedReason`] code; 0 = the frame parsed to its end.
        SB_MALFORMED = (48, 5),
        /// `bad_ip_version` was counted (beside any reason).
        SB_BAD_IP_VERSION = (53, 1),
        /// [`Exception`] code; 0 = the key is valid. With an exception the key
        /// is zero and `SB_MALFORMED` is 0.
        SB_EXCEPTION = (56, 2),
    }
}

/// The parser's result metadata, decoded from its `meta` word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseMeta {
    /// In port.
    pub in_port: u16,
    /// Frame length in bytes.
    pub frame_len: u32,
    /// The reason the key is partial, if it is.
    pub malformed: Option<MalformedReason>,
    /// `bad_ip_version` was counted.
    pub bad_ip_version: bool,
    /// Why there is no key, if there is none.
    pub exception: Option<Exception>,
}

/// A `meta` word that does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseMetaError {
    /// Unknown malformed-reason code.
    #[error("parser meta word {0:#018x}: unknown malformed-reason code {1}")]
    Malformed(u64, u8),
    /// Unknown exception code.
    #[error("parser meta word {0:#018x}: unknown exception code {1}")]
    Exception(u64, u8),
}

impl ParseMeta {
    /// Encodes the `meta` word.
    pub fn encode(&self) -> u64 {
        let mut w = [0u64];
        SB_IN_PORT.set(&mut w, self.in_port as u64);
        SB_FRAME_LEN.set(&mut w, self.frame_len as u64);
        SB_MALFORMED.set(&mut w, self.malformed.map_or(0, |r| r as u64));
        SB_BAD_IP_VERSION.set(&mut w, self.bad_ip_version as u64);
        SB_EXCEPTION.set(&mut w, self.exception.map_or(0, |e| e as u64));
        w[0]
    }

    /// Decodes a `meta` word.
    pub fn decode(word: u64) -> Result<ParseMeta, ParseMetaError> {
        let w = [word];
        let m = SB_MALFORMED.get(&w) as u8;
        let e = SB_EXCEPTION.get(&w) as u8;
        Ok(ParseMeta {
            in_port: SB_IN_PORT.get(&w) as u16,
            frame_len: SB_FRAME_LEN.get(&w) as u32,
            malformed: match m {
                0 => None,
                c => Some(MalformedReason::from_code(c).ok_or(ParseMetaError::Malformed(word, c))?),
            },
            bad_ip_version: SB_BAD_IP_VERSION.get(&w) != 0,
            exception: match e {
                0 => None,
                c => Some(Exception::from_code(c).ok_or(ParseMetaError::Exception(word, c))?),
            },
        })
    }
}

// Ethernet, two tags, LLC/SNAP, IPv4 with 40 bytes of options and a TCP
// header: the deepest chain without IPv6 extensions fits the window, and
// the window is whole beats of every data width.
const _: () = assert!(14 + 4 * MAX_VLAN_HEADERS + 8 + 60 + 20 <= PARSE_WINDOW_BYTES);
const _: () = assert!(
    (PARSE_WINDOW_BYTES * 8).is_multiple_of(64) && (PARSE_WINDOW_BYTES * 8).is_multiple_of(512)
);

fn sideband_fields() -> &'static [BitField] {
    FRAME_SIDEBAND
}

/// The parser section of `docs/abi.md`.
pub fn markdown() -> String {
    use std::fmt::Write;
    let mut s = String::from("| limit | value |\n|---|---|\n");
    for (n, v) in [
        ("parse window (bytes)", PARSE_WINDOW_BYTES.to_string()),
        ("VLAN tags in the key", MAX_VLAN_HEADERS.to_string()),
        ("default VLAN limit", DEFAULT_VLAN_LIMIT.to_string()),
        ("IPv6 extension headers", MAX_IPV6_EXT_HEADERS.to_string()),
        (
            "data widths (bits)",
            DATA_WIDTHS
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("in-port bits in `tuser`", TUSER_IN_PORT_BITS.to_string()),
        ("longest frame parsed past L2", MAX_FRAME_LEN.to_string()),
    ] {
        let _ = writeln!(s, "| {n} | {v} |");
    }
    s.push_str("\nFrame sideband (`meta` word):\n\n| field | bits | width |\n|---|---|---|\n");
    for f in sideband_fields() {
        let lo = f.shift();
        let _ = writeln!(
            s,
            "| `{}` | {}:{} | {} |",
            f.name,
            lo + f.width as u32 - 1,
            lo,
            f.width
        );
    }
    s.push_str("\nMalformed reasons (`SB_MALFORMED`, `ExtractStats` counters):\n\n| code | counter |\n|---|---|\n");
    for r in MalformedReason::ALL {
        let _ = writeln!(s, "| {} | `{}` |", *r as u8, r.name());
    }
    s.push_str("\nExceptions (`SB_EXCEPTION`):\n\n| code | name |\n|---|---|\n");
    for e in Exception::ALL {
        let _ = writeln!(s, "| {} | `{}` |", *e as u8, e.name());
    }
    s
}

/// The parser's contract as a JSON object (the `"parser"` member of
/// [`crate::export::json`]).
pub fn json() -> String {
    let names = |it: &mut dyn Iterator<Item = (u8, &'static str)>| {
        it.map(|(c, n)| format!("\"{n}\": {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut fields = String::new();
    for (i, f) in sideband_fields().iter().enumerate() {
        if i > 0 {
            fields.push_str(", ");
        }
        fields.push_str(&format!(
            "{{\"name\": \"{}\", \"offset\": {}, \"width\": {}}}",
            f.name, f.offset, f.width
        ));
    }
    format!(
        "{{\"parse_window_bytes\": {PARSE_WINDOW_BYTES}, \"max_vlan_headers\": {MAX_VLAN_HEADERS}, \
         \"default_vlan_limit\": {DEFAULT_VLAN_LIMIT}, \"max_ipv6_ext_headers\": {MAX_IPV6_EXT_HEADERS}, \
         \"data_widths\": [{}], \"tuser_in_port_bits\": {TUSER_IN_PORT_BITS}, \
         \"max_frame_len\": {MAX_FRAME_LEN}, \"nd_types\": [{ND_NEIGHBOR_SOLICIT}, {ND_NEIGHBOR_ADVERT}], \
         \"sideband\": [{fields}], \
         \"malformed\": {{{}}}, \"exceptions\": {{{}}}}}",
        DATA_WIDTHS
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        names(&mut MalformedReason::ALL.iter().map(|r| (*r as u8, r.name()))),
        names(&mut Exception::ALL.iter().map(|e| (*e as u8, e.name()))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sideband_layout_is_sound() {
        crate::bits::check_layout(FRAME_SIDEBAND, 1, &[]).unwrap();
        assert!(SB_IN_PORT.width as usize >= TUSER_IN_PORT_BITS);
        assert!(SB_MALFORMED.width as usize == MALFORMED_CODE_BITS);
        let max = MalformedReason::ALL.iter().map(|r| *r as u8).max().unwrap();
        assert!((max as u64) <= SB_MALFORMED.value_mask());
        let max = Exception::ALL.iter().map(|e| *e as u8).max().unwrap();
        assert!((max as u64) <= SB_EXCEPTION.value_mask());
    }

    #[test]
    fn codes_are_dense_and_round_trip() {
        for (i, r) in MalformedReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i + 1);
            assert_eq!(MalformedReason::from_code(*r as u8), Some(*r));
        }
        assert_eq!(MalformedReason::from_code(0), None);
        for (i, e) in Exception::ALL.iter().enumerate() {
            assert_eq!(*e as usize, i + 1);
            assert_eq!(Exception::from_code(*e as u8), Some(*e));
        }
    }

    #[test]
    fn meta_round_trips_and_refuses_unknown_codes() {
        let m = ParseMeta {
            in_port: 0xbeef,
            frame_len: 1518,
            malformed: Some(MalformedReason::TruncatedTcp),
            bad_ip_version: true,
            exception: Some(Exception::TooManyIpv6Ext),
        };
        assert_eq!(ParseMeta::decode(m.encode()), Ok(m));
        let mut w = [0u64];
        SB_MALFORMED.set(&mut w, 31);
        assert_eq!(
            ParseMeta::decode(w[0]),
            Err(ParseMetaError::Malformed(w[0], 31))
        );
        // The exception field is full: every code decodes.
        for c in 1..1u8 << SB_EXCEPTION.width {
            let mut w = [0u64];
            SB_EXCEPTION.set(&mut w, c as u64);
            let e = ParseMeta::decode(w[0]).map(|m| m.exception);
            assert_eq!(e, Ok(Exception::from_code(c)));
            assert!(e.is_ok_and(|e| e.is_some()));
        }
    }
}
