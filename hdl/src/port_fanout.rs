//! The port fan-out: one AXI-Stream frame stream out of up to `P` MAC
//! ports at once, by a port bitmap.
//!
//! The action stage gives each frame a bitmap of MAC ports (`AE_OUT_PORTS`;
//! bit `i` = MAC port `i`), held for the whole frame. The fan-out presents
//! every beat on all selected ports together: the data bus is shared and
//! each port has its own `tvalid` / `tready`. A beat is taken from the
//! source once every selected port has taken it; a port that took it early
//! is marked done so its `tvalid` drops and it never sees the beat twice
//! (AXI-Stream lets `tvalid` fall only after a handshake, which this is).
//! A slow port therefore paces the frame's other ports: ports that must not
//! wait for each other need a frame buffer of their own in front of the
//! MAC, as a shell's TX FIFO is.
//!
//! A frame with no selected port (or only ports past `P`) is consumed at
//! full rate and counted in `drops_no_port`, never stuck.

use rust_hdl::prelude::*;

pub use crate::frame_buffer::COUNTER_BITS;

/// A fan-out of `D`-bit beats (`K = D / 8` keep bits) to `P` ports.
#[derive(LogicBlock)]
pub struct PortFanout<const D: usize, const K: usize, const P: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: forgets which ports took the current beat.
    pub reset: Signal<In, bool>,
    /// Frame in: data.
    pub s_tdata: Signal<In, Bits<D>>,
    /// Frame in: byte enables.
    pub s_tkeep: Signal<In, Bits<K>>,
    /// Frame in: last beat.
    pub s_tlast: Signal<In, bool>,
    /// Frame in: the ports to send to, stable for the whole frame.
    pub s_tdest: Signal<In, Bits<P>>,
    /// Frame in: valid.
    pub s_tvalid: Signal<In, bool>,
    /// Frame in: ready.
    pub s_tready: Signal<Out, bool>,
    /// Every port: data.
    pub m_tdata: Signal<Out, Bits<D>>,
    /// Every port: byte enables.
    pub m_tkeep: Signal<Out, Bits<K>>,
    /// Every port: last beat.
    pub m_tlast: Signal<Out, bool>,
    /// Per port: valid (bit `i` = port `i`).
    pub m_tvalid: Signal<Out, Bits<P>>,
    /// Per port: ready.
    pub m_tready: Signal<In, Bits<P>>,
    /// Frames consumed with no port selected.
    pub drops_no_port: Signal<Out, Bits<COUNTER_BITS>>,

    /// Ports that took the current beat already.
    done: DFF<Bits<P>>,
    n_drop: DFF<Bits<COUNTER_BITS>>,
    /// Ports that take the current beat this clock.
    acc: Signal<Local, Bits<P>>,
    /// Selected ports still to take the current beat after this clock.
    left: Signal<Local, Bits<P>>,
    /// Every selected port has the beat (before or this clock).
    all: Signal<Local, bool>,
}

/// The 64-bit fan-out to two MAC ports (the simulated NIC, OpenNIC's two CMACs).
pub type PortFanout64 = PortFanout<64, 8, 2>;

impl<const D: usize, const K: usize, const P: usize> Default for PortFanout<D, K, P> {
    fn default() -> Self {
        assert_eq!(D, 8 * K, "keep bits must be data bytes");
        assert!(
            (1..=abi::action::MAX_MAC_PORTS).contains(&P),
            "a fan-out serves 1..={} MAC ports",
            abi::action::MAX_MAC_PORTS
        );
        PortFanout {
            clock: Default::default(),
            reset: Default::default(),
            s_tdata: Default::default(),
            s_tkeep: Default::default(),
            s_tlast: Default::default(),
            s_tdest: Default::default(),
            s_tvalid: Default::default(),
            s_tready: Default::default(),
            m_tdata: Default::default(),
            m_tkeep: Default::default(),
            m_tlast: Default::default(),
            m_tvalid: Default::default(),
            m_tready: Default::default(),
            drops_no_port: Default::default(),
            done: Default::default(),
            n_drop: Default::default(),
            acc: Default::default(),
            left: Default::default(),
            all: Default::default(),
        }
    }
}

impl<const D: usize, const K: usize, const P: usize> Logic for PortFanout<D, K, P> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, done, n_drop);
        self.m_tdata.next = self.s_tdata.val();
        self.m_tkeep.next = self.s_tkeep.val();
        self.m_tlast.next = self.s_tlast.val();
        self.m_tvalid.next = 0.into();
        if self.s_tvalid.val() {
            self.m_tvalid.next = self.s_tdest.val() & !self.done.q.val();
        }
        self.acc.next = self.m_tvalid.val() & self.m_tready.val();
        self.left.next = self.s_tdest.val() & !(self.done.q.val() | self.acc.val());
        self.all.next = !self.left.val().any();
        self.s_tready.next = self.all.val();
        if self.s_tvalid.val() {
            if self.all.val() {
                self.done.d.next = 0.into();
                if self.s_tlast.val() & !self.s_tdest.val().any() {
                    self.n_drop.d.next = self.n_drop.q.val() + 1;
                }
            } else {
                self.done.d.next = self.done.q.val() | self.acc.val();
            }
        }
        self.drops_no_port.next = self.n_drop.q.val();
        if self.reset.val() {
            self.done.d.next = 0.into();
            self.n_drop.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simtools::{settle, tick};
    use crate::testrng::Rng;
    use std::collections::VecDeque;

    const P: usize = 3;
    type Fo = PortFanout<64, 8, P>;

    /// One frame: its port bitmap and `(data, keep, last)` beats.
    type Frame = (u64, Vec<(u64, u64, bool)>);

    fn traffic(rng: &mut Rng, n: u64) -> Vec<Frame> {
        (0..n)
            .map(|id| {
                let beats = 1 + rng.below(10) as usize;
                let dest = rng.below(1 << P);
                let b = (0..beats)
                    .map(|i| {
                        let last = i + 1 == beats;
                        let keep = if last {
                            (1u64 << (1 + rng.below(8))) - 1
                        } else {
                            0xff
                        };
                        (id << 16 | i as u64, keep, last)
                    })
                    .collect();
                (dest, b)
            })
            .collect()
    }

    /// What each port received, the drop counter and the clocks taken.
    type Got = ([Vec<Vec<(u64, u64, bool)>>; P], u64, u64);

    /// Feeds `frames`, offering a beat `offer` % of clocks, each port with
    /// its own random `tready`.
    fn run(frames: &[Frame], seed: u64, offer: u64, stall: [u64; P]) -> Got {
        let mut rng = Rng(seed);
        let mut uut = Fo::default();
        uut.connect_all();
        uut.reset.next = true;
        tick(&mut uut, |u| &mut u.clock);
        uut.reset.next = false;
        let mut beats: VecDeque<(u64, u64, u64, bool)> = frames
            .iter()
            .flat_map(|(d, b)| b.iter().map(move |&(x, k, l)| (*d, x, k, l)))
            .collect();
        let mut got: [Vec<Vec<(u64, u64, bool)>>; P] = Default::default();
        let mut cur: [Vec<(u64, u64, bool)>; P] = Default::default();
        let mut offering = false;
        let mut was_valid = 0u64;
        let mut clocks = 0;
        for _ in 0..100_000 {
            clocks += 1;
            offering = !beats.is_empty() && (offering || rng.chance(offer));
            let h = beats.front().copied().unwrap_or_default();
            uut.s_tvalid.next = offering;
            uut.s_tdest.next = h.0.into();
            uut.s_tdata.next = h.1.into();
            uut.s_tkeep.next = h.2.into();
            uut.s_tlast.next = h.3;
            let mut ready = 0u64;
            for (i, s) in stall.iter().enumerate() {
                ready |= (!rng.chance(*s) as u64) << i;
            }
            uut.m_tready.next = ready.into();
            settle(&mut uut);
            let valid = uut.m_tvalid.val().to_u64();
            // A port offered the beat and not served keeps seeing it.
            assert_eq!(was_valid & !valid, 0, "tvalid fell before its handshake");
            let acc = valid & ready;
            let took = offering && uut.s_tready.val();
            was_valid = if took { 0 } else { valid & !acc };
            let beat = (
                uut.m_tdata.val().to_u64(),
                uut.m_tkeep.val().to_u64(),
                uut.m_tlast.val(),
            );
            tick(&mut uut, |u| &mut u.clock);
            for p in 0..P {
                if acc >> p & 1 == 1 {
                    cur[p].push(beat);
                    if beat.2 {
                        got[p].push(std::mem::take(&mut cur[p]));
                    }
                }
            }
            if took {
                beats.pop_front();
                offering = false;
            }
            if beats.is_empty() {
                break;
            }
        }
        assert!(beats.is_empty(), "the fan-out stalled");
        (got, uut.drops_no_port.val().to_u64(), clocks)
    }

    #[test]
    fn every_selected_port_gets_each_frame_once_in_order() {
        let mut rng = Rng(21);
        let frames = traffic(&mut rng, 300);
        let (got, drops, _) = run(&frames, 22, 70, [30, 50, 10]);
        for (p, g) in got.iter().enumerate() {
            let want: Vec<_> = (frames.iter())
                .filter(|(d, _)| d >> p & 1 == 1)
                .map(|(_, b)| b.clone())
                .collect();
            assert_eq!(g, &want, "port {p}");
        }
        let none = frames.iter().filter(|(d, _)| *d == 0).count() as u64;
        assert!(none > 0, "the traffic must hold frames for no port");
        assert_eq!(drops, none);
    }

    #[test]
    fn one_beat_per_clock_when_every_port_is_ready() {
        let mut rng = Rng(23);
        let frames = traffic(&mut rng, 100);
        let (got, _, clocks) = run(&frames, 24, 100, [0; P]);
        let beats: usize = frames.iter().map(|(_, b)| b.len()).sum();
        assert_eq!(
            clocks as usize, beats,
            "a beat every clock, multicast or not"
        );
        let sent: usize = got.iter().map(|g| g.len()).sum();
        let want: u32 = frames.iter().map(|(d, _)| (*d as u32).count_ones()).sum();
        assert_eq!(sent, want as usize);
    }
}
