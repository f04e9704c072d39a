#!/bin/sh
# Verilator -Wall lint of the OpenNIC wrapper with alveo-u200's geometry:
# boards/opennic/lint.sh --board alveo-u200.
exec "$(dirname "$0")/../opennic/lint.sh" --board alveo-u200 "$@"
