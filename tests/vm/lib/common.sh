# Shared helpers for the guest-side suite (sourced by tests/vm/*.sh; POSIX sh).
#
# Each check prints one line the host parses: "ok - …", "not ok - …" or "skip - …".
# A script ends with `finish`, which exits non-zero if any check failed.

FAILED=0
SCX=/sys/kernel/sched_ext

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILED=1; }

# A missing prerequisite: a skip on a developer machine, a failure under CI.
missing() {
    if [ -n "${CI:-}" ]; then
        not_ok "$* (missing prerequisite; CI is set, so this fails)"
    else
        echo "skip - $*"
    fi
}

# check DESCRIPTION CMD...: ok when CMD succeeds.
check() {
    desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

finish() { exit "$FAILED"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_until SECONDS CMD...: polls CMD every 100 ms until it succeeds or the deadline passes.
# Prints the time it took (ms) in WAITED_MS; returns 1 on timeout.
wait_until() {
    limit_ms=$(($1 * 1000))
    shift
    start=$(now_ms)
    while :; do
        if "$@"; then
            WAITED_MS=$(($(now_ms) - start))
            return 0
        fi
        if [ $(($(now_ms) - start)) -ge "$limit_ms" ]; then
            WAITED_MS=$(($(now_ms) - start))
            return 1
        fi
        sleep 0.1
    done
}

scx_state() { cat "$SCX/state" 2>/dev/null; }
state_is() { [ "$(scx_state)" = "$1" ]; }

ensure_mounted() { # FSTYPE DIR
    grep -q " $2 " /proc/mounts || mount -t "$1" none "$2"
}
