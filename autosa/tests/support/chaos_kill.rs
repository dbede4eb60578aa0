//! The SIGKILL loop shared by `tests/chaos_kill.rs` (10 kills) and
//! `cargo xtask chaos` (100 kills): the real daemon with the eevdf backend
//! on real processes (CPU hogs and a 1 ms sleeper under names only this
//! loop uses), SIGKILLed at random points; after each kill the next start
//! (a dry run, which changes nothing itself) must have put every original
//! value back before it reports itself running, and emptied its journal.
//!
//! All runs share one history (`<state_dir>/history`). After each kill every
//! record read before it must still read back, unchanged and in order (only
//! a torn last record of the killed writer may be lost, and the next start
//! must say it cut it); no CRC may fail; a kill that found the load changed
//! must find the switch decision behind it in the history (decisions are
//! fsync'd before the backend applies them), and every change the run
//! logged must have its record (written before the log line); the next
//! start must record what it restored, and its `autosa history --json`
//! must list them all.
//!
//! Uses std, libc, serde_json and the autosa library only, so xtask includes
//! it too.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use autosa::backend::eevdf::sched_attr::{Syscalls, TaskSched};
use autosa::backend::journal::Journal;
use autosa::history::{Entry, Record};
use autosa::switching::Action;

const HOGS: usize = 4;
const START_DEADLINE: Duration = Duration::from_secs(30);

/// What the kernel says about one thread: `/proc/<pid>/task/<tid>/stat`
/// fields 19 (nice) and 41 (policy), and `sched_getattr` (policy, nice,
/// slice, flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadState {
    pub stat_nice: i32,
    pub stat_policy: u32,
    pub attr: autosa::backend::journal::TaskAttr,
}

fn read_thread(pid: u32, tid: u32) -> Option<ThreadState> {
    let stat = fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ThreadState {
        stat_nice: fields.get(19 - 3)?.parse().ok()?,
        stat_policy: fields.get(41 - 3)?.parse().ok()?,
        attr: Syscalls.get(tid).ok()?,
    })
}

/// The load: hogs and a sleeper, killed and reaped on drop.
pub struct Load {
    children: Vec<Child>,
    pub hog_comm: String,
    pub sleeper_comm: String,
}

impl Load {
    pub fn start(script: &Path, tag: &str) -> Result<Load, String> {
        let hog_comm = format!("ck{tag}-hog");
        let sleeper_comm = format!("ck{tag}-sleep");
        let mut load = Load {
            children: Vec::new(),
            hog_comm,
            sleeper_comm,
        };
        let roles = std::iter::once(("sleeper", load.sleeper_comm.clone()))
            .chain((0..HOGS).map(|_| ("hog", load.hog_comm.clone())))
            .collect::<Vec<_>>();
        for (role, name) in roles {
            let child = Command::new("python3")
                .arg(script)
                .args([role, &name])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start python3 {}: {e}", script.display()))?;
            load.children.push(child);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while !load.children.iter().enumerate().all(|(i, c)| {
            let want = if i == 0 {
                &load.sleeper_comm
            } else {
                &load.hog_comm
            };
            fs::read_to_string(format!("/proc/{}/comm", c.id())).is_ok_and(|s| s.trim_end() == want)
        }) {
            if Instant::now() > deadline {
                return Err("the load did not name itself within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(load)
    }

    /// Every thread of every load process, in a fixed order.
    pub fn state(&self) -> Vec<(u32, ThreadState)> {
        let mut out = Vec::new();
        for c in &self.children {
            let pid = c.id();
            let mut tids: Vec<u32> = fs::read_dir(format!("/proc/{pid}/task"))
                .map(|d| {
                    d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            tids.sort_unstable();
            out.extend(
                tids.into_iter()
                    .filter_map(|tid| Some((tid, read_thread(pid, tid)?))),
            );
        }
        out
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A small xorshift: the loop's random points, reproducible from the seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Where a kill landed, judged from the load right after it.
#[derive(Debug, Default, Clone)]
pub struct KillReport {
    pub kills: usize,
    /// Nothing changed yet (start-up, a restore in progress, classifying).
    pub untouched: usize,
    /// Some threads changed, not all (inside an apply, or a plan that
    /// names only part of the load so far).
    pub partly_changed: usize,
    /// Every thread of the load changed.
    pub fully_changed: usize,
    /// Kills that left a non-empty journal behind.
    pub journal_left: usize,
    /// Next starts that logged a restore.
    pub restores: usize,
    pub mismatches: usize,
    /// What went wrong, for each mismatch (the loop stops at the first).
    pub failures: Vec<String>,
    /// History records at the end, all runs together.
    pub history_records: usize,
    /// Kills that left a torn last record (cut by the next start).
    pub history_torn: usize,
    /// Kills of a changed load whose switch decision was found recorded.
    pub decisions_found: usize,
    /// Changes the killed runs logged, and `applied` records found for them.
    pub changes_logged: usize,
    pub changes_recorded: usize,
    /// Next starts whose `autosa history --json` listed every record.
    pub cli_listed: usize,
    /// Restores the next starts logged, and `applied` records of them.
    pub restores_logged: usize,
    pub restores_recorded: usize,
}

/// The shared history, checked segment by segment: no record with a bad
/// CRC anywhere; a torn tail only at the end of the newest segment.
/// `Ok(true)` when there is a torn tail.
fn check_segments(dir: &Path) -> Result<bool, String> {
    let segs = match autosa::history::segment::list(dir) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("listing the history {}: {e}", dir.display())),
    };
    let mut torn = false;
    for (i, seg) in segs.iter().enumerate() {
        let data = fs::read(&seg.path).map_err(|e| format!("{}: {e}", seg.path.display()))?;
        let scan = autosa::history::segment::scan(&data);
        if scan.corrupt_middle > 0 {
            return Err(format!(
                "{}: {} record(s) with a bad CRC",
                seg.path.display(),
                scan.corrupt_middle
            ));
        }
        if scan.good_len < data.len() as u64 {
            if i + 1 != segs.len() {
                return Err(format!(
                    "{}: a torn tail in a segment that is not the newest",
                    seg.path.display()
                ));
            }
            torn = true;
        }
    }
    Ok(torn)
}

fn read_history(dir: &Path) -> Result<Vec<Entry>, String> {
    autosa::history::read(dir, 0, usize::MAX)
        .map_err(|e| format!("reading the history {}: {e}", dir.display()))
}

/// `autosa history --json` through the running daemon's socket.
fn history_from_cli(autosa: &Path, config: &Path) -> Result<Vec<serde_json::Value>, String> {
    let out = Command::new(autosa)
        .arg("--config")
        .arg(config)
        .args(["history", "--json", "--limit", "10000"])
        .env_remove("AUTOSA_SOCKET")
        .output()
        .map_err(|e| format!("running autosa history: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "autosa history --json failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("autosa history --json: {e}"))
}

pub struct KillLoop<'a> {
    pub autosa: &'a Path,
    pub load_script: &'a Path,
    pub dir: &'a Path,
    pub kills: usize,
    pub seed: u64,
}

struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(autosa: &Path, config: &Path, log: PathBuf, args: &[&str]) -> Result<Daemon, String> {
        let out = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(autosa)
            .arg("--config")
            .arg(config)
            .args(["--log", "autosa=info"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", autosa.display()))?;
        Ok(Daemon { child, log })
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal_and_wait(&mut self, sig: i32) -> Result<(), String> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, sig) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(format!("autosa did not exit within 20 s of signal {sig}"));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Fast-reacting config (100 ms intervals, holds of one) that may touch only
/// the load; `bpf` off for the verifying dry run, which only has to start.
fn write_config(dir: &Path, load: &Load, bpf: bool, name: &str) -> Result<PathBuf, String> {
    let path = dir.join(name);
    let text = format!(
        r#"[daemon]
state_dir = "{state}"

[control]
socket = "{socket}"

[collect]
interval = "100ms"
top_tasks = 64
bpf = {bpf}

[policy.smoothing]
window = 2
hold_intervals = 1

[switching]
hold_intervals = 1
cooldown_secs = 1
max_switches_per_hour = 1000
regression_window_secs = 5
regression_min_samples = 4
block_secs = 5

[eevdf]
only_comms = ["{hog}", "{sleeper}"]
"#,
        state = dir.join("state").display(),
        socket = dir.join("autosa.sock").display(),
        hog = load.hog_comm,
        sleeper = load.sleeper_comm,
    );
    fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

impl KillLoop<'_> {
    /// Runs the loop; `progress` gets one line per kill. A mismatch ends
    /// the loop (in the report); errors are failures to run at all.
    pub fn run(&self, mut progress: impl FnMut(&str)) -> Result<KillReport, String> {
        let load = Load::start(self.load_script, &format!("{}", self.seed % 1000))?;
        let run_cfg = write_config(self.dir, &load, true, "run.toml")?;
        let verify_cfg = write_config(self.dir, &load, false, "verify.toml")?;
        let journal = self.dir.join("state/journal.json");
        let history = self.dir.join("state/history");
        let mut recorded: Vec<Entry> = read_history(&history)?;
        let before = load.state();
        if before.len() != HOGS + 1 {
            return Err(format!("one thread per load process expected: {before:?}"));
        }
        let mut rng = Rng::new(self.seed);
        let mut report = KillReport::default();
        // Calibrated on the first kill: how long the daemon takes to act.
        let mut act_after = Duration::from_secs(3);
        for i in 0..self.kills {
            let log = self.dir.join(format!("run-{i}.log"));
            let mut daemon =
                Daemon::start(self.autosa, &run_cfg, log, &["run", "--backend", "eevdf"])?;
            let start = Instant::now();
            // Half the kills at a uniform point of [0, 1.3 × time to act]
            // (start-up, restore, classification, apply, later intervals),
            // half at the first change seen, plus 0–20 ms (in or just after
            // an apply).
            let at_first_change = i == 0 || i % 2 == 1;
            if at_first_change {
                // Other work on the machine can make the workload look like
                // another class, whose plan leaves the load alone: then the
                // kill lands on an untouched load after the deadline.
                let deadline = start + Duration::from_secs(30);
                while load.state() == before && Instant::now() < deadline {
                    if let Ok(Some(status)) = daemon.child.try_wait() {
                        return Err(format!(
                            "autosa exited on its own ({status}):\n{}",
                            tail(&daemon.log_text(), 30)
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                if i == 0 && Instant::now() < deadline {
                    act_after = start.elapsed();
                }
                std::thread::sleep(Duration::from_millis(rng.below(21)));
            } else {
                let window = act_after.as_millis() as u64 * 13 / 10;
                std::thread::sleep(Duration::from_millis(rng.below(window + 1)));
            }
            let killed_at = start.elapsed();
            daemon.signal_and_wait(libc::SIGKILL)?;
            let at_kill = load.state();
            let changed = at_kill
                .iter()
                .zip(&before)
                .filter(|(now, orig)| now != orig)
                .count();
            let phase = match changed {
                0 => {
                    report.untouched += 1;
                    "untouched"
                }
                n if n == before.len() => {
                    report.fully_changed += 1;
                    "fully changed"
                }
                _ => {
                    report.partly_changed += 1;
                    "partly changed"
                }
            };
            let left = Journal::open(&journal)
                .map(|j| j.entries().len())
                .map_err(|e| format!("kill {i}: the journal is unreadable after SIGKILL: {e}"))?;
            if left > 0 {
                report.journal_left += 1;
            }
            report.kills += 1;

            // The history after the kill: what was there is still there.
            let torn = check_segments(&history).map_err(|e| format!("kill {i}: {e}"))?;
            if torn {
                report.history_torn += 1;
            }
            let at_kill = read_history(&history)?;
            let mut history_wrong: Vec<String> = Vec::new();
            if !at_kill.starts_with(&recorded) {
                history_wrong.push(format!(
                    "{} records before this run, {} after the kill, not the same prefix",
                    recorded.len(),
                    at_kill.len()
                ));
            }
            let run_records = at_kill.get(recorded.len()..).unwrap_or_default();
            if changed > 0 {
                let decided = run_records.iter().any(|e| {
                    matches!(&e.record, Record::Decision { decision }
                        if matches!(decision.action, Action::Switch { .. } | Action::Rollback { .. }))
                });
                if decided {
                    report.decisions_found += 1;
                } else {
                    history_wrong.push(
                        "the load was changed, but no switch decision of this run is in the history"
                            .into(),
                    );
                }
            }
            let logged = daemon
                .log_text()
                .lines()
                .filter(|l| l.contains("autosa::service::daemon: changed "))
                .count();
            let applied = run_records
                .iter()
                .filter(|e| matches!(e.record, Record::Applied { .. }))
                .count();
            report.changes_logged += logged;
            report.changes_recorded += applied.min(logged);
            if applied < logged {
                history_wrong.push(format!(
                    "{logged} changes logged, {applied} applied records in the history"
                ));
            }

            // The next start, a dry run: whatever is restored comes from the
            // journal, before the daemon says it is running.
            let vlog = self.dir.join(format!("verify-{i}.log"));
            let mut verify = Daemon::start(
                self.autosa,
                &verify_cfg,
                vlog,
                &["run", "--dry-run", "--backend", "eevdf"],
            )?;
            let deadline = Instant::now() + START_DEADLINE;
            while !verify.log_text().contains("autosa running") {
                if let Ok(Some(status)) = verify.child.try_wait() {
                    return Err(format!(
                        "kill {i}: the next start exited ({status}):\n{}",
                        tail(&verify.log_text(), 30)
                    ));
                }
                if Instant::now() > deadline {
                    return Err(format!("kill {i}: the next start did not come up"));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let after = load.state();
            let vtext = verify.log_text();
            if vtext.contains("restored after an unclean exit") {
                report.restores += 1;
            }
            let journal_empty = Journal::open(&journal).is_ok_and(|j| j.is_empty());
            if torn && !vtext.contains("torn or corrupt last history record") {
                history_wrong.push("a torn record was cut without saying so".into());
            }
            // The same history through the daemon and its socket.
            match history_from_cli(self.autosa, &verify_cfg) {
                Ok(listed) => {
                    let same = listed.len() >= at_kill.len()
                        && at_kill
                            .iter()
                            .zip(&listed)
                            .all(|(e, v)| serde_json::to_value(e).is_ok_and(|mine| &mine == v));
                    if same {
                        report.cli_listed += 1;
                    } else {
                        history_wrong.push(format!(
                            "autosa history --json lists {} records, the files {}, not the same",
                            listed.len(),
                            at_kill.len()
                        ));
                    }
                }
                Err(e) => history_wrong.push(e),
            }
            verify.signal_and_wait(libc::SIGTERM)?;
            // A clean stop leaves a clean history with its start and stop.
            match check_segments(&history) {
                Ok(false) => {}
                Ok(true) => history_wrong.push("a torn tail after a clean stop".into()),
                Err(e) => history_wrong.push(e),
            }
            let after_verify = read_history(&history)?;
            if !after_verify.starts_with(&at_kill) {
                history_wrong.push("the next start lost records".into());
            }
            let verify_records = after_verify.get(at_kill.len()..).unwrap_or_default();
            let started = verify_records
                .iter()
                .any(|e| matches!(e.record, Record::Start { dry_run: true, .. }));
            let stopped = verify_records
                .iter()
                .any(|e| matches!(e.record, Record::Stop { .. }));
            // What the next start restored is in the history too (a dry
            // run changes nothing else, so its `applied` records are those).
            let restored_logged = vtext
                .lines()
                .filter(|l| l.contains("restored after an unclean exit"))
                .count();
            let restored_recorded = verify_records
                .iter()
                .filter(|e| matches!(e.record, Record::Applied { .. }))
                .count();
            report.restores_logged += restored_logged;
            report.restores_recorded += restored_recorded.min(restored_logged);
            if restored_recorded != restored_logged {
                history_wrong.push(format!(
                    "the next start logged {restored_logged} restores, recorded {restored_recorded}"
                ));
            }
            if !(started && stopped) {
                history_wrong.push(format!(
                    "the next start recorded start {started}, stop {stopped}"
                ));
            }
            report.history_records = after_verify.len();
            recorded = after_verify;
            let history_ok = history_wrong.is_empty();
            let line = format!(
                "kill {:3}: at {:6.0} ms, {phase:<17} ({changed}/{} threads changed), journal {left} entries → next start: {}; history {} records ({} of this run{}){}",
                i + 1,
                killed_at.as_secs_f64() * 1000.0,
                before.len(),
                if after == before && journal_empty {
                    "all originals back, journal empty"
                } else {
                    "MISMATCH"
                },
                recorded.len(),
                run_records.len(),
                if torn { ", torn tail cut" } else { "" },
                if history_ok {
                    String::new()
                } else {
                    format!(" HISTORY MISMATCH: {}", history_wrong.join("; "))
                }
            );
            progress(&line);
            if after != before || !journal_empty || !history_ok {
                report.mismatches += 1;
                report.failures.push(format!(
                    "{line}\nbefore: {before:?}\nafter:  {after:?}\nrun log:\n{}\nnext start log:\n{}",
                    tail(
                        &fs::read_to_string(self.dir.join(format!("run-{i}.log")))
                            .unwrap_or_default(),
                        20
                    ),
                    tail(&vtext, 20)
                ));
                break;
            }
        }
        Ok(report)
    }
}
