//! Number formatting for reasons people read: "4.8 ms", "35 %", "1.2k".

/// A duration in nanoseconds, in the unit that reads best.
pub fn ns(v: f64) -> String {
    if !v.is_finite() || v <= 0.0 {
        "0 µs".to_string()
    } else if v < 1_000.0 {
        format!("{v:.0} ns")
    } else if v < 1_000_000.0 {
        format!("{:.0} µs", v / 1e3)
    } else if v < 1e9 {
        format!("{:.1} ms", v / 1e6)
    } else {
        format!("{:.2} s", v / 1e9)
    }
}

/// A fraction as a percentage.
pub fn pct(v: f64) -> String {
    format!("{:.0} %", v * 100.0)
}

/// A rate or count, short.
pub fn rate(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 1_000.0 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(ns(4_800_000.0), "4.8 ms");
        assert_eq!(ns(40_000.0), "40 µs");
        assert_eq!(ns(0.0), "0 µs");
        assert_eq!(pct(0.354), "35 %");
        assert_eq!(rate(900.0), "900");
        assert_eq!(rate(1234.0), "1.2k");
        assert_eq!(rate(45_847.0), "46k");
    }
}
