// Stand-ins for taxi's `taxi_axis_if` and `taxi_axil_if`
// (src/axis/rtl/taxi_axis_if.sv, src/axi/rtl/taxi_axil_if.sv) for lint and
// the bench when no taxi checkout is at hand: the same interface names,
// parameters, signals and modports, so the wrapper compiles against either.
// `boards/as02mc04/lint.sh --taxi DIR` lints against the real ones; the
// Vivado build always uses the user's checkout, never these.
`resetall
`timescale 1ns/1ps
`default_nettype none

interface taxi_axis_if #(
  parameter DATA_W = 8,
  parameter KEEP_W = ((DATA_W+7)/8),
  parameter logic KEEP_EN = KEEP_W > 1,
  parameter logic STRB_EN = 1'b0,
  parameter logic LAST_EN = 1'b1,
  parameter logic ID_EN = 0,
  parameter ID_W = 8,
  parameter logic DEST_EN = 0,
  parameter DEST_W = 8,
  parameter logic USER_EN = 0,
  parameter USER_W = 1
) ();
  logic [DATA_W-1:0] tdata;
  logic [KEEP_W-1:0] tkeep, tstrb;
  logic [ID_W-1:0]   tid;
  logic [DEST_W-1:0] tdest;
  logic [USER_W-1:0] tuser;
  logic tlast, tvalid, tready;

  modport src (output tdata, tkeep, tstrb, tid, tdest, tuser, tlast, tvalid, input tready);
  modport snk (input tdata, tkeep, tstrb, tid, tdest, tuser, tlast, tvalid, output tready);
  modport mon (input tdata, tkeep, tstrb, tid, tdest, tuser, tlast, tvalid, tready);
endinterface

interface taxi_axil_if #(
  parameter DATA_W = 32,
  parameter ADDR_W = 32,
  parameter STRB_W = (DATA_W/8),
  parameter logic AWUSER_EN = 1'b0,
  parameter AWUSER_W = 1,
  parameter logic WUSER_EN = 1'b0,
  parameter WUSER_W = 1,
  parameter logic BUSER_EN = 1'b0,
  parameter BUSER_W = 1,
  parameter logic ARUSER_EN = 1'b0,
  parameter ARUSER_W = 1,
  parameter logic RUSER_EN = 1'b0,
  parameter RUSER_W = 1
) ();
  logic [ADDR_W-1:0]   awaddr, araddr;
  logic [2:0]          awprot, arprot;
  logic [AWUSER_W-1:0] awuser;
  logic [WUSER_W-1:0]  wuser;
  logic [BUSER_W-1:0]  buser;
  logic [ARUSER_W-1:0] aruser;
  logic [RUSER_W-1:0]  ruser;
  logic [DATA_W-1:0]   wdata, rdata;
  logic [STRB_W-1:0]   wstrb;
  logic [1:0]          bresp, rresp;
  logic awvalid, awready, wvalid, wready, bvalid, bready;
  logic arvalid, arready, rvalid, rready;

  modport wr_mst (output awaddr, awprot, awuser, awvalid, input awready,
                  output wdata, wstrb, wuser, wvalid, input wready,
                  input bresp, buser, bvalid, output bready);
  modport rd_mst (output araddr, arprot, aruser, arvalid, input arready,
                  input rdata, rresp, ruser, rvalid, output rready);
  modport wr_slv (input awaddr, awprot, awuser, awvalid, output awready,
                  input wdata, wstrb, wuser, wvalid, output wready,
                  output bresp, buser, bvalid, input bready);
  modport rd_slv (input araddr, arprot, aruser, arvalid, output arready,
                  output rdata, rresp, ruser, rvalid, input rready);
  modport wr_mon (input awaddr, awprot, awuser, awvalid, awready, wdata, wstrb, wuser,
                  wvalid, wready, bresp, buser, bvalid, bready);
  modport rd_mon (input araddr, arprot, aruser, arvalid, arready, rdata, rresp, ruser,
                  rvalid, rready);
endinterface

`resetall
