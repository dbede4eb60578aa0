//! `cargo xtask vm test`: every `tests/vm/*.sh` run inside one VM boot, each reported.
//!
//! A test script prints one line per check, `ok - …`, `not ok - …` or `skip - …`, and exits
//! non-zero when a check failed. Scripts see `AUTOSA_BIN` (the release binary built on the
//! host, empty when there is none), `AUTOSA_FAKE_SCHEDCP` (the test MCP server built beside
//! it, empty likewise), `AUTOSA_VM_BIN` (cached schedulers), `AUTOSA_VM_OUT`
//! (writable, comes back to the host), `AUTOSA_WORKSPACE`, and `CI` when set on the host.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::cache::Cache;
use super::cmd;
use super::kernel::Kernel;
use super::run::{self, VmOptions, shell_quote, workspace_root};

pub struct SuiteOptions {
    /// Only scripts whose file name contains this.
    pub filter: Option<String>,
    /// Skip building `autosa` in release on the host first.
    pub no_build: bool,
    /// Copy the tracefs formats captured in the guest into the fixtures.
    pub update_fixtures: bool,
    /// Crash the guest kernel before the first script of the first boot (tests the retry).
    pub inject_guest_crash: bool,
    /// Per-script limit inside the guest, in seconds.
    pub script_timeout: u64,
}

fn scripts(filter: Option<&str>) -> Result<Vec<PathBuf>> {
    let dir = workspace_root().join("tests/vm");
    let mut found: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sh") && p.is_file())
        .filter(|p| filter.is_none_or(|f| p.file_name().unwrap().to_string_lossy().contains(f)))
        .collect();
    found.sort();
    if found.is_empty() {
        bail!("no test scripts matched in {}", dir.display());
    }
    Ok(found)
}

/// The test MCP server the package builds beside `autosa` (for the mcp backend's tests).
const FAKE_SCHEDCP: &str = "autosa-fake-schedcp";

/// Builds `autosa` (and the fake schedcp beside it) in release if the workspace has its
/// binary; returns where `autosa` is.
fn build_autosa() -> Result<Option<PathBuf>> {
    let ws = workspace_root();
    if !ws.join("autosa/src/main.rs").is_file() {
        return Ok(None);
    }
    cmd::run(
        cmd::cargo().current_dir(&ws).args([
            "build",
            "--release",
            "-p",
            "autosa",
            "--bin",
            "autosa",
            "--bin",
            FAKE_SCHEDCP,
        ]),
        "fix the build, or pass --no-build to test without the autosa binary",
    )?;
    let meta = cmd::output(
        cmd::cargo()
            .current_dir(&ws)
            .args(["metadata", "--format-version", "1", "--no-deps"]),
        "cargo metadata failed",
    )?;
    let meta: serde_json::Value = serde_json::from_str(&meta)?;
    let target = meta["target_directory"]
        .as_str()
        .context("cargo metadata has no target_directory")?;
    let bin = Path::new(target).join("release/autosa");
    if !bin.is_file() {
        bail!("{} is missing after the build", bin.display());
    }
    Ok(Some(bin))
}

fn suite_script(
    out: &Path,
    autosa: Option<&Path>,
    scripts: &[PathBuf],
    opts: &SuiteOptions,
    crash_first: bool,
) -> String {
    let q = |p: &Path| shell_quote(&p.to_string_lossy());
    let fake = autosa
        .map(|a| a.with_file_name(FAKE_SCHEDCP))
        .filter(|f| f.is_file());
    let mut s = format!(
        "export AUTOSA_BIN={}\nexport AUTOSA_FAKE_SCHEDCP={}\n",
        autosa.map(q).unwrap_or_else(|| "''".into()),
        fake.as_deref().map(q).unwrap_or_else(|| "''".into())
    );
    if opts.update_fixtures {
        s.push_str("export AUTOSA_UPDATE_FIXTURES=1\n");
    }
    if crash_first {
        s.push_str(
            "echo 'crashing the guest kernel on purpose (--inject-guest-crash)'\n\
                    echo 1 > /proc/sys/kernel/sysrq\necho c > /proc/sysrq-trigger\n",
        );
    }
    for script in scripts {
        let name = script.file_name().unwrap().to_string_lossy();
        let log = out.join(format!("{name}.log"));
        let rc = out.join(format!("{name}.rc"));
        let ms = out.join(format!("{name}.ms"));
        s.push_str(&format!(
            "echo '### {name}'\n\
             started=$(date +%s%N)\n\
             ( timeout --signal=INT --kill-after=10 {t} sh {script}; echo $? > {rc} ) 2>&1 | tee {log}\n\
             echo $(( ($(date +%s%N) - started) / 1000000 )) > {ms}\n",
            t = opts.script_timeout,
            script = q(script),
            rc = q(&rc),
            log = q(&log),
            ms = q(&ms),
        ));
    }
    s
}

/// What one script reported.
#[derive(Debug, PartialEq)]
pub struct ScriptResult {
    pub name: String,
    /// None when the script never finished (guest died or the suite was cut short).
    pub exit: Option<i32>,
    /// How long it ran inside the guest, when it finished.
    pub took: Option<Duration>,
    pub passed: Vec<String>,
    pub failed: Vec<String>,
    pub skipped: Vec<String>,
}

impl ScriptResult {
    /// A script passes when it exited 0, reported no failed check and at least one check.
    /// A skipped check (missing prerequisite) is allowed, except under CI.
    pub fn ok(&self, ci: bool) -> bool {
        self.exit == Some(0)
            && self.failed.is_empty()
            && !(self.passed.is_empty() && self.skipped.is_empty())
            && (!ci || self.skipped.is_empty())
    }

    fn verdict(&self, ci: bool) -> &'static str {
        match (self.ok(ci), self.passed.is_empty()) {
            (false, _) => "FAIL",
            (true, true) => "SKIP",
            (true, false) => "PASS",
        }
    }
}

pub fn parse_result(name: &str, exit: Option<i32>, log: &str) -> ScriptResult {
    let mut r = ScriptResult {
        name: name.to_string(),
        exit,
        took: None,
        passed: Vec::new(),
        failed: Vec::new(),
        skipped: Vec::new(),
    };
    for line in log.lines() {
        if let Some(c) = line.strip_prefix("not ok - ") {
            r.failed.push(c.to_string());
        } else if let Some(c) = line.strip_prefix("ok - ") {
            r.passed.push(c.to_string());
        } else if let Some(c) = line.strip_prefix("skip - ") {
            r.skipped.push(c.to_string());
        }
    }
    r
}

fn collect(out: &Path, scripts: &[PathBuf]) -> Vec<ScriptResult> {
    scripts
        .iter()
        .map(|script| {
            let name = script.file_name().unwrap().to_string_lossy().into_owned();
            let exit = fs::read_to_string(out.join(format!("{name}.rc")))
                .ok()
                .and_then(|s| s.trim().parse().ok());
            let log = fs::read_to_string(out.join(format!("{name}.log"))).unwrap_or_default();
            let mut result = parse_result(&name, exit, &log);
            result.took = fs::read_to_string(out.join(format!("{name}.ms")))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .map(Duration::from_millis);
            result
        })
        .collect()
}

fn report(kernel: &Kernel, results: &[ScriptResult], ci: bool) -> bool {
    println!(
        "\nvm test on {} ({} scripts):",
        kernel.release,
        results.len()
    );
    let mut all_ok = true;
    for r in results {
        let ok = r.ok(ci);
        all_ok &= ok;
        let exit = r
            .exit
            .map_or("did not finish".to_string(), |c| format!("exit {c}"));
        let took = r
            .took
            .map_or(String::new(), |t| format!("; {:.0} s", t.as_secs_f64()));
        println!(
            "  {} {} ({exit}; {} passed, {} failed, {} skipped{took})",
            r.verdict(ci),
            r.name,
            r.passed.len(),
            r.failed.len(),
            r.skipped.len()
        );
        for c in &r.passed {
            println!("      ok      {c}");
        }
        for c in &r.failed {
            println!("      FAILED  {c}");
        }
        for c in &r.skipped {
            println!(
                "      {}  {c}",
                if ci { "SKIP=FAIL (CI)" } else { "skipped" }
            );
        }
        if r.passed.is_empty() && r.skipped.is_empty() && r.exit == Some(0) {
            println!("      FAILED  the script reported no check");
        }
    }
    all_ok
}

/// A guest-kernel crash under TCG (seen: "Oops: int3" after repeated sched_ext enable/disable)
/// is retried this many times, for the scripts it cut short.
const MAX_GUEST_CRASHES: usize = 1;

/// The console lines that show the guest kernel itself crashed, with a little context; None
/// when it did not. Warnings (`WARNING:`) and sched_ext's own scheduler ejections are not
/// crashes: they are what the scripts test.
pub fn guest_crash(console: &str) -> Option<Vec<String>> {
    const SIGNS: [&str; 6] = [
        "Kernel panic",
        "Oops:",
        "BUG: unable to handle",
        "general protection fault",
        "BUG: kernel NULL pointer",
        "watchdog: BUG: soft lockup",
    ];
    let lines: Vec<&str> = console.lines().collect();
    let first = lines
        .iter()
        .position(|l| SIGNS.iter().any(|sign| l.contains(sign)))?;
    Some(
        lines[first.saturating_sub(2)..lines.len().min(first + 12)]
            .iter()
            .map(|l| l.to_string())
            .collect(),
    )
}

/// Copies `<out>/tracefs/<major.minor>/…/format` into `autosa/tests/fixtures/tracefs/`.
fn update_fixtures(out: &Path, kernel: &Kernel) -> Result<()> {
    let src = out.join("tracefs").join(kernel.major_minor());
    if !src.is_dir() {
        bail!("the guest captured no tracefs formats in {}", src.display());
    }
    let dst = workspace_root()
        .join("autosa/tests/fixtures/tracefs")
        .join(kernel.major_minor());
    fs::create_dir_all(&dst)?;
    cmd::run(
        Command::new("cp")
            .arg("-r")
            .arg(format!("{}/.", src.display()))
            .arg(&dst),
        "copying the captured formats failed",
    )?;
    println!(
        "tracefs formats of {} written to {}",
        kernel.release,
        dst.display()
    );
    Ok(())
}

pub fn run(cache: &Cache, kernel: &Kernel, mut vm: VmOptions, opts: &SuiteOptions) -> Result<()> {
    let scripts = scripts(opts.filter.as_deref())?;
    let autosa = if opts.no_build {
        None
    } else {
        cmd::step("build autosa (release, host)", build_autosa)?
    };
    match &autosa {
        Some(bin) => println!("autosa binary for the guest: {}", bin.display()),
        None => println!("no autosa binary: scripts that need it see AUTOSA_BIN empty"),
    }
    if let Some(dir) = autosa.as_deref().and_then(Path::parent) {
        // Visible in the guest even if the target directory sits under a guest tmpfs.
        vm.rodirs.push(dir.to_path_buf());
    }
    let started = Instant::now();
    let mut results: Vec<ScriptResult> = Vec::new();
    let mut pending = scripts.clone();
    let mut crashes = 0;
    let mut out;
    loop {
        out = run::new_run_dir(cache, "test")?;
        let crash_first = opts.inject_guest_crash && crashes == 0;
        let script = suite_script(&out, autosa.as_deref(), &pending, opts, crash_first);
        let booted = run::boot(cache, kernel, &vm, &out, &script);
        let console = fs::read_to_string(out.join("kernel.log")).unwrap_or_default()
            + &fs::read_to_string(out.join("console.log")).unwrap_or_default();
        let crash = guest_crash(&console);
        let mut round = collect(&out, &pending);
        let unfinished: Vec<PathBuf> = pending
            .iter()
            .zip(&round)
            .filter(|(_, r)| r.exit.is_none())
            .map(|(p, _)| p.clone())
            .collect();
        match (&crash, booted) {
            (Some(lines), _) if !unfinished.is_empty() => {
                crashes += 1;
                println!(
                    "\nTHE GUEST KERNEL CRASHED ({} of {} scripts unfinished); console:",
                    unfinished.len(),
                    pending.len()
                );
                for line in lines {
                    println!("    {line}");
                }
                if crashes > MAX_GUEST_CRASHES {
                    results.append(&mut round);
                    report(kernel, &results, std::env::var_os("CI").is_some());
                    bail!(
                        "the guest kernel crashed {crashes} times; logs in {}",
                        out.display()
                    );
                }
                println!(
                    "rebooting once for the scripts that did not finish (crash logs kept in {})",
                    out.display()
                );
                round.retain(|r| r.exit.is_some());
                results.append(&mut round);
                pending = unfinished;
                continue;
            }
            (_, Err(e)) => return Err(e),
            (_, Ok(0)) => {}
            (_, Ok(code)) => bail!(
                "the suite script itself failed in the guest (exit {code}); logs in {}",
                out.display()
            ),
        }
        if let Some(lines) = crash {
            // Every script finished: the crash came after (at power-off); say so, do not hide it.
            println!("\nthe guest kernel logged a crash after the last script:");
            for line in lines {
                println!("    {line}");
            }
        }
        results.append(&mut round);
        break;
    }
    results.sort_by(|a, b| a.name.cmp(&b.name));
    let ci = std::env::var_os("CI").is_some();
    let all_ok = report(kernel, &results, ci);
    println!(
        "logs: {} ({} boot{}, {:.0} s in the VM incl. boot{})",
        out.display(),
        crashes + 1,
        if crashes == 0 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
        if crashes == 0 {
            String::new()
        } else {
            format!("; the guest kernel crashed {crashes} time(s), see above")
        }
    );
    if opts.update_fixtures {
        update_fixtures(&out, kernel)?;
    }
    if !all_ok {
        bail!(
            "vm test failed: see the FAIL lines above and the logs in {}",
            out.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_read_from_the_log() {
        let log = "noise\nok - state disabled\nnot ok - ops is foo\nskip - no lavd\n";
        let r = parse_result("a.sh", Some(1), log);
        assert_eq!(r.passed, ["state disabled"]);
        assert_eq!(r.failed, ["ops is foo"]);
        assert_eq!(r.skipped, ["no lavd"]);
        assert!(!r.ok(false));
    }

    #[test]
    fn a_script_passes_only_with_exit_zero_and_a_passed_check() {
        assert!(parse_result("a", Some(0), "ok - x\n").ok(false));
        assert!(!parse_result("a", Some(0), "").ok(false));
        assert!(!parse_result("a", None, "ok - x\n").ok(false));
        assert!(!parse_result("a", Some(2), "ok - x\n").ok(false));
    }

    #[test]
    fn a_guest_kernel_crash_is_recognised_and_warnings_are_not() {
        let console = "boot\n[ 1.0] WARNING: CPU: 0 at kernel/sched/ext.c\n\
                       ok - x\n[ 9.1] Oops: int3: 0000 [#1] SMP NOPTI\n\
                       [ 9.2] RIP: 0010:sched_balance_update_blocked_averages\n\
                       [ 9.3] Kernel panic - not syncing: Fatal exception\n";
        let lines = guest_crash(console).expect("a crash");
        assert!(lines.iter().any(|l| l.contains("Oops: int3")));
        assert!(lines.iter().any(|l| l.contains("Kernel panic")));
        assert_eq!(
            guest_crash(
                "boot\nWARNING: something\nsched_ext: BPF scheduler \"x\" errored, disabling\nok - y\n"
            ),
            None
        );
    }

    #[test]
    fn a_skip_fails_under_ci() {
        let r = parse_result("a", Some(0), "ok - x\nskip - y\n");
        assert!(r.ok(false));
        assert!(!r.ok(true));
        let only_skipped = parse_result("a", Some(0), "skip - y\n");
        assert_eq!(only_skipped.verdict(false), "SKIP");
        assert_eq!(only_skipped.verdict(true), "FAIL");
    }
}
