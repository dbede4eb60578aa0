//! `cargo xtask bench control`: the control socket under load. The release
//! `autosa run --backend none` (eBPF off, 100 ms interval, default
//! `[control]` limits) answers `status` to 1, 16, 64 and 256 concurrent
//! clients (each a fresh connection per request, as `autosa status` does),
//! without and with 32 slow clients holding connections (a third silent, a
//! third with half a request, a third pipelining requests and never reading;
//! each reopened as soon as the daemon closes it). Per round: request latency
//! p50/p99/max, refusals ("too many clients") and other errors, intervals the
//! daemon handled against those due, its CPU and peak RSS.
//!
//! The clients run on the same machine as the daemon: on 2 CPUs they compete
//! with it, which is the point (a busy host), and bounds what is measured.

use std::io::{Read as _, Write as _};
use std::os::fd::AsRawFd as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use autosa::control::{Client, Request, Response};

use crate::host::{TermOnDrop, cpu_ticks_and_rss, ticks_per_second};

#[derive(clap::Args)]
pub struct ControlArgs {
    /// Seconds per round.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent well-behaved clients, one round each (with and without
    /// the slow ones).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    clients: Vec<usize>,
    /// Slow clients holding connections in the second round of each.
    #[arg(long, default_value_t = 32)]
    slow: usize,
    /// The autosa binary (release); default: `$CARGO_TARGET_DIR` (or
    /// `target`)`/release/autosa`.
    #[arg(long)]
    autosa: Option<PathBuf>,
}

const INTERVAL: Duration = Duration::from_millis(100);

struct Daemon {
    child: TermOnDrop,
    socket: PathBuf,
    metrics: String,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start(autosa: &Path) -> anyhow::Result<Daemon> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let config = dir.path().join("autosa.toml");
        std::fs::write(
            &config,
            format!(
                "[daemon]\nstate_dir = \"{d}/state\"\n\
                 [collect]\ninterval = \"100ms\"\nbpf = false\n\
                 [control]\nsocket = \"{d}/autosa.sock\"\n\
                 [metrics]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n",
                d = dir.path().display()
            ),
        )?;
        let log = std::fs::File::create(dir.path().join("daemon.log"))?;
        let child = Command::new(autosa)
            .arg("--config")
            .arg(&config)
            .args(["--log", "autosa=warn", "run", "--backend", "none"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", autosa.display()))?;
        let d = Daemon {
            child: TermOnDrop(child),
            socket: dir.path().join("autosa.sock"),
            metrics: format!("127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(Client::new(&d.socket).call(&Request::Status), Ok(Response::Status(s)) if s.class.is_some())
            || d.intervals().is_none()
        {
            ensure!(Instant::now() < deadline, "the daemon did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(d)
    }

    /// `autosa_intervals_total` from the metrics endpoint.
    fn intervals(&self) -> Option<u64> {
        let mut s = std::net::TcpStream::connect(&self.metrics).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text.lines()
            .find_map(|l| l.strip_prefix("autosa_intervals_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
    }

    fn dropped(&self) -> u64 {
        match Client::new(&self.socket).call(&Request::Status) {
            Ok(Response::Status(s)) => s.dropped_intervals,
            _ => 0,
        }
    }

    /// utime + stime in clock ticks, and RSS in KiB (0, 0 once it is gone).
    fn cpu_and_rss(&self) -> (u64, u64) {
        cpu_ticks_and_rss(self.child.0.id()).unwrap_or((0, 0))
    }
}

/// One slow connection: silent, half a request, or never reading.
fn open_slow(socket: &Path, kind: usize) -> Option<UnixStream> {
    let mut s = UnixStream::connect(socket).ok()?;
    match kind % 3 {
        0 => {}
        1 => s.write_all(br#"{"cmd":"sta"#).ok()?,
        _ => {
            let mut w = s.try_clone().ok()?;
            w.set_write_timeout(Some(Duration::from_secs(30))).ok()?;
            std::thread::spawn(move || {
                let _ = w.write_all(
                    &br#"{"cmd":"status"}
"#
                    .repeat(5000),
                );
            });
        }
    }
    Some(s)
}

/// Whether the daemon closed its end (POLLRDHUP), without reading.
fn peer_closed(s: &UnixStream) -> bool {
    let mut p = libc::pollfd {
        fd: s.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// Keeps `n` slow connections open until `stop`; how many it (re)opened.
fn hold_slow(socket: PathBuf, n: usize, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut opened = 0;
        let mut conns: Vec<Option<UnixStream>> = (0..n).map(|_| None).collect();
        while !stop.load(Ordering::Relaxed) {
            for (i, c) in conns.iter_mut().enumerate() {
                if c.as_ref().is_none_or(peer_closed) {
                    *c = open_slow(&socket, i);
                    opened += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        opened
    })
}

struct Round {
    clients: usize,
    slow: usize,
    latencies_us: Vec<u64>,
    refused: u64,
    errors: u64,
    first_error: Option<String>,
    slow_opened: u64,
    handled: u64,
    due: u64,
    dropped: u64,
    cpu_percent: f64,
    rss_peak_kib: u64,
}

fn round(d: &Daemon, clients: usize, slow: usize, seconds: u64) -> anyhow::Result<Round> {
    let stop = Arc::new(AtomicBool::new(false));
    let holder = (slow > 0).then(|| hold_slow(d.socket.clone(), slow, stop.clone()));
    if slow > 0 {
        // Let the slow ones take their slots first.
        std::thread::sleep(Duration::from_millis(500));
    }
    let (ticks0, _) = d.cpu_and_rss();
    let (intervals0, dropped0) = (d.intervals().context("metrics")?, d.dropped());
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(seconds);
    let refused = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (socket, refused) = (d.socket.clone(), refused.clone());
            std::thread::spawn(move || {
                let client = Client::new(&socket).with_timeout(Duration::from_secs(10));
                let (mut lat, mut errors, mut first) = (Vec::new(), 0u64, None);
                while Instant::now() < until {
                    let t = Instant::now();
                    match client.call(&Request::Status) {
                        Ok(Response::Status(_)) => lat.push(t.elapsed().as_micros() as u64),
                        Ok(Response::Error { message })
                            if message.starts_with("too many clients") =>
                        {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        other => {
                            errors += 1;
                            first.get_or_insert_with(|| format!("{other:?}"));
                        }
                    }
                }
                (lat, errors, first)
            })
        })
        .collect();
    let mut rss_peak = 0;
    while Instant::now() < until {
        rss_peak = rss_peak.max(d.cpu_and_rss().1);
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut latencies_us = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for w in workers {
        let (lat, e, first) = w.join().map_err(|_| anyhow::anyhow!("a client panicked"))?;
        latencies_us.extend(lat);
        errors += e;
        first_error = first_error.or(first);
    }
    let elapsed = t0.elapsed();
    let (ticks1, rss) = d.cpu_and_rss();
    let handled = d.intervals().context("metrics")? - intervals0;
    let dropped = d.dropped() - dropped0;
    stop.store(true, Ordering::Relaxed);
    let slow_opened = holder.map_or(0, |h| h.join().unwrap_or(0));
    let hz = ticks_per_second();
    latencies_us.sort_unstable();
    Ok(Round {
        clients,
        slow,
        latencies_us,
        refused: refused.load(Ordering::Relaxed),
        errors,
        first_error,
        slow_opened,
        handled,
        due: (elapsed.as_millis() / INTERVAL.as_millis()) as u64,
        dropped,
        cpu_percent: (ticks1 - ticks0) as f64 / hz / elapsed.as_secs_f64() * 100.0,
        rss_peak_kib: rss_peak.max(rss),
    })
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

pub fn run(args: ControlArgs) -> anyhow::Result<()> {
    let autosa = args
        .autosa
        .unwrap_or_else(|| crate::host::target_dir().join("release/autosa"));
    ensure!(
        autosa.is_file(),
        "{} not found: build it with `cargo build --release -p autosa` (or give --autosa)",
        autosa.display()
    );
    let daemon = Daemon::start(&autosa)?;
    println!(
        "autosa {} run --backend none, 100 ms interval, eBPF off, [control] defaults \
         (max_clients 32); {} s per round; clients on the same CPUs",
        autosa.display(),
        args.seconds
    );
    println!(
        "\n| clients | slow clients | answered | refused | errors | p50 ms | p99 ms | max ms | intervals handled / due (dropped) | daemon CPU | daemon RSS peak |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut failures = Vec::new();
    for &clients in &args.clients {
        let slows: &[usize] = if args.slow == 0 {
            &[0]
        } else {
            &[0, args.slow]
        };
        for &slow in slows {
            let r = round(&daemon, clients, slow, args.seconds)?;
            let l = &r.latencies_us;
            println!(
                "| {} | {}{} | {} | {} | {} | {} | {} | {} | {} / {} ({}) | {:.1} % | {:.1} MiB |",
                r.clients,
                r.slow,
                if r.slow > 0 {
                    format!(" ({} opened)", r.slow_opened)
                } else {
                    String::new()
                },
                l.len(),
                r.refused,
                r.errors,
                ms(percentile(l, 0.5)),
                ms(percentile(l, 0.99)),
                ms(l.last().copied().unwrap_or(0)),
                r.handled,
                r.due,
                r.dropped,
                r.cpu_percent,
                r.rss_peak_kib as f64 / 1024.0
            );
            if let Some(e) = r.first_error {
                failures.push(format!("{clients} clients, {slow} slow: {e}"));
            }
        }
    }
    println!(
        "\nLatency: connect, send `status`, read the answer (as `autosa status` does). Refused: \
         the documented \"too many clients\" answer. Slow clients are reopened as soon as the \
         daemon closes them (\"opened\" counts them). CPU is of one CPU."
    );
    if !failures.is_empty() {
        bail!("requests failed:\n{}", failures.join("\n"));
    }
    Ok(())
}
