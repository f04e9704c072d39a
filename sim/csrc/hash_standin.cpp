// The fast model's hash: the DPI-C function its hash-unit stand-ins call
// (sim/build-support/standin.rs). abi::hash's definition: CRC-32C (reflected
// polynomial 0x82F63B78, init and final XOR 0xFFFFFFFF) of the eight
// little-endian 64-bit words of the (already masked) input. One SSE4.2
// `crc32` per word where the build machine has it, else slicing-by-8.
// Whichever is compiled, sim/tests/hash_standin.rs proves it equal to the
// Verilated fastpath_hash_unit on the zero and all 512 unit vectors, which
// for two affine maps means on every input.
#include "Vfastpath_top_fast__Dpi.h"
#include <cstdint>
#include <cstring>
#ifdef __SSE4_2__
#include <nmmintrin.h>
#endif

namespace {

#ifndef __SSE4_2__
struct Tables {
    uint32_t t[8][256];
    Tables() {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            t[0][i] = c;
        }
        for (int s = 1; s < 8; s++)
            for (int i = 0; i < 256; i++) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
};
const Tables tables;
#endif

inline uint32_t crc32c_u64(uint32_t crc, uint64_t w) {
#ifdef __SSE4_2__
    return (uint32_t)_mm_crc32_u64(crc, w);
#else
    const uint64_t x = w ^ crc;
    const auto& t = tables.t;
    return t[7][x & 0xff] ^ t[6][(x >> 8) & 0xff] ^ t[5][(x >> 16) & 0xff] ^
           t[4][(x >> 24) & 0xff] ^ t[3][(x >> 32) & 0xff] ^ t[2][(x >> 40) & 0xff] ^
           t[1][(x >> 48) & 0xff] ^ t[0][x >> 56];
#endif
}

}  // namespace

// `x`: 16 32-bit words, least significant first (Verilator's svBitVecVal).
int fastpath_sim_hash(const svBitVecVal* x) {
    uint32_t crc = 0xFFFFFFFFu;
    for (int i = 0; i < 8; i++) {
        const uint64_t w = (uint64_t)x[2 * i] | ((uint64_t)x[2 * i + 1] << 32);
        crc = crc32c_u64(crc, w);
    }
    return (int)~crc;
}

extern "C" uint32_t fpsim_hash_standin(const uint64_t* words) {
    svBitVecVal x[16];
    for (int i = 0; i < 8; i++) {
        x[2 * i] = (uint32_t)words[i];
        x[2 * i + 1] = (uint32_t)(words[i] >> 32);
    }
    return (uint32_t)fastpath_sim_hash(x);
}
