//! The switching policy with a fake clock: every rule, table-driven.

use std::time::Duration;

use WorkloadClass::*;
use autosa::backend::{ForeignChange, Observed, Target};
use autosa::policy::plan::{EevdfPlan, HogTreatment, Plan, ScxChoice, WorkloadClass};
use autosa::switching::{
    Action, Command, Decision, Input, SwitchingConfig, SwitchingPolicy, TargetSample,
};

fn plan(class: WorkloadClass) -> Plan {
    Plan {
        class,
        scx: None,
        eevdf: EevdfPlan {
            hogs: HogTreatment::Idle,
            latency_slice_ns: Some(300_000),
            hog_tgids: vec![100, 101],
            latency_tgids: vec![200],
            global_knobs: vec![("base_slice_ns".into(), "1500000".into())],
        },
    }
}

/// Config with no baseline requirement and no regression check in the way,
/// unless a test asks for them.
fn config() -> SwitchingConfig {
    SwitchingConfig {
        min_confidence: 0.6,
        hold_intervals: 3,
        cooldown_secs: 0,
        max_switches_per_hour: 100,
        regression_window_secs: 1,
        regression_min_samples: 1,
        regression_threshold: 0.10,
        block_secs: 600,
    }
}

/// A fake daemon: one step per second of fake time.
struct Run {
    policy: SwitchingPolicy,
    now: Duration,
    observed: Observed,
    decisions: Vec<Decision>,
    last: Command,
}

impl Run {
    fn new(config: SwitchingConfig) -> Self {
        config.validate().unwrap();
        Run {
            policy: SwitchingPolicy::new(config),
            now: Duration::ZERO,
            observed: Observed::default(),
            decisions: Vec::new(),
            last: Command::Nothing,
        }
    }

    fn tick(&mut self, class: WorkloadClass, confidence: f64, metric: TargetSample) -> &Command {
        let plan = plan(class);
        let out = self.policy.step(Input {
            now: self.now,
            class,
            confidence,
            plan: &plan,
            observed: &self.observed,
            metric,
        });
        self.decisions.extend(out.decisions);
        self.last = out.command;
        self.now += Duration::from_secs(1);
        &self.last
    }

    fn ticks(&mut self, n: usize, class: WorkloadClass, confidence: f64, metric: TargetSample) {
        for _ in 0..n {
            self.tick(class, confidence, metric);
        }
    }

    fn switches(&self) -> Vec<(Option<WorkloadClass>, WorkloadClass)> {
        self.decisions
            .iter()
            .filter_map(|d| match d.action {
                Action::Switch { from, to } => Some((from, to)),
                _ => None,
            })
            .collect()
    }

    fn rollbacks(&self) -> Vec<(WorkloadClass, Option<WorkloadClass>)> {
        self.decisions
            .iter()
            .filter_map(|d| match d.action {
                Action::Rollback { from, to } => Some((from, to)),
                _ => None,
            })
            .collect()
    }

    fn last_why(&self) -> &str {
        &self.decisions.last().expect("a decision").why
    }
}

fn lat(ns: f64) -> TargetSample {
    TargetSample {
        latency_p99_ns: Some(ns),
        throughput: None,
    }
}

/// A steady, unremarkable interval: the regression check always keeps.
const OK: TargetSample = TargetSample {
    latency_p99_ns: Some(1e6),
    throughput: Some(1.0),
};

const NONE: TargetSample = TargetSample {
    latency_p99_ns: None,
    throughput: None,
};

#[test]
fn hysteresis_and_confidence_table() {
    // (classes with confidence per interval, switches expected)
    type Case = (&'static [(WorkloadClass, f64)], &'static [WorkloadClass]);
    let cases: &[Case] = &[
        // Below confidence: never.
        (&[(Mixed, 0.5); 10], &[]),
        // Exactly at the minimum counts.
        (&[(Mixed, 0.6); 3], &[Mixed]),
        // Two intervals are not enough.
        (&[(Mixed, 0.9), (Mixed, 0.9)], &[]),
        // A low-confidence interval breaks the streak.
        (
            &[
                (Mixed, 0.9),
                (Mixed, 0.9),
                (Mixed, 0.3),
                (Mixed, 0.9),
                (Mixed, 0.9),
            ],
            &[],
        ),
        // Alternating classes never switch (no flapping).
        (
            &[
                (Mixed, 0.9),
                (CpuBound, 0.9),
                (Mixed, 0.9),
                (CpuBound, 0.9),
                (Mixed, 0.9),
                (CpuBound, 0.9),
                (Mixed, 0.9),
                (CpuBound, 0.9),
            ],
            &[],
        ),
        // A stable class, then another stable class.
        (
            &[
                (Mixed, 0.9),
                (Mixed, 0.9),
                (Mixed, 0.9),
                (CpuBound, 0.9),
                (CpuBound, 0.9),
                (CpuBound, 0.9),
            ],
            &[Mixed, CpuBound],
        ),
        // Staying on the active class makes no new switch.
        (&[(Idle, 0.9); 9], &[Idle]),
    ];
    for (seq, want) in cases {
        let mut run = Run::new(config());
        for (class, conf) in seq.iter() {
            run.tick(*class, *conf, OK);
        }
        let got: Vec<WorkloadClass> = run.switches().into_iter().map(|(_, to)| to).collect();
        assert_eq!(&got, want, "{seq:?}");
    }
}

#[test]
fn switch_happens_on_the_nth_interval_and_carries_the_plan() {
    let mut run = Run::new(config());
    assert_eq!(run.tick(Mixed, 0.9, OK), &Command::Nothing);
    assert_eq!(run.tick(Mixed, 0.9, OK), &Command::Nothing);
    assert!(run.last_why().contains("2 of 3"), "{}", run.last_why());
    assert_eq!(run.tick(Mixed, 0.9, OK), &Command::Apply(plan(Mixed)));
    assert_eq!(run.switches(), vec![(None, Mixed)]);
    // Later intervals re-apply the latest plan (new processes get it too).
    assert_eq!(run.tick(Mixed, 0.9, OK), &Command::Apply(plan(Mixed)));
    // A low-confidence different class holds the active plan.
    assert_eq!(run.tick(CpuBound, 0.2, OK), &Command::Apply(plan(Mixed)));
    assert!(
        run.last_why().contains("confidence 0.20"),
        "{}",
        run.last_why()
    );
}

#[test]
fn cooldown_is_respected() {
    let mut run = Run::new(SwitchingConfig {
        cooldown_secs: 20,
        ..config()
    });
    run.ticks(3, Mixed, 0.9, OK); // switch at t=2
    run.ticks(3, CpuBound, 0.9, OK); // t=3..5: stable but cooling down
    assert_eq!(run.switches().len(), 1);
    assert!(
        run.last_why().contains("cooldown: 17 s left"),
        "{}",
        run.last_why()
    );
    // t=6..21: still cooling down; t=22 is 20 s after the switch.
    run.ticks(16, CpuBound, 0.9, OK);
    assert_eq!(run.switches().len(), 1);
    assert!(
        run.last_why().contains("cooldown: 1 s left"),
        "{}",
        run.last_why()
    );
    run.tick(CpuBound, 0.9, OK);
    assert_eq!(run.switches(), vec![(None, Mixed), (Some(Mixed), CpuBound)]);
}

#[test]
fn rate_limit_caps_switches_per_hour() {
    let mut run = Run::new(SwitchingConfig {
        max_switches_per_hour: 2,
        ..config()
    });
    for class in [Mixed, CpuBound, Mixed, CpuBound] {
        run.ticks(3, class, 0.9, OK);
    }
    assert_eq!(run.switches().len(), 2);
    assert!(run.last_why().contains("limit 2"), "{}", run.last_why());
    // An hour after the first switch (t=2) one more is allowed.
    while run.now < Duration::from_secs(3602) {
        run.tick(Mixed, 0.9, OK);
    }
    assert_eq!(run.switches().len(), 2);
    run.tick(Mixed, 0.9, OK);
    assert_eq!(run.switches().len(), 3);
}

#[test]
fn regression_rolls_back_blocks_and_the_block_expires() {
    let mut run = Run::new(SwitchingConfig {
        regression_min_samples: 3,
        regression_window_secs: 5,
        block_secs: 100,
        ..config()
    });
    // Baseline on the default state: p99 1 ms.
    run.ticks(5, Idle, 0.1, lat(1e6));
    run.ticks(3, Mixed, 0.9, lat(1e6)); // switch at t=7
    assert_eq!(run.switches(), vec![(None, Mixed)]);
    assert!(run.last_why().contains("will judge"), "{}", run.last_why());
    // After the switch p99 is 3 ms: worse.
    run.ticks(4, Mixed, 0.9, lat(3e6));
    assert!(run.rollbacks().is_empty(), "no verdict before the window");
    run.tick(Mixed, 0.9, lat(3e6)); // t=12: 5 s after the switch
    assert_eq!(run.rollbacks(), vec![(Mixed, None)]);
    assert_eq!(run.last, Command::Restore, "back to the defaults");
    assert!(
        run.last_why().contains("blocked for 100 s"),
        "{}",
        run.last_why()
    );
    assert!(run.policy.blocked().contains_key(&Mixed));
    let status = run.policy.status(run.now);
    assert_eq!(status.active, None);
    assert_eq!(status.blocked, vec![(Mixed, 99)]);
    assert_eq!(status.switches_last_hour, 2, "the switch and the rollback");
    assert!(
        serde_json::to_string(&status)
            .unwrap()
            .contains("\"blocked\":[[\"mixed\",99]]")
    );
    // Mixed stays wanted: blocked, no switch.
    run.ticks(50, Mixed, 0.9, lat(1e6));
    assert_eq!(run.switches().len(), 1);
    assert!(run.last_why().contains("blocked"), "{}", run.last_why());
    // The block ends 100 s after the rollback (t=112).
    while run.now < Duration::from_secs(112) {
        run.tick(Mixed, 0.9, lat(1e6));
    }
    assert_eq!(run.switches().len(), 1);
    run.tick(Mixed, 0.9, lat(1e6));
    assert_eq!(run.switches().len(), 2);
}

#[test]
fn improvement_is_kept() {
    let mut run = Run::new(SwitchingConfig {
        regression_min_samples: 3,
        regression_window_secs: 5,
        ..config()
    });
    run.ticks(5, Idle, 0.1, lat(5.6e6));
    run.ticks(3, Mixed, 0.9, lat(5.6e6));
    run.ticks(10, Mixed, 0.9, lat(40e3));
    assert!(run.rollbacks().is_empty());
    assert!(
        run.decisions.iter().any(|d| d.why.contains("kept")),
        "{:?}",
        run.decisions
    );
    assert_eq!(run.last, Command::Apply(plan(Mixed)));
}

#[test]
fn throughput_regression_rolls_back_to_the_previous_class() {
    let tp = |v| TargetSample {
        latency_p99_ns: None,
        throughput: Some(v),
    };
    let mut run = Run::new(SwitchingConfig {
        regression_min_samples: 3,
        regression_window_secs: 5,
        ..config()
    });
    run.ticks(3, Idle, 0.9, tp(1.0)); // Idle: no target metric, switched at once
    assert_eq!(run.switches(), vec![(None, Idle)]);
    run.ticks(5, Idle, 0.9, tp(1.0));
    run.ticks(3, CpuBound, 0.9, tp(1.0));
    assert_eq!(run.switches().len(), 2);
    run.ticks(6, CpuBound, 0.9, tp(0.5));
    assert_eq!(run.rollbacks(), vec![(CpuBound, Some(Idle))]);
    assert_eq!(run.last, Command::Apply(plan(Idle)));
    assert_eq!(run.policy.active(), Some(Idle));
}

#[test]
fn no_switch_and_no_verdict_before_the_minimum_samples() {
    let mut run = Run::new(SwitchingConfig {
        regression_min_samples: 10,
        regression_window_secs: 30,
        ..config()
    });
    // Only 4 baseline samples: the switch waits for a baseline.
    run.ticks(4, Mixed, 0.9, lat(1e6));
    assert!(run.switches().is_empty());
    assert!(run.last_why().contains("baseline"), "{}", run.last_why());
    run.ticks(6, Mixed, 0.9, lat(1e6)); // 10 samples now
    assert_eq!(run.switches().len(), 1);
    // 9 bad samples over a long time: still no verdict.
    let mut run2 = Run::new(SwitchingConfig {
        regression_min_samples: 10,
        regression_window_secs: 10,
        ..config()
    });
    run2.ticks(10, Mixed, 0.9, lat(1e6));
    assert_eq!(run2.switches().len(), 1);
    for _ in 0..9 {
        run2.tick(Mixed, 0.9, lat(9e6));
        run2.tick(Mixed, 0.9, NONE);
    }
    assert!(run2.rollbacks().is_empty(), "9 samples < 10: no verdict");
    run2.tick(Mixed, 0.9, lat(9e6));
    assert_eq!(run2.rollbacks().len(), 1);
}

#[test]
fn a_metric_never_measured_does_not_block_switching_forever() {
    let mut run = Run::new(SwitchingConfig {
        regression_min_samples: 10,
        regression_window_secs: 5,
        ..config()
    });
    run.ticks(5, Mixed, 0.9, NONE);
    assert!(run.switches().is_empty());
    run.tick(Mixed, 0.9, NONE);
    assert_eq!(run.switches().len(), 1);
    assert!(run.last_why().contains("not judged"), "{}", run.last_why());
}

#[test]
fn manual_change_backs_off_until_resume() {
    let mut run = Run::new(config());
    run.ticks(3, Mixed, 0.9, OK);
    let hog = Target::Process {
        tgid: 100,
        start_time: 777,
    };
    run.observed.foreign = vec![ForeignChange {
        target: hog.clone(),
        what: "thread 100 of 100 (hog) scheduling".into(),
        expected: "SCHED_IDLE nice 0".into(),
        found: "SCHED_OTHER nice 5".into(),
    }];
    let Command::Apply(p) = run.tick(Mixed, 0.9, OK).clone() else {
        panic!("{:?}", run.last)
    };
    assert_eq!(
        p.eevdf.hog_tgids,
        vec![101],
        "the changed process is left alone"
    );
    let backoffs: Vec<_> = run
        .decisions
        .iter()
        .filter(|d| matches!(d.action, Action::BackOff { .. }))
        .collect();
    assert_eq!(backoffs.len(), 1);
    assert!(
        backoffs[0].why.contains("autosa resume"),
        "{}",
        backoffs[0].why
    );

    // The backend stops reporting it (it let go), the back-off stays.
    run.observed.foreign.clear();
    run.ticks(20, Mixed, 0.9, OK);
    let Command::Apply(p) = &run.last else {
        panic!()
    };
    assert_eq!(p.eevdf.hog_tgids, vec![101]);
    assert!(run.policy.manual().is_backed_off(&hog));
    assert_eq!(run.policy.status(run.now).backed_off.len(), 1);

    assert_eq!(run.policy.resume(Some(&hog)), 1);
    run.tick(Mixed, 0.9, OK);
    let Command::Apply(p) = &run.last else {
        panic!()
    };
    assert_eq!(p.eevdf.hog_tgids, vec![100, 101]);
}

#[test]
fn a_foreign_scheduler_pauses_all_switching_until_resume() {
    let mut run = Run::new(config());
    run.observed.foreign = vec![ForeignChange {
        target: Target::Scheduler,
        what: "sched_ext".into(),
        expected: "eevdf".into(),
        found: "sched_ext:lavd".into(),
    }];
    run.ticks(10, Mixed, 0.9, OK);
    assert!(run.switches().is_empty());
    assert_eq!(run.last, Command::Nothing);
    run.observed.foreign.clear();
    run.ticks(10, Mixed, 0.9, OK);
    assert!(run.switches().is_empty(), "sticky until resume");
    run.policy.resume(None);
    run.ticks(3, Mixed, 0.9, OK);
    assert_eq!(run.switches().len(), 1);
}

#[test]
fn stop_restores() {
    let mut run = Run::new(config());
    run.ticks(3, Mixed, 0.9, OK);
    let out = run.policy.stop(run.now);
    assert_eq!(out.command, Command::Restore);
    assert!(matches!(out.decisions[0].action, Action::Restore));
    assert_eq!(run.policy.active(), None);
}

#[test]
fn a_failed_choice_rolls_back_to_the_previous_one_and_is_blocked() {
    let mut run = Run::new(config());
    run.ticks(3, CpuBound, 0.9, NONE);
    assert_eq!(run.policy.active(), Some(CpuBound));
    run.ticks(3, Mixed, 0.9, NONE);
    assert_eq!(run.policy.active(), Some(Mixed));

    // The scheduler for Mixed was ejected: back to CpuBound's plan, Mixed blocked.
    let out = run.policy.failed(run.now, "sched_ext ejected scx_bpfland");
    assert_eq!(out.command, Command::Apply(plan(CpuBound)));
    assert!(matches!(
        out.decisions[0].action,
        Action::Rollback {
            from: Mixed,
            to: Some(CpuBound)
        }
    ));
    assert!(out.decisions[0].why.contains("ejected"));
    assert_eq!(run.policy.active(), Some(CpuBound));
    assert!(run.policy.blocked().contains_key(&Mixed));

    // Mixed stays blocked however long it holds.
    run.ticks(10, Mixed, 0.9, NONE);
    assert_eq!(run.policy.active(), Some(CpuBound));

    // With nothing before it, a failure restores the defaults.
    let mut run = Run::new(config());
    run.ticks(3, Mixed, 0.9, NONE);
    assert_eq!(
        run.policy.failed(run.now, "exited").command,
        Command::Restore
    );
    assert_eq!(run.policy.active(), None);
    // And with nothing active there is nothing to do.
    assert_eq!(
        run.policy.failed(run.now, "exited").command,
        Command::Nothing
    );
}

#[test]
fn a_failed_scheduler_is_not_restarted_by_the_rollback() {
    // Two classes mapped to the same scheduler: the one before the failure
    // would start the scheduler that just died again. Back to the defaults.
    let with_scx = |class| Plan {
        scx: Some(ScxChoice {
            scheduler: "scx_bpfland".into(),
            args: Vec::new(),
        }),
        ..plan(class)
    };
    let mut policy = SwitchingPolicy::new(config());
    let observed = Observed::default();
    let mut now = Duration::ZERO;
    for class in [CpuBound, CpuBound, CpuBound, Mixed, Mixed, Mixed] {
        let plan = with_scx(class);
        policy.step(Input {
            now,
            class,
            confidence: 0.9,
            plan: &plan,
            observed: &observed,
            metric: NONE,
        });
        now += Duration::from_secs(1);
    }
    assert_eq!(policy.active(), Some(Mixed));
    let out = policy.failed(now, "scx_bpfland (pid 7) exited with signal: 9 (SIGKILL)");
    assert_eq!(out.command, Command::Restore);
    assert!(matches!(
        out.decisions[0].action,
        Action::Rollback {
            from: Mixed,
            to: None
        }
    ));
    assert_eq!(policy.active(), None);
    assert!(policy.blocked().contains_key(&Mixed));
    // Nor does the other class that maps to it start it again while blocked.
    for _ in 0..5 {
        let plan = with_scx(CpuBound);
        let out = policy.step(Input {
            now,
            class: CpuBound,
            confidence: 0.9,
            plan: &plan,
            observed: &observed,
            metric: NONE,
        });
        assert_eq!(out.command, Command::Nothing, "{:?}", out.decisions);
        now += Duration::from_secs(1);
    }
    assert_eq!(policy.active(), None);
    let status = policy.status(now);
    assert_eq!(status.blocked_schedulers.len(), 1);
    assert_eq!(status.blocked_schedulers[0].0, "scx_bpfland");
}

#[test]
fn a_quiet_spell_before_the_load_is_no_baseline() {
    // The benefit bench's rollbacks: the daemon watched an idle machine (low
    // latency) before the mixed load began; that was the baseline, and the
    // good switch looked like a regression.
    let mut r = Run::new(SwitchingConfig {
        hold_intervals: 2,
        regression_window_secs: 5,
        regression_min_samples: 4,
        ..config()
    });
    r.ticks(4, Idle, 0.9, lat(20_000.0));
    r.ticks(5, Mixed, 0.9, lat(3_000_000.0));
    assert_eq!(
        r.switches(),
        [(None, Idle), (Some(Idle), Mixed)],
        "{:?}",
        r.decisions
    );
    assert!(
        r.decisions
            .iter()
            .any(|d| d.why.contains("collecting a baseline")),
        "waited for samples of the loaded machine: {:?}",
        r.decisions
    );
    r.ticks(8, Mixed, 0.9, lat(200_000.0));
    assert!(r.rollbacks().is_empty(), "{:?}", r.decisions);
    assert!(
        r.decisions.iter().any(|d| d.why.contains("kept")),
        "{:?}",
        r.decisions
    );
}

#[test]
fn treated_hogs_stay_in_the_applied_plan_while_it_is_active() {
    let mut policy = SwitchingPolicy::new(config());
    let observed = Observed::default();
    let mut last = Command::Nothing;
    for (i, hogs) in [
        vec![100, 101],
        vec![100, 101],
        vec![100, 101],
        vec![100, 101],
        vec![101],
        vec![],
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = plan(Mixed);
        p.eevdf.hog_tgids = hogs;
        last = policy
            .step(Input {
                now: Duration::from_secs(i as u64),
                class: Mixed,
                confidence: 0.9,
                plan: &p,
                observed: &observed,
                metric: lat(1e6),
            })
            .command;
    }
    match last {
        Command::Apply(p) => {
            let mut hogs = p.eevdf.hog_tgids.clone();
            hogs.sort();
            assert_eq!(hogs, [100, 101], "niced hogs that use less CPU stay niced");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn defaults_to_defaults_is_no_switch_and_spends_no_cooldown() {
    // The shipped idle plan changes nothing: a quiet start read as idle must
    // not count as a switch, start the cooldown or use an hourly slot.
    let nothing = Plan {
        class: Idle,
        scx: None,
        eevdf: EevdfPlan {
            hogs: HogTreatment::Leave,
            latency_slice_ns: None,
            hog_tgids: vec![],
            latency_tgids: vec![],
            global_knobs: vec![],
        },
    };
    assert!(nothing.changes_nothing());
    assert!(!plan(CpuBound).changes_nothing());
    let mut policy = SwitchingPolicy::new(SwitchingConfig {
        cooldown_secs: 60,
        max_switches_per_hour: 1,
        ..config()
    });
    let observed = Observed::default();
    let mut decisions = Vec::new();
    let mut step = |policy: &mut SwitchingPolicy, secs: u64, class, plan: &Plan| {
        let out = policy.step(Input {
            now: Duration::from_secs(secs),
            class,
            confidence: 1.0,
            plan,
            observed: &observed,
            metric: TargetSample::default(),
        });
        decisions.extend(out.decisions);
        out.command
    };
    for t in 0..5 {
        step(&mut policy, t, Idle, &nothing);
    }
    assert_eq!(policy.active(), Some(Idle), "the class is taken as current");
    let status = policy.status(Duration::from_secs(5));
    assert_eq!(status.switches_last_hour, 0);
    assert_eq!(status.cooldown_left_secs, 0);
    // A real load right after: switched at once, not held by a cooldown or
    // the one-per-hour limit.
    let cpu = plan(CpuBound);
    let mut last = Command::Nothing;
    for t in 5..8 {
        last = step(&mut policy, t, CpuBound, &cpu);
    }
    let switches: Vec<_> = decisions
        .iter()
        .filter_map(|d| match d.action {
            Action::Switch { from, to } => Some((from, to)),
            _ => None,
        })
        .collect();
    assert_eq!(switches, [(Some(Idle), CpuBound)]);
    assert!(matches!(last, Command::Apply(ref p) if p.class == CpuBound));
}
