#!/bin/sh
# `autosa run --backend mcp` drives the fake schedcp in --real mode, which starts the real
# scheduler binaries: autosa checks the truth in sysfs (state, ops) and SIGTERM restores EEVDF.
# Twice: a well-behaved server, then one that answers "stopped" yet leaves the scheduler
# running (as the real schedcp does under sudo): autosa must stop that orphan itself.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/autosa.sh"
SCRIPT_NAME=53
need_autosa
need_scx scx_bpfland
if [ -z "${AUTOSA_FAKE_SCHEDCP:-}" ] || [ ! -x "$AUTOSA_FAKE_SCHEDCP" ]; then
    missing "autosa-fake-schedcp (AUTOSA_FAKE_SCHEDCP='${AUTOSA_FAKE_SCHEDCP:-}'): run without --no-build"
    finish
fi
need_disabled
autosa_tmpdir
trap autosa_cleanup EXIT
trap 'exit 130' INT TERM
export AUTOSA_LOG=info,autosa::switching=debug

for mode in normal orphan-on-stop; do
    cfg=$T/mcp-$mode.toml
    cat > "$cfg" <<EOF2
[daemon]
state_dir = "$T/state-$mode"

[collect]
interval = "500ms"

[mcp]
command = "$AUTOSA_FAKE_SCHEDCP"
args = ["--real", "--scx-bin-dir", "$AUTOSA_VM_BIN", "--mode", "$mode"]
enable_timeout = "180s"
disable_timeout = "30s"
call_timeout = "30s"

$(switch_fast_toml)

$(plans_toml "$(scx_plan scx_bpfland)" $ALL_CLASSES)
EOF2
    log=$T/mcp-$mode.log
    autosa_start "$log" --config "$cfg" run --backend mcp
    if wait_until 120 ops_is bpfland; then
        ok "$mode: scx_bpfland started through MCP, state enabled, ops '$(ops_now)' after ${WAITED_MS} ms"
    else
        not_ok "$mode: scx_bpfland not running within 120 s (state '$(scx_state)'):"
        show_log "$log"
        continue
    fi
    check "$mode: the log names the change to scx_bpfland" \
        log_has "$log" 'changed.*sched_ext scheduler.*to=.?scx_bpfland'
    check "$mode: autosa runs under the mcp backend" log_has "$log" 'autosa running.*backend="?mcp'
    check "$mode: one scheduler process ($(scx_pids | tr '\n' ' '))" test "$(scx_pids | wc -l)" = 1
    sched=$(pid_of_scx scx_bpfland)
    if autosa_signal TERM 90; then
        ok "$mode: SIGTERM, autosa exited after ${WAITED_MS} ms"
    else
        not_ok "$mode: autosa still running 90 s after SIGTERM (SIGKILLed):"
        show_log "$log"
    fi
    check "$mode: exit code 0 (got $ARC)" test "$ARC" = 0
    check "$mode: state disabled after SIGTERM (is '$(scx_state)')" wait_until 10 state_is disabled
    check "$mode: scx_bpfland (pid $sched) gone" wait_until 10 dead "$sched"
    check "$mode: no scheduler process left ($(scx_pids | tr '\n' ' '))" no_scx_process
    check "$mode: the log says what it restored" log_has "$log" 'restored.*sched_ext scheduler'
    if [ "$mode" = orphan-on-stop ]; then
        check "$mode: the log reports the orphan autosa stopped itself" \
            log_has "$log" 'scx_bpfland. still runs .*after the stop'
    fi
done
finish
