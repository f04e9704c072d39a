"""fastpath_parser (64-bit) and fastpath_parser_512: frames in on an
AXI-Stream port (cocotbext-axi AxiStreamSource, tkeep/tlast, the in port in
tuser), key and meta word out, against model.ParserModel (the hardware's
contract: extract's verdict within the parse window, else an exception).

Crafted: one frame per protocol (Ethernet, LLC/SNAP, 1 and 2 VLAN tags under
vlan-limit 1 and 2, ARP/RARP, IPv4 with options and first/later fragments,
IPv6 with hop-by-hop/routing/destination-options/AH/fragment headers, TCP,
UDP, SCTP, ICMP, ICMPv6), every cut of each (truncation at every header
boundary), one frame per malformed reason and exception, headers at the
window's edge. Every reason and exception code must come out of the RTL.
Random: generated frames with source pauses and `m_ready` low, results
checked in order and counted (none lost, none extra)."""

import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSource

from common import SIMS, run_bench, seeded, val
from model import load_abi
from model.parser import ParserModel
from parser_frames import cuts, good_frames, malformed_frames, random_frame

U64 = (1 << 64) - 1


class Tb:
    def __init__(self, dut, seed):
        self.dut = dut
        self.model = ParserModel(load_abi())
        self.r = seeded(seed)
        self.results = []
        self.ready_pct = 100
        cocotb.start_soon(Clock(dut.clock, 4, unit="ns").start())
        self.src = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s"), dut.clock, dut.reset)
        dut.m_ready.value = 1
        dut.vlan_limit.value = 1
        cocotb.start_soon(self._sink())

    async def _sink(self):
        """Takes results (m_valid and m_ready at a clock edge), then draws
        the next m_ready."""
        dut = self.dut
        while True:
            await RisingEdge(dut.clock)
            if val(dut.m_valid) == 1 and val(dut.m_ready) == 1:
                k = val(dut.m_key)
                assert k is not None, "m_key holds X"
                self.results.append(([(k >> (64 * i)) & U64 for i in range(8)], val(dut.m_meta)))
            dut.m_ready.value = int(self.r.randrange(100) < self.ready_pct)

    async def reset(self):
        self.dut.reset.value = 1
        await ClockCycles(self.dut.clock, 4)
        self.dut.reset.value = 0
        await ClockCycles(self.dut.clock, 2)

    def pauses(self, valid_pct):
        r = self.r
        while True:
            yield int(r.randrange(100) >= valid_pct)

    async def run(self, frames, vlan_limit, valid_pct=100, ready_pct=100):
        """Sends (frame, in port) pairs; checks every result in order and
        that there is one per frame. Returns the decoded metas."""
        dut = self.dut
        self.results.clear()
        self.ready_pct = ready_pct
        dut.vlan_limit.value = vlan_limit
        self.src.set_pause_generator(self.pauses(valid_pct) if valid_pct < 100 else None)
        for f, port in frames:
            await self.src.send(AxiStreamFrame(f, tuser=port))
        beats = sum(len(f) // self.src.byte_lanes + 2 for f, _ in frames)
        budget = (beats + 50) * 100 // max(1, min(valid_pct, ready_pct)) + 1000
        for _ in range(budget):
            await RisingEdge(dut.clock)
            if len(self.results) >= len(frames) and self.src.empty() and not self.src.active:
                break
        await ClockCycles(dut.clock, 40)  # nothing more may come out
        self.ready_pct = 100
        assert len(self.results) == len(frames), \
            f"{len(self.results)} results for {len(frames)} frames"
        metas = []
        for i, ((f, port), (key, meta)) in enumerate(zip(frames, self.results)):
            want_key, want_meta = self.model.parse(f, port, vlan_limit)
            got, want = self.model.decode_meta(meta), self.model.decode_meta(want_meta)
            assert (key, meta) == (want_key, want_meta), (
                f"frame {i} ({len(f)} bytes, port {port}, vlan_limit {vlan_limit}):\n"
                f"  RTL   meta {got}\n        key {[hex(w) for w in key]}\n"
                f"  model meta {want}\n        key {[hex(w) for w in want_key]}\n"
                f"  frame {f.hex()}")
            metas.append(got)
        return metas


@cocotb.test()
async def crafted_frames(dut):
    """Every protocol under both VLAN limits, every cut, every reason."""
    tb = Tb(dut, 21)
    await tb.reset()
    seen = set()

    def note(metas):
        for m in metas:
            seen.add(m["exception"] or m["malformed"])
            if m["bad_ip_version"]:
                seen.add("bad_ip_version")

    good = [f for _, f in good_frames()]
    for limit in (0, 1, 2):
        note(await tb.run([(f, i * 7919 & 0xFFFF) for i, f in enumerate(good)], limit))
    for limit in (1, 2):
        # An AXI-Stream frame has at least one byte: cuts start at 1.
        note(await tb.run([(f, i & 0xFFFF) for i, f in enumerate(cuts(good)) if f], limit))
    for limit in (1, 2):
        note(await tb.run([(f, 0xFFFF - i) for i, (_, f, lim, _) in enumerate(malformed_frames())
                           if lim == limit], limit))
    want = set(tb.model.reasons) | set(tb.model.exceptions)
    assert want <= seen, f"never produced: {sorted(want - seen)}"


@cocotb.test()
async def random_frames_with_backpressure(dut):
    """Random frames, source pauses and m_ready low; order and count."""
    tb = Tb(dut, 22)
    await tb.reset()
    r = tb.r
    for valid_pct, ready_pct in [(100, 100), (100, 30), (40, 100), (50, 50), (20, 20)]:
        frames = [(f, r.getrandbits(16)) for f in (random_frame(r) for _ in range(300)) if f]
        await tb.run(frames, r.choice([1, 2]), valid_pct, ready_pct)


@cocotb.test()
async def reset_drops_a_partial_frame(dut):
    """A frame cut by reset leaves no result; the next frame parses."""
    tb = Tb(dut, 23)
    await tb.reset()
    long = good_frames()[3][1]
    tb.src.set_pause_generator(None)
    await tb.src.send(AxiStreamFrame(long, tuser=5))
    await ClockCycles(dut.clock, 3)  # a few beats in, tlast not yet
    dut.reset.value = 1
    await RisingEdge(dut.clock)
    tb.src.clear()
    await ClockCycles(dut.clock, 3)
    dut.reset.value = 0
    await ClockCycles(dut.clock, 30)
    assert tb.results == [], "a frame cut by reset gave a result"
    await tb.run([(long, 6)], 1)


@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("top", ["fastpath_parser", "fastpath_parser_512"])
def test_parser(rtl, sim, top):
    run_bench(sim, top, "test_parser")
