// The fastpath pipeline at taxi's MAC-side hooks (Corundum successor,
// src/cndm/board/AS02MC04/fpga/rtl/fpga_core.sv): between each SFP MAC
// (taxi_eth_mac_25g_us) and the cndm core. build.sh instantiates it in a
// copy of fpga_core.sv, where `axis_sfp_rx` / `axis_sfp_tx` /
// `axis_sfp_tx_cpl` stay the MAC's and the cndm core gets the `m_axis_cndm_*`
// / `s_axis_cndm_*` streams of this module instead.
//
//   MAC i RX (64 b, mac_rx_clk[i]) -> frame FIFO (drops when full, drops
//       bad frames) -> clk -> fastpath_nic rx{i}
//   fastpath_nic tx (port i) -> frame FIFO -> mac_tx_clk[i] -> MAC i TX
//   cndm TX i (mac_tx_clk[i]) -> frame FIFO -> clk -> round robin -> strip
//       the 8-byte HostTxMeta header -> htx
//   hrx -> the 16-byte HostRxMeta header before the frame -> cndm RX of the
//       frame's in port (HR_IN_PORT - MAC_PORT_BASE; others to port 0)
//       -> frame FIFO -> mac_rx_clk[i] -> cndm RX i
//
// The header sizes are abi::hostq::QDMA_H2C_HEADER_BYTES and
// QDMA_C2H_HEADER_BYTES, as on the OpenNIC shell (docs/abi.md); at 64 bits
// each header word is one beat. tb/test_taxi_as02mc04.py checks them against
// the abi export. The pipeline runs 64 bits wide in `clk` (taxi's pcie_clk,
// 250 MHz), which is also the clock of taxi's control AXI4-Lite, so the
// 32-bit control needs no crossing: fastpath_axil_32to64 only.
//
// The MAC's TX completions (one per frame, for PTP) are taken and dropped:
// the cndm core gets its completion from here when its frame is taken, with
// a zero timestamp (its frames no longer go straight to a MAC).
`resetall
`timescale 1ns/1ps
`default_nettype none

module fastpath_taxi #(
  // fastpath_nic has two MAC ports; the AS02MC04 has two SFP28 cages.
  parameter int PORTS = 2,
  // Words of 8 bytes per FIFO: 2048 holds a 9216-byte frame (1152 words)
  // with room for the next (abi::action::MAX_PORT_FRAME).
  parameter int LOG2_DEPTH = 11,
  // taxi's tid width on the MAC streams (the TX completion tag).
  parameter int ID_W = 8
) (
  // taxi's pcie_clk / pcie_rst (250 MHz, synchronous active-high reset):
  // the pipeline and its control.
  input  wire logic   clk,
  input  wire logic   rst,
  // Our register file (4 KB, repeating), 32-bit, from taxi's control BAR.
  taxi_axil_if.wr_slv s_axil_wr,
  taxi_axil_if.rd_slv s_axil_rd,

  // MAC side: taxi_eth_mac_25g_us's streams, clocks and resets.
  input  wire logic   mac_rx_clk[PORTS],
  input  wire logic   mac_rx_rst[PORTS],
  taxi_axis_if.snk    s_axis_mac_rx[PORTS],
  input  wire logic   mac_tx_clk[PORTS],
  input  wire logic   mac_tx_rst[PORTS],
  taxi_axis_if.src    m_axis_mac_tx[PORTS],
  taxi_axis_if.snk    s_axis_mac_tx_cpl[PORTS],

  // cndm side, in the same MAC clocks (the core crosses them itself).
  taxi_axis_if.src    m_axis_cndm_rx[PORTS],
  taxi_axis_if.snk    s_axis_cndm_tx[PORTS],
  taxi_axis_if.src    m_axis_cndm_tx_cpl[PORTS],

  // One clock per frame a MAC RX FIFO dropped for want of room (clk domain
  // of that MAC's RX); for a status LED or counter.
  output logic        rx_drop[PORTS]
);
  // HR_IN_PORT (abi::hostq) is bits 31..16 of HostRxMeta word 0; MAC port
  // i is datapath port abi::action::MAC_PORT_BASE (1) + i.
  localparam int MAC_PORT_BASE = 1;

  if (PORTS != 2) begin : g_ports_check
    $error("fastpath_taxi: fastpath_nic has exactly two MAC ports");
  end

  // ---- control: 32-bit AXI4-Lite to the 64-bit register file
  wire [11:0] w_awaddr, w_araddr;
  wire  [2:0] w_awprot, w_arprot;
  wire        w_awvalid, w_awready, w_wvalid, w_wready, w_bvalid, w_bready;
  wire        w_arvalid, w_arready, w_rvalid, w_rready;
  wire [63:0] w_wdata, w_rdata;
  wire  [7:0] w_wstrb;
  wire  [1:0] w_bresp, w_rresp;
  fastpath_axil_32to64 axil_bridge (
    .clock(clk), .reset(rst),
    .s_axil_awaddr(s_axil_wr.awaddr[11:0]), .s_axil_awprot(s_axil_wr.awprot),
    .s_axil_awvalid(s_axil_wr.awvalid), .s_axil_awready(s_axil_wr.awready),
    .s_axil_wdata(s_axil_wr.wdata), .s_axil_wstrb(s_axil_wr.wstrb),
    .s_axil_wvalid(s_axil_wr.wvalid), .s_axil_wready(s_axil_wr.wready),
    .s_axil_bresp(s_axil_wr.bresp), .s_axil_bvalid(s_axil_wr.bvalid),
    .s_axil_bready(s_axil_wr.bready),
    .s_axil_araddr(s_axil_rd.araddr[11:0]), .s_axil_arprot(s_axil_rd.arprot),
    .s_axil_arvalid(s_axil_rd.arvalid), .s_axil_arready(s_axil_rd.arready),
    .s_axil_rdata(s_axil_rd.rdata), .s_axil_rresp(s_axil_rd.rresp),
    .s_axil_rvalid(s_axil_rd.rvalid), .s_axil_rready(s_axil_rd.rready),
    .m_axil_awaddr(w_awaddr), .m_axil_awprot(w_awprot), .m_axil_awvalid(w_awvalid),
    .m_axil_awready(w_awready), .m_axil_wdata(w_wdata), .m_axil_wstrb(w_wstrb),
    .m_axil_wvalid(w_wvalid), .m_axil_wready(w_wready), .m_axil_bresp(w_bresp),
    .m_axil_bvalid(w_bvalid), .m_axil_bready(w_bready), .m_axil_araddr(w_araddr),
    .m_axil_arprot(w_arprot), .m_axil_arvalid(w_arvalid), .m_axil_arready(w_arready),
    .m_axil_rdata(w_rdata), .m_axil_rresp(w_rresp), .m_axil_rvalid(w_rvalid),
    .m_axil_rready(w_rready));
  assign s_axil_wr.buser = '0;
  assign s_axil_rd.ruser = '0;

  // ---- MAC RX -> pipeline
  wire [63:0] rx_tdata [PORTS];
  wire  [7:0] rx_tkeep [PORTS];
  wire        rx_tlast [PORTS], rx_tvalid [PORTS], rx_tready [PORTS];
  // ---- pipeline -> MAC TX (fastpath_nic's shared TX bus, a valid per port)
  wire [63:0] tx_tdata;
  wire  [7:0] tx_tkeep;
  wire        tx_tlast;
  wire  [1:0] tx_tvalid, tx_tready;
  // ---- cndm TX -> pipeline
  wire [63:0] ht_tdata [PORTS];
  wire  [7:0] ht_tkeep [PORTS];
  wire        ht_tlast [PORTS], ht_tvalid [PORTS], ht_tready [PORTS];
  // ---- pipeline -> cndm RX
  wire [63:0] hr_tdata;
  wire  [7:0] hr_tkeep;
  wire        hr_tlast;
  wire        hr_tvalid [PORTS], hr_tready [PORTS];

  for (genvar i = 0; i < PORTS; i++) begin : g_port
    // MAC RX has no tready (taxi's MAC never waits): drop whole frames.
    assign s_axis_mac_rx[i].tready = 1'b1;
    fastpath_taxi_frame_fifo #(.LOG2_DEPTH(LOG2_DEPTH), .DROP_WHEN_FULL(1'b1),
                               .DROP_BAD(1'b1)) rx_fifo (
      .s_clk(mac_rx_clk[i]), .s_rst(mac_rx_rst[i]),
      .s_tdata(s_axis_mac_rx[i].tdata), .s_tkeep(s_axis_mac_rx[i].tkeep),
      .s_tlast(s_axis_mac_rx[i].tlast), .s_tbad(s_axis_mac_rx[i].tuser[0]),
      .s_tvalid(s_axis_mac_rx[i].tvalid), .s_tready(), .s_drop(rx_drop[i]),
      .m_clk(clk), .m_rst(rst),
      .m_tdata(rx_tdata[i]), .m_tkeep(rx_tkeep[i]), .m_tlast(rx_tlast[i]),
      .m_tvalid(rx_tvalid[i]), .m_tready(rx_tready[i]));

    // Pipeline TX to the MAC: whole frames only (the MAC aborts a frame
    // whose beats stop, and the pipeline clock is slower than the MAC's).
    fastpath_taxi_frame_fifo #(.LOG2_DEPTH(LOG2_DEPTH)) tx_fifo (
      .s_clk(clk), .s_rst(rst),
      .s_tdata(tx_tdata), .s_tkeep(tx_tkeep), .s_tlast(tx_tlast), .s_tbad(1'b0),
      .s_tvalid(tx_tvalid[i]), .s_tready(tx_tready[i]), .s_drop(),
      .m_clk(mac_tx_clk[i]), .m_rst(mac_tx_rst[i]),
      .m_tdata(m_axis_mac_tx[i].tdata), .m_tkeep(m_axis_mac_tx[i].tkeep),
      .m_tlast(m_axis_mac_tx[i].tlast), .m_tvalid(m_axis_mac_tx[i].tvalid),
      .m_tready(m_axis_mac_tx[i].tready));
    assign m_axis_mac_tx[i].tstrb = m_axis_mac_tx[i].tkeep;
    assign m_axis_mac_tx[i].tid = '0;     // completion tag, unused here
    assign m_axis_mac_tx[i].tdest = '0;
    assign m_axis_mac_tx[i].tuser = '0;   // tuser[0]: abort frame
    assign s_axis_mac_tx_cpl[i].tready = 1'b1;

    // cndm TX: its frame is taken into the FIFO, and its completion (the
    // frame's tid) answered when the last beat is taken. The core has one
    // frame in flight; the last beat waits while a completion is pending.
    logic       cpl_valid = 1'b0;
    logic [ID_W-1:0] cpl_tid;
    wire        ht_in_ready;
    assign s_axis_cndm_tx[i].tready = ht_in_ready && !(s_axis_cndm_tx[i].tlast && cpl_valid);
    fastpath_taxi_frame_fifo #(.LOG2_DEPTH(LOG2_DEPTH), .DROP_BAD(1'b1)) htx_fifo (
      .s_clk(mac_tx_clk[i]), .s_rst(mac_tx_rst[i]),
      .s_tdata(s_axis_cndm_tx[i].tdata), .s_tkeep(s_axis_cndm_tx[i].tkeep),
      .s_tlast(s_axis_cndm_tx[i].tlast), .s_tbad(s_axis_cndm_tx[i].tuser[0]),
      .s_tvalid(s_axis_cndm_tx[i].tvalid && !(s_axis_cndm_tx[i].tlast && cpl_valid)),
      .s_tready(ht_in_ready), .s_drop(),
      .m_clk(clk), .m_rst(rst),
      .m_tdata(ht_tdata[i]), .m_tkeep(ht_tkeep[i]), .m_tlast(ht_tlast[i]),
      .m_tvalid(ht_tvalid[i]), .m_tready(ht_tready[i]));
    always_ff @(posedge mac_tx_clk[i]) begin
      if (mac_tx_rst[i]) begin
        cpl_valid <= 1'b0;
      end else begin
        if (m_axis_cndm_tx_cpl[i].tready) cpl_valid <= 1'b0;
        if (s_axis_cndm_tx[i].tvalid && s_axis_cndm_tx[i].tready && s_axis_cndm_tx[i].tlast) begin
          cpl_valid <= 1'b1;
          cpl_tid <= s_axis_cndm_tx[i].tid;
        end
      end
    end
    assign m_axis_cndm_tx_cpl[i].tdata = '0;  // PTP timestamp: none
    assign m_axis_cndm_tx_cpl[i].tkeep = '1;
    assign m_axis_cndm_tx_cpl[i].tstrb = '1;
    assign m_axis_cndm_tx_cpl[i].tid = cpl_tid;
    assign m_axis_cndm_tx_cpl[i].tdest = '0;
    assign m_axis_cndm_tx_cpl[i].tuser = '0;
    assign m_axis_cndm_tx_cpl[i].tlast = 1'b1;
    assign m_axis_cndm_tx_cpl[i].tvalid = cpl_valid;

    // Pipeline to cndm RX.
    fastpath_taxi_frame_fifo #(.LOG2_DEPTH(LOG2_DEPTH)) hrx_fifo (
      .s_clk(clk), .s_rst(rst),
      .s_tdata(hr_tdata), .s_tkeep(hr_tkeep), .s_tlast(hr_tlast), .s_tbad(1'b0),
      .s_tvalid(hr_tvalid[i]), .s_tready(hr_tready[i]), .s_drop(),
      .m_clk(mac_rx_clk[i]), .m_rst(mac_rx_rst[i]),
      .m_tdata(m_axis_cndm_rx[i].tdata), .m_tkeep(m_axis_cndm_rx[i].tkeep),
      .m_tlast(m_axis_cndm_rx[i].tlast), .m_tvalid(m_axis_cndm_rx[i].tvalid),
      .m_tready(m_axis_cndm_rx[i].tready));
    assign m_axis_cndm_rx[i].tstrb = m_axis_cndm_rx[i].tkeep;
    assign m_axis_cndm_rx[i].tid = '0;
    assign m_axis_cndm_rx[i].tdest = '0;
    // tuser = {PTP timestamp, bad frame}: the MAC's timestamp does not
    // travel through the pipeline, so the host sees 0.
    assign m_axis_cndm_rx[i].tuser = '0;

    // Fields of taxi's streams this wrapper has no use for.
    wire unused_ok = &{1'b0, s_axis_mac_rx[i].tstrb, s_axis_mac_rx[i].tid,
                       s_axis_mac_rx[i].tdest, s_axis_mac_rx[i].tuser,
                       s_axis_mac_tx_cpl[i].tdata, s_axis_mac_tx_cpl[i].tkeep,
                       s_axis_mac_tx_cpl[i].tstrb, s_axis_mac_tx_cpl[i].tid,
                       s_axis_mac_tx_cpl[i].tdest, s_axis_mac_tx_cpl[i].tuser,
                       s_axis_mac_tx_cpl[i].tlast, s_axis_mac_tx_cpl[i].tvalid,
                       s_axis_cndm_tx[i].tstrb, s_axis_cndm_tx[i].tdest,
                       s_axis_cndm_tx[i].tuser};
  end

  // ---- host TX: round robin over the cndm ports, a whole frame at a time;
  // the first beat of a frame is its HostTxMeta word.
  logic ht_busy = 1'b0, ht_sel = 1'b0, ht_last_sel = 1'b1;
  logic ht_in_body = 1'b0;  // the header beat of this frame was taken
  logic [63:0] htx_meta;
  wire  htx_tready;
  wire  ht_pick = ht_tvalid[0] && ht_tvalid[1] ? !ht_last_sel : ht_tvalid[1];
  wire  a_sel = ht_busy ? ht_sel : ht_pick;
  wire [63:0] a_tdata = a_sel ? ht_tdata[1] : ht_tdata[0];
  wire  [7:0] a_tkeep = a_sel ? ht_tkeep[1] : ht_tkeep[0];
  wire        a_tlast = a_sel ? ht_tlast[1] : ht_tlast[0];
  wire        a_tvalid = a_sel ? ht_tvalid[1] : ht_tvalid[0];
  // A frame that is only a header carries nothing: it is dropped whole.
  wire        a_tready = ht_in_body ? htx_tready : 1'b1;
  assign ht_tready[0] = !a_sel && a_tready;
  assign ht_tready[1] = a_sel && a_tready;
  always_ff @(posedge clk) begin
    if (rst) begin
      ht_busy <= 1'b0;
      ht_in_body <= 1'b0;
      ht_last_sel <= 1'b1;
    end else if (a_tvalid && a_tready) begin
      if (!ht_busy) begin
        ht_busy <= !a_tlast;
        ht_sel <= a_sel;
        ht_last_sel <= a_sel;
      end else if (a_tlast) begin
        ht_busy <= 1'b0;
      end
      if (!ht_in_body) begin
        htx_meta <= a_tdata;
        ht_in_body <= !a_tlast;
      end else if (a_tlast) begin
        ht_in_body <= 1'b0;
      end
    end
  end

  // ---- host RX: two HostRxMeta beats, then the frame, to its port's FIFO
  wire [63:0]  hrx_tdata;
  wire  [7:0]  hrx_tkeep;
  wire         hrx_tlast, hrx_tvalid, hrx_tready;
  wire [127:0] hrx_meta;
  logic  [1:0] hr_lane = 2'd0;  // 0, 1: header words; 2: the frame
  logic        hr_port = 1'b0;
  wire [15:0]  in_port = hrx_meta[31:16];
  wire         meta_port = in_port == 16'(MAC_PORT_BASE + 1);
  wire         hr_dst = hr_lane == 2'd0 ? meta_port : hr_port;
  wire         hr_ready = hr_dst ? hr_tready[1] : hr_tready[0];
  assign hr_tdata = hr_lane == 2'd0 ? hrx_meta[63:0]
                  : hr_lane == 2'd1 ? hrx_meta[127:64] : hrx_tdata;
  assign hr_tkeep = hr_lane == 2'd2 ? hrx_tkeep : 8'hff;
  assign hr_tlast = hr_lane == 2'd2 && hrx_tlast;
  assign hr_tvalid[0] = hrx_tvalid && !hr_dst;
  assign hr_tvalid[1] = hrx_tvalid && hr_dst;
  assign hrx_tready = hr_lane == 2'd2 && hr_ready;
  always_ff @(posedge clk) begin
    if (rst) begin
      hr_lane <= 2'd0;
    end else if (hrx_tvalid && hr_ready) begin
      if (hr_lane == 2'd0) hr_port <= meta_port;
      if (hr_lane != 2'd2) hr_lane <= hr_lane + 2'd1;
      else if (hrx_tlast)  hr_lane <= 2'd0;
    end
  end

  fastpath_nic nic (
    .clock(clk), .reset(rst), .vlan_limit(2'd1),
    .rx0_tdata(rx_tdata[0]), .rx0_tkeep(rx_tkeep[0]), .rx0_tlast(rx_tlast[0]),
    .rx0_tvalid(rx_tvalid[0]), .rx0_tready(rx_tready[0]),
    .rx1_tdata(rx_tdata[1]), .rx1_tkeep(rx_tkeep[1]), .rx1_tlast(rx_tlast[1]),
    .rx1_tvalid(rx_tvalid[1]), .rx1_tready(rx_tready[1]),
    .tx_tdata(tx_tdata), .tx_tkeep(tx_tkeep), .tx_tlast(tx_tlast),
    .tx_tvalid(tx_tvalid), .tx_tready(tx_tready),
    .htx_tdata(a_tdata), .htx_tkeep(a_tkeep), .htx_tlast(a_tlast),
    .htx_meta(htx_meta), .htx_tvalid(a_tvalid && ht_in_body), .htx_tready(htx_tready),
    .hrx_tdata(hrx_tdata), .hrx_tkeep(hrx_tkeep), .hrx_tlast(hrx_tlast),
    .hrx_meta(hrx_meta), .hrx_tvalid(hrx_tvalid), .hrx_tready(hrx_tready),
    .s_axil_awaddr(w_awaddr), .s_axil_awprot(w_awprot), .s_axil_awvalid(w_awvalid),
    .s_axil_awready(w_awready), .s_axil_wdata(w_wdata), .s_axil_wstrb(w_wstrb),
    .s_axil_wvalid(w_wvalid), .s_axil_wready(w_wready), .s_axil_bresp(w_bresp),
    .s_axil_bvalid(w_bvalid), .s_axil_bready(w_bready), .s_axil_araddr(w_araddr),
    .s_axil_arprot(w_arprot), .s_axil_arvalid(w_arvalid), .s_axil_arready(w_arready),
    .s_axil_rdata(w_rdata), .s_axil_rresp(w_rresp), .s_axil_rvalid(w_rvalid),
    .s_axil_rready(w_rready),
    .rx_frames0(), .rx_frames1(), .inject_frames(), .host_tx_frames(), .frames_in(),
    .frames_out(), .drops_full(), .drops_oversize(), .forwarded(), .dropped(),
    .host_marked(), .host_miss(), .host_exception(), .edits_to_host(), .drops_no_port());

  // Address bits past the 4 KB register file (it repeats through the
  // window), and the control user fields.
  wire unused_ctl = &{1'b0, s_axil_wr.awaddr, s_axil_rd.araddr, s_axil_wr.awuser,
                      s_axil_wr.wuser, s_axil_rd.aruser};
endmodule

`resetall
