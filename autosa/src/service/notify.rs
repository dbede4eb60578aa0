//! systemd's notification protocol (`Type=notify`): READY, RELOADING,
//! STOPPING, STATUS and watchdog pings. Every call is a no-op when
//! `NOTIFY_SOCKET` is unset (not started by systemd), and a failed send is
//! only logged: the daemon's work never depends on systemd listening.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// The daemon's side of sd_notify.
#[derive(Debug)]
pub struct Notifier {
    /// Half of `WATCHDOG_USEC`: how often the loop pings, when systemd asked.
    watchdog_every: Option<Duration>,
    ready_sent: bool,
    /// The last STATUS sent: an unchanged line is not sent again.
    last_status: String,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC`/`WATCHDOG_PID` (through sd-notify).
    pub fn from_env() -> Notifier {
        let watchdog_every = sd_notify::watchdog_enabled()
            .filter(|d| !d.is_zero())
            .map(|d| d / 2);
        if let Some(every) = watchdog_every {
            tracing::debug!(every = %humantime::format_duration(every), "systemd watchdog enabled");
        }
        Notifier {
            watchdog_every,
            ready_sent: false,
            last_status: String::new(),
        }
    }

    /// How often the loop must ping, if systemd's watchdog is on.
    pub fn watchdog_every(&self) -> Option<Duration> {
        self.watchdog_every
    }

    /// READY=1 with a one-line status, once; later calls only update STATUS
    /// when it changed.
    pub fn ready(&mut self, status: &str) {
        if !self.ready_sent {
            self.ready_sent = true;
            send(&[NotifyState::Ready, NotifyState::Status(status)]);
        } else if status != self.last_status {
            send(&[NotifyState::Status(status)]);
        }
        status.clone_into(&mut self.last_status);
    }

    /// RELOADING=1 with the monotonic time systemd ≥ 253 requires for `Type=notify-reload`.
    pub fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => send(&[NotifyState::Reloading, now]),
            Err(_) => send(&[NotifyState::Reloading]),
        }
    }

    /// After a reload (accepted or not): READY=1 again with the status.
    pub fn reloaded(&mut self, status: &str) {
        status.clone_into(&mut self.last_status);
        send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub fn stopping(&self, status: &str) {
        send(&[NotifyState::Stopping, NotifyState::Status(status)]);
    }

    /// One watchdog ping; the loop calls it only when [`Watchdog::healthy`] says so.
    pub fn ping(&self) {
        if self.watchdog_every.is_some() {
            send(&[NotifyState::Watchdog]);
        }
    }
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("cannot notify systemd: {e}");
    }
}

/// Whether the loop is healthy enough to ping: a snapshot was handled
/// recently. A loop that still turns but gets no snapshots (a hung sampler)
/// stops pinging, so systemd restarts the daemon. Pure: time is an argument.
#[derive(Debug, Clone)]
pub struct Watchdog {
    /// How long without a handled interval still counts as healthy.
    grace: Duration,
    last_tick: Option<Instant>,
    started: Instant,
}

impl Watchdog {
    /// `interval` is the sampling interval; a few of them may pass without a
    /// snapshot (a slow read, a dropped interval) before the loop is unhealthy.
    pub fn new(interval: Duration, started: Instant) -> Watchdog {
        Watchdog {
            grace: grace(interval),
            last_tick: None,
            started,
        }
    }

    pub fn set_interval(&mut self, interval: Duration) {
        self.grace = grace(interval);
    }

    pub fn ticked(&mut self, now: Instant) {
        self.last_tick = Some(now);
    }

    pub fn healthy(&self, now: Instant) -> bool {
        let since = self.last_tick.unwrap_or(self.started);
        now.saturating_duration_since(since) <= self.grace
    }
}

fn grace(interval: Duration) -> Duration {
    (interval * 3).max(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_while_ticks_arrive_unhealthy_when_they_stop() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut w = Watchdog::new(s(1), t0);
        assert!(w.healthy(t0 + s(4)), "start-up grace");
        assert!(!w.healthy(t0 + s(6)), "no first interval after 6 s");
        w.ticked(t0 + s(6));
        assert!(w.healthy(t0 + s(10)));
        assert!(!w.healthy(t0 + s(12)));
    }

    #[test]
    fn long_intervals_get_a_longer_grace() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(Duration::from_secs(10), t0);
        assert!(w.healthy(t0 + Duration::from_secs(29)));
        w.set_interval(Duration::from_millis(200));
        assert!(!w.healthy(t0 + Duration::from_secs(6)));
    }
}
