// Synthesis harness for iCE40 HX8K (CT256): fastpath_top has ~1300 I/O bits,
// far more than the package's pins, so this wrapper feeds the lookup key,
// tag and the AXI4-Lite request from shift registers behind one data pin and
// folds every output into a parity pin. It exists only to measure resources
// and Fmax of the real pipeline with the open flow; it is not a product.
`timescale 1ns / 1ps
module fastpath_ice40_harness(
    input  wire clk,
    input  wire rst,
    input  wire sin,       // serial data into the request shift register
    input  wire lk_valid,
    input  wire res_ready,
    input  wire aw_go,     // AXI write request (address/data from the shift register)
    input  wire ar_go,     // AXI read request
    output reg  lk_ready_o,
    output reg  res_valid_o,
    output reg  parity_o
);
    reg [511:0] key;
    reg [31:0]  tag;
    reg [63:0]  wdata;
    reg [11:0]  addr;
    always @(posedge clk) begin
        {key, tag, wdata, addr} <= {key[510:0], tag, wdata, addr, sin};
    end

    wire lk_ready, res_valid, awready, wready, bvalid, arready, rvalid;
    wire [63:0] res_word, rdata;
    wire [31:0] res_tag, res_hash;
    wire [1:0] bresp, rresp;

    fastpath_top dut(
        .clock(clk), .reset(rst),
        .lk_valid(lk_valid), .lk_ready(lk_ready), .lk_key(key), .lk_tag(tag),
        .res_valid(res_valid), .res_ready(res_ready),
        .res_word(res_word), .res_tag(res_tag), .res_hash(res_hash),
        .s_axil_awaddr(addr), .s_axil_awprot(3'd0), .s_axil_awvalid(aw_go),
        .s_axil_awready(awready),
        .s_axil_wdata(wdata), .s_axil_wstrb(8'hff), .s_axil_wvalid(aw_go),
        .s_axil_wready(wready),
        .s_axil_bresp(bresp), .s_axil_bvalid(bvalid), .s_axil_bready(1'b1),
        .s_axil_araddr(addr), .s_axil_arprot(3'd0), .s_axil_arvalid(ar_go),
        .s_axil_arready(arready),
        .s_axil_rdata(rdata), .s_axil_rresp(rresp), .s_axil_rvalid(rvalid),
        .s_axil_rready(1'b1)
    );

    always @(posedge clk) begin
        lk_ready_o  <= lk_ready;
        res_valid_o <= res_valid;
        parity_o    <= ^{res_word, res_tag, res_hash, rdata, bresp, rresp,
                         awready, wready, bvalid, arready, rvalid};
    end
endmodule
