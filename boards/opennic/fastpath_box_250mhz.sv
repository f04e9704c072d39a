// The fastpath pipeline as an OpenNIC `box_250mhz` user plugin.
//
// The port list is the shell's `box_250mhz` (open-nic-shell
// src/box_250mhz/box_250mhz.sv); `box_250mhz/user_plugin_250mhz_inst.vh`
// instantiates this module inside it. Data path (all on axis_aclk, 250 MHz):
//
//   CMAC i RX (512) -> 512to64 -> fastpath_nic rx{i}
//   fastpath_nic tx (port i) -> 64to512 -> CMAC i TX (tuser_dst = 1 << (6 + i))
//   QDMA H2C (512) -> 512to64 -> strip the 8-byte HostTxMeta header -> htx
//   hrx -> prepend the 16-byte HostRxMeta header -> 64to512 -> QDMA C2H
//
// The header sizes are abi::hostq::QDMA_H2C_HEADER_BYTES (one HOST_TX_META
// word) and QDMA_C2H_HEADER_BYTES (the HOST_RX_META_WORDS words), written
// here as lanes of the 64-bit stream; tb/test_opennic_box.py checks them
// against the abi export. The 32-bit AXI4-Lite (axil_aclk, 125 MHz) crosses
// to axis_aclk in fastpath_axil_cdc and reaches the register file through
// fastpath_axil_32to64. Only QDMA function 0 is served (NUM_PHYS_FUNC *
// NUM_QDMA > 1: the others' H2C is sunk, their C2H idle).
`timescale 1ns/1ps
module fastpath_box_250mhz #(
  parameter int MIN_PKT_LEN   = 64,
  parameter int MAX_PKT_LEN   = 1518,
  parameter int USE_PHYS_FUNC = 1,
  parameter int NUM_PHYS_FUNC = 1,
  parameter int NUM_QDMA      = 1,
  parameter int NUM_CMAC_PORT = 1,
  // Reset length in axil_aclk clocks (the shell's boxes use 100).
  parameter int RESET_CYCLES  = 100
) (
  input                          s_axil_awvalid,
  input                   [31:0] s_axil_awaddr,
  output                         s_axil_awready,
  input                          s_axil_wvalid,
  input                   [31:0] s_axil_wdata,
  output                         s_axil_wready,
  output                         s_axil_bvalid,
  output                   [1:0] s_axil_bresp,
  input                          s_axil_bready,
  input                          s_axil_arvalid,
  input                   [31:0] s_axil_araddr,
  output                         s_axil_arready,
  output                         s_axil_rvalid,
  output                  [31:0] s_axil_rdata,
  output                   [1:0] s_axil_rresp,
  input                          s_axil_rready,

  input      [NUM_PHYS_FUNC*NUM_QDMA-1:0] s_axis_qdma_h2c_tvalid,
  input  [512*NUM_PHYS_FUNC*NUM_QDMA-1:0] s_axis_qdma_h2c_tdata,
  input   [64*NUM_PHYS_FUNC*NUM_QDMA-1:0] s_axis_qdma_h2c_tkeep,
  input      [NUM_PHYS_FUNC*NUM_QDMA-1:0] s_axis_qdma_h2c_tlast,
  input   [16*NUM_PHYS_FUNC*NUM_QDMA-1:0] s_axis_qdma_h2c_tuser_size,
  input   [16*NUM_PHYS_FUNC*NUM_QDMA-1:0] s_axis_qdma_h2c_tuser_src,
  input   [16*NUM_PHYS_FUNC*NUM_QDMA-1:0] s_axis_qdma_h2c_tuser_dst,
  output     [NUM_PHYS_FUNC*NUM_QDMA-1:0] s_axis_qdma_h2c_tready,

  output     [NUM_PHYS_FUNC*NUM_QDMA-1:0] m_axis_qdma_c2h_tvalid,
  output [512*NUM_PHYS_FUNC*NUM_QDMA-1:0] m_axis_qdma_c2h_tdata,
  output  [64*NUM_PHYS_FUNC*NUM_QDMA-1:0] m_axis_qdma_c2h_tkeep,
  output     [NUM_PHYS_FUNC*NUM_QDMA-1:0] m_axis_qdma_c2h_tlast,
  output  [16*NUM_PHYS_FUNC*NUM_QDMA-1:0] m_axis_qdma_c2h_tuser_size,
  output  [16*NUM_PHYS_FUNC*NUM_QDMA-1:0] m_axis_qdma_c2h_tuser_src,
  output  [16*NUM_PHYS_FUNC*NUM_QDMA-1:0] m_axis_qdma_c2h_tuser_dst,
  input      [NUM_PHYS_FUNC*NUM_QDMA-1:0] m_axis_qdma_c2h_tready,

  output     [NUM_CMAC_PORT-1:0] m_axis_adap_tx_250mhz_tvalid,
  output [512*NUM_CMAC_PORT-1:0] m_axis_adap_tx_250mhz_tdata,
  output  [64*NUM_CMAC_PORT-1:0] m_axis_adap_tx_250mhz_tkeep,
  output     [NUM_CMAC_PORT-1:0] m_axis_adap_tx_250mhz_tlast,
  output  [16*NUM_CMAC_PORT-1:0] m_axis_adap_tx_250mhz_tuser_size,
  output  [16*NUM_CMAC_PORT-1:0] m_axis_adap_tx_250mhz_tuser_src,
  output  [16*NUM_CMAC_PORT-1:0] m_axis_adap_tx_250mhz_tuser_dst,
  input      [NUM_CMAC_PORT-1:0] m_axis_adap_tx_250mhz_tready,

  input      [NUM_CMAC_PORT-1:0] s_axis_adap_rx_250mhz_tvalid,
  input  [512*NUM_CMAC_PORT-1:0] s_axis_adap_rx_250mhz_tdata,
  input   [64*NUM_CMAC_PORT-1:0] s_axis_adap_rx_250mhz_tkeep,
  input      [NUM_CMAC_PORT-1:0] s_axis_adap_rx_250mhz_tlast,
  input   [16*NUM_CMAC_PORT-1:0] s_axis_adap_rx_250mhz_tuser_size,
  input   [16*NUM_CMAC_PORT-1:0] s_axis_adap_rx_250mhz_tuser_src,
  input   [16*NUM_CMAC_PORT-1:0] s_axis_adap_rx_250mhz_tuser_dst,
  output     [NUM_CMAC_PORT-1:0] s_axis_adap_rx_250mhz_tready,

  input                   [15:0] mod_rstn,
  output                  [15:0] mod_rst_done,

  input                          box_rstn,
  output                         box_rst_done,

  input                          axil_aclk,

`ifdef __au55n__
  input                          ref_clk_100mhz,
`elsif __au55c__
  input                          ref_clk_100mhz,
`elsif __au50__
  input                          ref_clk_100mhz,
`elsif __au280__
  input                          ref_clk_100mhz,
`endif
  input                          axis_aclk
);
  localparam int NQ = NUM_PHYS_FUNC * NUM_QDMA;
  localparam int CMAC_DST_BASE = 6;  // the shell's tuser_dst bit of CMAC 0

  // ---- resets: the box pair and user pair 0, each with its own handshake
  wire box_busy, mod_busy, rst_axil, rst_axis;
  fastpath_reset_handshake #(.CYCLES(RESET_CYCLES)) box_reset (
    .clk(axil_aclk), .rstn(box_rstn), .done(box_rst_done), .busy(box_busy));
  fastpath_reset_handshake #(.CYCLES(RESET_CYCLES)) mod_reset (
    .clk(axil_aclk), .rstn(mod_rstn[0]), .done(mod_rst_done[0]), .busy(mod_busy));
  // Unused user reset pairs report done, as the shell asks.
  assign mod_rst_done[15:1] = {15{1'b1}};
  // The shell's packet limits and USE_PHYS_FUNC are not needed here.
  localparam int UNUSED_PARAMS = MIN_PKT_LEN + MAX_PKT_LEN + USE_PHYS_FUNC;
  wire unused_ok = &{1'b0, UNUSED_PARAMS[0], mod_rstn[15:1], s_axis_adap_rx_250mhz_tuser_size,
                     s_axis_adap_rx_250mhz_tuser_src, s_axis_adap_rx_250mhz_tuser_dst,
                     s_axis_qdma_h2c_tuser_size, s_axis_qdma_h2c_tuser_src,
                     s_axis_qdma_h2c_tuser_dst};
  assign rst_axil = box_busy | mod_busy;
  fastpath_sync rst_sync (.clk(axis_aclk), .d(rst_axil), .q(rst_axis));

  // ---- control: 32-bit AXI4-Lite across the clocks, then to 64 bits
  wire [11:0] c_awaddr, c_araddr;
  wire        c_awvalid, c_awready, c_wvalid, c_wready, c_bvalid, c_bready;
  wire        c_arvalid, c_arready, c_rvalid, c_rready;
  wire [31:0] c_wdata, c_rdata;
  wire  [1:0] c_bresp, c_rresp;
  fastpath_axil_cdc #(.ADDR_W(12)) axil_cdc (
    .s_clk(axil_aclk), .s_rst(rst_axil),
    .s_awvalid(s_axil_awvalid), .s_awaddr(s_axil_awaddr), .s_awready(s_axil_awready),
    .s_wvalid(s_axil_wvalid), .s_wdata(s_axil_wdata), .s_wready(s_axil_wready),
    .s_bvalid(s_axil_bvalid), .s_bresp(s_axil_bresp), .s_bready(s_axil_bready),
    .s_arvalid(s_axil_arvalid), .s_araddr(s_axil_araddr), .s_arready(s_axil_arready),
    .s_rvalid(s_axil_rvalid), .s_rdata(s_axil_rdata), .s_rresp(s_axil_rresp),
    .s_rready(s_axil_rready),
    .m_clk(axis_aclk), .m_rst(rst_axis),
    .m_awvalid(c_awvalid), .m_awaddr(c_awaddr), .m_awready(c_awready),
    .m_wvalid(c_wvalid), .m_wdata(c_wdata), .m_wready(c_wready),
    .m_bvalid(c_bvalid), .m_bresp(c_bresp), .m_bready(c_bready),
    .m_arvalid(c_arvalid), .m_araddr(c_araddr), .m_arready(c_arready),
    .m_rvalid(c_rvalid), .m_rdata(c_rdata), .m_rresp(c_rresp), .m_rready(c_rready));

  wire [11:0] w_awaddr, w_araddr;
  wire  [2:0] w_awprot, w_arprot;
  wire        w_awvalid, w_awready, w_wvalid, w_wready, w_bvalid, w_bready;
  wire        w_arvalid, w_arready, w_rvalid, w_rready;
  wire [63:0] w_wdata, w_rdata;
  wire  [7:0] w_wstrb;
  wire  [1:0] w_bresp, w_rresp;
  fastpath_axil_32to64 axil_bridge (
    .clock(axis_aclk), .reset(rst_axis),
    .s_axil_awaddr(c_awaddr), .s_axil_awprot(3'b000), .s_axil_awvalid(c_awvalid),
    .s_axil_awready(c_awready), .s_axil_wdata(c_wdata), .s_axil_wstrb(4'hf),
    .s_axil_wvalid(c_wvalid), .s_axil_wready(c_wready), .s_axil_bresp(c_bresp),
    .s_axil_bvalid(c_bvalid), .s_axil_bready(c_bready), .s_axil_araddr(c_araddr),
    .s_axil_arprot(3'b000), .s_axil_arvalid(c_arvalid), .s_axil_arready(c_arready),
    .s_axil_rdata(c_rdata), .s_axil_rresp(c_rresp), .s_axil_rvalid(c_rvalid),
    .s_axil_rready(c_rready),
    .m_axil_awaddr(w_awaddr), .m_axil_awprot(w_awprot), .m_axil_awvalid(w_awvalid),
    .m_axil_awready(w_awready), .m_axil_wdata(w_wdata), .m_axil_wstrb(w_wstrb),
    .m_axil_wvalid(w_wvalid), .m_axil_wready(w_wready), .m_axil_bresp(w_bresp),
    .m_axil_bvalid(w_bvalid), .m_axil_bready(w_bready), .m_axil_araddr(w_araddr),
    .m_axil_arprot(w_arprot), .m_axil_arvalid(w_arvalid), .m_axil_arready(w_arready),
    .m_axil_rdata(w_rdata), .m_axil_rresp(w_rresp), .m_axil_rvalid(w_rvalid),
    .m_axil_rready(w_rready));

  // ---- MAC RX: each CMAC's 512-bit stream into a 64-bit NIC port
  wire [63:0] rx_tdata [2];
  wire  [7:0] rx_tkeep [2];
  wire  [1:0] rx_tlast, rx_tvalid, rx_tready;
  for (genvar i = 0; i < 2; i++) begin : g_rx
    if (i < NUM_CMAC_PORT) begin : g_port
      fastpath_axis_512to64 down (
        .clock(axis_aclk), .reset(rst_axis),
        .s_tdata(s_axis_adap_rx_250mhz_tdata[512*i +: 512]),
        .s_tkeep(s_axis_adap_rx_250mhz_tkeep[64*i +: 64]),
        .s_tlast(s_axis_adap_rx_250mhz_tlast[i]),
        .s_tvalid(s_axis_adap_rx_250mhz_tvalid[i]),
        .s_tready(s_axis_adap_rx_250mhz_tready[i]),
        .m_tdata(rx_tdata[i]), .m_tkeep(rx_tkeep[i]), .m_tlast(rx_tlast[i]),
        .m_tvalid(rx_tvalid[i]), .m_tready(rx_tready[i]));
    end else begin : g_none
      assign rx_tdata[i] = 64'd0;
      assign rx_tkeep[i] = 8'd0;
      assign rx_tlast[i] = 1'b0;
      assign rx_tvalid[i] = 1'b0;
    end
  end

  // ---- MAC TX: the NIC's shared TX bus, one converter per CMAC
  wire [63:0] tx_tdata;
  wire  [7:0] tx_tkeep;
  wire        tx_tlast;
  wire  [1:0] tx_tvalid, tx_tready;
  for (genvar i = 0; i < 2; i++) begin : g_tx
    if (i < NUM_CMAC_PORT) begin : g_port
      fastpath_axis_64to512 up (
        .clock(axis_aclk), .reset(rst_axis),
        .s_tdata(tx_tdata), .s_tkeep(tx_tkeep), .s_tlast(tx_tlast), .s_tuser(16'd0),
        .s_tvalid(tx_tvalid[i]), .s_tready(tx_tready[i]),
        .m_tdata(m_axis_adap_tx_250mhz_tdata[512*i +: 512]),
        .m_tkeep(m_axis_adap_tx_250mhz_tkeep[64*i +: 64]),
        .m_tlast(m_axis_adap_tx_250mhz_tlast[i]),
        .m_tuser(),
        .m_tbytes(m_axis_adap_tx_250mhz_tuser_size[16*i +: 16]),
        .m_tvalid(m_axis_adap_tx_250mhz_tvalid[i]),
        .m_tready(m_axis_adap_tx_250mhz_tready[i]));
      assign m_axis_adap_tx_250mhz_tuser_src[16*i +: 16] = 16'd0;
      assign m_axis_adap_tx_250mhz_tuser_dst[16*i +: 16] = 16'h1 << (CMAC_DST_BASE + i);
    end else begin : g_none
      // A frame for a port the shell does not build is taken and lost.
      assign tx_tready[i] = 1'b1;
    end
  end

  // ---- host TX: QDMA H2C function 0, its first lane is the HostTxMeta word
  wire [63:0] h2c_tdata;
  wire  [7:0] h2c_tkeep;
  wire        h2c_tlast, h2c_tvalid, h2c_tready;
  fastpath_axis_512to64 h2c_down (
    .clock(axis_aclk), .reset(rst_axis),
    .s_tdata(s_axis_qdma_h2c_tdata[511:0]), .s_tkeep(s_axis_qdma_h2c_tkeep[63:0]),
    .s_tlast(s_axis_qdma_h2c_tlast[0]), .s_tvalid(s_axis_qdma_h2c_tvalid[0]),
    .s_tready(s_axis_qdma_h2c_tready[0]),
    .m_tdata(h2c_tdata), .m_tkeep(h2c_tkeep), .m_tlast(h2c_tlast),
    .m_tvalid(h2c_tvalid), .m_tready(h2c_tready));
  reg        h2c_in_body;  // the header lane of this frame was taken
  reg [63:0] htx_meta;
  wire       htx_tready;
  // A frame that is only a header carries nothing: it is dropped whole.
  assign h2c_tready = h2c_in_body ? htx_tready : 1'b1;
  always @(posedge axis_aclk) begin
    if (rst_axis) begin
      h2c_in_body <= 1'b0;
    end else if (h2c_tvalid && h2c_tready) begin
      if (!h2c_in_body) begin
        htx_meta    <= h2c_tdata;
        h2c_in_body <= !h2c_tlast;
      end else if (h2c_tlast) begin
        h2c_in_body <= 1'b0;
      end
    end
  end

  // ---- host RX: HostRxMeta words as two lanes before the frame, to C2H 0
  wire [63:0]  hrx_tdata;
  wire  [7:0]  hrx_tkeep;
  wire         hrx_tlast, hrx_tvalid, hrx_tready;
  wire [127:0] hrx_meta;
  reg    [1:0] c2h_lane;  // 0, 1: header words; 2: the frame
  wire         c2h_ready;
  wire  [63:0] c2h_data = c2h_lane == 2'd0 ? hrx_meta[63:0]
                        : c2h_lane == 2'd1 ? hrx_meta[127:64] : hrx_tdata;
  // HR_FRAME_LEN (abi::hostq) is bits 47..32 of the first meta word.
  wire  [15:0] c2h_size = hrx_meta[47:32] + 16'd16;
  assign hrx_tready = c2h_lane == 2'd2 && c2h_ready;
  always @(posedge axis_aclk) begin
    if (rst_axis) begin
      c2h_lane <= 2'd0;
    end else if (hrx_tvalid && c2h_ready) begin
      if (c2h_lane != 2'd2) c2h_lane <= c2h_lane + 2'd1;
      else if (hrx_tlast)   c2h_lane <= 2'd0;
    end
  end
  fastpath_axis_64to512 c2h_up (
    .clock(axis_aclk), .reset(rst_axis),
    .s_tdata(c2h_data), .s_tkeep(c2h_lane == 2'd2 ? hrx_tkeep : 8'hff),
    .s_tlast(c2h_lane == 2'd2 && hrx_tlast), .s_tuser(c2h_size),
    .s_tvalid(hrx_tvalid), .s_tready(c2h_ready),
    .m_tdata(m_axis_qdma_c2h_tdata[511:0]), .m_tkeep(m_axis_qdma_c2h_tkeep[63:0]),
    .m_tlast(m_axis_qdma_c2h_tlast[0]), .m_tuser(m_axis_qdma_c2h_tuser_size[15:0]),
    .m_tbytes(), .m_tvalid(m_axis_qdma_c2h_tvalid[0]),
    .m_tready(m_axis_qdma_c2h_tready[0]));
  assign m_axis_qdma_c2h_tuser_src[15:0] = 16'd0;
  assign m_axis_qdma_c2h_tuser_dst[15:0] = 16'h1;  // physical function 0
  // With one CMAC port, port 1's ready and valid go nowhere.
  wire unused_port1 = &{1'b0, rx_tready[1], tx_tvalid[1]};

  for (genvar q = 1; q < NQ; q++) begin : g_qdma_unused
    assign s_axis_qdma_h2c_tready[q]               = 1'b1;
    assign m_axis_qdma_c2h_tvalid[q]               = 1'b0;
    assign m_axis_qdma_c2h_tdata[512*q +: 512]     = 512'd0;
    assign m_axis_qdma_c2h_tkeep[64*q +: 64]       = 64'd0;
    assign m_axis_qdma_c2h_tlast[q]                = 1'b0;
    assign m_axis_qdma_c2h_tuser_size[16*q +: 16]  = 16'd0;
    assign m_axis_qdma_c2h_tuser_src[16*q +: 16]   = 16'd0;
    assign m_axis_qdma_c2h_tuser_dst[16*q +: 16]   = 16'd0;
  end

  fastpath_nic nic (
    .clock(axis_aclk), .reset(rst_axis), .vlan_limit(2'd1),
    .rx0_tdata(rx_tdata[0]), .rx0_tkeep(rx_tkeep[0]), .rx0_tlast(rx_tlast[0]),
    .rx0_tvalid(rx_tvalid[0]), .rx0_tready(rx_tready[0]),
    .rx1_tdata(rx_tdata[1]), .rx1_tkeep(rx_tkeep[1]), .rx1_tlast(rx_tlast[1]),
    .rx1_tvalid(rx_tvalid[1]), .rx1_tready(rx_tready[1]),
    .tx_tdata(tx_tdata), .tx_tkeep(tx_tkeep), .tx_tlast(tx_tlast),
    .tx_tvalid(tx_tvalid), .tx_tready(tx_tready),
    .htx_tdata(h2c_tdata), .htx_tkeep(h2c_tkeep), .htx_tlast(h2c_tlast),
    .htx_meta(htx_meta), .htx_tvalid(h2c_tvalid && h2c_in_body), .htx_tready(htx_tready),
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
endmodule
