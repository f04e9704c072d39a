//! The frame buffer: holds each frame while its parse and lookup run and
//! joins the lookup's result back to its frame, in order.
//!
//! Frames enter on `s_*` (AXI-Stream from a MAC port) and leave twice: every
//! beat goes on at once to the parser on `p_*`, and into the data FIFO. The
//! lookup's result for each frame arrives later on `r_*`, one per admitted
//! frame and in frame order (the parser and the lookup pipeline never
//! reorder). The output `m_*` starts a frame only when its result is there,
//! and holds `m_result` for the whole frame.
//!
//! Admission, at a frame's first beat, needs room for a frame of
//! `max_words` beats in the data FIFO and a free result slot (`inflight` <
//! result depth), so neither FIFO can overflow and no result ever waits for
//! room. Without room:
//! - `lossless` (a MAC side with `tready`): `s_tready` stays low until there
//!   is room: backpressure end to end.
//! - otherwise (OpenNIC's CMAC RX has no `tready`): the whole frame is
//!   dropped and counted in `drops_full`; `s_tready` is always high.
//!
//! A frame longer than `max_words` beats still goes whole to the parser
//! (its result keeps the order), but only its first `max_words - 1` beats
//! and its last are stored; at the output it is drained, not sent, and
//! counted in `drops_oversize`. A frame is never cut silently.
//!
//! The parser side must not stall while lossy: the parser stalls only when
//! its result is refused, and the lookup after it takes one key per clock.

use crate::bram::ADDR_BITS;
use crate::fifo::Fifo;
use rust_hdl::prelude::*;

/// Width of the frame counters (wrapping; the host reads deltas).
pub const COUNTER_BITS: usize = 32;

/// A frame buffer for `D`-bit beats with `K = D / 8` keep bits, stored as
/// `W = D + K + 1`-bit words (data, keep, last: one RAM, not three), and an
/// `R`-bit lookup result.
#[derive(LogicBlock)]
pub struct FrameBuffer<const D: usize, const K: usize, const W: usize, const R: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: empties the buffer and the counters.
    pub reset: Signal<In, bool>,
    /// Frame in: data.
    pub s_tdata: Signal<In, Bits<D>>,
    /// Frame in: byte enables.
    pub s_tkeep: Signal<In, Bits<K>>,
    /// Frame in: last beat.
    pub s_tlast: Signal<In, bool>,
    /// Frame in: in port.
    pub s_tuser: Signal<In, Bits<16>>,
    /// Frame in: beat valid.
    pub s_tvalid: Signal<In, bool>,
    /// Frame in: ready (always high when lossy).
    pub s_tready: Signal<Out, bool>,
    /// To the parser: the same beats.
    pub p_tdata: Signal<Out, Bits<D>>,
    /// To the parser: byte enables.
    pub p_tkeep: Signal<Out, Bits<K>>,
    /// To the parser: last beat.
    pub p_tlast: Signal<Out, bool>,
    /// To the parser: in port.
    pub p_tuser: Signal<Out, Bits<16>>,
    /// To the parser: beat valid.
    pub p_tvalid: Signal<Out, bool>,
    /// The parser takes the beat.
    pub p_tready: Signal<In, bool>,
    /// A lookup result, for the oldest frame without one.
    pub r_valid: Signal<In, bool>,
    /// The result word (opaque here: the action stage reads it).
    pub r_data: Signal<In, Bits<R>>,
    /// Frame out: data.
    pub m_tdata: Signal<Out, Bits<D>>,
    /// Frame out: byte enables.
    pub m_tkeep: Signal<Out, Bits<K>>,
    /// Frame out: last beat.
    pub m_tlast: Signal<Out, bool>,
    /// Frame out: beat valid.
    pub m_tvalid: Signal<Out, bool>,
    /// Frame out: ready.
    pub m_tready: Signal<In, bool>,
    /// The result of the frame on `m_*`, stable from its first beat to its last.
    pub m_result: Signal<Out, Bits<R>>,
    /// Frames admitted.
    pub frames_in: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frames sent on `m_*`.
    pub frames_out: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frames dropped at admission for lack of room (lossy only).
    pub drops_full: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frames longer than `max_words` beats, drained at the output.
    pub drops_oversize: Signal<Out, Bits<COUNTER_BITS>>,

    data: Fifo<Bits<W>>,
    sh_keep: Constant<Bits<16>>,
    sh_last: Constant<Bits<16>>,
    last_bit: Constant<Bits<W>>,
    word: Signal<Local, Bits<W>>,
    results: Fifo<Bits<R>>,
    cuts: Fifo<bool>,
    lossless: Constant<bool>,
    max_words: Constant<Bits<ADDR_BITS>>,
    /// `max_words - 1`: beats of an over-long frame stored before its last.
    keep_words: Constant<Bits<ADDR_BITS>>,
    result_depth: Constant<Bits<ADDR_BITS>>,
    // Input side.
    in_frame: DFF<bool>,
    dropping: DFF<bool>,
    words: DFF<Bits<ADDR_BITS>>,
    cut: DFF<bool>,
    inflight: DFF<Bits<ADDR_BITS>>,
    n_in: DFF<Bits<COUNTER_BITS>>,
    n_full: DFF<Bits<COUNTER_BITS>>,
    // Output side.
    out_active: DFF<bool>,
    out_cut: DFF<bool>,
    out_result: DFF<Bits<R>>,
    n_out: DFF<Bits<COUNTER_BITS>>,
    n_oversize: DFF<Bits<COUNTER_BITS>>,
    room: Signal<Local, bool>,
    admit: Signal<Local, bool>,
    take: Signal<Local, bool>,
    store: Signal<Local, bool>,
    start: Signal<Local, bool>,
    beat_out: Signal<Local, bool>,
}

/// The 64-bit buffer with a 64-bit result word (the parser's sideband width).
pub type FrameBuffer64 = FrameBuffer<64, 8, 73, 64>;

impl<const D: usize, const K: usize, const W: usize, const R: usize> FrameBuffer<D, K, W, R> {
    /// Sized for the port model: frames up to [`abi::action::MAX_PORT_FRAME`]
    /// bytes, a buffer of twice that (so one frame drains while the next
    /// enters), and 32 frames in flight (more than the parse and lookup
    /// latency holds of minimum-size frames).
    pub fn for_ports() -> Self {
        let max_words = abi::action::MAX_PORT_FRAME.div_ceil(K);
        let log2_words = (2 * max_words).next_power_of_two().trailing_zeros() as u8;
        Self::new(log2_words, max_words, 5, true)
    }

    /// A buffer of `2^log2_words` beats for frames of up to `max_words`
    /// beats, and `2^log2_frames` frames in flight; `lossless` selects
    /// backpressure over counted drops when full.
    pub fn new(log2_words: u8, max_words: usize, log2_frames: u8, lossless: bool) -> Self {
        assert_eq!(D, 8 * K, "keep bits must be data bytes");
        assert_eq!(W, D + K + 1, "a stored word is data, keep and last");
        let c16 = |v: usize| Constant::new((v as u64).into());
        assert!(
            (2..=1usize << log2_words).contains(&max_words),
            "a frame of {max_words} beats must fit a buffer of {} beats",
            1usize << log2_words
        );
        let c = |v: usize| Constant::new((v as u64).into());
        FrameBuffer {
            clock: Default::default(),
            reset: Default::default(),
            s_tdata: Default::default(),
            s_tkeep: Default::default(),
            s_tlast: Default::default(),
            s_tuser: Default::default(),
            s_tvalid: Default::default(),
            s_tready: Default::default(),
            p_tdata: Default::default(),
            p_tkeep: Default::default(),
            p_tlast: Default::default(),
            p_tuser: Default::default(),
            p_tvalid: Default::default(),
            p_tready: Default::default(),
            r_valid: Default::default(),
            r_data: Default::default(),
            m_tdata: Default::default(),
            m_tkeep: Default::default(),
            m_tlast: Default::default(),
            m_tvalid: Default::default(),
            m_tready: Default::default(),
            m_result: Default::default(),
            frames_in: Default::default(),
            frames_out: Default::default(),
            drops_full: Default::default(),
            drops_oversize: Default::default(),
            data: Fifo::new(log2_words),
            sh_keep: c16(D),
            sh_last: c16(D + K),
            last_bit: Constant::new(Bits::<W>::default().replace_bit(D + K, true)),
            word: Default::default(),
            results: Fifo::new(log2_frames),
            cuts: Fifo::new(log2_frames),
            lossless: Constant::new(lossless),
            max_words: c(max_words),
            keep_words: c(max_words - 1),
            result_depth: c(1 << log2_frames),
            in_frame: Default::default(),
            dropping: Default::default(),
            words: Default::default(),
            cut: Default::default(),
            inflight: Default::default(),
            n_in: Default::default(),
            n_full: Default::default(),
            out_active: Default::default(),
            out_cut: Default::default(),
            out_result: Default::default(),
            n_out: Default::default(),
            n_oversize: Default::default(),
            room: Default::default(),
            admit: Default::default(),
            take: Default::default(),
            store: Default::default(),
            start: Default::default(),
            beat_out: Default::default(),
        }
    }
}

impl<const D: usize, const K: usize, const W: usize, const R: usize> Logic
    for FrameBuffer<D, K, W, R>
{
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, in_frame, dropping, words, cut, inflight, n_in, n_full, out_active,
            out_cut, out_result, n_out, n_oversize
        );
        self.data.clock.next = self.clock.val();
        self.results.clock.next = self.clock.val();
        self.cuts.clock.next = self.clock.val();
        self.data.reset.next = self.reset.val();
        self.results.reset.next = self.reset.val();
        self.cuts.reset.next = self.reset.val();

        // Input. Room for one more whole frame: data words and a result slot.
        // The parser must be ready too, so a lossy drop is decided before
        // the parser has seen any beat of the frame.
        self.room.next = (self.data.room.val() >= self.max_words.val())
            & (self.inflight.q.val() != self.result_depth.val())
            & self.p_tready.val();
        // Lossless: the first beat waits for room; later beats for the parser.
        self.s_tready.next = true;
        if self.lossless.val() {
            if self.in_frame.q.val() {
                self.s_tready.next = self.p_tready.val();
            } else {
                self.s_tready.next = self.room.val();
            }
        }
        // A beat taken from the MAC side this clock.
        self.take.next = self.s_tvalid.val() & self.s_tready.val();
        // A first beat that enters (the rest of its frame follows it).
        self.admit.next = self.take.val() & !self.in_frame.q.val() & self.room.val();
        // Beats of an admitted frame go to the parser and, but for the cut
        // middle of an over-long frame, into the FIFO.
        self.p_tvalid.next =
            self.take.val() & ((self.in_frame.q.val() & !self.dropping.q.val()) | self.admit.val());
        self.p_tdata.next = self.s_tdata.val();
        self.p_tkeep.next = self.s_tkeep.val();
        self.p_tlast.next = self.s_tlast.val();
        self.p_tuser.next = self.s_tuser.val();
        // `words` counts the beats before this one, from the frame's second.
        self.store.next = self.p_tvalid.val()
            & (self.s_tlast.val()
                | !self.in_frame.q.val()
                | (self.words.q.val() < self.keep_words.val()));
        self.data.push.next = self.store.val();
        self.word.next = bit_cast::<W, D>(self.s_tdata.val())
            | (bit_cast::<W, K>(self.s_tkeep.val()) << self.sh_keep.val());
        if self.s_tlast.val() {
            self.word.next = self.word.val() | self.last_bit.val();
        }
        self.data.din.next = self.word.val();
        if self.take.val() {
            self.in_frame.d.next = !self.s_tlast.val();
            if !self.in_frame.q.val() {
                self.dropping.d.next = !self.room.val();
                self.words.d.next = 1.into();
                self.cut.d.next = false;
                if !self.room.val() {
                    self.n_full.d.next = self.n_full.q.val() + 1;
                }
            } else if self.words.q.val() != self.max_words.val() {
                // Saturates: only "below keep_words or not" matters.
                self.words.d.next = self.words.q.val() + 1;
            }
            if self.in_frame.q.val() & self.p_tvalid.val() & !self.store.val() {
                self.cut.d.next = true;
            }
        }
        // At the last beat of an admitted frame, whether it was cut.
        self.cuts.push.next = self.p_tvalid.val() & self.s_tlast.val();
        // (The last beat is always stored; `cut` is stale on a one-beat frame.)
        self.cuts.din.next = self.in_frame.q.val() & self.cut.q.val();
        // Results arrive one per admitted frame; admission reserved the slot.
        self.results.push.next = self.r_valid.val();
        self.results.din.next = self.r_data.val();

        // Output. A frame starts when its result and cut flag are there.
        self.start.next =
            !self.out_active.q.val() & self.results.level.val().any() & self.cuts.level.val().any();
        self.results.pop.next = self.start.val();
        self.cuts.pop.next = self.start.val();
        if self.start.val() {
            self.out_active.d.next = true;
            self.out_cut.d.next = self.cuts.dout.val();
            self.out_result.d.next = self.results.dout.val();
        }
        self.m_tdata.next = self.data.dout.val().get_bits::<D>(0);
        self.m_tkeep.next = self
            .data
            .dout
            .val()
            .get_bits::<K>(self.sh_keep.val().index());
        self.m_tlast.next = self.data.dout.val().get_bit(self.sh_last.val().index());
        self.m_result.next = self.out_result.q.val();
        self.m_tvalid.next =
            self.out_active.q.val() & !self.out_cut.q.val() & self.data.level.val().any();
        // A beat leaves: sent, or drained from a cut frame.
        self.beat_out.next = self.out_active.q.val()
            & self.data.level.val().any()
            & (self.m_tready.val() | self.out_cut.q.val());
        self.data.pop.next = self.beat_out.val();
        if self.beat_out.val() & self.m_tlast.val() {
            self.out_active.d.next = false;
            if self.out_cut.q.val() {
                self.n_oversize.d.next = self.n_oversize.q.val() + 1;
            } else {
                self.n_out.d.next = self.n_out.q.val() + 1;
            }
        }
        // Frames admitted and not yet started at the output.
        if self.admit.val() {
            self.n_in.d.next = self.n_in.q.val() + 1;
        }
        if self.admit.val() & !self.start.val() {
            self.inflight.d.next = self.inflight.q.val() + 1;
        }
        if !self.admit.val() & self.start.val() {
            self.inflight.d.next = self.inflight.q.val() - 1;
        }
        self.frames_in.next = self.n_in.q.val();
        self.frames_out.next = self.n_out.q.val();
        self.drops_full.next = self.n_full.q.val();
        self.drops_oversize.next = self.n_oversize.q.val();
        if self.reset.val() {
            self.in_frame.d.next = false;
            self.dropping.d.next = false;
            self.words.d.next = 0.into();
            self.cut.d.next = false;
            self.inflight.d.next = 0.into();
            self.n_in.d.next = 0.into();
            self.n_full.d.next = 0.into();
            self.out_active.d.next = false;
            self.out_cut.d.next = false;
            self.n_out.d.next = 0.into();
            self.n_oversize.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simtools::{settle, tick};
    use std::collections::VecDeque;

    type Fb = FrameBuffer<64, 8, 73, 16>;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.next() % 100 < percent
        }
    }

    /// A frame: `(data, keep, last)` beats.
    type Frame = Vec<(u64, u64, bool)>;

    fn frame(id: u64, beats: usize, tail_bytes: usize) -> Frame {
        (0..beats)
            .map(|b| {
                let last = b + 1 == beats;
                let keep = if last { (1u64 << tail_bytes) - 1 } else { 0xff };
                (id << 32 | b as u64, keep, last)
            })
            .collect()
    }

    /// What came out and what the counters say.
    struct Run {
        out: Vec<(u64, Frame)>,
        counters: [u64; 4],
    }

    /// Offers `frames` back to back (with random gaps), runs the parser +
    /// lookup as a fixed delay that returns the frame's id as its result,
    /// and drains the output with random `m_tready` (and parser stalls,
    /// which only a lossless buffer may see).
    fn run(
        fb: &mut Fb,
        frames: &[Frame],
        rng: &mut Rng,
        stall_pct: u64,
        parser_stall_pct: u64,
    ) -> Run {
        fb.connect_all();
        fb.reset.next = true;
        tick(fb, |f| &mut f.clock);
        fb.reset.next = false;
        settle(fb);
        let mut beats: VecDeque<(u64, u64, bool, u64)> = VecDeque::new();
        for f in frames {
            for &(d, k, l) in f {
                beats.push_back((d, k, l, d >> 32));
            }
        }
        // Results in flight: (clock due, id).
        let mut lookups: VecDeque<(u64, u64)> = VecDeque::new();
        let mut out = Vec::new();
        let mut cur: Frame = Vec::new();
        for clk in 0..200_000u64 {
            let offer = !beats.is_empty() && rng.chance(80);
            let head = beats.front().copied().unwrap_or_default();
            fb.s_tvalid.next = offer;
            fb.s_tdata.next = head.0.into();
            fb.s_tkeep.next = head.1.into();
            fb.s_tlast.next = head.2;
            fb.p_tready.next = !rng.chance(parser_stall_pct);
            let due = lookups.front().is_some_and(|&(t, _)| t <= clk);
            fb.r_valid.next = due;
            fb.r_data.next = lookups.front().map_or(0, |&(_, id)| id).into();
            fb.m_tready.next = !rng.chance(stall_pct);
            settle(fb);
            let took = offer && fb.s_tready.val();
            let to_parser = fb.p_tvalid.val() && fb.p_tready.val() && fb.p_tlast.val();
            let sent = fb.m_tvalid.val() && fb.m_tready.val();
            let beat = (
                fb.m_tdata.val().to_u64(),
                fb.m_tkeep.val().to_u64(),
                fb.m_tlast.val(),
            );
            let result = fb.m_result.val().to_u64();
            tick(fb, |f| &mut f.clock);
            if took {
                beats.pop_front();
            }
            if due {
                lookups.pop_front();
            }
            if to_parser {
                // Parser + lookup latency, as the pipeline's (a dozen clocks).
                lookups.push_back((clk + 12, head.3));
            }
            if sent {
                cur.push(beat);
                if beat.2 {
                    out.push((result, std::mem::take(&mut cur)));
                }
            }
            if beats.is_empty() && lookups.is_empty() && clk > 64 && !fb.m_tvalid.val() {
                let idle = fb.frames_out.val().to_u64() + fb.drops_oversize.val().to_u64()
                    == fb.frames_in.val().to_u64();
                if idle {
                    break;
                }
            }
        }
        let counters = [
            fb.frames_in.val().to_u64(),
            fb.frames_out.val().to_u64(),
            fb.drops_full.val().to_u64(),
            fb.drops_oversize.val().to_u64(),
        ];
        Run { out, counters }
    }

    fn traffic(rng: &mut Rng, n: u64, max_beats: usize) -> Vec<Frame> {
        (0..n)
            .map(|id| {
                let beats = 1 + rng.next() as usize % max_beats;
                frame(id, beats, 1 + rng.next() as usize % 8)
            })
            .collect()
    }

    #[test]
    fn lossless_keeps_every_frame_in_order_with_its_result() {
        let mut rng = Rng(1);
        // 64-beat buffer, frames of up to 24 beats, 4 frames in flight.
        let mut fb = Fb::new(6, 24, 2, true);
        let frames = traffic(&mut rng, 300, 24);
        let r = run(&mut fb, &frames, &mut rng, 40, 20);
        assert_eq!(r.counters, [300, 300, 0, 0]);
        assert_eq!(r.out.len(), frames.len());
        for (i, (res, f)) in r.out.iter().enumerate() {
            assert_eq!(*res, i as u64, "frame {i} joined to the wrong result");
            assert_eq!(f, &frames[i], "frame {i} changed");
        }
    }

    #[test]
    fn lossy_drops_whole_frames_and_counts_them() {
        let mut rng = Rng(2);
        let mut fb = Fb::new(5, 16, 2, false);
        let frames = traffic(&mut rng, 300, 16);
        // A slow output: the buffer fills and frames are refused whole.
        let r = run(&mut fb, &frames, &mut rng, 85, 0);
        let [fin, fout, full, over] = r.counters;
        assert!(full > 0, "a slow output must cause drops");
        assert_eq!(fin + full, 300, "every frame admitted or counted");
        assert_eq!((fout, over), (fin, 0));
        // What came out is a subsequence of what went in, each frame whole
        // and with its own result.
        let mut next = 0;
        for (res, f) in &r.out {
            let i = *res as usize;
            assert!(i >= next, "frame {i} out of order");
            assert_eq!(f, &frames[i], "frame {i} changed");
            next = i + 1;
        }
        assert_eq!(r.out.len() as u64, fout);
    }

    #[test]
    fn oversized_frames_are_drained_and_counted_not_cut() {
        let mut rng = Rng(3);
        let mut fb = Fb::new(5, 8, 2, true);
        // Frames of 1..=20 beats into a buffer of 8-beat frames.
        let frames = traffic(&mut rng, 200, 20);
        let long = frames.iter().filter(|f| f.len() > 8).count() as u64;
        let r = run(&mut fb, &frames, &mut rng, 30, 10);
        assert_eq!(r.counters, [200, 200 - long, 0, long]);
        let fitting: Vec<(u64, &Frame)> = (frames.iter().enumerate())
            .filter(|(_, f)| f.len() <= 8)
            .map(|(i, f)| (i as u64, f))
            .collect();
        assert_eq!(r.out.len(), fitting.len());
        for ((res, f), (i, want)) in r.out.iter().zip(fitting) {
            assert_eq!((*res, f), (i, want));
        }
    }
}
