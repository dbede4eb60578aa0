//! The real daemon (`autosa run --backend none`) under a fake systemd: a Unix
//! datagram socket as `NOTIFY_SOCKET`. It must say READY=1 after its first
//! interval, ping the watchdog at half of `WATCHDOG_USEC`, answer SIGHUP with
//! RELOADING=1 (with MONOTONIC_USEC) then READY=1 — applying a valid new
//! config and logging what changed, rejecting a broken one with file:line:col
//! and running on — and say STOPPING=1 on SIGTERM before it exits with 0.
//!
//! Runs unprivileged too: `--backend none` changes nothing and eBPF is off
//! (this test is about the service protocol; loading eBPF beside other tests
//! on 2 CPUs only makes it slow).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const DEADLINE: Duration = Duration::from_secs(30);

/// Kills the daemon if the test fails half-way.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Daemon {
    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.0.id() as i32), sig).unwrap();
    }
}

/// The fake systemd end: every datagram, as text, on a channel.
fn listen(path: &Path) -> mpsc::Receiver<String> {
    let sock = UnixDatagram::bind(path).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = sock.recv(&mut buf) {
            if tx
                .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                .is_err()
            {
                break;
            }
        }
    });
    rx
}

/// Waits for a message with `line` as one of its lines; returns it and
/// everything seen before it.
fn wait_for(rx: &mpsc::Receiver<String>, line: &str, seen: &mut Vec<String>) -> String {
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(msg) => {
                seen.push(msg.clone());
                if msg.lines().any(|l| l == line) {
                    return msg;
                }
            }
            Err(_) => panic!("no {line} within {DEADLINE:?}; got {seen:#?}"),
        }
    }
}

fn config(dir: &Path, interval: &str, extra: &str) -> String {
    format!(
        "[daemon]\nstate_dir = \"{}\"\n[control]\nsocket = \"{}\"\n[collect]\ninterval = \"{interval}\"\nbpf = false\n{extra}",
        dir.join("state").display(),
        dir.join("autosa.sock").display()
    )
}

fn start(dir: &Path, config_path: &Path, stderr: &Path, watchdog_usec: u64) -> Daemon {
    let child = Command::new(env!("CARGO_BIN_EXE_autosa"))
        .arg("--config")
        .arg(config_path)
        .args(["run", "--backend", "none"])
        .env("NOTIFY_SOCKET", dir.join("notify.sock"))
        .env("WATCHDOG_USEC", watchdog_usec.to_string())
        .env_remove("WATCHDOG_PID")
        .env("AUTOSA_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap();
    Daemon(child)
}

fn wait_exit(d: &mut Daemon) -> std::process::ExitStatus {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = d.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < end, "the daemon did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls the daemon's log until it holds `needle`.
fn log_contains(path: &PathBuf, needle: &str) -> String {
    let end = Instant::now() + DEADLINE;
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(needle) {
            return log;
        }
        assert!(Instant::now() < end, "log lacks {needle:?}:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ready_watchdog_reload_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("autosa.toml");
    let log = dir.path().join("stderr.log");
    std::fs::write(&cfg, config(dir.path(), "200ms", "")).unwrap();
    let rx = listen(&dir.path().join("notify.sock"));
    // 400 ms: a ping every 200 ms.
    let mut d = start(dir.path(), &cfg, &log, 400_000);
    let mut seen = Vec::new();

    let ready = wait_for(&rx, "READY=1", &mut seen);
    assert!(
        ready.lines().any(|l| l.starts_with("STATUS=backend ")),
        "READY carries a status line: {ready:?}"
    );
    let before = seen.len();
    wait_for(&rx, "WATCHDOG=1", &mut seen);
    wait_for(&rx, "WATCHDOG=1", &mut seen);
    assert!(seen.len() > before);

    // A valid change: applied live, logged key by key; backend needs a restart.
    std::fs::write(
        &cfg,
        config(dir.path(), "300ms", "[switching]\nhold_intervals = 4\n")
            .replace("[daemon]\n", "[daemon]\nbackend = \"eevdf\"\n"),
    )
    .unwrap();
    d.signal(Signal::SIGHUP);
    let reloading = wait_for(&rx, "RELOADING=1", &mut seen);
    let usec = reloading
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("RELOADING=1 without MONOTONIC_USEC: {reloading:?}"));
    assert!(usec.parse::<u64>().unwrap() > 0);
    wait_for(&rx, "READY=1", &mut seen);
    let text = log_contains(&log, "configuration reloaded");
    assert!(
        text.contains(r#"collect.interval: "200ms" → "300ms""#),
        "{text}"
    );
    assert!(text.contains("switching.hold_intervals: 3 → 4"), "{text}");
    assert!(
        text.contains(r#"daemon.backend: "auto" → "eevdf" needs a restart"#),
        "{text}"
    );

    // A broken file: rejected with file:line:col, the daemon runs on.
    std::fs::write(&cfg, "[collect]\ninterval = \"300ms\"\nintervall = 1\n").unwrap();
    d.signal(Signal::SIGHUP);
    wait_for(&rx, "RELOADING=1", &mut seen);
    wait_for(&rx, "READY=1", &mut seen);
    let text = log_contains(&log, "configuration rejected");
    assert!(
        text.contains(&format!("{}:3:1:", cfg.display())),
        "the rejection names file:line:col:\n{text}"
    );
    assert!(d.0.try_wait().unwrap().is_none(), "still running");
    wait_for(&rx, "WATCHDOG=1", &mut seen);

    d.signal(Signal::SIGTERM);
    wait_for(&rx, "STOPPING=1", &mut seen);
    let status = wait_exit(&mut d);
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
}

#[test]
fn without_a_watchdog_there_are_no_pings() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("autosa.toml");
    let log = dir.path().join("stderr.log");
    std::fs::write(&cfg, config(dir.path(), "100ms", "")).unwrap();
    let rx = listen(&dir.path().join("notify.sock"));
    let mut d = start(dir.path(), &cfg, &log, 0);
    let mut seen = Vec::new();
    wait_for(&rx, "READY=1", &mut seen);
    // Ten intervals: any ping would have come by now.
    std::thread::sleep(Duration::from_secs(1));
    d.signal(Signal::SIGINT);
    wait_for(&rx, "STOPPING=1", &mut seen);
    assert_eq!(wait_exit(&mut d).code(), Some(0));
    assert!(
        !seen.iter().any(|m| m.lines().any(|l| l == "WATCHDOG=1")),
        "{seen:#?}"
    );
}

/// Messages that arrive within `window`, with their arrival times.
fn collect_for(rx: &mpsc::Receiver<String>, window: Duration) -> Vec<(Instant, String)> {
    let end = Instant::now() + window;
    let mut out = Vec::new();
    while let Ok(m) = rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
        out.push((Instant::now(), m));
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A collector stuck on a read (here: /proc/stat replaced by a FIFO nobody
/// writes) starves the loop of intervals: the pings stop, so systemd would
/// kill and restart the daemon. Once reads work again, the pings come back.
#[test]
fn a_stuck_collector_stops_the_watchdog_pings() {
    let dir = tempfile::tempdir().unwrap();
    let proc_root = dir.path().join("proc");
    copy_dir(
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/proc/host-6.18"
        )),
        &proc_root,
    );
    let cfg = dir.path().join("autosa.toml");
    let log = dir.path().join("stderr.log");
    std::fs::write(
        &cfg,
        config(
            dir.path(),
            "200ms",
            &format!("proc_root = \"{}\"\n", proc_root.display()),
        ),
    )
    .unwrap();
    let rx = listen(&dir.path().join("notify.sock"));
    let mut d = start(dir.path(), &cfg, &log, 400_000);
    let mut seen = Vec::new();
    wait_for(&rx, "READY=1", &mut seen);
    wait_for(&rx, "WATCHDOG=1", &mut seen);

    let stat = proc_root.join("stat");
    let saved = dir.path().join("stat.saved");
    std::fs::rename(&stat, &saved).unwrap();
    nix::unistd::mkfifo(&stat, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let stuck_at = Instant::now();
    // Healthy for 5 s after the last interval (the minimum grace), then silent.
    let msgs = collect_for(&rx, Duration::from_secs(8));
    let pings: Vec<Duration> = msgs
        .iter()
        .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
        .map(|(t, _)| t.duration_since(stuck_at))
        .collect();
    assert!(
        pings.iter().any(|t| *t < Duration::from_secs(4)),
        "pings go on during the grace: {pings:?}"
    );
    assert!(
        pings.iter().all(|t| *t < Duration::from_secs(6)),
        "no pings once the loop had no interval for 5 s: {pings:?}"
    );

    // Unstick: the blocked reader gets the file's content, later reads a file.
    let text = std::fs::read(&saved).unwrap();
    let mut w = std::fs::OpenOptions::new().write(true).open(&stat).unwrap();
    std::fs::copy(&saved, dir.path().join("stat.new")).unwrap();
    std::fs::rename(dir.path().join("stat.new"), &stat).unwrap();
    std::io::Write::write_all(&mut w, &text).unwrap();
    drop(w);
    wait_for(&rx, "WATCHDOG=1", &mut seen);

    d.signal(Signal::SIGTERM);
    wait_for(&rx, "STOPPING=1", &mut seen);
    assert_eq!(
        wait_exit(&mut d).code(),
        Some(0),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
}
