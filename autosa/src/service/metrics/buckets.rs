//! autosa's log-linear histogram buckets folded into the fixed `le` bounds a
//! Prometheus histogram has. Pure.
//!
//! A log-linear bucket is counted under the first bound at or above its
//! upper end, so the count for `le` never includes a sample above `le`; it may
//! leave out samples at most 1/16 below `le` (one bucket's width), which then
//! count under the next bound.

use autosa_common::hist::bucket_upper;

/// Upper bounds in seconds (the last, +Inf, is added by [`fold`]).
pub const LE_SECONDS: [f64; 22] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
    5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Per-`le` counts (not cumulative: the encoder sums them), ending with +Inf.
pub fn fold(dense: &[u64]) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = LE_SECONDS
        .iter()
        .map(|&le| (le, 0))
        .chain(std::iter::once((f64::INFINITY, 0)))
        .collect();
    for (idx, &count) in dense.iter().enumerate() {
        if count == 0 {
            continue;
        }
        // Values in the bucket are below `upper` ns, so at most `upper - 1` ns.
        let max_s = bucket_upper(idx).saturating_sub(1) as f64 / 1e9;
        let slot = LE_SECONDS
            .iter()
            .position(|&le| max_s <= le)
            .unwrap_or(LE_SECONDS.len());
        out[slot].1 += count;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use autosa_common::hist::{BUCKETS, bucket_of};

    fn dense_of(values_ns: &[u64]) -> Vec<u64> {
        let mut d = vec![0; BUCKETS];
        for &v in values_ns {
            d[bucket_of(v)] += 1;
        }
        d
    }

    fn cumulative(f: &[(f64, u64)]) -> Vec<u64> {
        f.iter()
            .scan(0, |acc, &(_, c)| {
                *acc += c;
                Some(*acc)
            })
            .collect()
    }

    #[test]
    fn every_sample_lands_in_exactly_one_bound() {
        let values = [
            0,
            500,
            999,
            1_000,
            30_000,
            2_000_000,
            7_000_000_000,
            100_000_000_000,
        ];
        let f = fold(&dense_of(&values));
        assert_eq!(f.len(), LE_SECONDS.len() + 1);
        assert_eq!(f.iter().map(|&(_, c)| c).sum::<u64>(), values.len() as u64);
        assert_eq!(
            f.last().unwrap(),
            &(f64::INFINITY, 1),
            "100 s is above 10 s"
        );
    }

    #[test]
    fn a_bound_never_counts_a_sample_above_it() {
        // Checked against the exact count for many values around the bounds.
        let mut values = Vec::new();
        for &le in &LE_SECONDS {
            let ns = (le * 1e9) as u64;
            values.extend([
                ns.saturating_sub(ns / 10),
                ns.saturating_sub(1),
                ns,
                ns + 1,
                ns * 2,
            ]);
        }
        let f = fold(&dense_of(&values));
        let cum = cumulative(&f);
        for (i, &le) in LE_SECONDS.iter().enumerate() {
            let exact = values.iter().filter(|&&v| v as f64 / 1e9 <= le).count() as u64;
            let below = values
                .iter()
                .filter(|&&v| (v as f64 / 1e9) <= le * (1.0 - 1.0 / 16.0))
                .count() as u64;
            assert!(cum[i] <= exact, "le={le}: {} > exact {exact}", cum[i]);
            assert!(cum[i] >= below, "le={le}: {} < {below}", cum[i]);
        }
    }
}
