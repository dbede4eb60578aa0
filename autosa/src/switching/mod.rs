//! The switching policy: pure code that turns the policy engine's per-interval
//! classification and plan into decisions (switch, hold, roll back, back off).
//!
//! Nothing here reads a clock or a file: the time since the daemon started is
//! an argument, so every rule is tested with a fake clock and replayed offline.
//!
//! Each interval the daemon:
//! 1. `observed = backend.observe()`;
//! 2. `out = policy.step(Input { now, class, confidence, plan, observed,
//!    metric: target_sample(&snapshot, &plan) })`;
//! 3. logs every `out.decisions` (`Decision::log`) and carries out
//!    `out.command` on the backend: `Apply(plan)` → `backend.apply(&plan)`,
//!    `Restore` → `backend.restore()`, `Nothing` → nothing.
//!
//! On `autosa resume` it calls both `policy.resume_auto(now)` and
//! `backend.resume(None)`; on shutdown `policy.stop(now)`, then
//! `backend.restore()`. `autosa switch NAME` is `policy.manual_choice(…)` and
//! `autosa pause` is `policy.pause(…)`: automatic switching stops until the
//! given time (then `step` resumes it by itself) or until `resume_auto`.

pub mod config;
pub mod cooldown;
pub mod decision;
pub mod hysteresis;
pub mod manual;
pub mod pause;
pub mod policy;
pub mod rate_limit;
pub mod regression;
pub mod sticky;
pub mod target;

pub use config::{ConfigError, SwitchingConfig};
pub use decision::{Action, Decision};
pub use manual::ManualOverrides;
pub use pause::Pause;
pub use policy::{Command, Input, Outcome, SwitchingPolicy, SwitchingStatus};
pub use regression::{TargetMetric, TargetSample};
pub use target::target_sample;
