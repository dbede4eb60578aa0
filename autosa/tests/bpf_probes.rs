//! The real eBPF programs against known load. Needs root (or CAP_BPF +
//! CAP_PERFMON): without it the tests print why and return, unless `CI` is
//! set, where they fail. Run with `cargo test -p autosa --test bpf_probes`.

use std::{
    io::{Read, Write},
    os::unix::{fs::MetadataExt, fs::OpenOptionsExt, net::UnixStream},
    sync::Mutex,
    time::{Duration, Instant},
};

use autosa::{
    collect::bpf::{BpfCollector, BpfError, BpfSettings},
    model::{bpf_raw::BpfRaw, snapshot::IoOp},
};

/// One loaded collector at a time: the tests measure each other's load otherwise.
static SERIAL: Mutex<()> = Mutex::new(());

/// A tgid no process has, so nothing is excluded.
const NOBODY: u32 = u32::MAX;

fn load(settings: BpfSettings) -> Option<BpfCollector> {
    let ci = std::env::var_os("CI").is_some();
    match BpfCollector::load(&settings) {
        Ok(c) => Some(c),
        Err(
            e @ (BpfError::Permission { .. }
            | BpfError::Memlock { .. }
            | BpfError::TracefsMissing { .. }),
        ) if !ci => {
            eprintln!("skipping: eBPF not available here: {e}");
            None
        }
        Err(e) => panic!("loading the eBPF programs failed: {e}"),
    }
}

fn settings(self_tgid: u32, threshold: u64) -> BpfSettings {
    BpfSettings {
        self_tgid,
        event_threshold_ns: threshold,
        ..BpfSettings::default()
    }
}

fn switches(r: &BpfRaw) -> u64 {
    r.per_cpu
        .iter()
        .map(|c| c.switches_voluntary + c.switches_involuntary)
        .sum()
}

fn runq_samples(r: &BpfRaw) -> u64 {
    r.per_cpu.iter().flat_map(|c| c.runq_hist.iter()).sum()
}

fn wakeups(r: &BpfRaw) -> u64 {
    r.per_cpu.iter().map(|c| c.wakeups).sum()
}

/// `n` round trips between two named threads of this process; every message
/// blocks the receiver, so each trip is at least two sleeps and two wakeups.
fn ping_pong(n: usize) {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let pong = std::thread::Builder::new()
        .name("autosa-pong".into())
        .spawn(move || {
            let mut buf = [0u8; 1];
            for _ in 0..n {
                b.read_exact(&mut buf).unwrap();
                b.write_all(&buf).unwrap();
            }
        })
        .unwrap();
    let ping = std::thread::Builder::new()
        .name("autosa-ping".into())
        .spawn(move || {
            let mut buf = [7u8; 1];
            for _ in 0..n {
                a.write_all(&buf).unwrap();
                a.read_exact(&mut buf).unwrap();
            }
        })
        .unwrap();
    ping.join().unwrap();
    pong.join().unwrap();
}

fn own_tgid() -> u32 {
    std::process::id()
}

#[test]
fn ping_pong_is_counted_with_runq_latency_and_per_process_stats() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut c) = load(settings(NOBODY, u64::MAX)) else {
        return;
    };
    // On this kernel's layout the direct-load programs are the ones attached.
    assert!(
        c.programs().contains(&"autosa_sched_switch"),
        "{:?}",
        c.programs()
    );
    let before = c.read().unwrap();
    const N: usize = 5000;
    ping_pong(N);
    let after = c.read().unwrap();

    let d_switch = switches(&after) - switches(&before);
    let d_runq = runq_samples(&after) - runq_samples(&before);
    let d_wake = wakeups(&after) - wakeups(&before);
    assert!(d_switch >= N as u64, "switches {d_switch} < {N}");
    assert!(d_runq >= N as u64, "run-queue samples {d_runq} < {N}");
    assert!(d_wake >= N as u64, "wakeups {d_wake} < {N}");
    let sum_ns: u64 = after.per_cpu.iter().map(|c| c.runq_sum_ns).sum();
    assert!(sum_ns > 0);
    assert_eq!(after.per_cpu.len(), aya::util::nr_cpus().unwrap());

    let me = after
        .tasks
        .iter()
        .find(|t| t.tgid == own_tgid())
        .expect("test process in tasks");
    assert!(
        me.switches_voluntary >= 2 * N as u64 - 10,
        "voluntary {}",
        me.switches_voluntary
    );
    assert!(me.wakeups >= N as u64, "wakeups {}", me.wakeups);
    assert!(me.runq_count >= N as u64 && me.runq_delay_ns > 0, "{me:?}");
    assert!(
        me.runq_max_ns > 0 && me.runq_max_ns <= me.runq_delay_ns,
        "{me:?}"
    );
    assert!(me.cpu_ns > 0 && me.switch_ins >= N as u64, "{me:?}");
    // The name of whichever of its threads first ran in this epoch.
    assert!(!me.comm.is_empty());
    assert!(
        after.events.is_empty(),
        "events off, got {}",
        after.events.len()
    );
}

#[test]
fn helper_read_programs_count_the_same_load() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = BpfSettings {
        direct_reads: false,
        ..settings(NOBODY, u64::MAX)
    };
    let Some(mut c) = load(s) else { return };
    assert!(
        c.programs().iter().filter(|p| p.ends_with("_dyn")).count() >= 3,
        "{:?}",
        c.programs()
    );
    let before = c.read().unwrap();
    const N: usize = 2000;
    ping_pong(N);
    let after = c.read().unwrap();
    assert!(switches(&after) - switches(&before) >= N as u64);
    assert!(runq_samples(&after) - runq_samples(&before) >= N as u64);
    let me = after
        .tasks
        .iter()
        .find(|t| t.tgid == own_tgid())
        .expect("test process in tasks");
    assert!(me.switches_voluntary >= 2 * N as u64 - 10, "{me:?}");
}

#[test]
fn own_tgid_is_left_out() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut c) = load(settings(own_tgid(), u64::MAX)) else {
        return;
    };
    c.read().unwrap();
    ping_pong(2000);
    // Another process that sleeps, so it switches out while the probes run:
    // on a quiet machine nothing else may switch in so short a window.
    let mut other = std::process::Command::new("/bin/sleep")
        .arg("0.05")
        .spawn()
        .unwrap();
    let other_pid = other.id();
    other.wait().unwrap();
    let after = c.read().unwrap();
    assert!(
        after.tasks.iter().all(|t| t.tgid != own_tgid()),
        "the excluded process appears in tasks"
    );
    assert!(
        after.tasks.iter().any(|t| t.tgid == other_pid),
        "another process ({other_pid}) is seen beside the excluded one: {:?}",
        after.tasks.iter().map(|t| t.tgid).collect::<Vec<_>>()
    );
}

#[test]
fn spinning_process_has_cpu_time() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut c) = load(settings(NOBODY, u64::MAX)) else {
        return;
    };
    c.read().unwrap();
    let mut child = std::process::Command::new("/bin/sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    let pid = child.id();
    // A read starts a new epoch, in which the name is refreshed: the entry
    // was created before exec, under the test thread's name.
    std::thread::sleep(Duration::from_millis(200));
    c.read().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    // The kernel's own accounting of the same process, as the reference: on
    // a busy machine the spinner may get much less than a CPU.
    let proc_ns = proc_cpu_ns(pid);
    child.kill().unwrap();
    child.wait().unwrap();
    let r = c.read().unwrap();
    let t = r
        .tasks
        .iter()
        .find(|t| t.tgid == pid)
        .expect("spinner in tasks");
    assert!(proc_ns >= 20_000_000, "the spinner never ran: {proc_ns} ns");
    // Ticks are 10 ms, and the spinner ran on between the read and the kill.
    let (low, high) = (proc_ns as f64 * 0.85 - 20e6, proc_ns as f64 * 1.15 + 60e6);
    assert!(
        (low..=high).contains(&(t.cpu_ns as f64)),
        "spinner cpu_ns {} vs /proc {} ns",
        t.cpu_ns,
        proc_ns
    );
    assert_eq!(t.comm, "sh");
}

#[test]
fn exited_processes_are_forgotten_after_their_last_counts_are_read() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut c) = load(settings(NOBODY, u64::MAX)) else {
        return;
    };
    c.read().unwrap();
    // A process that stays (asleep) and 40 that run briefly and are reaped.
    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let short: Vec<u32> = (0..40)
        .map(|_| {
            let mut child = std::process::Command::new("/bin/true").spawn().unwrap();
            let pid = child.id();
            child.wait().unwrap();
            pid
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let first = c.read().unwrap();
    let seen = |r: &BpfRaw, pid: u32| r.tasks.iter().any(|t| t.tgid == pid);
    let counted = short.iter().filter(|&&p| seen(&first, p)).count();
    assert!(
        counted >= 35,
        "the short processes' last interval is read before they are forgotten: {counted} of 40"
    );
    assert!(
        seen(&first, sleeper.id()),
        "the sleeper ran once, so it is there"
    );
    // Idle since: the next read checks them, and removes the exited ones.
    let before = c.forgotten_processes();
    c.read().unwrap();
    let third = c.read().unwrap();
    let left: Vec<u32> = short.iter().copied().filter(|&p| seen(&third, p)).collect();
    // A pid reused by a new process meanwhile is that process's entry, not a leak.
    let left_and_gone: Vec<u32> = left
        .into_iter()
        .filter(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .collect();
    assert!(
        left_and_gone.is_empty(),
        "exited processes still in the per-process map: {left_and_gone:?}"
    );
    assert!(
        c.forgotten_processes() - before >= counted as u64,
        "forgotten {} entries, expected at least {counted}",
        c.forgotten_processes() - before
    );
    assert!(
        seen(&third, sleeper.id()),
        "a live process that sleeps keeps its entry (its counters are cumulative)"
    );
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

/// utime + stime of a process from /proc/<pid>/stat, in ns.
fn proc_cpu_ns(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[14 - 3].parse::<u64>().unwrap() + f[15 - 3].parse::<u64>().unwrap();
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    ticks * 1_000_000_000 / hz
}

/// A page-aligned buffer for O_DIRECT.
struct Aligned {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Aligned {
    fn new(len: usize) -> Self {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Self { ptr, layout }
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: allocated with this length, initialised.
        unsafe { std::slice::from_raw_parts(self.ptr, self.layout.size()) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

fn write_totals(r: &BpfRaw) -> (u64, u64) {
    r.block
        .iter()
        .filter(|b| b.op == IoOp::Write)
        .fold((0, 0), |(c, b), x| (c + x.count, b + x.bytes))
}

#[test]
fn direct_writes_are_seen_as_block_completions() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::path::Path::new("/var/tmp");
    // tmpfs and overlay have no block device (major 0): no block I/O to see.
    let major = libc::major(std::fs::metadata(dir).unwrap().dev());
    if major == 0 {
        assert!(
            std::env::var_os("CI").is_none(),
            "/var/tmp is not on a block device"
        );
        eprintln!("skipping: /var/tmp is not on a block device");
        return;
    }
    let Some(mut c) = load(settings(NOBODY, u64::MAX)) else {
        return;
    };
    assert!(
        c.attached().iter().any(|t| t.name == "block_rq_complete"),
        "block probes not attached: {:?}",
        c.skipped()
    );
    let file = tempfile::NamedTempFile::new_in(dir).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(file.path())
        .unwrap();
    const WRITES: u64 = 32;
    const SIZE: usize = 64 * 1024;
    let buf = Aligned::new(SIZE);
    let before = c.read().unwrap();
    for _ in 0..WRITES {
        f.write_all(buf.bytes()).unwrap();
    }
    f.sync_all().unwrap();
    // Completions are traced before write() returns; give a late flush a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (count, bytes) = loop {
        let after = c.read().unwrap();
        let (c0, b0) = write_totals(&before);
        let (c1, b1) = write_totals(&after);
        let d = (c1 - c0, b1 - b0);
        if (d.0 >= WRITES && d.1 >= WRITES * SIZE as u64) || Instant::now() > deadline {
            for b in after.block.iter().filter(|b| b.op == IoOp::Write) {
                assert_eq!(
                    b.hist.iter().sum::<u64>(),
                    b.count,
                    "histogram and count agree"
                );
            }
            break d;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(count >= WRITES, "write completions {count} < {WRITES}");
    assert!(
        bytes >= WRITES * SIZE as u64,
        "bytes written {bytes} < {}",
        WRITES * SIZE as u64
    );
}

#[test]
fn ring_buffer_events_flow_and_losses_are_counted() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut c) = load(settings(NOBODY, u64::MAX)) else {
        return;
    };
    ping_pong(500);
    assert!(
        c.read().unwrap().events.is_empty(),
        "threshold u64::MAX must send nothing"
    );

    c.set_event_threshold(0).unwrap();
    ping_pong(500);
    let r = c.read().unwrap();
    let nr_cpus = aya::util::nr_cpus().unwrap() as u32;
    // The ping-pong threads, by name; the test's main thread also waits (join).
    let ours: Vec<_> = r
        .events
        .iter()
        .filter(|e| e.comm == "autosa-ping" || e.comm == "autosa-pong")
        .collect();
    assert!(
        ours.len() >= 500,
        "events of the ping-pong threads: {}",
        ours.len()
    );
    for e in &ours {
        assert_eq!(e.tgid, own_tgid(), "{e:?}");
        assert!(e.pid != 0 && e.pid != e.tgid, "thread ids: {e:?}");
        assert!(
            e.cpu < nr_cpus && e.delay_ns < 10_000_000_000 && e.time_ns > 0,
            "{e:?}"
        );
    }
    let lost_before = r.drops.events_lost;

    // Far more events than the buffer holds (~4.7k) without reading: losses.
    ping_pong(20_000);
    let r = c.read().unwrap();
    assert!(
        r.drops.events_lost > lost_before,
        "no loss reported after overflowing the ring buffer"
    );
    assert!(!r.events.is_empty());
}
