"""fastpath_stats: per-entry hit and byte counters with write stamps. Every address
is stamped first (as the power-on clear does); then bursts of hits (one per
clock, repeats back to back to exercise the read-first forwarding) and
rewrites (stamps), separated by idle clocks; then each address is selected
and its hits, bytes and last-used time compared with a model: hits and
their frame lengths since the last stamp (bytes modulo 2**48), last used =
time of the last hit, else the stamp time."""


import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from common import SIMS, bench_geometry, run_bench, seeded, val
from model.abi import load_abi

SETTLE = 8


@cocotb.test()
async def counters_match_model(dut):
    g = bench_geometry()
    n = g.emc_entries + g.mf_slots * g.mf_entries_per_slot
    r = seeded(9)
    cocotb.start_soon(Clock(dut.clock, 4, unit="ns").start())
    dut.hit.value = 0
    dut.hit_addr.value = 0
    dut.hit_len.value = 0
    abi = load_abi()
    len_top = (1 << abi.stats_len_bits) - 1
    bytes_top = (1 << abi.stats_bytes_bits) - 1
    dut.stamp_we.value = 0
    dut.stamp_addr.value = 0
    dut.sel_addr.value = 0
    now = 100
    dut.now.value = now
    await ClockCycles(dut.clock, 2)
    hits = [0] * n
    nbytes = [0] * n
    used = [0] * n
    # Stamp every address.
    for a in range(n):
        dut.stamp_we.value = 1
        dut.stamp_addr.value = a
        await RisingEdge(dut.clock)
        used[a] = now
    dut.stamp_we.value = 0
    await ClockCycles(dut.clock, SETTLE)
    hot = [r.randrange(n) for _ in range(6)]
    for burst in range(30):
        now += 1000
        dut.now.value = now
        if burst % 4 == 3:
            # Rewrites: counters restart, used = write time.
            for a in r.sample(range(n), 5):
                dut.stamp_we.value = 1
                dut.stamp_addr.value = a
                await RisingEdge(dut.clock)
                hits[a], nbytes[a], used[a] = 0, 0, now
            dut.stamp_we.value = 0
        else:
            last = None
            for _ in range(r.randrange(10, 60)):
                if r.random() < 0.2:
                    dut.hit.value = 0
                else:
                    a = last if (last is not None and r.random() < 0.4) else r.choice(hot + [r.randrange(n)])
                    dut.hit.value = 1
                    dut.hit_addr.value = a
                    length = r.choice([60, 1514, 9000, len_top, r.randrange(len_top + 1)])
                    dut.hit_len.value = length
                    hits[a] += 1
                    nbytes[a] = (nbytes[a] + length) & bytes_top
                    used[a] = now
                    last = a
                await RisingEdge(dut.clock)
            dut.hit.value = 0
        await ClockCycles(dut.clock, SETTLE)
    for a in range(n):
        dut.sel_addr.value = a
        await ClockCycles(dut.clock, SETTLE)
        await RisingEdge(dut.clock)
        h, u, b = val(dut.sel_hits), val(dut.sel_used), val(dut.sel_bytes)
        assert (h, u, b) == (hits[a], used[a], nbytes[a]), (
            f"address {a}: RTL hits {h} used {u} bytes {b}, model {hits[a]} {used[a]} {nbytes[a]}"
        )
    assert max(hits) > 20


@pytest.mark.parametrize("sim", SIMS)
def test_stats(rtl, sim):
    run_bench(sim, "fastpath_stats", "test_stats")
