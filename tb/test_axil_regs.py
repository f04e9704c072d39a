"""fastpath_axil_regs: the register file and command engine on their own.
AxiLiteMaster drives the bus; the bench counts event pulses into the global
counters, watches the table write ports the command engine drives (EMC and
megaflow strobes, index -> bucket/way division, masked entry data, masks and
enables), and checks STATUS, rejected commands and the power-on clear."""


import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from common import SIMS, bench_geometry, key_int, run_bench, seeded, val
from model import PipelineModel, load_abi
from stages import entry_word


class Writes:
    """Records every table write the engine drives."""

    def __init__(self, dut):
        self.dut = dut
        self.log = []
        cocotb.start_soon(self._run())

    async def _run(self):
        d = self.dut
        while True:
            await RisingEdge(d.clock)
            if val(d.emc_we) == 1:
                self.log.append(("emc", val(d.emc_addr), val(d.entry_data)))
            if val(d.mf_we) == 1 and val(d.mf_all) == 0:
                self.log.append(("mf", val(d.mf_slot), val(d.mf_bucket), val(d.mf_way), val(d.entry_data)))


@cocotb.test()
async def registers_and_command_engine(dut):
    abi, g, r = load_abi(), bench_geometry(), seeded(8)
    regs = abi.regs
    model = PipelineModel(abi, g)
    cocotb.start_soon(Clock(dut.clock, 4, unit="ns").start())
    for s in ("ev_lookup", "ev_emc_hit", "ev_mf_hit", "ev_miss", "ev_miss_drop"):
        getattr(dut, s).value = 0
    dut.missq_level.value = 0
    dut.missq_head.value = 0
    dut.stats_hits.value = 0
    dut.stats_used.value = 0
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clock, dut.reset)
    dut.reset.value = 1
    await ClockCycles(dut.clock, 3)
    dut.reset.value = 0
    # Power-on clear: lookup_enable rises once every entry was written.
    n = g.emc_entries + g.mf_slots * g.mf_entries_per_slot
    for _ in range(n + 50):
        await RisingEdge(dut.clock)
        if val(dut.lookup_enable) == 1:
            break
    else:
        raise AssertionError("lookup_enable never rose")
    writes = Writes(dut)

    async def check(reg):
        got = await axil.read_qword(reg)
        want = model.read(reg)
        assert want is None or got == want, f"{reg:#x}: RTL {got:#x}, model {want:#x}"

    # Event pulses -> counters.
    names = ["LOOKUPS", "EMC_HITS", "MF_HITS", "MISSES", "MISS_DROPS"]
    sigs = ["ev_lookup", "ev_emc_hit", "ev_mf_hit", "ev_miss", "ev_miss_drop"]
    for _ in range(200):
        pulses = [r.random() < 0.5 for _ in sigs]
        for s, p in zip(sigs, pulses):
            getattr(dut, s).value = int(p)
        await RisingEdge(dut.clock)
        for nme, p in zip(names, pulses):
            model.counters[nme] += p
    for s in sigs:
        getattr(dut, s).value = 0
    await RisingEdge(dut.clock)
    for nme in names:
        await check(regs["CNT_" + nme])
    # Staging words read back; commands drive the write ports.
    for rnd in range(20):
        key = [r.getrandbits(64) for _ in range(abi.key_words)]
        for i, w in enumerate(key):
            await axil.write_qword(regs["STAGE_KEY"] + 8 * i, w)
            model.write(regs["STAGE_KEY"] + 8 * i, w)
        await check(regs["STAGE_KEY"] + 8 * r.randrange(abi.key_words))
        writes.log.clear()
        c = r.randrange(4)
        flow = r.randrange(1 << 24)
        if c == 0:
            idx = r.randrange(g.emc_entries)
            word = abi.command("EmcWrite", 0, idx, flow)
            expect = [("emc", idx, entry_word(abi, key, flow))]
        elif c == 1:
            s = r.randrange(g.mf_slots)
            word = abi.command("MaskSet", s)
            expect = []
        elif c == 2:
            s = r.randrange(g.mf_slots)
            idx = r.randrange(g.mf_entries_per_slot)
            word = abi.command("MfWrite", s, idx, flow)
            mk = [k & m for k, m in zip(key, model.masks[s])]
            expect = [("mf", s, idx // g.mf_bucket_slots, idx % g.mf_bucket_slots, entry_word(abi, mk, flow))]
        else:
            word = abi.command("EmcWrite", 0, g.emc_entries + r.randrange(50), flow)
            expect = []
        await axil.write_qword(regs["CMD"], word)
        model.write(regs["CMD"], word)
        await check(regs["STATUS"])  # waits for the command: its outcome
        assert writes.log == expect, f"command {word:#x}: writes {writes.log}, expected {expect}"
        if c == 1:
            assert val(getattr(dut, f"masks__{s}")) == key_int(key)
            assert val(getattr(dut, f"mask_en__{s}")) == 1
        await check(regs["CNT_COMMANDS"])
    await axil.write_qword(regs["SCRATCH"], 0x5A5AA5A50F0FF0F0)
    model.write(regs["SCRATCH"], 0x5A5AA5A50F0FF0F0)
    await check(regs["SCRATCH"])

    # The block chain from offset 0: every block the RTL chains sits at the
    # base abi declares for its type, and the chain ends (bounded walk).
    f = abi.f
    by_type = {b["type"]: b for b in abi.blocks.values()}
    at, seen = 0, []
    for _ in range(len(abi.blocks) + 1):
        hdr = await axil.read_qword(at)
        t = f("BLK_TYPE").get(hdr)
        assert t in by_type, f"{at:#x}: header {hdr:#x} names no known block"
        want = by_type[t]
        assert (at, f("BLK_SIZE").get(hdr), f("BLK_VER_MAJOR").get(hdr)) == (
            want["base"], want["size"], want["major"]), f"block type {t:#x} at {at:#x}"
        seen.append(t)
        at = f("BLK_NEXT").get(hdr)
        if at == 0:
            break
    else:
        raise AssertionError(f"block chain does not end: {seen}")
    core = [b["type"] for n, b in abi.blocks.items() if n != "host-queue"]
    assert seen[: len(core)] == core, seen


@pytest.mark.parametrize("sim", SIMS)
def test_axil_regs(rtl, sim):
    run_bench(sim, "fastpath_axil_regs", "test_axil_regs")
