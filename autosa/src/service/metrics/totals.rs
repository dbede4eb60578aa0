//! Running totals over the daemon's life, fed one snapshot per interval:
//! what Prometheus counters and histograms are made of.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use autosa_common::hist::BUCKETS;

use crate::model::Snapshot;
use crate::model::hist;
use crate::model::snapshot::{LatencyHistogram, ProbeDrops, PsiView};

/// One histogram summed over all intervals (dense log-linear buckets).
#[derive(Debug, Clone, PartialEq)]
pub struct HistTotal {
    pub buckets: Vec<u64>,
    pub sum_ns: u64,
    pub count: u64,
}

impl Default for HistTotal {
    fn default() -> Self {
        HistTotal {
            buckets: vec![0; BUCKETS],
            sum_ns: 0,
            count: 0,
        }
    }
}

impl HistTotal {
    pub fn add(&mut self, h: &LatencyHistogram) {
        hist::merge_into(&mut self.buckets, &hist::dense(h));
        self.sum_ns = self.sum_ns.saturating_add(h.sum_ns);
        self.count = self.count.saturating_add(h.count);
    }
}

/// Everything summed since start, plus the latest PSI totals (already cumulative).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub intervals: u64,
    pub runq: HistTotal,
    pub slice: HistTotal,
    /// By (device name, operation).
    pub block: BTreeMap<(String, &'static str), HistTotal>,
    pub drops: ProbeDrops,
    pub psi: Option<PsiView>,
}

impl Totals {
    pub fn add(&mut self, snap: &Snapshot) {
        self.intervals += 1;
        if let Some(s) = &snap.sched {
            self.runq.add(&s.runq_latency);
            self.slice.add(&s.slice);
            self.drops.add(&s.drops);
        }
        for b in &snap.block_latency {
            let dev = if b.name.is_empty() {
                b.dev.clone()
            } else {
                b.name.clone()
            };
            self.block
                .entry((dev, b.op.as_str()))
                .or_default()
                .add(&b.latency);
        }
        if snap.psi.is_some() {
            self.psi = snap.psi;
        }
    }
}

/// The daemon writes, the HTTP handler reads.
#[derive(Debug, Clone, Default)]
pub struct SharedTotals(Arc<Mutex<Totals>>);

impl SharedTotals {
    pub fn add(&self, snap: &Snapshot) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.add(snap);
    }

    pub fn get(&self) -> Totals {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::IoOp;
    use crate::model::snapshot::{BlockLatencyView, SchedView};

    fn hist(values: &[(u32, u64)], sum_ns: u64) -> LatencyHistogram {
        LatencyHistogram {
            count: values.iter().map(|v| v.1).sum(),
            sum_ns,
            buckets: values.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn intervals_add_up() {
        let mut snap = Snapshot {
            sched: Some(SchedView {
                runq_latency: hist(&[(100, 2), (200, 1)], 3000),
                ..Default::default()
            }),
            block_latency: vec![BlockLatencyView {
                dev: "254:0".into(),
                name: "vda".into(),
                op: IoOp::Write,
                latency: hist(&[(300, 4)], 9000),
                ..Default::default()
            }],
            ..Default::default()
        };
        snap.sched.as_mut().unwrap().drops.events_lost = 3;
        let mut t = Totals::default();
        t.add(&snap);
        t.add(&snap);
        assert_eq!(t.intervals, 2);
        assert_eq!((t.runq.count, t.runq.sum_ns), (6, 6000));
        assert_eq!((t.runq.buckets[100], t.runq.buckets[200]), (4, 2));
        assert_eq!(t.drops.events_lost, 6);
        let vda = &t.block[&("vda".to_owned(), "write")];
        assert_eq!((vda.count, vda.buckets[300]), (8, 8));
    }
}
