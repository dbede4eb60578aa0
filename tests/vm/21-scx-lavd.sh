#!/bin/sh
# scx_lavd attaches and detaches; under TCG it takes 24–41 s to enable (seen), more on a loaded host.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/scx.sh"
scx_cycle scx_lavd lavd 180
finish
