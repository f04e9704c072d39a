#!/bin/sh
# Builds the alveo-u200 OpenNIC bitstream: boards/opennic/build.sh --board alveo-u200.
# usage: boards/alveo-u200/build.sh --shell DIR [--vivado PATH] [--jobs N] [--tag NAME] [--dry-run]
# (boards/opennic/build.sh --help for the options)
exec "$(dirname "$0")/../opennic/build.sh" --board alveo-u200 "$@"
