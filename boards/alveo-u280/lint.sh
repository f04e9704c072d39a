#!/bin/sh
# Verilator -Wall lint of the OpenNIC wrapper with alveo-u280's geometry:
# boards/opennic/lint.sh --board alveo-u280.
exec "$(dirname "$0")/../opennic/lint.sh" --board alveo-u280 "$@"
