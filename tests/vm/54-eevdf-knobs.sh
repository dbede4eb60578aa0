#!/bin/sh
# The eevdf backend's global knobs (debugfs sched/base_slice_ns and migration_cost_ns, readable
# on this kernel, not on the locked-down host): written by `autosa run --backend eevdf`, put
# back on SIGTERM, and after a SIGKILL put back by the next start (`run --dry-run`) from the
# journal.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/autosa.sh"
SCRIPT_NAME=54
need_autosa
ensure_mounted debugfs /sys/kernel/debug 2> /dev/null
D=/sys/kernel/debug/sched
for k in base_slice_ns migration_cost_ns; do
    if ! cat "$D/$k" > /dev/null 2>&1; then
        missing "$D/$k readable (debugfs, no lockdown)"
        finish
    fi
done
autosa_tmpdir
orig_slice=$(cat $D/base_slice_ns)
orig_mig=$(cat $D/migration_cost_ns)
# Values no kernel default has, so "written" cannot be a coincidence.
want_slice=$((orig_slice + 1234567))
want_mig=$((orig_mig + 123457))
knobs_restore() {
    echo "$orig_slice" > $D/base_slice_ns
    echo "$orig_mig" > $D/migration_cost_ns
}
CLEANUP_EXTRA=knobs_restore
trap autosa_cleanup EXIT
trap 'exit 130' INT TERM

# Every class: the two knobs, nothing per task (hogs left alone, no slice change).
cfg=$T/eevdf.toml
{
    cat <<EOF2
[daemon]
state_dir = "$T/state"

[collect]
interval = "500ms"

$(switch_fast_toml)

EOF2
    for c in $ALL_CLASSES; do
        cat <<EOF2
[policy.plans.$c]
scx = "none"
hogs = { kind = "leave" }
latency_slice_ns = 0
global_knobs = [["base_slice_ns", "$want_slice"], ["migration_cost_ns", "$want_mig"]]

EOF2
    done
} > "$cfg"

knobs_are() { [ "$(cat $D/base_slice_ns)" = "$1" ] && [ "$(cat $D/migration_cost_ns)" = "$2" ]; }
knobs_now() { echo "base_slice_ns $(cat $D/base_slice_ns), migration_cost_ns $(cat $D/migration_cost_ns)"; }

log=$T/run1.log
autosa_start "$log" --config "$cfg" run --backend eevdf
if wait_until 60 knobs_are "$want_slice" "$want_mig"; then
    ok "knobs written: base_slice_ns $orig_slice -> $want_slice, migration_cost_ns $orig_mig -> $want_mig (${WAITED_MS} ms)"
else
    not_ok "knobs not written within 60 s ($(knobs_now)):"
    show_log "$log"
    finish
fi
check "the log names the knob change" log_has "$log" "changed.*knob base_slice_ns.*to=$want_slice"
check "the journal holds the originals" grep -q "$orig_slice" "$T/state/journal.json"
autosa_signal TERM 60
check "SIGTERM: autosa exits 0 (got $ARC)" test "$ARC" = 0
check "SIGTERM: knobs restored ($(knobs_now))" knobs_are "$orig_slice" "$orig_mig"
check "the log says what it restored" log_has "$log" "restored.*knob base_slice_ns.*to=$orig_slice"

log2=$T/run2.log
autosa_start "$log2" --config "$cfg" run --backend eevdf
if wait_until 60 knobs_are "$want_slice" "$want_mig"; then
    ok "second run: knobs written again (${WAITED_MS} ms)"
else
    not_ok "second run: knobs not written within 60 s ($(knobs_now)):"
    show_log "$log2"
    finish
fi
autosa_signal KILL 30
check "SIGKILL: the knobs stay as autosa set them ($(knobs_now))" knobs_are "$want_slice" "$want_mig"
check "SIGKILL: the journal remains" test -s "$T/state/journal.json"
log3=$T/run3.log
autosa_start "$log3" --config "$cfg" run --dry-run --backend eevdf
if wait_until 60 knobs_are "$orig_slice" "$orig_mig"; then
    ok "the next start (--dry-run) restored the knobs from the journal (${WAITED_MS} ms)"
else
    not_ok "the next start did not restore the knobs within 60 s ($(knobs_now)):"
    show_log "$log3"
fi
check "it says so (restored after an unclean exit)" \
    wait_until 30 log_has "$log3" 'restored after an unclean exit.*knob base_slice_ns'
check "the dry run acts on the plan: says it would write the knob" \
    wait_until 60 log_has "$log3" "would write $want_slice to base_slice_ns"
check "knobs still at the originals under the dry run ($(knobs_now))" knobs_are "$orig_slice" "$orig_mig"
autosa_signal TERM 60
check "the dry run exits 0 on SIGTERM (got $ARC)" test "$ARC" = 0
check "knobs at the originals at the end ($(knobs_now))" knobs_are "$orig_slice" "$orig_mig"
finish
