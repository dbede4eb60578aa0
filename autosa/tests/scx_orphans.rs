//! Orphan cleanup against real processes (the fake scheduler), found through
//! the real /proc: a scheduler left behind by a previous autosa.

#[path = "support/scx_fixture.rs"]
mod fixture;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use autosa::backend::scx::{
    OrphanStop, SchedExtView, ScxState, find_scheduler_processes, processes_of_active_scheduler,
    stop_orphan,
};
use fixture::{FakeSys, KillGroupsOnDrop, alive, bins};

const SOON: Duration = Duration::from_secs(10);

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + SOON;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid of the scx_orphanland running against `sys` (its main process,
/// not the helper it forks, which has it as parent).
fn orphanland_pid(sys: &FakeSys) -> Option<i32> {
    let found = find_scheduler_processes(Path::new("/proc"), "scx_orphanland").unwrap();
    let ours: Vec<_> = found
        .iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{}/cmdline", p.pid))
                .map(|c| String::from_utf8_lossy(&c).contains(&sys.arg()))
                .unwrap_or(false)
        })
        .collect();
    ours.iter()
        .find(|p| !ours.iter().any(|q| q.pid == p.ppid))
        .map(|p| p.pid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_orphan_is_found_and_stopped_with_sigint() {
    let bin = bins().trusted.join("scx_orphanland");
    let sys = FakeSys::new();
    // `setsid -f` forks and exits: the scheduler is re-parented, as after
    // autosa died, and leads its own session and process group.
    let status = Command::new("setsid")
        .arg("-f")
        .arg(&bin)
        .arg(sys.arg())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("setsid (util-linux) is needed");
    assert!(status.success());
    let mut guard = KillGroupsOnDrop::default();
    wait_for("the orphan to enable", || sys.state() == "enabled");
    let pid = orphanland_pid(&sys).expect("orphan not found in /proc");
    guard.0.push(pid as u32);

    // Start-up cleanup begins from what sysfs shows active.
    let view = SchedExtView {
        state: ScxState::Enabled,
        ops: sys.ops(),
    };
    let active = processes_of_active_scheduler(Path::new("/proc"), &view).unwrap();
    assert!(active.iter().any(|p| p.pid == pid), "{active:?}");
    let found = find_scheduler_processes(Path::new("/proc"), "orphanland").unwrap();
    let orphan = found.iter().find(|p| p.pid == pid).unwrap();
    assert_eq!(orphan.comm, "scx_orphanland");
    assert_ne!(orphan.ppid, std::process::id() as i32, "not re-parented");

    let outcome = stop_orphan(Path::new("/proc"), pid, Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(outcome, OrphanStop::Interrupted);
    assert_eq!(sys.state(), "disabled");
    assert_eq!(sys.ops(), None);
    wait_for("the orphan to be reaped", || !alive(pid as u32));
    assert_eq!(
        stop_orphan(Path::new("/proc"), pid, Duration::from_millis(100))
            .await
            .unwrap(),
        OrphanStop::AlreadyGone
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphan_ignoring_sigint_is_killed() {
    use std::os::unix::process::CommandExt;
    let bin = bins().trusted.join("scx_orphanland");
    let sys = FakeSys::new();
    let mut child = Command::new(&bin)
        .arg(sys.arg())
        .arg("--mode=ignore-sigint")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id();
    let _guard = KillGroupsOnDrop(vec![pid]);
    wait_for("the scheduler to enable", || sys.state() == "enabled");

    let outcome = stop_orphan(Path::new("/proc"), pid as i32, Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(outcome, OrphanStop::Killed);
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    // The (emulated) kernel unregisters a scheduler whose process died.
    wait_for("sched_ext to be disabled", || sys.state() == "disabled");
}
