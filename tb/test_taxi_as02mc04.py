"""The taxi wrapper of the AS02MC04 (boards/as02mc04/taxi) driven as taxi's
fpga_core drives it: each SFP MAC's 64-bit RX stream in its own 390.625 MHz
clock with no tready and tuser = {timestamp, bad}, the MAC TX with tready,
the cndm core's TX (with its completion tag in tid) and RX in the MAC
clocks, and the 32-bit control BAR in pcie_clk (250 MHz) through the split
that build.sh puts in the cndm core. Results are checked against the parser
and pipeline models (tb/model). Verilator only (SystemVerilog interfaces)."""

from __future__ import annotations


import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from common import REPO, run_bench

BOARD = REPO / "boards" / "as02mc04" / "taxi"
RTL_MODULES = ["fastpath_nic", "fastpath_axil_32to64"]
# The split's select bit: our register file is BAR0 + 8 MB (README.md).
FASTPATH_BAR_OFFSET = 1 << 23
# MAC clocks in ps: RX clocks are recovered from the line, so each differs.
MAC_RX_PS = (2560, 2562)
MAC_TX_PS = (2560, 2558)


def _abi():
    from model.abi import load_abi

    return load_abi()


def udp_frame(n: int, payload: int = 30) -> bytes:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    p = (Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01") /
         IP(src="10.0.0.1", dst=f"10.0.1.{n}") / UDP(sport=1000 + n, dport=53) /
         bytes(i % 256 for i in range(payload)))
    return bytes(p)


def beats(data: bytes):
    return [data[i:i + 8] for i in range(0, len(data), 8)]


class Board:
    def __init__(self, dut):
        self.dut = dut
        cocotb.start_soon(Clock(dut.clk, 4, unit="ns").start())
        for i in range(2):
            cocotb.start_soon(Clock(self.sig(f"mac{i}_rx_clk"), MAC_RX_PS[i], unit="ps").start())
            cocotb.start_soon(Clock(self.sig(f"mac{i}_tx_clk"), MAC_TX_PS[i], unit="ps").start())
            for name in ("mac{}_rx_tvalid", "cndm{}_tx_tvalid", "mac{}_tx_cpl_tvalid"):
                self.sig(name.format(i)).value = 0
            self.sig(f"mac{i}_tx_tready").value = 1
            self.sig(f"cndm{i}_rx_tready").value = 1
            self.sig(f"cndm{i}_tx_cpl_tready").value = 1
        for name in ("s_axil_awvalid", "s_axil_wvalid", "s_axil_arvalid"):
            getattr(dut, name).value = 0
        self.cpls = ([], [])
        for i in range(2):
            cocotb.start_soon(self._cpl_monitor(i))

    async def _cpl_monitor(self, i: int):
        """The cndm core's side of TX completions: the tags it is given."""
        clk = self.sig(f"mac{i}_tx_clk")
        while True:
            await RisingEdge(clk)
            if int(self.sig(f"cndm{i}_tx_cpl_tvalid").value) and \
                    int(self.sig(f"cndm{i}_tx_cpl_tready").value):
                self.cpls[i].append(int(self.sig(f"cndm{i}_tx_cpl_tid").value))

    def sig(self, name):
        return getattr(self.dut, name)

    async def reset(self):
        """taxi's resets: pcie_rst and each MAC's rx/tx reset, active high."""
        d = self.dut
        d.rst.value = 1
        for i in range(2):
            self.sig(f"mac{i}_rx_rst").value = 1
            self.sig(f"mac{i}_tx_rst").value = 1
        await ClockCycles(d.clk, 10)
        d.rst.value = 0
        await ClockCycles(d.clk, 5)
        for i in range(2):  # the MACs come out of reset later (GT lock)
            self.sig(f"mac{i}_rx_rst").value = 0
            self.sig(f"mac{i}_tx_rst").value = 0
        await ClockCycles(d.clk, 2000)  # the NIC's power-on table clears

    async def mac_rx(self, i: int, frame: bytes, bad: bool = False):
        """One frame from MAC i's RX: consecutive beats, no tready."""
        clk = self.sig(f"mac{i}_rx_clk")
        bs = beats(frame)
        await RisingEdge(clk)
        for n, b in enumerate(bs):
            last = n + 1 == len(bs)
            self.sig(f"mac{i}_rx_tdata").value = int.from_bytes(b, "little")
            self.sig(f"mac{i}_rx_tkeep").value = (1 << len(b)) - 1
            self.sig(f"mac{i}_rx_tlast").value = int(last)
            # tuser[0]: bad frame (last beat); the upper bits a timestamp.
            self.sig(f"mac{i}_rx_tuser").value = (0x1234 << 1) | int(bad and last)
            self.sig(f"mac{i}_rx_tvalid").value = 1
            await RisingEdge(clk)
        self.sig(f"mac{i}_rx_tvalid").value = 0

    async def cndm_tx(self, i: int, data: bytes, tid: int):
        """One frame from the cndm core's TX i, with its tag."""
        clk = self.sig(f"mac{i}_tx_clk")
        bs = beats(data)
        for n, b in enumerate(bs):
            self.sig(f"cndm{i}_tx_tdata").value = int.from_bytes(b, "little")
            self.sig(f"cndm{i}_tx_tkeep").value = (1 << len(b)) - 1
            self.sig(f"cndm{i}_tx_tlast").value = int(n + 1 == len(bs))
            self.sig(f"cndm{i}_tx_tid").value = tid
            self.sig(f"cndm{i}_tx_tuser").value = 0
            self.sig(f"cndm{i}_tx_tvalid").value = 1
            while True:
                await RisingEdge(clk)
                if int(self.sig(f"cndm{i}_tx_tready").value):
                    break
        self.sig(f"cndm{i}_tx_tvalid").value = 0

    async def recv(self, prefix: str, clk_name: str, timeout_ns: int = 40000,
                   contiguous: bool = False):
        """One frame from a master stream (`mac{i}_tx` or `cndm{i}_rx`);
        with `contiguous`, tvalid must not drop inside the frame (a MAC TX
        aborts the frame then)."""
        clk = self.sig(clk_name)
        data, started, tuser = b"", False, 0
        for _ in range(timeout_ns * 1000 // 2500):
            await RisingEdge(clk)
            v = int(self.sig(f"{prefix}_tvalid").value)
            if started and contiguous:
                assert v, f"{prefix}: tvalid dropped inside a frame"
            if not v or not int(self.sig(f"{prefix}_tready").value):
                continue
            started = True
            keep = int(self.sig(f"{prefix}_tkeep").value)
            n = bin(keep).count("1")
            assert keep == (1 << n) - 1, f"keep {keep:#x} not contiguous"
            data += int(self.sig(f"{prefix}_tdata").value).to_bytes(8, "little")[:n]
            tuser |= int(self.sig(f"{prefix}_tuser").value)
            if int(self.sig(f"{prefix}_tlast").value):
                return data, tuser
        raise AssertionError(f"no frame on {prefix} in {timeout_ns} ns")

    async def idle(self, prefixes, ns: int = 3000):
        for _ in range(ns // 4):
            await RisingEdge(self.dut.clk)
            for p in prefixes:
                assert int(self.sig(f"{p}_tvalid").value) == 0, f"{p}: unexpected frame"


def parse_rx_meta(abi, got: bytes):
    hq = abi.data["host_queues"]
    h = hq["qdma_c2h_header_bytes"]
    return [int.from_bytes(got[i:i + 8], "little") for i in range(0, h, 8)], got[h:]


def model_for(abi):
    from common import bench_geometry
    from model.pipeline import PipelineModel

    return PipelineModel(abi, bench_geometry())


@cocotb.test()
async def miss_from_each_mac_reaches_its_cndm_rx_with_meta(dut):
    from model.parser import ParserModel

    abi = _abi()
    hq, rx = abi.data["host_queues"], abi.layouts["HOST_RX_META"]
    model, parser = model_for(abi), ParserModel(abi)
    b = Board(dut)
    await b.reset()
    for port, n in ((0, 1), (1, 2), (1, 3), (0, 4)):
        frame = udp_frame(n, payload=20 + 41 * n)  # short and multi-beat
        key, _ = parser.parse(frame, hq["mac_port_base"] + port, 1)
        assert abi.f("RESULT_KIND").get(model.expected(key)) == abi.kinds["Miss"]
        cocotb.start_soon(b.mac_rx(port, frame))
        got, tuser = await b.recv(f"cndm{port}_rx", f"mac{port}_rx_clk")
        words, body = parse_rx_meta(abi, got)
        assert body == frame, "the frame follows the header unchanged"
        assert rx["HR_REASON"].get(words) == hq["reasons"]["Miss"]
        assert rx["HR_IN_PORT"].get(words) == hq["mac_port_base"] + port
        assert rx["HR_FRAME_LEN"].get(words) == len(frame)
        assert tuser == 0, "no bad flag, no timestamp through the pipeline"
    await b.idle(["mac0_tx", "mac1_tx", "cndm0_rx", "cndm1_rx"])


@cocotb.test()
async def bad_frame_from_mac_is_dropped(dut):
    abi = _abi()
    b = Board(dut)
    await b.reset()
    bad, good = udp_frame(8, payload=100), udp_frame(9, payload=30)
    await b.mac_rx(0, bad, bad=True)
    cocotb.start_soon(b.mac_rx(0, good))
    got, _ = await b.recv("cndm0_rx", "mac0_rx_clk")
    _, body = parse_rx_meta(abi, got)
    assert body == good, "the bad frame never reaches the host"
    await b.idle(["cndm0_rx", "cndm1_rx"])


@cocotb.test()
async def cndm_tx_output_leaves_its_mac_and_is_completed(dut):
    abi = _abi()
    hq, tx = abi.data["host_queues"], abi.layouts["HOST_TX_META"]
    b = Board(dut)
    await b.reset()
    for src, port, n, tid in ((0, 1, 4, 0x11), (1, 0, 5, 0x22), (1, 1, 6, 0x33)):
        frame = udp_frame(n, payload=10 + 300 * n)  # up to 1.8 KB: many beats
        meta = tx["HT_KIND"].put(0, hq["tx_kinds"]["Output"])
        meta = tx["HT_PORT"].put(meta, hq["mac_port_base"] + port)
        meta = tx["HT_FRAME_LEN"].put(meta, len(frame))
        hdr = meta.to_bytes(hq["qdma_h2c_header_bytes"], "little")
        sent = cocotb.start_soon(b.cndm_tx(src, hdr + frame, tid))
        got, tuser = await b.recv(f"mac{port}_tx", f"mac{port}_tx_clk", contiguous=True)
        assert got == frame, "the header is stripped, the frame unchanged"
        assert tuser == 0, "not marked bad"
        await sent
        await ClockCycles(b.sig(f"mac{src}_tx_clk"), 20)
        # The cndm core's completion: its tag, once, on the port it used.
        assert b.cpls[src] == [tid], f"completions {b.cpls}"
        b.cpls[src].clear()
    await b.idle(["cndm0_rx", "cndm1_rx", "mac0_tx", "mac1_tx"])


@cocotb.test()
async def mac_rx_overflow_drops_whole_frames(dut):
    """With the host not taking frames, the MAC RX FIFO fills (the MAC has
    no tready): it drops whole frames, counted by rx_drop, and every frame
    that gets through is intact and in order."""
    abi = _abi()
    b = Board(dut)
    await b.reset()
    drops = []

    async def count_drops():
        clk = b.sig("mac0_rx_clk")
        while True:
            await RisingEdge(clk)
            if int(b.sig("rx_drop0").value):
                drops.append(1)

    cocotb.start_soon(count_drops())
    b.sig("cndm0_rx_tready").value = 0
    frames = [udp_frame(10 + n % 200, payload=1400 + n) for n in range(48)]
    for f in frames:
        await b.mac_rx(0, f)
    await ClockCycles(dut.clk, 500)
    assert drops, "a full MAC RX FIFO drops frames"
    b.sig("cndm0_rx_tready").value = 1
    got = []
    while True:
        try:
            data, _ = await b.recv("cndm0_rx", "mac0_rx_clk", timeout_ns=20000)
        except AssertionError:
            break
        got.append(parse_rx_meta(abi, data)[1])
    it = iter(frames)
    assert all(any(g == f for f in it) for g in got), "intact frames, in order"
    assert len(got) + len(drops) == len(frames), f"{len(got)} got + {len(drops)} dropped"


async def write64(axil, reg: int, value: int, model=None):
    """A 64-bit register over taxi's 32-bit BAR: low half, then high."""
    await axil.write_dword(FASTPATH_BAR_OFFSET + reg, value & 0xFFFFFFFF)
    await axil.write_dword(FASTPATH_BAR_OFFSET + reg + 4, value >> 32)
    if model is not None:
        model.write(reg, value)


@cocotb.test()
async def control_bar_split_and_emc_output_mac0_to_mac1(dut):
    from cocotbext.axi import AxiLiteBus, AxiLiteMaster

    from model import hash_key
    from model.parser import ParserModel

    abi = _abi()
    hq, regs, ae = abi.data["host_queues"], abi.regs, abi.layouts["ACTION_ENTRY"]
    model = model_for(abi)
    b = Board(dut)
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk)
    await b.reset()
    # Below the select bit the cndm core answers, as without the wrapper.
    assert await axil.read_dword(0x0120) == 0xC0DE0120
    # Above it, our register file (4 KB, repeating): the scratch register.
    await write64(axil, regs["SCRATCH"], 0x0123456789ABCDEF, model)
    lo = await axil.read_dword(FASTPATH_BAR_OFFSET + regs["SCRATCH"])
    hi = await axil.read_dword(FASTPATH_BAR_OFFSET + 0x1000 + regs["SCRATCH"] + 4)
    assert (hi << 32 | lo) == model.read(regs["SCRATCH"])

    frame = udp_frame(7, payload=90)
    key, _ = ParserModel(abi).parse(frame, hq["mac_port_base"], 1)
    action = ae["AE_KIND"].put(0, abi.data["action_kinds"]["Output"])
    action = ae["AE_OUT_PORTS"].put(action, 1 << 1)  # MAC port 1
    await write64(axil, regs["STAGE_ACTION"], action, model)
    for i, w in enumerate(key):
        await write64(axil, regs["STAGE_KEY"] + 8 * i, w, model)
    pos = model.g.emc_candidates(hash_key(key))[0]
    await write64(axil, regs["CMD"], abi.command("EmcWrite", 0, pos, 77), model)
    assert abi.f("STATUS_BUSY").get(
        await axil.read_dword(FASTPATH_BAR_OFFSET + regs["STATUS"])) == 0
    assert abi.f("RESULT_KIND").get(model.expected(key)) == abi.kinds["Emc"]
    cocotb.start_soon(b.mac_rx(0, frame))
    got, _ = await b.recv("mac1_tx", "mac1_tx_clk", contiguous=True)
    assert got == frame
    await b.idle(["cndm0_rx", "cndm1_rx", "mac0_tx"])


def test_taxi_as02mc04(rtl):
    run_bench(
        "verilator", "fastpath_taxi_harness", "test_taxi_as02mc04",
        sources=[rtl / f"{m}.v" for m in RTL_MODULES]
        + [BOARD / "sim" / "taxi_if.sv", BOARD / "fastpath_taxi_lib.sv",
           BOARD / "fastpath_taxi.sv", BOARD / "sim" / "fastpath_taxi_harness.sv"],
        name="taxi_as02mc04", tb_geometry=False,
    )
