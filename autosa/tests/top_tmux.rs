//! `autosa top` end to end in a real terminal: tmux runs it on a private
//! server, `capture-pane` reads the screen, `send-keys` types. Checks that a
//! frame is drawn, that it updates, that q and SIGTERM leave the terminal
//! restored (no alternate screen, the shell's next line printed), and that
//! `--socket` draws what a daemon answers (a fake one in this test).
//!
//! tmux is required: without it these tests skip with a reason, unless `CI`
//! is set, where they fail. As root the standalone view must have loaded eBPF.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use autosa::control::protocol::{DaemonStatus, PROTOCOL_VERSION, TimedDecision};
use autosa::control::{Request, Response};
use autosa::model::Snapshot;
use autosa::model::snapshot::{CpuTimes, CpuView, SchedView, TaskView};
use autosa::policy::plan::WorkloadClass;
use autosa::switching::{Action, Decision, SwitchingStatus};

const BIN: &str = env!("CARGO_BIN_EXE_autosa");
/// The eBPF programs may take long to load on a busy 2-CPU machine.
const FIRST_FRAME: Duration = Duration::from_secs(180);

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is required in CI (apt install tmux)"
        );
        eprintln!("skipped: tmux is not installed");
    }
    ok
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A private tmux server with one 120×40 session; killed on drop, also
/// when the test fails.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `command` through `sh -c`, then reports its exit status and
    /// keeps the pane open so the restored screen can be read.
    fn start(name: &str, command: &str) -> Tmux {
        let t = Tmux {
            socket: format!("autosa-top-{name}-{}", std::process::id()),
        };
        let shell = format!("{command}; echo autosa-exited $?; sleep 600");
        let out = t.tmux(&[
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-s",
            "top",
            &shell,
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        t
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env("AUTOSA_LOG", "warn")
            .output()
            .expect("run tmux")
    }

    fn capture(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", "top"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `Some(true)` while the pane is on the alternate screen; `None` when
    /// the session is gone.
    fn alternate_on(&self) -> Option<bool> {
        let out = self.tmux(&["display", "-p", "-t", "top", "#{alternate_on}"]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim() == "1")
    }

    fn pane_pid(&self) -> u32 {
        let out = self.tmux(&["display", "-p", "-t", "top", "#{pane_pid}"]);
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    fn send_keys(&self, keys: &str) {
        assert!(
            self.tmux(&["send-keys", "-t", "top", keys])
                .status
                .success()
        );
    }

    /// Polls the screen until `ok` holds; panics with the last screen.
    fn wait_for(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if ok(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// After the program ended: the shell printed its status, the
    /// alternate screen is gone.
    fn assert_restored(&self) {
        let screen = self.wait_for("autosa to exit", Duration::from_secs(10), |s| {
            s.contains("autosa-exited")
        });
        assert!(screen.contains("autosa-exited 0"), "{screen}");
        assert!(
            !screen.contains("autosa top"),
            "frame left on screen:\n{screen}"
        );
        assert_eq!(self.alternate_on(), Some(false), "{screen}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn standalone_draws_updates_and_quits_cleanly() {
    if !have_tmux() {
        return;
    }
    let t = Tmux::start(
        "standalone",
        &format!("{} top --standalone --interval 200ms", quoted(BIN)),
    );
    let first = t.wait_for("the first frame with a class", FIRST_FRAME, |s| {
        s.contains("autosa top") && s.contains("confidence") && s.contains("Timeline")
    });
    assert_eq!(t.alternate_on(), Some(true));
    assert!(first.contains("standalone"), "{first}");
    if is_root() {
        // As root the eBPF programs load: histograms and processes are drawn.
        assert!(first.contains("standalone · eBPF"), "{first}");
        t.wait_for("a run-queue histogram bar", Duration::from_secs(10), |s| {
            s.contains("run-queue latency") && s.contains("│█")
        });
    } else {
        assert!(first.contains("procfs only"), "{first}");
        assert!(first.contains("eBPF is off"), "{first}");
    }
    // It updates: the clock in the title moves every second, the bars each interval.
    t.wait_for("a different frame", Duration::from_secs(10), |s| {
        s.contains("autosa top") && s != first
    });
    // p pauses (said in the title), ? shows the help, Esc closes it, q quits.
    t.send_keys("p");
    let paused = t.wait_for("PAUSED", Duration::from_secs(5), |s| s.contains("PAUSED"));
    // Paused: five intervals later the frame (clock included) is the same.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(t.capture(), paused);
    t.send_keys("p");
    t.wait_for("updates to resume", Duration::from_secs(10), |s| {
        !s.contains("PAUSED") && s != paused
    });
    t.send_keys("?");
    t.wait_for("the help", Duration::from_secs(5), |s| {
        s.contains("pause / resume updates")
    });
    t.send_keys("Escape");
    t.wait_for("the help to close", Duration::from_secs(5), |s| {
        !s.contains("pause / resume updates") && s.contains("autosa top")
    });
    t.send_keys("q");
    t.assert_restored();
}

/// The process `autosa top` runs as: the pane's shell's child.
fn child_of(pid: u32) -> u32 {
    let start = Instant::now();
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(c) = children.split_whitespace().next() {
            return c.parse().unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no child of {pid}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_restores_the_terminal() {
    if !have_tmux() {
        return;
    }
    let t = Tmux::start(
        "sigterm",
        &format!("{} top --standalone --no-bpf --interval 200ms", quoted(BIN)),
    );
    t.wait_for("the first frame", FIRST_FRAME, |s| {
        s.contains("autosa top") && s.contains("confidence")
    });
    let top = child_of(t.pane_pid());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(top as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    t.assert_restored();
}

#[test]
fn a_terminal_that_goes_away_ends_it() {
    // Before: crossterm spun on the closed pty's end-of-file, deaf to
    // SIGTERM; tops of killed tmux sessions each ate a third of a CPU.
    if !have_tmux() {
        return;
    }
    let t = Tmux::start(
        "hangup",
        &format!("{} top --standalone --no-bpf --interval 200ms", quoted(BIN)),
    );
    t.wait_for("the first frame", FIRST_FRAME, |s| {
        s.contains("autosa top") && s.contains("confidence")
    });
    let top = child_of(t.pane_pid());
    let _ = t.tmux(&["kill-server"]);
    let start = std::time::Instant::now();
    while std::path::Path::new(&format!("/proc/{top}")).exists() {
        let stat = std::fs::read_to_string(format!("/proc/{top}/stat")).unwrap_or_default();
        if stat.contains(") Z ") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "autosa top (pid {top}) still runs 10 s after its terminal went away"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status(n: u64) -> DaemonStatus {
    DaemonStatus {
        protocol: PROTOCOL_VERSION,
        version: "test".into(),
        pid: 1,
        started_unix_ms: 1_700_000_000_000,
        backend: "scx".into(),
        dry_run: true,
        interval_ms: 200,
        class: Some(WorkloadClass::LatencySensitive),
        confidence: 0.77,
        reasons: vec![format!("fake reason number {n}")],
        scheduler: "scx_fakeland".into(),
        since_unix_ms: 1_700_000_000_000,
        switching: SwitchingStatus {
            active: Some(WorkloadClass::LatencySensitive),
            judging: None,
            blocked: Vec::new(),
            blocked_schedulers: Vec::new(),
            backed_off: Vec::new(),
            cooldown_left_secs: 0,
            switches_last_hour: 1,
        },
        paused: false,
        paused_until_unix_ms: None,
        manual: None,
        recent: vec![TimedDecision {
            time_unix_ms: 1_700_000_000_000,
            decision: Decision::new(
                Duration::from_secs(3),
                Action::Switch {
                    from: None,
                    to: WorkloadClass::LatencySensitive,
                },
                "fake switch because the test says so",
            ),
        }],
        sources: Vec::new(),
        dropped_intervals: 0,
        probe_losses: Default::default(),
    }
}

fn snapshot(n: u64) -> Snapshot {
    let mut counts = vec![0u64; autosa_common::hist::BUCKETS];
    counts[autosa_common::hist::bucket_of(5_000)] = 40;
    counts[autosa_common::hist::bucket_of(80_000)] = 10 + n;
    let busy = CpuTimes {
        user: 0.4,
        idle: 0.6,
        ..CpuTimes::default()
    };
    Snapshot {
        version: 1,
        time_unix_ms: 1_700_000_000_000 + n * 200,
        interval_ms: 200,
        cpu: CpuView {
            nr_cpus: 2,
            total: busy,
            per_cpu: vec![busy, busy],
            ..CpuView::default()
        },
        sched: Some(SchedView {
            runq_latency: autosa::model::hist::build(&counts, 40 * 5_000 + 10 * 80_000),
            ..SchedView::default()
        }),
        tasks: vec![TaskView {
            tgid: 4242,
            comm: "fakeproc-a".into(),
            runq_delay_total_ns: 3_000_000,
            ..TaskView::default()
        }],
        ..Snapshot::default()
    }
}

/// Answers status and snapshot requests like the daemon; counts the status
/// requests. After `answers` of them it hangs up without answering, as a
/// daemon that is going away.
fn fake_daemon(path: &Path, answers: u64) -> Arc<AtomicU64> {
    let listener = UnixListener::bind(path).unwrap();
    let served = Arc::new(AtomicU64::new(0));
    let n = served.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut line = String::new();
            if BufReader::new(&conn).read_line(&mut line).is_err() {
                continue;
            }
            let k = n.load(Ordering::SeqCst);
            if k >= answers {
                continue; // dropping the connection closes it
            }
            let answer = match serde_json::from_str::<Request>(&line) {
                Ok(Request::Status) => {
                    n.fetch_add(1, Ordering::SeqCst);
                    Response::Status(Box::new(status(k)))
                }
                Ok(Request::Snapshot) => Response::Snapshot(Box::new(snapshot(k))),
                _ => Response::Error {
                    message: "not in this fake".into(),
                },
            };
            let mut out = serde_json::to_vec(&answer).unwrap();
            out.push(b'\n');
            let _ = conn.write_all(&out);
        }
    });
    served
}

/// N of "fake reason number N" on the screen (0 when absent).
fn reason_number(screen: &str) -> u64 {
    screen
        .split("fake reason number ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn socket_mode_draws_what_the_daemon_says() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("autosa.sock");
    let served = fake_daemon(&sock, u64::MAX);
    let t = Tmux::start(
        "socket",
        &format!(
            // No --interval: it asks as often as the daemon samples (200 ms).
            "{} top --socket {}",
            quoted(BIN),
            quoted(sock.to_str().unwrap())
        ),
    );
    let first = t.wait_for("the daemon's data", Duration::from_secs(30), |s| {
        s.contains("fakeproc-a") && s.contains("fake reason number")
    });
    for want in [
        "daemon ",
        "latency_sensitive",
        "confidence 77%",
        "scx_fakeland",
        "dry run",
        "default → latency_sensitive",
        "fake switch because the test says so",
        "run-queue latency",
        "│█",
        "every 200ms",
    ] {
        assert!(first.contains(want), "missing {want:?} in\n{first}");
    }
    // It keeps asking: the number in the reason grows.
    let n0 = reason_number(&first);
    t.wait_for("a later status", Duration::from_secs(10), |s| {
        reason_number(s) > n0
    });
    assert!(served.load(Ordering::SeqCst) > n0);
    // → picks the next histogram; Tab then → sorts the processes otherwise.
    t.send_keys("Right");
    t.wait_for("the slice histogram", Duration::from_secs(5), |s| {
        s.contains("time slice (2/2)")
    });
    t.send_keys("Tab");
    t.send_keys("Right");
    t.wait_for("another sort key", Duration::from_secs(5), |s| {
        s.contains("Processes by max wait")
    });
    t.send_keys("C-c");
    t.assert_restored();
}

#[test]
fn a_daemon_that_goes_away_is_an_error_in_the_title_and_the_data_stays() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("autosa.sock");
    fake_daemon(&sock, 3);
    let t = Tmux::start(
        "daemon-gone",
        &format!(
            "{} top --socket {}",
            quoted(BIN),
            quoted(sock.to_str().unwrap())
        ),
    );
    let screen = t.wait_for("the error", Duration::from_secs(30), |s| {
        s.contains("error: the autosa daemon at")
    });
    assert!(screen.contains("closed the connection"), "{screen}");
    assert!(screen.contains("fakeproc-a"), "{screen}");
    assert!(screen.contains("latency_sensitive"), "{screen}");
    t.send_keys("q");
    t.assert_restored();
}

#[test]
fn a_named_socket_without_a_daemon_is_a_clear_error() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("none.sock");
    let t = Tmux::start(
        "nosocket",
        &format!(
            "{} top --socket {}",
            quoted(BIN),
            quoted(sock.to_str().unwrap())
        ),
    );
    let screen = t.wait_for("the error", Duration::from_secs(30), |s| {
        s.contains("autosa-exited")
    });
    assert!(
        screen.contains("cannot reach the autosa daemon"),
        "{screen}"
    );
    assert!(!screen.contains("autosa-exited 0"), "{screen}");
    assert_eq!(t.alternate_on(), Some(false));
}

#[test]
fn without_a_daemon_it_falls_back_to_standalone_and_says_so() {
    if !have_tmux() {
        return;
    }
    let default = autosa::control::protocol::default_socket_path();
    if default.exists() {
        eprintln!("skipped: a daemon socket exists at {}", default.display());
        return;
    }
    let t = Tmux::start(
        "fallback",
        &format!("{} top --no-bpf --interval 200ms", quoted(BIN)),
    );
    let screen = t.wait_for("the first frame", FIRST_FRAME, |s| {
        s.contains("autosa top") && s.contains("confidence")
    });
    assert!(
        screen.contains(&format!("(no daemon at {})", default.display())),
        "{screen}"
    );
    assert!(screen.contains("standalone · procfs only"), "{screen}");
    t.send_keys("q");
    t.assert_restored();
}

#[test]
fn without_a_terminal_it_says_what_to_use() {
    let out = Command::new(BIN)
        .args(["top", "--standalone"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a terminal"), "{err}");
}
