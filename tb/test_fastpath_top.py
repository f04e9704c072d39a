"""fastpath_top end to end: AXI4-Lite register programming (cocotbext-axi
AxiLiteMaster), back-to-back lookups on the lookup port, results, counters,
per-entry statistics, the miss queue, the action RAM and edit-table write
ports, against model.PipelineModel.

Randomized: masks, EMC and megaflow entries at their candidate positions
(including overwrites, invalidations and rejected commands), lookups biased
to hit, consumer backpressure, table clears and CTRL.ENABLE."""

import os

import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from common import SIMS, bench_geometry, key_int, run_bench, seeded, val
from model import PipelineModel, hash_key, hash_masked, load_abi

U64 = (1 << 64) - 1


class Tb:
    def __init__(self, dut, seed):
        self.dut = dut
        self.abi = load_abi()
        self.g = bench_geometry()
        self.model = PipelineModel(self.abi, self.g)
        self.r = seeded(seed)
        self.results = []
        # The action RAM as the core's act_* writes leave it.
        n = self.g.emc_entries + self.g.mf_slots * self.g.mf_entries_per_slot
        self.actions = [0] * n
        # The edit table as the core's edit_* writes leave it.
        self.edits = {}
        self.backpressure = False
        cocotb.start_soon(Clock(dut.clock, 4, unit="ns").start())
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clock, dut.reset)
        dut.lk_valid.value = 0
        dut.lk_key.value = 0
        dut.lk_tag.value = 0
        dut.lk_len.value = 0
        dut.res_ready.value = 1
        cocotb.start_soon(self._monitor())
        cocotb.start_soon(self._consumer())

    async def _monitor(self):
        dut = self.dut
        while True:
            await RisingEdge(dut.clock)
            if val(dut.res_valid) == 1 and val(dut.res_ready) == 1:
                self.results.append((val(dut.res_word), val(dut.res_tag), val(dut.res_hash)))
            if val(dut.act_we) == 1:
                addr = val(dut.act_addr)
                assert addr < len(self.actions), f"action write past the RAM: {addr}"
                self.actions[addr] = val(dut.act_word)
            if val(dut.edit_we) == 1:
                addr = val(dut.edit_addr)
                assert addr < self.abi.edit_entries, f"edit write past the table: {addr}"
                self.edits[addr] = val(dut.edit_word)

    def check_actions(self):
        bad = [(i, g, w) for i, (g, w) in enumerate(zip(self.actions, self.model.actions)) if g != w]
        assert not bad, f"action RAM (position, RTL, model): {bad[:8]}"
        assert self.edits == self.model.edits, f"edit table: RTL {self.edits}, model {self.model.edits}"

    async def _consumer(self):
        while True:
            await RisingEdge(self.dut.clock)
            self.dut.res_ready.value = int(not self.backpressure or self.r.random() < 0.4)

    async def reset(self):
        dut = self.dut
        dut.reset.value = 1
        await ClockCycles(dut.clock, 4)
        dut.reset.value = 0
        # The power-on clear walks every entry; lk_ready rises when it ends.
        n = self.g.emc_entries + self.g.mf_slots * self.g.mf_entries_per_slot
        for _ in range(n + 100):
            await RisingEdge(dut.clock)
            if val(dut.lk_ready) == 1:
                return
        raise AssertionError("lk_ready never rose after reset")

    async def write(self, reg, value, check_status=True):
        await self.axil.write_qword(reg, value)
        self.model.write(reg, value)
        if check_status and reg == self.abi.regs["CMD"]:
            # The STATUS read waits for the command: it reports its outcome.
            await self.check_read(self.abi.regs["STATUS"])

    async def read(self, reg):
        return await self.axil.read_qword(reg)

    async def check_read(self, reg):
        got = await self.read(reg)
        want = self.model.read(reg)
        if want is not None:
            assert got == want, f"register {reg:#x}: RTL {got:#x}, model {want:#x}"
        return got

    async def stage(self, words):
        for i, w in enumerate(words):
            await self.write(self.abi.regs["STAGE_KEY"] + 8 * i, w)

    async def lookups(self, keys, tag0=0):
        """Offers keys back to back; waits for every result; checks them."""
        dut = self.dut
        self.results.clear()
        tags = [(tag0 + i) & 0xFFFFFFFF for i in range(len(keys))]
        # Frame lengths for the byte counters: minimum to maximum frames.
        top = (1 << self.abi.stats_len_bits) - 1
        lens = [self.r.choice([0, 60, 64, 1514, 9000, top, self.r.randrange(top + 1)]) for _ in keys]
        i = 0
        dut.lk_valid.value = 1
        dut.lk_key.value = key_int(keys[0])
        dut.lk_tag.value = tags[0]
        dut.lk_len.value = lens[0]
        stalls = 0
        while i < len(keys):
            await RisingEdge(dut.clock)
            if val(dut.lk_ready) == 1:
                i += 1
                if i < len(keys):
                    dut.lk_key.value = key_int(keys[i])
                    dut.lk_tag.value = tags[i]
                    dut.lk_len.value = lens[i]
            else:
                stalls += 1
                assert stalls < 100 * len(keys) + 1000, "lk_ready stuck low"
        dut.lk_valid.value = 0
        for _ in range(100 * len(keys) + 100):
            if len(self.results) == len(keys):
                break
            await RisingEdge(dut.clock)
        assert len(self.results) == len(keys), f"{len(self.results)} of {len(keys)} results"
        for k, t, n, (word, tag, h) in zip(keys, tags, lens, self.results):
            want, want_h = self.model.lookup(k, t, n)
            assert tag == t, f"result order: tag {tag}, expected {t}"
            assert h == want_h, f"hash of tag {t}: {h:#x} vs {want_h:#x}"
            assert word == want, f"tag {t} key {k}: RTL {word:#018x}, model {want:#018x}"
        return stalls

    # ---- stimulus ------------------------------------------------------------

    def random_key(self):
        r = self.r
        return self.abi.key(
            in_port=r.randrange(1, 4),
            dl_type=0x0800,
            nw_proto=r.choice([6, 17]),
            nw_src=0x0A000000 | r.randrange(16),
            nw_dst=0x0A010000 | r.randrange(16),
            tp_src=r.randrange(1000, 1008),
            tp_dst=r.choice([53, 80]),
        )

    def random_mask(self):
        r = self.r
        fields = dict(in_port=0xFFFFFFFF, dl_type=0xFFFF)
        for name, full in (("nw_proto", 0xFF), ("nw_src", 0xFFFFFFFF), ("nw_dst", 0xFFFFFFFC),
                           ("tp_src", 0xFFFF), ("tp_dst", 0xFFFF)):
            if r.random() < 0.5:
                fields[name] = full
        return self.abi.key(**fields)

    async def random_edit(self):
        """An edit entry from the staging key's first words, at a random index."""
        a, r = self.abi, self.r
        await self.stage([r.getrandbits(64) for _ in range(a.key_words)])
        await self.write(a.regs["CMD"], a.command("EditWrite", 0, r.randrange(a.edit_entries)))

    async def random_command(self, known):
        a, g, r = self.abi, self.g, self.r
        cmd = a.regs["CMD"]
        if r.random() < 0.5:
            # A new action word for the entry writes that follow.
            await self.write(a.regs["STAGE_ACTION"], r.getrandbits(64))
        c = r.random()
        if c < 0.3:
            k = self.random_key()
            await self.stage(k)
            pos = r.choice(g.emc_candidates(hash_key(k)))
            await self.write(cmd, a.command("EmcWrite", 0, pos, r.randrange(1 << 24)))
            known.append(k)
        elif c < 0.65:
            s = r.randrange(g.mf_slots)
            if not self.model.mask_en[s]:
                await self.stage(self.random_mask())
                await self.write(cmd, a.command("MaskSet", s))
                return
            k = self.random_key()
            await self.stage(k)
            b = r.choice(g.cuckoo_buckets(hash_masked(k, self.model.masks[s])))
            idx = g.mf_index(b, r.randrange(g.mf_bucket_slots))
            await self.write(cmd, a.command("MfWrite", s, idx, r.randrange(1 << 24)))
            known.append(k)
        elif c < 0.7:
            await self.random_edit()
        elif c < 0.75:
            await self.write(cmd, a.command("EmcInvalidate", 0, r.randrange(g.emc_entries)))
        elif c < 0.82:
            s = r.randrange(g.mf_slots)
            await self.write(cmd, a.command("MfInvalidate", s, r.randrange(g.mf_entries_per_slot)))
        elif c < 0.86:
            s = r.randrange(g.mf_slots)
            # Change a slot's mask the way the driver must: invalidate first.
            for i in range(g.mf_entries_per_slot):
                if self.model.mf[s][i] is not None:
                    await self.write(cmd, a.command("MfInvalidate", s, i))
            await self.write(cmd, a.command("MaskClear", s))
            await self.stage(self.random_mask())
            await self.write(cmd, a.command("MaskSet", s))
        elif c < 0.93:
            # Rejected: index, slot or opcode out of range.
            bad = r.choice([
                a.command("EmcWrite", 0, g.emc_entries + r.randrange(100)),
                a.command("MfWrite", g.mf_slots, 0),
                a.command("MfInvalidate", 0, g.mf_entries_per_slot),
                a.command("MaskSet", g.mf_slots + 3),
                a.command("EditWrite", 0, a.edit_entries + r.randrange(100)),
                a.encode(CMD_OP=max(a.ops.values()) + 1 + r.randrange(10)),
            ])
            await self.write(cmd, bad)
        else:
            await self.write(cmd, a.command("Nop"))


@cocotb.test()
async def capability_and_registers(dut):
    tb = Tb(dut, 1)
    await tb.reset()
    a, g = tb.abi, tb.g
    regs = a.regs
    idw = await tb.read(regs["ID"])
    want_id = a.default_capability[regs["ID"]]
    assert idw == want_id, f"ID {idw:#x} vs {want_id:#x}"
    key = await tb.read(regs["CAP_KEY"])
    assert a.f("CAP_KEY_WORDS").get(key) == a.key_words
    assert a.f("CAP_HASH_ID").get(key) == a.hash_id
    emc = await tb.read(regs["CAP_EMC"])
    assert a.f("CAP_EMC_LOG2_ENTRIES").get(emc) == g.emc_log2_entries
    assert a.f("CAP_EMC_WAYS").get(emc) == a.emc_ways
    mf = await tb.read(regs["CAP_MF"])
    assert (a.f("CAP_MF_SLOTS").get(mf), a.f("CAP_MF_LOG2_BUCKETS").get(mf),
            a.f("CAP_MF_BUCKET_SLOTS").get(mf)) == (g.mf_slots, g.mf_log2_buckets, g.mf_bucket_slots)
    mq = await tb.read(regs["CAP_MISSQ"])
    assert a.f("CAP_MISSQ_LOG2_DEPTH").get(mq) == g.missq_log2_depth
    await tb.write(regs["SCRATCH"], 0x0123456789ABCDEF)
    await tb.check_read(regs["SCRATCH"])
    t0 = await tb.read(regs["TIME"])
    t1 = await tb.read(regs["TIME"])
    assert t1 > t0
    await tb.check_read(regs["CTRL"])
    await tb.check_read(regs["STATUS"])


@cocotb.test()
async def sub_word_write_at_byte_address(dut):
    """AXI4-Lite masters put the byte address on awaddr (0x34 with wstrb 0xf0
    for the upper half of SCRATCH); the register file selects the 64-bit
    word (`awaddr & ~7`) and the strobes pick the bytes."""
    tb = Tb(dut, 4)
    await tb.reset()
    regs = tb.abi.regs
    await tb.write(regs["SCRATCH"], 0x0123456789ABCDEF)
    await tb.axil.write(regs["SCRATCH"] + 4, (0xDEADBEEF).to_bytes(4, "little"))
    tb.model.write(regs["SCRATCH"], 0xDEADBEEF << 32, strb=0xF0)
    await tb.check_read(regs["SCRATCH"])


@cocotb.test()
async def random_tables_and_lookups(dut):
    tb = Tb(dut, 2)
    await tb.reset()
    regs = tb.abi.regs
    known = []
    tag = 0
    rounds = int(os.environ.get("FASTPATH_TB_ROUNDS", "12"))
    for rnd in range(rounds):
        await tb.random_edit()
        for _ in range(tb.r.randrange(4, 16)):
            await tb.random_command(known)
        keys = []
        for _ in range(int(os.environ.get("FASTPATH_TB_KEYS", "120"))):
            if known and tb.r.random() < 0.6:
                k = list(tb.r.choice(known))
                if tb.r.random() < 0.5:  # a neighbour: may hit a megaflow
                    k[7] ^= tb.r.randrange(1, 4) << 48
                keys.append(k)
            else:
                keys.append(tb.random_key())
        tb.backpressure = rnd % 3 == 2
        stalls = await tb.lookups(keys, tag)
        tb.backpressure = False
        tag += len(keys)
        if rnd % 3 == 0:
            assert stalls == 0, "lk_ready dropped with the consumer always ready"
        for n in ("LOOKUPS", "EMC_HITS", "MF_HITS", "MISSES", "MISS_DROPS", "COMMANDS"):
            await tb.check_read(regs["CNT_" + n])
        # Drain part of the miss queue, checking each head.
        for _ in range(tb.r.randrange(0, 6)):
            lvl = await tb.check_read(regs["MISSQ_LEVEL"])
            if lvl == 0:
                break
            await tb.check_read(regs["MISSQ_META"])
            for i in range(tb.abi.key_words):
                await tb.check_read(regs["MISSQ_KEY"] + 8 * i)
            await tb.write(regs["MISSQ_POP"], 1)
        # Per-entry hit counters of a few resident entries.
        for (table, slot, index) in list(tb.model.hits)[:6]:
            sel = tb.abi.encode(STATS_TABLE=table, STATS_SLOT=slot, STATS_INDEX=index)
            await tb.write(regs["STATS_SEL"], sel)
            await tb.check_read(regs["STATS_HITS"])
            await tb.check_read(regs["STATS_BYTES"])
        await tb.check_read(regs["STAGE_ACTION"])
        tb.check_actions()
    h = tb.model.counters
    assert h["EMC_HITS"] > 0 and h["MF_HITS"] > 0 and h["MISSES"] > 0, h
    assert any(tb.actions), "no action word was ever written"
    assert tb.edits, "no edit entry was ever written"
    assert any(tb.model.bytes.values()), "no byte counter was ever read non-zero"


@cocotb.test()
async def clear_tables_and_enable(dut):
    tb = Tb(dut, 3)
    await tb.reset()
    a, regs = tb.abi, tb.abi.regs
    known = []
    for _ in range(20):
        await tb.random_command(known)
    await tb.lookups(known[:20] or [tb.random_key()], 0)
    # CTRL.CLEAR_TABLES | CTRL.CLEAR_COUNTERS: poll BUSY, then all miss.
    await tb.write(regs["CTRL"], a.encode(CTRL_ENABLE=1, CTRL_CLEAR_TABLES=1, CTRL_CLEAR_COUNTERS=1))
    for _ in range(10000):
        st = await tb.read(regs["STATUS"])
        if a.f("STATUS_BUSY").get(st) == 0:
            break
    else:
        raise AssertionError("STATUS.BUSY never cleared")
    tb.check_actions()
    assert not any(tb.actions), "a table clear leaves every action word 0"
    await tb.lookups(known[:20] or [tb.random_key()], 100)
    await tb.check_read(regs["CNT_LOOKUPS"])
    # Disabled: lk_ready stays low and nothing is accepted.
    await tb.write(regs["CTRL"], a.encode(CTRL_ENABLE=0))
    await tb.check_read(regs["CTRL"])
    for _ in range(20):
        await RisingEdge(dut.clock)
        assert val(dut.lk_ready) == 0
    await tb.write(regs["CTRL"], a.encode(CTRL_ENABLE=1))
    await tb.lookups([tb.random_key() for _ in range(10)], 200)
    await tb.check_read(regs["CNT_LOOKUPS"])


@pytest.mark.parametrize("sim", SIMS)
def test_fastpath_top(rtl, sim):
    # Icarus evaluates the 512-bit XOR trees slowly (~200 simulated ns/s):
    # it runs a shorter random phase; Verilator the full one.
    env = {"FASTPATH_TB_ROUNDS": "4", "FASTPATH_TB_KEYS": "48"} if sim == "icarus" else {}
    run_bench(sim, "fastpath_top", "test_fastpath_top", extra_env=env)
