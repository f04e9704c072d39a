// The batch driver of the Verilated fastpath_nic (nic_run.cpp). Mirrored by
// `#[repr(C)]` structs in sim/src/fastpath_nic.rs; fields ordered by size.
#pragma once
#include <cstdint>

// One queued input frame: `len` bytes at `off` of its source's byte arena;
// `meta` is its HostTxMeta word (host TX queue only, held for the frame).
struct FpNicInFrame {
    uint64_t off;
    uint64_t meta;
    uint64_t len;
};

// One input stream (MAC RX port or host TX queue): frames[next..n) are still
// to send, `off` bytes of frames[next] are sent. A run advances next/off.
struct FpNicSrc {
    const uint8_t* bytes;
    const FpNicInFrame* frames;
    uint64_t n;
    uint64_t next;
    uint64_t off;
};

// Sinks of output frames.
enum { FPNIC_SINK_HOST_RX = 0xff };

// One output frame: bytes [off, off + len) of the output arena, the sink
// (MAC port index, or FPNIC_SINK_HOST_RX), the host RX meta words (host RX
// only) and the cycle of its last beat.
struct FpNicOutFrame {
    uint64_t off;
    uint64_t len;
    uint64_t meta[2];
    uint64_t cycle;
    uint32_t sink;
    uint32_t pad;
};

// Sources, in order.
enum { FPNIC_SRC_RX0 = 0, FPNIC_SRC_RX1 = 1, FPNIC_SRC_HTX = 2, FPNIC_SRCS = 3 };

// A run: drives the sources for up to `max_cycles` clocks, or (with
// `until_idle`) until every source is sent and the pipeline is empty.
// `valid_pct` is the chance a source starts offering a beat in a cycle (a
// beat once offered stays offered until taken, as AXI-Stream requires);
// `tx_ready_pct` / `hrx_ready_pct` the chance each MAC TX port / the host
// RX queue is ready. Sets `cycles` and `idle`.
struct FpNicRun {
    FpNicSrc src[FPNIC_SRCS];
    uint64_t max_cycles;
    uint64_t cycles;
    uint32_t valid_pct;
    uint32_t tx_ready_pct;
    uint32_t hrx_ready_pct;
    uint32_t until_idle;
    uint32_t idle;
    uint32_t pad;
};

// The output frames collected so far (valid until the next run or clear).
struct FpNicOutputs {
    const FpNicOutFrame* frames;
    uint64_t n;
    const uint8_t* bytes;
    uint64_t len;
};

// The AXI4-Lite inputs of one clock (every stream idles meanwhile).
struct FpAxilIn {
    uint64_t wdata;
    uint16_t awaddr;
    uint16_t araddr;
    uint8_t awvalid;
    uint8_t wvalid;
    uint8_t wstrb;
    uint8_t bready;
    uint8_t arvalid;
    uint8_t rready;
    uint8_t pad[6];
};

// The AXI4-Lite outputs sampled before that clock's rising edge.
struct FpAxilOut {
    uint64_t rdata;
    uint8_t awready;
    uint8_t wready;
    uint8_t bvalid;
    uint8_t bresp;
    uint8_t arready;
    uint8_t rvalid;
    uint8_t rresp;
    uint8_t pad;
};
