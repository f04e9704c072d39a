// Clock crossing and control split of the taxi (Corundum) wrapper.
// Written for this project (no vendor IP, no taxi library module), so the
// cocotb bench runs the logic Vivado builds.
`resetall
`timescale 1ns/1ps
`default_nettype none

// W bits into `clk`'s domain through two flops. Only for levels and for
// Gray-coded counters (one bit changes at a time).
module fastpath_taxi_sync #(
  parameter int W = 1
) (
  input  wire         clk,
  input  wire [W-1:0] d,
  output wire [W-1:0] q
);
  (* ASYNC_REG = "TRUE" *) logic [W-1:0] s1 = '0, s2 = '0;
  always_ff @(posedge clk) begin
    s1 <= d;
    s2 <= s1;
  end
  assign q = s2;
endmodule

// A 64-bit AXI-Stream frame FIFO from `s_clk` to `m_clk`. A frame becomes
// visible to the reader only once its last beat is in, so the reader gets
// every frame in consecutive beats (a MAC TX underflows otherwise, and the
// pipeline clock is slower than the MAC's). A frame that does not fit is
// dropped whole: always when DROP_WHEN_FULL (a MAC RX has no tready), and in
// backpressure mode when one frame alone fills the FIFO (it could never be
// committed). With DROP_BAD a frame whose last beat has `s_tbad` set is
// dropped (taxi's tuser[0]: bad FCS, or an aborted frame). Each side's reset
// also resets the other side (through a synchronizer), so the pointers never
// disagree; taxi's resets last far longer than the two clocks this takes.
module fastpath_taxi_frame_fifo #(
  parameter int LOG2_DEPTH = 11,
  parameter bit DROP_WHEN_FULL = 1'b0,
  parameter bit DROP_BAD = 1'b0
) (
  input  wire        s_clk,
  input  wire        s_rst,
  input  wire [63:0] s_tdata,
  input  wire  [7:0] s_tkeep,
  input  wire        s_tlast,
  input  wire        s_tbad,
  input  wire        s_tvalid,
  output wire        s_tready,
  // One clock per frame lost for want of room (not for being bad).
  output logic       s_drop = 1'b0,

  input  wire        m_clk,
  input  wire        m_rst,
  output logic [63:0] m_tdata,
  output logic  [7:0] m_tkeep,
  output logic       m_tlast,
  output logic       m_tvalid = 1'b0,
  input  wire        m_tready
);
  localparam int DEPTH = 1 << LOG2_DEPTH;
  localparam int PW = LOG2_DEPTH + 1;  // pointers carry a wrap bit

  function automatic logic [PW-1:0] bin2gray(input logic [PW-1:0] b);
    return b ^ (b >> 1);
  endfunction
  function automatic logic [PW-1:0] gray2bin(input logic [PW-1:0] g);
    logic [PW-1:0] b;
    b[PW-1] = g[PW-1];
    for (int i = PW - 2; i >= 0; i--) b[i] = b[i+1] ^ g[i];
    return b;
  endfunction

  logic [72:0] mem [DEPTH];
  logic [PW-1:0] rd_ptr = '0;     // next word read (m_clk)
  logic [PW-1:0] rd_gray = '0;

  // ---- resets: each side's own, or the other's
  wire s_rst_peer, m_rst_peer;
  fastpath_taxi_sync s_rst_sync (.clk(s_clk), .d(m_rst), .q(s_rst_peer));
  fastpath_taxi_sync m_rst_sync (.clk(m_clk), .d(s_rst), .q(m_rst_peer));
  wire s_reset = s_rst | s_rst_peer;
  wire m_reset = m_rst | m_rst_peer;

  // ---- write side (s_clk)
  logic [PW-1:0] wr_ptr = '0;     // next word written (this frame's tail)
  logic [PW-1:0] wr_commit = '0;  // end of the last whole frame
  logic [PW-1:0] wr_commit_gray = '0;
  logic [PW-1:0] rd_gray_s;
  logic          dropping = 1'b0; // the rest of this frame is discarded
  fastpath_taxi_sync #(.W(PW)) rd_ptr_sync (.clk(s_clk), .d(rd_gray), .q(rd_gray_s));
  wire [PW-1:0] rd_ptr_s = gray2bin(rd_gray_s);
  wire full = (wr_ptr - rd_ptr_s) == PW'(DEPTH);
  wire frame_fills = (wr_ptr - wr_commit) == PW'(DEPTH);
  assign s_tready = !s_reset && (DROP_WHEN_FULL || !full || dropping || frame_fills);

  always_ff @(posedge s_clk) begin
    s_drop <= 1'b0;
    if (s_reset) begin
      wr_ptr <= '0;
      wr_commit <= '0;
      wr_commit_gray <= '0;
      dropping <= 1'b0;
    end else if (s_tvalid && s_tready) begin
      if (dropping || full) begin
        wr_ptr <= wr_commit;
        dropping <= !s_tlast;
        if (!dropping) s_drop <= 1'b1;
      end else begin
        mem[wr_ptr[LOG2_DEPTH-1:0]] <= {s_tlast, s_tkeep, s_tdata};
        if (!s_tlast) begin
          wr_ptr <= wr_ptr + 1'b1;
        end else if (DROP_BAD && s_tbad) begin
          wr_ptr <= wr_commit;
        end else begin
          wr_ptr <= wr_ptr + 1'b1;
          wr_commit <= wr_ptr + 1'b1;
          wr_commit_gray <= bin2gray(wr_ptr + 1'b1);
        end
      end
    end
  end

  // ---- read side (m_clk): one registered read, a word per clock
  logic [PW-1:0] commit_gray_m;
  fastpath_taxi_sync #(.W(PW)) commit_sync (.clk(m_clk), .d(wr_commit_gray), .q(commit_gray_m));
  wire empty = rd_ptr == gray2bin(commit_gray_m);

  always_ff @(posedge m_clk) begin
    if (m_reset) begin
      rd_ptr <= '0;
      rd_gray <= '0;
      m_tvalid <= 1'b0;
    end else if (!m_tvalid || m_tready) begin
      m_tvalid <= !empty;
      if (!empty) begin
        {m_tlast, m_tkeep, m_tdata} <= mem[rd_ptr[LOG2_DEPTH-1:0]];
        rd_ptr <= rd_ptr + 1'b1;
        rd_gray <= bin2gray(rd_ptr + 1'b1);
      end
    end
  end
endmodule

// Splits taxi's control BAR (one AXI4-Lite master) in two by one address
// bit: SEL_BIT clear goes to m0 (the cndm core, as before), set to m1 (our
// register file). One write and one read in flight; the address and data of
// a write are taken together, so m0 and m1 see AW and W in the same clock.
module fastpath_taxi_axil_split #(
  // taxi's AXIL_CTRL_ADDR_W and AXIL_CTRL_DATA_W.
  parameter int AW = 24,
  parameter int DW = 32,
  parameter int SEL_BIT = AW - 1
) (
  input  wire        clk,
  input  wire        rst,
  taxi_axil_if.wr_slv s_axil_wr,
  taxi_axil_if.rd_slv s_axil_rd,
  taxi_axil_if.wr_mst m0_axil_wr,
  taxi_axil_if.rd_mst m0_axil_rd,
  taxi_axil_if.wr_mst m1_axil_wr,
  taxi_axil_if.rd_mst m1_axil_rd
);
  localparam int SW = DW / 8;

  // ---- writes
  logic          w_busy = 1'b0, w_sel = 1'b0, aw_out = 1'b0, w_out = 1'b0;
  logic          b_out = 1'b0;
  logic [AW-1:0] awaddr;
  logic    [2:0] awprot;
  logic [DW-1:0] wdata;
  logic [SW-1:0] wstrb;
  logic    [1:0] bresp;
  wire take_w = !w_busy && s_axil_wr.awvalid && s_axil_wr.wvalid;
  assign s_axil_wr.awready = take_w;
  assign s_axil_wr.wready = take_w;
  assign s_axil_wr.bvalid = b_out;
  assign s_axil_wr.bresp = bresp;
  assign s_axil_wr.buser = '0;
  wire m_awready = w_sel ? m1_axil_wr.awready : m0_axil_wr.awready;
  wire m_wready = w_sel ? m1_axil_wr.wready : m0_axil_wr.wready;
  wire m_bvalid = w_sel ? m1_axil_wr.bvalid : m0_axil_wr.bvalid;
  wire [1:0] m_bresp = w_sel ? m1_axil_wr.bresp : m0_axil_wr.bresp;
  wire w_wait_b = w_busy && !aw_out && !w_out && !b_out;
  assign m0_axil_wr.awaddr = awaddr;
  assign m1_axil_wr.awaddr = awaddr;
  assign m0_axil_wr.awprot = awprot;
  assign m1_axil_wr.awprot = awprot;
  assign m0_axil_wr.awuser = '0;
  assign m1_axil_wr.awuser = '0;
  assign m0_axil_wr.wdata = wdata;
  assign m1_axil_wr.wdata = wdata;
  assign m0_axil_wr.wstrb = wstrb;
  assign m1_axil_wr.wstrb = wstrb;
  assign m0_axil_wr.wuser = '0;
  assign m1_axil_wr.wuser = '0;
  assign m0_axil_wr.awvalid = aw_out && !w_sel;
  assign m1_axil_wr.awvalid = aw_out && w_sel;
  assign m0_axil_wr.wvalid = w_out && !w_sel;
  assign m1_axil_wr.wvalid = w_out && w_sel;
  assign m0_axil_wr.bready = w_wait_b && !w_sel;
  assign m1_axil_wr.bready = w_wait_b && w_sel;

  always_ff @(posedge clk) begin
    if (rst) begin
      w_busy <= 1'b0; aw_out <= 1'b0; w_out <= 1'b0; b_out <= 1'b0;
    end else begin
      if (take_w) begin
        w_busy <= 1'b1; aw_out <= 1'b1; w_out <= 1'b1;
        w_sel <= s_axil_wr.awaddr[SEL_BIT];
        awaddr <= s_axil_wr.awaddr;
        awprot <= s_axil_wr.awprot;
        wdata <= s_axil_wr.wdata;
        wstrb <= s_axil_wr.wstrb;
      end
      if (aw_out && m_awready) aw_out <= 1'b0;
      if (w_out && m_wready) w_out <= 1'b0;
      if (w_wait_b && m_bvalid) begin b_out <= 1'b1; bresp <= m_bresp; end
      if (b_out && s_axil_wr.bready) begin b_out <= 1'b0; w_busy <= 1'b0; end
    end
  end

  // ---- reads
  logic          r_busy = 1'b0, r_sel = 1'b0, ar_out = 1'b0, r_out = 1'b0;
  logic [AW-1:0] araddr;
  logic    [2:0] arprot;
  logic [DW-1:0] rdata;
  logic    [1:0] rresp;
  wire take_r = !r_busy && s_axil_rd.arvalid;
  assign s_axil_rd.arready = take_r;
  assign s_axil_rd.rvalid = r_out;
  assign s_axil_rd.rdata = rdata;
  assign s_axil_rd.rresp = rresp;
  assign s_axil_rd.ruser = '0;
  wire m_arready = r_sel ? m1_axil_rd.arready : m0_axil_rd.arready;
  wire m_rvalid = r_sel ? m1_axil_rd.rvalid : m0_axil_rd.rvalid;
  wire [DW-1:0] m_rdata = r_sel ? m1_axil_rd.rdata : m0_axil_rd.rdata;
  wire [1:0] m_rresp = r_sel ? m1_axil_rd.rresp : m0_axil_rd.rresp;
  wire r_wait = r_busy && !ar_out && !r_out;
  assign m0_axil_rd.araddr = araddr;
  assign m1_axil_rd.araddr = araddr;
  assign m0_axil_rd.arprot = arprot;
  assign m1_axil_rd.arprot = arprot;
  assign m0_axil_rd.aruser = '0;
  assign m1_axil_rd.aruser = '0;
  assign m0_axil_rd.arvalid = ar_out && !r_sel;
  assign m1_axil_rd.arvalid = ar_out && r_sel;
  assign m0_axil_rd.rready = r_wait && !r_sel;
  assign m1_axil_rd.rready = r_wait && r_sel;

  always_ff @(posedge clk) begin
    if (rst) begin
      r_busy <= 1'b0; ar_out <= 1'b0; r_out <= 1'b0;
    end else begin
      if (take_r) begin
        r_busy <= 1'b1; ar_out <= 1'b1;
        r_sel <= s_axil_rd.araddr[SEL_BIT];
        araddr <= s_axil_rd.araddr;
        arprot <= s_axil_rd.arprot;
      end
      if (ar_out && m_arready) ar_out <= 1'b0;
      if (r_wait && m_rvalid) begin r_out <= 1'b1; rdata <= m_rdata; rresp <= m_rresp; end
      if (r_out && s_axil_rd.rready) begin r_out <= 1'b0; r_busy <= 1'b0; end
    end
  end

  // User fields are not used by taxi's control masters.
  wire unused_ok = &{1'b0, s_axil_wr.awuser, s_axil_wr.wuser, s_axil_rd.aruser,
                     m0_axil_wr.buser, m1_axil_wr.buser, m0_axil_rd.ruser, m1_axil_rd.ruser};
endmodule

`resetall
