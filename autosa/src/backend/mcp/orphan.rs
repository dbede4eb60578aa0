//! Stopping a scheduler the server lost track of: find its process by
//! comm, SIGINT, wait, SIGKILL, until sysfs shows it gone.

use super::config::McpConfig;
use super::error::McpError;
use super::report::{ActionReport, Step};
use super::scheduler::{confirmed, note_foreign};
use super::truth::{self, Observation, Signalled};

/// SIGINT, then SIGKILL, to the processes that still run `scheduler`,
/// until sysfs shows it gone; every step goes into `report`.
pub(crate) async fn clear(
    cfg: &McpConfig,
    scheduler: &str,
    report: &mut ActionReport,
) -> Result<(), McpError> {
    let gone = |o: &Observation, _| o.no_longer_runs(scheduler);
    let procs = truth::find_scheduler_processes(&cfg.proc_root, scheduler);
    report.step(Step::OrphanFound {
        scheduler: scheduler.to_owned(),
        pids: procs.iter().map(|p| p.pid).collect(),
    });
    for p in &procs {
        if truth::signal(p.pid, Signalled::Interrupt) {
            report.step(Step::Signalled {
                pid: p.pid,
                signal: Signalled::Interrupt,
            });
        }
    }
    let (mut seen, mut after) =
        truth::wait_until(&cfg.sys_root, cfg.kill_grace, cfg.poll_interval, gone).await?;
    if !seen.no_longer_runs(scheduler) {
        for p in procs
            .iter()
            .filter(|p| truth::is_alive(&cfg.proc_root, p.pid))
        {
            if truth::signal(p.pid, Signalled::Kill) {
                report.step(Step::Signalled {
                    pid: p.pid,
                    signal: Signalled::Kill,
                });
            }
        }
        let (last, waited) =
            truth::wait_until(&cfg.sys_root, cfg.disable_timeout, cfg.poll_interval, gone).await?;
        seen = last;
        after += waited;
    }
    if !seen.no_longer_runs(scheduler) {
        if procs.is_empty() {
            report.warn(format!("no process named `{scheduler}` found to stop"));
        }
        return Err(McpError::NotDisabled {
            waited: after,
            seen,
        });
    }
    note_foreign(&seen, report);
    report.step(confirmed(None, &seen, after));
    Ok(())
}
