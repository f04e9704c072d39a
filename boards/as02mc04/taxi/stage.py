#!/usr/bin/env python3
"""Stages a Vivado build of taxi's AS02MC04 cndm design with fastpath at its
MAC hooks, leaving the user's taxi checkout untouched.

usage: stage.py TAXI_DIR STAGE_DIR RTL_DIR

Copies TAXI_DIR/src/cndm/board/AS02MC04/fpga to STAGE_DIR (its lib/taxi
link pointing at TAXI_DIR), and in the copy:
- rtl/fpga_core.sv: declares the cndm-side streams, instantiates
  fastpath_taxi between the MAC (`axis_sfp_*`) and the cndm core, and
  connects the core's new control port to it;
- rtl/fastpath/: our sources, the emitted Verilog from RTL_DIR, and
  fastpath_cndm_micro_pcie_us.sv, a renamed copy of taxi's
  cndm_micro_pcie_us.sv whose control BAR goes through
  fastpath_taxi_axil_split (bit AXIL_CTRL_ADDR_W-1 set: our registers);
- fpga/fastpath_build.tcl: the non-project Vivado build of the file lists
  the board's Makefile names, plus ours;
- files.txt: the resolved source list (for lint).
Every patch anchors on text of taxi's files and fails, naming the anchor,
if taxi has changed it."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BOARD_REL = Path("src/cndm/board/AS02MC04/fpga")
CORE_REL = Path("src/cndm/rtl/cndm_micro_pcie_us.sv")
OUR_SOURCES = ["fastpath_taxi_lib.sv", "fastpath_taxi.sv"]
EMITTED = ["fastpath_nic.v", "fastpath_axil_32to64.v"]
CONSTRAINTS = ["fastpath_taxi_cdc.tcl"]


class StageError(Exception):
    pass


def sub_once(text: str, pattern: str, repl, what: str, flags: int = 0) -> str:
    new, n = re.subn(pattern, repl, text, count=0, flags=flags)
    if n != 1:
        raise StageError(f"{what}: expected 1 match of /{pattern}/, found {n} "
                         "(taxi's source changed? see boards/as02mc04/README.md)")
    return new


def patch_core(text: str) -> str:
    """cndm_micro_pcie_us -> fastpath_cndm_micro_pcie_us with m_axil_app_*."""
    text = sub_once(text, r"\bmodule cndm_micro_pcie_us\b", "module fastpath_cndm_micro_pcie_us",
                    "cndm_micro_pcie_us: module name")
    text = sub_once(
        text, r"(taxi_axis_if\.snk\s+mac_axis_rx\[PORTS\])(\s*\n\);)",
        lambda m: (m.group(1) + ",\n\n    /*\n     * fastpath register file: control BAR"
                   " addresses with bit AXIL_CTRL_ADDR_W-1 set\n     */\n"
                   "    taxi_axil_if.wr_mst                   m_axil_app_wr,\n"
                   "    taxi_axil_if.rd_mst                   m_axil_app_rd" + m.group(2)),
        "cndm_micro_pcie_us: last port mac_axis_rx[PORTS]")
    text = sub_once(
        text, r"(taxi_axil_if #\((?:[^()]|\([^()]*\))*\)\s*)axil_ctrl_bar\(\);",
        lambda m: (m.group(0) + "\n\n// fastpath: the BAR master's bus, split between the core and"
                   " m_axil_app\n" + m.group(1) + "axil_ctrl_bar_pcie();\n\n"
                   "fastpath_taxi_axil_split #(.AW(AXIL_CTRL_ADDR_W), .DW(AXIL_CTRL_DATA_W))\n"
                   "fastpath_axil_split_inst (\n"
                   "    .clk(pcie_clk),\n    .rst(pcie_rst),\n"
                   "    .s_axil_wr(axil_ctrl_bar_pcie),\n    .s_axil_rd(axil_ctrl_bar_pcie),\n"
                   "    .m0_axil_wr(axil_ctrl_bar),\n    .m0_axil_rd(axil_ctrl_bar),\n"
                   "    .m1_axil_wr(m_axil_app_wr),\n    .m1_axil_rd(m_axil_app_rd)\n);"),
        "cndm_micro_pcie_us: axil_ctrl_bar declaration", flags=re.S)
    text = sub_once(text, r"\.m_axil_wr\(axil_ctrl_bar\)", ".m_axil_wr(axil_ctrl_bar_pcie)",
                    "cndm_micro_pcie_us: BAR master .m_axil_wr")
    text = sub_once(text, r"\.m_axil_rd\(axil_ctrl_bar\)", ".m_axil_rd(axil_ctrl_bar_pcie)",
                    "cndm_micro_pcie_us: BAR master .m_axil_rd")
    return text


HOOK = """
// fastpath (boards/as02mc04/build.sh): the pipeline between the MACs
// (axis_sfp_*) and the cndm core (axis_cndm_*), its registers in the upper
// half of the control BAR.
fastpath_taxi fastpath_inst (
    .clk(pcie_clk),
    .rst(pcie_rst),
    .s_axil_wr(axil_fastpath),
    .s_axil_rd(axil_fastpath),
    .mac_rx_clk(sfp_rx_clk),
    .mac_rx_rst(sfp_rx_rst),
    .s_axis_mac_rx(axis_sfp_rx),
    .mac_tx_clk(sfp_tx_clk),
    .mac_tx_rst(sfp_tx_rst),
    .m_axis_mac_tx(axis_sfp_tx),
    .s_axis_mac_tx_cpl(axis_sfp_tx_cpl),
    .m_axis_cndm_rx(axis_cndm_rx),
    .s_axis_cndm_tx(axis_cndm_tx),
    .m_axis_cndm_tx_cpl(axis_cndm_tx_cpl),
    .rx_drop()
);

"""


def patch_fpga_core(text: str) -> str:
    decls = []
    for name, new in (("axis_sfp_tx", "axis_cndm_tx"), ("axis_sfp_tx_cpl", "axis_cndm_tx_cpl"),
                      ("axis_sfp_rx", "axis_cndm_rx")):
        m = re.search(r"^taxi_axis_if #\(.*\) " + name + r"\[2\]\(\);$", text, flags=re.M)
        if not m:
            raise StageError(f"fpga_core.sv: declaration of {name}[2] not found")
        decls.append(m.group(0).replace(f" {name}[2]", f" {new}[2]"))
    decls.append("taxi_axil_if #(.DATA_W(AXIL_CTRL_DATA_W), .ADDR_W(AXIL_CTRL_ADDR_W)) axil_fastpath();")
    text = sub_once(text, r"^(taxi_axis_if #\(.*\) axis_sfp_stat\(\);)$",
                    lambda m: m.group(1) + "\n\n// fastpath: the cndm core's side of the MAC hooks\n"
                    + "\n".join(decls),
                    "fpga_core.sv: axis_sfp_stat declaration", flags=re.M)
    text = sub_once(text, r"^cndm_micro_pcie_us #\(", HOOK.lstrip("\n") + "fastpath_cndm_micro_pcie_us #(",
                    "fpga_core.sv: cndm_micro_pcie_us instance", flags=re.M)
    text = sub_once(text, r"\.mac_axis_tx\(axis_sfp_tx\)", ".mac_axis_tx(axis_cndm_tx)",
                    "fpga_core.sv: .mac_axis_tx")
    text = sub_once(text, r"\.mac_axis_tx_cpl\(axis_sfp_tx_cpl\)", ".mac_axis_tx_cpl(axis_cndm_tx_cpl)",
                    "fpga_core.sv: .mac_axis_tx_cpl")
    text = sub_once(text, r"\.mac_axis_rx\(axis_sfp_rx\)",
                    ".mac_axis_rx(axis_cndm_rx),\n\n    /*\n     * fastpath registers\n     */\n"
                    "    .m_axil_app_wr(axil_fastpath),\n    .m_axil_app_rd(axil_fastpath)",
                    "fpga_core.sv: .mac_axis_rx")
    return text


def makefile_vars(path: Path) -> dict[str, list[str]]:
    """`VAR = ...` / `VAR += ...` lines of the board Makefile, $(VAR) expanded."""
    vars_: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Z_]+)\s*(\+?=)\s*(.*)$", line)
        if not m:
            continue
        name, op, value = m.groups()
        value = re.sub(r"\$\(([A-Z_]+)\)", lambda v: " ".join(vars_.get(v.group(1), [])), value)
        words = value.split()
        vars_[name] = (vars_.get(name, []) + words) if op == "+=" else words
    return vars_


def expand_f(files: list[Path]) -> list[Path]:
    """taxi's .f file lists, recursively, each path relative to its list;
    for a repeated file name the last one wins (vivado.mk's uniq_base)."""
    out: list[Path] = []
    for f in files:
        if f.suffix == ".f":
            lines = [ln.strip() for ln in f.read_text().splitlines()]
            out += expand_f([f.parent / ln for ln in lines if ln and not ln.startswith("#")])
        else:
            out.append(f)
    seen: dict[str, Path] = {}
    for f in out:
        seen.pop(f.name, None)
        seen[f.name] = f
    return list(seen.values())


def tcl_list(paths) -> str:
    return " \\\n    ".join("{" + str(p) + "}" for p in paths)


def build_tcl(part: str, top: str, syn: list[Path], xdc: list[Path], ip: list[Path],
              cfg: list[Path]) -> str:
    v = [p for p in syn if p.suffix == ".v"]
    sv = [p for p in syn if p.suffix != ".v"]
    return f"""# Written by boards/as02mc04/taxi/stage.py: a non-project build of taxi's
# AS02MC04 cndm design with fastpath. Run in this directory:
#   vivado -mode batch -source fastpath_build.tcl -tclargs JOBS
set jobs [expr {{[llength $argv] > 0 ? [lindex $argv 0] : 4}}]
set_param general.maxThreads [expr {{$jobs > 8 ? 8 : $jobs}}]
set part {part}
create_project -in_memory -part $part
set ip_dir [file normalize ./ip]
file mkdir $ip_dir
# taxi's IP scripts call create_ip without -dir (they run in a project);
# here the IP goes to ./ip.
rename create_ip _fastpath_create_ip
proc create_ip {{args}} {{
    if {{[lsearch -exact $args -dir] < 0}} {{ lappend args -dir $::ip_dir }}
    uplevel 1 [list _fastpath_create_ip {{*}}$args]
}}
read_verilog {tcl_list(v)}
read_verilog -sv {tcl_list(sv)}
foreach f [list {tcl_list(xdc)}] {{
    if {{[file extension $f] eq ".tcl"}} {{ read_xdc -unmanaged $f }} else {{ read_xdc $f }}
}}
foreach f [list {tcl_list(ip)}] {{ source $f }}
# The board's config.tcl sets the IP's BARs and IDs and the top's generics
# on sources_1 (project style); the generics are handed to synth_design.
foreach f [list {tcl_list(cfg)}] {{ source $f }}
set ips [get_ips]
generate_target all $ips
synth_ip $ips
set generics {{}}
foreach g [get_property generic [get_filesets sources_1]] {{ lappend generics -generic $g }}
synth_design -top {top} -part $part {{*}}$generics
write_checkpoint -force {top}_synth.dcp
opt_design
place_design
phys_opt_design
route_design
write_checkpoint -force {top}_routed.dcp
report_utilization -file {top}_utilization.rpt
report_utilization -hierarchical -file {top}_utilization_hierarchical.rpt
report_timing_summary -file {top}_timing.rpt
if {{[get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]] < 0}} {{
    puts "fastpath_build.tcl: timing not met (see {top}_timing.rpt)"
}}
write_bitstream -force {top}.bit
# The board's flash (MT25QU256, SPI x4), as taxi's Makefile writes it.
write_cfgmem -force -format mcs -size 32 -interface SPIx4 -loadbit "up 0x0000000 {top}.bit" -checksum -file {top}.mcs
"""


def stage(taxi: Path, stage_dir: Path, rtl: Path) -> None:
    board = taxi / BOARD_REL
    for f in (board / "fpga" / "Makefile", board / "fpga" / "config.tcl",
              board / "rtl" / "fpga_core.sv", taxi / CORE_REL,
              taxi / "src/axis/rtl/taxi_axis_if.sv"):
        if not f.is_file():
            raise StageError(f"{f}: missing (not a taxi checkout with the AS02MC04 cndm design?)")
    for f in EMITTED:
        if not (rtl / f).is_file():
            raise StageError(f"{rtl / f}: missing (emit first)")
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    shutil.copytree(board, stage_dir, symlinks=True,
                    ignore=shutil.ignore_patterns("lib", "tb"))
    (stage_dir / "lib").mkdir()
    os.symlink(taxi.resolve(), stage_dir / "lib" / "taxi")
    core = stage_dir / "rtl" / "fpga_core.sv"
    core.write_text(patch_fpga_core(core.read_text()))
    ours = stage_dir / "rtl" / "fastpath"
    ours.mkdir()
    for f in OUR_SOURCES + CONSTRAINTS:
        shutil.copy(HERE / f, ours / f)
    for f in EMITTED:
        shutil.copy(rtl / f, ours / f)
    (ours / "fastpath_cndm_micro_pcie_us.sv").write_text(patch_core((taxi / CORE_REL).read_text()))

    fpga = stage_dir / "fpga"
    mk = makefile_vars(fpga / "Makefile")
    for need in ("FPGA_PART", "FPGA_TOP", "SYN_FILES", "XDC_FILES"):
        if need not in mk:
            raise StageError(f"{fpga / 'Makefile'}: no {need}")
    absp = lambda ws: [(fpga / w).resolve() if not Path(w).is_absolute() else Path(w) for w in ws]  # noqa: E731
    syn = expand_f(absp(mk["SYN_FILES"])) + [ours / f for f in OUR_SOURCES] \
        + [ours / f for f in EMITTED] + [ours / "fastpath_cndm_micro_pcie_us.sv"]
    # fpga_core.sv of the stage, not of the checkout (the Makefile's RTL_DIR
    # is ../rtl, inside the stage already).
    for f in syn:
        if not f.is_file():
            raise StageError(f"{f}: named by the board's file lists but missing")
    xdc = absp(mk["XDC_FILES"]) + [ours / f for f in CONSTRAINTS]
    ip = absp(mk.get("IP_TCL_FILES", []))
    cfg = absp(mk.get("CONFIG_TCL_FILES", []))
    for f in xdc + ip + cfg:
        if not f.is_file():
            raise StageError(f"{f}: named by the board's Makefile but missing")
    (fpga / "fastpath_build.tcl").write_text(
        build_tcl(mk["FPGA_PART"][0], mk["FPGA_TOP"][0], syn, xdc, ip, cfg))
    (stage_dir / "files.txt").write_text("".join(f"{f}\n" for f in syn))


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2
    try:
        stage(Path(argv[1]).resolve(), Path(argv[2]), Path(argv[3]))
    except (StageError, OSError) as e:
        print(f"stage.py: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
