//! The reader and the derivation against this machine's /proc (no root needed).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use autosa::collect::procfs::ProcfsReader;
use autosa::model::metrics::{DeriveOptions, derive};
use autosa::model::sample::RawSample;
use autosa::model::snapshot::CpuTimes;

fn sample(reader: &ProcfsReader, start: Instant) -> RawSample {
    let read = reader.read();
    RawSample {
        monotonic_ns: start.elapsed().as_nanos() as u64 + 1,
        time_unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
        procfs: read.raw,
        bpf: None,
        sources: read.sources,
    }
}

fn in_unit(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

fn check_times(t: &CpuTimes) {
    for v in [
        t.user, t.nice, t.system, t.iowait, t.irq, t.softirq, t.steal, t.idle,
    ] {
        assert!(in_unit(v), "{t:?}");
    }
    let sum = t.busy() + t.iowait + t.idle;
    assert!(
        sum == 0.0 || (sum - 1.0).abs() < 1e-9,
        "fractions sum to {sum}: {t:?}"
    );
}

#[test]
fn live_proc_is_sane() {
    let reader = ProcfsReader::default();
    let start = Instant::now();
    let a = sample(&reader, start);
    for s in &a.sources {
        // PSI may be disabled on some kernels; everything else must read.
        assert!(s.ok || s.name == "psi", "{} failed: {}", s.name, s.detail);
    }
    // Burn a little CPU so the interval holds ticks.
    let until = Instant::now() + Duration::from_millis(150);
    let mut x = 0u64;
    while Instant::now() < until {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    std::hint::black_box(x);
    let b = sample(&reader, start);

    let snap = derive(&a, &b, &DeriveOptions::default()).unwrap();
    // SAFETY: sysconf has no preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    assert_eq!(i64::from(snap.cpu.nr_cpus), online as i64);
    let nproc = std::thread::available_parallelism().unwrap().get();
    assert!(
        nproc <= snap.cpu.nr_cpus as usize,
        "nproc {nproc} > nr_cpus {}",
        snap.cpu.nr_cpus
    );
    assert_eq!(snap.cpu.per_cpu.len(), snap.cpu.nr_cpus as usize);
    check_times(&snap.cpu.total);
    snap.cpu.per_cpu.iter().for_each(check_times);
    assert!(
        snap.cpu.total.busy() > 0.0,
        "150 ms of spinning left no busy tick"
    );
    assert!(snap.cpu.context_switches_per_sec >= 0.0);
    assert!(snap.interval_ms >= 150);
    assert!(snap.load.total_tasks > 0);
    assert!(snap.memory.total_bytes > 0 && snap.memory.available_bytes <= snap.memory.total_bytes);
    if let Some(psi) = snap.psi {
        for r in [psi.cpu, psi.io, psi.memory] {
            assert!(in_unit(r.some.stall_fraction));
            assert!(r.full.is_none_or(|f| in_unit(f.stall_fraction)));
        }
    }
    for d in &snap.disks {
        assert!(in_unit(d.utilization), "{d:?}");
        assert!(!d.name.starts_with("loop") && !d.name.starts_with("zram"));
    }
}

#[test]
fn live_comm_of_self() {
    let pid = std::process::id();
    let comm = ProcfsReader::default().read_comm(pid).unwrap();
    assert!(!comm.is_empty() && !comm.ends_with('\n'));
    let want = std::fs::read_to_string("/proc/self/comm").unwrap();
    assert_eq!(comm, want.trim_end());
}
