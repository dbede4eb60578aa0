#!/bin/sh
# autosa's own eBPF probes load on this kernel (not the host's: record offsets are read at
# run time) and `autosa snapshot --json` shows non-empty run-queue and slice histograms.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/autosa.sh"
SCRIPT_NAME=50
need_autosa
autosa_tmpdir
trap autosa_cleanup EXIT
trap 'exit 130' INT TERM

# Something to switch and wake: one busy loop, one 10 ms sleeper.
sh -c 'while :; do :; done' &
busy=$!
EXTRA_PIDS=$busy
sh -c 'while :; do sleep 0.01; done' &
EXTRA_PIDS="$EXTRA_PIDS $!"

out=$T/snapshot.json
if "$AUTOSA_BIN" snapshot --json --count 2 --interval 1s > "$out" 2> "$T/snapshot.log"; then
    ok "autosa snapshot --json --count 2 exits 0"
else
    not_ok "autosa snapshot --json --count 2 failed:"
    show_log "$T/snapshot.log"
    finish
fi
check "two JSON lines printed" test "$(wc -l < "$out")" = 2

# The second interval is judged (the first may include the probes' start).
last=$T/last.json
tail -n 1 "$out" > "$last"
# jq is on the host (the guest shares its root file system).
if ! command -v jq > /dev/null; then
    missing "jq to read the JSON (apt-get install jq)"
    finish
fi
q() { jq -r "$1" "$last"; }

bpf_ok=$(q '[.sources[] | select(.name == "bpf") | .ok] | first // false')
if [ "$bpf_ok" = true ]; then
    ok "eBPF source loaded on $(uname -r)"
else
    not_ok "eBPF source not ok: $(q '[.sources[] | select(.name == "bpf")] | first | .detail // "absent"')"
    show_log "$T/snapshot.log"
fi
check "sched view present" test "$(q '.sched != null')" = true
for h in runq_latency slice; do
    count=$(q ".sched.$h.count // 0")
    buckets=$(q "(.sched.$h.buckets // []) | length")
    sum=$(q "[(.sched.$h.buckets // [])[] | .[1]] | add // 0")
    if [ "$count" -gt 0 ] && [ "$buckets" -gt 0 ] && [ "$sum" = "$count" ]; then
        ok "$h histogram: $count events in $buckets buckets (p50 $(q ".sched.$h.p50_ns") ns, p99 $(q ".sched.$h.p99_ns") ns)"
    else
        not_ok "$h histogram: count $count, $buckets buckets, bucket sum $sum"
    fi
done
p50=$(q '.sched.runq_latency.p50_ns')
p99=$(q '.sched.runq_latency.p99_ns')
check "runq p50 <= p99 ($p50 <= $p99)" test "$p50" -le "$p99"
sw=$(q '.sched.switches_voluntary_per_sec + .sched.switches_involuntary_per_sec | floor')
check "context switches counted by the probes ($sw/s)" test "$sw" -gt 0
# Per-process view: the busy loop is among the top tasks, with a real share of a CPU.
frac=$(q "[.tasks[] | select(.tgid == $busy) | .cpu_fraction] | first // 0")
check "the busy loop (pid $busy) is a top task with $frac of a CPU" \
    awk -v f="$frac" 'BEGIN { exit !(f > 0.2 && f <= 1.05) }' 
cp "$out" "${AUTOSA_VM_OUT:-/tmp}/50-snapshot.json" 2> /dev/null
finish
