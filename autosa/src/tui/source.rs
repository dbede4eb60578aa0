//! Where `autosa top` gets its data: the running daemon over the control
//! socket, or its own collector and policy engine (standalone). Both sit
//! behind [`Source`] and run on a thread of their own ([`FeedThread`]), so a
//! slow read or an unresponsive daemon never freezes the keys or the screen.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use super::model::{EngineFeed, Feed, feed_from_daemon};
use crate::collect::Collector;
use crate::collect::ticker::Ticker;
use crate::config::CollectConfig;
use crate::control::{Client, ClientError, DaemonStatus, Request, Response};
use crate::model::Snapshot;
use crate::policy::{Engine, PolicyConfig, config::ConfigError};

/// One source of updates.
pub trait Source: Send {
    /// Blocks until the next interval, then says what the source knows now.
    /// Errors are sentences for the title bar; the caller keeps polling.
    fn next_feed(&mut self) -> Result<Feed, String>;
}

/// The running daemon, asked for its status and latest snapshot each interval.
pub struct DaemonSource {
    client: Client,
    ticker: Ticker,
    first: bool,
}

impl DaemonSource {
    pub fn new(socket: impl Into<PathBuf>, interval: Duration) -> DaemonSource {
        DaemonSource {
            // Shorter than the default: the screen says "error" sooner.
            client: Client::new(socket).with_timeout(Duration::from_secs(2)),
            ticker: Ticker::new(interval),
            first: true,
        }
    }

    /// The daemon's status, or why it cannot be had (used to decide the fallback).
    pub fn status(&self) -> Result<Box<DaemonStatus>, String> {
        match self.client.call(&Request::Status) {
            Ok(Response::Status(s)) => Ok(s),
            Ok(Response::Error { message }) => Err(message),
            Ok(other) => Err(unexpected(&other)),
            Err(e) => Err(e.to_string()),
        }
    }

    fn snapshot(&self) -> Result<Option<Snapshot>, ClientError> {
        Ok(match self.client.call(&Request::Snapshot)? {
            Response::Snapshot(s) => Some(*s),
            // Before its first interval the daemon has no snapshot to give.
            _ => None,
        })
    }
}

fn unexpected(r: &Response) -> String {
    format!("the daemon answered `{}` to a status request", r.kind())
}

impl Source for DaemonSource {
    fn next_feed(&mut self) -> Result<Feed, String> {
        if !std::mem::take(&mut self.first) {
            self.ticker.wait();
        }
        let status = self.status()?;
        let snapshot = self.snapshot().map_err(|e| e.to_string())?;
        Ok(feed_from_daemon(&status, snapshot))
    }
}

/// autosa's own collector (eBPF when it loads, procfs otherwise) and policy engine.
pub struct StandaloneSource {
    collector: Collector,
    engine: Engine,
    ticker: Ticker,
    feed: EngineFeed,
    baseline: bool,
}

impl StandaloneSource {
    /// Starts the collector (loading eBPF if allowed) on the calling thread.
    pub fn new(
        collect: &CollectConfig,
        policy: PolicyConfig,
    ) -> Result<StandaloneSource, ConfigError> {
        let engine = Engine::new(policy)?;
        Ok(StandaloneSource {
            collector: Collector::start(collect),
            engine,
            ticker: Ticker::new(collect.interval),
            feed: EngineFeed::default(),
            baseline: false,
        })
    }

    /// Why eBPF is off, if it is.
    pub fn bpf_off_reason(&self) -> Option<&str> {
        self.collector.bpf_off_reason()
    }
}

impl Source for StandaloneSource {
    fn next_feed(&mut self) -> Result<Feed, String> {
        if !std::mem::replace(&mut self.baseline, true) {
            // The baseline the first interval is measured from.
            self.collector.next_snapshot();
        }
        loop {
            self.ticker.wait();
            if let Some(snap) = self.collector.next_snapshot() {
                let decision = self.engine.push(&snap);
                return Ok(self.feed.push(snap, &decision));
            }
        }
    }
}

/// A source polled on its own thread; updates arrive on `updates`.
pub struct FeedThread {
    pub updates: Receiver<Result<Feed, String>>,
    stop: Arc<AtomicBool>,
}

impl FeedThread {
    pub fn spawn(mut source: Box<dyn Source>) -> std::io::Result<FeedThread> {
        let (tx, rx) = sync_channel(2);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::Builder::new()
            .name("autosa-top-feed".into())
            .spawn(move || feed_loop(source.as_mut(), &tx, &s))?;
        Ok(FeedThread { updates: rx, stop })
    }
}

fn feed_loop(source: &mut dyn Source, tx: &SyncSender<Result<Feed, String>>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let update = source.next_feed();
        match tx.try_send(update) {
            // The screen is behind: it only wants the latest anyway.
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => break,
        }
    }
}

impl Drop for FeedThread {
    /// Not joined: the thread may sleep up to one interval, and quitting
    /// should be instant. It ends at its next update (or with the process).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counting(u64);

    impl Source for Counting {
        fn next_feed(&mut self) -> Result<Feed, String> {
            self.0 += 1;
            std::thread::sleep(Duration::from_millis(5));
            if self.0.is_multiple_of(2) {
                Err(format!("even {}", self.0))
            } else {
                Ok(Feed::default())
            }
        }
    }

    #[test]
    fn the_thread_delivers_updates_and_errors() {
        let t = FeedThread::spawn(Box::new(Counting(0))).unwrap();
        let got: Vec<_> = (0..2)
            .map(|_| t.updates.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert!(got[0].is_ok());
        assert_eq!(got[1], Err("even 2".to_owned()));
    }

    #[test]
    fn an_absent_daemon_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = DaemonSource::new(dir.path().join("none.sock"), Duration::from_millis(10));
        let e = d.next_feed().unwrap_err();
        assert!(e.contains("cannot reach the autosa daemon"), "{e}");
    }

    #[test]
    fn standalone_on_fixture_procfs_gives_a_class() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let collect = CollectConfig {
            interval: Duration::from_millis(10),
            bpf: false,
            proc_root: fixtures.join("proc/host-6.18"),
            sys_root: fixtures.join("sys/scx-disabled"),
            ..CollectConfig::default()
        };
        let mut s = StandaloneSource::new(&collect, PolicyConfig::default()).unwrap();
        assert!(s.bpf_off_reason().is_some());
        let feed = s.next_feed().unwrap();
        assert!(feed.snapshot.is_some());
        assert!(feed.class.is_some());
        assert_eq!(feed.timeline.len(), 1);
    }
}
