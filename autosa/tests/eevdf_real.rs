//! The EEVDF backend on this kernel with real processes: CPU hogs (one of
//! them multi-threaded) and a latency-sensitive sleeper. Needs root; under
//! `CI` a missing privilege fails the test instead of skipping it.

#[path = "support/prereq.rs"]
mod prereq;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use autosa::backend::eevdf::sched_attr::{SCHED_IDLE, SCHED_OTHER, Syscalls, TaskSched};
use autosa::backend::eevdf::{EevdfBackend, EevdfConfig};
use autosa::backend::journal::Journal;
use autosa::backend::{Backend, Target};
use autosa::policy::plan::{EevdfPlan, HogTreatment, Plan, WorkloadClass};

const SLICE_NS: u64 = 300_000;

/// Skip (or fail under CI) without root.
fn root_or_skip(test: &str) -> bool {
    prereq::run_or_skip(test, (!nix::unistd::geteuid().is_root()).then_some("root"))
}

/// Every spawned child is killed and reaped, also when a test fails;
/// `others` are grandchildren, killed by pid.
struct Children(Vec<Child>, Vec<u32>);

impl Children {
    fn spawn(&mut self, program: &str, args: &[&str]) -> u32 {
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let pid = child.id();
        self.0.push(child);
        pid
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for &pid in &self.1 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Puts a knob file back to what it held, also when a test fails.
struct KnobGuard {
    path: &'static str,
    original: String,
}

impl Drop for KnobGuard {
    fn drop(&mut self) {
        let _ = fs::write(self.path, &self.original);
    }
}

fn spin_sh(children: &mut Children) -> u32 {
    children.spawn("sh", &["-c", "while :; do :; done"])
}

/// A process with three busy threads.
fn spin_threads(children: &mut Children) -> u32 {
    let pid = children.spawn(
        "python3",
        &[
            "-c",
            "import threading, time\n\
             def spin():\n    while True: pass\n\
             for _ in range(2): threading.Thread(target=spin, daemon=True).start()\n\
             time.sleep(600)\n",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while threads(pid).len() < 3 {
        assert!(Instant::now() < deadline, "python3 threads did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    pid
}

fn threads(pid: u32) -> Vec<u32> {
    fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// (nice, policy) from `/proc/<pid>/task/<tid>/stat` fields 19 and 41.
fn stat_nice_policy(pid: u32, tid: u32) -> (i64, u32) {
    let text = fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).unwrap();
    let rest: Vec<&str> = text[text.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    (rest[19 - 3].parse().unwrap(), rest[41 - 3].parse().unwrap())
}

fn slice_of(tid: u32) -> u64 {
    Syscalls.get(tid).unwrap().runtime_ns
}

fn default_slice() -> u64 {
    slice_of(nix::unistd::gettid().as_raw() as u32)
}

fn plan(hogs: HogTreatment, hog_tgids: Vec<u32>, latency_tgids: Vec<u32>) -> Plan {
    Plan {
        class: WorkloadClass::Mixed,
        scx: None,
        eevdf: EevdfPlan {
            hogs,
            latency_slice_ns: Some(SLICE_NS),
            hog_tgids,
            latency_tgids,
            global_knobs: vec![],
        },
    }
}

fn assert_all_default(pids: &[u32], default: u64) {
    for &pid in pids {
        for tid in threads(pid) {
            assert_eq!(stat_nice_policy(pid, tid), (0, SCHED_OTHER), "{pid}/{tid}");
            assert_eq!(slice_of(tid), default, "slice of {pid}/{tid}");
        }
    }
}

#[test]
fn mixed_plan_applies_to_real_tasks_and_restores() {
    if !root_or_skip("mixed_plan_applies_to_real_tasks_and_restores") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.json");
    let mut kids = Children(Vec::new(), Vec::new());
    let hog_sh = spin_sh(&mut kids);
    let hog_py = spin_threads(&mut kids);
    let sleeper = kids.spawn("sleep", &["600"]);
    let default = default_slice();
    assert!(default > 0, "this kernel reports no EEVDF slice");
    assert_all_default(&[hog_sh, hog_py, sleeper], default);

    let mut b = EevdfBackend::new(EevdfConfig::default(), &journal).unwrap();
    for c in b.describe_capabilities() {
        eprintln!("capability {}: {} ({})", c.name, c.available, c.detail);
    }

    // Hogs as SCHED_IDLE, the sleeper with a 0.3 ms slice.
    let p = plan(HogTreatment::Idle, vec![hog_sh, hog_py], vec![sleeper]);
    let out = b.apply(&p).unwrap();
    eprintln!("{out:#?}");
    for &hog in &[hog_sh, hog_py] {
        for tid in threads(hog) {
            assert_eq!(stat_nice_policy(hog, tid).1, SCHED_IDLE, "{hog}/{tid}");
        }
    }
    assert_eq!(threads(hog_py).len(), 3);
    assert_eq!(stat_nice_policy(sleeper, sleeper), (0, SCHED_OTHER));
    assert_eq!(slice_of(sleeper), SLICE_NS);
    assert_eq!(Journal::open(&journal).unwrap().entries().len(), 5);
    assert!(b.observe().unwrap().foreign.is_empty());

    // Then nice 19 instead: policy back to SCHED_OTHER, nice 19.
    b.apply(&plan(
        HogTreatment::Nice(19),
        vec![hog_sh, hog_py],
        vec![sleeper],
    ))
    .unwrap();
    for &hog in &[hog_sh, hog_py] {
        for tid in threads(hog) {
            assert_eq!(stat_nice_policy(hog, tid), (19, SCHED_OTHER), "{hog}/{tid}");
        }
    }

    let restored = b.restore().unwrap();
    eprintln!("{restored:#?}");
    assert_all_default(&[hog_sh, hog_py, sleeper], default);
    assert!(!journal.exists());
}

#[test]
fn journal_restores_after_a_crash() {
    if !root_or_skip("journal_restores_after_a_crash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.json");
    let mut kids = Children(Vec::new(), Vec::new());
    let hog = spin_sh(&mut kids);
    let sleeper = kids.spawn("sleep", &["600"]);
    let default = default_slice();

    let mut b = EevdfBackend::new(EevdfConfig::default(), &journal).unwrap();
    b.apply(&plan(HogTreatment::Nice(19), vec![hog], vec![sleeper]))
        .unwrap();
    assert_eq!(stat_nice_policy(hog, hog), (19, SCHED_OTHER));
    assert_eq!(slice_of(sleeper), SLICE_NS);
    // A crash: the backend vanishes without restoring anything.
    std::mem::forget(b);
    assert_eq!(Journal::open(&journal).unwrap().entries().len(), 2);

    let b = EevdfBackend::new(EevdfConfig::default(), &journal).unwrap();
    assert_eq!(b.recovered().changes.len(), 2, "{:?}", b.recovered());
    assert_all_default(&[hog, sleeper], default);
    assert!(!journal.exists());
}

#[test]
fn journal_restores_after_sigkill() {
    use nix::sys::signal::{Signal, kill};
    use nix::sys::wait::waitpid;
    use nix::unistd::{ForkResult, Pid, fork, pipe, read, write};

    if !root_or_skip("journal_restores_after_sigkill") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.json");
    let mut kids = Children(Vec::new(), Vec::new());
    let hog = spin_sh(&mut kids);
    let default = default_slice();
    let (rx, tx) = pipe().unwrap();

    // SAFETY: the child only applies the plan, writes one byte and sleeps
    // until killed; glibc keeps malloc usable in a forked child.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            let code = std::panic::catch_unwind(|| {
                let mut b = EevdfBackend::new(EevdfConfig::default(), &journal).unwrap();
                b.apply(&plan(HogTreatment::Idle, vec![hog], vec![]))
                    .unwrap();
                write(&tx, b"1").unwrap();
                loop {
                    std::thread::sleep(Duration::from_secs(60));
                }
            });
            drop(code);
            // Only reached when the child panicked.
            unsafe { libc::_exit(1) };
        }
        ForkResult::Parent { child } => {
            drop(tx);
            let mut buf = [0u8; 1];
            let n = read(&rx, &mut buf).unwrap();
            // Kill first, whatever happened, so no child outlives the test.
            kill(child, Signal::SIGKILL).unwrap();
            waitpid(Pid::from_raw(child.as_raw()), None).unwrap();
            assert_eq!(n, 1, "the child failed before applying");
        }
    }
    assert_eq!(
        stat_nice_policy(hog, hog).1,
        SCHED_IDLE,
        "applied by the killed process"
    );
    assert_eq!(Journal::open(&journal).unwrap().entries().len(), 1);

    let b = EevdfBackend::new(EevdfConfig::default(), &journal).unwrap();
    assert_eq!(b.recovered().changes.len(), 1, "{:?}", b.recovered());
    assert_all_default(&[hog], default);
    assert!(!journal.exists());
}

#[test]
fn a_renice_by_someone_else_is_detected_and_left_alone() {
    if !root_or_skip("a_renice_by_someone_else_is_detected_and_left_alone") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.json");
    let mut kids = Children(Vec::new(), Vec::new());
    let hog = spin_sh(&mut kids);
    let mut b = EevdfBackend::new(EevdfConfig::default(), &journal).unwrap();
    let p = plan(HogTreatment::Idle, vec![hog], vec![]);
    b.apply(&p).unwrap();
    assert_eq!(stat_nice_policy(hog, hog).1, SCHED_IDLE);

    // An administrator takes over: `renice` does not change the policy,
    // `chrt -o` puts it back to SCHED_OTHER; use both.
    let ok = Command::new("chrt")
        .args(["-o", "-p", "0", &hog.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "chrt failed");
    let ok = Command::new("renice")
        .args(["-n", "7", "-p", &hog.to_string()])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "renice failed");
    let seen = b.observe().unwrap();
    assert_eq!(seen.foreign.len(), 1, "{seen:?}");
    assert!(matches!(seen.foreign[0].target, Target::Process { tgid, .. } if tgid == hog));
    b.apply(&p).unwrap();
    assert_eq!(stat_nice_policy(hog, hog), (7, SCHED_OTHER), "left alone");
    b.restore().unwrap();
    assert_eq!(
        stat_nice_policy(hog, hog),
        (7, SCHED_OTHER),
        "not restored either"
    );
}

#[test]
fn knobs_on_this_host() {
    if !root_or_skip("knobs_on_this_host") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.json");
    const AUTOGROUP: &str = "/proc/sys/kernel/sched_autogroup_enabled";
    let mut b = EevdfBackend::new(EevdfConfig::default(), &journal).unwrap();
    for k in b.knobs() {
        eprintln!(
            "knob {}: readable {} writable {} ({})",
            k.name, k.readable, k.writable, k.detail
        );
    }
    // Debugfs sched knobs: usable or not, the backend must say which and why.
    let base = b
        .knobs()
        .iter()
        .find(|k| k.name == "base_slice_ns")
        .unwrap()
        .clone();
    if !base.usable() {
        assert!(!base.detail.is_empty());
    }
    if !Path::new(AUTOGROUP).exists() {
        eprintln!("no {AUTOGROUP} on this kernel: autogroup part not run");
        return;
    }
    let original = fs::read_to_string(AUTOGROUP).unwrap().trim().to_string();
    let _guard = KnobGuard {
        path: AUTOGROUP,
        original: original.clone(),
    };
    let flipped = if original == "1" { "0" } else { "1" };
    let mut p = plan(HogTreatment::Leave, vec![], vec![]);
    p.eevdf.global_knobs = vec![
        ("sched_autogroup_enabled".into(), flipped.into()),
        ("base_slice_ns".into(), "1500000".into()),
    ];
    let out = b.apply(&p).unwrap();
    eprintln!("{out:#?}");
    assert_eq!(fs::read_to_string(AUTOGROUP).unwrap().trim(), flipped);
    if !base.usable() {
        assert!(out.notes.iter().any(|n| n.contains("base_slice_ns")));
    }
    b.restore().unwrap();
    assert_eq!(fs::read_to_string(AUTOGROUP).unwrap().trim(), original);
}

#[test]
fn a_child_process_that_inherited_idle_is_put_back() {
    if !root_or_skip("a_child_process_that_inherited_idle_is_put_back") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.json");
    let flag = dir.path().join("fork-now");
    let mut kids = Children(Vec::new(), Vec::new());
    // Spins until the flag exists, then starts a second spinning process.
    let script = format!(
        "while [ ! -e {f} ]; do :; done; sh -c 'while :; do :; done' & while :; do :; done",
        f = flag.display()
    );
    let parent = kids.spawn("sh", &["-c", &script]);
    let default = default_slice();
    let mut b = EevdfBackend::new(EevdfConfig::default(), &journal).unwrap();
    b.apply(&plan(HogTreatment::Idle, vec![parent], vec![]))
        .unwrap();
    assert_eq!(stat_nice_policy(parent, parent).1, SCHED_IDLE);

    fs::write(&flag, "").unwrap();
    let children = format!("/proc/{parent}/task/{parent}/children");
    let deadline = Instant::now() + Duration::from_secs(10);
    let child: u32 = loop {
        let text = fs::read_to_string(&children).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next() {
            break pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "the child process did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    kids.1.push(child);
    assert_eq!(
        stat_nice_policy(child, child).1,
        SCHED_IDLE,
        "inherited on fork"
    );

    // The policy now names the child too: its original is the parent's.
    b.apply(&plan(HogTreatment::Idle, vec![parent, child], vec![]))
        .unwrap();
    assert_eq!(Journal::open(&journal).unwrap().entries().len(), 2);
    b.restore().unwrap();
    assert_all_default(&[parent, child], default);
}
