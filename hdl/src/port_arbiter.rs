//! The port arbiter: two AXI-Stream frame sources into one, a whole frame
//! at a time, round robin.
//!
//! The pipeline takes one frame stream; the MAC ports and the host TX queue
//! (frames the host injects) each give one. A tree of these arbiters merges
//! them: `P` sources take `P - 1` arbiters, and with `P` a power of two
//! every source gets an equal share of a saturated pipeline.
//!
//! A grant lasts from a frame's first beat to its last, so frames never
//! interleave. The choice is locked as soon as `m_tvalid` is raised: AXI-
//! Stream forbids changing the offered beat before its handshake, so a
//! source that becomes valid while the other waits does not take over.
//! Beats pass combinationally (no added latency); `tuser` (the in port)
//! travels with them. Lossless: a source not granted sees `tready` low.

use rust_hdl::prelude::*;

pub use crate::frame_buffer::COUNTER_BITS;

/// A two-source arbiter for `D`-bit beats with `K = D / 8` keep bits.
#[derive(LogicBlock)]
pub struct PortArbiter<const D: usize, const K: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: drops a grant in progress.
    pub reset: Signal<In, bool>,
    /// Source A: data.
    pub a_tdata: Signal<In, Bits<D>>,
    /// Source A: byte enables.
    pub a_tkeep: Signal<In, Bits<K>>,
    /// Source A: last beat.
    pub a_tlast: Signal<In, bool>,
    /// Source A: in port.
    pub a_tuser: Signal<In, Bits<16>>,
    /// Source A: valid.
    pub a_tvalid: Signal<In, bool>,
    /// Source A: ready.
    pub a_tready: Signal<Out, bool>,
    /// Source B: data.
    pub b_tdata: Signal<In, Bits<D>>,
    /// Source B: byte enables.
    pub b_tkeep: Signal<In, Bits<K>>,
    /// Source B: last beat.
    pub b_tlast: Signal<In, bool>,
    /// Source B: in port.
    pub b_tuser: Signal<In, Bits<16>>,
    /// Source B: valid.
    pub b_tvalid: Signal<In, bool>,
    /// Source B: ready.
    pub b_tready: Signal<Out, bool>,
    /// Merged: data.
    pub m_tdata: Signal<Out, Bits<D>>,
    /// Merged: byte enables.
    pub m_tkeep: Signal<Out, Bits<K>>,
    /// Merged: last beat.
    pub m_tlast: Signal<Out, bool>,
    /// Merged: in port.
    pub m_tuser: Signal<Out, Bits<16>>,
    /// Merged: valid.
    pub m_tvalid: Signal<Out, bool>,
    /// Merged: ready.
    pub m_tready: Signal<In, bool>,
    /// Frames passed from source A.
    pub frames_a: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frames passed from source B.
    pub frames_b: Signal<Out, Bits<COUNTER_BITS>>,

    /// A grant holds (a frame started, or a beat offered and not taken).
    busy: DFF<bool>,
    /// The granted source while `busy`: false = A, true = B.
    owner: DFF<bool>,
    /// The source of the last frame finished, for round robin.
    last: DFF<bool>,
    n_a: DFF<Bits<COUNTER_BITS>>,
    n_b: DFF<Bits<COUNTER_BITS>>,
    /// The source selected this clock.
    sel: Signal<Local, bool>,
    beat: Signal<Local, bool>,
}

/// The 64-bit arbiter.
pub type PortArbiter64 = PortArbiter<64, 8>;

impl<const D: usize, const K: usize> Default for PortArbiter<D, K> {
    fn default() -> Self {
        assert_eq!(D, 8 * K, "keep bits must be data bytes");
        PortArbiter {
            clock: Default::default(),
            reset: Default::default(),
            a_tdata: Default::default(),
            a_tkeep: Default::default(),
            a_tlast: Default::default(),
            a_tuser: Default::default(),
            a_tvalid: Default::default(),
            a_tready: Default::default(),
            b_tdata: Default::default(),
            b_tkeep: Default::default(),
            b_tlast: Default::default(),
            b_tuser: Default::default(),
            b_tvalid: Default::default(),
            b_tready: Default::default(),
            m_tdata: Default::default(),
            m_tkeep: Default::default(),
            m_tlast: Default::default(),
            m_tuser: Default::default(),
            m_tvalid: Default::default(),
            m_tready: Default::default(),
            frames_a: Default::default(),
            frames_b: Default::default(),
            busy: Default::default(),
            owner: Default::default(),
            last: Default::default(),
            n_a: Default::default(),
            n_b: Default::default(),
            sel: Default::default(),
            beat: Default::default(),
        }
    }
}

impl<const D: usize, const K: usize> Logic for PortArbiter<D, K> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, busy, owner, last, n_a, n_b);
        // Held grant first; else whichever is valid, B when both are and A
        // went last (and A when both are and B went last).
        self.sel.next = self.owner.q.val();
        if !self.busy.q.val() {
            self.sel.next = self.b_tvalid.val() & (!self.a_tvalid.val() | !self.last.q.val());
        }
        self.m_tdata.next = self.a_tdata.val();
        self.m_tkeep.next = self.a_tkeep.val();
        self.m_tlast.next = self.a_tlast.val();
        self.m_tuser.next = self.a_tuser.val();
        self.m_tvalid.next = self.a_tvalid.val();
        if self.sel.val() {
            self.m_tdata.next = self.b_tdata.val();
            self.m_tkeep.next = self.b_tkeep.val();
            self.m_tlast.next = self.b_tlast.val();
            self.m_tuser.next = self.b_tuser.val();
            self.m_tvalid.next = self.b_tvalid.val();
        }
        self.a_tready.next = self.m_tready.val() & !self.sel.val();
        self.b_tready.next = self.m_tready.val() & self.sel.val();
        self.beat.next = self.m_tvalid.val() & self.m_tready.val();
        // Lock the grant the moment a beat is offered; release it after the
        // last beat's handshake.
        if self.m_tvalid.val() {
            self.busy.d.next = true;
            self.owner.d.next = self.sel.val();
        }
        if self.beat.val() & self.m_tlast.val() {
            self.busy.d.next = false;
            self.last.d.next = self.sel.val();
            if self.sel.val() {
                self.n_b.d.next = self.n_b.q.val() + 1;
            } else {
                self.n_a.d.next = self.n_a.q.val() + 1;
            }
        }
        self.frames_a.next = self.n_a.q.val();
        self.frames_b.next = self.n_b.q.val();
        if self.reset.val() {
            self.busy.d.next = false;
            self.owner.d.next = false;
            self.last.d.next = false;
            self.n_a.d.next = 0.into();
            self.n_b.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simtools::{settle, tick};
    use crate::testrng::Rng;
    use std::collections::VecDeque;

    /// `(data, keep, last)` beats of one frame; data carries source and frame number.
    type Frame = Vec<(u64, u64, bool)>;

    fn frames(rng: &mut Rng, src: u64, n: u64) -> Vec<Frame> {
        (0..n)
            .map(|id| {
                let beats = 1 + rng.below(12) as usize;
                (0..beats)
                    .map(|b| {
                        let last = b + 1 == beats;
                        let keep = if last {
                            (1u64 << (1 + rng.below(8))) - 1
                        } else {
                            0xff
                        };
                        (src << 48 | id << 16 | b as u64, keep, last)
                    })
                    .collect()
            })
            .collect()
    }

    /// A source that offers its beats with random gaps and, as AXI-Stream
    /// requires, keeps an offered beat until it is taken.
    struct Source {
        beats: VecDeque<(u64, u64, bool)>,
        offering: bool,
        port: u64,
    }

    impl Source {
        fn new(f: &[Frame], port: u64) -> Self {
            Source {
                beats: f.iter().flatten().copied().collect(),
                offering: false,
                port,
            }
        }
        fn offer(&mut self, rng: &mut Rng, pct: u64) -> (bool, (u64, u64, bool)) {
            self.offering = !self.beats.is_empty() && (self.offering || rng.chance(pct));
            (
                self.offering,
                self.beats.front().copied().unwrap_or_default(),
            )
        }
        fn took(&mut self) {
            self.beats.pop_front();
            self.offering = false;
        }
    }

    /// Runs both sources into the arbiter (offering `pa` / `pb` % of clocks,
    /// the output stalled `stall` %), checking the AXI-Stream rules on the
    /// way; returns the frames out with their `tuser`, and the clocks taken.
    fn run(
        fa: &[Frame],
        fb: &[Frame],
        seed: u64,
        pa: u64,
        pb: u64,
        stall: u64,
    ) -> (Vec<(u64, Frame)>, u64) {
        let mut rng = Rng(seed);
        let mut uut = PortArbiter64::default();
        uut.connect_all();
        uut.reset.next = true;
        tick(&mut uut, |u| &mut u.clock);
        uut.reset.next = false;
        let (mut a, mut b) = (Source::new(fa, 7), Source::new(fb, 9));
        let mut out = Vec::new();
        let mut cur: Frame = Vec::new();
        let mut held: Option<(u64, u64, bool, u64)> = None;
        let mut clocks = 0;
        for _ in 0..100_000 {
            clocks += 1;
            let (va, ba) = a.offer(&mut rng, pa);
            let (vb, bb) = b.offer(&mut rng, pb);
            uut.a_tvalid.next = va;
            uut.a_tdata.next = ba.0.into();
            uut.a_tkeep.next = ba.1.into();
            uut.a_tlast.next = ba.2;
            uut.a_tuser.next = a.port.into();
            uut.b_tvalid.next = vb;
            uut.b_tdata.next = bb.0.into();
            uut.b_tkeep.next = bb.1.into();
            uut.b_tlast.next = bb.2;
            uut.b_tuser.next = b.port.into();
            uut.m_tready.next = !rng.chance(stall);
            settle(&mut uut);
            let m = (
                uut.m_tdata.val().to_u64(),
                uut.m_tkeep.val().to_u64(),
                uut.m_tlast.val(),
                uut.m_tuser.val().to_u64(),
            );
            if let Some(h) = held {
                assert!(uut.m_tvalid.val(), "offered beat {h:x?} withdrawn");
                assert_eq!(m, h, "offered beat changed before its handshake");
            }
            let took_a = va && uut.a_tready.val();
            let took_b = vb && uut.b_tready.val();
            assert!(!(took_a && took_b), "both sources taken in one clock");
            let beat = uut.m_tvalid.val() && uut.m_tready.val();
            assert_eq!(beat, took_a || took_b, "a beat out is a beat taken");
            held = (uut.m_tvalid.val() && !beat).then_some(m);
            tick(&mut uut, |u| &mut u.clock);
            if took_a {
                a.took();
            }
            if took_b {
                b.took();
            }
            if beat {
                cur.push((m.0, m.1, m.2));
                if m.2 {
                    out.push((m.3, std::mem::take(&mut cur)));
                }
            }
            if a.beats.is_empty() && b.beats.is_empty() {
                break;
            }
        }
        assert!(cur.is_empty(), "a frame was left half out");
        assert_eq!(
            (uut.frames_a.val().to_u64(), uut.frames_b.val().to_u64()),
            (fa.len() as u64, fb.len() as u64)
        );
        (out, clocks)
    }

    /// Every frame of each source comes out whole, in its source's order,
    /// with its source's `tuser`, never interleaved with another.
    fn check(out: &[(u64, Frame)], fa: &[Frame], fb: &[Frame]) {
        let from = |port| {
            out.iter()
                .filter(move |(p, _)| *p == port)
                .map(|(_, f)| f.clone())
        };
        assert_eq!(from(7).collect::<Vec<_>>(), fa);
        assert_eq!(from(9).collect::<Vec<_>>(), fb);
        assert_eq!(out.len(), fa.len() + fb.len());
        for (p, f) in out {
            let src = if *p == 7 { 0 } else { 1 };
            assert!(f.iter().all(|b| b.0 >> 48 == src), "frame interleaved");
        }
    }

    #[test]
    fn frames_pass_whole_in_order_under_backpressure() {
        let mut rng = Rng(11);
        let (fa, fb) = (frames(&mut rng, 0, 200), frames(&mut rng, 1, 200));
        let (out, _) = run(&fa, &fb, 12, 60, 60, 40);
        check(&out, &fa, &fb);
    }

    #[test]
    fn one_idle_source_leaves_the_other_full_rate() {
        let mut rng = Rng(13);
        let fa = frames(&mut rng, 0, 100);
        let (out, clocks) = run(&fa, &[], 14, 100, 0, 0);
        check(&out, &fa, &[]);
        let beats: usize = fa.iter().map(|f| f.len()).sum();
        assert_eq!(clocks as usize, beats, "a beat every clock");
    }

    #[test]
    fn saturated_sources_alternate_frame_by_frame() {
        let mut rng = Rng(15);
        let (fa, fb) = (frames(&mut rng, 0, 50), frames(&mut rng, 1, 50));
        let (out, clocks) = run(&fa, &fb, 16, 100, 100, 0);
        let beats: usize = fa.iter().chain(&fb).map(|f| f.len()).sum();
        assert_eq!(clocks as usize, beats, "no idle clock between frames");
        check(&out, &fa, &fb);
        let ports: Vec<u64> = out.iter().map(|(p, _)| *p).collect();
        assert!(
            ports.windows(2).all(|w| w[0] != w[1]),
            "round robin must alternate when both always offer: {ports:?}"
        );
    }
}
