//! The scrape: [`LiveState`] and [`Totals`] written as OpenMetrics text (or
//! the older Prometheus text format for clients that do not ask for it).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::buckets::fold;
use super::totals::{HistTotal, Totals};
use crate::model::snapshot::PsiLine;
use crate::policy::plan::WorkloadClass;
use crate::service::live::LiveState;

/// Which text format the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/openmetrics-text; version=1.0.0`
    OpenMetrics,
    /// `text/plain; version=0.0.4`
    PrometheusText,
}

impl Format {
    /// From the request's `Accept` header: OpenMetrics when listed.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::PrometheusText,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::PrometheusText => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Renders the metrics. Pure: the state and totals are arguments.
pub fn render(live: &LiveState, totals: &Totals, format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape {
        live: live.clone(),
        totals: totals.clone(),
    }));
    let mut out = String::new();
    let written = match format {
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
        Format::PrometheusText => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        }
    };
    // Writing into a String cannot fail; the encoder only reports fmt errors.
    written.expect("rendering metrics into a String");
    out
}

#[derive(Debug)]
struct Scrape {
    live: LiveState,
    totals: Totals,
}

type Res = Result<(), std::fmt::Error>;

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Res {
    e.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, f64>(&v, None)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, unit: Option<&Unit>, v: f64) -> Res {
    e.encode_descriptor(name, help, unit, MetricType::Gauge)?
        .encode_gauge(&v)
}

fn histogram(h: &HistTotal) -> (f64, u64, Vec<(f64, u64)>) {
    (h.sum_ns as f64 / 1e9, h.count, fold(&h.buckets))
}

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder) -> Res {
        let (l, t) = (&self.live, &self.totals);
        let s = Unit::Seconds;

        // What autosa decided.
        {
            let mut m = e.encode_descriptor(
                "autosa_workload_class",
                "The workload class of the last interval (1 for the current class, 0 for the others).",
                None,
                MetricType::Gauge,
            )?;
            for class in WorkloadClass::ALL {
                let v = i64::from(l.status.class == Some(class));
                m.encode_family(&[("class", class.as_str())])?
                    .encode_gauge(&v)?;
            }
        }
        gauge(
            &mut e,
            "autosa_classification_confidence",
            "Confidence of the current classification, 0 to 1.",
            None,
            l.status.confidence,
        )?;
        counter(
            &mut e,
            "autosa_switches",
            "Decisions that changed the scheduler (switches, rollbacks, restores).",
            l.switches,
        )?;
        counter(
            &mut e,
            "autosa_rollbacks",
            "Switches undone because they made things worse or the scheduler failed.",
            l.rollbacks,
        )?;
        counter(
            &mut e,
            "autosa_dropped_intervals",
            "Intervals dropped because the daemon had not handled the previous ones.",
            l.status.dropped_intervals,
        )?;
        counter(
            &mut e,
            "autosa_intervals",
            "Intervals handled since start.",
            t.intervals,
        )?;

        // Scheduler latency, from eBPF (empty histograms without it).
        let (sum, count, buckets) = histogram(&t.runq);
        e.encode_descriptor(
            "autosa_runqueue_latency",
            "Time tasks waited on a run queue after a wakeup or preemption before they ran.",
            Some(&s),
            MetricType::Histogram,
        )?
        .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        let (sum, count, buckets) = histogram(&t.slice);
        e.encode_descriptor(
            "autosa_slice",
            "Time tasks ran on a CPU per switch-in (slice length).",
            Some(&s),
            MetricType::Histogram,
        )?
        .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        {
            let mut m = e.encode_descriptor(
                "autosa_block_io_latency",
                "Block request latency from issue to completion, by device and operation.",
                Some(&s),
                MetricType::Histogram,
            )?;
            for ((dev, op), h) in &t.block {
                let (sum, count, buckets) = histogram(h);
                m.encode_family(&[("device", dev.as_str()), ("op", *op)])?
                    .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
            }
        }
        counter(
            &mut e,
            "autosa_bpf_events_lost",
            "Latency events the ring buffer could not take.",
            t.drops.events_lost,
        )?;
        {
            let mut m = e.encode_descriptor(
                "autosa_bpf_map_full",
                "Updates the kernel side could not record because a map was full.",
                None,
                MetricType::Counter,
            )?;
            for (map, v) in [
                ("pid", t.drops.pid_map_full),
                ("tgid", t.drops.tgid_map_full),
                ("block", t.drops.block_map_full),
            ] {
                m.encode_family(&[("map", map)])?
                    .encode_counter::<NoLabelSet, _, f64>(&v, None)?;
            }
        }

        // The machine, as of the last interval.
        if let Some(snap) = &l.snapshot {
            gauge(
                &mut e,
                "autosa_cpu_utilisation_ratio",
                "Fraction of the last interval the CPUs were busy (all CPUs averaged).",
                None,
                snap.cpu.total.busy(),
            )?;
            let mut m = e.encode_descriptor(
                "autosa_pressure_stall_ratio",
                "Fraction of the last interval tasks stalled on a resource (PSI).",
                None,
                MetricType::Gauge,
            )?;
            if let Some(psi) = &snap.psi {
                for (resource, kind, line) in psi_lines(psi) {
                    m.encode_family(&[("resource", resource), ("kind", kind)])?
                        .encode_gauge(&line.stall_fraction)?;
                }
            }
        }
        if let Some(psi) = &t.psi {
            let mut m = e.encode_descriptor(
                "autosa_pressure_stalled",
                "Total time tasks stalled on a resource since boot (PSI).",
                Some(&s),
                MetricType::Counter,
            )?;
            for (resource, kind, line) in psi_lines(psi) {
                let secs = line.total_us as f64 / 1e6;
                m.encode_family(&[("resource", resource), ("kind", kind)])?
                    .encode_counter::<NoLabelSet, _, f64>(&secs, None)?;
            }
        }
        Ok(())
    }
}

fn psi_lines(psi: &crate::model::snapshot::PsiView) -> Vec<(&'static str, &'static str, PsiLine)> {
    let mut out = Vec::new();
    for (name, r) in [("cpu", &psi.cpu), ("io", &psi.io), ("memory", &psi.memory)] {
        out.push((name, "some", r.some));
        if let Some(full) = r.full {
            out.push((name, "full", full));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::{DaemonStatus, PROTOCOL_VERSION};
    use crate::model::Snapshot;
    use crate::model::snapshot::{PsiResource, PsiView, SchedView};
    use crate::service::metrics::totals::Totals;
    use crate::switching::{SwitchingConfig, SwitchingPolicy};
    use std::time::Duration;

    fn state(class: Option<WorkloadClass>, snapshot: Option<Snapshot>) -> LiveState {
        LiveState {
            status: DaemonStatus {
                protocol: PROTOCOL_VERSION,
                version: "0".into(),
                pid: 1,
                started_unix_ms: 0,
                backend: "dry-run".into(),
                dry_run: true,
                interval_ms: 1000,
                class,
                confidence: 0.75,
                reasons: Vec::new(),
                scheduler: "eevdf".into(),
                since_unix_ms: 0,
                switching: SwitchingPolicy::new(SwitchingConfig::default()).status(Duration::ZERO),
                paused: false,
                paused_until_unix_ms: None,
                manual: None,
                recent: Vec::new(),
                sources: Vec::new(),
                dropped_intervals: 2,
                probe_losses: Default::default(),
            },
            snapshot,
            decision: None,
            switches: 5,
            rollbacks: 1,
        }
    }

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        s.cpu.total.user = 0.25;
        s.cpu.total.system = 0.25;
        let mut sched = SchedView::default();
        // Bucket 100 holds 640–671 ns, bucket 300 3.67–3.80 ms.
        sched.runq_latency.buckets = vec![(100, 3), (300, 1)];
        sched.runq_latency.count = 4;
        sched.runq_latency.sum_ns = 1_005_000;
        sched.drops.events_lost = 7;
        s.sched = Some(sched);
        let psi = PsiView {
            io: PsiResource {
                some: crate::model::snapshot::PsiLine {
                    total_us: 2_500_000,
                    stall_fraction: 0.125,
                    ..Default::default()
                },
                full: Some(Default::default()),
            },
            ..Default::default()
        };
        s.psi = Some(psi);
        s
    }

    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{series} missing from:\n{text}"))
            .parse()
            .unwrap()
    }

    #[test]
    fn class_is_one_hot_and_counters_come_from_the_live_state() {
        let live = state(Some(WorkloadClass::CpuBound), None);
        let text = render(&live, &Totals::default(), Format::OpenMetrics);
        assert_eq!(
            value(&text, r#"autosa_workload_class{class="cpu_bound"}"#),
            1.0
        );
        assert_eq!(value(&text, r#"autosa_workload_class{class="idle"}"#), 0.0);
        assert_eq!(
            text.matches("autosa_workload_class{").count(),
            WorkloadClass::ALL.len()
        );
        assert_eq!(value(&text, "autosa_classification_confidence"), 0.75);
        assert_eq!(value(&text, "autosa_switches_total"), 5.0);
        assert_eq!(value(&text, "autosa_rollbacks_total"), 1.0);
        assert_eq!(value(&text, "autosa_dropped_intervals_total"), 2.0);
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn histograms_are_cumulative_in_seconds() {
        let snap = snapshot();
        let mut totals = Totals::default();
        totals.add(&snap);
        totals.add(&snap);
        let live = state(None, Some(snap));
        let text = render(&live, &totals, Format::PrometheusText);
        let h = "autosa_runqueue_latency_seconds";
        assert_eq!(value(&text, &format!("{h}_count")), 8.0);
        assert!((value(&text, &format!("{h}_sum")) - 0.00201).abs() < 1e-12);
        // Bucket 100 holds 640–671 ns, bucket 300 3.67–3.80 ms.
        assert_eq!(value(&text, &format!(r#"{h}_bucket{{le="1e-06"}}"#)), 6.0);
        assert_eq!(value(&text, &format!(r#"{h}_bucket{{le="0.0025"}}"#)), 6.0);
        assert_eq!(value(&text, &format!(r#"{h}_bucket{{le="0.005"}}"#)), 8.0);
        assert_eq!(value(&text, &format!(r#"{h}_bucket{{le="+Inf"}}"#)), 8.0);
        assert_eq!(value(&text, "autosa_bpf_events_lost_total"), 14.0);
        assert_eq!(value(&text, "autosa_cpu_utilisation_ratio"), 0.5);
        assert_eq!(
            value(
                &text,
                r#"autosa_pressure_stall_ratio{resource="io",kind="some"}"#
            ),
            0.125
        );
        assert_eq!(
            value(
                &text,
                r#"autosa_pressure_stalled_seconds_total{resource="io",kind="some"}"#
            ),
            2.5
        );
    }

    #[test]
    fn format_follows_the_accept_header() {
        assert_eq!(Format::from_accept(None), Format::PrometheusText);
        assert_eq!(
            Format::from_accept(Some("application/openmetrics-text;version=1.0.0")),
            Format::OpenMetrics
        );
    }
}
