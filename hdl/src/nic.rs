//! The NIC: frames in on MAC ports, parsed, looked up and acted on in
//! hardware, out on MAC ports or to the host queue.
//!
//! ```text
//!  rx0 ─┐                                       ┌─ fan-out ─ tx0, tx1
//!  rx1 ─┴ arbiter ┬ arbiter ─ frame buffer ─ action stage ┤
//!  host TX inject ┘      │           ▲ descriptor          └─ host RX (+ meta)
//!                        └ parser ─ lookup core ─ action RAM ─ edit table
//!  host TX output ─────────────────────────────── arbiter ─ fan-out
//! ```
//!
//! Each stage is its own module with its own bench; this one only wires
//! them. The frame buffer holds a frame while the parser makes its key and
//! the lookup core looks it up; the key's parse meta word waits in order in
//! `metaq` (the core never reorders), the result reads the action word of
//! its table position, the action word's `AE_EDIT_INDEX` reads the edit
//! table in the next clock, and result, action, meta, hash and edit entry
//! become the frame's descriptor ([`abi::action_stage::ACTION_DESC`]): two
//! RAM reads in a row, one result per clock, no stall. The frame buffer reserves a result
//! slot per admitted frame, so the core's results are never refused
//! (`res_ready` high). Frames from the host TX queue carry a
//! [`abi::hostq::HostTxMeta`] word held for the frame: `Output` goes straight
//! to the fan-out (through the TX arbiter, beside the action stage's
//! frames), `Inject` enters the pipeline as if received on `HT_PORT`.
//!
//! Counters are output ports for now (the simulated NIC reads them
//! directly); a statistics register block is the lookup-v2 issue's.

use crate::action_stage::{ActionStage64, DESC_BITS, META_BITS};
use crate::bram::{Bram, ADDR_BITS};
use crate::fifo::Fifo;
use crate::frame_buffer::{FrameBuffer, COUNTER_BITS};
use crate::parser::Parser64;
use crate::port_arbiter::PortArbiter64;
use crate::port_fanout::PortFanout64;
use crate::regfile::{AXIL_ADDR_BITS, EDIT_BITS};
use crate::stats::LEN_BITS;
use crate::top::FastpathTop;
use abi::action::{AE_EDIT_INDEX, EDIT_ENTRIES, MAC_PORT_BASE};
use abi::hostq::{HostTxKind, HT_KIND, HT_PORT};
use abi::parser::SB_FRAME_LEN;
use abi::regs::{HitKind, RESULT_INDEX, RESULT_KIND, RESULT_SLOT};
use abi::Geometry;
use rust_hdl::prelude::*;

/// MAC ports of this build (the simulated NIC, OpenNIC's two CMACs).
pub const MAC_PORTS: usize = 2;
/// Parse meta words in flight between the parser and the lookup result.
const METAQ_LOG2_DEPTH: u8 = 5;
const _: () =
    assert!(1 << METAQ_LOG2_DEPTH > crate::top::PIPE_LATENCY + (1 << crate::top::RES_LOG2_DEPTH));
// Literal widths below (hdl_gen takes no constant expressions).
const _: () = assert!(DESC_BITS == 512 && META_BITS == 128 && MAC_PORTS == 2);
const _: () = assert!(EDIT_BITS == 256 && AE_EDIT_INDEX.width == 12 && 12 <= ADDR_BITS);
const _: () = assert!(HT_KIND.width == 1 && HT_PORT.width == 16);

/// The 64-bit frame buffer with a descriptor as its result.
type Buffer = FrameBuffer<64, 8, 73, 512>;

/// The 64-bit, two-port NIC.
#[derive(LogicBlock)]
pub struct FastpathNic {
    /// Clock of the whole pipeline and the AXI4-Lite port.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, bool>,
    /// `vlan-limit` of the parser (1: outer tag only, OVS's default).
    pub vlan_limit: Signal<In, Bits<2>>,
    /// MAC port 0 RX: data (byte 0 in bits 7..0).
    pub rx0_tdata: Signal<In, Bits<64>>,
    /// MAC port 0 RX: byte enables.
    pub rx0_tkeep: Signal<In, Bits<8>>,
    /// MAC port 0 RX: last beat.
    pub rx0_tlast: Signal<In, bool>,
    /// MAC port 0 RX: valid.
    pub rx0_tvalid: Signal<In, bool>,
    /// MAC port 0 RX: ready.
    pub rx0_tready: Signal<Out, bool>,
    /// MAC port 1 RX: data.
    pub rx1_tdata: Signal<In, Bits<64>>,
    /// MAC port 1 RX: byte enables.
    pub rx1_tkeep: Signal<In, Bits<8>>,
    /// MAC port 1 RX: last beat.
    pub rx1_tlast: Signal<In, bool>,
    /// MAC port 1 RX: valid.
    pub rx1_tvalid: Signal<In, bool>,
    /// MAC port 1 RX: ready.
    pub rx1_tready: Signal<Out, bool>,
    /// MAC TX, every port: data.
    pub tx_tdata: Signal<Out, Bits<64>>,
    /// MAC TX, every port: byte enables.
    pub tx_tkeep: Signal<Out, Bits<8>>,
    /// MAC TX, every port: last beat.
    pub tx_tlast: Signal<Out, bool>,
    /// MAC TX: valid per port (bit `i` = MAC port `i`).
    pub tx_tvalid: Signal<Out, Bits<2>>,
    /// MAC TX: ready per port.
    pub tx_tready: Signal<In, Bits<2>>,
    /// Host TX queue: data.
    pub htx_tdata: Signal<In, Bits<64>>,
    /// Host TX queue: byte enables.
    pub htx_tkeep: Signal<In, Bits<8>>,
    /// Host TX queue: last beat.
    pub htx_tlast: Signal<In, bool>,
    /// Host TX queue: the frame's `HostTxMeta`, held for the frame.
    pub htx_meta: Signal<In, Bits<64>>,
    /// Host TX queue: valid.
    pub htx_tvalid: Signal<In, bool>,
    /// Host TX queue: ready.
    pub htx_tready: Signal<Out, bool>,
    /// Host RX queue: data.
    pub hrx_tdata: Signal<Out, Bits<64>>,
    /// Host RX queue: byte enables.
    pub hrx_tkeep: Signal<Out, Bits<8>>,
    /// Host RX queue: last beat.
    pub hrx_tlast: Signal<Out, bool>,
    /// Host RX queue: the two `HostRxMeta` words, held for the frame.
    pub hrx_meta: Signal<Out, Bits<128>>,
    /// Host RX queue: valid.
    pub hrx_tvalid: Signal<Out, bool>,
    /// Host RX queue: ready.
    pub hrx_tready: Signal<In, bool>,
    /// AXI4-Lite slave of the lookup core (see [`crate::regfile::RegFile`]).
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
    /// Frames received on MAC port 0 (whole, into the pipeline).
    pub rx_frames0: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frames received on MAC port 1.
    pub rx_frames1: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frames the host injected into the pipeline.
    pub inject_frames: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frames the host sent straight out of a MAC port.
    pub host_tx_frames: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frame buffer: frames admitted.
    pub frames_in: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frame buffer: frames passed on to the action stage.
    pub frames_out: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frame buffer: frames dropped for lack of room (lossy builds only).
    pub drops_full: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frame buffer: frames over `MAX_PORT_FRAME`, drained.
    pub drops_oversize: Signal<Out, Bits<COUNTER_BITS>>,
    /// Action stage: frames sent to MAC ports.
    pub forwarded: Signal<Out, Bits<COUNTER_BITS>>,
    /// Action stage: frames dropped by their action.
    pub dropped: Signal<Out, Bits<COUNTER_BITS>>,
    /// Action stage: hits sent to the host with their mark.
    pub host_marked: Signal<Out, Bits<COUNTER_BITS>>,
    /// Action stage: misses sent to the host.
    pub host_miss: Signal<Out, Bits<COUNTER_BITS>>,
    /// Action stage: parser exceptions sent to the host.
    pub host_exception: Signal<Out, Bits<COUNTER_BITS>>,
    /// Action stage: hits with an edit the hardware does not make, to the host.
    pub edits_to_host: Signal<Out, Bits<COUNTER_BITS>>,
    /// Fan-out: frames with no MAC port of this build in their bitmap.
    pub drops_no_port: Signal<Out, Bits<COUNTER_BITS>>,

    arb_mac: PortArbiter64,
    arb_in: PortArbiter64,
    buffer: Buffer,
    parser: Parser64,
    metaq: Fifo<Bits<64>>,
    core: FastpathTop,
    actions: Bram<Bits<64>>,
    edits: Bram<Bits<EDIT_BITS>>,
    stage: ActionStage64,
    arb_tx: PortArbiter64,
    fanout: PortFanout64,
    // Result → descriptor: one clock for the action RAM read.
    d_valid: DFF<bool>,
    d_result: DFF<Bits<64>>,
    d_hash: DFF<Bits<32>>,
    d_meta: DFF<Bits<64>>,
    // Action word → descriptor: one clock for the edit table read.
    e_valid: DFF<bool>,
    e_result: DFF<Bits<64>>,
    e_action: DFF<Bits<64>>,
    e_hash: DFF<Bits<32>>,
    e_meta: DFF<Bits<64>>,
    sh_edit_index: Constant<Bits<8>>,
    k_mf: Constant<Bits<2>>,
    n_emc: Constant<Bits<ADDR_BITS>>,
    mf_shift: Constant<Bits<8>>,
    port0: Constant<Bits<16>>,
    port1: Constant<Bits<16>>,
    k_inject: Constant<Bits<1>>,
    sh_ht_kind: Constant<Bits<8>>,
    sh_ht_port: Constant<Bits<8>>,
    sh_res_kind: Constant<Bits<8>>,
    sh_res_slot: Constant<Bits<8>>,
    sh_res_index: Constant<Bits<8>>,
    sh_len: Constant<Bits<8>>,
    sh_len_hi: Constant<Bits<8>>,
    len_max: Constant<Bits<LEN_BITS>>,
    res_kind: Signal<Local, Bits<2>>,
    res_slot: Signal<Local, Bits<ADDR_BITS>>,
    res_index: Signal<Local, Bits<ADDR_BITS>>,
    inject: Signal<Local, bool>,
    ht_port: Signal<Local, Bits<16>>,
    lk_go: Signal<Local, bool>,
    meta_len: Signal<Local, Bits<64>>,
    meta_len_hi: Signal<Local, Bits<64>>,
}

impl FastpathNic {
    /// The capability block: the core's, with this build's packet path
    /// (its MAC ports; the action stage pushes, pops and sets VLAN tags and
    /// rewrites Ethernet addresses).
    pub fn capability(g: &Geometry, clock_khz: u32) -> abi::regs::Capability {
        FastpathTop::capability(g, clock_khz)
            .with_packet_path(MAC_PORTS as u8, true)
            .with_eth_edit(true)
    }

    /// The NIC with the lookup core of geometry `g`, announcing `clock_khz`;
    /// `lossless` selects backpressure (a MAC with `tready`) over counted
    /// whole-frame drops when the frame buffer is full.
    pub fn new(g: &Geometry, clock_khz: u32, lossless: bool) -> Self {
        let words = abi::action::MAX_PORT_FRAME.div_ceil(8);
        let log2_words = (2 * words).next_power_of_two().trailing_zeros() as u8;
        let c2 = |v: u64| Constant::new(v.into());
        let ca = |v: u64| Constant::new(v.into());
        let c16 = |v: u64| Constant::new(v.into());
        let sh = |v: u32| Constant::new((v as u64).into());
        FastpathNic {
            clock: Default::default(),
            reset: Default::default(),
            vlan_limit: Default::default(),
            rx0_tdata: Default::default(),
            rx0_tkeep: Default::default(),
            rx0_tlast: Default::default(),
            rx0_tvalid: Default::default(),
            rx0_tready: Default::default(),
            rx1_tdata: Default::default(),
            rx1_tkeep: Default::default(),
            rx1_tlast: Default::default(),
            rx1_tvalid: Default::default(),
            rx1_tready: Default::default(),
            tx_tdata: Default::default(),
            tx_tkeep: Default::default(),
            tx_tlast: Default::default(),
            tx_tvalid: Default::default(),
            tx_tready: Default::default(),
            htx_tdata: Default::default(),
            htx_tkeep: Default::default(),
            htx_tlast: Default::default(),
            htx_meta: Default::default(),
            htx_tvalid: Default::default(),
            htx_tready: Default::default(),
            hrx_tdata: Default::default(),
            hrx_tkeep: Default::default(),
            hrx_tlast: Default::default(),
            hrx_meta: Default::default(),
            hrx_tvalid: Default::default(),
            hrx_tready: Default::default(),
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
            rx_frames0: Default::default(),
            rx_frames1: Default::default(),
            inject_frames: Default::default(),
            host_tx_frames: Default::default(),
            frames_in: Default::default(),
            frames_out: Default::default(),
            drops_full: Default::default(),
            drops_oversize: Default::default(),
            forwarded: Default::default(),
            dropped: Default::default(),
            host_marked: Default::default(),
            host_miss: Default::default(),
            host_exception: Default::default(),
            edits_to_host: Default::default(),
            drops_no_port: Default::default(),
            arb_mac: Default::default(),
            arb_in: Default::default(),
            buffer: Buffer::new(log2_words, words, 5, lossless),
            parser: Parser64::new(),
            metaq: Fifo::new(METAQ_LOG2_DEPTH),
            core: FastpathTop::with_capability(g, &Self::capability(g, clock_khz)),
            actions: Bram::new(g.positions() as usize),
            edits: Bram::new(EDIT_ENTRIES),
            stage: ActionStage64::new(),
            arb_tx: Default::default(),
            fanout: Default::default(),
            d_valid: Default::default(),
            d_result: Default::default(),
            d_hash: Default::default(),
            d_meta: Default::default(),
            e_valid: Default::default(),
            e_result: Default::default(),
            e_action: Default::default(),
            e_hash: Default::default(),
            e_meta: Default::default(),
            sh_edit_index: sh(AE_EDIT_INDEX.shift()),
            k_mf: c2(HitKind::Megaflow as u64),
            n_emc: ca(g.mf_position(0, 0) as u64),
            mf_shift: Constant::new((g.mf_log2_entries_per_slot() as u64).into()),
            port0: c16(MAC_PORT_BASE as u64),
            port1: c16(MAC_PORT_BASE as u64 + 1),
            k_inject: Constant::new((HostTxKind::Inject as u64).into()),
            sh_ht_kind: sh(HT_KIND.shift()),
            sh_ht_port: sh(HT_PORT.shift()),
            sh_res_kind: sh(RESULT_KIND.shift()),
            sh_res_slot: sh(RESULT_SLOT.shift()),
            sh_res_index: sh(RESULT_INDEX.shift()),
            sh_len: sh(SB_FRAME_LEN.shift()),
            sh_len_hi: sh(SB_FRAME_LEN.shift() + LEN_BITS as u32),
            len_max: Constant::new((abi::parser::MAX_FRAME_LEN as u64).into()),
            res_kind: Default::default(),
            res_slot: Default::default(),
            res_index: Default::default(),
            inject: Default::default(),
            ht_port: Default::default(),
            lk_go: Default::default(),
            meta_len: Default::default(),
            meta_len_hi: Default::default(),
        }
    }
}

impl Logic for FastpathNic {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, d_valid, d_result, d_hash, d_meta, e_valid, e_result, e_action, e_hash,
            e_meta
        );
        self.arb_mac.clock.next = self.clock.val();
        self.arb_in.clock.next = self.clock.val();
        self.buffer.clock.next = self.clock.val();
        self.parser.clock.next = self.clock.val();
        self.metaq.clock.next = self.clock.val();
        self.core.clock.next = self.clock.val();
        self.stage.clock.next = self.clock.val();
        self.arb_tx.clock.next = self.clock.val();
        self.fanout.clock.next = self.clock.val();
        self.actions.clock.next = self.clock.val();
        self.edits.clock.next = self.clock.val();
        self.arb_mac.reset.next = self.reset.val();
        self.arb_in.reset.next = self.reset.val();
        self.buffer.reset.next = self.reset.val();
        self.parser.reset.next = self.reset.val();
        self.metaq.reset.next = self.reset.val();
        self.core.reset.next = self.reset.val();
        self.stage.reset.next = self.reset.val();
        self.arb_tx.reset.next = self.reset.val();
        self.fanout.reset.next = self.reset.val();

        // MAC RX ports into one stream, in port in tuser.
        self.arb_mac.a_tdata.next = self.rx0_tdata.val();
        self.arb_mac.a_tkeep.next = self.rx0_tkeep.val();
        self.arb_mac.a_tlast.next = self.rx0_tlast.val();
        self.arb_mac.a_tuser.next = self.port0.val();
        self.arb_mac.a_tvalid.next = self.rx0_tvalid.val();
        self.rx0_tready.next = self.arb_mac.a_tready.val();
        self.arb_mac.b_tdata.next = self.rx1_tdata.val();
        self.arb_mac.b_tkeep.next = self.rx1_tkeep.val();
        self.arb_mac.b_tlast.next = self.rx1_tlast.val();
        self.arb_mac.b_tuser.next = self.port1.val();
        self.arb_mac.b_tvalid.next = self.rx1_tvalid.val();
        self.rx1_tready.next = self.arb_mac.b_tready.val();

        // Host TX: inject into the pipeline or output straight to a port.
        self.inject.next = self
            .htx_meta
            .val()
            .get_bits::<1>(self.sh_ht_kind.val().index())
            == self.k_inject.val();
        self.ht_port.next = self
            .htx_meta
            .val()
            .get_bits::<16>(self.sh_ht_port.val().index());
        self.arb_in.a_tdata.next = self.arb_mac.m_tdata.val();
        self.arb_in.a_tkeep.next = self.arb_mac.m_tkeep.val();
        self.arb_in.a_tlast.next = self.arb_mac.m_tlast.val();
        self.arb_in.a_tuser.next = self.arb_mac.m_tuser.val();
        self.arb_in.a_tvalid.next = self.arb_mac.m_tvalid.val();
        self.arb_mac.m_tready.next = self.arb_in.a_tready.val();
        self.arb_in.b_tdata.next = self.htx_tdata.val();
        self.arb_in.b_tkeep.next = self.htx_tkeep.val();
        self.arb_in.b_tlast.next = self.htx_tlast.val();
        self.arb_in.b_tuser.next = self.ht_port.val();
        self.arb_in.b_tvalid.next = self.htx_tvalid.val() & self.inject.val();
        self.arb_tx.b_tdata.next = self.htx_tdata.val();
        self.arb_tx.b_tkeep.next = self.htx_tkeep.val();
        self.arb_tx.b_tlast.next = self.htx_tlast.val();
        // The port bitmap of one MAC port; a port this build lacks is an
        // empty bitmap, which the fan-out drops and counts.
        self.arb_tx.b_tuser.next = 0.into();
        if self.ht_port.val() == self.port0.val() {
            self.arb_tx.b_tuser.next = 1.into();
        }
        if self.ht_port.val() == self.port1.val() {
            self.arb_tx.b_tuser.next = 2.into();
        }
        self.arb_tx.b_tvalid.next = self.htx_tvalid.val() & !self.inject.val();
        self.htx_tready.next = self.arb_tx.b_tready.val();
        if self.inject.val() {
            self.htx_tready.next = self.arb_in.b_tready.val();
        }

        // Frame buffer: beats to the parser now, the frame after its result.
        self.buffer.s_tdata.next = self.arb_in.m_tdata.val();
        self.buffer.s_tkeep.next = self.arb_in.m_tkeep.val();
        self.buffer.s_tlast.next = self.arb_in.m_tlast.val();
        self.buffer.s_tuser.next = self.arb_in.m_tuser.val();
        self.buffer.s_tvalid.next = self.arb_in.m_tvalid.val();
        self.arb_in.m_tready.next = self.buffer.s_tready.val();
        self.parser.vlan_limit.next = self.vlan_limit.val();
        self.parser.s_tdata.next = self.buffer.p_tdata.val();
        self.parser.s_tkeep.next = self.buffer.p_tkeep.val();
        self.parser.s_tlast.next = self.buffer.p_tlast.val();
        self.parser.s_tuser.next = self.buffer.p_tuser.val();
        self.parser.s_tvalid.next = self.buffer.p_tvalid.val();
        self.buffer.p_tready.next = self.parser.s_tready.val();

        // Parser → lookup; the meta word waits in order for the result.
        self.lk_go.next =
            self.parser.m_valid.val() & self.core.lk_ready.val() & !self.metaq.full.val();
        self.core.lk_valid.next = self.parser.m_valid.val() & !self.metaq.full.val();
        self.core.lk_key.next = self.parser.m_key.val();
        self.core.lk_tag.next = 0.into();
        // The byte counters take the frame's length (saturated: the sideband
        // field is wider than any frame the buffer holds).
        self.meta_len.next = self.parser.m_meta.val() >> self.sh_len.val();
        self.meta_len_hi.next = self.parser.m_meta.val() >> self.sh_len_hi.val();
        self.core.lk_len.next = self.meta_len.val().get_bits::<LEN_BITS>(0);
        if self.meta_len_hi.val().get_bits::<LEN_BITS>(0).any() {
            self.core.lk_len.next = self.len_max.val();
        }
        self.parser.m_ready.next = self.core.lk_ready.val() & !self.metaq.full.val();
        self.metaq.push.next = self.lk_go.val();
        self.metaq.din.next = self.parser.m_meta.val();
        self.core.res_ready.next = true;
        self.metaq.pop.next = self.core.res_valid.val();

        // Result → action RAM read at its table position → descriptor.
        self.actions.we.next = self.core.act_we.val();
        self.actions.waddr.next = self.core.act_addr.val();
        self.actions.wdata.next = self.core.act_word.val();
        self.res_kind.next = self
            .core
            .res_word
            .val()
            .get_bits::<2>(self.sh_res_kind.val().index());
        self.res_slot.next = bit_cast::<ADDR_BITS, 8>(
            self.core
                .res_word
                .val()
                .get_bits::<8>(self.sh_res_slot.val().index()),
        );
        self.res_index.next = self
            .core
            .res_word
            .val()
            .get_bits::<ADDR_BITS>(self.sh_res_index.val().index());
        self.actions.raddr.next = self.res_index.val();
        if self.res_kind.val() == self.k_mf.val() {
            self.actions.raddr.next = self.n_emc.val()
                + (self.res_slot.val() << self.mf_shift.val())
                + self.res_index.val();
        }
        self.d_valid.d.next = self.core.res_valid.val();
        self.d_result.d.next = self.core.res_word.val();
        self.d_hash.d.next = self.core.res_hash.val();
        self.d_meta.d.next = self.metaq.dout.val();
        self.edits.we.next = self.core.edit_we.val();
        self.edits.waddr.next = self.core.edit_addr.val();
        self.edits.wdata.next = self.core.edit_word.val();
        self.edits.raddr.next = bit_cast::<ADDR_BITS, 12>(
            self.actions
                .rdata
                .val()
                .get_bits::<12>(self.sh_edit_index.val().index()),
        );
        self.e_valid.d.next = self.d_valid.q.val();
        self.e_result.d.next = self.d_result.q.val();
        self.e_action.d.next = self.actions.rdata.val();
        self.e_hash.d.next = self.d_hash.q.val();
        self.e_meta.d.next = self.d_meta.q.val();
        self.buffer.r_valid.next = self.e_valid.q.val();
        self.buffer.r_data.next = bit_cast::<512, 64>(self.e_result.q.val())
            | (bit_cast::<512, 64>(self.e_action.q.val()) << 64)
            | (bit_cast::<512, 64>(self.e_meta.q.val()) << 128)
            | (bit_cast::<512, 32>(self.e_hash.q.val()) << 192)
            | (bit_cast::<512, EDIT_BITS>(self.edits.rdata.val()) << 256);
        // A miss reads some word too; the action stage looks at the result
        // kind first and ignores it.

        // Frame + descriptor → action stage → ports or host.
        self.stage.s_tdata.next = self.buffer.m_tdata.val();
        self.stage.s_tkeep.next = self.buffer.m_tkeep.val();
        self.stage.s_tlast.next = self.buffer.m_tlast.val();
        self.stage.s_tvalid.next = self.buffer.m_tvalid.val();
        self.stage.s_desc.next = self.buffer.m_result.val();
        self.buffer.m_tready.next = self.stage.s_tready.val();
        self.hrx_tdata.next = self.stage.h_tdata.val();
        self.hrx_tkeep.next = self.stage.h_tkeep.val();
        self.hrx_tlast.next = self.stage.h_tlast.val();
        self.hrx_meta.next = self.stage.h_meta.val();
        self.hrx_tvalid.next = self.stage.h_tvalid.val();
        self.stage.h_tready.next = self.hrx_tready.val();
        self.arb_tx.a_tdata.next = self.stage.tx_tdata.val();
        self.arb_tx.a_tkeep.next = self.stage.tx_tkeep.val();
        self.arb_tx.a_tlast.next = self.stage.tx_tlast.val();
        self.arb_tx.a_tuser.next = self.stage.tx_tdest.val();
        self.arb_tx.a_tvalid.next = self.stage.tx_tvalid.val();
        self.stage.tx_tready.next = self.arb_tx.a_tready.val();
        self.fanout.s_tdata.next = self.arb_tx.m_tdata.val();
        self.fanout.s_tkeep.next = self.arb_tx.m_tkeep.val();
        self.fanout.s_tlast.next = self.arb_tx.m_tlast.val();
        self.fanout.s_tdest.next = self.arb_tx.m_tuser.val().get_bits::<2>(0);
        self.fanout.s_tvalid.next = self.arb_tx.m_tvalid.val();
        self.arb_tx.m_tready.next = self.fanout.s_tready.val();
        self.tx_tdata.next = self.fanout.m_tdata.val();
        self.tx_tkeep.next = self.fanout.m_tkeep.val();
        self.tx_tlast.next = self.fanout.m_tlast.val();
        self.tx_tvalid.next = self.fanout.m_tvalid.val();
        self.fanout.m_tready.next = self.tx_tready.val();

        // AXI4-Lite to the lookup core.
        self.core.s_axil_awaddr.next = self.s_axil_awaddr.val();
        self.core.s_axil_awprot.next = self.s_axil_awprot.val();
        self.core.s_axil_awvalid.next = self.s_axil_awvalid.val();
        self.s_axil_awready.next = self.core.s_axil_awready.val();
        self.core.s_axil_wdata.next = self.s_axil_wdata.val();
        self.core.s_axil_wstrb.next = self.s_axil_wstrb.val();
        self.core.s_axil_wvalid.next = self.s_axil_wvalid.val();
        self.s_axil_wready.next = self.core.s_axil_wready.val();
        self.s_axil_bresp.next = self.core.s_axil_bresp.val();
        self.s_axil_bvalid.next = self.core.s_axil_bvalid.val();
        self.core.s_axil_bready.next = self.s_axil_bready.val();
        self.core.s_axil_araddr.next = self.s_axil_araddr.val();
        self.core.s_axil_arprot.next = self.s_axil_arprot.val();
        self.core.s_axil_arvalid.next = self.s_axil_arvalid.val();
        self.s_axil_arready.next = self.core.s_axil_arready.val();
        self.s_axil_rdata.next = self.core.s_axil_rdata.val();
        self.s_axil_rresp.next = self.core.s_axil_rresp.val();
        self.s_axil_rvalid.next = self.core.s_axil_rvalid.val();
        self.core.s_axil_rready.next = self.s_axil_rready.val();

        // Counters.
        self.rx_frames0.next = self.arb_mac.frames_a.val();
        self.rx_frames1.next = self.arb_mac.frames_b.val();
        self.inject_frames.next = self.arb_in.frames_b.val();
        self.host_tx_frames.next = self.arb_tx.frames_b.val();
        self.frames_in.next = self.buffer.frames_in.val();
        self.frames_out.next = self.buffer.frames_out.val();
        self.drops_full.next = self.buffer.drops_full.val();
        self.drops_oversize.next = self.buffer.drops_oversize.val();
        self.forwarded.next = self.stage.forwarded.val();
        self.dropped.next = self.stage.dropped.val();
        self.host_marked.next = self.stage.host_marked.val();
        self.host_miss.next = self.stage.host_miss.val();
        self.host_exception.next = self.stage.host_exception.val();
        self.edits_to_host.next = self.stage.edits_to_host.val();
        self.drops_no_port.next = self.fanout.drops_no_port.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simtools::{settle, tick};
    use abi::action::{ActionEntry, ActionKind};
    use abi::hostq::{HostRxMeta, HostRxReason, HostTxMeta};
    use abi::regs::{
        Command, Op, REG_CMD, REG_STAGE_ACTION, REG_STAGE_KEY, REG_STATUS, STATUS_BUSY,
    };
    use abi::{Field, FlowKey};
    use std::collections::VecDeque;

    const G: Geometry = Geometry {
        emc_log2_entries: 4,
        mf_slots: 2,
        mf_log2_buckets: 2,
        mf_bucket_slots: 2,
        missq_log2_depth: 2,
    };

    /// A UDP/IPv4 frame of `len` bytes whose bytes name `id`.
    fn udp_frame(id: u8, len: usize) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0, id, 0x08, 0x00];
        let ip_len = (len - 14) as u16;
        f.extend([
            0x45,
            0,
            (ip_len >> 8) as u8,
            ip_len as u8,
            0,
            id,
            0,
            0,
            64,
            17,
            0,
            0,
        ]);
        f.extend([10, 0, 0, id, 10, 0, 1, 1]);
        f.extend([0x30, 0x39, 0, 53, 0, (len - 34) as u8, 0, 0]);
        f.extend((0..len - f.len()).map(|i| (i as u8) ^ id));
        f
    }

    /// 64-bit beats of a frame: (data, keep, last).
    fn beats(f: &[u8]) -> VecDeque<(u64, u64, bool)> {
        let n = f.len().div_ceil(8);
        (0..n)
            .map(|i| {
                let chunk = &f[8 * i..f.len().min(8 * i + 8)];
                let mut d = 0u64;
                for (j, b) in chunk.iter().enumerate() {
                    d |= (*b as u64) << (8 * j);
                }
                (d, (1u64 << chunk.len()) - 1, i + 1 == n)
            })
            .collect()
    }

    struct Bench {
        u: Box<FastpathNic>,
        rx: [VecDeque<(u64, u64, bool)>; 2],
        htx: VecDeque<(u64, u64, bool, u64)>,
        tx: [Vec<Vec<u8>>; 2],
        tx_cur: [Vec<u8>; 2],
        hrx: Vec<(HostRxMeta, Vec<u8>)>,
        hrx_cur: Vec<u8>,
    }

    fn take_bytes(cur: &mut Vec<u8>, d: u64, k: u64) {
        for j in 0..8 {
            if k >> j & 1 == 1 {
                cur.push((d >> (8 * j)) as u8);
            }
        }
    }

    impl Bench {
        fn new() -> Self {
            let mut u = Box::new(FastpathNic::new(&G, 125_000, true));
            u.connect_all();
            u.vlan_limit.next = 1.into();
            u.tx_tready.next = 3.into();
            u.hrx_tready.next = true;
            u.s_axil_bready.next = true;
            u.s_axil_rready.next = true;
            u.s_axil_wstrb.next = 0xff.into();
            let mut b = Bench {
                u,
                rx: Default::default(),
                htx: VecDeque::new(),
                tx: Default::default(),
                tx_cur: Default::default(),
                hrx: Vec::new(),
                hrx_cur: Vec::new(),
            };
            b.u.reset.next = true;
            b.tick();
            b.u.reset.next = false;
            // The power-on clear walks every table position.
            for _ in 0..G.positions() + 16 {
                b.tick();
            }
            b
        }

        /// One clock: offers the queued beats, collects what leaves.
        fn tick(&mut self) {
            let u = &mut self.u;
            let r0 = self.rx[0].front().copied();
            let r1 = self.rx[1].front().copied();
            let h = self.htx.front().copied();
            u.rx0_tvalid.next = r0.is_some();
            let (d, k, l) = r0.unwrap_or_default();
            u.rx0_tdata.next = d.into();
            u.rx0_tkeep.next = k.into();
            u.rx0_tlast.next = l;
            u.rx1_tvalid.next = r1.is_some();
            let (d, k, l) = r1.unwrap_or_default();
            u.rx1_tdata.next = d.into();
            u.rx1_tkeep.next = k.into();
            u.rx1_tlast.next = l;
            u.htx_tvalid.next = h.is_some();
            let (d, k, l, m) = h.unwrap_or_default();
            u.htx_tdata.next = d.into();
            u.htx_tkeep.next = k.into();
            u.htx_tlast.next = l;
            u.htx_meta.next = m.into();
            settle(&mut **u);
            let took = [
                r0.is_some() && u.rx0_tready.val(),
                r1.is_some() && u.rx1_tready.val(),
                h.is_some() && u.htx_tready.val(),
            ];
            let tv = u.tx_tvalid.val().to_u64() & u.tx_tready.val().to_u64();
            let (td, tk, tl) = (
                u.tx_tdata.val().to_u64(),
                u.tx_tkeep.val().to_u64(),
                u.tx_tlast.val(),
            );
            let hv = u.hrx_tvalid.val() && u.hrx_tready.val();
            let (hd, hk, hl) = (
                u.hrx_tdata.val().to_u64(),
                u.hrx_tkeep.val().to_u64(),
                u.hrx_tlast.val(),
            );
            let meta = u.hrx_meta.val();
            let meta = [
                meta.get_bits::<64>(0).to_u64(),
                meta.get_bits::<64>(64).to_u64(),
            ];
            tick(&mut **u, |u| &mut u.clock);
            if took[0] {
                self.rx[0].pop_front();
            }
            if took[1] {
                self.rx[1].pop_front();
            }
            if took[2] {
                self.htx.pop_front();
            }
            for p in 0..2 {
                if tv >> p & 1 == 1 {
                    take_bytes(&mut self.tx_cur[p], td, tk);
                    if tl {
                        self.tx[p].push(std::mem::take(&mut self.tx_cur[p]));
                    }
                }
            }
            if hv {
                take_bytes(&mut self.hrx_cur, hd, hk);
                if hl {
                    let m = HostRxMeta::decode(&meta).expect("host RX meta decodes");
                    self.hrx.push((m, std::mem::take(&mut self.hrx_cur)));
                }
            }
        }

        fn write(&mut self, addr: u64, data: u64) {
            self.u.s_axil_awaddr.next = addr.into();
            self.u.s_axil_wdata.next = data.into();
            self.u.s_axil_awvalid.next = true;
            self.u.s_axil_wvalid.next = true;
            for n in 0.. {
                settle(&mut *self.u);
                let done = self.u.s_axil_awready.val();
                self.tick();
                if done {
                    break;
                }
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

        fn cmd(&mut self, op: Op, slot: u8, index: u32, flow_id: u32, stage: &FlowKey) {
            for (i, w) in stage.hw_words().iter().enumerate() {
                self.write(REG_STAGE_KEY.addr() + 8 * i as u64, *w);
            }
            let c = Command {
                op,
                slot,
                index,
                flow_id,
            };
            self.write(REG_CMD.addr(), c.encode().expect("command encodes"));
            while self.read(REG_STATUS.addr()) & STATUS_BUSY.word_mask() != 0 {}
        }

        /// A megaflow in slot 0 (mask: in port) for `port` with `action`.
        fn install(&mut self, port: u64, flow_id: u32, action: ActionEntry) {
            let mask = FlowKey::ZERO.with(Field::InPort, u64::MAX);
            let k = FlowKey::ZERO.with(Field::InPort, port);
            let bucket = G.mf_candidate_buckets(abi::hash_masked(&k, &mask))[0];
            // A way per flow id, so two ports sharing a bucket keep both.
            let way = (flow_id % G.mf_bucket_slots as u32) as u8;
            self.write(REG_STAGE_ACTION.addr(), action.encode());
            self.cmd(Op::MfWrite, 0, G.mf_index(bucket, way), flow_id, &k);
        }

        fn run(&mut self, clocks: usize) {
            for _ in 0..clocks {
                self.tick();
            }
        }
    }

    #[test]
    fn frames_go_where_their_megaflow_says() {
        let mut b = Bench::new();
        // The capability block announces the packet path.
        // The chain the RTL serves puts every block where abi declares it.
        let blocks =
            abi::regs::Blocks::walk(abi::regs::REG_WINDOW_BYTES, |a| Ok::<_, ()>(b.read(a)))
                .unwrap()
                .unwrap();
        let want = FastpathNic::capability(&G, 125_000).chain();
        let got: Vec<_> = blocks.list.iter().map(|f| (f.ty, f.base, f.size)).collect();
        let decl: Vec<_> = want.iter().map(|d| (Some(d.ty), d.base, d.size)).collect();
        assert_eq!(got, decl);
        let hq = [b.read(abi::regs::REG_HQ_REF.addr())];
        assert_eq!(abi::regs::HQ_REF_BAR.get(&hq), abi::regs::HOSTQ_BAR as u64);
        let cap = abi::regs::Capability::decode(|r| {
            let base = blocks.find(r.block).expect("block").base;
            Ok::<_, ()>(b.read(base + r.off))
        })
        .unwrap()
        .unwrap();
        assert_eq!(cap, FastpathNic::capability(&G, 125_000));
        assert_eq!(cap.mac_ports as usize, MAC_PORTS);
        let mask = FlowKey::ZERO.with(Field::InPort, u64::MAX);
        b.cmd(Op::MaskSet, 0, 0, 0, &mask);
        let port = MAC_PORT_BASE as u64;
        // MAC port 0 → out of MAC port 1; MAC port 1 → dropped.
        b.install(
            port,
            7,
            ActionEntry {
                kind: Some(ActionKind::Output),
                out_ports: 0b10,
                ..Default::default()
            },
        );
        b.install(
            port + 1,
            8,
            ActionEntry {
                kind: Some(ActionKind::Drop),
                ..Default::default()
            },
        );
        let f0: Vec<Vec<u8>> = (0..4).map(|i| udp_frame(i, 60 + 7 * i as usize)).collect();
        let f1: Vec<Vec<u8>> = (10..13).map(|i| udp_frame(i, 64)).collect();
        for f in &f0 {
            b.rx[0].extend(beats(f));
        }
        for f in &f1 {
            b.rx[1].extend(beats(f));
        }
        // The host injects a frame as if from port 9 (no megaflow: a miss)
        // and sends one straight out of MAC port 0.
        let inj = udp_frame(20, 80);
        let out = udp_frame(21, 70);
        let meta = |kind, p, f: &[u8]| {
            HostTxMeta {
                kind,
                port: p,
                frame_len: f.len() as u16,
            }
            .encode()
        };
        let mi = meta(HostTxKind::Inject, 9, &inj);
        b.htx
            .extend(beats(&inj).into_iter().map(|(d, k, l)| (d, k, l, mi)));
        let mo = meta(HostTxKind::Output, MAC_PORT_BASE, &out);
        b.htx
            .extend(beats(&out).into_iter().map(|(d, k, l)| (d, k, l, mo)));
        b.run(400);

        assert_eq!(
            b.tx[1], f0,
            "MAC port 0's frames leave MAC port 1, whole and in order"
        );
        assert_eq!(
            b.tx[0],
            vec![out],
            "the host's output frame leaves MAC port 0"
        );
        assert_eq!(b.hrx.len(), 1, "only the miss reaches the host");
        let (m, bytes) = &b.hrx[0];
        assert_eq!(bytes, &inj);
        assert_eq!(m.reason, HostRxReason::Miss);
        assert_eq!((m.in_port, m.frame_len as usize), (9, inj.len()));
        let count = |s: &Signal<Out, Bits<COUNTER_BITS>>| s.val().to_u64();
        assert_eq!(count(&b.u.rx_frames0), 4);
        assert_eq!(count(&b.u.rx_frames1), 3);
        assert_eq!(count(&b.u.inject_frames), 1);
        assert_eq!(count(&b.u.host_tx_frames), 1);
        assert_eq!(count(&b.u.forwarded), 4);
        assert_eq!(count(&b.u.dropped), 3);
        assert_eq!(count(&b.u.host_miss), 1);
        assert_eq!(count(&b.u.frames_in), 8);
        assert_eq!(count(&b.u.frames_out), 8);
    }
}
