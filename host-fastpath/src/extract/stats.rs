//! Extraction counters: one per reason a frame could not be parsed to the end.
//!
//! A malformed frame is never dropped by extraction: it gets the key of what
//! could be parsed (Open vSwitch semantics) and exactly one reason counter is
//! bumped, so an operator can tell "my traffic is truncated at L4" from "my
//! traffic has bad IPv4 headers" without a packet capture.

macro_rules! extract_stats {
    ($($(#[$m:meta])* $name:ident),+ $(,)?) => {
        /// Frames seen and frames that stopped parsing early, by reason.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct ExtractStats {
            $($(#[$m])* pub $name: u64,)+
        }

        impl ExtractStats {
            /// Counter names, in declaration order (stable: used in JSON output).
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name)),+];

            /// Every counter as `(name, value)`, in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$((stringify!($name), self.$name)),+].into_iter()
            }

            /// Adds every counter of `other` into `self`.
            pub fn merge(&mut self, other: &ExtractStats) {
                $(self.$name += other.$name;)+
            }
        }
    };
}

extract_stats! {
    /// Frames handed to extraction.
    frames,
    /// Shorter than an Ethernet header (14 bytes): key holds only `in_port`.
    too_short_eth,
    /// Longer than 65 535 bytes: only L2 is extracted (header offsets are 16-bit, as in OVS).
    oversized_frame,
    /// A VLAN TPID with fewer than 6 bytes (tag + next type) behind it.
    truncated_vlan,
    /// A third VLAN tag: parsing stops, `dl_type` is its TPID (OVS keeps two tags).
    too_many_vlans,
    /// ARP/RARP shorter than the 28-byte Ethernet/IPv4 ARP header.
    truncated_arp,
    /// ARP/RARP whose hardware/protocol type or lengths are not Ethernet/IPv4.
    bad_arp_format,
    /// IPv4 header shorter than 20 bytes, or than its IHL says.
    truncated_ipv4,
    /// IPv4 IHL below 5 words.
    bad_ipv4_ihl,
    /// IPv4 total length beyond the frame or below the header length.
    bad_ipv4_total_len,
    /// IP version nibble disagrees with the Ethernet type. Counted only: the
    /// header is parsed anyway, as Open vSwitch does.
    bad_ip_version,
    /// IPv6 header shorter than 40 bytes.
    truncated_ipv6,
    /// IPv6 payload length beyond the frame.
    bad_ipv6_payload_len,
    /// An IPv6 extension header runs past the payload.
    truncated_ipv6_ext,
    /// TCP header shorter than 20 bytes.
    truncated_tcp,
    /// TCP data offset below 5 words or beyond the IP payload.
    bad_tcp_offset,
    /// UDP header shorter than 8 bytes.
    truncated_udp,
    /// SCTP common header shorter than 12 bytes.
    truncated_sctp,
    /// ICMP header shorter than 8 bytes.
    truncated_icmp,
    /// ICMPv6 header shorter than 8 bytes.
    truncated_icmpv6,
}

impl ExtractStats {
    /// Frames that stopped parsing early for any reason (every counter except
    /// `frames` and the count-only `bad_ip_version`).
    pub fn malformed(&self) -> u64 {
        self.iter()
            .filter(|(n, _)| *n != "frames" && *n != "bad_ip_version")
            .map(|(_, v)| v)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_iter_agree() {
        let mut s = ExtractStats {
            truncated_tcp: 3,
            frames: 7,
            ..Default::default()
        };
        let names: Vec<_> = s.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ExtractStats::NAMES);
        assert_eq!(
            s.iter().find(|(n, _)| *n == "truncated_tcp"),
            Some(("truncated_tcp", 3))
        );
        assert_eq!(s.malformed(), 3);
        let o = s;
        s.merge(&o);
        assert_eq!((s.frames, s.truncated_tcp), (14, 6));
    }
}
