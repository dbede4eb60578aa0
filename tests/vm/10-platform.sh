#!/bin/sh
# The guest kernel offers what autosa needs: sched_ext idle, no lockdown, writable EEVDF knobs.
. "$(dirname "$0")/lib/common.sh"

echo "kernel $(uname -r)"

check "sched_ext present ($SCX/state exists)" test -r "$SCX/state"
state=$(scx_state)
check "sched_ext state is disabled at boot (got '$state')" test "$state" = disabled

lockdown=$(cat /sys/kernel/security/lockdown 2>/dev/null)
# The active mode is the bracketed one, e.g. "[none] integrity confidentiality".
check "lockdown is none (got '$lockdown')" sh -c 'echo "$1" | grep -q "\[none\]"' _ "$lockdown"

check "debugfs mounted" ensure_mounted debugfs /sys/kernel/debug
knob=/sys/kernel/debug/sched/base_slice_ns
if ! original=$(cat "$knob"); then
    not_ok "$knob readable"
    finish
fi
ok "$knob readable ($original)"

# Restore the original value whatever happens from here on.
restore() { echo "$original" > "$knob"; }
trap restore EXIT
trap 'exit 130' INT TERM # exit runs the EXIT trap

if [ "$original" = 3000000 ]; then new=2000000; else new=3000000; fi
if echo "$new" > "$knob" && [ "$(cat "$knob")" = "$new" ]; then
    ok "$knob writable ($original -> $new, read back)"
else
    not_ok "$knob writable (wrote $new, read back '$(cat "$knob")')"
fi
restore
check "$knob restored to $original" test "$(cat "$knob")" = "$original"
finish
