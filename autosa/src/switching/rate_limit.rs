//! At most K switches in any sliding window.

use std::collections::VecDeque;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    max: u32,
    window: Duration,
    recent: VecDeque<Duration>,
}

impl RateLimit {
    pub fn new(max: u32, window: Duration) -> Self {
        RateLimit {
            max,
            window,
            recent: VecDeque::new(),
        }
    }

    /// A new limit; the switches already counted are kept.
    pub fn set_max(&mut self, max: u32) {
        self.max = max;
    }

    fn forget_old(&mut self, now: Duration) {
        while let Some(&t) = self.recent.front() {
            if now.saturating_sub(t) >= self.window {
                self.recent.pop_front();
            } else {
                break;
            }
        }
    }

    /// `None` when a switch is allowed at `now`, else how long until one is.
    pub fn wait(&mut self, now: Duration) -> Option<Duration> {
        self.forget_old(now);
        if (self.recent.len() as u64) < u64::from(self.max) {
            return None;
        }
        self.recent
            .front()
            .map(|&t| (t + self.window).saturating_sub(now))
    }

    pub fn record(&mut self, now: Duration) {
        self.forget_old(now);
        self.recent.push_back(now);
    }

    /// Switches recorded within the window ending at `now`.
    pub fn count(&self, now: Duration) -> usize {
        self.recent
            .iter()
            .filter(|&&t| now.saturating_sub(t) < self.window)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_k_per_window_then_frees_the_oldest() {
        let s = Duration::from_secs;
        let mut r = RateLimit::new(2, s(3600));
        assert_eq!(r.wait(s(0)), None);
        r.record(s(0));
        r.record(s(100));
        assert_eq!(r.wait(s(200)), Some(s(3400)));
        assert_eq!(r.wait(s(3599)), Some(s(1)));
        assert_eq!(r.wait(s(3600)), None);
        assert_eq!(r.count(s(3600)), 1);
    }
}
