//! `cargo xtask eval`'s confusion matrix as a heat map: rows the true
//! workload, columns what autosa said, colour the share of the row.

use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

use super::chart::{self, Frame};
use super::style::{self, FONT, draw_err};

pub const NAME: &str = "eval";
pub const SIZE: (u32, u32) = (960, 760);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalData {
    /// Where the intervals came from (live workloads, or a replayed directory).
    pub source: String,
    /// Leading intervals of each recording left out of the score.
    pub warmup: u32,
    /// Class names, in matrix order.
    pub classes: Vec<String>,
    /// `counts[truth][said]`.
    pub counts: Vec<Vec<u64>>,
}

impl EvalData {
    /// Each row's counts as shares of the row; `None` for a class not run.
    pub fn row_shares(&self) -> Vec<Option<Vec<f64>>> {
        self.counts
            .iter()
            .map(|row| {
                let total: u64 = row.iter().sum();
                (total > 0).then(|| row.iter().map(|&n| n as f64 / total as f64).collect())
            })
            .collect()
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Correct over all; `None` when nothing was scored.
    pub fn overall(&self) -> Option<f64> {
        let correct: u64 = (0..self.counts.len())
            .map(|i| self.counts[i].get(i).copied().unwrap_or(0))
            .sum();
        let total = self.total();
        (total > 0).then(|| correct as f64 / total as f64)
    }
}

pub fn render(d: &EvalData, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    anyhow::ensure!(
        !d.classes.is_empty()
            && d.counts.len() == d.classes.len()
            && d.counts.iter().all(|r| r.len() == d.classes.len()),
        "eval data: the matrix is not {n}×{n}",
        n = d.classes.len()
    );
    let path = chart::png_in(out, "eval-confusion.png")?;
    let n = d.classes.len() as u32;
    let shares = d.row_shares();
    let root = chart::canvas(&path, SIZE)?;
    let (chart_area, note_area) = root.split_vertically(SIZE.1 - 36);
    let caption = match d.overall() {
        Some(a) => format!(
            "Classification: {} intervals, {:.1} % correct",
            d.total(),
            a * 100.0
        ),
        None => "Classification: no interval scored".to_string(),
    };
    let cells = || (0u32..n - 1).into_segmented();
    let frame = Frame {
        margin: 16,
        x_labels: 56,
        y_labels: 170,
    };
    let mut chart = chart::frame(&chart_area, frame, Some((&caption, 26)), cells(), cells())?;
    // Row 0 (the first class) at the top.
    let name = |v: &SegmentValue<u32>, flip: bool| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) if *i < n => {
            let i = if flip { n - 1 - i } else { *i };
            d.classes[i as usize].clone()
        }
        _ => String::new(),
    };
    chart::axes(&mut chart, "said by autosa", "true workload")
        .disable_mesh()
        .x_labels(n as usize)
        .y_labels(n as usize)
        .x_label_formatter(&|v| name(v, false))
        .y_label_formatter(&|v| name(v, true))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(draw_err)?;
    for (t, row) in d.counts.iter().enumerate() {
        let y = n - 1 - t as u32;
        for (p, &count) in row.iter().enumerate() {
            let x = p as u32;
            let share = shares[t].as_ref().map(|s| s[p]);
            let fill = match share {
                Some(s) => style::blend(style::ON, s),
                None => RGBColor(235, 235, 235),
            };
            let cell = [
                (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
            ];
            chart
                .draw_series([
                    Rectangle::new(cell.clone(), fill.filled()),
                    Rectangle::new(cell, style::GRID.stroke_width(1)),
                ])
                .map_err(draw_err)?;
            let ink = if share.unwrap_or(0.0) > 0.55 {
                WHITE
            } else {
                BLACK
            };
            let text = match share {
                Some(s) if count > 0 => format!("{count} ({:.0} %)", s * 100.0),
                Some(_) => "0".to_string(),
                None if p == t => "not run".to_string(),
                None => String::new(),
            };
            let at = (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y));
            chart
                .draw_series([Text::new(
                    text,
                    at,
                    (FONT, 17)
                        .into_font()
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                )])
                .map_err(draw_err)?;
        }
    }
    note_area
        .draw(&Text::new(
            format!(
                "{}; first {} intervals of each recording not scored. Colour: share of the row.",
                d.source, d.warmup
            ),
            (16, 6),
            (FONT, 15).into_font().color(&RGBColor(60, 60, 60)),
        ))
        .map_err(draw_err)?;
    Ok(vec![chart::finish(&root, &path)?])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn fixture() -> EvalData {
        let classes = [
            "idle",
            "cpu_bound",
            "latency_sensitive",
            "io_bound",
            "memory_bound",
            "mixed",
        ];
        let mut counts = vec![vec![0u64; 6]; 6];
        counts[0][0] = 20;
        counts[1][1] = 18;
        counts[1][5] = 2;
        counts[5][5] = 15;
        counts[5][1] = 5;
        EvalData {
            source: "fixture".into(),
            warmup: 5,
            classes: classes.map(String::from).to_vec(),
            counts,
        }
    }

    #[test]
    fn shares_and_overall() {
        let d = fixture();
        let s = d.row_shares();
        assert_eq!(s[1].as_ref().unwrap()[1], 0.9);
        assert_eq!(s[1].as_ref().unwrap()[5], 0.1);
        assert_eq!(s[2], None);
        assert_eq!(d.total(), 60);
        assert_eq!(d.overall(), Some(53.0 / 60.0));
    }

    #[test]
    fn renders_a_png() {
        let pngs = [("eval-confusion.png", SIZE)];
        crate::plot::testing::assert_renders("eval renders_a_png", render, &fixture(), &pngs);
    }

    #[test]
    fn a_ragged_matrix_is_an_error() {
        let mut d = fixture();
        d.counts[3].pop();
        let dir = tempfile::tempdir().unwrap();
        assert!(render(&d, dir.path()).is_err());
    }
}
