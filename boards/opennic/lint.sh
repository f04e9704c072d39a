#!/bin/sh
# Verilator -Wall lint of the OpenNIC wrapper (boards/opennic) with the RTL
# emitted for a board's geometry, for one and two CMAC ports.
# usage: boards/opennic/lint.sh --board B   (B: alveo-u200, alveo-u250, alveo-u280)
# Exits non-zero on any warning.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
die() { echo "lint.sh: $*" >&2; exit 2; }
board=""
while [ $# -gt 0 ]; do
    case "$1" in
        --board) [ $# -ge 2 ] || die "--board needs a name"; board=$2; shift 2 ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
case "$board" in
    alveo-u200|alveo-u250|alveo-u280) ;;
    '') die "missing --board (alveo-u200, alveo-u250 or alveo-u280)" ;;
    *) die "--board $board: not an OpenNIC board here" ;;
esac
cd "$root"
command -v verilator >/dev/null || die "verilator not on PATH"
out=build/hdl/lint/$board-opennic
cargo run -q -p hdl --bin emit -- --out "$out" --config "boards/$board/board.toml" >/dev/null 2>&1
p=boards/opennic
status=0
for n in 1 2; do
    if verilator --lint-only -Wall --top-module fastpath_box_250mhz -GNUM_CMAC_PORT=$n \
        hdl/lint/verilator.vlt $p/lint.vlt \
        "$out/fastpath_nic.v" "$out/fastpath_axil_32to64.v" \
        "$out/fastpath_axis_512to64.v" "$out/fastpath_axis_64to512.v" \
        $p/fastpath_cdc.sv $p/fastpath_box_250mhz.sv >"$out/box-$n.lint" 2>&1; then
        echo "ok   $board fastpath_box_250mhz NUM_CMAC_PORT=$n"
    else
        echo "FAIL $board fastpath_box_250mhz NUM_CMAC_PORT=$n"; cat "$out/box-$n.lint"; status=1
    fi
done
exit $status
