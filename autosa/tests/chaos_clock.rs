//! Clock jumps: the wall clock may step backwards (NTP, an administrator) or
//! far forwards (a suspended VM). autosa times everything that decides —
//! interval lengths, rates, holds, cooldowns, rate limits, regression
//! windows — on the monotonic clock; wall-clock time is only carried along
//! for display. These tests feed the same data twice, once with a wall clock
//! that jumps an hour back and a day forward, and show the decisions are
//! identical.

use std::time::Duration;

use autosa::backend::Observed;
use autosa::model::Snapshot;
use autosa::model::metrics::{DeriveOptions, derive};
use autosa::model::sample::RawSample;
use autosa::policy::{Engine, PolicyConfig};
use autosa::record::RecordingReader;
use autosa::switching::{Input, SwitchingConfig, SwitchingPolicy, target_sample};

const HOUR_MS: u64 = 3_600_000;

fn recording(name: &str) -> Vec<Snapshot> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/recordings/ebpf-quiet-host")
        .join(name);
    RecordingReader::open(&path)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The wall clock as a jumpy host would report it: one hour back at the
/// 5th interval, a day forward at the 12th.
fn jumpy(snapshots: &[Snapshot]) -> Vec<Snapshot> {
    snapshots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut s = s.clone();
            if i >= 5 {
                s.time_unix_ms -= HOUR_MS;
            }
            if i >= 12 {
                s.time_unix_ms += 24 * HOUR_MS;
            }
            s
        })
        .collect()
}

/// What the daemon decides over `snapshots`: classification, plan and the
/// switching policy's decisions, with `now` from a fake monotonic clock
/// (the daemon's `Instant` since start).
fn decide(snapshots: &[Snapshot]) -> Vec<String> {
    let mut engine = Engine::new(PolicyConfig::default()).unwrap();
    let mut switching = SwitchingPolicy::new(SwitchingConfig {
        hold_intervals: 2,
        cooldown_secs: 3,
        ..SwitchingConfig::default()
    });
    let observed = Observed::default();
    let mut now = Duration::ZERO;
    let mut out = Vec::new();
    for s in snapshots {
        now += Duration::from_millis(s.interval_ms);
        let d = engine.push(s);
        let plan = &d.recommendation.plan;
        let step = switching.step(Input {
            now,
            class: d.classification.class,
            confidence: d.classification.confidence,
            plan,
            observed: &observed,
            metric: target_sample(s, plan),
        });
        out.push(format!(
            "{:?} {:.6} {:?} {:?} {:?}",
            d.classification.class,
            d.classification.confidence,
            d.recommendation.plan,
            step.decisions,
            step.command
        ));
    }
    out
}

#[test]
fn wall_clock_jumps_do_not_change_any_decision() {
    for name in ["mixed.jsonl", "cpu_bound.jsonl", "latency_sensitive.jsonl"] {
        let steady = recording(name);
        assert!(steady.len() >= 15, "{name}: too short to jump");
        let jumped = jumpy(&steady);
        assert!(
            jumped[5].time_unix_ms < jumped[4].time_unix_ms,
            "the jump goes backwards"
        );
        let a = decide(&steady);
        let b = decide(&jumped);
        assert_eq!(a, b, "{name}: a wall-clock jump changed a decision");
        // Something was decided, or the comparison proves little.
        assert!(
            a.iter().any(|l| l.contains("Switch")),
            "{name}: no switch decided: {a:#?}"
        );
    }
}

fn raw(monotonic_ns: u64, time_unix_ms: u64) -> RawSample {
    RawSample {
        monotonic_ns,
        time_unix_ms,
        ..RawSample::default()
    }
}

#[test]
fn interval_length_comes_from_the_monotonic_clock() {
    let opts = DeriveOptions { top_tasks: 10 };
    let t0 = 1_795_000_000_000;
    // The wall clock steps an hour back during a 1 s interval: the interval
    // is still 1 s, the snapshot carries the wall time as read.
    let s = derive(
        &raw(5_000_000_000, t0),
        &raw(6_000_000_000, t0 - HOUR_MS),
        &opts,
    )
    .unwrap();
    assert_eq!(s.interval_ms, 1000);
    assert_eq!(s.time_unix_ms, t0 - HOUR_MS);
    // …and a day forward: still 1 s.
    let s = derive(
        &raw(5_000_000_000, t0),
        &raw(6_000_000_000, t0 + 24 * HOUR_MS),
        &opts,
    )
    .unwrap();
    assert_eq!(s.interval_ms, 1000);
    // A monotonic clock that did not advance (samples swapped) is an error
    // the collector logs and skips, never a division by zero.
    assert!(derive(&raw(6_000_000_000, t0), &raw(6_000_000_000, t0 + 1), &opts).is_err());
    assert!(derive(&raw(6_000_000_000, t0), &raw(5_000_000_000, t0 + 1), &opts).is_err());
}
