//! Faults around the daemon, each injected in a private mount namespace
//! (`unshare -m`) or with a reduced capability set, so the host is untouched:
//!
//! - tracefs missing (`/sys/kernel` hidden): eBPF cannot load, the daemon
//!   runs on procfs alone, keeps running and says so;
//! - no CAP_BPF / CAP_PERFMON / CAP_SYS_ADMIN: the same;
//! - the state directory read-only, or full (a 64 KiB tmpfs filled up): the
//!   journal cannot be written, so the eevdf backend changes nothing, the
//!   failure is logged, nothing panics;
//! - the state directory cannot be created: a clear error at start.
//!
//! Needs root (namespaces, mounts, sched_setattr) and python3; under `CI` a
//! missing requirement fails the test instead of skipping it.

#[path = "support/chaos_kill.rs"]
#[allow(dead_code)]
mod chaos_kill;

#[path = "support/prereq.rs"]
mod prereq;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The load-based cases each fill the CPUs: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn requirements_met(test: &str, python: bool) -> bool {
    let has = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let missing = if !nix::unistd::geteuid().is_root() {
        Some("root (mount namespaces, sched_setattr)")
    } else if !has("unshare", "--version") || !has("setpriv", "--version") {
        Some("unshare and setpriv (util-linux)")
    } else if python && !has("python3", "--version") {
        Some("python3 (runs the test load)")
    } else {
        None
    };
    prereq::run_or_skip(test, missing)
}

/// A daemon started through a wrapper (`unshare … sh -c 'setup; exec autosa'`
/// or `setpriv …`), log in a file; killed on drop.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// `setup` runs in a shell inside a new mount namespace before autosa
    /// is exec'd in its place (same pid, so signals reach autosa).
    fn in_namespace(setup: &str, config: &Path, log: PathBuf, args: &[&str]) -> Daemon {
        let script = format!("set -e; {setup}; exec \"$0\" \"$@\"");
        let mut all = vec![
            "-m".to_owned(),
            "--propagation".into(),
            "private".into(),
            "sh".into(),
            "-c".into(),
            script,
        ];
        all.push(env!("CARGO_BIN_EXE_autosa").into());
        Self::spawn("unshare", &all, config, log, args)
    }

    fn spawn(wrapper: &str, pre: &[String], config: &Path, log: PathBuf, args: &[&str]) -> Daemon {
        let out = fs::File::create(&log).unwrap();
        let child = Command::new(wrapper)
            .args(pre)
            .arg("--config")
            .arg(config)
            .args(["--log", "autosa=info"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {wrapper}: {e}"));
        Daemon { child, log }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `what`; fails if autosa exits first.
    fn wait_for(&mut self, what: &str, within: Duration) {
        let t = Instant::now();
        while !self.log_text().contains(what) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "autosa exited ({status}) before logging {what:?}:\n{}",
                    self.log_text()
                );
            }
            assert!(
                t.elapsed() < within,
                "no {what:?} in the log within {within:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGTERM, then the exit status (killed after 20 s).
    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if t.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                panic!("autosa did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(dir: &Path, state_dir: &Path, only_comms: &[&str]) -> PathBuf {
    let path = dir.join("autosa.toml");
    let comms = only_comms
        .iter()
        .map(|c| format!("{c:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"[daemon]
state_dir = "{}"

[collect]
interval = "100ms"
top_tasks = 64

[policy.smoothing]
window = 2
hold_intervals = 1

[switching]
hold_intervals = 1
cooldown_secs = 1

[eevdf]
only_comms = [{comms}]

[control]
socket = "{}"
"#,
        state_dir.display(),
        dir.join("autosa.sock").display()
    );
    fs::write(&path, text).unwrap();
    path
}

fn no_panic(log: &str) {
    assert!(!log.contains("panicked"), "autosa panicked:\n{log}");
}

/// eBPF off for a reason outside autosa: it must say so, keep sampling
/// procfs, and stop cleanly.
fn degrades_to_procfs(mut daemon: Daemon) -> String {
    daemon.wait_for("autosa running", Duration::from_secs(30));
    let log = daemon.log_text();
    assert!(
        log.contains("eBPF unavailable") && log.contains("running on procfs alone"),
        "the log does not say eBPF is off and why:\n{log}"
    );
    assert!(log.contains("ebpf=false"), "{log}");
    // Keeps running: two more seconds of 100 ms intervals.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        daemon.running(),
        "autosa stopped without eBPF:\n{}",
        daemon.log_text()
    );
    let status = daemon.terminate();
    let log = daemon.log_text();
    assert!(status.success(), "exit {status}:\n{log}");
    no_panic(&log);
    eprintln!(
        "{}",
        log.lines()
            .find(|l| l.contains("eBPF unavailable"))
            .unwrap_or("")
    );
    log
}

#[test]
fn tracefs_missing_degrades_to_procfs_only() {
    if !requirements_met("tracefs_missing_degrades_to_procfs_only", false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &dir.path().join("state"), &["nothing-here"]);
    // An empty read-only /sys/kernel: no tracing, no debug, nowhere to mount tracefs.
    let daemon = Daemon::in_namespace(
        "mount -t tmpfs -o ro,size=4k none /sys/kernel",
        &cfg,
        dir.path().join("autosa.log"),
        &["run", "--backend", "eevdf"],
    );
    let log = degrades_to_procfs(daemon);
    assert!(log.contains("tracefs is not available"), "{log}");
}

#[test]
fn bpf_without_capabilities_degrades_to_procfs_only() {
    if !requirements_met("bpf_without_capabilities_degrades_to_procfs_only", false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &dir.path().join("state"), &["nothing-here"]);
    // Root without the capabilities bpf(2) and perf events need.
    let pre = [
        "--bounding-set=-bpf,-perfmon,-sys_admin".to_owned(),
        "--inh-caps=-bpf,-perfmon,-sys_admin".to_owned(),
        env!("CARGO_BIN_EXE_autosa").to_owned(),
    ];
    let daemon = Daemon::spawn(
        "setpriv",
        &pre,
        &cfg,
        dir.path().join("autosa.log"),
        &["run", "--backend", "eevdf"],
    );
    let log = degrades_to_procfs(daemon);
    // The reason is the capability, not the memlock limit.
    assert!(
        log.contains("not allowed to load eBPF programs") && log.contains("CAP_BPF"),
        "{log}"
    );
}

/// The state directory cannot take the journal: the eevdf backend must not
/// change anything (it cannot promise a restore), must say why, and must
/// not panic. Runs the real load so that autosa wants to act.
fn refuses_changes_it_cannot_journal(test: &str, setup: &str, tag: &str) {
    if !requirements_met(test, true) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/benefit_load.py");
    let load = chaos_kill::Load::start(&script, tag).unwrap();
    let before = load.state();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let cfg = config(
        dir.path(),
        &mnt.join("state"),
        &[&load.hog_comm, &load.sleeper_comm],
    );
    let setup = setup.replace("$MNT", &mnt.display().to_string());
    let mut daemon = Daemon::in_namespace(
        &setup,
        &cfg,
        dir.path().join("autosa.log"),
        &["run", "--backend", "eevdf"],
    );
    // Until autosa has tried to act (the journal write fails), nothing of
    // the load may change; checked every 20 ms.
    let t = Instant::now();
    loop {
        assert_eq!(
            load.state(),
            before,
            "autosa changed a process without a journal:\n{}",
            daemon.log_text()
        );
        let log = daemon.log_text();
        if log.contains("cannot write the journal") {
            break;
        }
        if !daemon.running() {
            // A clear error at start is the other acceptable outcome.
            assert!(
                log.contains("state") && log.contains("error"),
                "autosa exited without saying why:\n{log}"
            );
            no_panic(&log);
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "autosa never tried to act within 60 s:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A little longer: later intervals retry and still change nothing.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        assert_eq!(
            load.state(),
            before,
            "changed later:\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(daemon.running(), "{}", daemon.log_text());
    let status = daemon.terminate();
    let log = daemon.log_text();
    assert_eq!(load.state(), before);
    no_panic(&log);
    assert!(status.success(), "exit {status}:\n{log}");
    let line = log
        .lines()
        .find(|l| l.contains("cannot write the journal"))
        .unwrap();
    assert!(line.contains("changes nothing it cannot journal"), "{line}");
    eprintln!("{line}");
}

#[test]
fn read_only_state_directory_changes_nothing() {
    refuses_changes_it_cannot_journal(
        "read_only_state_directory_changes_nothing",
        "mount -t tmpfs -o size=64k none $MNT; mkdir $MNT/state; mount -o remount,ro $MNT",
        "ro",
    );
}

#[test]
fn full_state_directory_changes_nothing() {
    refuses_changes_it_cannot_journal(
        "full_state_directory_changes_nothing",
        "mount -t tmpfs -o size=64k none $MNT; mkdir $MNT/state; \
         dd if=/dev/zero of=$MNT/fill bs=4k 2>/dev/null || true",
        "fu",
    );
}

#[test]
fn state_directory_that_cannot_be_created_is_a_clear_error_at_start() {
    if !requirements_met(
        "state_directory_that_cannot_be_created_is_a_clear_error_at_start",
        false,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let cfg = config(dir.path(), &mnt.join("state"), &["nothing-here"]);
    let setup = format!("mount -t tmpfs -o ro,size=4k none {}", mnt.display());
    let mut daemon = Daemon::in_namespace(
        &setup,
        &cfg,
        dir.path().join("autosa.log"),
        &["run", "--backend", "eevdf"],
    );
    let t = Instant::now();
    while daemon.running() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = daemon.child.wait().unwrap();
    let log = daemon.log_text();
    assert!(!status.success(), "{log}");
    no_panic(&log);
    assert!(
        log.contains("autosa: error: creating the state directory")
            && log.contains("Read-only file system"),
        "{log}"
    );
    eprintln!("{}", log.trim());
}
