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
    for script in scripts {
        let name = script.file_name().unwrap().to_string_lossy();
        let log = out.join(format!("{name}.log"));
        let rc = out.join(format!("{name}.rc"));
        s.push_str(&format!(
            "echo '### {name}'\n\
             ( timeout --signal=INT --kill-after=10 {t} sh {script}; echo $? > {rc} ) 2>&1 | tee {log}\n",
            t = opts.script_timeout,
            script = q(script),
            rc = q(&rc),
            log = q(&log),
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
            parse_result(&name, exit, &log)
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
        println!(
            "  {} {} ({exit}; {} passed, {} failed, {} skipped)",
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
    let out = run::new_run_dir(cache, "test")?;
    let script = suite_script(&out, autosa.as_deref(), &scripts, opts);
    let code = run::boot(cache, kernel, &vm, &out, &script)?;
    if code != 0 {
        bail!(
            "the suite script itself failed in the guest (exit {code}); logs in {}",
            out.display()
        );
    }
    let ci = std::env::var_os("CI").is_some();
    let results = collect(&out, &scripts);
    let all_ok = report(kernel, &results, ci);
    println!("logs: {}", out.display());
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
    fn a_skip_fails_under_ci() {
        let r = parse_result("a", Some(0), "ok - x\nskip - y\n");
        assert!(r.ok(false));
        assert!(!r.ok(true));
        let only_skipped = parse_result("a", Some(0), "skip - y\n");
        assert_eq!(only_skipped.verdict(false), "SKIP");
        assert_eq!(only_skipped.verdict(true), "FAIL");
    }
}
