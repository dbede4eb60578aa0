//! Minimum time between two switches.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Cooldown {
    period: Duration,
    last_switch: Option<Duration>,
}

impl Cooldown {
    pub fn new(period: Duration) -> Self {
        Cooldown {
            period,
            last_switch: None,
        }
    }

    /// Time still to wait at `now`; zero when a switch is allowed.
    pub fn remaining(&self, now: Duration) -> Duration {
        match self.last_switch {
            None => Duration::ZERO,
            Some(t) => (t + self.period).saturating_sub(now),
        }
    }

    /// A new period; the last switch is kept (a reload must not reset it).
    pub fn set_period(&mut self, period: Duration) {
        self.period = period;
    }

    pub fn record(&mut self, now: Duration) {
        self.last_switch = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_the_full_period_after_each_switch() {
        let s = Duration::from_secs;
        let mut c = Cooldown::new(s(60));
        assert_eq!(c.remaining(s(0)), Duration::ZERO);
        c.record(s(10));
        assert_eq!(c.remaining(s(10)), s(60));
        assert_eq!(c.remaining(s(69)), s(1));
        assert_eq!(c.remaining(s(70)), Duration::ZERO);
        assert_eq!(c.remaining(s(500)), Duration::ZERO);
    }
}
