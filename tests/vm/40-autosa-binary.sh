#!/bin/sh
# The autosa release binary built on the host runs in the guest (the slot where the daemon's
# own sched_ext tests go once `autosa run` exists).
. "$(dirname "$0")/lib/common.sh"

if [ -z "${AUTOSA_BIN:-}" ] || [ ! -x "$AUTOSA_BIN" ]; then
    missing "autosa release binary (AUTOSA_BIN='${AUTOSA_BIN:-}'): run without --no-build"
    finish
fi
if out=$("$AUTOSA_BIN" --help 2>&1); then
    ok "$AUTOSA_BIN --help exits 0 in the guest"
else
    not_ok "$AUTOSA_BIN --help failed in the guest: $out"
fi
finish
