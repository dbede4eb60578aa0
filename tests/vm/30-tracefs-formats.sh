#!/bin/sh
# The tracepoint formats autosa parses: captured from the guest kernel into AUTOSA_VM_OUT and
# compared with the committed fixtures for this kernel's major.minor.
. "$(dirname "$0")/lib/common.sh"

EVENTS="sched/sched_switch sched/sched_wakeup sched/sched_wakeup_new sched/sched_migrate_task
block/block_rq_issue block/block_rq_complete"

tracefs=/sys/kernel/tracing
check "tracefs mounted" ensure_mounted tracefs "$tracefs"
mm=$(uname -r | cut -d. -f1-2)
out=${AUTOSA_VM_OUT:?}/tracefs/$mm
fixtures=${AUTOSA_WORKSPACE:?}/autosa/tests/fixtures/tracefs/$mm

for ev in $EVENTS; do
    src=$tracefs/events/$ev/format
    mkdir -p "$out/$ev"
    if ! cp "$src" "$out/$ev/format"; then
        not_ok "$ev: $src readable"
        continue
    fi
    if [ -n "${AUTOSA_UPDATE_FIXTURES:-}" ]; then
        ok "$ev: format captured for fixtures/tracefs/$mm"
    elif [ ! -f "$fixtures/$ev/format" ]; then
        not_ok "$ev: no fixture for kernel $mm: run cargo xtask vm test --update-fixtures"
    elif cmp -s "$out/$ev/format" "$fixtures/$ev/format"; then
        ok "$ev: format matches fixtures/tracefs/$mm"
    else
        not_ok "$ev: format differs from fixtures/tracefs/$mm (run cargo xtask vm test --update-fixtures):"
        diff "$fixtures/$ev/format" "$out/$ev/format" | sed 's/^/    /'
    fi
done
finish
