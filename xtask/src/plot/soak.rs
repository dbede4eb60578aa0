//! `cargo xtask soak`'s picture: the daemon's memory, open files and
//! threads over the whole run.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::style::{self, FONT, draw_err};

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

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SoakSample {
    pub minutes: f64,
    pub rss_kib: u64,
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
    style::ensure_font()?;
    std::fs::create_dir_all(out)?;
    let path = out.join("soak.png");
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

    let root = BitMapBackend::new(&path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let root = root
        .titled(
            &format!(
                "Soak: the daemon over {:.0} min at {} ms, backend {}, under a changing load",
                d.minutes, d.interval_ms, d.backend
            ),
            (FONT, 22),
        )
        .map_err(draw_err)?;
    let (top, bottom) = root.split_vertically((SIZE.1 - 40) / 2);
    let mut mem = ChartBuilder::on(&top)
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_max, 0.0..mem_max)
        .map_err(draw_err)?;
    mem.configure_mesh()
        .x_desc("minutes")
        .y_desc("memory (MiB)")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(style::GRID.mix(0.3))
        .draw()
        .map_err(draw_err)?;
    let warm = RGBColor(235, 235, 235);
    mem.draw_series([Rectangle::new(
        [(0.0, 0.0), (d.warmup_minutes.min(t_max), mem_max)],
        warm.filled(),
    )])
    .map_err(draw_err)?
    .label("warm-up (left out of the slopes)")
    .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], warm.filled()));
    for (name, series, c) in [
        ("RSS", rss, style::ON),
        ("anonymous (heap, stacks)", anon, style::OFF),
    ] {
        mem.draw_series(LineSeries::new(series, c.stroke_width(2)))
            .map_err(draw_err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(3)));
    }
    mem.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(draw_err)?;

    let mut counts = ChartBuilder::on(&bottom)
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_max, 0.0..count_max)
        .map_err(draw_err)?;
    counts
        .configure_mesh()
        .x_desc("minutes")
        .y_desc("count")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(style::GRID.mix(0.3))
        .draw()
        .map_err(draw_err)?;
    let fds: Vec<(f64, f64)> = d
        .samples
        .iter()
        .map(|s| (s.minutes, s.fds as f64))
        .collect();
    let threads: Vec<(f64, f64)> = d
        .samples
        .iter()
        .map(|s| (s.minutes, s.threads as f64))
        .collect();
    for (name, series, c) in [
        ("open file descriptors", fds, style::THIRD),
        ("threads", threads, style::PEER),
    ] {
        counts
            .draw_series(LineSeries::new(series, c.stroke_width(2)))
            .map_err(draw_err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(3)));
    }
    counts
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(draw_err)?;
    root.present().map_err(draw_err)?;
    Ok(vec![path.clone()])
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
        if !crate::plot::testing::font_or_skip("soak renders_a_png") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let files = render(&fixture(), dir.path()).unwrap();
        assert_eq!(files, vec![dir.path().join("soak.png")]);
        crate::plot::testing::assert_png(&files[0], SIZE);
    }
}
