//! Unit tests of the derivation with plain data.

use autosa_common::hist::{BUCKETS, bucket_mid, bucket_of};

use super::*;
use crate::model::bpf_raw::{BlockRaw, BpfRaw, CpuSchedRaw, DropsRaw, TaskRaw};
use crate::model::sample::{
    CpuTicks, DiskRaw, LoadavgRaw, MeminfoRaw, ProcfsRaw, PsiLineRaw, PsiRaw, PsiResourceRaw,
    StatRaw, VmstatRaw,
};
use crate::model::snapshot::{CpuTimes, IoOp, LatencyEvent, SourceStatus};

const SEC: u64 = 1_000_000_000;

fn ticks(user: u64, system: u64, idle: u64, iowait: u64, steal: u64) -> CpuTicks {
    CpuTicks {
        user,
        system,
        idle,
        iowait,
        steal,
        ..CpuTicks::default()
    }
}

fn sample(t_ns: u64) -> RawSample {
    RawSample {
        monotonic_ns: t_ns,
        time_unix_ms: t_ns / 1_000_000 + 1_700_000_000_000,
        ..RawSample::default()
    }
}

fn hist_with(values: &[(u64, u64)]) -> Vec<u64> {
    let mut h = vec![0u64; BUCKETS];
    for &(v, n) in values {
        h[bucket_of(v)] += n;
    }
    h
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn zero_or_negative_elapsed_is_an_error() {
    let s = sample(5 * SEC);
    let err = derive(&s, &s, &DeriveOptions::default()).unwrap_err();
    assert_eq!(
        err,
        DeriveError::NoElapsedTime {
            prev_ns: 5 * SEC,
            cur_ns: 5 * SEC
        }
    );
    assert!(derive(&sample(6 * SEC), &s, &DeriveOptions::default()).is_err());
}

#[test]
fn cpu_fractions_and_rates() {
    let mut a = sample(10 * SEC);
    a.procfs.stat = Some(StatRaw {
        total: ticks(100, 50, 1000, 10, 0),
        per_cpu: vec![ticks(50, 25, 500, 5, 0), ticks(50, 25, 500, 5, 0)],
        ctxt: 1000,
        processes: 50,
        procs_running: 1,
        procs_blocked: 0,
    });
    let mut b = sample(12 * SEC);
    b.procfs.stat = Some(StatRaw {
        // CPU0 fully busy in user, CPU1 idle with some iowait and steal.
        total: ticks(300, 50, 1180, 20, 10),
        per_cpu: vec![ticks(250, 25, 500, 5, 0), ticks(50, 25, 680, 15, 10)],
        ctxt: 5000,
        processes: 70,
        procs_running: 3,
        procs_blocked: 2,
    });
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    assert_eq!(s.version, SNAPSHOT_VERSION);
    assert_eq!(s.interval_ms, 2000);
    assert_eq!(s.cpu.nr_cpus, 2);
    assert!(close(s.cpu.per_cpu[0].user, 1.0));
    assert!(close(s.cpu.per_cpu[0].idle, 0.0));
    assert!(close(s.cpu.per_cpu[1].idle, 0.9));
    assert!(close(s.cpu.per_cpu[1].iowait, 0.05));
    assert!(close(s.cpu.per_cpu[1].steal, 0.05));
    assert!(close(s.cpu.total.user, 0.5));
    assert!(close(s.cpu.total.busy(), 0.525));
    assert!(close(s.cpu.context_switches_per_sec, 2000.0));
    assert!(close(s.cpu.forks_per_sec, 10.0));
    assert_eq!((s.load.procs_running, s.load.procs_blocked), (3, 2));
}

#[test]
fn cpu_tick_going_backwards_counts_zero_and_stays_in_range() {
    let mut a = sample(SEC);
    a.procfs.stat = Some(StatRaw {
        total: ticks(100, 0, 100, 50, 0),
        per_cpu: vec![ticks(100, 0, 100, 50, 0)],
        ..StatRaw::default()
    });
    let mut b = sample(2 * SEC);
    b.procfs.stat = Some(StatRaw {
        total: ticks(150, 0, 150, 40, 0),
        per_cpu: vec![ticks(150, 0, 150, 40, 0)],
        ..StatRaw::default()
    });
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    let c = s.cpu.per_cpu[0];
    assert!(close(c.iowait, 0.0));
    assert!(close(c.user, 0.5) && close(c.idle, 0.5));
}

#[test]
fn no_ticks_gives_zero_fractions_not_nan() {
    let mut a = sample(SEC);
    a.procfs.stat = Some(StatRaw {
        per_cpu: vec![ticks(1, 1, 1, 1, 1)],
        total: ticks(1, 1, 1, 1, 1),
        ..StatRaw::default()
    });
    let mut b = sample(SEC + 1000);
    b.procfs.stat = a.procfs.stat.clone();
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    assert_eq!(s.cpu.per_cpu[0], CpuTimes::default());
    assert_eq!(s.cpu.context_switches_per_sec, 0.0);
}

#[test]
fn psi_stall_fraction_from_totals() {
    let line = |total_us| PsiLineRaw {
        avg10: 1.5,
        avg60: 0.5,
        avg300: 0.1,
        total_us,
    };
    let res = |some, full: Option<u64>| PsiResourceRaw {
        some: line(some),
        full: full.map(line),
    };
    let mut a = sample(SEC);
    a.procfs.psi = Some(PsiRaw {
        cpu: res(1_000_000, None),
        io: res(0, Some(0)),
        memory: res(10, Some(10)),
    });
    let mut b = sample(3 * SEC);
    // 500 ms of CPU stall in 2 s; io restarted (went backwards): 100 ms.
    b.procfs.psi = Some(PsiRaw {
        cpu: res(1_500_000, None),
        io: res(100_000, Some(50_000)),
        memory: res(5, Some(5)),
    });
    b.procfs.psi.as_mut().unwrap().io.some.total_us = 100_000;
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    let psi = s.psi.unwrap();
    assert!(close(psi.cpu.some.stall_fraction, 0.25));
    assert!(psi.cpu.full.is_none());
    assert!(close(psi.io.some.stall_fraction, 0.05));
    assert!(close(psi.io.full.unwrap().stall_fraction, 0.025));
    // Backwards memory total: restart, 5 µs.
    assert!(close(psi.memory.some.stall_fraction, 5_000.0 / 2e9));
    assert!(close(psi.cpu.some.avg10, 1.5));
    assert_eq!(psi.cpu.some.total_us, 1_500_000);
}

#[test]
fn psi_absent_now_is_none_and_absent_before_has_no_stall() {
    let a = sample(SEC);
    let mut b = sample(2 * SEC);
    assert!(
        derive(&a, &b, &DeriveOptions::default())
            .unwrap()
            .psi
            .is_none()
    );
    b.procfs.psi = Some(PsiRaw::default());
    b.procfs.psi.as_mut().unwrap().cpu.some.total_us = 999_999;
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    assert_eq!(s.psi.unwrap().cpu.some.stall_fraction, 0.0);
}

#[test]
fn memory_load_and_vm_rates() {
    let mut a = sample(SEC);
    a.procfs.vmstat = Some(VmstatRaw {
        pgfault: 1000,
        pgmajfault: 10,
        pswpin: 0,
        pswpout: 7,
        workingset_refault: 100,
        pgscan: 1000,
        pgscan_direct: 0,
    });
    let mut b = sample(1_500_000_000);
    b.procfs.vmstat = Some(VmstatRaw {
        pgfault: 2000,
        pgmajfault: 12,
        pswpin: 5,
        pswpout: 3,
        workingset_refault: 1100,
        pgscan: 3000,
        pgscan_direct: 500,
    });
    b.procfs.meminfo = Some(MeminfoRaw {
        total_bytes: 8 << 30,
        available_bytes: 4 << 30,
        ..MeminfoRaw::default()
    });
    b.procfs.loadavg = Some(LoadavgRaw {
        load1: 1.25,
        load5: 0.5,
        load15: 0.25,
        runnable: 2,
        total_tasks: 300,
    });
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    assert!(close(s.vm.page_faults_per_sec, 2000.0));
    assert!(close(s.vm.major_faults_per_sec, 4.0));
    assert!(close(s.vm.swap_in_pages_per_sec, 10.0));
    // pswpout went 7 → 3: restart, 3 pages.
    assert!(close(s.vm.swap_out_pages_per_sec, 6.0));
    assert!(close(s.vm.refaults_per_sec, 2000.0));
    assert!(close(s.vm.reclaim_scan_pages_per_sec, 4000.0));
    assert!(close(s.vm.direct_reclaim_pages_per_sec, 1000.0));
    assert_eq!(s.memory.total_bytes, 8 << 30);
    assert_eq!(s.load.total_tasks, 300);
    assert!(close(s.load.load1, 1.25));
    // No /proc/stat: runnable comes from loadavg.
    assert_eq!(s.load.procs_running, 2);
}

fn disk(name: &str, minor: u32, n: u64) -> DiskRaw {
    DiskRaw {
        major: if name.starts_with("loop") { 7 } else { 254 },
        minor,
        name: name.to_owned(),
        reads: n,
        writes: 2 * n,
        sectors_read: 8 * n,
        sectors_written: 16 * n,
        in_flight: 3,
        io_ticks_ms: n,
        weighted_io_ticks_ms: 4 * n,
    }
}

#[test]
fn disks_rates_util_queue_and_filters() {
    let mut a = sample(SEC);
    a.procfs.diskstats = Some(vec![disk("vda", 0, 100), disk("loop0", 0, 100)]);
    let mut b = sample(2 * SEC);
    b.procfs.diskstats = Some(vec![
        disk("vda", 0, 600),
        disk("loop0", 0, 200),
        disk("zram0", 0, 5),
        disk("ram0", 0, 5),
        disk("vdb", 16, 50),
    ]);
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    let names: Vec<&str> = s.disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["vda", "vdb"]);
    let vda = &s.disks[0];
    assert!(close(vda.read_iops, 500.0));
    assert!(close(vda.write_iops, 1000.0));
    assert!(close(vda.read_bytes_per_sec, 500.0 * 8.0 * 512.0));
    assert!(close(vda.write_bytes_per_sec, 500.0 * 16.0 * 512.0));
    assert!(close(vda.utilization, 0.5));
    assert!(close(vda.avg_queue_depth, 2.0));
    assert_eq!(vda.in_flight, 3);
    // New device: counted from zero.
    assert!(close(s.disks[1].read_iops, 50.0));
}

#[test]
fn disk_counter_reset_does_not_underflow() {
    let mut a = sample(SEC);
    a.procfs.diskstats = Some(vec![disk("vda", 0, 10_000)]);
    let mut b = sample(2 * SEC);
    b.procfs.diskstats = Some(vec![disk("vda", 0, 100)]);
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    assert!(close(s.disks[0].read_iops, 100.0));
    assert!(close(s.disks[0].utilization, 0.1));
}

fn cpu_raw(runq: &[(u64, u64)], vol: u64) -> CpuSchedRaw {
    let runq_hist = hist_with(runq);
    CpuSchedRaw {
        runq_sum_ns: runq.iter().map(|&(v, n)| v * n).sum(),
        runq_hist,
        slice_hist: hist_with(&[(1_000_000, vol)]),
        slice_sum_ns: vol * 1_000_000,
        switches_voluntary: vol,
        switches_involuntary: vol / 2,
        wakeups: vol * 3,
        wakeups_new: 1,
        migrations: vol / 10,
    }
}

#[test]
fn sched_histograms_merge_over_cpus_and_rates() {
    let mut a = sample(SEC);
    a.procfs.stat = Some(StatRaw::default());
    a.bpf = Some(BpfRaw {
        per_cpu: vec![cpu_raw(&[(10_000, 5)], 100), cpu_raw(&[], 0)],
        drops: DropsRaw {
            events_lost: 3,
            ..Default::default()
        },
        ..BpfRaw::default()
    });
    let mut b = sample(3 * SEC);
    b.bpf = Some(BpfRaw {
        per_cpu: vec![
            cpu_raw(&[(10_000, 5), (20_000, 90)], 300),
            cpu_raw(&[(5_000_000, 10)], 100),
        ],
        drops: DropsRaw {
            events_lost: 4,
            pid_map_full: 2,
            ..Default::default()
        },
        ..BpfRaw::default()
    });
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    let sched = s.sched.unwrap();
    assert_eq!(sched.runq_latency.count, 100);
    assert_eq!(sched.runq_latency.sum_ns, 90 * 20_000 + 10 * 5_000_000);
    assert_eq!(sched.runq_latency.p50_ns, bucket_mid(bucket_of(20_000)));
    assert_eq!(sched.runq_latency.p99_ns, bucket_mid(bucket_of(5_000_000)));
    assert!(close(sched.switches_voluntary_per_sec, 150.0));
    assert!(close(sched.switches_involuntary_per_sec, 75.0));
    assert!(close(sched.wakeups_per_sec, 450.0));
    assert!(close(sched.wakeups_new_per_sec, 0.0)); // 1 → 1 on both CPUs
    assert!(close(sched.migrations_per_sec, 15.0));
    assert_eq!(sched.slice.count, 300);
    assert_eq!(sched.per_cpu.len(), 2);
    assert_eq!(sched.per_cpu[0].runq_count, 90);
    assert_eq!(sched.per_cpu[0].switches_voluntary, 200);
    assert_eq!(
        sched.per_cpu[1].runq_p50_ns,
        bucket_mid(bucket_of(5_000_000))
    );
    assert_eq!(sched.drops.events_lost, 1);
    assert_eq!(sched.drops.pid_map_full, 2);
}

#[test]
fn no_bpf_now_means_no_sched_view() {
    let mut a = sample(SEC);
    a.bpf = Some(BpfRaw::default());
    let s = derive(&a, &sample(2 * SEC), &DeriveOptions::default()).unwrap();
    assert!(s.sched.is_none() && s.tasks.is_empty() && s.block_latency.is_empty());
}

#[test]
fn sched_counters_reset_restart_from_current_value() {
    let mut a = sample(SEC);
    a.bpf = Some(BpfRaw {
        per_cpu: vec![cpu_raw(&[(1000, 1000)], 1000)],
        ..BpfRaw::default()
    });
    let mut b = sample(2 * SEC);
    b.bpf = Some(BpfRaw {
        per_cpu: vec![cpu_raw(&[(1000, 10)], 10)],
        ..BpfRaw::default()
    });
    let sched = derive(&a, &b, &DeriveOptions::default())
        .unwrap()
        .sched
        .unwrap();
    assert_eq!(sched.runq_latency.count, 10);
    assert!(close(sched.switches_voluntary_per_sec, 10.0));
}

#[test]
fn block_latency_per_device_and_direction() {
    let dev = (254 << 20) | 16;
    let blk = |op, n: u64| BlockRaw {
        dev,
        op,
        hist: hist_with(&[(100_000, n)]),
        sum_ns: n * 100_000,
        count: n,
        bytes: n * 4096,
    };
    let mut a = sample(SEC);
    a.bpf = Some(BpfRaw {
        block: vec![blk(IoOp::Write, 10), blk(IoOp::Read, 10)],
        ..BpfRaw::default()
    });
    let mut b = sample(2 * SEC);
    b.procfs.diskstats = Some(vec![disk("vdb", 16, 1)]);
    b.bpf = Some(BpfRaw {
        block: vec![
            blk(IoOp::Write, 30),
            blk(IoOp::Read, 10),
            blk(IoOp::Other, 1),
        ],
        ..BpfRaw::default()
    });
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    // Read had no new requests: left out. Sorted read, write, other.
    assert_eq!(s.block_latency.len(), 2);
    let w = &s.block_latency[0];
    assert_eq!(
        (w.dev.as_str(), w.name.as_str(), w.op),
        ("254:16", "vdb", IoOp::Write)
    );
    assert_eq!(w.latency.count, 20);
    assert!(close(w.requests_per_sec, 20.0));
    assert!(close(w.bytes_per_sec, 20.0 * 4096.0));
    assert_eq!(s.block_latency[1].op, IoOp::Other);
    assert_eq!(dev_major_minor(dev), (254, 16));
}

fn task(tgid: u32, cpu_ms: u64, delay_ms: u64) -> TaskRaw {
    TaskRaw {
        tgid,
        comm: format!("t{tgid}"),
        cpu_ns: cpu_ms * 1_000_000,
        switch_ins: cpu_ms,
        runq_count: 10,
        runq_delay_ns: delay_ms * 1_000_000,
        runq_max_ns: delay_ms * 100_000,
        wakeups: 20,
        switches_voluntary: 8,
        switches_involuntary: 2,
    }
}

#[test]
fn tasks_top_by_cpu_plus_top_by_delay_sorted_by_cpu() {
    let mut a = sample(SEC);
    a.bpf = Some(BpfRaw {
        tasks: vec![
            task(1, 100, 0),
            task(2, 100, 0),
            task(3, 5000, 50),
            task(9, 1, 1),
        ],
        ..BpfRaw::default()
    });
    let mut b = sample(2 * SEC);
    b.bpf = Some(BpfRaw {
        tasks: vec![
            task(1, 900, 0),  // +800 ms CPU
            task(2, 400, 0),  // +300 ms CPU
            task(3, 10, 2),   // restarted: 10 ms CPU, 2 ms delay
            task(4, 50, 500), // new: 50 ms CPU, 500 ms delay
            task(5, 60, 0),   // new: 60 ms
            task(9, 1, 1),    // idle this interval: dropped
        ],
        ..BpfRaw::default()
    });
    b.bpf.as_mut().unwrap().tasks[5].runq_count = 10;
    b.bpf.as_mut().unwrap().tasks[5].wakeups = 20;
    b.bpf.as_mut().unwrap().tasks[5].switches_voluntary = 8;
    b.bpf.as_mut().unwrap().tasks[5].switches_involuntary = 2;
    let s = derive(&a, &b, &DeriveOptions { top_tasks: 2 }).unwrap();
    let tgids: Vec<u32> = s.tasks.iter().map(|t| t.tgid).collect();
    // Top 2 by CPU: 1, 2; top 2 by delay: 4, 3.
    assert_eq!(tgids, [1, 2, 4, 3]);
    let t1 = &s.tasks[0];
    assert!(close(t1.cpu_fraction, 0.8));
    assert_eq!(t1.avg_slice_ns, 1_000_000);
    assert_eq!(t1.runq_count, 0);
    assert_eq!(t1.runq_delay_avg_ns, 0);
    let t4 = &s.tasks[2];
    assert_eq!(t4.runq_count, 10);
    assert_eq!(t4.runq_delay_total_ns, 500_000_000);
    assert_eq!(t4.runq_delay_avg_ns, 50_000_000);
    assert_eq!(t4.runq_delay_max_ns, 50_000_000);
    assert!(close(t4.wakeups_per_sec, 20.0));
    assert!(close(t4.switches_voluntary_per_sec, 8.0));
    assert!(close(t4.switches_involuntary_per_sec, 2.0));
    let t3 = &s.tasks[3];
    assert!(close(t3.cpu_fraction, 0.01));
    assert_eq!(t3.runq_delay_total_ns, 2_000_000);
}

#[test]
fn source_missing_before_gives_no_rates_not_since_boot_totals() {
    let a = sample(SEC);
    let mut b = sample(2 * SEC);
    b.procfs.stat = Some(StatRaw {
        total: ticks(100_000, 0, 100_000, 0, 0),
        per_cpu: vec![ticks(100_000, 0, 100_000, 0, 0)],
        ctxt: 10_000_000,
        ..StatRaw::default()
    });
    b.procfs.vmstat = Some(VmstatRaw {
        pgfault: 1 << 40,
        ..VmstatRaw::default()
    });
    b.procfs.diskstats = Some(vec![disk("vda", 0, 1_000_000)]);
    b.bpf = Some(BpfRaw {
        per_cpu: vec![cpu_raw(&[(1000, 1_000_000)], 1_000_000)],
        tasks: vec![task(1, 100_000, 0)],
        ..BpfRaw::default()
    });
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    assert_eq!(s.cpu.nr_cpus, 1);
    assert_eq!(s.cpu.per_cpu, vec![CpuTimes::default()]);
    assert_eq!(s.cpu.context_switches_per_sec, 0.0);
    assert_eq!(s.vm, VmView::default());
    assert!(s.disks.is_empty());
    assert!(s.sched.is_none() && s.tasks.is_empty());
}

#[test]
fn cpu_count_change_keeps_total_but_not_per_cpu() {
    let mut a = sample(SEC);
    a.procfs.stat = Some(StatRaw {
        total: ticks(100, 0, 100, 0, 0),
        per_cpu: vec![ticks(50, 0, 50, 0, 0), ticks(50, 0, 50, 0, 0)],
        ..StatRaw::default()
    });
    let mut b = sample(2 * SEC);
    b.procfs.stat = Some(StatRaw {
        total: ticks(200, 0, 200, 0, 0),
        per_cpu: vec![ticks(100, 0, 100, 0, 0)],
        ..StatRaw::default()
    });
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    assert_eq!(s.cpu.nr_cpus, 1);
    assert_eq!(s.cpu.per_cpu, vec![CpuTimes::default()]);
    assert!(close(s.cpu.total.user, 0.5));
}

#[test]
fn sources_and_events_are_carried() {
    let a = sample(SEC);
    let mut b = sample(2 * SEC);
    b.sources = vec![SourceStatus {
        name: "psi".into(),
        ok: false,
        detail: "gone".into(),
    }];
    b.bpf = Some(BpfRaw {
        events: vec![LatencyEvent {
            delay_ns: 7,
            ..Default::default()
        }],
        ..BpfRaw::default()
    });
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    assert_eq!(s.sources, b.sources);
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.time_unix_ms, b.time_unix_ms);
    let _ = ProcfsRaw::default();
}
