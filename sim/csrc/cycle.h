// One clock cycle of fastpath_top: the inputs held during the cycle and the
// outputs sampled just before its rising edge. Mirrored by `#[repr(C)]`
// structs in sim/src/model.rs; fields are ordered by size so both sides lay
// them out without padding surprises.
#pragma once
#include <cstdint>

struct FpCycleIn {
    uint64_t lk_key[8];
    uint64_t wdata;
    uint32_t lk_tag;
    uint16_t awaddr;
    uint16_t araddr;
    uint8_t reset;
    uint8_t lk_valid;
    uint8_t res_ready;
    uint8_t awvalid;
    uint8_t wvalid;
    uint8_t wstrb;
    uint8_t bready;
    uint8_t arvalid;
    uint8_t rready;
    uint8_t pad[7];
};

struct FpCycleOut {
    uint64_t res_word;
    uint64_t rdata;
    uint32_t res_tag;
    uint32_t res_hash;
    uint8_t lk_ready;
    uint8_t res_valid;
    uint8_t awready;
    uint8_t wready;
    uint8_t bvalid;
    uint8_t bresp;
    uint8_t arready;
    uint8_t rvalid;
    uint8_t rresp;
    uint8_t pad[7];
};
