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

// One key offered to the lookup port (Rust `KeyTag`): 128 bytes, the key's
// 64-byte alignment.
struct alignas(64) FpKeyTag {
    uint64_t key[8];
    uint32_t tag;
    uint32_t pad[15];
};

// One result taken from the result port, with the cycle (counted from the
// start of the run) in which it was taken.
struct FpLookupResult {
    uint64_t word;
    uint64_t cycle;
    uint32_t tag;
    uint32_t hash;
};

// A run of back-to-back lookups: offers keys[0..n) one per clock (as
// `lk_ready` allows) and takes results until all `owed + n` results are in,
// or `max_cycles` clocks have run, or `results` (room for `cap`) is full.
// `in` holds every other input for the whole run. Outputs: `accepted_at[i]`
// is the cycle key i was accepted, `results` the results in order.
struct FpLookupRun {
    const FpKeyTag* keys;
    uint64_t n;
    uint64_t owed;
    uint64_t max_cycles;
    uint64_t* accepted_at;
    FpLookupResult* results;
    uint64_t cap;
    // Set by the run.
    uint64_t accepted;
    uint64_t taken;
    uint64_t cycles;
};
