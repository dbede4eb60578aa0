//! `[history]`: how much the history store keeps.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryConfig {
    /// Keep a history in `<state_dir>/history/`.
    pub enabled: bool,
    /// Records older than this are deleted (whole segments).
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub max_age: Duration,
    /// The oldest segments are deleted while the history is larger.
    pub max_bytes: u64,
    /// One metrics point per this period.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub metrics_every: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            enabled: true,
            max_age: Duration::from_secs(30 * 24 * 3600),
            max_bytes: 64 << 20,
            metrics_every: Duration::from_secs(60),
        }
    }
}

impl HistoryConfig {
    /// The offending key (inside `history`) and what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_bytes < 64 << 10 {
            return Err(format!(
                "max_bytes = {} is too small: use at least 65536",
                self.max_bytes
            ));
        }
        if self.max_age < Duration::from_secs(60) {
            return Err("max_age is too short: use at least 1m".into());
        }
        if self.metrics_every < Duration::from_secs(1) {
            return Err("metrics_every is too short: use at least 1s".into());
        }
        Ok(())
    }
}
