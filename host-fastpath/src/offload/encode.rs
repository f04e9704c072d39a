//! Datapath actions → the NIC's action word.
//!
//! The action stage applies one edit to a frame and sends the same frame out
//! of a set of MAC ports (abi::action). An action list that fits that shape
//! is offloaded fully — an Ethernet address rewrite with its values, which
//! the offload manager puts in an edit-table entry; anything else — a port the NIC does not carry, copies
//! that differ (an edit between two outputs), an edit the hardware does not
//! implement — becomes [`ActionEntry::TO_HOST`]: the NIC marks the frame with
//! its flow id and the host runs the actions (Open vSwitch's partial
//! offload). Never refused: the reason is returned, so it can be counted.

use crate::odp::{Header, OdpAction, SetField};
use abi::action::{ActionEntry, ActionKind, EditEntry, VlanOp, MAC_PORT_BASE, MAX_MAC_PORTS};

/// What a NIC's action stage executes itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwActionSet {
    /// MAC ports the NIC carries frames for: datapath ports
    /// `MAC_PORT_BASE..MAC_PORT_BASE + mac_ports`. 0 for a look-aside NIC,
    /// which never sees frames.
    pub mac_ports: u16,
    /// VLAN push and pop.
    pub vlan: bool,
    /// Entries of the edit table, whose Ethernet address rewrites the
    /// action stage makes (0: none, the rewrite is the host's).
    pub edit_entries: u16,
}

impl HwActionSet {
    /// A NIC that only looks keys up (no packet path): every entry is
    /// `TO_HOST`, and that is not a partial offload.
    pub const LOOK_ASIDE: HwActionSet = HwActionSet {
        mac_ports: 0,
        vlan: false,
        edit_entries: 0,
    };

    /// True when the NIC carries frames, so an action word decides what
    /// happens to them.
    pub fn has_packet_path(&self) -> bool {
        self.mac_ports > 0
    }
}

/// Why an action list is offloaded partially (the host runs it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartialReason {
    /// The NIC has no packet path.
    NoPacketPath,
    /// Output to a datapath port that is not one of the NIC's MAC ports.
    NotAMacPort(u32),
    /// Two copies to one port (a port bitmap sends one).
    RepeatedPort(u32),
    /// An edit after an output: the copies differ.
    EditBetweenOutputs,
    /// A VLAN edit this NIC does not implement (or two of them).
    Vlan,
    /// A header rewrite the NIC does not make: not an Ethernet address, a
    /// masked one, one after a VLAN push, or a NIC without an edit table.
    SetField,
    /// An Ethernet rewrite the NIC makes, but the edit table has no free
    /// entry for its values (chosen by the offload manager).
    EditTableFull,
    /// `trunc`.
    Trunc,
    /// A copy to the controller: only the host has the controller sink.
    Controller,
    /// A datapath `clone(...)` with more than outputs in it: the copy's
    /// edits would need a second action word.
    Clone,
    /// `check_pkt_len`: the NIC does not compare packet lengths.
    CheckPktLen,
}

/// Encodes `acts` for a NIC that executes `hw`: the action word to install,
/// the rewrite values its `AE_SET_*` bits take (the caller puts them in an
/// edit-table entry and sets `edit_index`), and why it is `TO_HOST` when
/// it is.
pub fn encode(
    acts: &[OdpAction],
    hw: &HwActionSet,
) -> (ActionEntry, Option<EditEntry>, Option<PartialReason>) {
    match encode_full(acts, hw) {
        Ok((e, edit)) => (e, edit, None),
        Err(why) => (ActionEntry::TO_HOST, None, Some(why)),
    }
}

/// Ethernet address bits of a set action's right-aligned value and mask.
const MAC_BITS: u128 = 0xffff_ffff_ffff;

fn mac(v: u128) -> [u8; 6] {
    let b = ((v & MAC_BITS) as u64).to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

fn has_userspace(a: &OdpAction) -> bool {
    match a {
        OdpAction::Userspace(_) => true,
        OdpAction::Clone(inner) => inner.iter().any(has_userspace),
        OdpAction::CheckPktLen { gt, le, .. } => gt.iter().chain(le).any(has_userspace),
        _ => false,
    }
}

fn encode_full(
    acts: &[OdpAction],
    hw: &HwActionSet,
) -> Result<(ActionEntry, Option<EditEntry>), PartialReason> {
    if !hw.has_packet_path() {
        return Err(PartialReason::NoPacketPath);
    }
    // Checked first: whatever else the list holds, the host must run it.
    if acts.iter().any(has_userspace) {
        return Err(PartialReason::Controller);
    }
    // A clone of outputs only is those outputs (the packet is unchanged).
    let flat: Vec<OdpAction>;
    let acts = if acts.iter().any(|a| matches!(a, OdpAction::Clone(_))) {
        let mut v = Vec::new();
        for a in acts {
            match a {
                OdpAction::Clone(inner)
                    if inner.iter().all(|i| matches!(i, OdpAction::Output(_))) =>
                {
                    v.extend(inner.iter().cloned())
                }
                OdpAction::Clone(_) => return Err(PartialReason::Clone),
                a => v.push(a.clone()),
            }
        }
        flat = v;
        &flat[..]
    } else {
        acts
    };
    let ports = (hw.mac_ports as usize).min(MAX_MAC_PORTS);
    let mut e = ActionEntry::default();
    let mut values: Option<EditEntry> = None;
    let mut out: u16 = 0;
    for a in acts {
        // A priority is metadata for queues, which no port has: no edit.
        let edit = !matches!(a, OdpAction::Output(_) | OdpAction::SetPriority(_));
        if edit && out != 0 {
            return Err(PartialReason::EditBetweenOutputs);
        }
        match *a {
            OdpAction::Output(p) => {
                let i = p
                    .checked_sub(MAC_PORT_BASE as u32)
                    .filter(|&i| (i as usize) < ports)
                    .ok_or(PartialReason::NotAMacPort(p))?;
                let bit = 1u16 << i;
                if out & bit != 0 {
                    return Err(PartialReason::RepeatedPort(p));
                }
                out |= bit;
            }
            OdpAction::PushVlan { tpid, tci } => {
                if !hw.vlan || e.vlan.is_some() {
                    return Err(PartialReason::Vlan);
                }
                e.vlan = Some(VlanOp::Push);
                e.vlan_8021ad = tpid == 0x88a8;
                e.vlan_tci = tci;
            }
            OdpAction::PopVlan => {
                if !hw.vlan || e.vlan.is_some() {
                    return Err(PartialReason::Vlan);
                }
                e.vlan = Some(VlanOp::Pop);
            }
            // The stage rewrites bytes 0..12 before it pushes a tag at 12:
            // a set after a push may find a frame under 12 bytes that the
            // push lengthened, and the host's order would write the tag.
            OdpAction::Set(ref set)
                if set.header == Header::Eth
                    && hw.edit_entries > 0
                    && e.vlan != Some(VlanOp::Push) =>
            {
                let v = values.get_or_insert_with(EditEntry::default);
                for &(f, value, mask) in &set.fields {
                    if mask & MAC_BITS != MAC_BITS {
                        return Err(PartialReason::SetField);
                    }
                    match f {
                        SetField::EthSrc => {
                            e.set.eth_src = true;
                            v.eth_src = mac(value);
                        }
                        SetField::EthDst => {
                            e.set.eth_dst = true;
                            v.eth_dst = mac(value);
                        }
                        _ => return Err(PartialReason::SetField),
                    }
                }
            }
            OdpAction::Set(_) => return Err(PartialReason::SetField),
            OdpAction::Trunc(_) => return Err(PartialReason::Trunc),
            OdpAction::Userspace(_) => return Err(PartialReason::Controller),
            OdpAction::Clone(_) => return Err(PartialReason::Clone),
            OdpAction::SetPriority(_) => {}
            OdpAction::CheckPktLen { .. } => return Err(PartialReason::CheckPktLen),
        }
    }
    e.kind = Some(if out == 0 {
        ActionKind::Drop
    } else {
        ActionKind::Output
    });
    e.out_ports = out;
    if out == 0 {
        // A drop edits nothing: no edit-table entry for it.
        e.set = Default::default();
        values = None;
    }
    Ok((e, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odp::{Header, SetAction, SetField};

    const NIC: HwActionSet = HwActionSet {
        mac_ports: 2,
        vlan: true,
        edit_entries: 16,
    };

    fn out(p: u32) -> OdpAction {
        OdpAction::Output(p)
    }

    #[test]
    fn outputs_to_mac_ports_become_a_bitmap() {
        let (e, _, why) = encode(&[out(2), out(1)], &NIC);
        assert_eq!(why, None);
        assert_eq!(e.kind, Some(ActionKind::Output));
        assert_eq!(e.out_ports, 0b11);
        let (e, _, _) = encode(&[out(MAC_PORT_BASE as u32)], &NIC);
        assert_eq!(
            e.out_ports, 0b01,
            "MAC port 0 is datapath port MAC_PORT_BASE"
        );
    }

    #[test]
    fn no_output_is_a_drop() {
        let (e, _, why) = encode(&[], &NIC);
        assert_eq!(
            (e.kind, e.out_ports, why),
            (Some(ActionKind::Drop), 0, None)
        );
        // A decoded word says the same (Drop encodes as 0).
        let w = ActionEntry::decode(e.encode()).unwrap();
        assert_eq!(w.kind, Some(ActionKind::Drop));
    }

    #[test]
    fn vlan_edits_before_outputs_are_offloaded() {
        let (e, _, why) = encode(
            &[
                OdpAction::PushVlan {
                    tpid: 0x88a8,
                    tci: 0x2005,
                },
                out(1),
            ],
            &NIC,
        );
        assert_eq!(why, None);
        assert_eq!(e.vlan, Some(VlanOp::Push));
        assert!(e.vlan_8021ad);
        assert_eq!(e.vlan_tci, 0x2005);
        let (e, _, _) = encode(&[OdpAction::PopVlan, out(2)], &NIC);
        assert_eq!((e.vlan, e.out_ports), (Some(VlanOp::Pop), 0b10));
    }

    #[test]
    fn what_the_nic_cannot_do_goes_to_the_host_with_its_reason() {
        let set = OdpAction::Set(SetAction {
            header: Header::Ipv4,
            fields: vec![(SetField::Ipv4Dst, 1, 0xffff_ffff)],
        });
        let masked = OdpAction::Set(SetAction {
            header: Header::Eth,
            fields: vec![(SetField::EthDst, 1, 0xffff_ffff_0000)],
        });
        let ctl = OdpAction::Userspace(crate::odp::ControllerAction {
            reason: 1,
            dont_send: false,
            continuation: false,
            recirc_id: 1,
            rule_cookie: 0,
            controller_id: 0,
            max_len: u16::MAX,
        });
        let cases: Vec<(Vec<OdpAction>, PartialReason)> = vec![
            (vec![out(3)], PartialReason::NotAMacPort(3)),
            (vec![out(0)], PartialReason::NotAMacPort(0)),
            (vec![out(1), out(1)], PartialReason::RepeatedPort(1)),
            (
                vec![out(1), OdpAction::PopVlan, out(2)],
                PartialReason::EditBetweenOutputs,
            ),
            (
                vec![OdpAction::PopVlan, OdpAction::PopVlan, out(1)],
                PartialReason::Vlan,
            ),
            (vec![set, out(1)], PartialReason::SetField),
            (vec![masked, out(1)], PartialReason::SetField),
            (
                vec![
                    OdpAction::PushVlan {
                        tpid: 0x8100,
                        tci: 5,
                    },
                    eth_set(SetField::EthSrc, 7),
                    out(1),
                ],
                PartialReason::SetField,
            ),
            (vec![OdpAction::Trunc(64), out(1)], PartialReason::Trunc),
            // Even after a port the NIC lacks: the controller copy decides.
            (vec![out(3), ctl.clone()], PartialReason::Controller),
            (
                vec![OdpAction::Clone(vec![ctl.clone()]), out(1)],
                PartialReason::Controller,
            ),
            (vec![ctl, out(1)], PartialReason::Controller),
            (
                vec![OdpAction::Clone(vec![OdpAction::Trunc(64), out(1)]), out(2)],
                PartialReason::Clone,
            ),
            (
                vec![OdpAction::Clone(vec![out(1)]), OdpAction::PopVlan, out(2)],
                PartialReason::EditBetweenOutputs,
            ),
        ];
        for (acts, want) in cases {
            let (e, _, why) = encode(&acts, &NIC);
            assert_eq!(why, Some(want), "{acts:?}");
            assert_eq!(e, ActionEntry::TO_HOST, "{acts:?}");
        }
        let no_edit = HwActionSet {
            edit_entries: 0,
            ..NIC
        };
        assert_eq!(
            encode(&[eth_set(SetField::EthDst, 1), out(1)], &no_edit).2,
            Some(PartialReason::SetField)
        );
        let no_vlan = HwActionSet { vlan: false, ..NIC };
        assert_eq!(
            encode(&[OdpAction::PopVlan, out(1)], &no_vlan).2,
            Some(PartialReason::Vlan)
        );
    }

    fn eth_set(f: SetField, v: u128) -> OdpAction {
        OdpAction::Set(SetAction {
            header: Header::Eth,
            fields: vec![(f, v, 0xffff_ffff_ffff)],
        })
    }

    #[test]
    fn ethernet_rewrites_are_offloaded_with_their_values() {
        let acts = [
            eth_set(SetField::EthSrc, 0x0200_0000_0001),
            OdpAction::PopVlan,
            eth_set(SetField::EthDst, 0x0200_0000_00ff),
            out(2),
        ];
        let (e, edit, why) = encode(&acts, &NIC);
        assert_eq!(why, None);
        assert!(e.set.eth_src && e.set.eth_dst && !e.set.ipv4_src);
        assert_eq!((e.vlan, e.out_ports), (Some(VlanOp::Pop), 0b10));
        let edit = edit.expect("rewrite values");
        assert_eq!(edit.eth_src, [2, 0, 0, 0, 0, 1]);
        assert_eq!(edit.eth_dst, [2, 0, 0, 0, 0, 0xff]);
        assert_eq!(edit.ipv4_src, [0; 4]);
        // The last write of a field wins, as the host's execute does.
        let acts = [
            eth_set(SetField::EthDst, 1),
            eth_set(SetField::EthDst, 2),
            out(1),
        ];
        let (e, edit, _) = encode(&acts, &NIC);
        assert!(e.set.eth_dst && !e.set.eth_src);
        assert_eq!(edit.map(|v| v.eth_dst), Some([0, 0, 0, 0, 0, 2]));
        // No output: a drop, with nothing to rewrite.
        let (e, edit, why) = encode(&[eth_set(SetField::EthDst, 1)], &NIC);
        assert_eq!(
            (e.kind, e.set, edit, why),
            (Some(ActionKind::Drop), Default::default(), None, None)
        );
    }

    #[test]
    fn a_clone_of_outputs_only_is_those_outputs() {
        let (e, _, why) = encode(&[OdpAction::Clone(vec![out(1)]), out(2)], &NIC);
        assert_eq!(why, None);
        assert_eq!(e.out_ports, 0b11);
    }

    #[test]
    fn a_look_aside_nic_gets_to_host_for_everything() {
        for acts in [vec![], vec![out(1)]] {
            assert_eq!(
                encode(&acts, &HwActionSet::LOOK_ASIDE),
                (
                    ActionEntry::TO_HOST,
                    None,
                    Some(PartialReason::NoPacketPath)
                )
            );
        }
    }
}
