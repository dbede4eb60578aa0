//! Latency histograms drawn the way runqlat and biolatency draw them: one
//! row per power of two (the 16 linear sub-buckets of each are added up).

use std::fmt::Write;

use autosa_common::hist::{BUCKETS, bucket_lower, log2_u64};

use super::units::duration_ns;
use crate::model::snapshot::LatencyHistogram;

/// Width of the star bar.
const BAR: usize = 40;

/// One display row: values `low ..= high` nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Log2Row {
    pub low: u64,
    pub high: u64,
    pub count: u64,
}

/// Power-of-two rows from the first to the last non-empty one (0 and 1 share the first row).
pub fn log2_rows(h: &LatencyHistogram) -> Vec<Log2Row> {
    let mut counts = [0u64; 64];
    // Indices come from recordings too: ignore ones this build has no bucket for.
    for &(idx, c) in h.buckets.iter().filter(|(i, _)| (*i as usize) < BUCKETS) {
        let lower = bucket_lower(idx as usize);
        let row = if lower < 2 {
            0
        } else {
            log2_u64(lower) as usize
        };
        counts[row] = counts[row].saturating_add(c);
    }
    let Some(first) = counts.iter().position(|&c| c > 0) else {
        return Vec::new();
    };
    let last = counts.iter().rposition(|&c| c > 0).unwrap_or(first);
    (first..=last)
        .map(|r| Log2Row {
            low: if r == 0 { 0 } else { 1 << r },
            high: (1u64 << (r + 1)) - 1,
            count: counts[r],
        })
        .collect()
}

/// Writes the rows (`nsecs : count |****|`) and a percentile line under them.
pub fn draw(out: &mut String, h: &LatencyHistogram) {
    let rows = log2_rows(h);
    if rows.is_empty() {
        out.push_str("    (no events)\n");
        return;
    }
    let w = rows.last().map_or(1, |r| r.high.to_string().len());
    let max = rows.iter().map(|r| r.count).max().unwrap_or(1).max(1);
    let _ = writeln!(
        out,
        "    {:>w$} : count    distribution",
        "nsecs",
        w = 2 * w + 4
    );
    for r in &rows {
        // Rounded up so that a non-zero row always shows at least one star.
        let stars = (r.count as u128 * BAR as u128).div_ceil(max as u128) as usize;
        let _ = writeln!(
            out,
            "    {:>w$} -> {:<w$} : {:<8} |{:<BAR$}|",
            r.low,
            r.high,
            r.count,
            "*".repeat(stars),
            w = w
        );
    }
    let mean = h.sum_ns.checked_div(h.count).unwrap_or(0);
    let _ = writeln!(
        out,
        "    count {}  mean {}  p50 {}  p90 {}  p99 {}  max <{}",
        h.count,
        duration_ns(mean),
        duration_ns(h.p50_ns),
        duration_ns(h.p90_ns),
        duration_ns(h.p99_ns),
        duration_ns(h.max_ns)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::hist;
    use autosa_common::hist::bucket_of;

    fn hist_of(values: &[u64]) -> LatencyHistogram {
        let mut c = vec![0u64; BUCKETS];
        for &v in values {
            c[bucket_of(v)] += 1;
        }
        hist::build(&c, values.iter().sum())
    }

    #[test]
    fn sub_buckets_are_added_per_power_of_two() {
        // 1024..2047 spans 16 sub-buckets; all land in one row.
        let h = hist_of(&[1024, 1100, 1500, 2047, 4096, 0, 1]);
        let rows = log2_rows(&h);
        assert_eq!(
            rows.first(),
            Some(&Log2Row {
                low: 0,
                high: 1,
                count: 2
            })
        );
        let r10 = rows.iter().find(|r| r.low == 1024).unwrap();
        assert_eq!((r10.high, r10.count), (2047, 4));
        assert_eq!(
            rows.last(),
            Some(&Log2Row {
                low: 4096,
                high: 8191,
                count: 1
            })
        );
        assert_eq!(rows.iter().map(|r| r.count).sum::<u64>(), 7);
    }

    #[test]
    fn leading_and_trailing_empty_rows_are_trimmed() {
        let rows = log2_rows(&hist_of(&[5000, 20_000]));
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].count, 0);
        assert!(log2_rows(&LatencyHistogram::default()).is_empty());
    }

    #[test]
    fn out_of_range_bucket_index_is_ignored() {
        let h = LatencyHistogram {
            count: 2,
            buckets: vec![(100, 1), (u32::MAX, 1)],
            ..LatencyHistogram::default()
        };
        let rows = log2_rows(&h);
        assert_eq!(rows.iter().map(|r| r.count).sum::<u64>(), 1);
    }

    #[test]
    fn bars_scale_to_the_largest_row() {
        let mut out = String::new();
        draw(
            &mut out,
            &hist_of(&[3000; 80].iter().copied().chain([9000]).collect::<Vec<_>>()),
        );
        assert!(out.contains(&format!("|{}|", "*".repeat(40))), "{out}");
        assert!(out.contains(&format!("|*{}|", " ".repeat(39))), "{out}");
    }
}
