// Lifecycle, waveform and the per-cycle step of the Verilated fastpath_top.
// Everything the Rust side needs in the hot loop is one call per clock
// (fpsim_cycle): set every input, settle, sample every output, rising edge.
#include "model.h"
#include "cycle.h"

extern "C" {

// Creates the model; `vcd_path` (nullable) starts a waveform. Returns null if
// the waveform file cannot be opened.
FpSim* fpsim_new(const char* vcd_path, uint64_t half_period_ps) {
    FpSim* m = new FpSim();
    m->ctx = new VerilatedContext();
    m->half_ps = half_period_ps ? half_period_ps : 1;
    m->time_ps = 0;
    m->vcd = nullptr;
    if (vcd_path) {
        // Tracing is compiled in but costs (almost) nothing until switched on.
        m->ctx->traceEverOn(true);
    }
    m->top = new Vfastpath_top(m->ctx, "fastpath_top");
    if (vcd_path) {
        m->vcd = new VerilatedVcdC();
        m->top->trace(m->vcd, 99);
        m->vcd->open(vcd_path);
        if (!m->vcd->isOpen()) {
            delete m->vcd;
            m->vcd = nullptr;
            m->top->final();
            delete m->top;
            delete m->ctx;
            delete m;
            return nullptr;
        }
    }
    m->top->clock = 0;
    // One evaluation before the first rising edge, so that edge is seen as one.
    m->top->eval();
    return m;
}

void fpsim_free(FpSim* m) {
    if (!m) return;
    if (m->vcd) {
        m->vcd->close();
        delete m->vcd;
    }
    m->top->final();
    delete m->top;
    delete m->ctx;
    delete m;
}

void fpsim_eval(FpSim* m) { m->top->eval(); }

void fpsim_flush(FpSim* m) {
    if (m->vcd) m->vcd->flush();
}

void fpsim_cycle(FpSim* m, const FpCycleIn* in, FpCycleOut* out) {
    Vfastpath_top* t = m->top;
    t->clock = 0;
    t->reset = in->reset;
    t->lk_valid = in->lk_valid;
    for (int i = 0; i < 8; i++) {
        t->lk_key[2 * i] = (uint32_t)in->lk_key[i];
        t->lk_key[2 * i + 1] = (uint32_t)(in->lk_key[i] >> 32);
    }
    t->lk_tag = in->lk_tag;
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
    t->eval();
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
    if (m->vcd) m->vcd->dump(m->time_ps);
    t->clock = 1;
    t->eval();
    if (m->vcd) m->vcd->dump(m->time_ps + m->half_ps);
    m->time_ps += 2 * m->half_ps;
}

}  // extern "C"
