//! What the switching policy decided, from what to what, and why.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::Target;
use crate::policy::plan::WorkloadClass;

/// One decision of the switching policy. `from`/`to` of `None` mean the
/// kernel's defaults (nothing applied by autosa).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Action {
    /// Apply the plan of `to`.
    Switch {
        from: Option<WorkloadClass>,
        to: WorkloadClass,
    },
    /// The switch to `from` made the target metric worse: go back to `to`.
    Rollback {
        from: WorkloadClass,
        to: Option<WorkloadClass>,
    },
    /// Undo everything autosa applied (back to the kernel's defaults).
    Restore,
    /// Keep what is applied; `wanted` is the class that is waiting, if any.
    Hold { wanted: Option<WorkloadClass> },
    /// Someone else changed `target`: autosa stops touching it until resumed.
    BackOff { target: Target },
}

/// A decision with its time (since the daemon started) and a sentence of why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    #[serde(with = "duration_ms", rename = "at_ms")]
    pub at: Duration,
    pub action: Action,
    pub why: String,
}

impl Decision {
    pub fn new(at: Duration, action: Action, why: impl Into<String>) -> Self {
        Decision {
            at,
            action,
            why: why.into(),
        }
    }

    /// Log at a level that matches the weight of the decision: holds are
    /// frequent and go to debug, changes to info, rollbacks and back-offs warn.
    pub fn log(&self) {
        let at_s = self.at.as_secs_f64();
        match &self.action {
            Action::Switch { from, to } => tracing::info!(
                at_s,
                from = %class_name(*from),
                to = %to,
                why = %self.why,
                "switch"
            ),
            Action::Rollback { from, to } => tracing::warn!(
                at_s,
                from = %from,
                to = %class_name(*to),
                why = %self.why,
                "rollback"
            ),
            Action::Restore => tracing::info!(at_s, why = %self.why, "restore defaults"),
            Action::Hold { wanted } => tracing::debug!(
                at_s,
                wanted = %class_name(*wanted),
                why = %self.why,
                "hold"
            ),
            Action::BackOff { target } => tracing::warn!(
                at_s,
                target = %target,
                why = %self.why,
                "manual change seen: backing off"
            ),
        }
    }
}

/// `None` is the kernel's default state.
pub fn class_name(class: Option<WorkloadClass>) -> &'static str {
    class.map_or("default", WorkloadClass::as_str)
}

/// Decision times are serialised as whole milliseconds, the unit of the rest
/// of the JSON interface.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_json_uses_milliseconds_and_tags() {
        let d = Decision::new(
            Duration::from_millis(1500),
            Action::Switch {
                from: None,
                to: WorkloadClass::Mixed,
            },
            "stable",
        );
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["at_ms"], 1500);
        assert_eq!(json["action"]["kind"], "switch");
        assert_eq!(json["action"]["to"], "mixed");
        assert!(json["action"]["from"].is_null());
        let back: Decision = serde_json::from_value(json).unwrap();
        assert_eq!(back, d);
    }
}
