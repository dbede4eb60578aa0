//! What every plot shares: the font (loaded once at run time), colours and
//! the formatting of axis values.

use std::sync::OnceLock;

use anyhow::anyhow;
use plotters::style::{FontStyle, RGBColor, register_font};

/// The TTF the plots' text is drawn with (Debian: `fonts-dejavu-core`).
pub const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// Overrides [`FONT_PATH`] (any TTF), for hosts without that package.
pub const FONT_ENV: &str = "AUTOSA_PLOT_FONT";
/// The family name the plots ask for; the font above is registered under it.
pub const FONT: &str = "sans-serif";

/// "autosa off" / "autosa on", and the peer tool.
pub const OFF: RGBColor = RGBColor(214, 96, 77);
pub const ON: RGBColor = RGBColor(33, 102, 172);
pub const PEER: RGBColor = RGBColor(120, 120, 120);
pub const THIRD: RGBColor = RGBColor(27, 158, 119);
pub const GRID: RGBColor = RGBColor(200, 200, 200);

/// Registers the font with plotters once; a missing font is an error that
/// says which package to install (plotters would otherwise panic on the
/// first text it draws).
pub fn ensure_font() -> anyhow::Result<()> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let path = std::env::var(FONT_ENV).unwrap_or_else(|_| FONT_PATH.to_string());
            let bytes = std::fs::read(&path).map_err(|e| {
                format!(
                    "cannot read the plots' font {path} ({e}): install it \
                     (Debian/Ubuntu: apt-get install fonts-dejavu-core) or set {FONT_ENV} to a TTF file"
                )
            })?;
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            register_font(FONT, FontStyle::Normal, bytes)
                .map_err(|_| format!("{path} is not a TrueType/OpenType font plotters can read"))
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// plotters' errors carry the backend's error type; anyhow wants `Send + Sync`.
pub fn draw_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing the plot: {e}")
}

/// An axis value as a whole number.
pub fn whole(v: &f64) -> String {
    format!("{v:.0}")
}

/// A latency in µs for an axis label: 0.5, 3, 40, 1k, 25k, 2M.
pub fn us_label(us: f64) -> String {
    if us >= 1e6 {
        format!("{}M", trim(us / 1e6))
    } else if us >= 1000.0 {
        format!("{}k", trim(us / 1000.0))
    } else {
        trim(us)
    }
}

/// A number without trailing zeros, to 2 significant decimals below 1.
fn trim(v: f64) -> String {
    let s = if v.abs() >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A log axis's label: only at 1, 2 and 5 times a power of ten, so that
/// the labels stay readable however many ticks plotters puts in.
pub fn log_tick(v: f64) -> Option<String> {
    if v <= 0.0 {
        return None;
    }
    let m = v / 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .any(|k| (m - k).abs() < 1e-6 * k)
        .then(|| us_label(v))
}

/// Powers of ten (and 2, 5 between them) spanning `[lo, hi]`: a log axis's
/// range snapped outwards to values that label well.
pub fn log_bounds(lo: f64, hi: f64) -> (f64, f64) {
    let steps = [1.0, 2.0, 5.0];
    let down = |v: f64| {
        let p = 10f64.powf(v.log10().floor());
        steps
            .iter()
            .rev()
            .map(|s| s * p)
            .find(|&x| x <= v * (1.0 + 1e-9))
            .unwrap_or(p)
    };
    let up = |v: f64| {
        let p = 10f64.powf(v.log10().floor());
        steps
            .iter()
            .chain(&[10.0])
            .map(|s| s * p)
            .find(|&x| x >= v * (1.0 - 1e-9))
            .unwrap_or(10.0 * p)
    };
    let (lo, hi) = (lo.max(f64::MIN_POSITIVE), hi.max(lo * 1.0001));
    (down(lo), up(hi))
}

/// White to `to` by `t` in `[0, 1]`: the heat-map scale.
pub fn blend(to: RGBColor, t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |c: u8| (255.0 + (f64::from(c) - 255.0) * t).round() as u8;
    RGBColor(mix(to.0), mix(to.1), mix(to.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(us_label(0.5), "0.5");
        assert_eq!(us_label(3.0), "3");
        assert_eq!(us_label(2.5), "2.5");
        assert_eq!(us_label(40.0), "40");
        assert_eq!(us_label(1000.0), "1k");
        assert_eq!(us_label(25_000.0), "25k");
        assert_eq!(us_label(0.25), "0.25");
        assert_eq!(us_label(1e6), "1M");
        assert_eq!(us_label(2.5e6), "2.5M");
    }

    #[test]
    fn log_ticks_only_at_1_2_5() {
        assert_eq!(log_tick(100.0).as_deref(), Some("100"));
        assert_eq!(log_tick(2000.0).as_deref(), Some("2k"));
        assert_eq!(log_tick(0.5).as_deref(), Some("0.5"));
        assert_eq!(log_tick(300.0), None);
        assert_eq!(log_tick(0.0), None);
    }

    #[test]
    fn log_bounds_snap_outwards() {
        assert_eq!(log_bounds(13.0, 870.0), (10.0, 1000.0));
        assert_eq!(log_bounds(25.0, 4100.0), (20.0, 5000.0));
        assert_eq!(log_bounds(1.0, 100.0), (1.0, 100.0));
        let (lo, hi) = log_bounds(0.3, 0.3);
        assert!(lo <= 0.3 && hi > 0.3, "{lo} {hi}");
    }

    #[test]
    fn blend_ends() {
        assert_eq!(blend(ON, 0.0), RGBColor(255, 255, 255));
        assert_eq!(blend(ON, 1.0), ON);
        assert_eq!(blend(ON, 7.0), ON);
    }
}
