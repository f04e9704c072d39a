//! The hardware parser: an AXI-Stream frame in, its [`abi::FlowKey`] and
//! [`abi::parser`] meta word out — the same key and malformed reason as the
//! host's `extract`, or an exception when the frame cannot be parsed
//! identically within the window.
//!
//! Design: a capture stage writes the first `PARSE_WINDOW_BYTES` of each
//! frame into a window register (byte 0 in the top bits, so a big-endian
//! field is a plain bit slice) and counts its length; at `tlast` the window
//! enters a pipeline of one stage per header: L2 (MACs, VLAN tags, LLC/SNAP),
//! L3 (IPv4, IPv6 or ARP), [`abi::parser::MAX_IPV6_EXT_HEADERS`] IPv6
//! extension-header stages, and L4. Each stage reads its header with one
//! variable-offset slice of the window and fixed slices inside it. The
//! pipeline takes a frame per clock, so a frame costs as many clocks as it
//! has beats: one 64-byte frame per clock at 512 bits. `m_ready` low stalls
//! the whole pipeline and drops `s_tready`.
//!
//! Every decision follows `host-fastpath/src/extract/parse.rs` (Open
//! vSwitch's `miniflow_extract`) in the same order; a read that extract
//! would do on bytes the frame has but the window lacks is an exception.
//! Neighbour discovery leaves as an exception: its key has host-only fields.

use abi::key;
use abi::parser::{
    Exception, MalformedReason as R, MAX_IPV6_EXT_HEADERS, ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT,
    PARSE_WINDOW_BYTES, SB_BAD_IP_VERSION, SB_EXCEPTION, SB_FRAME_LEN, SB_MALFORMED,
};
use rust_hdl::prelude::*;

/// Zero bytes behind the window, so a header read that starts inside the
/// window never slices past the register (the widest read is 40 bytes, the
/// farthest ends 14 bytes behind its start).
const PAD_BYTES: usize = 40;
/// Bits of the window register.
pub const WINDOW_BITS: usize = (PARSE_WINDOW_BYTES + PAD_BYTES) * 8;
/// Pipeline registers after capture: L2, L3, the extension stages, L4.
pub const STAGES: usize = 3 + MAX_IPV6_EXT_HEADERS;
/// Clocks from the last beat accepted to `m_valid` (with `m_ready` high).
pub const LATENCY: usize = STAGES + 1;
const NS: usize = STAGES + 1;
// The update code spells the stage numbers as literals (hdl_gen loops and
// indexes cannot name constants): capture 0, L2 1, L3 2, extensions 3..=6, L4 7.
const _: () = assert!(NS == 8 && MAX_IPV6_EXT_HEADERS == 4);

fn c16(v: usize) -> Constant<Bits<16>> {
    Constant::new((v as u64).into())
}

fn code(r: R) -> Constant<Bits<5>> {
    Constant::new((r as u64).into())
}

/// The parser for `D`-bit data with `K = D / 8` keep bits.
#[derive(LogicBlock)]
pub struct FastpathParser<const D: usize, const K: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: drops the frame being captured and the pipeline.
    pub reset: Signal<In, bool>,
    /// `vlan-limit`: 1 parses the outer tag only; 0 or 2 both tags.
    pub vlan_limit: Signal<In, Bits<2>>,
    /// Frame data, byte 0 of the beat in bits 7..0.
    pub s_tdata: Signal<In, Bits<D>>,
    /// Byte enables (contiguous from bit 0; all set except on the last beat).
    pub s_tkeep: Signal<In, Bits<K>>,
    /// Beat valid.
    pub s_tvalid: Signal<In, bool>,
    /// Beat accepted when valid and ready.
    pub s_tready: Signal<Out, bool>,
    /// Last beat of the frame.
    pub s_tlast: Signal<In, bool>,
    /// In port (taken from the first beat).
    pub s_tuser: Signal<In, Bits<16>>,
    /// A result is valid.
    pub m_valid: Signal<Out, bool>,
    /// The result is taken.
    pub m_ready: Signal<In, bool>,
    /// The key (zero with an exception).
    pub m_key: Signal<Out, Bits<512>>,
    /// The `abi::parser` sideband word (in port, length, reason, exception).
    pub m_meta: Signal<Out, Bits<64>>,

    // Constants: key field offsets, reason codes, window geometry.
    k_in_port: Constant<Bits<16>>,
    k_dl_type: Constant<Bits<16>>,
    k_vlan_tci: Constant<Bits<16>>,
    k_vlan_tci2: Constant<Bits<16>>,
    k_dl_dst: Constant<Bits<16>>,
    k_dl_src: Constant<Bits<16>>,
    k_nw_proto: Constant<Bits<16>>,
    k_nw_tos: Constant<Bits<16>>,
    k_nw_ttl: Constant<Bits<16>>,
    k_nw_frag: Constant<Bits<16>>,
    k_src_hi: Constant<Bits<16>>,
    k_src_lo: Constant<Bits<16>>,
    k_dst_hi: Constant<Bits<16>>,
    k_dst_lo: Constant<Bits<16>>,
    k_nw_src: Constant<Bits<16>>,
    k_nw_dst: Constant<Bits<16>>,
    k_arp_sha: Constant<Bits<16>>,
    k_arp_tha: Constant<Bits<16>>,
    k_tp_src: Constant<Bits<16>>,
    k_tp_dst: Constant<Bits<16>>,
    k_tcp_flags: Constant<Bits<16>>,
    m_len: Constant<Bits<16>>,
    m_reason: Constant<Bits<16>>,
    m_badver: Constant<Bits<16>>,
    m_exc: Constant<Bits<16>>,
    r_too_short_eth: Constant<Bits<5>>,
    r_oversized: Constant<Bits<5>>,
    r_truncated_vlan: Constant<Bits<5>>,
    r_too_many_vlans: Constant<Bits<5>>,
    r_truncated_arp: Constant<Bits<5>>,
    r_bad_arp: Constant<Bits<5>>,
    r_truncated_ipv4: Constant<Bits<5>>,
    r_bad_ihl: Constant<Bits<5>>,
    r_bad_tot: Constant<Bits<5>>,
    r_truncated_ipv6: Constant<Bits<5>>,
    r_bad_plen: Constant<Bits<5>>,
    r_truncated_ext: Constant<Bits<5>>,
    r_truncated_tcp: Constant<Bits<5>>,
    r_bad_tcp_off: Constant<Bits<5>>,
    r_truncated_udp: Constant<Bits<5>>,
    r_truncated_sctp: Constant<Bits<5>>,
    r_truncated_icmp: Constant<Bits<5>>,
    r_truncated_icmpv6: Constant<Bits<5>>,
    x_past_window: Constant<Bits<2>>,
    x_too_many_ext: Constant<Bits<2>>,
    x_nd: Constant<Bits<2>>,
    nd_ns: Constant<Bits<8>>,
    nd_na: Constant<Bits<8>>,
    /// Window bytes.
    w_bytes: Constant<Bits<16>>,
    /// Slice index of a 30-byte L2 read at offset 0.
    w_l2: Constant<Bits<16>>,
    /// Slice index of a 40-byte read at offset 0 (decrease by 8 per byte).
    w_top40: Constant<Bits<16>>,
    w_top4: Constant<Bits<16>>,
    w_top2: Constant<Bits<16>>,
    /// Capture: shift of the first beat, smallest shift still in the window, beat bits.
    sh_first: Constant<Bits<16>>,
    sh_room: Constant<Bits<16>>,
    sh_beat: Constant<Bits<16>>,

    // Capture.
    c_win: DFF<Bits<WINDOW_BITS>>,
    c_len: DFF<Bits<32>>,
    c_sh: DFF<Bits<16>>,
    c_in: DFF<bool>,
    c_first: DFF<bool>,
    c_port: DFF<Bits<16>>,
    stall: Signal<Local, bool>,
    adv: Signal<Local, bool>,
    acc: Signal<Local, bool>,
    kept: Signal<Local, Bits<8>>,
    rev: Signal<Local, Bits<D>>,
    cnt: Signal<Local, Bits<32>>,
    sh: Signal<Local, Bits<16>>,
    inw: Signal<Local, bool>,
    placed: Signal<Local, Bits<WINDOW_BITS>>,
    nwin: Signal<Local, Bits<WINDOW_BITS>>,
    nlen: Signal<Local, Bits<32>>,

    // Pipeline registers, index = stage whose result they hold (0: capture).
    v: Vec<DFF<bool>>,
    win: Vec<DFF<Bits<WINDOW_BITS>>>,
    len: Vec<DFF<Bits<32>>>,
    port: Vec<DFF<Bits<16>>>,
    key: Vec<DFF<Bits<512>>>,
    stop: Vec<DFF<bool>>,
    reason: Vec<DFF<Bits<5>>>,
    badver: Vec<DFF<bool>>,
    exc: Vec<DFF<Bits<2>>>,
    pos: Vec<DFF<Bits<16>>>,
    end: Vec<DFF<Bits<16>>>,
    proto: Vec<DFF<Bits<8>>>,
    kind: Vec<DFF<Bits<2>>>,
    v6: Vec<DFF<bool>>,
    tos: Vec<DFF<Bits<8>>>,
    ttl: Vec<DFF<Bits<8>>>,
    frag: Vec<DFF<Bits<2>>>,
    l4ok: Vec<DFF<bool>>,
    walked: Vec<DFF<bool>>,
    meta: DFF<Bits<64>>,

    // L2 locals.
    l2: Signal<Local, Bits<240>>,
    l2k: Signal<Local, Bits<512>>,
    l2ty: Signal<Local, Bits<16>>,
    l2tp: Signal<Local, Bits<16>>,
    l2l3: Signal<Local, Bits<16>>,
    l2llc: Signal<Local, Bits<64>>,
    l2dl: Signal<Local, Bits<16>>,
    l2r: Signal<Local, Bits<5>>,
    l2x: Signal<Local, Bits<2>>,
    l2kind: Signal<Local, Bits<2>>,
    // L3 locals.
    h: Signal<Local, Bits<320>>,
    h_av: Signal<Local, Bits<32>>,
    h_ihl: Signal<Local, Bits<32>>,
    h_tot: Signal<Local, Bits<32>>,
    h_fo: Signal<Local, Bits<16>>,
    h_frag: Signal<Local, Bits<2>>,
    h_plen: Signal<Local, Bits<32>>,
    h_k: Signal<Local, Bits<512>>,
    // Extension-header locals, one set per stage.
    e: Vec<Signal<Local, Bits<32>>>,
    e_pos: Vec<Signal<Local, Bits<16>>>,
    e_av: Vec<Signal<Local, Bits<16>>>,
    e_len: Vec<Signal<Local, Bits<16>>>,
    e_act: Vec<Signal<Local, bool>>,
    // L4 locals.
    t: Signal<Local, Bits<32>>,
    t_pos: Signal<Local, Bits<16>>,
    tf: Signal<Local, Bits<16>>,
    tf_pos: Signal<Local, Bits<16>>,
    t_av: Signal<Local, Bits<16>>,
    t_hl: Signal<Local, Bits<16>>,
    t_k: Signal<Local, Bits<512>>,
    t_r: Signal<Local, Bits<5>>,
    t_x: Signal<Local, Bits<2>>,
    t_go: Signal<Local, bool>,
    t_end: Signal<Local, Bits<16>>,
}

impl<const D: usize, const K: usize> Default for FastpathParser<D, K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const D: usize, const K: usize> FastpathParser<D, K> {
    /// A parser for `D`-bit beats.
    pub fn new() -> Self {
        assert_eq!(D, K * 8, "tkeep has one bit per byte");
        assert!(
            abi::parser::DATA_WIDTHS.contains(&D),
            "data width {D} is not one of abi::parser::DATA_WIDTHS"
        );
        let kf = |f: abi::bits::BitField| c16(f.offset as usize);
        let vd = |n: usize| -> Vec<DFF<bool>> { (0..n).map(|_| Default::default()).collect() };
        macro_rules! regs {
            () => {
                (0..NS).map(|_| Default::default()).collect()
            };
        }
        macro_rules! locals {
            () => {
                (0..MAX_IPV6_EXT_HEADERS)
                    .map(|_| Default::default())
                    .collect()
            };
        }
        let pad_bits = PAD_BYTES * 8;
        FastpathParser {
            clock: Default::default(),
            reset: Default::default(),
            vlan_limit: Default::default(),
            s_tdata: Default::default(),
            s_tkeep: Default::default(),
            s_tvalid: Default::default(),
            s_tready: Default::default(),
            s_tlast: Default::default(),
            s_tuser: Default::default(),
            m_valid: Default::default(),
            m_ready: Default::default(),
            m_key: Default::default(),
            m_meta: Default::default(),
            k_in_port: kf(key::IN_PORT),
            k_dl_type: kf(key::DL_TYPE),
            k_vlan_tci: kf(key::VLAN_TCI),
            k_vlan_tci2: kf(key::VLAN_TCI2),
            k_dl_dst: kf(key::DL_DST),
            k_dl_src: kf(key::DL_SRC),
            k_nw_proto: kf(key::NW_PROTO),
            k_nw_tos: kf(key::NW_TOS),
            k_nw_ttl: kf(key::NW_TTL),
            k_nw_frag: kf(key::NW_FRAG),
            k_src_hi: kf(key::IPV6_SRC_HI),
            k_src_lo: kf(key::IPV6_SRC_LO),
            k_dst_hi: kf(key::IPV6_DST_HI),
            k_dst_lo: kf(key::IPV6_DST_LO),
            k_nw_src: kf(key::NW_SRC),
            k_nw_dst: kf(key::NW_DST),
            k_arp_sha: kf(key::ARP_SHA),
            k_arp_tha: kf(key::ARP_THA),
            k_tp_src: kf(key::TP_SRC),
            k_tp_dst: kf(key::TP_DST),
            k_tcp_flags: kf(key::TCP_FLAGS),
            m_len: c16(SB_FRAME_LEN.offset as usize),
            m_reason: c16(SB_MALFORMED.offset as usize),
            m_badver: c16(SB_BAD_IP_VERSION.offset as usize),
            m_exc: c16(SB_EXCEPTION.offset as usize),
            r_too_short_eth: code(R::TooShortEth),
            r_oversized: code(R::OversizedFrame),
            r_truncated_vlan: code(R::TruncatedVlan),
            r_too_many_vlans: code(R::TooManyVlans),
            r_truncated_arp: code(R::TruncatedArp),
            r_bad_arp: code(R::BadArpFormat),
            r_truncated_ipv4: code(R::TruncatedIpv4),
            r_bad_ihl: code(R::BadIpv4Ihl),
            r_bad_tot: code(R::BadIpv4TotalLen),
            r_truncated_ipv6: code(R::TruncatedIpv6),
            r_bad_plen: code(R::BadIpv6PayloadLen),
            r_truncated_ext: code(R::TruncatedIpv6Ext),
            r_truncated_tcp: code(R::TruncatedTcp),
            r_bad_tcp_off: code(R::BadTcpOffset),
            r_truncated_udp: code(R::TruncatedUdp),
            r_truncated_sctp: code(R::TruncatedSctp),
            r_truncated_icmp: code(R::TruncatedIcmp),
            r_truncated_icmpv6: code(R::TruncatedIcmpv6),
            x_past_window: Constant::new((Exception::PastWindow as u64).into()),
            x_too_many_ext: Constant::new((Exception::TooManyIpv6Ext as u64).into()),
            x_nd: Constant::new((Exception::NeighborDiscovery as u64).into()),
            nd_ns: Constant::new((ND_NEIGHBOR_SOLICIT as u64).into()),
            nd_na: Constant::new((ND_NEIGHBOR_ADVERT as u64).into()),
            w_bytes: c16(PARSE_WINDOW_BYTES),
            w_l2: c16(WINDOW_BITS - 240),
            w_top40: c16(WINDOW_BITS - 320),
            w_top4: c16(WINDOW_BITS - 32),
            w_top2: c16(WINDOW_BITS - 16),
            sh_first: c16(WINDOW_BITS - D),
            sh_room: c16(pad_bits + D),
            sh_beat: c16(D),
            c_win: Default::default(),
            c_len: Default::default(),
            c_sh: Default::default(),
            c_in: Default::default(),
            c_first: Default::default(),
            c_port: Default::default(),
            stall: Default::default(),
            adv: Default::default(),
            acc: Default::default(),
            kept: Default::default(),
            rev: Default::default(),
            cnt: Default::default(),
            sh: Default::default(),
            inw: Default::default(),
            placed: Default::default(),
            nwin: Default::default(),
            nlen: Default::default(),
            v: vd(NS),
            win: regs!(),
            len: regs!(),
            port: regs!(),
            key: regs!(),
            stop: vd(NS),
            reason: regs!(),
            badver: vd(NS),
            exc: regs!(),
            pos: regs!(),
            end: regs!(),
            proto: regs!(),
            kind: regs!(),
            v6: vd(NS),
            tos: regs!(),
            ttl: regs!(),
            frag: regs!(),
            l4ok: vd(NS),
            walked: vd(NS),
            meta: Default::default(),
            l2: Default::default(),
            l2k: Default::default(),
            l2ty: Default::default(),
            l2tp: Default::default(),
            l2l3: Default::default(),
            l2llc: Default::default(),
            l2dl: Default::default(),
            l2r: Default::default(),
            l2x: Default::default(),
            l2kind: Default::default(),
            h: Default::default(),
            h_av: Default::default(),
            h_ihl: Default::default(),
            h_tot: Default::default(),
            h_fo: Default::default(),
            h_frag: Default::default(),
            h_plen: Default::default(),
            h_k: Default::default(),
            e: locals!(),
            e_pos: locals!(),
            e_av: locals!(),
            e_len: locals!(),
            e_act: locals!(),
            t: Default::default(),
            t_pos: Default::default(),
            tf: Default::default(),
            tf_pos: Default::default(),
            t_av: Default::default(),
            t_hl: Default::default(),
            t_k: Default::default(),
            t_r: Default::default(),
            t_x: Default::default(),
            t_go: Default::default(),
            t_end: Default::default(),
        }
    }
}

impl<const D: usize, const K: usize> Logic for FastpathParser<D, K> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, c_win, c_len, c_sh, c_in, c_first, c_port, meta);
        for s in 0..8 {
            self.v[s].clock.next = self.clock.val();
            self.v[s].d.next = self.v[s].q.val();
            self.win[s].clock.next = self.clock.val();
            self.win[s].d.next = self.win[s].q.val();
            self.len[s].clock.next = self.clock.val();
            self.len[s].d.next = self.len[s].q.val();
            self.port[s].clock.next = self.clock.val();
            self.port[s].d.next = self.port[s].q.val();
            self.key[s].clock.next = self.clock.val();
            self.key[s].d.next = self.key[s].q.val();
            self.stop[s].clock.next = self.clock.val();
            self.stop[s].d.next = self.stop[s].q.val();
            self.reason[s].clock.next = self.clock.val();
            self.reason[s].d.next = self.reason[s].q.val();
            self.badver[s].clock.next = self.clock.val();
            self.badver[s].d.next = self.badver[s].q.val();
            self.exc[s].clock.next = self.clock.val();
            self.exc[s].d.next = self.exc[s].q.val();
            self.pos[s].clock.next = self.clock.val();
            self.pos[s].d.next = self.pos[s].q.val();
            self.end[s].clock.next = self.clock.val();
            self.end[s].d.next = self.end[s].q.val();
            self.proto[s].clock.next = self.clock.val();
            self.proto[s].d.next = self.proto[s].q.val();
            self.kind[s].clock.next = self.clock.val();
            self.kind[s].d.next = self.kind[s].q.val();
            self.v6[s].clock.next = self.clock.val();
            self.v6[s].d.next = self.v6[s].q.val();
            self.tos[s].clock.next = self.clock.val();
            self.tos[s].d.next = self.tos[s].q.val();
            self.ttl[s].clock.next = self.clock.val();
            self.ttl[s].d.next = self.ttl[s].q.val();
            self.frag[s].clock.next = self.clock.val();
            self.frag[s].d.next = self.frag[s].q.val();
            self.l4ok[s].clock.next = self.clock.val();
            self.l4ok[s].d.next = self.l4ok[s].q.val();
            self.walked[s].clock.next = self.clock.val();
            self.walked[s].d.next = self.walked[s].q.val();
        }

        // ---- Handshake: a full output register that is not taken stalls all.
        self.stall.next = self.v[7].q.val() && !self.m_ready.val();
        self.adv.next = !self.stall.val() && !self.reset.val();
        self.s_tready.next = self.adv.val();
        self.acc.next = self.s_tvalid.val() && self.adv.val();
        self.m_valid.next = self.v[7].q.val();
        self.m_key.next = self.key[7].q.val();
        self.m_meta.next = self.meta.q.val();

        // ---- Capture: the beat byte-reversed (byte 0 on top), kept bytes only.
        self.rev.next = 0.into();
        self.cnt.next = 0.into();
        for j in 0..K {
            self.kept.next = 0.into();
            if self.s_tkeep.val().get_bit(j) {
                self.kept.next = self.s_tdata.val().get_bits::<8>(8 * j);
                self.cnt.next = self.cnt.val() + 1;
            }
            self.rev.next = (self.rev.val() << 8) | bit_cast::<D, 8>(self.kept.val());
        }
        self.sh.next = self.c_sh.q.val();
        self.inw.next = self.c_in.q.val();
        self.nlen.next = self.c_len.q.val() + self.cnt.val();
        if self.c_first.q.val() {
            self.sh.next = self.sh_first.val();
            self.inw.next = true;
            self.nlen.next = self.cnt.val();
        }
        self.placed.next = 0.into();
        if self.inw.val() {
            self.placed.next = bit_cast::<WINDOW_BITS, D>(self.rev.val()) << self.sh.val();
        }
        self.nwin.next = self.c_win.q.val() | self.placed.val();
        if self.c_first.q.val() {
            self.nwin.next = self.placed.val();
        }
        if self.adv.val() {
            self.v[0].d.next = false;
        }
        if self.acc.val() {
            self.c_win.d.next = self.nwin.val();
            self.c_len.d.next = self.nlen.val();
            self.c_sh.d.next = self.sh.val() - self.sh_beat.val();
            self.c_in.d.next = self.inw.val() && self.sh.val() >= self.sh_room.val();
            self.c_first.d.next = self.s_tlast.val();
            if self.c_first.q.val() {
                self.c_port.d.next = self.s_tuser.val();
            }
            if self.s_tlast.val() {
                self.v[0].d.next = true;
                self.win[0].d.next = self.nwin.val();
                self.len[0].d.next = self.nlen.val();
                self.port[0].d.next = self.c_port.q.val();
                if self.c_first.q.val() {
                    self.port[0].d.next = self.s_tuser.val();
                }
            }
        }

        // ---- Every stage passes its input on by default.
        if self.adv.val() {
            for s in 1..8 {
                self.v[s].d.next = self.v[s - 1].q.val();
                self.win[s].d.next = self.win[s - 1].q.val();
                self.len[s].d.next = self.len[s - 1].q.val();
                self.port[s].d.next = self.port[s - 1].q.val();
                self.key[s].d.next = self.key[s - 1].q.val();
                self.stop[s].d.next = self.stop[s - 1].q.val();
                self.reason[s].d.next = self.reason[s - 1].q.val();
                self.badver[s].d.next = self.badver[s - 1].q.val();
                self.exc[s].d.next = self.exc[s - 1].q.val();
                self.pos[s].d.next = self.pos[s - 1].q.val();
                self.end[s].d.next = self.end[s - 1].q.val();
                self.proto[s].d.next = self.proto[s - 1].q.val();
                self.kind[s].d.next = self.kind[s - 1].q.val();
                self.v6[s].d.next = self.v6[s - 1].q.val();
                self.tos[s].d.next = self.tos[s - 1].q.val();
                self.ttl[s].d.next = self.ttl[s - 1].q.val();
                self.frag[s].d.next = self.frag[s - 1].q.val();
                self.l4ok[s].d.next = self.l4ok[s - 1].q.val();
                self.walked[s].d.next = self.walked[s - 1].q.val();
            }
        }

        // ---- Stage 1, L2 (parse_vlan, parse_ethertype). The first 30 bytes:
        // MACs, two tags, the type and an LLC/SNAP header.
        self.l2.next = self.win[0].q.val().get_bits::<240>(self.w_l2.val().index());
        self.l2k.next = bit_cast::<512, 16>(self.port[0].q.val()) << self.k_in_port.val();
        self.l2r.next = 0.into();
        self.l2x.next = 0.into();
        self.l2kind.next = 0.into();
        self.l2ty.next = self.l2.val().get_bits::<16>(128);
        self.l2tp.next = 12.into();
        self.l2dl.next = 0.into();
        self.l2l3.next = 14.into();
        self.l2llc.next = self.l2.val().get_bits::<64>(64);
        if self.len[0].q.val() < 14 {
            self.l2r.next = self.r_too_short_eth.val();
        } else {
            self.l2k.next = self.l2k.val()
                | (bit_cast::<512, 48>(self.l2.val().get_bits::<48>(192)) << self.k_dl_dst.val())
                | (bit_cast::<512, 48>(self.l2.val().get_bits::<48>(144)) << self.k_dl_src.val());
            if self.l2ty.val() == 0x8100 || self.l2ty.val() == 0x88a8 {
                if self.len[0].q.val() < 18 {
                    self.l2r.next = self.r_truncated_vlan.val();
                } else {
                    self.l2k.next = self.l2k.val()
                        | (bit_cast::<512, 16>(self.l2.val().get_bits::<16>(112) | 0x1000)
                            << self.k_vlan_tci.val());
                    self.l2ty.next = self.l2.val().get_bits::<16>(96);
                    self.l2tp.next = 16.into();
                    self.l2llc.next = self.l2.val().get_bits::<64>(32);
                    if self.l2ty.val() == 0x8100 || self.l2ty.val() == 0x88a8 {
                        if self.vlan_limit.val() == 1 {
                            self.l2r.next = self.r_too_many_vlans.val();
                        } else if self.len[0].q.val() < 22 {
                            self.l2r.next = self.r_truncated_vlan.val();
                        } else {
                            self.l2k.next = self.l2k.val()
                                | (bit_cast::<512, 16>(self.l2.val().get_bits::<16>(80) | 0x1000)
                                    << self.k_vlan_tci2.val());
                            self.l2ty.next = self.l2.val().get_bits::<16>(64);
                            self.l2tp.next = 20.into();
                            self.l2llc.next = self.l2.val().get_bits::<64>(0);
                            if self.l2ty.val() == 0x8100 || self.l2ty.val() == 0x88a8 {
                                self.l2r.next = self.r_too_many_vlans.val();
                            }
                        }
                    }
                }
            }
            self.l2l3.next = self.l2tp.val() + 2;
            self.l2dl.next = self.l2ty.val();
            if self.l2ty.val() < 0x0600 {
                self.l2dl.next = 0x05ff.into();
                if (self.len[0].q.val() >= bit_cast::<32, 16>(self.l2l3.val()) + 8)
                    && (self.l2llc.val().get_bits::<48>(16) == 0xaaaa_0300_0000_u64)
                {
                    self.l2l3.next = self.l2l3.val() + 8;
                    if self.l2llc.val().get_bits::<16>(0) >= 0x0600 {
                        self.l2dl.next = self.l2llc.val().get_bits::<16>(0);
                    }
                }
            }
            self.l2k.next =
                self.l2k.val() | (bit_cast::<512, 16>(self.l2dl.val()) << self.k_dl_type.val());
            if self.len[0].q.val() > 0xffff {
                // A VLAN reason and oversized_frame would both be counted by
                // extract: one reason code cannot say so.
                if self.l2r.val() != 0 {
                    self.l2x.next = self.x_past_window.val();
                }
                self.l2r.next = self.r_oversized.val();
            } else if self.l2dl.val() == 0x0800 {
                self.l2kind.next = 1.into();
            } else if self.l2dl.val() == 0x86dd {
                self.l2kind.next = 2.into();
            } else if self.l2dl.val() == 0x0806 || self.l2dl.val() == 0x8035 {
                self.l2kind.next = 3.into();
            }
        }
        if self.adv.val() {
            self.key[1].d.next = self.l2k.val();
            self.reason[1].d.next = self.l2r.val();
            self.exc[1].d.next = self.l2x.val();
            self.stop[1].d.next = self.l2kind.val() == 0;
            self.kind[1].d.next = self.l2kind.val();
            self.pos[1].d.next = self.l2l3.val();
            self.badver[1].d.next = false;
            self.v6[1].d.next = false;
            self.walked[1].d.next = false;
            self.l4ok[1].d.next = false;
            self.frag[1].d.next = 0.into();
        }

        // ---- Stage 2, L3: IPv4, IPv6 or ARP, 40 bytes at pos (<= 30).
        self.h.next = self.win[1]
            .q
            .val()
            .get_bits::<320>((self.w_top40.val() - (self.pos[1].q.val() << 3)).index());
        self.h_av.next = self.len[1].q.val() - bit_cast::<32, 16>(self.pos[1].q.val());
        self.h_ihl.next = bit_cast::<32, 4>(self.h.val().get_bits::<4>(312)) << 2;
        self.h_tot.next = bit_cast::<32, 16>(self.h.val().get_bits::<16>(288));
        self.h_fo.next = self.h.val().get_bits::<16>(256);
        self.h_frag.next = 0.into();
        if (self.h_fo.val() & 0x3fff) != 0 {
            self.h_frag.next = 1.into();
            if (self.h_fo.val() & 0x1fff) != 0 {
                self.h_frag.next = 3.into();
            }
        }
        self.h_plen.next = bit_cast::<32, 16>(self.h.val().get_bits::<16>(272));
        self.h_k.next = self.key[1].q.val();
        if self.adv.val() && !self.stop[1].q.val() {
            if self.kind[1].q.val() == 1 {
                if self.h_av.val() < 20 {
                    self.reason[2].d.next = self.r_truncated_ipv4.val();
                    self.stop[2].d.next = true;
                } else if self.h_ihl.val() < 20 {
                    self.reason[2].d.next = self.r_bad_ihl.val();
                    self.stop[2].d.next = true;
                } else if self.h_av.val() < self.h_ihl.val() {
                    self.reason[2].d.next = self.r_truncated_ipv4.val();
                    self.stop[2].d.next = true;
                } else if (self.h_tot.val() > self.h_av.val())
                    || (self.h_tot.val() < self.h_ihl.val())
                {
                    self.reason[2].d.next = self.r_bad_tot.val();
                    self.stop[2].d.next = true;
                } else {
                    self.badver[2].d.next = self.h.val().get_bits::<4>(316) != 4;
                    self.key[2].d.next = self.h_k.val()
                        | (bit_cast::<512, 32>(self.h.val().get_bits::<32>(192))
                            << self.k_nw_src.val())
                        | (bit_cast::<512, 32>(self.h.val().get_bits::<32>(160))
                            << self.k_nw_dst.val())
                        | (bit_cast::<512, 8>(self.h.val().get_bits::<8>(304))
                            << self.k_nw_tos.val())
                        | (bit_cast::<512, 8>(self.h.val().get_bits::<8>(248))
                            << self.k_nw_ttl.val())
                        | (bit_cast::<512, 8>(self.h.val().get_bits::<8>(240))
                            << self.k_nw_proto.val())
                        | (bit_cast::<512, 2>(self.h_frag.val()) << self.k_nw_frag.val());
                    self.proto[2].d.next = self.h.val().get_bits::<8>(240);
                    self.pos[2].d.next = self.pos[1].q.val() + bit_cast::<16, 32>(self.h_ihl.val());
                    self.end[2].d.next = self.pos[1].q.val() + bit_cast::<16, 32>(self.h_tot.val());
                    self.l4ok[2].d.next = !self.h_frag.val().get_bit(1);
                }
            } else if self.kind[1].q.val() == 2 {
                if self.h_av.val() < 40 {
                    self.reason[2].d.next = self.r_truncated_ipv6.val();
                    self.stop[2].d.next = true;
                } else if self.h_plen.val() + 40 > self.h_av.val() {
                    self.reason[2].d.next = self.r_bad_plen.val();
                    self.stop[2].d.next = true;
                } else {
                    self.badver[2].d.next = self.h.val().get_bits::<4>(316) != 6;
                    self.key[2].d.next = self.h_k.val()
                        | (bit_cast::<512, 64>(self.h.val().get_bits::<64>(192))
                            << self.k_src_hi.val())
                        | (bit_cast::<512, 64>(self.h.val().get_bits::<64>(128))
                            << self.k_src_lo.val())
                        | (bit_cast::<512, 64>(self.h.val().get_bits::<64>(64))
                            << self.k_dst_hi.val())
                        | (bit_cast::<512, 64>(self.h.val().get_bits::<64>(0))
                            << self.k_dst_lo.val());
                    self.tos[2].d.next = self.h.val().get_bits::<8>(308);
                    self.ttl[2].d.next = self.h.val().get_bits::<8>(256);
                    self.proto[2].d.next = self.h.val().get_bits::<8>(264);
                    self.pos[2].d.next = self.pos[1].q.val() + 40;
                    self.end[2].d.next =
                        self.pos[1].q.val() + 40 + bit_cast::<16, 32>(self.h_plen.val());
                    self.v6[2].d.next = true;
                    self.l4ok[2].d.next = true;
                }
            } else {
                // ARP / RARP: Ethernet/IPv4 only; nothing follows.
                self.stop[2].d.next = true;
                if self.h_av.val() < 28 {
                    self.reason[2].d.next = self.r_truncated_arp.val();
                } else if (self.h.val().get_bits::<16>(304) != 1)
                    || (self.h.val().get_bits::<16>(288) != 0x0800)
                    || (self.h.val().get_bits::<8>(280) != 6)
                    || (self.h.val().get_bits::<8>(272) != 4)
                {
                    self.reason[2].d.next = self.r_bad_arp.val();
                } else {
                    self.h_k.next = self.h_k.val()
                        | (bit_cast::<512, 32>(self.h.val().get_bits::<32>(176))
                            << self.k_nw_src.val())
                        | (bit_cast::<512, 32>(self.h.val().get_bits::<32>(96))
                            << self.k_nw_dst.val())
                        | (bit_cast::<512, 48>(self.h.val().get_bits::<48>(208))
                            << self.k_arp_sha.val())
                        | (bit_cast::<512, 48>(self.h.val().get_bits::<48>(128))
                            << self.k_arp_tha.val());
                    // Only opcodes up to 255 are matched (OVS keeps the low byte).
                    if self.h.val().get_bits::<8>(264) == 0 {
                        self.h_k.next = self.h_k.val()
                            | (bit_cast::<512, 8>(self.h.val().get_bits::<8>(256))
                                << self.k_nw_proto.val());
                    }
                    self.key[2].d.next = self.h_k.val();
                }
            }
        }

        // ---- Stages 3..: IPv6 extension headers (parse_ipv6_ext_hdrs__), one each.
        for x in 0..4 {
            self.e_pos[x].next = self.pos[x + 2].q.val();
            if self.pos[x + 2].q.val() > self.w_bytes.val() {
                self.e_pos[x].next = 0.into();
            }
            // Extract needs 8 bytes in the frame and reads the first 4.
            self.e[x].next = self.win[x + 2]
                .q
                .val()
                .get_bits::<32>((self.w_top4.val() - (self.e_pos[x].val() << 3)).index());
            self.e_av[x].next = self.end[x + 2].q.val() - self.pos[x + 2].q.val();
            self.e_len[x].next = ((self.e[x].val().get_bits::<16>(16) & 0xff) + 1) << 3;
            if self.proto[x + 2].q.val() == 51 {
                self.e_len[x].next = ((self.e[x].val().get_bits::<16>(16) & 0xff) + 2) << 2;
            }
            if self.proto[x + 2].q.val() == 44 {
                self.e_len[x].next = 8.into();
            }
            self.e_act[x].next = !self.stop[x + 2].q.val()
                && self.exc[x + 2].q.val() == 0
                && self.v6[x + 2].q.val()
                && !self.walked[x + 2].q.val()
                && (self.proto[x + 2].q.val() == 0
                    || self.proto[x + 2].q.val() == 43
                    || self.proto[x + 2].q.val() == 60
                    || self.proto[x + 2].q.val() == 51
                    || self.proto[x + 2].q.val() == 44);
            if self.adv.val() && self.e_act[x].val() {
                if self.e_av[x].val() < 8 {
                    self.reason[x + 3].d.next = self.r_truncated_ext.val();
                    self.stop[x + 3].d.next = true;
                    self.v6[x + 3].d.next = false;
                } else if self.pos[x + 2].q.val() + 4 > self.w_bytes.val() {
                    self.exc[x + 3].d.next = self.x_past_window.val();
                    self.stop[x + 3].d.next = true;
                } else if self.e_av[x].val() < self.e_len[x].val() {
                    self.reason[x + 3].d.next = self.r_truncated_ext.val();
                    self.stop[x + 3].d.next = true;
                    self.v6[x + 3].d.next = false;
                } else {
                    self.proto[x + 3].d.next = self.e[x].val().get_bits::<8>(24);
                    self.pos[x + 3].d.next = self.pos[x + 2].q.val() + self.e_len[x].val();
                    if (self.proto[x + 2].q.val() == 44) && (self.e[x].val().get_bits::<16>(0) != 0)
                    {
                        self.frag[x + 3].d.next = 1.into();
                        if (self.e[x].val().get_bits::<16>(0) & 0xfff8) != 0 {
                            self.frag[x + 3].d.next = 3.into();
                            self.proto[x + 3].d.next = 44.into();
                            self.walked[x + 3].d.next = true;
                            self.l4ok[x + 3].d.next = false;
                        }
                    }
                }
            }
        }

        // ---- Last stage: IPv6 fields, L4 (parse_l4) and the meta word.
        // Ports / type and code: 4 bytes at pos; TCP offset and flags: 2 at pos + 12.
        self.t_pos.next = self.pos[6].q.val();
        if self.pos[6].q.val() > self.w_bytes.val() {
            self.t_pos.next = 0.into();
        }
        self.t.next = self.win[6]
            .q
            .val()
            .get_bits::<32>((self.w_top4.val() - (self.t_pos.val() << 3)).index());
        self.tf_pos.next = self.pos[6].q.val() + 12;
        if self.pos[6].q.val() > self.w_bytes.val() {
            self.tf_pos.next = 0.into();
        }
        self.tf.next = self.win[6]
            .q
            .val()
            .get_bits::<16>((self.w_top2.val() - (self.tf_pos.val() << 3)).index());
        self.t_av.next = self.end[6].q.val() - self.pos[6].q.val();
        self.t_hl.next = bit_cast::<16, 4>(self.tf.val().get_bits::<4>(12)) << 2;
        self.t_k.next = self.key[6].q.val();
        self.t_r.next = self.reason[6].q.val();
        self.t_x.next = self.exc[6].q.val();
        self.t_end.next = self.pos[6].q.val() + 4;
        if !self.stop[6].q.val() && self.t_x.val() == 0 && self.v6[6].q.val() {
            if !self.walked[6].q.val()
                && (self.proto[6].q.val() == 0
                    || self.proto[6].q.val() == 43
                    || self.proto[6].q.val() == 60
                    || self.proto[6].q.val() == 51
                    || self.proto[6].q.val() == 44)
            {
                self.t_x.next = self.x_too_many_ext.val();
            } else {
                self.t_k.next = self.t_k.val()
                    | (bit_cast::<512, 8>(self.tos[6].q.val()) << self.k_nw_tos.val())
                    | (bit_cast::<512, 8>(self.ttl[6].q.val()) << self.k_nw_ttl.val())
                    | (bit_cast::<512, 8>(self.proto[6].q.val()) << self.k_nw_proto.val())
                    | (bit_cast::<512, 2>(self.frag[6].q.val()) << self.k_nw_frag.val());
            }
        }
        self.t_go.next = !self.stop[6].q.val() && self.t_x.val() == 0 && self.l4ok[6].q.val();
        if self.t_go.val() {
            if self.proto[6].q.val() == 6 {
                if self.t_av.val() < 20 {
                    self.t_r.next = self.r_truncated_tcp.val();
                } else if self.pos[6].q.val() + 14 > self.w_bytes.val() {
                    self.t_x.next = self.x_past_window.val();
                } else if (self.t_hl.val() < 20) || (self.t_hl.val() > self.t_av.val()) {
                    self.t_r.next = self.r_bad_tcp_off.val();
                } else {
                    self.t_k.next = self.t_k.val()
                        | (bit_cast::<512, 16>(self.t.val().get_bits::<16>(16))
                            << self.k_tp_src.val())
                        | (bit_cast::<512, 16>(self.t.val().get_bits::<16>(0))
                            << self.k_tp_dst.val())
                        | (bit_cast::<512, 16>(self.tf.val() & 0x0fff) << self.k_tcp_flags.val());
                }
            } else if (self.proto[6].q.val() == 17) || (self.proto[6].q.val() == 132) {
                if (self.proto[6].q.val() == 17) && (self.t_av.val() < 8) {
                    self.t_r.next = self.r_truncated_udp.val();
                } else if (self.proto[6].q.val() == 132) && (self.t_av.val() < 12) {
                    self.t_r.next = self.r_truncated_sctp.val();
                } else if self.t_end.val() > self.w_bytes.val() {
                    self.t_x.next = self.x_past_window.val();
                } else {
                    self.t_k.next = self.t_k.val()
                        | (bit_cast::<512, 16>(self.t.val().get_bits::<16>(16))
                            << self.k_tp_src.val())
                        | (bit_cast::<512, 16>(self.t.val().get_bits::<16>(0))
                            << self.k_tp_dst.val());
                }
            } else if (self.proto[6].q.val() == 1) || (self.proto[6].q.val() == 58) {
                if (self.proto[6].q.val() == 1) && (self.t_av.val() < 8) {
                    self.t_r.next = self.r_truncated_icmp.val();
                } else if (self.proto[6].q.val() == 58) && (self.t_av.val() < 8) {
                    self.t_r.next = self.r_truncated_icmpv6.val();
                } else if self.t_end.val() > self.w_bytes.val() + 2 {
                    self.t_x.next = self.x_past_window.val();
                } else if self.v6[6].q.val()
                    && (self.proto[6].q.val() == 58)
                    && (self.t.val().get_bits::<8>(16) == 0)
                    && ((self.t.val().get_bits::<8>(24) == self.nd_ns.val())
                        || (self.t.val().get_bits::<8>(24) == self.nd_na.val()))
                {
                    // abi::parser::is_nd: the key has host-only ND fields.
                    self.t_x.next = self.x_nd.val();
                } else {
                    self.t_k.next = self.t_k.val()
                        | (bit_cast::<512, 8>(self.t.val().get_bits::<8>(24))
                            << self.k_tp_src.val())
                        | (bit_cast::<512, 8>(self.t.val().get_bits::<8>(16))
                            << self.k_tp_dst.val());
                }
            }
        }
        if self.adv.val() {
            self.key[7].d.next = self.t_k.val();
            self.meta.d.next = bit_cast::<64, 16>(self.port[6].q.val())
                | (bit_cast::<64, 32>(self.len[6].q.val()) << self.m_len.val())
                | (bit_cast::<64, 5>(self.t_r.val()) << self.m_reason.val())
                | (bit_cast::<64, 1>(self.badver[6].q.val().into()) << self.m_badver.val())
                | (bit_cast::<64, 2>(self.t_x.val()) << self.m_exc.val());
            if self.t_x.val() != 0 {
                self.key[7].d.next = 0.into();
                self.meta.d.next = bit_cast::<64, 16>(self.port[6].q.val())
                    | (bit_cast::<64, 32>(self.len[6].q.val()) << self.m_len.val())
                    | (bit_cast::<64, 2>(self.t_x.val()) << self.m_exc.val());
            }
        }
        if self.reset.val() {
            for s in 0..8 {
                self.v[s].d.next = false;
            }
            self.c_first.d.next = true;
        }
    }
}

/// The 64-bit parser (simulation, small parts).
pub type Parser64 = FastpathParser<64, 8>;
/// The 512-bit parser (Alveo shells).
pub type Parser512 = FastpathParser<512, 64>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simtools::{key_words, settle, tick};
    use abi::parser::ParseMeta;
    use abi::{Field, FlowKey};

    /// Ethernet + IPv4 + UDP, 64 bytes: every field this test asserts.
    fn udp_frame() -> Vec<u8> {
        let mut f = vec![
            0x50, 0x54, 0, 0, 0, 9, 2, 0, 0x0a, 0x0b, 0x0c, 0x0d, 0x08, 0x00,
        ];
        f.extend_from_slice(&[0x45, 0xb8, 0, 50, 0, 0, 0, 0, 17, 17, 0, 0]);
        f.extend_from_slice(&[10, 0, 0, 2, 192, 168, 1, 1]);
        f.extend_from_slice(&[0x04, 0x00, 0x00, 0x35, 0, 30, 0, 0]);
        f.resize(64, 0);
        f
    }

    /// Sends `frame` in 64-bit beats and returns the key and meta (the
    /// short check; tests/parser_vs_extract.rs compares millions of frames
    /// on the Verilated model).
    fn parse64(frame: &[u8], port: u16) -> (FlowKey, ParseMeta) {
        let mut uut = Parser64::new();
        uut.connect_all();
        uut.vlan_limit.next = 1.into();
        uut.m_ready.next = true;
        uut.reset.next = true;
        settle(&mut uut);
        tick(&mut uut, |u| &mut u.clock);
        uut.reset.next = false;
        for (i, beat) in frame.chunks(8).enumerate() {
            let mut d = 0u64;
            for (j, b) in beat.iter().enumerate() {
                d |= (*b as u64) << (8 * j);
            }
            uut.s_tdata.next = d.into();
            uut.s_tkeep.next = ((1u64 << beat.len()) - 1).into();
            uut.s_tlast.next = (i + 1) * 8 >= frame.len();
            uut.s_tuser.next = (port as u64).into();
            uut.s_tvalid.next = true;
            settle(&mut uut);
            assert!(uut.s_tready.val());
            tick(&mut uut, |u| &mut u.clock);
        }
        uut.s_tvalid.next = false;
        for _ in 0..=LATENCY {
            settle(&mut uut);
            if uut.m_valid.val() {
                let k = FlowKey::from_hw_words(&key_words(uut.m_key.val()));
                let m = ParseMeta::decode(uut.m_meta.val().to_u64()).unwrap();
                return (k, m);
            }
            tick(&mut uut, |u| &mut u.clock);
        }
        panic!("no result within {LATENCY} clocks");
    }

    #[test]
    fn udp_frame_key_and_meta() {
        let (k, m) = parse64(&udp_frame(), 0x1234);
        let want = FlowKey::ZERO
            .with(Field::InPort, 0x1234)
            .with(Field::DlDst, 0x5054_0000_0009)
            .with(Field::DlSrc, 0x0200_0a0b_0c0d)
            .with(Field::DlType, 0x0800)
            .with(Field::NwTos, 0xb8)
            .with(Field::NwTtl, 17)
            .with(Field::NwProto, 17)
            .with(Field::NwSrc, 0x0a00_0002)
            .with(Field::NwDst, 0xc0a8_0101)
            .with(Field::TpSrc, 1024)
            .with(Field::TpDst, 53);
        assert_eq!(k, want);
        assert_eq!(
            (m.in_port, m.frame_len, m.malformed, m.exception),
            (0x1234, 64, None, None)
        );
    }

    #[test]
    fn truncated_udp_is_counted() {
        let mut f = udp_frame();
        // Total length 24: four bytes of UDP header inside the IP packet.
        f[17] = 24;
        let (k, m) = parse64(&f, 1);
        assert_eq!(m.malformed, Some(R::TruncatedUdp));
        assert_eq!((k.get(Field::NwSrc), k.get(Field::TpSrc)), (0x0a00_0002, 0));
    }
}
