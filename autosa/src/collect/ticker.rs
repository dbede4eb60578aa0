//! Deadline-based ticking for the sampling loops of the CLI commands: the k-th
//! tick is due at start + k × interval, so slow reads do not add up to drift,
//! and a missed deadline is skipped rather than caught up in a burst.

use std::time::{Duration, Instant};

/// When the next tick is due, given the start, the interval and now.
/// Pure: the caller owns the clock.
pub fn next_deadline(start: Instant, interval: Duration, now: Instant) -> Instant {
    let elapsed = now.saturating_duration_since(start);
    let ticks = elapsed.as_nanos() / interval.as_nanos().max(1) + 1;
    start + interval * u32::try_from(ticks).unwrap_or(u32::MAX)
}

/// A blocking ticker.
pub struct Ticker {
    start: Instant,
    interval: Duration,
}

impl Ticker {
    pub fn new(interval: Duration) -> Self {
        Self {
            start: Instant::now(),
            interval,
        }
    }

    /// Sleeps until the next deadline.
    pub fn wait(&self) {
        let now = Instant::now();
        let due = next_deadline(self.start, self.interval, now);
        std::thread::sleep(due.saturating_duration_since(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_multiples_of_the_interval() {
        let start = Instant::now();
        let i = Duration::from_secs(1);
        assert_eq!(next_deadline(start, i, start), start + i);
        assert_eq!(
            next_deadline(start, i, start + Duration::from_millis(999)),
            start + i
        );
        assert_eq!(next_deadline(start, i, start + i), start + 2 * i);
    }

    #[test]
    fn a_late_tick_skips_missed_deadlines() {
        let start = Instant::now();
        let i = Duration::from_millis(100);
        let late = start + Duration::from_millis(350);
        assert_eq!(
            next_deadline(start, i, late),
            start + Duration::from_millis(400)
        );
    }
}
