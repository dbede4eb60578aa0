//! The scx backend through the `Backend` trait the daemon drives: a fake
//! scheduler and a fake sysfs, no root and no sched_ext kernel needed.

#[path = "support/scx_fixture.rs"]
mod fixture;

use std::time::{Duration, Instant};

use autosa::backend::Backend;
use autosa::backend::Target;
use autosa::backend::scx::{ScxBackend, ScxConfig};
use autosa::policy::plan::{EevdfPlan, HogTreatment, Plan, ScxChoice, WorkloadClass};
use fixture::{FakeSys, KillGroupsOnDrop, alive, bins};
use tokio_util::sync::CancellationToken;

fn config(sys: &FakeSys) -> ScxConfig {
    ScxConfig {
        search_dirs: vec![bins().trusted.clone()],
        search_path: false,
        start_timeout: Duration::from_secs(10),
        stop_timeout: Duration::from_secs(3),
        poll_interval: Duration::from_millis(100),
        confirm_poll_interval: Duration::from_millis(20),
        sys_root: sys.root().to_path_buf(),
        ..ScxConfig::default()
    }
}

fn plan(sys: &FakeSys, scheduler: Option<&str>, extra: &[&str]) -> Plan {
    Plan {
        class: WorkloadClass::Mixed,
        scx: scheduler.map(|s| ScxChoice {
            scheduler: s.to_owned(),
            args: std::iter::once(sys.arg())
                .chain(extra.iter().map(|a| a.to_string()))
                .collect(),
        }),
        eevdf: EevdfPlan {
            hogs: HogTreatment::Leave,
            latency_slice_ns: None,
            hog_tgids: vec![],
            latency_tgids: vec![],
            global_knobs: vec![],
        },
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_switch_and_restore_confirmed_in_sysfs() {
    let sys = FakeSys::new();
    let state = tempfile::tempdir().unwrap();
    let mut b = ScxBackend::new(config(&sys), state.path(), CancellationToken::new()).unwrap();
    let state_file = state.path().join("scx-running.json");

    let applied = b.apply(&plan(&sys, Some("scx_fakeland"), &[])).unwrap();
    assert_eq!(applied.changes.len(), 1, "{applied:?}");
    assert!(applied.changes[0].to.starts_with("scx_fakeland"));
    assert_eq!(sys.state(), "enabled");
    assert!(
        state_file.exists(),
        "the running scheduler is recorded for crash recovery"
    );
    let seen = b.observe().unwrap();
    assert!(
        seen.scheduler.starts_with("sched_ext:fakeland"),
        "{}",
        seen.scheduler
    );
    assert!(seen.foreign.is_empty(), "{:?}", seen.foreign);

    // The same plan again (every interval) changes nothing.
    assert!(
        b.apply(&plan(&sys, Some("scx_fakeland"), &[]))
            .unwrap()
            .changes
            .is_empty()
    );

    // A switch to another scheduler.
    let applied = b.apply(&plan(&sys, Some("scx_otherland"), &[])).unwrap();
    assert_eq!(applied.changes[0].from, "scx_fakeland");
    assert_eq!(sys.ops().as_deref(), Some("otherland_1.0.0_x86_64"));

    let restored = b.restore().unwrap();
    assert_eq!(restored.changes.len(), 1);
    assert_eq!(sys.state(), "disabled");
    assert!(!state_file.exists());
    assert_eq!(b.observe().unwrap().scheduler, "eevdf");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_that_dies_is_a_failure_for_the_daemon() {
    let sys = FakeSys::new();
    let state = tempfile::tempdir().unwrap();
    let mut b = ScxBackend::new(config(&sys), state.path(), CancellationToken::new()).unwrap();
    b.apply(&plan(
        &sys,
        Some("scx_fakeland"),
        &["--mode=crash", "--delay=1"],
    ))
    .unwrap();
    assert!(b.take_failure().is_none());
    let mut failure = None;
    wait_until("the crash to be reported", || {
        b.observe().unwrap();
        failure = b.take_failure();
        failure.is_some()
    });
    let why = failure.unwrap();
    assert!(
        why.contains("scx_fakeland") && why.contains("exit code 3"),
        "{why}"
    );
    // Reported once; the dead scheduler is not taken for someone else's.
    assert!(b.take_failure().is_none());
    assert!(b.observe().unwrap().foreign.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_ejected_by_sched_ext_is_a_failure() {
    let sys = FakeSys::new();
    let state = tempfile::tempdir().unwrap();
    let mut b = ScxBackend::new(config(&sys), state.path(), CancellationToken::new()).unwrap();
    b.apply(&plan(&sys, Some("scx_fakeland"), &[])).unwrap();
    sys.set("disabled", None); // what the kernel does on an ejection
    let mut failure = None;
    wait_until("the ejection to be reported", || {
        b.observe().unwrap();
        failure = b.take_failure();
        failure.is_some()
    });
    assert!(failure.unwrap().contains("ejected"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_scheduler_is_reported_as_foreign() {
    let sys = FakeSys::new();
    let state = tempfile::tempdir().unwrap();
    let mut b = ScxBackend::new(config(&sys), state.path(), CancellationToken::new()).unwrap();
    sys.set("enabled", Some("lavd_1.1.4_x86_64_unknown_linux_gnu"));
    let seen = b.observe().unwrap();
    assert_eq!(seen.foreign.len(), 1);
    assert_eq!(seen.foreign[0].target, Target::Scheduler);
    assert!(seen.foreign[0].found.starts_with("lavd"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_left_by_a_killed_autosa_is_stopped_at_start() {
    let sys = FakeSys::new();
    let state = tempfile::tempdir().unwrap();
    // The scheduler a previous autosa started, now orphaned.
    let child = std::process::Command::new(bins().trusted.join("scx_fakeland"))
        .arg(sys.arg())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id();
    let _guard = KillGroupsOnDrop(vec![pid]);
    wait_until("the orphan to enable", || sys.state() == "enabled");
    std::fs::write(
        state.path().join("scx-running.json"),
        format!(
            r#"{{"scheduler":"scx_fakeland","args":["{}"],"pid":{pid}}}"#,
            sys.arg()
        ),
    )
    .unwrap();

    let b = ScxBackend::new(config(&sys), state.path(), CancellationToken::new()).unwrap();
    assert_eq!(b.recovered().changes.len(), 1, "{:?}", b.recovered());
    assert_eq!(sys.state(), "disabled");
    let mut child = child;
    let _ = child.wait();
    assert!(!alive(pid));
    assert!(!state.path().join("scx-running.json").exists());
}

use std::os::unix::process::CommandExt as _;
