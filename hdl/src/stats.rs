//! Per-entry statistics: hit count, byte count and last-used time of every
//! EMC and megaflow entry, updated at one hit per clock, read by the host.
//! Bytes are [`BYTES_BITS`] wide and wrap (the host accumulates deltas).
//!
//! One address space covers all entries: EMC index `i` is address `i`,
//! megaflow (slot `s`, index `j`) is `emc_entries + s × mf_entries_per_slot + j`.
//!
//! Resetting an entry's counters when the host rewrites it would need a
//! second write port on the counter RAM (the lookup path writes it every
//! clock). Instead the command path writes the entry's *write time* into a
//! separate stamp RAM, and every counter word carries the stamp it belongs
//! to: a counter whose stamp differs from the entry's is stale and reads as
//! zero hits, last used = write time. Each RAM then has exactly one writer.
//! Back-to-back hits on one entry are handled by forwarding the last update
//! (the RAM is read-first).

use crate::bram::{Bram, ADDR_BITS};
use rust_hdl::prelude::*;

/// Width of the per-entry byte counter.
pub const BYTES_BITS: usize = abi::regs::STATS_BYTES_BITS as usize;
/// Width of a hit's frame length.
pub const LEN_BITS: usize = abi::regs::STATS_LEN_BITS as usize;
/// Host copy of a counter: `[63:0]` stamp, `[127:64]` hits, `[175:128]`
/// bytes, `[239:176]` last used.
type CounterWord = Bits<240>;
/// Lookup-side copy: stamp, hits and bytes (last used is never read back there).
type CountWord = Bits<176>;

/// The per-entry statistics unit.
#[derive(LogicBlock)]
pub struct StatsUnit {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// A lookup hit the entry at `hit_addr` this cycle.
    pub hit: Signal<In, bool>,
    /// Statistics address of the hit entry.
    pub hit_addr: Signal<In, Bits<ADDR_BITS>>,
    /// Frame length of the hit, in bytes (0 where the lookup carried no frame).
    pub hit_len: Signal<In, Bits<LEN_BITS>>,
    /// Current time ([`abi::regs::REG_TIME`]).
    pub now: Signal<In, Bits<64>>,
    /// The command path (re)wrote the entry at `stamp_addr` (stamp = `now`).
    pub stamp_we: Signal<In, bool>,
    /// Address of the rewritten entry.
    pub stamp_addr: Signal<In, Bits<ADDR_BITS>>,
    /// Host selection (from `REG_STATS_SEL`).
    pub sel_addr: Signal<In, Bits<ADDR_BITS>>,
    /// Hits of the selected entry since it was written (one cycle after `sel_addr`).
    pub sel_hits: Signal<Out, Bits<64>>,
    /// Last hit time of the selected entry, or its write time.
    pub sel_used: Signal<Out, Bits<64>>,
    /// Bytes of the selected entry's hits since it was written, mod 2^[`BYTES_BITS`].
    pub sel_bytes: Signal<Out, Bits<64>>,
    stamp_l: Bram<Bits<64>>,
    stamp_h: Bram<Bits<64>>,
    cnt_l: Bram<CountWord>,
    cnt_h: Bram<CounterWord>,
    u_valid: DFF<bool>,
    u_addr: DFF<Bits<ADDR_BITS>>,
    u_now: DFF<Bits<64>>,
    u_len: DFF<Bits<LEN_BITS>>,
    f_valid: DFF<bool>,
    f_addr: DFF<Bits<ADDR_BITS>>,
    f_data: DFF<CountWord>,
    sum_ram: Signal<Local, Bits<64>>,
    sum_fwd: Signal<Local, Bits<64>>,
    hits: Signal<Local, Bits<64>>,
    bsum_ram: Signal<Local, Bits<BYTES_BITS>>,
    bsum_fwd: Signal<Local, Bits<BYTES_BITS>>,
    len_b: Signal<Local, Bits<BYTES_BITS>>,
    bytes: Signal<Local, Bits<BYTES_BITS>>,
    upd: Signal<Local, CounterWord>,
    sh_hits: Constant<Bits<8>>,
    sh_bytes: Constant<Bits<8>>,
    sh_used: Constant<Bits<8>>,
}

impl StatsUnit {
    /// A unit for `entries` addresses.
    pub fn new(entries: usize) -> Self {
        StatsUnit {
            clock: Default::default(),
            hit: Default::default(),
            hit_addr: Default::default(),
            hit_len: Default::default(),
            now: Default::default(),
            stamp_we: Default::default(),
            stamp_addr: Default::default(),
            sel_addr: Default::default(),
            sel_hits: Default::default(),
            sel_used: Default::default(),
            sel_bytes: Default::default(),
            stamp_l: Bram::new(entries),
            stamp_h: Bram::new(entries),
            cnt_l: Bram::new(entries),
            cnt_h: Bram::new(entries),
            u_valid: Default::default(),
            u_addr: Default::default(),
            u_now: Default::default(),
            u_len: Default::default(),
            f_valid: Default::default(),
            f_addr: Default::default(),
            f_data: Default::default(),
            sum_ram: Default::default(),
            sum_fwd: Default::default(),
            hits: Default::default(),
            bsum_ram: Default::default(),
            bsum_fwd: Default::default(),
            len_b: Default::default(),
            bytes: Default::default(),
            upd: Default::default(),
            sh_hits: Constant::new(64u64.into()),
            sh_bytes: Constant::new(128u64.into()),
            sh_used: Constant::new(((128 + BYTES_BITS) as u64).into()),
        }
    }
}

impl Logic for StatsUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, u_valid, u_addr, u_now, u_len, f_valid, f_addr, f_data);
        self.stamp_l.clock.next = self.clock.val();
        self.stamp_h.clock.next = self.clock.val();
        self.cnt_l.clock.next = self.clock.val();
        self.cnt_h.clock.next = self.clock.val();
        // Stamp RAMs: written by commands only.
        self.stamp_l.waddr.next = self.stamp_addr.val();
        self.stamp_h.waddr.next = self.stamp_addr.val();
        self.stamp_l.wdata.next = self.now.val();
        self.stamp_h.wdata.next = self.now.val();
        self.stamp_l.we.next = self.stamp_we.val();
        self.stamp_h.we.next = self.stamp_we.val();
        // Update, cycle U0: read the counter and the entry's stamp.
        self.stamp_l.raddr.next = self.hit_addr.val();
        self.cnt_l.raddr.next = self.hit_addr.val();
        self.u_valid.d.next = self.hit.val();
        self.u_addr.d.next = self.hit_addr.val();
        self.u_now.d.next = self.now.val();
        self.u_len.d.next = self.hit_len.val();
        // Cycle U1: increment (forwarding the previous update) and write back.
        // The RAM word and the forwarded word are compared and incremented
        // in parallel and selected last, so the clock holds one 64-bit
        // compare or increment, not address compare, mux, compare and add
        // in series.
        self.sum_ram.next = self.cnt_l.rdata.val().get_bits::<64>(64) + 1;
        self.sum_fwd.next = self.f_data.q.val().get_bits::<64>(64) + 1;
        // Bytes wrap at 2^BYTES_BITS by design (the host takes deltas).
        self.len_b.next = bit_cast::<BYTES_BITS, LEN_BITS>(self.u_len.q.val());
        self.bsum_ram.next = self.cnt_l.rdata.val().get_bits::<BYTES_BITS>(128) + self.len_b.val();
        self.bsum_fwd.next = self.f_data.q.val().get_bits::<BYTES_BITS>(128) + self.len_b.val();
        self.hits.next = 1.into();
        self.bytes.next = self.len_b.val();
        if self.f_valid.q.val() & (self.f_addr.q.val() == self.u_addr.q.val()) {
            if self.f_data.q.val().get_bits::<64>(0) == self.stamp_l.rdata.val() {
                self.hits.next = self.sum_fwd.val();
                self.bytes.next = self.bsum_fwd.val();
            }
        } else if self.cnt_l.rdata.val().get_bits::<64>(0) == self.stamp_l.rdata.val() {
            self.hits.next = self.sum_ram.val();
            self.bytes.next = self.bsum_ram.val();
        }
        self.upd.next = bit_cast::<240, 64>(self.stamp_l.rdata.val())
            | (bit_cast::<240, 64>(self.hits.val()) << self.sh_hits.val())
            | (bit_cast::<240, BYTES_BITS>(self.bytes.val()) << self.sh_bytes.val())
            | (bit_cast::<240, 64>(self.u_now.q.val()) << self.sh_used.val());
        self.cnt_l.waddr.next = self.u_addr.q.val();
        self.cnt_h.waddr.next = self.u_addr.q.val();
        self.cnt_l.wdata.next = self.upd.val().get_bits::<176>(0);
        self.cnt_h.wdata.next = self.upd.val();
        self.cnt_l.we.next = self.u_valid.q.val();
        self.cnt_h.we.next = self.u_valid.q.val();
        self.f_valid.d.next = self.u_valid.q.val();
        self.f_addr.d.next = self.u_addr.q.val();
        self.f_data.d.next = self.upd.val().get_bits::<176>(0);
        // Host read.
        self.stamp_h.raddr.next = self.sel_addr.val();
        self.cnt_h.raddr.next = self.sel_addr.val();
        if self.cnt_h.rdata.val().get_bits::<64>(0) == self.stamp_h.rdata.val() {
            self.sel_hits.next = self.cnt_h.rdata.val().get_bits::<64>(64);
            self.sel_bytes.next =
                bit_cast::<64, BYTES_BITS>(self.cnt_h.rdata.val().get_bits::<BYTES_BITS>(128));
            self.sel_used.next = self.cnt_h.rdata.val().get_bits::<64>(176);
        } else {
            self.sel_hits.next = 0.into();
            self.sel_bytes.next = 0.into();
            self.sel_used.next = self.stamp_h.rdata.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simtools::{settle, tick};

    fn step(s: &mut StatsUnit, now: &mut u64) {
        s.now.next = (*now).into();
        tick(s, |s| &mut s.clock);
        *now += 1;
    }

    /// (hits, used, bytes) of entry `addr`.
    fn read(s: &mut StatsUnit, now: &mut u64, addr: u64) -> (u64, u64, u64) {
        s.hit.next = false;
        s.stamp_we.next = false;
        s.sel_addr.next = addr.into();
        step(s, now);
        (
            s.sel_hits.val().to_u64(),
            s.sel_used.val().to_u64(),
            s.sel_bytes.val().to_u64(),
        )
    }

    fn hit(s: &mut StatsUnit, now: &mut u64, addr: u64, len: u64) {
        s.hit.next = true;
        s.hit_addr.next = addr.into();
        s.hit_len.next = len.into();
        step(s, now);
    }

    #[test]
    fn counts_back_to_back_hits_and_resets_on_rewrite() {
        let mut s = StatsUnit::new(8);
        s.connect_all();
        settle(&mut s);
        let mut now = 100u64;
        // Write entry 3 at time 100.
        s.stamp_we.next = true;
        s.stamp_addr.next = 3.into();
        step(&mut s, &mut now);
        s.stamp_we.next = false;
        assert_eq!(read(&mut s, &mut now, 3), (0, 100, 0));
        // Hits on 3, 3, 5, 3, 3 on consecutive clocks, each its own length
        // (back to back: the forwarded word must carry the bytes too).
        let mut last3 = 0;
        let mut bytes3 = 0;
        for (a, len) in [(3u64, 64u64), (3, 9000), (5, 1500), (3, 65535), (3, 60)] {
            if a == 3 {
                last3 = now;
                bytes3 += len;
            }
            hit(&mut s, &mut now, a, len);
        }
        s.hit.next = false;
        step(&mut s, &mut now);
        step(&mut s, &mut now);
        assert_eq!(read(&mut s, &mut now, 3), (4, last3, bytes3));
        // Entry 5 was never written (stamp 0): its hit counts under stamp 0.
        assert_eq!(read(&mut s, &mut now, 5), (1, last3 - 2, 1500));
        // Hits one clock apart (RAM path, not the forwarded word).
        hit(&mut s, &mut now, 5, 100);
        s.hit.next = false;
        step(&mut s, &mut now);
        hit(&mut s, &mut now, 5, 200);
        s.hit.next = false;
        step(&mut s, &mut now);
        step(&mut s, &mut now);
        assert_eq!(read(&mut s, &mut now, 5).2, 1800);
        // Rewrite 3: counters read as reset, used = write time.
        let t = now;
        s.stamp_we.next = true;
        s.stamp_addr.next = 3.into();
        step(&mut s, &mut now);
        s.stamp_we.next = false;
        assert_eq!(read(&mut s, &mut now, 3), (0, t, 0));
        hit(&mut s, &mut now, 3, 1514);
        s.hit.next = false;
        step(&mut s, &mut now);
        step(&mut s, &mut now);
        let (h, _, b) = read(&mut s, &mut now, 3);
        assert_eq!((h, b), (1, 1514));
    }
}
