//! `SwitchingPolicy`: one step per interval, from (time, classification,
//! plan, observed state, target metric) to decisions and one command for the
//! backend. Order of the rules: manual back-off, regression verdict (rollback),
//! then hysteresis, trial in progress, block, cooldown, rate limit, baseline.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::{ForeignChange, Observed, Target};
use crate::policy::plan::{Plan, WorkloadClass};

use super::config::SwitchingConfig;
use super::cooldown::Cooldown;
use super::decision::{Action, Decision, class_name};
use super::hysteresis::{Hysteresis, Streak};
use super::manual::ManualOverrides;
use super::pause::Pause;
use super::rate_limit::RateLimit;
use super::regression::{RegressionCheck, TargetMetric, TargetSample, Verdict};
use super::sticky::keep_treated;

const HOUR: Duration = Duration::from_secs(3600);

/// Everything one interval brings.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Time since the daemon started.
    pub now: Duration,
    pub class: WorkloadClass,
    pub confidence: f64,
    /// The policy engine's plan for `class`.
    pub plan: &'a Plan,
    pub observed: &'a Observed,
    pub metric: TargetSample,
}

/// What the backend should do this interval.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Leave the machine as it is.
    Nothing,
    /// Make the machine match this plan (already stripped of what autosa
    /// must leave alone). Sent every interval while a plan is active, so that
    /// new processes and threads get it too.
    Apply(Plan),
    /// Undo everything autosa applied.
    Restore,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub decisions: Vec<Decision>,
    pub command: Command,
}

/// The policy's state for people and the control socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwitchingStatus {
    /// The class whose plan is applied (`None`: kernel defaults).
    pub active: Option<WorkloadClass>,
    /// The metric the last switch is being judged on, if a trial runs.
    pub judging: Option<TargetMetric>,
    /// Classes blocked after a rollback, with seconds left.
    pub blocked: Vec<(WorkloadClass, u64)>,
    /// sched_ext schedulers blocked after they failed (exited, ejected,
    /// would not start), whichever class asks for them, with seconds left.
    #[serde(default)]
    pub blocked_schedulers: Vec<(String, u64)>,
    /// What autosa leaves alone after someone else changed it.
    pub backed_off: Vec<ForeignChange>,
    pub cooldown_left_secs: u64,
    pub switches_last_hour: usize,
}

#[derive(Debug, Clone)]
pub struct SwitchingPolicy {
    config: SwitchingConfig,
    hysteresis: Hysteresis,
    cooldown: Cooldown,
    rate: RateLimit,
    regression: RegressionCheck,
    manual: ManualOverrides,
    active: Option<WorkloadClass>,
    active_plan: Option<Plan>,
    /// What was active before the last switch: where a rollback returns.
    previous: Option<(Option<WorkloadClass>, Option<Plan>)>,
    blocked: BTreeMap<WorkloadClass, Duration>,
    /// A scheduler that failed is blocked for every class that maps to it.
    blocked_schedulers: BTreeMap<String, Duration>,
    /// When the current state began (first step or last switch).
    state_since: Option<Duration>,
    /// Automatic switching stopped by a person.
    pause: Option<Pause>,
}

impl SwitchingPolicy {
    /// `config` should have passed `validate()`.
    pub fn new(config: SwitchingConfig) -> Self {
        SwitchingPolicy {
            hysteresis: Hysteresis::new(config.min_confidence, config.hold_intervals),
            cooldown: Cooldown::new(config.cooldown()),
            rate: RateLimit::new(config.max_switches_per_hour, HOUR),
            regression: RegressionCheck::new(
                config.regression_window(),
                config.regression_min_samples,
                config.regression_threshold,
            ),
            manual: ManualOverrides::default(),
            active: None,
            active_plan: None,
            previous: None,
            blocked: BTreeMap::new(),
            blocked_schedulers: BTreeMap::new(),
            state_since: None,
            pause: None,
            config,
        }
    }

    /// New settings (a reloaded configuration), same state: the active
    /// choice, a trial under way, blocks, back-offs, the cooldown and the
    /// switch history are kept, and the new limits apply from the next step.
    /// A block already set keeps the end it was given. `config` should have
    /// passed `validate()`.
    pub fn reconfigure(&mut self, config: SwitchingConfig) {
        self.hysteresis
            .set_limits(config.min_confidence, config.hold_intervals);
        self.cooldown.set_period(config.cooldown());
        self.rate.set_max(config.max_switches_per_hour);
        self.regression.set_limits(
            config.regression_window(),
            config.regression_min_samples,
            config.regression_threshold,
        );
        self.config = config;
    }

    /// The class whose plan is applied (`None`: kernel defaults).
    pub fn active(&self) -> Option<WorkloadClass> {
        self.active
    }

    /// Classes blocked after a rollback, with the time the block ends.
    pub fn blocked(&self) -> &BTreeMap<WorkloadClass, Duration> {
        &self.blocked
    }

    pub fn manual(&self) -> &ManualOverrides {
        &self.manual
    }

    pub fn status(&self, now: Duration) -> SwitchingStatus {
        SwitchingStatus {
            active: self.active,
            judging: self.regression.judging(),
            blocked: secs_left(&self.blocked, now),
            blocked_schedulers: secs_left(&self.blocked_schedulers, now),
            backed_off: self.manual.backed_off().cloned().collect(),
            cooldown_left_secs: self.cooldown.remaining(now).as_secs_f64().ceil() as u64,
            switches_last_hour: self.rate.count(now),
        }
    }

    /// End a manual back-off (all when `None`); returns how many were released.
    pub fn resume(&mut self, target: Option<&Target>) -> usize {
        self.manual.resume(target)
    }

    /// Automatic switching stopped by a person, if it is.
    pub fn pause_state(&self) -> Option<&Pause> {
        self.pause.as_ref()
    }

    /// A person's choice: apply `plan` (`None`: the kernel's defaults) now and
    /// pause automatic switching until `until` (`None`: until `resume_auto`).
    /// The choice is not judged by the regression check (a person chose it:
    /// autosa never rolls it back) and ignores blocks, cooldown and the rate
    /// limit; the backend's own safety rules still apply, and a choice the
    /// backend cannot keep still fails through `failed`. A back-off from the
    /// scheduler ends: the person has now said which one they want (the
    /// daemon tells the backend too).
    pub fn manual_choice(
        &mut self,
        now: Duration,
        name: &str,
        plan: Option<Plan>,
        until: Option<Duration>,
    ) -> Outcome {
        self.manual.resume(Some(&Target::Scheduler));
        let from = self.active;
        self.previous = Some((from, self.active_plan.take()));
        self.active = plan.as_ref().map(|p| p.class);
        self.active_plan = plan;
        self.regression.reset();
        // Automatic switching waits a cooldown after the person's choice too.
        self.cooldown.record(now);
        self.state_since = Some(now);
        let pause = Pause {
            until,
            manual: Some(name.to_owned()),
        };
        let why = format!(
            "manual choice `{name}`: automatic switching paused{}",
            pause.describe_until(now)
        );
        self.pause = Some(pause);
        let action = match self.active {
            Some(to) => Action::Switch { from, to },
            None => Action::Restore,
        };
        Outcome {
            decisions: vec![Decision::new(now, action, why)],
            command: match &self.active_plan {
                Some(plan) => Command::Apply(self.manual.filter(plan)),
                None => Command::Restore,
            },
        }
    }

    /// While a manual class choice is in force: its plan with this interval's
    /// processes (new hogs get the treatment too). Ignored when `plan` is not
    /// the choice in force (another class or scheduler).
    pub fn refresh_manual(&mut self, plan: &Plan) {
        let manual = self.pause.as_ref().is_some_and(|p| p.manual.is_some());
        let same = self
            .active_plan
            .as_ref()
            .is_some_and(|p| p.class == plan.class && p.scx == plan.scx);
        if manual && same {
            self.active_plan = Some(plan.clone());
        }
    }

    /// Stop automatic switching until `until` (`None`: until `resume_auto`);
    /// what is applied stays applied. A manual choice in force stays, with
    /// the new end.
    pub fn pause(&mut self, now: Duration, until: Option<Duration>) -> Outcome {
        let manual = self.pause.take().and_then(|p| p.manual);
        let pause = Pause { until, manual };
        let why = format!(
            "automatic switching paused{}; {} stays applied",
            pause.describe_until(now),
            class_name(self.active)
        );
        self.pause = Some(pause);
        Outcome {
            decisions: vec![Decision::new(now, Action::Hold { wanted: None }, why)],
            command: self.active_command(),
        }
    }

    /// End a pause, a manual choice and every manual back-off: automatic
    /// switching decides again from the next interval (what is applied stays
    /// until it does). Returns how many back-offs were released.
    pub fn resume_auto(&mut self, now: Duration) -> (Outcome, usize) {
        let ended = self.pause.take();
        let released = self.manual.resume(None);
        let why = match ended {
            Some(Pause {
                manual: Some(name), ..
            }) => format!("manual choice `{name}` ended: automatic switching resumes"),
            Some(_) => "pause ended: automatic switching resumes".to_owned(),
            None => "automatic switching was not paused".to_owned(),
        };
        let why = if released > 0 {
            format!("{why}; {released} manual back-off(s) released")
        } else {
            why
        };
        let outcome = Outcome {
            decisions: vec![Decision::new(now, Action::Hold { wanted: None }, why)],
            command: self.active_command(),
        };
        (outcome, released)
    }

    /// Shutting down: undo everything.
    pub fn stop(&mut self, now: Duration) -> Outcome {
        self.pause = None;
        let from = self.active.take();
        self.active_plan = None;
        self.previous = None;
        self.regression.reset();
        Outcome {
            decisions: vec![Decision::new(
                now,
                Action::Restore,
                format!("stopping: undoing {}", class_name(from)),
            )],
            command: Command::Restore,
        }
    }

    /// The backend could not keep the active choice (sched_ext ejected the
    /// scheduler, it exited, or applying failed): go back to what ran before
    /// and block the failed class, as after a regression.
    pub fn failed(&mut self, now: Duration, why: &str) -> Outcome {
        let Some(from) = self.active else {
            return Outcome {
                decisions: Vec::new(),
                command: Command::Nothing,
            };
        };
        let (mut back_to, mut back_plan) = self.previous.take().unwrap_or((None, None));
        // Going back to a plan that runs the scheduler that just failed would
        // restart it: that is no rollback. Go back to the defaults instead.
        let failed_scx = self.active_plan.as_ref().and_then(|p| p.scx.as_ref());
        if failed_scx.is_some() && back_plan.as_ref().and_then(|p| p.scx.as_ref()) == failed_scx {
            back_to = None;
            back_plan = None;
        }
        self.blocked.insert(from, now + self.config.block());
        if let Some(scx) = failed_scx {
            self.blocked_schedulers
                .insert(scx.scheduler.clone(), now + self.config.block());
        }
        self.active = back_to;
        self.active_plan = back_plan;
        self.cooldown.record(now);
        self.rate.record(now);
        self.regression.reset();
        self.state_since = Some(now);
        // A failed manual choice ends; the pause the person asked for stays.
        let manual = self.pause.as_mut().and_then(|p| p.manual.take());
        let command = match &self.active_plan {
            Some(plan) => Command::Apply(self.manual.filter(plan)),
            None => Command::Restore,
        };
        let ended = manual
            .map(|m| format!("; the manual choice `{m}` ended"))
            .unwrap_or_default();
        Outcome {
            decisions: vec![Decision::new(
                now,
                Action::Rollback { from, to: back_to },
                format!(
                    "{why}; {from} blocked for {} s{ended}",
                    self.config.block_secs
                ),
            )],
            command,
        }
    }

    pub fn step(&mut self, input: Input<'_>) -> Outcome {
        let now = input.now;
        let state_since = *self.state_since.get_or_insert(now);
        let mut decisions = Vec::new();

        for change in self.manual.observe(input.observed) {
            decisions.push(Decision::new(
                now,
                Action::BackOff {
                    target: change.target.clone(),
                },
                format!(
                    "{}: autosa set {}, found {}; someone else changed it, so autosa \
                     leaves it alone until `autosa resume`",
                    change.what, change.expected, change.found
                ),
            ));
        }
        if self.manual.scheduler_backed_off() {
            decisions.push(Decision::new(
                now,
                Action::Hold { wanted: None },
                "the scheduler was changed by someone else: switching paused until `autosa resume`",
            ));
            return Outcome {
                decisions,
                command: Command::Nothing,
            };
        }

        self.regression.record(now, input.class, input.metric);
        if self.pause.as_ref().is_some_and(|p| p.expired(now)) {
            self.pause = None;
        }
        self.blocked.retain(|_, until| *until > now);
        self.blocked_schedulers.retain(|_, until| *until > now);
        if let Some(pause) = &self.pause {
            // Keep the streak current so that resuming starts from the truth.
            self.hysteresis.observe(input.class, input.confidence);
            let wanted = Some(input.class).filter(|c| Some(*c) != self.active);
            let why = match &pause.manual {
                Some(name) => format!(
                    "manual choice `{name}` in force{}",
                    pause.describe_until(now)
                ),
                None => format!("automatic switching paused{}", pause.describe_until(now)),
            };
            decisions.push(Decision::new(now, Action::Hold { wanted }, why));
            return Outcome {
                decisions,
                command: self.active_command(),
            };
        }
        if self.active == Some(input.class) {
            self.active_plan = Some(match &self.active_plan {
                Some(active) => keep_treated(active, input.plan),
                None => input.plan.clone(),
            });
        }
        if let Some(outcome) = self.judge(now, &mut decisions) {
            return outcome;
        }

        let streak = self.hysteresis.observe(input.class, input.confidence);
        let wanted = Some(input.class);
        match streak {
            Streak::Unsure { confidence } if wanted != self.active => {
                decisions.push(Decision::new(
                    now,
                    Action::Hold { wanted },
                    format!(
                        "{} classified with confidence {:.2} < {:.2}",
                        input.class, confidence, self.config.min_confidence
                    ),
                ))
            }
            Streak::Building {
                class,
                count,
                needed,
            } if wanted != self.active => decisions.push(Decision::new(
                now,
                Action::Hold { wanted },
                format!("{class} seen {count} of {needed} intervals in a row"),
            )),
            Streak::Stable { class, .. }
                if wanted != self.active
                    && input.plan.changes_nothing()
                    && self.active_plan.as_ref().is_none_or(Plan::changes_nothing) =>
            {
                // From defaults to defaults (say the quiet machine at start read as idle):
                // nothing to apply, so no switch, no cooldown and no hourly slot spent.
                self.active = Some(class);
                self.active_plan = Some(input.plan.clone());
            }
            Streak::Stable { class, count } if wanted != self.active => {
                match self.why_not_switch(now, class, input.plan) {
                    Some(why) => decisions.push(Decision::new(now, Action::Hold { wanted }, why)),
                    None => {
                        let (why, metric) = self.switch_reason(class, count, now, state_since);
                        let from = self.active;
                        self.previous = Some((from, self.active_plan.take()));
                        self.active = Some(class);
                        self.active_plan = Some(input.plan.clone());
                        self.cooldown.record(now);
                        self.rate.record(now);
                        self.regression.start(now, class, metric);
                        self.state_since = Some(now);
                        decisions.push(Decision::new(now, Action::Switch { from, to: class }, why));
                    }
                }
            }
            _ => {}
        }
        Outcome {
            decisions,
            command: self.active_command(),
        }
    }

    fn active_command(&self) -> Command {
        match &self.active_plan {
            Some(plan) => Command::Apply(self.manual.filter(plan)),
            None => Command::Nothing,
        }
    }

    /// The regression verdict on the last switch; `Some` when it rolls back.
    fn judge(&mut self, now: Duration, decisions: &mut Vec<Decision>) -> Option<Outcome> {
        let (metric, verdict) = self.regression.verdict(now)?;
        let to = self.active;
        match verdict {
            Verdict::Pending { .. } => None,
            Verdict::Kept {
                before,
                after,
                change,
            } => {
                decisions.push(Decision::new(
                    now,
                    Action::Hold { wanted: None },
                    format!(
                        "switch to {} kept: {} median {} -> {} ({:+.1} %)",
                        class_name(to),
                        metric.as_str(),
                        metric.format(before),
                        metric.format(after),
                        change * 100.0
                    ),
                ));
                None
            }
            Verdict::NoVerdict { have, need } => {
                decisions.push(Decision::new(
                    now,
                    Action::Hold { wanted: None },
                    format!(
                        "switch to {} kept without a verdict: {have} of {need} samples of {}",
                        class_name(to),
                        metric.as_str()
                    ),
                ));
                None
            }
            Verdict::Regressed {
                before,
                after,
                change,
            } => {
                let from = to?;
                let (back_to, back_plan) = self.previous.take().unwrap_or((None, None));
                let until = now + self.config.block();
                self.blocked.insert(from, until);
                self.active = back_to;
                self.active_plan = back_plan;
                self.cooldown.record(now);
                self.rate.record(now);
                self.regression.reset();
                self.state_since = Some(now);
                decisions.push(Decision::new(
                    now,
                    Action::Rollback { from, to: back_to },
                    format!(
                        "{} got worse after the switch to {from}: median {} -> {} \
                         ({:+.1} %, threshold {:.1} %); {from} blocked for {} s",
                        metric.as_str(),
                        metric.format(before),
                        metric.format(after),
                        change * 100.0,
                        self.config.regression_threshold * 100.0,
                        self.config.block_secs
                    ),
                ));
                let command = match &self.active_plan {
                    Some(plan) => Command::Apply(self.manual.filter(plan)),
                    None => Command::Restore,
                };
                Some(Outcome {
                    decisions: std::mem::take(decisions),
                    command,
                })
            }
        }
    }

    /// Why a stable new class may not be switched to now, if it may not.
    fn why_not_switch(
        &mut self,
        now: Duration,
        class: WorkloadClass,
        plan: &Plan,
    ) -> Option<String> {
        if let Some(metric) = self.regression.judging() {
            return Some(format!(
                "{class} wanted, but the switch to {} is still being judged on {}",
                class_name(self.active),
                metric.as_str()
            ));
        }
        if let Some(until) = self.blocked.get(&class) {
            return Some(format!(
                "{class} wanted, but it is blocked after a rollback for {} s more",
                until.saturating_sub(now).as_secs()
            ));
        }
        if let Some(scx) = &plan.scx
            && let Some(until) = self.blocked_schedulers.get(&scx.scheduler)
        {
            return Some(format!(
                "{class} wanted, but its scheduler {} failed and is blocked for {} s more",
                scx.scheduler,
                until.saturating_sub(now).as_secs()
            ));
        }
        let left = self.cooldown.remaining(now);
        if !left.is_zero() {
            return Some(format!(
                "{class} wanted, cooldown: {} s left",
                left.as_secs_f64().ceil()
            ));
        }
        if let Some(wait) = self.rate.wait(now) {
            return Some(format!(
                "{class} wanted, but {} switches were made in the last hour (limit {}): {} s to wait",
                self.rate.count(now),
                self.config.max_switches_per_hour,
                wait.as_secs_f64().ceil()
            ));
        }
        if let Some(metric) = TargetMetric::for_class(class) {
            let have = self.regression.baseline_len(metric, class);
            let need = self.regression.min_samples();
            // Waited since the class began to show, not since the last
            // switch: a baseline is what the machine looks like in this class.
            let waited = self.regression.class_age(class, now);
            if have < need && waited < self.config.regression_window() {
                return Some(format!(
                    "{class} wanted, collecting a baseline of {}: {have} of {need} samples",
                    metric.as_str()
                ));
            }
        }
        None
    }

    fn switch_reason(
        &self,
        class: WorkloadClass,
        count: u32,
        now: Duration,
        state_since: Duration,
    ) -> (String, Option<TargetMetric>) {
        let held = format!("{class} held {count} intervals with confidence");
        match TargetMetric::for_class(class) {
            None => (
                format!("{held}; no target metric for {class}, not judged"),
                None,
            ),
            Some(metric) => {
                let have = self.regression.baseline_len(metric, class);
                if have >= self.regression.min_samples() {
                    (
                        format!(
                            "{held}; will judge on {} against {have} samples before",
                            metric.as_str()
                        ),
                        Some(metric),
                    )
                } else {
                    (
                        format!(
                            "{held}; {} not measured ({have} samples in {} s), the switch is not judged",
                            metric.as_str(),
                            now.saturating_sub(state_since).as_secs()
                        ),
                        None,
                    )
                }
            }
        }
    }
}

/// The blocks still in force, with whole seconds left.
fn secs_left<K: Clone>(blocked: &BTreeMap<K, Duration>, now: Duration) -> Vec<(K, u64)> {
    blocked
        .iter()
        .filter(|(_, until)| **until > now)
        .map(|(k, until)| {
            (
                k.clone(),
                until.saturating_sub(now).as_secs_f64().ceil() as u64,
            )
        })
        .collect()
}
