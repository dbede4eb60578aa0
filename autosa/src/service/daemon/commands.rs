//! Commands from the control socket, carried out by the daemon loop: the
//! only place that touches the backend and the switching policy.

use std::time::Duration;

use crate::backend::{Backend, Target};
use crate::control::protocol::{BackendOffer, Request, Response};
use crate::control::server::ControlCommand;
use crate::history::Record;
use crate::policy::PolicyConfig;
use crate::policy::classify::Classification;
use crate::policy::plan::{EevdfPlan, Plan, ScxChoice, WorkloadClass};
use crate::policy::recommend::recommend;

use super::Tick;

impl Tick<'_> {
    /// Answers one command; `now` is the time since the daemon started.
    pub(super) fn command(&mut self, cmd: ControlCommand, now: Duration) {
        let (summary, response) = match cmd.request {
            Request::Schedulers => {
                let _ = cmd
                    .reply
                    .send(Response::Schedulers(vec![self.backend.offers()]));
                return;
            }
            Request::Switch { name, for_secs } => {
                let summary = format!("switch {name}{}", for_text(for_secs));
                (summary, self.switch(&name, for_secs, now))
            }
            Request::Pause { for_secs } => {
                let out = self.switching.pause(now, until(now, for_secs));
                let why = out.decisions[0].why.clone();
                self.carry_out(out, now).ok();
                (
                    format!("pause{}", for_text(for_secs)),
                    Response::Accepted { message: why },
                )
            }
            Request::Resume => {
                let (out, _) = self.switching.resume_auto(now);
                self.backend.resume(None);
                let why = out.decisions[0].why.clone();
                self.carry_out(out, now).ok();
                ("resume".to_owned(), Response::Accepted { message: why })
            }
            // Answered by the server itself; never sent here.
            Request::Status | Request::Snapshot | Request::History { .. } => (
                "unexpected".to_owned(),
                Response::Error {
                    message: "not a daemon command".into(),
                },
            ),
        };
        let (accepted, message) = match &response {
            Response::Accepted { message } => (true, message.clone()),
            Response::Error { message } => (false, message.clone()),
            _ => (true, String::new()),
        };
        tracing::info!(command = %summary, accepted, "{message}");
        self.history.record(
            self.unix_ms(now),
            Record::Manual {
                command: summary,
                accepted,
                message,
            },
        );
        self.publish(now);
        let _ = cmd.reply.send(response);
    }

    fn switch(&mut self, name: &str, for_secs: Option<u64>, now: Duration) -> Response {
        let last = self
            .live
            .read(|l| l.decision.as_ref().map(|d| d.classification.clone()));
        let plan = match resolve(
            name,
            &self.backend.offers(),
            self.engine.config(),
            last.as_ref(),
        ) {
            Ok(plan) => plan,
            Err(message) => return Response::Error { message },
        };
        self.backend.resume(Some(&Target::Scheduler));
        let out = self
            .switching
            .manual_choice(now, name, plan, until(now, for_secs));
        let why = out.decisions[0].why.clone();
        match self.carry_out(out, now) {
            Ok(()) => Response::Accepted { message: why },
            Err(e) => Response::Error {
                message: format!("`{name}` could not be applied and was rolled back: {e}"),
            },
        }
    }

    /// While a manual class choice is in force, its plan follows the
    /// processes the classifier names now.
    pub(super) fn refresh_manual(&mut self, c: &Classification) {
        let class = self
            .switching
            .pause_state()
            .and_then(|p| p.manual.as_deref())
            .and_then(class_named);
        if let Some(class) = class {
            let plan = plan_for_class(class, self.engine.config(), Some(c));
            self.switching.refresh_manual(&plan);
        }
    }

    /// The switching state for `status`.
    pub(super) fn publish(&mut self, now: Duration) {
        let status = self.switching.status(now);
        let pause = self.switching.pause_state().cloned();
        let started = self.started_unix_ms;
        self.live.update(|l| {
            l.status.switching = status;
            l.status.paused = pause.is_some();
            l.status.manual = pause.as_ref().and_then(|p| p.manual.clone());
            l.status.paused_until_unix_ms = pause
                .and_then(|p| p.until)
                .map(|u| started + u.as_millis() as u64);
        });
    }

    /// Says so when a pause ran out during `step`.
    pub(super) fn note_pause_end(&mut self, was_paused: bool, now: Duration) {
        if was_paused && self.switching.pause_state().is_none() {
            let message = "the pause ran out: automatic switching resumes".to_owned();
            tracing::info!("{message}");
            self.history.record(
                self.unix_ms(now),
                Record::Manual {
                    command: "pause ended".into(),
                    accepted: true,
                    message,
                },
            );
        }
    }

    pub(super) fn unix_ms(&self, now: Duration) -> u64 {
        self.started_unix_ms + now.as_millis() as u64
    }
}

fn until(now: Duration, for_secs: Option<u64>) -> Option<Duration> {
    for_secs.map(|s| now + Duration::from_secs(s))
}

fn for_text(for_secs: Option<u64>) -> String {
    for_secs
        .map(|s| {
            format!(
                " --for {}",
                humantime::format_duration(Duration::from_secs(s))
            )
        })
        .unwrap_or_default()
}

fn class_named(name: &str) -> Option<WorkloadClass> {
    WorkloadClass::ALL.into_iter().find(|c| c.as_str() == name)
}

/// What `autosa switch NAME` means: a class's plan, the defaults (`idle`,
/// `eevdf`, `default`: `None`), or a scheduler the backend offers.
pub(super) fn resolve(
    name: &str,
    offer: &BackendOffer,
    cfg: &PolicyConfig,
    last: Option<&Classification>,
) -> Result<Option<Plan>, String> {
    match class_named(name) {
        Some(WorkloadClass::Idle) => return Ok(None),
        Some(class) => return Ok(Some(plan_for_class(class, cfg, last))),
        None => {}
    }
    if name == "eevdf" || name == "default" {
        return Ok(None);
    }
    if name.starts_with("scx_") && offer.offers.iter().any(|o| o == name) {
        return Ok(Some(plan_for_scheduler(name, cfg)));
    }
    let classes: Vec<&str> = WorkloadClass::ALL.iter().map(|c| c.as_str()).collect();
    let schedulers: Vec<&str> = offer
        .offers
        .iter()
        .map(String::as_str)
        .filter(|o| o.starts_with("scx_"))
        .collect();
    Err(format!(
        "unknown name `{name}`: use a workload class ({}; idle restores the defaults) or a \
         scheduler the {} backend offers ({})",
        classes.join(", "),
        offer.backend,
        if schedulers.is_empty() {
            "none on this host".to_owned()
        } else {
            schedulers.join(", ")
        }
    ))
}

/// The configured plan of `class`, with the processes of the latest
/// classification when there is one.
fn plan_for_class(class: WorkloadClass, cfg: &PolicyConfig, last: Option<&Classification>) -> Plan {
    match last {
        Some(c) => {
            let mut c = c.clone();
            c.class = class;
            recommend(&c, cfg).plan
        }
        None => {
            let p = cfg.plans.get(class);
            Plan {
                class,
                scx: p.scx.clone(),
                eevdf: EevdfPlan {
                    hogs: p.hogs,
                    latency_slice_ns: p.latency_slice_ns,
                    hog_tgids: Vec::new(),
                    latency_tgids: Vec::new(),
                    global_knobs: p.global_knobs.clone(),
                },
            }
        }
    }
}

/// A scheduler by name: the configured plan that runs it (with its
/// arguments), else the scheduler alone with its defaults, under the first
/// class the catalogue says it suits.
fn plan_for_scheduler(name: &str, cfg: &PolicyConfig) -> Plan {
    for class in WorkloadClass::ALL {
        let p = cfg.plans.get(class);
        if p.scx.as_ref().is_some_and(|s| s.scheduler == name) {
            return plan_for_class(class, cfg, None);
        }
    }
    let class = crate::policy::catalog::lookup(name)
        .and_then(|i| i.suits.first().copied())
        .unwrap_or(WorkloadClass::Mixed);
    let mut plan = plan_for_class(class, cfg, None);
    plan.scx = Some(ScxChoice {
        scheduler: name.to_owned(),
        args: Vec::new(),
    });
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(offers: &[&str]) -> BackendOffer {
        BackendOffer {
            backend: "scx".into(),
            available: true,
            offers: offers.iter().map(|s| s.to_string()).collect(),
            detail: String::new(),
        }
    }

    #[test]
    fn names_resolve_to_classes_defaults_or_offered_schedulers() {
        let cfg = PolicyConfig::default();
        let o = offer(&["scx_lavd", "scx_bpfland"]);
        assert_eq!(resolve("idle", &o, &cfg, None), Ok(None));
        assert_eq!(resolve("eevdf", &o, &cfg, None), Ok(None));
        let p = resolve("cpu_bound", &o, &cfg, None).unwrap().unwrap();
        assert_eq!(p.class, WorkloadClass::CpuBound);
        assert_eq!(p.scx, cfg.plans.get(WorkloadClass::CpuBound).scx);
        let p = resolve("scx_lavd", &o, &cfg, None).unwrap().unwrap();
        assert_eq!(p.scx.unwrap().scheduler, "scx_lavd");
        let err = resolve("scx_rusty", &o, &cfg, None).unwrap_err();
        assert!(
            err.contains("unknown name `scx_rusty`") && err.contains("scx_lavd, scx_bpfland"),
            "{err}"
        );
        // Actions of the eevdf backend are no scheduler names.
        let eevdf = BackendOffer {
            backend: "eevdf".into(),
            ..offer(&["per_task_policy"])
        };
        let err = resolve("per_task_policy", &eevdf, &cfg, None).unwrap_err();
        assert!(err.contains("none on this host"), "{err}");
    }
}
