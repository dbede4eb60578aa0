//! `cargo xtask soak`: the daemon at a short interval under a load that
//! changes every `--phase-secs` (CPU hogs beside a 1 ms sleeper, fio random
//! I/O, stress-ng pipe ping-pong, idle), for `--minutes`.
//!
//! Every 10 s: the daemon's RSS (and its anonymous part), open file
//! descriptors and threads. At the end: the memory slopes (least squares,
//! KiB/min, after the warm-up and over the second half; the bound is on
//! anonymous memory over the second half, when a leak still grows but
//! allocators have settled), fd
//! and thread growth, intervals the daemon dropped (its log), and what the
//! eBPF side could not record (ring-buffer events lost, maps full) as seen by
//! a recorder beside it (`autosa record`, 1 s: the daemon does not report
//! these counts itself yet). Exits non-zero when the slope or the fd growth
//! is above its bound, or the daemon died.
//!
//! Needs root, python3, fio and stress-ng.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};

use crate::plot::soak::SoakSample;

const SAMPLE_EVERY: Duration = Duration::from_secs(10);

#[derive(clap::Args)]
pub struct Args {
    /// How long to run.
    #[arg(long, default_value_t = 30)]
    minutes: u64,
    /// The daemon's interval (`100ms`, `1s`).
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    interval: Duration,
    /// Backend: `eevdf` acts on the soak's own hogs and sleeper only; `none`
    /// decides and logs.
    #[arg(long, default_value = "eevdf")]
    backend: String,
    /// Seconds of each load phase.
    #[arg(long, default_value_t = 60)]
    phase_secs: u64,
    /// Samples before this many minutes are left out of the slope.
    #[arg(long, default_value_t = 2.0)]
    warmup_minutes: f64,
    /// Fail above this slope of anonymous RSS over the second half of the
    /// run (KiB per minute).
    #[arg(long, default_value_t = 64.0)]
    max_slope_kib_per_min: f64,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?}: use e.g. 100ms or 1s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        _ => Err(format!("{s:?}: use ms or s")),
    }
}

fn sample(pid: u32, minutes: f64) -> Option<SoakSample> {
    let p = procfs::process::Process::new(pid as i32).ok()?;
    let status = p.status().ok()?;
    Some(SoakSample {
        minutes,
        rss_kib: status.vmrss?,
        anon_kib: status.rssanon?,
        threads: status.threads,
        fds: p.fd_count().ok()?,
    })
}

/// Least-squares slope of y over x.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 3 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The processes of one load phase; killed and reaped on drop.
struct Phase {
    name: &'static str,
    children: Vec<Child>,
}

impl Drop for Phase {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const PHASES: [&str; 4] = ["cpu+sleeper", "fio", "pipe", "idle"];

fn start_phase(i: usize, root: &Path, dir: &Path, secs: u64) -> anyhow::Result<Phase> {
    let name = PHASES[i % PHASES.len()];
    let quiet = |c: &mut Command| {
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    };
    let mut children = Vec::new();
    match name {
        "cpu+sleeper" => {
            let script = root.join("autosa/tests/support/benefit_load.py");
            for (role, comm) in [
                ("sleeper", "soak-sleep"),
                ("hog", "soak-hog"),
                ("hog", "soak-hog"),
                ("hog", "soak-hog"),
            ] {
                let mut c = Command::new("python3");
                c.arg(&script).args([role, comm]);
                quiet(&mut c);
                children.push(c.spawn().context("python3 (cpu phase)")?);
            }
        }
        "fio" => {
            let mut c = Command::new("fio");
            c.args([
                "--name=soak",
                "--rw=randrw",
                "--bs=4k",
                "--size=32m",
                "--ioengine=psync",
                "--time_based",
                &format!("--runtime={secs}"),
                &format!("--directory={}", dir.display()),
                "--output=/dev/null",
            ]);
            quiet(&mut c);
            children.push(c.spawn().context("fio (io phase)")?);
        }
        "pipe" => {
            let mut c = Command::new("stress-ng");
            c.args(["--pipe", "1", "--timeout", &format!("{secs}s"), "--quiet"]);
            quiet(&mut c);
            children.push(c.spawn().context("stress-ng (pipe phase)")?);
        }
        _ => {}
    }
    Ok(Phase { name, children })
}

fn write_config(dir: &Path, interval: Duration) -> anyhow::Result<PathBuf> {
    let path = dir.join("autosa.toml");
    let text = format!(
        "[daemon]\nstate_dir = \"{}\"\n\n[control]\nsocket = \"{}\"\n\n[collect]\ninterval = \"{}ms\"\ntop_tasks = 64\n\n\
         [eevdf]\nonly_comms = [\"soak-hog\", \"soak-sleep\"]\n",
        dir.join("state").display(),
        dir.join("autosa.sock").display(),
        interval.as_millis()
    );
    fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

struct Proc(Child);

impl Proc {
    fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(s)) = self.0.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        self.0.wait().ok()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    ensure!(
        crate::host::is_root(),
        "soak needs root (eBPF, sched_setattr)"
    );
    crate::plot::style::ensure_font()?;
    let root = crate::host::workspace_root();
    let autosa = crate::host::build_autosa(crate::host::Profile::Debug)?;
    let dir = std::env::temp_dir().join(format!("autosa-soak-{}", std::process::id()));
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let config = write_config(&dir, args.interval)?;
    let log_path = dir.join("daemon.log");
    let log = fs::File::create(&log_path)?;
    let mut daemon = Proc(
        Command::new(&autosa)
            .arg("--config")
            .arg(&config)
            .args(["--log", "autosa=info", "run", "--backend", &args.backend])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting the daemon")?,
    );
    let pid = daemon.0.id();
    let rec_path = dir.join("beside.jsonl");
    let mut recorder = Proc(
        Command::new(&autosa)
            .arg("--config")
            .arg(&config)
            .args(["record", "--interval", "1s", "--out"])
            .arg(&rec_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("recorder.log"))?)
            .spawn()
            .context("starting the recorder")?,
    );
    eprintln!(
        "soak: {} min, interval {:?}, backend {}, daemon pid {pid}, files in {}",
        args.minutes,
        args.interval,
        args.backend,
        dir.display()
    );
    let total = Duration::from_secs(args.minutes * 60);
    let phase_len = Duration::from_secs(args.phase_secs);
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut phase_no = 0;
    let mut phase = start_phase(0, &root, &dir, args.phase_secs)?;
    let mut phase_start = start;
    let mut next_sample = start;
    let mut died = None;
    while start.elapsed() < total {
        if let Ok(Some(status)) = daemon.0.try_wait() {
            died = Some(status);
            break;
        }
        if phase_start.elapsed() >= phase_len {
            drop(phase);
            phase_no += 1;
            phase = start_phase(phase_no, &root, &dir, args.phase_secs)?;
            phase_start = Instant::now();
        }
        if Instant::now() >= next_sample {
            let minutes = start.elapsed().as_secs_f64() / 60.0;
            if let Some(s) = sample(pid, minutes) {
                println!(
                    "{:6.2} min  phase {:<11}  rss {:6} KiB  anon {:6} KiB  fds {:3}  threads {:3}",
                    s.minutes, phase.name, s.rss_kib, s.anon_kib, s.fds, s.threads
                );
                samples.push(s);
            }
            next_sample += SAMPLE_EVERY;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(phase);
    // fio's data file; the logs and the recording stay for inspection.
    let _ = fs::remove_file(dir.join("soak.0.0"));
    let exit = daemon.terminate();
    recorder.terminate();
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    if let Some(status) = died {
        bail!(
            "the daemon died after {:.1} min ({status}); log in {}",
            start.elapsed().as_secs_f64() / 60.0,
            log_path.display()
        );
    }
    report(&args, &samples, &text, &rec_path, exit, start.elapsed())
}

fn report(
    args: &Args,
    samples: &[SoakSample],
    log: &str,
    recording: &Path,
    exit: Option<std::process::ExitStatus>,
    ran: Duration,
) -> anyhow::Result<()> {
    let after: Vec<&SoakSample> = samples
        .iter()
        .filter(|s| s.minutes >= args.warmup_minutes)
        .collect();
    let points: Vec<(f64, f64)> = after
        .iter()
        .map(|s| (s.minutes, s.anon_kib as f64))
        .collect();
    let rss_points: Vec<(f64, f64)> = after
        .iter()
        .map(|s| (s.minutes, s.rss_kib as f64))
        .collect();
    let slope_all = slope(&points);
    let rss_slope = self::slope(&rss_points);
    crate::plot::publish(
        crate::plot::soak::NAME,
        &plot_data(args, samples, ran),
        Some(crate::plot::soak::render),
    )?;
    // Allocators and caches settle for a while after the warm-up; a leak
    // keeps growing, so the bound is on the second half of the run.
    let half = (args.minutes as f64 / 2.0).max(args.warmup_minutes);
    let late: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.0 >= half).collect();
    let late_rss: Vec<(f64, f64)> = rss_points.iter().copied().filter(|p| p.0 >= half).collect();
    let slope = self::slope(&late);
    let (first, last) = (after.first(), after.last());
    let fd_growth = match (first, last) {
        (Some(a), Some(b)) => b.fds as i64 - a.fds as i64,
        _ => 0,
    };
    let thread_range = after
        .iter()
        .map(|s| s.threads)
        .min()
        .zip(after.iter().map(|s| s.threads).max());
    let intervals = (ran.as_millis() / args.interval.as_millis().max(1)) as u64;
    let dropped = log.matches("an interval was dropped").count();
    let skipped =
        log.matches("skipping this interval").count() + log.matches("skipping an interval").count();
    let panics = log.matches("panicked").count();
    let errors = log.lines().filter(|l| l.contains(" ERROR ")).count();
    let changes = log.matches(" changed what=").count();
    let restores = log.matches(" restored what=").count();

    let mut lost = autosa::model::snapshot::ProbeDrops::default();
    let mut recorded = 0u64;
    if let Ok(reader) = autosa::record::RecordingReader::open(recording) {
        for s in reader.flatten() {
            recorded += 1;
            if let Some(sched) = &s.sched {
                lost.events_lost += sched.drops.events_lost;
                lost.pid_map_full += sched.drops.pid_map_full;
                lost.tgid_map_full += sched.drops.tgid_map_full;
                lost.block_map_full += sched.drops.block_map_full;
            }
        }
    }

    println!(
        "\nsoak: {:.1} min at {:?}, backend {}",
        ran.as_secs_f64() / 60.0,
        args.interval,
        args.backend
    );
    match (slope_all, first, last) {
        (Some(k), Some(a), Some(b)) => println!(
            "memory after {:.1} min warm-up, {} samples: anonymous {} → {} KiB, slope {k:+.1} KiB/min; \
             RSS {} → {} KiB, slope {:+.1} KiB/min",
            args.warmup_minutes,
            points.len(),
            a.anon_kib,
            b.anon_kib,
            a.rss_kib,
            b.rss_kib,
            rss_slope.unwrap_or(0.0)
        ),
        _ => println!("memory: too few samples after the warm-up for a slope"),
    }
    match slope {
        Some(k) => println!(
            "memory from {half:.1} min on ({} samples): anonymous slope {k:+.2} KiB/min (bound {}), \
             RSS slope {:+.2} KiB/min",
            late.len(),
            args.max_slope_kib_per_min,
            self::slope(&late_rss).unwrap_or(0.0)
        ),
        None => println!("memory: too few samples in the second half for a slope"),
    }
    println!(
        "fds: {} → {} ({fd_growth:+}); threads {}",
        first.map_or(0, |s| s.fds),
        last.map_or(0, |s| s.fds),
        thread_range.map_or("?".into(), |(a, b)| format!("{a}..{b}"))
    );
    println!(
        "intervals: about {intervals}; dropped (daemon behind) {dropped}; skipped (observe or derive failed) {skipped}"
    );
    println!(
        "eBPF drops seen by a recorder beside the daemon ({recorded} snapshots at 1 s): \
         ring-buffer events lost {}, pid map full {}, tgid map full {}, block map full {}",
        lost.events_lost, lost.pid_map_full, lost.tgid_map_full, lost.block_map_full
    );
    println!(
        "daemon: {changes} changes, {restores} restores logged, {errors} ERROR lines, {panics} panics; exit {}",
        exit.map_or("?".into(), |s| s.to_string())
    );

    let mut failed = Vec::new();
    if let Some(k) = slope
        && k > args.max_slope_kib_per_min
    {
        failed.push(format!(
            "memory grows {k:.1} KiB/min (bound {})",
            args.max_slope_kib_per_min
        ));
    }
    if fd_growth > 2 {
        failed.push(format!("file descriptors grew by {fd_growth}"));
    }
    if panics > 0 {
        failed.push(format!("{panics} panics in the log"));
    }
    if dropped as u64 > intervals / 100 {
        failed.push(format!(
            "{dropped} of {intervals} intervals dropped (bound 1 %)"
        ));
    }
    if !exit.is_some_and(|s| s.success()) {
        failed.push("the daemon did not exit cleanly on SIGTERM".into());
    }
    ensure!(failed.is_empty(), "soak failed: {}", failed.join("; "));
    Ok(())
}

/// The samples as the plot's data (`target/bench/soak.json`).
fn plot_data(args: &Args, samples: &[SoakSample], ran: Duration) -> crate::plot::soak::SoakData {
    crate::plot::soak::SoakData {
        minutes: ran.as_secs_f64() / 60.0,
        interval_ms: args.interval.as_millis() as u64,
        backend: args.backend.clone(),
        warmup_minutes: args.warmup_minutes,
        samples: samples.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_and_of_noise() {
        let line: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64, 100.0 + 3.0 * i as f64))
            .collect();
        assert!((slope(&line).unwrap() - 3.0).abs() < 1e-9);
        let flat = [(0.0, 5.0), (1.0, 6.0), (2.0, 5.0), (3.0, 6.0)];
        assert!(slope(&flat).unwrap().abs() < 0.5);
        assert_eq!(slope(&[(0.0, 1.0)]), None);
    }

    #[test]
    fn a_live_process_is_sampled() {
        let s = sample(std::process::id(), 1.5).expect("own process");
        assert_eq!(s.minutes, 1.5);
        assert!(s.rss_kib >= s.anon_kib && s.anon_kib > 0, "{s:?}");
        assert!(s.threads >= 1 && s.fds >= 3, "{s:?}");
        assert_eq!(sample(u32::MAX / 2, 0.0), None, "no such process");
    }

    #[test]
    fn plot_data_keeps_every_sample() {
        let args = Args {
            minutes: 1,
            interval: Duration::from_millis(100),
            backend: "none".into(),
            phase_secs: 60,
            warmup_minutes: 0.5,
            max_slope_kib_per_min: 64.0,
        };
        let s = SoakSample {
            minutes: 0.25,
            rss_kib: 12_000,
            anon_kib: 4_000,
            fds: 33,
            threads: 4,
        };
        let d = plot_data(&args, &[s, s], Duration::from_secs(90));
        assert_eq!((d.minutes, d.interval_ms, d.samples.len()), (1.5, 100, 2));
        assert_eq!(
            (
                d.samples[1].rss_kib,
                d.samples[1].anon_kib,
                d.samples[1].fds
            ),
            (12_000, 4_000, 33)
        );
        assert_eq!(d.backend, "none");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("1h").is_err());
    }
}
