#!/bin/sh
# Builds an OpenNIC bitstream for an Alveo card with fastpath as its
# box_250mhz user plugin, through the shell's own non-project build.
#
# usage: boards/opennic/build.sh --board B --shell DIR [--vivado PATH] [--jobs N] [--tag NAME] [--dry-run]
#   --board B      alveo-u200, alveo-u250 or alveo-u280 (boards/B/board.toml)
#   --shell DIR    a checkout of github.com/Xilinx/open-nic-shell (not fetched here)
#   --vivado PATH  the vivado executable (default: `vivado` on PATH)
#   --dry-run      stage the plugin and print the Vivado command, run nothing
#
# Stages build/opennic-plugin/B (the plugin in boards/opennic plus rtl/, the
# Verilog `emit` writes for boards/B/board.toml), then runs, in DIR/script,
#   vivado -mode batch -source build.tcl -tclargs -board SHELL_BOARD -num_cmac_port 2
#          -user_plugin <stage> -impl 1 -post_impl 1 -jobs N -tag NAME
# with SHELL_BOARD au200, au250 or au280 (the shell's script/board_settings/).
# The bitstream lands in DIR/build/SHELL_BOARD_TAG/open_nic_shell/open_nic_shell.runs/impl_1/.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
die() { echo "build.sh: $*" >&2; exit 2; }
board="" shell="" vivado=vivado jobs=8 tag=fastpath dry=0
while [ $# -gt 0 ]; do
    case "$1" in
        --board) [ $# -ge 2 ] || die "--board needs a name"; board=$2; shift 2 ;;
        --shell) [ $# -ge 2 ] || die "--shell needs a directory"; shell=$2; shift 2 ;;
        --vivado) [ $# -ge 2 ] || die "--vivado needs a path"; vivado=$2; shift 2 ;;
        --jobs) [ $# -ge 2 ] || die "--jobs needs a number"; jobs=$2; shift 2 ;;
        --tag) [ $# -ge 2 ] || die "--tag needs a name"; tag=$2; shift 2 ;;
        --dry-run) dry=1; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
# The shell's board names, from its script/board_settings/<name>.tcl.
case "$board" in
    alveo-u200) onic=au200 ;;
    alveo-u250) onic=au250 ;;
    alveo-u280) onic=au280 ;;
    '') die "missing --board (alveo-u200, alveo-u250 or alveo-u280)" ;;
    *) die "--board $board: not an OpenNIC board here (alveo-u200, alveo-u250 or alveo-u280)" ;;
esac
[ -n "$shell" ] || die "missing --shell DIR (a checkout of github.com/Xilinx/open-nic-shell)"
[ -d "$shell" ] || die "--shell $shell: no such directory"
shell=$(cd "$shell" && pwd)
for f in script/build.tcl "script/board_settings/$onic.tcl" src/box_250mhz/box_250mhz.sv "constr/$onic/pins.xdc"; do
    [ -f "$shell/$f" ] || die "--shell $shell: $f missing (not an open-nic-shell checkout, or one without $onic?)"
done
case "$jobs" in ''|*[!0-9]*) die "--jobs $jobs: not a number" ;; esac
if [ "$dry" = 0 ]; then
    command -v "$vivado" >/dev/null 2>&1 || die "--vivado $vivado: not found (source Vivado's settings64.sh or pass its path)"
fi

plugin=$root/boards/opennic
stage=$root/build/opennic-plugin/$board
rm -rf "$stage"
mkdir -p "$stage"
cp -R "$plugin/box_250mhz" "$plugin/build_box_250mhz.tcl" \
    "$plugin/fastpath_box_250mhz.sv" "$plugin/fastpath_cdc.sv" "$stage/"
(cd "$root" && cargo run -q --locked -p hdl --bin emit -- \
    --config "boards/$board/board.toml" --out "$stage/rtl" >/dev/null)
for f in fastpath_nic fastpath_axil_32to64 fastpath_axis_512to64 fastpath_axis_64to512; do
    [ -f "$stage/rtl/$f.v" ] || die "emit wrote no $f.v"
done
echo "plugin staged in $stage"

set -- -mode batch -source build.tcl -tclargs -board "$onic" -num_cmac_port 2 -num_phys_func 1 \
    -user_plugin "$stage" -impl 1 -post_impl 1 -jobs "$jobs" -tag "$tag"
if [ "$dry" = 1 ]; then
    echo "would run in $shell/script: $vivado $*"
    exit 0
fi
cd "$shell/script"
"$vivado" "$@"
bit=$shell/build/${onic}_$tag/open_nic_shell/open_nic_shell.runs/impl_1/open_nic_shell.bit
[ -f "$bit" ] || die "Vivado finished but $bit is missing (see the log above)"
echo "bitstream: $bit"
