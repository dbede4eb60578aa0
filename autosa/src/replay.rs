//! Replay: recorded snapshots through the policy engine, offline.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::Snapshot;
use crate::policy::classify::ClassScores;
use crate::policy::config::ConfigError;
use crate::policy::{Engine, Plan, PolicyConfig, WorkloadClass};
use crate::record::RecordError;

/// What the engine concluded at one recorded interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayStep {
    pub time_unix_ms: u64,
    pub class: WorkloadClass,
    pub confidence: f64,
    pub reasons: Vec<String>,
    pub plan: Plan,
    pub what_it_would_change: Vec<String>,
    pub scores: ClassScores,
}

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Recording(#[from] RecordError),
}

/// Replay snapshots (e.g. a [`crate::record::RecordingReader`]) through a
/// fresh engine. Stops at the first reading error.
pub fn replay<I>(snapshots: I, cfg: &PolicyConfig) -> Result<Vec<ReplayStep>, ReplayError>
where
    I: IntoIterator<Item = Result<Snapshot, RecordError>>,
{
    let mut engine = Engine::new(cfg.clone())?;
    let mut steps = Vec::new();
    for s in snapshots {
        steps.push(step(&mut engine, &s?));
    }
    Ok(steps)
}

/// Replay snapshots already in memory.
pub fn replay_snapshots<'a, I>(
    snapshots: I,
    cfg: &PolicyConfig,
) -> Result<Vec<ReplayStep>, ConfigError>
where
    I: IntoIterator<Item = &'a Snapshot>,
{
    let mut engine = Engine::new(cfg.clone())?;
    Ok(snapshots
        .into_iter()
        .map(|s| step(&mut engine, s))
        .collect())
}

fn step(engine: &mut Engine, s: &Snapshot) -> ReplayStep {
    let d = engine.push(s);
    ReplayStep {
        time_unix_ms: d.time_unix_ms,
        class: d.classification.class,
        confidence: d.classification.confidence,
        reasons: d.classification.reasons,
        plan: d.recommendation.plan,
        what_it_would_change: d.recommendation.what_it_would_change,
        scores: d.classification.scores,
    }
}

/// One line per interval: UTC time, class, confidence, top reason.
pub fn render_text(steps: &[ReplayStep]) -> String {
    let mut out = String::new();
    for s in steps {
        out.push_str(&format!(
            "{}  {:<17}  {:.2}  {}\n",
            utc(s.time_unix_ms),
            s.class.as_str(),
            s.confidence,
            s.reasons.first().map(String::as_str).unwrap_or("")
        ));
    }
    out
}

/// All steps as a JSON array.
pub fn render_json(steps: &[ReplayStep]) -> String {
    serde_json::to_string_pretty(steps).expect("replay steps are plain data")
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` from Unix milliseconds (proleptic Gregorian).
pub fn utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        unix_ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc(1_795_632_123_456), "2026-11-25T18:42:03.456Z");
    }
}
