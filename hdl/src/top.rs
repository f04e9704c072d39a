//! `fastpath_top`: lookup port → EMC ∥ megaflow slots → result, miss queue,
//! per-entry statistics and the AXI4-Lite register file.
//!
//! Pipeline (cycle 0 = the clock after the lookup was accepted):
//! cycle 0 input register; 1–2 hash units (EMC hash and one masked hash per
//! slot, in parallel); 2→3 RAM reads (EMC candidates; megaflow way words);
//! 3 EMC per-word compares, megaflow signature match → key RAM read; 4 EMC
//! hit, megaflow per-word compares; 5 megaflow hit (the EMC result waits);
//! 6 result select (EMC, else lowest hitting slot, else miss),
//! miss-queue push, statistics update, result-queue push; the result queue
//! shows the result two clocks later. Lookups are accepted every clock while
//! the result queue has room for every lookup in flight (`lk_ready`), so a
//! stalled consumer backs up into `lk_ready` and nothing is dropped.

use crate::bram::ADDR_BITS;
use crate::emc::{EmcStage, EMC_LATENCY};
use crate::entry::Entry;
use crate::entry::IDX_BITS;
use crate::fifo::Fifo;
use crate::hash_unit::{HashUnit, HASH_LATENCY};
use crate::megaflow::{MfSlot, MF_KEY_DELAY, MF_LATENCY};
use crate::regfile::{RegFile, AXIL_ADDR_BITS, EDIT_BITS, MISS_WORD_BITS};
use crate::regfile32::Axil32To64;
use crate::stats::{StatsUnit, LEN_BITS};
use abi::regs::{self, Capability, HitKind};
use abi::Geometry;
use rust_hdl::prelude::*;

const _: () = assert!(EMC_LATENCY == MF_LATENCY);
// The top's delay lines below are written out for these values.
const _: () = assert!(MF_LATENCY == 6 && MF_KEY_DELAY == 4 && HASH_LATENCY == 2);

/// Clocks from the clock in which `lk_valid && lk_ready` to the first clock
/// in which `res_valid` shows that lookup's result (input register, stages,
/// result-queue write and its one-clock visibility delay). Announced in
/// `CAP_LATENCY`.
pub const PIPE_LATENCY: usize = 1 + EMC_LATENCY + 2;

/// log2 of the result-queue depth; must exceed the latency for II = 1.
pub const RES_LOG2_DEPTH: u8 = 4;
const _: () = assert!(1 << RES_LOG2_DEPTH > PIPE_LATENCY + 1);

/// Width of a result-queue word: result word, tag, hash.
const RES_WORD_BITS: usize = 128;

fn c<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(v.into())
}

/// The whole pipeline with its register interface.
#[derive(LogicBlock)]
pub struct FastpathTop {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high.
    pub reset: Signal<In, bool>,
    /// A lookup is offered.
    pub lk_valid: Signal<In, bool>,
    /// The pipeline takes the offered lookup.
    pub lk_ready: Signal<Out, bool>,
    /// Lookup key: word `i` of `abi::FlowKey` in bits `64 i + 63 .. 64 i`.
    pub lk_key: Signal<In, Bits<512>>,
    /// Opaque packet tag, returned with the result and queued with a miss.
    pub lk_tag: Signal<In, Bits<32>>,
    /// Frame length in bytes, added to the hit entry's byte counter (a
    /// look-aside host that sends no length gets 0 bytes counted).
    pub lk_len: Signal<In, Bits<LEN_BITS>>,
    /// A result is presented.
    pub res_valid: Signal<Out, bool>,
    /// The consumer takes the result.
    pub res_ready: Signal<In, bool>,
    /// Result word (`abi::regs::RESULT_FIELDS`).
    pub res_word: Signal<Out, Bits<64>>,
    /// Tag of the lookup.
    pub res_tag: Signal<Out, Bits<32>>,
    /// Full-key hash (EMC hash) of the lookup.
    pub res_hash: Signal<Out, Bits<32>>,
    /// Action RAM write port: enable. The RAM itself is the packet path's
    /// (one word per table position, as the statistics); the core only
    /// writes it, in the clock its entry is written.
    pub act_we: Signal<Out, bool>,
    /// Action RAM write port: table position (EMC index, or the megaflow
    /// slot's base plus its index, as the statistics address).
    pub act_addr: Signal<Out, Bits<ADDR_BITS>>,
    /// Action RAM write port: the action word (`abi::action::ACTION_ENTRY`).
    pub act_word: Signal<Out, Bits<64>>,
    /// Edit-table write port: enable (an `EditWrite` command). The table
    /// is the packet path's; the core only writes it.
    pub edit_we: Signal<Out, bool>,
    /// Edit-table write port: the entry (`AE_EDIT_INDEX`).
    pub edit_addr: Signal<Out, Bits<ADDR_BITS>>,
    /// Edit-table write port: the entry's words (`abi::action::EDIT_ENTRY`).
    pub edit_word: Signal<Out, Bits<EDIT_BITS>>,
    /// AXI4-Lite slave (see [`RegFile`]).
    pub s_axil_awaddr: Signal<In, Bits<AXIL_ADDR_BITS>>,
    /// AXI4-Lite.
    pub s_axil_awprot: Signal<In, Bits<3>>,
    /// AXI4-Lite.
    pub s_axil_awvalid: Signal<In, bool>,
    /// AXI4-Lite.
    pub s_axil_awready: Signal<Out, bool>,
    /// AXI4-Lite.
    pub s_axil_wdata: Signal<In, Bits<64>>,
    /// AXI4-Lite.
    pub s_axil_wstrb: Signal<In, Bits<8>>,
    /// AXI4-Lite.
    pub s_axil_wvalid: Signal<In, bool>,
    /// AXI4-Lite.
    pub s_axil_wready: Signal<Out, bool>,
    /// AXI4-Lite.
    pub s_axil_bresp: Signal<Out, Bits<2>>,
    /// AXI4-Lite.
    pub s_axil_bvalid: Signal<Out, bool>,
    /// AXI4-Lite.
    pub s_axil_bready: Signal<In, bool>,
    /// AXI4-Lite.
    pub s_axil_araddr: Signal<In, Bits<AXIL_ADDR_BITS>>,
    /// AXI4-Lite.
    pub s_axil_arprot: Signal<In, Bits<3>>,
    /// AXI4-Lite.
    pub s_axil_arvalid: Signal<In, bool>,
    /// AXI4-Lite.
    pub s_axil_arready: Signal<Out, bool>,
    /// AXI4-Lite.
    pub s_axil_rdata: Signal<Out, Bits<64>>,
    /// AXI4-Lite.
    pub s_axil_rresp: Signal<Out, Bits<2>>,
    /// AXI4-Lite.
    pub s_axil_rvalid: Signal<Out, bool>,
    /// AXI4-Lite.
    pub s_axil_rready: Signal<In, bool>,

    regs: RegFile,
    emc: EmcStage,
    mf: Vec<MfSlot>,
    stats: StatsUnit,
    missq: Fifo<Bits<MISS_WORD_BITS>>,
    resq: Fifo<Bits<RES_WORD_BITS>>,
    v0: DFF<bool>,
    key0: DFF<Bits<512>>,
    tag0: DFF<Bits<32>>,
    len0: DFF<Bits<LEN_BITS>>,
    len1: DFF<Bits<LEN_BITS>>,
    len2: DFF<Bits<LEN_BITS>>,
    len3: DFF<Bits<LEN_BITS>>,
    len4: DFF<Bits<LEN_BITS>>,
    len5: DFF<Bits<LEN_BITS>>,
    len6: DFF<Bits<LEN_BITS>>,
    v6: DFF<bool>,
    tag6: DFF<Bits<32>>,
    key6: DFF<Bits<512>>,
    wr_hasher: HashUnit,
    ones: Constant<Bits<512>>,
    mw_en: [DFF<bool>; 2],
    mw_all: [DFF<bool>; 2],
    mw_slot: [DFF<Bits<8>>; 2],
    mw_bucket: [DFF<Bits<IDX_BITS>>; 2],
    mw_way: [DFF<Bits<8>>; 2],
    mw_data: [DFF<Entry>; 2],
    kw_en: DFF<bool>,
    kw_slot: DFF<Bits<8>>,
    kw_bucket: DFF<Bits<IDX_BITS>>,
    kw_way: DFF<Bits<8>>,
    kw_key: DFF<Bits<512>>,
    ew_en: [DFF<bool>; 2],
    ew_addr: [DFF<Bits<IDX_BITS>>; 2],
    st_we: [DFF<bool>; 2],
    st_addr: [DFF<Bits<ADDR_BITS>>; 2],
    ac_we: [DFF<bool>; 2],
    ac_word: [DFF<Bits<64>>; 2],
    v1: DFF<bool>,
    v2: DFF<bool>,
    v3: DFF<bool>,
    v4: DFF<bool>,
    tag1: DFF<Bits<32>>,
    tag2: DFF<Bits<32>>,
    tag3: DFF<Bits<32>>,
    tag4: DFF<Bits<32>>,
    v5: DFF<bool>,
    tag5: DFF<Bits<32>>,
    key5: DFF<Bits<512>>,
    outstanding: DFF<Bits<8>>,
    stat_hit: DFF<bool>,
    stat_addr: DFF<Bits<ADDR_BITS>>,
    stat_len: DFF<Bits<LEN_BITS>>,
    accept: Signal<Local, bool>,
    res_pop: Signal<Local, bool>,
    mf_any: Signal<Local, bool>,
    mf_slot: Signal<Local, Bits<8>>,
    mf_index: Signal<Local, Bits<IDX_BITS>>,
    mf_flow: Signal<Local, Bits<IDX_BITS>>,
    mf_stat: Signal<Local, Bits<ADDR_BITS>>,
    mf_base: Signal<Local, Bits<ADDR_BITS>>,
    word: Signal<Local, Bits<64>>,
    miss: Signal<Local, bool>,
    res_limit: Constant<Bits<8>>,
    k_miss: Constant<Bits<64>>,
    k_emc: Constant<Bits<64>>,
    k_mf: Constant<Bits<64>>,
    sh_kind: Constant<Bits<8>>,
    sh_slot: Constant<Bits<8>>,
    sh_index: Constant<Bits<8>>,
    sh_flow: Constant<Bits<8>>,
    sh_miss_hash: Constant<Bits<16>>,
    sh_miss_tag: Constant<Bits<16>>,
    sh_res_tag: Constant<Bits<8>>,
    sh_res_hash: Constant<Bits<8>>,
    sh_word: Constant<Bits<8>>,
    slot_id: Vec<Constant<Bits<8>>>,
    slot_base: Vec<Constant<Bits<ADDR_BITS>>>,
    _slots: usize,
}

impl FastpathTop {
    /// Hash units a build of geometry `g` instantiates: the EMC's, one per
    /// mask slot and the command hash unit (the signatures of written
    /// megaflow entries). The simulator's stand-in replaces each.
    pub fn hash_units(g: &Geometry) -> usize {
        2 + g.mf_slots as usize
    }

    /// The capability block a look-aside build with geometry `g` announces
    /// (no packet path: `CAP_ACTIONS` reads 0).
    pub fn capability(g: &Geometry, clock_khz: u32) -> Capability {
        Capability::new(*g, PIPE_LATENCY as u8, clock_khz)
    }

    /// A pipeline sized by `g` (which must pass `Geometry::validate`, as
    /// [`crate::config::BuildConfig`] ensures); `clock_khz` is announced in
    /// `CAP_CLOCK`.
    pub fn new(g: &Geometry, clock_khz: u32) -> Self {
        Self::with_capability(g, &Self::capability(g, clock_khz))
    }

    /// [`FastpathTop::new`] announcing `cap` (the NIC's, with its packet
    /// path); `cap.geometry` must be `g`.
    pub fn with_capability(g: &Geometry, cap: &Capability) -> Self {
        assert_eq!(*g, cap.geometry, "capability of another geometry");
        let s = g.mf_slots as usize;
        let n_emc = g.emc_entries() as u64;
        let n_mf = g.mf_entries_per_slot() as u64;
        let stats_entries = (n_emc + s as u64 * n_mf) as usize;
        let miss_meta_lsb = 512u64;
        FastpathTop {
            clock: Default::default(),
            reset: Default::default(),
            lk_valid: Default::default(),
            lk_ready: Default::default(),
            lk_key: Default::default(),
            lk_tag: Default::default(),
            lk_len: Default::default(),
            res_valid: Default::default(),
            res_ready: Default::default(),
            res_word: Default::default(),
            res_tag: Default::default(),
            res_hash: Default::default(),
            act_we: Default::default(),
            act_addr: Default::default(),
            act_word: Default::default(),
            edit_we: Default::default(),
            edit_addr: Default::default(),
            edit_word: Default::default(),
            s_axil_awaddr: Default::default(),
            s_axil_awprot: Default::default(),
            s_axil_awvalid: Default::default(),
            s_axil_awready: Default::default(),
            s_axil_wdata: Default::default(),
            s_axil_wstrb: Default::default(),
            s_axil_wvalid: Default::default(),
            s_axil_wready: Default::default(),
            s_axil_bresp: Default::default(),
            s_axil_bvalid: Default::default(),
            s_axil_bready: Default::default(),
            s_axil_araddr: Default::default(),
            s_axil_arprot: Default::default(),
            s_axil_arvalid: Default::default(),
            s_axil_arready: Default::default(),
            s_axil_rdata: Default::default(),
            s_axil_rresp: Default::default(),
            s_axil_rvalid: Default::default(),
            s_axil_rready: Default::default(),
            regs: RegFile::new(cap),
            emc: EmcStage::new(g),
            mf: (0..s).map(|_| MfSlot::new(g)).collect(),
            stats: StatsUnit::new(stats_entries),
            missq: Fifo::new(g.missq_log2_depth),
            resq: Fifo::new(RES_LOG2_DEPTH),
            v0: Default::default(),
            key0: Default::default(),
            tag0: Default::default(),
            v1: Default::default(),
            v2: Default::default(),
            v3: Default::default(),
            v4: Default::default(),
            tag1: Default::default(),
            tag2: Default::default(),
            tag3: Default::default(),
            tag4: Default::default(),
            v5: Default::default(),
            tag5: Default::default(),
            key5: Default::default(),
            outstanding: Default::default(),
            stat_hit: Default::default(),
            stat_addr: Default::default(),
            stat_len: Default::default(),
            len0: Default::default(),
            len1: Default::default(),
            len2: Default::default(),
            len3: Default::default(),
            len4: Default::default(),
            len5: Default::default(),
            len6: Default::default(),
            v6: Default::default(),
            tag6: Default::default(),
            key6: Default::default(),
            wr_hasher: HashUnit::default(),
            ones: Constant::new(!Bits::<512>::default()),
            mw_en: Default::default(),
            mw_all: Default::default(),
            mw_slot: Default::default(),
            mw_bucket: Default::default(),
            mw_way: Default::default(),
            mw_data: Default::default(),
            kw_en: Default::default(),
            kw_slot: Default::default(),
            kw_bucket: Default::default(),
            kw_way: Default::default(),
            kw_key: Default::default(),
            ew_en: Default::default(),
            ew_addr: Default::default(),
            st_we: Default::default(),
            st_addr: Default::default(),
            ac_we: Default::default(),
            ac_word: Default::default(),
            accept: Default::default(),
            res_pop: Default::default(),
            mf_any: Default::default(),
            mf_slot: Default::default(),
            mf_index: Default::default(),
            mf_flow: Default::default(),
            mf_stat: Default::default(),
            mf_base: Default::default(),
            word: Default::default(),
            miss: Default::default(),
            res_limit: c(1 << RES_LOG2_DEPTH),
            k_miss: c(HitKind::Miss as u64),
            k_emc: c(HitKind::Emc as u64),
            k_mf: c(HitKind::Megaflow as u64),
            sh_kind: c(regs::RESULT_KIND.shift() as u64),
            sh_slot: c(regs::RESULT_SLOT.shift() as u64),
            sh_index: c(regs::RESULT_INDEX.shift() as u64),
            sh_flow: c(regs::RESULT_FLOW_ID.shift() as u64),
            sh_miss_hash: c(miss_meta_lsb + regs::MISS_HASH.shift() as u64),
            sh_miss_tag: c(miss_meta_lsb + regs::MISS_TAG.shift() as u64),
            sh_res_tag: c(64),
            sh_res_hash: c(96),
            sh_word: c(0),
            slot_id: (0..s).map(|i| c(i as u64)).collect(),
            slot_base: (0..s).map(|i| c(n_emc + i as u64 * n_mf)).collect(),
            _slots: s,
        }
    }
}

impl Logic for FastpathTop {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            v0,
            key0,
            tag0,
            v1,
            v2,
            v3,
            v4,
            tag1,
            tag2,
            tag3,
            tag4,
            v5,
            tag5,
            key5,
            outstanding,
            stat_hit,
            stat_addr,
            stat_len,
            len0,
            len1,
            len2,
            len3,
            len4,
            len5,
            len6,
            kw_en,
            kw_slot,
            kw_bucket,
            kw_way,
            kw_key,
            v6,
            tag6,
            key6
        );
        self.wr_hasher.clock.next = self.clock.val();
        for i in 0..2 {
            self.mw_en[i].clock.next = self.clock.val();
            self.mw_all[i].clock.next = self.clock.val();
            self.mw_slot[i].clock.next = self.clock.val();
            self.mw_bucket[i].clock.next = self.clock.val();
            self.mw_way[i].clock.next = self.clock.val();
            self.mw_data[i].clock.next = self.clock.val();
            self.ew_en[i].clock.next = self.clock.val();
            self.ew_addr[i].clock.next = self.clock.val();
            self.st_we[i].clock.next = self.clock.val();
            self.st_addr[i].clock.next = self.clock.val();
            self.ac_we[i].clock.next = self.clock.val();
            self.ac_word[i].clock.next = self.clock.val();
        }
        self.regs.clock.next = self.clock.val();
        self.emc.clock.next = self.clock.val();
        self.stats.clock.next = self.clock.val();
        self.missq.clock.next = self.clock.val();
        self.resq.clock.next = self.clock.val();
        self.regs.reset.next = self.reset.val();
        self.missq.reset.next = self.reset.val();
        self.resq.reset.next = self.reset.val();
        // Register bus.
        self.regs.s_axil_awaddr.next = self.s_axil_awaddr.val();
        self.regs.s_axil_awprot.next = self.s_axil_awprot.val();
        self.regs.s_axil_awvalid.next = self.s_axil_awvalid.val();
        self.s_axil_awready.next = self.regs.s_axil_awready.val();
        self.regs.s_axil_wdata.next = self.s_axil_wdata.val();
        self.regs.s_axil_wstrb.next = self.s_axil_wstrb.val();
        self.regs.s_axil_wvalid.next = self.s_axil_wvalid.val();
        self.s_axil_wready.next = self.regs.s_axil_wready.val();
        self.s_axil_bresp.next = self.regs.s_axil_bresp.val();
        self.s_axil_bvalid.next = self.regs.s_axil_bvalid.val();
        self.regs.s_axil_bready.next = self.s_axil_bready.val();
        self.regs.s_axil_araddr.next = self.s_axil_araddr.val();
        self.regs.s_axil_arprot.next = self.s_axil_arprot.val();
        self.regs.s_axil_arvalid.next = self.s_axil_arvalid.val();
        self.s_axil_arready.next = self.regs.s_axil_arready.val();
        self.s_axil_rdata.next = self.regs.s_axil_rdata.val();
        self.s_axil_rresp.next = self.regs.s_axil_rresp.val();
        self.s_axil_rvalid.next = self.regs.s_axil_rvalid.val();
        self.regs.s_axil_rready.next = self.s_axil_rready.val();

        // Cycle -1: accept while every lookup in flight has a result slot.
        self.lk_ready.next = self.regs.lookup_enable.val()
            & !self.reset.val()
            & (self.outstanding.q.val() < self.res_limit.val())
            & !self.resq.full.val();
        self.accept.next = self.lk_valid.val()
            & self.regs.lookup_enable.val()
            & !self.reset.val()
            & (self.outstanding.q.val() < self.res_limit.val())
            & !self.resq.full.val();
        self.res_pop.next = self.resq.level.val().any() & self.res_ready.val();
        if self.accept.val() & !self.res_pop.val() {
            self.outstanding.d.next = self.outstanding.q.val() + 1;
        }
        if !self.accept.val() & self.res_pop.val() {
            self.outstanding.d.next = self.outstanding.q.val() - 1;
        }
        // Cycle 0: input register; the valid bit and tag ride along.
        self.v0.d.next = self.accept.val();
        self.key0.d.next = self.lk_key.val();
        self.tag0.d.next = self.lk_tag.val();
        self.len0.d.next = self.lk_len.val();
        self.len1.d.next = self.len0.q.val();
        self.len2.d.next = self.len1.q.val();
        self.len3.d.next = self.len2.q.val();
        self.len4.d.next = self.len3.q.val();
        self.len5.d.next = self.len4.q.val();
        self.len6.d.next = self.len5.q.val();
        self.v1.d.next = self.v0.q.val();
        self.v2.d.next = self.v1.q.val();
        self.v3.d.next = self.v2.q.val();
        self.v4.d.next = self.v3.q.val();
        self.tag1.d.next = self.tag0.q.val();
        self.tag2.d.next = self.tag1.q.val();
        self.tag3.d.next = self.tag2.q.val();
        self.tag4.d.next = self.tag3.q.val();
        self.v5.d.next = self.v4.q.val();
        self.tag5.d.next = self.tag4.q.val();
        self.key5.d.next = self.emc.key_d4.val();
        self.v6.d.next = self.v5.q.val();
        self.tag6.d.next = self.tag5.q.val();
        self.key6.d.next = self.key5.q.val();

        // Cycles 0..5: EMC and every megaflow slot in parallel.
        self.emc.key.next = self.key0.q.val();
        // Every table write (EMC, megaflow, stamp, action) takes the same
        // HASH_LATENCY delay line, so they stay in the clock relation the
        // command engine gives them (an entry and its action change together).
        self.ew_en[0].d.next = self.regs.emc_we.val();
        self.ew_addr[0].d.next = self.regs.emc_addr.val();
        self.st_we[0].d.next = self.regs.stamp_we.val();
        self.st_addr[0].d.next = self.regs.stamp_addr.val();
        self.ac_we[0].d.next = self.regs.act_we.val();
        self.ac_word[0].d.next = self.regs.act_word.val();
        self.ew_en[1].d.next = self.ew_en[0].q.val();
        self.ew_addr[1].d.next = self.ew_addr[0].q.val();
        self.st_we[1].d.next = self.st_we[0].q.val();
        self.st_addr[1].d.next = self.st_addr[0].q.val();
        self.ac_we[1].d.next = self.ac_we[0].q.val();
        self.ac_word[1].d.next = self.ac_word[0].q.val();
        self.emc.wr_en.next = self.ew_en[1].q.val();
        self.emc.wr_addr.next = self.ew_addr[1].q.val();
        self.emc.wr_data.next = self.mw_data[1].q.val();
        // Megaflow writes wait HASH_LATENCY clocks for the hash of their
        // (already masked) key, whose signatures the way words store: one
        // command hash unit for every slot (hash_masked(k, m) is the hash
        // of k & m under an all-ones mask).
        self.wr_hasher.key.next = self.regs.entry_data.val().get_bits::<512>(0);
        self.wr_hasher.mask.next = self.ones.val();
        self.mw_en[0].d.next = self.regs.mf_we.val();
        self.mw_all[0].d.next = self.regs.mf_all.val();
        self.mw_slot[0].d.next = self.regs.mf_slot.val();
        self.mw_bucket[0].d.next = self.regs.mf_bucket.val();
        self.mw_way[0].d.next = self.regs.mf_way.val();
        self.mw_data[0].d.next = self.regs.entry_data.val();
        self.mw_en[1].d.next = self.mw_en[0].q.val();
        self.mw_all[1].d.next = self.mw_all[0].q.val();
        self.mw_slot[1].d.next = self.mw_slot[0].q.val();
        self.mw_bucket[1].d.next = self.mw_bucket[0].q.val();
        self.mw_way[1].d.next = self.mw_way[0].q.val();
        self.mw_data[1].d.next = self.mw_data[0].q.val();
        // The slots write a key the clock after its way word.
        self.kw_en.d.next = self.mw_en[1].q.val() & !self.mw_all[1].q.val();
        self.kw_slot.d.next = self.mw_slot[1].q.val();
        self.kw_bucket.d.next = self.mw_bucket[1].q.val();
        self.kw_way.d.next = self.mw_way[1].q.val();
        self.kw_key.d.next = self.mw_data[1].q.val().get_bits::<512>(0);
        for s in 0..self._slots {
            self.mf[s].clock.next = self.clock.val();
            self.mf[s].kw_en.next =
                self.kw_en.q.val() & (self.kw_slot.q.val() == self.slot_id[s].val());
            self.mf[s].kw_bucket.next = self.kw_bucket.q.val();
            self.mf[s].kw_way.next = self.kw_way.q.val();
            self.mf[s].kw_key.next = self.kw_key.q.val();
            self.mf[s].key.next = self.key0.q.val();
            self.mf[s].key_d4.next = self.emc.key_d4.val();
            self.mf[s].mask.next = self.regs.masks[s].val();
            self.mf[s].enabled.next = self.regs.mask_en[s].val();
            self.mf[s].wr_en.next = self.mw_en[1].q.val()
                & (self.mw_all[1].q.val() | (self.mw_slot[1].q.val() == self.slot_id[s].val()));
            self.mf[s].wr_all.next = self.mw_all[1].q.val();
            self.mf[s].wr_bucket.next = self.mw_bucket[1].q.val();
            self.mf[s].wr_way.next = self.mw_way[1].q.val();
            self.mf[s].wr_data.next = self.mw_data[1].q.val();
            self.mf[s].wr_hash.next = self.wr_hasher.hash.val();
        }

        // Cycle 6: megaflows never overlap, so any hit is the hit; the lowest
        // slot is reported (a fixed priority keeps results deterministic).
        self.mf_any.next = false;
        self.mf_slot.next = 0.into();
        self.mf_index.next = 0.into();
        self.mf_flow.next = 0.into();
        self.mf_base.next = 0.into();
        for s in 0..self._slots {
            if !self.mf_any.val() & self.mf[s].hit.val() {
                self.mf_any.next = true;
                self.mf_slot.next = self.slot_id[s].val();
                self.mf_index.next = self.mf[s].index.val();
                self.mf_flow.next = self.mf[s].flow.val();
                self.mf_base.next = self.slot_base[s].val();
            }
        }
        self.mf_stat.next =
            self.mf_base.val() + bit_cast::<ADDR_BITS, IDX_BITS>(self.mf_index.val());
        self.miss.next = self.v6.q.val() & !self.emc.hit.val() & !self.mf_any.val();
        // The statistics update takes the hit one clock later from registers, so
        // the slot priority and the address add are not in front of the
        // counter RAM's address setup.
        self.stat_hit.d.next = self.v6.q.val() & (self.emc.hit.val() | self.mf_any.val());
        self.stats.hit.next = self.stat_hit.q.val();
        self.stats.hit_addr.next = self.stat_addr.q.val();
        self.stat_len.d.next = self.len6.q.val();
        self.stats.hit_len.next = self.stat_len.q.val();
        self.stats.now.next = self.regs.now.val();
        self.stats.stamp_we.next = self.st_we[1].q.val();
        self.stats.stamp_addr.next = self.st_addr[1].q.val();
        self.act_we.next = self.ac_we[1].q.val();
        self.act_addr.next = self.st_addr[1].q.val();
        self.act_word.next = self.ac_word[1].q.val();
        // Edit entries have no table position: nothing to keep in step with.
        self.edit_we.next = self.regs.edit_we.val();
        self.edit_addr.next = self.regs.edit_addr.val();
        self.edit_word.next = self.regs.edit_word.val();
        self.stats.sel_addr.next = self.regs.stats_sel.val();
        self.regs.stats_hits.next = self.stats.sel_hits.val();
        self.regs.stats_used.next = self.stats.sel_used.val();
        self.regs.stats_bytes.next = self.stats.sel_bytes.val();
        if self.emc.hit.val() {
            self.stat_addr.d.next = bit_cast::<ADDR_BITS, IDX_BITS>(self.emc.index.val());
            self.word.next = (self.k_emc.val() << self.sh_kind.val())
                | (bit_cast::<64, IDX_BITS>(self.emc.index.val()) << self.sh_index.val())
                | (bit_cast::<64, IDX_BITS>(self.emc.flow.val()) << self.sh_flow.val());
        } else {
            self.stat_addr.d.next = self.mf_stat.val();
            if self.mf_any.val() {
                self.word.next = (self.k_mf.val() << self.sh_kind.val())
                    | (bit_cast::<64, 8>(self.mf_slot.val()) << self.sh_slot.val())
                    | (bit_cast::<64, IDX_BITS>(self.mf_index.val()) << self.sh_index.val())
                    | (bit_cast::<64, IDX_BITS>(self.mf_flow.val()) << self.sh_flow.val());
            } else {
                self.word.next = self.k_miss.val() << self.sh_kind.val();
            }
        }
        // Result queue (room guaranteed by `outstanding`).
        self.resq.push.next = self.v6.q.val();
        self.resq.din.next = bit_cast::<RES_WORD_BITS, 64>(self.word.val())
            | (bit_cast::<RES_WORD_BITS, 32>(self.tag6.q.val()) << self.sh_res_tag.val())
            | (bit_cast::<RES_WORD_BITS, 32>(self.emc.hash.val()) << self.sh_res_hash.val());
        self.resq.pop.next = self.res_pop.val();
        self.res_valid.next = self.resq.level.val().any();
        self.res_word.next = self
            .resq
            .dout
            .val()
            .get_bits::<64>(self.sh_word.val().index());
        self.res_tag.next = self
            .resq
            .dout
            .val()
            .get_bits::<32>(self.sh_res_tag.val().index());
        self.res_hash.next = self
            .resq
            .dout
            .val()
            .get_bits::<32>(self.sh_res_hash.val().index());
        // Miss queue: key, hash and tag; a full queue drops and counts.
        self.missq.push.next = self.miss.val();
        self.missq.din.next = bit_cast::<MISS_WORD_BITS, 512>(self.key6.q.val())
            | (bit_cast::<MISS_WORD_BITS, 32>(self.emc.hash.val()) << self.sh_miss_hash.val())
            | (bit_cast::<MISS_WORD_BITS, 32>(self.tag6.q.val()) << self.sh_miss_tag.val());
        self.missq.pop.next = self.regs.missq_pop.val();
        self.regs.missq_level.next = self.missq.level.val();
        self.regs.missq_head.next = self.missq.dout.val();
        // Global counters.
        self.regs.ev_lookup.next = self.accept.val();
        self.regs.ev_emc_hit.next = self.v6.q.val() & self.emc.hit.val();
        self.regs.ev_mf_hit.next = self.v6.q.val() & !self.emc.hit.val() & self.mf_any.val();
        self.regs.ev_miss.next = self.miss.val();
        self.regs.ev_miss_drop.next = self.miss.val() & self.missq.full.val();

        if self.reset.val() {
            self.v0.d.next = false;
            self.v1.d.next = false;
            self.v2.d.next = false;
            self.v3.d.next = false;
            self.v4.d.next = false;
            self.v5.d.next = false;
            self.v6.d.next = false;
            self.mw_en[0].d.next = false;
            self.mw_en[1].d.next = false;
            self.kw_en.d.next = false;
            self.ew_en[0].d.next = false;
            self.ew_en[1].d.next = false;
            self.st_we[0].d.next = false;
            self.st_we[1].d.next = false;
            self.ac_we[0].d.next = false;
            self.ac_we[1].d.next = false;
            self.stat_hit.d.next = false;
            self.outstanding.d.next = 0.into();
        }
    }
}

/// [`FastpathTop`] with a 32-bit AXI4-Lite slave (`fastpath_top32`), for
/// shells with a 32-bit control master; see [`crate::regfile32`].
#[derive(LogicBlock)]
pub struct FastpathTop32 {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high.
    pub reset: Signal<In, bool>,
    /// A lookup is offered.
    pub lk_valid: Signal<In, bool>,
    /// The pipeline takes the offered lookup.
    pub lk_ready: Signal<Out, bool>,
    /// Lookup key: word `i` of `abi::FlowKey` in bits `64 i + 63 .. 64 i`.
    pub lk_key: Signal<In, Bits<512>>,
    /// Opaque packet tag, returned with the result and queued with a miss.
    pub lk_tag: Signal<In, Bits<32>>,
    /// Frame length in bytes, added to the hit entry's byte counter (a
    /// look-aside host that sends no length gets 0 bytes counted).
    pub lk_len: Signal<In, Bits<LEN_BITS>>,
    /// A result is presented.
    pub res_valid: Signal<Out, bool>,
    /// The consumer takes the result.
    pub res_ready: Signal<In, bool>,
    /// Result word (`abi::regs::RESULT_FIELDS`).
    pub res_word: Signal<Out, Bits<64>>,
    /// Tag of the lookup.
    pub res_tag: Signal<Out, Bits<32>>,
    /// Full-key hash (EMC hash) of the lookup.
    pub res_hash: Signal<Out, Bits<32>>,
    /// Action RAM write port: enable. The RAM itself is the packet path's
    /// (one word per table position, as the statistics); the core only
    /// writes it, in the clock its entry is written.
    pub act_we: Signal<Out, bool>,
    /// Action RAM write port: table position (EMC index, or the megaflow
    /// slot's base plus its index, as the statistics address).
    pub act_addr: Signal<Out, Bits<ADDR_BITS>>,
    /// Action RAM write port: the action word (`abi::action::ACTION_ENTRY`).
    pub act_word: Signal<Out, Bits<64>>,
    /// Edit-table write port: enable (an `EditWrite` command). The table
    /// is the packet path's; the core only writes it.
    pub edit_we: Signal<Out, bool>,
    /// Edit-table write port: the entry (`AE_EDIT_INDEX`).
    pub edit_addr: Signal<Out, Bits<ADDR_BITS>>,
    /// Edit-table write port: the entry's words (`abi::action::EDIT_ENTRY`).
    pub edit_word: Signal<Out, Bits<EDIT_BITS>>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_awaddr: Signal<In, Bits<AXIL_ADDR_BITS>>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_awprot: Signal<In, Bits<3>>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_awvalid: Signal<In, bool>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_awready: Signal<Out, bool>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_wdata: Signal<In, Bits<32>>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_wstrb: Signal<In, Bits<4>>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_wvalid: Signal<In, bool>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_wready: Signal<Out, bool>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_bresp: Signal<Out, Bits<2>>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_bvalid: Signal<Out, bool>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_bready: Signal<In, bool>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_araddr: Signal<In, Bits<AXIL_ADDR_BITS>>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_arprot: Signal<In, Bits<3>>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_arvalid: Signal<In, bool>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_arready: Signal<Out, bool>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_rdata: Signal<Out, Bits<32>>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_rresp: Signal<Out, Bits<2>>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_rvalid: Signal<Out, bool>,
    /// AXI4-Lite slave, 32-bit.
    pub s_axil_rready: Signal<In, bool>,
    bridge: Axil32To64,
    core: FastpathTop,
}

impl FastpathTop32 {
    /// [`FastpathTop::new`] behind a 32-bit slave.
    pub fn new(g: &Geometry, clock_khz: u32) -> Self {
        FastpathTop32 {
            clock: Default::default(),
            reset: Default::default(),
            lk_valid: Default::default(),
            lk_ready: Default::default(),
            lk_key: Default::default(),
            lk_tag: Default::default(),
            lk_len: Default::default(),
            res_valid: Default::default(),
            res_ready: Default::default(),
            res_word: Default::default(),
            res_tag: Default::default(),
            res_hash: Default::default(),
            act_we: Default::default(),
            act_addr: Default::default(),
            act_word: Default::default(),
            edit_we: Default::default(),
            edit_addr: Default::default(),
            edit_word: Default::default(),
            s_axil_awaddr: Default::default(),
            s_axil_awprot: Default::default(),
            s_axil_awvalid: Default::default(),
            s_axil_awready: Default::default(),
            s_axil_wdata: Default::default(),
            s_axil_wstrb: Default::default(),
            s_axil_wvalid: Default::default(),
            s_axil_wready: Default::default(),
            s_axil_bresp: Default::default(),
            s_axil_bvalid: Default::default(),
            s_axil_bready: Default::default(),
            s_axil_araddr: Default::default(),
            s_axil_arprot: Default::default(),
            s_axil_arvalid: Default::default(),
            s_axil_arready: Default::default(),
            s_axil_rdata: Default::default(),
            s_axil_rresp: Default::default(),
            s_axil_rvalid: Default::default(),
            s_axil_rready: Default::default(),
            bridge: Default::default(),
            core: FastpathTop::new(g, clock_khz),
        }
    }
}

impl Logic for FastpathTop32 {
    #[hdl_gen]
    fn update(&mut self) {
        self.bridge.clock.next = self.clock.val();
        self.core.clock.next = self.clock.val();
        self.bridge.reset.next = self.reset.val();
        self.core.reset.next = self.reset.val();
        self.core.lk_valid.next = self.lk_valid.val();
        self.lk_ready.next = self.core.lk_ready.val();
        self.core.lk_key.next = self.lk_key.val();
        self.core.lk_tag.next = self.lk_tag.val();
        self.core.lk_len.next = self.lk_len.val();
        self.res_valid.next = self.core.res_valid.val();
        self.core.res_ready.next = self.res_ready.val();
        self.res_word.next = self.core.res_word.val();
        self.res_tag.next = self.core.res_tag.val();
        self.res_hash.next = self.core.res_hash.val();
        self.act_we.next = self.core.act_we.val();
        self.act_addr.next = self.core.act_addr.val();
        self.act_word.next = self.core.act_word.val();
        self.edit_we.next = self.core.edit_we.val();
        self.edit_addr.next = self.core.edit_addr.val();
        self.edit_word.next = self.core.edit_word.val();
        self.bridge.s_axil_awaddr.next = self.s_axil_awaddr.val();
        self.bridge.s_axil_awprot.next = self.s_axil_awprot.val();
        self.bridge.s_axil_awvalid.next = self.s_axil_awvalid.val();
        self.s_axil_awready.next = self.bridge.s_axil_awready.val();
        self.bridge.s_axil_wdata.next = self.s_axil_wdata.val();
        self.bridge.s_axil_wstrb.next = self.s_axil_wstrb.val();
        self.bridge.s_axil_wvalid.next = self.s_axil_wvalid.val();
        self.s_axil_wready.next = self.bridge.s_axil_wready.val();
        self.s_axil_bresp.next = self.bridge.s_axil_bresp.val();
        self.s_axil_bvalid.next = self.bridge.s_axil_bvalid.val();
        self.bridge.s_axil_bready.next = self.s_axil_bready.val();
        self.bridge.s_axil_araddr.next = self.s_axil_araddr.val();
        self.bridge.s_axil_arprot.next = self.s_axil_arprot.val();
        self.bridge.s_axil_arvalid.next = self.s_axil_arvalid.val();
        self.s_axil_arready.next = self.bridge.s_axil_arready.val();
        self.s_axil_rdata.next = self.bridge.s_axil_rdata.val();
        self.s_axil_rresp.next = self.bridge.s_axil_rresp.val();
        self.s_axil_rvalid.next = self.bridge.s_axil_rvalid.val();
        self.bridge.s_axil_rready.next = self.s_axil_rready.val();
        self.core.s_axil_awaddr.next = self.bridge.m_axil_awaddr.val();
        self.core.s_axil_awprot.next = self.bridge.m_axil_awprot.val();
        self.core.s_axil_awvalid.next = self.bridge.m_axil_awvalid.val();
        self.bridge.m_axil_awready.next = self.core.s_axil_awready.val();
        self.core.s_axil_wdata.next = self.bridge.m_axil_wdata.val();
        self.core.s_axil_wstrb.next = self.bridge.m_axil_wstrb.val();
        self.core.s_axil_wvalid.next = self.bridge.m_axil_wvalid.val();
        self.bridge.m_axil_wready.next = self.core.s_axil_wready.val();
        self.bridge.m_axil_bresp.next = self.core.s_axil_bresp.val();
        self.bridge.m_axil_bvalid.next = self.core.s_axil_bvalid.val();
        self.core.s_axil_bready.next = self.bridge.m_axil_bready.val();
        self.core.s_axil_araddr.next = self.bridge.m_axil_araddr.val();
        self.core.s_axil_arprot.next = self.bridge.m_axil_arprot.val();
        self.core.s_axil_arvalid.next = self.bridge.m_axil_arvalid.val();
        self.bridge.m_axil_arready.next = self.core.s_axil_arready.val();
        self.bridge.m_axil_rdata.next = self.core.s_axil_rdata.val();
        self.bridge.m_axil_rresp.next = self.core.s_axil_rresp.val();
        self.bridge.m_axil_rvalid.next = self.core.s_axil_rvalid.val();
        self.core.s_axil_rready.next = self.bridge.m_axil_rready.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simtools::{key_bits, key_words, settle, tick};
    use abi::geometry::{cuckoo_buckets, emc_candidates};
    use abi::regs::*;
    use abi::{Field, FlowKey};
    use std::collections::VecDeque;

    const G: Geometry = Geometry {
        emc_log2_entries: 4,
        mf_slots: 2,
        mf_log2_buckets: 2,
        mf_bucket_slots: 4,
        missq_log2_depth: 2,
    };

    /// Cycle-level bus-functional model around the top.
    struct Bench {
        u: Box<FastpathTop>,
        results: VecDeque<(u64, u64, u64, u64)>, // (cycle, word, tag, hash)
        /// Action RAM writes seen: (position, word).
        actions: Vec<(u64, u64)>,
        cycle: u64,
    }

    impl Bench {
        fn new() -> Self {
            let mut u = Box::new(FastpathTop::new(&G, 125_000));
            u.connect_all();
            settle(&mut *u);
            let mut b = Bench {
                u,
                results: VecDeque::new(),
                actions: Vec::new(),
                cycle: 0,
            };
            b.u.res_ready.next = true;
            b.u.s_axil_bready.next = true;
            b.u.s_axil_rready.next = true;
            b.u.s_axil_wstrb.next = 0xff.into();
            b.u.reset.next = true;
            b.tick();
            b.u.reset.next = false;
            let mut n = 0;
            while !b.u.lk_ready.val() {
                b.tick();
                n += 1;
                assert!(n < 1000, "power-on clear never finished");
            }
            // The clear's last table writes land HASH_LATENCY clocks later.
            for _ in 0..HASH_LATENCY {
                b.tick();
            }
            b
        }

        fn tick(&mut self) {
            settle(&mut *self.u);
            if self.u.res_valid.val() && self.u.res_ready.val() {
                self.results.push_back((
                    self.cycle,
                    self.u.res_word.val().to_u64(),
                    self.u.res_tag.val().to_u64(),
                    self.u.res_hash.val().to_u64(),
                ));
            }
            if self.u.act_we.val() {
                self.actions.push((
                    self.u.act_addr.val().to_u64(),
                    self.u.act_word.val().to_u64(),
                ));
            }
            tick(&mut *self.u, |u| &mut u.clock);
            self.cycle += 1;
        }

        fn write(&mut self, addr: u64, data: u64) {
            self.u.s_axil_awaddr.next = addr.into();
            self.u.s_axil_wdata.next = data.into();
            self.u.s_axil_awvalid.next = true;
            self.u.s_axil_wvalid.next = true;
            let mut n = 0;
            loop {
                settle(&mut *self.u);
                let done = self.u.s_axil_awready.val();
                self.tick();
                if done {
                    break;
                }
                n += 1;
                assert!(n < 200, "write {addr:#x} never accepted");
            }
            self.u.s_axil_awvalid.next = false;
            self.u.s_axil_wvalid.next = false;
            while !self.u.s_axil_bvalid.val() {
                self.tick();
            }
            self.tick();
        }

        fn read(&mut self, addr: u64) -> u64 {
            self.u.s_axil_araddr.next = addr.into();
            self.u.s_axil_arvalid.next = true;
            loop {
                settle(&mut *self.u);
                let done = self.u.s_axil_arready.val();
                self.tick();
                if done {
                    break;
                }
            }
            self.u.s_axil_arvalid.next = false;
            settle(&mut *self.u);
            while !self.u.s_axil_rvalid.val() {
                self.tick();
                settle(&mut *self.u);
            }
            let v = self.u.s_axil_rdata.val().to_u64();
            self.tick();
            v
        }

        fn stage(&mut self, k: &FlowKey) {
            for (i, w) in k.hw_words().iter().enumerate() {
                self.write(REG_STAGE_KEY.addr() + 8 * i as u64, *w);
            }
        }

        fn cmd(&mut self, op: Op, slot: u8, index: u32, flow_id: u32) {
            let c = Command {
                op,
                slot,
                index,
                flow_id,
            };
            self.write(REG_CMD.addr(), c.encode().unwrap());
            while self.read(REG_STATUS.addr()) & STATUS_BUSY.word_mask() != 0 {}
        }

        /// Offers `keys` back to back and waits for all results.
        fn lookups(&mut self, keys: &[FlowKey], tag0: u64) -> Vec<(u64, LookupResult, u64, u64)> {
            self.results.clear();
            let start = self.cycle;
            for (i, k) in keys.iter().enumerate() {
                self.u.lk_valid.next = true;
                self.u.lk_key.next = key_bits(k.hw_words());
                self.u.lk_tag.next = (tag0 + i as u64).into();
                self.u.lk_len.next = frame_len(tag0 + i as u64).into();
                settle(&mut *self.u);
                assert!(self.u.lk_ready.val(), "lk_ready dropped: II must be 1");
                self.tick();
            }
            self.u.lk_valid.next = false;
            for _ in 0..PIPE_LATENCY + 4 {
                self.tick();
            }
            assert_eq!(self.results.len(), keys.len());
            self.results
                .iter()
                .map(|(c, w, t, h)| (c - start, LookupResult::decode(*w).unwrap(), *t, *h))
                .collect()
        }
    }

    /// The frame length the bench gives the lookup tagged `tag`.
    fn frame_len(tag: u64) -> u64 {
        64 + 10 * tag
    }

    fn key(port: u64, dst: u64, sport: u64) -> FlowKey {
        FlowKey::ZERO
            .with(Field::InPort, port)
            .with(Field::DlType, 0x0800)
            .with(Field::NwProto, 17)
            .with(Field::NwDst, dst)
            .with(Field::TpSrc, sport)
    }

    #[test]
    fn entry_writes_carry_their_staged_action_word() {
        use abi::action::{ActionEntry, ActionKind};
        let mut b = Bench::new();
        b.actions.clear();
        let out = |ports| {
            ActionEntry {
                kind: Some(ActionKind::Output),
                out_ports: ports,
                ..Default::default()
            }
            .encode()
        };
        b.write(REG_STAGE_ACTION.addr(), out(0b10));
        assert_eq!(b.read(REG_STAGE_ACTION.addr()), out(0b10));
        let k1 = key(7, 0x0a00_0001, 1000);
        let pos = emc_candidates(abi::hash_key(&k1), G.emc_log2_entries)[0];
        b.stage(&k1);
        b.cmd(Op::EmcWrite, 0, pos, 11);
        // A megaflow in slot 1 with another action: its position is the
        // slot's base (EMC entries, then slot 0's) plus its index.
        b.stage(&FlowKey::ZERO.with(Field::InPort, u64::MAX));
        b.cmd(Op::MaskSet, 1, 0, 0);
        b.write(REG_STAGE_ACTION.addr(), out(0b01));
        b.stage(&k1);
        let mf_index = G.mf_index(1, 3);
        b.cmd(Op::MfWrite, 1, mf_index, 22);
        b.cmd(Op::MfInvalidate, 1, mf_index, 0);
        let mf_pos = G.emc_entries() as u64 + G.mf_entries_per_slot() as u64 + mf_index as u64;
        assert_eq!(
            b.actions,
            vec![(pos as u64, out(0b10)), (mf_pos, out(0b01)), (mf_pos, 0)],
            "one action write per entry write, in its clock, at its position"
        );
    }

    #[test]
    fn end_to_end_through_registers() {
        let mut b = Bench::new();
        // Capability block decodes to what the build announces.
        let blocks =
            abi::regs::Blocks::walk(abi::regs::REG_WINDOW_BYTES, |a| Ok::<_, ()>(b.read(a)))
                .unwrap()
                .unwrap();
        let cap = Capability::decode(|r| {
            let base = blocks.find(r.block).expect("block").base;
            Ok::<_, ()>(b.read(base + r.off))
        })
        .unwrap()
        .unwrap();
        assert_eq!(cap, FastpathTop::capability(&G, 125_000));
        b.write(REG_SCRATCH.addr(), 0x0123_4567_89ab_cdef);
        assert_eq!(b.read(REG_SCRATCH.addr()), 0x0123_4567_89ab_cdef);

        // EMC entry at its second candidate.
        let k1 = key(7, 0x0a00_0001, 1000);
        let pos = emc_candidates(abi::hash_key(&k1), G.emc_log2_entries)[1];
        b.stage(&k1);
        b.cmd(Op::EmcWrite, 0, pos, 11);
        // Megaflow in slot 1: exact on in_port + dl_type + nw_dst.
        let mask = FlowKey::ZERO
            .with(Field::InPort, u64::MAX)
            .with(Field::DlType, u64::MAX)
            .with(Field::NwDst, u64::MAX);
        b.stage(&mask);
        b.cmd(Op::MaskSet, 1, 0, 0);
        let k2 = key(3, 0x0a00_0002, 2000);
        let bucket = cuckoo_buckets(abi::hash_masked(&k2, &mask), G.mf_log2_buckets)[1];
        let mf_index = G.mf_index(bucket, 2);
        b.stage(&k2);
        b.cmd(Op::MfWrite, 1, mf_index, 22);
        assert_eq!(b.read(REG_STATUS.addr()) & STATUS_CMD_ERROR.word_mask(), 0);

        let k2b = key(3, 0x0a00_0002, 4242); // same megaflow, other port
        let k3 = key(9, 0x0a00_0003, 3000); // nothing
        let keys = [k1, k2, k2b, k3, k1];
        let res = b.lookups(&keys, 100);
        let emc = LookupResult {
            kind: HitKind::Emc,
            slot: 0,
            index: pos,
            flow_id: 11,
        };
        let mf = LookupResult {
            kind: HitKind::Megaflow,
            slot: 1,
            index: mf_index,
            flow_id: 22,
        };
        let want = [emc, mf, mf, LookupResult::MISS, emc];
        for (i, (cyc, r, tag, hash)) in res.iter().enumerate() {
            assert_eq!(*r, want[i], "lookup {i}");
            assert_eq!(*tag, 100 + i as u64);
            assert_eq!(*hash, abi::hash_key(&keys[i]) as u64);
            // Fixed latency, one result per clock.
            assert_eq!(*cyc, (PIPE_LATENCY + i) as u64, "lookup {i} latency");
        }
        let cnt: Vec<u64> = [
            REG_CNT_LOOKUPS.addr(),
            REG_CNT_EMC_HITS.addr(),
            REG_CNT_MF_HITS.addr(),
            REG_CNT_MISSES.addr(),
            REG_CNT_MISS_DROPS.addr(),
            REG_CNT_COMMANDS.addr(),
        ]
        .iter()
        .map(|r| b.read(*r))
        .collect();
        assert_eq!(cnt, vec![5, 2, 2, 1, 0, 3]);

        // The miss is queued with hash and tag.
        assert_eq!(b.read(REG_MISSQ_LEVEL.addr()), 1);
        let meta = [b.read(REG_MISSQ_META.addr())];
        assert_eq!(MISS_HASH.get(&meta), abi::hash_key(&k3) as u64);
        assert_eq!(MISS_TAG.get(&meta), 103);
        let mut words = [0u64; 8];
        for (i, w) in words.iter_mut().enumerate() {
            *w = b.read(REG_MISSQ_KEY.addr() + 8 * i as u64);
        }
        assert_eq!(&words, k3.hw_words());
        b.write(REG_MISSQ_POP.addr(), 1);
        assert_eq!(b.read(REG_MISSQ_LEVEL.addr()), 0);

        // Per-entry statistics.
        let sel = StatsSel {
            megaflow: false,
            slot: 0,
            index: pos,
        };
        b.write(REG_STATS_SEL.addr(), sel.encode().unwrap());
        assert_eq!(b.read(REG_STATS_HITS.addr()), 2);
        // Bytes: the lengths of lookups 0 and 4 (both k1).
        assert_eq!(
            b.read(REG_STATS_BYTES.addr()),
            frame_len(100) + frame_len(104)
        );
        let used = b.read(REG_STATS_USED.addr());
        assert!(used > 0 && used < b.read(REG_TIME.addr()));
        let sel = StatsSel {
            megaflow: true,
            slot: 1,
            index: mf_index,
        };
        b.write(REG_STATS_SEL.addr(), sel.encode().unwrap());
        assert_eq!(b.read(REG_STATS_HITS.addr()), 2);
        assert_eq!(
            b.read(REG_STATS_BYTES.addr()),
            frame_len(101) + frame_len(102)
        );

        // Invalidate the EMC entry: k1 now misses; its counters restart.
        b.cmd(Op::EmcInvalidate, 0, pos, 0);
        let res = b.lookups(&[k1], 7);
        assert_eq!(res[0].1, LookupResult::MISS);
        let sel = StatsSel {
            megaflow: false,
            slot: 0,
            index: pos,
        };
        b.write(REG_STATS_SEL.addr(), sel.encode().unwrap());
        assert_eq!(b.read(REG_STATS_HITS.addr()), 0);
        assert_eq!(b.read(REG_STATS_BYTES.addr()), 0);

        // Queue depth 4, one already queued: 5 more misses drop 2.
        let many: Vec<FlowKey> = (0..5).map(|i| key(20 + i, 1, 1)).collect();
        b.lookups(&many, 0);
        assert_eq!(b.read(REG_MISSQ_LEVEL.addr()), 4);
        assert_eq!(b.read(REG_CNT_MISS_DROPS.addr()), 2);

        // Rejected commands: bad slot, bad index, bad opcode.
        b.cmd(Op::MaskSet, G.mf_slots, 0, 0);
        assert_ne!(b.read(REG_STATUS.addr()) & STATUS_CMD_ERROR.word_mask(), 0);
        b.cmd(Op::EmcWrite, 0, G.emc_entries(), 0);
        assert_ne!(b.read(REG_STATUS.addr()) & STATUS_CMD_ERROR.word_mask(), 0);
        b.write(REG_CMD.addr(), 0xff);
        assert_ne!(b.read(REG_STATUS.addr()) & STATUS_CMD_ERROR.word_mask(), 0);
        b.cmd(Op::Nop, 0, 0, 0);
        assert_eq!(b.read(REG_STATUS.addr()) & STATUS_CMD_ERROR.word_mask(), 0);

        // Clear tables: everything misses again.
        b.write(
            REG_CTRL.addr(),
            CTRL_ENABLE.word_mask() | CTRL_CLEAR_TABLES.word_mask(),
        );
        while b.read(REG_STATUS.addr()) & STATUS_BUSY.word_mask() != 0 {}
        let res = b.lookups(&[k2], 0);
        assert_eq!(res[0].1, LookupResult::MISS);
        let _ = key_words;
    }
}
