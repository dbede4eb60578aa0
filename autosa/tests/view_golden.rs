//! Golden tests of the text view: a hand-built snapshot against the exact
//! expected text in tests/fixtures/view/. `UPDATE_GOLDEN=1 cargo test -p autosa
//! --test view_golden` rewrites the files (review the diff before committing).

use std::path::PathBuf;

use autosa::model::hist;
use autosa::model::snapshot::*;
use autosa::view::render_text;
use autosa_common::hist::{BUCKETS, bucket_of};

fn check(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/view")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    if got != want {
        let line = got.lines().zip(want.lines()).position(|(a, b)| a != b);
        panic!(
            "{} differs (first differing line {:?}); rerun with UPDATE_GOLDEN=1 if the change is intended\n--- got ---\n{got}",
            path.display(),
            line.map(|l| l + 1)
        );
    }
}

/// A histogram of `n` events at each value.
fn latency(values: &[(u64, u64)]) -> LatencyHistogram {
    let mut c = vec![0u64; BUCKETS];
    let mut sum = 0;
    for &(v, n) in values {
        c[bucket_of(v)] += n;
        sum += v * n;
    }
    hist::build(&c, sum)
}

fn times(user: f64, system: f64, iowait: f64, idle: f64) -> CpuTimes {
    CpuTimes {
        user,
        nice: 0.0,
        system,
        iowait,
        irq: 0.0,
        softirq: 0.01,
        steal: 0.0,
        idle,
    }
}

fn full() -> Snapshot {
    let line = |avg10, stall| PsiLine {
        avg10,
        avg60: 1.0,
        avg300: 0.5,
        total_us: 1_000_000,
        stall_fraction: stall,
    };
    Snapshot {
        version: SNAPSHOT_VERSION,
        time_unix_ms: 1_700_000_000_000,
        interval_ms: 1000,
        cpu: CpuView {
            nr_cpus: 2,
            total: times(0.40, 0.09, 0.05, 0.45),
            per_cpu: vec![times(0.70, 0.09, 0.0, 0.20), times(0.10, 0.09, 0.10, 0.70)],
            context_switches_per_sec: 12_345.0,
            forks_per_sec: 12.0,
        },
        load: LoadView {
            load1: 2.5,
            load5: 1.25,
            load15: 0.75,
            procs_running: 4,
            procs_blocked: 1,
            total_tasks: 312,
        },
        psi: Some(PsiView {
            cpu: PsiResource {
                some: line(35.5, 0.40),
                full: None,
            },
            io: PsiResource {
                some: line(4.2, 0.05),
                full: Some(line(3.1, 0.04)),
            },
            memory: PsiResource {
                some: line(0.0, 0.0),
                full: Some(line(0.0, 0.0)),
            },
        }),
        memory: MemoryView {
            total_bytes: 24 << 30,
            available_bytes: 15 << 30,
            free_bytes: 10 << 30,
            cached_bytes: 4 << 30,
            dirty_bytes: 200 << 20,
            swap_total_bytes: 2 << 30,
            swap_free_bytes: 1 << 30,
        },
        vm: VmView {
            page_faults_per_sec: 5000.0,
            major_faults_per_sec: 2.0,
            swap_in_pages_per_sec: 0.0,
            swap_out_pages_per_sec: 16.0,
            refaults_per_sec: 40.0,
            ..VmView::default()
        },
        disks: vec![DiskView {
            name: "vda".into(),
            read_iops: 120.0,
            write_iops: 340.5,
            read_bytes_per_sec: 4_915_200.0,
            write_bytes_per_sec: 12_582_912.0,
            in_flight: 2,
            utilization: 0.375,
            avg_queue_depth: 1.5,
        }],
        sched: Some(SchedView {
            runq_latency: latency(&[
                (800, 40),
                (3_000, 900),
                (6_000, 300),
                (40_000, 50),
                (3_000_000, 10),
            ]),
            slice: latency(&[(50_000, 200), (900_000, 700), (2_800_000, 400)]),
            switches_voluntary_per_sec: 9000.0,
            switches_involuntary_per_sec: 3345.0,
            wakeups_per_sec: 8800.0,
            wakeups_new_per_sec: 12.0,
            migrations_per_sec: 150.0,
            per_cpu: vec![
                CpuSchedView {
                    cpu: 0,
                    runq_count: 700,
                    runq_p50_ns: 3_072,
                    runq_p99_ns: 3_014_656,
                    switches_voluntary: 5000,
                    switches_involuntary: 2000,
                    wakeups: 4800,
                    migrations: 80,
                },
                CpuSchedView {
                    cpu: 1,
                    runq_count: 600,
                    runq_p50_ns: 3_072,
                    runq_p99_ns: 44_032,
                    switches_voluntary: 4000,
                    switches_involuntary: 1345,
                    wakeups: 4000,
                    migrations: 70,
                },
            ],
            drops: ProbeDrops {
                events_lost: 3,
                pid_map_full: 0,
                tgid_map_full: 1,
                block_map_full: 0,
            },
        }),
        block_latency: vec![
            BlockLatencyView {
                dev: "254:0".into(),
                name: "vda".into(),
                op: IoOp::Read,
                latency: latency(&[(150_000, 100), (400_000, 20)]),
                requests_per_sec: 120.0,
                bytes_per_sec: 4_915_200.0,
            },
            BlockLatencyView {
                dev: "254:0".into(),
                name: "vda".into(),
                op: IoOp::Write,
                latency: latency(&[(90_000, 300), (1_500_000, 40)]),
                requests_per_sec: 340.0,
                bytes_per_sec: 12_582_912.0,
            },
        ],
        tasks: vec![
            TaskView {
                tgid: 4242,
                comm: "stress-ng-cpu".into(),
                cpu_fraction: 0.98,
                runq_count: 120,
                runq_delay_total_ns: 360_000_000,
                runq_delay_max_ns: 12_000_000,
                runq_delay_avg_ns: 3_000_000,
                wakeups_per_sec: 0.0,
                switches_voluntary_per_sec: 0.0,
                switches_involuntary_per_sec: 120.0,
                avg_slice_ns: 8_166_666,
            },
            TaskView {
                tgid: 977,
                comm: "a-very-long-process-name".into(),
                cpu_fraction: 0.015,
                runq_count: 1000,
                runq_delay_total_ns: 5_000_000,
                runq_delay_max_ns: 40_000,
                runq_delay_avg_ns: 5_000,
                wakeups_per_sec: 1000.0,
                switches_voluntary_per_sec: 999.0,
                switches_involuntary_per_sec: 1.0,
                avg_slice_ns: 15_000,
            },
        ],
        events: vec![
            LatencyEvent {
                time_ns: 10,
                cpu: 1,
                pid: 977,
                tgid: 977,
                comm: "cyclictest".into(),
                delay_ns: 2_500_000,
            },
            LatencyEvent {
                time_ns: 20,
                cpu: 0,
                pid: 4243,
                tgid: 4242,
                comm: "stress-ng-cpu".into(),
                delay_ns: 12_000_000,
            },
        ],
        sources: vec![
            SourceStatus {
                name: "stat".into(),
                ok: true,
                detail: String::new(),
            },
            SourceStatus {
                name: "bpf".into(),
                ok: true,
                detail: String::new(),
            },
        ],
    }
}

#[test]
fn full_snapshot() {
    check("full.txt", &render_text(&full()));
}

#[test]
fn procfs_only_snapshot_with_failed_sources() {
    let mut s = full();
    s.psi = None;
    s.sched = None;
    s.block_latency.clear();
    s.tasks.clear();
    s.events.clear();
    s.disks.clear();
    s.sources = vec![
        SourceStatus { name: "stat".into(), ok: true, detail: String::new() },
        SourceStatus {
            name: "psi".into(),
            ok: false,
            detail: "/proc/pressure/cpu does not exist: the kernel has no pressure stall information (CONFIG_PSI=n, or booted with psi=0)".into(),
        },
        SourceStatus { name: "bpf".into(), ok: false, detail: "eBPF programs not loaded: run as root".into() },
    ];
    check("procfs_only.txt", &render_text(&s));
}

#[test]
fn empty_snapshot_renders_without_panic() {
    let text = render_text(&Snapshot::default());
    assert!(text.starts_with("autosa snapshot  1970-01-01 00:00:00 UTC"));
    assert!(text.ends_with('\n'));
}
