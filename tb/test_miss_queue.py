"""fastpath_miss_queue (the FWFT FIFO under the miss and result queues):
random pushes and pops of 576-bit words against a queue model. Checked every
clock: data order (the head equals the oldest accepted word), no loss, no
duplication, `full` exactly when the accepted-but-unpopped words fill the
depth, and `level` within one clock of that count (a push becomes visible
one clock after its write)."""

from collections import deque

import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from common import SIMS, bench_geometry, run_bench, seeded, val


@cocotb.test()
async def fifo_matches_queue_model(dut):
    g = bench_geometry()
    depth = g.missq_depth
    r = seeded(5)
    cocotb.start_soon(Clock(dut.clock, 4, unit="ns").start())
    dut.push.value = 0
    dut.pop.value = 0
    dut.din.value = 0
    dut.reset.value = 1
    await ClockCycles(dut.clock, 3)
    dut.reset.value = 0
    q = deque()
    popped = pushed = fulls = 0
    for cyc in range(3000):
        # Phases: fill-heavy, drain-heavy, mixed.
        phase = (cyc // 300) % 3
        p_push = (0.9, 0.2, 0.5)[phase]
        p_pop = (0.2, 0.9, 0.5)[phase]
        push = r.random() < p_push
        pop = r.random() < p_pop
        word = r.getrandbits(576)
        dut.push.value = int(push)
        dut.pop.value = int(pop)
        dut.din.value = word
        await RisingEdge(dut.clock)
        level, full, dout = val(dut.level), val(dut.full), val(dut.dout)
        assert full == int(len(q) == depth), f"cycle {cyc}: full={full} with {len(q)} of {depth}"
        assert len(q) - 1 <= level <= len(q), f"cycle {cyc}: level {level}, {len(q)} queued"
        if pop and level > 0:
            assert dout == q[0], f"cycle {cyc}: head differs"
            q.popleft()
            popped += 1
        if push and not full:
            q.append(word)
            pushed += 1
        fulls += full
    assert popped > 500 and pushed > 500 and fulls > 10, (popped, pushed, fulls)
    # Reset empties it.
    dut.push.value = 0
    dut.pop.value = 0
    dut.reset.value = 1
    await RisingEdge(dut.clock)
    dut.reset.value = 0
    await ClockCycles(dut.clock, 2)
    await RisingEdge(dut.clock)
    assert val(dut.level) == 0 and val(dut.full) == 0


@pytest.mark.parametrize("sim", SIMS)
def test_miss_queue(rtl, sim):
    run_bench(sim, "fastpath_miss_queue", "test_miss_queue")
