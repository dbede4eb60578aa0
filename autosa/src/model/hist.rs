//! Pure maths on bucket-count vectors (the buckets of `autosa_common::hist`).
//!
//! Percentiles are rank based (nearest rank: the value at position
//! `ceil(q × n)` of the sorted samples) and reported at the midpoint of the
//! bucket that holds that rank. A bucket spans at most 1/16 of its lower
//! bound, so the midpoint is within 1/32 (~3 %) of any value in it; linear
//! interpolation inside the bucket could be off by the whole width (1/16)
//! when the samples crowd one end, so the midpoint has the better bound.
//! Buckets below 16 ns hold one value each and are exact.

use autosa_common::hist::{BUCKETS, bucket_mid, bucket_upper};

use super::snapshot::LatencyHistogram;

/// Counts of `cur` minus `prev`, bucket by bucket. A bucket that went
/// backwards was restarted (a map entry evicted and recreated): its current
/// value is all new. A bucket missing from `prev` counts from zero.
pub fn delta(prev: &[u64], cur: &[u64]) -> Vec<u64> {
    cur.iter()
        .enumerate()
        .map(|(i, &c)| counter_delta(prev.get(i).copied().unwrap_or(0), c))
        .collect()
}

/// `cur - prev` for a cumulative counter; `cur` when it went backwards (restart).
pub fn counter_delta(prev: u64, cur: u64) -> u64 {
    if cur >= prev { cur - prev } else { cur }
}

/// Adds `other` into `acc` bucket by bucket (growing `acc` when shorter).
pub fn merge_into(acc: &mut Vec<u64>, other: &[u64]) {
    if acc.len() < other.len() {
        acc.resize(other.len(), 0);
    }
    for (a, &o) in acc.iter_mut().zip(other) {
        *a = a.saturating_add(o);
    }
}

/// Sum of several vectors, e.g. one histogram per CPU.
pub fn merge<'a>(parts: impl IntoIterator<Item = &'a [u64]>) -> Vec<u64> {
    let mut acc = Vec::with_capacity(BUCKETS);
    for p in parts {
        merge_into(&mut acc, p);
    }
    acc
}

/// Number of events in the histogram.
pub fn total(counts: &[u64]) -> u64 {
    counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
}

/// 1-based nearest rank of quantile `q` (in `[0, 1]`) among `n` samples.
pub fn nearest_rank(n: u64, q: f64) -> u64 {
    // The small epsilon keeps 0.9 × 10 from rounding up to 10 through
    // floating-point noise.
    let r = (q.clamp(0.0, 1.0) * n as f64 - 1e-9).ceil();
    (r as u64).clamp(1, n.max(1))
}

/// The buckets this build knows; entries past `BUCKETS` (a vector from
/// somewhere else) have no bounds and are ignored.
fn known(counts: &[u64]) -> &[u64] {
    &counts[..counts.len().min(BUCKETS)]
}

/// Index of the bucket holding the sample of rank `ceil(q × n)`; `None` when empty.
pub fn quantile_bucket(counts: &[u64], q: f64) -> Option<usize> {
    let counts = known(counts);
    let n = total(counts);
    if n == 0 {
        return None;
    }
    let rank = nearest_rank(n, q);
    let mut seen = 0u64;
    for (i, &c) in counts.iter().enumerate() {
        seen = seen.saturating_add(c);
        if seen >= rank {
            return Some(i);
        }
    }
    None
}

/// Quantile `q` in nanoseconds (bucket midpoint); 0 for an empty histogram.
pub fn quantile(counts: &[u64], q: f64) -> u64 {
    quantile_bucket(counts, q).map_or(0, bucket_mid)
}

/// Upper bound of the highest non-empty bucket; 0 when empty.
pub fn max_bound(counts: &[u64]) -> u64 {
    known(counts)
        .iter()
        .rposition(|&c| c > 0)
        .map_or(0, bucket_upper)
}

/// Builds the interval histogram from (already delta'd) bucket counts.
pub fn build(counts: &[u64], sum_ns: u64) -> LatencyHistogram {
    let counts = known(counts);
    LatencyHistogram {
        count: total(counts),
        sum_ns,
        p50_ns: quantile(counts, 0.50),
        p90_ns: quantile(counts, 0.90),
        p99_ns: quantile(counts, 0.99),
        max_ns: max_bound(counts),
        buckets: counts
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(i, &c)| (i as u32, c))
            .collect(),
    }
}

/// Dense bucket counts back from a histogram's sparse buckets (out-of-range indices dropped).
pub fn dense(h: &LatencyHistogram) -> Vec<u64> {
    let mut v = vec![0u64; BUCKETS];
    for &(i, c) in &h.buckets {
        if let Some(slot) = v.get_mut(i as usize) {
            *slot = slot.saturating_add(c);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use autosa_common::hist::bucket_of;
    use proptest::prelude::*;

    fn hist_of(values: &[u64]) -> Vec<u64> {
        let mut h = vec![0u64; BUCKETS];
        for &v in values {
            h[bucket_of(v)] += 1;
        }
        h
    }

    fn exact(values: &[u64], q: f64) -> u64 {
        let mut s = values.to_vec();
        s.sort_unstable();
        s[(nearest_rank(s.len() as u64, q) - 1) as usize]
    }

    #[test]
    fn delta_takes_current_value_when_bucket_restarted() {
        assert_eq!(delta(&[5, 3, 7], &[6, 1, 7]), vec![1, 1, 0]);
        assert_eq!(delta(&[], &[2, 3]), vec![2, 3]);
    }

    #[test]
    fn empty_histogram_has_zero_percentiles() {
        let h = build(&vec![0; BUCKETS], 0);
        assert_eq!(h, LatencyHistogram::default());
    }

    #[test]
    fn small_values_are_exact() {
        let h = build(&hist_of(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 55);
        assert_eq!((h.p50_ns, h.p90_ns, h.p99_ns, h.max_ns), (5, 9, 10, 11));
        assert_eq!(h.count, 10);
        assert_eq!(h.buckets.len(), 10);
    }

    #[test]
    fn counts_past_the_last_bucket_are_ignored() {
        let mut c = vec![0u64; BUCKETS + 5];
        c[3] = 2;
        c[BUCKETS + 4] = 7;
        let h = build(&c, 6);
        assert_eq!((h.count, h.max_ns, h.p99_ns), (2, 4, 3));
    }

    #[test]
    fn nearest_rank_is_not_fooled_by_float_noise() {
        assert_eq!(nearest_rank(10, 0.9), 9);
        assert_eq!(nearest_rank(100, 0.99), 99);
        assert_eq!(nearest_rank(1, 0.5), 1);
        assert_eq!(nearest_rank(3, 0.0), 1);
    }

    #[test]
    fn dense_round_trips_sparse_buckets() {
        let c = hist_of(&[100, 2000, 2000, 1 << 30]);
        assert_eq!(dense(&build(&c, 0)), c);
    }

    proptest! {
        #[test]
        fn percentile_within_bucket_error(
            values in prop::collection::vec(0u64..(1u64 << 38), 1..400),
            q in prop::sample::select(vec![0.5, 0.9, 0.99, 0.0, 1.0]),
        ) {
            let got = quantile(&hist_of(&values), q) as f64;
            let want = exact(&values, q) as f64;
            prop_assert!((got - want).abs() <= want / 32.0, "q={q} got={got} want={want}");
        }

        #[test]
        fn percentiles_are_monotonic(values in prop::collection::vec(0u64..(1u64 << 40), 1..200)) {
            let h = build(&hist_of(&values), 0);
            prop_assert!(h.p50_ns <= h.p90_ns && h.p90_ns <= h.p99_ns && h.p99_ns <= h.max_ns, "{h:?}");
            let real_max = *values.iter().max().unwrap();
            prop_assert!(real_max < h.max_ns || real_max >= 1 << 38);
        }

        #[test]
        fn merge_is_commutative(
            a in prop::collection::vec(any::<u32>(), 0..64),
            b in prop::collection::vec(any::<u32>(), 0..64),
        ) {
            let a: Vec<u64> = a.into_iter().map(u64::from).collect();
            let b: Vec<u64> = b.into_iter().map(u64::from).collect();
            prop_assert_eq!(merge([a.as_slice(), b.as_slice()]), merge([b.as_slice(), a.as_slice()]));
        }

        #[test]
        fn delta_of_itself_is_empty(a in prop::collection::vec(any::<u64>(), 0..BUCKETS)) {
            let d = delta(&a, &a);
            prop_assert_eq!(total(&d), 0);
            prop_assert!(build(&d, 0).buckets.is_empty());
        }

        #[test]
        fn delta_then_add_gives_back_current(
            pairs in prop::collection::vec((any::<u32>(), any::<u32>()), 0..64),
        ) {
            let prev: Vec<u64> = pairs.iter().map(|p| u64::from(p.0)).collect();
            let inc: Vec<u64> = pairs.iter().map(|p| u64::from(p.1)).collect();
            let cur = merge([prev.as_slice(), inc.as_slice()]);
            prop_assert_eq!(delta(&prev, &cur), inc);
        }
    }
}
