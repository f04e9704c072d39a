// Drives the Verilated fastpath_nic: frames in on its MAC RX ports and host
// TX queue as 64-bit AXI-Stream beats (byte 0 in bits 7..0, tkeep, tlast),
// frames out of its MAC TX ports and host RX queue collected whole. One call
// runs a whole burst (as parser_run.cpp does), so the Rust side pays one FFI
// crossing per batch, not per clock.
#include "Vfastpath_nic_fast.h"
#include "nic_counters.h"
#include "nic_run.h"
#include "verilated.h"
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

// Quiet clocks (no handshake, no output valid) after which a NIC whose
// frame buffer is empty and whose sources are sent counts as idle: well
// above the registered stages after the frame buffer (action stage,
// arbiter, fan-out).
constexpr uint64_t QUIET = 64;
constexpr int MAC_PORTS = FPNIC_MAC_PORTS;

struct Rng {
    uint64_t s = 1;
    uint32_t pct() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return (uint32_t)(s % 100);
    }
};

inline bool chance(Rng& r, uint32_t pct) { return pct >= 100 || r.pct() < pct; }

// The beat of `src` at its cursor: data, keep, last.
inline void beat(const FpNicSrc& s, uint64_t& d, uint8_t& k, bool& last) {
    const FpNicInFrame& f = s.frames[s.next];
    uint64_t left = f.len - s.off;
    int n = left < 8 ? (int)left : 8;
    const uint8_t* b = s.bytes + f.off + s.off;
    if (n == 8) {
        std::memcpy(&d, b, 8);  // little-endian host: byte 0 in bits 7..0
        k = 0xff;
    } else {
        d = 0;
        for (int i = 0; i < n; i++) d |= (uint64_t)b[i] << (8 * i);
        k = (uint8_t)((1u << n) - 1);
    }
    last = left <= 8;
}

inline void advance(FpNicSrc& s) {
    s.off += 8;
    // A zero-length frame is one beat with no bytes kept.
    if (s.off >= s.frames[s.next].len) {
        s.next++;
        s.off = 0;
    }
}

inline void take(std::vector<uint8_t>& cur, uint64_t d, uint8_t k) {
    if (k == 0xff) {
        size_t n = cur.size();
        cur.resize(n + 8);
        std::memcpy(cur.data() + n, &d, 8);
        return;
    }
    for (int j = 0; j < 8; j++)
        if (k >> j & 1) cur.push_back((uint8_t)(d >> (8 * j)));
}

}  // namespace

extern "C" {

struct FpNic {
    VerilatedContext* ctx;
    Vfastpath_nic_fast* t;
    Rng rng;
    uint64_t cycle;
    // Beat offered last clock and not taken: still offered (AXI-Stream).
    bool holding[FPNIC_SRCS];
    // Frames being received per sink (MAC ports, then host RX).
    std::vector<uint8_t> cur[MAC_PORTS + 1];
    std::vector<FpNicOutFrame> out;
    std::vector<uint8_t> bytes;
};

}  // extern "C"

namespace {

inline void clock(FpNic* m) {
    m->t->clock = 0;
    m->t->eval();
}

inline void rise(FpNic* m) {
    m->t->clock = 1;
    m->t->eval();
    m->cycle++;
}

void finish(FpNic* m, int sink, const uint64_t* meta) {
    std::vector<uint8_t>& c = m->cur[sink == FPNIC_SINK_HOST_RX ? MAC_PORTS : sink];
    FpNicOutFrame f{};
    f.off = m->bytes.size();
    f.len = c.size();
    f.cycle = m->cycle;
    f.sink = (uint32_t)sink;
    if (meta) {
        f.meta[0] = meta[0];
        f.meta[1] = meta[1];
    }
    m->bytes.insert(m->bytes.end(), c.begin(), c.end());
    m->out.push_back(f);
    c.clear();
}

void streams_idle(Vfastpath_nic_fast* t) {
    t->rx0_tvalid = 0;
    t->rx1_tvalid = 0;
    t->htx_tvalid = 0;
    t->tx_tready = 0;
    t->hrx_tready = 0;
}

}  // namespace

extern "C" {

FpNic* fpnic_new() {
    FpNic* m = new FpNic();
    m->ctx = new VerilatedContext;
    m->t = new Vfastpath_nic_fast{m->ctx, "fastpath_nic"};
    m->cycle = 0;
    for (bool& h : m->holding) h = false;
    streams_idle(m->t);
    m->t->s_axil_awvalid = 0;
    m->t->s_axil_wvalid = 0;
    m->t->s_axil_arvalid = 0;
    m->t->s_axil_awprot = 0;
    m->t->s_axil_arprot = 0;
    // One evaluation before the first rising edge, so that edge is seen as one.
    clock(m);
    return m;
}

void fpnic_free(FpNic* m) {
    if (!m) return;
    m->t->final();
    delete m->t;
    delete m->ctx;
    delete m;
}

void fpnic_set_vlan_limit(FpNic* m, uint32_t v) { m->t->vlan_limit = v; }

void fpnic_seed(FpNic* m, uint64_t seed) {
    m->rng.s = seed ? seed * 0x9e3779b97f4a7c15ull : 1;
}

uint64_t fpnic_cycle_count(const FpNic* m) { return m->cycle; }

// Holds reset for `cycles` clocks; frames half received are forgotten.
void fpnic_reset(FpNic* m, uint64_t cycles) {
    streams_idle(m->t);
    m->t->reset = 1;
    for (uint64_t i = 0; i < cycles; i++) {
        clock(m);
        rise(m);
    }
    m->t->reset = 0;
    for (bool& h : m->holding) h = false;
    for (auto& c : m->cur) c.clear();
}

// One clock with these AXI4-Lite inputs; every stream idles (valid and
// ready low), which only stalls the pipeline.
void fpnic_axil_cycle(FpNic* m, const FpAxilIn* in, FpAxilOut* out) {
    Vfastpath_nic_fast* t = m->t;
    streams_idle(t);
    t->s_axil_awaddr = in->awaddr;
    t->s_axil_awvalid = in->awvalid;
    t->s_axil_wdata = in->wdata;
    t->s_axil_wstrb = in->wstrb;
    t->s_axil_wvalid = in->wvalid;
    t->s_axil_bready = in->bready;
    t->s_axil_araddr = in->araddr;
    t->s_axil_arvalid = in->arvalid;
    t->s_axil_rready = in->rready;
    clock(m);
    out->awready = t->s_axil_awready;
    out->wready = t->s_axil_wready;
    out->bvalid = t->s_axil_bvalid;
    out->bresp = t->s_axil_bresp;
    out->arready = t->s_axil_arready;
    out->rvalid = t->s_axil_rvalid;
    out->rdata = t->s_axil_rdata;
    out->rresp = t->s_axil_rresp;
    rise(m);
    t->s_axil_awvalid = 0;
    t->s_axil_wvalid = 0;
    t->s_axil_arvalid = 0;
}

void fpnic_run(FpNic* m, FpNicRun* r) {
    Vfastpath_nic_fast* t = m->t;
    t->s_axil_awvalid = 0;
    t->s_axil_wvalid = 0;
    t->s_axil_arvalid = 0;
    t->s_axil_bready = 1;
    t->s_axil_rready = 1;
    uint64_t c = 0, quiet = 0;
    r->idle = 0;
    while (c < r->max_cycles) {
        bool offer[FPNIC_SRCS];
        bool any_left = false;
        for (int s = 0; s < FPNIC_SRCS; s++) {
            FpNicSrc& src = r->src[s];
            bool has = src.next < src.n;
            any_left |= has;
            offer[s] = has && (m->holding[s] || chance(m->rng, r->valid_pct));
            uint64_t d = 0;
            uint8_t k = 0;
            bool last = false;
            if (offer[s]) beat(src, d, k, last);
            switch (s) {
                case FPNIC_SRC_RX0:
                    t->rx0_tvalid = offer[s];
                    if (offer[s]) t->rx0_tdata = d, t->rx0_tkeep = k, t->rx0_tlast = last;
                    break;
                case FPNIC_SRC_RX1:
                    t->rx1_tvalid = offer[s];
                    if (offer[s]) t->rx1_tdata = d, t->rx1_tkeep = k, t->rx1_tlast = last;
                    break;
                default:
                    t->htx_tvalid = offer[s];
                    if (offer[s]) {
                        t->htx_tdata = d, t->htx_tkeep = k, t->htx_tlast = last;
                        t->htx_meta = src.frames[src.next].meta;
                    }
            }
        }
        uint32_t txr = 0;
        for (int p = 0; p < MAC_PORTS; p++)
            if (chance(m->rng, r->tx_ready_pct)) txr |= 1u << p;
        t->tx_tready = txr;
        const bool hrxr = chance(m->rng, r->hrx_ready_pct);
        t->hrx_tready = hrxr;
        clock(m);
        const bool took[FPNIC_SRCS] = {offer[0] && t->rx0_tready, offer[1] && t->rx1_tready,
                                       offer[2] && t->htx_tready};
        const uint32_t tv = t->tx_tvalid;
        const bool hv = t->hrx_tvalid;
        bool active = tv || hv;
        const uint32_t tx_take = tv & txr;
        if (tx_take) {
            const uint64_t d = t->tx_tdata;
            const uint8_t k = t->tx_tkeep;
            const bool last = t->tx_tlast;
            for (int p = 0; p < MAC_PORTS; p++) {
                if (tx_take >> p & 1) {
                    take(m->cur[p], d, k);
                    if (last) finish(m, p, nullptr);
                }
            }
        }
        if (hv && hrxr) {
            take(m->cur[MAC_PORTS], t->hrx_tdata, t->hrx_tkeep);
            if (t->hrx_tlast) {
                uint64_t meta[2];
                std::memcpy(meta, &t->hrx_meta[0], sizeof meta);
                finish(m, FPNIC_SINK_HOST_RX, meta);
            }
        }
        const bool fb_empty = t->frames_in == t->frames_out + t->drops_oversize;
        rise(m);
        c++;
        for (int s = 0; s < FPNIC_SRCS; s++) {
            m->holding[s] = offer[s] && !took[s];
            if (took[s]) {
                advance(r->src[s]);
                active = true;
            }
        }
        quiet = active ? 0 : quiet + 1;
        if (r->until_idle && !any_left && fb_empty && quiet >= QUIET) {
            r->idle = 1;
            break;
        }
    }
    r->cycles = c;
}

void fpnic_outputs(const FpNic* m, FpNicOutputs* o) {
    o->frames = m->out.data();
    o->n = m->out.size();
    o->bytes = m->bytes.data();
    o->len = m->bytes.size();
}

void fpnic_clear_outputs(FpNic* m) {
    m->out.clear();
    m->bytes.clear();
}

// The counter ports, in FPNIC_COUNTERS order.
void fpnic_counters(const FpNic* m, uint64_t* out) {
    int i = 0;
#define X(name) out[i++] = m->t->name;
    FPNIC_COUNTERS(X)
#undef X
}

uint32_t fpnic_n_counters() { return FPNIC_N_COUNTERS; }

}  // extern "C"
