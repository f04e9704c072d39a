// Lifecycle, waveform and the per-cycle step of the Verilated fastpath_top
// (fast or exact model). Everything the Rust side needs in the hot loop is
// one call per clock (fpsim_cycle: set every input, settle, sample every
// output, rising edge), or one call per burst of lookups (fpsim_lookups).
#include "model.h"
#include "cycle.h"
#include <cstring>

namespace {

// Drives every input of `in` (lookup port included).
template <class T>
inline void set_inputs(T* t, const FpCycleIn* in) {
    t->reset = in->reset;
    t->lk_valid = in->lk_valid;
    std::memcpy(&t->lk_key[0], in->lk_key, sizeof in->lk_key);
    t->lk_tag = in->lk_tag;
    t->lk_len = 0;  // look-aside lookups carry no frame: 0 bytes counted
    t->res_ready = in->res_ready;
    t->s_axil_awaddr = in->awaddr;
    t->s_axil_awprot = 0;
    t->s_axil_awvalid = in->awvalid;
    t->s_axil_wdata = in->wdata;
    t->s_axil_wstrb = in->wstrb;
    t->s_axil_wvalid = in->wvalid;
    t->s_axil_bready = in->bready;
    t->s_axil_araddr = in->araddr;
    t->s_axil_arprot = 0;
    t->s_axil_arvalid = in->arvalid;
    t->s_axil_rready = in->rready;
}

// Falling edge (inputs already set) and settle; the caller samples outputs
// between this and rise().
template <class T>
inline void fall(FpSim* m, T* t) {
    t->clock = 0;
    t->eval();
    if (m->vcd) m->vcd->dump(m->time_ps);
}

template <class T>
inline void rise(FpSim* m, T* t) {
    t->clock = 1;
    t->eval();
    if (m->vcd) m->vcd->dump(m->time_ps + m->half_ps);
    m->time_ps += 2 * m->half_ps;
}

template <class T>
void cycle(FpSim* m, T* t, const FpCycleIn* in, FpCycleOut* out) {
    set_inputs(t, in);
    fall(m, t);
    out->lk_ready = t->lk_ready;
    out->res_valid = t->res_valid;
    out->res_word = t->res_word;
    out->res_tag = t->res_tag;
    out->res_hash = t->res_hash;
    out->awready = t->s_axil_awready;
    out->wready = t->s_axil_wready;
    out->bvalid = t->s_axil_bvalid;
    out->bresp = t->s_axil_bresp;
    out->arready = t->s_axil_arready;
    out->rvalid = t->s_axil_rvalid;
    out->rdata = t->s_axil_rdata;
    out->rresp = t->s_axil_rresp;
    rise(m, t);
}

// The same cycles fpsim_cycle would run for this burst, without a call (and
// a copy of every port) per clock: only the lookup port changes.
template <class T>
void lookups(FpSim* m, T* t, const FpCycleIn* in, FpLookupRun* run) {
    set_inputs(t, in);
    const bool res_ready = in->res_ready != 0;
    const uint64_t want = run->owed + run->n;
    uint64_t acc = 0, taken = 0, c = 0;
    while ((acc < run->n || taken < want) && taken < run->cap && c < run->max_cycles) {
        const bool offer = acc < run->n;
        t->lk_valid = offer;
        if (offer) {
            std::memcpy(&t->lk_key[0], run->keys[acc].key, sizeof run->keys[acc].key);
            t->lk_tag = run->keys[acc].tag;
            t->lk_len = 0;
        }
        fall(m, t);
        if (offer && t->lk_ready) run->accepted_at[acc++] = c;
        if (t->res_valid && res_ready) {
            FpLookupResult* r = &run->results[taken++];
            r->word = t->res_word;
            r->tag = t->res_tag;
            r->hash = t->res_hash;
            r->cycle = c;
        }
        rise(m, t);
        c++;
    }
    t->lk_valid = 0;
    run->accepted = acc;
    run->taken = taken;
    run->cycles = c;
}

}  // namespace

extern "C" {

// Creates a model: the exact one if `exact` or `vcd_path` (nullable: starts a
// waveform; only the exact model is traceable), else the fast one. Returns
// null if the waveform file cannot be opened.
FpSim* fpsim_new(int exact, const char* vcd_path, uint64_t half_period_ps) {
    FpSim* m = new FpSim();
    m->ctx = new VerilatedContext();
    m->half_ps = half_period_ps ? half_period_ps : 1;
    m->time_ps = 0;
    m->vcd = nullptr;
    m->fast = nullptr;
    m->exact = nullptr;
    if (vcd_path) {
        m->ctx->traceEverOn(true);
        exact = 1;
    }
    if (exact) {
        m->exact = new Vfastpath_top_exact(m->ctx, "fastpath_top");
    } else {
        m->fast = new Vfastpath_top_fast(m->ctx, "fastpath_top");
    }
    if (vcd_path) {
        m->vcd = new VerilatedVcdC();
        m->exact->trace(m->vcd, 99);
        m->vcd->open(vcd_path);
        if (!m->vcd->isOpen()) {
            delete m->vcd;
            m->exact->final();
            delete m->exact;
            delete m->ctx;
            delete m;
            return nullptr;
        }
    }
    // One evaluation before the first rising edge, so that edge is seen as one.
    if (m->fast) {
        m->fast->clock = 0;
        m->fast->eval();
    } else {
        m->exact->clock = 0;
        m->exact->eval();
    }
    return m;
}

int fpsim_is_exact(const FpSim* m) { return m->exact != nullptr; }

void fpsim_free(FpSim* m) {
    if (!m) return;
    if (m->vcd) {
        m->vcd->close();
        delete m->vcd;
    }
    if (m->fast) {
        m->fast->final();
        delete m->fast;
    } else {
        m->exact->final();
        delete m->exact;
    }
    delete m->ctx;
    delete m;
}

void fpsim_eval(FpSim* m) {
    if (m->fast) m->fast->eval();
    else m->exact->eval();
}

void fpsim_flush(FpSim* m) {
    if (m->vcd) m->vcd->flush();
}

void fpsim_cycle(FpSim* m, const FpCycleIn* in, FpCycleOut* out) {
    if (m->fast) cycle(m, m->fast, in, out);
    else cycle(m, m->exact, in, out);
}

void fpsim_lookups(FpSim* m, const FpCycleIn* in, FpLookupRun* run) {
    if (m->fast) lookups(m, m->fast, in, run);
    else lookups(m, m->exact, in, run);
}

}  // extern "C"
