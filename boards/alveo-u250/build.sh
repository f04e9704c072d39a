#!/bin/sh
# Builds the alveo-u250 OpenNIC bitstream: boards/opennic/build.sh --board alveo-u250.
# usage: boards/alveo-u250/build.sh --shell DIR [--vivado PATH] [--jobs N] [--tag NAME] [--dry-run]
# (boards/opennic/build.sh --help for the options)
exec "$(dirname "$0")/../opennic/build.sh" --board alveo-u250 "$@"
