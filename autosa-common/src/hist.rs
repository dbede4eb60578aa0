//! Log-linear histogram buckets (log2 with 16 linear sub-buckets per power of two).
//!
//! Shared by the kernel side, which only computes [`bucket_of`], and userspace,
//! which turns bucket counts back into latencies. Values are nanoseconds.
//! A bucket spans at most 1/16 of its lower bound, so a percentile read at the
//! bucket's midpoint is within ~3 % of the true value.

/// log2 of the number of linear sub-buckets per power of two.
pub const SUB_BITS: u32 = 4;
/// Linear sub-buckets per power of two.
pub const SUB_BUCKETS: usize = 1 << SUB_BITS;
/// Highest power of two with its own buckets; larger values land in the last bucket.
/// 2^38 ns is about 275 s.
pub const MAX_LOG2: u32 = 37;
/// Number of buckets in one histogram.
pub const BUCKETS: usize = ((MAX_LOG2 - SUB_BITS + 2) as usize) * SUB_BUCKETS;

/// Floor of log2(v) for v > 0, written without `ctlz` so the BPF backend
/// emits plain shifts and compares the verifier accepts on every kernel.
#[inline(always)]
pub const fn log2_u64(mut v: u64) -> u32 {
    let mut r = 0;
    if v >= 1 << 32 {
        v >>= 32;
        r += 32;
    }
    if v >= 1 << 16 {
        v >>= 16;
        r += 16;
    }
    if v >= 1 << 8 {
        v >>= 8;
        r += 8;
    }
    if v >= 1 << 4 {
        v >>= 4;
        r += 4;
    }
    if v >= 1 << 2 {
        v >>= 2;
        r += 2;
    }
    if v >= 1 << 1 {
        r += 1;
    }
    r
}

/// Bucket index of a value, always `< BUCKETS`.
#[inline(always)]
pub const fn bucket_of(v: u64) -> usize {
    if v < SUB_BUCKETS as u64 {
        return v as usize;
    }
    let msb = log2_u64(v);
    if msb > MAX_LOG2 {
        return BUCKETS - 1;
    }
    let sub = (v >> (msb - SUB_BITS)) as usize & (SUB_BUCKETS - 1);
    let idx = (msb - SUB_BITS + 1) as usize * SUB_BUCKETS + sub;
    // Redundant for valid input, but keeps the bound obvious to the verifier.
    if idx >= BUCKETS { BUCKETS - 1 } else { idx }
}

/// Smallest value that falls in bucket `idx`.
pub const fn bucket_lower(idx: usize) -> u64 {
    if idx < SUB_BUCKETS {
        return idx as u64;
    }
    let group = (idx / SUB_BUCKETS) as u32; // >= 1
    let sub = (idx % SUB_BUCKETS) as u64;
    let msb = group + SUB_BITS - 1;
    (SUB_BUCKETS as u64 + sub) << (msb - SUB_BITS)
}

/// One past the largest value of bucket `idx` (the last bucket is open-ended;
/// its nominal upper bound is returned).
pub const fn bucket_upper(idx: usize) -> u64 {
    if idx < SUB_BUCKETS {
        return idx as u64 + 1;
    }
    let group = (idx / SUB_BUCKETS) as u32;
    let msb = group + SUB_BITS - 1;
    bucket_lower(idx) + (1u64 << (msb - SUB_BITS))
}

/// Representative value of bucket `idx`: its midpoint.
pub const fn bucket_mid(idx: usize) -> u64 {
    let lo = bucket_lower(idx);
    lo + (bucket_upper(idx) - lo) / 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_values_have_exact_buckets() {
        for v in 0..16u64 {
            assert_eq!(bucket_of(v), v as usize);
            assert_eq!(bucket_lower(v as usize), v);
            assert_eq!(bucket_upper(v as usize), v + 1);
        }
    }

    #[test]
    fn buckets_tile_the_range_without_gaps() {
        for idx in 0..BUCKETS - 1 {
            assert_eq!(
                bucket_upper(idx),
                bucket_lower(idx + 1),
                "gap after bucket {idx}"
            );
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_of(bucket_lower(BUCKETS - 1)), BUCKETS - 1);
    }

    #[test]
    fn log2_matches_leading_zeros() {
        for shift in 0..64 {
            let v = 1u64 << shift;
            assert_eq!(log2_u64(v), 63 - v.leading_zeros());
            assert_eq!(log2_u64(v | (v >> 1)), 63 - v.leading_zeros());
        }
    }

    proptest! {
        #[test]
        fn value_lies_in_its_bucket(v in 0u64..(1u64 << (MAX_LOG2 + 1))) {
            let idx = bucket_of(v);
            prop_assert!(bucket_lower(idx) <= v && v < bucket_upper(idx));
        }

        #[test]
        fn midpoint_error_is_within_a_few_percent(v in 16u64..(1u64 << (MAX_LOG2 + 1))) {
            let mid = bucket_mid(bucket_of(v)) as f64;
            let err = (mid - v as f64).abs() / v as f64;
            prop_assert!(err <= 1.0 / 16.0, "v={v} mid={mid} err={err}");
        }

        #[test]
        fn bucket_of_is_monotonic(a in any::<u64>(), b in any::<u64>()) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(bucket_of(lo) <= bucket_of(hi));
        }
    }
}
