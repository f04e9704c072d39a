// Reset handshake and AXI4-Lite clock crossing of the OpenNIC wrapper.
// Written for this project (no vendor IP), so the cocotb bench runs the
// logic Vivado builds.
`timescale 1ns/1ps

// One OpenNIC reset pair: `rstn` low (any length) starts a reset held
// CYCLES clocks after it rises; `done` falls with `rstn` and rises when the
// reset ends, as the shell's system configuration block expects.
module fastpath_reset_handshake #(
  parameter int CYCLES = 100
) (
  input      clk,
  input      rstn,
  output reg done = 1'b0,
  output reg busy = 1'b1
);
  reg [15:0] timer = 16'd0;
  always @(posedge clk) begin
    if (!rstn) begin
      busy  <= 1'b1;
      done  <= 1'b0;
      timer <= 16'd0;
    end else if (busy) begin
      timer <= timer + 16'd1;
      if (timer == 16'(CYCLES - 1)) begin
        busy <= 1'b0;
        done <= 1'b1;
      end
    end
  end
endmodule

// A level into `clk`'s domain through two flops.
module fastpath_sync (
  input  clk,
  input  d,
  output q
);
  (* ASYNC_REG = "TRUE" *) reg [1:0] s = 2'b11;
  always @(posedge clk) s <= {s[0], d};
  assign q = s[1];
endmodule

// AXI4-Lite 32-bit from `s_clk` to `m_clk`: one write and one read in
// flight, each handed over by a toggle; the address and data registers are
// stable while the toggle crosses. Control traffic needs no more.
module fastpath_axil_cdc #(
  parameter int ADDR_W = 12
) (
  input               s_clk,
  input               s_rst,
  input               s_awvalid,
  // Bits past ADDR_W are ignored: the register file repeats through the window.
  /* verilator lint_off UNUSEDSIGNAL */
  input        [31:0] s_awaddr,
  output              s_awready,
  input               s_wvalid,
  input        [31:0] s_wdata,
  output              s_wready,
  output reg          s_bvalid,
  output reg    [1:0] s_bresp,
  input               s_bready,
  input               s_arvalid,
  input        [31:0] s_araddr,
  /* verilator lint_on UNUSEDSIGNAL */
  output              s_arready,
  output reg          s_rvalid,
  output reg   [31:0] s_rdata,
  output reg    [1:0] s_rresp,
  input               s_rready,

  input               m_clk,
  input               m_rst,
  output reg          m_awvalid,
  output [ADDR_W-1:0] m_awaddr,
  input               m_awready,
  output reg          m_wvalid,
  output       [31:0] m_wdata,
  input               m_wready,
  input               m_bvalid,
  input         [1:0] m_bresp,
  output              m_bready,
  output reg          m_arvalid,
  output [ADDR_W-1:0] m_araddr,
  input               m_arready,
  input               m_rvalid,
  input        [31:0] m_rdata,
  input         [1:0] m_rresp,
  output              m_rready
);
  // ---- source side (s_clk)
  reg [ADDR_W-1:0] awaddr_q, araddr_q;
  reg       [31:0] wdata_q;
  reg        aw_got, w_got, w_sent, ar_got;
  reg        wreq_t, rreq_t, wack_seen, rack_seen;
  wire       wack_s, rack_s;
  reg        wack_t, rack_t;
  reg  [1:0] bresp_m, rresp_m;
  reg [31:0] rdata_m;

  fastpath_sync wack_sync (.clk(s_clk), .d(wack_t), .q(wack_s));
  fastpath_sync rack_sync (.clk(s_clk), .d(rack_t), .q(rack_s));

  assign s_awready = !aw_got;
  assign s_wready  = !w_got;
  assign s_arready = !ar_got;

  always @(posedge s_clk) begin
    if (s_rst) begin
      aw_got <= 1'b0; w_got <= 1'b0; w_sent <= 1'b0; ar_got <= 1'b0;
      s_bvalid <= 1'b0; s_rvalid <= 1'b0;
      wreq_t <= wack_s; wack_seen <= wack_s;
      rreq_t <= rack_s; rack_seen <= rack_s;
    end else begin
      if (s_awvalid && s_awready) begin aw_got <= 1'b1; awaddr_q <= s_awaddr[ADDR_W-1:0]; end
      if (s_wvalid && s_wready)   begin w_got <= 1'b1;  wdata_q  <= s_wdata;  end
      if (aw_got && w_got && !w_sent) begin wreq_t <= !wreq_t; w_sent <= 1'b1; end
      if (wack_s != wack_seen) begin
        wack_seen <= wack_s; s_bvalid <= 1'b1; s_bresp <= bresp_m;
      end
      if (s_bvalid && s_bready) begin
        s_bvalid <= 1'b0; aw_got <= 1'b0; w_got <= 1'b0; w_sent <= 1'b0;
      end
      if (s_arvalid && s_arready) begin ar_got <= 1'b1; araddr_q <= s_araddr[ADDR_W-1:0]; rreq_t <= !rreq_t; end
      if (rack_s != rack_seen) begin
        rack_seen <= rack_s; s_rvalid <= 1'b1; s_rdata <= rdata_m; s_rresp <= rresp_m;
      end
      if (s_rvalid && s_rready) begin s_rvalid <= 1'b0; ar_got <= 1'b0; end
    end
  end

  // ---- destination side (m_clk)
  wire wreq_s, rreq_s;
  reg  wreq_seen, rreq_seen, w_wait_b, r_wait;
  fastpath_sync wreq_sync (.clk(m_clk), .d(wreq_t), .q(wreq_s));
  fastpath_sync rreq_sync (.clk(m_clk), .d(rreq_t), .q(rreq_s));

  assign m_awaddr = awaddr_q;
  assign m_wdata  = wdata_q;
  assign m_araddr = araddr_q;
  assign m_bready = w_wait_b && !m_awvalid && !m_wvalid;
  assign m_rready = r_wait && !m_arvalid;

  always @(posedge m_clk) begin
    if (m_rst) begin
      m_awvalid <= 1'b0; m_wvalid <= 1'b0; m_arvalid <= 1'b0;
      w_wait_b <= 1'b0; r_wait <= 1'b0;
      wreq_seen <= wreq_s; rreq_seen <= rreq_s;
      wack_t <= 1'b0; rack_t <= 1'b0;
    end else begin
      if (wreq_s != wreq_seen) begin
        wreq_seen <= wreq_s; m_awvalid <= 1'b1; m_wvalid <= 1'b1; w_wait_b <= 1'b1;
      end
      if (m_awvalid && m_awready) m_awvalid <= 1'b0;
      if (m_wvalid && m_wready)   m_wvalid  <= 1'b0;
      if (m_bvalid && m_bready) begin
        bresp_m <= m_bresp; w_wait_b <= 1'b0; wack_t <= !wack_t;
      end
      if (rreq_s != rreq_seen) begin
        rreq_seen <= rreq_s; m_arvalid <= 1'b1; r_wait <= 1'b1;
      end
      if (m_arvalid && m_arready) m_arvalid <= 1'b0;
      if (m_rvalid && m_rready) begin
        rdata_m <= m_rdata; rresp_m <= m_rresp; r_wait <= 1'b0; rack_t <= !rack_t;
      end
    end
  end
endmodule
