# Running the autosa daemon in the guest and watching what it does (sourced after common.sh).
#
# The guest is ours alone: the cleanup may stop any scx_* process it finds.

# need_autosa: AUTOSA_BIN must be an executable, else the script reports it and ends.
need_autosa() {
    if [ -z "${AUTOSA_BIN:-}" ] || [ ! -x "$AUTOSA_BIN" ]; then
        missing "autosa release binary (AUTOSA_BIN='${AUTOSA_BIN:-}'): run without --no-build"
        finish
    fi
}

# need_scx NAME...: the cached schedulers must be there, else the script reports it and ends.
need_scx() {
    for n in "$@"; do
        if [ ! -x "${AUTOSA_VM_BIN:-}/$n" ]; then
            missing "$n not built (${AUTOSA_VM_BIN:-}/$n): run cargo xtask vm prepare"
            finish
        fi
    done
}

# need_disabled: sched_ext must be idle before a script starts switching it. A scheduler left
# by an earlier script (cut short by the runner) is shown, stopped, and this script goes on.
need_disabled() {
    for p in $(scx_pids); do
        echo "# note: scx process $p ($(cat /proc/$p/comm 2>/dev/null)) left by an earlier script:" \
            "$(grep '^State' /proc/$p/status 2>/dev/null), wchan $(cat /proc/$p/wchan 2>/dev/null); stopping it"
    done
    stop_all_scx
    if ! state_is disabled; then
        not_ok "sched_ext must be disabled before the start (is '$(scx_state)')"
        finish
    fi
}

# A scratch directory for configs, state and logs; removed by autosa_cleanup.
# Logs are copied to AUTOSA_VM_OUT (comes back to the host) before it goes.
autosa_tmpdir() {
    T=$(mktemp -d /tmp/autosa-vm.XXXXXX)
    mkdir -p "$T/state"
}

# alive PID: the process exists and is not a zombie (kill -0 succeeds on zombies).
# Shell builtins only: a fork costs tens of ms under TCG, and this runs in polling loops.
alive() {
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    read -r _stat < "/proc/$1/stat" 2>/dev/null || return 1
    _st=${_stat##*) }
    _st=${_st%% *}
    [ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}
dead() { ! alive "$1"; }

# autosa_start LOG ARGS...: `autosa ARGS` in the background, stderr+stdout to LOG; sets APID.
autosa_start() {
    _log=$1
    shift
    AUTOSA_LOG=${AUTOSA_LOG:-info} "$AUTOSA_BIN" "$@" >> "$_log" 2>&1 &
    APID=$!
}

# autosa_signal SIG SECONDS: signal APID and wait for it to exit; sets ARC (exit code) and
# WAITED_MS. Returns 1 if it is still alive at the deadline (it is then SIGKILLed).
autosa_signal() {
    kill "-$1" "$APID" 2>/dev/null
    if wait_until "$2" dead "$APID"; then
        { wait "$APID"; } 2>/dev/null
        ARC=$?
        APID=
        return 0
    fi
    kill -KILL "$APID" 2>/dev/null
    { wait "$APID"; } 2>/dev/null
    ARC=$?
    APID=
    return 1
}

# log_has LOG ERE: the log has a line matching the extended regular expression.
log_has() { grep -qE -- "$2" "$1"; }

# ops_is PREFIX: sched_ext enabled and root/ops starts with PREFIX.
ops_is() {
    state_is enabled || return 1
    case "$(cat "$SCX/root/ops" 2>/dev/null)" in
        "$1"*) return 0 ;;
        *) return 1 ;;
    esac
}
ops_now() { cat "$SCX/root/ops" 2>/dev/null; }

# user_process /proc/PID: not a kernel thread (the kernel's own `scx_enable_helper` worker
# thread is named scx_* too; a kernel thread's exe link resolves to nothing).
user_process() { [ -e "$1/exe" ]; }

# scx_pids: pids of every scx_* process (schedulers), one per line (builtins only, see alive).
scx_pids() {
    for d in /proc/[0-9]*; do
        _comm=
        read -r _comm < "$d/comm" 2>/dev/null
        case "$_comm" in
            scx_*) user_process "$d" && alive "${d#/proc/}" && echo "${d#/proc/}" ;;
        esac
    done
}
# pid_of_scx NAME: the pid of the running scheduler binary NAME (comm is cut to 15 bytes).
pid_of_scx() {
    _want=$(printf %.15s "$1")
    for d in /proc/[0-9]*; do
        _comm=
        read -r _comm < "$d/comm" 2>/dev/null
        if [ "$_comm" = "$_want" ] && user_process "$d" && alive "${d#/proc/}"; then
            echo "${d#/proc/}"
            return 0
        fi
    done
    return 1
}
no_scx_process() { [ -z "$(scx_pids)" ]; }

# stop_all_scx: SIGINT every scheduler, SIGKILL what is left after 5 s, wait for disabled.
stop_all_scx() {
    [ -z "$(scx_pids)" ] && state_is disabled && return 0
    for p in $(scx_pids); do kill -INT "$p" 2>/dev/null; done
    if ! wait_until 5 no_scx_process; then
        for p in $(scx_pids); do kill -KILL "$p" 2>/dev/null; done
        wait_until 10 no_scx_process
    fi
    wait_until 30 state_is disabled
}

# autosa_cleanup: the EXIT trap body: autosa stopped (SIGTERM, then SIGKILL), every
# scheduler stopped, logs kept, the scratch directory removed. Extra restores go in
# CLEANUP_EXTRA (a command run first).
autosa_cleanup() {
    # Logs first: the runner SIGKILLs a script 10 s after its SIGINT.
    if [ -n "${T:-}" ] && [ -d "$T" ] && [ -n "${AUTOSA_VM_OUT:-}" ]; then
        for f in "$T"/*.log; do
            [ -f "$f" ] && cp "$f" "$AUTOSA_VM_OUT/${SCRIPT_NAME:-autosa}-$(basename "$f")"
        done
    fi
    if [ -n "${CLEANUP_EXTRA:-}" ]; then eval "$CLEANUP_EXTRA"; fi
    if [ -n "${APID:-}" ]; then autosa_signal TERM 5; fi
    for p in ${EXTRA_PIDS:-}; do
        kill -KILL "$p" 2>/dev/null
        { wait "$p"; } 2>/dev/null
    done
    stop_all_scx
    if [ -n "${T:-}" ] && [ -d "$T" ]; then rm -rf "$T"; fi
}

# show_log LOG: the last lines of LOG, indented (after a failed check).
show_log() { grep -v ' DEBUG ' "$1" | tail -n "${2:-25}" | sed 's/^/    /'; }

# A shared [switching] section that makes autosa act on the first confident-enough
# interval: these tests prove the switch path, not the policy's judgement.
switch_fast_toml() {
    cat <<EOF
[switching]
min_confidence = 0.0
hold_intervals = 1
cooldown_secs = 0
max_switches_per_hour = 1000
regression_window_secs = 1
regression_min_samples = 1
regression_threshold = 1000.0
block_secs = 3600

[policy.smoothing]
window = 2
median_filter = true
hold_intervals = 2
min_margin = 0.0
EOF
}

# plans_toml SCX_SETTING CLASS...: `[policy.plans.<class>]` with `scx = SCX_SETTING` for each
# class, e.g. plans_toml '{ scheduler = "scx_lavd", args = [] }' cpu_bound mixed.
ALL_CLASSES="idle cpu_bound latency_sensitive io_bound memory_bound mixed"
plans_toml() {
    _scx=$1
    shift
    for c in "$@"; do
        printf '[policy.plans.%s]\nscx = %s\n\n' "$c" "$_scx"
    done
}
scx_plan() { printf '{ scheduler = "%s", args = [] }' "$1"; }

# scx_config FILE BODY: a config for the scx backend, state in $T/state, the cache's schedulers.
scx_config() {
    cat > "$1" <<EOF2
[daemon]
state_dir = "$T/state"

[collect]
interval = "500ms"

[scx]
search_dirs = ["$AUTOSA_VM_BIN"]
start_timeout = "180s"
stop_timeout = "20s"
poll_interval = "500ms"

$(switch_fast_toml)

$2
EOF2
}
