//! The daemon's side of the history store: what to record and when. A store
//! that fails is logged once and switched off: the daemon's job goes on.

use std::path::PathBuf;

use crate::backend::Applied;
use crate::config::Config;
use crate::history::{Entry, HistoryStore, MetricsPoint, Record, StoreOptions};
use crate::policy::Decision as PolicyDecision;
use crate::switching::Decision;

pub(super) struct HistoryLog {
    store: Option<HistoryStore>,
    metrics_every_ms: u64,
    last_metrics_ms: Option<u64>,
}

impl HistoryLog {
    pub(super) fn open(config: &Config) -> HistoryLog {
        let mut log = HistoryLog {
            store: None,
            metrics_every_ms: config.history.metrics_every.as_millis() as u64,
            last_metrics_ms: None,
        };
        if config.history.enabled {
            let dir = config.daemon.state_dir.join("history");
            match HistoryStore::open(&dir, StoreOptions::from_config(&config.history)) {
                Ok(s) => log.store = Some(s),
                Err(e) => tracing::error!("{e}; running without a history"),
            }
        }
        log
    }

    /// Where readers find it; `None` when disabled.
    pub(super) fn dir(&self) -> Option<PathBuf> {
        self.store.as_ref().map(|s| s.dir().to_owned())
    }

    pub(super) fn record(&mut self, time_unix_ms: u64, record: Record) {
        self.record_all(vec![Entry {
            time_unix_ms,
            record,
        }]);
    }

    /// Written together, synced once.
    fn record_all(&mut self, entries: Vec<Entry>) {
        let Some(store) = &mut self.store else { return };
        if let Err(e) = store.append_all(&entries) {
            tracing::error!("{e}; the history stops here");
            self.store = None;
        }
    }

    /// A decision that changed something (the daemon keeps holds out).
    pub(super) fn decision(&mut self, time_unix_ms: u64, d: &Decision) {
        self.record(
            time_unix_ms,
            Record::Decision {
                decision: d.clone(),
            },
        );
    }

    pub(super) fn applied(&mut self, time_unix_ms: u64, applied: &Applied) {
        if applied.changes.is_empty() {
            return;
        }
        let entries = applied
            .changes
            .iter()
            .map(|c| Entry {
                time_unix_ms,
                record: Record::Applied {
                    what: c.what.clone(),
                    from: c.from.clone(),
                    to: c.to.clone(),
                },
            })
            .collect();
        self.record_all(entries);
    }

    /// One metrics point per `metrics_every`, from the latest interval's
    /// decision; `switches` so far.
    pub(super) fn metrics(&mut self, time_unix_ms: u64, decision: &PolicyDecision, switches: u64) {
        if self.store.is_none()
            || self
                .last_metrics_ms
                .is_some_and(|last| time_unix_ms < last + self.metrics_every_ms)
        {
            return;
        }
        let f = &decision.features;
        self.last_metrics_ms = Some(time_unix_ms);
        self.record(
            time_unix_ms,
            Record::Metrics(MetricsPoint {
                class: Some(decision.classification.class),
                confidence: decision.classification.confidence,
                cpu_busy: f.cpu_busy,
                runq_p50_ns: f.runq_p50_ns,
                runq_p99_ns: f.runq_p99_ns,
                psi_cpu: f.psi.cpu_some,
                psi_io: f.psi.io_some,
                psi_memory: f.psi.memory_some,
                switches,
            }),
        );
    }

    pub(super) fn sync(&mut self) {
        if let Some(s) = &mut self.store
            && let Err(e) = s.sync()
        {
            tracing::error!("{e}");
        }
    }
}
