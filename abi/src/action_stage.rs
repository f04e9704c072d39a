//! The action stage's contract: the descriptor that travels beside each
//! frame into the stage, and the reference of what the stage does with it.
//!
//! The action stage (`hdl::action_stage`, Verilog `fastpath_action_stage`)
//! takes each frame from the frame buffer together with an [`ActionDesc`]:
//! the frame's lookup result word, the action-RAM word of the entry that hit,
//! the parser's meta word, the key hash and the edit-table entry the action
//! word names (`AE_EDIT_INDEX`). It sends the frame out to MAC
//! ports (full offload), drops it, or hands it to the host RX queue with a
//! [`HostRxMeta`]. [`action_stage`] is the one statement of that rule: the
//! RTL's tests use it as their oracle, and the simulated NIC and the host
//! share it.
//!
//! Rules, first match wins:
//! 1. a parser exception: to the host, `Exception` (even if the zero key hit);
//! 2. no hit (`RESULT_KIND` neither EMC nor megaflow): to the host, `Miss`;
//! 3. `Drop`, or `Output` to an empty port bitmap: dropped;
//! 4. `Output` with an edit in [`HOST_EDIT_FIELDS`]: to the host, `Marked`
//!    (the host runs the actions: never dropped, never sent unedited);
//! 5. `Output`: the Ethernet address rewrite of `AE_SET_ETH_SRC` /
//!    `AE_SET_ETH_DST` ([`eth_edit`]), the VLAN edit of `AE_VLAN_OP`
//!    ([`vlan_edit`]), then out of every port in `AE_OUT_PORTS`;
//! 6. `ToHost`, or an unknown kind: to the host, `Marked`.
//!
//! The host RX metadata carries the parser's malformed reason, its
//! `bad_ip_version` flag, in port and frame length (saturated to 16 bits),
//! the flow id as mark (`Marked` only) and the key hash. The stage does not
//! append the key, so `HR_KEY_VALID` is 0; the hash lets the host pair a
//! miss with its miss-queue entry (`MISS_HASH`).

use crate::action::{
    ActionKind, EditEntry, VlanOp, AE_KIND, AE_OUT_PORTS, AE_SET_ETH_DST, AE_SET_ETH_SRC,
    AE_SET_IPV4_DST, AE_SET_IPV4_SRC, AE_SET_L4_DST, AE_SET_L4_SRC, AE_VLAN_8021AD, AE_VLAN_OP,
    AE_VLAN_TCI, EDIT_WORDS,
};
use crate::bits::BitField;
use crate::hostq::{HostRxMeta, HostRxReason};
use crate::parser::{ParseMeta, ParseMetaError};
use crate::regs::{HitKind, RESULT_FLOW_ID, RESULT_KIND};

crate::layout! {
    /// The per-frame descriptor of the action stage (eight 64-bit words),
    /// held for the whole frame.
    ACTION_DESC {
        /// Lookup result word ([`crate::regs::RESULT_FIELDS`]).
        AD_RESULT = (0, 64),
        /// Action-RAM word of the entry that hit
        /// ([`crate::action::ACTION_ENTRY`]); ignored without a hit.
        AD_ACTION = (64, 64),
        /// Parser meta word ([`crate::parser::FRAME_SIDEBAND`]).
        AD_PARSE_META = (128, 64),
        /// The key's hash ([`crate::hash_key`]).
        AD_HASH = (192, 32),
        /// Edit-table entry `AE_EDIT_INDEX` ([`crate::action::EDIT_ENTRY`]),
        /// word 0; ignored unless an `AE_SET_*` bit is set.
        AD_EDIT0 = (256, 64),
        /// Edit entry word 1.
        AD_EDIT1 = (320, 64),
        /// Edit entry word 2.
        AD_EDIT2 = (384, 64),
        /// Edit entry word 3.
        AD_EDIT3 = (448, 64),
    }
}

/// 64-bit words of an [`ActionDesc`].
pub const ACTION_DESC_WORDS: usize = 8;
/// The descriptor's edit words, in edit-entry order.
pub const AD_EDIT: [BitField; EDIT_WORDS] = [AD_EDIT0, AD_EDIT1, AD_EDIT2, AD_EDIT3];

/// Action-word fields whose edits the stage does not make itself: a frame
/// whose `Output` action sets any of them goes to the host as `Marked`.
/// The Ethernet addresses it rewrites itself ([`eth_edit`]).
pub const HOST_EDIT_FIELDS: &[BitField] = &[
    AE_SET_IPV4_SRC,
    AE_SET_IPV4_DST,
    AE_SET_L4_SRC,
    AE_SET_L4_DST,
];

/// TPID of an 802.1Q tag.
pub const TPID_8021Q: u16 = 0x8100;
/// TPID of an 802.1ad (service) tag.
pub const TPID_8021AD: u16 = 0x88a8;
/// Bytes of the two MAC addresses at a frame's start (destination, then
/// source), what [`eth_edit`] rewrites.
pub const ETH_ADDRS_LEN: usize = 12;
/// Byte offset of the outer VLAN tag: after the two MAC addresses.
pub const VLAN_TAG_AT: usize = ETH_ADDRS_LEN;
/// Bytes of a VLAN tag (TPID, TCI).
pub const VLAN_TAG_LEN: usize = 4;
/// Shortest frame whose outer tag `Pop` and `SetTci` edit: an Ethernet
/// header with one tag (Open vSwitch's `sizeof(struct vlan_eth_header)`).
pub const MIN_TAGGED_LEN: usize = 18;

/// Whether `frame` has an outer tag that `Pop` and `SetTci` edit: at least
/// [`MIN_TAGGED_LEN`] bytes and an 802.1Q or 802.1ad TPID at
/// [`VLAN_TAG_AT`], as Open vSwitch's `eth_pop_vlan` checks.
pub fn outer_tagged(frame: &[u8]) -> bool {
    frame.len() >= MIN_TAGGED_LEN && {
        let tpid = u16::from_be_bytes([frame[VLAN_TAG_AT], frame[VLAN_TAG_AT + 1]]);
        tpid == TPID_8021Q || tpid == TPID_8021AD
    }
}

/// The frame after the VLAN edit of action word `action` (Open vSwitch's
/// `push_vlan` / `pop_vlan` / `set_field` on the outer TCI):
/// - `Push`: a tag (TPID per `AE_VLAN_8021AD`, TCI `AE_VLAN_TCI` as is)
///   inserted at [`VLAN_TAG_AT`], outside any existing tag; a frame shorter
///   than that gets it at its end, as the host's `execute` does;
/// - `Pop`: the outer tag removed, `SetTci`: its TCI replaced — only if
///   [`outer_tagged`]; any other frame leaves unchanged (OVS's pop of an
///   untagged frame is a no-op too).
pub fn vlan_edit(action: u64, frame: &[u8]) -> Vec<u8> {
    let a = [action];
    let tci = (AE_VLAN_TCI.get(&a) as u16).to_be_bytes();
    let mut out = frame.to_vec();
    match AE_VLAN_OP.get(&a) {
        op if op == VlanOp::Push as u64 => {
            let tpid = if AE_VLAN_8021AD.get(&a) != 0 {
                TPID_8021AD
            } else {
                TPID_8021Q
            }
            .to_be_bytes();
            let at = VLAN_TAG_AT.min(out.len());
            out.splice(at..at, [tpid[0], tpid[1], tci[0], tci[1]]);
        }
        op if op == VlanOp::Pop as u64 && outer_tagged(frame) => {
            out.drain(VLAN_TAG_AT..VLAN_TAG_AT + VLAN_TAG_LEN);
        }
        op if op == VlanOp::SetTci as u64 && outer_tagged(frame) => {
            out[VLAN_TAG_AT + 2..VLAN_TAG_AT + VLAN_TAG_LEN].copy_from_slice(&tci);
        }
        _ => {}
    }
    out
}

/// The frame after the Ethernet address rewrite of action word `action`
/// with the edit-table entry `edit` (Open vSwitch's `set(eth(src=..,
/// dst=..))`): `AE_SET_ETH_DST` writes bytes 0..6, `AE_SET_ETH_SRC` bytes
/// 6..12; a frame shorter than [`ETH_ADDRS_LEN`] leaves unchanged, as the
/// host's `execute` leaves it. Bytes from 12 on are the VLAN edit's, so the
/// two edits commute.
pub fn eth_edit(action: u64, edit: &[u64; EDIT_WORDS], frame: &[u8]) -> Vec<u8> {
    let a = [action];
    let e = EditEntry::decode(edit);
    let mut out = frame.to_vec();
    if out.len() >= ETH_ADDRS_LEN {
        if AE_SET_ETH_DST.get(&a) != 0 {
            out[0..6].copy_from_slice(&e.eth_dst);
        }
        if AE_SET_ETH_SRC.get(&a) != 0 {
            out[6..12].copy_from_slice(&e.eth_src);
        }
    }
    out
}

/// The bits of [`HOST_EDIT_FIELDS`] in the action word.
pub const fn host_edit_mask() -> u64 {
    let mut m = 0;
    let mut i = 0;
    while i < HOST_EDIT_FIELDS.len() {
        m |= HOST_EDIT_FIELDS[i].word_mask();
        i += 1;
    }
    m
}

/// A descriptor: the raw words, as the stage sees them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ActionDesc {
    /// Lookup result word.
    pub result: u64,
    /// Action-RAM word.
    pub action: u64,
    /// Parser meta word.
    pub parse_meta: u64,
    /// Key hash.
    pub hash: u32,
    /// Edit-table entry words ([`EditEntry::encode`]).
    pub edit: [u64; EDIT_WORDS],
}

impl ActionDesc {
    /// Encodes the descriptor words.
    pub fn encode(&self) -> [u64; ACTION_DESC_WORDS] {
        let mut w = [0u64; ACTION_DESC_WORDS];
        AD_RESULT.set(&mut w, self.result);
        AD_ACTION.set(&mut w, self.action);
        AD_PARSE_META.set(&mut w, self.parse_meta);
        AD_HASH.set(&mut w, self.hash as u64);
        for (f, v) in AD_EDIT.iter().zip(self.edit) {
            f.set(&mut w, v);
        }
        w
    }

    /// Decodes descriptor words (every value decodes; the fields are
    /// checked by [`action_stage`]).
    pub fn decode(w: &[u64; ACTION_DESC_WORDS]) -> ActionDesc {
        ActionDesc {
            result: AD_RESULT.get(w),
            action: AD_ACTION.get(w),
            parse_meta: AD_PARSE_META.get(w),
            hash: AD_HASH.get(w) as u32,
            edit: AD_EDIT.map(|f| f.get(w)),
        }
    }
}

/// Where a frame goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Out of every MAC port in the bitmap (bit `i` = MAC port `i`).
    Tx {
        /// Port bitmap (`AE_OUT_PORTS`, never 0).
        ports: u16,
        /// The frame as sent.
        bytes: Vec<u8>,
    },
    /// Consumed.
    Drop,
    /// To the host RX queue.
    Host {
        /// Its metadata.
        meta: HostRxMeta,
        /// The frame.
        bytes: Vec<u8>,
    },
}

/// The stage's frame counters: each frame counts in exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ActionCounter {
    /// Sent to MAC ports.
    Forwarded = 0,
    /// A `Drop` action, or `Output` to no port.
    Dropped = 1,
    /// To the host: a `ToHost` action (or an unknown kind).
    HostMarked = 2,
    /// To the host: no table hit.
    HostMiss = 3,
    /// To the host: a parser exception.
    HostException = 4,
    /// To the host as `Marked`: an `Output` with an edit the stage does
    /// not make ([`HOST_EDIT_FIELDS`]).
    EditsToHost = 5,
}

impl ActionCounter {
    /// Every counter, in code order.
    pub const ALL: &'static [ActionCounter] = &[
        ActionCounter::Forwarded,
        ActionCounter::Dropped,
        ActionCounter::HostMarked,
        ActionCounter::HostMiss,
        ActionCounter::HostException,
        ActionCounter::EditsToHost,
    ];

    /// Counter name (the stage's output port and statistics key).
    pub const fn name(self) -> &'static str {
        match self {
            ActionCounter::Forwarded => "forwarded",
            ActionCounter::Dropped => "dropped",
            ActionCounter::HostMarked => "host_marked",
            ActionCounter::HostMiss => "host_miss",
            ActionCounter::HostException => "host_exception",
            ActionCounter::EditsToHost => "edits_to_host",
        }
    }
}

/// What the stage does with one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionOutcome {
    /// Where the frame goes.
    pub disposition: Disposition,
    /// The counter it counts in.
    pub counter: ActionCounter,
}

/// The reference action stage: what the hardware does with `frame` given
/// its descriptor. Fails only on a parser meta word with an unknown code
/// (the parser never writes one).
pub fn action_stage(desc: &ActionDesc, frame: &[u8]) -> Result<ActionOutcome, ParseMetaError> {
    let pm = ParseMeta::decode(desc.parse_meta)?;
    let r = [desc.result];
    let a = [desc.action];
    let flow_id = RESULT_FLOW_ID.get(&r) as u32;
    let host = |reason: HostRxReason, counter: ActionCounter| ActionOutcome {
        disposition: Disposition::Host {
            meta: HostRxMeta {
                reason,
                exception: pm.exception,
                malformed: pm.malformed,
                bad_ip_version: pm.bad_ip_version,
                key_valid: false,
                in_port: pm.in_port,
                frame_len: pm.frame_len.min(u16::MAX as u32) as u16,
                mark: if reason == HostRxReason::Marked {
                    flow_id
                } else {
                    0
                },
                hash: desc.hash,
            },
            bytes: frame.to_vec(),
        },
        counter,
    };
    if pm.exception.is_some() {
        return Ok(host(HostRxReason::Exception, ActionCounter::HostException));
    }
    let kind = RESULT_KIND.get(&r);
    if kind != HitKind::Emc as u64 && kind != HitKind::Megaflow as u64 {
        return Ok(host(HostRxReason::Miss, ActionCounter::HostMiss));
    }
    let drop = ActionOutcome {
        disposition: Disposition::Drop,
        counter: ActionCounter::Dropped,
    };
    let ports = AE_OUT_PORTS.get(&a) as u16;
    Ok(match AE_KIND.get(&a) {
        k if k == ActionKind::Drop as u64 => drop,
        k if k == ActionKind::Output as u64 => {
            if ports == 0 {
                drop
            } else if desc.action & host_edit_mask() != 0 {
                host(HostRxReason::Marked, ActionCounter::EditsToHost)
            } else {
                ActionOutcome {
                    disposition: Disposition::Tx {
                        ports,
                        bytes: vlan_edit(desc.action, &eth_edit(desc.action, &desc.edit, frame)),
                    },
                    counter: ActionCounter::Forwarded,
                }
            }
        }
        _ => host(HostRxReason::Marked, ActionCounter::HostMarked),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{ActionEntry, EditEntry, SetMask, VlanOp, ACTION_ENTRY};
    use crate::parser::{Exception, MalformedReason};
    use crate::regs::LookupResult;

    fn hit(flow_id: u32) -> u64 {
        LookupResult {
            kind: HitKind::Megaflow,
            slot: 3,
            index: 77,
            flow_id,
        }
        .encode()
        .unwrap()
    }

    fn meta(exception: Option<Exception>, frame_len: u32) -> u64 {
        ParseMeta {
            in_port: 2,
            frame_len,
            malformed: Some(MalformedReason::TruncatedTcp),
            bad_ip_version: true,
            exception,
        }
        .encode()
    }

    fn output(ports: u16) -> ActionEntry {
        ActionEntry {
            kind: Some(ActionKind::Output),
            out_ports: ports,
            ..ActionEntry::default()
        }
    }

    fn run(result: u64, action: ActionEntry, exception: Option<Exception>) -> ActionOutcome {
        let frame = [0xabu8; 60];
        let d = ActionDesc {
            result,
            action: action.encode(),
            parse_meta: meta(exception, frame.len() as u32),
            hash: 0x1234_5678,
            edit: [0; EDIT_WORDS],
        };
        action_stage(&d, &frame).unwrap()
    }

    fn host_meta(o: &ActionOutcome) -> HostRxMeta {
        match &o.disposition {
            Disposition::Host { meta, bytes } => {
                assert_eq!(bytes, &[0xab; 60]);
                *meta
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn layout_is_sound_and_round_trips() {
        crate::bits::check_layout(ACTION_DESC, ACTION_DESC_WORDS, &[]).unwrap();
        let d = ActionDesc {
            result: 0x0123_4567_89ab_cdef,
            action: u64::MAX,
            parse_meta: 0xfedc_ba98_7654_3210,
            hash: 0xdead_beef,
            edit: [1, u64::MAX, 3 << 62, 0x0123_4567],
        };
        assert_eq!(ActionDesc::decode(&d.encode()), d);
        // The edit mask covers exactly the listed fields of the action word.
        let m = host_edit_mask();
        for f in ACTION_ENTRY {
            let listed = HOST_EDIT_FIELDS.contains(f);
            assert_eq!(m & f.word_mask() == f.word_mask(), listed, "{}", f.name);
            assert_eq!(m & f.word_mask() == 0, !listed, "{}", f.name);
        }
    }

    #[test]
    fn output_forwards_unchanged_and_empty_bitmap_drops() {
        let o = run(hit(5), output(0x8001), None);
        assert_eq!(o.counter, ActionCounter::Forwarded);
        assert_eq!(
            o.disposition,
            Disposition::Tx {
                ports: 0x8001,
                bytes: vec![0xab; 60]
            }
        );
        let o = run(hit(5), output(0), None);
        assert_eq!(
            (o.counter, o.disposition),
            (ActionCounter::Dropped, Disposition::Drop)
        );
        let drop = ActionEntry {
            kind: Some(ActionKind::Drop),
            out_ports: 1,
            vlan: Some(VlanOp::Pop),
            ..ActionEntry::default()
        };
        assert_eq!(run(hit(5), drop, None).counter, ActionCounter::Dropped);
    }

    #[test]
    fn to_host_carries_the_mark_and_the_parse() {
        let a = ActionEntry {
            kind: Some(ActionKind::ToHost),
            out_ports: 3,
            ..ActionEntry::default()
        };
        let o = run(hit(0xab_cdef), a, None);
        assert_eq!(o.counter, ActionCounter::HostMarked);
        let m = host_meta(&o);
        assert_eq!(
            m,
            HostRxMeta {
                reason: HostRxReason::Marked,
                exception: None,
                malformed: Some(MalformedReason::TruncatedTcp),
                bad_ip_version: true,
                key_valid: false,
                in_port: 2,
                frame_len: 60,
                mark: 0xab_cdef,
                hash: 0x1234_5678,
            }
        );
        // An unknown kind is the host's to decide, never a drop.
        let d = ActionDesc {
            result: hit(9),
            action: 3,
            parse_meta: meta(None, 60),
            hash: 0,
            edit: [0; EDIT_WORDS],
        };
        let o = action_stage(&d, &[0xab; 60]).unwrap();
        assert_eq!(o.counter, ActionCounter::HostMarked);
        assert_eq!(host_meta(&o).mark, 9);
    }

    #[test]
    fn every_unsupported_edit_goes_to_the_host_marked() {
        let edits: [fn(&mut ActionEntry); 4] = [
            |a| a.set.ipv4_src = true,
            |a| a.set.ipv4_dst = true,
            |a| a.set.l4_src = true,
            |a| a.set.l4_dst = true,
        ];
        for (i, e) in edits.iter().enumerate() {
            let mut a = output(4);
            e(&mut a);
            let o = run(hit(7), a, None);
            assert_eq!(o.counter, ActionCounter::EditsToHost, "edit {i}");
            let m = host_meta(&o);
            assert_eq!((m.reason, m.mark), (HostRxReason::Marked, 7), "edit {i}");
        }
        // An Ethernet rewrite beside one the stage does not make: the
        // host makes both.
        let a = ActionEntry {
            set: SetMask {
                eth_src: true,
                l4_dst: true,
                ..SetMask::default()
            },
            ..output(4)
        };
        assert_eq!(run(hit(7), a, None).counter, ActionCounter::EditsToHost);
        // Values an edit would use are no edit by themselves.
        let a = ActionEntry {
            vlan_8021ad: true,
            vlan_tci: 0xffff,
            edit_index: 4095,
            set: SetMask::default(),
            ..output(4)
        };
        assert_eq!(run(hit(7), a, None).counter, ActionCounter::Forwarded);
    }

    /// `d` made `ToHost`: the frame reaches the host unedited.
    fn goes_to_the_host_as_it_came(d: &ActionDesc, f: &[u8]) {
        let to_host = ActionDesc {
            action: d.action & !AE_KIND.word_mask() | ActionKind::ToHost as u64,
            ..*d
        };
        match action_stage(&to_host, f).unwrap().disposition {
            Disposition::Host { bytes, .. } => assert_eq!(bytes, f),
            other => panic!("{other:?}"),
        }
    }

    const EDIT: EditEntry = EditEntry {
        eth_src: [0x02, 0x11, 0x22, 0x33, 0x44, 0x55],
        eth_dst: [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee],
        ipv4_src: [10, 1, 2, 3],
        ipv4_dst: [10, 4, 5, 6],
        l4_src: 0x1234,
        l4_dst: 0x5678,
    };

    fn eth(src: bool, dst: bool, op: VlanOp) -> u64 {
        ActionEntry {
            set: SetMask {
                eth_src: src,
                eth_dst: dst,
                ..SetMask::default()
            },
            vlan: Some(op),
            vlan_tci: 0x0123,
            edit_index: 4095,
            ..output(1)
        }
        .encode()
    }

    #[test]
    fn eth_edit_rewrites_the_addresses_it_is_told_to() {
        let e = EDIT.encode();
        let f = frame(64, TPID_8021Q);
        let mut want = f.clone();
        want[0..6].copy_from_slice(&EDIT.eth_dst);
        assert_eq!(eth_edit(eth(false, true, VlanOp::None), &e, &f), want);
        want[6..12].copy_from_slice(&EDIT.eth_src);
        assert_eq!(eth_edit(eth(true, true, VlanOp::None), &e, &f), want);
        let mut want = f.clone();
        want[6..12].copy_from_slice(&EDIT.eth_src);
        assert_eq!(eth_edit(eth(true, false, VlanOp::None), &e, &f), want);
        assert_eq!(eth_edit(eth(false, false, VlanOp::None), &e, &f), f);
        // Exactly the addresses, or nothing when they are not all there.
        let f12 = frame(12, 0);
        assert_eq!(
            eth_edit(eth(true, true, VlanOp::None), &e, &f12)[..],
            [EDIT.eth_dst, EDIT.eth_src].concat()[..]
        );
        let f11 = frame(11, 0);
        assert_eq!(eth_edit(eth(true, true, VlanOp::None), &e, &f11), f11);
    }

    #[test]
    fn eth_edits_are_forwarded_with_the_vlan_edit() {
        let f = frame(60, TPID_8021Q);
        for op in [VlanOp::None, VlanOp::Pop, VlanOp::Push, VlanOp::SetTci] {
            let action = eth(true, true, op);
            let d = ActionDesc {
                result: hit(7),
                action,
                parse_meta: meta(None, 60),
                hash: 0,
                edit: EDIT.encode(),
            };
            let o = action_stage(&d, &f).unwrap();
            assert_eq!(o.counter, ActionCounter::Forwarded, "{op:?}");
            let want = vlan_edit(action, &eth_edit(action, &d.edit, &f));
            // The edits touch disjoint bytes: either order gives the frame.
            assert_eq!(want, eth_edit(action, &d.edit, &vlan_edit(action, &f)));
            assert_eq!(want[0..12], [EDIT.eth_dst, EDIT.eth_src].concat()[..]);
            assert_eq!(
                o.disposition,
                Disposition::Tx {
                    ports: 1,
                    bytes: want
                }
            );
            goes_to_the_host_as_it_came(&d, &f);
        }
    }

    fn vlan(op: VlanOp, ad: bool, tci: u16) -> u64 {
        ActionEntry {
            vlan: Some(op),
            vlan_8021ad: ad,
            vlan_tci: tci,
            ..output(1)
        }
        .encode()
    }

    /// A frame of `len` bytes 0, 1, 2, ... with `tpid` at byte 12.
    fn frame(len: usize, tpid: u16) -> Vec<u8> {
        let mut f: Vec<u8> = (0..len as u8).collect();
        if len >= 14 {
            f[12..14].copy_from_slice(&tpid.to_be_bytes());
        }
        f
    }

    #[test]
    fn push_inserts_a_tag_after_the_macs_outside_any_tag() {
        let f = frame(20, TPID_8021Q);
        let mut want = f.clone();
        want.splice(12..12, [0x81, 0x00, 0xe0, 0x0a]);
        assert_eq!(vlan_edit(vlan(VlanOp::Push, false, 0xe00a), &f), want);
        let mut want = f.clone();
        want.splice(12..12, [0x88, 0xa8, 0x10, 0x01]);
        // The TCI goes out as written, its 0x1000 bit (DEI) included.
        assert_eq!(vlan_edit(vlan(VlanOp::Push, true, 0x1001), &f), want);
        // Shorter than the MAC addresses: the tag goes at the end.
        let f = frame(7, 0);
        let mut want = f.clone();
        want.extend([0x81, 0x00, 0x00, 0x05]);
        assert_eq!(vlan_edit(vlan(VlanOp::Push, false, 5), &f), want);
        assert_eq!(
            vlan_edit(vlan(VlanOp::Push, false, 5), &[]),
            [0x81, 0, 0, 5]
        );
    }

    #[test]
    fn pop_and_set_tci_edit_only_a_tagged_frame() {
        for tpid in [TPID_8021Q, TPID_8021AD] {
            let f = frame(18, tpid);
            let mut want = f.clone();
            want.drain(12..16);
            assert_eq!(vlan_edit(vlan(VlanOp::Pop, false, 0), &f), want);
            let mut want = f.clone();
            want[14..16].copy_from_slice(&[0xab, 0xcd]);
            assert_eq!(vlan_edit(vlan(VlanOp::SetTci, true, 0xabcd), &f), want);
            // One byte short of a tagged Ethernet header: untouched.
            let f = frame(17, tpid);
            assert_eq!(vlan_edit(vlan(VlanOp::Pop, false, 0), &f), f);
            assert_eq!(vlan_edit(vlan(VlanOp::SetTci, false, 9), &f), f);
        }
        for tpid in [0x0800, 0x8101, 0x9100, 0x0081] {
            let f = frame(64, tpid);
            assert_eq!(vlan_edit(vlan(VlanOp::Pop, false, 0), &f), f);
            assert_eq!(vlan_edit(vlan(VlanOp::SetTci, false, 9), &f), f);
        }
        let f = frame(64, TPID_8021Q);
        assert_eq!(vlan_edit(vlan(VlanOp::None, true, 9), &f), f);
    }

    #[test]
    fn vlan_edits_are_forwarded_edited_and_only_when_output() {
        let f = frame(60, TPID_8021AD);
        for op in [VlanOp::Pop, VlanOp::Push, VlanOp::SetTci] {
            let action = vlan(op, true, 0x0123);
            let d = ActionDesc {
                result: hit(7),
                action,
                parse_meta: meta(None, 60),
                hash: 0,
                edit: [0; EDIT_WORDS],
            };
            let o = action_stage(&d, &f).unwrap();
            assert_eq!(o.counter, ActionCounter::Forwarded, "{op:?}");
            assert_eq!(
                o.disposition,
                Disposition::Tx {
                    ports: 1,
                    bytes: vlan_edit(action, &f)
                }
            );
            assert_ne!(vlan_edit(action, &f), f, "{op:?}");
            goes_to_the_host_as_it_came(&d, &f);
        }
    }

    #[test]
    fn miss_and_exception_go_to_the_host_exception_first() {
        let miss = LookupResult::MISS.encode().unwrap();
        let o = run(miss, output(1), None);
        assert_eq!(o.counter, ActionCounter::HostMiss);
        let m = host_meta(&o);
        assert_eq!(
            (m.reason, m.mark, m.exception),
            (HostRxReason::Miss, 0, None)
        );
        // Result kind 3 decodes to nothing: a miss, not a hit.
        assert_eq!(run(3, output(1), None).counter, ActionCounter::HostMiss);
        for r in [miss, hit(5)] {
            let o = run(r, output(1), Some(Exception::PastWindow));
            assert_eq!(o.counter, ActionCounter::HostException);
            let m = host_meta(&o);
            assert_eq!(m.reason, HostRxReason::Exception);
            assert_eq!((m.exception, m.mark), (Some(Exception::PastWindow), 0));
            assert_eq!(HostRxMeta::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn frame_length_saturates_and_bad_meta_is_refused() {
        let d = ActionDesc {
            result: 0,
            action: 0,
            parse_meta: meta(None, 70_000),
            hash: 0,
            edit: [0; EDIT_WORDS],
        };
        let o = action_stage(&d, &[]).unwrap();
        assert_eq!(host_meta_len(&o), u16::MAX);
        let d = ActionDesc {
            parse_meta: 31 << crate::parser::SB_MALFORMED.offset,
            ..d
        };
        assert!(action_stage(&d, &[]).is_err());
    }

    fn host_meta_len(o: &ActionOutcome) -> u16 {
        match &o.disposition {
            Disposition::Host { meta, .. } => meta.frame_len,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn counter_names_are_distinct_and_codes_dense() {
        for (i, c) in ActionCounter::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
            assert_eq!(
                ActionCounter::ALL
                    .iter()
                    .filter(|d| d.name() == c.name())
                    .count(),
                1
            );
        }
    }
}
