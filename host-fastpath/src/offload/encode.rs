//! Datapath actions → the NIC's action word.
//!
//! The action stage applies one edit to a frame and sends the same frame out
//! of a set of MAC ports (abi::action). An action list that fits that shape
//! is offloaded fully; anything else — a port the NIC does not carry, copies
//! that differ (an edit between two outputs), an edit the hardware does not
//! implement — becomes [`ActionEntry::TO_HOST`]: the NIC marks the frame with
//! its flow id and the host runs the actions (Open vSwitch's partial
//! offload). Never refused: the reason is returned, so it can be counted.

use crate::odp::OdpAction;
use abi::action::{ActionEntry, ActionKind, VlanOp, MAC_PORT_BASE, MAX_MAC_PORTS};

/// What a NIC's action stage executes itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwActionSet {
    /// MAC ports the NIC carries frames for: datapath ports
    /// `MAC_PORT_BASE..MAC_PORT_BASE + mac_ports`. 0 for a look-aside NIC,
    /// which never sees frames.
    pub mac_ports: u16,
    /// VLAN push and pop.
    pub vlan: bool,
}

impl HwActionSet {
    /// A NIC that only looks keys up (no packet path): every entry is
    /// `TO_HOST`, and that is not a partial offload.
    pub const LOOK_ASIDE: HwActionSet = HwActionSet {
        mac_ports: 0,
        vlan: false,
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
    /// A header rewrite (the edit table is not programmed yet).
    SetField,
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
/// and why it is `TO_HOST` when it is.
pub fn encode(acts: &[OdpAction], hw: &HwActionSet) -> (ActionEntry, Option<PartialReason>) {
    match encode_full(acts, hw) {
        Ok(e) => (e, None),
        Err(why) => (ActionEntry::TO_HOST, Some(why)),
    }
}

fn has_userspace(a: &OdpAction) -> bool {
    match a {
        OdpAction::Userspace(_) => true,
        OdpAction::Clone(inner) => inner.iter().any(has_userspace),
        OdpAction::CheckPktLen { gt, le, .. } => gt.iter().chain(le).any(has_userspace),
        _ => false,
    }
}

fn encode_full(acts: &[OdpAction], hw: &HwActionSet) -> Result<ActionEntry, PartialReason> {
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
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odp::{Header, SetAction, SetField};

    const NIC: HwActionSet = HwActionSet {
        mac_ports: 2,
        vlan: true,
    };

    fn out(p: u32) -> OdpAction {
        OdpAction::Output(p)
    }

    #[test]
    fn outputs_to_mac_ports_become_a_bitmap() {
        let (e, why) = encode(&[out(2), out(1)], &NIC);
        assert_eq!(why, None);
        assert_eq!(e.kind, Some(ActionKind::Output));
        assert_eq!(e.out_ports, 0b11);
        let (e, _) = encode(&[out(MAC_PORT_BASE as u32)], &NIC);
        assert_eq!(
            e.out_ports, 0b01,
            "MAC port 0 is datapath port MAC_PORT_BASE"
        );
    }

    #[test]
    fn no_output_is_a_drop() {
        let (e, why) = encode(&[], &NIC);
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
        let (e, why) = encode(
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
        let (e, _) = encode(&[OdpAction::PopVlan, out(2)], &NIC);
        assert_eq!((e.vlan, e.out_ports), (Some(VlanOp::Pop), 0b10));
    }

    #[test]
    fn what_the_nic_cannot_do_goes_to_the_host_with_its_reason() {
        let set = OdpAction::Set(SetAction {
            header: Header::Eth,
            fields: vec![(SetField::EthDst, 1, u128::MAX)],
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
            let (e, why) = encode(&acts, &NIC);
            assert_eq!(why, Some(want), "{acts:?}");
            assert_eq!(e, ActionEntry::TO_HOST, "{acts:?}");
        }
        let no_vlan = HwActionSet { vlan: false, ..NIC };
        assert_eq!(
            encode(&[OdpAction::PopVlan, out(1)], &no_vlan).1,
            Some(PartialReason::Vlan)
        );
    }

    #[test]
    fn a_clone_of_outputs_only_is_those_outputs() {
        let (e, why) = encode(&[OdpAction::Clone(vec![out(1)]), out(2)], &NIC);
        assert_eq!(why, None);
        assert_eq!(e.out_ports, 0b11);
    }

    #[test]
    fn a_look_aside_nic_gets_to_host_for_everything() {
        for acts in [vec![], vec![out(1)]] {
            assert_eq!(
                encode(&acts, &HwActionSet::LOOK_ASIDE),
                (ActionEntry::TO_HOST, Some(PartialReason::NoPacketPath))
            );
        }
    }
}
