//! The EEVDF backend's logic on a fake `/proc` and `/sys` with fake
//! `sched_setattr`: reconcile, scope, journal, crash recovery, back-off, knobs.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use autosa::backend::eevdf::sched_attr::{SCHED_BATCH, SCHED_IDLE, SCHED_OTHER, TaskSched};
use autosa::backend::eevdf::{EevdfBackend, EevdfConfig, Roots};
use autosa::backend::journal::{Entry, Journal, TaskAttr};
use autosa::backend::{Backend, Target};
use autosa::policy::plan::{EevdfPlan, HogTreatment, Plan, WorkloadClass};

const DEFAULT_SLICE: u64 = 1_400_000;
const PF_KTHREAD: u64 = 0x0020_0000;

fn attr(policy: u32, nice: i32, runtime_ns: u64) -> TaskAttr {
    TaskAttr {
        policy,
        nice,
        runtime_ns,
        flags: 0,
    }
}

fn default_attr() -> TaskAttr {
    attr(SCHED_OTHER, 0, DEFAULT_SLICE)
}

/// Fake threads' attributes; behaves like the kernel for runtime 0 (default slice).
#[derive(Clone, Default)]
struct FakeSched(
    Arc<Mutex<HashMap<u32, TaskAttr>>>,
    /// Threads whose `set` fails with EPERM.
    Arc<Mutex<Vec<u32>>>,
);

impl FakeSched {
    fn of(&self, tid: u32) -> TaskAttr {
        self.0
            .lock()
            .unwrap()
            .get(&tid)
            .copied()
            .unwrap_or_else(default_attr)
    }
    fn put(&self, tid: u32, a: TaskAttr) {
        self.0.lock().unwrap().insert(tid, a);
    }
}

impl TaskSched for FakeSched {
    fn get(&self, tid: u32) -> io::Result<TaskAttr> {
        Ok(self.of(tid))
    }
    fn set(&self, tid: u32, a: &TaskAttr) -> io::Result<()> {
        if self.1.lock().unwrap().contains(&tid) {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
        let mut a = *a;
        if a.runtime_ns == 0 {
            a.runtime_ns = DEFAULT_SLICE;
        }
        self.put(tid, a);
        Ok(())
    }
}

fn stat_line(pid: u32, comm: &str, flags: u64, start: u64, policy: u32) -> String {
    stat_line_ppid(pid, comm, flags, start, policy, 1)
}

fn stat_line_ppid(pid: u32, comm: &str, flags: u64, start: u64, policy: u32, ppid: u32) -> String {
    let mut f: Vec<String> = vec!["0".into(); 52];
    f[0] = pid.to_string();
    f[1] = format!("({comm})");
    f[2] = "S".into();
    f[3] = ppid.to_string();
    f[8] = flags.to_string();
    f[21] = start.to_string();
    f[40] = policy.to_string();
    f.join(" ") + "\n"
}

struct FakeHost {
    _dir: tempfile::TempDir,
    proc: PathBuf,
    sys: PathBuf,
    journal: PathBuf,
    sched: FakeSched,
}

impl FakeHost {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let proc = dir.path().join("proc");
        let sys = dir.path().join("sys");
        fs::create_dir_all(&proc).unwrap();
        fs::create_dir_all(&sys).unwrap();
        let journal = dir.path().join("state/journal.json");
        FakeHost {
            _dir: dir,
            proc,
            sys,
            journal,
            sched: FakeSched::default(),
        }
    }

    fn process(&self, tgid: u32, comm: &str, start: u64, threads: &[u32]) {
        self.process_full(tgid, comm, start, threads, 0, 1000, "/user.slice/app.scope");
    }

    #[allow(clippy::too_many_arguments)]
    fn process_full(
        &self,
        tgid: u32,
        comm: &str,
        start: u64,
        threads: &[u32],
        flags: u64,
        uid: u32,
        cgroup: &str,
    ) {
        let d = self.proc.join(tgid.to_string());
        fs::create_dir_all(d.join("task")).unwrap();
        fs::write(d.join("stat"), stat_line(tgid, comm, flags, start, 0)).unwrap();
        fs::write(
            d.join("status"),
            format!("Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"),
        )
        .unwrap();
        fs::write(d.join("cgroup"), format!("0::{cgroup}\n")).unwrap();
        for &tid in std::iter::once(&tgid).chain(threads) {
            self.thread(tgid, tid, comm, start);
        }
    }

    fn thread(&self, tgid: u32, tid: u32, comm: &str, start: u64) {
        let t = self.proc.join(format!("{tgid}/task/{tid}"));
        fs::create_dir_all(&t).unwrap();
        fs::write(t.join("stat"), stat_line(tid, comm, 0, start, 0)).unwrap();
    }

    fn exit(&self, tgid: u32) {
        fs::remove_dir_all(self.proc.join(tgid.to_string())).unwrap();
    }

    fn backend(&self, config: EevdfConfig) -> EevdfBackend<FakeSched> {
        EevdfBackend::with_parts(
            config,
            Roots {
                proc: self.proc.clone(),
                sys: self.sys.clone(),
            },
            &self.journal,
            self.sched.clone(),
        )
        .unwrap()
    }

    fn knob(&self, rel: &str, value: &str) -> PathBuf {
        let p = self.sys.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, value).unwrap();
        p
    }
}

fn plan(hogs: HogTreatment, hog_tgids: &[u32], latency_tgids: &[u32]) -> Plan {
    Plan {
        class: WorkloadClass::Mixed,
        scx: None,
        eevdf: EevdfPlan {
            hogs,
            latency_slice_ns: Some(300_000),
            hog_tgids: hog_tgids.to_vec(),
            latency_tgids: latency_tgids.to_vec(),
            global_knobs: vec![],
        },
    }
}

fn journal_entries(path: &Path) -> Vec<Entry> {
    Journal::open(path).unwrap().entries().to_vec()
}

#[test]
fn apply_sets_every_thread_journals_first_and_restore_puts_back() {
    let host = FakeHost::new();
    host.process(100, "hog", 5000, &[101, 102]);
    host.process(200, "sleeper", 6000, &[]);
    host.sched.put(101, attr(SCHED_OTHER, 3, DEFAULT_SLICE));
    let mut b = host.backend(EevdfConfig::default());

    let out = b.apply(&plan(HogTreatment::Idle, &[100], &[200])).unwrap();
    assert_eq!(out.changes.len(), 4, "{out:?}");
    assert_eq!(host.sched.of(100).policy, SCHED_IDLE);
    assert_eq!(
        host.sched.of(101),
        attr(SCHED_IDLE, 3, DEFAULT_SLICE),
        "nice kept"
    );
    assert_eq!(host.sched.of(102).policy, SCHED_IDLE);
    assert_eq!(host.sched.of(200), attr(SCHED_OTHER, 0, 300_000));

    let entries = journal_entries(&host.journal);
    assert_eq!(entries.len(), 4);
    assert!(entries.iter().any(|e| matches!(e,
        Entry::Task { tid: 101, start_time: 5000, original, .. } if original.nice == 3 && original.runtime_ns == 0)));

    // Idempotent: nothing to do the second time.
    let again = b.apply(&plan(HogTreatment::Idle, &[100], &[200])).unwrap();
    assert!(again.changes.is_empty(), "{again:?}");

    // A new thread of a hog gets the treatment on the next apply.
    host.thread(100, 103, "hog", 5000);
    let out = b.apply(&plan(HogTreatment::Idle, &[100], &[200])).unwrap();
    assert_eq!(out.changes.len(), 1);
    assert_eq!(host.sched.of(103).policy, SCHED_IDLE);

    // Changing treatment keeps the true original.
    b.apply(&plan(HogTreatment::Nice(19), &[100], &[200]))
        .unwrap();
    assert_eq!(host.sched.of(101), attr(SCHED_OTHER, 19, DEFAULT_SLICE));

    // The plan stops naming the sleeper: it is put back, its entry dropped.
    b.apply(&plan(HogTreatment::Nice(19), &[100], &[])).unwrap();
    assert_eq!(host.sched.of(200), default_attr());
    assert_eq!(journal_entries(&host.journal).len(), 4);

    let restored = b.restore().unwrap();
    assert_eq!(restored.changes.len(), 4, "{restored:?}");
    assert_eq!(host.sched.of(101), attr(SCHED_OTHER, 3, DEFAULT_SLICE));
    for tid in [100, 102, 103] {
        assert_eq!(host.sched.of(tid), default_attr(), "tid {tid}");
    }
    assert!(!host.journal.exists(), "journal cleared after restore");
}

#[test]
fn batch_treatment_and_exited_processes() {
    let host = FakeHost::new();
    host.process(100, "hog", 5000, &[]);
    let mut b = host.backend(EevdfConfig::default());
    b.apply(&plan(HogTreatment::Batch, &[100], &[])).unwrap();
    assert_eq!(host.sched.of(100).policy, SCHED_BATCH);
    host.exit(100);
    let out = b.apply(&plan(HogTreatment::Batch, &[100], &[])).unwrap();
    assert!(out.changes.is_empty());
    assert!(
        journal_entries(&host.journal).is_empty(),
        "exited: entry dropped"
    );
}

#[test]
fn scope_rules_are_obeyed() {
    let host = FakeHost::new();
    host.process(1, "systemd", 1, &[]);
    host.process_full(2, "kthreadd", 2, &[], PF_KTHREAD, 0, "/");
    host.process(std::process::id(), "autosa", 3, &[]);
    host.process_full(10, "root-hog", 10, &[], 0, 0, "/user.slice/a.scope");
    host.process_full(11, "svc-hog", 11, &[], 0, 1000, "/system.slice/db.service");
    host.process(12, "sshd", 12, &[]);
    host.process(13, "fine-hog", 13, &[]);
    let config = EevdfConfig {
        exclude_uids: vec![0],
        exclude_cgroups: vec!["/system.slice".into()],
        exclude_comms: vec!["sshd".into()],
        ..EevdfConfig::default()
    };
    let mut b = host.backend(config);
    let me = std::process::id();
    let out = b
        .apply(&plan(HogTreatment::Idle, &[1, 2, me, 10, 11, 12, 13], &[]))
        .unwrap();
    assert_eq!(out.changes.len(), 1, "{out:?}");
    assert!(out.changes[0].what.contains("fine-hog"));
    for why in [
        "pid 1",
        "kernel thread",
        "autosa itself",
        "uid 0",
        "/system.slice/db.service",
        "sshd",
    ] {
        assert!(
            out.notes.iter().any(|n| n.contains(why)),
            "{why}: {:?}",
            out.notes
        );
    }
    // Said once, not every interval.
    let again = b
        .apply(&plan(HogTreatment::Idle, &[1, 2, me, 10, 11, 12, 13], &[]))
        .unwrap();
    assert!(
        again.notes.is_empty() && again.changes.is_empty(),
        "{again:?}"
    );

    // Allow-list: only named commands.
    let mut b2 = host.backend(EevdfConfig {
        only_comms: vec!["root-hog".into()],
        ..EevdfConfig::default()
    });
    let out = b2.apply(&plan(HogTreatment::Idle, &[10, 13], &[])).unwrap();
    assert_eq!(out.changes.len(), 1);
    assert!(out.changes[0].what.contains("root-hog"));
}

#[test]
fn crash_recovery_restores_from_the_journal_and_skips_recycled_pids() {
    let host = FakeHost::new();
    host.process(100, "hog", 5000, &[101]);
    host.process(200, "sleeper", 6000, &[]);
    {
        let mut b = host.backend(EevdfConfig::default());
        b.apply(&plan(HogTreatment::Idle, &[100], &[200])).unwrap();
        // Dropped without restore: as after SIGKILL.
    }
    assert_eq!(journal_entries(&host.journal).len(), 3);
    // Meanwhile pid 200 exited and the pid was reused by another program.
    host.exit(200);
    host.process(200, "other", 9999, &[]);
    let reused = attr(SCHED_OTHER, 0, 300_000);
    host.sched.put(200, reused);

    let b = host.backend(EevdfConfig::default());
    assert_eq!(b.recovered().changes.len(), 2, "{:?}", b.recovered());
    assert_eq!(host.sched.of(100), default_attr());
    assert_eq!(host.sched.of(101), default_attr());
    assert_eq!(
        host.sched.of(200),
        reused,
        "a recycled pid is never touched"
    );
    assert!(!host.journal.exists());
}

#[test]
fn a_manual_change_is_reported_left_alone_and_resumed() {
    let host = FakeHost::new();
    host.process(100, "hog", 5000, &[101]);
    host.process(300, "hog2", 7000, &[]);
    let mut b = host.backend(EevdfConfig::default());
    let p = plan(HogTreatment::Idle, &[100, 300], &[]);
    b.apply(&p).unwrap();
    assert!(b.observe().unwrap().foreign.is_empty());

    // Someone renices one thread of process 100.
    host.sched.put(101, attr(SCHED_OTHER, 5, DEFAULT_SLICE));
    let seen = b.observe().unwrap();
    assert_eq!(seen.foreign.len(), 1);
    let target = Target::Process {
        tgid: 100,
        start_time: 5000,
    };
    assert_eq!(seen.foreign[0].target, target);
    assert!(seen.foreign[0].found.contains("nice 5"));

    let out = b.apply(&p).unwrap();
    assert!(
        out.notes.iter().any(|n| n.contains("autosa resume")),
        "{out:?}"
    );
    assert_eq!(host.sched.of(101).nice, 5, "their value is not overwritten");
    assert_eq!(
        host.sched.of(100),
        default_attr(),
        "autosa's own change undone"
    );
    assert!(b.observe().unwrap().foreign.is_empty(), "let go");
    b.apply(&p).unwrap();
    assert_eq!(host.sched.of(101).nice, 5, "still left alone");

    // Restore puts back what autosa still owns only.
    b.restore().unwrap();
    assert_eq!(host.sched.of(300), default_attr());
    assert_eq!(host.sched.of(101).nice, 5);

    // After resume, autosa manages it again.
    b.resume(Some(&target));
    b.apply(&p).unwrap();
    assert_eq!(host.sched.of(101).policy, SCHED_IDLE);
}

#[test]
fn knobs_are_journaled_written_restored_and_unavailable_ones_said() {
    let host = FakeHost::new();
    let base = host.knob("kernel/debug/sched/base_slice_ns", "3000000\n");
    let proc_knob = host.proc.join("sys/kernel/sched_autogroup_enabled");
    fs::create_dir_all(proc_knob.parent().unwrap()).unwrap();
    fs::write(&proc_knob, "1\n").unwrap();
    let mut b = host.backend(EevdfConfig::default());
    let caps = b.describe_capabilities();
    let cap = |n: &str| caps.iter().find(|c| c.name == n).unwrap().clone();
    assert!(cap("knob:base_slice_ns").available);
    assert!(!cap("knob:migration_cost_ns").available);
    assert!(cap("custom_slice").available);

    let mut p = plan(HogTreatment::Leave, &[], &[]);
    p.eevdf.global_knobs = vec![
        ("base_slice_ns".into(), "1500000".into()),
        ("sched_autogroup_enabled".into(), "0".into()),
        ("migration_cost_ns".into(), "100000".into()),
        ("bogus".into(), "1".into()),
    ];
    let out = b.apply(&p).unwrap();
    assert_eq!(out.changes.len(), 2, "{out:?}");
    assert_eq!(fs::read_to_string(&base).unwrap(), "1500000");
    assert_eq!(fs::read_to_string(&proc_knob).unwrap(), "0");
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("migration_cost_ns") && n.contains("does not exist"))
    );
    assert!(out.notes.iter().any(|n| n.contains("unknown knob bogus")));
    assert!(journal_entries(&host.journal).iter().any(|e| matches!(e,
        Entry::Knob { name, original, .. } if name == "base_slice_ns" && original == "3000000")));

    // Someone else writes the autogroup knob: reported, then left alone.
    fs::write(&proc_knob, "1").unwrap();
    let seen = b.observe().unwrap();
    assert_eq!(seen.foreign.len(), 1);
    assert_eq!(
        seen.foreign[0].target,
        Target::Knob {
            name: "sched_autogroup_enabled".into()
        }
    );
    b.apply(&p).unwrap();
    assert_eq!(fs::read_to_string(&proc_knob).unwrap(), "1");

    // Dropping a knob from the plan restores it.
    p.eevdf.global_knobs.retain(|(n, _)| n != "base_slice_ns");
    b.apply(&p).unwrap();
    assert_eq!(fs::read_to_string(&base).unwrap(), "3000000");
    assert!(journal_entries(&host.journal).is_empty());
}

#[test]
fn observe_reads_the_scheduler_from_sysfs() {
    let host = FakeHost::new();
    let mut b = host.backend(EevdfConfig::default());
    assert_eq!(b.observe().unwrap().scheduler, "eevdf");
    host.knob("kernel/sched_ext/state", "enabled\n");
    host.knob("kernel/sched_ext/root/ops", "lavd_1.1.4_x86_64\n");
    assert_eq!(
        b.observe().unwrap().scheduler,
        "sched_ext:lavd_1.1.4_x86_64"
    );
}

#[test]
fn dry_run_changes_nothing_and_says_what_it_would_do() {
    use autosa::backend::dry_run::DryRun;
    let host = FakeHost::new();
    host.process(100, "hog", 5000, &[]);
    host.process(200, "sleeper", 6000, &[]);
    let inner: Box<dyn Backend> = Box::new(host.backend(EevdfConfig::default()));
    let mut b = DryRun::new(inner);
    let out = b.apply(&plan(HogTreatment::Idle, &[100], &[200])).unwrap();
    assert!(out.changes.is_empty());
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("SCHED_IDLE") && n.contains("100")),
        "{out:?}"
    );
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("300 us") && n.contains("200")),
        "{out:?}"
    );
    assert_eq!(host.sched.of(100), default_attr());
    assert_eq!(host.sched.of(200), default_attr());
    assert!(!host.journal.exists());
    assert_eq!(b.observe().unwrap().scheduler, "eevdf");
    assert!(b.restore().unwrap().changes.is_empty());
}

#[test]
fn inherited_values_are_put_back_to_the_creators_original() {
    let host = FakeHost::new();
    host.process(100, "make", 5000, &[]);
    let mut b = host.backend(EevdfConfig::default());
    let p = |tgids: &[u32]| plan(HogTreatment::Idle, tgids, &[]);
    b.apply(&p(&[100])).unwrap();
    let idle = attr(SCHED_IDLE, 0, DEFAULT_SLICE);

    // A thread and a child process created afterwards inherit SCHED_IDLE.
    host.thread(100, 101, "make", 5000);
    host.sched.put(101, idle);
    host.process(400, "cc1", 8000, &[]);
    fs::write(
        host.proc.join("400/stat"),
        stat_line_ppid(400, "cc1", 0, 8000, 0, 100),
    )
    .unwrap();
    host.sched.put(400, idle);
    // A child that set its own values is not mistaken for an inheritor.
    host.process(500, "own", 8100, &[]);
    fs::write(
        host.proc.join("500/stat"),
        stat_line_ppid(500, "own", 0, 8100, 0, 100),
    )
    .unwrap();
    host.sched.put(500, attr(SCHED_BATCH, 2, DEFAULT_SLICE));

    let out = b.apply(&p(&[100, 400, 500])).unwrap();
    assert_eq!(out.changes.len(), 1, "only 500 needed setting: {out:?}");
    let entries = journal_entries(&host.journal);
    assert_eq!(entries.len(), 4, "{entries:#?}");

    b.restore().unwrap();
    for tid in [100, 101, 400] {
        assert_eq!(host.sched.of(tid), default_attr(), "tid {tid}");
    }
    assert_eq!(host.sched.of(500), attr(SCHED_BATCH, 2, DEFAULT_SLICE));
}

#[test]
fn a_refused_change_is_not_journaled_as_applied() {
    let host = FakeHost::new();
    host.process(100, "hog", 5000, &[101]);
    let mut b = host.backend(EevdfConfig::default());
    host.sched.1.lock().unwrap().push(101);
    let out = b.apply(&plan(HogTreatment::Idle, &[100], &[])).unwrap();
    assert_eq!(out.changes.len(), 1);
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("thread 101") && n.contains("cannot set")),
        "{out:?}"
    );
    assert_eq!(
        journal_entries(&host.journal).len(),
        1,
        "only the thread that changed"
    );

    // A refused re-set keeps the earlier applied value on record.
    host.sched.1.lock().unwrap().push(100);
    b.apply(&plan(HogTreatment::Nice(19), &[100], &[])).unwrap();
    assert_eq!(host.sched.of(100).policy, SCHED_IDLE);
    assert!(
        b.observe().unwrap().foreign.is_empty(),
        "not mistaken for a manual change"
    );
    host.sched.1.lock().unwrap().clear();
    b.restore().unwrap();
    assert_eq!(host.sched.of(100), default_attr());
}
