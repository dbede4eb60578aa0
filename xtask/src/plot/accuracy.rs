//! `cargo xtask bench accuracy`'s picture: autosa's run-queue latency
//! histogram against bpftrace runqlat's log2 histogram of the same window,
//! both in runqlat's buckets, and both as cumulative distributions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

use super::chart::{self, Frame, Marks};
use super::style::{self, FONT, draw_err};

pub const NAME: &str = "accuracy";
pub const SIZE: (u32, u32) = (1500, 580);
/// Each of the two charts side by side.
const HALF: Frame = Frame {
    margin: 14,
    x_labels: 50,
    y_labels: 64,
};

/// (lower, upper, count) of one histogram bucket; units as each field says.
pub type Bucket = (u64, u64, u64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyData {
    /// Seconds of load per round.
    pub seconds: u64,
    pub rounds: Vec<AccuracyRound>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyRound {
    /// autosa's buckets: (lower ns, upper ns exclusive, count).
    pub autosa: Vec<(u64, u64, u64)>,
    pub autosa_count: u64,
    pub autosa_sum_ns: u64,
    /// runqlat's log2 buckets as bpftrace prints them: (min µs, max µs, count).
    pub runqlat: Vec<(u64, u64, u64)>,
    pub runqlat_count: u64,
    pub runqlat_sum_ns: u64,
}

/// runqlat's bucket of a value in whole µs: 0 holds 0, k ≥ 1 holds [2^(k-1), 2^k).
pub fn log2_index(us: u64) -> usize {
    if us == 0 { 0 } else { 1 + us.ilog2() as usize }
}

/// Bounds in µs of runqlat's bucket `k`.
pub fn log2_bounds_us(k: usize) -> (u64, u64) {
    if k == 0 {
        (0, 1)
    } else {
        (1 << (k - 1), 1 << k)
    }
}

/// A power of two of µs as runqlat prints it: 512, 1k, 4k, 1M.
pub fn pow2_label(us: u64) -> String {
    match us {
        v if v >= 1 << 20 && v % (1 << 20) == 0 => format!("{}M", v >> 20),
        v if v >= 1 << 10 && v % (1 << 10) == 0 => format!("{}k", v >> 10),
        v => v.to_string(),
    }
}

/// autosa's fine buckets re-counted in runqlat's log2 µs buckets; a fine
/// bucket straddling an edge is split in proportion to its overlap (values
/// taken as even within a bucket ~3 % wide).
pub fn autosa_in_log2(buckets: &[(u64, u64, u64)]) -> BTreeMap<usize, f64> {
    let mut out = BTreeMap::new();
    for &(lo, hi, n) in buckets {
        let hi = hi.max(lo + 1);
        let (mut a, width) = (lo, (hi - lo) as f64);
        while a < hi {
            let k = log2_index(a / 1000);
            let edge = log2_bounds_us(k).1 * 1000;
            let b = edge.min(hi);
            *out.entry(k).or_insert(0.0) += n as f64 * (b - a) as f64 / width;
            a = b;
        }
    }
    out
}

/// runqlat's buckets by index.
pub fn runqlat_by_index(buckets: &[(u64, u64, u64)]) -> BTreeMap<usize, f64> {
    let mut out = BTreeMap::new();
    for &(min, _, n) in buckets {
        *out.entry(log2_index(min)).or_insert(0.0) += n as f64;
    }
    out
}

fn normalise(m: &BTreeMap<usize, f64>) -> BTreeMap<usize, f64> {
    let total: f64 = m.values().sum();
    m.iter()
        .map(|(&k, &v)| (k, v / total.max(f64::MIN_POSITIVE)))
        .collect()
}

/// Cumulative share at each bucket's upper edge (µs), from (lower, upper, count) buckets.
pub fn cdf(buckets: impl IntoIterator<Item = (f64, f64, u64)>) -> Vec<(f64, f64)> {
    let mut b: Vec<(f64, f64, u64)> = buckets.into_iter().filter(|b| b.2 > 0).collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    let total: u64 = b.iter().map(|x| x.2).sum();
    let mut seen = 0;
    b.iter()
        .map(|&(_, hi, n)| {
            seen += n;
            (hi, seen as f64 / total as f64)
        })
        .collect()
}

/// Every round added up: (autosa fine buckets, runqlat buckets).
pub fn pooled(d: &AccuracyData) -> (Vec<Bucket>, Vec<Bucket>) {
    let add = |m: &mut BTreeMap<(u64, u64), u64>, v: &[(u64, u64, u64)]| {
        for &(a, b, n) in v {
            *m.entry((a, b)).or_insert(0) += n;
        }
    };
    let (mut ours, mut peer) = (BTreeMap::new(), BTreeMap::new());
    for r in &d.rounds {
        add(&mut ours, &r.autosa);
        add(&mut peer, &r.runqlat);
    }
    let flat = |m: BTreeMap<(u64, u64), u64>| m.into_iter().map(|((a, b), n)| (a, b, n)).collect();
    (flat(ours), flat(peer))
}

pub fn render(d: &AccuracyData, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let (ours, peer) = pooled(d);
    anyhow::ensure!(
        !ours.is_empty() && !peer.is_empty(),
        "accuracy data: a histogram is empty"
    );
    let path = chart::png_in(out, "accuracy-runqlat.png")?;
    let (a, p) = (
        normalise(&autosa_in_log2(&ours)),
        normalise(&runqlat_by_index(&peer)),
    );
    let first = *a.keys().chain(p.keys()).min().expect("non-empty");
    let last = *a.keys().chain(p.keys()).max().expect("non-empty");
    let cats = (last - first + 1) as f64;
    let y_max = a.values().chain(p.values()).fold(0.0f64, |m, v| m.max(*v)) * 100.0 * 1.12;
    let (n_ours, n_peer): (u64, u64) = (
        d.rounds.iter().map(|r| r.autosa_count).sum(),
        d.rounds.iter().map(|r| r.runqlat_count).sum(),
    );

    let root = chart::canvas(&path, SIZE)?;
    let title = format!(
        "Run-queue latency, same window: autosa ({n_ours} events) vs bpftrace runqlat ({n_peer}); {} round(s) of {} s under load",
        d.rounds.len(),
        d.seconds
    );
    let (left, right) = chart::titled(&root, &title, 22)?.split_horizontally(SIZE.0 * 11 / 20);

    let caption = Some(("In runqlat's power-of-two buckets", 18));
    let mut bars = chart::frame(&left, HALF, caption, 0.0..cats, 0.0..y_max)?;
    chart::axes(
        &mut bars,
        "bucket (µs, lower bound; each spans to the next)",
        "share of events (%)",
    )
    .disable_x_mesh()
    .x_labels(0)
    .x_label_formatter(&|_| String::new())
    .y_label_formatter(&style::whole)
    .draw()
    .map_err(draw_err)?;
    for (name, m, color, (l, r)) in [
        ("bpftrace runqlat", &p, style::PEER, (0.12, 0.48)),
        (
            "autosa (its 16-per-octave buckets, re-counted)",
            &a,
            style::ON,
            (0.52, 0.88),
        ),
    ] {
        bars.draw_series(m.iter().map(|(&k, &v)| {
            let x = (k - first) as f64;
            Rectangle::new([(x + l, 0.0), (x + r, v * 100.0)], color.filled())
        }))
        .map_err(draw_err)?
        .label(name)
        .legend(chart::box_key(color));
    }
    bars.legend(SeriesLabelPosition::UpperRight)?;
    // Category labels under each pair of bars, placed in pixels.
    for k in first..=last {
        let (px, py) = bars.backend_coord(&((k - first) as f64 + 0.5, 0.0));
        root.draw(&Text::new(
            pow2_label(log2_bounds_us(k).0),
            (px, py + 6),
            (FONT, 13)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(draw_err)?;
    }

    let ours_cdf = cdf(ours
        .iter()
        .map(|&(lo, hi, n)| (lo as f64 / 1e3, hi as f64 / 1e3, n)));
    let peer_cdf = cdf(peer
        .iter()
        .map(|&(min, max, n)| (min as f64, (max + 1) as f64, n)));
    let lo = ours_cdf
        .iter()
        .chain(&peer_cdf)
        .map(|p| p.0)
        .fold(f64::INFINITY, f64::min);
    let hi = ours_cdf
        .iter()
        .chain(&peer_cdf)
        .map(|p| p.0)
        .fold(0.0, f64::max);
    let (x0, x1) = style::log_bounds(lo.max(0.01), hi);
    let caption = Some(("Cumulative distribution", 18));
    let mut c = chart::frame(&right, HALF, caption, (x0..x1).log_scale(), 0.0..100.0)?;
    chart::draw_latency_share_axes(
        &mut c,
        "run-queue latency (µs, log scale)",
        "events at or below x (%)",
    )?;
    let pct = |v: &[(f64, f64)]| -> Vec<(f64, f64)> {
        v.iter().map(|&(x, y)| (x.max(x0), y * 100.0)).collect()
    };
    let runqlat = "bpftrace runqlat (at its bucket edges)";
    c.line(pct(&peer_cdf), style::PEER, 2, runqlat)?;
    c.draw_series(
        pct(&peer_cdf)
            .into_iter()
            .map(|p| Circle::new(p, 5, style::PEER.filled())),
    )
    .map_err(draw_err)?;
    c.line(pct(&ours_cdf), style::ON, 2, "autosa")?;
    c.legend(SeriesLabelPosition::LowerRight)?;
    Ok(vec![chart::finish(&root, &path)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> AccuracyData {
        AccuracyData {
            seconds: 3,
            rounds: vec![AccuracyRound {
                // 800 ns (bucket 0), 1.5 µs (1), 1.9–2.1 µs straddling 2 µs, 6 ms.
                autosa: vec![
                    (768, 800, 10),
                    (1472, 1536, 20),
                    (1900, 2100, 40),
                    (6_029_312, 6_291_456, 30),
                ],
                autosa_count: 100,
                autosa_sum_ns: 180_000_000,
                runqlat: vec![(0, 0, 10), (1, 1, 38), (2, 3, 22), (4096, 8191, 30)],
                runqlat_count: 100,
                runqlat_sum_ns: 181_000_000,
            }],
        }
    }

    #[test]
    fn log2_buckets_like_runqlat() {
        assert_eq!(
            [0, 1, 2, 3, 4, 1023, 1024].map(log2_index),
            [0, 1, 2, 2, 3, 10, 11]
        );
        assert_eq!(log2_bounds_us(0), (0, 1));
        assert_eq!(log2_bounds_us(3), (4, 8));
        assert_eq!(
            [0, 512, 4096, 1 << 21].map(pow2_label),
            ["0", "512", "4k", "2M"]
        );
        for us in [0u64, 1, 5, 700, 5000] {
            let (lo, hi) = log2_bounds_us(log2_index(us));
            assert!(lo <= us && us < hi, "{us}");
        }
    }

    #[test]
    fn rebucketing_keeps_counts_and_splits_straddlers() {
        let d = fixture();
        let a = autosa_in_log2(&d.rounds[0].autosa);
        assert!((a.values().sum::<f64>() - 100.0).abs() < 1e-9);
        assert_eq!(a[&0], 10.0);
        // 1472–1536 whole in [1, 2) µs, and half of 1900–2100.
        assert!((a[&1] - 40.0).abs() < 1e-9, "{a:?}");
        assert!((a[&2] - 20.0).abs() < 1e-9, "{a:?}");
        assert_eq!(a[&13], 30.0);
        let p = runqlat_by_index(&d.rounds[0].runqlat);
        assert_eq!((p[&0], p[&1], p[&2], p[&13]), (10.0, 38.0, 22.0, 30.0));
    }

    #[test]
    fn cdf_ends_at_one_and_pools_rounds() {
        let c = cdf([(2.0, 4.0, 3), (0.0, 1.0, 1), (8.0, 16.0, 0)]);
        assert_eq!(c, vec![(1.0, 0.25), (4.0, 1.0)]);
        let mut d = fixture();
        d.rounds.push(d.rounds[0].clone());
        let (ours, peer) = pooled(&d);
        assert_eq!(ours.len(), 4);
        assert_eq!(ours[0], (768, 800, 20));
        assert_eq!(peer.iter().map(|b| b.2).sum::<u64>(), 200);
    }

    #[test]
    fn renders_a_png() {
        let pngs = [("accuracy-runqlat.png", SIZE)];
        crate::plot::testing::assert_renders("accuracy renders_a_png", render, &fixture(), &pngs);
    }
}
