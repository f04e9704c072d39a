//! The register file behind a 32-bit AXI4-Lite slave, for shells whose
//! control master is 32 bits wide (the OpenNIC shell, Corundum).
//!
//! [`Axil32To64`] turns 32-bit accesses into whole 64-bit accesses of the
//! [`RegFile`] slave, with the semantics [`abi::regs`] documents for a
//! 32-bit bus: a write of a register's low half (offset + 0) is held and
//! written together with its high half (offset + 4), so a command or a
//! control bit commits on the write of its last word; the read of a low half
//! reads the whole 64-bit register and latches its high half, which the read
//! of offset + 4 that follows returns, so a counter never tears.

use crate::bram::ADDR_BITS;
use crate::entry::{Entry, IDX_BITS};
use crate::regfile::{RegFile, AXIL_ADDR_BITS, EDIT_BITS, MISS_WORD_BITS};
use abi::regs::Capability;
use rust_hdl::prelude::*;

fn c<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(v.into())
}

/// A 32-bit AXI4-Lite slave in front of the 64-bit [`RegFile`] slave (which
/// takes address and data in one clock and answers one access at a time).
/// The high-half write reaches the register file in the clock of its own
/// handshake, so the command ordering promise of [`crate::regfile`] holds
/// from the handshake of the high half.
#[derive(LogicBlock)]
pub struct Axil32To64 {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high: drops the held half and the latch.
    pub reset: Signal<In, bool>,
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
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_awaddr: Signal<Out, Bits<AXIL_ADDR_BITS>>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_awprot: Signal<Out, Bits<3>>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_awvalid: Signal<Out, bool>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_awready: Signal<In, bool>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_wdata: Signal<Out, Bits<64>>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_wstrb: Signal<Out, Bits<8>>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_wvalid: Signal<Out, bool>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_wready: Signal<In, bool>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_bresp: Signal<In, Bits<2>>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_bvalid: Signal<In, bool>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_bready: Signal<Out, bool>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_araddr: Signal<Out, Bits<AXIL_ADDR_BITS>>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_arprot: Signal<Out, Bits<3>>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_arvalid: Signal<Out, bool>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_arready: Signal<In, bool>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_rdata: Signal<In, Bits<64>>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_rresp: Signal<In, Bits<2>>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_rvalid: Signal<In, bool>,
    /// AXI4-Lite master to the 64-bit register file.
    pub m_axil_rready: Signal<Out, bool>,

    // Write: the held low half.
    hold_v: DFF<bool>,
    hold_addr: DFF<Bits<AXIL_ADDR_BITS>>,
    hold_data: DFF<Bits<32>>,
    hold_strb: DFF<Bits<4>>,
    own_b: DFF<bool>,
    // Read: the latched high half, the answer given from it, the forwarded read.
    lat_v: DFF<bool>,
    lat_addr: DFF<Bits<AXIL_ADDR_BITS>>,
    lat_hi: DFF<Bits<32>>,
    own_r: DFF<bool>,
    own_rdata: DFF<Bits<32>>,
    rflight: DFF<bool>,
    pend_hi: DFF<bool>,
    pend_addr: DFF<Bits<AXIL_ADDR_BITS>>,
    // Combinational.
    wa: Signal<Local, Bits<AXIL_ADDR_BITS>>,
    ra: Signal<Local, Bits<AXIL_ADDR_BITS>>,
    w_hi: Signal<Local, bool>,
    r_hi: Signal<Local, bool>,
    w_go: Signal<Local, bool>,
    lo_acc: Signal<Local, bool>,
    hold_match: Signal<Local, bool>,
    r_go: Signal<Local, bool>,
    lat_match: Signal<Local, bool>,
    own_acc: Signal<Local, bool>,
    lo32: Signal<Local, Bits<64>>,
    hi32: Signal<Local, Bits<64>>,
    word_align: Constant<Bits<AXIL_ADDR_BITS>>,
    sh32: Constant<Bits<8>>,
    sh4: Constant<Bits<8>>,
}

impl Default for Axil32To64 {
    fn default() -> Self {
        Axil32To64 {
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
            m_axil_awaddr: Default::default(),
            m_axil_awprot: Default::default(),
            m_axil_awvalid: Default::default(),
            m_axil_awready: Default::default(),
            m_axil_wdata: Default::default(),
            m_axil_wstrb: Default::default(),
            m_axil_wvalid: Default::default(),
            m_axil_wready: Default::default(),
            m_axil_bresp: Default::default(),
            m_axil_bvalid: Default::default(),
            m_axil_bready: Default::default(),
            m_axil_araddr: Default::default(),
            m_axil_arprot: Default::default(),
            m_axil_arvalid: Default::default(),
            m_axil_arready: Default::default(),
            m_axil_rdata: Default::default(),
            m_axil_rresp: Default::default(),
            m_axil_rvalid: Default::default(),
            m_axil_rready: Default::default(),
            hold_v: Default::default(),
            hold_addr: Default::default(),
            hold_data: Default::default(),
            hold_strb: Default::default(),
            own_b: Default::default(),
            lat_v: Default::default(),
            lat_addr: Default::default(),
            lat_hi: Default::default(),
            own_r: Default::default(),
            own_rdata: Default::default(),
            rflight: Default::default(),
            pend_hi: Default::default(),
            pend_addr: Default::default(),
            wa: Default::default(),
            ra: Default::default(),
            w_hi: Default::default(),
            r_hi: Default::default(),
            w_go: Default::default(),
            lo_acc: Default::default(),
            hold_match: Default::default(),
            r_go: Default::default(),
            lat_match: Default::default(),
            own_acc: Default::default(),
            lo32: Default::default(),
            hi32: Default::default(),
            word_align: c(0xfff & !7),
            sh32: c(32),
            sh4: c(4),
        }
    }
}

impl Logic for Axil32To64 {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, hold_v, hold_addr, hold_data, hold_strb, own_b, lat_v, lat_addr, lat_hi,
            own_r, own_rdata, rflight, pend_hi, pend_addr
        );
        self.wa.next = self.s_axil_awaddr.val() & self.word_align.val();
        self.ra.next = self.s_axil_araddr.val() & self.word_align.val();
        self.w_hi.next = self.s_axil_awaddr.val().get_bit(2);
        self.r_hi.next = self.s_axil_araddr.val().get_bit(2);

        // ---- Write: one access at a time, so responses keep their order.
        self.w_go.next = self.s_axil_awvalid.val()
            & self.s_axil_wvalid.val()
            & !self.own_b.q.val()
            & !self.m_axil_bvalid.val();
        self.lo_acc.next = self.w_go.val() & !self.w_hi.val();
        self.hold_match.next = self.hold_v.q.val() & (self.hold_addr.q.val() == self.wa.val());
        self.m_axil_awaddr.next = self.wa.val();
        self.m_axil_awprot.next = self.s_axil_awprot.val();
        self.m_axil_awvalid.next = self.w_go.val() & self.w_hi.val();
        self.m_axil_wvalid.next = self.w_go.val() & self.w_hi.val();
        // The high half with the held low half of the same register, if any.
        self.m_axil_wdata.next = bit_cast::<64, 32>(self.s_axil_wdata.val()) << self.sh32.val();
        self.m_axil_wstrb.next = bit_cast::<8, 4>(self.s_axil_wstrb.val()) << self.sh4.val();
        if self.hold_match.val() {
            self.m_axil_wdata.next =
                self.m_axil_wdata.val() | bit_cast::<64, 32>(self.hold_data.q.val());
            self.m_axil_wstrb.next =
                self.m_axil_wstrb.val() | bit_cast::<8, 4>(self.hold_strb.q.val());
        }
        self.s_axil_awready.next =
            self.lo_acc.val() | (self.w_hi.val() & self.m_axil_awready.val());
        self.s_axil_wready.next = self.lo_acc.val() | (self.w_hi.val() & self.m_axil_wready.val());
        if self.lo_acc.val() {
            self.own_b.d.next = true;
            self.hold_v.d.next = true;
            self.hold_addr.d.next = self.wa.val();
            self.hold_data.d.next = self.s_axil_wdata.val();
            self.hold_strb.d.next = self.s_axil_wstrb.val();
        }
        if self.m_axil_awvalid.val() & self.m_axil_awready.val() {
            // A held half is used once: by this write or never.
            self.hold_v.d.next = false;
        }
        self.s_axil_bvalid.next = self.own_b.q.val() | self.m_axil_bvalid.val();
        self.s_axil_bresp.next = 0.into();
        if self.m_axil_bvalid.val() {
            self.s_axil_bresp.next = self.m_axil_bresp.val();
        }
        self.m_axil_bready.next = self.s_axil_bready.val() & !self.own_b.q.val();
        if self.own_b.q.val() & self.s_axil_bready.val() {
            self.own_b.d.next = false;
        }

        // ---- Read: one access at a time; a high half right after its low
        // half is answered from the latch, any other read goes through.
        self.r_go.next = self.s_axil_arvalid.val() & !self.own_r.q.val() & !self.rflight.q.val();
        self.lat_match.next = self.lat_v.q.val() & (self.lat_addr.q.val() == self.ra.val());
        self.own_acc.next = self.r_go.val() & self.r_hi.val() & self.lat_match.val();
        self.m_axil_araddr.next = self.ra.val();
        self.m_axil_arprot.next = self.s_axil_arprot.val();
        self.m_axil_arvalid.next = self.r_go.val() & !self.own_acc.val();
        self.s_axil_arready.next =
            self.own_acc.val() | (self.m_axil_arvalid.val() & self.m_axil_arready.val());
        if self.own_acc.val() {
            self.own_r.d.next = true;
            self.own_rdata.d.next = self.lat_hi.q.val();
            self.lat_v.d.next = false;
        }
        if self.m_axil_arvalid.val() & self.m_axil_arready.val() {
            self.rflight.d.next = true;
            self.pend_hi.d.next = self.r_hi.val();
            self.pend_addr.d.next = self.ra.val();
            self.lat_v.d.next = false;
        }
        self.lo32.next = self.m_axil_rdata.val();
        self.hi32.next = self.m_axil_rdata.val() >> self.sh32.val();
        self.s_axil_rvalid.next = self.own_r.q.val() | self.m_axil_rvalid.val();
        self.s_axil_rresp.next = 0.into();
        self.s_axil_rdata.next = bit_cast::<32, 64>(self.lo32.val());
        if self.pend_hi.q.val() {
            self.s_axil_rdata.next = bit_cast::<32, 64>(self.hi32.val());
        }
        if self.m_axil_rvalid.val() {
            self.s_axil_rresp.next = self.m_axil_rresp.val();
        }
        if self.own_r.q.val() {
            self.s_axil_rdata.next = self.own_rdata.q.val();
        }
        self.m_axil_rready.next = self.s_axil_rready.val() & !self.own_r.q.val();
        if self.own_r.q.val() & self.s_axil_rready.val() {
            self.own_r.d.next = false;
        }
        if self.m_axil_rvalid.val() & self.m_axil_rready.val() {
            self.rflight.d.next = false;
            if !self.pend_hi.q.val() {
                // The low half was read: keep the high half of the same word.
                self.lat_v.d.next = true;
                self.lat_addr.d.next = self.pend_addr.q.val();
                self.lat_hi.d.next = bit_cast::<32, 64>(self.hi32.val());
            }
        }

        if self.reset.val() {
            self.hold_v.d.next = false;
            self.own_b.d.next = false;
            self.lat_v.d.next = false;
            self.own_r.d.next = false;
            self.rflight.d.next = false;
        }
    }
}

/// [`RegFile`] with a 32-bit AXI4-Lite slave (`fastpath_axil_regs32`); every
/// other port is the register file's.
#[derive(LogicBlock)]
pub struct RegFile32 {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high.
    pub reset: Signal<In, bool>,
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
    /// Edit table: the entry written.
    pub edit_addr: Signal<Out, Bits<ADDR_BITS>>,
    /// Edit table: the entry's words.
    pub edit_word: Signal<Out, Bits<EDIT_BITS>>,
    /// Mask of each slot.
    pub masks: Vec<Signal<Out, Bits<512>>>,
    /// Enable of each slot.
    pub mask_en: Vec<Signal<Out, bool>>,

    bridge: Axil32To64,
    regs: RegFile,
    _slots: usize,
}

impl RegFile32 {
    /// A register file announcing `cap`, behind a 32-bit slave.
    pub fn new(cap: &Capability) -> Self {
        let s = cap.geometry.mf_slots as usize;
        RegFile32 {
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
            bridge: Default::default(),
            regs: RegFile::new(cap),
            _slots: s,
        }
    }
}

impl Logic for RegFile32 {
    #[hdl_gen]
    fn update(&mut self) {
        self.bridge.clock.next = self.clock.val();
        self.regs.clock.next = self.clock.val();
        self.bridge.reset.next = self.reset.val();
        self.regs.reset.next = self.reset.val();
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
        self.regs.s_axil_awaddr.next = self.bridge.m_axil_awaddr.val();
        self.regs.s_axil_awprot.next = self.bridge.m_axil_awprot.val();
        self.regs.s_axil_awvalid.next = self.bridge.m_axil_awvalid.val();
        self.bridge.m_axil_awready.next = self.regs.s_axil_awready.val();
        self.regs.s_axil_wdata.next = self.bridge.m_axil_wdata.val();
        self.regs.s_axil_wstrb.next = self.bridge.m_axil_wstrb.val();
        self.regs.s_axil_wvalid.next = self.bridge.m_axil_wvalid.val();
        self.bridge.m_axil_wready.next = self.regs.s_axil_wready.val();
        self.bridge.m_axil_bresp.next = self.regs.s_axil_bresp.val();
        self.bridge.m_axil_bvalid.next = self.regs.s_axil_bvalid.val();
        self.regs.s_axil_bready.next = self.bridge.m_axil_bready.val();
        self.regs.s_axil_araddr.next = self.bridge.m_axil_araddr.val();
        self.regs.s_axil_arprot.next = self.bridge.m_axil_arprot.val();
        self.regs.s_axil_arvalid.next = self.bridge.m_axil_arvalid.val();
        self.bridge.m_axil_arready.next = self.regs.s_axil_arready.val();
        self.bridge.m_axil_rdata.next = self.regs.s_axil_rdata.val();
        self.bridge.m_axil_rresp.next = self.regs.s_axil_rresp.val();
        self.bridge.m_axil_rvalid.next = self.regs.s_axil_rvalid.val();
        self.regs.s_axil_rready.next = self.bridge.m_axil_rready.val();
        self.regs.ev_lookup.next = self.ev_lookup.val();
        self.regs.ev_emc_hit.next = self.ev_emc_hit.val();
        self.regs.ev_mf_hit.next = self.ev_mf_hit.val();
        self.regs.ev_miss.next = self.ev_miss.val();
        self.regs.ev_miss_drop.next = self.ev_miss_drop.val();
        self.regs.missq_level.next = self.missq_level.val();
        self.regs.missq_head.next = self.missq_head.val();
        self.regs.stats_hits.next = self.stats_hits.val();
        self.regs.stats_used.next = self.stats_used.val();
        self.regs.stats_bytes.next = self.stats_bytes.val();
        self.now.next = self.regs.now.val();
        self.lookup_enable.next = self.regs.lookup_enable.val();
        self.missq_pop.next = self.regs.missq_pop.val();
        self.stats_sel.next = self.regs.stats_sel.val();
        self.emc_we.next = self.regs.emc_we.val();
        self.emc_addr.next = self.regs.emc_addr.val();
        self.entry_data.next = self.regs.entry_data.val();
        self.mf_we.next = self.regs.mf_we.val();
        self.mf_all.next = self.regs.mf_all.val();
        self.mf_slot.next = self.regs.mf_slot.val();
        self.mf_bucket.next = self.regs.mf_bucket.val();
        self.mf_way.next = self.regs.mf_way.val();
        self.stamp_we.next = self.regs.stamp_we.val();
        self.stamp_addr.next = self.regs.stamp_addr.val();
        self.act_we.next = self.regs.act_we.val();
        self.act_word.next = self.regs.act_word.val();
        self.edit_we.next = self.regs.edit_we.val();
        self.edit_addr.next = self.regs.edit_addr.val();
        self.edit_word.next = self.regs.edit_word.val();
        for i in 0..self._slots {
            self.masks[i].next = self.regs.masks[i].val();
            self.mask_en[i].next = self.regs.mask_en[i].val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simtools::{settle, tick};
    use abi::regs::{self as r, Command, Op};
    use abi::Geometry;

    const G: Geometry = Geometry {
        emc_log2_entries: 2,
        mf_slots: 1,
        mf_log2_buckets: 1,
        mf_bucket_slots: 1,
        missq_log2_depth: 1,
    };

    /// A 32-bit master driving the bus clock by clock; counts EMC writes.
    struct Bus {
        u: RegFile32,
        emc_writes: Vec<u64>,
    }

    impl Bus {
        fn new() -> Bus {
            let mut u = RegFile32::new(&Capability::new(G, 8, 0));
            u.connect_all();
            u.s_axil_bready.next = true;
            u.s_axil_rready.next = true;
            u.reset.next = true;
            settle(&mut u);
            let mut b = Bus {
                u,
                emc_writes: Vec::new(),
            };
            b.clock();
            b.u.reset.next = false;
            for _ in 0..40 {
                b.clock();
            }
            assert!(b.u.lookup_enable.val(), "power-on clear did not end");
            b.emc_writes.clear();
            b
        }

        fn clock(&mut self) {
            settle(&mut self.u);
            if self.u.emc_we.val() {
                self.emc_writes.push(self.u.emc_addr.val().to_u64());
            }
            tick(&mut self.u, |u| &mut u.clock);
        }

        fn write(&mut self, addr: u64, data: u32, strb: u8) {
            self.u.s_axil_awaddr.next = addr.into();
            self.u.s_axil_wdata.next = (data as u64).into();
            self.u.s_axil_wstrb.next = (strb as u64).into();
            self.u.s_axil_awvalid.next = true;
            self.u.s_axil_wvalid.next = true;
            for _ in 0..50 {
                settle(&mut self.u);
                let done = self.u.s_axil_awready.val();
                self.clock();
                if done {
                    self.u.s_axil_awvalid.next = false;
                    self.u.s_axil_wvalid.next = false;
                    for _ in 0..50 {
                        settle(&mut self.u);
                        let b = self.u.s_axil_bvalid.val();
                        self.clock();
                        if b {
                            return;
                        }
                    }
                    panic!("no write response at {addr:#x}");
                }
            }
            panic!("write at {addr:#x} never accepted");
        }

        fn read(&mut self, addr: u64) -> u32 {
            self.u.s_axil_araddr.next = addr.into();
            self.u.s_axil_arvalid.next = true;
            for _ in 0..50 {
                settle(&mut self.u);
                let done = self.u.s_axil_arready.val();
                self.clock();
                if done {
                    self.u.s_axil_arvalid.next = false;
                    for _ in 0..50 {
                        settle(&mut self.u);
                        if self.u.s_axil_rvalid.val() {
                            assert_eq!(self.u.s_axil_rresp.val().to_u64(), 0);
                            let v = self.u.s_axil_rdata.val().to_u64() as u32;
                            self.clock();
                            return v;
                        }
                        self.clock();
                    }
                    panic!("no read data at {addr:#x}");
                }
            }
            panic!("read at {addr:#x} never accepted");
        }

        fn write64(&mut self, addr: u64, v: u64) {
            self.write(addr, v as u32, 0xf);
            self.write(addr + 4, (v >> 32) as u32, 0xf);
        }

        fn read64(&mut self, addr: u64) -> u64 {
            let lo = self.read(addr) as u64;
            lo | (self.read(addr + 4) as u64) << 32
        }
    }

    #[test]
    fn regfile32_commits_on_the_high_half() {
        let mut b = Bus::new();
        let cmd = Command {
            op: Op::EmcWrite,
            slot: 0,
            index: 3,
            flow_id: 0x12_3456,
        }
        .encode()
        .unwrap();
        let before = b.read64(r::REG_CNT_COMMANDS.addr());
        b.write(r::REG_CMD.addr(), cmd as u32, 0xf);
        for _ in 0..20 {
            b.clock();
        }
        assert!(b.emc_writes.is_empty(), "low half of CMD executed");
        assert_eq!(b.read64(r::REG_CNT_COMMANDS.addr()), before);
        b.write(r::REG_CMD.addr() + 4, (cmd >> 32) as u32, 0xf);
        assert_eq!(b.read64(r::REG_STATUS.addr()), 0, "command refused");
        assert_eq!(b.emc_writes, vec![3]);
        assert_eq!(b.read64(r::REG_CNT_COMMANDS.addr()), before + 1);
        assert_eq!(b.read64(r::REG_CMD.addr()), cmd);
        // CTRL: clearing counters waits for the high half as well.
        let clear = r::CTRL_CLEAR_COUNTERS.value_mask() << r::CTRL_CLEAR_COUNTERS.shift()
            | r::CTRL_ENABLE.value_mask() << r::CTRL_ENABLE.shift();
        b.write(r::REG_CTRL.addr(), clear as u32, 0xf);
        assert_eq!(b.read64(r::REG_CNT_COMMANDS.addr()), before + 1);
        b.write(r::REG_CTRL.addr() + 4, 0, 0xf);
        assert_eq!(b.read64(r::REG_CNT_COMMANDS.addr()), 0);
        // A high half alone is a partial command word: refused, no write.
        b.emc_writes.clear();
        b.write(r::REG_CMD.addr() + 4, (cmd >> 32) as u32, 0xf);
        let err = r::STATUS_CMD_ERROR.value_mask() << r::STATUS_CMD_ERROR.shift();
        assert_eq!(b.read64(r::REG_STATUS.addr()), err);
        assert!(b.emc_writes.is_empty());
    }

    #[test]
    fn regfile32_counter_does_not_tear() {
        let mut b = Bus::new();
        // A counter crossing 2^32 between the reads of its two halves.
        let mut v = 0xffff_fff0u64;
        b.u.stats_hits.next = v.into();
        let lo = b.read(r::REG_STATS_HITS.addr());
        for _ in 0..40 {
            v += 1;
            b.u.stats_hits.next = v.into();
            b.clock();
        }
        assert!(v >> 32 == 1);
        let hi = b.read(r::REG_STATS_HITS.addr() + 4);
        assert_eq!(hi, 0, "high half read the counter again (lo {lo:#x})");
        assert!(lo >= 0xffff_fff0);
        // The latch serves one high read; the next reads the register now.
        assert_eq!(b.read(r::REG_STATS_HITS.addr() + 4), 1);
        // A lookup counter read while it counts: both halves of one value.
        b.u.ev_lookup.next = true;
        let t0 = b.read64(r::REG_CNT_LOOKUPS.addr());
        let t1 = b.read64(r::REG_CNT_LOOKUPS.addr());
        assert!(t1 > t0 && t1 - t0 < 20, "{t0} {t1}");
    }

    #[test]
    fn regfile32_sub_word_and_bad_addresses() {
        let mut b = Bus::new();
        b.write64(r::REG_SCRATCH.addr(), 0x1122_3344_5566_7788);
        assert_eq!(b.read64(r::REG_SCRATCH.addr()), 0x1122_3344_5566_7788);
        // Byte 1 of the low half, committed by an empty high-half write.
        b.write(r::REG_SCRATCH.addr(), 0x0000_ab00, 0b0010);
        assert_eq!(b.read64(r::REG_SCRATCH.addr()), 0x1122_3344_5566_7788);
        b.write(r::REG_SCRATCH.addr() + 4, 0, 0);
        assert_eq!(b.read64(r::REG_SCRATCH.addr()), 0x1122_3344_5566_ab88);
        // A high half alone writes the high half only.
        b.write(r::REG_SCRATCH.addr() + 4, 0xdead_beef, 0xf);
        assert_eq!(b.read64(r::REG_SCRATCH.addr()), 0xdead_beef_5566_ab88);
        // A low half followed by another register's high half is dropped.
        b.write(r::REG_SCRATCH.addr(), 0xffff_ffff, 0xf);
        b.write(r::REG_STAGE_ACTION.addr() + 4, 0x7, 0xf);
        b.write(r::REG_SCRATCH.addr() + 4, 0xdead_beef, 0xf);
        assert_eq!(b.read64(r::REG_SCRATCH.addr()), 0xdead_beef_5566_ab88);
        assert_eq!(b.read64(r::REG_STAGE_ACTION.addr()), 0x7 << 32);
        // Unmapped offsets read 0 and ignore writes.
        b.write64(0xff8, u64::MAX);
        assert_eq!(b.read64(0xff8), 0);
        assert_eq!(b.read(0xffc), 0);
        // The capability block reads whole words.
        let id = b.read64(r::REG_ID.addr());
        assert_eq!((id >> r::ID_MAGIC.shift()) as u32, r::MAGIC);
    }
}
