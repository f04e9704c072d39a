// Bench and lint top of the taxi wrapper: the AS02MC04 fpga_core's
// streams around fastpath_taxi, with taxi's parameters (MAC_DATA_W = 64,
// PTP_TS_W = 48, ID_W = 8, AXIL_CTRL_ADDR_W = 24), as flat ports a cocotb
// bench can drive. Verilator takes no interface ports on its top module.
// The control BAR goes through fastpath_taxi_axil_split as build.sh wires
// it in the cndm core: bit 23 clear reaches a stand-in for the cndm core's
// registers (every read returns 32'hC0DE0000 | addr[15:0]), set reaches ours.
// The two ports are written out alike; change both together.
`resetall
`timescale 1ns/1ps
`default_nettype none

module fastpath_taxi_harness (
  input  wire        clk,
  input  wire        rst,
  input  wire [23:0] s_axil_awaddr,
  input  wire  [2:0] s_axil_awprot,
  input  wire        s_axil_awvalid,
  output wire        s_axil_awready,
  input  wire [31:0] s_axil_wdata,
  input  wire  [3:0] s_axil_wstrb,
  input  wire        s_axil_wvalid,
  output wire        s_axil_wready,
  output wire  [1:0] s_axil_bresp,
  output wire        s_axil_bvalid,
  input  wire        s_axil_bready,
  input  wire [23:0] s_axil_araddr,
  input  wire  [2:0] s_axil_arprot,
  input  wire        s_axil_arvalid,
  output wire        s_axil_arready,
  output wire [31:0] s_axil_rdata,
  output wire  [1:0] s_axil_rresp,
  output wire        s_axil_rvalid,
  input  wire        s_axil_rready,
  input  wire        mac0_rx_clk, mac0_rx_rst, mac0_tx_clk, mac0_tx_rst,
  // MAC 0 RX (taxi_eth_mac_25g_us m_axis_rx: no tready; tuser = {ts, bad})
  input  wire [63:0] mac0_rx_tdata,
  input  wire  [7:0] mac0_rx_tkeep,
  input  wire        mac0_rx_tlast, mac0_rx_tvalid,
  input  wire [48:0] mac0_rx_tuser,
  // MAC 0 TX (s_axis_tx) and its completions
  output wire [63:0] mac0_tx_tdata,
  output wire  [7:0] mac0_tx_tkeep,
  output wire        mac0_tx_tlast, mac0_tx_tvalid,
  output wire        mac0_tx_tuser,
  input  wire        mac0_tx_tready,
  input  wire        mac0_tx_cpl_tvalid,
  // cndm RX 0 (cndm_micro_pcie_us mac_axis_rx)
  output wire [63:0] cndm0_rx_tdata,
  output wire  [7:0] cndm0_rx_tkeep,
  output wire        cndm0_rx_tlast, cndm0_rx_tvalid,
  output wire [48:0] cndm0_rx_tuser,
  input  wire        cndm0_rx_tready,
  // cndm TX 0 (mac_axis_tx) and the completions it waits for
  input  wire [63:0] cndm0_tx_tdata,
  input  wire  [7:0] cndm0_tx_tkeep,
  input  wire        cndm0_tx_tlast, cndm0_tx_tvalid,
  input  wire  [7:0] cndm0_tx_tid,
  input  wire        cndm0_tx_tuser,
  output wire        cndm0_tx_tready,
  output wire        cndm0_tx_cpl_tvalid,
  output wire  [7:0] cndm0_tx_cpl_tid,
  output wire [47:0] cndm0_tx_cpl_tdata,
  input  wire        cndm0_tx_cpl_tready,
  output wire        rx_drop0,
  input  wire        mac1_rx_clk, mac1_rx_rst, mac1_tx_clk, mac1_tx_rst,
  // MAC 1 RX (taxi_eth_mac_25g_us m_axis_rx: no tready; tuser = {ts, bad})
  input  wire [63:0] mac1_rx_tdata,
  input  wire  [7:0] mac1_rx_tkeep,
  input  wire        mac1_rx_tlast, mac1_rx_tvalid,
  input  wire [48:0] mac1_rx_tuser,
  // MAC 1 TX (s_axis_tx) and its completions
  output wire [63:0] mac1_tx_tdata,
  output wire  [7:0] mac1_tx_tkeep,
  output wire        mac1_tx_tlast, mac1_tx_tvalid,
  output wire        mac1_tx_tuser,
  input  wire        mac1_tx_tready,
  input  wire        mac1_tx_cpl_tvalid,
  // cndm RX 1 (cndm_micro_pcie_us mac_axis_rx)
  output wire [63:0] cndm1_rx_tdata,
  output wire  [7:0] cndm1_rx_tkeep,
  output wire        cndm1_rx_tlast, cndm1_rx_tvalid,
  output wire [48:0] cndm1_rx_tuser,
  input  wire        cndm1_rx_tready,
  // cndm TX 1 (mac_axis_tx) and the completions it waits for
  input  wire [63:0] cndm1_tx_tdata,
  input  wire  [7:0] cndm1_tx_tkeep,
  input  wire        cndm1_tx_tlast, cndm1_tx_tvalid,
  input  wire  [7:0] cndm1_tx_tid,
  input  wire        cndm1_tx_tuser,
  output wire        cndm1_tx_tready,
  output wire        cndm1_tx_cpl_tvalid,
  output wire  [7:0] cndm1_tx_cpl_tid,
  output wire [47:0] cndm1_tx_cpl_tdata,
  input  wire        cndm1_tx_cpl_tready,
  output wire        rx_drop1
);
  localparam PTP_TS_W = 48;
  taxi_axis_if #(.DATA_W(64), .ID_W(8), .USER_EN(1), .USER_W(1)) axis_sfp_tx[2](), axis_cndm_tx[2]();
  taxi_axis_if #(.DATA_W(PTP_TS_W), .KEEP_W(1), .ID_W(8)) axis_sfp_tx_cpl[2](), axis_cndm_tx_cpl[2]();
  taxi_axis_if #(.DATA_W(64), .ID_W(8), .USER_EN(1), .USER_W(1+PTP_TS_W)) axis_sfp_rx[2](), axis_cndm_rx[2]();
  taxi_axil_if #(.DATA_W(32), .ADDR_W(24)) axil_ctrl_bar(), axil_core(), axil_fastpath();
  wire mac_rx_clk[2], mac_rx_rst[2], mac_tx_clk[2], mac_tx_rst[2];
  wire rx_drop[2];

  assign axil_ctrl_bar.awaddr = s_axil_awaddr;
  assign axil_ctrl_bar.awprot = s_axil_awprot;
  assign axil_ctrl_bar.awuser = '0;
  assign axil_ctrl_bar.awvalid = s_axil_awvalid;
  assign s_axil_awready = axil_ctrl_bar.awready;
  assign axil_ctrl_bar.wdata = s_axil_wdata;
  assign axil_ctrl_bar.wstrb = s_axil_wstrb;
  assign axil_ctrl_bar.wuser = '0;
  assign axil_ctrl_bar.wvalid = s_axil_wvalid;
  assign s_axil_wready = axil_ctrl_bar.wready;
  assign s_axil_bresp = axil_ctrl_bar.bresp;
  assign s_axil_bvalid = axil_ctrl_bar.bvalid;
  assign axil_ctrl_bar.bready = s_axil_bready;
  assign axil_ctrl_bar.araddr = s_axil_araddr;
  assign axil_ctrl_bar.arprot = s_axil_arprot;
  assign axil_ctrl_bar.aruser = '0;
  assign axil_ctrl_bar.arvalid = s_axil_arvalid;
  assign s_axil_arready = axil_ctrl_bar.arready;
  assign s_axil_rdata = axil_ctrl_bar.rdata;
  assign s_axil_rresp = axil_ctrl_bar.rresp;
  assign s_axil_rvalid = axil_ctrl_bar.rvalid;
  assign axil_ctrl_bar.rready = s_axil_rready;

  fastpath_taxi_axil_split axil_split (
    .clk(clk), .rst(rst),
    .s_axil_wr(axil_ctrl_bar), .s_axil_rd(axil_ctrl_bar),
    .m0_axil_wr(axil_core), .m0_axil_rd(axil_core),
    .m1_axil_wr(axil_fastpath), .m1_axil_rd(axil_fastpath));

  // The cndm core's registers, as far as the split can tell.
  logic core_b = 1'b0, core_r = 1'b0;
  logic [31:0] core_rdata = '0;
  assign axil_core.awready = axil_core.awvalid && axil_core.wvalid && !core_b;
  assign axil_core.wready = axil_core.awready;
  assign axil_core.bvalid = core_b;
  assign axil_core.bresp = 2'b00;
  assign axil_core.buser = '0;
  assign axil_core.arready = !core_r;
  assign axil_core.rvalid = core_r;
  assign axil_core.rdata = core_rdata;
  assign axil_core.rresp = 2'b00;
  assign axil_core.ruser = '0;
  always_ff @(posedge clk) begin
    if (axil_core.awready) core_b <= 1'b1;
    else if (axil_core.bready) core_b <= 1'b0;
    if (axil_core.arvalid && !core_r) begin
      core_r <= 1'b1;
      core_rdata <= 32'hC0DE0000 | 32'(axil_core.araddr[15:0]);
    end else if (axil_core.rready) core_r <= 1'b0;
    if (rst) begin core_b <= 1'b0; core_r <= 1'b0; end
  end
  wire unused_core = &{1'b0, axil_core.awaddr, axil_core.awprot, axil_core.awuser,
                       axil_core.wdata, axil_core.wstrb, axil_core.wuser, axil_core.araddr[23:16],
                       axil_core.arprot, axil_core.aruser};

  assign mac_rx_clk[0] = mac0_rx_clk;
  assign mac_rx_rst[0] = mac0_rx_rst;
  assign mac_tx_clk[0] = mac0_tx_clk;
  assign mac_tx_rst[0] = mac0_tx_rst;
  assign axis_sfp_rx[0].tdata = mac0_rx_tdata;
  assign axis_sfp_rx[0].tkeep = mac0_rx_tkeep;
  assign axis_sfp_rx[0].tstrb = mac0_rx_tkeep;
  assign axis_sfp_rx[0].tlast = mac0_rx_tlast;
  assign axis_sfp_rx[0].tvalid = mac0_rx_tvalid;
  assign axis_sfp_rx[0].tuser = mac0_rx_tuser;
  assign axis_sfp_rx[0].tid = '0;
  assign axis_sfp_rx[0].tdest = '0;
  assign mac0_tx_tdata = axis_sfp_tx[0].tdata;
  assign mac0_tx_tkeep = axis_sfp_tx[0].tkeep;
  assign mac0_tx_tlast = axis_sfp_tx[0].tlast;
  assign mac0_tx_tvalid = axis_sfp_tx[0].tvalid;
  assign mac0_tx_tuser = axis_sfp_tx[0].tuser[0];
  assign axis_sfp_tx[0].tready = mac0_tx_tready;
  assign axis_sfp_tx_cpl[0].tdata = '0;
  assign axis_sfp_tx_cpl[0].tkeep = '1;
  assign axis_sfp_tx_cpl[0].tstrb = '1;
  assign axis_sfp_tx_cpl[0].tid = '0;
  assign axis_sfp_tx_cpl[0].tdest = '0;
  assign axis_sfp_tx_cpl[0].tuser = '0;
  assign axis_sfp_tx_cpl[0].tlast = 1'b1;
  assign axis_sfp_tx_cpl[0].tvalid = mac0_tx_cpl_tvalid;
  assign cndm0_rx_tdata = axis_cndm_rx[0].tdata;
  assign cndm0_rx_tkeep = axis_cndm_rx[0].tkeep;
  assign cndm0_rx_tlast = axis_cndm_rx[0].tlast;
  assign cndm0_rx_tvalid = axis_cndm_rx[0].tvalid;
  assign cndm0_rx_tuser = axis_cndm_rx[0].tuser;
  assign axis_cndm_rx[0].tready = cndm0_rx_tready;
  assign axis_cndm_tx[0].tdata = cndm0_tx_tdata;
  assign axis_cndm_tx[0].tkeep = cndm0_tx_tkeep;
  assign axis_cndm_tx[0].tstrb = cndm0_tx_tkeep;
  assign axis_cndm_tx[0].tlast = cndm0_tx_tlast;
  assign axis_cndm_tx[0].tvalid = cndm0_tx_tvalid;
  assign axis_cndm_tx[0].tid = cndm0_tx_tid;
  assign axis_cndm_tx[0].tdest = '0;
  assign axis_cndm_tx[0].tuser = cndm0_tx_tuser;
  assign cndm0_tx_tready = axis_cndm_tx[0].tready;
  assign cndm0_tx_cpl_tvalid = axis_cndm_tx_cpl[0].tvalid;
  assign cndm0_tx_cpl_tid = axis_cndm_tx_cpl[0].tid;
  assign cndm0_tx_cpl_tdata = axis_cndm_tx_cpl[0].tdata;
  assign axis_cndm_tx_cpl[0].tready = cndm0_tx_cpl_tready;
  assign rx_drop0 = rx_drop[0];

  assign mac_rx_clk[1] = mac1_rx_clk;
  assign mac_rx_rst[1] = mac1_rx_rst;
  assign mac_tx_clk[1] = mac1_tx_clk;
  assign mac_tx_rst[1] = mac1_tx_rst;
  assign axis_sfp_rx[1].tdata = mac1_rx_tdata;
  assign axis_sfp_rx[1].tkeep = mac1_rx_tkeep;
  assign axis_sfp_rx[1].tstrb = mac1_rx_tkeep;
  assign axis_sfp_rx[1].tlast = mac1_rx_tlast;
  assign axis_sfp_rx[1].tvalid = mac1_rx_tvalid;
  assign axis_sfp_rx[1].tuser = mac1_rx_tuser;
  assign axis_sfp_rx[1].tid = '0;
  assign axis_sfp_rx[1].tdest = '0;
  assign mac1_tx_tdata = axis_sfp_tx[1].tdata;
  assign mac1_tx_tkeep = axis_sfp_tx[1].tkeep;
  assign mac1_tx_tlast = axis_sfp_tx[1].tlast;
  assign mac1_tx_tvalid = axis_sfp_tx[1].tvalid;
  assign mac1_tx_tuser = axis_sfp_tx[1].tuser[0];
  assign axis_sfp_tx[1].tready = mac1_tx_tready;
  assign axis_sfp_tx_cpl[1].tdata = '0;
  assign axis_sfp_tx_cpl[1].tkeep = '1;
  assign axis_sfp_tx_cpl[1].tstrb = '1;
  assign axis_sfp_tx_cpl[1].tid = '0;
  assign axis_sfp_tx_cpl[1].tdest = '0;
  assign axis_sfp_tx_cpl[1].tuser = '0;
  assign axis_sfp_tx_cpl[1].tlast = 1'b1;
  assign axis_sfp_tx_cpl[1].tvalid = mac1_tx_cpl_tvalid;
  assign cndm1_rx_tdata = axis_cndm_rx[1].tdata;
  assign cndm1_rx_tkeep = axis_cndm_rx[1].tkeep;
  assign cndm1_rx_tlast = axis_cndm_rx[1].tlast;
  assign cndm1_rx_tvalid = axis_cndm_rx[1].tvalid;
  assign cndm1_rx_tuser = axis_cndm_rx[1].tuser;
  assign axis_cndm_rx[1].tready = cndm1_rx_tready;
  assign axis_cndm_tx[1].tdata = cndm1_tx_tdata;
  assign axis_cndm_tx[1].tkeep = cndm1_tx_tkeep;
  assign axis_cndm_tx[1].tstrb = cndm1_tx_tkeep;
  assign axis_cndm_tx[1].tlast = cndm1_tx_tlast;
  assign axis_cndm_tx[1].tvalid = cndm1_tx_tvalid;
  assign axis_cndm_tx[1].tid = cndm1_tx_tid;
  assign axis_cndm_tx[1].tdest = '0;
  assign axis_cndm_tx[1].tuser = cndm1_tx_tuser;
  assign cndm1_tx_tready = axis_cndm_tx[1].tready;
  assign cndm1_tx_cpl_tvalid = axis_cndm_tx_cpl[1].tvalid;
  assign cndm1_tx_cpl_tid = axis_cndm_tx_cpl[1].tid;
  assign cndm1_tx_cpl_tdata = axis_cndm_tx_cpl[1].tdata;
  assign axis_cndm_tx_cpl[1].tready = cndm1_tx_cpl_tready;
  assign rx_drop1 = rx_drop[1];

  fastpath_taxi dut (
    .clk(clk), .rst(rst),
    .s_axil_wr(axil_fastpath), .s_axil_rd(axil_fastpath),
    .mac_rx_clk(mac_rx_clk), .mac_rx_rst(mac_rx_rst), .s_axis_mac_rx(axis_sfp_rx),
    .mac_tx_clk(mac_tx_clk), .mac_tx_rst(mac_tx_rst), .m_axis_mac_tx(axis_sfp_tx),
    .s_axis_mac_tx_cpl(axis_sfp_tx_cpl),
    .m_axis_cndm_rx(axis_cndm_rx), .s_axis_cndm_tx(axis_cndm_tx),
    .m_axis_cndm_tx_cpl(axis_cndm_tx_cpl),
    .rx_drop(rx_drop));
endmodule

`resetall
