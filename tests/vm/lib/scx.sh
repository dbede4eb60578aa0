# Starting and stopping an scx scheduler and watching sysfs follow (sourced after common.sh).

# scx_cycle BINARY OPS_PREFIX ENABLE_DEADLINE_S: start, wait for enabled + ops, SIGINT, wait
# for disabled. The scheduler is stopped also when a check fails or the script is interrupted.
scx_cycle() {
    name=$1 prefix=$2 limit=$3
    bin=${AUTOSA_VM_BIN:-}/$name
    if [ ! -x "$bin" ]; then
        missing "$name not built ($bin): run cargo xtask vm prepare"
        return
    fi
    if ! state_is disabled; then
        not_ok "$name: sched_ext must be disabled before the start (is '$(scx_state)')"
        return
    fi
    log=${AUTOSA_VM_OUT:-/tmp}/$name.log
    "$bin" > "$log" 2>&1 &
    pid=$!
    trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
    trap 'exit 130' INT TERM # exit runs the EXIT trap

    alive_or_enabled() { state_is enabled || ! kill -0 "$pid" 2>/dev/null; }
    wait_until "$limit" alive_or_enabled
    if state_is enabled; then
        ok "$name: state enabled after ${WAITED_MS} ms"
    else
        if kill -0 "$pid" 2>/dev/null; then
            not_ok "$name: state not enabled within ${limit} s (state '$(scx_state)'); its log:"
            kill -INT "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        else
            wait "$pid"
            not_ok "$name: exited with $? after ${WAITED_MS} ms without enabling sched_ext; its log:"
        fi
        tail -n 20 "$log" | sed 's/^/    /'
        trap - EXIT INT TERM
        return
    fi
    ops=$(cat "$SCX/root/ops" 2>/dev/null)
    case "$ops" in
        "$prefix"*) ok "$name: root/ops is '$ops'" ;;
        *) not_ok "$name: root/ops is '$ops', expected it to start with '$prefix'" ;;
    esac

    kill -INT "$pid"
    if wait_until 30 state_is disabled; then
        ok "$name: SIGINT, state disabled after ${WAITED_MS} ms"
    else
        not_ok "$name: state still '$(scx_state)' 30 s after SIGINT"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid"
    rc=$?
    trap - EXIT INT TERM
    # Schedulers exit 0 on SIGINT after unregistering.
    check "$name: exited with 0 after SIGINT (got $rc)" test "$rc" = 0
}
