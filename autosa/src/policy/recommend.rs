//! From a classification to a [`Plan`] and the human lines saying what it
//! would change. Pure: the plan table comes from [`PolicyConfig`].

use serde::{Deserialize, Serialize};

use super::catalog;
use super::classify::{Classification, ProcessEvidence};
use super::config::PolicyConfig;
use super::plan::{EevdfPlan, HogTreatment, Plan};
use super::reasons::ns;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub plan: Plan,
    /// One line per change, e.g. "set nice 19 on stress-ng (tgid 1234)".
    pub what_it_would_change: Vec<String>,
    pub reasons: Vec<String>,
}

fn who(p: &ProcessEvidence) -> String {
    format!("{} (tgid {})", p.comm, p.tgid)
}

fn treatment(h: HogTreatment) -> Option<String> {
    match h {
        HogTreatment::Leave => None,
        HogTreatment::Nice(n) => Some(format!("set nice {n}")),
        HogTreatment::Batch => Some("set SCHED_BATCH".to_string()),
        HogTreatment::Idle => Some("set SCHED_IDLE".to_string()),
    }
}

/// The plan for this classification, with the hog and latency-sensitive
/// processes filled in from its evidence.
pub fn recommend(c: &Classification, cfg: &PolicyConfig) -> Recommendation {
    let wanted = cfg.plans.get(c.class);
    let hogs = &c.evidence.hogs;
    let latency = &c.evidence.latency_sensitive;
    let plan = Plan {
        class: c.class,
        scx: wanted.scx.clone(),
        eevdf: EevdfPlan {
            hogs: wanted.hogs,
            latency_slice_ns: wanted.latency_slice_ns,
            hog_tgids: if wanted.hogs == HogTreatment::Leave {
                Vec::new()
            } else {
                hogs.iter().map(|p| p.tgid).collect()
            },
            latency_tgids: if wanted.latency_slice_ns.is_some() {
                latency.iter().map(|p| p.tgid).collect()
            } else {
                Vec::new()
            },
            global_knobs: wanted.global_knobs.clone(),
        },
    };

    let mut changes = Vec::new();
    match &plan.scx {
        Some(choice) => {
            let args = if choice.args.is_empty() {
                String::new()
            } else {
                format!(" {}", choice.args.join(" "))
            };
            changes.push(format!("with sched_ext: run {}{args}", choice.scheduler));
        }
        None => changes.push(
            "with sched_ext: no sched_ext scheduler, the kernel's default (EEVDF)".to_string(),
        ),
    }
    if let Some(verb) = treatment(plan.eevdf.hogs) {
        if hogs.is_empty() {
            changes.push(format!(
                "on EEVDF: would {verb} on CPU hogs, but none are named{}",
                if c.has_ebpf {
                    ""
                } else {
                    " (no per-process view without eBPF)"
                }
            ));
        }
        for p in hogs {
            changes.push(format!("on EEVDF: {verb} on {}", who(p)));
        }
    }
    if let Some(slice) = plan.eevdf.latency_slice_ns {
        if latency.is_empty() {
            changes.push(format!(
                "on EEVDF: would set a {} slice on latency-sensitive tasks, but none are named{}",
                ns(slice as f64),
                if c.has_ebpf {
                    ""
                } else {
                    " (no per-process view without eBPF)"
                }
            ));
        }
        for p in latency {
            changes.push(format!(
                "on EEVDF: set a {} slice on {}",
                ns(slice as f64),
                who(p)
            ));
        }
    }
    for (knob, value) in &plan.eevdf.global_knobs {
        changes.push(format!(
            "on EEVDF: write {knob} = {value} where the kernel allows it"
        ));
    }
    if plan.scx.is_none()
        && plan.eevdf.hogs == HogTreatment::Leave
        && plan.eevdf.latency_slice_ns.is_none()
        && plan.eevdf.global_knobs.is_empty()
    {
        changes.push("on EEVDF: nothing to change".to_string());
    }

    let mut reasons = vec![format!(
        "{} (confidence {:.2}): {}",
        c.class,
        c.confidence,
        c.reasons.first().map(String::as_str).unwrap_or("")
    )];
    if let Some(info) = plan
        .scx
        .as_ref()
        .and_then(|s| catalog::lookup(&s.scheduler))
    {
        reasons.push(format!("{}: {}", info.name, info.purpose));
    }
    reasons.extend(c.reasons.iter().skip(1).cloned());
    Recommendation {
        plan,
        what_it_would_change: changes,
        reasons,
    }
}
