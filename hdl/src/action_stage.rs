//! The action stage: sends each frame where its lookup says — out to MAC
//! ports, dropped, or to the host with its metadata.
//!
//! Frames come from the frame buffer on `s_*`, each with its descriptor
//! ([`abi::action_stage::ACTION_DESC`]: lookup result word, action-RAM
//! word, parser meta word, key hash) on `s_desc`, held from the frame's
//! first beat to its last. The caller reads the action RAM; the stage holds
//! no memory. What happens to a frame is [`abi::action_stage::action_stage`]:
//! - a parser exception, or a miss: to the host (`h_*`), reason
//!   `Exception` (with its code) or `Miss`;
//! - a hit whose action is `Drop`, or `Output` to an empty port bitmap:
//!   consumed;
//! - `Output` with an edit this stage does not make
//!   ([`abi::action_stage::HOST_EDIT_FIELDS`]): to the host as `Marked`
//!   (partial offload, counted in `edits_to_host`), never dropped and never
//!   sent unedited;
//! - `Output`: the VLAN edit of `AE_VLAN_OP`
//!   ([`abi::action_stage::vlan_edit`]), then to `tx_*` with `tx_tdest` =
//!   `AE_OUT_PORTS`, the port bitmap a fan-out after this stage replicates;
//! - `ToHost` (or an unknown kind): to the host as `Marked`, `HR_MARK` =
//!   the flow id.
//!
//! `h_meta` is the two [`abi::hostq::HostRxMeta`] words as `encode` writes
//! them (word 0 in bits 63..0), held for the whole frame like `s_desc`.
//!
//! The decision is combinational in `s_desc`, which is constant over a
//! frame, so the stage is a stream switch: every beat goes to the selected
//! output in the clock it arrives and `s_tready` is that output's `tready`
//! (always high for a drop). The Ethernet rewrite takes its addresses from
//! the descriptor's edit words (the caller read the edit table with the
//! action word's `AE_EDIT_INDEX`) and replaces beat 0's bytes and beat 1's
//! low 4 bytes (bytes 0..12) of a frame of at least 12 bytes (`SB_FRAME_LEN`)
//! before the VLAN edit sees them; the two touch disjoint bytes. The VLAN edit works on the 64-bit beats as
//! they pass: `SetTci` rewrites beat 1's top two bytes; `Push` puts its
//! tag after beat 1's first 4 bytes (or after a shorter frame's last byte)
//! and `Pop` takes beat 1 in without sending it, keeping its first 4
//! bytes; from then on each beat leaves 4 bytes late, joined to the 4
//! `held` from the one before. A last beat with more than 4 bytes so
//! leaves a `flush` beat, sent in the next clock while `s_tready` is low:
//! the only clock the stage costs beyond one per beat. Pop and `SetTci`
//! read the frame's length from the parse meta (`SB_FRAME_LEN`, exact) to
//! tell a tagged frame (≥ 18 bytes) at beat 1. Each frame counts once, at
//! its last beat in, in one of six wrapping counters
//! ([`abi::action_stage::ActionCounter`]).

use crate::frame_buffer::COUNTER_BITS;
use abi::action::{
    ActionKind, VlanOp, AE_KIND, AE_OUT_PORTS, AE_SET_ETH_DST, AE_SET_ETH_SRC, AE_VLAN_8021AD,
    AE_VLAN_OP, AE_VLAN_TCI, EDIT_WORDS, ED_ETH_DST, ED_ETH_SRC, MAX_MAC_PORTS,
};
use abi::action_stage::{
    host_edit_mask, ACTION_DESC_WORDS, AD_ACTION, AD_EDIT, AD_HASH, AD_PARSE_META, AD_RESULT,
    ETH_ADDRS_LEN, MIN_TAGGED_LEN, TPID_8021AD, TPID_8021Q, VLAN_TAG_AT, VLAN_TAG_LEN,
};
use abi::hostq::{
    HostRxReason, HOST_RX_META_WORDS, HR_BAD_IP_VERSION, HR_EXCEPTION, HR_FRAME_LEN, HR_HASH,
    HR_IN_PORT, HR_MALFORMED, HR_MARK, HR_REASON,
};
use abi::parser::{SB_BAD_IP_VERSION, SB_EXCEPTION, SB_FRAME_LEN, SB_IN_PORT, SB_MALFORMED};
use abi::regs::{HitKind, RESULT_FLOW_ID, RESULT_KIND};
use rust_hdl::prelude::*;

/// Bits of `s_desc`.
pub const DESC_BITS: usize = 64 * ACTION_DESC_WORDS;
/// Bits of `h_meta`.
pub const META_BITS: usize = 64 * HOST_RX_META_WORDS;

// The update code names these widths as literals (hdl_gen takes no
// constant expressions as widths); they are checked here against abi.
const _: () = assert!(DESC_BITS == 512 && META_BITS == 128);
const _: () = assert!(AE_OUT_PORTS.width as usize == MAX_MAC_PORTS && MAX_MAC_PORTS == 16);
const _: () = assert!(AE_KIND.width == 2 && RESULT_KIND.width == 2 && HR_REASON.width == 2);
const _: () = assert!(RESULT_FLOW_ID.width == 24 && HR_MARK.width == 24);
const _: () = assert!(SB_EXCEPTION.width == 2 && HR_EXCEPTION.width == 2);
const _: () = assert!(SB_MALFORMED.width == 5 && HR_MALFORMED.width == 5);
const _: () = assert!(SB_BAD_IP_VERSION.width == 1 && HR_BAD_IP_VERSION.width == 1);
const _: () = assert!(SB_IN_PORT.width == 16 && HR_IN_PORT.width == 16);
const _: () = assert!(SB_FRAME_LEN.width == 32 && HR_FRAME_LEN.width == 16);
const _: () = assert!(AD_HASH.width == 32 && HR_HASH.width == 32);
const _: () = assert!(AE_VLAN_OP.width == 2 && AE_VLAN_8021AD.width == 1);
const _: () = assert!(AE_VLAN_TCI.width == 16);
// The tag sits in beat 1's upper half (bytes 12..16 of 8..16) and a
// tagged frame has a full beat 1: what the update code's fixed offsets
// (32 for the TPID, 48 for the TCI, 4-byte halves) assume.
const _: () = assert!(VLAN_TAG_AT == 12 && VLAN_TAG_LEN == 4 && MIN_TAGGED_LEN > 16);
// The addresses are bytes 0..12: all of beat 0 and beat 1's low half; the
// edit entry's words follow each other in the descriptor.
const _: () = assert!(ETH_ADDRS_LEN == 12 && ED_ETH_DST.width == 48 && ED_ETH_SRC.width == 48);
const _: () = assert!(AE_SET_ETH_SRC.width == 1 && AE_SET_ETH_DST.width == 1);
const _: () = {
    let mut i = 0;
    while i < EDIT_WORDS {
        assert!(AD_EDIT[i].offset == AD_EDIT[0].offset + 64 * i as u16);
        i += 1;
    }
};

/// `v`'s two bytes swapped: a big-endian field as it sits in a beat whose
/// byte 0 is bits 7..0.
const fn wire16(v: u16) -> u64 {
    v.swap_bytes() as u64
}

fn c16(v: u16) -> Constant<Bits<16>> {
    Constant::new((v as u64).into())
}

fn c2(v: u64) -> Constant<Bits<2>> {
    Constant::new(v.into())
}

/// The action stage for 64-bit beats (8 keep bits): the VLAN edit's
/// byte shifts are written for that width.
#[derive(LogicBlock)]
pub struct FastpathActionStage {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: clears the counters.
    pub reset: Signal<In, bool>,
    /// Frame in: data.
    pub s_tdata: Signal<In, Bits<64>>,
    /// Frame in: byte enables.
    pub s_tkeep: Signal<In, Bits<8>>,
    /// Frame in: last beat.
    pub s_tlast: Signal<In, bool>,
    /// Frame in: beat valid.
    pub s_tvalid: Signal<In, bool>,
    /// Frame in: the selected output takes the beat.
    pub s_tready: Signal<Out, bool>,
    /// The frame's descriptor ([`abi::action_stage::ACTION_DESC`]), stable
    /// from its first beat to its last.
    pub s_desc: Signal<In, Bits<512>>,
    /// To MAC ports: data.
    pub tx_tdata: Signal<Out, Bits<64>>,
    /// To MAC ports: byte enables.
    pub tx_tkeep: Signal<Out, Bits<8>>,
    /// To MAC ports: last beat.
    pub tx_tlast: Signal<Out, bool>,
    /// To MAC ports: the port bitmap (bit `i` = MAC port `i`), never 0.
    pub tx_tdest: Signal<Out, Bits<16>>,
    /// To MAC ports: beat valid.
    pub tx_tvalid: Signal<Out, bool>,
    /// To MAC ports: ready.
    pub tx_tready: Signal<In, bool>,
    /// To the host: data.
    pub h_tdata: Signal<Out, Bits<64>>,
    /// To the host: byte enables.
    pub h_tkeep: Signal<Out, Bits<8>>,
    /// To the host: last beat.
    pub h_tlast: Signal<Out, bool>,
    /// To the host: the frame's [`abi::hostq::HostRxMeta`] words.
    pub h_meta: Signal<Out, Bits<128>>,
    /// To the host: beat valid.
    pub h_tvalid: Signal<Out, bool>,
    /// To the host: ready.
    pub h_tready: Signal<In, bool>,
    /// Frames sent to MAC ports.
    pub forwarded: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frames dropped (`Drop`, or `Output` to no port).
    pub dropped: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frames to the host: `ToHost` actions.
    pub host_marked: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frames to the host: misses.
    pub host_miss: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frames to the host: parser exceptions.
    pub host_exception: Signal<Out, Bits<COUNTER_BITS>>,
    /// Frames to the host as `Marked`: an edit the stage does not make.
    pub edits_to_host: Signal<Out, Bits<COUNTER_BITS>>,

    // Field positions in `s_desc` and `h_meta`, codes, the edit mask.
    d_kind: Constant<Bits<16>>,
    d_flow: Constant<Bits<16>>,
    d_action: Constant<Bits<16>>,
    d_in_port: Constant<Bits<16>>,
    d_len: Constant<Bits<16>>,
    d_malformed: Constant<Bits<16>>,
    d_badver: Constant<Bits<16>>,
    d_exc: Constant<Bits<16>>,
    d_hash: Constant<Bits<16>>,
    a_kind: Constant<Bits<16>>,
    a_ports: Constant<Bits<16>>,
    m_reason: Constant<Bits<16>>,
    m_exc: Constant<Bits<16>>,
    m_malformed: Constant<Bits<16>>,
    m_badver: Constant<Bits<16>>,
    m_in_port: Constant<Bits<16>>,
    m_len: Constant<Bits<16>>,
    m_mark: Constant<Bits<16>>,
    m_hash: Constant<Bits<16>>,
    k_emc: Constant<Bits<2>>,
    k_mf: Constant<Bits<2>>,
    k_drop: Constant<Bits<2>>,
    k_output: Constant<Bits<2>>,
    r_marked: Constant<Bits<2>>,
    r_miss: Constant<Bits<2>>,
    r_exception: Constant<Bits<2>>,
    edit_mask: Constant<Bits<64>>,
    a_vop: Constant<Bits<16>>,
    a_ad: Constant<Bits<16>>,
    a_tci: Constant<Bits<16>>,
    v_push: Constant<Bits<2>>,
    v_pop: Constant<Bits<2>>,
    v_settci: Constant<Bits<2>>,
    tpid_q: Constant<Bits<16>>,
    tpid_ad: Constant<Bits<16>>,
    min_tagged: Constant<Bits<32>>,
    ones96: Constant<Bits<96>>,
    d_eth_dst: Constant<Bits<16>>,
    d_eth_src: Constant<Bits<16>>,
    a_set_dst: Constant<Bits<16>>,
    a_set_src: Constant<Bits<16>>,
    eth_len: Constant<Bits<32>>,
    ones48: Constant<Bits<48>>,
    // The Ethernet rewrite: the new addresses in wire order, the bytes
    // replaced, the beat after it.
    edst: Signal<Local, Bits<48>>,
    esrc: Signal<Local, Bits<48>>,
    ewire: Signal<Local, Bits<96>>,
    emask: Signal<Local, Bits<96>>,
    edata: Signal<Local, Bits<64>>,
    // The VLAN edit: this beat.
    vop: Signal<Local, Bits<2>>,
    tci: Signal<Local, Bits<16>>,
    tag: Signal<Local, Bits<32>>,
    has_tag: Signal<Local, bool>,
    ins: Signal<Local, bool>,
    lag: Signal<Local, bool>,
    swallow: Signal<Local, bool>,
    set_tci: Signal<Local, bool>,
    lowk: Signal<Local, Bits<8>>,
    q: Signal<Local, Bits<16>>,
    lowd: Signal<Local, Bits<96>>,
    x: Signal<Local, Bits<32>>,
    comb: Signal<Local, Bits<96>>,
    combk: Signal<Local, Bits<12>>,
    spill: Signal<Local, bool>,
    take: Signal<Local, bool>,
    // The VLAN edit: across beats.
    bix: DFF<Bits<2>>,
    popping: DFF<bool>,
    held: DFF<Bits<32>>,
    hkeep: DFF<Bits<4>>,
    flush: DFF<bool>,
    fports: DFF<Bits<16>>,
    // The decision.
    action: Signal<Local, Bits<64>>,
    exc: Signal<Local, Bits<2>>,
    ports: Signal<Local, Bits<16>>,
    len: Signal<Local, Bits<32>>,
    len16: Signal<Local, Bits<16>>,
    mark: Signal<Local, Bits<24>>,
    reason: Signal<Local, Bits<2>>,
    to_tx: Signal<Local, bool>,
    to_host: Signal<Local, bool>,
    c_fwd: Signal<Local, bool>,
    c_drop: Signal<Local, bool>,
    c_marked: Signal<Local, bool>,
    c_miss: Signal<Local, bool>,
    c_exc: Signal<Local, bool>,
    c_edit: Signal<Local, bool>,
    done: Signal<Local, bool>,
    n_fwd: DFF<Bits<COUNTER_BITS>>,
    n_drop: DFF<Bits<COUNTER_BITS>>,
    n_marked: DFF<Bits<COUNTER_BITS>>,
    n_miss: DFF<Bits<COUNTER_BITS>>,
    n_exc: DFF<Bits<COUNTER_BITS>>,
    n_edit: DFF<Bits<COUNTER_BITS>>,
}

/// The 64-bit stage (`fastpath_action_stage`).
pub type ActionStage64 = FastpathActionStage;

impl Default for FastpathActionStage {
    fn default() -> Self {
        Self::new()
    }
}

impl FastpathActionStage {
    /// A stage.
    pub fn new() -> Self {
        let d = |base: abi::bits::BitField, f: abi::bits::BitField| c16(base.offset + f.offset);
        let o = |f: abi::bits::BitField| c16(f.offset);
        FastpathActionStage {
            clock: Default::default(),
            reset: Default::default(),
            s_tdata: Default::default(),
            s_tkeep: Default::default(),
            s_tlast: Default::default(),
            s_tvalid: Default::default(),
            s_tready: Default::default(),
            s_desc: Default::default(),
            tx_tdata: Default::default(),
            tx_tkeep: Default::default(),
            tx_tlast: Default::default(),
            tx_tdest: Default::default(),
            tx_tvalid: Default::default(),
            tx_tready: Default::default(),
            h_tdata: Default::default(),
            h_tkeep: Default::default(),
            h_tlast: Default::default(),
            h_meta: Default::default(),
            h_tvalid: Default::default(),
            h_tready: Default::default(),
            forwarded: Default::default(),
            dropped: Default::default(),
            host_marked: Default::default(),
            host_miss: Default::default(),
            host_exception: Default::default(),
            edits_to_host: Default::default(),
            d_kind: d(AD_RESULT, RESULT_KIND),
            d_flow: d(AD_RESULT, RESULT_FLOW_ID),
            d_action: o(AD_ACTION),
            d_in_port: d(AD_PARSE_META, SB_IN_PORT),
            d_len: d(AD_PARSE_META, SB_FRAME_LEN),
            d_malformed: d(AD_PARSE_META, SB_MALFORMED),
            d_badver: d(AD_PARSE_META, SB_BAD_IP_VERSION),
            d_exc: d(AD_PARSE_META, SB_EXCEPTION),
            d_hash: o(AD_HASH),
            a_kind: o(AE_KIND),
            a_ports: o(AE_OUT_PORTS),
            m_reason: o(HR_REASON),
            m_exc: o(HR_EXCEPTION),
            m_malformed: o(HR_MALFORMED),
            m_badver: o(HR_BAD_IP_VERSION),
            m_in_port: o(HR_IN_PORT),
            m_len: o(HR_FRAME_LEN),
            m_mark: o(HR_MARK),
            m_hash: o(HR_HASH),
            k_emc: c2(HitKind::Emc as u64),
            k_mf: c2(HitKind::Megaflow as u64),
            k_drop: c2(ActionKind::Drop as u64),
            k_output: c2(ActionKind::Output as u64),
            r_marked: c2(HostRxReason::Marked as u64),
            r_miss: c2(HostRxReason::Miss as u64),
            r_exception: c2(HostRxReason::Exception as u64),
            edit_mask: Constant::new(host_edit_mask().into()),
            a_vop: o(AE_VLAN_OP),
            a_ad: o(AE_VLAN_8021AD),
            a_tci: o(AE_VLAN_TCI),
            v_push: c2(VlanOp::Push as u64),
            v_pop: c2(VlanOp::Pop as u64),
            v_settci: c2(VlanOp::SetTci as u64),
            tpid_q: Constant::new(wire16(TPID_8021Q).into()),
            tpid_ad: Constant::new(wire16(TPID_8021AD).into()),
            min_tagged: Constant::new((MIN_TAGGED_LEN as u64).into()),
            ones96: Constant::new(!Bits::<96>::default()),
            d_eth_dst: c16(AD_EDIT[0].offset + ED_ETH_DST.offset),
            d_eth_src: c16(AD_EDIT[0].offset + ED_ETH_SRC.offset),
            a_set_dst: o(AE_SET_ETH_DST),
            a_set_src: o(AE_SET_ETH_SRC),
            eth_len: Constant::new((ETH_ADDRS_LEN as u64).into()),
            ones48: Constant::new(!Bits::<48>::default()),
            edst: Default::default(),
            esrc: Default::default(),
            ewire: Default::default(),
            emask: Default::default(),
            edata: Default::default(),
            vop: Default::default(),
            tci: Default::default(),
            tag: Default::default(),
            has_tag: Default::default(),
            ins: Default::default(),
            lag: Default::default(),
            swallow: Default::default(),
            set_tci: Default::default(),
            lowk: Default::default(),
            q: Default::default(),
            lowd: Default::default(),
            x: Default::default(),
            comb: Default::default(),
            combk: Default::default(),
            spill: Default::default(),
            take: Default::default(),
            bix: Default::default(),
            popping: Default::default(),
            held: Default::default(),
            hkeep: Default::default(),
            flush: Default::default(),
            fports: Default::default(),
            action: Default::default(),
            exc: Default::default(),
            ports: Default::default(),
            len: Default::default(),
            len16: Default::default(),
            mark: Default::default(),
            reason: Default::default(),
            to_tx: Default::default(),
            to_host: Default::default(),
            c_fwd: Default::default(),
            c_drop: Default::default(),
            c_marked: Default::default(),
            c_miss: Default::default(),
            c_exc: Default::default(),
            c_edit: Default::default(),
            done: Default::default(),
            n_fwd: Default::default(),
            n_drop: Default::default(),
            n_marked: Default::default(),
            n_miss: Default::default(),
            n_exc: Default::default(),
            n_edit: Default::default(),
        }
    }
}

impl Logic for FastpathActionStage {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, n_fwd, n_drop, n_marked, n_miss, n_exc, n_edit, bix, popping, held, hkeep,
            flush, fports
        );

        // The decision, in the order of abi::action_stage: exception, miss,
        // drop (or no port), unsupported edit, output, to host.
        self.action.next = self
            .s_desc
            .val()
            .get_bits::<64>(self.d_action.val().index());
        self.exc.next = self.s_desc.val().get_bits::<2>(self.d_exc.val().index());
        self.ports.next = self.action.val().get_bits::<16>(self.a_ports.val().index());
        self.c_fwd.next = false;
        self.c_drop.next = false;
        self.c_marked.next = false;
        self.c_miss.next = false;
        self.c_exc.next = false;
        self.c_edit.next = false;
        if self.exc.val().any() {
            self.c_exc.next = true;
        } else if (self.s_desc.val().get_bits::<2>(self.d_kind.val().index()) != self.k_emc.val())
            & (self.s_desc.val().get_bits::<2>(self.d_kind.val().index()) != self.k_mf.val())
        {
            self.c_miss.next = true;
        } else if self.action.val().get_bits::<2>(self.a_kind.val().index()) == self.k_drop.val() {
            self.c_drop.next = true;
        } else if self.action.val().get_bits::<2>(self.a_kind.val().index()) == self.k_output.val()
        {
            if !self.ports.val().any() {
                self.c_drop.next = true;
            } else if (self.action.val() & self.edit_mask.val()).any() {
                self.c_edit.next = true;
            } else {
                self.c_fwd.next = true;
            }
        } else {
            self.c_marked.next = true;
        }
        self.to_tx.next = self.c_fwd.val();
        self.to_host.next =
            self.c_exc.val() | self.c_miss.val() | self.c_marked.val() | self.c_edit.val();

        // The VLAN edit (abi::action_stage::vlan_edit), on frames to MAC
        // ports only. `bix` is the beat's index in its frame (2 = any
        // later one). A push inserts its tag at byte 12 (beat 1, after 4
        // bytes), or at the end of a frame shorter than that; a pop drops
        // beat 1's upper half. Either way every later beat goes out
        // 4 bytes off: its low half joins the 4 bytes `held` from the beat
        // before (`lag`), its high half is held in turn, and a last beat
        // with more than 4 bytes leaves a `flush` beat behind.
        self.len.next = self.s_desc.val().get_bits::<32>(self.d_len.val().index());

        // The Ethernet rewrite (abi::action_stage::eth_edit): the edit
        // entry holds the addresses as numbers (first byte most
        // significant); a beat has byte 0 in bits 7..0.
        self.edst.next = self
            .s_desc
            .val()
            .get_bits::<48>(self.d_eth_dst.val().index());
        self.esrc.next = self
            .s_desc
            .val()
            .get_bits::<48>(self.d_eth_src.val().index());
        self.ewire.next = bit_cast::<96, 8>(self.edst.val().get_bits::<8>(40))
            | (bit_cast::<96, 8>(self.edst.val().get_bits::<8>(32)) << 8)
            | (bit_cast::<96, 8>(self.edst.val().get_bits::<8>(24)) << 16)
            | (bit_cast::<96, 8>(self.edst.val().get_bits::<8>(16)) << 24)
            | (bit_cast::<96, 8>(self.edst.val().get_bits::<8>(8)) << 32)
            | (bit_cast::<96, 8>(self.edst.val().get_bits::<8>(0)) << 40)
            | (bit_cast::<96, 8>(self.esrc.val().get_bits::<8>(40)) << 48)
            | (bit_cast::<96, 8>(self.esrc.val().get_bits::<8>(32)) << 56)
            | (bit_cast::<96, 8>(self.esrc.val().get_bits::<8>(24)) << 64)
            | (bit_cast::<96, 8>(self.esrc.val().get_bits::<8>(16)) << 72)
            | (bit_cast::<96, 8>(self.esrc.val().get_bits::<8>(8)) << 80)
            | (bit_cast::<96, 8>(self.esrc.val().get_bits::<8>(0)) << 88);
        self.emask.next = 0.into();
        if self.c_fwd.val() & (self.len.val() >= self.eth_len.val()) {
            if self.action.val().get_bit(self.a_set_dst.val().index()) {
                self.emask.next = bit_cast::<96, 48>(self.ones48.val());
            }
            if self.action.val().get_bit(self.a_set_src.val().index()) {
                self.emask.next = self.emask.val() | (bit_cast::<96, 48>(self.ones48.val()) << 48);
            }
        }
        self.edata.next = self.s_tdata.val();
        if self.bix.q.val() == 0 {
            self.edata.next = (self.s_tdata.val() & !self.emask.val().get_bits::<64>(0))
                | (self.ewire.val().get_bits::<64>(0) & self.emask.val().get_bits::<64>(0));
        }
        if self.bix.q.val() == 1 {
            self.edata.next = (self.s_tdata.val()
                & !bit_cast::<64, 32>(self.emask.val().get_bits::<32>(64)))
                | bit_cast::<64, 32>(
                    self.ewire.val().get_bits::<32>(64) & self.emask.val().get_bits::<32>(64),
                );
        }
        self.vop.next = self.action.val().get_bits::<2>(self.a_vop.val().index());
        self.tci.next = self.action.val().get_bits::<16>(self.a_tci.val().index());
        self.tag.next = bit_cast::<32, 16>(self.tpid_q.val());
        if self.action.val().get_bit(self.a_ad.val().index()) {
            self.tag.next = bit_cast::<32, 16>(self.tpid_ad.val());
        }
        self.tag.next = self.tag.val()
            | (bit_cast::<32, 8>(self.tci.val().get_bits::<8>(8)) << 16)
            | (bit_cast::<32, 8>(self.tci.val().get_bits::<8>(0)) << 24);
        self.has_tag.next = (self.len.val() >= self.min_tagged.val())
            & ((self.s_tdata.val().get_bits::<16>(32) == self.tpid_q.val())
                | (self.s_tdata.val().get_bits::<16>(32) == self.tpid_ad.val()));
        self.ins.next = self.c_fwd.val()
            & (self.vop.val() == self.v_push.val())
            & (((self.bix.q.val() == 0) & self.s_tlast.val()) | (self.bix.q.val() == 1));
        self.lag.next = self.c_fwd.val()
            & ((self.vop.val() == self.v_push.val()) | self.popping.q.val())
            & (self.bix.q.val() == 2);
        self.swallow.next = self.c_fwd.val()
            & (self.vop.val() == self.v_pop.val())
            & self.has_tag.val()
            & (self.bix.q.val() == 1);
        self.set_tci.next = self.c_fwd.val()
            & (self.vop.val() == self.v_settci.val())
            & self.has_tag.val()
            & (self.bix.q.val() == 1);
        // The bytes before the insertion point: at beat 1 its first 4,
        // else (the frame's only beat) all it has; none once lagging.
        self.lowk.next = 0.into();
        if self.ins.val() {
            self.lowk.next = self.s_tkeep.val().get_bits::<8>(0) & 0x0f;
            if self.bix.q.val() == 0 {
                self.lowk.next = self.s_tkeep.val().get_bits::<8>(0);
            }
        }
        self.q.next = 0.into();
        if self.lowk.val().get_bit(0) {
            self.q.next = 1.into();
        }
        if self.lowk.val().get_bit(1) {
            self.q.next = 2.into();
        }
        if self.lowk.val().get_bit(2) {
            self.q.next = 3.into();
        }
        if self.lowk.val().get_bit(3) {
            self.q.next = 4.into();
        }
        if self.lowk.val().get_bit(4) {
            self.q.next = 5.into();
        }
        if self.lowk.val().get_bit(5) {
            self.q.next = 6.into();
        }
        if self.lowk.val().get_bit(6) {
            self.q.next = 7.into();
        }
        if self.lowk.val().get_bit(7) {
            self.q.next = 8.into();
        }
        self.x.next = self.held.q.val();
        if self.ins.val() {
            self.x.next = self.tag.val();
        }
        // Beat bytes before the point, the 4 inserted (tag or held), then
        // the rest: 12 bytes, of which the first 8 go out.
        self.lowd.next = !(self.ones96.val() << (self.q.val() << 3));
        self.comb.next = (bit_cast::<96, 64>(self.edata.val()) & self.lowd.val())
            | (bit_cast::<96, 32>(self.x.val()) << (self.q.val() << 3))
            | ((bit_cast::<96, 64>(self.edata.val()) & !self.lowd.val()) << 32);
        self.combk.next = (bit_cast::<12, 8>(self.s_tkeep.val() & self.lowk.val()))
            | (bit_cast::<12, 4>(0xf.into()) << self.q.val())
            | (bit_cast::<12, 8>(self.s_tkeep.val() & !self.lowk.val()) << 4);
        self.spill.next = self.combk.val().get_bits::<4>(8).any();

        // The streams: one input, switched.
        self.tx_tdata.next = self.edata.val();
        self.tx_tkeep.next = self.s_tkeep.val();
        self.tx_tlast.next = self.s_tlast.val();
        if self.ins.val() | self.lag.val() {
            self.tx_tdata.next = self.comb.val().get_bits::<64>(0);
            self.tx_tkeep.next = self.combk.val().get_bits::<8>(0);
            self.tx_tlast.next = self.s_tlast.val() & !self.spill.val();
        }
        if self.set_tci.val() {
            self.tx_tdata.next = (self.edata.val() & 0x0000_ffff_ffff_ffff_u64)
                | (bit_cast::<64, 32>(self.tag.val().get_bits::<32>(0)) >> 16 << 48);
        }
        self.tx_tdest.next = self.ports.val();
        self.tx_tvalid.next = self.s_tvalid.val() & self.to_tx.val() & !self.swallow.val();
        self.h_tdata.next = self.s_tdata.val();
        self.h_tkeep.next = self.s_tkeep.val();
        self.h_tlast.next = self.s_tlast.val();
        self.h_tvalid.next = self.s_tvalid.val() & self.to_host.val();
        self.s_tready.next = true;
        if self.to_tx.val() & !self.swallow.val() {
            self.s_tready.next = self.tx_tready.val();
        }
        if self.to_host.val() {
            self.s_tready.next = self.h_tready.val();
        }
        // A flush beat goes before the next frame's first.
        if self.flush.q.val() {
            self.tx_tdata.next = bit_cast::<64, 32>(self.held.q.val());
            self.tx_tkeep.next = bit_cast::<8, 4>(self.hkeep.q.val());
            self.tx_tlast.next = true;
            self.tx_tdest.next = self.fports.q.val();
            self.tx_tvalid.next = true;
            self.h_tvalid.next = false;
            self.s_tready.next = false;
            if self.tx_tready.val() {
                self.flush.d.next = false;
            }
        }
        self.take.next = self.s_tvalid.val() & self.s_tready.val();
        if self.take.val() {
            self.fports.d.next = self.ports.val();
            if self.ins.val() | self.lag.val() {
                self.held.d.next = self.comb.val().get_bits::<32>(64);
                self.hkeep.d.next = self.combk.val().get_bits::<4>(8);
                self.flush.d.next = self.s_tlast.val() & self.spill.val();
            }
            if self.swallow.val() {
                self.held.d.next = self.edata.val().get_bits::<32>(0);
                self.hkeep.d.next = 0xf.into();
                self.popping.d.next = true;
            }
            if self.bix.q.val() != 2 {
                self.bix.d.next = self.bix.q.val() + 1;
            }
            if self.s_tlast.val() {
                self.bix.d.next = 0.into();
                self.popping.d.next = false;
            }
        }
        if self.reset.val() {
            self.bix.d.next = 0.into();
            self.popping.d.next = false;
            self.flush.d.next = false;
        }

        // Host metadata, field by field as HostRxMeta::encode.
        self.reason.next = self.r_marked.val();
        if self.c_miss.val() {
            self.reason.next = self.r_miss.val();
        }
        if self.c_exc.val() {
            self.reason.next = self.r_exception.val();
        }
        self.mark.next = 0.into();
        if self.c_marked.val() | self.c_edit.val() {
            self.mark.next = self.s_desc.val().get_bits::<24>(self.d_flow.val().index());
        }
        self.len16.next = self.len.val().get_bits::<16>(0);
        if self.len.val().get_bits::<16>(16).any() {
            self.len16.next = 0xffff.into();
        }
        self.h_meta.next = (bit_cast::<128, 2>(self.reason.val()) << self.m_reason.val())
            | (bit_cast::<128, 2>(self.exc.val()) << self.m_exc.val())
            | (bit_cast::<128, 5>(
                self.s_desc
                    .val()
                    .get_bits::<5>(self.d_malformed.val().index()),
            ) << self.m_malformed.val())
            | (bit_cast::<128, 1>(self.s_desc.val().get_bits::<1>(self.d_badver.val().index()))
                << self.m_badver.val())
            | (bit_cast::<128, 16>(
                self.s_desc
                    .val()
                    .get_bits::<16>(self.d_in_port.val().index()),
            ) << self.m_in_port.val())
            | (bit_cast::<128, 16>(self.len16.val()) << self.m_len.val())
            | (bit_cast::<128, 24>(self.mark.val()) << self.m_mark.val())
            | (bit_cast::<128, 32>(self.s_desc.val().get_bits::<32>(self.d_hash.val().index()))
                << self.m_hash.val());

        // Each frame counts once, when its last beat leaves.
        self.done.next = self.s_tvalid.val() & self.s_tready.val() & self.s_tlast.val();
        if self.done.val() & self.c_fwd.val() {
            self.n_fwd.d.next = self.n_fwd.q.val() + 1;
        }
        if self.done.val() & self.c_drop.val() {
            self.n_drop.d.next = self.n_drop.q.val() + 1;
        }
        if self.done.val() & self.c_marked.val() {
            self.n_marked.d.next = self.n_marked.q.val() + 1;
        }
        if self.done.val() & self.c_miss.val() {
            self.n_miss.d.next = self.n_miss.q.val() + 1;
        }
        if self.done.val() & self.c_exc.val() {
            self.n_exc.d.next = self.n_exc.q.val() + 1;
        }
        if self.done.val() & self.c_edit.val() {
            self.n_edit.d.next = self.n_edit.q.val() + 1;
        }
        if self.reset.val() {
            self.n_fwd.d.next = 0.into();
            self.n_drop.d.next = 0.into();
            self.n_marked.d.next = 0.into();
            self.n_miss.d.next = 0.into();
            self.n_exc.d.next = 0.into();
            self.n_edit.d.next = 0.into();
        }
        self.forwarded.next = self.n_fwd.q.val();
        self.dropped.next = self.n_drop.q.val();
        self.host_marked.next = self.n_marked.q.val();
        self.host_miss.next = self.n_miss.q.val();
        self.host_exception.next = self.n_exc.q.val();
        self.edits_to_host.next = self.n_edit.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simtools::{settle, tick};
    use abi::action::{ActionEntry, SetMask, VlanOp};
    use abi::action_stage::{action_stage, eth_edit, ActionCounter, ActionDesc, Disposition};
    use abi::hostq::HostRxMeta;
    use abi::parser::{Exception, MalformedReason, ParseMeta};
    use abi::regs::LookupResult;
    use std::collections::VecDeque;

    use crate::testrng::Rng;

    fn desc_bits(d: &ActionDesc) -> Bits<DESC_BITS> {
        let mut b = Bits::<DESC_BITS>::default();
        for (i, w) in d.encode().iter().enumerate() {
            b.set_bits::<64>(64 * i, (*w).into());
        }
        b
    }

    fn meta_words(b: Bits<META_BITS>) -> [u64; HOST_RX_META_WORDS] {
        let mut w = [0u64; HOST_RX_META_WORDS];
        for (i, v) in w.iter_mut().enumerate() {
            *v = b.get_bits::<64>(64 * i).to_u64();
        }
        w
    }

    /// A random descriptor for a frame of `len` bytes: every result kind
    /// (and the undefined one), every action kind, empty bitmaps, each edit,
    /// exceptions and malformed reasons. `vlan` forces the VLAN edit.
    fn random_desc(rng: &mut Rng, len: usize, vlan: Option<VlanOp>) -> ActionDesc {
        let flow_id = rng.below(1 << 24) as u32;
        let result = match rng.below(8) {
            0 => LookupResult::MISS.encode().unwrap(),
            1 => 3,
            k => LookupResult {
                kind: if k % 2 == 0 {
                    HitKind::Emc
                } else {
                    HitKind::Megaflow
                },
                slot: rng.below(16) as u8,
                index: rng.below(1 << 24) as u32,
                flow_id,
            }
            .encode()
            .unwrap(),
        };
        let mut a = ActionEntry {
            kind: Some(match rng.below(6) {
                0 => ActionKind::Drop,
                1 => ActionKind::ToHost,
                _ => ActionKind::Output,
            }),
            vlan: Some(VlanOp::None),
            vlan_8021ad: rng.chance(50),
            vlan_tci: rng.below(1 << 16) as u16,
            set: SetMask::default(),
            edit_index: rng.below(abi::action::EDIT_ENTRIES as u64) as u16,
            out_ports: if rng.chance(10) {
                0
            } else {
                rng.below(1 << 16) as u16
            },
        };
        a.vlan = match rng.below(4) {
            0 => Some(VlanOp::Pop),
            1 => Some(VlanOp::Push),
            2 => Some(VlanOp::SetTci),
            _ => Some(VlanOp::None),
        };
        if vlan.is_some() {
            a.vlan = vlan;
        }
        // The Ethernet rewrites the stage makes, alone or with the others.
        if rng.chance(40) {
            a.set.eth_src = rng.chance(60);
            a.set.eth_dst = rng.chance(60);
        }
        if rng.chance(15) {
            match rng.below(6) {
                0 => a.set.eth_src = true,
                1 => a.set.eth_dst = true,
                2 => a.set.ipv4_src = true,
                3 => a.set.ipv4_dst = true,
                4 => a.set.l4_src = true,
                _ => a.set.l4_dst = true,
            }
        }
        let mut action = a.encode();
        if rng.chance(3) {
            // The undefined action kind.
            action |= AE_KIND.word_mask();
        }
        let exception = match rng.below(10) {
            0 => Some(Exception::PastWindow),
            1 => Some(Exception::TooManyIpv6Ext),
            _ => None,
        };
        let malformed = match (exception, rng.below(3)) {
            (None, 0) => {
                let all = MalformedReason::ALL;
                Some(all[rng.below(all.len() as u64) as usize])
            }
            _ => None,
        };
        // The parser's length saturates at 32 bits; the host's at 16. The
        // VLAN edit reads the parser's length, which the parser makes the
        // frame's: only frames without one get a false length.
        let eth = a.set.eth_src || a.set.eth_dst;
        let frame_len = if a.vlan == Some(VlanOp::None) && !eth && rng.chance(3) {
            u16::MAX as u32 + 1 + rng.next() as u32
        } else {
            len as u32
        };
        let parse_meta = ParseMeta {
            in_port: rng.below(1 << 16) as u16,
            frame_len,
            malformed,
            bad_ip_version: rng.chance(10),
            exception,
        }
        .encode();
        ActionDesc {
            result,
            action,
            parse_meta,
            hash: rng.next() as u32,
            edit: [rng.next(), rng.next(), rng.next(), rng.next()],
        }
    }

    /// Beats of `bytes`: byte 0 in bits 7..0, keep contiguous from bit 0.
    fn beats(bytes: &[u8]) -> Vec<(u64, u64, bool)> {
        let n = bytes.len().div_ceil(8);
        (0..n)
            .map(|i| {
                let chunk = &bytes[8 * i..(8 * i + 8).min(bytes.len())];
                let data = chunk
                    .iter()
                    .enumerate()
                    .fold(0u64, |a, (j, b)| a | (*b as u64) << (8 * j));
                let keep = (1u64 << chunk.len()) - 1;
                (data, keep, i + 1 == n)
            })
            .collect()
    }

    /// Reassembles a frame's bytes from its beats, checking every beat but
    /// the last is full and the last's keep is contiguous from bit 0.
    fn bytes_of(beats: &[(u64, u64, bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &(data, keep, last)) in beats.iter().enumerate() {
            assert_eq!(last, i + 1 == beats.len(), "tlast on beat {i}");
            assert!(keep != 0 && keep & (keep + 1) == 0, "keep {keep:#x}");
            assert!(
                last || keep == 0xff,
                "short keep {keep:#x} before the last beat"
            );
            for j in 0..keep.count_ones() {
                out.push((data >> (8 * j)) as u8);
            }
        }
        out
    }

    /// Frames that left on one output: beats plus the per-frame sideband
    /// (tdest or meta words), which must not change inside a frame.
    #[derive(Default)]
    struct Out<S> {
        frames: Vec<(S, Vec<u8>)>,
        cur: Vec<(u64, u64, bool)>,
        side: Option<S>,
    }

    impl<S: PartialEq + std::fmt::Debug + Copy> Out<S> {
        fn beat(&mut self, beat: (u64, u64, bool), side: S) {
            match self.side {
                Some(s) => assert_eq!(s, side, "sideband changed inside a frame"),
                None => self.side = Some(side),
            }
            self.cur.push(beat);
            if beat.2 {
                let b = bytes_of(&std::mem::take(&mut self.cur));
                self.frames.push((side, b));
                self.side = None;
            }
        }
    }

    struct Run {
        tx: Vec<(u16, Vec<u8>)>,
        host: Vec<([u64; HOST_RX_META_WORDS], Vec<u8>)>,
        counters: [u64; 6],
        /// Clocks in which a beat was offered, both outputs were ready and
        /// no beat moved on any port.
        refused_ready: usize,
        /// Clocks until the last beat left.
        clocks: usize,
    }

    /// Offers `frames` with their descriptors (random `tvalid` gaps per
    /// `gap_pct`), drains both outputs with random `tready` per `stall_pct`.
    fn run(frames: &[(ActionDesc, Vec<u8>)], rng: &mut Rng, gap_pct: u64, stall_pct: u64) -> Run {
        let mut st = ActionStage64::new();
        st.connect_all();
        st.reset.next = true;
        tick(&mut st, |s| &mut s.clock);
        st.reset.next = false;
        settle(&mut st);
        let mut q: VecDeque<(Bits<DESC_BITS>, (u64, u64, bool))> = VecDeque::new();
        for (d, f) in frames {
            let b = desc_bits(d);
            for beat in beats(f) {
                q.push_back((b, beat));
            }
        }
        let mut tx: Out<u16> = Out::default();
        let mut host: Out<[u64; HOST_RX_META_WORDS]> = Out::default();
        let mut refused_ready = 0;
        let (mut clock, mut clocks, mut idle) = (0, 0, 0);
        // After the last beat went in, a flush beat may still wait.
        while !q.is_empty() || idle < 20 {
            let (desc, (data, keep, last)) = q
                .front()
                .copied()
                .unwrap_or_else(|| (Bits::<DESC_BITS>::default(), (0, 0, false)));
            let offer = !q.is_empty() && !rng.chance(gap_pct);
            st.s_tvalid.next = offer;
            // Between beats the descriptor may be anything; within a frame
            // the caller holds it, as the frame buffer holds `m_result`.
            st.s_desc.next = desc;
            st.s_tdata.next = if offer { data } else { rng.next() }.into();
            st.s_tkeep.next = keep.into();
            st.s_tlast.next = last;
            let tx_ready = !rng.chance(stall_pct);
            let h_ready = !rng.chance(stall_pct);
            st.tx_tready.next = tx_ready;
            st.h_tready.next = h_ready;
            settle(&mut st);
            assert!(
                !(st.tx_tvalid.val() && st.h_tvalid.val()),
                "a beat on both outputs"
            );
            // Only a flush beat leaves without one coming in.
            assert!(offer || !st.h_tvalid.val());
            let took = offer && st.s_tready.val();
            let moved = took || (st.tx_tvalid.val() && tx_ready) || (st.h_tvalid.val() && h_ready);
            if offer && tx_ready && h_ready && !moved {
                refused_ready += 1;
            }
            clock += 1;
            if moved {
                clocks = clock;
            }
            idle = if q.is_empty() { idle + 1 } else { 0 };
            if st.tx_tvalid.val() && tx_ready {
                let beat = (
                    st.tx_tdata.val().to_u64(),
                    st.tx_tkeep.val().to_u64(),
                    st.tx_tlast.val(),
                );
                tx.beat(beat, st.tx_tdest.val().to_u64() as u16);
            }
            if st.h_tvalid.val() && h_ready {
                assert!(took, "host took a beat the input did not give");
                let beat = (
                    st.h_tdata.val().to_u64(),
                    st.h_tkeep.val().to_u64(),
                    st.h_tlast.val(),
                );
                host.beat(beat, meta_words(st.h_meta.val()));
            }
            tick(&mut st, |s| &mut s.clock);
            if took {
                q.pop_front();
            }
        }
        assert!(!st.tx_tvalid.val(), "a beat left behind");
        settle(&mut st);
        let counters = [
            st.forwarded.val().to_u64(),
            st.dropped.val().to_u64(),
            st.host_marked.val().to_u64(),
            st.host_miss.val().to_u64(),
            st.host_exception.val().to_u64(),
            st.edits_to_host.val().to_u64(),
        ];
        Run {
            tx: tx.frames,
            host: host.frames,
            counters,
            refused_ready,
            clocks,
        }
    }

    /// A frame of `len` random bytes, often with an 802.1Q or 802.1ad TPID
    /// (or one a bit off) at byte 12.
    fn random_frame(rng: &mut Rng, len: usize) -> Vec<u8> {
        let mut f: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if len >= 14 {
            let tpid: u16 = match rng.below(6) {
                0 | 1 => abi::action_stage::TPID_8021Q,
                2 | 3 => abi::action_stage::TPID_8021AD,
                4 => abi::action_stage::TPID_8021Q ^ 1 << rng.below(16),
                _ => rng.next() as u16,
            };
            f[12..14].copy_from_slice(&tpid.to_be_bytes());
        }
        f
    }

    fn traffic(rng: &mut Rng, n: usize, max_len: u64) -> Vec<(ActionDesc, Vec<u8>)> {
        (0..n)
            .map(|_| {
                let len = 1 + rng.below(max_len) as usize;
                let bytes = random_frame(rng, len);
                (random_desc(rng, len, None), bytes)
            })
            .collect()
    }

    /// Clocks a run takes with its outputs always ready: one per beat in,
    /// plus a flush beat wherever a frame leaves with more beats than it
    /// kept (a pop's beat 1 goes in without a beat out).
    fn ideal_clocks(frames: &[(ActionDesc, Vec<u8>)]) -> usize {
        frames
            .iter()
            .map(|(d, f)| {
                let beats_in = f.len().div_ceil(8);
                match action_stage(d, f).expect("valid meta").disposition {
                    Disposition::Tx { bytes, .. } => {
                        let swallowed = usize::from(bytes.len() + 4 == f.len());
                        beats_in + (bytes.len().div_ceil(8) + swallowed).saturating_sub(beats_in)
                    }
                    _ => beats_in,
                }
            })
            .sum()
    }

    /// Checks a run against the abi reference, frame by frame and counter
    /// by counter; returns how many frames took each counter.
    fn check(frames: &[(ActionDesc, Vec<u8>)], r: &Run) -> [u64; 6] {
        let mut want_tx = Vec::new();
        let mut want_host = Vec::new();
        let mut counts = [0u64; 6];
        for (d, f) in frames {
            let o = action_stage(d, f).expect("the test writes valid meta words");
            counts[o.counter as usize] += 1;
            match o.disposition {
                Disposition::Tx { ports, bytes } => want_tx.push((ports, bytes)),
                Disposition::Host { meta, bytes } => want_host.push((meta.encode(), bytes)),
                Disposition::Drop => {}
            }
        }
        assert_eq!(r.tx.len(), want_tx.len(), "frames to MAC ports");
        for (i, (got, want)) in r.tx.iter().zip(&want_tx).enumerate() {
            assert_eq!(got, want, "tx frame {i}");
        }
        assert_eq!(r.host.len(), want_host.len(), "frames to the host");
        for (i, (got, want)) in r.host.iter().zip(&want_host).enumerate() {
            assert_eq!(
                HostRxMeta::decode(&got.0),
                HostRxMeta::decode(&want.0),
                "host frame {i} meta"
            );
            assert_eq!(got, want, "host frame {i}");
        }
        for c in ActionCounter::ALL {
            assert_eq!(
                r.counters[*c as usize],
                counts[*c as usize],
                "counter {}",
                c.name()
            );
        }
        counts
    }

    #[test]
    fn action_stage_vlan_edits_match_the_reference_at_every_length() {
        let mut rng = Rng(13);
        let ops = [VlanOp::None, VlanOp::Pop, VlanOp::Push, VlanOp::SetTci];
        let mut frames = Vec::new();
        for len in 1..=210 {
            for op in ops {
                let f = random_frame(&mut rng, len);
                let mut d = random_desc(&mut rng, len, Some(op));
                // Mostly forwarded, so every length meets every edit.
                if rng.chance(80) {
                    let a = ActionEntry::decode(d.action).unwrap_or_default();
                    d.action = ActionEntry {
                        kind: Some(ActionKind::Output),
                        out_ports: 1 + rng.below(0xffff) as u16,
                        set: SetMask {
                            eth_src: rng.chance(40),
                            eth_dst: rng.chance(40),
                            ..SetMask::default()
                        },
                        ..a
                    }
                    .encode();
                    d.parse_meta = ParseMeta {
                        exception: None,
                        ..ParseMeta::decode(d.parse_meta).expect("valid meta")
                    }
                    .encode();
                    d.result = LookupResult {
                        kind: HitKind::Megaflow,
                        slot: 1,
                        index: 2,
                        flow_id: 3,
                    }
                    .encode()
                    .unwrap();
                }
                frames.push((d, f));
            }
        }
        let r = run(&frames, &mut rng, 25, 30);
        check(&frames, &r);
        // Every edit changed frames of every kind of length.
        let mut edited = [[0usize; 3]; 4];
        let mut eth_edited = [0usize; 3];
        for (d, f) in &frames {
            if let Disposition::Tx { bytes, .. } = action_stage(d, f).unwrap().disposition {
                let op = ActionEntry::decode(d.action).unwrap().vlan.unwrap() as usize;
                let class = match f.len() {
                    0..=11 => 0,
                    12..=63 => 1,
                    _ => 2,
                };
                let eth = eth_edit(d.action, &d.edit, f);
                eth_edited[class] += usize::from(eth != *f);
                let class = match f.len() {
                    0..=17 => 0,
                    18..=63 => 1,
                    _ => 2,
                };
                edited[op][class] += usize::from(bytes != eth);
            }
        }
        assert_eq!(eth_edited[0], 0, "an Ethernet rewrite of a short frame");
        assert!(eth_edited[1..].iter().all(|n| *n > 0), "eth {eth_edited:?}");
        assert_eq!(edited[0], [0, 0, 0]);
        assert!(edited[2].iter().all(|n| *n > 0), "push {:?}", edited[2]);
        assert!(edited[1][1..].iter().all(|n| *n > 0), "pop {:?}", edited[1]);
        assert!(edited[3][1..].iter().all(|n| *n > 0), "set {:?}", edited[3]);
        // Back to back with outputs ready, flush beats are the only cost.
        let r = run(&frames, &mut rng, 0, 0);
        check(&frames, &r);
        assert_eq!(r.refused_ready, 0);
        assert_eq!(r.clocks, ideal_clocks(&frames));
    }

    #[test]
    fn action_stage_matches_the_reference_under_backpressure() {
        let mut rng = Rng(11);
        let frames = traffic(&mut rng, 400, 90);
        let r = run(&frames, &mut rng, 30, 35);
        let counts = check(&frames, &r);
        // The random descriptors reach every rule.
        for c in ActionCounter::ALL {
            assert!(counts[*c as usize] > 0, "no frame counted in {}", c.name());
        }
    }

    #[test]
    fn action_stage_takes_a_beat_every_clock_when_outputs_are_ready() {
        let mut rng = Rng(12);
        let frames = traffic(&mut rng, 150, 70);
        let r = run(&frames, &mut rng, 0, 0);
        check(&frames, &r);
        assert_eq!(
            r.refused_ready, 0,
            "the stage stalled with both outputs ready"
        );
        assert_eq!(r.clocks, ideal_clocks(&frames));
    }
}
