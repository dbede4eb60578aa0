//! Log lines about clients, at most one per kind per period: hostile or
//! broken clients must not flood the daemon's log (one line per refused
//! connection would be thousands a second).

use std::time::{Duration, Instant};

/// One kind of event, logged the first time and then at most once per
/// `every`, with how many happened since the last line.
#[derive(Debug)]
pub struct LogEvery {
    every: Duration,
    last: Option<Instant>,
    pending: u64,
}

impl LogEvery {
    pub const fn new(every: Duration) -> LogEvery {
        LogEvery {
            every,
            last: None,
            pending: 0,
        }
    }

    /// Counts one event; `Some(n)` when a line is due, `n` events since the
    /// previous line (this one included).
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        self.pending += 1;
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < self.every)
        {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_at_once_then_one_summary_per_period() {
        let t0 = Instant::now();
        let mut l = LogEvery::new(Duration::from_secs(10));
        assert_eq!(l.hit(t0), Some(1));
        for i in 1..=99 {
            assert_eq!(l.hit(t0 + Duration::from_millis(i * 10)), None);
        }
        assert_eq!(l.hit(t0 + Duration::from_secs(10)), Some(100));
        assert_eq!(l.hit(t0 + Duration::from_secs(11)), None);
        assert_eq!(l.hit(t0 + Duration::from_secs(25)), Some(2));
    }
}
