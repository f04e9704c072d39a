// Drives the Verilated fastpath_parser (64- and 512-bit builds): frames in
// as AXI-Stream beats with random tvalid/tready gaps, results out. One call
// per batch of frames, so the Rust side pays one FFI crossing per batch.
#include "Vfastpath_parser64.h"
#include "Vfastpath_parser512.h"
#include "verilated.h"
#include <cstdint>
#include <cstring>

extern "C" {

// One frame to send: `len` bytes at `data`, in port `port`.
struct FpParserFrame {
    const uint8_t* data;
    uint64_t len;
    uint32_t port;
    uint32_t pad;
};

// One result: key words, meta word, and the cycle it was taken.
struct FpParserResult {
    uint64_t key[8];
    uint64_t meta;
    uint64_t cycle;
};

// A run: sends frames[0..n) and takes results until all n are in or
// `max_cycles` have run. A beat is offered with probability valid_pct/100
// and a result taken with probability ready_pct/100 each cycle (xorshift
// from `seed`). Outputs: `taken` results, `cycles` run.
struct FpParserRun {
    const FpParserFrame* frames;
    uint64_t n;
    FpParserResult* results;
    uint64_t max_cycles;
    uint32_t vlan_limit;
    uint32_t valid_pct;
    uint32_t ready_pct;
    uint32_t seed;
    uint64_t taken;
    uint64_t cycles;
};
}

namespace {

struct Rng {
    uint64_t s;
    uint32_t pct() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return (uint32_t)(s % 100);
    }
};

template <int BYTES>
inline void set_data(Vfastpath_parser64* t, const uint8_t* b, int n) {
    uint64_t d = 0;
    uint64_t keep = 0;
    for (int i = 0; i < n; i++) {
        d |= (uint64_t)b[i] << (8 * i);
        keep |= 1ull << i;
    }
    t->s_tdata = d;
    t->s_tkeep = (uint8_t)keep;
}

template <int BYTES>
inline void set_data(Vfastpath_parser512* t, const uint8_t* b, int n) {
    uint32_t w[16] = {0};
    uint64_t keep = 0;
    for (int i = 0; i < n; i++) {
        w[i / 4] |= (uint32_t)b[i] << (8 * (i % 4));
        keep |= 1ull << i;
    }
    for (int i = 0; i < 16; i++) t->s_tdata[i] = w[i];
    t->s_tkeep = keep;
}

template <class T, int BYTES>
void run(T* t, FpParserRun* r) {
    Rng rng{r->seed ? (uint64_t)r->seed * 0x9e3779b97f4a7c15ull : 1};
    t->vlan_limit = r->vlan_limit;
    t->reset = 1;
    t->s_tvalid = 0;
    t->m_ready = 0;
    for (int i = 0; i < 2; i++) {
        t->clock = 0;
        t->eval();
        t->clock = 1;
        t->eval();
    }
    t->reset = 0;
    uint64_t f = 0, off = 0, cyc = 0;
    r->taken = 0;
    while (r->taken < r->n && cyc < r->max_cycles) {
        bool offer = f < r->n && rng.pct() < r->valid_pct;
        if (offer) {
            const FpParserFrame& fr = r->frames[f];
            uint64_t left = fr.len - off;
            int nb = left < BYTES ? (int)left : BYTES;
            set_data<BYTES>(t, fr.data + off, nb);
            t->s_tlast = left <= BYTES;
            t->s_tuser = fr.port;
        }
        t->s_tvalid = offer;
        t->m_ready = rng.pct() < r->ready_pct;
        t->clock = 0;
        t->eval();
        if (t->m_valid && t->m_ready) {
            FpParserResult& o = r->results[r->taken++];
            std::memcpy(o.key, &t->m_key[0], sizeof o.key);
            o.meta = t->m_meta;
            o.cycle = cyc;
        }
        if (offer && t->s_tready) {
            const FpParserFrame& fr = r->frames[f];
            off += BYTES;
            // A zero-length frame is one beat with no bytes kept.
            if (off >= fr.len) {
                f++;
                off = 0;
            }
        }
        t->clock = 1;
        t->eval();
        cyc++;
    }
    r->cycles = cyc;
}

}  // namespace

extern "C" {

struct FpParser {
    VerilatedContext* ctx;
    Vfastpath_parser64* p64;
    Vfastpath_parser512* p512;
};

FpParser* fpparser_new(uint32_t width) {
    FpParser* m = new FpParser{new VerilatedContext, nullptr, nullptr};
    if (width == 512) {
        m->p512 = new Vfastpath_parser512{m->ctx};
    } else {
        m->p64 = new Vfastpath_parser64{m->ctx};
    }
    return m;
}

void fpparser_free(FpParser* m) {
    delete m->p64;
    delete m->p512;
    delete m->ctx;
    delete m;
}

void fpparser_run(FpParser* m, FpParserRun* r) {
    if (m->p512) {
        run<Vfastpath_parser512, 64>(m->p512, r);
    } else {
        run<Vfastpath_parser64, 8>(m->p64, r);
    }
}
}
