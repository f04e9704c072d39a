//! AXI4-Lite register file (64-bit data, 12-bit byte address) and the command
//! engine that writes the tables.
//!
//! Every offset, field position and opcode comes from [`abi::regs`]; the
//! capability words are [`abi::regs::Capability::encode`]'s output.
//!
//! Writes are accepted when address and data are both valid and the command
//! engine is idle, so a command (or staging write) that arrives while a
//! previous command or a table clear runs waits on the bus instead of being
//! ignored. Entry writes go to RAM in one word from the staging register, so
//! a lookup sees the old entry or the new one, never a mix.

use crate::bram::ADDR_BITS;
use crate::entry::{Entry, FLOW_LSB, IDX_BITS, VALID_BIT};
use abi::regs::{self, Capability, Op};
use abi::Geometry;
use rust_hdl::prelude::*;

/// Register file byte-address width (4 KiB window).
pub const AXIL_ADDR_BITS: usize = 12;

/// Width of a miss-queue word: key, then the `REG_MISSQ_META` word.
pub const MISS_WORD_BITS: usize = 512 + 64;

/// Clocks from a CMD write's handshake to the clock in which the command
/// writes the tables. A lookup accepted in clock `t` reads the table RAMs in
/// clock `t + 1 + HASH_LATENCY` (read-first), so with this delay every
/// lookup accepted up to the handshake clock still reads the old entry: the
/// ordering promise in docs/hardware.md ("accepted in or before the clock
/// of the CMD handshake sees the tables without it").
pub const CMD_EXEC_DELAY: usize = 1 + crate::hash_unit::HASH_LATENCY;
const _: () = assert!(CMD_EXEC_DELAY >= 2 && CMD_EXEC_DELAY <= 5);

/// Bits of an edit-table word: the entry's [`abi::action::EDIT_WORDS`]
/// words, staging key words `0..EDIT_WORDS`.
pub const EDIT_BITS: usize = 64 * abi::action::EDIT_WORDS;
const _: () = assert!(EDIT_BITS == 256);
// The bad-op check is `op > EditWrite`: it must stay the last opcode.
const _: () = assert!(Op::EditWrite as u8 == 7);

/// FSM states of the command engine.
const ST_IDLE: u64 = 0;
const ST_DECODE: u64 = 1;
const ST_EXEC: u64 = 2;
const ST_CLEAR: u64 = 3;

fn c<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(v.into())
}

/// The register file and command engine.
#[derive(LogicBlock)]
pub struct RegFile {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high.
    pub reset: Signal<In, bool>,
    /// AXI4-Lite write address.
    pub s_axil_awaddr: Signal<In, Bits<AXIL_ADDR_BITS>>,
    /// AXI4-Lite write protection (ignored).
    pub s_axil_awprot: Signal<In, Bits<3>>,
    /// AXI4-Lite write address valid.
    pub s_axil_awvalid: Signal<In, bool>,
    /// AXI4-Lite write address ready.
    pub s_axil_awready: Signal<Out, bool>,
    /// AXI4-Lite write data.
    pub s_axil_wdata: Signal<In, Bits<64>>,
    /// AXI4-Lite write strobes.
    pub s_axil_wstrb: Signal<In, Bits<8>>,
    /// AXI4-Lite write data valid.
    pub s_axil_wvalid: Signal<In, bool>,
    /// AXI4-Lite write data ready.
    pub s_axil_wready: Signal<Out, bool>,
    /// AXI4-Lite write response (always OKAY).
    pub s_axil_bresp: Signal<Out, Bits<2>>,
    /// AXI4-Lite write response valid.
    pub s_axil_bvalid: Signal<Out, bool>,
    /// AXI4-Lite write response ready.
    pub s_axil_bready: Signal<In, bool>,
    /// AXI4-Lite read address.
    pub s_axil_araddr: Signal<In, Bits<AXIL_ADDR_BITS>>,
    /// AXI4-Lite read protection (ignored).
    pub s_axil_arprot: Signal<In, Bits<3>>,
    /// AXI4-Lite read address valid.
    pub s_axil_arvalid: Signal<In, bool>,
    /// AXI4-Lite read address ready.
    pub s_axil_arready: Signal<Out, bool>,
    /// AXI4-Lite read data.
    pub s_axil_rdata: Signal<Out, Bits<64>>,
    /// AXI4-Lite read response (always OKAY; unmapped offsets read 0).
    pub s_axil_rresp: Signal<Out, Bits<2>>,
    /// AXI4-Lite read data valid.
    pub s_axil_rvalid: Signal<Out, bool>,
    /// AXI4-Lite read data ready.
    pub s_axil_rready: Signal<In, bool>,

    /// Event: a lookup was accepted.
    pub ev_lookup: Signal<In, bool>,
    /// Event: EMC hit.
    pub ev_emc_hit: Signal<In, bool>,
    /// Event: megaflow hit.
    pub ev_mf_hit: Signal<In, bool>,
    /// Event: miss.
    pub ev_miss: Signal<In, bool>,
    /// Event: miss dropped (queue full).
    pub ev_miss_drop: Signal<In, bool>,
    /// Miss-queue level.
    pub missq_level: Signal<In, Bits<ADDR_BITS>>,
    /// Miss-queue head word (key, then meta word).
    pub missq_head: Signal<In, Bits<MISS_WORD_BITS>>,
    /// Selected entry's hit count.
    pub stats_hits: Signal<In, Bits<64>>,
    /// Selected entry's last-used time.
    pub stats_used: Signal<In, Bits<64>>,
    /// Selected entry's byte count (`REG_STATS_BYTES`).
    pub stats_bytes: Signal<In, Bits<64>>,

    /// Free-running cycle counter (`REG_TIME`); not cleared by reset, so entry
    /// write stamps stay unique for the life of the bitstream.
    pub now: Signal<Out, Bits<64>>,
    /// Lookups may be accepted (CTRL_ENABLE and the power-on clear is done).
    pub lookup_enable: Signal<Out, bool>,
    /// Pop the miss-queue head.
    pub missq_pop: Signal<Out, bool>,
    /// Statistics address selected by `REG_STATS_SEL`.
    pub stats_sel: Signal<Out, Bits<ADDR_BITS>>,
    /// EMC write strobe.
    pub emc_we: Signal<Out, bool>,
    /// EMC write index.
    pub emc_addr: Signal<Out, Bits<IDX_BITS>>,
    /// Entry word for EMC and megaflow writes.
    pub entry_data: Signal<Out, Entry>,
    /// Megaflow write strobe.
    pub mf_we: Signal<Out, bool>,
    /// Write every way of every slot (table clear).
    pub mf_all: Signal<Out, bool>,
    /// Megaflow slot.
    pub mf_slot: Signal<Out, Bits<8>>,
    /// Megaflow bucket.
    pub mf_bucket: Signal<Out, Bits<IDX_BITS>>,
    /// Megaflow way.
    pub mf_way: Signal<Out, Bits<8>>,
    /// Entry stamp write strobe (statistics reset).
    pub stamp_we: Signal<Out, bool>,
    /// Statistics address of the written entry.
    pub stamp_addr: Signal<Out, Bits<ADDR_BITS>>,
    /// Action RAM: write enable (with `stamp_we`: every entry write,
    /// invalidate and clear step), at `stamp_addr`.
    pub act_we: Signal<Out, bool>,
    /// Action RAM: the word written (`REG_STAGE_ACTION` on an entry write, 0 otherwise).
    pub act_word: Signal<Out, Bits<64>>,
    /// Edit table: write enable (an `EditWrite` command).
    pub edit_we: Signal<Out, bool>,
    /// Edit table: the entry written (the command's index).
    pub edit_addr: Signal<Out, Bits<ADDR_BITS>>,
    /// Edit table: the entry's words (staging key words `0..EDIT_WORDS`).
    pub edit_word: Signal<Out, Bits<EDIT_BITS>>,
    /// Mask of each slot.
    pub masks: Vec<Signal<Out, Bits<512>>>,
    /// Enable of each slot.
    pub mask_en: Vec<Signal<Out, bool>>,

    // Registers.
    time_q: DFF<Bits<64>>,
    scratch: DFF<Bits<64>>,
    stage_action: DFF<Bits<64>>,
    enable: DFF<bool>,
    init_done: DFF<bool>,
    cmd_err: DFF<bool>,
    staging: DFF<Bits<512>>,
    stats_sel_q: DFF<Bits<64>>,
    cmd_word: DFF<Bits<64>>,
    mask_q: Vec<DFF<Bits<512>>>,
    mask_en_q: Vec<DFF<bool>>,
    cnt: Vec<DFF<Bits<64>>>,
    state: DFF<Bits<2>>,
    op: DFF<Bits<8>>,
    slot: DFF<Bits<8>>,
    index: DFF<Bits<IDX_BITS>>,
    flow: DFF<Bits<IDX_BITS>>,
    clear_addr: DFF<Bits<ADDR_BITS>>,
    mf_stamp: DFF<Bits<ADDR_BITS>>,
    cmd_wait: DFF<Bits<2>>,
    bvalid: DFF<bool>,
    rvalid: DFF<bool>,
    rdata: DFF<Bits<64>>,
    // Combinational.
    wr: Signal<Local, bool>,
    rd: Signal<Local, bool>,
    wmask: Signal<Local, Bits<64>>,
    woff: Signal<Local, Bits<9>>,
    waddr: Signal<Local, Bits<AXIL_ADDR_BITS>>,
    raddr: Signal<Local, Bits<AXIL_ADDR_BITS>>,
    roff: Signal<Local, Bits<9>>,
    wmerge512: Signal<Local, Bits<512>>,
    rmux: Signal<Local, Bits<64>>,
    cmd_bad: Signal<Local, bool>,
    sel_mask: Signal<Local, Bits<512>>,
    inv_mask: Signal<Local, Bits<512>>,
    slot_base_sel: Signal<Local, Bits<ADDR_BITS>>,
    sel_base: Signal<Local, Bits<ADDR_BITS>>,
    sel_tab: Signal<Local, Bits<8>>,
    sel_slot_v: Signal<Local, Bits<8>>,
    sel_idx: Signal<Local, Bits<IDX_BITS>>,
    new_entry: Signal<Local, Entry>,
    // Constants from abi.
    a_cap: Vec<Constant<Bits<AXIL_ADDR_BITS>>>,
    v_cap: Vec<Constant<Bits<64>>>,
    a_scratch: Constant<Bits<AXIL_ADDR_BITS>>,
    a_stage_action: Constant<Bits<AXIL_ADDR_BITS>>,
    a_ctrl: Constant<Bits<AXIL_ADDR_BITS>>,
    a_status: Constant<Bits<AXIL_ADDR_BITS>>,
    a_time: Constant<Bits<AXIL_ADDR_BITS>>,
    a_cnt: Vec<Constant<Bits<AXIL_ADDR_BITS>>>,
    a_stage: Constant<Bits<AXIL_ADDR_BITS>>,
    a_cmd: Constant<Bits<AXIL_ADDR_BITS>>,
    a_stats_sel: Constant<Bits<AXIL_ADDR_BITS>>,
    a_stats_hits: Constant<Bits<AXIL_ADDR_BITS>>,
    a_stats_used: Constant<Bits<AXIL_ADDR_BITS>>,
    a_stats_bytes: Constant<Bits<AXIL_ADDR_BITS>>,
    a_missq_level: Constant<Bits<AXIL_ADDR_BITS>>,
    a_missq_meta: Constant<Bits<AXIL_ADDR_BITS>>,
    a_missq_pop: Constant<Bits<AXIL_ADDR_BITS>>,
    a_missq_key: Constant<Bits<AXIL_ADDR_BITS>>,
    key_window: Constant<Bits<AXIL_ADDR_BITS>>,
    word_sel: Constant<Bits<AXIL_ADDR_BITS>>,
    /// Clears the byte-in-word bits: a master puts the byte address of a
    /// sub-word access on the bus (0x34 with wstrb 0xf0), and the register
    /// is selected by its 64-bit word; the strobes pick the bytes.
    word_align: Constant<Bits<AXIL_ADDR_BITS>>,
    byte_mask: Vec<Constant<Bits<64>>>,
    ctrl_enable_sh: Constant<Bits<8>>,
    ctrl_enable_mask: Constant<Bits<64>>,
    ctrl_clear_counters_sh: Constant<Bits<8>>,
    ctrl_clear_counters_mask: Constant<Bits<64>>,
    ctrl_clear_tables_sh: Constant<Bits<8>>,
    ctrl_clear_tables_mask: Constant<Bits<64>>,
    st_busy_sh: Constant<Bits<8>>,
    st_cmd_error_sh: Constant<Bits<8>>,
    cmd_op_sh: Constant<Bits<8>>,
    cmd_op_mask: Constant<Bits<64>>,
    cmd_slot_sh: Constant<Bits<8>>,
    cmd_slot_mask: Constant<Bits<64>>,
    cmd_index_sh: Constant<Bits<8>>,
    cmd_index_mask: Constant<Bits<64>>,
    cmd_flow_sh: Constant<Bits<8>>,
    cmd_flow_mask: Constant<Bits<64>>,
    sel_table_sh: Constant<Bits<8>>,
    sel_table_mask: Constant<Bits<64>>,
    sel_slot_sh: Constant<Bits<8>>,
    sel_slot_mask: Constant<Bits<64>>,
    sel_index_sh: Constant<Bits<8>>,
    sel_index_mask: Constant<Bits<64>>,
    op_emc_write: Constant<Bits<8>>,
    op_emc_inval: Constant<Bits<8>>,
    op_mf_write: Constant<Bits<8>>,
    op_mf_inval: Constant<Bits<8>>,
    op_mask_set: Constant<Bits<8>>,
    op_mask_clear: Constant<Bits<8>>,
    op_edit_write: Constant<Bits<8>>,
    n_edits: Constant<Bits<IDX_BITS>>,
    s_idle: Constant<Bits<2>>,
    s_decode: Constant<Bits<2>>,
    s_exec: Constant<Bits<2>>,
    s_clear: Constant<Bits<2>>,
    n_emc: Constant<Bits<IDX_BITS>>,
    n_mf: Constant<Bits<IDX_BITS>>,
    n_slots: Constant<Bits<8>>,
    n_stats: Constant<Bits<ADDR_BITS>>,
    k_log2: Constant<Bits<8>>,
    way_mask: Constant<Bits<IDX_BITS>>,
    decode_clocks: Constant<Bits<2>>,
    slot_id: Vec<Constant<Bits<8>>>,
    slot_base: Vec<Constant<Bits<ADDR_BITS>>>,
    valid_bit: Constant<Bits<16>>,
    flow_lsb: Constant<Bits<16>>,
    sh_meta: Constant<Bits<16>>,
    _slots: usize,
}

impl RegFile {
    /// A register file announcing `cap` (its geometry sizes the tables).
    pub fn new(cap: &Capability) -> Self {
        let g: Geometry = cap.geometry;
        let s = g.mf_slots as usize;
        let n_emc = g.emc_entries() as u64;
        let n_mf = g.mf_entries_per_slot() as u64;
        // Capability registers, block headers and the host-queue reference,
        // at the bases abi's LAYOUT declares. The read mux below names
        // words 0..14 literally.
        let words = cap.constant_words();
        let _: &[(u64, u64); 14] = &words;
        RegFile {
            clock: Default::default(),
            reset: Default::default(),
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
            ev_lookup: Default::default(),
            ev_emc_hit: Default::default(),
            ev_mf_hit: Default::default(),
            ev_miss: Default::default(),
            ev_miss_drop: Default::default(),
            missq_level: Default::default(),
            missq_head: Default::default(),
            stats_hits: Default::default(),
            stats_used: Default::default(),
            stats_bytes: Default::default(),
            now: Default::default(),
            lookup_enable: Default::default(),
            missq_pop: Default::default(),
            stats_sel: Default::default(),
            emc_we: Default::default(),
            emc_addr: Default::default(),
            entry_data: Default::default(),
            mf_we: Default::default(),
            mf_all: Default::default(),
            mf_slot: Default::default(),
            mf_bucket: Default::default(),
            mf_way: Default::default(),
            stamp_we: Default::default(),
            stamp_addr: Default::default(),
            act_we: Default::default(),
            act_word: Default::default(),
            edit_we: Default::default(),
            edit_addr: Default::default(),
            edit_word: Default::default(),
            masks: (0..s).map(|_| Default::default()).collect(),
            mask_en: (0..s).map(|_| Default::default()).collect(),
            time_q: Default::default(),
            scratch: Default::default(),
            stage_action: Default::default(),
            enable: Default::default(),
            init_done: Default::default(),
            cmd_err: Default::default(),
            staging: Default::default(),
            stats_sel_q: Default::default(),
            cmd_word: Default::default(),
            mask_q: (0..s).map(|_| Default::default()).collect(),
            mask_en_q: (0..s).map(|_| Default::default()).collect(),
            cnt: (0..6).map(|_| Default::default()).collect(),
            state: Default::default(),
            op: Default::default(),
            slot: Default::default(),
            index: Default::default(),
            flow: Default::default(),
            clear_addr: Default::default(),
            mf_stamp: Default::default(),
            cmd_wait: Default::default(),
            bvalid: Default::default(),
            rvalid: Default::default(),
            rdata: Default::default(),
            wr: Default::default(),
            rd: Default::default(),
            wmask: Default::default(),
            woff: Default::default(),
            waddr: Default::default(),
            raddr: Default::default(),
            roff: Default::default(),
            wmerge512: Default::default(),
            rmux: Default::default(),
            cmd_bad: Default::default(),
            sel_mask: Default::default(),
            inv_mask: Default::default(),
            slot_base_sel: Default::default(),
            sel_base: Default::default(),
            sel_tab: Default::default(),
            sel_slot_v: Default::default(),
            sel_idx: Default::default(),
            new_entry: Default::default(),
            a_cap: words.iter().map(|(a, _)| c(*a)).collect(),
            v_cap: words.iter().map(|(_, v)| c(*v)).collect(),
            a_scratch: c(regs::REG_SCRATCH.addr()),
            a_stage_action: c(regs::REG_STAGE_ACTION.addr()),
            a_ctrl: c(regs::REG_CTRL.addr()),
            a_status: c(regs::REG_STATUS.addr()),
            a_time: c(regs::REG_TIME.addr()),
            a_cnt: [
                regs::REG_CNT_LOOKUPS.addr(),
                regs::REG_CNT_EMC_HITS.addr(),
                regs::REG_CNT_MF_HITS.addr(),
                regs::REG_CNT_MISSES.addr(),
                regs::REG_CNT_MISS_DROPS.addr(),
                regs::REG_CNT_COMMANDS.addr(),
            ]
            .iter()
            .map(|a| c(*a))
            .collect(),
            a_stage: c(regs::REG_STAGE_KEY.addr()),
            a_cmd: c(regs::REG_CMD.addr()),
            a_stats_sel: c(regs::REG_STATS_SEL.addr()),
            a_stats_hits: c(regs::REG_STATS_HITS.addr()),
            a_stats_used: c(regs::REG_STATS_USED.addr()),
            a_stats_bytes: c(regs::REG_STATS_BYTES.addr()),
            a_missq_level: c(regs::REG_MISSQ_LEVEL.addr()),
            a_missq_meta: c(regs::REG_MISSQ_META.addr()),
            a_missq_pop: c(regs::REG_MISSQ_POP.addr()),
            a_missq_key: c(regs::REG_MISSQ_KEY.addr()),
            // Key windows are 8 words of 8 bytes.
            key_window: c(!((abi::HW_KEY_BYTES as u64) - 1) & 0xfff),
            word_sel: c((abi::HW_KEY_BYTES as u64) - 8),
            word_align: c(0xfff & !7),
            byte_mask: (0..8).map(|b| c(0xffu64 << (8 * b))).collect(),
            ctrl_enable_sh: c(regs::CTRL_ENABLE.shift() as u64),
            ctrl_enable_mask: c(regs::CTRL_ENABLE.value_mask()),
            ctrl_clear_counters_sh: c(regs::CTRL_CLEAR_COUNTERS.shift() as u64),
            ctrl_clear_counters_mask: c(regs::CTRL_CLEAR_COUNTERS.value_mask()),
            ctrl_clear_tables_sh: c(regs::CTRL_CLEAR_TABLES.shift() as u64),
            ctrl_clear_tables_mask: c(regs::CTRL_CLEAR_TABLES.value_mask()),
            st_busy_sh: c(regs::STATUS_BUSY.shift() as u64),
            st_cmd_error_sh: c(regs::STATUS_CMD_ERROR.shift() as u64),
            cmd_op_sh: c(regs::CMD_OP.shift() as u64),
            cmd_op_mask: c(regs::CMD_OP.value_mask()),
            cmd_slot_sh: c(regs::CMD_SLOT.shift() as u64),
            cmd_slot_mask: c(regs::CMD_SLOT.value_mask()),
            cmd_index_sh: c(regs::CMD_INDEX.shift() as u64),
            cmd_index_mask: c(regs::CMD_INDEX.value_mask()),
            cmd_flow_sh: c(regs::CMD_FLOW_ID.shift() as u64),
            cmd_flow_mask: c(regs::CMD_FLOW_ID.value_mask()),
            sel_table_sh: c(regs::STATS_TABLE.shift() as u64),
            sel_table_mask: c(regs::STATS_TABLE.value_mask()),
            sel_slot_sh: c(regs::STATS_SLOT.shift() as u64),
            sel_slot_mask: c(regs::STATS_SLOT.value_mask()),
            sel_index_sh: c(regs::STATS_INDEX.shift() as u64),
            sel_index_mask: c(regs::STATS_INDEX.value_mask()),
            op_emc_write: c(Op::EmcWrite as u64),
            op_emc_inval: c(Op::EmcInvalidate as u64),
            op_mf_write: c(Op::MfWrite as u64),
            op_mf_inval: c(Op::MfInvalidate as u64),
            op_mask_set: c(Op::MaskSet as u64),
            op_mask_clear: c(Op::MaskClear as u64),
            op_edit_write: c(Op::EditWrite as u64),
            n_edits: c(abi::action::EDIT_ENTRIES as u64),
            s_idle: c(ST_IDLE),
            s_decode: c(ST_DECODE),
            s_exec: c(ST_EXEC),
            s_clear: c(ST_CLEAR),
            n_emc: c(n_emc),
            n_mf: c(n_mf),
            n_slots: c(s as u64),
            n_stats: c(n_emc + s as u64 * n_mf),
            k_log2: c(g.mf_log2_bucket_slots() as u64),
            way_mask: c(g.mf_bucket_slots as u64 - 1),
            decode_clocks: c(CMD_EXEC_DELAY as u64 - 2),
            slot_id: (0..s).map(|i| c(i as u64)).collect(),
            slot_base: (0..s).map(|i| c(n_emc + i as u64 * n_mf)).collect(),
            valid_bit: c(VALID_BIT as u64),
            flow_lsb: c(FLOW_LSB as u64),
            sh_meta: c(512),
            _slots: s,
        }
    }
}

impl Logic for RegFile {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            time_q,
            scratch,
            stage_action,
            enable,
            init_done,
            cmd_err,
            staging,
            stats_sel_q,
            cmd_word,
            state,
            op,
            slot,
            index,
            flow,
            clear_addr,
            bvalid,
            rvalid,
            rdata,
            mf_stamp,
            cmd_wait
        );
        for i in 0..self._slots {
            self.mask_q[i].clock.next = self.clock.val();
            self.mask_q[i].d.next = self.mask_q[i].q.val();
            self.mask_en_q[i].clock.next = self.clock.val();
            self.mask_en_q[i].d.next = self.mask_en_q[i].q.val();
            self.masks[i].next = self.mask_q[i].q.val();
            self.mask_en[i].next = self.mask_en_q[i].q.val();
        }
        for i in 0..6 {
            self.cnt[i].clock.next = self.clock.val();
            self.cnt[i].d.next = self.cnt[i].q.val();
        }
        self.time_q.d.next = self.time_q.q.val() + 1;
        self.now.next = self.time_q.q.val();
        self.lookup_enable.next = self.enable.q.val() & self.init_done.q.val();

        // ---- Global counters.
        if self.ev_lookup.val() {
            self.cnt[0].d.next = self.cnt[0].q.val() + 1;
        }
        if self.ev_emc_hit.val() {
            self.cnt[1].d.next = self.cnt[1].q.val() + 1;
        }
        if self.ev_mf_hit.val() {
            self.cnt[2].d.next = self.cnt[2].q.val() + 1;
        }
        if self.ev_miss.val() {
            self.cnt[3].d.next = self.cnt[3].q.val() + 1;
        }
        if self.ev_miss_drop.val() {
            self.cnt[4].d.next = self.cnt[4].q.val() + 1;
        }

        self.waddr.next = self.s_axil_awaddr.val() & self.word_align.val();
        self.raddr.next = self.s_axil_araddr.val() & self.word_align.val();
        // ---- AXI4-Lite write channel.
        self.wr.next = self.s_axil_awvalid.val()
            & self.s_axil_wvalid.val()
            & !self.bvalid.q.val()
            & (self.state.q.val() == self.s_idle.val());
        self.s_axil_awready.next = self.wr.val();
        self.s_axil_wready.next = self.wr.val();
        self.s_axil_bvalid.next = self.bvalid.q.val();
        self.s_axil_bresp.next = 0.into();
        if self.bvalid.q.val() & self.s_axil_bready.val() {
            self.bvalid.d.next = false;
        }
        if self.wr.val() {
            self.bvalid.d.next = true;
        }
        self.wmask.next = 0.into();
        for b in 0..8 {
            if self.s_axil_wstrb.val().get_bit(b) {
                self.wmask.next = self.wmask.val() | self.byte_mask[b].val();
            }
        }
        // Bit offset of the addressed word inside a 512-bit key window.
        self.woff.next =
            bit_cast::<9, AXIL_ADDR_BITS>(self.s_axil_awaddr.val() & self.word_sel.val()) << 3;
        self.wmerge512.next = (self.staging.q.val()
            & !(bit_cast::<512, 64>(self.wmask.val()) << self.woff.val()))
            | (bit_cast::<512, 64>(self.s_axil_wdata.val() & self.wmask.val()) << self.woff.val());
        self.missq_pop.next = false;
        if self.wr.val() {
            if self.waddr.val() == self.a_scratch.val() {
                self.scratch.d.next = (self.scratch.q.val() & !self.wmask.val())
                    | (self.s_axil_wdata.val() & self.wmask.val());
            }
            if self.waddr.val() == self.a_stage_action.val() {
                self.stage_action.d.next = (self.stage_action.q.val() & !self.wmask.val())
                    | (self.s_axil_wdata.val() & self.wmask.val());
            }
            if (self.waddr.val() == self.a_ctrl.val()) & self.s_axil_wstrb.val().get_bit(0) {
                self.enable.d.next = ((self.s_axil_wdata.val() >> self.ctrl_enable_sh.val())
                    & self.ctrl_enable_mask.val())
                .any();
                if ((self.s_axil_wdata.val() >> self.ctrl_clear_counters_sh.val())
                    & self.ctrl_clear_counters_mask.val())
                .any()
                {
                    for i in 0..6 {
                        self.cnt[i].d.next = 0.into();
                    }
                }
                if ((self.s_axil_wdata.val() >> self.ctrl_clear_tables_sh.val())
                    & self.ctrl_clear_tables_mask.val())
                .any()
                {
                    self.state.d.next = self.s_clear.val();
                    self.clear_addr.d.next = 0.into();
                }
            }
            if (self.waddr.val() & self.key_window.val()) == self.a_stage.val() {
                self.staging.d.next = self.wmerge512.val();
            }
            if self.waddr.val() == self.a_stats_sel.val() {
                self.stats_sel_q.d.next = (self.stats_sel_q.q.val() & !self.wmask.val())
                    | (self.s_axil_wdata.val() & self.wmask.val());
            }
            if self.waddr.val() == self.a_missq_pop.val() {
                self.missq_pop.next = true;
            }
            if self.waddr.val() == self.a_cmd.val() {
                // Every command write is counted, accepted or not.
                self.cnt[5].d.next = self.cnt[5].q.val() + 1;
                self.cmd_word.d.next = self.s_axil_wdata.val();
                self.op.d.next = bit_cast::<8, 64>(
                    (self.s_axil_wdata.val() >> self.cmd_op_sh.val()) & self.cmd_op_mask.val(),
                );
                self.slot.d.next = bit_cast::<8, 64>(
                    (self.s_axil_wdata.val() >> self.cmd_slot_sh.val()) & self.cmd_slot_mask.val(),
                );
                self.index.d.next = bit_cast::<IDX_BITS, 64>(
                    (self.s_axil_wdata.val() >> self.cmd_index_sh.val())
                        & self.cmd_index_mask.val(),
                );
                self.flow.d.next = bit_cast::<IDX_BITS, 64>(
                    (self.s_axil_wdata.val() >> self.cmd_flow_sh.val()) & self.cmd_flow_mask.val(),
                );
                if self.s_axil_wstrb.val() != 0xff {
                    // A partial write of the command word is refused.
                    self.op.d.next = 0xff.into();
                }
                self.state.d.next = self.s_decode.val();
                self.cmd_wait.d.next = self.decode_clocks.val();
            }
        }

        // ---- Command engine.
        self.emc_we.next = false;
        self.mf_we.next = false;
        self.mf_all.next = false;
        self.stamp_we.next = false;
        self.act_word.next = 0.into();
        self.edit_we.next = false;
        self.edit_addr.next = bit_cast::<ADDR_BITS, IDX_BITS>(self.index.q.val());
        self.edit_word.next = self.staging.q.val().get_bits::<EDIT_BITS>(0);
        self.emc_addr.next = self.index.q.val();
        self.mf_slot.next = self.slot.q.val();
        // abi::Geometry::mf_bucket_way: index = bucket << log2(k) | way.
        self.mf_bucket.next = self.index.q.val() >> self.k_log2.val();
        self.mf_way.next = bit_cast::<8, IDX_BITS>(self.index.q.val() & self.way_mask.val());
        self.sel_mask.next = 0.into();
        self.slot_base_sel.next = 0.into();
        for i in 0..self._slots {
            if self.slot.q.val() == self.slot_id[i].val() {
                self.sel_mask.next = self.mask_q[i].q.val();
                self.slot_base_sel.next = self.slot_base[i].val();
            }
        }
        self.inv_mask.next = !self.sel_mask.val();
        self.stamp_addr.next = bit_cast::<ADDR_BITS, IDX_BITS>(self.index.q.val());
        self.new_entry.next = 0.into();
        self.entry_data.next = 0.into();
        // A command word must be written whole (wstrb all ones); the fields
        // must name an existing op, slot and entry.
        self.cmd_bad.next = (self.op.q.val() > self.op_edit_write.val())
            | ((self.op.q.val() == self.op_edit_write.val())
                & (self.index.q.val() >= self.n_edits.val()))
            | (((self.op.q.val() == self.op_emc_write.val())
                | (self.op.q.val() == self.op_emc_inval.val()))
                & (self.index.q.val() >= self.n_emc.val()))
            | (((self.op.q.val() == self.op_mf_write.val())
                | (self.op.q.val() == self.op_mf_inval.val()))
                & ((self.index.q.val() >= self.n_mf.val())
                    | (self.slot.q.val() >= self.n_slots.val())))
            | (((self.op.q.val() == self.op_mask_set.val())
                | (self.op.q.val() == self.op_mask_clear.val()))
                & (self.slot.q.val() >= self.n_slots.val()));
        if self.state.q.val() == self.s_decode.val() {
            // Check the fields and add the statistics address of a
            // megaflow entry (a register in the write clock), then wait out
            // CMD_EXEC_DELAY so lookups accepted so far read the old entry.
            self.mf_stamp.d.next =
                self.slot_base_sel.val() + bit_cast::<ADDR_BITS, IDX_BITS>(self.index.q.val());
            if self.cmd_wait.q.val().any() {
                self.cmd_wait.d.next = self.cmd_wait.q.val() - 1;
            } else {
                self.state.d.next = self.s_exec.val();
            }
            if self.cmd_bad.val() {
                self.state.d.next = self.s_idle.val();
                self.cmd_err.d.next = true;
            }
        }
        if self.state.q.val() == self.s_exec.val() {
            self.state.d.next = self.s_idle.val();
            self.cmd_err.d.next = false;
            self.new_entry.next =
                bit_cast::<{ crate::entry::ENTRY_BITS }, 512>(self.staging.q.val())
                    | (bit_cast::<{ crate::entry::ENTRY_BITS }, IDX_BITS>(self.flow.q.val())
                        << self.flow_lsb.val())
                    | (bit_cast::<{ crate::entry::ENTRY_BITS }, 1>(true.into())
                        << self.valid_bit.val());
            if self.op.q.val() == self.op_emc_write.val() {
                self.emc_we.next = true;
                self.stamp_we.next = true;
                self.act_word.next = self.stage_action.q.val();
                self.entry_data.next = self.new_entry.val();
            }
            if self.op.q.val() == self.op_emc_inval.val() {
                self.emc_we.next = true;
                self.stamp_we.next = true;
            }
            if self.op.q.val() == self.op_mf_write.val() {
                self.mf_we.next = true;
                self.stamp_we.next = true;
                self.act_word.next = self.stage_action.q.val();
                self.stamp_addr.next = self.mf_stamp.q.val();
                // Keep key bits outside the mask at zero. The inversion is
                // done on a 512-bit signal: inverting inside the widening
                // cast would, in Verilog's context sizing, also clear the
                // flow id and valid bit.
                self.entry_data.next = self.new_entry.val()
                    & !(bit_cast::<{ crate::entry::ENTRY_BITS }, 512>(self.inv_mask.val()));
            }
            if self.op.q.val() == self.op_edit_write.val() {
                self.edit_we.next = true;
            }
            if self.op.q.val() == self.op_mf_inval.val() {
                self.mf_we.next = true;
                self.stamp_we.next = true;
                self.stamp_addr.next = self.mf_stamp.q.val();
            }
            for i in 0..self._slots {
                if self.slot.q.val() == self.slot_id[i].val() {
                    if self.op.q.val() == self.op_mask_set.val() {
                        self.mask_q[i].d.next = self.staging.q.val();
                        self.mask_en_q[i].d.next = true;
                    }
                    if self.op.q.val() == self.op_mask_clear.val() {
                        self.mask_en_q[i].d.next = false;
                    }
                }
            }
        }
        if self.state.q.val() == self.s_clear.val() {
            self.emc_we.next =
                bit_cast::<IDX_BITS, ADDR_BITS>(self.clear_addr.q.val()) < self.n_emc.val();
            self.emc_addr.next = bit_cast::<IDX_BITS, ADDR_BITS>(self.clear_addr.q.val());
            self.mf_we.next = true;
            self.mf_all.next = true;
            self.mf_bucket.next = bit_cast::<IDX_BITS, ADDR_BITS>(self.clear_addr.q.val());
            self.stamp_we.next = true;
            self.stamp_addr.next = self.clear_addr.q.val();
            self.clear_addr.d.next = self.clear_addr.q.val() + 1;
            for i in 0..self._slots {
                self.mask_q[i].d.next = 0.into();
                self.mask_en_q[i].d.next = false;
            }
            if self.clear_addr.q.val() + 1 == self.n_stats.val() {
                self.state.d.next = self.s_idle.val();
                self.init_done.d.next = true;
            }
        }

        // The action RAM is written with the statistics: same positions, same clock.
        self.act_we.next = self.stamp_we.val();

        // ---- Statistics selection: abi StatsSel → statistics address;
        // a selector naming no entry reads as zero (out-of-range address).
        self.sel_tab.next = bit_cast::<8, 64>(
            (self.stats_sel_q.q.val() >> self.sel_table_sh.val()) & self.sel_table_mask.val(),
        );
        self.sel_slot_v.next = bit_cast::<8, 64>(
            (self.stats_sel_q.q.val() >> self.sel_slot_sh.val()) & self.sel_slot_mask.val(),
        );
        self.sel_idx.next = bit_cast::<IDX_BITS, 64>(
            (self.stats_sel_q.q.val() >> self.sel_index_sh.val()) & self.sel_index_mask.val(),
        );
        self.sel_base.next = self.n_stats.val();
        if (self.sel_tab.val() == 0) & (self.sel_idx.val() < self.n_emc.val()) {
            self.sel_base.next = bit_cast::<ADDR_BITS, IDX_BITS>(self.sel_idx.val());
        }
        for i in 0..self._slots {
            if (self.sel_tab.val() == 1)
                & (self.sel_slot_v.val() == self.slot_id[i].val())
                & (self.sel_idx.val() < self.n_mf.val())
            {
                self.sel_base.next =
                    self.slot_base[i].val() + bit_cast::<ADDR_BITS, IDX_BITS>(self.sel_idx.val());
            }
        }
        self.stats_sel.next = self.sel_base.val();

        // ---- AXI4-Lite read channel: one registered read at a time. A read
        // waits while a command executes, so a read after a CMD write (the
        // driver's STATUS check; over PCIe the non-posted read behind the
        // posted write) sees the command's outcome and acts as a fence.
        self.rd.next = self.s_axil_arvalid.val()
            & !self.rvalid.q.val()
            & (self.state.q.val() != self.s_decode.val())
            & (self.state.q.val() != self.s_exec.val());
        self.s_axil_arready.next = !self.rvalid.q.val()
            & (self.state.q.val() != self.s_decode.val())
            & (self.state.q.val() != self.s_exec.val());
        self.s_axil_rvalid.next = self.rvalid.q.val();
        self.s_axil_rdata.next = self.rdata.q.val();
        self.s_axil_rresp.next = 0.into();
        if self.rvalid.q.val() & self.s_axil_rready.val() {
            self.rvalid.d.next = false;
        }
        self.roff.next =
            bit_cast::<9, AXIL_ADDR_BITS>(self.s_axil_araddr.val() & self.word_sel.val()) << 3;
        self.rmux.next = 0.into();
        // Literal bounds (hdl_gen unrolls them): 6 counters, 14 constant
        // words (checked in `new`).
        for i in 0..6 {
            if self.raddr.val() == self.a_cnt[i].val() {
                self.rmux.next = self.cnt[i].q.val();
            }
        }
        for i in 0..14 {
            if self.raddr.val() == self.a_cap[i].val() {
                self.rmux.next = self.v_cap[i].val();
            }
        }
        if self.raddr.val() == self.a_scratch.val() {
            self.rmux.next = self.scratch.q.val();
        }
        if self.raddr.val() == self.a_stage_action.val() {
            self.rmux.next = self.stage_action.q.val();
        }
        if self.raddr.val() == self.a_ctrl.val() {
            self.rmux.next =
                bit_cast::<64, 1>(self.enable.q.val().into()) << self.ctrl_enable_sh.val();
        }
        if self.raddr.val() == self.a_status.val() {
            // abi: BUSY = a table clear is in progress.
            self.rmux.next = (bit_cast::<64, 1>((self.state.q.val() == self.s_clear.val()).into())
                << self.st_busy_sh.val())
                | (bit_cast::<64, 1>(self.cmd_err.q.val().into()) << self.st_cmd_error_sh.val());
        }
        if self.raddr.val() == self.a_time.val() {
            self.rmux.next = self.time_q.q.val();
        }
        if (self.raddr.val() & self.key_window.val()) == self.a_stage.val() {
            self.rmux.next = self.staging.q.val().get_bits::<64>(self.roff.val().index());
        }
        if self.raddr.val() == self.a_cmd.val() {
            self.rmux.next = self.cmd_word.q.val();
        }
        if self.raddr.val() == self.a_stats_sel.val() {
            self.rmux.next = self.stats_sel_q.q.val();
        }
        if self.raddr.val() == self.a_stats_hits.val() {
            self.rmux.next = self.stats_hits.val();
        }
        if self.raddr.val() == self.a_stats_used.val() {
            self.rmux.next = self.stats_used.val();
        }
        if self.raddr.val() == self.a_stats_bytes.val() {
            self.rmux.next = self.stats_bytes.val();
        }
        if self.raddr.val() == self.a_missq_level.val() {
            self.rmux.next = bit_cast::<64, ADDR_BITS>(self.missq_level.val());
        }
        if self.raddr.val() == self.a_missq_meta.val() {
            self.rmux.next = self
                .missq_head
                .val()
                .get_bits::<64>(self.sh_meta.val().index());
        }
        if (self.raddr.val() & self.key_window.val()) == self.a_missq_key.val() {
            self.rmux.next = self
                .missq_head
                .val()
                .get_bits::<64>(self.roff.val().index());
        }
        if self.rd.val() {
            self.rvalid.d.next = true;
            self.rdata.d.next = self.rmux.val();
        }

        // ---- Reset: registers only; the tables are cleared by the engine.
        if self.reset.val() {
            self.enable.d.next = true;
            self.init_done.d.next = false;
            self.cmd_err.d.next = false;
            self.bvalid.d.next = false;
            self.rvalid.d.next = false;
            self.state.d.next = self.s_clear.val();
            self.clear_addr.d.next = 0.into();
            for i in 0..6 {
                self.cnt[i].d.next = 0.into();
            }
        }
    }
}
