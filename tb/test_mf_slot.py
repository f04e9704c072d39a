"""fastpath_mf_slot: one megaflow mask slot. Entries (masked keys) written
per bucket and way (and `wr_all` clears) with the hash of the masked key
on `wr_hash`, then keys one per clock: hit, index and flow against the
model (two banks, in each the first valid way with the key's signature is
the only one compared; disabled slot never hits)."""


import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from common import SIMS, bench_geometry, key_int, run_bench, seeded, val
from model import hash_key, hash_masked
from stages import entry_word, find_delay, load_abi

KEY_D4 = 4  # the top feeds key_d4 = the key four clocks later (EMC stage's delay line)


@cocotb.test()
async def megaflow_slot_matches_model(dut):
    abi, g, r = load_abi(), bench_geometry(), seeded(7)
    cocotb.start_soon(Clock(dut.clock, 4, unit="ns").start())
    mask = abi.key(in_port=0xFFFFFFFF, dl_type=0xFFFF, nw_src=0xFFFFFFF0, tp_dst=0xFFFF)
    dut.mask.value = key_int(mask)
    dut.enabled.value = 1
    dut.wr_en.value = 0
    dut.wr_all.value = 0
    dut.key.value = 0
    dut.key_d4.value = 0
    dut.wr_hash.value = 0
    dut.kw_en.value = 0
    n = g.mf_entries_per_slot
    table = [None] * n

    async def write(bucket, way, key, flow, valid=True, all_ways=False):
        await FallingEdge(dut.clock)
        dut.wr_en.value = 1
        dut.wr_all.value = int(all_ways)
        dut.wr_bucket.value = bucket
        dut.wr_way.value = way
        mk = [k & m for k, m in zip(key, mask)]
        dut.wr_data.value = entry_word(abi, mk, flow, valid)
        dut.wr_hash.value = hash_key(mk)
        await FallingEdge(dut.clock)
        dut.wr_en.value = 0
        dut.wr_all.value = 0
        # The key follows its way word by one clock (the top's kw_* register).
        dut.kw_en.value = int(not all_ways)
        dut.kw_bucket.value = bucket
        dut.kw_way.value = way
        dut.kw_key.value = key_int(mk)
        await FallingEdge(dut.clock)
        dut.kw_en.value = 0
        ways = range(g.mf_bucket_slots) if all_ways else [way]
        for w in ways:
            table[g.mf_index(bucket, w)] = (mk, flow) if valid else None

    def rkey():
        return abi.key(in_port=r.randrange(1, 3), dl_type=0x800, nw_src=r.randrange(256),
                       tp_dst=r.randrange(3), tp_src=r.randrange(1 << 16))

    for b in range(g.mf_buckets):
        await write(b, 0, [0] * abi.key_words, 0, valid=False, all_ways=True)

    def model(k, enabled):
        if not enabled:
            return (0, None, None)
        mk = [a & m for a, m in zip(k, mask)]
        found = g.mf_lookup(table, mk, hash_masked(k, mask))
        if found is None:
            return (0, None, None)
        return (1, found[0], found[1][1])

    for rnd in range(4):
        enabled = rnd != 2
        dut.enabled.value = int(enabled)
        keys = []
        for _ in range(24):
            k = rkey()
            b = r.choice(g.cuckoo_buckets(hash_masked(k, mask)))
            await write(b, r.randrange(g.mf_bucket_slots), k, r.randrange(1 << 24),
                        valid=r.random() < 0.9)
            keys.append(k)
        probes = []
        for _ in range(120):
            k = list(r.choice(keys)) if r.random() < 0.7 else rkey()
            if r.random() < 0.3:  # outside the mask: still the same megaflow
                k[2] ^= r.getrandbits(64)
            probes.append(k)
        want = [model(k, enabled) for k in probes]
        outs = []
        seq = probes + [probes[-1]] * 12
        for i, k in enumerate(seq):
            await FallingEdge(dut.clock)
            hit = val(dut.hit)
            outs.append((hit, val(dut.index) if hit else None, val(dut.flow) if hit else None))
            dut.key.value = key_int(k)
            dut.key_d4.value = key_int(seq[i - KEY_D4] if i >= KEY_D4 else [0] * abi.key_words)
        d = find_delay(outs, want)
        assert d is not None, f"round {rnd}: megaflow slot differs from the model at every delay"
        if enabled:
            assert any(w[0] for w in want)


@pytest.mark.parametrize("sim", SIMS)
def test_mf_slot(rtl, sim):
    run_bench(sim, "fastpath_mf_slot", "test_mf_slot")
