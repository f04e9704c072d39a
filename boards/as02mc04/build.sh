#!/bin/sh
# Builds taxi's cndm (Corundum) bitstream for the Alibaba AS02MC04 with
# fastpath at its MAC hooks, through a non-project Vivado run.
#
# usage: boards/as02mc04/build.sh --taxi DIR [--vivado PATH] [--jobs N] [--dry-run]
#   --taxi DIR     a checkout of github.com/fpganinja/taxi (not fetched here, not changed)
#   --vivado PATH  the vivado executable (default: `vivado` on PATH)
#   --jobs N       threads for Vivado (at most 8 are used), default 8
#   --dry-run      stage the project and print the Vivado command, run nothing
#
# Stages build/taxi-project/as02mc04: a copy of DIR/src/cndm/board/AS02MC04/fpga
# whose rtl/fpga_core.sv instantiates fastpath_taxi between the SFP MACs and
# the cndm core, plus rtl/fastpath/ (our sources, the Verilog `emit` writes
# for board.toml, a patched copy of cndm_micro_pcie_us.sv) and
# fpga/fastpath_build.tcl (taxi/stage.py does this). Then runs, in its fpga/,
#   vivado -mode batch -source fastpath_build.tcl -tclargs N
# The bitstream and flash image land in build/taxi-project/as02mc04/fpga/fpga.{bit,mcs}.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
die() { echo "build.sh: $*" >&2; exit 2; }
taxi="" vivado=vivado jobs=8 dry=0
while [ $# -gt 0 ]; do
    case "$1" in
        --taxi) [ $# -ge 2 ] || die "--taxi needs a directory"; taxi=$2; shift 2 ;;
        --vivado) [ $# -ge 2 ] || die "--vivado needs a path"; vivado=$2; shift 2 ;;
        --jobs) [ $# -ge 2 ] || die "--jobs needs a number"; jobs=$2; shift 2 ;;
        --dry-run) dry=1; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[ -n "$taxi" ] || die "missing --taxi DIR (a checkout of github.com/fpganinja/taxi)"
[ -d "$taxi" ] || die "--taxi $taxi: no such directory"
taxi=$(cd "$taxi" && pwd)
for f in src/cndm/board/AS02MC04/fpga/fpga/Makefile src/cndm/rtl/cndm_micro_pcie_us.sv \
         src/axis/rtl/taxi_axis_if.sv; do
    [ -f "$taxi/$f" ] || die "--taxi $taxi: $f missing (not a taxi checkout?)"
done
case "$jobs" in ''|*[!0-9]*) die "--jobs $jobs: not a number" ;; esac
command -v python3 >/dev/null 2>&1 || die "python3 not found (stages the project)"
if [ "$dry" = 0 ]; then
    command -v "$vivado" >/dev/null 2>&1 || die "--vivado $vivado: not found (source Vivado's settings64.sh or pass its path)"
fi

stage=$root/build/taxi-project/as02mc04
rtl=$root/build/taxi-project/as02mc04-rtl
rm -rf "$rtl"
(cd "$root" && cargo run -q --locked -p hdl --bin emit -- \
    --config boards/as02mc04/board.toml --out "$rtl" >/dev/null)
python3 "$root/boards/as02mc04/taxi/stage.py" "$taxi" "$stage" "$rtl"
echo "project staged in $stage"

set -- -mode batch -nojournal -source fastpath_build.tcl -tclargs "$jobs"
if [ "$dry" = 1 ]; then
    echo "would run in $stage/fpga: $vivado $*"
    exit 0
fi
cd "$stage/fpga"
"$vivado" "$@"
[ -f fpga.bit ] || die "Vivado finished but $stage/fpga/fpga.bit is missing (see vivado.log there)"
echo "bitstream: $stage/fpga/fpga.bit"
echo "flash image: $stage/fpga/fpga.mcs"
