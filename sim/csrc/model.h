// The simulator handle shared by the generated port shim and cycle.cpp.
#pragma once
#include "Vfastpath_top_exact.h"
#include "Vfastpath_top_fast.h"
#include "verilated.h"
#include "verilated_vcd_c.h"
#include <cstdint>

struct FpSim {
    VerilatedContext* ctx;
    // Exactly one model is set: the fast one (hash units replaced by their
    // proven-equal stand-in, no tracing) or the exact RTL (traceable).
    Vfastpath_top_fast* fast;
    Vfastpath_top_exact* exact;
    VerilatedVcdC* vcd;  // null unless a waveform was asked for (exact only)
    uint64_t time_ps;    // simulation time of the next falling edge
    uint64_t half_ps;    // half a clock period
};
