//! The pieces `tests/security.rs` runs its cases with: a scratch directory
//! every user can reach, the real daemon with its own socket and state dir,
//! clients running as another user, and fake sched_ext schedulers that
//! record every time they are run.
#![allow(dead_code)] // not every helper is used by every test

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_autosa");
/// The fake scheduler script (see its header).
pub const FAKE_SCX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/fake-scx");
pub const DEADLINE: Duration = Duration::from_secs(30);

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A temp dir (mode 0755) every user can reach.
pub fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    dir
}

/// Writes an executable shell script.
pub fn script(path: &Path, body: &str, mode: u32) {
    // Written to a temp name and renamed: a file still open for writing in
    // this process while another thread forks cannot be executed (ETXTBSY).
    let tmp = path.with_extension("writing");
    std::fs::write(&tmp, format!("#!/bin/sh\n{body}\n")).unwrap();
    set_mode(&tmp, mode);
    std::fs::rename(&tmp, path).unwrap();
}

/// A daemon configuration in `dir`: its own state dir and socket, procfs
/// only (no eBPF) unless `collect` says otherwise, a 200 ms interval.
pub struct DaemonConfig<'a> {
    pub group: &'a str,
    /// Extra lines for `[collect]`.
    pub collect: &'a str,
    /// Further sections.
    pub extra: &'a str,
}

impl Default for DaemonConfig<'_> {
    fn default() -> Self {
        DaemonConfig {
            group: "",
            collect: "bpf = false\n",
            extra: "",
        }
    }
}

impl DaemonConfig<'_> {
    pub fn write(&self, dir: &Path) -> PathBuf {
        let d = dir.display();
        let text = format!(
            "[daemon]\nstate_dir = \"{d}/state\"\n\
             [collect]\ninterval = \"200ms\"\n{collect}\
             [control]\nsocket = \"{d}/run/autosa.sock\"\ngroup = \"{group}\"\n\
             {extra}",
            collect = self.collect,
            group = self.group,
            extra = self.extra,
        );
        let path = dir.join("autosa.toml");
        std::fs::write(&path, text).unwrap();
        set_mode(&path, 0o644);
        path
    }
}

pub fn socket_of(dir: &Path) -> PathBuf {
    dir.join("run/autosa.sock")
}

/// A running `autosa run`, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Daemon {
    child: Option<Child>,
    pub log: PathBuf,
    pub config: PathBuf,
}

impl Daemon {
    /// `autosa --config CONFIG run ARGS`, behind `wrapper` (e.g. setpriv
    /// and its options) when not empty.
    pub fn spawn(config: &Path, wrapper: &[&str], args: &[&str]) -> Daemon {
        let log = config.with_file_name("daemon.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg("--").arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        let child = cmd
            .arg("--config")
            .arg(config)
            .arg("run")
            .args(args)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("AUTOSA_SOCKET")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Daemon {
            child: Some(child),
            log,
            config: config.to_owned(),
        }
    }

    /// Spawned, and answering `status` on its socket.
    pub fn start(config: &Path, args: &[&str]) -> Daemon {
        let mut d = Daemon::spawn(config, &[], args);
        d.wait_ready();
        d
    }

    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.assert_running();
            if cli(&self.config, &["status", "--json"]).status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not answer within {DEADLINE:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the log holds `what` (the daemon still running).
    pub fn wait_log(&mut self, what: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let log = self.log_text();
            if log.contains(what) {
                return log;
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "no {what:?} in the log within {within:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
            panic!("autosa exited ({status}):\n{}", self.log_text());
        }
    }

    /// Waits for the daemon to exit by itself; its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "autosa still runs after {within:?}:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and wait for the exit (the daemon restores on the way out).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if super::child::terminate(&mut child, DEADLINE).is_none() {
            panic!("autosa did not stop on SIGTERM:\n{}", self.log_text());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            super::child::terminate(&mut child, Duration::from_secs(10));
        }
    }
}

/// `autosa --config CONFIG ARGS` as root (the socket comes from the config).
pub fn cli(config: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("AUTOSA_SOCKET")
        .output()
        .unwrap()
}

pub fn json(config: &Path, args: &[&str]) -> Value {
    let out = cli(config, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Who a client runs as.
#[derive(Debug, Clone, Copy)]
pub struct Cred {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (at most 4 used).
    pub groups: &'static [u32],
}

/// A copy of the binary `nobody` can execute (the target dir may sit under
/// a 0700 home), made once per test process.
pub fn client_binary() -> &'static Path {
    static COPY: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = COPY.get_or_init(|| {
        let dir = scratch();
        let path = dir.path().join("autosa-client");
        let tmp = dir.path().join("autosa-client.writing");
        std::fs::copy(BIN, &tmp).unwrap();
        set_mode(&tmp, 0o755);
        std::fs::rename(&tmp, &path).unwrap();
        (dir, path)
    });
    path
}

/// Runs `program ARGS` as `cred` (groups, gid, then uid, set in the child
/// before exec).
pub fn run_as(cred: Cred, program: &Path, args: &[&std::ffi::OsStr]) -> Output {
    retry_busy(program, || {
        let mut cmd = command_as(cred, program);
        cmd.args(args).env_remove("AUTOSA_SOCKET");
        cmd.output()
    })
}

/// `program` set up to run as `cred` (groups, then gid, then uid).
fn command_as(cred: Cred, program: &Path) -> Command {
    let mut cmd = Command::new(program);
    let groups: Vec<libc::gid_t> = cred.groups.to_vec();
    let (uid, gid) = (cred.uid, cred.gid);
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Runs `start` again while the program is busy: another thread forking while
/// the test's copy of it was open for writing (ETXTBSY).
fn retry_busy<T>(program: &Path, mut start: impl FnMut() -> std::io::Result<T>) -> T {
    for _ in 0..50 {
        match start() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => return other.unwrap(),
        }
    }
    panic!("{} stayed busy", program.display());
}

/// `autosa --socket SOCKET ARGS` as `cred`.
pub fn cli_as(cred: Cred, socket: &Path, args: &[&str]) -> Output {
    let mut all: Vec<&std::ffi::OsStr> = vec!["--socket".as_ref(), socket.as_os_str()];
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    run_as(cred, client_binary(), &all)
}

/// One request line on a fresh connection, the answer as JSON.
pub fn ask(socket: &Path, line: &str) -> Value {
    let stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    (&stream).write_all(line.as_bytes()).unwrap();
    (&stream).write_all(b"\n").unwrap();
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?} for {line}"))
}

/// The scheduler names autosa knows (its catalogue).
pub fn catalogue() -> Vec<&'static str> {
    autosa::policy::catalog::SCHEDULERS
        .iter()
        .map(|s| s.name)
        .collect()
}

/// Fake sched_ext schedulers that append `$0 $*` to `log` when run, then
/// play the scheduler and the kernel on a fake sysfs (see `fake-scx`).
pub struct RecordingScx {
    pub dir: tempfile::TempDir,
    /// Root-owned, 0755: every catalogue name, plus `scx_evil` (valid name,
    /// not in the catalogue).
    pub trusted: PathBuf,
    /// 0777: every catalogue name.
    pub world_writable: PathBuf,
    /// The fake `/sys`.
    pub sys: PathBuf,
    pub log: PathBuf,
}

impl RecordingScx {
    pub fn new() -> RecordingScx {
        let dir = scratch();
        let sys = dir.path().join("sys");
        std::fs::create_dir_all(sys.join("kernel/sched_ext")).unwrap();
        std::fs::write(sys.join("kernel/sched_ext/state"), "disabled\n").unwrap();
        let log = dir.path().join("invocations.log");
        let fake = std::fs::read_to_string(FAKE_SCX).unwrap();
        let body = fake
            .strip_prefix("#!/bin/sh\n")
            .unwrap()
            .replacen(
                "set -u\n",
                &format!("set -u\nprintf '%s\\n' \"$0 $*\" >> {}\n", log.display()),
                1,
            )
            .replacen("\nsys=\n", &format!("\nsys={}\n", sys.display()), 1);
        assert!(body.contains(&format!("sys={}", sys.display())));
        let trusted = dir.path().join("trusted");
        let world_writable = dir.path().join("world-writable");
        std::fs::create_dir(&trusted).unwrap();
        std::fs::create_dir(&world_writable).unwrap();
        set_mode(&trusted, 0o755);
        set_mode(&world_writable, 0o777);
        for name in catalogue().into_iter().chain(["scx_evil"]) {
            script(&trusted.join(name), &body, 0o755);
            script(&world_writable.join(name), &body, 0o755);
        }
        RecordingScx {
            dir,
            trusted,
            world_writable,
            sys,
            log,
        }
    }

    /// Every recorded run, one line each.
    pub fn runs(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// `[scx]` for a daemon that searches `dir` only, on this fake sysfs,
    /// and plans that never start a scheduler on their own (so every run
    /// recorded comes from a request).
    pub fn config(&self, dir: &Path) -> String {
        let mut s = format!(
            "[scx]\nsearch_dirs = [\"{}\"]\nsys_root = \"{}\"\nstart_timeout = \"10s\"\n",
            dir.display(),
            self.sys.display()
        );
        for class in [
            "idle",
            "cpu_bound",
            "latency_sensitive",
            "io_bound",
            "memory_bound",
            "mixed",
        ] {
            s.push_str(&format!("[policy.plans.{class}]\nscx = \"none\"\n"));
        }
        s
    }
}

impl Drop for RecordingScx {
    fn drop(&mut self) {
        // A fake still running (a failed test) is named after a catalogue
        // entry and runs from this dir: kill those, by pid.
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        let root = self.dir.path().to_string_lossy().into_owned();
        for p in procs.flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&root) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// Starts `program` as `cred`, its output discarded.
pub fn spawn_as(cred: Cred, program: &Path) -> Child {
    retry_busy(program, || {
        let mut cmd = command_as(cred, program);
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        cmd.spawn()
    })
}

/// Children killed and reaped on drop, also when a test fails.
#[derive(Default)]
pub struct Children(pub Vec<Child>);

impl Children {
    pub fn add(&mut self, child: Child) -> u32 {
        let pid = child.id();
        self.0.push(child);
        pid
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A CPU hog whose comm is `name` (a script of that name), in `dir`.
pub fn hog_script(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    script(&path, "while :; do :; done", 0o755);
    path
}

pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_owned())
}

/// Waits until `pid` shows `name` as its comm (after its exec).
pub fn wait_comm(pid: u32, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while comm(pid).as_deref() != Some(name) {
        assert!(
            Instant::now() < deadline,
            "{pid} is not {name}: {:?}",
            comm(pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every thread of `pid`.
pub fn threads(pid: u32) -> Vec<u32> {
    let mut tids: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    tids.sort_unstable();
    tids
}

/// One thread's scheduling as the kernel reports it: (nice, policy) from
/// `/proc/<pid>/task/<tid>/stat` fields 19 and 41, and the
/// `sched_getattr` attributes (policy, nice, EEVDF slice, flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sched {
    pub nice: i64,
    pub policy: u32,
    pub attr: String,
}

pub fn sched_of(pid: u32, tid: u32) -> Option<Sched> {
    use autosa::backend::eevdf::sched_attr::{Syscalls, TaskSched as _};
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    let rest: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    let attr = Syscalls.get(tid).ok()?;
    Some(Sched {
        nice: rest.get(19 - 3)?.parse().ok()?,
        policy: rest.get(41 - 3)?.parse().ok()?,
        attr: format!("{attr:?}"),
    })
}

/// Every thread of `pid` with its scheduling.
pub fn process_sched(pid: u32) -> Vec<(u32, Sched)> {
    threads(pid)
        .into_iter()
        .filter_map(|tid| Some((tid, sched_of(pid, tid)?)))
        .collect()
}
