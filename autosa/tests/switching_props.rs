//! Properties of the switching policy over random runs (fake clock).

use std::time::Duration;

use autosa::backend::Observed;
use autosa::policy::plan::{EevdfPlan, HogTreatment, Plan, WorkloadClass};
use autosa::switching::{Action, Input, SwitchingConfig, SwitchingPolicy, TargetSample};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

fn plan(class: WorkloadClass) -> Plan {
    Plan {
        class,
        scx: None,
        eevdf: EevdfPlan {
            hogs: HogTreatment::Nice(19),
            latency_slice_ns: Some(300_000),
            hog_tgids: vec![10],
            latency_tgids: vec![20],
            global_knobs: vec![],
        },
    }
}

#[derive(Debug, Clone)]
struct Tick {
    class: WorkloadClass,
    confidence: f64,
    latency: Option<f64>,
    step_secs: u64,
}

fn tick() -> impl Strategy<Value = Tick> {
    (
        0..WorkloadClass::ALL.len(),
        0.0..1.0f64,
        prop::option::of(1e4..1e7f64),
        1..20u64,
    )
        .prop_map(|(c, confidence, latency, step_secs)| Tick {
            class: WorkloadClass::ALL[c],
            confidence,
            latency,
            step_secs,
        })
}

/// Runs of the same class, so that stable stretches happen.
fn runs() -> impl Strategy<Value = Vec<Tick>> {
    prop::collection::vec((tick(), 1..8usize), 1..60).prop_map(|runs| {
        runs.into_iter()
            .flat_map(|(t, n)| std::iter::repeat_n(t, n))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn cooldown_rate_hysteresis_and_blocks_always_hold(ticks in runs()) {
        let config = SwitchingConfig {
            min_confidence: 0.5,
            hold_intervals: 3,
            cooldown_secs: 30,
            max_switches_per_hour: 4,
            regression_window_secs: 20,
            regression_min_samples: 3,
            regression_threshold: 0.1,
            block_secs: 300,
        };
        let mut policy = SwitchingPolicy::new(config.clone());
        let observed = Observed::default();
        let mut now = Duration::ZERO;
        let mut history: Vec<(WorkloadClass, f64)> = Vec::new();
        let mut changes: Vec<Duration> = Vec::new();
        let mut last_switch: Option<Duration> = None;
        let mut rollbacks: Vec<(WorkloadClass, Duration)> = Vec::new();
        for t in &ticks {
            now += Duration::from_secs(t.step_secs);
            history.push((t.class, t.confidence));
            let p = plan(t.class);
            let out = policy.step(Input {
                now,
                class: t.class,
                confidence: t.confidence,
                plan: &p,
                observed: &observed,
                metric: TargetSample { latency_p99_ns: t.latency, throughput: Some(1.0) },
            });
            for d in &out.decisions {
                match d.action {
                    Action::Switch { to, .. } => {
                        let n = history.len();
                        prop_assert!(n >= 3);
                        for (c, conf) in &history[n - 3..] {
                            prop_assert_eq!(*c, to);
                            prop_assert!(*conf >= 0.5);
                        }
                        if let Some(prev) = last_switch {
                            prop_assert!(now - prev >= Duration::from_secs(30), "cooldown");
                        }
                        for (class, at) in &rollbacks {
                            if *class == to {
                                prop_assert!(now - *at >= Duration::from_secs(300), "block");
                            }
                        }
                        last_switch = Some(now);
                        changes.push(now);
                    }
                    Action::Rollback { from, .. } => {
                        rollbacks.push((from, now));
                        last_switch = Some(now);
                        changes.push(now);
                    }
                    _ => {}
                }
            }
            let in_hour = changes
                .iter()
                .filter(|t| now.saturating_sub(**t) < Duration::from_secs(3600))
                .count();
            // A rollback is never refused, so the limit may be passed by one.
            prop_assert!(in_hour <= 5, "{} changes in an hour", in_hour);
        }
    }
}

/// The property above is not vacuous: over the same kind of random runs,
/// switches and rollbacks do happen.
#[test]
fn random_runs_do_switch_and_roll_back() {
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let (mut switches, mut rollbacks) = (0, 0);
    for _ in 0..300 {
        let ticks = runs().new_tree(&mut runner).unwrap().current();
        let mut policy = SwitchingPolicy::new(SwitchingConfig {
            min_confidence: 0.5,
            cooldown_secs: 30,
            regression_window_secs: 20,
            regression_min_samples: 3,
            ..SwitchingConfig::default()
        });
        let mut now = Duration::ZERO;
        for t in &ticks {
            now += Duration::from_secs(t.step_secs);
            let p = plan(t.class);
            let out = policy.step(Input {
                now,
                class: t.class,
                confidence: t.confidence,
                plan: &p,
                observed: &Observed::default(),
                metric: TargetSample {
                    latency_p99_ns: t.latency,
                    throughput: Some(1.0),
                },
            });
            for d in out.decisions {
                match d.action {
                    Action::Switch { .. } => switches += 1,
                    Action::Rollback { .. } => rollbacks += 1,
                    _ => {}
                }
            }
        }
    }
    eprintln!("{switches} switches, {rollbacks} rollbacks");
    assert!(switches > 50, "{switches}");
    assert!(rollbacks > 0, "{rollbacks}");
}
