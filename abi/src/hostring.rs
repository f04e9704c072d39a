//! The host queue rings: descriptor rings in host memory that carry the host
//! queue pair ([`crate::hostq`]) across DMA, and [`RingEngine`], the
//! reference of the engine that serves them.
//!
//! Modelled on Corundum's queue managers and QDMA's descriptor rings, cut to
//! what one queue pair needs: per queue a ring of [`DESC_BYTES`]-byte
//! descriptors at `HQ_BASE`, 2^`HQ_LOG2_SIZE` of them, and two free-running
//! 16-bit indices, `HQ_PROD` (written by the host: the doorbell) and
//! `HQ_CONS` (advanced by the NIC). The NIC writes each descriptor back in
//! place when it is done with it (`DESC_DONE`, `DESC_STATUS`, and on RX the
//! frame length and [`crate::hostq::HOST_RX_META`] words), so the host polls
//! host memory, not a register; Corundum and QDMA write completions to a
//! separate ring instead, which many queues sharing one completion ring need
//! and one queue pair does not.
//!
//! - Host RX ring ([`crate::regs::HOSTQ_RX`], C2H): the host posts empty
//!   buffers (`DESC_ADDR`, `DESC_BUF_LEN`). Each frame for the host takes
//!   the descriptor at `CONS`; with none posted (`CONS == PROD`) the frame is
//!   dropped and counted in `HQ_DROPS`. A frame longer than its buffer is
//!   dropped with [`DescStatus::TooLong`] (the descriptor is still written
//!   back, with the frame's length), so no loss is silent.
//! - Host TX ring ([`crate::regs::HOSTQ_TX`], H2C): the host posts frames
//!   (`DESC_FRAME_LEN` bytes of the buffer, `DESC_META0` =
//!   [`crate::hostq::HOST_TX_META`]). `FRAME_LEN > BUF_LEN` is refused with
//!   [`DescStatus::TooLong`], nothing is sent.
//!
//! A doorbell that would post more than the ring holds is ignored.

use crate::regs::{
    HOSTQ_QUEUES, HOSTQ_RX, HOSTQ_STRIDE, HOSTQ_TX, HQ_ENABLE, HQ_INDEX, HQ_LOG2_SIZE, REG_HQ_BASE,
    REG_HQ_CONS, REG_HQ_CTRL, REG_HQ_DROPS, REG_HQ_PROD,
};

/// 64-bit words of a descriptor.
pub const DESC_WORDS: usize = 4;
/// Bytes of a descriptor (its words little-endian).
pub const DESC_BYTES: usize = DESC_WORDS * 8;

crate::layout! {
    /// A host queue ring descriptor.
    HOSTQ_DESC {
        /// IOVA of the buffer.
        DESC_ADDR = (0, 64),
        /// Bytes of the buffer.
        DESC_BUF_LEN = (64, 16),
        /// Bytes of the frame (TX: host; RX: written back by the NIC).
        DESC_FRAME_LEN = (80, 16),
        /// Written back 1 by the NIC when it is done with the descriptor.
        DESC_DONE = (96, 1),
        /// [`DescStatus`], written back with `DESC_DONE`.
        DESC_STATUS = (97, 3),
        /// RX: host RX meta word 0; TX: the host TX meta word.
        DESC_META0 = (128, 64),
        /// RX: host RX meta word 1; TX: 0.
        DESC_META1 = (192, 64),
    }
}

/// What became of a descriptor's frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DescStatus {
    /// Moved.
    Ok = 0,
    /// RX: the frame was longer than the buffer (dropped; `DESC_FRAME_LEN`
    /// is its length). TX: `DESC_FRAME_LEN > DESC_BUF_LEN` (not sent).
    TooLong = 1,
    /// The buffer's IOVA range is not mapped (DMA fault; nothing moved).
    Fault = 2,
}

impl DescStatus {
    /// The status of code `c`.
    pub const fn from_code(c: u8) -> Option<DescStatus> {
        match c {
            0 => Some(DescStatus::Ok),
            1 => Some(DescStatus::TooLong),
            2 => Some(DescStatus::Fault),
            _ => None,
        }
    }
}

/// A decoded descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Desc {
    /// Buffer IOVA.
    pub addr: u64,
    /// Buffer bytes.
    pub buf_len: u16,
    /// Frame bytes.
    pub frame_len: u16,
    /// Written back.
    pub done: bool,
    /// [`DescStatus`] code.
    pub status: u8,
    /// Meta words.
    pub meta: [u64; 2],
}

impl Desc {
    /// Encodes the descriptor's bytes.
    pub fn to_bytes(&self) -> [u8; DESC_BYTES] {
        let mut w = [0u64; DESC_WORDS];
        DESC_ADDR.set(&mut w, self.addr);
        DESC_BUF_LEN.set(&mut w, self.buf_len as u64);
        DESC_FRAME_LEN.set(&mut w, self.frame_len as u64);
        DESC_DONE.set(&mut w, self.done as u64);
        DESC_STATUS.set(&mut w, self.status as u64);
        DESC_META0.set(&mut w, self.meta[0]);
        DESC_META1.set(&mut w, self.meta[1]);
        let mut b = [0u8; DESC_BYTES];
        for (c, v) in b.chunks_exact_mut(8).zip(w) {
            c.copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Decodes a descriptor's bytes.
    pub fn from_bytes(b: &[u8; DESC_BYTES]) -> Desc {
        let mut w = [0u64; DESC_WORDS];
        for (v, c) in w.iter_mut().zip(b.chunks_exact(8)) {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            *v = u64::from_le_bytes(a);
        }
        Desc {
            addr: DESC_ADDR.get(&w),
            buf_len: DESC_BUF_LEN.get(&w) as u16,
            frame_len: DESC_FRAME_LEN.get(&w) as u16,
            done: DESC_DONE.get(&w) != 0,
            status: DESC_STATUS.get(&w) as u8,
            meta: [DESC_META0.get(&w), DESC_META1.get(&w)],
        }
    }
}

/// Host memory as a DMA engine sees it: by IOVA, `false` where unmapped.
pub trait HostMemory {
    /// Copies `out.len()` bytes at `iova` out of host memory.
    fn read(&self, iova: u64, out: &mut [u8]) -> bool;
    /// Copies `data` into host memory at `iova`.
    fn write(&mut self, iova: u64, data: &[u8]) -> bool;
}

/// One queue's registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Queue {
    base: u64,
    ctrl: u64,
    prod: u16,
    cons: u16,
    drops: u64,
}

impl Queue {
    fn enabled(&self) -> bool {
        HQ_ENABLE.get(&[self.ctrl]) != 0
    }

    fn size(&self) -> u16 {
        1 << HQ_LOG2_SIZE.get(&[self.ctrl]).clamp(1, 15)
    }

    fn desc_iova(&self, i: u16) -> u64 {
        self.base + (i & (self.size() - 1)) as u64 * DESC_BYTES as u64
    }

    fn pending(&self) -> u16 {
        self.prod.wrapping_sub(self.cons)
    }
}

/// Outcome of [`RingEngine::deliver_rx`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxDelivery {
    /// Written into a posted buffer.
    Delivered,
    /// Dropped, and why: counted in `HQ_DROPS` (`None`: no buffer posted) or
    /// written back with the status.
    Dropped(Option<DescStatus>),
}

/// The reference ring engine: the host queue register block and the DMA
/// that moves frames between the rings and the NIC's host streams. A
/// shell's DMA engine does this on a board; the simulated NIC runs this one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RingEngine {
    q: [Queue; HOSTQ_QUEUES],
}

impl RingEngine {
    /// Reads register `offset` of the block (`None`: no register there).
    pub fn read_reg(&self, offset: u64) -> Option<u64> {
        let (q, r) = self.split(offset)?;
        let q = &self.q[q];
        Some(match r {
            REG_HQ_BASE => q.base,
            REG_HQ_CTRL => q.ctrl,
            REG_HQ_PROD => q.prod as u64,
            REG_HQ_CONS => q.cons as u64,
            REG_HQ_DROPS => q.drops,
            _ => return None,
        })
    }

    /// Writes register `offset` (`false`: no register there; writes to
    /// read-only registers are ignored).
    pub fn write_reg(&mut self, offset: u64, value: u64) -> bool {
        let Some((q, r)) = self.split(offset) else {
            return false;
        };
        let q = &mut self.q[q];
        match r {
            REG_HQ_BASE => q.base = value,
            REG_HQ_CTRL => {
                q.ctrl = value;
                if q.enabled() {
                    (q.prod, q.cons, q.drops) = (0, 0, 0);
                }
            }
            REG_HQ_PROD => {
                let p = HQ_INDEX.get(&[value]) as u16;
                if p.wrapping_sub(q.cons) <= q.size() {
                    q.prod = p;
                }
            }
            REG_HQ_CONS | REG_HQ_DROPS => {}
            _ => return false,
        }
        true
    }

    fn split(&self, offset: u64) -> Option<(usize, u64)> {
        let q = (offset / HOSTQ_STRIDE) as usize;
        (q < HOSTQ_QUEUES && offset.is_multiple_of(8)).then_some((q, offset % HOSTQ_STRIDE))
    }

    /// Queue `q` ([`HOSTQ_RX`] or [`HOSTQ_TX`]) is enabled.
    pub fn enabled(&self, q: usize) -> bool {
        self.q.get(q).is_some_and(Queue::enabled)
    }

    /// TX descriptors posted and not yet fetched.
    pub fn tx_pending(&self) -> usize {
        let q = &self.q[HOSTQ_TX];
        if q.enabled() {
            q.pending() as usize
        } else {
            0
        }
    }

    /// Fetches up to `max` posted TX descriptors: each valid frame goes to
    /// `out(meta word, frame)`, each descriptor is written back. Returns the
    /// descriptors consumed. `scratch` holds the frame being read.
    pub fn fetch_tx(
        &mut self,
        mem: &mut dyn HostMemory,
        max: usize,
        scratch: &mut Vec<u8>,
        mut out: impl FnMut(u64, &[u8]),
    ) -> usize {
        let mut n = 0;
        while n < max && self.tx_pending() > 0 {
            let q = &mut self.q[HOSTQ_TX];
            let at = q.desc_iova(q.cons);
            let mut b = [0u8; DESC_BYTES];
            if !mem.read(at, &mut b) {
                // The ring itself is unmapped: nothing can be written back.
                // Stop the queue rather than spin on it.
                HQ_ENABLE.set(std::slice::from_mut(&mut q.ctrl), 0);
                break;
            }
            let mut d = Desc::from_bytes(&b);
            d.status = if d.frame_len > d.buf_len {
                DescStatus::TooLong
            } else {
                scratch.resize(d.frame_len as usize, 0);
                if mem.read(d.addr, scratch) {
                    out(d.meta[0], scratch);
                    DescStatus::Ok
                } else {
                    DescStatus::Fault
                }
            } as u8;
            d.done = true;
            mem.write(at, &d.to_bytes());
            q.cons = q.cons.wrapping_add(1);
            n += 1;
        }
        n
    }

    /// Delivers one host RX frame with its meta words into the RX ring.
    pub fn deliver_rx(
        &mut self,
        mem: &mut dyn HostMemory,
        meta: &[u64; 2],
        frame: &[u8],
    ) -> RxDelivery {
        let q = &mut self.q[HOSTQ_RX];
        if !q.enabled() || q.pending() == 0 {
            q.drops += 1;
            return RxDelivery::Dropped(None);
        }
        let at = q.desc_iova(q.cons);
        let mut b = [0u8; DESC_BYTES];
        if !mem.read(at, &mut b) {
            q.drops += 1;
            HQ_ENABLE.set(std::slice::from_mut(&mut q.ctrl), 0);
            return RxDelivery::Dropped(None);
        }
        let mut d = Desc::from_bytes(&b);
        let status = if frame.len() > d.buf_len as usize {
            DescStatus::TooLong
        } else if !mem.write(d.addr, frame) {
            DescStatus::Fault
        } else {
            DescStatus::Ok
        };
        d.frame_len = frame.len().min(u16::MAX as usize) as u16;
        d.meta = *meta;
        d.status = status as u8;
        d.done = true;
        mem.write(at, &d.to_bytes());
        q.cons = q.cons.wrapping_add(1);
        match status {
            DescStatus::Ok => RxDelivery::Delivered,
            s => RxDelivery::Dropped(Some(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_sound_and_descriptors_round_trip() {
        crate::bits::check_layout(HOSTQ_DESC, DESC_WORDS, &[]).unwrap();
        let d = Desc {
            addr: 0x1234_5678_9abc_def0,
            buf_len: 9216,
            frame_len: 60,
            done: true,
            status: DescStatus::Fault as u8,
            meta: [u64::MAX, 7],
        };
        assert_eq!(Desc::from_bytes(&d.to_bytes()), d);
        for c in 0..8 {
            assert_eq!(
                DescStatus::from_code(c).map(|s| s as u8),
                (c < 3).then_some(c)
            );
        }
    }

    #[test]
    fn doorbell_past_the_ring_is_ignored() {
        let mut e = RingEngine::default();
        let ctrl = HOSTQ_STRIDE * HOSTQ_TX as u64 + REG_HQ_CTRL;
        let prod = HOSTQ_STRIDE * HOSTQ_TX as u64 + REG_HQ_PROD;
        let mut v = [0u64];
        HQ_LOG2_SIZE.set(&mut v, 2);
        HQ_ENABLE.set(&mut v, 1);
        assert!(e.write_reg(ctrl, v[0]));
        assert!(e.write_reg(prod, 4));
        assert_eq!(e.tx_pending(), 4);
        assert!(e.write_reg(prod, 5));
        assert_eq!(e.tx_pending(), 4);
        assert!(!e.write_reg(HOSTQ_STRIDE * HOSTQ_QUEUES as u64, 0));
    }
}
