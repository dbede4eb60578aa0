//! Manual-override back-off: when something autosa applied has been changed by
//! someone else, autosa stops touching it and says so, until told to resume.
//! Sticky, like bpftune's manual state: seeing the value change back does not
//! end it.

use std::collections::BTreeMap;

use crate::backend::{ForeignChange, Observed, Target};
use crate::policy::plan::Plan;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManualOverrides {
    backed_off: BTreeMap<Target, ForeignChange>,
}

impl ManualOverrides {
    /// Take in what the backend observed; returns the changes not seen before.
    pub fn observe(&mut self, observed: &Observed) -> Vec<ForeignChange> {
        let mut new = Vec::new();
        for change in &observed.foreign {
            if !self.backed_off.contains_key(&change.target) {
                self.backed_off
                    .insert(change.target.clone(), change.clone());
                new.push(change.clone());
            }
        }
        new
    }

    /// End the back-off for `target`, or for everything when `None`.
    /// Returns how many targets were released.
    pub fn resume(&mut self, target: Option<&Target>) -> usize {
        match target {
            None => {
                let n = self.backed_off.len();
                self.backed_off.clear();
                n
            }
            Some(t) => usize::from(self.backed_off.remove(t).is_some()),
        }
    }

    pub fn is_backed_off(&self, target: &Target) -> bool {
        self.backed_off.contains_key(target)
    }

    pub fn backed_off(&self) -> impl Iterator<Item = &ForeignChange> {
        self.backed_off.values()
    }

    /// Someone else changed the scheduler: autosa switches nothing at all.
    pub fn scheduler_backed_off(&self) -> bool {
        self.backed_off.contains_key(&Target::Scheduler)
    }

    /// The plan without what autosa must leave alone.
    pub fn filter(&self, plan: &Plan) -> Plan {
        let mut plan = plan.clone();
        let tgids: Vec<u32> = self
            .backed_off
            .keys()
            .filter_map(|t| match t {
                Target::Process { tgid, .. } => Some(*tgid),
                _ => None,
            })
            .collect();
        plan.eevdf.hog_tgids.retain(|t| !tgids.contains(t));
        plan.eevdf.latency_tgids.retain(|t| !tgids.contains(t));
        plan.eevdf.global_knobs.retain(|(name, _)| {
            !self
                .backed_off
                .contains_key(&Target::Knob { name: name.clone() })
        });
        plan
    }
}
