"""The OpenNIC box_250mhz plugin (boards/opennic) driven through
the shell's interface as the shell drives it: 512-bit streams with tuser
fields, the 32-bit AXI4-Lite in its own 125 MHz clock, active-low resets
answered by a done handshake. Verilator only (the wrapper is SystemVerilog)."""

from __future__ import annotations


import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from common import REPO, run_bench

PLUGIN = REPO / "boards" / "opennic"
RTL_MODULES = ["fastpath_nic", "fastpath_axil_32to64", "fastpath_axis_512to64",
               "fastpath_axis_64to512"]
RX, TX = "s_axis_adap_rx_250mhz", "m_axis_adap_tx_250mhz"
H2C, C2H = "s_axis_qdma_h2c", "m_axis_qdma_c2h"
CMAC_DST_BASE = 6  # open-nic-shell packet_adapter_tx: tuser_dst bit of CMAC 0


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


class Box:
    def __init__(self, dut):
        self.dut = dut
        cocotb.start_soon(Clock(dut.axis_aclk, 4, unit="ns").start())
        cocotb.start_soon(Clock(dut.axil_aclk, 8, unit="ns").start())
        for name in (f"{RX}_tvalid", f"{H2C}_tvalid", "s_axil_awvalid", "s_axil_wvalid",
                     "s_axil_arvalid"):
            getattr(dut, name).value = 0
        dut.s_axil_bready.value = 1
        dut.s_axil_rready.value = 1
        dut.m_axis_adap_tx_250mhz_tready.value = (1 << len(dut.m_axis_adap_tx_250mhz_tready)) - 1
        dut.m_axis_qdma_c2h_tready.value = 1
        dut.mod_rstn.value = 0xFFFF
        dut.box_rstn.value = 1

    async def reset(self):
        """The system configuration block's handshake: rstn low, wait done."""
        d = self.dut
        await RisingEdge(d.axil_aclk)
        d.mod_rstn.value = 0xFFFE
        d.box_rstn.value = 0
        await ClockCycles(d.axil_aclk, 4)
        assert int(d.mod_rst_done.value) & 1 == 0, "done must fall with the reset"
        assert int(d.box_rst_done.value) == 0
        assert int(d.mod_rst_done.value) >> 1 == 0x7FFF, "unused pairs report done"
        d.mod_rstn.value = 0xFFFF
        d.box_rstn.value = 1
        for _ in range(1000):
            await RisingEdge(d.axil_aclk)
            if int(d.mod_rst_done.value) & 1 and int(d.box_rst_done.value):
                break
        else:
            raise AssertionError("mod_rst_done / box_rst_done never rose")
        await ClockCycles(d.axis_aclk, 2000)  # the NIC's power-on table clears

    async def send(self, prefix: str, idx: int, frame: bytes, width: int = 1):
        """One frame on a 512-bit slave interface `idx` of `width` (shell side)."""
        d = self.dut
        beats = [frame[i:i + 64] for i in range(0, len(frame), 64)]
        for n, b in enumerate(beats):
            getattr(d, f"{prefix}_tdata").value = int.from_bytes(b, "little") << (512 * idx)
            getattr(d, f"{prefix}_tkeep").value = ((1 << len(b)) - 1) << (64 * idx)
            getattr(d, f"{prefix}_tlast").value = int(n + 1 == len(beats)) << idx
            getattr(d, f"{prefix}_tuser_size").value = len(frame) << (16 * idx)
            getattr(d, f"{prefix}_tvalid").value = 1 << idx
            while True:
                await RisingEdge(d.axis_aclk)
                if (int(getattr(d, f"{prefix}_tready").value) >> idx) & 1:
                    break
        getattr(d, f"{prefix}_tvalid").value = 0

    async def recv(self, prefix: str, idx: int, timeout: int = 5000):
        """One frame from master interface `idx`: (bytes, tuser_size, tuser_dst)
        of its last beat and tuser_size of its first."""
        d = self.dut
        data, first_size = b"", None
        for _ in range(timeout):
            await RisingEdge(d.axis_aclk)
            v = (int(getattr(d, f"{prefix}_tvalid").value) >> idx) & 1
            r = (int(getattr(d, f"{prefix}_tready").value) >> idx) & 1
            if not (v and r):
                continue
            word = (int(getattr(d, f"{prefix}_tdata").value) >> (512 * idx)) & ((1 << 512) - 1)
            keep = (int(getattr(d, f"{prefix}_tkeep").value) >> (64 * idx)) & ((1 << 64) - 1)
            n = bin(keep).count("1")
            assert keep == (1 << n) - 1, f"keep {keep:#x} not contiguous"
            data += word.to_bytes(64, "little")[:n]
            size = (int(getattr(d, f"{prefix}_tuser_size").value) >> (16 * idx)) & 0xFFFF
            if first_size is None:
                first_size = size
            if (int(getattr(d, f"{prefix}_tlast").value) >> idx) & 1:
                dst = (int(getattr(d, f"{prefix}_tuser_dst").value) >> (16 * idx)) & 0xFFFF
                return data, first_size, size, dst
        raise AssertionError(f"no frame on {prefix}[{idx}] in {timeout} clocks")

    async def idle(self, prefix: str, clocks: int = 300):
        for _ in range(clocks):
            await RisingEdge(self.dut.axis_aclk)
            assert int(getattr(self.dut, f"{prefix}_tvalid").value) == 0, f"{prefix}: unexpected frame"


@cocotb.test()
async def miss_from_cmac_reaches_c2h_with_meta_header(dut):
    abi = _abi()
    hq = abi.data["host_queues"]
    rx = abi.layouts["HOST_RX_META"]
    box = Box(dut)
    await box.reset()
    for port, n in ((0, 1), (1, 2), (0, 3)):
        if port >= len(dut.s_axis_adap_rx_250mhz_tvalid):
            continue
        frame = udp_frame(n, payload=20 + 37 * n)  # short and multi-beat frames
        cocotb.start_soon(box.send(RX, port, frame))
        got, first_size, _, _ = await box.recv(C2H, 0)
        h = hq["qdma_c2h_header_bytes"]
        words = [int.from_bytes(got[i:i + 8], "little") for i in range(0, h, 8)]
        assert got[h:] == frame, "the frame follows the header unchanged"
        assert first_size == len(frame) + h, "tuser_size valid from the first beat"
        assert rx["HR_REASON"].get(words) == hq["reasons"]["Miss"]
        assert rx["HR_IN_PORT"].get(words) == hq["mac_port_base"] + port
        assert rx["HR_FRAME_LEN"].get(words) == len(frame)
    await box.idle(TX)


@cocotb.test()
async def h2c_output_leaves_on_its_cmac(dut):
    abi = _abi()
    hq = abi.data["host_queues"]
    tx = abi.layouts["HOST_TX_META"]
    box = Box(dut)
    await box.reset()
    ports = len(dut.m_axis_adap_tx_250mhz_tvalid)
    for port, n in ((ports - 1, 4), (0, 5), (ports - 1, 6)):
        frame = udp_frame(n, payload=10 + 45 * n)
        meta = tx["HT_KIND"].put(0, hq["tx_kinds"]["Output"])
        meta = tx["HT_PORT"].put(meta, hq["mac_port_base"] + port)
        meta = tx["HT_FRAME_LEN"].put(meta, len(frame))
        hdr = meta.to_bytes(hq["qdma_h2c_header_bytes"], "little")
        cocotb.start_soon(box.send(H2C, 0, hdr + frame))
        got, _, last_size, dst = await box.recv(TX, port)
        assert got == frame, "the header is stripped, the frame unchanged"
        assert dst == 1 << (CMAC_DST_BASE + port), "the adapter's port bit"
        assert last_size == len(frame), "tuser_size on the last beat is the frame length"
    await box.idle(C2H)


async def write64(axil, reg: int, value: int):
    """A 64-bit register over the shell's 32-bit bus: low half, then high
    (the write of the high half commits, abi::regs)."""
    await axil.write_dword(reg, value & 0xFFFFFFFF)
    await axil.write_dword(reg + 4, value >> 32)


@cocotb.test()
async def output_entry_forwards_cmac0_to_cmac1(dut):
    from cocotbext.axi import AxiLiteBus, AxiLiteMaster

    from common import bench_geometry
    from model import hash_key
    from model.parser import ParserModel

    abi = _abi()
    hq, regs, ae = abi.data["host_queues"], abi.regs, abi.layouts["ACTION_ENTRY"]
    box = Box(dut)
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.axil_aclk)
    await box.reset()
    frame = udp_frame(7, payload=90)
    key, _ = ParserModel(abi).parse(frame, hq["mac_port_base"], 1)
    g = bench_geometry()
    action = ae["AE_KIND"].put(0, abi.data["action_kinds"]["Output"])
    action = ae["AE_OUT_PORTS"].put(action, 1 << 1)  # MAC port 1
    await write64(axil, regs["STAGE_ACTION"], action)
    for i, w in enumerate(key):
        await write64(axil, regs["STAGE_KEY"] + 8 * i, w)
    pos = g.emc_candidates(hash_key(key))[0]
    await write64(axil, regs["CMD"], abi.command("EmcWrite", 0, pos, 77))
    # The STATUS read waits for the command (abi::regs): the entry is in.
    assert abi.f("STATUS_BUSY").get(await axil.read_dword(regs["STATUS"])) == 0
    cocotb.start_soon(box.send(RX, 0, frame))
    got, _, size, dst = await box.recv(TX, 1)
    assert got == frame and size == len(frame) and dst == 1 << (CMAC_DST_BASE + 1)
    await box.idle(C2H)


@pytest.mark.parametrize("cmac_ports", [2])
def test_opennic_box(rtl, cmac_ports):
    run_bench(
        "verilator", "fastpath_box_250mhz", "test_opennic_box",
        sources=[rtl / f"{m}.v" for m in RTL_MODULES]
        + [PLUGIN / "fastpath_cdc.sv", PLUGIN / "fastpath_box_250mhz.sv"],
        parameters={"NUM_CMAC_PORT": cmac_ports},
        name=f"opennic_box-{cmac_ports}", tb_geometry=False,
    )
