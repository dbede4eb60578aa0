//! The schedcp MCP backend against `autosa-fake-schedcp`: a fake sysfs in a
//! temp dir, real processes (found through the real /proc by their comm).
//! Each test uses its own scheduler names so that parallel tests never see
//! each other's fake schedulers.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autosa::backend::mcp::truth::{self, Signalled};
use autosa::backend::mcp::{
    ActionReport, BackoffConfig, McpConfig, McpError, McpScheduler, ScxState, Step,
};

/// A temp dir holding the fake sysfs; on drop, kills every process whose
/// command line names it (servers and fake schedulers), even after a panic.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn sys(&self) -> PathBuf {
        self.dir.path().join("sys")
    }

    fn config(&self, mode: &str) -> McpConfig {
        McpConfig {
            command: PathBuf::from(env!("CARGO_BIN_EXE_autosa-fake-schedcp")),
            args: vec![
                "--sys-root".into(),
                self.sys().display().to_string(),
                "--mode".into(),
                mode.into(),
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
            sys_root: self.sys(),
            proc_root: PathBuf::from("/proc"),
            ..McpConfig::default()
        }
    }

    /// Live processes started for this test.
    fn processes(&self) -> Vec<i32> {
        let needle = self.dir.path().display().to_string();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            if String::from_utf8_lossy(&cmdline).contains(&needle)
                && truth::is_alive(Path::new("/proc"), pid)
            {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for pid in self.processes() {
            truth::signal(pid, Signalled::Kill);
        }
    }
}

fn alive(name: &str) -> Vec<i32> {
    truth::find_scheduler_processes(Path::new("/proc"), name)
        .iter()
        .map(|p| p.pid)
        .collect()
}

fn orphan_pids(report: &ActionReport, scheduler: &str) -> Vec<i32> {
    report
        .steps
        .iter()
        .find_map(|s| match s {
            Step::OrphanFound { scheduler: s, pids } if s == scheduler => Some(pids.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// What the last confirmation saw running (`Some(None)` = nothing).
fn confirmed_running(report: &ActionReport) -> Option<Option<String>> {
    report.steps.iter().rev().find_map(|s| match s {
        Step::Confirmed { running, .. } => Some(running.clone()),
        _ => None,
    })
}

/// A scheduler process may still be exiting when sysfs already says disabled.
async fn no_process(name: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if alive(name).is_empty() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn wait_gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !truth::is_alive(Path::new("/proc"), pid as i32) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn start_switch_stop_confirmed_in_sysfs() {
    let fx = Fixture::new();
    let mut mcp = McpScheduler::start(fx.config("normal")).await.unwrap();
    assert_eq!(mcp.generation(), 1);
    let catalogue = mcp.catalogue().to_vec();
    assert_eq!(catalogue.iter().filter(|e| e.production_ready).count(), 10);
    assert!(catalogue.iter().any(|e| e.name == "scx_lavd"));
    assert_eq!(catalogue[0].tuning_parameters["slice_us"].kind, "integer");

    let report = mcp
        .run("scx_bpfland", &["--slice-us".into(), "5000".into()])
        .await
        .unwrap();
    assert_eq!(confirmed_running(&report), Some(Some("scx_bpfland".into())));
    assert!(!report.killed_orphan(), "{report:?}");
    let running = mcp.running().unwrap().clone();
    assert_eq!(running.scheduler, "scx_bpfland");
    assert_eq!(running.args, vec!["--slice-us", "5000"]);
    assert!(running.execution_id.starts_with("sched_"));
    assert!(mcp.observe().unwrap().runs("scx_bpfland"));
    assert_eq!(alive("scx_bpfland").len(), 1);

    let status = mcp.execution_status().await.unwrap().unwrap();
    assert_eq!(status.execution_id, running.execution_id);
    assert_eq!(status.status, "running");
    assert_eq!(status.scheduler_name.as_deref(), Some("scx_bpfland"));

    // Switch: in normal mode schedcp stops the old one itself.
    let report = mcp.run("scx_lavd", &[]).await.unwrap();
    assert!(!report.killed_orphan(), "{report:?}");
    assert!(report.warnings.is_empty(), "{report:?}");
    assert!(mcp.observe().unwrap().runs("scx_lavd"));
    assert!(no_process("scx_bpfland").await);
    assert_eq!(mcp.running().unwrap().scheduler, "scx_lavd");

    let report = mcp.stop().await.unwrap();
    assert!(
        matches!(&report.steps[0], Step::StopRequested { server_status, .. } if server_status == "stopped")
    );
    assert_eq!(confirmed_running(&report), Some(None));
    assert!(mcp.running().is_none());
    assert_eq!(mcp.observe().unwrap().state, ScxState::Disabled);
    assert!(no_process("scx_lavd").await);

    let report = mcp.stop().await.unwrap();
    assert_eq!(report.steps, vec![Step::NothingToStop]);
    let pid = mcp.server_pid().unwrap();
    mcp.shutdown().await;
    assert!(wait_gone(pid).await, "server {pid} survived shutdown");
}

#[tokio::test]
async fn rerun_of_the_same_scheduler_restarts_it_with_new_args() {
    let fx = Fixture::new();
    let mut mcp = McpScheduler::start(fx.config("normal")).await.unwrap();
    mcp.run("scx_central", &["-a".into()]).await.unwrap();
    let first = alive("scx_central");
    assert_eq!(first.len(), 1);
    let report = mcp.run("scx_central", &["-b".into()]).await.unwrap();
    assert!(
        report
            .steps
            .iter()
            .any(|s| matches!(s, Step::StopRequested { .. }))
    );
    assert_eq!(mcp.running().unwrap().args, vec!["-b"]);
    let second = alive("scx_central");
    assert_eq!(second.len(), 1);
    assert_ne!(first, second);
    mcp.stop().await.unwrap();
    mcp.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_typed_and_change_nothing() {
    let fx = Fixture::new();
    let mut mcp = McpScheduler::start(fx.config("normal")).await.unwrap();
    let err = mcp.run("scx_does_not_exist", &[]).await.unwrap_err();
    match &err {
        McpError::UnknownScheduler { name, message } => {
            assert_eq!(name, "scx_does_not_exist");
            assert!(message.contains("not found"), "{message}");
        }
        other => panic!("expected UnknownScheduler, got {other:?}"),
    }
    assert!(err.to_string().contains("scx_does_not_exist"));
    assert!(mcp.running().is_none());
    assert_eq!(mcp.generation(), 1, "a -32602 must not restart the server");
    assert_eq!(mcp.observe().unwrap().state, ScxState::Disabled);
    let listed = mcp.list_schedulers().await.unwrap();
    assert_eq!(listed.len(), mcp.catalogue().len());
    mcp.shutdown().await;
}

#[tokio::test]
async fn garbage_replies_are_typed_errors() {
    let fx = Fixture::new();
    let mut mcp = McpScheduler::start(fx.config("garbage")).await.unwrap();
    let err = mcp.run("scx_rustland", &[]).await.unwrap_err();
    assert!(
        matches!(&err, McpError::Garbage { tool, detail } if tool == "run_scheduler" && detail.contains("not JSON")),
        "{err:?}"
    );
    assert!(mcp.running().is_none());
    assert!(mcp.list_schedulers().await.is_ok(), "server stays usable");
    mcp.shutdown().await;

    let err = McpScheduler::start(fx.config("garbage-list"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, McpError::Garbage { tool, .. } if tool == "list_schedulers"),
        "{err:?}"
    );
}

#[tokio::test]
async fn hung_server_times_out_and_is_replaced() {
    let fx = Fixture::new();
    let config = fx.config("hang");
    let timeout = config.call_timeout;
    let mut mcp = McpScheduler::start(config).await.unwrap();
    let first = mcp.server_pid().unwrap();
    let t0 = Instant::now();
    let err = mcp.run("scx_layered", &[]).await.unwrap_err();
    let took = t0.elapsed();
    assert!(
        matches!(&err, McpError::Timeout { tool, .. } if tool == "run_scheduler"),
        "{err:?}"
    );
    assert!(took >= timeout && took < timeout * 3, "took {took:?}");
    assert!(wait_gone(first).await, "hung server {first} was not killed");

    // The next call starts a new server.
    mcp.list_schedulers().await.unwrap();
    assert_eq!(mcp.generation(), 2);
    assert_ne!(mcp.server_pid(), Some(first));
    mcp.shutdown().await;
}

#[tokio::test]
async fn crashed_server_is_restarted_and_autosa_keeps_track() {
    let fx = Fixture::new();
    // Calls: list (start) = 1, run = 2, the status query crashes the server.
    let mut mcp = McpScheduler::start(fx.config("crash-after=2"))
        .await
        .unwrap();
    mcp.run("scx_simple", &["-v".into()]).await.unwrap();
    let started = mcp.running().unwrap().clone();

    let err = mcp.execution_status().await.unwrap_err();
    assert!(matches!(err, McpError::ServerGone), "{err:?}");
    assert_eq!(mcp.running(), Some(&started), "never lose what runs");
    // The scheduler survives its server, as with schedcp.
    assert!(mcp.observe().unwrap().runs("scx_simple"));

    mcp.list_schedulers().await.unwrap();
    assert_eq!(mcp.generation(), 2);
    assert_eq!(mcp.running(), Some(&started));

    // The new server does not know the execution: autosa stops it itself.
    let report = mcp.stop().await.unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("no longer knows")),
        "{report:?}"
    );
    let pids = orphan_pids(&report, "scx_simple");
    assert_eq!(pids.len(), 1, "{report:?}");
    assert!(report.steps.contains(&Step::Signalled {
        pid: pids[0],
        signal: Signalled::Interrupt
    }));
    assert_eq!(confirmed_running(&report), Some(None));
    assert!(mcp.running().is_none());
    assert!(mcp.observe().unwrap().is_disabled());
    assert!(no_process("scx_simple").await);
    mcp.shutdown().await;
}

#[tokio::test]
async fn killed_server_then_switch_restarts_and_clears_the_old_scheduler() {
    let fx = Fixture::new();
    let mut mcp = McpScheduler::start(fx.config("normal")).await.unwrap();
    mcp.run("scx_cosmos", &[]).await.unwrap();
    let pid = mcp.server_pid().unwrap();
    truth::signal(pid as i32, Signalled::Kill);
    assert!(wait_gone(pid).await);

    let err = mcp.execution_status().await.unwrap_err();
    assert!(matches!(err, McpError::ServerGone), "{err:?}");
    assert_eq!(mcp.running().unwrap().scheduler, "scx_cosmos");

    let report = mcp.run("scx_chaos", &[]).await.unwrap();
    assert!(
        report
            .steps
            .iter()
            .any(|s| matches!(s, Step::ServerStarted { generation: 2, .. })),
        "{report:?}"
    );
    assert_eq!(orphan_pids(&report, "scx_cosmos").len(), 1, "{report:?}");
    assert_eq!(confirmed_running(&report), Some(Some("scx_chaos".into())));
    assert!(mcp.observe().unwrap().runs("scx_chaos"));
    assert!(no_process("scx_cosmos").await);
    assert_eq!(mcp.running().unwrap().server_generation, 2);
    mcp.stop().await.unwrap();
    assert!(mcp.observe().unwrap().is_disabled());
    mcp.shutdown().await;
}

#[tokio::test]
async fn orphan_after_stop_is_signalled_and_confirmed_gone() {
    let fx = Fixture::new();
    let mut mcp = McpScheduler::start(fx.config("orphan-on-stop"))
        .await
        .unwrap();
    mcp.run("scx_nest", &[]).await.unwrap();
    let pids = alive("scx_nest");
    assert_eq!(pids.len(), 1);

    let report = mcp.stop().await.unwrap();
    assert!(
        matches!(&report.steps[0], Step::StopRequested { server_status, .. } if server_status == "stopped")
    );
    assert_eq!(orphan_pids(&report, "scx_nest"), pids, "{report:?}");
    assert!(report.steps.contains(&Step::Signalled {
        pid: pids[0],
        signal: Signalled::Interrupt
    }));
    assert!(!report.warnings.is_empty());
    assert_eq!(confirmed_running(&report), Some(None));
    assert!(mcp.observe().unwrap().is_disabled());
    assert!(no_process("scx_nest").await);
    assert!(mcp.running().is_none());
    mcp.shutdown().await;
}

#[tokio::test]
async fn orphan_after_switch_is_cleared_and_the_start_retried() {
    let fx = Fixture::new();
    let mut mcp = McpScheduler::start(fx.config("orphan-on-switch"))
        .await
        .unwrap();
    mcp.run("scx_p2dq", &[]).await.unwrap();
    let old = alive("scx_p2dq");
    assert_eq!(old.len(), 1);

    let report = mcp.run("scx_flash", &[]).await.unwrap();
    assert_eq!(orphan_pids(&report, "scx_p2dq"), old, "{report:?}");
    assert!(report.steps.contains(&Step::RetriedStart), "{report:?}");
    let runs_requested = report
        .steps
        .iter()
        .filter(|s| matches!(s, Step::RunRequested { .. }))
        .count();
    assert_eq!(runs_requested, 2);
    assert!(
        report.warnings.iter().any(|w| w.contains("scx_p2dq")),
        "{report:?}"
    );
    assert_eq!(confirmed_running(&report), Some(Some("scx_flash".into())));
    assert!(mcp.observe().unwrap().runs("scx_flash"));
    assert!(no_process("scx_p2dq").await);
    assert_eq!(mcp.running().unwrap().scheduler, "scx_flash");

    mcp.stop().await.unwrap();
    assert!(mcp.observe().unwrap().is_disabled());
    assert!(no_process("scx_flash").await);
    mcp.shutdown().await;
}

#[tokio::test]
async fn slow_enable_is_waited_for_and_a_too_slow_one_is_an_error() {
    let fx = Fixture::new();
    let mut mcp = McpScheduler::start(fx.config("slow-enable=1200"))
        .await
        .unwrap();
    let report = mcp.run("scx_flatcg", &[]).await.unwrap();
    let Some(Step::Confirmed { after, .. }) = report.steps.last() else {
        panic!("{report:?}");
    };
    assert!(*after >= Duration::from_millis(1100), "{after:?}");
    mcp.stop().await.unwrap();
    mcp.shutdown().await;

    let mut config = fx.config("slow-enable=3000");
    config.enable_timeout = Duration::from_millis(300);
    let mut mcp = McpScheduler::start(config).await.unwrap();
    let err = mcp.run("scx_userland", &[]).await.unwrap_err();
    assert!(
        matches!(&err, McpError::NotEnabled { scheduler, .. } if scheduler == "scx_userland"),
        "{err:?}"
    );
    assert!(mcp.running().is_none());
    mcp.shutdown().await;
}

#[tokio::test]
async fn missing_server_binary_says_what_to_do() {
    let fx = Fixture::new();
    let mut config = fx.config("normal");
    config.command = fx.dir.path().join("no-such-schedcp");
    let err = McpScheduler::start(config).await.err().unwrap();
    assert!(matches!(err, McpError::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains("set `command`"), "{err}");
}

/// `--real` runs the scheduler binary itself: here a script named like a
/// scheduler that plays sched_ext on the fake sysfs given as its argument.
#[tokio::test]
async fn real_mode_runs_the_scheduler_binary_and_stops_it_with_sigint() {
    use std::os::unix::fs::PermissionsExt;

    let fx = Fixture::new();
    let bin = fx.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("scx_tickless");
    std::fs::write(
        &script,
        r#"#!/bin/sh
d="$1/kernel/sched_ext"
trap 'rm -f "$d/root/ops"; echo disabled > "$d/state"; exit 0' INT TERM
mkdir -p "$d/root"
echo tickless_1.0.0_x86_64 > "$d/root/ops"
echo enabled > "$d/state"
while :; do sleep 0.05; done
"#,
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(fx.sys().join("kernel/sched_ext")).unwrap();
    std::fs::write(fx.sys().join("kernel/sched_ext/state"), "disabled\n").unwrap();

    let mut config = fx.config("normal");
    config.args.extend([
        "--real".into(),
        "--scx-bin-dir".into(),
        bin.display().to_string(),
    ]);
    let mut mcp = McpScheduler::start(config).await.unwrap();
    let sys = fx.sys().display().to_string();
    let report = mcp.run("scx_tickless", &[sys]).await.unwrap();
    assert_eq!(
        confirmed_running(&report),
        Some(Some("scx_tickless".into()))
    );
    // Not exactly one: the script's forks carry its name until they exec.
    assert!(!alive("scx_tickless").is_empty());

    let report = mcp.stop().await.unwrap();
    assert!(!report.killed_orphan(), "{report:?}");
    assert_eq!(confirmed_running(&report), Some(None));
    assert!(no_process("scx_tickless").await);
    mcp.shutdown().await;
}

#[tokio::test]
async fn orphan_deaf_to_sigint_gets_sigkill() {
    let fx = Fixture::new();
    let mut mcp = McpScheduler::start(fx.config("stubborn-orphan"))
        .await
        .unwrap();
    mcp.run("scx_pair", &[]).await.unwrap();
    let pids = alive("scx_pair");
    assert_eq!(pids.len(), 1);

    let report = mcp.stop().await.unwrap();
    let signals: Vec<_> = report
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Signalled { pid, signal } => Some((*pid, *signal)),
            _ => None,
        })
        .collect();
    assert_eq!(
        signals,
        vec![(pids[0], Signalled::Interrupt), (pids[0], Signalled::Kill)],
        "{report:?}"
    );
    assert_eq!(confirmed_running(&report), Some(None));
    assert!(mcp.observe().unwrap().is_disabled());
    assert!(no_process("scx_pair").await);
    mcp.shutdown().await;
}

#[tokio::test]
async fn a_server_that_keeps_dying_is_restarted_with_growing_backoff() {
    let fx = Fixture::new();
    // Every instance answers the list at start, then dies on the next call.
    let mut config = fx.config("crash-after=1");
    config.call_timeout = Duration::from_millis(500);
    config.restart = BackoffConfig {
        initial: Duration::from_millis(200),
        max: Duration::from_secs(5),
    };
    let mut mcp = McpScheduler::start(config).await.unwrap();
    // Waits before restarts: 200 ms, 400 ms, then 800 ms > the call timeout.
    for generation in 1..=3 {
        let err = mcp.list_schedulers().await.unwrap_err();
        assert!(matches!(err, McpError::ServerGone), "{err:?}");
        assert_eq!(mcp.generation(), generation);
    }
    let err = mcp.list_schedulers().await.unwrap_err();
    match err {
        McpError::RestartBackoff { retry_in } => {
            assert!(retry_in > Duration::from_millis(500), "{retry_in:?}");
            assert!(retry_in <= Duration::from_millis(800), "{retry_in:?}");
        }
        other => panic!("expected RestartBackoff, got {other:?}"),
    }
    assert_eq!(mcp.generation(), 3, "no restart while backing off");
    tokio::time::sleep(Duration::from_millis(850)).await;
    let err = mcp.list_schedulers().await.unwrap_err();
    assert!(matches!(err, McpError::ServerGone), "{err:?}");
    assert_eq!(mcp.generation(), 4);
    mcp.shutdown().await;
}

#[tokio::test]
async fn a_silent_server_fails_the_handshake_in_time_and_is_killed() {
    let fx = Fixture::new();
    let marker = fx.dir.path().join("silent");
    std::fs::write(&marker, "").unwrap();
    let mut config = fx.config("normal");
    // A "server" that never answers; the temp dir in its command line lets
    // the fixture (and this test) find it.
    // Absolute: autosa never searches $PATH for the server.
    config.command = PathBuf::from("/usr/bin/tail");
    config.args = vec!["-f".into(), marker.display().to_string()];
    config.call_timeout = Duration::from_millis(400);
    let t0 = Instant::now();
    let err = McpScheduler::start(config).await.err().unwrap();
    assert!(
        matches!(&err, McpError::Handshake { detail, .. } if detail.contains("no answer")),
        "{err:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    let deadline = Instant::now() + Duration::from_secs(3);
    while !fx.processes().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(fx.processes().is_empty(), "silent server still alive");
}
