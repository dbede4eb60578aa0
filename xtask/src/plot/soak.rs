//! `cargo xtask soak`'s picture: the daemon's memory, open files and
//! threads over the whole run.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::chart::{self, Marks};
use super::style::{self, draw_err};

pub const NAME: &str = "soak";
pub const SIZE: (u32, u32) = (1200, 760);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoakData {
    pub minutes: f64,
    pub interval_ms: u64,
    pub backend: String,
    /// Minutes left out of the slope at the start.
    pub warmup_minutes: f64,
    pub samples: Vec<SoakSample>,
}

/// One sample of the daemon process.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SoakSample {
    pub minutes: f64,
    pub rss_kib: u64,
    /// Anonymous memory (heap, stacks): what a leak grows. The rest of RSS
    /// is mostly the binary's pages, faulted in as new code paths run.
    pub anon_kib: u64,
    pub fds: usize,
    pub threads: u64,
}

/// (minutes, MiB) of one memory figure.
pub fn mib_series(samples: &[SoakSample], f: fn(&SoakSample) -> u64) -> Vec<(f64, f64)> {
    samples
        .iter()
        .map(|s| (s.minutes, f(s) as f64 / 1024.0))
        .collect()
}

pub fn render(d: &SoakData, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    anyhow::ensure!(d.samples.len() >= 2, "soak data: fewer than 2 samples");
    let path = chart::png_in(out, "soak.png")?;
    let t_max = d
        .samples
        .iter()
        .map(|s| s.minutes)
        .fold(d.minutes, f64::max);
    let rss = mib_series(&d.samples, |s| s.rss_kib);
    let anon = mib_series(&d.samples, |s| s.anon_kib);
    let mem_max = rss.iter().map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let count_max = d
        .samples
        .iter()
        .map(|s| s.fds.max(s.threads as usize))
        .max()
        .unwrap_or(1) as f64
        * 1.2;

    let title = format!(
        "Soak: the daemon over {:.0} min at {} ms, backend {}, under a changing load",
        d.minutes, d.interval_ms, d.backend
    );
    let [root, top, bottom] = chart::two_rows(&path, SIZE, &title)?;
    let mut mem = chart::frame(&top, chart::PANEL, None, 0.0..t_max, 0.0..mem_max)?;
    chart::draw_axes(&mut mem, "minutes", "memory (MiB)")?;
    let warm_up = [(0.0, 0.0), (d.warmup_minutes.min(t_max), mem_max)];
    let warm = RGBColor(235, 235, 235);
    mem.band(warm_up, warm, "warm-up (left out of the slopes)")?;
    mem.line(rss, style::ON, 2, "RSS")?;
    mem.line(anon, style::OFF, 2, "anonymous (heap, stacks)")?;
    mem.legend(SeriesLabelPosition::LowerRight)?;

    let mut counts = chart::frame(&bottom, chart::PANEL, None, 0.0..t_max, 0.0..count_max)?;
    chart::axes(&mut counts, "minutes", "count")
        .y_label_formatter(&style::whole)
        .draw()
        .map_err(draw_err)?;
    let count = |f: fn(&SoakSample) -> f64| d.samples.iter().map(move |s| (s.minutes, f(s)));
    let fds = count(|s| s.fds as f64);
    counts.line(fds, style::THIRD, 2, "open file descriptors")?;
    counts.line(count(|s| s.threads as f64), style::PEER, 2, "threads")?;
    counts.legend(SeriesLabelPosition::LowerRight)?;
    Ok(vec![chart::finish(&root, &path)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> SoakData {
        SoakData {
            minutes: 5.0,
            interval_ms: 100,
            backend: "eevdf".into(),
            warmup_minutes: 2.0,
            samples: (0..30)
                .map(|i| SoakSample {
                    minutes: i as f64 / 6.0,
                    rss_kib: 12_288 + (i % 3) * 40,
                    anon_kib: 4096 + (i % 2) * 8,
                    fds: 33,
                    threads: 4,
                })
                .collect(),
        }
    }

    #[test]
    fn memory_in_mib() {
        let d = fixture();
        let s = mib_series(&d.samples, |s| s.rss_kib);
        assert_eq!(s.len(), 30);
        assert_eq!(s[0], (0.0, 12.0));
        assert_eq!(
            mib_series(&d.samples, |s| s.anon_kib)[1],
            (1.0 / 6.0, 4104.0 / 1024.0)
        );
    }

    #[test]
    fn renders_a_png() {
        let pngs = [("soak.png", SIZE)];
        crate::plot::testing::assert_renders("soak renders_a_png", render, &fixture(), &pngs);
    }
}
