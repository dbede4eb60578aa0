//! The daemon's state shaped for an agent: one line for people and a
//! compact JSON object. Time comes in as an argument (`now_unix_ms`);
//! nothing here reads a clock.

use serde::Serialize;

use crate::control::protocol::{BackendOffer, DaemonStatus};
use crate::policy::plan::WorkloadClass;

use super::metrics::round3;

fn class_name(c: Option<WorkloadClass>) -> &'static str {
    c.map_or("unknown (no interval yet)", WorkloadClass::as_str)
}

/// How automatic switching stands, in a few words.
pub fn switching_state(s: &DaemonStatus, now_unix_ms: u64) -> String {
    let mut parts = Vec::new();
    match s.paused_until_unix_ms {
        Some(until) if until > now_unix_ms => parts.push(format!(
            "automatic switching paused for {} s more",
            (until - now_unix_ms).div_ceil(1000)
        )),
        // A past instant the daemon has not cleared yet.
        Some(_) => parts.push("automatic switching paused".to_owned()),
        // A manual choice without a duration holds until `resume`.
        None if s.paused || s.manual.is_some() => {
            parts.push("automatic switching paused until resume".to_owned())
        }
        None => parts.push("automatic switching on".to_owned()),
    }
    if let Some(m) = &s.manual {
        parts.push(format!("manual choice {m}"));
    }
    if s.switching.cooldown_left_secs > 0 {
        parts.push(format!("cooldown {} s", s.switching.cooldown_left_secs));
    }
    if !s.switching.blocked.is_empty() {
        let blocked: Vec<String> = s
            .switching
            .blocked
            .iter()
            .map(|(c, secs)| format!("{c} {secs} s"))
            .collect();
        parts.push(format!("blocked after rollback: {}", blocked.join(", ")));
    }
    if !s.switching.backed_off.is_empty() {
        parts.push(format!(
            "{} setting(s) left alone after a change by someone else",
            s.switching.backed_off.len()
        ));
    }
    if s.dry_run {
        parts.push("dry run (changes nothing)".to_owned());
    }
    parts.join("; ")
}

pub fn status_line(s: &DaemonStatus, now_unix_ms: u64) -> String {
    let applied = s
        .switching
        .active
        .map_or("kernel defaults".to_owned(), |c| format!("the {c} plan"));
    format!(
        "workload {} (confidence {:.2}), scheduler {} via {} with {applied}; {}",
        class_name(s.class),
        s.confidence,
        s.scheduler,
        s.backend,
        switching_state(s, now_unix_ms)
    )
}

/// What the daemon recommends now: its latest classification and what it
/// has applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaemonRecommendation {
    /// Always `daemon`.
    pub source: &'static str,
    pub class: Option<WorkloadClass>,
    pub confidence: f64,
    pub reasons: Vec<String>,
    /// The scheduler in use as the backend observes it.
    pub scheduler: String,
    pub backend: String,
    /// The class whose plan is applied (`None`: kernel defaults).
    pub applied_class: Option<WorkloadClass>,
    /// True when the applied plan is the one for the current class.
    pub applied_matches_class: bool,
    pub switching: String,
    pub dry_run: bool,
}

pub fn daemon_recommendation(s: &DaemonStatus, now_unix_ms: u64) -> DaemonRecommendation {
    DaemonRecommendation {
        source: "daemon",
        class: s.class,
        confidence: round3(s.confidence),
        reasons: s.reasons.clone(),
        scheduler: s.scheduler.clone(),
        backend: s.backend.clone(),
        applied_class: s.switching.active,
        applied_matches_class: s.class.is_some() && s.class == s.switching.active,
        switching: switching_state(s, now_unix_ms),
        dry_run: s.dry_run,
    }
}

pub fn daemon_recommendation_line(r: &DaemonRecommendation) -> String {
    let applied = match (r.class, r.applied_matches_class) {
        (None, _) => "no classification yet".to_owned(),
        (Some(_), true) => "its plan is applied".to_owned(),
        (Some(c), false) => format!(
            "applied: {} (the daemon switches when the class holds and its rules allow; `request_switch` with name `{c}` asks now)",
            r.applied_class
                .map_or("kernel defaults".to_owned(), |a| format!("the {a} plan"))
        ),
    };
    format!(
        "daemon: workload {} (confidence {:.2}) on {}; {applied}",
        class_name(r.class),
        r.confidence,
        r.scheduler
    )
}

pub fn schedulers_line(offers: &[BackendOffer]) -> String {
    if offers.is_empty() {
        return "the daemon reports no backend".to_owned();
    }
    offers
        .iter()
        .map(|o| {
            if o.available {
                format!("{}: {}", o.backend, o.offers.join(", "))
            } else {
                format!("{}: unavailable ({})", o.backend, o.detail)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built from JSON so that fields the protocol adds later (with serde
    /// defaults) do not break these tests.
    fn status() -> DaemonStatus {
        serde_json::from_value(serde_json::json!({
            "protocol": 1, "version": "0.1.0", "pid": 42, "started_unix_ms": 1000,
            "backend": "scx", "dry_run": false, "interval_ms": 1000,
            "class": "mixed", "confidence": 0.8,
            "reasons": ["hogs beside a latency-sensitive task"],
            "scheduler": "scx_lavd", "since_unix_ms": 2000,
            "switching": {"active": "cpu_bound", "judging": null, "blocked": [["idle", 30]],
                          "backed_off": [], "cooldown_left_secs": 12, "switches_last_hour": 1},
            "paused_until_unix_ms": 70000, "manual": "scx_lavd",
            "recent": [], "sources": [], "dropped_intervals": 0
        }))
        .unwrap()
    }

    #[test]
    fn the_switching_state_reads_pauses_against_the_given_time() {
        let s = status();
        assert_eq!(
            switching_state(&s, 10_000),
            "automatic switching paused for 60 s more; manual choice scx_lavd; cooldown 12 s; blocked after rollback: idle 30 s"
        );
        let mut held = status();
        held.paused_until_unix_ms = None;
        assert!(
            switching_state(&held, 10_000)
                .starts_with("automatic switching paused until resume; manual choice scx_lavd")
        );
        let mut on = status();
        on.paused_until_unix_ms = None;
        on.manual = None;
        on.switching.cooldown_left_secs = 0;
        on.switching.blocked.clear();
        on.dry_run = true;
        assert_eq!(
            switching_state(&on, 10_000),
            "automatic switching on; dry run (changes nothing)"
        );
        assert!(status_line(&on, 0).starts_with(
            "workload mixed (confidence 0.80), scheduler scx_lavd via scx with the cpu_bound plan"
        ));
    }

    #[test]
    fn the_daemon_recommendation_says_whether_its_plan_is_applied() {
        let r = daemon_recommendation(&status(), 10_000);
        assert_eq!(r.source, "daemon");
        assert!(!r.applied_matches_class);
        let line = daemon_recommendation_line(&r);
        assert!(line.contains("request_switch` with name `mixed`"), "{line}");
        let mut s = status();
        s.switching.active = Some(WorkloadClass::Mixed);
        let r = daemon_recommendation(&s, 10_000);
        assert!(r.applied_matches_class);
        assert!(daemon_recommendation_line(&r).ends_with("its plan is applied"));
        s.class = None;
        s.switching.active = None;
        assert!(!daemon_recommendation(&s, 0).applied_matches_class);
    }

    #[test]
    fn schedulers_line_names_what_each_backend_offers() {
        let offers = vec![
            BackendOffer {
                backend: "scx".into(),
                available: false,
                detail: "kernel without sched_ext".into(),
                offers: vec![],
            },
            BackendOffer {
                backend: "eevdf".into(),
                available: true,
                detail: String::new(),
                offers: vec!["nice".into(), "batch".into()],
            },
        ];
        assert_eq!(
            schedulers_line(&offers),
            "scx: unavailable (kernel without sched_ext); eevdf: nice, batch"
        );
        assert_eq!(schedulers_line(&[]), "the daemon reports no backend");
    }
}
