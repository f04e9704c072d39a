#!/bin/sh
# Open-tool synthesis of fastpath_top for iCE40 HX8K: yosys synth_ice40
# (resources) and nextpnr-ice40 (placement, routing, Fmax).
# usage: hdl/scripts/synth.sh [boards/<board>/geometry.toml]
# Output: build/hdl/synth/<board>/{*.v,yosys.log,stat.txt,nextpnr.log,report.txt}
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cfg=${1:-boards/ice40-hx8k/geometry.toml}
board=$(basename "$(dirname "$cfg")")
out=build/hdl/synth/$board
mkdir -p "$out"
for t in yosys nextpnr-ice40; do
    command -v $t >/dev/null || { echo "synth.sh: $t not on PATH" >&2; exit 2; }
done
# EMIT may name a prebuilt emitter; otherwise build it.
emit=${EMIT:-}
if [ -z "$emit" ]; then
    cargo build -q -p hdl --bin emit
    emit="${CARGO_TARGET_DIR:-$root/target}/debug/emit"
fi
"$emit" --out "$out" --config "$cfg" >/dev/null
start=$(date +%s)
yosys -q -l "$out/yosys.log" -p "
    read_verilog $out/fastpath_top.v boards/ice40-hx8k/synth_wrapper.v
    synth_ice40 -top fastpath_ice40_harness -json $out/harness.json
    tee -o $out/stat.txt stat
"
mid=$(date +%s)
# Placement may fail when the design exceeds the part; the resource report
# above is still valid, and the log says which resource ran out.
if nextpnr-ice40 --hx8k --package ct256 --json "$out/harness.json" \
        --freq 100 --timing-allow-fail --seed 1 \
        --log "$out/nextpnr.log" --quiet; then
    pnr=ok
else
    pnr=failed
fi
end=$(date +%s)
{
    echo "board: $board  config: $cfg"
    grep -E "SB_LUT4|SB_DFF|SB_RAM40_4K|SB_CARRY|Number of cells" "$out/stat.txt" | sed 's/^ */  /'
    echo "nextpnr: $pnr"
    grep -E "Max frequency for clock|ICESTORM_LC:|ICESTORM_RAM:|SB_IO:" "$out/nextpnr.log" | tail -4 | sed 's/^Info: */  /'
    echo "yosys ${mid}s-${start}s = $((mid - start)) s, nextpnr $((end - mid)) s"
} | tee "$out/report.txt"
