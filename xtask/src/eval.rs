//! `cargo xtask eval`: classification accuracy on labelled real workloads.
//!
//! For each workload (idle, cpu_bound, memory_bound, io_bound,
//! latency_sensitive, mixed) it starts the load, records snapshots with
//! `autosa record --out FILE --count N --interval 1s`, stops the load, replays
//! the recording through the policy engine (as a library) and compares each
//! interval after the warm-up with the label. It prints a confusion matrix and
//! per-class and overall accuracy, and fails below the targets.
//!
//! The machine should otherwise be quiet: a compile running beside "idle" is
//! not idle. Each run checks the CPU first and says when it was not quiet.

use std::fs;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use autosa::policy::{PolicyConfig, WorkloadClass};
use autosa::record::RecordingReader;
use autosa::replay::replay;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds (snapshots at 1 s) recorded per workload.
    #[arg(long, default_value_t = 25)]
    seconds: u32,
    /// Leading intervals not scored (the EWMA and hold-down settling).
    #[arg(long, default_value_t = 5)]
    warmup: u32,
    /// Only these workloads (comma-separated class names).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// The autosa binary that records.
    #[arg(long, default_value = "target/release/autosa")]
    autosa: PathBuf,
    /// Where recordings are written.
    #[arg(long, default_value = "target/eval")]
    out_dir: PathBuf,
    /// Copy the recordings into autosa/tests/fixtures/recordings/.
    #[arg(long)]
    save_fixtures: bool,
    /// Do not run workloads: score the recordings already in this directory
    /// (`<class>.jsonl`, e.g. the fixtures).
    #[arg(long)]
    replay_only: Option<PathBuf>,
    /// Policy configuration (TOML, the `[policy]` table's content).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Overall accuracy target.
    #[arg(long, default_value_t = 0.90)]
    min_overall: f64,
    /// Per-class accuracy target.
    #[arg(long, default_value_t = 0.80)]
    min_class: f64,
}

const FIXTURES: &str = "autosa/tests/fixtures/recordings";
const IO_FILE: &str = "/var/tmp/autosa-eval-io.fio";
const MEM_FILE: &str = "/var/tmp/autosa-eval-mem.fio";
/// Memory left available beside the anonymous hog. Measured on this 24 GiB
/// VM: 3 GiB headroom and a 4 GiB file read through mmap gave 6–8 % PSI
/// memory "some", 17k major faults/s and 20 % PSI io "some".
const MEM_HEADROOM_MIB: u64 = 3 * 1024;
/// The hog is freed at once if available memory falls below this.
const MEM_FLOOR_MIB: u64 = 768;

/// Every class, in [`WorkloadClass::ALL`] order, as a matrix index.
fn index(c: WorkloadClass) -> usize {
    WorkloadClass::ALL
        .iter()
        .position(|&x| x == c)
        .expect("in ALL")
}

fn parse_class(s: &str) -> Option<WorkloadClass> {
    WorkloadClass::ALL.into_iter().find(|c| c.as_str() == s)
}

/// Rows: the true label; columns: what the classifier said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfusionMatrix {
    counts: [[u64; 6]; 6],
}

impl ConfusionMatrix {
    pub fn add(&mut self, truth: WorkloadClass, predicted: WorkloadClass) {
        self.counts[index(truth)][index(predicted)] += 1;
    }

    pub fn count(&self, truth: WorkloadClass, predicted: WorkloadClass) -> u64 {
        self.counts[index(truth)][index(predicted)]
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    fn row_total(&self, truth: WorkloadClass) -> u64 {
        self.counts[index(truth)].iter().sum()
    }

    /// Correct over all scored intervals; `None` when nothing was scored.
    pub fn overall_accuracy(&self) -> Option<f64> {
        let correct: u64 = (0..6).map(|i| self.counts[i][i]).sum();
        let total = self.total();
        (total > 0).then(|| correct as f64 / total as f64)
    }

    /// Share of a class's intervals classified as that class (recall);
    /// `None` when the class was not run.
    pub fn class_accuracy(&self, truth: WorkloadClass) -> Option<f64> {
        let total = self.row_total(truth);
        (total > 0).then(|| self.count(truth, truth) as f64 / total as f64)
    }

    /// The targets missed, in words; empty when all are met.
    pub fn shortfalls(&self, min_overall: f64, min_class: f64) -> Vec<String> {
        let mut out = Vec::new();
        match self.overall_accuracy() {
            None => out.push("no interval was scored".to_string()),
            Some(a) if a < min_overall => out.push(format!(
                "overall accuracy {:.1} % is below {:.0} %",
                a * 100.0,
                min_overall * 100.0
            )),
            Some(_) => {}
        }
        for c in WorkloadClass::ALL {
            if let Some(a) = self.class_accuracy(c)
                && a < min_class
            {
                out.push(format!(
                    "{c}: accuracy {:.1} % is below {:.0} %",
                    a * 100.0,
                    min_class * 100.0
                ));
            }
        }
        out
    }

    /// The matrix as the heat map's data.
    pub fn plot_data(&self, source: String, warmup: u32) -> crate::plot::eval::EvalData {
        let all = WorkloadClass::ALL;
        crate::plot::eval::EvalData {
            source,
            warmup,
            classes: all.map(|c| c.as_str().to_string()).to_vec(),
            counts: all.map(|t| all.map(|p| self.count(t, p)).to_vec()).to_vec(),
        }
    }

    pub fn render(&self) -> String {
        let short = |c: WorkloadClass| match c {
            WorkloadClass::Idle => "idle",
            WorkloadClass::CpuBound => "cpu",
            WorkloadClass::LatencySensitive => "lat",
            WorkloadClass::IoBound => "io",
            WorkloadClass::MemoryBound => "mem",
            WorkloadClass::Mixed => "mixed",
        };
        let mut s = format!("{:<18}", "truth \\ said");
        for c in WorkloadClass::ALL {
            s.push_str(&format!("{:>7}", short(c)));
        }
        s.push_str("   accuracy\n");
        for t in WorkloadClass::ALL {
            if self.row_total(t) == 0 {
                continue;
            }
            s.push_str(&format!("{:<18}", t.as_str()));
            for p in WorkloadClass::ALL {
                s.push_str(&format!("{:>7}", self.count(t, p)));
            }
            let a = self.class_accuracy(t).unwrap_or(0.0);
            s.push_str(&format!("   {:5.1} %\n", a * 100.0));
        }
        if let Some(a) = self.overall_accuracy() {
            s.push_str(&format!(
                "overall: {:.1} % of {} intervals\n",
                a * 100.0,
                self.total()
            ));
        }
        s
    }
}

/// Score one recording: every step after the warm-up against the label.
fn score_recording(
    path: &Path,
    truth: WorkloadClass,
    warmup: u32,
    cfg: &PolicyConfig,
    matrix: &mut ConfusionMatrix,
) -> anyhow::Result<()> {
    let reader = RecordingReader::open(path)?;
    let steps = replay(reader, cfg).with_context(|| format!("replaying {}", path.display()))?;
    ensure!(
        steps.len() > warmup as usize,
        "{}: {} intervals, not more than the {warmup} warm-up intervals",
        path.display(),
        steps.len()
    );
    let mut said = ConfusionMatrix::default();
    for step in &steps[warmup as usize..] {
        matrix.add(truth, step.class);
        said.add(truth, step.class);
    }
    let parts: Vec<String> = WorkloadClass::ALL
        .into_iter()
        .filter(|&c| said.count(truth, c) > 0)
        .map(|c| format!("{c} {}", said.count(truth, c)))
        .collect();
    println!(
        "{truth}: {}/{} correct; said {}",
        said.count(truth, truth),
        said.total(),
        parts.join(", ")
    );
    // The interval in the middle, as an example of the reasons given.
    if let Some(mid) = steps.get(warmup as usize + (steps.len() - warmup as usize) / 2) {
        println!(
            "  e.g. {} {:.2}: {}",
            mid.class,
            mid.confidence,
            mid.reasons.first().map(String::as_str).unwrap_or("")
        );
    }
    Ok(())
}

/// The processes of one workload; each in its own process group, all
/// stopped (SIGTERM, then SIGKILL) when dropped, also on error.
struct Load {
    children: Vec<Child>,
}

impl Load {
    fn start(commands: &[Vec<String>]) -> anyhow::Result<Load> {
        use std::os::unix::process::CommandExt;
        let mut load = Load {
            children: Vec::new(),
        };
        for argv in commands {
            let child = Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .with_context(|| format!("starting {}", argv.join(" ")))?;
            load.children.push(child);
        }
        Ok(load)
    }

    /// Fails if a load process already exited (bad arguments, missing tool).
    fn check_running(&mut self) -> anyhow::Result<()> {
        for c in &mut self.children {
            if let Some(status) = c.try_wait()? {
                bail!("a workload process exited early ({status})");
            }
        }
        Ok(())
    }
}

fn signal_group(pid: u32, signal: &str) {
    // `kill` on the negative pid reaches the whole group (workers included).
    let _ = Command::new("kill")
        .args([signal, "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

impl Drop for Load {
    fn drop(&mut self) {
        for c in &self.children {
            signal_group(c.id(), "-TERM");
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for c in &mut self.children {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
            signal_group(c.id(), "-KILL");
            let _ = c.wait();
        }
    }
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

/// The commands that make each class's signal, checked by hand on the 2-CPU
/// VM (PSI, /proc/stat, /proc/vmstat and per-process schedstat while each ran).
fn commands(class: WorkloadClass, secs: u32) -> Vec<Vec<String>> {
    let t = secs + 30;
    match class {
        WorkloadClass::Idle => vec![],
        WorkloadClass::CpuBound => vec![words(&format!("stress-ng --cpu 4 --timeout {t}"))],
        // 2 threads sleeping 1 ms: ~2000 wakeups/s, ~20 µs runs, little CPU.
        WorkloadClass::LatencySensitive => vec![words(&format!(
            "cyclictest -q -t 2 -i 1000 --policy=other -D {t}"
        ))],
        // Blocking (psync) direct reads: tasks wait in D state, which PSI io
        // counts. libaio at queue depth 8 gave 39k IOPS but 0.4 % PSI io:
        // its tasks sleep interruptibly, so it does not look I/O-bound.
        WorkloadClass::IoBound => vec![words(&format!(
            "fio --name=eval-io --filename={IO_FILE} --size=1G --rw=randread --bs=4k \
             --direct=1 --ioengine=psync --numjobs=2 --time_based --runtime={t}"
        ))],
        // Page-cache thrash beside the anonymous hog (see `MemoryHog`).
        WorkloadClass::MemoryBound => vec![words(&format!(
            "fio --name=eval-mem --filename={MEM_FILE} --size=4G --rw=randread --bs=4k \
             --ioengine=mmap --numjobs=2 --time_based --runtime={t}"
        ))],
        WorkloadClass::Mixed => vec![
            words(&format!("stress-ng --cpu 4 --timeout {t}")),
            words(&format!("cyclictest -q -t 1 -i 1000 --policy=other -D {t}")),
        ],
    }
}

fn meminfo_mib(key: &str) -> anyhow::Result<u64> {
    let f = fs::File::open("/proc/meminfo")?;
    for line in std::io::BufReader::new(f).lines() {
        let line = line?;
        if let Some(rest) = line.strip_prefix(key) {
            let kib: u64 = rest
                .trim_start_matches(':')
                .split_whitespace()
                .next()
                .unwrap_or("")
                .parse()?;
            return Ok(kib / 1024);
        }
    }
    bail!("/proc/meminfo has no {key}")
}

/// Anonymous memory held so that only `MEM_HEADROOM_MIB` stays available:
/// without swap, page cache is all the kernel can reclaim, so a file larger
/// than the headroom thrashes. A watchdog frees it if memory runs short, and
/// this process is made the OOM killer's first choice meanwhile, so no other
/// process on the machine is at risk.
struct MemoryHog {
    held: Arc<Mutex<Option<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    watchdog: Option<thread::JoinHandle<()>>,
    old_oom_adj: String,
}

impl MemoryHog {
    fn start() -> anyhow::Result<MemoryHog> {
        let available = meminfo_mib("MemAvailable")?;
        ensure!(
            available > MEM_HEADROOM_MIB + 1024,
            "only {available} MiB available: memory_bound needs at least {} MiB",
            MEM_HEADROOM_MIB + 1024
        );
        let old_oom_adj = fs::read_to_string("/proc/self/oom_score_adj")?;
        fs::write("/proc/self/oom_score_adj", "1000")?;
        let size = ((available - MEM_HEADROOM_MIB) << 20) as usize;
        println!("  holding {} MiB of anonymous memory…", size >> 20);
        let started = Instant::now();
        let held = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let short = Arc::new(AtomicBool::new(false));
        let mut hog = MemoryHog {
            held: held.clone(),
            stop: stop.clone(),
            watchdog: None,
            old_oom_adj,
        };
        let short_seen = short.clone();
        hog.watchdog = Some(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if meminfo_mib("MemAvailable").is_ok_and(|m| m < MEM_FLOOR_MIB) {
                    eprintln!("  memory ran short: freeing the hog");
                    short.store(true, Ordering::Relaxed);
                    held.lock().expect("hog lock").take();
                }
                thread::sleep(Duration::from_millis(200));
            }
        }));
        // Filled in 64 MiB steps (a nonzero fill touches every page), stopping
        // (and freeing) as soon as the watchdog sees memory run short. `vec![1u8; n]` and
        // `extend_from_slice` are memset/memcpy even in a debug build.
        const STEP: usize = 64 << 20;
        let chunk = vec![1u8; STEP];
        let mut buf: Vec<u8> = Vec::with_capacity(size);
        while buf.len() < size {
            let n = STEP.min(size - buf.len());
            buf.extend_from_slice(&chunk[..n]);
            ensure!(
                !short_seen.load(Ordering::Relaxed),
                "memory ran short while filling the hog: other processes need the memory; \
                 run memory_bound on a quieter machine"
            );
        }
        *hog.held.lock().expect("hog lock") = Some(buf);
        println!("  filled in {:.0} s", started.elapsed().as_secs_f64());
        Ok(hog)
    }
}

impl Drop for MemoryHog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.held.lock().map(|mut h| h.take()).ok();
        if let Some(w) = self.watchdog.take() {
            let _ = w.join();
        }
        let _ = fs::write("/proc/self/oom_score_adj", self.old_oom_adj.trim());
    }
}

/// Create a data file for fio once (direct writes, not left in the page cache).
fn ensure_file(path: &str, size: &str, bytes: u64) -> anyhow::Result<()> {
    if fs::metadata(path).is_ok_and(|m| m.len() == bytes) {
        return Ok(());
    }
    println!("  creating {path} ({size})…");
    let status = Command::new("fio")
        .args([
            "--name=eval-prep",
            &format!("--filename={path}"),
            &format!("--size={size}"),
            "--rw=write",
            "--bs=1M",
            "--direct=1",
            "--ioengine=psync",
        ])
        .stdout(Stdio::null())
        .status()
        .context("running fio (apt-get install fio)")?;
    ensure!(status.success(), "fio could not write {path}");
    Ok(())
}

/// Reads `path` once through the page cache.
fn warm_page_cache(path: &str) -> anyhow::Result<()> {
    println!("  reading {path} into the page cache…");
    let started = Instant::now();
    let mut f = fs::File::open(path).with_context(|| format!("opening {path}"))?;
    let n = std::io::copy(&mut f, &mut std::io::sink())?;
    println!(
        "  {} MiB cached in {:.0} s",
        n >> 20,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Busy CPU fraction over `window` from /proc/stat.
fn cpu_busy(window: Duration) -> anyhow::Result<f64> {
    fn read() -> anyhow::Result<(u64, u64)> {
        let stat = fs::read_to_string("/proc/stat")?;
        let line = stat.lines().next().context("/proc/stat is empty")?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        ensure!(v.len() >= 5, "unexpected /proc/stat: {line}");
        let idle = v[3] + v[4];
        Ok((v.iter().take(8).sum::<u64>(), idle))
    }
    let (t0, i0) = read()?;
    thread::sleep(window);
    let (t1, i1) = read()?;
    let total = (t1 - t0).max(1);
    Ok(1.0 - (i1 - i0) as f64 / total as f64)
}

/// Wait up to a minute for the machine to be quiet; returns how busy it
/// still was when it never got quiet.
fn wait_quiet() -> anyhow::Result<Option<f64>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let busy = cpu_busy(Duration::from_secs(2))?;
        if busy < 0.2 {
            return Ok(None);
        }
        if Instant::now() > deadline {
            println!(
                "  WARNING: the machine is {:.0} % busy before the workload starts: \
                 other load will be measured with it",
                busy * 100.0
            );
            return Ok(Some(busy));
        }
    }
}

/// Runs one workload while `autosa record` records it; returns how busy the
/// machine was beforehand when it was not quiet.
fn run_workload(
    class: WorkloadClass,
    args: &Args,
    autosa: &Path,
    out: &Path,
) -> anyhow::Result<Option<f64>> {
    println!("{class}: preparing");
    let mut disturbed = None;
    let _hog = match class {
        WorkloadClass::IoBound => {
            ensure_file(IO_FILE, "1G", 1 << 30)?;
            None
        }
        WorkloadClass::MemoryBound => {
            ensure_file(MEM_FILE, "4G", 4 << 30)?;
            // The file's pages go into the page cache first; the hog then
            // makes the kernel evict most of them, so that the reads below
            // fetch pages that were evicted (refaults): a working set larger
            // than the memory left, which is what memory-bound means. Without
            // this, 25 s of random reads on a quiet machine only fill a cold
            // cache (measured: 0 refaults, 0 reclaim scans, PSI memory 0):
            // plain read I/O, rightly called io_bound.
            warm_page_cache(MEM_FILE)?;
            disturbed = wait_quiet()?;
            Some(MemoryHog::start()?)
        }
        _ => None,
    };
    if class != WorkloadClass::MemoryBound {
        disturbed = wait_quiet()?;
    }
    let mut load = Load::start(&commands(class, args.seconds))?;
    // Let the load reach its steady state before recording. Thrashing takes
    // longer to set in (measured: refaults and reclaim scans start about
    // 8 s after the reads begin, and grow for 10 s more).
    let settle = match class {
        WorkloadClass::MemoryBound => Duration::from_secs(15),
        _ => Duration::from_secs(2),
    };
    thread::sleep(settle);
    load.check_running()?;
    println!("{class}: recording {} s", args.seconds);
    let status = Command::new(autosa)
        .args(["record", "--out"])
        .arg(out)
        .args(["--count", &args.seconds.to_string(), "--interval", "1s"])
        .status()
        .with_context(|| format!("running {}", autosa.display()))?;
    ensure!(status.success(), "autosa record failed ({status})");
    load.check_running()?;
    Ok(disturbed)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // The heat map is drawn at the end: no font, no run.
    crate::plot::style::ensure_font()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has no parent directory")?
        .to_path_buf();
    let cfg = match &args.config {
        Some(p) => {
            let text = fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let cfg = PolicyConfig::from_toml(&text).with_context(|| p.display().to_string())?;
            cfg.validate()?;
            cfg
        }
        None => PolicyConfig::default(),
    };
    let mut classes = Vec::new();
    for name in &args.only {
        classes.push(parse_class(name).with_context(|| {
            format!(
                "unknown class {name:?}; use {}",
                WorkloadClass::ALL.map(|c| c.as_str()).join(", ")
            )
        })?);
    }
    if classes.is_empty() {
        classes = WorkloadClass::ALL.to_vec();
    }

    let mut matrix = ConfusionMatrix::default();
    let mut disturbed = Vec::new();
    if let Some(dir) = &args.replay_only {
        for class in classes {
            let path = dir.join(format!("{class}.jsonl"));
            if !path.exists() {
                println!("{class}: no {} — skipped", path.display());
                continue;
            }
            score_recording(&path, class, args.warmup, &cfg, &mut matrix)?;
        }
    } else {
        let autosa = root.join(&args.autosa);
        ensure!(
            autosa.exists(),
            "{} not found: build it with `cargo build --release -p autosa`",
            autosa.display()
        );
        let out_dir = root.join(&args.out_dir);
        fs::create_dir_all(&out_dir)?;
        for class in classes {
            let path = out_dir.join(format!("{class}.jsonl"));
            if let Some(busy) = run_workload(class, &args, &autosa, &path)? {
                disturbed.push(format!("{class} ({:.0} % busy before)", busy * 100.0));
            }
            score_recording(&path, class, args.warmup, &cfg, &mut matrix)?;
            if args.save_fixtures {
                let dir = root.join(FIXTURES);
                fs::create_dir_all(&dir)?;
                fs::copy(&path, dir.join(format!("{class}.jsonl")))?;
            }
        }
    }
    println!("\n{}", matrix.render());
    let source = match &args.replay_only {
        Some(dir) => format!("Replay of the recordings in {}", dir.display()),
        None => format!(
            "Live workloads, {} s recorded each (recordings in {})",
            args.seconds,
            args.out_dir.display()
        ),
    };
    crate::plot::publish(
        crate::plot::eval::NAME,
        &matrix.plot_data(source, args.warmup),
        Some(crate::plot::eval::render),
    )?;
    if !disturbed.is_empty() {
        println!(
            "NOTE: the machine was not quiet for {}: those rows measure other load too",
            disturbed.join(", ")
        );
    }
    let missed = matrix.shortfalls(args.min_overall, args.min_class);
    if !missed.is_empty() {
        bail!("below target: {}", missed.join("; "));
    }
    println!(
        "targets met (overall ≥ {:.0} %, every class ≥ {:.0} %)",
        args.min_overall * 100.0,
        args.min_class * 100.0
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use WorkloadClass::*;

    fn matrix(entries: &[(WorkloadClass, WorkloadClass, u64)]) -> ConfusionMatrix {
        let mut m = ConfusionMatrix::default();
        for &(t, p, n) in entries {
            for _ in 0..n {
                m.add(t, p);
            }
        }
        m
    }

    #[test]
    fn accuracy_maths() {
        let m = matrix(&[
            (Idle, Idle, 20),
            (CpuBound, CpuBound, 18),
            (CpuBound, Mixed, 2),
            (Mixed, Mixed, 15),
            (Mixed, CpuBound, 5),
        ]);
        assert_eq!(m.total(), 60);
        assert_eq!(m.count(CpuBound, Mixed), 2);
        assert_eq!(m.overall_accuracy(), Some(53.0 / 60.0));
        assert_eq!(m.class_accuracy(CpuBound), Some(0.9));
        assert_eq!(m.class_accuracy(Mixed), Some(0.75));
        assert_eq!(m.class_accuracy(IoBound), None);
    }

    #[test]
    fn shortfalls_name_each_missed_target() {
        let m = matrix(&[
            (Idle, Idle, 20),
            (CpuBound, CpuBound, 18),
            (CpuBound, Mixed, 2),
            (Mixed, Mixed, 15),
            (Mixed, CpuBound, 5),
        ]);
        let missed = m.shortfalls(0.9, 0.8);
        assert_eq!(missed.len(), 2, "{missed:?}");
        assert!(missed[0].starts_with("overall accuracy 88.3 %"));
        assert!(missed[1].starts_with("mixed: accuracy 75.0 %"));
        assert!(matrix(&[(Idle, Idle, 10)]).shortfalls(0.9, 0.8).is_empty());
        assert_eq!(
            ConfusionMatrix::default().shortfalls(0.9, 0.8),
            vec!["no interval was scored".to_string()]
        );
    }

    #[test]
    fn plot_data_keeps_rows_as_truth() {
        let m = matrix(&[(IoBound, IoBound, 9), (IoBound, MemoryBound, 1)]);
        let d = m.plot_data("test".into(), 5);
        let (io, mem) = (index(IoBound), index(MemoryBound));
        assert_eq!(d.classes[io], "io_bound");
        assert_eq!(
            (d.counts[io][io], d.counts[io][mem], d.counts[mem][io]),
            (9, 1, 0)
        );
        assert_eq!(d.total(), 10);
    }

    #[test]
    fn render_shows_rows_that_ran() {
        let m = matrix(&[(IoBound, IoBound, 9), (IoBound, MemoryBound, 1)]);
        let text = m.render();
        assert!(text.contains("io_bound"));
        assert!(!text.contains("\nidle"));
        assert!(text.contains("90.0 %"));
        assert!(text.contains("overall: 90.0 % of 10 intervals"));
    }

    #[test]
    fn every_class_has_a_workload_and_a_name() {
        for c in WorkloadClass::ALL {
            assert_eq!(parse_class(c.as_str()), Some(c));
            let cmds = commands(c, 25);
            assert_eq!(cmds.is_empty(), c == Idle, "{c}");
        }
    }
}
