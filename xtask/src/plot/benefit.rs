//! `cargo xtask bench benefit`'s pictures: the sleeper's wakeup latency
//! distribution with autosa off and on, each round's p99, and the timeline of
//! one "on" round (load start → plan applied → load stopped → restored).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::chart::{self, Frame, Marks};
use super::style::{self, draw_err, us_label};

pub const NAME: &str = "benefit";
pub const LATENCY_SIZE: (u32, u32) = (1400, 560);
pub const ROUNDS_SIZE: (u32, u32) = (1000, 560);
pub const TIMELINE_SIZE: (u32, u32) = (1200, 560);
const TIMELINE_TOP: f64 = 175.0;
/// Each of the latency figure's two charts side by side.
const HALF: Frame = Frame {
    margin: 14,
    x_labels: 46,
    y_labels: 64,
};
/// A chart alone on its canvas.
const FULL: Frame = Frame {
    margin: 16,
    x_labels: 46,
    y_labels: 70,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenefitData {
    /// The command line that produced it.
    pub command: String,
    /// When it was measured (UTC) and on what.
    pub measured: String,
    pub hogs: usize,
    pub round_secs: u64,
    /// The latency target (p99), ns.
    pub target_p99_ns: f64,
    /// Log buckets per power of two of every round's `hist`.
    pub per_octave: u32,
    pub rounds: Vec<BenefitRound>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenefitRound {
    pub n: usize,
    /// autosa running.
    pub on: bool,
    pub wakeups: u64,
    pub p50_ns: Option<f64>,
    pub p99_ns: Option<f64>,
    pub max_ns: Option<f64>,
    pub hog_iters_per_sec: f64,
    /// The sleeper's wakeup latencies in the window: (bucket, count), bucket
    /// `i` spanning `[2^(i/k), 2^((i+1)/k))` ns with `k = per_octave`.
    pub hist: Vec<(i32, u64)>,
    /// What happened when, in "on" rounds.
    pub timeline: Option<Timeline>,
}

/// Seconds since the load started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub daemon_start_s: f64,
    pub first_change_s: Option<f64>,
    pub plan_applied_s: Option<f64>,
    pub window_open_s: f64,
    pub window_close_s: f64,
    pub load_stop_s: Option<f64>,
    pub restored_s: Option<f64>,
    /// (time, share of the load's threads autosa had changed), from polls.
    pub changed: Vec<(f64, f64)>,
}

/// Bucket `i`'s bounds in µs.
pub fn bucket_us(i: i32, per_octave: u32) -> (f64, f64) {
    let k = f64::from(per_octave.max(1));
    (
        2f64.powf(f64::from(i) / k) / 1e3,
        2f64.powf(f64::from(i + 1) / k) / 1e3,
    )
}

/// The rounds of one mode, their histograms added up.
pub fn pooled(rounds: &[BenefitRound], on: bool) -> BTreeMap<i32, u64> {
    let mut sum = BTreeMap::new();
    for r in rounds.iter().filter(|r| r.on == on) {
        for &(i, n) in &r.hist {
            *sum.entry(i).or_insert(0) += n;
        }
    }
    sum
}

/// Each bucket as (lower µs, upper µs, share of all samples).
pub fn shares(hist: &BTreeMap<i32, u64>, per_octave: u32) -> Vec<(f64, f64, f64)> {
    let total: u64 = hist.values().sum();
    hist.iter()
        .map(|(&i, &n)| {
            let (lo, hi) = bucket_us(i, per_octave);
            (lo, hi, n as f64 / total.max(1) as f64)
        })
        .collect()
}

/// The histogram as a step line in % per bucket, every bucket from the
/// first to the last present (absent ones at 0), so that gaps show as gaps.
pub fn step_line(hist: &BTreeMap<i32, u64>, per_octave: u32) -> Vec<(f64, f64)> {
    let total: u64 = hist.values().sum();
    let (Some(&first), Some(&last)) = (hist.keys().next(), hist.keys().next_back()) else {
        return Vec::new();
    };
    (first..=last)
        .flat_map(|i| {
            let (lo, hi) = bucket_us(i, per_octave);
            let pct = hist.get(&i).copied().unwrap_or(0) as f64 / total as f64 * 100.0;
            [(lo, pct), (hi, pct)]
        })
        .collect()
}

/// Share of samples above each bucket's upper edge: (edge µs, share > 0).
/// The last bucket's edge (share 0) is left out: it has no place on a log axis.
pub fn exceedance(hist: &BTreeMap<i32, u64>, per_octave: u32) -> Vec<(f64, f64)> {
    let total: u64 = hist.values().sum();
    let mut above = total;
    let mut out = Vec::new();
    for (&i, &n) in hist {
        above -= n;
        if above == 0 {
            break;
        }
        out.push((bucket_us(i, per_octave).1, above as f64 / total as f64));
    }
    out
}

/// The median of the finite values.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    match v.len() {
        0 => None,
        n if n % 2 == 0 => Some((v[m - 1] + v[m]) / 2.0),
        _ => Some(v[m]),
    }
}

/// Median of each mode's per-round p99, µs: (off, on).
pub fn median_p99_us(rounds: &[BenefitRound]) -> (Option<f64>, Option<f64>) {
    let of = |on: bool| {
        median(
            rounds
                .iter()
                .filter(|r| r.on == on)
                .filter_map(|r| r.p99_ns)
                .map(|v| v / 1e3)
                .collect(),
        )
    };
    (of(false), of(true))
}

/// The round the timeline shows: the first "on" round that acted and restored.
pub fn timeline_round(rounds: &[BenefitRound]) -> Option<&BenefitRound> {
    rounds.iter().find(|r| {
        r.timeline
            .as_ref()
            .is_some_and(|t| t.plan_applied_s.is_some() && t.restored_s.is_some())
    })
}

fn mode(on: bool) -> (&'static str, RGBColor) {
    if on {
        ("autosa on", style::ON)
    } else {
        ("autosa off", style::OFF)
    }
}

pub fn render(d: &BenefitData, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    anyhow::ensure!(!d.rounds.is_empty(), "benefit data: no rounds");
    let mut files = vec![latency(d, out)?, rounds(d, out)?];
    if let Some(r) = timeline_round(&d.rounds) {
        files.push(timeline(d, r, out)?);
    }
    Ok(files)
}

fn latency(d: &BenefitData, out: &Path) -> anyhow::Result<PathBuf> {
    let path = chart::png_in(out, "benefit-latency.png")?;
    let modes: Vec<(bool, BTreeMap<i32, u64>)> = [false, true]
        .into_iter()
        .map(|on| (on, pooled(&d.rounds, on)))
        .filter(|(_, h)| !h.is_empty())
        .collect();
    anyhow::ensure!(!modes.is_empty(), "benefit data: no latency histogram");
    let all: Vec<(f64, f64, f64)> = modes
        .iter()
        .flat_map(|(_, h)| shares(h, d.per_octave))
        .collect();
    let (x0, x1) = style::log_bounds(
        all.iter().map(|b| b.0).fold(f64::INFINITY, f64::min),
        all.iter().map(|b| b.1).fold(0.0, f64::max),
    );
    let y_max = all.iter().map(|b| b.2 * 100.0).fold(0.0, f64::max) * 1.1;

    let root = chart::canvas(&path, LATENCY_SIZE)?;
    let title = format!(
        "Sleeper wakeup latency beside {} CPU hogs, all rounds of each mode pooled",
        d.hogs
    );
    let (left, right) = chart::titled(&root, &title, 24)?.split_horizontally(LATENCY_SIZE.0 / 2);

    let caption = Some(("Distribution (log buckets, 8 per power of two)", 18));
    let mut hist = chart::frame(&left, HALF, caption, (x0..x1).log_scale(), 0.0..y_max)?;
    chart::draw_latency_share_axes(
        &mut hist,
        "wakeup latency (µs, log scale)",
        "share of wakeups per bucket (%)",
    )?;
    for (on, h) in &modes {
        let (label, color) = mode(*on);
        hist.line(step_line(h, d.per_octave), color, 2, label)?;
    }
    hist.legend(SeriesLabelPosition::UpperRight)?;

    let y_min = modes
        .iter()
        .flat_map(|(_, h)| exceedance(h, d.per_octave))
        .map(|p| p.1)
        .fold(1.0, f64::min)
        .max(1e-6);
    let y_min = 10f64.powf(y_min.log10().floor());
    let caption = Some(("Tail: share of wakeups slower than x", 18));
    let y = (y_min..1.0).log_scale();
    let mut tail = chart::frame(&right, HALF, caption, (x0..x1).log_scale(), y)?;
    chart::axes(
        &mut tail,
        "wakeup latency (µs, log scale)",
        "share of wakeups slower (log scale)",
    )
    .x_label_formatter(&|v| us_label(*v))
    .y_label_formatter(&|v| format!("{}%", style::us_label(v * 100.0)))
    .draw()
    .map_err(draw_err)?;
    let p99 = [(x0, 0.01), (x1, 0.01)];
    tail.dashes(p99, BLACK, 1, "1 % slower: the p99")?;
    let target = d.target_p99_ns / 1e3;
    if target > x0 && target < x1 {
        let label = format!("p99 target ({} µs)", us_label(target));
        tail.dashes([(target, y_min), (target, 1.0)], style::THIRD, 2, label)?;
    }
    for (on, h) in &modes {
        let (label, color) = mode(*on);
        tail.line(exceedance(h, d.per_octave), color, 2, label)?;
    }
    tail.legend(SeriesLabelPosition::UpperRight)?;
    chart::finish(&root, &path)
}

fn rounds(d: &BenefitData, out: &Path) -> anyhow::Result<PathBuf> {
    let path = chart::png_in(out, "benefit-rounds.png")?;
    let p99: Vec<(usize, bool, f64)> = d
        .rounds
        .iter()
        .filter_map(|r| Some((r.n, r.on, r.p99_ns? / 1e3)))
        .collect();
    anyhow::ensure!(!p99.is_empty(), "benefit data: no round has a p99");
    let target = d.target_p99_ns / 1e3;
    // Headroom above the highest point for the legend.
    let (y0, y1) = style::log_bounds(
        p99.iter().map(|p| p.2).fold(target, f64::min) / 1.5,
        p99.iter().map(|p| p.2).fold(target, f64::max) * 4.0,
    );
    let last = d.rounds.iter().map(|r| r.n).max().unwrap_or(1) as f64;
    let root = chart::canvas(&path, ROUNDS_SIZE)?;
    let caption = "Sleeper p99 wakeup latency per round (ABBA order)";
    let (x, y) = (0.5..last + 0.5, (y0..y1).log_scale());
    let mut fig = chart::frame(&root, FULL, Some((caption, 22)), x, y)?;
    chart::axes(&mut fig, "round", "p99 wakeup latency (µs, log scale)")
        .x_labels(d.rounds.len().min(20))
        .x_label_formatter(&|v| {
            if (v - v.round()).abs() < 1e-6 && *v >= 1.0 {
                format!("{v:.0}")
            } else {
                String::new()
            }
        })
        .y_labels(30)
        .y_label_formatter(&|v| style::log_tick(*v).unwrap_or_default())
        // 30 labels' worth of light lines would grey the plot out.
        .light_line_style(WHITE)
        .draw()
        .map_err(draw_err)?;
    let label = format!("target: well under {} µs", us_label(target));
    let ends = [(0.5, target), (last + 0.5, target)];
    fig.dashes(ends, style::THIRD, 2, label)?;
    let (off_med, on_med) = median_p99_us(&d.rounds);
    for (on, med) in [(false, off_med), (true, on_med)] {
        let (label, color) = mode(on);
        let points: Vec<(f64, f64)> = p99
            .iter()
            .filter(|p| p.1 == on)
            .map(|p| (p.0 as f64, p.2))
            .collect();
        if points.is_empty() {
            continue;
        }
        fig.draw_series(
            points
                .iter()
                .map(|&(x, y)| Circle::new((x, y), 7, color.filled())),
        )
        .map_err(draw_err)?
        .label(match med {
            Some(m) => format!("{label} (median {} µs)", us_label(m)),
            None => label.to_string(),
        })
        .legend(move |(x, y)| Circle::new((x + 10, y), 6, color.filled()));
        if let Some(m) = med {
            fig.draw_series(LineSeries::new(
                [(0.5, m), (last + 0.5, m)],
                color.mix(0.6).stroke_width(1),
            ))
            .map_err(draw_err)?;
        }
    }
    fig.legend(SeriesLabelPosition::UpperRight)?;
    chart::finish(&root, &path)
}

fn timeline(d: &BenefitData, r: &BenefitRound, out: &Path) -> anyhow::Result<PathBuf> {
    let t = r.timeline.as_ref().expect("chosen for its timeline");
    let path = chart::png_in(out, "benefit-timeline.png")?;
    let end = [t.restored_s, t.load_stop_s, Some(t.window_close_s)]
        .into_iter()
        .flatten()
        .fold(0.0, f64::max);
    let (x0, x1) = (t.daemon_start_s.min(0.0) - 0.5, end + 1.0);
    let root = chart::canvas(&path, TIMELINE_SIZE)?;
    let caption = format!(
        "One \"on\" round (round {} of {}): what autosa did to the load, and when",
        r.n,
        d.rounds.len()
    );
    // Headroom above 100 % holds the legend clear of the lines.
    let y = 0.0..TIMELINE_TOP;
    let mut fig = chart::frame(&root, FULL, Some((&caption, 22)), x0..x1, y)?;
    chart::axes(
        &mut fig,
        "seconds since the load started",
        "load threads changed by autosa (%)",
    )
    .y_label_formatter(&|v| {
        if *v <= 100.0 {
            format!("{v:.0}")
        } else {
            String::new()
        }
    })
    .draw()
    .map_err(draw_err)?;
    let window = [(t.window_open_s, 0.0), (t.window_close_s, 100.0)];
    let label = format!(
        "measured window ({:.0} s)",
        t.window_close_s - t.window_open_s
    );
    fig.band(window, RGBColor(198, 219, 239), label)?;
    let mut steps = Vec::new();
    let mut prev = 0.0;
    steps.push((x0, 0.0));
    for &(s, share) in &t.changed {
        steps.push((s, prev));
        steps.push((s, share * 100.0));
        prev = share * 100.0;
    }
    steps.push((x1, prev));
    let polled = "threads carrying a change (polled)";
    fig.line(steps, style::ON, 3, polled)?;
    let events: [(Option<f64>, String, RGBColor); 6] = [
        (Some(t.daemon_start_s), "daemon started".into(), style::PEER),
        (Some(0.0), "load started".into(), BLACK),
        (
            t.first_change_s,
            format!("first change (+{:.1} s)", t.first_change_s.unwrap_or(0.0)),
            RGBColor(253, 174, 97),
        ),
        (
            t.plan_applied_s,
            format!("plan applied (+{:.1} s)", t.plan_applied_s.unwrap_or(0.0)),
            style::THIRD,
        ),
        (t.load_stop_s, "load stopped (SIGSTOP)".into(), style::OFF),
        (
            t.restored_s,
            format!(
                "all restored (+{:.1} s after the stop)",
                t.restored_s.unwrap_or(0.0) - t.load_stop_s.unwrap_or(0.0)
            ),
            RGBColor(118, 42, 131),
        ),
    ];
    for (at, label, color) in events {
        let Some(at) = at else { continue };
        fig.dashes([(at, 0.0), (at, TIMELINE_TOP)], color, 2, label)?;
    }
    fig.legend_styled(SeriesLabelPosition::UpperRight, 14, 0.9)?;
    chart::finish(&root, &path)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn round(n: usize, on: bool, p99_us: f64, hist: Vec<(i32, u64)>) -> BenefitRound {
        BenefitRound {
            n,
            on,
            wakeups: hist.iter().map(|h| h.1).sum(),
            p50_ns: Some(20e3),
            p99_ns: Some(p99_us * 1e3),
            max_ns: Some(p99_us * 5e3),
            hog_iters_per_sec: 1.6e8,
            hist,
            timeline: on.then(|| Timeline {
                daemon_start_s: -3.2,
                first_change_s: Some(1.9),
                plan_applied_s: Some(2.0),
                window_open_s: 2.05,
                window_close_s: 10.05,
                load_stop_s: Some(10.1),
                restored_s: Some(11.3),
                changed: vec![
                    (0.05, 0.0),
                    (1.9, 0.4),
                    (2.0, 1.0),
                    (10.1, 1.0),
                    (11.3, 0.0),
                ],
            }),
        }
    }

    pub fn fixture() -> BenefitData {
        // 8 per octave: bucket 114 ≈ 19.5 µs, 156 ≈ 750 µs, 180 ≈ 6 ms.
        let off = vec![(112, 400), (114, 7000), (130, 50), (156, 80), (180, 6)];
        let on = vec![(112, 500), (114, 7200), (120, 80), (130, 20), (178, 2)];
        BenefitData {
            command: "cargo xtask bench benefit --rounds 2".into(),
            measured: "fixture".into(),
            hogs: 4,
            round_secs: 8,
            target_p99_ns: 100e3,
            per_octave: 8,
            rounds: vec![
                round(1, false, 812.0, off.clone()),
                round(2, true, 79.0, on.clone()),
                round(3, true, 43.0, on),
                round(4, false, 922.0, off),
            ],
        }
    }

    #[test]
    fn bucket_maths() {
        let (lo, hi) = bucket_us(80, 8);
        assert!((lo - 1.024).abs() < 1e-9 && (hi - 2f64.powf(81.0 / 8.0) / 1e3).abs() < 1e-9);
        assert_eq!(bucket_us(0, 8).0, 0.001);
        // Adjacent buckets share their edge.
        assert_eq!(bucket_us(113, 8).1, bucket_us(114, 8).0);
    }

    #[test]
    fn pooling_shares_and_tail() {
        let d = fixture();
        let off = pooled(&d.rounds, false);
        assert_eq!(off[&114], 14000);
        assert_eq!(off.values().sum::<u64>(), 2 * 7536);
        let s = shares(&off, 8);
        assert!((s.iter().map(|b| b.2).sum::<f64>() - 1.0).abs() < 1e-12);
        let tail = exceedance(&off, 8);
        // Above bucket 112: everything but its 400 of 7536; the last bucket has no point.
        assert_eq!(tail.len(), 4);
        assert!((tail[0].1 - 7136.0 / 7536.0).abs() < 1e-12);
        assert!((tail[3].1 - 6.0 / 7536.0).abs() < 1e-12);
        assert!(tail.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 > w[1].1));
        assert!(exceedance(&BTreeMap::new(), 8).is_empty());
    }

    #[test]
    fn step_line_fills_gaps_with_zero() {
        let h = BTreeMap::from([(10, 1u64), (12, 3)]);
        let s = step_line(&h, 8);
        assert_eq!(s.len(), 6);
        assert_eq!((s[0].1, s[2].1, s[4].1), (25.0, 0.0, 75.0));
        assert_eq!(s[1].0, s[2].0);
        assert!(step_line(&BTreeMap::new(), 8).is_empty());
    }

    #[test]
    fn medians_and_timeline_choice() {
        let d = fixture();
        assert_eq!(median_p99_us(&d.rounds), (Some(867.0), Some(61.0)));
        assert_eq!(timeline_round(&d.rounds).map(|r| r.n), Some(2));
        let mut no_restore = d.clone();
        for r in &mut no_restore.rounds {
            if let Some(t) = &mut r.timeline {
                t.restored_s = None;
            }
        }
        assert!(timeline_round(&no_restore.rounds).is_none());
    }

    #[test]
    fn renders_three_pngs() {
        let pngs = [
            ("benefit-latency.png", LATENCY_SIZE),
            ("benefit-rounds.png", ROUNDS_SIZE),
            ("benefit-timeline.png", TIMELINE_SIZE),
        ];
        let test = "benefit renders_three_pngs";
        crate::plot::testing::assert_renders(test, render, &fixture(), &pngs);
    }
}
