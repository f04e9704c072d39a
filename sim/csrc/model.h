// The simulator handle shared by the generated port shim and cycle.cpp.
#pragma once
#include "Vfastpath_top.h"
#include "verilated.h"
#include "verilated_vcd_c.h"
#include <cstdint>

struct FpSim {
    VerilatedContext* ctx;
    Vfastpath_top* top;
    VerilatedVcdC* vcd;  // null unless a waveform was asked for
    uint64_t time_ps;    // simulation time of the next falling edge
    uint64_t half_ps;    // half a clock period
};
