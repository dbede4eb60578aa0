//! The sched_ext supervisor against a fake scheduler and a fake sysfs: no
//! root, no sched_ext kernel needed.

#[path = "support/scx_fixture.rs"]
mod fixture;

use std::time::Duration;

use autosa::backend::scx::{
    ResolveError, ScxConfig, ScxError, ScxEvent, ScxHandle, ScxState, StopSignal, spawn_supervisor,
};
use fixture::{FakeSys, KillGroupsOnDrop, alive, bins};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Generous bound for anything that should happen "soon"; the tests check
/// behaviour, not speed.
const SOON: Duration = Duration::from_secs(10);

struct Harness {
    sys: FakeSys,
    handle: ScxHandle,
    events: broadcast::Receiver<ScxEvent>,
    cancel: CancellationToken,
    task: Option<JoinHandle<Result<(), ScxError>>>,
    spawned: KillGroupsOnDrop,
}

fn config(sys: &FakeSys) -> ScxConfig {
    ScxConfig {
        search_dirs: vec![bins().trusted.clone()],
        search_path: false,
        start_timeout: Duration::from_secs(10),
        stop_timeout: Duration::from_secs(3),
        poll_interval: Duration::from_millis(200),
        confirm_poll_interval: Duration::from_millis(20),
        sys_root: sys.root().to_path_buf(),
        ..ScxConfig::default()
    }
}

fn harness_with(sys: FakeSys, tweak: impl FnOnce(&mut ScxConfig)) -> Harness {
    let mut cfg = config(&sys);
    tweak(&mut cfg);
    cfg.validate().unwrap();
    let cancel = CancellationToken::new();
    let (handle, task) = spawn_supervisor(cfg, cancel.clone());
    let events = handle.subscribe();
    Harness {
        sys,
        handle,
        events,
        cancel,
        task: Some(task),
        spawned: KillGroupsOnDrop::default(),
    }
}

fn harness(tweak: impl FnOnce(&mut ScxConfig)) -> Harness {
    harness_with(FakeSys::new(), tweak)
}

impl Harness {
    /// Starts a fake with `--sys=` plus `extra`; records its pid for the guard.
    async fn start(
        &mut self,
        name: &str,
        extra: &[&str],
    ) -> Result<autosa::backend::scx::Started, ScxError> {
        let mut args = vec![self.sys.arg()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let result = self.handle.start(name, &args).await;
        if let Ok(started) = &result {
            self.spawned.0.push(started.pid);
        }
        result
    }

    async fn next_event(&mut self) -> ScxEvent {
        tokio::time::timeout(SOON, self.events.recv())
            .await
            .expect("no event in time")
            .expect("event channel closed")
    }

    async fn shutdown(&mut self) -> Result<(), ScxError> {
        self.cancel.cancel();
        let task = self.task.take().unwrap();
        tokio::time::timeout(SOON, task)
            .await
            .expect("supervisor did not end")
            .unwrap()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn wait_gone(pid: u32) {
    let deadline = tokio::time::Instant::now() + SOON;
    while alive(pid) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "pid {pid} still alive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_is_confirmed_then_sigint_stops_and_disables() {
    let mut h = harness(|_| {});
    let started = h.start("scx_fakeland", &["--slice-us=5000"]).await.unwrap();
    assert_eq!(started.ops, "fakeland_1.0.0_x86_64");
    assert!(!started.already_running);
    assert_eq!(h.sys.state(), "enabled");
    assert!(alive(started.pid));

    let status = h.handle.status().await.unwrap();
    let running = status.running.expect("running");
    assert_eq!(running.pid, started.pid);
    assert_eq!(running.scheduler, "scx_fakeland");
    assert_eq!(status.sysfs.unwrap().state, ScxState::Enabled);

    let stopped = h
        .handle
        .stop()
        .await
        .unwrap()
        .expect("something was stopped");
    assert_eq!(stopped.signal, StopSignal::Sigint);
    assert_eq!(stopped.status.code, Some(0));
    assert!(
        stopped
            .last_lines
            .iter()
            .any(|l| l.contains("unregistered on SIGINT")),
        "{:?}",
        stopped.last_lines
    );
    assert_eq!(h.sys.state(), "disabled");
    assert_eq!(h.sys.ops(), None);
    assert!(!alive(started.pid));
    assert!(h.handle.stop().await.unwrap().is_none());
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_scheduler_and_args_is_left_running() {
    let mut h = harness(|_| {});
    let first = h.start("scx_fakeland", &[]).await.unwrap();
    let again = h.start("scx_fakeland", &[]).await.unwrap();
    assert!(again.already_running);
    assert_eq!(again.pid, first.pid);
    // Different arguments: a restart.
    let restarted = h.start("scx_fakeland", &["-v"]).await.unwrap();
    assert!(!restarted.already_running);
    assert_ne!(restarted.pid, first.pid);
    assert!(!alive(first.pid));
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_stops_the_old_one_before_starting_the_new_one() {
    let mut h = harness(|_| {});
    let old = h.start("scx_fakeland", &[]).await.unwrap();
    let new = h.start("scx_otherland", &[]).await.unwrap();
    assert_eq!(new.ops, "otherland_1.0.0_x86_64");
    assert!(!alive(old.pid), "old scheduler still alive");
    assert_eq!(h.sys.state(), "enabled");
    assert_eq!(h.sys.ops().as_deref(), Some("otherland_1.0.0_x86_64"));
    // The old one's kernel emulation must not have disabled the new one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = h.handle.status().await.unwrap();
    assert_eq!(status.running.unwrap().scheduler, "scx_otherland");
    assert!(h.events.try_recv().is_err(), "no event expected");
    h.shutdown().await.unwrap();
    assert_eq!(h.sys.state(), "disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_ignored_escalates_to_sigkill() {
    let mut h = harness(|c| c.stop_timeout = Duration::from_millis(400));
    let started = h
        .start("scx_fakeland", &["--mode=ignore-sigint"])
        .await
        .unwrap();
    let stopped = h.handle.stop().await.unwrap().unwrap();
    assert_eq!(stopped.signal, StopSignal::Sigkill);
    assert_eq!(stopped.status.signal, Some(9));
    assert!(!alive(started.pid));
    // Confirmed: the (emulated) kernel disabled it after the kill.
    assert_eq!(h.sys.state(), "disabled");
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_failing_at_once_reports_status_and_output() {
    let mut h = harness(|_| {});
    match h.start("scx_fakeland", &["--mode=fail"]).await {
        Err(ScxError::ExitedDuringStart {
            scheduler,
            status,
            last_lines,
        }) => {
            assert_eq!(scheduler, "scx_fakeland");
            assert_eq!(status.code, Some(2));
            assert!(
                last_lines
                    .iter()
                    .any(|l| l.contains("failed to load BPF program")),
                "{last_lines:?}"
            );
        }
        other => panic!("expected ExitedDuringStart, got {other:?}"),
    }
    assert!(h.handle.status().await.unwrap().running.is_none());
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_never_enabled_times_out_and_is_stopped() {
    let mut h = harness(|c| c.start_timeout = Duration::from_millis(500));
    let err = h
        .start("scx_fakeland", &["--mode=never-enable"])
        .await
        .unwrap_err();
    match &err {
        ScxError::StartTimeout {
            state, last_lines, ..
        } => {
            assert_eq!(*state, ScxState::Disabled);
            assert!(
                last_lines.iter().any(|l| l.contains("starting")),
                "{last_lines:?}"
            );
        }
        other => panic!("expected StartTimeout, got {other:?}"),
    }
    assert!(err.to_string().contains("scx.start_timeout"), "{err}");
    assert!(h.handle.status().await.unwrap().running.is_none());
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_enable_is_waited_for_within_the_deadline() {
    let mut h = harness(|_| {});
    let started = h
        .start("scx_fakeland", &["--mode=slow-enable", "--delay=1"])
        .await
        .unwrap();
    assert_eq!(h.sys.state(), "enabled");
    assert!(
        started.took >= Duration::from_millis(900),
        "{:?}",
        started.took
    );
    h.shutdown().await.unwrap();

    // The same, past a shorter deadline: stopped, and back to disabled.
    let mut h = harness(|c| c.start_timeout = Duration::from_millis(300));
    match h
        .start("scx_fakeland", &["--mode=slow-enable", "--delay=5"])
        .await
    {
        Err(ScxError::StartTimeout { state, .. }) => assert_eq!(state, ScxState::Enabling),
        other => panic!("expected StartTimeout, got {other:?}"),
    }
    assert_eq!(h.sys.state(), "disabled");
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_exiting_by_itself_is_reported() {
    let mut h = harness(|_| {});
    let started = h
        .start("scx_fakeland", &["--mode=crash", "--delay=0.3"])
        .await
        .unwrap();
    match h.next_event().await {
        ScxEvent::Exited {
            scheduler,
            pid,
            status,
            last_lines,
        } => {
            assert_eq!(scheduler, "scx_fakeland");
            assert_eq!(pid, started.pid);
            assert_eq!(status.code, Some(3));
            assert!(
                last_lines.iter().any(|l| l.contains("stall")),
                "{last_lines:?}"
            );
        }
        other => panic!("expected Exited, got {other:?}"),
    }
    assert!(h.handle.status().await.unwrap().running.is_none());
    // Our own dead scheduler still winding down is not "foreign": a new
    // start waits it out.
    let again = h.start("scx_fakeland", &[]).await.unwrap();
    assert!(alive(again.pid));
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ejection_by_sched_ext_is_reported_and_the_child_stopped() {
    let mut h = harness(|_| {});
    let started = h.start("scx_fakeland", &[]).await.unwrap();
    // What the kernel does when its watchdog ejects a stalled scheduler.
    h.sys.set("disabled", None);
    match h.next_event().await {
        ScxEvent::Ejected { scheduler, pid, .. } => {
            assert_eq!(scheduler, "scx_fakeland");
            assert_eq!(pid, started.pid);
        }
        other => panic!("expected Ejected, got {other:?}"),
    }
    wait_gone(started.pid).await;
    assert!(h.handle.status().await.unwrap().running.is_none());
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_by_another_scheduler_is_reported() {
    let mut h = harness(|_| {});
    let started = h.start("scx_fakeland", &[]).await.unwrap();
    h.sys
        .set("enabled", Some("lavd_1.1.4_x86_64_unknown_linux_gnu"));
    match h.next_event().await {
        ScxEvent::Replaced { ops, pid, .. } => {
            assert_eq!(ops, "lavd_1.1.4_x86_64_unknown_linux_gnu");
            assert_eq!(pid, started.pid);
        }
        other => panic!("expected Replaced, got {other:?}"),
    }
    wait_gone(started.pid).await;
    // The foreign scheduler's entry is left alone.
    assert_eq!(
        h.sys.ops().as_deref(),
        Some("lavd_1.1.4_x86_64_unknown_linux_gnu")
    );
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_scheduler_already_running_is_refused() {
    let sys = FakeSys::new();
    sys.set("enabled", Some("bpfland_1.1.4_x86_64_unknown_linux_gnu"));
    let mut h = harness_with(sys, |_| {});
    match h.start("scx_fakeland", &[]).await {
        Err(ScxError::Foreign { state, ops }) => {
            assert_eq!(state, ScxState::Enabled);
            assert_eq!(
                ops.as_deref(),
                Some("bpfland_1.1.4_x86_64_unknown_linux_gnu")
            );
        }
        other => panic!("expected Foreign, got {other:?}"),
    }
    assert!(h.handle.status().await.unwrap().running.is_none());
    assert_eq!(h.sys.state(), "enabled");
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_without_sched_ext_is_reported() {
    let mut h = harness_with(FakeSys::without_sched_ext(), |_| {});
    let err = h.start("scx_fakeland", &[]).await.unwrap_err();
    assert!(matches!(err, ScxError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("CONFIG_SCHED_CLASS_EXT"), "{err}");
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_everything() {
    let mut h = harness(|_| {});
    let started = h.start("scx_fakeland", &[]).await.unwrap();
    h.shutdown().await.unwrap();
    assert!(!alive(started.pid));
    assert_eq!(h.sys.state(), "disabled");
    assert!(matches!(
        h.handle.status().await,
        Err(ScxError::SupervisorGone)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_during_a_slow_start_stops_it() {
    let mut h = harness(|_| {});
    let handle = h.handle.clone();
    let args = vec![
        h.sys.arg(),
        "--mode=slow-enable".into(),
        "--delay=30".into(),
    ];
    let start = tokio::spawn(async move { handle.start("scx_fakeland", &args).await });
    // Wait until the fake is visibly enabling, then shut down.
    let deadline = tokio::time::Instant::now() + SOON;
    while h.sys.state() != "enabling" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fake never started enabling"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.shutdown().await.unwrap();
    match start.await.unwrap() {
        Err(ScxError::Cancelled { scheduler }) => assert_eq!(scheduler, "scx_fakeland"),
        other => panic!("expected Cancelled, got {other:?}"),
    }
    assert_eq!(h.sys.state(), "disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binaries_others_can_write_are_refused() {
    let mut h = harness(|c| c.search_dirs = vec![bins().world_writable.clone()]);
    let err = h.start("scx_fakeland", &[]).await.unwrap_err();
    match &err {
        ScxError::Resolve(ResolveError::Insecure { path, reason }) => {
            assert_eq!(path, &bins().world_writable);
            assert!(reason.contains("writable by group or others"), "{reason}");
        }
        other => panic!("expected Insecure, got {other:?}"),
    }
    assert!(err.to_string().contains("chmod go-w"), "{err}");
    assert_eq!(h.sys.state(), "disabled");
    h.shutdown().await.unwrap();

    let mut h = harness(|c| c.search_dirs = vec![bins().group_writable_bin.clone()]);
    match h.start("scx_fakeland", &[]).await {
        Err(ScxError::Resolve(ResolveError::Insecure { path, .. })) => {
            assert_eq!(path, bins().group_writable_bin.join("scx_fakeland"));
        }
        other => panic!("expected Insecure, got {other:?}"),
    }
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_arguments_and_missing_binaries_are_refused_before_spawning() {
    let mut h = harness(|_| {});
    let err = h
        .start("scx_fakeland", &["--x;touch /tmp/pwned"])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ScxError::Resolve(ResolveError::InvalidArg { index: 1, .. })
        ),
        "{err:?}"
    );
    let err = h.handle.start("../scx_fakeland", &[]).await.unwrap_err();
    assert!(
        matches!(err, ScxError::Resolve(ResolveError::InvalidName { .. })),
        "{err:?}"
    );
    let err = h.start("scx_nosuchland", &[]).await.unwrap_err();
    match &err {
        ScxError::Resolve(ResolveError::NotFound { searched, .. }) => {
            assert_eq!(searched, &vec![bins().trusted.clone()]);
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("cargo install --locked scx_nosuchland"),
        "{err}"
    );
    assert_eq!(h.sys.state(), "disabled");
    assert!(h.handle.status().await.unwrap().running.is_none());
    h.shutdown().await.unwrap();
}

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// Current-thread runtime: the thread-local subscriber then sees the output
// readers' events too.
#[tokio::test(flavor = "current_thread")]
async fn scheduler_output_is_logged_with_its_name() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let mut h = harness(|_| {});
    h.start("scx_fakeland", &["--hello"]).await.unwrap();
    h.shutdown().await.unwrap();
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let logged = |needle: &str, stream: &str| {
        text.lines().any(|l| {
            l.contains("scheduler=scx_fakeland")
                && l.contains(&format!("stream=\"{stream}\""))
                && l.contains(needle)
        })
    };
    assert!(logged("--hello", "stdout"), "{text}");
    assert!(logged("unregistered on SIGINT", "stdout"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_answered_during_a_slow_start_and_other_commands_wait() {
    let mut h = harness(|_| {});
    let handle = h.handle.clone();
    let args = vec![h.sys.arg(), "--mode=slow-enable".into(), "--delay=1".into()];
    let start = tokio::spawn(async move { handle.start("scx_fakeland", &args).await });
    let deadline = tokio::time::Instant::now() + SOON;
    while h.sys.state() != "enabling" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fake never started enabling"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = h.handle.status().await.unwrap();
    assert!(status.running.is_none());
    let starting = status.starting.expect("a start in progress");
    assert_eq!(starting.scheduler, "scx_fakeland");
    assert_eq!(status.sysfs.unwrap().state, ScxState::Enabling);
    h.spawned.0.push(starting.pid);
    // A stop sent now is handled after the start, in order.
    let stopped = h.handle.stop().await.unwrap().expect("the started one");
    let started = start.await.unwrap().unwrap();
    assert_eq!(stopped.pid, started.pid);
    assert_eq!(h.sys.state(), "disabled");
    h.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_registering_under_another_name_needs_an_ops_name() {
    let args = ["--ops=rustland_1.0.0_x86_64"];
    // Unknown to autosa: its ops look like someone else's, so it is stopped.
    let mut h = harness(|_| {});
    match h.start("scx_fakeland", &args).await {
        Err(ScxError::Foreign { ops, .. }) => {
            assert_eq!(ops.as_deref(), Some("rustland_1.0.0_x86_64"))
        }
        other => panic!("expected Foreign, got {other:?}"),
    }
    assert!(h.handle.status().await.unwrap().running.is_none());
    h.shutdown().await.unwrap();

    let mut h = harness(|c| {
        c.ops_names.insert("scx_fakeland".into(), "rustland".into());
    });
    let started = h.start("scx_fakeland", &args).await.unwrap();
    assert_eq!(started.ops, "rustland_1.0.0_x86_64");
    h.shutdown().await.unwrap();
    assert_eq!(h.sys.state(), "disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_of_the_same_scheduler_is_a_replacement() {
    let mut h = harness(|_| {});
    let started = h.start("scx_fakeland", &[]).await.unwrap();
    h.sys.set("enabled", Some("fakeland_2.0.0_x86_64"));
    match h.next_event().await {
        ScxEvent::Replaced { ops, pid, .. } => {
            assert_eq!(ops, "fakeland_2.0.0_x86_64");
            assert_eq!(pid, started.pid);
        }
        other => panic!("expected Replaced, got {other:?}"),
    }
    wait_gone(started.pid).await;
    h.shutdown().await.unwrap();
}
