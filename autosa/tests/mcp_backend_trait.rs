//! The mcp backend through the `Backend` trait the daemon drives, against
//! `autosa-fake-schedcp` with a fake sysfs: apply, switch, restore, a
//! scheduler that dies, someone else's scheduler, and the recovery of a
//! scheduler left behind by a killed autosa.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use autosa::backend::mcp::{BackoffConfig, McpBackend, McpConfig};
use autosa::backend::{Backend, Target};
use autosa::policy::plan::{EevdfPlan, HogTreatment, Plan, ScxChoice, WorkloadClass};

fn config(dir: &tempfile::TempDir) -> McpConfig {
    let sys = dir.path().join("sys");
    McpConfig {
        command: PathBuf::from(env!("CARGO_BIN_EXE_autosa-fake-schedcp")),
        args: vec![
            "--sys-root".into(),
            sys.display().to_string(),
            "--switch-pause-ms".into(),
            "50".into(),
        ],
        call_timeout: Duration::from_secs(3),
        enable_timeout: Duration::from_secs(8),
        disable_timeout: Duration::from_secs(5),
        orphan_grace: Duration::from_millis(1500),
        kill_grace: Duration::from_secs(2),
        poll_interval: Duration::from_millis(20),
        restart: BackoffConfig {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(1),
        },
        sys_root: sys,
        proc_root: PathBuf::from("/proc"),
        ..McpConfig::default()
    }
}

fn plan(scheduler: Option<&str>) -> Plan {
    Plan {
        class: WorkloadClass::Mixed,
        scx: scheduler.map(|s| ScxChoice {
            scheduler: s.into(),
            args: vec![],
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

fn state(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("sys/kernel/sched_ext/state"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn pids_named(comm: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
                && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z "))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_backend_through_the_daemons_trait() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    std::fs::create_dir_all(&state_dir).unwrap();

    let mut b = McpBackend::new(config(&dir), &state_dir).unwrap();
    assert!(
        b.describe_capabilities()
            .iter()
            .any(|c| c.name == "scx_nest")
    );

    // Apply, confirmed in sysfs, recorded for crash recovery.
    let applied = b.apply(&plan(Some("scx_nest"))).unwrap();
    assert_eq!(applied.changes.len(), 1, "{applied:?}");
    assert_eq!(state(&dir), "enabled");
    assert!(state_dir.join("mcp-running.json").exists());
    let seen = b.observe().unwrap();
    assert!(
        seen.scheduler.starts_with("sched_ext:nest"),
        "{}",
        seen.scheduler
    );
    assert!(seen.foreign.is_empty());
    // Every interval the same plan: nothing to do.
    assert!(b.apply(&plan(Some("scx_nest"))).unwrap().changes.is_empty());

    // Switch, then the scheduler dies: a failure, reported once, not foreign.
    b.apply(&plan(Some("scx_simple"))).unwrap();
    assert!(
        pids_named("scx_nest").is_empty(),
        "the old scheduler was stopped"
    );
    for pid in pids_named("scx_simple") {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let failure = loop {
        let seen = b.observe().unwrap();
        if let Some(f) = b.take_failure() {
            assert!(seen.foreign.is_empty());
            break f;
        }
        assert!(
            Instant::now() < deadline,
            "the dead scheduler was not noticed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(failure.contains("scx_simple"), "{failure}");

    // Someone else loads a scheduler: foreign.
    let sched_ext = dir.path().join("sys/kernel/sched_ext");
    std::fs::create_dir_all(sched_ext.join("root")).unwrap();
    std::fs::write(sched_ext.join("root/ops"), "lavd_1.1.4_x86_64\n").unwrap();
    std::fs::write(sched_ext.join("state"), "enabled\n").unwrap();
    let seen = b.observe().unwrap();
    assert_eq!(seen.foreign.len(), 1);
    assert_eq!(seen.foreign[0].target, Target::Scheduler);
    std::fs::write(sched_ext.join("state"), "disabled\n").unwrap();
    let _ = std::fs::remove_file(sched_ext.join("root/ops"));

    // Restore stops what runs.
    b.apply(&plan(Some("scx_nest"))).unwrap();
    let restored = b.restore().unwrap();
    assert_eq!(restored.changes.len(), 1);
    assert_eq!(state(&dir), "disabled");
    assert!(!state_dir.join("mcp-running.json").exists());

    // A killed autosa leaves the scheduler behind: the next start stops it.
    b.apply(&plan(Some("scx_nest"))).unwrap();
    std::mem::forget(b); // no restore, as after SIGKILL
    assert_eq!(state(&dir), "enabled");
    let b2 = McpBackend::new(config(&dir), &state_dir).unwrap();
    assert_eq!(b2.recovered().changes.len(), 1, "{:?}", b2.recovered());
    assert_eq!(state(&dir), "disabled");
    assert!(pids_named("scx_nest").is_empty());
    drop(b2);
}
