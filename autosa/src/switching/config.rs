//! Settings of the switching policy: every key has a default, unknown keys are
//! rejected, `validate` says which value is wrong and what is allowed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SwitchingConfig {
    /// A classification below this confidence never counts towards a switch.
    pub min_confidence: f64,
    /// Consecutive confident intervals a new class must hold before a switch.
    pub hold_intervals: u32,
    /// Minimum time between two switches (rollbacks are never delayed).
    pub cooldown_secs: u64,
    /// At most this many switches (rollbacks included) in any hour.
    pub max_switches_per_hour: u32,
    /// Length of the before and after windows the regression check compares.
    pub regression_window_secs: u64,
    /// No verdict before this many samples on each side.
    pub regression_min_samples: u32,
    /// Relative worsening of the target metric that triggers a rollback (0.10 = 10 %).
    pub regression_threshold: f64,
    /// How long a class that was rolled back stays blocked.
    pub block_secs: u64,
}

impl Default for SwitchingConfig {
    fn default() -> Self {
        SwitchingConfig {
            min_confidence: 0.6,
            hold_intervals: 3,
            cooldown_secs: 60,
            max_switches_per_hour: 6,
            regression_window_secs: 30,
            regression_min_samples: 10,
            regression_threshold: 0.10,
            block_secs: 1800,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("switching.{key} = {value} is invalid: {allowed}")]
    Invalid {
        key: &'static str,
        value: String,
        allowed: &'static str,
    },
}

impl SwitchingConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn bad(key: &'static str, value: impl ToString, allowed: &'static str) -> ConfigError {
            ConfigError::Invalid {
                key,
                value: value.to_string(),
                allowed,
            }
        }
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err(bad(
                "min_confidence",
                self.min_confidence,
                "use a number from 0.0 to 1.0",
            ));
        }
        if self.hold_intervals == 0 {
            return Err(bad("hold_intervals", 0, "use 1 or more"));
        }
        if self.max_switches_per_hour == 0 {
            return Err(bad("max_switches_per_hour", 0, "use 1 or more"));
        }
        if self.regression_window_secs == 0 {
            return Err(bad("regression_window_secs", 0, "use 1 or more seconds"));
        }
        if self.regression_min_samples == 0 {
            return Err(bad("regression_min_samples", 0, "use 1 or more"));
        }
        if !(self.regression_threshold.is_finite() && self.regression_threshold > 0.0) {
            return Err(bad(
                "regression_threshold",
                self.regression_threshold,
                "use a fraction above 0, e.g. 0.10 for 10 %",
            ));
        }
        Ok(())
    }

    pub fn cooldown(&self) -> Duration {
        Duration::from_secs(self.cooldown_secs)
    }

    pub fn regression_window(&self) -> Duration {
        Duration::from_secs(self.regression_window_secs)
    }

    pub fn block(&self) -> Duration {
        Duration::from_secs(self.block_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_empty_toml_gives_defaults() {
        let c: SwitchingConfig = toml::from_str("").unwrap();
        assert_eq!(c, SwitchingConfig::default());
        c.validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<SwitchingConfig>("hold_intervalz = 3").unwrap_err();
        assert!(err.to_string().contains("hold_intervalz"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_key() {
        let cases: &[(&str, &str)] = &[
            ("min_confidence = 1.5", "min_confidence"),
            ("hold_intervals = 0", "hold_intervals"),
            ("max_switches_per_hour = 0", "max_switches_per_hour"),
            ("regression_window_secs = 0", "regression_window_secs"),
            ("regression_min_samples = 0", "regression_min_samples"),
            ("regression_threshold = -0.1", "regression_threshold"),
        ];
        for (text, key) in cases {
            let c: SwitchingConfig = toml::from_str(text).unwrap();
            let err = c.validate().unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
    }
}
