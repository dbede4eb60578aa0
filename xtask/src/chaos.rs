//! `cargo xtask chaos`: the fault suite.
//!
//! 1. The daemon (eevdf backend, real processes) SIGKILLed at random points
//!    of a switch, `--kills` times in a row (100 by default); after each kill
//!    the next start must restore every original value and empty its journal,
//!    and the shared history must keep every record (see `chaos_kill.rs`).
//! 2. The CI-sized fault tests (`autosa/tests/chaos_*.rs`: eBPF or tracefs
//!    missing, state directory read-only or full, clock jumps, 10 kills),
//!    run through `cargo test` unless `--no-tests`.
//!
//! Needs root and python3.

use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail, ensure};

#[path = "../../autosa/tests/support/chaos_kill.rs"]
#[allow(dead_code)]
mod chaos_kill;

#[derive(clap::Args)]
pub struct Args {
    /// SIGKILLs of the daemon, each followed by a restoring start.
    #[arg(long, default_value_t = 100)]
    kills: usize,
    /// Seed of the kill points (printed, so a failing run can be repeated).
    #[arg(long)]
    seed: Option<u64>,
    /// Only the kill loop, not the chaos_* tests.
    #[arg(long)]
    no_tests: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    ensure!(
        crate::host::is_root(),
        "chaos needs root (sched_setattr on other processes, eBPF, mount namespaces)"
    );
    let root = crate::host::workspace_root();
    let autosa = crate::host::build_autosa(crate::host::Profile::Debug)?;
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let dir = std::env::temp_dir().join(format!("autosa-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    eprintln!(
        "kill loop: {} SIGKILLs, seed {seed}, logs in {}",
        args.kills,
        dir.display()
    );
    let t0 = Instant::now();
    let script = root.join("autosa/tests/support/benefit_load.py");
    let report = chaos_kill::KillLoop {
        autosa: &autosa,
        load_script: &script,
        dir: &dir,
        kills: args.kills,
        seed,
    }
    .run(|line| eprintln!("{line}"))
    .map_err(anyhow::Error::msg)?;
    println!(
        "kill loop: {} kills in {:.0} s (seed {seed}): {} untouched, {} partly changed, {} fully changed; \
         {} left a journal; {} next starts logged a restore; {} mismatches; \
         history: {} records, every one read back after every kill, {} torn tails cut, \
         {} switch decisions found for the {} changed loads, {} of {} logged changes recorded, \
         {} of {} restores recorded, {} of {} next starts listed it all (autosa history --json)",
        report.kills,
        t0.elapsed().as_secs_f64(),
        report.untouched,
        report.partly_changed,
        report.fully_changed,
        report.journal_left,
        report.restores,
        report.mismatches,
        report.history_records,
        report.history_torn,
        report.decisions_found,
        report.partly_changed + report.fully_changed,
        report.changes_recorded,
        report.changes_logged,
        report.restores_recorded,
        report.restores_logged,
        report.cli_listed,
        report.kills
    );
    if !report.failures.is_empty() {
        bail!(
            "the next start did not restore everything (logs kept in {}):\n{}",
            dir.display(),
            report.failures.join("\n\n")
        );
    }
    ensure!(
        report.kills == args.kills,
        "only {} of {} kills ran",
        report.kills,
        args.kills
    );
    let _ = std::fs::remove_dir_all(&dir);

    if !args.no_tests {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        eprintln!("chaos tests: cargo test -p autosa --test chaos_faults --test chaos_kill");
        let status = Command::new(&cargo)
            .args([
                "test",
                "-p",
                "autosa",
                "--test",
                "chaos_faults",
                "--test",
                "chaos_kill",
                "--",
                "--nocapture",
                "--test-threads=1",
            ])
            .current_dir(&root)
            .status()
            .with_context(|| format!("running {cargo}"))?;
        ensure!(status.success(), "the chaos tests failed");
    }
    Ok(())
}
