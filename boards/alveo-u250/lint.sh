#!/bin/sh
# Verilator -Wall lint of the OpenNIC wrapper with alveo-u250's geometry:
# boards/opennic/lint.sh --board alveo-u250.
exec "$(dirname "$0")/../opennic/lint.sh" --board alveo-u250 "$@"
