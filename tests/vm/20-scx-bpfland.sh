#!/bin/sh
# scx_bpfland attaches (state enabled, ops bpfland…) and detaches on SIGINT.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/scx.sh"
scx_cycle scx_bpfland bpfland 60
finish
