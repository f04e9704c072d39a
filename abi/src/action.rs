//! The action contract: what the NIC does with a frame whose key hit.
//!
//! Every table position (EMC entry, megaflow entry) has one [`ActionEntry`]
//! in the action RAM beside it, written by the same staged, atomic install
//! as the entry itself, so a lookup never sees a new key with an old action.
//! Rewrite values (addresses, ports) do not fit a per-position word; they
//! live in a small shared edit table ([`EditEntry`], indexed by
//! `AE_EDIT_INDEX`), as NICs keep "modify header" contexts apart from flows.
//!
//! What the hardware cannot do is never refused: the host installs the
//! flow as [`ActionKind::ToHost`] (partial offload: the frame reaches the
//! host with its mark, the flow id, and the host runs the actions), counted
//! by the offload manager.

use crate::bits::BitField;

/// First datapath port number of the MAC ports: MAC port `i` (0-based, the
/// shell's port index) is datapath port `MAC_PORT_BASE + i`, the number in
/// the key's `IN_PORT` and in rules. OpenFlow numbers ports from 1.
pub const MAC_PORT_BASE: u16 = 1;
/// Most MAC ports one pipeline serves: the width of `AE_OUT_PORTS`.
pub const MAX_MAC_PORTS: usize = 16;
/// Longest frame a MAC port carries through the NIC, in bytes: a 9000-byte
/// jumbo MTU plus Ethernet header, two VLAN tags and FCS, rounded up to the
/// usual switch maximum. The frame buffer holds this much per frame; longer
/// frames are drained and counted, never cut.
pub const MAX_PORT_FRAME: usize = 9216;
/// Entries in the edit table.
pub const EDIT_ENTRIES: usize = 4096;

/// What happens to a frame that hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ActionKind {
    /// Dropped and counted in the entry's counters.
    Drop = 0,
    /// Edited, then sent out of every port in `AE_OUT_PORTS` (full offload).
    Output = 1,
    /// Sent to the host queue with its mark; the host runs the actions
    /// (partial offload).
    ToHost = 2,
}

/// The VLAN edit applied before output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum VlanOp {
    /// Tags left as they are.
    None = 0,
    /// Outer tag removed.
    Pop = 1,
    /// A tag pushed outside any existing one: TPID per `AE_VLAN_8021AD`,
    /// TCI `AE_VLAN_TCI`.
    Push = 2,
    /// The outer tag's TCI replaced by `AE_VLAN_TCI` (set_field to
    /// `vlan_vid`/`vlan_pcp`).
    SetTci = 3,
}

crate::layout! {
    /// One action-RAM word per table position.
    ACTION_ENTRY {
        /// [`ActionKind`].
        AE_KIND = (0, 2),
        /// [`VlanOp`].
        AE_VLAN_OP = (2, 2),
        /// Pushed tag's TPID: 0 = 0x8100 (802.1Q), 1 = 0x88a8 (802.1ad).
        AE_VLAN_8021AD = (4, 1),
        /// Rewrite the Ethernet source from the edit entry.
        AE_SET_ETH_SRC = (5, 1),
        /// Rewrite the Ethernet destination.
        AE_SET_ETH_DST = (6, 1),
        /// Rewrite the IPv4 source (IPv4 header and L4 checksums updated).
        AE_SET_IPV4_SRC = (7, 1),
        /// Rewrite the IPv4 destination (checksums updated).
        AE_SET_IPV4_DST = (8, 1),
        /// Rewrite the TCP/UDP source port (L4 checksum updated).
        AE_SET_L4_SRC = (9, 1),
        /// Rewrite the TCP/UDP destination port (L4 checksum updated).
        AE_SET_L4_DST = (10, 1),
        /// Edit-table index the rewrite values come from.
        AE_EDIT_INDEX = (12, 12),
        /// Bitmap of MAC ports to send to (bit `i` = MAC port `i`).
        AE_OUT_PORTS = (24, 16),
        /// TCI for `Push` / `SetTci`.
        AE_VLAN_TCI = (40, 16),
    }
}

crate::layout! {
    /// One edit-table entry: the rewrite values.
    EDIT_ENTRY {
        /// New Ethernet source.
        ED_ETH_SRC = (0, 48),
        /// New TCP/UDP source port.
        ED_L4_SRC = (48, 16),
        /// New Ethernet destination.
        ED_ETH_DST = (64, 48),
        /// New TCP/UDP destination port.
        ED_L4_DST = (112, 16),
        /// New IPv4 source.
        ED_IPV4_SRC = (128, 32),
        /// New IPv4 destination.
        ED_IPV4_DST = (160, 32),
    }
}

/// 64-bit words of an [`EditEntry`].
pub const EDIT_WORDS: usize = 4;

const _: () = assert!(AE_OUT_PORTS.width as usize == MAX_MAC_PORTS);
const _: () = assert!(1usize << AE_EDIT_INDEX.width >= EDIT_ENTRIES);

/// A decoded action-RAM word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ActionEntry {
    /// What happens to the frame.
    pub kind: Option<ActionKind>,
    /// VLAN edit.
    pub vlan: Option<VlanOp>,
    /// Pushed TPID is 0x88a8.
    pub vlan_8021ad: bool,
    /// TCI for push / set.
    pub vlan_tci: u16,
    /// Rewrites: eth_src, eth_dst, ipv4_src, ipv4_dst, l4_src, l4_dst.
    pub set: SetMask,
    /// Edit-table index.
    pub edit_index: u16,
    /// Output port bitmap.
    pub out_ports: u16,
}

/// Which fields an action rewrites from its edit entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SetMask {
    /// Ethernet source.
    pub eth_src: bool,
    /// Ethernet destination.
    pub eth_dst: bool,
    /// IPv4 source.
    pub ipv4_src: bool,
    /// IPv4 destination.
    pub ipv4_dst: bool,
    /// L4 source port.
    pub l4_src: bool,
    /// L4 destination port.
    pub l4_dst: bool,
}

/// An action word that does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// `AE_KIND` = 3.
    #[error("action word {0:#018x}: unknown kind {1}")]
    Kind(u64, u8),
    /// An edit index past the edit table.
    #[error("action word {0:#018x}: edit index {1} is outside 0..{EDIT_ENTRIES}")]
    EditIndex(u64, u16),
}

impl ActionEntry {
    /// Partial offload: the frame reaches the host with its mark (the flow
    /// id) and the host runs the flow's actions. What a flow gets whose
    /// actions the NIC cannot execute, and the look-aside NIC's only use.
    pub const TO_HOST: ActionEntry = ActionEntry {
        kind: Some(ActionKind::ToHost),
        vlan: None,
        vlan_8021ad: false,
        vlan_tci: 0,
        set: SetMask {
            eth_src: false,
            eth_dst: false,
            ipv4_src: false,
            ipv4_dst: false,
            l4_src: false,
            l4_dst: false,
        },
        edit_index: 0,
        out_ports: 0,
    };

    /// Encodes the action-RAM word. `kind: None` encodes as `Drop`.
    pub fn encode(&self) -> u64 {
        let mut w = [0u64];
        AE_KIND.set(&mut w, self.kind.unwrap_or(ActionKind::Drop) as u64);
        AE_VLAN_OP.set(&mut w, self.vlan.unwrap_or(VlanOp::None) as u64);
        AE_VLAN_8021AD.set(&mut w, self.vlan_8021ad as u64);
        AE_SET_ETH_SRC.set(&mut w, self.set.eth_src as u64);
        AE_SET_ETH_DST.set(&mut w, self.set.eth_dst as u64);
        AE_SET_IPV4_SRC.set(&mut w, self.set.ipv4_src as u64);
        AE_SET_IPV4_DST.set(&mut w, self.set.ipv4_dst as u64);
        AE_SET_L4_SRC.set(&mut w, self.set.l4_src as u64);
        AE_SET_L4_DST.set(&mut w, self.set.l4_dst as u64);
        AE_EDIT_INDEX.set(&mut w, self.edit_index as u64);
        AE_OUT_PORTS.set(&mut w, self.out_ports as u64);
        AE_VLAN_TCI.set(&mut w, self.vlan_tci as u64);
        w[0]
    }

    /// Decodes an action-RAM word.
    pub fn decode(word: u64) -> Result<ActionEntry, ActionError> {
        let w = [word];
        let kind = match AE_KIND.get(&w) {
            0 => ActionKind::Drop,
            1 => ActionKind::Output,
            2 => ActionKind::ToHost,
            k => return Err(ActionError::Kind(word, k as u8)),
        };
        let vlan = match AE_VLAN_OP.get(&w) {
            0 => VlanOp::None,
            1 => VlanOp::Pop,
            2 => VlanOp::Push,
            _ => VlanOp::SetTci,
        };
        let edit_index = AE_EDIT_INDEX.get(&w) as u16;
        if edit_index as usize >= EDIT_ENTRIES {
            return Err(ActionError::EditIndex(word, edit_index));
        }
        let bit = |f: BitField| f.get(&w) != 0;
        Ok(ActionEntry {
            kind: Some(kind),
            vlan: Some(vlan),
            vlan_8021ad: bit(AE_VLAN_8021AD),
            vlan_tci: AE_VLAN_TCI.get(&w) as u16,
            set: SetMask {
                eth_src: bit(AE_SET_ETH_SRC),
                eth_dst: bit(AE_SET_ETH_DST),
                ipv4_src: bit(AE_SET_IPV4_SRC),
                ipv4_dst: bit(AE_SET_IPV4_DST),
                l4_src: bit(AE_SET_L4_SRC),
                l4_dst: bit(AE_SET_L4_DST),
            },
            edit_index,
            out_ports: AE_OUT_PORTS.get(&w) as u16,
        })
    }
}

/// A decoded edit-table entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EditEntry {
    /// New Ethernet source.
    pub eth_src: [u8; 6],
    /// New Ethernet destination.
    pub eth_dst: [u8; 6],
    /// New IPv4 source.
    pub ipv4_src: [u8; 4],
    /// New IPv4 destination.
    pub ipv4_dst: [u8; 4],
    /// New L4 source port.
    pub l4_src: u16,
    /// New L4 destination port.
    pub l4_dst: u16,
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |a, b| a << 8 | *b as u64)
}

fn to_be<const N: usize>(v: u64) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = (v >> (8 * (N - 1 - i))) as u8;
    }
    out
}

impl EditEntry {
    /// Encodes the entry's words (network-order values, as in the key).
    pub fn encode(&self) -> [u64; EDIT_WORDS] {
        let mut w = [0u64; EDIT_WORDS];
        ED_ETH_SRC.set(&mut w, be(&self.eth_src));
        ED_ETH_DST.set(&mut w, be(&self.eth_dst));
        ED_IPV4_SRC.set(&mut w, be(&self.ipv4_src));
        ED_IPV4_DST.set(&mut w, be(&self.ipv4_dst));
        ED_L4_SRC.set(&mut w, self.l4_src as u64);
        ED_L4_DST.set(&mut w, self.l4_dst as u64);
        w
    }

    /// Decodes an entry's words.
    pub fn decode(w: &[u64; EDIT_WORDS]) -> EditEntry {
        EditEntry {
            eth_src: to_be(ED_ETH_SRC.get(w)),
            eth_dst: to_be(ED_ETH_DST.get(w)),
            ipv4_src: to_be(ED_IPV4_SRC.get(w)),
            ipv4_dst: to_be(ED_IPV4_DST.get(w)),
            l4_src: ED_L4_SRC.get(w) as u16,
            l4_dst: ED_L4_DST.get(w) as u16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_sound() {
        crate::bits::check_layout(ACTION_ENTRY, 1, &[]).unwrap();
        crate::bits::check_layout(EDIT_ENTRY, EDIT_WORDS, &[]).unwrap();
    }

    #[test]
    fn entries_round_trip() {
        let a = ActionEntry {
            kind: Some(ActionKind::Output),
            vlan: Some(VlanOp::Push),
            vlan_8021ad: true,
            vlan_tci: 0xe00a,
            set: SetMask {
                eth_src: true,
                ipv4_dst: true,
                l4_dst: true,
                ..SetMask::default()
            },
            edit_index: 4095,
            out_ports: 0x8005,
        };
        assert_eq!(ActionEntry::decode(a.encode()), Ok(a));
        let e = EditEntry {
            eth_src: [1, 2, 3, 4, 5, 6],
            eth_dst: [0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa],
            ipv4_src: [10, 0, 0, 1],
            ipv4_dst: [192, 168, 1, 254],
            l4_src: 1234,
            l4_dst: 0xffff,
        };
        assert_eq!(EditEntry::decode(&e.encode()), e);
        let mut w = [0u64];
        AE_KIND.set(&mut w, 3);
        assert_eq!(ActionEntry::decode(w[0]), Err(ActionError::Kind(w[0], 3)));
    }
}
