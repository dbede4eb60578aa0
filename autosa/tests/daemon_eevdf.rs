//! The real daemon (`autosa run --backend eevdf`) on a real mixed load: four
//! CPU hogs on this machine's CPUs beside a 1 ms sleep/wake loop. autosa must
//! deprioritise the hogs and give the sleeper the short slice the config's
//! `mixed` plan names, put every original value back on SIGTERM, and, after a
//! SIGKILL, restore from its journal at the next start before anything else.
//!
//! Needs root (sched_setattr on other processes, eBPF) and python3; under
//! `CI` a missing requirement fails the test instead of skipping it. The
//! daemon may only touch this test's processes (`eevdf.only_comms`), so other
//! work on the machine is left alone.

#[path = "support/child.rs"]
mod child;
#[path = "support/prereq.rs"]
mod prereq;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use autosa::backend::eevdf::sched_attr::{
    SCHED_BATCH, SCHED_IDLE, SCHED_OTHER, Syscalls, TaskSched,
};
use autosa::backend::journal::{Entry, Journal};
use autosa::config::Config;
use autosa::policy::plan::HogTreatment;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const LOAD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/benefit_load.py");
const HOGS: usize = 4;
/// Generous: the classifier needs a few intervals of evidence, the machine
/// may be busy with other work.
const ACT_DEADLINE: Duration = Duration::from_secs(90);
const EXIT_DEADLINE: Duration = Duration::from_secs(20);

/// The two scenarios each load the CPUs fully: run one at a time, or each
/// halves the other's hogs below what makes a hog.
static SERIAL: Mutex<()> = Mutex::new(());

/// Skip (or fail under CI) when the machine cannot run this test.
fn requirements_met(test: &str) -> bool {
    let missing = if !nix::unistd::geteuid().is_root() {
        Some("root (sched_setattr on other processes, eBPF)".to_string())
    } else if Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        Some("python3 (runs the test load)".to_string())
    } else {
        match own_attr() {
            Ok(a) if a.runtime_ns > 0 => None,
            Ok(_) => Some("a kernel that reports EEVDF slices (Linux 6.6+)".to_string()),
            Err(e) => Some(format!("sched_getattr ({e})")),
        }
    };
    prereq::run_or_skip(test, missing)
}

fn own_attr() -> std::io::Result<autosa::backend::journal::TaskAttr> {
    Syscalls.get(nix::unistd::gettid().as_raw() as u32)
}

/// One thread's scheduling state, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sched {
    /// `/proc/<pid>/task/<tid>/stat` field 41.
    policy: u32,
    /// Field 19.
    nice: i32,
    /// `sched_getattr` `sched_runtime`: the EEVDF slice.
    slice_ns: u64,
}

fn read_sched(pid: u32, tid: u32) -> Option<Sched> {
    let stat = fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces and parentheses;
    // the first of them is field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let nice = fields.get(19 - 3)?.parse().ok()?;
    let policy = fields.get(41 - 3)?.parse().ok()?;
    let slice_ns = Syscalls.get(tid).ok()?.runtime_ns;
    Some(Sched {
        policy,
        nice,
        slice_ns,
    })
}

fn threads(pid: u32) -> Vec<u32> {
    let mut tids: Vec<u32> = fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    tids.sort_unstable();
    tids
}

/// Every thread of `pid` with its state.
fn process_sched(pid: u32) -> Vec<(u32, Sched)> {
    threads(pid)
        .into_iter()
        .filter_map(|tid| Some((tid, read_sched(pid, tid)?)))
        .collect()
}

/// The test load: hogs and a sleeper under names only this test uses.
/// Dropping it kills and reaps every process, also when a test fails.
struct Load {
    hogs: Vec<Child>,
    sleeper: Child,
    hog_comm: String,
    sleeper_comm: String,
}

impl Load {
    fn start(tag: &str) -> Load {
        let hog_comm = format!("ad{tag}-hog");
        let sleeper_comm = format!("ad{tag}-sleep");
        let spawn = |args: &[&str]| {
            Command::new("python3")
                .arg(LOAD_SCRIPT)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start python3 {LOAD_SCRIPT}: {e}"))
        };
        // The sleeper first: a Load that fails half-way still drops what it started.
        let mut load = Load {
            sleeper: spawn(&["sleeper", &sleeper_comm]),
            hogs: Vec::new(),
            hog_comm,
            sleeper_comm,
        };
        for _ in 0..HOGS {
            let hog = spawn(&["hog", &load.hog_comm]);
            load.hogs.push(hog);
        }
        // The names are set by the script itself: wait until they are.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !load
            .pids()
            .all(|(pid, want)| comm(pid).as_deref() == Some(want))
        {
            assert!(
                Instant::now() < deadline,
                "the load processes did not name themselves within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        load
    }

    fn hog_pids(&self) -> Vec<u32> {
        self.hogs.iter().map(Child::id).collect()
    }

    fn pids(&self) -> impl Iterator<Item = (u32, &str)> {
        self.hogs
            .iter()
            .map(|h| (h.id(), self.hog_comm.as_str()))
            .chain([(self.sleeper.id(), self.sleeper_comm.as_str())])
    }

    /// Every thread of every load process.
    fn snapshot(&self) -> Vec<(u32, u32, Sched)> {
        self.pids()
            .flat_map(|(pid, _)| {
                process_sched(pid)
                    .into_iter()
                    .map(move |(tid, s)| (pid, tid, s))
            })
            .collect()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for c in self.hogs.iter_mut().chain([&mut self.sleeper]) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn comm(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// A running `autosa` with its log in a file. Dropping it stops it with
/// SIGTERM (so it restores) and SIGKILL if it does not exit.
struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path, log: PathBuf, args: &[&str]) -> Daemon {
        let out = fs::File::create(&log).expect("create the daemon log");
        let child = Command::new(env!("CARGO_BIN_EXE_autosa"))
            .arg("--config")
            .arg(config)
            // Debug: the per-interval class and confidence, for the report
            // when the daemon does not act.
            .args(["--log", "autosa=debug"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup the log file"))
            .stderr(out)
            .spawn()
            .expect("start the autosa binary");
        Daemon {
            child: Some(child),
            log,
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Still running (a daemon that exited on its own is a failure).
    fn assert_running(&mut self) {
        let status = self.child.as_mut().expect("running").try_wait().unwrap();
        if let Some(status) = status {
            panic!(
                "autosa exited on its own ({status}):\n{}",
                tail(&self.log_text(), 40)
            );
        }
    }

    /// Sends `signal` and waits for the exit.
    fn stop(&mut self, signal: Signal) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = kill(Pid::from_raw(child.id() as i32), signal);
        let deadline = Instant::now() + EXIT_DEADLINE;
        loop {
            if let Some(status) = child.try_wait().expect("wait for autosa") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "autosa did not exit within {EXIT_DEADLINE:?} of {signal}:\n{}",
                    tail(&self.log_text(), 40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child::terminate(&mut child, EXIT_DEADLINE);
        }
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// How often each class was seen in the daemon's debug log, for failures.
fn classes_seen(log: &str) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for line in log.lines().filter(|l| l.contains(" interval ")) {
        if let Some(rest) = line.split(" class=").nth(1) {
            *counts
                .entry(rest.split_whitespace().next().unwrap_or("?"))
                .or_default() += 1;
        }
    }
    format!("{counts:?}")
}

/// A configuration that reacts within seconds (short smoothing and holds, a
/// short cooldown) and may touch only this test's processes.
fn write_config(dir: &Path, load: &Load) -> (PathBuf, Config) {
    let path = dir.join("autosa.toml");
    let text = format!(
        r#"[daemon]
state_dir = "{state}"

[collect]
interval = "250ms"
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
block_secs = 5

[eevdf]
only_comms = ["{hog}", "{sleeper}"]

[control]
socket = "{socket}"
"#,
        state = dir.join("state").display(),
        socket = dir.join("autosa.sock").display(),
        hog = load.hog_comm,
        sleeper = load.sleeper_comm,
    );
    fs::File::create(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("write the test config");
    let config = Config::parse(&text, &path).expect("the test config is valid");
    (path, config)
}

/// What the config's `mixed` plan makes of each process.
struct Expected {
    hogs: HogTreatment,
    slice_ns: u64,
}

impl Expected {
    fn from(config: &Config) -> Expected {
        let mixed = &config.policy.plans.mixed;
        let slice_ns = mixed
            .latency_slice_ns
            .expect("the mixed plan gives latency tasks a slice (the test checks it)");
        Expected {
            hogs: mixed.hogs,
            slice_ns,
        }
    }

    fn hog_done(&self, s: &Sched, original: &Sched) -> bool {
        match self.hogs {
            HogTreatment::Leave => s == original,
            HogTreatment::Nice(n) => s.nice == n && s.policy == original.policy,
            HogTreatment::Batch => s.policy == SCHED_BATCH,
            HogTreatment::Idle => s.policy == SCHED_IDLE,
        }
    }
}

/// Whether autosa applied the mixed plan to every thread of the load.
fn acted(load: &Load, originals: &[(u32, u32, Sched)], want: &Expected) -> bool {
    let hogs = load.hog_pids();
    let now = load.snapshot();
    !now.is_empty()
        && now.iter().all(|(pid, tid, s)| {
            let Some((_, _, orig)) = originals.iter().find(|(_, t, _)| t == tid) else {
                return false;
            };
            if hogs.contains(pid) {
                want.hog_done(s, orig)
            } else {
                s.slice_ns == want.slice_ns && s.policy == SCHED_OTHER
            }
        })
}

fn wait_until_acted(
    daemon: &mut Daemon,
    load: &Load,
    originals: &[(u32, u32, Sched)],
    want: &Expected,
) {
    let start = Instant::now();
    while !acted(load, originals, want) {
        daemon.assert_running();
        if start.elapsed() > ACT_DEADLINE {
            let log = daemon.log_text();
            panic!(
                "autosa did not apply the mixed plan within {ACT_DEADLINE:?}.\n\
                 classes seen (intervals): {}; per-thread changes logged: {}\n\
                 now: {:?}\nbefore: {:?}\nlog tail:\n{}",
                classes_seen(&log),
                log.matches(" changed what=").count(),
                load.snapshot(),
                originals,
                tail(&log, 40)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "autosa applied the mixed plan {:.1} s after it started; classes seen: {}",
        start.elapsed().as_secs_f64(),
        classes_seen(&daemon.log_text())
    );
}

fn assert_originals(load: &Load, originals: &[(u32, u32, Sched)], when: &str, log: &str) {
    let now = load.snapshot();
    assert_eq!(
        now,
        originals,
        "{when}: the load's scheduling state is not what it was before autosa.\nlog tail:\n{}",
        tail(log, 40)
    );
}

/// Before autosa: every thread at the kernel's defaults (the test's own
/// slice is the default slice).
fn originals(load: &Load) -> Vec<(u32, u32, Sched)> {
    let default_slice = own_attr().expect("sched_getattr on own thread").runtime_ns;
    let before = load.snapshot();
    assert_eq!(
        before.len(),
        HOGS + 1,
        "one thread per load process: {before:?}"
    );
    for (pid, tid, s) in &before {
        assert_eq!(
            *s,
            Sched {
                policy: SCHED_OTHER,
                nice: 0,
                slice_ns: default_slice
            },
            "thread {tid} of {pid} does not start at the defaults"
        );
    }
    before
}

#[test]
fn daemon_applies_the_mixed_plan_and_restores_on_sigterm() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !requirements_met("daemon_applies_the_mixed_plan_and_restores_on_sigterm") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let load = Load::start("t");
    let (config_path, config) = write_config(dir.path(), &load);
    let want = Expected::from(&config);
    let before = originals(&load);

    let mut daemon = Daemon::start(
        &config_path,
        dir.path().join("autosa.log"),
        &["run", "--backend", "eevdf"],
    );
    wait_until_acted(&mut daemon, &load, &before, &want);

    let status = daemon.stop(Signal::SIGTERM);
    let log = daemon.log_text();
    assert!(
        status.success(),
        "autosa exited with {status} after SIGTERM:\n{}",
        tail(&log, 40)
    );
    assert_originals(&load, &before, "after SIGTERM", &log);
    assert!(
        log.contains("SIGTERM"),
        "the log does not say why it stopped:\n{}",
        tail(&log, 40)
    );
    let journal = config.daemon.state_dir.join("journal.json");
    let left = Journal::open(&journal).expect("the journal is readable");
    assert!(
        left.is_empty(),
        "a clean exit leaves nothing in the journal: {:?}",
        left.entries()
    );
}

#[test]
fn daemon_restores_from_its_journal_after_sigkill() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !requirements_met("daemon_restores_from_its_journal_after_sigkill") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let load = Load::start("k");
    let (config_path, config) = write_config(dir.path(), &load);
    let want = Expected::from(&config);
    let before = originals(&load);

    let mut daemon = Daemon::start(
        &config_path,
        dir.path().join("autosa-1.log"),
        &["run", "--backend", "eevdf"],
    );
    wait_until_acted(&mut daemon, &load, &before, &want);
    let status = daemon.stop(Signal::SIGKILL);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(Signal::SIGKILL as i32)
    );
    // Nothing ran to restore: the values stay changed, the journal holds
    // them. (Compared with the state after the kill, not with the full plan:
    // an interval may have run between the last check and the kill.)
    let at_kill = load.snapshot();
    assert_ne!(at_kill, before, "the SIGKILL left nothing changed");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        load.snapshot(),
        at_kill,
        "the values changed without autosa running"
    );
    let journal = config.daemon.state_dir.join("journal.json");
    let entries = Journal::open(&journal)
        .expect("the journal survives a SIGKILL")
        .entries()
        .to_vec();
    let default_slice = own_attr().unwrap().runtime_ns;
    for ((pid, tid, now), (_, _, orig)) in at_kill.iter().zip(&before) {
        if now == orig {
            continue;
        }
        let entry = entries.iter().find_map(|e| match e {
            Entry::Task {
                tgid,
                tid: t,
                original,
                applied,
                ..
            } if tgid == pid && t == tid => Some((*original, *applied)),
            _ => None,
        });
        let Some((original, applied)) = entry else {
            panic!("thread {tid} of {pid} was changed but is not in the journal: {entries:?}");
        };
        // Runtime 0 in the journal stands for the default slice.
        let slice = |ns: u64| if ns == 0 { default_slice } else { ns };
        assert_eq!(
            (original.policy, original.nice, slice(original.runtime_ns)),
            (orig.policy, orig.nice, orig.slice_ns),
            "the journal's original for thread {tid}"
        );
        assert_eq!(
            (applied.policy, applied.nice, slice(applied.runtime_ns)),
            (now.policy, now.nice, now.slice_ns),
            "the journal's applied value for thread {tid}"
        );
    }

    // A dry run changes nothing itself, so whatever is restored comes from
    // the journal, and it happens before the daemon reports itself running.
    let mut dry = Daemon::start(
        &config_path,
        dir.path().join("autosa-2.log"),
        &["run", "--dry-run", "--backend", "eevdf"],
    );
    let deadline = Instant::now() + EXIT_DEADLINE;
    while !dry.log_text().contains("autosa running") {
        dry.assert_running();
        assert!(
            Instant::now() < deadline,
            "the dry run did not start within {EXIT_DEADLINE:?}:\n{}",
            tail(&dry.log_text(), 40)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = dry.log_text();
    assert_originals(
        &load,
        &before,
        "when the next run reports itself running",
        &log,
    );
    let restored_at = log
        .find("restored after an unclean exit")
        .unwrap_or_else(|| {
            panic!(
                "the next start does not log the restore:\n{}",
                tail(&log, 40)
            )
        });
    let running_at = log.find("autosa running").unwrap();
    assert!(
        restored_at < running_at,
        "the restore must come before anything else:\n{}",
        tail(&log, 40)
    );
    let left = Journal::open(&journal).expect("the journal is readable");
    assert!(
        left.is_empty(),
        "the journal is emptied once restored: {:?}",
        left.entries()
    );

    // The dry run then watches the same load and decides, but changes
    // nothing: wait until it has decided something (or a while), then check.
    let watch = Instant::now();
    while !dry.log_text().contains(" switch ") && watch.elapsed() < Duration::from_secs(15) {
        dry.assert_running();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_originals(&load, &before, "while the dry run watches", &dry.log_text());

    let status = dry.stop(Signal::SIGTERM);
    let log = dry.log_text();
    assert!(
        status.success(),
        "the dry run exited with {status}:\n{}",
        tail(&log, 40)
    );
    assert_originals(&load, &before, "after the dry run's SIGTERM", &log);
}
