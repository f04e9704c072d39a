#!/bin/sh
# Verilator -Wall lint of the OpenNIC wrapper (boards/alveo-u200/opennic) with
# the emitted RTL it instantiates, for one and two CMAC ports.
# usage: boards/alveo-u200/lint.sh        Exits non-zero on any warning.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v verilator >/dev/null || { echo "lint.sh: verilator not on PATH" >&2; exit 2; }
out=build/hdl/lint/alveo-u200-opennic
cargo run -q -p hdl --bin emit -- --out "$out" --config boards/alveo-u200/board.toml >/dev/null 2>&1
p=boards/alveo-u200/opennic
status=0
for n in 1 2; do
    if verilator --lint-only -Wall --top-module fastpath_box_250mhz -GNUM_CMAC_PORT=$n \
        hdl/lint/verilator.vlt $p/lint.vlt \
        "$out/fastpath_nic.v" "$out/fastpath_axil_32to64.v" \
        "$out/fastpath_axis_512to64.v" "$out/fastpath_axis_64to512.v" \
        $p/fastpath_cdc.sv $p/fastpath_box_250mhz.sv >"$out/box-$n.lint" 2>&1; then
        echo "ok   fastpath_box_250mhz NUM_CMAC_PORT=$n"
    else
        echo "FAIL fastpath_box_250mhz NUM_CMAC_PORT=$n"; cat "$out/box-$n.lint"; status=1
    fi
done
exit $status
