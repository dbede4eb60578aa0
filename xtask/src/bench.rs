//! `cargo xtask bench accuracy|overhead`: autosa's eBPF collector against
//! bpftrace running runqlat's logic, on the same machine at the same time.
//!
//! Needs root, bpftrace, perf, stress-ng and taskset. The collector runs as
//! the `bpf_collect` example of the autosa crate (built here, release).

use std::{
    io::{BufRead, BufReader, Read, Write},
    path::PathBuf,
    process::{Child, ChildStderr, ChildStdout, Command, Stdio},
    time::Duration,
};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::host::workspace_root;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(clap::Subcommand)]
enum Bench {
    /// A latency-sensitive sleeper beside CPU hogs, autosa off / on (eevdf backend).
    Benefit(crate::bench_benefit::BenefitArgs),
    /// The daemon's own CPU, memory, threads and files at 1 s and 100 ms, and its size.
    Footprint(crate::bench_footprint::FootprintArgs),
    /// Re-render every PNG in docs/img from the benches' saved JSON (runs nothing).
    Plot(crate::plot::PlotArgs),
    /// The control socket under 1–256 concurrent clients, with and without slow ones.
    Control(crate::bench_control::ControlArgs),
    /// Run-queue latency percentiles: autosa vs bpftrace (runqlat's logic) under load.
    Accuracy {
        /// Seconds of load per round.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// `perf bench sched pipe` pinned to one CPU: nothing attached vs autosa vs bpftrace.
    Overhead {
        /// Interleaved rounds (the VM is noisy: medians of many rounds).
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Round trips per `perf bench sched pipe` run.
        #[arg(long, default_value_t = 200_000)]
        loops: u64,
        /// CPU both pipe ends are pinned to.
        #[arg(long, default_value_t = 1)]
        cpu: u32,
    },
    /// Mean run time of each program per invocation (kernel BPF stats), autosa
    /// and bpftrace runqlat attached together under `perf bench sched pipe`.
    Cost {
        #[arg(long, default_value_t = 200_000)]
        loops: u64,
        #[arg(long, default_value_t = 1)]
        cpu: u32,
        /// Attach bpftrace's empty programs instead of runqlat: the cost of
        /// a program that does nothing, measured the same way.
        #[arg(long)]
        empty_peer: bool,
    },
}

/// runqlat.bt's logic without its `#include` (which fails without kernel
/// headers); runnable is `(prev_state & 0xff) == 0`; pid 0 (idle) is left
/// out as autosa and libbpf-tools do. Adds count and sum for the mean. With a
/// `marker`, only delays recorded between the first and second exec of that
/// path count, so both tools measure the same window.
fn runqlat_script(marker: Option<&str>) -> String {
    let (gate_probe, gate) = match marker {
        Some(m) => (
            format!(
                "tracepoint:sched:sched_process_exec /str(args->filename) == \"{m}\"/ {{ @on = @on + 1; }}\n"
            ),
            " && @on == 1",
        ),
        None => (String::new(), ""),
    };
    format!(
        r#"{gate_probe}
tracepoint:sched:sched_wakeup, tracepoint:sched:sched_wakeup_new {{ @qtime[args->pid] = nsecs; }}
tracepoint:sched:sched_switch {{
  if (args->prev_pid != 0 && (args->prev_state & 0xff) == 0) {{ @qtime[args->prev_pid] = nsecs; }}
  $ns = @qtime[args->next_pid];
  if ($ns{gate}) {{ @usecs = hist((nsecs - $ns) / 1000); @n = count(); @sum_ns = sum(nsecs - $ns); }}
  delete(@qtime[args->next_pid]);
}}
END {{ clear(@qtime); }}
"#
    )
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // The benefit bench drives the daemon, not bpftrace or perf.
    let args = match args.bench {
        Bench::Benefit(b) => return crate::bench_benefit::run(b),
        Bench::Footprint(f) => return crate::bench_footprint::run(f),
        Bench::Plot(p) => return crate::plot::run(p),
        Bench::Control(c) => return crate::bench_control::run(c),
        other => Args { bench: other },
    };
    preflight()?;
    let collector = build_collector()?;
    match args.bench {
        Bench::Accuracy { seconds, rounds } => accuracy(&collector, seconds, rounds),
        Bench::Overhead { rounds, loops, cpu } => overhead(&collector, rounds, loops, cpu),
        Bench::Cost {
            loops,
            cpu,
            empty_peer,
        } => cost(&collector, loops, cpu, empty_peer),
        Bench::Benefit(_) | Bench::Footprint(_) | Bench::Plot(_) | Bench::Control(_) => {
            unreachable!("handled before the preflight")
        }
    }
}

fn preflight() -> anyhow::Result<()> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|v| v.split_whitespace().nth(1) == Some("0"))
        });
    if uid != Some(true) {
        bail!("the benches load eBPF programs: run them as root");
    }
    for tool in ["bpftrace", "perf", "stress-ng", "taskset"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            bail!(
                "`{tool}` is not installed (Debian: apt-get install bpftrace linux-perf stress-ng util-linux)"
            );
        }
    }
    Ok(())
}

fn build_collector() -> anyhow::Result<PathBuf> {
    let root = workspace_root();
    let status = Command::new("cargo")
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-p",
            "autosa",
            "--example",
            "bpf_collect",
        ])
        .status()
        .context("building the bpf_collect example")?;
    if !status.success() {
        bail!("building the bpf_collect example failed");
    }
    Ok(crate::host::target_dir()
        .join("release")
        .join("examples")
        .join("bpf_collect"))
}

/// bpftrace with runqlat's logic, attached.
struct Bpftrace {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Bpftrace {
    fn start(marker: Option<&str>) -> anyhow::Result<Self> {
        Self::start_script(&runqlat_script(marker))
    }

    fn start_script(script: &str) -> anyhow::Result<Self> {
        let mut child = Command::new("bpftrace")
            .args(["-f", "json", "-e", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting bpftrace")?;
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        loop {
            line.clear();
            if out.read_line(&mut line)? == 0 {
                bail!(
                    "bpftrace exited before attaching (run `bpftrace -e '…'` by hand to see why)"
                );
            }
            if line.contains("attached_probes") {
                return Ok(Self { child, out });
            }
        }
    }

    /// SIGINT, then the maps it prints on exit.
    fn stop(mut self) -> anyhow::Result<PeerResult> {
        signal(self.child.id(), "INT")?;
        let mut text = String::new();
        self.out.read_to_string(&mut text)?;
        self.child.wait()?;
        parse_bpftrace(&text)
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, sig: &str) -> anyhow::Result<()> {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()?
        .success();
    if !ok {
        bail!("kill -{sig} {pid} failed");
    }
    Ok(())
}

/// The collector example, attached.
struct Autosa {
    child: Child,
    err: BufReader<ChildStderr>,
}

impl Autosa {
    fn start(exe: &PathBuf) -> anyhow::Result<Self> {
        Self::start_with(exe, &[])
    }

    fn start_with(exe: &PathBuf, args: &[&str]) -> anyhow::Result<Self> {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let err = BufReader::new(child.stderr.take().expect("piped"));
        let mut this = Self { child, err };
        this.wait_for("ready")?;
        Ok(this)
    }

    fn wait_for(&mut self, what: &str) -> anyhow::Result<()> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.err.read_line(&mut line)? == 0 {
                bail!("the collector exited before saying {what:?}");
            }
            if line.trim() == what {
                return Ok(());
            }
            eprint!("collector: {line}");
        }
    }

    fn send(&mut self, cmd: &str) -> anyhow::Result<()> {
        let stdin = self.child.stdin.as_mut().expect("piped");
        writeln!(stdin, "{cmd}")?;
        stdin.flush()?;
        Ok(())
    }

    /// Takes the baseline; returns once it is taken.
    fn begin(&mut self) -> anyhow::Result<()> {
        self.send("start")?;
        self.wait_for("started")
    }

    /// Final read; the summary of the window since [`Self::begin`].
    fn finish(mut self) -> anyhow::Result<Value> {
        self.send("stop")?;
        let mut text = String::new();
        self.child
            .stdout
            .take()
            .expect("piped")
            .read_to_string(&mut text)?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the collector failed ({status})");
        }
        serde_json::from_str(text.trim()).with_context(|| format!("collector output {text:?}"))
    }

    /// Detaches (end of stdin) and waits for the exit.
    fn detach(mut self) -> anyhow::Result<()> {
        drop(self.child.stdin.take());
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the collector failed ({status})");
        }
        Ok(())
    }
}

/// bpftrace's log2 histogram (µs buckets) with its count and sum.
#[derive(Debug, Default)]
struct PeerResult {
    /// (min µs, max µs, count), as bpftrace prints them.
    buckets: Vec<(u64, u64, u64)>,
    count: u64,
    sum_ns: u64,
}

fn parse_bpftrace(text: &str) -> anyhow::Result<PeerResult> {
    let mut r = PeerResult::default();
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let v: Value =
            serde_json::from_str(line).with_context(|| format!("bpftrace line {line:?}"))?;
        let data = &v["data"];
        match v["type"].as_str() {
            Some("hist") => {
                for b in data["@usecs"].as_array().into_iter().flatten() {
                    let min = b["min"].as_u64().unwrap_or(0);
                    let max = b["max"].as_u64().unwrap_or(min);
                    r.buckets.push((min, max, b["count"].as_u64().unwrap_or(0)));
                }
            }
            Some("map") => {
                if let Some(n) = data["@n"].as_u64() {
                    r.count = n;
                }
                if let Some(s) = data["@sum_ns"].as_u64() {
                    r.sum_ns = s;
                }
            }
            _ => {}
        }
    }
    if r.buckets.is_empty() {
        bail!("bpftrace printed no histogram");
    }
    Ok(r)
}

/// Bounds in ns of the log2 bucket holding quantile `q`.
fn peer_quantile(buckets: &[(u64, u64, u64)], q: f64) -> (u64, u64) {
    let total: u64 = buckets.iter().map(|b| b.2).sum();
    let rank = ((q * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for &(min, max, n) in buckets {
        seen += n;
        if seen >= rank {
            return (min * 1000, (max + 1) * 1000);
        }
    }
    let last = buckets.last().copied().unwrap_or_default();
    (last.0 * 1000, (last.1 + 1) * 1000)
}

/// Within the peer's bucket, with 10 % slack on its edges.
fn agrees(value: u64, (lo, hi): (u64, u64)) -> bool {
    value as f64 >= lo as f64 * 0.9 && (value as f64) < hi as f64 * 1.1
}

fn load_cmd(seconds: u64) -> Command {
    let mut c = Command::new("stress-ng");
    // Four CPU hogs on two CPUs plus sleep/wake loops: queues form and
    // wakeups wait behind the hogs.
    c.args([
        "--cpu",
        "4",
        "--sleep",
        "2",
        "--timeout",
        &format!("{seconds}s"),
        "--quiet",
    ]);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// An executable with a path of its own, exec'd to open and close the
/// measurement window in bpftrace.
struct Marker(PathBuf);

impl Marker {
    fn new() -> anyhow::Result<Self> {
        let p = std::env::temp_dir().join(format!("autosa-bench-mark-{}", std::process::id()));
        std::fs::copy("/bin/true", &p).context("copying /bin/true for the window marker")?;
        Ok(Self(p))
    }

    fn fire(&self) -> anyhow::Result<()> {
        let ok = Command::new(&self.0).status()?.success();
        if !ok {
            bail!("running the window marker failed");
        }
        Ok(())
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// autosa's buckets from the collector's summary: (lower ns, upper ns, count).
fn autosa_buckets(summary: &Value) -> Vec<(u64, u64, u64)> {
    summary["buckets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| Some((b[0].as_u64()?, b[1].as_u64()?, b[2].as_u64()?)))
        .collect()
}

fn accuracy(exe: &PathBuf, seconds: u64, rounds: usize) -> anyhow::Result<()> {
    crate::plot::style::ensure_font()?;
    let mut data = crate::plot::accuracy::AccuracyData {
        seconds,
        rounds: Vec::new(),
    };
    let marker = Marker::new()?;
    let marker_path = marker.0.to_string_lossy().into_owned();
    let mut all_ok = true;
    for round in 1..=rounds {
        let peer = Bpftrace::start(Some(&marker_path))?;
        let mut ours = match Autosa::start(exe) {
            Ok(a) => a,
            Err(e) => {
                peer.kill();
                return Err(e);
            }
        };
        // Window: autosa's baseline, bpftrace on, load, bpftrace off, autosa's final read.
        ours.begin()?;
        marker.fire()?;
        let status = load_cmd(seconds).status().context("running stress-ng")?;
        marker.fire()?;
        let ours = ours.finish()?;
        let peer = peer.stop()?;
        if !status.success() {
            bail!("stress-ng failed ({status})");
        }
        let count = ours["count"].as_u64().unwrap_or(0);
        let mean = ours["sum_ns"].as_u64().unwrap_or(0) as f64 / count.max(1) as f64;
        let peer_mean = peer.sum_ns as f64 / peer.count.max(1) as f64;
        println!(
            "round {round}: samples autosa {count} bpftrace {} ; mean autosa {:.1} µs bpftrace {:.1} µs ({:+.1} %)",
            peer.count,
            mean / 1e3,
            peer_mean / 1e3,
            (mean / peer_mean - 1.0) * 100.0
        );
        for (name, q) in [("p50", 0.50), ("p90", 0.90), ("p99", 0.99)] {
            let v = ours[format!("{name}_ns")].as_u64().unwrap_or(0);
            let b = peer_quantile(&peer.buckets, q);
            let ok = agrees(v, b);
            all_ok &= ok;
            println!(
                "  {name}: autosa {:.1} µs, bpftrace bucket [{}, {}) µs: {}",
                v as f64 / 1e3,
                b.0 / 1000,
                b.1 / 1000,
                if ok { "ok" } else { "DIFFERS" }
            );
        }
        std::io::stdout().flush()?;
        data.rounds.push(crate::plot::accuracy::AccuracyRound {
            autosa: autosa_buckets(&ours),
            autosa_count: count,
            autosa_sum_ns: ours["sum_ns"].as_u64().unwrap_or(0),
            runqlat: peer.buckets.clone(),
            runqlat_count: peer.count,
            runqlat_sum_ns: peer.sum_ns,
        });
    }
    crate::plot::publish(
        crate::plot::accuracy::NAME,
        &data,
        Some(crate::plot::accuracy::render),
    )?;
    if !all_ok {
        bail!("autosa's percentiles fell outside bpftrace's buckets (±10 %)");
    }
    println!("accuracy: pass");
    Ok(())
}

fn pipe_ops_per_sec(loops: u64, cpu: u32) -> anyhow::Result<f64> {
    let out = Command::new("taskset")
        .args([
            "-c",
            &cpu.to_string(),
            "perf",
            "bench",
            "sched",
            "pipe",
            "-l",
            &loops.to_string(),
        ])
        .stderr(Stdio::null())
        .output()
        .context("running perf bench sched pipe")?;
    if !out.status.success() {
        bail!("perf bench sched pipe failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_suffix("ops/sec")
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
        .with_context(|| format!("no ops/sec in {text:?}"))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The cost of attaching anything at all to these tracepoints (the kernel
/// builds each record and enters BPF): the floor any tool can approach.
const EMPTY_BT: &str = "tracepoint:sched:sched_wakeup, tracepoint:sched:sched_wakeup_new, tracepoint:sched:sched_switch { }";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    Detached,
    Autosa,
    Runqlat,
    Empty,
}

impl Variant {
    const ALL: [Variant; 4] = [
        Variant::Detached,
        Variant::Autosa,
        Variant::Runqlat,
        Variant::Empty,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::Detached => "detached",
            Variant::Autosa => "autosa",
            Variant::Runqlat => "bpftrace runqlat",
            Variant::Empty => "bpftrace empty",
        }
    }

    fn measure(self, exe: &PathBuf, loops: u64, cpu: u32) -> anyhow::Result<f64> {
        match self {
            Variant::Detached => pipe_ops_per_sec(loops, cpu),
            Variant::Autosa => {
                let a = Autosa::start(exe)?;
                let r = pipe_ops_per_sec(loops, cpu);
                a.detach()?;
                r
            }
            Variant::Runqlat | Variant::Empty => {
                let script = if self == Variant::Empty {
                    EMPTY_BT.to_string()
                } else {
                    runqlat_script(None)
                };
                let b = Bpftrace::start_script(&script)?;
                let r = pipe_ops_per_sec(loops, cpu);
                b.kill();
                r
            }
        }
    }
}

fn overhead(exe: &PathBuf, rounds: usize, loops: u64, cpu: u32) -> anyhow::Result<()> {
    const N: usize = Variant::ALL.len();
    let mut ops: Vec<[f64; N]> = Vec::new();
    println!("perf bench sched pipe -l {loops}, pinned to CPU {cpu}; ops/sec");
    let header: Vec<String> = Variant::ALL
        .iter()
        .map(|v| format!("{:>17}", v.name()))
        .collect();
    println!("round{}", header.join(""));
    for round in 0..rounds {
        let mut row = [0.0; N];
        // Rotate the order so drift over time hits every variant alike.
        for k in 0..N {
            let i = (round + k) % N;
            row[i] = Variant::ALL[i].measure(exe, loops, cpu)?;
            std::thread::sleep(Duration::from_millis(200));
        }
        let cells: Vec<String> = row.iter().map(|v| format!("{v:>17.0}")).collect();
        println!("{:5}{}", round + 1, cells.join(""));
        std::io::stdout().flush()?;
        ops.push(row);
    }
    println!("variant            median ops/sec   median ratio to detached (per round)");
    for (i, v) in Variant::ALL.iter().enumerate() {
        let med = median(&mut ops.iter().map(|r| r[i]).collect::<Vec<_>>());
        let ratio = median(&mut ops.iter().map(|r| r[i] / r[0]).collect::<Vec<_>>());
        println!(
            "{:18} {med:>14.0}   {ratio:.3} ({:+.1} %)",
            v.name(),
            (ratio - 1.0) * 100.0
        );
    }
    Ok(())
}

/// Per-program cost from the kernel's own accounting: unlike throughput,
/// it does not depend on what else the machine runs.
fn cost(exe: &PathBuf, loops: u64, cpu: u32, empty_peer: bool) -> anyhow::Result<()> {
    let peer = if empty_peer {
        Bpftrace::start_script(EMPTY_BT)?
    } else {
        Bpftrace::start(None)?
    };
    let mut ours = match Autosa::start_with(exe, &["--stats"]) {
        Ok(a) => a,
        Err(e) => {
            peer.kill();
            return Err(e);
        }
    };
    ours.begin()?;
    let ops = pipe_ops_per_sec(loops, cpu);
    let out = ours.finish();
    peer.kill();
    let (ops, out) = (ops?, out?);
    println!("perf bench sched pipe -l {loops} on CPU {cpu}: {ops:.0} ops/sec with both attached");
    println!(
        "{:16} {:>12} {:>10}  (* = this autosa instance; others are other tools or instances)",
        "program", "runs", "mean ns"
    );
    let mut rows: Vec<&Value> = out["programs"].as_array().into_iter().flatten().collect();
    rows.sort_by_key(|r| r["name"].as_str().unwrap_or("").to_string());
    for r in rows {
        let mark = if r["ours"].as_bool() == Some(true) {
            "*"
        } else {
            " "
        };
        println!(
            "{:16} {:>12} {:>10} {mark}",
            r["name"].as_str().unwrap_or("?"),
            r["runs"].as_u64().unwrap_or(0),
            r["avg_ns"].as_u64().unwrap_or(0)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bpftrace_json_and_finds_quantile_buckets() {
        let text = r#"{"type": "attached_probes", "data": {"probes": 4}}
{"type": "map", "data": {"@n": 10}}
{"type": "map", "data": {"@sum_ns": 50000}}
{"type": "hist", "data": {"@usecs": [{"min": 1, "max": 1, "count": 5}, {"min": 2, "max": 3, "count": 4}, {"min": 8, "max": 15, "count": 1}]}}"#;
        let r = parse_bpftrace(text).unwrap();
        assert_eq!((r.count, r.sum_ns, r.buckets.len()), (10, 50000, 3));
        assert_eq!(peer_quantile(&r.buckets, 0.5), (1000, 2000));
        assert_eq!(peer_quantile(&r.buckets, 0.9), (2000, 4000));
        assert_eq!(peer_quantile(&r.buckets, 0.99), (8000, 16000));
        assert!(
            agrees(1950, (2000, 4000)) && !agrees(1700, (2000, 4000)) && agrees(4300, (2000, 4000))
        );
        assert!(parse_bpftrace("{\"type\": \"map\", \"data\": {\"@n\": 1}}").is_err());
    }

    #[test]
    fn reads_the_collectors_buckets() {
        let v: Value = serde_json::from_str(
            r#"{"count": 3, "buckets": [[1024, 1088, 2], [65536, 69632, 1], ["bad"]]}"#,
        )
        .unwrap();
        assert_eq!(autosa_buckets(&v), vec![(1024, 1088, 2), (65536, 69632, 1)]);
        assert!(autosa_buckets(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
