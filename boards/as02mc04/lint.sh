#!/bin/sh
# Verilator -Wall lint of the taxi wrapper (boards/as02mc04/taxi) with the
# emitted RTL it instantiates, through the bench harness (Verilator takes no
# interface ports on a top module), against our stand-ins for taxi's
# interfaces and, with --taxi DIR, also against the real ones of a taxi
# checkout, and stages the build from it (build.sh --dry-run: every patch
# anchor found). The whole staged fpga_core is not linted here: Verilator
# takes longer than 15 minutes on taxi's full design.
# usage: boards/as02mc04/lint.sh [--taxi DIR]     Exits non-zero on any warning.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
taxi=""
while [ $# -gt 0 ]; do
    case "$1" in
        --taxi) [ $# -ge 2 ] || { echo "lint.sh: --taxi needs a directory" >&2; exit 2; }; taxi=$2; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "lint.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
command -v verilator >/dev/null || { echo "lint.sh: verilator not on PATH" >&2; exit 2; }
out=build/hdl/lint/as02mc04-taxi
cargo run -q -p hdl --bin emit -- --out "$out" --config boards/as02mc04/board.toml >/dev/null 2>&1
p=boards/as02mc04/taxi
status=0
lint() {  # name, interface files...
    name=$1; shift
    if verilator --lint-only -Wall --top-module fastpath_taxi_harness \
        hdl/lint/verilator.vlt $p/lint.vlt "$out/fastpath_nic.v" "$out/fastpath_axil_32to64.v" \
        "$@" $p/fastpath_taxi_lib.sv $p/fastpath_taxi.sv $p/sim/fastpath_taxi_harness.sv \
        >"$out/$name.lint" 2>&1; then
        echo "ok   fastpath_taxi ($name)"
    else
        echo "FAIL fastpath_taxi ($name)"; cat "$out/$name.lint"; status=1
    fi
}
lint stand-in-interfaces $p/sim/taxi_if.sv
if [ -n "$taxi" ]; then
    lint taxi-interfaces "$taxi/src/axis/rtl/taxi_axis_if.sv" "$taxi/src/axi/rtl/taxi_axil_if.sv"
    if boards/as02mc04/build.sh --taxi "$taxi" --dry-run >"$out/stage.log" 2>&1; then
        echo "ok   staged taxi project (build.sh --dry-run)"
    else
        echo "FAIL staged taxi project"; cat "$out/stage.log"; status=1
    fi
fi
exit $status
