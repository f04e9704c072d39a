//! AXI-Stream width converters between a shell's 512-bit streams and the
//! 64-bit pipeline (the OpenNIC `box_250mhz` wrapper).
//!
//! Frames are packets: every beat but the last is full and the last beat's
//! byte enables are contiguous from byte 0, as the OpenNIC shell sends them.
//! [`AxisDown512To64`] sends lane `i` (bytes `8 i .. 8 i + 7`) of a beat
//! while it holds a byte, so a short last beat takes as many clocks as it
//! has 8-byte lanes. [`AxisUp64To512`] packs lanes from lane 0 and closes a
//! word at eight lanes or the frame's last beat; it takes a lane every clock,
//! also while its full word is being taken, so neither side loses a clock.

use rust_hdl::prelude::*;

/// Bytes of a 64-bit lane.
const LANE_BYTES: usize = 8;

/// 512-bit beats in, 64-bit beats out.
#[derive(LogicBlock)]
pub struct AxisDown512To64 {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: back to lane 0.
    pub reset: Signal<In, bool>,
    /// Wide in: data (byte 0 in bits 7..0).
    pub s_tdata: Signal<In, Bits<512>>,
    /// Wide in: byte enables.
    pub s_tkeep: Signal<In, Bits<64>>,
    /// Wide in: last beat.
    pub s_tlast: Signal<In, bool>,
    /// Wide in: valid.
    pub s_tvalid: Signal<In, bool>,
    /// Wide in: ready (with the beat's last lane).
    pub s_tready: Signal<Out, bool>,
    /// Narrow out: data.
    pub m_tdata: Signal<Out, Bits<64>>,
    /// Narrow out: byte enables.
    pub m_tkeep: Signal<Out, Bits<8>>,
    /// Narrow out: last beat.
    pub m_tlast: Signal<Out, bool>,
    /// Narrow out: valid.
    pub m_tvalid: Signal<Out, bool>,
    /// Narrow out: ready.
    pub m_tready: Signal<In, bool>,

    /// Bit offset of the lane being sent.
    off64: DFF<Bits<9>>,
    /// Keep-bit offset of the lane being sent.
    off8: DFF<Bits<6>>,
    /// Keep-bit offset of the following lane (wraps past lane 7, unused there).
    next8: Signal<Local, Bits<6>>,
    /// The lane being sent is the beat's last one.
    lane_end: Signal<Local, bool>,
    last_off8: Constant<Bits<6>>,
}

impl Default for AxisDown512To64 {
    fn default() -> Self {
        AxisDown512To64 {
            clock: Default::default(),
            reset: Default::default(),
            s_tdata: Default::default(),
            s_tkeep: Default::default(),
            s_tlast: Default::default(),
            s_tvalid: Default::default(),
            s_tready: Default::default(),
            m_tdata: Default::default(),
            m_tkeep: Default::default(),
            m_tlast: Default::default(),
            m_tvalid: Default::default(),
            m_tready: Default::default(),
            off64: Default::default(),
            off8: Default::default(),
            next8: Default::default(),
            lane_end: Default::default(),
            last_off8: Constant::new(56.into()),
        }
    }
}

impl Logic for AxisDown512To64 {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, off64, off8);
        self.m_tdata.next = self
            .s_tdata
            .val()
            .get_bits::<64>(self.off64.q.val().index());
        self.m_tkeep.next = self.s_tkeep.val().get_bits::<8>(self.off8.q.val().index());
        self.next8.next = self.off8.q.val() + 8;
        self.lane_end.next = true;
        if self.off8.q.val() != self.last_off8.val() {
            self.lane_end.next = !self.s_tkeep.val().get_bit(self.next8.val().index());
        }
        self.m_tlast.next = self.s_tlast.val() & self.lane_end.val();
        self.m_tvalid.next = self.s_tvalid.val();
        self.s_tready.next = self.m_tready.val() & self.lane_end.val();
        if self.s_tvalid.val() & self.m_tready.val() {
            if self.lane_end.val() {
                self.off64.d.next = 0.into();
                self.off8.d.next = 0.into();
            } else {
                self.off64.d.next = self.off64.q.val() + 64;
                self.off8.d.next = self.off8.q.val() + 8;
            }
        }
        if self.reset.val() {
            self.off64.d.next = 0.into();
            self.off8.d.next = 0.into();
        }
    }
}

/// 64-bit beats in, 512-bit beats out, with a per-frame side word and a
/// running byte count (OpenNIC's `tuser_size`).
#[derive(LogicBlock)]
pub struct AxisUp64To512 {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: drops a partial word.
    pub reset: Signal<In, bool>,
    /// Narrow in: data.
    pub s_tdata: Signal<In, Bits<64>>,
    /// Narrow in: byte enables (contiguous from byte 0).
    pub s_tkeep: Signal<In, Bits<8>>,
    /// Narrow in: last beat.
    pub s_tlast: Signal<In, bool>,
    /// Narrow in: a side word, sampled with the frame's first beat.
    pub s_tuser: Signal<In, Bits<16>>,
    /// Narrow in: valid.
    pub s_tvalid: Signal<In, bool>,
    /// Narrow in: ready.
    pub s_tready: Signal<Out, bool>,
    /// Wide out: data.
    pub m_tdata: Signal<Out, Bits<512>>,
    /// Wide out: byte enables.
    pub m_tkeep: Signal<Out, Bits<64>>,
    /// Wide out: last beat.
    pub m_tlast: Signal<Out, bool>,
    /// Wide out: the frame's side word, on every beat.
    pub m_tuser: Signal<Out, Bits<16>>,
    /// Wide out: bytes of the frame up to and including this beat (on the
    /// last beat, the frame length).
    pub m_tbytes: Signal<Out, Bits<16>>,
    /// Wide out: valid.
    pub m_tvalid: Signal<Out, bool>,
    /// Wide out: ready.
    pub m_tready: Signal<In, bool>,

    data: DFF<Bits<512>>,
    keep: DFF<Bits<64>>,
    last: DFF<bool>,
    full: DFF<bool>,
    user: DFF<Bits<16>>,
    bytes: DFF<Bits<16>>,
    /// The next lane taken begins a frame.
    first: DFF<bool>,
    off64: DFF<Bits<9>>,
    off8: DFF<Bits<6>>,
    take: Signal<Local, bool>,
    /// Bytes in the lane offered.
    lane_bytes: Signal<Local, Bits<16>>,
    /// Bytes of the frame before the lane offered.
    base: Signal<Local, Bits<16>>,
    last_off8: Constant<Bits<6>>,
}

impl Default for AxisUp64To512 {
    fn default() -> Self {
        AxisUp64To512 {
            clock: Default::default(),
            reset: Default::default(),
            s_tdata: Default::default(),
            s_tkeep: Default::default(),
            s_tlast: Default::default(),
            s_tuser: Default::default(),
            s_tvalid: Default::default(),
            s_tready: Default::default(),
            m_tdata: Default::default(),
            m_tkeep: Default::default(),
            m_tlast: Default::default(),
            m_tuser: Default::default(),
            m_tbytes: Default::default(),
            m_tvalid: Default::default(),
            m_tready: Default::default(),
            data: Default::default(),
            keep: Default::default(),
            last: Default::default(),
            full: Default::default(),
            user: Default::default(),
            bytes: Default::default(),
            first: Default::default(),
            off64: Default::default(),
            off8: Default::default(),
            take: Default::default(),
            lane_bytes: Default::default(),
            base: Default::default(),
            last_off8: Constant::new(56.into()),
        }
    }
}

impl Logic for AxisUp64To512 {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, data, keep, last, full, user, bytes, first, off64, off8);
        self.m_tdata.next = self.data.q.val();
        self.m_tkeep.next = self.keep.q.val();
        self.m_tlast.next = self.last.q.val();
        self.m_tuser.next = self.user.q.val();
        self.m_tbytes.next = self.bytes.q.val();
        self.m_tvalid.next = self.full.q.val();
        // A full word leaves this clock if taken; a lane may enter its place.
        self.s_tready.next = !self.full.q.val() | self.m_tready.val();
        self.take.next = self.s_tvalid.val() & self.s_tready.val();
        self.lane_bytes.next = 0.into();
        for j in 0..LANE_BYTES {
            if self.s_tkeep.val().get_bit(j) {
                self.lane_bytes.next = self.lane_bytes.val() + 1;
            }
        }
        self.base.next = self.bytes.q.val();
        if self.first.q.val() {
            self.base.next = 0.into();
        }
        if self.full.q.val() & self.m_tready.val() {
            self.full.d.next = false;
        }
        if self.take.val() {
            self.bytes.d.next = self.base.val() + self.lane_bytes.val();
            self.first.d.next = self.s_tlast.val();
            if self.first.q.val() {
                self.user.d.next = self.s_tuser.val();
            }
            if self.off8.q.val() == 0 {
                self.data.d.next = bit_cast::<512, 64>(self.s_tdata.val());
                self.keep.d.next = bit_cast::<64, 8>(self.s_tkeep.val());
            } else {
                self.data.d.next = self.data.q.val()
                    | (bit_cast::<512, 64>(self.s_tdata.val()) << self.off64.q.val());
                self.keep.d.next = self.keep.q.val()
                    | (bit_cast::<64, 8>(self.s_tkeep.val()) << self.off8.q.val());
            }
            if self.s_tlast.val() | (self.off8.q.val() == self.last_off8.val()) {
                self.full.d.next = true;
                self.last.d.next = self.s_tlast.val();
                self.off64.d.next = 0.into();
                self.off8.d.next = 0.into();
            } else {
                self.off64.d.next = self.off64.q.val() + 64;
                self.off8.d.next = self.off8.q.val() + 8;
            }
        }
        if self.reset.val() {
            self.full.d.next = false;
            self.first.d.next = true;
            self.off64.d.next = 0.into();
            self.off8.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simtools::{settle, tick};
    use crate::testrng::Rng;

    /// Random frames of 1..=300 bytes.
    fn frames(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| {
                let len = 1 + rng.below(300) as usize;
                (0..len).map(|_| rng.below(256) as u8).collect()
            })
            .collect()
    }

    /// `(data, keep, last)` beats of `w` bytes each.
    fn beats(f: &[u8], w: usize) -> Vec<(Vec<u8>, bool)> {
        let n = f.chunks(w).count();
        f.chunks(w)
            .enumerate()
            .map(|(i, c)| (c.to_vec(), i + 1 == n))
            .collect()
    }

    fn wide(bytes: &[u8]) -> (Bits<512>, Bits<64>) {
        let mut d = Bits::<512>::default();
        let mut k = Bits::<64>::default();
        for (i, b) in bytes.iter().enumerate() {
            d.set_bits::<8>(8 * i, (*b as u64).into());
            k.set_bits::<1>(i, 1.into());
        }
        (d, k)
    }

    fn unwide(d: Bits<512>, k: Bits<64>) -> Vec<u8> {
        (0..64)
            .take_while(|&i| k.get_bit(i))
            .map(|i| d.get_bits::<8>(8 * i).to_u64() as u8)
            .collect()
    }

    #[test]
    fn down_sends_each_frame_in_lanes_with_backpressure() {
        let mut rng = Rng(31);
        let fr = frames(&mut rng, 200);
        let mut uut = AxisDown512To64::default();
        uut.connect_all();
        uut.reset.next = true;
        tick(&mut uut, |u| &mut u.clock);
        uut.reset.next = false;
        let mut queue: std::collections::VecDeque<_> =
            fr.iter().flat_map(|f| beats(f, 64)).collect();
        let (mut got, mut cur) = (Vec::new(), Vec::new());
        for _ in 0..100_000 {
            let Some((b, last)) = queue.front().cloned() else {
                break;
            };
            let (d, k) = wide(&b);
            uut.s_tdata.next = d;
            uut.s_tkeep.next = k;
            uut.s_tlast.next = last;
            uut.s_tvalid.next = rng.chance(80);
            let ready = rng.chance(70);
            uut.m_tready.next = ready;
            settle(&mut uut);
            let valid = uut.m_tvalid.val();
            if valid && ready {
                let k = uut.m_tkeep.val().to_u64();
                assert!(k != 0, "a lane with no byte was sent");
                let d = uut.m_tdata.val().to_u64();
                cur.extend(
                    (0..8)
                        .filter(|i| k >> i & 1 == 1)
                        .map(|i| (d >> (8 * i)) as u8),
                );
                if uut.m_tlast.val() {
                    got.push(std::mem::take(&mut cur));
                }
            }
            if valid && uut.s_tready.val() {
                queue.pop_front();
            }
            tick(&mut uut, |u| &mut u.clock);
        }
        assert!(queue.is_empty(), "the converter stalled");
        assert_eq!(got, fr);
    }

    #[test]
    fn up_packs_lanes_into_words_with_frame_sideband() {
        let mut rng = Rng(41);
        let fr = frames(&mut rng, 200);
        let mut uut = AxisUp64To512::default();
        uut.connect_all();
        uut.reset.next = true;
        tick(&mut uut, |u| &mut u.clock);
        uut.reset.next = false;
        let mut queue: std::collections::VecDeque<_> = fr
            .iter()
            .enumerate()
            .flat_map(|(n, f)| beats(f, 8).into_iter().map(move |b| (n, b)))
            .collect();
        let (mut got, mut cur, mut words) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..100_000 {
            let offer = queue.front().cloned();
            if let Some((n, (b, last))) = &offer {
                let mut d = 0u64;
                for (i, x) in b.iter().enumerate() {
                    d |= (*x as u64) << (8 * i);
                }
                uut.s_tdata.next = d.into();
                uut.s_tkeep.next = ((1u64 << b.len()) - 1).into();
                uut.s_tlast.next = *last;
                uut.s_tuser.next = (*n as u64 + 1000).into();
            }
            uut.s_tvalid.next = offer.is_some() && rng.chance(80);
            let ready = rng.chance(70);
            uut.m_tready.next = ready;
            settle(&mut uut);
            if uut.m_tvalid.val() && ready {
                let bytes = unwide(uut.m_tdata.val(), uut.m_tkeep.val());
                cur.extend_from_slice(&bytes);
                let frame = got.len();
                assert_eq!(uut.m_tuser.val().to_u64(), frame as u64 + 1000);
                assert_eq!(uut.m_tbytes.val().to_u64(), cur.len() as u64);
                if uut.m_tlast.val() {
                    got.push(std::mem::take(&mut cur));
                } else {
                    assert_eq!(bytes.len(), 64, "only the last word may be short");
                }
                words.push(());
            }
            if uut.s_tvalid.val() && uut.s_tready.val() {
                queue.pop_front();
            }
            tick(&mut uut, |u| &mut u.clock);
            if queue.is_empty() && !uut.m_tvalid.val() {
                break;
            }
        }
        assert!(queue.is_empty(), "the converter stalled");
        assert_eq!(got, fr);
        let want: usize = fr.iter().map(|f| f.len().div_ceil(64)).sum();
        assert_eq!(words.len(), want, "one word per 64 bytes of a frame");
    }

    #[test]
    fn up_takes_a_lane_every_clock_when_drained() {
        let mut uut = AxisUp64To512::default();
        uut.connect_all();
        uut.reset.next = true;
        tick(&mut uut, |u| &mut u.clock);
        uut.reset.next = false;
        uut.m_tready.next = true;
        uut.s_tvalid.next = true;
        uut.s_tkeep.next = 0xff.into();
        let mut words = 0;
        for i in 0..64u64 {
            uut.s_tdata.next = i.into();
            uut.s_tlast.next = i % 16 == 15;
            settle(&mut uut);
            assert!(uut.s_tready.val(), "refused lane {i}");
            words += uut.m_tvalid.val() as u32;
            tick(&mut uut, |u| &mut u.clock);
        }
        assert_eq!(words, 7, "eight words, the last still held");
    }
}
