//! First-word-fall-through FIFO over one block RAM (miss queue, result queue).
//!
//! `dout` shows the head whenever `level > 0`; `pop` drops it. A pushed word
//! becomes visible one cycle after its write, so the registered RAM read of
//! the head address has always seen it (no bypass path, no read-during-write
//! hazard). `full` counts words not yet visible too, so a push is never lost
//! silently: the caller sees `full` and counts its drop.

use crate::bram::{Bram, ADDR_BITS};
use rust_hdl::prelude::*;

/// A FIFO of `2^log2_depth` words of `D`.
#[derive(LogicBlock)]
pub struct Fifo<D: Synth> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset (empties the FIFO).
    pub reset: Signal<In, bool>,
    /// Push `din` (ignored when `full`).
    pub push: Signal<In, bool>,
    /// Word to push.
    pub din: Signal<In, D>,
    /// Drop the head (ignored when empty).
    pub pop: Signal<In, bool>,
    /// Head word (valid when `level > 0`).
    pub dout: Signal<Out, D>,
    /// Visible words.
    pub level: Signal<Out, Bits<ADDR_BITS>>,
    /// No room for a push this cycle.
    pub full: Signal<Out, bool>,
    /// Pushes that still fit (counting words not yet visible).
    pub room: Signal<Out, Bits<ADDR_BITS>>,
    ram: Bram<D>,
    depth: Constant<Bits<ADDR_BITS>>,
    ptr_mask: Constant<Bits<ADDR_BITS>>,
    wp: DFF<Bits<ADDR_BITS>>,
    rp: DFF<Bits<ADDR_BITS>>,
    count: DFF<Bits<ADDR_BITS>>,
    vis: DFF<Bits<ADDR_BITS>>,
    pushed: DFF<bool>,
    push_ok: Signal<Local, bool>,
    pop_ok: Signal<Local, bool>,
    rp_next: Signal<Local, Bits<ADDR_BITS>>,
}

impl<D: Synth> Fifo<D> {
    /// A FIFO of `2^log2_depth` words.
    pub fn new(log2_depth: u8) -> Self {
        let depth = 1usize << log2_depth;
        Fifo {
            clock: Default::default(),
            reset: Default::default(),
            push: Default::default(),
            din: Default::default(),
            pop: Default::default(),
            dout: Default::default(),
            level: Default::default(),
            full: Default::default(),
            room: Default::default(),
            ram: Bram::new_pow2(depth),
            depth: Constant::new((depth as u64).into()),
            ptr_mask: Constant::new(((depth - 1) as u64).into()),
            wp: Default::default(),
            rp: Default::default(),
            count: Default::default(),
            vis: Default::default(),
            pushed: Default::default(),
            push_ok: Default::default(),
            pop_ok: Default::default(),
            rp_next: Default::default(),
        }
    }
}

impl<D: Synth> Logic for Fifo<D> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, wp, rp, count, vis, pushed);
        self.ram.clock.next = self.clock.val();
        self.full.next = self.count.q.val() == self.depth.val();
        self.push_ok.next = self.push.val() & (self.count.q.val() != self.depth.val());
        self.pop_ok.next = self.pop.val() & self.vis.q.val().any();
        self.rp_next.next = self.rp.q.val();
        if self.pop_ok.val() {
            self.rp_next.next = (self.rp.q.val() + 1) & self.ptr_mask.val();
        }
        self.ram.raddr.next = self.rp_next.val();
        self.ram.waddr.next = self.wp.q.val();
        self.ram.wdata.next = self.din.val();
        self.ram.we.next = self.push_ok.val();
        self.rp.d.next = self.rp_next.val();
        if self.push_ok.val() {
            self.wp.d.next = (self.wp.q.val() + 1) & self.ptr_mask.val();
        }
        if self.push_ok.val() & !self.pop_ok.val() {
            self.count.d.next = self.count.q.val() + 1;
        }
        if !self.push_ok.val() & self.pop_ok.val() {
            self.count.d.next = self.count.q.val() - 1;
        }
        self.pushed.d.next = self.push_ok.val();
        if self.pushed.q.val() & !self.pop_ok.val() {
            self.vis.d.next = self.vis.q.val() + 1;
        }
        if !self.pushed.q.val() & self.pop_ok.val() {
            self.vis.d.next = self.vis.q.val() - 1;
        }
        if self.reset.val() {
            self.wp.d.next = 0.into();
            self.rp.d.next = 0.into();
            self.count.d.next = 0.into();
            self.vis.d.next = 0.into();
            self.pushed.d.next = false;
        }
        self.dout.next = self.ram.rdata.val();
        self.level.next = self.vis.q.val();
        self.room.next = self.depth.val() - self.count.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simtools::{settle, tick};
    use std::collections::VecDeque;

    #[test]
    fn fifo_matches_a_queue_and_refuses_when_full() {
        let mut f = Fifo::<Bits<16>>::new(2);
        f.connect_all();
        settle(&mut f);
        let mut model: VecDeque<u64> = VecDeque::new();
        let mut pending: Option<u64> = None; // pushed last cycle, not yet visible
        let mut x = 7u64;
        for cycle in 0..200u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let push = x >> 60 & 1 == 1 || cycle < 6;
            let pop = x >> 61 & 3 == 0 && cycle > 6;
            // Visible state before the edge.
            assert_eq!(f.level.val().index(), model.len(), "cycle {cycle}");
            if let Some(h) = model.front() {
                assert_eq!(f.dout.val().to_u64(), *h, "cycle {cycle}");
            }
            let total = model.len() + pending.is_some() as usize;
            assert_eq!(f.full.val(), total == 4);
            f.push.next = push;
            f.din.next = cycle.into();
            f.pop.next = pop;
            tick(&mut f, |f| &mut f.clock);
            if pop && !model.is_empty() {
                model.pop_front();
            }
            if let Some(p) = pending.take() {
                model.push_back(p);
            }
            if push && total < 4 {
                pending = Some(cycle);
            }
        }
    }
}
