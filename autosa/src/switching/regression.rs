//! After a switch, compare a target metric over a window after the switch with
//! the window before it, counting only the intervals classified as the class
//! switched to (the condition the switch answers: samples from before a load
//! started describe another machine); a change for the worse beyond a threshold means the
//! switch did not help and is rolled back. Medians, not means: the samples are
//! noisy and one outlier must not decide. No verdict before a minimum number of
//! samples on each side.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::policy::plan::WorkloadClass;

/// The metric that shows whether a switch helped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetMetric {
    /// p99 run-queue latency of the latency-sensitive tasks (ns, lower is better).
    LatencyP99,
    /// Useful CPU work: busy fraction or a hog's CPU time per second (higher is better).
    Throughput,
}

impl TargetMetric {
    /// The metric a switch to `class` should improve; `None`: no check.
    pub fn for_class(class: WorkloadClass) -> Option<TargetMetric> {
        match class {
            WorkloadClass::LatencySensitive | WorkloadClass::Mixed => {
                Some(TargetMetric::LatencyP99)
            }
            WorkloadClass::CpuBound => Some(TargetMetric::Throughput),
            WorkloadClass::Idle | WorkloadClass::IoBound | WorkloadClass::MemoryBound => None,
        }
    }

    pub fn lower_is_better(self) -> bool {
        matches!(self, TargetMetric::LatencyP99)
    }

    pub fn pick(self, sample: &TargetSample) -> Option<f64> {
        let v = match self {
            TargetMetric::LatencyP99 => sample.latency_p99_ns,
            TargetMetric::Throughput => sample.throughput,
        };
        v.filter(|v| v.is_finite())
    }

    /// A value of this metric for people: `1.25 ms`, `1.83 CPUs`.
    pub fn format(self, v: f64) -> String {
        match self {
            TargetMetric::LatencyP99 if v >= 1e6 => format!("{:.2} ms", v / 1e6),
            TargetMetric::LatencyP99 => format!("{:.0} us", v / 1e3),
            TargetMetric::Throughput => format!("{v:.2} CPUs"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TargetMetric::LatencyP99 => "p99 run-queue latency of latency-sensitive tasks",
            TargetMetric::Throughput => "CPU throughput",
        }
    }
}

/// One interval's values of every target metric; `None` when not measured
/// (e.g. no latency-sensitive task ran).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetSample {
    pub latency_p99_ns: Option<f64>,
    pub throughput: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Not enough data yet.
    Pending { have: usize, need: usize },
    /// Not worse beyond the threshold (`change` is relative, + = larger value).
    Kept {
        before: f64,
        after: f64,
        change: f64,
    },
    /// Worse beyond the threshold.
    Regressed {
        before: f64,
        after: f64,
        change: f64,
    },
    /// The trial ended without enough samples to judge.
    NoVerdict { have: usize, need: usize },
}

#[derive(Debug, Clone, PartialEq)]
struct Trial {
    started: Duration,
    metric: TargetMetric,
    baseline: Vec<f64>,
    after: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegressionCheck {
    window: Duration,
    min_samples: usize,
    threshold: f64,
    /// Samples since the last switch (only those describe the current state),
    /// with the class each interval was classified as.
    history: VecDeque<(Duration, WorkloadClass, TargetSample)>,
    trial: Option<Trial>,
}

/// A trial that cannot gather its samples gives up after this many windows.
const GIVE_UP_WINDOWS: u32 = 4;

impl RegressionCheck {
    pub fn new(window: Duration, min_samples: u32, threshold: f64) -> Self {
        RegressionCheck {
            window,
            min_samples: min_samples.max(1) as usize,
            threshold,
            history: VecDeque::new(),
            trial: None,
        }
    }

    /// New limits; the history and a trial under way are kept.
    pub fn set_limits(&mut self, window: Duration, min_samples: u32, threshold: f64) {
        self.window = window;
        self.min_samples = min_samples.max(1) as usize;
        self.threshold = threshold;
    }

    pub fn record(&mut self, now: Duration, class: WorkloadClass, sample: TargetSample) {
        while let Some(&(t, _, _)) = self.history.front() {
            if now.saturating_sub(t) > self.window {
                self.history.pop_front();
            } else {
                break;
            }
        }
        self.history.push_back((now, class, sample));
        if let Some(trial) = &mut self.trial
            && now > trial.started
            && let Some(v) = trial.metric.pick(&sample)
        {
            trial.after.push(v);
        }
    }

    fn baseline(
        &self,
        metric: TargetMetric,
        class: WorkloadClass,
    ) -> impl Iterator<Item = f64> + '_ {
        self.history
            .iter()
            .filter(move |(_, c, _)| *c == class)
            .filter_map(move |(_, _, s)| metric.pick(s))
    }

    /// Baseline samples of `metric` in intervals classified `class`, from
    /// the current state only.
    pub fn baseline_len(&self, metric: TargetMetric, class: WorkloadClass) -> usize {
        self.baseline(metric, class).count()
    }

    /// How long `class` has been showing in the window (since its first
    /// interval there, measured or not): how long its baseline has had to
    /// gather. Zero when it has not shown.
    pub fn class_age(&self, class: WorkloadClass, now: Duration) -> Duration {
        self.history
            .iter()
            .find(|(_, c, _)| *c == class)
            .map_or(Duration::ZERO, |(t, _, _)| now.saturating_sub(*t))
    }

    pub fn min_samples(&self) -> usize {
        self.min_samples
    }

    pub fn judging(&self) -> Option<TargetMetric> {
        self.trial.as_ref().map(|t| t.metric)
    }

    /// A switch to `class` happened at `now`: freeze the baseline (the
    /// intervals classified `class` before it) and start watching (`metric`
    /// `None`: nothing to watch, only the history restarts).
    pub fn start(&mut self, now: Duration, class: WorkloadClass, metric: Option<TargetMetric>) {
        self.trial = metric.map(|metric| Trial {
            started: now,
            metric,
            baseline: self.baseline(metric, class).collect(),
            after: Vec::new(),
        });
        self.history.clear();
    }

    /// Forget any trial (after a rollback or restore).
    pub fn reset(&mut self) {
        self.trial = None;
        self.history.clear();
    }

    /// The verdict on the running trial, if any; a final verdict ends it.
    pub fn verdict(&mut self, now: Duration) -> Option<(TargetMetric, Verdict)> {
        let trial = self.trial.as_ref()?;
        let need = self.min_samples;
        let elapsed = now.saturating_sub(trial.started);
        let have = trial.after.len().min(trial.baseline.len());
        let verdict = if trial.baseline.len() >= need
            && trial.after.len() >= need
            && elapsed >= self.window
        {
            let before = median(&trial.baseline);
            let after = median(&trial.after);
            let change = relative_change(before, after);
            let worse = if trial.metric.lower_is_better() {
                change > self.threshold
            } else {
                change < -self.threshold
            };
            if worse {
                Verdict::Regressed {
                    before,
                    after,
                    change,
                }
            } else {
                Verdict::Kept {
                    before,
                    after,
                    change,
                }
            }
        } else if elapsed >= self.window * GIVE_UP_WINDOWS || trial.baseline.len() < need {
            Verdict::NoVerdict { have, need }
        } else {
            Verdict::Pending { have, need }
        };
        let metric = trial.metric;
        if !matches!(verdict, Verdict::Pending { .. }) {
            self.trial = None;
        }
        Some((metric, verdict))
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn relative_change(before: f64, after: f64) -> f64 {
    if before.abs() > f64::EPSILON {
        (after - before) / before.abs()
    } else if after > before {
        f64::INFINITY
    } else if after < before {
        f64::NEG_INFINITY
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lat(v: f64) -> TargetSample {
        TargetSample {
            latency_p99_ns: Some(v),
            throughput: None,
        }
    }

    fn run(before: &[f64], after: &[f64], min: u32) -> Verdict {
        let s = Duration::from_secs;
        let mut r = RegressionCheck::new(s(5), min, 0.10);
        for (i, v) in before.iter().enumerate() {
            r.record(s(i as u64), WorkloadClass::Mixed, lat(*v));
        }
        let t0 = before.len() as u64;
        r.start(s(t0), WorkloadClass::Mixed, Some(TargetMetric::LatencyP99));
        let mut last = None;
        for (i, v) in after.iter().enumerate() {
            let now = s(t0 + 1 + i as u64);
            r.record(now, WorkloadClass::Mixed, lat(*v));
            last = r.verdict(now);
            if !matches!(last, Some((_, Verdict::Pending { .. }))) {
                break;
            }
        }
        last.unwrap().1
    }

    #[test]
    fn table() {
        let base = [100.0, 100.0, 100.0, 100.0, 100.0];
        assert!(matches!(
            run(&base, &[150.0; 5], 5),
            Verdict::Regressed { .. }
        ));
        assert!(matches!(run(&base, &[105.0; 5], 5), Verdict::Kept { .. }));
        assert!(matches!(run(&base, &[40.0; 5], 5), Verdict::Kept { .. }));
        // One outlier does not decide: the median does.
        assert!(matches!(
            run(&base, &[100.0, 100.0, 9000.0, 100.0, 100.0], 5),
            Verdict::Kept { .. }
        ));
        // Not enough after-samples yet.
        assert!(matches!(
            run(&base, &[150.0; 3], 5),
            Verdict::Pending { have: 3, need: 5 }
        ));
        // Not enough baseline: no verdict at all.
        assert!(matches!(
            run(&base[..2], &[150.0; 5], 5),
            Verdict::NoVerdict { .. }
        ));
    }

    #[test]
    fn throughput_is_higher_is_better() {
        let s = Duration::from_secs;
        let tp = |v| TargetSample {
            latency_p99_ns: None,
            throughput: Some(v),
        };
        let mut r = RegressionCheck::new(s(3), 3, 0.10);
        for i in 0..3 {
            r.record(s(i), WorkloadClass::CpuBound, tp(1.0));
        }
        r.start(
            s(3),
            WorkloadClass::CpuBound,
            Some(TargetMetric::Throughput),
        );
        for i in 4..7 {
            r.record(s(i), WorkloadClass::CpuBound, tp(0.5));
        }
        assert!(matches!(
            r.verdict(s(6)),
            Some((TargetMetric::Throughput, Verdict::Regressed { .. }))
        ));
        assert_eq!(r.verdict(s(7)), None, "a final verdict ends the trial");
    }

    #[test]
    fn gives_up_when_the_metric_never_comes() {
        let s = Duration::from_secs;
        let mut r = RegressionCheck::new(s(5), 3, 0.10);
        for i in 0..3 {
            r.record(s(i), WorkloadClass::CpuBound, lat(10.0));
        }
        r.start(
            s(3),
            WorkloadClass::CpuBound,
            Some(TargetMetric::LatencyP99),
        );
        for i in 4..23 {
            r.record(s(i), WorkloadClass::CpuBound, TargetSample::default());
            let v = r.verdict(s(i)).unwrap().1;
            if i < 23 {
                assert!(matches!(v, Verdict::Pending { .. }), "{i}: {v:?}");
            }
        }
        r.record(s(23), WorkloadClass::CpuBound, TargetSample::default());
        assert!(matches!(
            r.verdict(s(23)).unwrap().1,
            Verdict::NoVerdict { .. }
        ));
    }

    #[test]
    fn the_baseline_counts_only_intervals_of_the_class_switched_to() {
        let s = Duration::from_secs;
        let mut r = RegressionCheck::new(s(10), 3, 0.10);
        // Idle before the load: low latency, not what the switch answers.
        for i in 0..5 {
            r.record(s(i), WorkloadClass::Idle, lat(20.0));
        }
        assert_eq!(
            r.baseline_len(TargetMetric::LatencyP99, WorkloadClass::Mixed),
            0
        );
        assert_eq!(r.class_age(WorkloadClass::Mixed, s(5)), s(0));
        for i in 5..8 {
            r.record(s(i), WorkloadClass::Mixed, lat(3000.0));
        }
        assert_eq!(
            r.baseline_len(TargetMetric::LatencyP99, WorkloadClass::Mixed),
            3
        );
        assert_eq!(r.class_age(WorkloadClass::Mixed, s(8)), s(3));
        r.start(s(8), WorkloadClass::Mixed, Some(TargetMetric::LatencyP99));
        let mut verdict = None;
        for i in 9..20 {
            r.record(s(i), WorkloadClass::Mixed, lat(200.0));
            verdict = r.verdict(s(i));
            if !matches!(verdict, Some((_, Verdict::Pending { .. }))) {
                break;
            }
        }
        // Against the idle intervals 200 would be a regression; against the
        // loaded ones it is the improvement it is.
        match verdict {
            Some((_, Verdict::Kept { before, after, .. })) => {
                assert_eq!(before, 3000.0);
                assert_eq!(after, 200.0);
            }
            other => panic!("{other:?}"),
        }
    }
}
