//! The slow path's flow: the datapath key plus translation-only metadata.
//!
//! [`Flow`] is an [`abi::FlowKey`] followed by OpenFlow `metadata`, the
//! registers `reg0`…`reg15`, `tun_id` and `conj_id`. The extra words exist only while a
//! packet is translated (they start at 0, like Open vSwitch's metadata and
//! registers; fastpath has no tunnel ports, so every packet's `tun_id` is 0)
//! and never reach the datapath key. A mask has the same layout, so matching,
//! wildcard tracking and hashing are uniform word loops over all words.

use abi::{Field, FlowKey, KEY_WORDS};

/// Words in a [`Flow`]: the key's words, metadata, 8 words holding 16 registers,
/// tun_id, conj_id, recirc_id.
pub const FLOW_WORDS: usize = KEY_WORDS + 12;
/// Word holding `metadata`.
pub const METADATA_WORD: usize = KEY_WORDS;
/// First word holding registers: word `REGS_WORD + i` is `xreg<i>`, `reg<2i>`
/// in its high half and `reg<2i+1>` in its low half, as Open vSwitch aliases
/// `xreg`/`xxreg` onto register pairs/quads (lower register = higher bits).
pub const REGS_WORD: usize = KEY_WORDS + 1;
/// Number of registers.
pub const N_REGS: usize = 16;
/// Word holding `tun_id` (the tunnel ID, metadata only: no encapsulation).
pub const TUN_ID_WORD: usize = REGS_WORD + N_REGS / 2;
/// Word holding `conj_id` (set only while a conjunctive match looks up its
/// `conj_id` rule).
pub const CONJ_ID_WORD: usize = TUN_ID_WORD + 1;
/// Word holding `recirc_id`: 0 for every packet (fastpath never
/// recirculates); only a trace flow can name another, which then has no
/// recirculation context.
pub const RECIRC_ID_WORD: usize = CONJ_ID_WORD + 1;

/// A slow-path flow (or, with the same layout, a wildcard mask).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Flow {
    /// Words `0..KEY_WORDS` are the datapath key, then metadata, the
    /// registers, tun_id, conj_id and recirc_id.
    pub w: [u64; FLOW_WORDS],
}

impl Flow {
    /// All zero (also the all-wildcard mask).
    pub const ZERO: Flow = Flow { w: [0; FLOW_WORDS] };

    /// A flow whose key is `key` and whose metadata and registers are 0.
    #[inline]
    pub fn from_key(key: &FlowKey) -> Flow {
        let mut f = Flow::ZERO;
        f.w[..KEY_WORDS].copy_from_slice(&key.words);
        f
    }

    /// The datapath part.
    #[inline]
    pub fn key(&self) -> FlowKey {
        let mut k = FlowKey::ZERO;
        k.words.copy_from_slice(&self.w[..KEY_WORDS]);
        k
    }

    /// Reads a key field.
    #[inline]
    pub fn get(&self, f: Field) -> u64 {
        f.def().get(&self.w)
    }

    /// Writes a key field.
    #[inline]
    pub fn set(&mut self, f: Field, v: u64) {
        f.def().set(&mut self.w, v)
    }

    /// Register `i` (0..16).
    #[inline]
    pub fn reg(&self, i: usize) -> u32 {
        (self.w[REGS_WORD + i / 2] >> reg_shift(i)) as u32
    }

    /// `tun_id`.
    #[inline]
    pub fn tun_id(&self) -> u64 {
        self.w[TUN_ID_WORD]
    }

    /// `conj_id`.
    #[inline]
    pub fn conj_id(&self) -> u32 {
        self.w[CONJ_ID_WORD] as u32
    }

    /// `metadata`.
    #[inline]
    pub fn metadata(&self) -> u64 {
        self.w[METADATA_WORD]
    }

    /// `self & m`.
    #[inline]
    pub fn masked(&self, m: &Flow) -> Flow {
        let mut o = Flow::ZERO;
        for i in 0..FLOW_WORDS {
            o.w[i] = self.w[i] & m.w[i];
        }
        o
    }

    /// `self |= o`.
    #[inline]
    pub fn or_with(&mut self, o: &Flow) {
        for i in 0..FLOW_WORDS {
            self.w[i] |= o.w[i];
        }
    }

    /// True when `self & mask == value`.
    #[inline]
    pub fn matches(&self, mask: &Flow, value: &Flow) -> bool {
        let mut d = 0;
        for i in 0..FLOW_WORDS {
            d |= (self.w[i] & mask.w[i]) ^ value.w[i];
        }
        d == 0
    }

    /// True when every set bit of `self` is set in `o`.
    pub fn is_subset_of(&self, o: &Flow) -> bool {
        (0..FLOW_WORDS).all(|i| self.w[i] & !o.w[i] == 0)
    }

    /// True when no bit is set.
    pub fn is_zero(&self) -> bool {
        self.w.iter().all(|&x| x == 0)
    }

    /// IPv6 source as a 128-bit integer.
    #[inline]
    pub fn ipv6_src(&self) -> u128 {
        ((self.w[3] as u128) << 64) | self.w[4] as u128
    }

    /// IPv6 destination as a 128-bit integer.
    #[inline]
    pub fn ipv6_dst(&self) -> u128 {
        ((self.w[5] as u128) << 64) | self.w[6] as u128
    }

    /// A cheap 64-bit hash of `self & mask` over the words selected by `words`.
    #[inline]
    pub fn hash_masked(&self, mask: &Flow, words: u32) -> u64 {
        self.hash_chain(mask, words, 0x9e37_79b9_7f4a_7c15)
    }

    /// [`Flow::hash_masked`] continuing from `basis` (staged lookups chain
    /// one stage's hash into the next, as OVS's `flow_hash_in_minimask_range`).
    #[inline]
    pub fn hash_chain(&self, mask: &Flow, words: u32, basis: u64) -> u64 {
        let mut h: u64 = basis;
        let mut m = words;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            h = (h.rotate_left(5) ^ (self.w[i] & mask.w[i])).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        h ^ (h >> 29)
    }

    /// Bitmap of the words with any bit set.
    pub fn word_map(&self) -> u32 {
        let mut m = 0u32;
        for i in 0..FLOW_WORDS {
            if self.w[i] != 0 {
                m |= 1 << i;
            }
        }
        m
    }
}

/// Bit position of register `i` in its word (even registers are the high half).
#[inline]
pub const fn reg_shift(i: usize) -> u32 {
    if i & 1 == 0 {
        32
    } else {
        0
    }
}

impl core::hash::Hash for Flow {
    #[inline]
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        for &w in &self.w {
            state.write_u64(w);
        }
    }
}

impl core::fmt::Debug for Flow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Flow[")?;
        for (i, w) in self.w.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{w:x}")?;
        }
        write!(f, "]")
    }
}

/// Ethernet types the slow path knows.
pub mod eth_type {
    /// IPv4.
    pub const IP: u16 = 0x0800;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// Reverse ARP.
    pub const RARP: u16 = 0x8035;
    /// MPLS unicast.
    pub const MPLS: u16 = 0x8847;
    /// MPLS multicast.
    pub const MPLS_MCAST: u16 = 0x8848;
    /// 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad (service) VLAN tag.
    pub const VLAN_8021AD: u16 = 0x88a8;
}

/// IP protocol numbers the slow path knows.
pub mod ip_proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// The key's IP header fields (IPv4 addresses share the IPv6 words).
pub const IP_FIELDS: [Field; 8] = [
    Field::NwProto,
    Field::NwTos,
    Field::NwTtl,
    Field::NwFrag,
    Field::Ipv6SrcHi,
    Field::Ipv6SrcLo,
    Field::Ipv6DstHi,
    Field::Ipv6DstLo,
];

/// Number of lookup stages (metadata, L2, L3, L4), as Open vSwitch's classifier segments.
pub const N_STAGES: usize = 4;

/// The bits of each lookup stage, in order: metadata (in_port, metadata,
/// registers), L2 (Ethernet, VLAN, type), L3 (IP addresses, protocol, TOS,
/// TTL, fragments; ARP fields), L4 (ports, ICMP type/code, TCP flags, ND).
pub fn stage_masks() -> [Flow; N_STAGES] {
    let mut s = [Flow::ZERO; N_STAGES];
    let put = |f: &mut Flow, field: Field| {
        let d = field.def();
        f.w[d.word()] |= d.word_mask();
    };
    put(&mut s[0], Field::InPort);
    for w in KEY_WORDS..FLOW_WORDS {
        s[0].w[w] = u64::MAX;
    }
    for f in [
        Field::DlType,
        Field::VlanTci,
        Field::DlDst,
        Field::DlSrc,
        Field::VlanTci2,
    ] {
        put(&mut s[1], f);
    }
    for f in IP_FIELDS {
        put(&mut s[2], f);
    }
    // ND fields with the ports, as Open vSwitch's megaflows show them: a
    // miss there un-wildcards the ports by trie and the rest whole.
    for f in [
        Field::TpSrc,
        Field::TpDst,
        Field::TcpFlags,
        Field::NdTargetHi,
        Field::NdTargetLo,
        Field::NdSll,
        Field::NdTll,
    ] {
        put(&mut s[3], f);
    }
    s
}

/// True when the flow is IPv4 or IPv6.
#[inline]
pub fn is_ip_any(f: &Flow) -> bool {
    let t = f.get(Field::DlType) as u16;
    t == eth_type::IP || t == eth_type::IPV6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_partition_every_bit() {
        let s = stage_masks();
        let mut all = Flow::ZERO;
        for (i, a) in s.iter().enumerate() {
            for b in &s[i + 1..] {
                assert!(a.masked(b).is_zero());
            }
            all.or_with(a);
        }
        for f in abi::Field::ALL {
            let d = f.def();
            assert_eq!(all.w[d.word()] & d.word_mask(), d.word_mask(), "{f:?}");
        }
    }

    #[test]
    fn registers_are_halves() {
        let mut f = Flow::ZERO;
        f.w[REGS_WORD + 1] = 0x1111_2222_3333_4444;
        assert_eq!(f.reg(2), 0x1111_2222);
        assert_eq!(f.reg(3), 0x3333_4444);
    }
}
