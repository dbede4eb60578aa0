//! `cargo xtask bench footprint`'s picture: the daemon's RSS and CPU over
//! the run, one line per collection interval.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::chart::{self, Marks};
use super::style;

pub const NAME: &str = "footprint";
pub const SIZE: (u32, u32) = (1200, 760);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FootprintData {
    pub binary_bytes: u64,
    /// Seconds measured per interval, after the warm-up.
    pub seconds: u64,
    pub runs: Vec<FootprintRun>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FootprintRun {
    /// The daemon's collection interval (`1s`, `100ms`).
    pub interval: String,
    pub cpu_percent: f64,
    pub rss_peak_kib: u64,
    pub rss_end_kib: u64,
    pub threads: usize,
    pub fds: usize,
    pub samples: Vec<FootprintSample>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FootprintSample {
    /// Seconds since measuring started.
    pub t_s: f64,
    /// CPU time the daemon used so far, ns (cumulative).
    pub cpu_ns: u64,
    pub rss_kib: u64,
}

/// CPU use in % of one CPU over consecutive spans of at least `span_s`
/// seconds, placed at each span's end: a rate from the cumulative counter.
pub fn cpu_percent_series(samples: &[FootprintSample], span_s: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let Some(mut from) = samples.first() else {
        return out;
    };
    for s in &samples[1..] {
        let dt = s.t_s - from.t_s;
        if dt + 1e-9 >= span_s {
            let used = s.cpu_ns.saturating_sub(from.cpu_ns) as f64 / 1e9;
            out.push((s.t_s, used / dt * 100.0));
            from = s;
        }
    }
    out
}

fn color(i: usize) -> RGBColor {
    [style::ON, style::OFF, style::THIRD, style::PEER][i % 4]
}

pub fn render(d: &FootprintData, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    anyhow::ensure!(
        d.runs.iter().any(|r| r.samples.len() >= 2),
        "footprint data: no run has samples over time"
    );
    let path = chart::png_in(out, "footprint.png")?;
    let t_max = d
        .runs
        .iter()
        .flat_map(|r| r.samples.last())
        .map(|s| s.t_s)
        .fold(1.0, f64::max);
    let rss_max = d
        .runs
        .iter()
        .flat_map(|r| &r.samples)
        .map(|s| s.rss_kib as f64 / 1024.0)
        .fold(1.0, f64::max)
        * 1.15;
    let cpu: Vec<Vec<(f64, f64)>> = d
        .runs
        .iter()
        .map(|r| cpu_percent_series(&r.samples, 1.0))
        .collect();
    let cpu_max = cpu.iter().flatten().map(|p| p.1).fold(0.1, f64::max) * 1.15;

    let title = format!(
        "autosa run --backend none: memory and CPU over {} s (binary {:.1} MiB)",
        d.seconds,
        d.binary_bytes as f64 / (1 << 20) as f64
    );
    let [root, top, bottom] = chart::two_rows(&path, SIZE, &title)?;
    let x_desc = "seconds after the warm-up";
    let mut rss = chart::frame(&top, chart::PANEL, None, 0.0..t_max, 0.0..rss_max)?;
    chart::draw_axes(&mut rss, x_desc, "resident memory (MiB)")?;
    for (i, r) in d.runs.iter().enumerate() {
        let mib = r.samples.iter().map(|s| (s.t_s, s.rss_kib as f64 / 1024.0));
        let label = format!(
            "interval {}: peak {:.1} MiB",
            r.interval,
            r.rss_peak_kib as f64 / 1024.0
        );
        rss.line(mib, color(i), 2, label)?;
    }
    rss.legend(SeriesLabelPosition::LowerRight)?;

    let mut cpu_chart = chart::frame(&bottom, chart::PANEL, None, 0.0..t_max, 0.0..cpu_max)?;
    chart::draw_axes(&mut cpu_chart, x_desc, "CPU, % of one CPU (per 1 s)")?;
    for (i, (r, series)) in d.runs.iter().zip(&cpu).enumerate() {
        let label = format!(
            "interval {}: {:.2} % over the run",
            r.interval, r.cpu_percent
        );
        cpu_chart.line(series.iter().copied(), color(i), 2, label)?;
    }
    cpu_chart.legend(SeriesLabelPosition::UpperRight)?;
    Ok(vec![chart::finish(&root, &path)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(step_s: f64, n: usize, ns_per_step: u64, rss: u64) -> Vec<FootprintSample> {
        (0..n)
            .map(|i| FootprintSample {
                t_s: i as f64 * step_s,
                cpu_ns: i as u64 * ns_per_step,
                rss_kib: rss + i as u64,
            })
            .collect()
    }

    #[test]
    fn cpu_rate_over_spans() {
        // 0.25 s samples, 2.5 ms of CPU each: 1 % of one CPU.
        let s = samples(0.25, 9, 2_500_000, 12_000);
        let c = cpu_percent_series(&s, 1.0);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].0, 1.0);
        assert!(c.iter().all(|p| (p.1 - 1.0).abs() < 1e-9), "{c:?}");
        assert!(cpu_percent_series(&s[..1], 1.0).is_empty());
        assert!(cpu_percent_series(&[], 1.0).is_empty());
    }

    #[test]
    fn renders_a_png() {
        let run = |interval: &str, ns: u64| FootprintRun {
            interval: interval.into(),
            cpu_percent: ns as f64 / 0.25e9 * 100.0,
            rss_peak_kib: 12_700,
            rss_end_kib: 12_690,
            threads: 4,
            fds: 35,
            samples: samples(0.25, 40, ns, 12_650),
        };
        let d = FootprintData {
            binary_bytes: 14 << 20,
            seconds: 10,
            runs: vec![run("1s", 250_000), run("100ms", 1_900_000)],
        };
        let pngs = [("footprint.png", SIZE)];
        crate::plot::testing::assert_renders("footprint renders_a_png", render, &d, &pngs);
    }
}
