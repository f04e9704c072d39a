//! The flow key: a fixed 768-bit, word-aligned record.
//!
//! Twelve 64-bit words. The first eight ([`HW_KEY_WORDS`], 512 bits, one
//! AXI-Stream beat) are the hardware key: what the NIC's parser makes, the
//! hash covers and its tables match. The last four are host-only (IPv6
//! neighbour discovery): the NIC sends every frame that has them to the host
//! as an exception, so no hardware entry ever needs them, and the table
//! memory stays sized for the 512 bits nearly every megaflow uses. Every
//! field lies inside one word, so a hardware stage ANDs the key with a mask
//! and feeds the eight words to the hash in one pipelined pass, and software
//! reads a field with one shift. Values are stored as integers of the
//! network-order value (`dl_type` 0x0800 is stored as 0x0800, MAC
//! `50:54:00:00:00:09` as 0x5054_0000_0009, IPv4 `10.0.0.1` as 0x0a00_0001).
//!
//! Some fields share bits where the Ethernet type tells them apart (megaflows
//! are always exact on `dl_type`, so an alias never makes two flows collide):
//! IPv4 addresses are the low 32 bits of the IPv6 low words; ARP's hardware
//! addresses use the IPv6 high words; ICMP type/code live in `tp_src`/`tp_dst`
//! and the ARP opcode in `nw_proto`, as in Open vSwitch.

use crate::bits::{check_layout, BitField};

/// Words in a key.
pub const KEY_WORDS: usize = 12;
/// Words of the hardware key: the key's first words, all the NIC sees.
pub const HW_KEY_WORDS: usize = 8;
/// Bits in the hardware key.
pub const HW_KEY_BITS: usize = HW_KEY_WORDS * 64;
/// Bytes in the hardware key.
pub const HW_KEY_BYTES: usize = HW_KEY_WORDS * 8;

crate::layout! {
    /// Every field of the hardware key, in bit order.
    KEY_FIELDS {
        /// Ingress port number.
        IN_PORT = (0, 32),
        /// Ethernet type after VLAN tags (0x05ff and below: 802.2 frame, stored as 0x05ff).
        DL_TYPE = (32, 16),
        /// Outer VLAN TCI; bit 12 (0x1000, "CFI") set means a tag is present.
        VLAN_TCI = (48, 16),
        /// Ethernet destination.
        DL_DST = (64, 48),
        /// IP protocol / IPv6 next header after extension headers; ARP opcode (low 8 bits).
        NW_PROTO = (112, 8),
        /// IPv4 TOS / IPv6 traffic class: DSCP in bits 7..2, ECN in bits 1..0.
        NW_TOS = (120, 8),
        /// Ethernet source.
        DL_SRC = (128, 48),
        /// IPv4 TTL / IPv6 hop limit.
        NW_TTL = (176, 8),
        /// Fragment state: bit 0 = is a fragment, bit 1 = not the first fragment.
        NW_FRAG = (184, 2),
        /// IPv6 source, bytes 0..8 (big-endian).
        IPV6_SRC_HI = (192, 64),
        /// ARP sender hardware address (aliases IPV6_SRC_HI).
        ARP_SHA = (192, 48),
        /// IPv6 source, bytes 8..16 (big-endian).
        IPV6_SRC_LO = (256, 64),
        /// IPv4 source / ARP sender protocol address (aliases IPV6_SRC_LO).
        NW_SRC = (256, 32),
        /// IPv6 destination, bytes 0..8.
        IPV6_DST_HI = (320, 64),
        /// ARP target hardware address (aliases IPV6_DST_HI).
        ARP_THA = (320, 48),
        /// IPv6 destination, bytes 8..16.
        IPV6_DST_LO = (384, 64),
        /// IPv4 destination / ARP target protocol address (aliases IPV6_DST_LO).
        NW_DST = (384, 32),
        /// TCP/UDP/SCTP source port; ICMP/ICMPv6 type.
        TP_SRC = (448, 16),
        /// TCP/UDP/SCTP destination port; ICMP/ICMPv6 code.
        TP_DST = (464, 16),
        /// TCP flags (12 bits used: NS CWR ECE URG ACK PSH RST SYN FIN plus 3 reserved).
        TCP_FLAGS = (480, 16),
        /// Inner VLAN TCI of a double-tagged (802.1ad + 802.1Q) frame, CFI = present.
        VLAN_TCI2 = (496, 16),
    }
}

crate::layout! {
    /// The host-only fields, after the hardware key, in bit order: IPv6
    /// neighbour discovery (ICMPv6 type 135 or 136, code 0), as Open
    /// vSwitch's `nd_target`, `nd_sll`, `nd_tll`.
    HOST_KEY_FIELDS {
        /// ND target address, bytes 0..8.
        ND_TARGET_HI = (512, 64),
        /// ND target address, bytes 8..16.
        ND_TARGET_LO = (576, 64),
        /// ND source link-layer address option.
        ND_SLL = (640, 48),
        /// ND target link-layer address option.
        ND_TLL = (704, 48),
    }
}

/// Every key field, hardware then host-only, in [`Field`] order.
pub const ALL_KEY_FIELDS: [BitField; KEY_FIELDS.len() + HOST_KEY_FIELDS.len()] = {
    let mut out = [KEY_FIELDS[0]; KEY_FIELDS.len() + HOST_KEY_FIELDS.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = if i < KEY_FIELDS.len() {
            KEY_FIELDS[i]
        } else {
            HOST_KEY_FIELDS[i - KEY_FIELDS.len()]
        };
        i += 1;
    }
    out
};

const _: () = {
    let mut i = 0;
    while i < KEY_FIELDS.len() {
        assert!(KEY_FIELDS[i].word() < HW_KEY_WORDS);
        i += 1;
    }
    let mut i = 0;
    while i < HOST_KEY_FIELDS.len() {
        assert!(HOST_KEY_FIELDS[i].word() >= HW_KEY_WORDS);
        i += 1;
    }
};

/// Pairs of fields in [`KEY_FIELDS`] that intentionally share bits.
pub const KEY_ALIASES: &[(&str, &str)] = &[
    ("IPV6_SRC_HI", "ARP_SHA"),
    ("IPV6_SRC_LO", "NW_SRC"),
    ("IPV6_DST_HI", "ARP_THA"),
    ("IPV6_DST_LO", "NW_DST"),
];

/// Checks the key layout (used by tests and by the hardware emitter).
pub fn check_key_layout() -> Result<(), String> {
    check_layout(&ALL_KEY_FIELDS, KEY_WORDS, KEY_ALIASES)
}

/// VLAN TCI bit marking "a tag is present" (Open vSwitch's VLAN_CFI).
pub const VLAN_PRESENT: u16 = 0x1000;
/// `NW_FRAG` bit: the packet is a fragment.
pub const FRAG_ANY: u8 = 1;
/// `NW_FRAG` bit: the packet is a fragment other than the first.
pub const FRAG_LATER: u8 = 2;

/// A named key field, for code that selects fields at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Field {
    InPort,
    DlType,
    VlanTci,
    DlDst,
    NwProto,
    NwTos,
    DlSrc,
    NwTtl,
    NwFrag,
    Ipv6SrcHi,
    ArpSha,
    Ipv6SrcLo,
    NwSrc,
    Ipv6DstHi,
    ArpTha,
    Ipv6DstLo,
    NwDst,
    TpSrc,
    TpDst,
    TcpFlags,
    VlanTci2,
    NdTargetHi,
    NdTargetLo,
    NdSll,
    NdTll,
}

impl Field {
    /// Every field, in the order of [`ALL_KEY_FIELDS`].
    pub const ALL: [Field; ALL_KEY_FIELDS.len()] = [
        Field::InPort,
        Field::DlType,
        Field::VlanTci,
        Field::DlDst,
        Field::NwProto,
        Field::NwTos,
        Field::DlSrc,
        Field::NwTtl,
        Field::NwFrag,
        Field::Ipv6SrcHi,
        Field::ArpSha,
        Field::Ipv6SrcLo,
        Field::NwSrc,
        Field::Ipv6DstHi,
        Field::ArpTha,
        Field::Ipv6DstLo,
        Field::NwDst,
        Field::TpSrc,
        Field::TpDst,
        Field::TcpFlags,
        Field::VlanTci2,
        Field::NdTargetHi,
        Field::NdTargetLo,
        Field::NdSll,
        Field::NdTll,
    ];

    /// The field's bit declaration.
    #[inline(always)]
    pub const fn def(self) -> BitField {
        ALL_KEY_FIELDS[self as usize]
    }

    /// Whether the field is host-only (outside the hardware key).
    pub const fn host_only(self) -> bool {
        self.def().word() >= HW_KEY_WORDS
    }
}

/// A flow key (or, with the same layout, a mask).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(C, align(32))]
pub struct FlowKey {
    /// The words: the hardware key's in hash order, then the host-only ones.
    pub words: [u64; KEY_WORDS],
}

impl FlowKey {
    /// The all-zero key (also the all-wildcard mask).
    pub const ZERO: FlowKey = FlowKey {
        words: [0; KEY_WORDS],
    };
    /// The all-ones mask (exact match on every bit).
    pub const ONES: FlowKey = FlowKey {
        words: [u64::MAX; KEY_WORDS],
    };

    /// Builds a key from its words.
    pub const fn from_words(words: [u64; KEY_WORDS]) -> Self {
        Self { words }
    }

    /// Reads a field.
    #[inline(always)]
    pub fn get(&self, f: Field) -> u64 {
        f.def().get(&self.words)
    }

    /// Writes a field (bits above its width are dropped).
    #[inline(always)]
    pub fn set(&mut self, f: Field, value: u64) {
        f.def().set(&mut self.words, value)
    }

    /// Builder form of [`FlowKey::set`].
    #[inline(always)]
    pub fn with(mut self, f: Field, value: u64) -> Self {
        self.set(f, value);
        self
    }

    /// `self & mask`, word by word.
    #[inline(always)]
    pub fn masked(&self, mask: &FlowKey) -> FlowKey {
        let mut out = FlowKey::ZERO;
        for i in 0..KEY_WORDS {
            out.words[i] = self.words[i] & mask.words[i];
        }
        out
    }

    /// True when `self & mask == masked` (the megaflow match rule).
    #[inline(always)]
    pub fn matches(&self, mask: &FlowKey, masked: &FlowKey) -> bool {
        let mut diff = 0;
        for i in 0..KEY_WORDS {
            diff |= (self.words[i] & mask.words[i]) ^ masked.words[i];
        }
        diff == 0
    }

    /// The hardware key's words.
    #[inline(always)]
    pub fn hw_words(&self) -> &[u64; HW_KEY_WORDS] {
        self.words[..HW_KEY_WORDS]
            .try_into()
            .expect("HW_KEY_WORDS <= KEY_WORDS")
    }

    /// A key from the hardware key's words (host-only words zero).
    pub fn from_hw_words(hw: &[u64; HW_KEY_WORDS]) -> FlowKey {
        let mut k = FlowKey::ZERO;
        k.words[..HW_KEY_WORDS].copy_from_slice(hw);
        k
    }

    /// The key as the NIC sees it: host-only words zero.
    pub fn hw(&self) -> FlowKey {
        FlowKey::from_hw_words(self.hw_words())
    }

    /// True when a host-only bit is set (a key or mask no NIC table holds).
    pub fn has_host_only_bits(&self) -> bool {
        self.words[HW_KEY_WORDS..].iter().any(|&w| w != 0)
    }

    /// Whether this is a neighbour-discovery key ([`crate::parser::is_nd`]):
    /// its host-only words may be set, so its hardware words alone do not
    /// determine it (an ND frame whose body is cut short has them zero).
    pub fn is_nd(&self) -> bool {
        crate::parser::is_nd(
            self.get(Field::DlType) == 0x86dd,
            self.get(Field::NwProto) as u8,
            self.get(Field::TpSrc) as u8,
            self.get(Field::TpDst) as u8,
        ) && self.get(Field::TpSrc) >> 8 == 0
    }

    /// The ND target address as a 128-bit big-endian integer.
    pub fn nd_target(&self) -> u128 {
        ((self.get(Field::NdTargetHi) as u128) << 64) | self.get(Field::NdTargetLo) as u128
    }

    /// Sets the ND target address.
    pub fn set_nd_target(&mut self, a: u128) {
        self.set(Field::NdTargetHi, (a >> 64) as u64);
        self.set(Field::NdTargetLo, a as u64);
    }

    /// IPv6 source address as a 128-bit big-endian integer.
    pub fn ipv6_src(&self) -> u128 {
        ((self.words[3] as u128) << 64) | self.words[4] as u128
    }

    /// IPv6 destination address as a 128-bit big-endian integer.
    pub fn ipv6_dst(&self) -> u128 {
        ((self.words[5] as u128) << 64) | self.words[6] as u128
    }

    /// Sets the IPv6 source address.
    pub fn set_ipv6_src(&mut self, a: u128) {
        self.words[3] = (a >> 64) as u64;
        self.words[4] = a as u64;
    }

    /// Sets the IPv6 destination address.
    pub fn set_ipv6_dst(&mut self, a: u128) {
        self.words[5] = (a >> 64) as u64;
        self.words[6] = a as u64;
    }

    /// The hardware key as 64 little-endian bytes (the hash's byte order).
    pub fn to_le_bytes(&self) -> [u8; HW_KEY_BYTES] {
        let mut out = [0u8; HW_KEY_BYTES];
        for (i, w) in self.hw_words().iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// True when every bit of `self` is also set in `other` (mask subset).
    pub fn is_subset_of(&self, other: &FlowKey) -> bool {
        self.words
            .iter()
            .zip(other.words.iter())
            .all(|(a, b)| a & !b == 0)
    }
}

impl core::fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "FlowKey[")?;
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{w:016x}")?;
        }
        write!(f, "]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_is_sound() {
        check_key_layout().unwrap();
        assert_eq!(core::mem::size_of::<FlowKey>(), KEY_WORDS * 8);
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
            assert_eq!(f.def(), ALL_KEY_FIELDS[i]);
            assert_eq!(f.host_only(), i >= KEY_FIELDS.len());
        }
        assert_eq!(Field::ALL.len(), ALL_KEY_FIELDS.len());
        let mut k = FlowKey::ZERO;
        k.set_nd_target(0xfe80 << 112 | 0x2020);
        assert!(k.has_host_only_bits() && !k.hw().has_host_only_bits());
        assert_eq!(k.nd_target(), 0xfe80 << 112 | 0x2020);
        // ND is told by the hardware words, even with its ND words zero.
        let ns = FlowKey::ZERO
            .with(Field::DlType, 0x86dd)
            .with(Field::NwProto, 58)
            .with(Field::TpSrc, 135);
        assert!(ns.is_nd() && !ns.with(Field::TpDst, 1).is_nd());
        assert!(!ns.with(Field::DlType, 0x0800).is_nd());
    }

    #[test]
    fn aliases_are_the_documented_ones() {
        assert_eq!(NW_SRC.word(), IPV6_SRC_LO.word());
        assert_eq!(NW_DST.word(), IPV6_DST_LO.word());
        let mut k = FlowKey::ZERO;
        k.set_ipv6_src(0x2001_0db8_0000_0000_0000_0000_0a00_0001);
        assert_eq!(k.get(Field::NwSrc), 0x0a00_0001);
    }

    proptest! {
        #[test]
        fn accessors_match_bitvec(words in proptest::array::uniform12(any::<u64>()), v in any::<u64>()) {
            for f in Field::ALL {
                let d = f.def();
                let mut a = FlowKey::from_words(words);
                let mut b = a;
                prop_assert_eq!(a.get(f), d.load_bitvec(&a.words));
                a.set(f, v);
                d.store_bitvec(&mut b.words, v);
                prop_assert_eq!(a, b);
            }
        }

        #[test]
        fn matches_is_masked_equality(k in proptest::array::uniform12(any::<u64>()),
                                     m in proptest::array::uniform12(any::<u64>()),
                                     o in proptest::array::uniform12(any::<u64>())) {
            let k = FlowKey::from_words(k);
            let m = FlowKey::from_words(m);
            let o = FlowKey::from_words(o).masked(&m);
            prop_assert!(k.matches(&m, &k.masked(&m)));
            prop_assert_eq!(k.matches(&m, &o), k.masked(&m) == o);
        }
    }
}
