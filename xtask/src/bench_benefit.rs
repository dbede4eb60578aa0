//! `cargo xtask bench benefit`: does autosa help a latency-sensitive task
//! beside CPU hogs, and what does it cost them?
//!
//! Load: a 1 ms sleep/wake loop that measures its own wakeup latency (actual
//! sleep minus requested) beside CPU hogs that count their loop iterations
//! (`autosa/tests/support/benefit_load.py`). Rounds alternate autosa off /
//! autosa on (the release daemon, `run --backend eevdf`, allowed to touch only
//! the load's processes), in ABBA order so that a drift of the machine falls
//! on both. An "on" round measures only once autosa has applied its plan, and
//! records how long that took from the load's start, how long the restore took
//! once the load stopped (SIGSTOP), and the switches and rollbacks it logged.
//! The summary is the median over rounds of each round's p99 and throughput:
//! the machine is noisy, a single round proves nothing.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use autosa::backend::eevdf::sched_attr::{Syscalls, TaskSched};
use autosa::config::Config;
use autosa::policy::plan::HogTreatment;

use crate::plot::benefit::median;

#[derive(clap::Args)]
pub struct BenefitArgs {
    /// Rounds per mode (autosa off, autosa on).
    #[arg(long, default_value_t = 8)]
    rounds: usize,
    /// Seconds measured per round (after autosa acted, in "on" rounds).
    #[arg(long, default_value_t = 10)]
    round_secs: u64,
    /// CPU hogs beside the sleeper.
    #[arg(long, default_value_t = 4)]
    hogs: usize,
    /// The daemon's collection interval in milliseconds.
    #[arg(long, default_value_t = 250)]
    interval_ms: u64,
    /// Seconds allowed for autosa to act on the load, or to restore after it.
    #[arg(long, default_value_t = 60)]
    act_timeout_secs: u64,
    /// Use this autosa binary instead of building the release one.
    #[arg(long)]
    autosa: Option<PathBuf>,
    /// Where the figures are written (Markdown); relative to the workspace.
    #[arg(long, default_value = "docs/BENCHMARKS-benefit.md")]
    out: PathBuf,
    /// Print only, do not write `--out`.
    #[arg(long)]
    no_write: bool,
    /// Keep each "on" round's daemon log (debug level) in this directory.
    #[arg(long)]
    keep_logs: Option<PathBuf>,
}

const LOAD_SCRIPT: &str = "autosa/tests/support/benefit_load.py";
const HOG_COMM: &str = "abb-hog";
const SLEEPER_COMM: &str = "abb-sleep";
/// Before the load starts, the daemon watches the machine this long, as a
/// daemon that has been running for a while would have.
const SETTLE: Duration = Duration::from_secs(3);
/// "Off" rounds wait this long after starting the load before measuring.
const OFF_WARMUP: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(50);

// Targets from the measurement of per-task adjustment on this machine
// (shared README): p99 well under 100 us, throughput within 5 %, act in 5 s.
const TARGET_P99_NS: f64 = 100_000.0;
const TARGET_THROUGHPUT_LOSS: f64 = 0.05;
const TARGET_ACT_SECS: f64 = 5.0;

pub fn run(args: BenefitArgs) -> anyhow::Result<()> {
    ensure!(args.rounds >= 1, "--rounds must be 1 or more");
    ensure!(args.round_secs >= 1, "--round-secs must be 1 or more");
    ensure!(args.hogs >= 1, "--hogs must be 1 or more");
    ensure!(
        crate::host::is_root(),
        "the benefit benchmark needs root: autosa changes other processes' scheduling and loads eBPF"
    );
    if !args.no_write {
        // Before the rounds, not after: a missing font should not cost a run.
        crate::plot::style::ensure_font()?;
    }
    let root = crate::host::workspace_root();
    let script = root.join(LOAD_SCRIPT);
    ensure!(script.exists(), "{} is missing", script.display());
    let autosa = match &args.autosa {
        Some(p) => p.clone(),
        None => crate::host::build_autosa(crate::host::Profile::Release)?,
    };
    let work = WorkDir::new()?;
    let (config_path, config) = write_config(&work.0, args.interval_ms)?;
    let plan = Expected::from(&config)?;
    let default_slice_ns = Syscalls
        .get(gettid())
        .context("sched_getattr on the benchmark's own thread")?
        .runtime_ns;
    ensure!(
        default_slice_ns > 0,
        "this kernel reports no EEVDF slice (Linux 6.6+ needed for custom slices)"
    );
    let started = utc_now();
    let load_before = loadavg();
    eprintln!(
        "benefit: {} rounds per mode, {} s each, {} hogs on {} CPUs, load average {load_before}",
        args.rounds,
        args.round_secs,
        args.hogs,
        nr_cpus()
    );

    let ctx = RoundCtx {
        args: &args,
        script: &script,
        autosa: &autosa,
        config: &config_path,
        work: &work.0,
        plan: &plan,
        default_slice_ns,
        cooldown_secs: config.switching.cooldown_secs as f64,
    };
    let mut rounds: Vec<Round> = Vec::new();
    for pair in 0..args.rounds {
        let order = if pair.is_multiple_of(2) {
            [false, true]
        } else {
            [true, false]
        };
        for on in order {
            let n = rounds.len() + 1;
            let r = ctx.round(n, on)?;
            eprintln!("{}", r.line());
            rounds.push(r);
        }
    }
    let load_after = loadavg();
    let report = Report {
        rounds: &rounds,
        args: &args,
        started,
        load_before,
        load_after,
        plan: &plan,
        config: fs::read_to_string(&config_path)?,
    };
    let text = report.markdown();
    println!("{}", report.summary_table());
    if !args.no_write {
        let out = root.join(&args.out);
        if let Some(dir) = out.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("written to {}", out.display());
    }
    let render = (!args.no_write).then_some(crate::plot::benefit::render as _);
    crate::plot::publish(crate::plot::benefit::NAME, &report.plot_data(), render)?;
    Ok(())
}

fn gettid() -> u32 {
    fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .unwrap_or_else(std::process::id)
}

fn nr_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// A private temporary directory, removed at the end.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> anyhow::Result<WorkDir> {
        let dir = std::env::temp_dir().join(format!("autosa-bench-benefit-{}", std::process::id()));
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(WorkDir(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A daemon that reacts within seconds and may touch only the load.
fn write_config(dir: &Path, interval_ms: u64) -> anyhow::Result<(PathBuf, Config)> {
    let path = dir.join("autosa.toml");
    let text = format!(
        r#"# Written by `cargo xtask bench benefit`: fast reaction, only the load touched.
[daemon]
state_dir = "{state}"

[control]
socket = "{socket}"

[collect]
interval = "{interval_ms}ms"
top_tasks = 64

[policy.smoothing]
window = 3
hold_intervals = 2

[switching]
hold_intervals = 2
cooldown_secs = 2
max_switches_per_hour = 100
regression_window_secs = 5
regression_min_samples = 4
block_secs = 10

[eevdf]
only_comms = ["{HOG_COMM}", "{SLEEPER_COMM}"]
"#,
        state = dir.join("state").display(),
        socket = dir.join("autosa.sock").display(),
    );
    fs::write(&path, &text)?;
    let config = Config::parse(&text, &path).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((path, config))
}

/// What the `mixed` plan of the config makes of the load.
struct Expected {
    hogs: HogTreatment,
    slice_ns: u64,
}

impl Expected {
    fn from(config: &Config) -> anyhow::Result<Expected> {
        let mixed = &config.policy.plans.mixed;
        let Some(slice_ns) = mixed.latency_slice_ns else {
            bail!("the mixed plan gives latency-sensitive tasks no slice: nothing to measure");
        };
        if mixed.hogs == HogTreatment::Leave {
            bail!("the mixed plan leaves the hogs alone: nothing to measure");
        }
        Ok(Expected {
            hogs: mixed.hogs,
            slice_ns,
        })
    }

    fn describe(&self) -> String {
        let hogs = match self.hogs {
            HogTreatment::Leave => "left alone".to_string(),
            HogTreatment::Nice(n) => format!("nice {n}"),
            HogTreatment::Batch => "SCHED_BATCH".to_string(),
            HogTreatment::Idle => "SCHED_IDLE".to_string(),
        };
        format!("hogs {hogs}, sleeper slice {} us", self.slice_ns / 1000)
    }

    fn hog_applied(&self, s: Sched) -> bool {
        match self.hogs {
            HogTreatment::Leave => true,
            HogTreatment::Nice(n) => s.nice == n,
            HogTreatment::Batch => s.policy == 3,
            HogTreatment::Idle => s.policy == 5,
        }
    }
}

/// One thread's scheduling state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sched {
    /// `stat` policy.
    policy: u32,
    /// `stat` nice.
    nice: i32,
    /// `sched_getattr` `sched_runtime`.
    slice_ns: u64,
}

fn read_sched(pid: u32, tid: u32) -> Option<Sched> {
    let stat = procfs::process::Process::new(pid as i32)
        .and_then(|p| p.task_from_tid(tid as i32))
        .and_then(|t| t.stat())
        .ok()?;
    Some(Sched {
        nice: stat.nice as i32,
        policy: stat.policy?,
        slice_ns: Syscalls.get(tid).ok()?.runtime_ns,
    })
}

/// Every thread of `pid`.
fn process_sched(pid: u32) -> Vec<Sched> {
    fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|tid| read_sched(pid, tid))
                .collect()
        })
        .unwrap_or_default()
}

fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// One load process with its report pipe.
struct LoadProc {
    child: Child,
    out: BufReader<ChildStdout>,
}

/// The sleeper and the hogs; dropping kills and reaps them.
struct Load {
    sleeper: LoadProc,
    hogs: Vec<LoadProc>,
}

impl Load {
    fn start(script: &Path, hogs: usize) -> anyhow::Result<Load> {
        let spawn = |args: &[&str]| -> anyhow::Result<LoadProc> {
            let mut child = Command::new("python3")
                .arg(script)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .context("starting python3 (the benchmark load needs it)")?;
            let out = BufReader::new(child.stdout.take().expect("piped"));
            Ok(LoadProc { child, out })
        };
        let mut load = Load {
            sleeper: spawn(&["sleeper", SLEEPER_COMM])?,
            hogs: Vec::new(),
        };
        for _ in 0..hogs {
            load.hogs.push(spawn(&["hog", HOG_COMM])?);
        }
        // The script names itself; autosa may touch it only then.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let named = load.all().iter().all(|p| {
                fs::read_to_string(format!("/proc/{}/comm", p.child.id()))
                    .is_ok_and(|c| c.trim_end() == HOG_COMM || c.trim_end() == SLEEPER_COMM)
            });
            if named {
                return Ok(load);
            }
            ensure!(
                Instant::now() < deadline,
                "the load did not start within 20 s"
            );
            std::thread::sleep(POLL);
        }
    }

    fn all(&self) -> Vec<&LoadProc> {
        std::iter::once(&self.sleeper).chain(&self.hogs).collect()
    }

    fn pids(&self) -> Vec<u32> {
        self.all().iter().map(|p| p.child.id()).collect()
    }

    /// Whether every thread carries the plan, whether any carries a change,
    /// and whether all are back at the defaults.
    fn state(&self, plan: &Expected, default_slice_ns: u64) -> LoadState {
        let sleeper = process_sched(self.sleeper.child.id());
        let hogs: Vec<Sched> = self
            .hogs
            .iter()
            .flat_map(|h| process_sched(h.child.id()))
            .collect();
        let default = |s: &Sched| s.policy == 0 && s.nice == 0 && s.slice_ns == default_slice_ns;
        let sleeper_applied = |s: &Sched| s.slice_ns == plan.slice_ns;
        let threads = sleeper.len() + hogs.len();
        let changed = sleeper.iter().chain(&hogs).filter(|s| !default(s)).count();
        LoadState {
            changed_share: changed as f64 / threads.max(1) as f64,
            applied: !sleeper.is_empty()
                && hogs.len() >= self.hogs.len()
                && sleeper.iter().all(sleeper_applied)
                && hogs.iter().all(|&s| plan.hog_applied(s)),
            changed,
        }
    }

    /// Closes the measurement window and reads every process's report.
    fn close_window(&mut self) -> anyhow::Result<Window> {
        signal(&self.pids(), "USR2");
        let read = |p: &mut LoadProc| -> anyhow::Result<serde_json::Value> {
            let mut line = String::new();
            p.out.read_line(&mut line)?;
            serde_json::from_str(&line).with_context(|| format!("a load report: {line:?}"))
        };
        let s = read(&mut self.sleeper)?;
        let mut hog_rate = 0.0;
        for h in &mut self.hogs {
            let v = read(h)?;
            let secs = v["secs"].as_f64().unwrap_or(0.0);
            if secs > 0.0 {
                hog_rate += v["iterations"].as_f64().unwrap_or(0.0) / secs;
            }
        }
        let hist = s["hist"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| Some((b.get(0)?.as_i64()? as i32, b.get(1)?.as_u64()?)))
            .collect();
        Ok(Window {
            hist,
            hist_per_octave: s["hist_per_octave"].as_u64().unwrap_or(0) as u32,
            wakeups: s["wakeups"].as_u64().unwrap_or(0),
            p50_ns: s["p50_ns"].as_f64().unwrap_or(f64::NAN),
            p99_ns: s["p99_ns"].as_f64().unwrap_or(f64::NAN),
            max_ns: s["max_ns"].as_f64().unwrap_or(f64::NAN),
            hog_iters_per_sec: hog_rate,
        })
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        let pids = self.pids();
        signal(&pids, "KILL");
        for p in std::iter::once(&mut self.sleeper).chain(&mut self.hogs) {
            let _ = p.child.wait();
        }
    }
}

struct LoadState {
    /// Share of the load's threads not at their defaults.
    changed_share: f64,
    /// How many of them.
    changed: usize,
    applied: bool,
}

/// The figures of one measurement window.
struct Window {
    /// The sleeper's latencies: (log bucket, count), `hist_per_octave`
    /// buckets per power of two of ns (see the load script).
    hist: Vec<(i32, u64)>,
    hist_per_octave: u32,
    wakeups: u64,
    p50_ns: f64,
    p99_ns: f64,
    max_ns: f64,
    hog_iters_per_sec: f64,
}

/// A running daemon; dropping it stops it with SIGTERM (it restores), then
/// SIGKILL if it hangs.
struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    fn start(autosa: &Path, config: &Path, log: PathBuf) -> anyhow::Result<Daemon> {
        let out = fs::File::create(&log)?;
        let child = Command::new(autosa)
            .arg("--config")
            .arg(config)
            .args(["--log", "autosa=debug", "run", "--backend", "eevdf"])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", autosa.display()))?;
        let mut d = Daemon {
            child: Some(child),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !d.log_text().contains("autosa running") {
            d.check_alive()?;
            ensure!(
                Instant::now() < deadline,
                "autosa did not start within 30 s:\n{}",
                d.log_text()
            );
            std::thread::sleep(POLL);
        }
        Ok(d)
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_len(&self) -> usize {
        fs::metadata(&self.log).map_or(0, |m| m.len() as usize)
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        let child = self.child.as_mut().expect("running");
        if let Some(status) = child.try_wait()? {
            bail!("autosa exited on its own ({status}):\n{}", self.log_text());
        }
        Ok(())
    }

    fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        signal(&[child.id()], "TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait()? {
                ensure!(
                    status.success(),
                    "autosa exited with {status} after SIGTERM"
                );
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("autosa did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// What autosa's log says about a round.
#[derive(Default)]
struct LogCounts {
    /// Switch decisions (`switch` lines), with their time since start.
    switches: Vec<f64>,
    rollbacks: usize,
    /// Per-thread changes the backend made during the measurement window.
    changes_in_window: usize,
    /// The smallest gap between two switches or rollbacks, seconds.
    min_gap_secs: Option<f64>,
    /// Intervals per class under load (load start to the window's end).
    classes: std::collections::BTreeMap<String, usize>,
}

fn at_secs(line: &str) -> Option<f64> {
    line.split(" at_s=")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `load` and `window` are byte ranges of the log: under load, and the
/// measurement window.
fn count_log(log: &str, load: std::ops::Range<usize>, window: std::ops::Range<usize>) -> LogCounts {
    let mut c = LogCounts::default();
    for line in log.get(load).unwrap_or("").lines() {
        if line.contains(" interval ")
            && let Some(class) = line.split(" class=").nth(1)
        {
            let class = class.split_whitespace().next().unwrap_or("?");
            *c.classes.entry(class.to_string()).or_default() += 1;
        }
    }
    let mut times = Vec::new();
    for line in log.lines() {
        if line.contains(" switch at_s=") {
            c.switches.extend(at_secs(line));
            times.extend(at_secs(line));
        } else if line.contains(" rollback at_s=") {
            c.rollbacks += 1;
            times.extend(at_secs(line));
        }
    }
    let in_window = log.get(window).unwrap_or("");
    c.changes_in_window = in_window
        .lines()
        // The daemon logs every change it made, restores included, as
        // "changed" (the backend's own "restored" lines repeat them).
        .filter(|l| l.contains(" changed what="))
        .count();
    times.sort_by(f64::total_cmp);
    c.min_gap_secs = times.windows(2).map(|w| w[1] - w[0]).reduce(f64::min);
    c
}

struct Round {
    n: usize,
    on: bool,
    window: Window,
    /// Load start → first change autosa made to the load, seconds.
    first_change_secs: Option<f64>,
    /// Load start → the whole plan applied.
    acted_secs: Option<f64>,
    /// Load stopped → every value back at the defaults.
    restored_secs: Option<f64>,
    /// Share of the window's polls where the plan was fully applied.
    applied_share: f64,
    log: LogCounts,
    /// When things happened, for the timeline plot ("on" rounds).
    timeline: Option<crate::plot::benefit::Timeline>,
}

impl Round {
    fn line(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("-".into(), |s| format!("{s:.1} s"));
        if self.on {
            format!(
                "round {:>2} on : p99 {:>8} hogs {:>6.1} M it/s | acted {} (first change {}), restored {}, applied {:.0} % of the window, {} switches, {} rollbacks, {} task changes in the window; classes {}",
                self.n,
                us(self.window.p99_ns),
                self.window.hog_iters_per_sec / 1e6,
                opt(self.acted_secs),
                opt(self.first_change_secs),
                opt(self.restored_secs),
                self.applied_share * 100.0,
                self.log.switches.len(),
                self.log.rollbacks,
                self.log.changes_in_window,
                classes(&self.log.classes),
            )
        } else {
            format!(
                "round {:>2} off: p99 {:>8} hogs {:>6.1} M it/s",
                self.n,
                us(self.window.p99_ns),
                self.window.hog_iters_per_sec / 1e6
            )
        }
    }
}

/// `mixed 40, idle 3`: intervals per class, most first.
fn classes(counts: &std::collections::BTreeMap<String, usize>) -> String {
    let mut v: Vec<(&String, &usize)> = counts.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let s: Vec<String> = v.iter().map(|(c, n)| format!("{c} {n}")).collect();
    if s.is_empty() {
        "-".into()
    } else {
        s.join(", ")
    }
}

fn us(ns: f64) -> String {
    if ns.is_nan() {
        "-".into()
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.0} us", ns / 1e3)
    }
}

struct RoundCtx<'a> {
    args: &'a BenefitArgs,
    script: &'a Path,
    autosa: &'a Path,
    config: &'a Path,
    work: &'a Path,
    plan: &'a Expected,
    default_slice_ns: u64,
    cooldown_secs: f64,
}

impl RoundCtx<'_> {
    fn round(&self, n: usize, on: bool) -> anyhow::Result<Round> {
        let timeout = Duration::from_secs(self.args.act_timeout_secs);
        let measure = Duration::from_secs(self.args.round_secs);
        let t_daemon = Instant::now();
        let mut daemon = if on {
            let d = Daemon::start(
                self.autosa,
                self.config,
                self.work.join(format!("round-{n}.log")),
            )?;
            std::thread::sleep(SETTLE);
            Some(d)
        } else {
            None
        };

        let log_at_load = daemon.as_ref().map_or(0, Daemon::log_len);
        let t_load = Instant::now();
        let mut load = Load::start(self.script, self.args.hogs)?;
        let mut first_change = None;
        let mut acted = None;
        // (seconds since the load started, share of its threads changed).
        let mut changed: Vec<(f64, f64)> = Vec::new();
        if let Some(d) = daemon.as_mut() {
            while acted.is_none() && t_load.elapsed() < timeout {
                d.check_alive()?;
                let s = load.state(self.plan, self.default_slice_ns);
                changed.push((t_load.elapsed().as_secs_f64(), s.changed_share));
                if s.changed > 0 && first_change.is_none() {
                    first_change = Some(t_load.elapsed().as_secs_f64());
                }
                if s.applied {
                    acted = Some(t_load.elapsed().as_secs_f64());
                } else {
                    std::thread::sleep(POLL);
                }
            }
            if acted.is_none() {
                eprintln!(
                    "round {n}: autosa did not apply the mixed plan within {timeout:?}; measuring anyway"
                );
            }
        } else {
            std::thread::sleep(OFF_WARMUP);
        }

        // The measurement window; in "on" rounds, also how steadily the plan
        // stays applied on this steady load.
        let log_from = daemon.as_ref().map_or(0, Daemon::log_len);
        signal(&load.pids(), "USR1");
        let t_window = Instant::now();
        let (mut polls, mut applied_polls) = (0u32, 0u32);
        while t_window.elapsed() < measure {
            if let Some(d) = daemon.as_mut() {
                d.check_alive()?;
                polls += 1;
                let s = load.state(self.plan, self.default_slice_ns);
                changed.push((t_load.elapsed().as_secs_f64(), s.changed_share));
                if s.applied {
                    applied_polls += 1;
                }
                if s.changed > 0 && first_change.is_none() {
                    first_change = Some(t_load.elapsed().as_secs_f64());
                }
            }
            std::thread::sleep(
                Duration::from_millis(100).min(measure.saturating_sub(t_window.elapsed())),
            );
        }
        let window = load.close_window()?;
        let window_open_s = t_window.duration_since(t_load).as_secs_f64();
        let window_close_s = t_load.elapsed().as_secs_f64();
        let log_to = daemon.as_ref().map_or(0, Daemon::log_len);

        // Load stops (stopped, not gone: its values can still be seen).
        // Only a round where autosa changed something has a restore to time.
        let mut restored = None;
        let mut load_stop_s = None;
        if let Some(d) = daemon.as_mut().filter(|_| first_change.is_some()) {
            signal(&load.pids(), "STOP");
            let t_stop = Instant::now();
            load_stop_s = Some(t_stop.duration_since(t_load).as_secs_f64());
            while t_stop.elapsed() < timeout {
                d.check_alive()?;
                let s = load.state(self.plan, self.default_slice_ns);
                changed.push((t_load.elapsed().as_secs_f64(), s.changed_share));
                if s.changed == 0 {
                    restored = Some(t_stop.elapsed().as_secs_f64());
                    break;
                }
                std::thread::sleep(POLL);
            }
            if restored.is_none() {
                eprintln!(
                    "round {n}: autosa did not restore within {timeout:?} of the load stopping"
                );
            }
        }
        let log = match daemon.as_mut() {
            Some(d) => {
                let text = d.log_text();
                d.stop()?;
                if let Some(dir) = &self.args.keep_logs {
                    fs::create_dir_all(dir)?;
                    fs::copy(&d.log, dir.join(format!("round-{n}.log")))?;
                }
                count_log(&text, log_at_load..log_to, log_from..log_to)
            }
            None => LogCounts::default(),
        };
        drop(load);
        if let Some(gap) = log.min_gap_secs
            && gap + 0.05 < self.cooldown_secs
        {
            eprintln!(
                "round {n}: two switches {gap:.2} s apart, under the {} s cooldown",
                self.cooldown_secs
            );
        }
        let timeline = on.then(|| crate::plot::benefit::Timeline {
            daemon_start_s: -t_load.duration_since(t_daemon).as_secs_f64(),
            first_change_s: first_change,
            plan_applied_s: acted,
            window_open_s,
            window_close_s,
            load_stop_s,
            restored_s: load_stop_s.zip(restored).map(|(a, b)| a + b),
            changed,
        });
        Ok(Round {
            n,
            on,
            timeline,
            window,
            first_change_secs: first_change,
            acted_secs: acted,
            restored_secs: restored,
            applied_share: if polls > 0 {
                f64::from(applied_polls) / f64::from(polls)
            } else {
                0.0
            },
            log,
        })
    }
}

fn max(v: impl Iterator<Item = f64>) -> Option<f64> {
    v.reduce(f64::max)
}

struct Report<'a> {
    rounds: &'a [Round],
    args: &'a BenefitArgs,
    started: String,
    load_before: String,
    load_after: String,
    plan: &'a Expected,
    config: String,
}

impl Report<'_> {
    /// The rounds as the plots' data (`target/bench/benefit.json`).
    fn plot_data(&self) -> crate::plot::benefit::BenefitData {
        let a = self.args;
        let finite = |v: f64| v.is_finite().then_some(v);
        crate::plot::benefit::BenefitData {
            command: format!(
                "cargo xtask bench benefit --rounds {} --round-secs {} --hogs {} --interval-ms {}",
                a.rounds, a.round_secs, a.hogs, a.interval_ms
            ),
            measured: format!("{} on {} CPUs", self.started, nr_cpus()),
            hogs: a.hogs,
            round_secs: a.round_secs,
            target_p99_ns: TARGET_P99_NS,
            per_octave: self
                .rounds
                .iter()
                .map(|r| r.window.hist_per_octave)
                .find(|&k| k > 0)
                .unwrap_or(8),
            rounds: self
                .rounds
                .iter()
                .map(|r| crate::plot::benefit::BenefitRound {
                    n: r.n,
                    on: r.on,
                    wakeups: r.window.wakeups,
                    p50_ns: finite(r.window.p50_ns),
                    p99_ns: finite(r.window.p99_ns),
                    max_ns: finite(r.window.max_ns),
                    hog_iters_per_sec: r.window.hog_iters_per_sec,
                    hist: r.window.hist.clone(),
                    timeline: r.timeline.clone(),
                })
                .collect(),
        }
    }

    fn of(&self, on: bool) -> impl Iterator<Item = &Round> {
        self.rounds.iter().filter(move |r| r.on == on)
    }

    fn p99(&self, on: bool) -> Option<f64> {
        median(self.of(on).map(|r| r.window.p99_ns).collect())
    }

    fn throughput(&self, on: bool) -> Option<f64> {
        median(self.of(on).map(|r| r.window.hog_iters_per_sec).collect())
    }

    fn summary_table(&self) -> String {
        let mut t = String::new();
        let p = |v: Option<f64>| v.map_or("-".into(), us);
        let secs = |v: Option<f64>| v.map_or("-".into(), |s| format!("{s:.1} s"));
        let (off_p99, on_p99) = (self.p99(false), self.p99(true));
        let (off_tp, on_tp) = (self.throughput(false), self.throughput(true));
        let tp_change = match (off_tp, on_tp) {
            (Some(a), Some(b)) if a > 0.0 => Some(b / a - 1.0),
            _ => None,
        };
        let acted: Vec<f64> = self.of(true).filter_map(|r| r.acted_secs).collect();
        let restored: Vec<f64> = self.of(true).filter_map(|r| r.restored_secs).collect();
        let on_rounds = self.of(true).count();
        let _ = writeln!(t, "| figure | autosa off | autosa on | target |");
        let _ = writeln!(t, "|---|---|---|---|");
        let _ = writeln!(
            t,
            "| sleeper wakeup latency, median of per-round p99 | {} | {} | well under {} |",
            p(off_p99),
            p(on_p99),
            us(TARGET_P99_NS)
        );
        let _ = writeln!(
            t,
            "| sleeper wakeup latency, median of per-round p50 | {} | {} | |",
            p(median(self.of(false).map(|r| r.window.p50_ns).collect())),
            p(median(self.of(true).map(|r| r.window.p50_ns).collect()))
        );
        let _ = writeln!(
            t,
            "| hog throughput, median (M iterations/s, all hogs) | {} | {} ({}) | within {:.0} % |",
            off_tp.map_or("-".into(), |v| format!("{:.1}", v / 1e6)),
            on_tp.map_or("-".into(), |v| format!("{:.1}", v / 1e6)),
            tp_change.map_or("-".into(), |c| format!("{:+.1} %", c * 100.0)),
            TARGET_THROUGHPUT_LOSS * 100.0
        );
        let _ = writeln!(
            t,
            "| load start → plan applied, median / max | | {} / {} ({} of {on_rounds} rounds acted) | at most {TARGET_ACT_SECS:.0} s |",
            secs(median(acted.clone())),
            secs(max(acted.iter().copied())),
            acted.len()
        );
        let _ = writeln!(
            t,
            "| load start → first change, median | | {} | |",
            secs(median(
                self.of(true).filter_map(|r| r.first_change_secs).collect()
            ))
        );
        let _ = writeln!(
            t,
            "| load stop → all restored, median / max | | {} / {} ({} of {on_rounds} rounds) | |",
            secs(median(restored.clone())),
            secs(max(restored.iter().copied())),
            restored.len()
        );
        let _ = writeln!(
            t,
            "| switches per round (min / max), rollbacks in all | | {} / {}, {} | one to act, one to restore |",
            self.of(true)
                .map(|r| r.log.switches.len())
                .min()
                .unwrap_or(0),
            self.of(true)
                .map(|r| r.log.switches.len())
                .max()
                .unwrap_or(0),
            self.of(true).map(|r| r.log.rollbacks).sum::<usize>()
        );
        let _ = writeln!(
            t,
            "| plan fully applied during the window (median share of polls) | | {} | 100 % (no flapping) |",
            median(self.of(true).map(|r| r.applied_share).collect())
                .map_or("-".into(), |s| format!("{:.0} %", s * 100.0))
        );
        let _ = writeln!(
            t,
            "| per-thread changes during the window (median / max) | | {} / {} | 0 |",
            median(
                self.of(true)
                    .map(|r| r.log.changes_in_window as f64)
                    .collect()
            )
            .unwrap_or(0.0),
            self.of(true)
                .map(|r| r.log.changes_in_window)
                .max()
                .unwrap_or(0)
        );
        t
    }

    fn rounds_table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "| round | autosa | p50 | p99 | max | wakeups | hogs M it/s | acted (first change) | restored | applied in window | switches | rollbacks | changes in window | classes under load (intervals) |"
        );
        let _ = writeln!(
            t,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in self.rounds {
            let secs = |v: Option<f64>| v.map_or("-".into(), |s| format!("{s:.1} s"));
            if r.on {
                let _ = writeln!(
                    t,
                    "| {} | on | {} | {} | {} | {} | {:.1} | {} ({}) | {} | {:.0} % | {} | {} | {} | {} |",
                    r.n,
                    us(r.window.p50_ns),
                    us(r.window.p99_ns),
                    us(r.window.max_ns),
                    r.window.wakeups,
                    r.window.hog_iters_per_sec / 1e6,
                    secs(r.acted_secs),
                    secs(r.first_change_secs),
                    secs(r.restored_secs),
                    r.applied_share * 100.0,
                    r.log.switches.len(),
                    r.log.rollbacks,
                    r.log.changes_in_window,
                    classes(&r.log.classes)
                );
            } else {
                let _ = writeln!(
                    t,
                    "| {} | off | {} | {} | {} | {} | {:.1} | | | | | | | |",
                    r.n,
                    us(r.window.p50_ns),
                    us(r.window.p99_ns),
                    us(r.window.max_ns),
                    r.window.wakeups,
                    r.window.hog_iters_per_sec / 1e6
                );
            }
        }
        t
    }

    fn markdown(&self) -> String {
        let a = self.args;
        let mut m = String::new();
        let _ = writeln!(m, "# Benefit of autosa on a mixed load (EEVDF backend)\n");
        let _ = writeln!(
            m,
            "Command: `cargo xtask bench benefit --rounds {} --round-secs {} --hogs {} --interval-ms {} --act-timeout-secs {}`  ",
            a.rounds, a.round_secs, a.hogs, a.interval_ms, a.act_timeout_secs
        );
        let _ = writeln!(
            m,
            "Measured: {} on {} CPUs, kernel {}; load average before {}, after {}.\n",
            self.started,
            nr_cpus(),
            fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            self.load_before,
            self.load_after
        );
        let _ = writeln!(
            m,
            "Load: a sleeper (sleep 1 ms, wake, repeat; wakeup latency = actual sleep − requested, \
             timer slack 1 ns) beside {} CPU hogs counting loop iterations \
             (`autosa/tests/support/benefit_load.py`). Rounds alternate autosa off / on in ABBA \
             order, {} per mode, {} s measured each. In \"on\" rounds the release daemon \
             (`autosa run --backend eevdf`, only the load's processes allowed) is started {} s \
             before the load, and measuring starts only once its mixed plan ({}) is applied to \
             every thread of the load; the load is then stopped with SIGSTOP and the time to the \
             restore of every original value is taken. Figures are medians over rounds of each \
             round's own figure.\n",
            a.hogs,
            a.rounds,
            a.round_secs,
            SETTLE.as_secs(),
            self.plan.describe()
        );
        let _ = writeln!(m, "## Summary\n\n{}", self.summary_table());
        let _ = writeln!(m, "## Rounds\n\n{}", self.rounds_table());
        let _ = writeln!(
            m,
            "\"applied in window\": share of 100 ms polls during the measured window where every \
             load thread carried the plan. \"changes in window\": per-thread changes and restores \
             autosa logged during the window (a steady load should need none).\n"
        );
        let _ = writeln!(
            m,
            "## Plots\n\n\
             ![wakeup latency distribution and tail, autosa off vs on](img/benefit-latency.png)\n\n\
             ![p99 of every round](img/benefit-rounds.png)\n\n\
             ![timeline of one round with autosa on](img/benefit-timeline.png)\n\n\
             Data: `target/bench/benefit.json`; `cargo xtask bench plot` redraws them from it.\n"
        );
        let _ = writeln!(
            m,
            "## Daemon configuration used\n\n```toml\n{}```",
            self.config
        );
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each thread's policy, nice and slice, as `sched_getattr` has them.
    #[test]
    fn own_threads_scheduling_is_read() {
        let own = Syscalls.get(gettid()).unwrap();
        let all = process_sched(std::process::id());
        assert!(!all.is_empty());
        let me = read_sched(std::process::id(), gettid()).expect("own thread");
        assert_eq!(me.policy, own.policy);
        assert_eq!(me.nice, own.nice);
        assert_eq!(me.slice_ns, own.runtime_ns);
    }
}
