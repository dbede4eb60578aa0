#!/bin/sh
# scx_lavd attaches and detaches; under TCG it takes ~24 s to enable.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/scx.sh"
scx_cycle scx_lavd lavd 120
finish
