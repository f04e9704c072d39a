#!/bin/sh
# Lints the emitted Verilog with Verilator -Wall (waivers: hdl/lint/verilator.vlt).
# usage: hdl/scripts/lint.sh [geometry.toml ...]   (default: every boards/*/geometry.toml and board.toml)
# Output goes to build/hdl/lint/<board>/. Exits non-zero on any warning.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v verilator >/dev/null || { echo "lint.sh: verilator not on PATH" >&2; exit 2; }
[ $# -gt 0 ] || set -- boards/*/geometry.toml boards/*/board.toml
# EMIT may name a prebuilt emitter; otherwise build it.
emit=${EMIT:-}
if [ -z "$emit" ]; then
    cargo build -q -p hdl --bin emit
    emit="${CARGO_TARGET_DIR:-$root/target}/debug/emit"
fi
status=0
for cfg in "$@"; do
    board=$(basename "$(dirname "$cfg")")
    out=build/hdl/lint/$board
    "$emit" --out "$out" --config "$cfg" >/dev/null 2>&1
    for v in "$out"/*.v; do
        top=$(basename "$v" .v)
        if verilator --lint-only -Wall --top-module "$top" hdl/lint/verilator.vlt "$v" >"$v.lint" 2>&1; then
            echo "ok   $board $top"
        else
            echo "FAIL $board $top"; cat "$v.lint"; status=1
        fi
    done
done
exit $status
