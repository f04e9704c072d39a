"""fastpath_axil_regs32: the register file behind its 32-bit AXI4-Lite slave,
driven by cocotbext-axi's AxiLiteMaster on a 32-bit bus. Checks the 32-bit
semantics of docs/registers.md: a command executes on the write of its high
half, a value read as two halves never tears, a low half held for another
register is dropped, unmapped offsets read 0."""

import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from common import SIMS, bench_geometry, run_bench, seeded, val
from model import load_abi


class EmcWrites:
    def __init__(self, dut):
        self.dut, self.log = dut, []
        cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await RisingEdge(self.dut.clock)
            if val(self.dut.emc_we) == 1:
                self.log.append(val(self.dut.emc_addr))


@cocotb.test()
async def regs32_semantics(dut):
    abi, g, r = load_abi(), bench_geometry(), seeded(32)
    regs = abi.regs
    cocotb.start_soon(Clock(dut.clock, 4, unit="ns").start())
    for s in ("ev_lookup", "ev_emc_hit", "ev_mf_hit", "ev_miss", "ev_miss_drop"):
        getattr(dut, s).value = 0
    dut.missq_level.value = 0
    dut.missq_head.value = 0
    dut.stats_hits.value = 0
    dut.stats_used.value = 0
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clock, dut.reset)
    assert len(dut.s_axil_wdata) == 32
    dut.reset.value = 1
    await ClockCycles(dut.clock, 3)
    dut.reset.value = 0
    for _ in range(g.emc_entries + g.mf_slots * g.mf_entries_per_slot + 50):
        await RisingEdge(dut.clock)
        if val(dut.lookup_enable) == 1:
            break
    else:
        raise AssertionError("lookup_enable never rose")
    writes = EmcWrites(dut)

    async def rd64(off):
        lo = await axil.read_dword(off)
        return lo | (await axil.read_dword(off + 4)) << 32

    async def wr64(off, v):
        await axil.write_dword(off, v & 0xFFFFFFFF)
        await axil.write_dword(off + 4, v >> 32)

    # Lookups count while the commands run.
    async def lookups():
        while True:
            dut.ev_lookup.value = int(r.random() < 0.7)
            await RisingEdge(dut.clock)
    task = cocotb.start_soon(lookups())

    for _ in range(10):
        idx, flow = r.randrange(g.emc_entries), r.randrange(1 << 24)
        word = abi.command("EmcWrite", 0, idx, flow)
        writes.log.clear()
        await axil.write_dword(regs["CMD"], word & 0xFFFFFFFF)
        await ClockCycles(dut.clock, 10)
        assert writes.log == [], "CMD executed on its low half"
        await axil.write_dword(regs["CMD"] + 4, word >> 32)
        assert await rd64(regs["STATUS"]) == 0
        assert writes.log == [idx], f"{writes.log} for index {idx}"
        assert await rd64(regs["CMD"]) == word

    # A value crossing 2^32 between the two half reads.
    v = 0xFFFFFFF0
    dut.stats_hits.value = v
    await RisingEdge(dut.clock)
    lo = await axil.read_dword(regs["STATS_HITS"])
    dut.stats_hits.value = v + 0x100
    await ClockCycles(dut.clock, 5)
    hi = await axil.read_dword(regs["STATS_HITS"] + 4)
    assert (hi, lo) == (0, v), f"torn read {hi:#x}:{lo:#x}"
    # The lookup counter read while it counts.
    a = await rd64(regs["CNT_LOOKUPS"])
    b = await rd64(regs["CNT_LOOKUPS"])
    assert 0 < a < b < a + 100, (a, b)
    task.cancel()

    # Scratch: whole words, a dropped low half, unmapped offsets.
    x = r.getrandbits(64)
    await wr64(regs["SCRATCH"], x)
    assert await rd64(regs["SCRATCH"]) == x
    await axil.write_dword(regs["SCRATCH"], 0)
    await axil.write_dword(regs["STAGE_ACTION"] + 4, 1)
    await axil.write_dword(regs["SCRATCH"] + 4, x >> 32)
    assert await rd64(regs["SCRATCH"]) == x, "held low half of another register was used"
    await wr64(0xFF8, (1 << 64) - 1)
    assert await rd64(0xFF8) == 0


@pytest.mark.parametrize("sim", SIMS)
def test_axil_regs32(rtl, sim):
    run_bench(sim, "fastpath_axil_regs32", "test_axil_regs32")
