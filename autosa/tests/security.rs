//! Issue 6's security rules, one group of tests per rule, each on the real
//! binary or the real library with real files, processes and kernel calls:
//!
//! 1. Only root or the configured group can use the control socket (and so
//!    request a switch); the socket's mode says the same.
//! 2. Scheduler binaries, the schedcp MCP server and the configuration
//!    naming them come only from files and directories only root can write.
//! 3. Nothing from a control-socket or MCP request is executed as a command.
//! 4. The eevdf backend never touches a process outside its scope.
//! 5. The systemd unit grants exactly the capabilities autosa needs, and each
//!    of them is needed.
//!
//! Tests needing root fail under `CI` instead of skipping. Every daemon has
//! its own socket and state dir in a temp dir; every process a test starts,
//! and every scheduling change, is undone by a guard.

#[path = "support/child.rs"]
mod child;
#[path = "support/security_harness.rs"]
mod harness;
#[path = "support/prereq.rs"]
mod prereq;

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt as _, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autosa::backend::Backend as _;
use autosa::backend::eevdf::sched_attr::{Syscalls, TaskSched as _};
use autosa::backend::eevdf::{EevdfBackend, EevdfConfig};
use autosa::backend::journal::{Entry, Journal, TaskAttr};
use autosa::backend::mcp::{McpConfig, McpError, McpScheduler};
use autosa::backend::scx::{ResolveError, ScxConfig, check_trusted, resolve_binary};
use autosa::policy::plan::{EevdfPlan, HogTreatment, Plan, WorkloadClass};
use harness::*;
use serde_json::{Value, json};

fn root(test: &str) -> bool {
    prereq::run_or_skip(
        test,
        (!nix::unistd::geteuid().is_root()).then_some("root (other uids, chown, sched_setattr)"),
    )
}

const NOBODY: u32 = 65534;
/// A gid no group on the machine is expected to have.
const STRANGER_GID: u32 = 4242;

fn status(config: &Path) -> Value {
    json(config, &["status", "--json"])
}

/// The history's manual commands (switch, pause, resume) the daemon took.
fn manual_commands(config: &Path) -> Vec<(String, bool)> {
    json(config, &["history", "--json", "--limit", "100000"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "manual")
        .map(|e| {
            (
                e["command"].as_str().unwrap().to_owned(),
                e["accepted"].as_bool().unwrap(),
            )
        })
        .collect()
}

// ─── Rule 1: the control socket ──────────────────────────────────────────

/// A daemon with no backend, for the tests of who may use its socket.
/// (Fields drop in order: the daemon is stopped before its directory goes.)
struct SocketDaemon {
    daemon: Daemon,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

/// `group` is `[control] group`; "" for none.
fn socket_daemon(group: &str) -> SocketDaemon {
    let dir = scratch();
    let config = DaemonConfig {
        group,
        ..DaemonConfig::default()
    }
    .write(dir.path());
    SocketDaemon {
        daemon: Daemon::start(&config, &["--backend", "none"]),
        socket: socket_of(dir.path()),
        _dir: dir,
    }
}

#[test]
fn socket_without_a_group_is_0600_and_owned_by_root() {
    if !root("socket_without_a_group_is_0600_and_owned_by_root") {
        return;
    }
    let d = socket_daemon("");
    let meta = std::fs::metadata(&d.socket).unwrap();
    assert_eq!(mode_of(&d.socket), 0o600);
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
}

#[test]
fn socket_with_a_group_is_0660_and_owned_by_that_group() {
    if !root("socket_with_a_group_is_0660_and_owned_by_that_group") {
        return;
    }
    let d = socket_daemon("nogroup");
    let meta = std::fs::metadata(&d.socket).unwrap();
    assert_eq!(mode_of(&d.socket), 0o660);
    assert_eq!((meta.uid(), meta.gid()), (0, NOBODY));
}

/// A non-root user outside the group is kept out twice: by the socket's mode
/// (connect fails) and, with the mode opened by mistake, by the peer
/// credentials the daemon checks. No command of theirs changes anything;
/// root's same command right after does (so the refusals were not a daemon
/// unable to switch).
#[test]
fn a_user_outside_the_group_can_neither_read_nor_switch_and_changes_nothing() {
    if !root("a_user_outside_the_group_can_neither_read_nor_switch_and_changes_nothing") {
        return;
    }
    let d = socket_daemon("nogroup");
    let (config, socket) = (&d.daemon.config, &d.socket);
    let stranger = Cred {
        uid: NOBODY,
        gid: STRANGER_GID,
        groups: &[STRANGER_GID],
    };
    let commands: [&[&str]; 6] = [
        &["status", "--json"],
        &["switch", "latency_sensitive", "--for", "10m"],
        &["switch", "cpu_bound"],
        &["pause"],
        &["resume"],
        &["history", "--json"],
    ];
    // The mode (0660, group nogroup) keeps it from connecting at all.
    for args in commands {
        let out = cli_as(stranger, socket, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("cannot reach the autosa daemon"),
            "{args:?}: {err}"
        );
    }
    // With the mode opened, the daemon's peer-credential check refuses.
    set_mode(socket, 0o666);
    for args in commands {
        let out = cli_as(stranger, socket, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("permission denied: uid 65534 is neither root nor in the group `nogroup`")
                && err.contains("add the user to it, or use sudo"),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    }
    // Nothing happened: no pause, no manual choice, no command recorded.
    // (`switching.active` is not compared: the daemon may switch by itself
    // when other work loads the machine.)
    let s = status(config);
    assert_eq!(s["paused"], false, "{s}");
    assert!(s["manual"].is_null(), "{s}");
    assert!(s["paused_until_unix_ms"].is_null(), "{s}");
    assert_eq!(manual_commands(config), vec![]);
    // Root is let in, and the same switch works.
    let out = cli(config, &["switch", "latency_sensitive", "--for", "10m"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(status(config)["manual"], "latency_sensitive");
    assert_eq!(
        manual_commands(config),
        vec![("switch latency_sensitive --for 10m".to_owned(), true)]
    );
}

/// Without `[control] group` only uid 0 counts: membership of the root
/// group (gid 0) is not root.
#[test]
fn without_a_group_only_uid_0_is_let_in_not_the_root_group() {
    if !root("without_a_group_only_uid_0_is_let_in_not_the_root_group") {
        return;
    }
    let d = socket_daemon("");
    let (config, socket) = (&d.daemon.config, &d.socket);
    set_mode(socket, 0o666);
    let root_group = Cred {
        uid: NOBODY,
        gid: 0,
        groups: &[0],
    };
    let out = cli_as(root_group, socket, &["pause"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("permission denied: uid 65534 is not root")
            && err.contains("set [control] group"),
        "{err}"
    );
    assert_eq!(status(config)["paused"], false);
    assert_eq!(manual_commands(config), vec![]);
}

/// The issue: "only root or the configured group can … request a switch":
/// a member (here through a supplementary group, its primary group being
/// another) may read, switch, pause and resume, and each takes effect.
#[test]
fn a_member_of_the_configured_group_may_read_switch_pause_and_resume() {
    if !root("a_member_of_the_configured_group_may_read_switch_pause_and_resume") {
        return;
    }
    let d = socket_daemon("nogroup");
    let (config, socket) = (&d.daemon.config, &d.socket);
    assert_eq!(mode_of(socket), 0o660, "the mode is not opened here");
    let member = Cred {
        uid: NOBODY,
        gid: STRANGER_GID,
        groups: &[STRANGER_GID, NOBODY],
    };
    let out = cli_as(member, socket, &["status", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["protocol"], 1);

    let out = cli_as(
        member,
        socket,
        &["switch", "latency_sensitive", "--for", "10m"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = status(config);
    assert_eq!(s["manual"], "latency_sensitive", "{s}");
    assert_eq!(s["switching"]["active"], "latency_sensitive", "{s}");

    let out = cli_as(member, socket, &["resume"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(status(config)["manual"].is_null());
    let out = cli_as(member, socket, &["pause"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(status(config)["paused"], true);
    assert_eq!(
        manual_commands(config),
        vec![
            ("switch latency_sensitive --for 10m".to_owned(), true),
            ("resume".to_owned(), true),
            ("pause".to_owned(), true),
        ]
    );
}

// ─── Rule 2: trusted binaries and configuration ──────────────────────────

fn insecure(result: Result<PathBuf, ResolveError>) -> (PathBuf, String) {
    match result {
        Err(e @ ResolveError::Insecure { .. }) => {
            let message = e.to_string();
            assert!(
                message.starts_with("refusing to run ")
                    && message.contains("chown root; chmod go-w"),
                "{message}"
            );
            let ResolveError::Insecure { path, reason } = e else {
                unreachable!()
            };
            (path, reason)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn scx_config(dirs: Vec<PathBuf>) -> ScxConfig {
    ScxConfig {
        search_dirs: dirs,
        search_path: false,
        ..ScxConfig::default()
    }
}

/// Every way a scheduler binary could be replaced by someone else: a
/// world-writable directory, a world- or group-writable binary, a binary or
/// a directory owned by another user, a symlink from a trusted directory
/// into any of those. The same binary in a root-only directory resolves.
#[test]
fn scheduler_binaries_others_could_replace_are_refused() {
    if !root("scheduler_binaries_others_could_replace_are_refused") {
        return;
    }
    let fakes = RecordingScx::new();
    let name = "scx_bpfland";
    // Trusted: resolves to its canonical path.
    let ok = resolve_binary(&scx_config(vec![fakes.trusted.clone()]), name).unwrap();
    assert_eq!(ok, std::fs::canonicalize(fakes.trusted.join(name)).unwrap());

    // In a 0777 directory.
    let (path, reason) = insecure(resolve_binary(
        &scx_config(vec![fakes.world_writable.clone()]),
        name,
    ));
    assert_eq!(path, fakes.world_writable);
    assert_eq!(reason, "directory writable by group or others (mode 777)");
    // Found there first: refused, not skipped for a trusted one later.
    insecure(resolve_binary(
        &scx_config(vec![fakes.world_writable.clone(), fakes.trusted.clone()]),
        name,
    ));

    let dir = scratch();
    let put = |sub: &str, dir_mode: u32, bin_mode: u32| {
        let d = dir.path().join(sub);
        std::fs::create_dir(&d).unwrap();
        set_mode(&d, dir_mode);
        script(&d.join(name), "exit 0", bin_mode);
        d
    };
    // A world-writable binary, a group-writable one.
    let ww_bin = put("ww-bin", 0o755, 0o777);
    let (_, reason) = insecure(resolve_binary(&scx_config(vec![ww_bin]), name));
    assert_eq!(reason, "writable by group or others (mode 777)");
    let gw_bin = put("gw-bin", 0o755, 0o775);
    let (_, reason) = insecure(resolve_binary(&scx_config(vec![gw_bin]), name));
    assert_eq!(reason, "writable by group or others (mode 775)");
    // A binary owned by nobody.
    let nobodys = put("nobodys-bin", 0o755, 0o755);
    std::os::unix::fs::chown(nobodys.join(name), Some(NOBODY), Some(NOBODY)).unwrap();
    let (_, reason) = insecure(resolve_binary(&scx_config(vec![nobodys]), name));
    assert_eq!(reason, "owned by uid 65534");
    // A root-owned binary in a directory nobody owns (nobody could swap it).
    let nobodys_dir = put("nobodys-dir", 0o755, 0o755);
    std::os::unix::fs::chown(&nobodys_dir, Some(NOBODY), Some(NOBODY)).unwrap();
    let (path, reason) = insecure(resolve_binary(&scx_config(vec![nobodys_dir.clone()]), name));
    assert_eq!(
        (path, reason.as_str()),
        (nobodys_dir.clone(), "directory owned by uid 65534")
    );
    // Symlinks in a trusted directory are judged by where they lead.
    let links = dir.path().join("links");
    std::fs::create_dir(&links).unwrap();
    set_mode(&links, 0o755);
    symlink(fakes.world_writable.join(name), links.join(name)).unwrap();
    let (path, _) = insecure(resolve_binary(&scx_config(vec![links.clone()]), name));
    assert_eq!(path, std::fs::canonicalize(&fakes.world_writable).unwrap());
    let (path, _) = insecure(check_trusted(&{
        let l = links.join("scx_lavd");
        symlink(nobodys_dir.join(name), &l).unwrap();
        l
    }));
    assert_eq!(path, nobodys_dir);
    // What is refused was never run.
    assert_eq!(fakes.runs(), Vec::<String>::new());
}

/// `[scx] search_dirs` must be absolute (a relative one depends on the
/// daemon's working directory); `search_path` is off by default.
#[test]
fn relative_scheduler_search_dirs_are_rejected_at_load() {
    let dir = scratch();
    let path = dir.path().join("autosa.toml");
    std::fs::write(&path, "[scx]\nsearch_dirs = [\"bin\", \"/usr/bin\"]\n").unwrap();
    let out = cli(&path, &["config", "check"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("autosa.toml:2") && err.contains("bin is not an absolute path"),
        "{err}"
    );
    assert!(!ScxConfig::default().search_path);
}

/// The daemon end to end: with its only search directory world-writable it
/// neither offers nor starts the schedulers in it, and says why.
#[test]
fn the_daemon_neither_offers_nor_runs_schedulers_from_a_world_writable_directory() {
    if !root("the_daemon_neither_offers_nor_runs_schedulers_from_a_world_writable_directory") {
        return;
    }
    let fakes = RecordingScx::new();
    let dir = scratch();
    let extra = fakes.config(&fakes.world_writable);
    let config = DaemonConfig {
        extra: &extra,
        ..DaemonConfig::default()
    }
    .write(dir.path());
    let _d = Daemon::start(&config, &["--backend", "scx"]);
    let offers = json(&config, &["schedulers", "--json"]);
    assert_eq!(offers[0]["backend"], "scx");
    assert_eq!(offers[0]["offers"], json!([]), "{offers}");
    let detail = offers[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("refusing to run")
            && detail.contains("directory writable by group or others (mode 777)"),
        "{detail}"
    );
    let out = cli(&config, &["switch", "scx_bpfland"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown name `scx_bpfland`"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fakes.runs(), Vec::<String>::new());
}

/// The schedcp MCP server command: an absolute path to a root-only file.
/// Each refused command is a script that would leave a marker file; the
/// same script in a root-only directory does run (the marker appears), so
/// the refusals are what kept it from running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_server_command_must_be_an_absolute_root_only_file() {
    if !root("the_mcp_server_command_must_be_an_absolute_root_only_file") {
        return;
    }
    let dir = scratch();
    let sys = dir.path().join("sys");
    std::fs::create_dir_all(sys.join("kernel/sched_ext")).unwrap();
    std::fs::write(sys.join("kernel/sched_ext/state"), "disabled\n").unwrap();
    let marker = dir.path().join("schedcp-ran");
    let body = format!("touch {}\nexit 1", marker.display());
    let make = |sub: &str, dir_mode: u32, bin_mode: u32| {
        let d = dir.path().join(sub);
        std::fs::create_dir(&d).unwrap();
        set_mode(&d, dir_mode);
        script(&d.join("schedcp"), &body, bin_mode);
        d.join("schedcp")
    };
    let trusted = make("trusted", 0o755, 0o755);
    let in_ww_dir = make("world-writable", 0o777, 0o755);
    let ww_bin = make("ww-bin", 0o755, 0o777);
    let nobodys = make("nobodys", 0o755, 0o755);
    std::os::unix::fs::chown(&nobodys, Some(NOBODY), Some(NOBODY)).unwrap();
    let links = dir.path().join("links");
    std::fs::create_dir(&links).unwrap();
    set_mode(&links, 0o755);
    symlink(&in_ww_dir, links.join("schedcp")).unwrap();
    let config = |command: PathBuf| McpConfig {
        command,
        call_timeout: Duration::from_secs(2),
        sys_root: sys.clone(),
        ..McpConfig::default()
    };
    let cases: [(PathBuf, &str); 6] = [
        (PathBuf::from("schedcp"), "not an absolute path"),
        (McpConfig::default().command, "not an absolute path"),
        (
            in_ww_dir.clone(),
            "directory writable by group or others (mode 777)",
        ),
        (ww_bin, "writable by group or others (mode 777)"),
        (nobodys, "owned by uid 65534"),
        (
            links.join("schedcp"),
            "directory writable by group or others (mode 777)",
        ),
    ];
    for (command, why) in cases {
        let err = McpScheduler::start(config(command.clone()))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, McpError::Untrusted { .. }),
            "{command:?}: {err:?}"
        );
        let message = err.to_string();
        assert!(
            message.starts_with("refusing to start the schedcp MCP server")
                && message.contains(why)
                && message.contains("chown root; chmod go-w"),
            "{command:?}: {message}"
        );
        assert!(!marker.exists(), "{command:?} was run");
    }
    // The daemon says the same and exits, before running anything.
    let ddir = scratch();
    let extra = format!(
        "[mcp]\ncommand = \"{}\"\nsys_root = \"{}\"\ncall_timeout = \"2s\"\n",
        in_ww_dir.display(),
        sys.display()
    );
    let dconfig = DaemonConfig {
        extra: &extra,
        ..DaemonConfig::default()
    }
    .write(ddir.path());
    let mut d = Daemon::spawn(&dconfig, &[], &["--backend", "mcp"]);
    assert_eq!(d.wait_exit(DEADLINE), Some(2));
    let log = d.log_text();
    assert!(
        log.contains("refusing to start the schedcp MCP server"),
        "{log}"
    );
    assert!(!marker.exists());

    // The control: the same script where only root can write runs.
    let err = McpScheduler::start(config(trusted.clone()))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, McpError::Handshake { .. }), "{err:?}");
    assert!(marker.exists(), "the trusted command did not run");
}

/// `autosa run` takes the programs it starts from its configuration: a file
/// (or a directory above it) that someone other than root can write is
/// refused before anything happens (no socket is created). `autosa config
/// check` still checks such a file, and warns.
#[test]
fn the_daemon_refuses_a_configuration_others_can_write() {
    if !root("the_daemon_refuses_a_configuration_others_can_write") {
        return;
    }
    let cases: [(&str, &str); 4] = [
        ("file-0666", "writable by group or others (mode 666)"),
        ("file-0664", "writable by group or others (mode 664)"),
        ("file-of-nobody", "owned by uid 65534"),
        (
            "dir-0777",
            "directory writable by group or others (mode 777)",
        ),
    ];
    for (case, why) in cases {
        let dir = scratch();
        let config = DaemonConfig::default().write(dir.path());
        match case {
            "file-0666" => set_mode(&config, 0o666),
            "file-0664" => set_mode(&config, 0o664),
            "file-of-nobody" => {
                std::os::unix::fs::chown(&config, Some(NOBODY), Some(NOBODY)).unwrap()
            }
            _ => set_mode(dir.path(), 0o777),
        }
        let out = cli(&config, &["run", "--backend", "none"]);
        assert_eq!(out.status.code(), Some(2), "{case}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!(
                "{}: refusing this configuration: ",
                config.display()
            )) && err.contains(why)
                && err.contains("chmod go-w"),
            "{case}: {err}"
        );
        assert!(
            !socket_of(dir.path()).exists(),
            "{case}: the daemon started"
        );
        // `config check` reads it and says the daemon would not.
        let out = cli(&config, &["config", "check"]);
        assert!(out.status.success(), "{case}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("warning: `autosa run` would refuse this file"),
            "{case}: {}",
            text(&out.stderr)
        );
    }
    // The control: the same file, 0644 and root's, starts the daemon.
    let dir = scratch();
    let config = DaemonConfig::default().write(dir.path());
    let out = cli(&config, &["config", "check"]);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        text(&out.stderr)
    );
    let mut d = Daemon::start(&config, &["--backend", "none"]);
    // Made writable by others while it runs: a SIGHUP reload refuses it and
    // the running configuration stays.
    set_mode(&config, 0o666);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(d.pid() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let log = d.wait_log("SIGHUP: configuration rejected", DEADLINE);
    assert!(
        log.contains("refusing this configuration: writable by group or others (mode 666)"),
        "{log}"
    );
    d.assert_running();
    assert!(cli(&config, &["status"]).status.success());
}

/// `autosa mcp` is only a client of the socket: run by a user outside the
/// group it gets the daemon's refusal, and its switch changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autosa_mcp_run_by_a_user_outside_the_group_cannot_switch() {
    if !root("autosa_mcp_run_by_a_user_outside_the_group_cannot_switch") {
        return;
    }
    let d = tokio::task::spawn_blocking(|| socket_daemon("nogroup"))
        .await
        .unwrap();
    let (config, socket) = (&d.daemon.config, &d.socket);
    // Opened by mistake: the daemon's credential check is what refuses.
    set_mode(socket, 0o666);
    let mut command = tokio::process::Command::new(client_binary());
    command
        .arg("--config")
        .arg(config)
        .arg("mcp")
        .arg("--socket")
        .arg(socket)
        .env("AUTOSA_LOG", "warn")
        .uid(NOBODY)
        .gid(STRANGER_GID);
    let client = {
        use rmcp::ServiceExt as _;
        let transport = rmcp::transport::TokioChildProcess::new(command).unwrap();
        tokio::time::timeout(Duration::from_secs(20), ().serve(transport))
            .await
            .expect("handshake within 20 s")
            .expect("handshake")
    };
    for (tool, args) in [
        (
            "request_switch",
            json!({"name": "latency_sensitive", "for_secs": 600}),
        ),
        ("pause", json!({})),
        ("get_status", json!({})),
    ] {
        let got = mcp_call(&client, tool, args).await;
        match &got {
            Ok((true, text)) => assert!(
                text.contains("permission denied: uid 65534 is neither root nor in the group"),
                "{tool}: {text}"
            ),
            other => panic!("{tool}: {other:?}"),
        }
    }
    client.cancel().await.unwrap();
    let s = tokio::task::block_in_place(|| status(config));
    assert_eq!(s["paused"], false, "{s}");
    assert!(s["manual"].is_null(), "{s}");
    assert_eq!(
        tokio::task::block_in_place(|| manual_commands(config)),
        vec![]
    );
}

// ─── Rule 3: nothing from a request is executed ──────────────────────────

/// Names and requests an attacker with socket access could try. `{m}` is
/// replaced with the marker file's path.
const EVIL_NAMES: [&str; 16] = [
    "/bin/sh",
    "../../bin/sh",
    "scx_/../../bin/sh",
    "scx_bpfland; touch {m}",
    "scx_bpfland && touch {m}",
    "$(touch {m})",
    "`touch {m}`",
    "scx_bpfland\ntouch {m}",
    "scx_bpfland touch {m}",
    "scx_bpfland\u{0}",
    "scx_bpfland --exec={m}",
    "{m}",
    "scx_evil",
    "scx_nope",
    "",
    "scx_bpflandscx_bpflandscx_bpflandscx_bpflandscx_bpflandscx_bpfland",
];

fn evil_requests(marker: &Path) -> Vec<String> {
    let m = marker.display().to_string();
    let mut lines: Vec<String> = EVIL_NAMES
        .iter()
        .map(|n| json!({"cmd": "switch", "name": n.replace("{m}", &m)}).to_string())
        .collect();
    lines.extend(
        [
            json!({"cmd": "switch", "name": "scx_bpfland", "args": ["--evil", m]}),
            json!({"cmd": "switch", "name": "scx_bpfland", "command": format!("touch {m}")}),
            json!({"cmd": "switch", "name": "scx_bpfland", "path": m}),
            json!({"cmd": "switch", "name": ["scx_bpfland", "touch", m]}),
            json!({"cmd": "switch", "name": "scx_bpfland", "for_secs": format!("1; touch {m}")}),
            json!({"cmd": "exec", "command": format!("touch {m}")}),
            json!({"cmd": "run", "argv": ["/bin/sh", "-c", format!("touch {m}")]}),
            json!({"cmd": "pause", "for_secs": format!("$(touch {m})")}),
        ]
        .iter()
        .map(Value::to_string),
    );
    lines
}

/// A daemon on the scx backend whose search directory holds recording
/// fakes of every catalogue scheduler plus `scx_evil` (trusted, valid name,
/// not in the catalogue), with plans that never start one by themselves.
struct ScxDaemon {
    fakes: RecordingScx,
    dir: tempfile::TempDir,
    config: PathBuf,
    daemon: Daemon,
}

impl ScxDaemon {
    fn start() -> ScxDaemon {
        let fakes = RecordingScx::new();
        let dir = scratch();
        let extra = fakes.config(&fakes.trusted);
        let config = DaemonConfig {
            extra: &extra,
            ..DaemonConfig::default()
        }
        .write(dir.path());
        let daemon = Daemon::start(&config, &["--backend", "scx"]);
        let offers = json(&config, &["schedulers", "--json"]);
        let offered: Vec<&str> = offers[0]["offers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        assert_eq!(offered, catalogue(), "{offers}");
        ScxDaemon {
            fakes,
            dir,
            config,
            daemon,
        }
    }

    fn socket(&self) -> PathBuf {
        socket_of(self.dir.path())
    }

    /// The one allowed run: the canonical trusted path, and only the
    /// arguments the configuration gives (none here).
    fn allowed_run(&self, name: &str) -> String {
        format!(
            "{} ",
            std::fs::canonicalize(self.fakes.trusted.join(name))
                .unwrap()
                .display()
        )
    }

    fn wait_for_run(&self) -> Vec<String> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let runs = self.fakes.runs();
            if !runs.is_empty() {
                return runs;
            }
            assert!(Instant::now() < deadline, "{}", self.daemon.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Over the control socket (as root, who may switch): shell syntax, paths,
/// traversal, control characters, names outside the catalogue, extra JSON
/// fields and unknown commands are each refused, and nothing runs: no
/// marker file, no recorded scheduler run. Then a plain catalogue name runs
/// exactly that scheduler, once, from the trusted directory.
#[test]
fn no_switch_request_on_the_socket_runs_a_command() {
    if !root("no_switch_request_on_the_socket_runs_a_command") {
        return;
    }
    let d = ScxDaemon::start();
    let marker = d.dir.path().join("pwned");
    // An executable that would make the marker, at the path some requests name.
    script(
        &marker.with_extension("sh"),
        &format!("touch {}", marker.display()),
        0o755,
    );
    let lines = evil_requests(&marker);
    for line in &lines {
        let answer = ask(&d.socket(), line);
        assert_eq!(answer["type"], "error", "{line}: {answer}");
        let message = answer["data"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("unknown name `") || message.starts_with("unreadable request"),
            "{line}: {message}"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(!marker.exists(), "a request ran a command");
    assert_eq!(
        d.fakes.runs(),
        Vec::<String>::new(),
        "a request ran a scheduler"
    );
    let s = status(&d.config);
    assert_eq!(s["scheduler"], "eevdf", "{s}");
    assert!(s["manual"].is_null(), "{s}");

    // The control: a catalogue name runs that scheduler, as configured.
    let answer = ask(&d.socket(), r#"{"cmd":"switch","name":"scx_bpfland"}"#);
    assert_eq!(answer["type"], "accepted", "{answer}");
    let runs = d.wait_for_run();
    assert_eq!(runs, vec![d.allowed_run("scx_bpfland")], "{runs:?}");
    assert!(!marker.exists());
}

type McpClient = rmcp::service::RunningService<rmcp::RoleClient, ()>;

async fn mcp_connect(socket: &Path, config: &Path) -> McpClient {
    use rmcp::ServiceExt as _;
    let mut command = tokio::process::Command::new(BIN);
    command
        .arg("--config")
        .arg(config)
        .arg("mcp")
        .arg("--socket")
        .arg(socket)
        .env("AUTOSA_LOG", "warn");
    let transport = rmcp::transport::TokioChildProcess::new(command).unwrap();
    tokio::time::timeout(Duration::from_secs(20), ().serve(transport))
        .await
        .expect("handshake within 20 s")
        .expect("handshake")
}

/// A tool call's outcome: `Ok(is_error, text)` or the protocol error.
async fn mcp_call(client: &McpClient, tool: &str, args: Value) -> Result<(bool, String), String> {
    let params = rmcp::model::CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap());
    match tokio::time::timeout(Duration::from_secs(30), client.call_tool(params))
        .await
        .expect("an answer within 30 s")
    {
        Ok(r) => Ok((
            r.is_error == Some(true),
            r.content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                .collect::<Vec<_>>()
                .join("\n"),
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Through `autosa mcp` (what an LLM agent talks to): no tool takes a
/// command, path or argument list; `request_switch` with every evil name,
/// with smuggled fields, and tools that do not exist are refused; nothing
/// runs. Then `request_switch scx_bpfland` runs exactly that scheduler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_mcp_tool_call_runs_a_command() {
    if !root("no_mcp_tool_call_runs_a_command") {
        return;
    }
    let d = tokio::task::spawn_blocking(ScxDaemon::start).await.unwrap();
    let marker = d.dir.path().join("pwned");
    let m = marker.display().to_string();
    let client = mcp_connect(&d.socket(), &d.config).await;

    // The whole input surface: these argument names and nothing else.
    let allowed: BTreeSet<&str> = [
        "name",
        "for_secs",
        "top",
        "duration_secs",
        "since_secs",
        "limit",
    ]
    .into();
    for tool in client.list_all_tools().await.unwrap() {
        let props = tool.input_schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (key, schema) in &props {
            assert!(allowed.contains(key.as_str()), "{}: {key}", tool.name);
            assert_ne!(schema["type"], "array", "{}: {key}", tool.name);
        }
    }

    for name in EVIL_NAMES {
        let name = name.replace("{m}", &m);
        let got = mcp_call(&client, "request_switch", json!({ "name": name })).await;
        assert!(matches!(got, Ok((true, _)) | Err(_)), "{name:?}: {got:?}");
    }
    let smuggled = [
        json!({"name": "scx_bpfland", "args": ["--evil", m]}),
        json!({"name": "scx_bpfland", "command": format!("touch {m}")}),
        json!({"name": "scx_bpfland", "for_secs": format!("1; touch {m}")}),
        json!({"name": ["scx_bpfland", "touch", m]}),
    ];
    for args in smuggled {
        let got = mcp_call(&client, "request_switch", args.clone()).await;
        assert!(matches!(got, Ok((true, _)) | Err(_)), "{args}: {got:?}");
    }
    for tool in ["exec", "run_command", "shell"] {
        let got = mcp_call(&client, tool, json!({"command": format!("touch {m}")})).await;
        assert!(matches!(got, Ok((true, _)) | Err(_)), "{tool}: {got:?}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!marker.exists(), "an MCP call ran a command");
    assert_eq!(
        d.fakes.runs(),
        Vec::<String>::new(),
        "an MCP call ran a scheduler"
    );

    // The control.
    let got = mcp_call(&client, "request_switch", json!({"name": "scx_bpfland"})).await;
    assert!(matches!(got, Ok((false, _))), "{got:?}");
    let runs = tokio::task::block_in_place(|| d.wait_for_run());
    assert_eq!(runs, vec![d.allowed_run("scx_bpfland")], "{runs:?}");
    assert!(!marker.exists());
    client.cancel().await.unwrap();
    tokio::task::block_in_place(move || drop(d));
}

// ─── Rule 4: the eevdf backend's scope ───────────────────────────────────

/// Puts every thread of the given processes back to what it was, also when
/// the test fails; a test that passes leaves nothing for it to do.
struct SchedGuard(Vec<(u32, TaskAttr)>);

impl SchedGuard {
    fn of(pids: &[u32]) -> SchedGuard {
        SchedGuard(
            pids.iter()
                .flat_map(|&pid| threads(pid))
                .filter_map(|tid| Some((tid, Syscalls.get(tid).ok()?)))
                .collect(),
        )
    }
}

impl Drop for SchedGuard {
    fn drop(&mut self) {
        for (tid, attr) in &self.0 {
            if Syscalls.get(*tid).is_ok_and(|now| now != *attr) {
                let _ = Syscalls.set(*tid, attr);
            }
        }
    }
}

fn snapshot(pids: &[u32]) -> Vec<(u32, Vec<(u32, Sched)>)> {
    pids.iter().map(|&p| (p, process_sched(p))).collect()
}

/// Every thread seen in both snapshots kept its scheduling (threads come
/// and go in the test process itself); each process's main thread is in
/// both.
fn assert_unchanged(before: &[(u32, Vec<(u32, Sched)>)], after: &[(u32, Vec<(u32, Sched)>)]) {
    assert_eq!(before.len(), after.len());
    for ((pid, was), (_, now)) in before.iter().zip(after) {
        assert!(
            now.iter().any(|(tid, _)| tid == pid),
            "{pid} has no main thread now"
        );
        for (tid, s) in was {
            if let Some((_, n)) = now.iter().find(|(t, _)| t == tid) {
                assert_eq!(n, s, "thread {tid} of {pid} changed");
            }
        }
    }
}

fn hog_plan(tgids: Vec<u32>) -> Plan {
    Plan {
        class: WorkloadClass::CpuBound,
        scx: None,
        eevdf: EevdfPlan {
            hogs: HogTreatment::Nice(19),
            latency_slice_ns: None,
            hog_tgids: tgids,
            latency_tgids: vec![],
            global_knobs: vec![],
        },
    }
}

/// A kernel thread's pid: kthreadd (2) and one of its children.
fn kernel_threads() -> Vec<u32> {
    let mut found = vec![2];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        // Field 4 (ppid) is 2 for kernel threads.
        if pid > 2 && after.split_whitespace().nth(1) == Some("2") {
            found.push(pid);
            break;
        }
    }
    assert_eq!(found.len(), 2, "no kernel thread found");
    found
}

/// The hard rules: a plan naming pid 1, kernel threads and autosa itself
/// (here the test process, which hosts the backend) beside a real hog
/// changes only the hog; each of the others keeps every thread's policy,
/// nice and slice, is named in a note, and is never journaled.
#[test]
fn eevdf_never_touches_pid_1_kernel_threads_or_autosa_itself() {
    if !root("eevdf_never_touches_pid_1_kernel_threads_or_autosa_itself") {
        return;
    }
    let dir = scratch();
    let mut kids = Children::default();
    let hog = kids.add(spawn_as(
        Cred {
            uid: 0,
            gid: 0,
            groups: &[],
        },
        &hog_script(dir.path(), "sec4_hog"),
    ));
    wait_comm(hog, "sec4_hog");
    let me = std::process::id();
    let kthreads = kernel_threads();
    let protected: Vec<u32> = [1, me].into_iter().chain(kthreads.clone()).collect();
    let before = snapshot(&protected);
    let _guard = SchedGuard::of(&[&protected[..], &[hog]].concat());
    let hog_before = process_sched(hog);
    assert!(hog_before[0].1.nice < 19, "the hog starts below nice 19");

    let journal = dir.path().join("journal.json");
    let mut b = EevdfBackend::new(EevdfConfig::default(), &journal).unwrap();
    let applied = b
        .apply(&hog_plan([&protected[..], &[hog]].concat()))
        .unwrap();

    eprintln!("{applied:#?}");
    assert_unchanged(&before, &snapshot(&protected));
    assert!(process_sched(hog).iter().all(|(_, s)| s.nice == 19));
    let notes = applied.notes.join("\n");
    for (pid, why) in [(1, "is pid 1"), (me, "is autosa itself")]
        .into_iter()
        .chain(kthreads.iter().map(|&k| (k, "is a kernel thread")))
    {
        assert!(
            notes.contains(&format!("process {pid} left alone: it {why}")),
            "{pid}: {notes}"
        );
    }
    let journaled: BTreeSet<u32> = Journal::open(&journal)
        .unwrap()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Task { tgid, .. } => Some(*tgid),
            _ => None,
        })
        .collect();
    assert_eq!(journaled, [hog].into());
    b.restore().unwrap();
    assert_eq!(process_sched(hog), hog_before);
}

/// The configured scope, on real processes all named as hogs in one plan:
/// an excluded uid (same name as the in-scope hog), an excluded name, a name
/// outside `only_comms` are left alone; only the in-scope hog changes.
#[test]
fn eevdf_leaves_excluded_users_names_and_processes_outside_the_allow_list_alone() {
    if !root("eevdf_leaves_excluded_users_names_and_processes_outside_the_allow_list_alone") {
        return;
    }
    let dir = scratch();
    let root_cred = Cred {
        uid: 0,
        gid: 0,
        groups: &[],
    };
    let nobody = Cred {
        uid: NOBODY,
        gid: NOBODY,
        groups: &[],
    };
    let mut kids = Children::default();
    let in_scope = kids.add(spawn_as(root_cred, &hog_script(dir.path(), "sec4_in")));
    let other_uid = kids.add(spawn_as(nobody, &dir.path().join("sec4_in")));
    let excluded = kids.add(spawn_as(root_cred, &hog_script(dir.path(), "sec4_ex")));
    let outside = kids.add(spawn_as(root_cred, &hog_script(dir.path(), "sec4_out")));
    for (pid, name) in [
        (in_scope, "sec4_in"),
        (other_uid, "sec4_in"),
        (excluded, "sec4_ex"),
        (outside, "sec4_out"),
    ] {
        wait_comm(pid, name);
    }
    let left_alone = [other_uid, excluded, outside];
    let _guard = SchedGuard::of(&[in_scope, other_uid, excluded, outside]);
    let in_scope_before = process_sched(in_scope);
    assert!(
        in_scope_before[0].1.nice < 19,
        "the hog starts below nice 19"
    );
    let before = snapshot(&left_alone);
    let config = EevdfConfig {
        exclude_uids: vec![NOBODY],
        exclude_comms: vec!["sec4_ex".into()],
        only_comms: vec!["sec4_in".into(), "sec4_ex".into()],
        ..EevdfConfig::default()
    };
    let journal = dir.path().join("journal.json");
    let mut b = EevdfBackend::new(config, &journal).unwrap();
    let applied = b
        .apply(&hog_plan(vec![in_scope, other_uid, excluded, outside]))
        .unwrap();
    assert_eq!(snapshot(&left_alone), before, "{applied:#?}");
    assert!(process_sched(in_scope).iter().all(|(_, s)| s.nice == 19));
    let notes = applied.notes.join("\n");
    for (pid, why) in [
        (other_uid, "belongs to excluded uid 65534"),
        (excluded, "is named sec4_ex, which is excluded"),
        (outside, "is not in the allow-list"),
    ] {
        assert!(
            notes.contains(&format!("process {pid} left alone: it {why}")),
            "{pid}: {notes}"
        );
    }
    b.restore().unwrap();
    assert_eq!(process_sched(in_scope), in_scope_before);

    // Cgroups: the hog's own cgroup excluded, or an allow-list of cgroups
    // it is not in. (Every process here shares the test's cgroup, so each
    // rule gets a backend of its own.)
    let cgroup = std::fs::read_to_string(format!("/proc/{in_scope}/cgroup")).unwrap();
    let cgroup = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup v2 path")
        .to_owned();
    let before = snapshot(&[in_scope]);
    for (config, why) in [
        (
            EevdfConfig {
                exclude_cgroups: vec![cgroup.clone()],
                ..EevdfConfig::default()
            },
            format!("is in excluded cgroup {cgroup}"),
        ),
        (
            EevdfConfig {
                only_cgroups: vec!["/autosa-security-test-none.slice".into()],
                ..EevdfConfig::default()
            },
            "is not in the allow-list".to_owned(),
        ),
    ] {
        let mut b = EevdfBackend::new(config, &journal).unwrap();
        let applied = b.apply(&hog_plan(vec![in_scope])).unwrap();
        assert_eq!(snapshot(&[in_scope]), before, "{applied:#?}");
        assert!(
            applied
                .notes
                .contains(&format!("process {in_scope} left alone: it {why}")),
            "{applied:#?}"
        );
        assert!(applied.changes.is_empty());
    }
}

// ─── Rule 5: capabilities ────────────────────────────────────────────────

const UNIT: &str = include_str!("../../contrib/autosa.service");

/// `Key=` values of the unit's [Service] section, words split.
fn unit_words(key: &str) -> Vec<String> {
    UNIT.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .flat_map(|v| v.split_whitespace())
        .map(str::to_owned)
        .collect()
}

/// The capabilities the tests below prove necessary and sufficient.
const NEEDED: [&str; 3] = ["CAP_BPF", "CAP_PERFMON", "CAP_SYS_NICE"];

#[test]
fn the_unit_grants_exactly_bpf_perfmon_and_sys_nice_to_root_and_nothing_ambient() {
    let bounding: BTreeSet<String> = unit_words("CapabilityBoundingSet").into_iter().collect();
    assert_eq!(bounding, NEEDED.iter().map(|c| c.to_string()).collect());
    assert_eq!(unit_words("AmbientCapabilities"), Vec::<String>::new());
    assert!(
        UNIT.contains("\nAmbientCapabilities=\n"),
        "ambient set stated empty"
    );
    assert_eq!(unit_words("NoNewPrivileges"), ["yes"]);
    assert_eq!(unit_words("User"), Vec::<String>::new(), "runs as root");
}

/// `-all,+bpf,…` for setpriv, from `CAP_*` names.
fn setpriv_caps(caps: &[&str]) -> String {
    let mut s = String::from("-all");
    for c in caps {
        s.push_str(",+");
        s.push_str(&c.trim_start_matches("CAP_").to_lowercase());
    }
    s
}

/// The real daemon under `setpriv` with bounding set `caps` (root, nothing
/// inheritable or ambient), eBPF on, acting only on processes named `comm`.
struct CappedDaemon {
    dir: tempfile::TempDir,
    config: PathBuf,
    daemon: Daemon,
    kids: Children,
    root_hog: u32,
    nobody_hog: u32,
}

impl CappedDaemon {
    fn start(test: &str, caps: &[&str], comm: &str, exclude_nobody: bool) -> Option<CappedDaemon> {
        let setpriv_ok = std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !prereq::run_or_skip(test, (!setpriv_ok).then_some("setpriv (util-linux)")) {
            return None;
        }
        let dir = scratch();
        let hog = hog_script(dir.path(), comm);
        let mut kids = Children::default();
        let root_hog = kids.add(spawn_as(
            Cred {
                uid: 0,
                gid: 0,
                groups: &[],
            },
            &hog,
        ));
        let nobody_hog = kids.add(spawn_as(
            Cred {
                uid: NOBODY,
                gid: NOBODY,
                groups: &[],
            },
            &hog,
        ));
        wait_comm(root_hog, comm);
        wait_comm(nobody_hog, comm);
        let extra = format!(
            "[eevdf]\nonly_comms = [\"{comm}\"]\n{}\
             [policy.smoothing]\nwindow = 3\nhold_intervals = 2\n\
             [policy.plans.cpu_bound]\nhogs = {{ kind = \"nice\", value = 19 }}\n",
            if exclude_nobody {
                "exclude_uids = [65534]\n"
            } else {
                ""
            }
        );
        let config = DaemonConfig {
            collect: "top_tasks = 64\nblock_latency = false\n",
            extra: &extra,
            ..DaemonConfig::default()
        }
        .write(dir.path());
        let bounding = format!("--bounding-set={}", setpriv_caps(caps));
        let daemon = Daemon::spawn(
            &config,
            &["setpriv", "--inh-caps=-all", &bounding],
            &["--backend", "eevdf"],
        );
        Some(CappedDaemon {
            dir,
            config,
            daemon,
            kids,
            root_hog,
            nobody_hog,
        })
    }

    /// Asks for the cpu_bound plan (hogs at nice 19) until the daemon's
    /// classification names the hogs and `done` holds.
    fn switch_until(&mut self, what: &str, done: impl Fn(&CappedDaemon) -> bool) {
        let out = cli(&self.config, &["switch", "cpu_bound"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let deadline = Instant::now() + DEADLINE;
        while !done(self) {
            self.daemon.assert_running();
            assert!(
                Instant::now() < deadline,
                "{what} did not happen within {DEADLINE:?}; root hog {:?}, nobody's hog {:?}:\n{}",
                process_sched(self.root_hog),
                process_sched(self.nobody_hog),
                self.daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn nice_of(pid: u32) -> Vec<i64> {
    process_sched(pid)
        .into_iter()
        .map(|(_, s)| s.nice)
        .collect()
}

fn bpf_prereq(test: &str) -> bool {
    root(test)
        && prereq::run_or_skip(
            test,
            (!Path::new("/sys/kernel/btf/vmlinux").exists()).then_some("BTF (eBPF)"),
        )
}

/// Exactly the unit's set is enough: the eBPF probes load, the in-scope hog
/// is reniced and put back on SIGTERM (lowering a nice value needs
/// CAP_SYS_NICE), and the excluded user's hog is never touched.
#[test]
fn with_the_units_capabilities_probes_load_and_hogs_are_reniced_and_restored() {
    let test = "with_the_units_capabilities_probes_load_and_hogs_are_reniced_and_restored";
    if !bpf_prereq(test) {
        return;
    }
    let caps: Vec<&str> = unit_words("CapabilityBoundingSet")
        .iter()
        .map(|c| NEEDED.iter().find(|n| *n == c).copied().unwrap())
        .collect();
    let Some(mut c) = CappedDaemon::start(test, &caps, "sec5_full", true) else {
        return;
    };
    let _guard = SchedGuard::of(&[c.root_hog, c.nobody_hog]);
    let log = c.daemon.wait_log("autosa running", Duration::from_secs(60));
    assert!(log.contains("ebpf=true"), "{log}");
    let nobody_before = process_sched(c.nobody_hog);
    let root_before = process_sched(c.root_hog);
    assert!(root_before[0].1.nice < 19, "the hog starts below nice 19");
    c.switch_until("renicing the root hog", |c| {
        nice_of(c.root_hog).iter().all(|&n| n == 19)
    });
    assert_eq!(process_sched(c.nobody_hog), nobody_before);
    c.daemon.stop();
    assert_eq!(
        process_sched(c.root_hog),
        root_before,
        "restored on SIGTERM"
    );
    assert_eq!(process_sched(c.nobody_hog), nobody_before);
    let log = c.daemon.log_text();
    assert!(!log.contains("CAP_SYS_NICE"), "{log}");
    drop(c.kids);
    drop(c.dir);
}

/// Without CAP_SYS_NICE the eBPF probes still load, but no process can be
/// changed: measured, `sched_setattr` fails with EPERM for the root-owned
/// hog as for another user's, nothing changes, and the log says which
/// capability is missing and where to give it.
#[test]
fn without_cap_sys_nice_no_process_can_be_changed_and_the_log_says_why() {
    let test = "without_cap_sys_nice_no_process_can_be_changed_and_the_log_says_why";
    if !bpf_prereq(test) {
        return;
    }
    let Some(mut c) = CappedDaemon::start(test, &["CAP_BPF", "CAP_PERFMON"], "sec5_nonice", false)
    else {
        return;
    };
    let _guard = SchedGuard::of(&[c.root_hog, c.nobody_hog]);
    let log = c.daemon.wait_log("autosa running", Duration::from_secs(60));
    assert!(
        log.contains("ebpf=true"),
        "CAP_SYS_NICE is not needed for eBPF: {log}"
    );
    let before = snapshot(&[c.root_hog, c.nobody_hog]);
    c.switch_until("both hogs tried", |c| {
        let log = c.daemon.log_text();
        [c.root_hog, c.nobody_hog].iter().all(|pid| {
            log.contains(&format!(
                "of {pid} (sec5_nonice): cannot set SCHED_OTHER nice 19 default slice: \
                 Operation not permitted (os error 1): changing the scheduling of other \
                 processes needs CAP_SYS_NICE (run autosa as root with CAP_SYS_NICE in its \
                 capability bounding set"
            ))
        })
    });
    assert_eq!(snapshot(&[c.root_hog, c.nobody_hog]), before);
    c.daemon.stop();
    assert_eq!(snapshot(&[c.root_hog, c.nobody_hog]), before);
}

/// Without CAP_BPF, or without CAP_PERFMON, the probes do not load: the
/// daemon says so, runs on procfs alone and keeps answering.
#[test]
fn without_cap_bpf_or_cap_perfmon_the_daemon_runs_on_procfs_and_says_so() {
    let test = "without_cap_bpf_or_cap_perfmon_the_daemon_runs_on_procfs_and_says_so";
    if !bpf_prereq(test) {
        return;
    }
    for caps in [["CAP_PERFMON", "CAP_SYS_NICE"], ["CAP_BPF", "CAP_SYS_NICE"]] {
        let Some(mut c) = CappedDaemon::start(test, &caps, "sec5_nobpf", true) else {
            return;
        };
        let log = c.daemon.wait_log("autosa running", Duration::from_secs(60));
        assert!(log.contains("ebpf=false"), "{caps:?}: {log}");
        assert!(
            log.contains("not allowed to load eBPF programs")
                && log.contains("CAP_BPF and CAP_PERFMON")
                && log.contains("running on procfs alone"),
            "{caps:?}: {log}"
        );
        let s = status(&c.config);
        assert_eq!(s["backend"], "eevdf", "{caps:?}: {s}");
    }
}
