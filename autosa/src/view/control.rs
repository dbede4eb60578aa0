//! What the control socket answers, rendered for people: `autosa status`,
//! `autosa schedulers`, `autosa history`. Pure: the time is an argument.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use crate::control::protocol::{BackendOffer, DaemonStatus};
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
        "limits:     cooldown {} s left, {} switches in the last hour",
        sw.cooldown_left_secs, sw.switches_last_hour
    );
    for (class, secs) in &sw.blocked {
        let _ = writeln!(w, "blocked:    {class} for {secs} s more (rolled back)");
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
    let _ = writeln!(w, "dropped:    {} intervals", s.dropped_intervals);
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
        let text = match e["type"].as_str().unwrap_or("") {
            "decision" => {
                let d = &e["decision"];
                match serde_json::from_value::<Action>(d["action"].clone()) {
                    Ok(a) => format!("{}: {}", action_text(&a), d["why"].as_str().unwrap_or("")),
                    Err(_) => format!("decision {d}"),
                }
            }
            "applied" => format!(
                "changed {}: {} -> {}",
                e["what"].as_str().unwrap_or(""),
                e["from"].as_str().unwrap_or(""),
                e["to"].as_str().unwrap_or("")
            ),
            "manual" => format!(
                "command `{}` {}: {}",
                e["command"].as_str().unwrap_or(""),
                if e["accepted"].as_bool() == Some(true) {
                    "accepted"
                } else {
                    "refused"
                },
                e["message"].as_str().unwrap_or("")
            ),
            "start" => format!(
                "daemon started: autosa {} pid {} backend {}{}",
                e["version"].as_str().unwrap_or(""),
                e["pid"],
                e["backend"].as_str().unwrap_or(""),
                if e["dry_run"].as_bool() == Some(true) {
                    " (dry run)"
                } else {
                    ""
                }
            ),
            "stop" => format!("daemon stopped ({})", e["reason"].as_str().unwrap_or("")),
            "metrics" => format!(
                "metrics: {} ({:.2}), cpu {:.0} %, runq p50/p99 {:.0}/{:.0} us, psi cpu/io/mem {:.1}/{:.1}/{:.1} %, {} switches",
                e["class"].as_str().unwrap_or("none"),
                e["confidence"].as_f64().unwrap_or(0.0),
                e["cpu_busy"].as_f64().unwrap_or(0.0) * 100.0,
                e["runq_p50_ns"].as_f64().unwrap_or(0.0) / 1000.0,
                e["runq_p99_ns"].as_f64().unwrap_or(0.0) / 1000.0,
                e["psi_cpu"].as_f64().unwrap_or(0.0) * 100.0,
                e["psi_io"].as_f64().unwrap_or(0.0) * 100.0,
                e["psi_memory"].as_f64().unwrap_or(0.0) * 100.0,
                e["switches"]
            ),
            other => format!("{other}: {e}"),
        };
        let _ = writeln!(out, "{t}  {text}");
    }
    out
}
