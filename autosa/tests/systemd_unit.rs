//! contrib/autosa.service is a valid unit (`systemd-analyze verify`), its
//! hardening keeps systemd's exposure score at or below 2.0 (also with the
//! sched_ext drop-in; the metrics drop-in opens the network and only that),
//! and the capability bounding set it declares is enough
//! for autosa to load its eBPF programs (run under `setpriv` with exactly
//! that set).
//!
//! Needs systemd-analyze (Debian: systemd); the capability check needs root
//! and setpriv (util-linux). Under `CI` a missing tool fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const UNIT: &str = include_str!("../../contrib/autosa.service");
const SCHED_EXT_DROPIN: &str = include_str!("../../contrib/sched-ext.conf");
const METRICS_DROPIN: &str = include_str!("../../contrib/metrics.conf");
const MAX_EXPOSURE: f64 = 2.0;

fn have(tool: &str, why: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing ({why}); CI must install it"
        );
        eprintln!("skipped: {tool} is missing ({why})");
    }
    ok
}

/// The unit in a temp dir, pointing at the binary cargo built (verify
/// checks that ExecStart exists and is executable).
fn unit_dir(dropins: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("autosa.service");
    let text = UNIT.replace("/usr/local/bin/autosa", env!("CARGO_BIN_EXE_autosa"));
    assert_ne!(text, UNIT, "ExecStart names /usr/local/bin/autosa");
    std::fs::write(&path, text).unwrap();
    if !dropins.is_empty() {
        let d = dir.path().join("autosa.service.d");
        std::fs::create_dir(&d).unwrap();
        for (name, text) in dropins {
            std::fs::write(d.join(name), text).unwrap();
        }
    }
    (dir, path)
}

fn exposure(unit: &Path) -> (f64, String) {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let figure = text
        .lines()
        .find_map(|l| {
            let rest = l
                .split("Overall exposure level for autosa.service:")
                .nth(1)?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
        .unwrap_or_else(|| panic!("no exposure figure in:\n{text}"));
    (figure, text)
}

#[test]
fn unit_verifies_alone_and_with_each_dropin() {
    if !have("systemd-analyze", "checks the unit") {
        return;
    }
    let sets: [&[(&str, &str)]; 3] = [
        &[],
        &[("sched-ext.conf", SCHED_EXT_DROPIN)],
        &[("metrics.conf", METRICS_DROPIN)],
    ];
    for dropins in sets {
        let (_dir, unit) = unit_dir(dropins);
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&unit)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("autosa.service"),
            "verify (drop-ins: {dropins:?}) complained:\n{stderr}"
        );
    }
}

#[test]
fn exposure_is_at_most_two() {
    if !have("systemd-analyze", "scores the unit's hardening") {
        return;
    }
    let (_dir, unit) = unit_dir(&[]);
    let (plain, text) = exposure(&unit);
    eprintln!("exposure: {plain}");
    assert!(
        plain <= MAX_EXPOSURE,
        "exposure {plain} > {MAX_EXPOSURE}:\n{text}"
    );
    let (_dir, unit) = unit_dir(&[("sched-ext.conf", SCHED_EXT_DROPIN)]);
    let (scx, text) = exposure(&unit);
    eprintln!("exposure with the sched_ext drop-in: {scx}");
    assert!(scx > plain, "the drop-in adds CAP_SYS_ADMIN:\n{text}");
    assert!(
        scx <= MAX_EXPOSURE,
        "exposure {scx} > {MAX_EXPOSURE}:\n{text}"
    );
}

/// The settings systemd-analyze flags (✗), by name.
fn flagged(report: &str) -> std::collections::BTreeSet<String> {
    report
        .lines()
        .filter_map(|l| l.strip_prefix("✗ "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The metrics drop-in has to open the network (exposure 2.3 here): it must
/// open exactly that and nothing else.
#[test]
fn the_metrics_dropin_opens_only_the_network() {
    if !have("systemd-analyze", "scores the unit's hardening") {
        return;
    }
    let (_dir, unit) = unit_dir(&[]);
    let (_, plain) = exposure(&unit);
    let (_dir, unit) = unit_dir(&[("metrics.conf", METRICS_DROPIN)]);
    let (figure, metrics) = exposure(&unit);
    eprintln!("exposure with the metrics drop-in: {figure}");
    let (plain, metrics) = (flagged(&plain), flagged(&metrics));
    let opened: Vec<&String> = metrics.difference(&plain).collect();
    assert_eq!(
        opened,
        [
            "IPAddressDeny=",
            "PrivateNetwork=",
            "RestrictAddressFamilies=~AF_(INET|INET6)"
        ],
        "{metrics:#?}"
    );
}

/// `CAP_BPF CAP_PERFMON …` from the unit → `-all,+bpf,+perfmon,…` for setpriv.
fn bounding_set(unit: &str) -> String {
    let caps: Vec<String> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .flat_map(|v| v.split_whitespace())
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    assert!(!caps.is_empty(), "the unit sets CapabilityBoundingSet");
    format!("-all,{}", caps.join(","))
}

#[test]
fn the_units_capabilities_load_ebpf() {
    if !nix::unistd::geteuid().is_root() {
        assert!(std::env::var_os("CI").is_none(), "needs root under CI");
        eprintln!("skipped: needs root (eBPF)");
        return;
    }
    if !have("setpriv", "drops capabilities") {
        return;
    }
    let caps = bounding_set(UNIT);
    assert_eq!(caps, "-all,+bpf,+perfmon,+sys_nice");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("autosa.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"{}\"\n[control]\nsocket = \"{}\"\n[collect]\ninterval = \"200ms\"\nblock_latency = false\n",
            dir.path().join("state").display(),
            dir.path().join("autosa.sock").display()
        ),
    )
    .unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = Command::new("setpriv")
        .args(["--bounding-set", &caps, "--inh-caps=-all", "--"])
        .arg(env!("CARGO_BIN_EXE_autosa"))
        .arg("--config")
        .arg(&cfg)
        .args(["run", "--backend", "none"])
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let guard = Kill(&mut child);
    // Loading eBPF beside other tests on 2 CPUs can take a while.
    let end = Instant::now() + Duration::from_secs(180);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("autosa running") {
            break text;
        }
        assert!(
            guard.0.try_wait().unwrap().is_none(),
            "autosa exited:\n{text}"
        );
        assert!(Instant::now() < end, "autosa did not start:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        text.contains("ebpf=true"),
        "eBPF did not load with {caps}:\n{text}"
    );
}
