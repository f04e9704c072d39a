//! EMC stage: exact-match cache, two candidate positions per key.
//!
//! Timing (cycle 0 = the cycle `key` is presented, already registered by the
//! top): hash at cycle 2, both candidates read in the same clock, one from
//! each bank (`abi::geometry::emc_candidates` puts candidate 0 in entries
//! `[0, half)` and candidate 1 in `[half, 2·half)`, so each entry is stored
//! once and a write goes to the bank that owns it), per-word compare in cycle 3 (eight 64-bit equalities per
//! candidate, registered: a 512-bit compare in one clock would be the
//! longest path of the design), hit and priority in cycle 4, registered
//! result at cycle 5, aligned with the megaflow slots at cycle 6.

use crate::bram::Bram;
use crate::entry::{Entry, FLOW_LSB, IDX_BITS, VALID_BIT};
use crate::hash_unit::HashUnit;
use abi::Geometry;
use rust_hdl::prelude::*;

/// Cycles from `key` to `hit`/`index`/`flow`/`hash`: the megaflow slots'
/// (the EMC's own result is ready at cycle 5 and waits one clock so both
/// stages present in the same clock).
pub const EMC_LATENCY: usize = crate::megaflow::MF_LATENCY;
const _: () = assert!(EMC_LATENCY == 6);

/// The exact-match cache stage.
#[derive(LogicBlock)]
pub struct EmcStage {
    /// Pipeline clock.
    pub clock: Signal<In, Clock>,
    /// Lookup key (cycle 0).
    pub key: Signal<In, Bits<512>>,
    /// Entry write strobe (command port).
    pub wr_en: Signal<In, bool>,
    /// Entry index to write.
    pub wr_addr: Signal<In, Bits<IDX_BITS>>,
    /// Entry word to write ([`crate::entry`] layout).
    pub wr_data: Signal<In, Entry>,
    /// The key delayed to cycle 4 (the megaflow slots compare against it).
    pub key_d4: Signal<Out, Bits<512>>,
    /// Cycle 6: a valid entry holds exactly the key.
    pub hit: Signal<Out, bool>,
    /// Cycle 6: index of the hit entry.
    pub index: Signal<Out, Bits<IDX_BITS>>,
    /// Cycle 6: flow id of the hit entry.
    pub flow: Signal<Out, Bits<IDX_BITS>>,
    /// Cycle 6: the key's full hash (the EMC hash).
    pub hash: Signal<Out, Bits<32>>,
    hasher: HashUnit,
    ones: Constant<Bits<512>>,
    half_mask: Constant<Bits<32>>,
    half: Constant<Bits<32>>,
    bank_shift: Constant<Bits<8>>,
    bank_bit: Constant<Bits<16>>,
    wr_local: Signal<Local, Bits<IDX_BITS>>,
    wr_bank_b: Signal<Local, bool>,
    valid_bit: Constant<Bits<16>>,
    flow_lsb: Constant<Bits<16>>,
    cand_a: Signal<Local, Bits<32>>,
    cand_b: Signal<Local, Bits<32>>,
    ram_a: Bram<Entry>,
    ram_b: Bram<Entry>,
    key1: DFF<Bits<512>>,
    key2: DFF<Bits<512>>,
    key3: DFF<Bits<512>>,
    key4: DFF<Bits<512>>,
    hit6: DFF<bool>,
    index6: DFF<Bits<IDX_BITS>>,
    flow6: DFF<Bits<IDX_BITS>>,
    hash6: DFF<Bits<32>>,
    a3: DFF<Bits<IDX_BITS>>,
    b3: DFF<Bits<IDX_BITS>>,
    hash3: DFF<Bits<32>>,
    eq_a: Signal<Local, Bits<8>>,
    eq_b: Signal<Local, Bits<8>>,
    eq_a4: DFF<Bits<8>>,
    eq_b4: DFF<Bits<8>>,
    va4: DFF<bool>,
    vb4: DFF<bool>,
    fa4: DFF<Bits<IDX_BITS>>,
    fb4: DFF<Bits<IDX_BITS>>,
    a4: DFF<Bits<IDX_BITS>>,
    b4: DFF<Bits<IDX_BITS>>,
    hash4: DFF<Bits<32>>,
    hit_a: Signal<Local, bool>,
    hit_b: Signal<Local, bool>,
    hit_q: DFF<bool>,
    index_q: DFF<Bits<IDX_BITS>>,
    flow_q: DFF<Bits<IDX_BITS>>,
    hash_q: DFF<Bits<32>>,
}

impl EmcStage {
    /// An EMC sized by `g` (2^emc_log2_entries entries).
    pub fn new(g: &Geometry) -> Self {
        let half = g.emc_entries() as usize / 2;
        EmcStage {
            clock: Default::default(),
            key: Default::default(),
            wr_en: Default::default(),
            wr_addr: Default::default(),
            wr_data: Default::default(),
            key_d4: Default::default(),
            hit: Default::default(),
            index: Default::default(),
            flow: Default::default(),
            hash: Default::default(),
            hasher: HashUnit::default(),
            ones: Constant::new(!Bits::<512>::default()),
            half_mask: Constant::new(((half - 1) as u64).into()),
            half: Constant::new((half as u64).into()),
            bank_shift: Constant::new(((g.emc_log2_entries - 1) as u64).into()),
            bank_bit: Constant::new(((g.emc_log2_entries - 1) as u64).into()),
            wr_local: Default::default(),
            wr_bank_b: Default::default(),
            valid_bit: Constant::new((VALID_BIT as u64).into()),
            flow_lsb: Constant::new((FLOW_LSB as u64).into()),
            cand_a: Default::default(),
            cand_b: Default::default(),
            ram_a: Bram::new_pow2(half),
            ram_b: Bram::new_pow2(half),
            key1: Default::default(),
            key2: Default::default(),
            key3: Default::default(),
            key4: Default::default(),
            hit6: Default::default(),
            index6: Default::default(),
            flow6: Default::default(),
            hash6: Default::default(),
            a3: Default::default(),
            b3: Default::default(),
            hash3: Default::default(),
            eq_a: Default::default(),
            eq_b: Default::default(),
            eq_a4: Default::default(),
            eq_b4: Default::default(),
            va4: Default::default(),
            vb4: Default::default(),
            fa4: Default::default(),
            fb4: Default::default(),
            a4: Default::default(),
            b4: Default::default(),
            hash4: Default::default(),
            hit_a: Default::default(),
            hit_b: Default::default(),
            hit_q: Default::default(),
            index_q: Default::default(),
            flow_q: Default::default(),
            hash_q: Default::default(),
        }
    }
}

impl Logic for EmcStage {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, key1, key2, key3, key4, hit6, index6, flow6, hash6, a3, b3, hash3, eq_a4,
            eq_b4, va4, vb4, fa4, fb4, a4, b4, hash4, hit_q, index_q, flow_q, hash_q
        );
        self.hasher.clock.next = self.clock.val();
        self.ram_a.clock.next = self.clock.val();
        self.ram_b.clock.next = self.clock.val();
        // Cycles 0..2: hash; the key rides along for the compare.
        self.hasher.key.next = self.key.val();
        self.hasher.mask.next = self.ones.val();
        self.key1.d.next = self.key.val();
        self.key2.d.next = self.key1.q.val();
        self.key3.d.next = self.key2.q.val();
        self.key4.d.next = self.key3.q.val();
        self.key_d4.next = self.key4.q.val();
        // Cycle 2: abi::geometry::emc_candidates, as wire selections (the
        // RAMs take the low bits: the bank is the candidate's number).
        self.cand_a.next = self.hasher.hash.val() & self.half_mask.val();
        self.cand_b.next = self.half.val()
            | ((self.hasher.hash.val() >> self.bank_shift.val()) & self.half_mask.val());
        self.ram_a.raddr.next = bit_cast::<IDX_BITS, 32>(self.cand_a.val());
        self.ram_b.raddr.next = bit_cast::<IDX_BITS, 32>(self.cand_b.val());
        self.a3.d.next = bit_cast::<IDX_BITS, 32>(self.cand_a.val());
        self.b3.d.next = bit_cast::<IDX_BITS, 32>(self.cand_b.val());
        self.hash3.d.next = self.hasher.hash.val();
        // Command port: a write goes to the bank that owns its index.
        self.wr_bank_b.next = self.wr_addr.val().get_bit(self.bank_bit.val().index());
        self.wr_local.next = self.wr_addr.val() & bit_cast::<IDX_BITS, 32>(self.half_mask.val());
        self.ram_a.waddr.next = self.wr_local.val();
        self.ram_a.wdata.next = self.wr_data.val();
        self.ram_a.we.next = self.wr_en.val() & !self.wr_bank_b.val();
        self.ram_b.waddr.next = self.wr_local.val();
        self.ram_b.wdata.next = self.wr_data.val();
        self.ram_b.we.next = self.wr_en.val() & self.wr_bank_b.val();
        // Cycle 3: per-word compare of both candidates.
        self.eq_a.next = 0.into();
        self.eq_b.next = 0.into();
        for i in 0..8 {
            self.eq_a.next = self.eq_a.val().replace_bit(
                i,
                self.ram_a.rdata.val().get_bits::<64>(i * 64)
                    == self.key3.q.val().get_bits::<64>(i * 64),
            );
            self.eq_b.next = self.eq_b.val().replace_bit(
                i,
                self.ram_b.rdata.val().get_bits::<64>(i * 64)
                    == self.key3.q.val().get_bits::<64>(i * 64),
            );
        }
        self.eq_a4.d.next = self.eq_a.val();
        self.eq_b4.d.next = self.eq_b.val();
        self.va4.d.next = self.ram_a.rdata.val().get_bit(self.valid_bit.val().index());
        self.vb4.d.next = self.ram_b.rdata.val().get_bit(self.valid_bit.val().index());
        self.fa4.d.next = self
            .ram_a
            .rdata
            .val()
            .get_bits::<IDX_BITS>(self.flow_lsb.val().index());
        self.fb4.d.next = self
            .ram_b
            .rdata
            .val()
            .get_bits::<IDX_BITS>(self.flow_lsb.val().index());
        self.a4.d.next = self.a3.q.val();
        self.b4.d.next = self.b3.q.val();
        self.hash4.d.next = self.hash3.q.val();
        // Cycle 4: hit and priority (candidate a first).
        self.hit_a.next = self.va4.q.val() & self.eq_a4.q.val().all();
        self.hit_b.next = self.vb4.q.val() & self.eq_b4.q.val().all();
        self.hit_q.d.next = self.hit_a.val() | self.hit_b.val();
        if self.hit_a.val() {
            self.index_q.d.next = self.a4.q.val();
            self.flow_q.d.next = self.fa4.q.val();
        } else {
            self.index_q.d.next = self.b4.q.val();
            self.flow_q.d.next = self.fb4.q.val();
        }
        self.hash_q.d.next = self.hash4.q.val();
        // Cycle 5: one clock of alignment with the megaflow slots.
        self.hit6.d.next = self.hit_q.q.val();
        self.index6.d.next = self.index_q.q.val();
        self.flow6.d.next = self.flow_q.q.val();
        self.hash6.d.next = self.hash_q.q.val();
        // Cycle 6.
        self.hit.next = self.hit6.q.val();
        self.index.next = self.index6.q.val();
        self.flow.next = self.flow6.q.val();
        self.hash.next = self.hash6.q.val();
    }
}
