//! The OpenMetrics endpoint of the real daemon (`autosa run --backend none`
//! with `[metrics] enabled = true`): GET /metrics answers with metrics that
//! `promtool check metrics` accepts, OpenMetrics when asked for it, 404 for
//! other paths. As root eBPF loads and the run-queue histogram fills.
//!
//! Needs promtool (Debian: prometheus); under `CI` a missing promtool fails.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request; the status line, the headers and the body.
fn get(port: u16, path: &str, accept: &str) -> std::io::Result<(String, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\n\r\n"
    )?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    Ok((status.to_owned(), headers.to_owned(), body.to_owned()))
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

fn promtool(text: &str) -> Option<(bool, String)> {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is missing ({e}); CI installs the prometheus package"
            );
            eprintln!("skipped the promtool check: promtool is missing ({e})");
            return None;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

#[test]
fn get_metrics_from_the_running_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("autosa.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"{}\"\n[control]\nsocket = \"{}\"\n[collect]\ninterval = \"200ms\"\n\
             [metrics]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n",
            dir.path().join("state").display(),
            dir.path().join("autosa.sock").display()
        ),
    )
    .unwrap();
    let log = dir.path().join("stderr.log");
    let mut d = Daemon(
        Command::new(env!("CARGO_BIN_EXE_autosa"))
            .arg("--config")
            .arg(&cfg)
            .args(["run", "--backend", "none"])
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );

    // Loading eBPF beside other tests on 2 CPUs can take a while.
    let end = Instant::now() + Duration::from_secs(180);
    let text = loop {
        if let Ok((status, _, body)) = get(port, "/metrics", "*/*")
            && status.contains("200")
            && value(&body, "autosa_intervals_total").is_some_and(|n| n >= 3.0)
        {
            break body;
        }
        assert!(
            Instant::now() < end,
            "no metrics with 3 intervals on port {port}:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let classes: f64 = text
        .lines()
        .filter(|l| l.starts_with("autosa_workload_class{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(classes, 1.0, "exactly one class is current:\n{text}");
    assert!(
        value(&text, "autosa_cpu_utilisation_ratio").is_some(),
        "{text}"
    );
    assert!(text.contains("autosa_runqueue_latency_seconds_bucket{le=\"+Inf\"}"));
    let ebpf = std::fs::read_to_string(&log).unwrap().contains("ebpf=true");
    if ebpf {
        let n = value(&text, "autosa_runqueue_latency_seconds_count").unwrap();
        assert!(n > 0.0, "eBPF loaded, yet no run-queue latency:\n{text}");
    }
    if let Some((ok, out)) = promtool(&text) {
        assert!(ok, "promtool check metrics:\n{out}\n{text}");
    }

    let (status, headers, om) = get(
        port,
        "/metrics",
        "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
    )
    .unwrap();
    assert!(status.contains("200"), "{status}");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{headers}"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(
        om.contains("# UNIT autosa_runqueue_latency_seconds seconds"),
        "{om}"
    );

    let (status, _, _) = get(port, "/", "*/*").unwrap();
    assert!(status.contains("404"), "{status}");

    // The server does not hold the daemon up on SIGTERM.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(d.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = d.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_taken_port_is_a_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let cfg = dir.path().join("autosa.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"{}\"\n[control]\nsocket = \"{}\"\n[collect]\nbpf = false\n\
             [metrics]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n",
            dir.path().join("state").display(),
            dir.path().join("autosa.sock").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_autosa"))
        .arg("--config")
        .arg(&cfg)
        .args(["run", "--backend", "none"])
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("serving metrics on 127.0.0.1:{port}"))
            && stderr.contains("Address already in use"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("autosa running"),
        "fails before starting: {stderr}"
    );
}
