//! The chart furniture every figure shares: the white canvas and its title, a
//! chart's frame and axes, labelled lines, dashes and bands with their legend
//! keys, and the legend box. A figure's module keeps only what it draws.

use std::path::{Path, PathBuf};

use anyhow::Context;
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::style::{self, FONT, draw_err};

/// A PNG being drawn, or a part of it.
pub type Canvas<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// A chart with plain x and y axes.
pub type Chart<'a, DB, X, Y> = ChartContext<'a, DB, Cartesian2d<X, Y>>;

/// Where figure `file` goes in `out`, ready to be drawn: the font is
/// registered and `out` exists.
pub fn png_in(out: &Path, file: &str) -> anyhow::Result<PathBuf> {
    style::ensure_font()?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    Ok(out.join(file))
}

/// A white canvas of `size` px that is written to `path` when presented.
pub fn canvas(path: &Path, size: (u32, u32)) -> anyhow::Result<Canvas<'_>> {
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    Ok(root)
}

/// Writes the drawn canvas to its file, `path`, and returns that path.
pub fn finish(canvas: &Canvas<'_>, path: &Path) -> anyhow::Result<PathBuf> {
    canvas.present().map_err(draw_err)?;
    Ok(path.to_path_buf())
}

/// `area` below a title of `size` pt: the space left for the charts.
pub fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    size: u32,
) -> anyhow::Result<DrawingArea<DB, Shift>> {
    area.titled(title, (FONT, size)).map_err(draw_err)
}

/// The space around a chart's plotting area, px: the margin, the height of
/// the x labels' area and the width of the y labels' area.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub margin: u32,
    pub x_labels: u32,
    pub y_labels: u32,
}

/// The frame of one of two panels stacked over a shared time axis.
pub const PANEL: Frame = Frame {
    margin: 14,
    x_labels: 40,
    y_labels: 70,
};

/// A chart on `area` over the ranges `x` × `y`, with a caption (text, pt) if given.
pub fn frame<'a, DB, X, Y>(
    area: &'a DrawingArea<DB, Shift>,
    f: Frame,
    caption: Option<(&str, u32)>,
    x: X,
    y: Y,
) -> anyhow::Result<Chart<'a, DB, X::CoordDescType, Y::CoordDescType>>
where
    DB: DrawingBackend + 'a,
    X: AsRangedCoord,
    Y: AsRangedCoord,
{
    let mut builder = ChartBuilder::on(area);
    if let Some((text, size)) = caption {
        builder.caption(text, (FONT, size));
    }
    builder
        .margin(f.margin)
        .x_label_area_size(f.x_labels)
        .y_label_area_size(f.y_labels)
        .build_cartesian_2d(x, y)
        .map_err(draw_err)
}

/// The axes as every figure draws them: described, labelled in the shared
/// fonts, over a light grid. Figures add their formatters, then `draw()`.
pub fn axes<'a, 'b, DB, X, Y>(
    chart: &'b mut Chart<'a, DB, X, Y>,
    x_desc: &str,
    y_desc: &str,
) -> MeshStyle<'a, 'b, X, Y, DB>
where
    DB: DrawingBackend,
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
{
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(style::GRID.mix(0.3));
    mesh
}

/// [`axes`] with plotters' own tick labels, drawn.
pub fn draw_axes<DB, X, Y>(
    chart: &mut Chart<'_, DB, X, Y>,
    x_desc: &str,
    y_desc: &str,
) -> anyhow::Result<()>
where
    DB: DrawingBackend,
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
{
    axes(chart, x_desc, y_desc).draw().map_err(draw_err)
}

/// [`axes`] for a share of latencies, drawn: x in µs ([`style::us_label`]),
/// y in whole %.
pub fn draw_latency_share_axes<DB, X, Y>(
    chart: &mut Chart<'_, DB, X, Y>,
    x_desc: &str,
    y_desc: &str,
) -> anyhow::Result<()>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    axes(chart, x_desc, y_desc)
        .x_label_formatter(&|v| style::us_label(*v))
        .y_label_formatter(&style::whole)
        .draw()
        .map_err(draw_err)
}

/// A legend key: a short line in `color`, `width` px thick.
pub fn line_key(color: RGBColor, width: u32) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(width))
}

/// A legend key: a small filled box in `color`.
pub fn box_key(color: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], color.filled())
}

/// The labelled marks a figure puts on a chart (all our charts plot `f64`s):
/// each also adds its key to the legend, drawn last by [`Marks::legend`].
pub trait Marks {
    /// A solid line through `points`, `width` px thick, in the legend as `label`.
    fn line(
        &mut self,
        points: impl IntoIterator<Item = (f64, f64)>,
        color: RGBColor,
        width: u32,
        label: impl Into<String>,
    ) -> anyhow::Result<()>;

    /// A dashed straight line between `ends` (a threshold or an event),
    /// `width` px thick, in the legend as `label`.
    fn dashes(
        &mut self,
        ends: [(f64, f64); 2],
        color: RGBColor,
        width: u32,
        label: impl Into<String>,
    ) -> anyhow::Result<()>;

    /// A filled rectangle between two corners (a span of time), in the legend as `label`.
    fn band(
        &mut self,
        corners: [(f64, f64); 2],
        color: RGBColor,
        label: impl Into<String>,
    ) -> anyhow::Result<()>;

    /// The legend box at `at`, in the figures' usual font and backdrop.
    fn legend(&mut self, at: SeriesLabelPosition) -> anyhow::Result<()> {
        self.legend_styled(at, 15, 0.85)
    }

    /// The legend box at `at`, its text `font` pt over white of opacity `backdrop`.
    fn legend_styled(
        &mut self,
        at: SeriesLabelPosition,
        font: u32,
        backdrop: f64,
    ) -> anyhow::Result<()>;
}

impl<'a, DB, X, Y> Marks for Chart<'a, DB, X, Y>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    fn line(
        &mut self,
        points: impl IntoIterator<Item = (f64, f64)>,
        color: RGBColor,
        width: u32,
        label: impl Into<String>,
    ) -> anyhow::Result<()> {
        self.draw_series(LineSeries::new(points, color.stroke_width(width)))
            .map_err(draw_err)?
            .label(label)
            .legend(line_key(color, 3));
        Ok(())
    }

    fn dashes(
        &mut self,
        ends: [(f64, f64); 2],
        color: RGBColor,
        width: u32,
        label: impl Into<String>,
    ) -> anyhow::Result<()> {
        self.draw_series(DashedLineSeries::new(ends, 6, 4, color.stroke_width(width)))
            .map_err(draw_err)?
            .label(label)
            .legend(line_key(color, width));
        Ok(())
    }

    fn band(
        &mut self,
        corners: [(f64, f64); 2],
        color: RGBColor,
        label: impl Into<String>,
    ) -> anyhow::Result<()> {
        self.draw_series([Rectangle::new(corners, color.filled())])
            .map_err(draw_err)?
            .label(label)
            .legend(box_key(color));
        Ok(())
    }

    fn legend_styled(
        &mut self,
        at: SeriesLabelPosition,
        font: u32,
        backdrop: f64,
    ) -> anyhow::Result<()> {
        self.configure_series_labels()
            .position(at)
            .label_font((FONT, font))
            .background_style(WHITE.mix(backdrop))
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)
    }
}

/// A canvas titled in 22 pt and split into two panels, one above the other:
/// (the whole canvas, the top panel, the bottom panel).
pub fn two_rows<'a>(
    path: &'a Path,
    size: (u32, u32),
    title: &str,
) -> anyhow::Result<[Canvas<'a>; 3]> {
    let root = canvas(path, size)?;
    let (top, bottom) = titled(&root, title, 22)?.split_vertically((size.1 - 40) / 2);
    Ok([root, top, bottom])
}
