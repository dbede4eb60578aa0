//! Exponential backoff between restarts of a dying server. Pure: the caller
//! passes the time in, so tests use a fake clock.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BackoffConfig {
    /// Wait before the first restart after a failure.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub initial: Duration,
    /// The wait doubles per consecutive failure up to this.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
        }
    }
}

/// Counts consecutive failures and says when the next attempt is allowed.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    failures: u32,
    next_allowed: Option<Instant>,
}

impl Backoff {
    pub fn new(config: BackoffConfig) -> Self {
        Self {
            config,
            failures: 0,
            next_allowed: None,
        }
    }

    /// Delay after `failures` consecutive failures (1 = the first).
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
        self.config
            .initial
            .checked_mul(factor)
            .map_or(self.config.max, |d| d.min(self.config.max))
    }

    pub fn record_failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        // An absurd configured maximum must not overflow the clock.
        self.next_allowed = Some(
            now.checked_add(self.delay_after(self.failures))
                .unwrap_or(now),
        );
    }

    pub fn record_success(&mut self) {
        self.failures = 0;
        self.next_allowed = None;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// How long to wait from `now` before the next attempt (zero = go).
    pub fn wait_needed(&self, now: Instant) -> Duration {
        self.next_allowed
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff::new(BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        })
    }

    #[test]
    fn delay_doubles_and_is_capped() {
        let b = backoff();
        let ms = |n| b.delay_after(n).as_millis();
        assert_eq!(
            [ms(0), ms(1), ms(2), ms(3), ms(4), ms(5), ms(6)],
            [0, 100, 200, 400, 800, 1600, 2000]
        );
        assert_eq!(b.delay_after(40), Duration::from_secs(2));
        assert_eq!(b.delay_after(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn fake_clock_walks_through_failures_and_success() {
        let mut b = backoff();
        let t0 = Instant::now();
        assert_eq!(b.wait_needed(t0), Duration::ZERO);

        b.record_failure(t0);
        assert_eq!(b.wait_needed(t0), Duration::from_millis(100));
        assert_eq!(
            b.wait_needed(t0 + Duration::from_millis(60)),
            Duration::from_millis(40)
        );
        assert_eq!(
            b.wait_needed(t0 + Duration::from_millis(150)),
            Duration::ZERO
        );

        let t1 = t0 + Duration::from_secs(1);
        b.record_failure(t1);
        assert_eq!(b.failures(), 2);
        assert_eq!(b.wait_needed(t1), Duration::from_millis(200));

        b.record_success();
        assert_eq!(b.failures(), 0);
        assert_eq!(b.wait_needed(t1), Duration::ZERO);
    }
}
