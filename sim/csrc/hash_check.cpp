// The exact hash unit (the emitted fastpath_hash_unit, Verilated on its own)
// behind a C ABI, so tests can compare it with the fast model's stand-in.
#include "Vfastpath_hash_unit.h"
#include "verilated.h"
#include <cstdint>
#include <cstring>

struct FpHashUnit {
    VerilatedContext* ctx;
    Vfastpath_hash_unit* top;
};

extern "C" {

FpHashUnit* fpsim_hash_unit_new() {
    FpHashUnit* h = new FpHashUnit();
    h->ctx = new VerilatedContext();
    h->top = new Vfastpath_hash_unit(h->ctx, "fastpath_hash_unit");
    h->top->clock = 0;
    h->top->eval();
    return h;
}

void fpsim_hash_unit_free(FpHashUnit* h) {
    if (!h) return;
    h->top->final();
    delete h->top;
    delete h->ctx;
    delete h;
}

// Presents key and mask (8 words each) for one clock and returns `hash`
// after the unit's latency (two rising edges).
uint32_t fpsim_hash_unit_eval(FpHashUnit* h, const uint64_t* key, const uint64_t* mask) {
    Vfastpath_hash_unit* t = h->top;
    std::memcpy(&t->key[0], key, 64);
    std::memcpy(&t->mask[0], mask, 64);
    for (int edge = 0; edge < 2; edge++) {
        t->clock = 0;
        t->eval();
        t->clock = 1;
        t->eval();
    }
    return t->hash;
}

}  // extern "C"
