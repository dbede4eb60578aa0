//! The policy engine: smoothing, classification with hold-down, and the
//! recommendation, fed one snapshot at a time. Pure: no clock, no I/O.

use serde::{Deserialize, Serialize};

use super::classify::{Classification, Classifier};
use super::config::{ConfigError, PolicyConfig};
use super::features::{Features, Smoother};
use super::recommend::{Recommendation, recommend};
use crate::model::Snapshot;

/// What the engine concluded after one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub time_unix_ms: u64,
    /// The smoothed features the classification was made from.
    pub features: Features,
    pub classification: Classification,
    pub recommendation: Recommendation,
}

#[derive(Debug, Clone)]
pub struct Engine {
    cfg: PolicyConfig,
    smoother: Smoother,
    classifier: Classifier,
}

impl Engine {
    /// A new engine; the configuration is validated first.
    pub fn new(cfg: PolicyConfig) -> Result<Engine, ConfigError> {
        cfg.validate()?;
        Ok(Engine {
            smoother: Smoother::new(cfg.smoothing.window, cfg.smoothing.median_filter),
            classifier: Classifier::new(),
            cfg,
        })
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.cfg
    }

    /// Feed the next interval's snapshot.
    pub fn push(&mut self, snapshot: &Snapshot) -> Decision {
        let raw = Features::from_snapshot(snapshot);
        let smoothed = self.smoother.push(&raw).clone();
        let classification = self
            .classifier
            .update(&smoothed, self.smoother.samples(), &self.cfg);
        let recommendation = recommend(&classification, &self.cfg);
        Decision {
            time_unix_ms: snapshot.time_unix_ms,
            features: smoothed,
            classification,
            recommendation,
        }
    }
}
