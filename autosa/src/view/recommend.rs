//! `autosa recommend` for people: class, confidence, reasons, the processes
//! behind them, the scheduler for each backend and what would change.

use std::fmt::Write as _;

use serde::Serialize;

use crate::policy::Decision;
use crate::policy::plan::HogTreatment;

/// Whether a kind of backend can act on this host, and why not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendAvailability {
    /// `sched_ext` or `eevdf`.
    pub backend: String,
    pub available: bool,
    pub detail: String,
}

/// What `autosa recommend --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecommendReport {
    /// Intervals sampled.
    pub intervals: u64,
    pub interval_ms: u64,
    pub decision: Decision,
    pub backends: Vec<BackendAvailability>,
}

fn hogs_line(h: HogTreatment) -> &'static str {
    match h {
        HogTreatment::Leave => "left alone",
        HogTreatment::Nice(_) => "reniced",
        HogTreatment::Batch => "SCHED_BATCH",
        HogTreatment::Idle => "SCHED_IDLE",
    }
}

pub fn render_recommend(r: &RecommendReport) -> String {
    let d = &r.decision;
    let c = &d.classification;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Workload   {}  (confidence {:.2}, {} intervals of {} ms{})",
        c.class,
        c.confidence,
        r.intervals,
        r.interval_ms,
        if c.has_ebpf { "" } else { ", procfs only" }
    );
    let _ = writeln!(out, "\nWhy");
    for reason in &c.reasons {
        let _ = writeln!(out, "  - {reason}");
    }
    if !c.evidence.hogs.is_empty() || !c.evidence.latency_sensitive.is_empty() {
        let _ = writeln!(out, "\nProcesses");
        for p in &c.evidence.hogs {
            let _ = writeln!(
                out,
                "  CPU hog            {:>7}  {:<16} {}",
                p.tgid, p.comm, p.figure
            );
        }
        for p in &c.evidence.latency_sensitive {
            let _ = writeln!(
                out,
                "  latency-sensitive  {:>7}  {:<16} {}",
                p.tgid, p.comm, p.figure
            );
        }
    }
    let plan = &d.recommendation.plan;
    let _ = writeln!(out, "\nRecommended");
    for b in &r.backends {
        let what = match b.backend.as_str() {
            "sched_ext" => match &plan.scx {
                Some(s) if s.args.is_empty() => s.scheduler.clone(),
                Some(s) => format!("{} {}", s.scheduler, s.args.join(" ")),
                None => "none (stay on EEVDF)".to_owned(),
            },
            _ => {
                let mut parts = vec![format!("hogs {}", hogs_line(plan.eevdf.hogs))];
                if let Some(ns) = plan.eevdf.latency_slice_ns {
                    parts.push(format!(
                        "latency tasks get a {} slice",
                        crate::view::units::duration_ns(ns)
                    ));
                }
                for (k, v) in &plan.eevdf.global_knobs {
                    parts.push(format!("{k} = {v}"));
                }
                parts.join(", ")
            }
        };
        let status = if b.available {
            String::new()
        } else {
            format!("   [not here: {}]", b.detail)
        };
        let _ = writeln!(out, "  {:<10} {what}{status}", b.backend);
    }
    let _ = writeln!(out, "\nWhat it would change");
    for line in &d.recommendation.what_it_would_change {
        let _ = writeln!(out, "  - {line}");
    }
    for reason in d.recommendation.reasons.iter().skip(1).take(1) {
        let _ = writeln!(out, "  ({reason})");
    }
    let _ = writeln!(out, "\nNothing was changed: autosa recommend only looks.");
    out
}
