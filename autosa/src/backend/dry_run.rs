//! A backend wrapper that observes through the real backend but changes
//! nothing: it logs what it would apply or restore.

use crate::policy::plan::{HogTreatment, Plan};

use crate::control::protocol::BackendOffer;

use super::{Applied, Backend, BackendError, Capability, Observed, Target};

pub struct DryRun<B> {
    inner: B,
}

impl<B: Backend> DryRun<B> {
    pub fn new(inner: B) -> Self {
        DryRun { inner }
    }

    pub fn into_inner(self) -> B {
        self.inner
    }
}

/// One sentence per thing the plan asks for.
pub fn describe_plan(plan: &Plan) -> Vec<String> {
    let e = &plan.eevdf;
    let mut out = Vec::new();
    let hogs = match e.hogs {
        HogTreatment::Leave => None,
        HogTreatment::Nice(n) => Some(format!("nice {n}")),
        HogTreatment::Batch => Some("SCHED_BATCH".to_string()),
        HogTreatment::Idle => Some("SCHED_IDLE".to_string()),
    };
    if let Some(h) = hogs
        && !e.hog_tgids.is_empty()
    {
        out.push(format!("would set CPU hogs {:?} to {h}", e.hog_tgids));
    }
    if let Some(ns) = e.latency_slice_ns
        && !e.latency_tgids.is_empty()
    {
        out.push(format!(
            "would give latency-sensitive {:?} an EEVDF slice of {} us",
            e.latency_tgids,
            ns / 1000
        ));
    }
    for (name, value) in &e.global_knobs {
        out.push(format!("would write {value} to {name}"));
    }
    if let Some(scx) = &plan.scx {
        out.push(format!(
            "would start {} {}",
            scx.scheduler,
            scx.args.join(" ")
        ));
    }
    if out.is_empty() {
        out.push(format!("plan for {} changes nothing", plan.class));
    }
    out
}

impl<B: Backend> Backend for DryRun<B> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn describe_capabilities(&self) -> Vec<Capability> {
        self.inner.describe_capabilities()
    }

    fn observe(&mut self) -> Result<Observed, BackendError> {
        self.inner.observe()
    }

    fn apply(&mut self, plan: &Plan) -> Result<Applied, BackendError> {
        let notes = describe_plan(plan)
            .into_iter()
            .map(|n| format!("dry run ({}): {n}", self.inner.name()))
            .collect::<Vec<_>>();
        for n in &notes {
            tracing::info!("{n}");
        }
        Ok(Applied {
            changes: Vec::new(),
            notes,
        })
    }

    fn restore(&mut self) -> Result<Applied, BackendError> {
        let note = format!(
            "dry run ({}): would restore everything autosa changed",
            self.inner.name()
        );
        tracing::info!("{note}");
        Ok(Applied {
            changes: Vec::new(),
            notes: vec![note],
        })
    }

    fn resume(&mut self, target: Option<&Target>) {
        self.inner.resume(target);
    }
    fn take_failure(&mut self) -> Option<String> {
        self.inner.take_failure()
    }
    fn offers(&self) -> BackendOffer {
        let mut offer = self.inner.offers();
        offer.detail = format!(
            "dry run: decides and logs, changes nothing; {}",
            offer.detail
        );
        offer
    }
}
