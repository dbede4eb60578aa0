//! The SIGKILL loop shared by `tests/chaos_kill.rs` (10 kills) and
//! `cargo xtask chaos` (100 kills): the real daemon with the eevdf backend
//! on real processes (CPU hogs and a 1 ms sleeper under names only this
//! loop uses), SIGKILLed at random points; after each kill the next start
//! (a dry run, which changes nothing itself) must have put every original
//! value back before it reports itself running, and emptied its journal.
//!
//! Uses std, libc and the autosa library only, so xtask includes it too.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use autosa::backend::eevdf::sched_attr::{Syscalls, TaskSched};
use autosa::backend::journal::Journal;

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
            verify.signal_and_wait(libc::SIGTERM)?;
            let line = format!(
                "kill {:3}: at {:6.0} ms, {phase:<17} ({changed}/{} threads changed), journal {left} entries → next start: {}",
                i + 1,
                killed_at.as_secs_f64() * 1000.0,
                before.len(),
                if after == before && journal_empty {
                    "all originals back, journal empty"
                } else {
                    "MISMATCH"
                }
            );
            progress(&line);
            if after != before || !journal_empty {
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
