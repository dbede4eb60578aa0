//! The text view of one snapshot: the tables a Linux user knows from top,
//! vmstat, iostat, runqlat and biolatency, one section after the other.

use std::fmt::Write;

use super::histogram::draw;
use super::units::{bytes, duration_ns, pct, rate, utc};
use crate::model::snapshot::{
    BlockLatencyView, CpuView, LatencyEvent, ProbeDrops, PsiResource, PsiView, SchedView, Snapshot,
    TaskView,
};

/// How many rare events are listed.
const MAX_EVENTS: usize = 10;
/// iostat's "MB" is a mebibyte.
const MIB: f64 = 1024.0 * 1024.0;

/// The whole snapshot as text, one section per source, ending with a newline.
pub fn render_text(s: &Snapshot) -> String {
    let mut out = String::with_capacity(8192);
    let _ = writeln!(
        out,
        "autosa snapshot  {} UTC  interval {}",
        utc(s.time_unix_ms),
        duration_ns(s.interval_ms.saturating_mul(1_000_000))
    );
    cpu(&mut out, &s.cpu);
    let _ = writeln!(
        out,
        "Load     {:.2} {:.2} {:.2}   running {}  blocked {}  tasks {}",
        s.load.load1,
        s.load.load5,
        s.load.load15,
        s.load.procs_running,
        s.load.procs_blocked,
        s.load.total_tasks
    );
    if let Some(p) = &s.psi {
        psi(&mut out, p);
    }
    let m = &s.memory;
    let _ = writeln!(
        out,
        "\nMemory   total {}  available {}  free {}  cached {}  dirty {}",
        bytes(m.total_bytes as f64),
        bytes(m.available_bytes as f64),
        bytes(m.free_bytes as f64),
        bytes(m.cached_bytes as f64),
        bytes(m.dirty_bytes as f64)
    );
    let _ = writeln!(
        out,
        "Swap     total {}  free {}",
        bytes(m.swap_total_bytes as f64),
        bytes(m.swap_free_bytes as f64)
    );
    let v = &s.vm;
    let _ = writeln!(
        out,
        "Faults   {}/s  major {}/s   swap in {} pages/s  out {} pages/s",
        rate(v.page_faults_per_sec),
        rate(v.major_faults_per_sec),
        rate(v.swap_in_pages_per_sec),
        rate(v.swap_out_pages_per_sec)
    );
    let _ = writeln!(
        out,
        "Reclaim  scanned {} pages/s  direct {} pages/s  refaults {}/s",
        rate(v.reclaim_scan_pages_per_sec),
        rate(v.direct_reclaim_pages_per_sec),
        rate(v.refaults_per_sec)
    );
    disks(&mut out, s);
    if let Some(sched) = &s.sched {
        scheduler(&mut out, sched);
    }
    block_latency(&mut out, &s.block_latency);
    tasks(&mut out, &s.tasks);
    events(&mut out, &s.events);
    if let Some(sched) = &s.sched {
        drops(&mut out, &sched.drops);
    }
    let bad: Vec<_> = s.sources.iter().filter(|x| !x.ok).collect();
    if !bad.is_empty() {
        out.push_str("\nSources not available\n");
        for src in bad {
            let _ = writeln!(out, "  {:<10} {}", src.name, src.detail);
        }
    }
    out
}

fn cpu(out: &mut String, c: &CpuView) {
    let t = &c.total;
    let _ = writeln!(
        out,
        "\nCPU ({})  usr {}%  nice {}%  sys {}%  iowait {}%  irq {}%  soft {}%  steal {}%  idle {}%",
        c.nr_cpus,
        pct(t.user),
        pct(t.nice),
        pct(t.system),
        pct(t.iowait),
        pct(t.irq),
        pct(t.softirq),
        pct(t.steal),
        pct(t.idle)
    );
    if !c.per_cpu.is_empty() {
        out.push_str("  busy   ");
        for (i, p) in c.per_cpu.iter().enumerate() {
            let _ = write!(out, "  cpu{i} {:>5}%", pct(p.busy()));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "  context switches {}/s  forks {}/s",
        rate(c.context_switches_per_sec),
        rate(c.forks_per_sec)
    );
}

fn psi(out: &mut String, p: &PsiView) {
    let _ = writeln!(
        out,
        "\nPressure  some avg10  full avg10  some stall  full stall   (stall = share of this interval)"
    );
    let row = |out: &mut String, name: &str, r: &PsiResource| {
        let full10 = r
            .full
            .map_or_else(|| "-".to_owned(), |f| format!("{:.2}%", f.avg10));
        let full_stall = r
            .full
            .map_or_else(|| "-".to_owned(), |f| format!("{}%", pct(f.stall_fraction)));
        let _ = writeln!(
            out,
            "  {:<7} {:>11} {:>11} {:>11} {:>11}",
            name,
            format!("{:.2}%", r.some.avg10),
            full10,
            format!("{}%", pct(r.some.stall_fraction)),
            full_stall
        );
    };
    row(out, "cpu", &p.cpu);
    row(out, "io", &p.io);
    row(out, "memory", &p.memory);
}

fn disks(out: &mut String, s: &Snapshot) {
    if s.disks.is_empty() {
        return;
    }
    let w = s
        .disks
        .iter()
        .map(|d| d.name.len())
        .max()
        .unwrap_or(4)
        .max(6);
    let _ = writeln!(
        out,
        "\n{:<w$}  {:>9} {:>9} {:>9} {:>9} {:>6} {:>6} {:>8}",
        "Device", "r/s", "w/s", "rMB/s", "wMB/s", "util%", "queue", "inflight"
    );
    for d in &s.disks {
        let _ = writeln!(
            out,
            "{:<w$}  {:>9} {:>9} {:>9.2} {:>9.2} {:>6} {:>6.2} {:>8}",
            d.name,
            rate(d.read_iops),
            rate(d.write_iops),
            d.read_bytes_per_sec / MIB,
            d.write_bytes_per_sec / MIB,
            pct(d.utilization),
            d.avg_queue_depth,
            d.in_flight
        );
    }
}

fn scheduler(out: &mut String, s: &SchedView) {
    let _ = writeln!(
        out,
        "\nScheduler  switches {}/s  voluntary {}/s  involuntary {}/s\n           wakeups {}/s  new tasks {}/s  migrations {}/s",
        rate(s.switches_voluntary_per_sec + s.switches_involuntary_per_sec),
        rate(s.switches_voluntary_per_sec),
        rate(s.switches_involuntary_per_sec),
        rate(s.wakeups_per_sec),
        rate(s.wakeups_new_per_sec),
        rate(s.migrations_per_sec)
    );
    if !s.per_cpu.is_empty() {
        let _ = writeln!(
            out,
            "  {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "CPU", "runq", "p50", "p99", "vol", "invol", "wakeups", "migr"
        );
        for c in &s.per_cpu {
            let _ = writeln!(
                out,
                "  {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                c.cpu,
                c.runq_count,
                duration_ns(c.runq_p50_ns),
                duration_ns(c.runq_p99_ns),
                c.switches_voluntary,
                c.switches_involuntary,
                c.wakeups,
                c.migrations
            );
        }
    }
    out.push_str("\nRun-queue latency (wakeup or preemption to running), all CPUs\n");
    draw(out, &s.runq_latency);
    out.push_str("\nTime slice (on-CPU time per switch), all CPUs\n");
    draw(out, &s.slice);
}

fn block_latency(out: &mut String, views: &[BlockLatencyView]) {
    for b in views {
        let name = if b.name.is_empty() { "?" } else { &b.name };
        let _ = writeln!(
            out,
            "\nBlock I/O latency  {} ({}) {}  {} req/s  {}/s",
            name,
            b.dev,
            b.op.as_str(),
            rate(b.requests_per_sec),
            bytes(b.bytes_per_sec)
        );
        draw(out, &b.latency);
    }
}

fn tasks(out: &mut String, tasks: &[TaskView]) {
    if tasks.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{:>8} {:<16} {:>6} {:>7} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9}",
        "TGID",
        "COMM",
        "CPU%",
        "RUNQ",
        "AVG DLY",
        "MAX DLY",
        "WAKE/s",
        "VOL/s",
        "INVOL/s",
        "AVG SLICE"
    );
    for t in tasks {
        let comm: String = t.comm.chars().take(16).collect();
        let _ = writeln!(
            out,
            "{:>8} {:<16} {:>6} {:>7} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9}",
            t.tgid,
            comm,
            pct(t.cpu_fraction),
            t.runq_count,
            duration_ns(t.runq_delay_avg_ns),
            duration_ns(t.runq_delay_max_ns),
            rate(t.wakeups_per_sec),
            rate(t.switches_voluntary_per_sec),
            rate(t.switches_involuntary_per_sec),
            duration_ns(t.avg_slice_ns)
        );
    }
}

fn events(out: &mut String, events: &[LatencyEvent]) {
    if events.is_empty() {
        return;
    }
    let mut worst: Vec<&LatencyEvent> = events.iter().collect();
    worst.sort_by_key(|e| (std::cmp::Reverse(e.delay_ns), e.time_ns));
    let _ = writeln!(
        out,
        "\nLong run-queue delays: {} (longest {} shown)",
        events.len(),
        worst.len().min(MAX_EVENTS)
    );
    for e in worst.iter().take(MAX_EVENTS) {
        let _ = writeln!(
            out,
            "  cpu {:>3}  pid {:>8}  tgid {:>8}  {:<16} {:>9}",
            e.cpu,
            e.pid,
            e.tgid,
            e.comm,
            duration_ns(e.delay_ns)
        );
    }
}

fn drops(out: &mut String, d: &ProbeDrops) {
    let parts: Vec<String> = [
        ("events lost", d.events_lost),
        ("pid map full", d.pid_map_full),
        ("tgid map full", d.tgid_map_full),
        ("block map full", d.block_map_full),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(what, n)| format!("{what} {n}"))
    .collect();
    if !parts.is_empty() {
        let _ = writeln!(out, "\nProbe drops this interval: {}", parts.join(", "));
    }
}
