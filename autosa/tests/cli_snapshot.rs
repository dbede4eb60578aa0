//! `autosa snapshot` end to end: the real binary, the real /proc and, as root,
//! the real eBPF programs. Without root the eBPF parts are skipped with a
//! reason, unless `CI` is set, where they fail.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use autosa::model::snapshot::{SNAPSHOT_VERSION, Snapshot};

/// One eBPF-loading test at a time: two loads beside two busy ping-pongs on
/// 2 CPUs slow program loading down to minutes.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn autosa(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_autosa"))
        .args(args)
        .env("AUTOSA_LOG", "warn")
        .output()
        .expect("run autosa")
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Keeps both CPUs switching while a snapshot is taken, so every histogram has data.
struct PingPong {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl PingPong {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::sync_channel::<u32>(0);
        let (tx2, rx2) = std::sync::mpsc::sync_channel::<u32>(0);
        let s1 = stop.clone();
        let a = std::thread::spawn(move || {
            while !s1.load(Ordering::Relaxed) {
                if tx.send(1).is_err() || rx2.recv().is_err() {
                    break;
                }
            }
        });
        let b = std::thread::spawn(move || {
            while let Ok(v) = rx.recv() {
                if tx2.send(v).is_err() {
                    break;
                }
            }
        });
        Self {
            stop,
            threads: vec![a, b],
        }
    }
}

impl Drop for PingPong {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn parse_lines(stdout: &[u8]) -> Vec<Snapshot> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

#[test]
fn json_snapshots_one_per_line_with_ebpf_when_root() {
    let _one = serial();
    let _load = PingPong::start();
    let out = autosa(&["snapshot", "--json", "--count", "2", "--interval", "300ms"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snaps = parse_lines(&out.stdout);
    assert_eq!(snaps.len(), 2);
    for s in &snaps {
        assert_eq!(s.version, SNAPSHOT_VERSION);
        assert!(s.interval_ms > 0);
        assert_eq!(s.cpu.per_cpu.len(), s.cpu.nr_cpus as usize);
        assert!(s.memory.total_bytes > 0);
    }
    if !is_root() && std::env::var_os("CI").is_none() {
        eprintln!("skipping the eBPF half: not root");
        return;
    }
    for s in &snaps {
        let sched = s.sched.as_ref().expect("eBPF scheduler view as root");
        assert!(sched.runq_latency.count > 0, "empty run-queue histogram");
        assert!(sched.slice.count > 0, "empty slice histogram");
        assert!(sched.runq_latency.p50_ns <= sched.runq_latency.p99_ns);
        assert!(!s.tasks.is_empty(), "no per-process view");
        assert!(s.sources.iter().all(|src| src.ok), "{:?}", s.sources);
    }
}

#[test]
fn text_snapshot_draws_histograms_when_root() {
    let _one = serial();
    let _load = PingPong::start();
    let out = autosa(&["snapshot", "--interval", "300ms"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CPU ("), "{text}");
    assert!(text.contains("Pressure"), "{text}");
    if !is_root() && std::env::var_os("CI").is_none() {
        return;
    }
    assert!(text.contains("Run-queue latency"), "{text}");
    assert!(text.contains("|*"), "no histogram bars: {text}");
}

#[test]
fn without_ebpf_it_runs_on_procfs_and_says_so() {
    let out = autosa(&["snapshot", "--json", "--no-bpf", "--interval", "200ms"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snaps = parse_lines(&out.stdout);
    assert_eq!(snaps.len(), 1);
    assert!(snaps[0].sched.is_none());
    let bpf = snaps[0]
        .sources
        .iter()
        .find(|s| s.name == "bpf")
        .expect("bpf source listed");
    assert!(!bpf.ok);
    assert!(bpf.detail.contains("procfs alone"), "{}", bpf.detail);
}

#[test]
fn bad_interval_is_a_clear_error() {
    let out = autosa(&["snapshot", "--interval", "1ms"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("collect.interval") && err.contains("50ms"),
        "{err}"
    );
}
