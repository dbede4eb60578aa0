//! What the control socket answers, rendered for people: `autosa status`,
//! `autosa schedulers`, `autosa history`. Pure: the time is an argument.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use crate::control::protocol::{BackendOffer, DaemonStatus};
use crate::history::{Entry, Record};
use crate::policy::plan::WorkloadClass;
use crate::switching::Action;
use crate::switching::decision::class_name;

/// `2026-11-25T21:30:01Z`.
pub fn clock(unix_ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(unix_ms)).to_string()
}

/// `3m 5s` (whole seconds).
fn span(ms: u64) -> String {
    humantime::format_duration(Duration::from_secs(ms / 1000)).to_string()
}

fn action_text(action: &Action) -> String {
    match action {
        Action::Switch { from, to } => format!("switch {} -> {to}", class_name(*from)),
        Action::Rollback { from, to } => format!("rollback {from} -> {}", class_name(*to)),
        Action::Restore => "restore defaults".into(),
        Action::Hold { .. } => "hold".into(),
        Action::BackOff { target } => format!("back off from {target}"),
    }
}

pub fn render_status(s: &DaemonStatus, now_unix_ms: u64) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "autosa {} (pid {}), backend {}{}, interval {} ms, up {}",
        s.version,
        s.pid,
        s.backend,
        if s.dry_run { " (dry run)" } else { "" },
        s.interval_ms,
        span(now_unix_ms.saturating_sub(s.started_unix_ms))
    );
    match s.class {
        Some(c) => {
            let _ = writeln!(w, "class:      {c} (confidence {:.2})", s.confidence);
        }
        None => {
            let _ = writeln!(w, "class:      none yet (the first interval has not ended)");
        }
    }
    for r in s.reasons.iter().take(3) {
        let _ = writeln!(w, "  why:      {r}");
    }
    let _ = writeln!(
        w,
        "scheduler:  {}, applied: {}, since {} ({} ago)",
        if s.scheduler.is_empty() {
            "not observed yet"
        } else {
            &s.scheduler
        },
        class_name(s.switching.active),
        clock(s.since_unix_ms),
        span(now_unix_ms.saturating_sub(s.since_unix_ms))
    );
    let until = match s.paused_until_unix_ms {
        Some(t) => format!(
            "until {} ({} left)",
            clock(t),
            span(t.saturating_sub(now_unix_ms))
        ),
        None => "until `autosa resume`".into(),
    };
    let mode = match (&s.manual, s.paused) {
        (Some(m), _) => format!("manual choice `{m}`, automatic switching paused {until}"),
        (None, true) => format!("paused {until}"),
        (None, false) => "automatic".into(),
    };
    let _ = writeln!(w, "switching:  {mode}");
    let sw = &s.switching;
    if let Some(m) = sw.judging {
        let _ = writeln!(w, "judging:    the last switch on {}", m.as_str());
    }
    let _ = writeln!(
        w,
        "limits:     cooldown {} s left, {} in the last hour",
        sw.cooldown_left_secs,
        match sw.switches_last_hour {
            1 => "1 switch".to_string(),
            n => format!("{n} switches"),
        }
    );
    for (class, secs) in &sw.blocked {
        let _ = writeln!(w, "blocked:    {class} for {secs} s more (rolled back)");
    }
    for (scheduler, secs) in &sw.blocked_schedulers {
        let _ = writeln!(w, "blocked:    {scheduler} for {secs} s more (it failed)");
    }
    for b in &sw.backed_off {
        let _ = writeln!(
            w,
            "backed off: {}: autosa set {}, found {} (until `autosa resume`)",
            b.what, b.expected, b.found
        );
    }
    if s.recent.is_empty() {
        let _ = writeln!(w, "recent:     no switches yet");
    } else {
        let _ = writeln!(w, "recent:");
        for d in s.recent.iter().rev().take(5) {
            let _ = writeln!(
                w,
                "  {}  {}: {}",
                clock(d.time_unix_ms),
                action_text(&d.decision.action),
                d.decision.why
            );
        }
    }
    let bad: Vec<String> = s
        .sources
        .iter()
        .filter(|h| !h.ok)
        .map(|h| format!("{} ({})", h.name, h.detail))
        .collect();
    let _ = writeln!(
        w,
        "sources:    {}",
        if bad.is_empty() {
            "all ok".to_owned()
        } else {
            format!("not ok: {}", bad.join("; "))
        }
    );
    let p = &s.probe_losses;
    let _ = writeln!(
        w,
        "dropped:    {} intervals; eBPF: {} events lost (ring buffer full), {} map-full misses",
        s.dropped_intervals,
        p.events_lost,
        p.pid_map_full + p.tgid_map_full + p.block_map_full
    );
    out
}

pub fn render_schedulers(offers: &[BackendOffer]) -> String {
    let mut out = String::new();
    for o in offers {
        let _ = writeln!(
            out,
            "{} backend: {}",
            o.backend,
            if o.available {
                "available"
            } else {
                "unavailable"
            }
        );
        let _ = writeln!(
            out,
            "  offers:  {}",
            if o.offers.is_empty() {
                "nothing".to_owned()
            } else {
                o.offers.join(", ")
            }
        );
        let _ = writeln!(out, "  detail:  {}", o.detail);
    }
    let classes: Vec<&str> = WorkloadClass::ALL.iter().map(|c| c.as_str()).collect();
    let _ = writeln!(
        out,
        "classes for `autosa switch NAME`: {} (idle restores the defaults), or a scx_ scheduler offered above",
        classes.join(", ")
    );
    out
}

/// One line per history record (the JSON of `autosa history --json`).
pub fn render_history(entries: &[serde_json::Value]) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str("no history records in that time\n");
    }
    for e in entries {
        let t = e["time_unix_ms"].as_u64().map(clock).unwrap_or_default();
        let text = match serde_json::from_value::<Entry>(e.clone()) {
            Ok(entry) => record_text(&entry.record),
            // A record type from a newer autosa (or a damaged one): as is.
            Err(_) => format!("{}: {e}", e["type"].as_str().unwrap_or("")),
        };
        let _ = writeln!(out, "{t}  {text}");
    }
    out
}

fn record_text(record: &Record) -> String {
    match record {
        Record::Decision { decision: d } => format!("{}: {}", action_text(&d.action), d.why),
        Record::Applied { what, from, to } => format!("changed {what}: {from} -> {to}"),
        Record::Manual {
            command,
            accepted,
            message,
        } => format!(
            "command `{command}` {}: {message}",
            if *accepted { "accepted" } else { "refused" }
        ),
        Record::Start {
            version,
            pid,
            backend,
            dry_run,
        } => format!(
            "daemon started: autosa {version} pid {pid} backend {backend}{}",
            if *dry_run { " (dry run)" } else { "" }
        ),
        Record::Stop { reason } => format!("daemon stopped ({reason})"),
        Record::Metrics(m) => format!(
            "metrics: {} ({:.2}), cpu {:.0} %, runq p50/p99 {:.0}/{:.0} us, psi cpu/io/mem {:.1}/{:.1}/{:.1} %, {} switches",
            m.class.map_or("none", |c| c.as_str()),
            m.confidence,
            m.cpu_busy * 100.0,
            m.runq_p50_ns / 1000.0,
            m.runq_p99_ns / 1000.0,
            m.psi_cpu * 100.0,
            m.psi_io * 100.0,
            m.psi_memory * 100.0,
            m.switches
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::backend::{ForeignChange, Target};
    use crate::control::protocol::{SourceHealth, TimedDecision};
    use crate::switching::{Decision, SwitchingStatus};

    const T0: u64 = 1_800_000_000_000;

    fn status() -> DaemonStatus {
        DaemonStatus {
            protocol: 1,
            version: "0.1.0".into(),
            pid: 42,
            started_unix_ms: T0,
            backend: "scx".into(),
            dry_run: true,
            interval_ms: 1000,
            class: Some(WorkloadClass::Mixed),
            confidence: 0.8,
            reasons: vec!["hogs beside sleepers".into()],
            scheduler: "sched_ext:lavd".into(),
            since_unix_ms: T0 + 60_000,
            switching: SwitchingStatus {
                active: Some(WorkloadClass::Mixed),
                judging: None,
                blocked: vec![(WorkloadClass::CpuBound, 120)],
                blocked_schedulers: vec![("scx_rusty".into(), 60)],
                backed_off: vec![ForeignChange {
                    target: Target::Knob {
                        name: "base_slice_ns".into(),
                    },
                    what: "base_slice_ns".into(),
                    expected: "1500000".into(),
                    found: "3000000".into(),
                }],
                cooldown_left_secs: 5,
                switches_last_hour: 2,
            },
            paused_until_unix_ms: Some(T0 + 600_000),
            paused: true,
            manual: Some("scx_lavd".into()),
            recent: vec![TimedDecision {
                time_unix_ms: T0 + 60_000,
                decision: Decision::new(
                    Duration::from_secs(60),
                    Action::Rollback {
                        from: WorkloadClass::CpuBound,
                        to: None,
                    },
                    "p99 got worse",
                ),
            }],
            sources: vec![SourceHealth {
                name: "bpf".into(),
                ok: false,
                detail: "not loaded".into(),
            }],
            dropped_intervals: 3,
            probe_losses: Default::default(),
        }
    }

    #[test]
    fn status_says_what_is_paused_blocked_and_left_alone() {
        let text = render_status(&status(), T0 + 120_000);
        for want in [
            "backend scx (dry run), interval 1000 ms, up 2m",
            "class:      mixed (confidence 0.80)",
            "scheduler:  sched_ext:lavd, applied: mixed, since 2027-01-15T08:01:00Z (1m ago)",
            "switching:  manual choice `scx_lavd`, automatic switching paused until 2027-01-15T08:10:00Z (8m left)",
            "blocked:    cpu_bound for 120 s more",
            "blocked:    scx_rusty for 60 s more (it failed)",
            "backed off: base_slice_ns: autosa set 1500000, found 3000000",
            "rollback cpu_bound -> default: p99 got worse",
            "sources:    not ok: bpf (not loaded)",
            "dropped:    3 intervals; eBPF: 0 events lost (ring buffer full), 0 map-full misses",
        ] {
            assert!(text.contains(want), "no {want:?} in:\n{text}");
        }
        let mut s = status();
        (s.manual, s.paused_until_unix_ms) = (None, None);
        let text = render_status(&s, T0);
        assert!(
            text.contains("switching:  paused until `autosa resume`"),
            "{text}"
        );
        s.paused = false;
        assert!(render_status(&s, T0).contains("switching:  automatic"));
    }

    #[test]
    fn history_lines_for_each_record_type() {
        let entries: Vec<serde_json::Value> = serde_json::from_str(
            r#"[
            {"time_unix_ms":1800000000000,"type":"start","version":"0.1.0","pid":7,"backend":"eevdf","dry_run":false},
            {"time_unix_ms":1800000001000,"type":"manual","command":"pause --for 10m","accepted":true,"message":"paused"},
            {"time_unix_ms":1800000002000,"type":"applied","what":"nice of 12","from":"0","to":"19"},
            {"time_unix_ms":1800000003000,"type":"stop","reason":"signal"},
            {"time_unix_ms":1800000004000,"type":"future_kind"}
        ]"#,
        )
        .unwrap();
        let text = render_history(&entries);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[0],
            "2027-01-15T08:00:00Z  daemon started: autosa 0.1.0 pid 7 backend eevdf"
        );
        assert!(lines[1].ends_with("command `pause --for 10m` accepted: paused"));
        assert!(lines[2].ends_with("changed nice of 12: 0 -> 19"));
        assert!(lines[3].ends_with("daemon stopped (signal)"));
        assert!(lines[4].contains("future_kind"), "unknown types still show");
        assert_eq!(render_history(&[]), "no history records in that time\n");

        let typed = [
            Record::Decision {
                decision: crate::switching::Decision::new(
                    Duration::from_secs(3),
                    Action::Restore,
                    "the load is gone",
                ),
            },
            Record::Metrics(crate::history::MetricsPoint {
                class: Some(WorkloadClass::CpuBound),
                confidence: 0.875,
                cpu_busy: 0.97,
                runq_p50_ns: 12_000.0,
                runq_p99_ns: 480_000.0,
                psi_cpu: 0.25,
                psi_io: 0.0,
                psi_memory: 0.011,
                switches: 4,
            }),
        ]
        .map(|record| {
            serde_json::to_value(Entry {
                time_unix_ms: 1_800_000_005_000,
                record,
            })
            .unwrap()
        });
        let text = render_history(&typed);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "2027-01-15T08:00:05Z  restore defaults: the load is gone",
                "2027-01-15T08:00:05Z  metrics: cpu_bound (0.88), cpu 97 %, runq p50/p99 12/480 us, \
                 psi cpu/io/mem 25.0/0.0/1.1 %, 4 switches",
            ]
        );
    }
}
