//! Manual choices, pause and resume in the switching policy, with a fake clock.

use std::time::Duration;

use WorkloadClass::*;
use autosa::backend::Observed;
use autosa::policy::plan::{EevdfPlan, HogTreatment, Plan, ScxChoice, WorkloadClass};
use autosa::switching::{Action, Command, Input, SwitchingConfig, SwitchingPolicy, TargetSample};

fn plan(class: WorkloadClass, hogs: Vec<u32>) -> Plan {
    Plan {
        class,
        scx: None,
        eevdf: EevdfPlan {
            hogs: HogTreatment::Idle,
            latency_slice_ns: None,
            hog_tgids: hogs,
            latency_tgids: Vec::new(),
            global_knobs: Vec::new(),
        },
    }
}

fn config() -> SwitchingConfig {
    SwitchingConfig {
        min_confidence: 0.6,
        hold_intervals: 3,
        cooldown_secs: 0,
        max_switches_per_hour: 100,
        regression_window_secs: 5,
        regression_min_samples: 3,
        regression_threshold: 0.10,
        block_secs: 600,
    }
}

fn lat(ns: f64) -> TargetSample {
    TargetSample {
        latency_p99_ns: Some(ns),
        throughput: None,
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// One interval at `t` seconds; returns the actions and the command.
fn step(
    p: &mut SwitchingPolicy,
    t: u64,
    class: WorkloadClass,
    metric: TargetSample,
) -> (Vec<Action>, Command) {
    let plan = plan(class, vec![1]);
    let out = p.step(Input {
        now: secs(t),
        class,
        confidence: 0.9,
        plan: &plan,
        observed: &Observed::default(),
        metric,
    });
    (
        out.decisions.into_iter().map(|d| d.action).collect(),
        out.command,
    )
}

fn switched(actions: &[Action]) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::Switch { .. } | Action::Rollback { .. }))
}

#[test]
fn a_manual_choice_holds_until_its_time_then_automatic_resumes() {
    let mut p = SwitchingPolicy::new(config());
    for t in 0..5 {
        step(&mut p, t, Idle, lat(1e6));
    }
    let out = p.manual_choice(
        secs(5),
        "cpu_bound",
        Some(plan(CpuBound, vec![7])),
        Some(secs(65)),
    );
    assert_eq!(
        out.decisions[0].action,
        Action::Switch {
            from: Some(Idle),
            to: CpuBound
        }
    );
    assert!(
        out.decisions[0].why.contains("manual choice `cpu_bound`")
            && out.decisions[0].why.contains("for 60 s"),
        "{}",
        out.decisions[0].why
    );
    assert_eq!(out.command, Command::Apply(plan(CpuBound, vec![7])));
    assert_eq!(p.active(), Some(CpuBound));
    assert_eq!(
        p.pause_state().unwrap().manual.as_deref(),
        Some("cpu_bound")
    );

    // The classifier insists on Mixed, with a worse latency than before: no
    // switch and no rollback while the manual choice holds.
    for t in 6..65 {
        let (actions, command) = step(&mut p, t, Mixed, lat(9e6));
        assert!(!switched(&actions), "t={t}: {actions:?}");
        assert_eq!(command, Command::Apply(plan(CpuBound, vec![7])), "t={t}");
    }
    assert!(p.pause_state().is_some());
    // At t=65 the pause ends and the stable Mixed streak switches at once.
    let (actions, _) = step(&mut p, 65, Mixed, lat(9e6));
    assert!(p.pause_state().is_none());
    assert!(
        actions.contains(&Action::Switch {
            from: Some(CpuBound),
            to: Mixed
        }),
        "{actions:?}"
    );
}

#[test]
fn a_manual_choice_is_never_rolled_back_by_the_regression_check() {
    let mut p = SwitchingPolicy::new(config());
    for t in 0..10 {
        step(&mut p, t, Idle, lat(1e6));
    }
    p.manual_choice(secs(10), "mixed", Some(plan(Mixed, vec![])), None);
    // Much worse latency for long after, with Mixed classified: still no rollback.
    for t in 11..200 {
        let (actions, _) = step(&mut p, t, Mixed, lat(50e6));
        assert!(!switched(&actions), "t={t}: {actions:?}");
    }
    assert_eq!(p.active(), Some(Mixed));
    assert_eq!(p.status(secs(200)).judging, None);
}

#[test]
fn idle_restores_the_defaults_and_blocked_classes_may_be_chosen_by_hand() {
    let mut p = SwitchingPolicy::new(config());
    // Switch to Mixed automatically, then fail it: Mixed is blocked.
    for t in 0..10 {
        step(&mut p, t, Mixed, lat(1e6));
    }
    assert_eq!(p.active(), Some(Mixed));
    p.failed(secs(10), "scheduler exited");
    assert!(p.blocked().contains_key(&Mixed));
    let out = p.manual_choice(secs(11), "mixed", Some(plan(Mixed, vec![])), None);
    assert!(matches!(out.command, Command::Apply(_)));
    assert_eq!(p.active(), Some(Mixed));
    let out = p.manual_choice(secs(12), "idle", None, None);
    assert_eq!(out.decisions[0].action, Action::Restore);
    assert_eq!(out.command, Command::Restore);
    assert_eq!(p.active(), None);
    let (_, command) = step(&mut p, 13, CpuBound, lat(1e6));
    assert_eq!(command, Command::Nothing, "defaults stay while manual");
}

#[test]
fn pause_keeps_what_is_applied_until_resume() {
    let mut p = SwitchingPolicy::new(config());
    for t in 0..10 {
        step(&mut p, t, CpuBound, lat(1e6));
    }
    assert_eq!(p.active(), Some(CpuBound));
    let out = p.pause(secs(10), None);
    assert!(
        out.decisions[0].why.contains("until `autosa resume`"),
        "{}",
        out.decisions[0].why
    );
    assert_eq!(p.pause_state().unwrap().manual, None);
    for t in 11..100 {
        let (actions, command) = step(&mut p, t, Mixed, lat(1e6));
        assert!(!switched(&actions), "t={t}");
        assert_eq!(command, Command::Apply(plan(CpuBound, vec![1])));
    }
    let (out, released) = p.resume_auto(secs(100));
    assert_eq!(released, 0);
    assert!(out.decisions[0].why.contains("pause ended"));
    let (actions, _) = step(&mut p, 101, Mixed, lat(1e6));
    assert!(switched(&actions), "{actions:?}");
    assert_eq!(p.active(), Some(Mixed));
}

#[test]
fn pause_during_a_manual_choice_keeps_the_choice_with_the_new_end() {
    let mut p = SwitchingPolicy::new(config());
    p.manual_choice(
        secs(0),
        "scx_lavd",
        Some(plan(Mixed, vec![])),
        Some(secs(10)),
    );
    p.pause(secs(5), Some(secs(100)));
    let pause = p.pause_state().unwrap();
    assert_eq!(pause.manual.as_deref(), Some("scx_lavd"));
    assert_eq!(pause.until, Some(secs(100)));
    for t in 6..100 {
        step(&mut p, t, CpuBound, lat(1e6));
    }
    assert_eq!(p.active(), Some(Mixed));
    step(&mut p, 100, CpuBound, lat(1e6));
    assert!(p.pause_state().is_none());
}

#[test]
fn a_manual_scheduler_keeps_its_plan_and_a_failure_ends_it() {
    let mut p = SwitchingPolicy::new(config());
    let mut lavd = plan(Mixed, vec![]);
    lavd.scx = Some(ScxChoice {
        scheduler: "scx_lavd".into(),
        args: vec![],
    });
    p.manual_choice(secs(0), "scx_lavd", Some(lavd.clone()), None);
    // The classifier says Mixed, whose configured plan has no scheduler: the
    // manual plan is not replaced by it.
    let (_, command) = step(&mut p, 1, Mixed, lat(1e6));
    assert_eq!(command, Command::Apply(lavd.clone()));
    p.refresh_manual(&plan(Mixed, vec![9]));
    let (_, command) = step(&mut p, 2, Mixed, lat(1e6));
    assert_eq!(command, Command::Apply(lavd), "another plan is no refresh");
    // The scheduler dies: roll back to the defaults, the manual choice ends,
    // the pause stays.
    let out = p.failed(secs(3), "scx_lavd exited");
    assert!(
        out.decisions[0]
            .why
            .contains("manual choice `scx_lavd` ended"),
        "{}",
        out.decisions[0].why
    );
    assert_eq!(out.command, Command::Restore);
    let pause = p.pause_state().unwrap();
    assert_eq!(pause.manual, None);
}

#[test]
fn a_manual_class_choice_gets_new_processes() {
    let mut p = SwitchingPolicy::new(config());
    p.manual_choice(secs(0), "cpu_bound", Some(plan(CpuBound, vec![1])), None);
    p.refresh_manual(&plan(CpuBound, vec![1, 2]));
    let (_, command) = step(&mut p, 1, Idle, lat(1e6));
    assert_eq!(command, Command::Apply(plan(CpuBound, vec![1, 2])));
}

#[test]
fn resume_releases_back_offs_too() {
    use autosa::backend::{ForeignChange, Target};
    let mut p = SwitchingPolicy::new(config());
    let observed = Observed {
        scheduler: "eevdf".into(),
        foreign: vec![ForeignChange {
            target: Target::Scheduler,
            what: "scheduler".into(),
            expected: "eevdf".into(),
            found: "sched_ext:lavd".into(),
        }],
    };
    let plan = plan(Idle, vec![]);
    p.step(Input {
        now: secs(0),
        class: Idle,
        confidence: 0.9,
        plan: &plan,
        observed: &observed,
        metric: lat(1e6),
    });
    assert!(p.manual().scheduler_backed_off());
    let (out, released) = p.resume_auto(secs(1));
    assert_eq!(released, 1);
    assert!(
        out.decisions[0]
            .why
            .contains("1 manual back-off(s) released")
    );
    assert!(!p.manual().scheduler_backed_off());
}

#[test]
fn a_manual_choice_ends_the_back_off_from_the_scheduler() {
    use autosa::backend::{ForeignChange, Target};
    let mut p = SwitchingPolicy::new(config());
    let observed = Observed {
        scheduler: "sched_ext:lavd".into(),
        foreign: vec![ForeignChange {
            target: Target::Scheduler,
            what: "scheduler".into(),
            expected: "eevdf".into(),
            found: "sched_ext:lavd".into(),
        }],
    };
    let idle = plan(Idle, vec![]);
    p.step(Input {
        now: secs(0),
        class: Idle,
        confidence: 0.9,
        plan: &idle,
        observed: &observed,
        metric: lat(1e6),
    });
    assert!(p.manual().scheduler_backed_off());
    let out = p.manual_choice(secs(1), "cpu_bound", Some(plan(CpuBound, vec![1])), None);
    assert!(!p.manual().scheduler_backed_off());
    assert_eq!(out.command, Command::Apply(plan(CpuBound, vec![1])));
    // The manual plan is carried out every interval from now on.
    let (_, command) = step(&mut p, 2, Idle, lat(1e6));
    assert_eq!(command, Command::Apply(plan(CpuBound, vec![1])));
}
