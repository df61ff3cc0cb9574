//! Latency objectives judged on the latencies themselves, not on a histogram's bucket tops.
//!
//! A latency histogram (3 significant digits) answers a percentile with the top of the bucket
//! that holds it, up to 0.1 % above the latency: answers that all take exactly 50.2 ms read as
//! a p50 of 50.21 ms — a figure no answer had — and miss the 50.2 ms target they met. Only the
//! bucket holding a target can lie on both sides of it; any other bucket is wholly below or
//! wholly above, and its top judges a percentile in it as the exact latency would. So each
//! endpoint keeps, for the buckets of its latency targets only, the successes' latencies in
//! them value by value ([`TargetBucket`]), and a percentile whose rank falls in such a bucket
//! is read there exactly ([`quantile`]). What this keeps is bounded by the buckets' widths
//! (distinct whole microseconds: 64 around a 100 ms target), not by the run's length.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use hdrhistogram::Histogram;

use super::new_histogram;

/// The latencies (whole µs, as the latency histograms count them) a success had in the bucket
/// that holds one latency target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetBucket {
    /// The bucket's lowest and highest value.
    low: u64,
    high: u64,
    /// Latency → successes that had it.
    counts: BTreeMap<u64, u64>,
}

impl TargetBucket {
    /// The bucket holding a latency target of `target_ms`: the last whole microsecond the
    /// target allows (a target of 50.2 ms allows 50,200 µs; the small slack absorbs `50.2 ×
    /// 1000` rounding below 50,200). `None` for a target no latency can meet (below 1 µs, the
    /// least a histogram records) or beyond the histogram's range (an hour), where the top
    /// bucket's clamping would make counting value by value wrong.
    #[must_use]
    pub fn of_target(target_ms: f64) -> Option<Self> {
        static LIKE: OnceLock<Histogram<u64>> = OnceLock::new();
        let like = LIKE.get_or_init(new_histogram);
        let micros = (target_ms * 1_000.0 + 1e-6).floor();
        if !(micros >= 1.0 && micros <= like.high() as f64) {
            return None;
        }
        let micros = micros as u64;
        let (low, high) = (like.lowest_equivalent(micros), like.highest_equivalent(micros));
        // Latencies past the histogram's range are counted at its highest trackable value:
        // a bucket holding it would count them where they do not lie.
        if high >= like.high() {
            return None;
        }
        Some(TargetBucket { low, high, counts: BTreeMap::new() })
    }

    /// A success took `micros` µs (as its latency histogram counts it).
    pub(crate) fn record(&mut self, micros: u64) {
        if (self.low..=self.high).contains(&micros) {
            *self.counts.entry(micros).or_insert(0) += 1;
        }
    }

    /// The buckets of `targets_ms`, each once.
    #[must_use]
    pub fn of_targets(targets_ms: impl IntoIterator<Item = f64>) -> Vec<Self> {
        let mut buckets: Vec<TargetBucket> = Vec::new();
        for b in targets_ms.into_iter().filter_map(TargetBucket::of_target) {
            if !buckets.iter().any(|known| known.low == b.low) {
                buckets.push(b);
            }
        }
        buckets
    }
}

/// The latency (µs) of rank ⌈p × n⌉ (at least 1) among the `n` values `h` counted, for
/// 0 < `p` ≤ 1: exact when that rank falls in one of `buckets` (which must have seen every
/// value `h` counted in them), else hdrhistogram's `value_at_quantile` (its bucket's top).
/// `None` for an empty histogram.
pub(crate) fn quantile(h: &Histogram<u64>, buckets: &[TargetBucket], p: f64) -> Option<u64> {
    if h.is_empty() {
        return None;
    }
    let top = h.value_at_quantile(p);
    let Some(bucket) = buckets.iter().find(|b| b.high == top) else {
        return Some(top);
    };
    let n = h.len();
    // hdrhistogram's rank, so that the bucket found is the one the rank falls in.
    let rank = ((p.min(1.0) * n as f64).ceil() as u64).clamp(1, n);
    let below: u64 = h
        .iter_recorded()
        .take_while(|v| v.value_iterated_to() < bucket.low)
        .map(|v| v.count_at_value())
        .sum();
    let mut seen = below;
    for (&value, &count) in &bucket.counts {
        seen += count;
        if seen >= rank {
            return Some(value);
        }
    }
    // The bucket saw fewer values than the histogram counted in it: recorded apart, which
    // the endpoint's record never does.
    debug_assert!(false, "a target bucket missed values its histogram counted");
    Some(top)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Records `latencies` (µs) as an endpoint's record does: histogram and target buckets.
    fn recorded(latencies: &[u64], targets_ms: &[f64]) -> (Histogram<u64>, Vec<TargetBucket>) {
        let mut h = new_histogram();
        let mut buckets = TargetBucket::of_targets(targets_ms.iter().copied());
        for &v in latencies {
            h.saturating_record(v);
            buckets.iter_mut().for_each(|b| b.record(v));
        }
        (h, buckets)
    }

    /// The nearest-rank percentile of `latencies`, computed from the values themselves.
    fn exact(latencies: &[u64], p: f64) -> u64 {
        let mut sorted = latencies.to_vec();
        sorted.sort_unstable();
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    #[test]
    fn answers_that_all_take_the_target_meet_it() {
        let latencies = vec![50_200; 100];
        let (h, buckets) = recorded(&latencies, &[50.2]);
        // The histogram alone says 50.207 ms: above the target every answer met.
        assert_eq!(h.value_at_quantile(0.5), 50_207);
        assert_eq!(quantile(&h, &buckets, 0.5), Some(50_200));
        assert_eq!(quantile(&h, &buckets, 0.99), Some(50_200));
        assert_eq!(quantile(&h, &[], 0.99), Some(50_207));
    }

    #[test]
    fn a_percentile_outside_every_target_bucket_is_the_histograms() {
        // 99 answers at 10 ms, one at 50.201 ms: p50 lies far below the 50.2 ms target's
        // bucket and is read as the histogram reads it; p100 lies in it and is exact.
        let mut latencies = vec![10_000; 99];
        latencies.push(50_201);
        let (h, buckets) = recorded(&latencies, &[50.2]);
        assert_eq!(quantile(&h, &buckets, 0.5), Some(h.value_at_quantile(0.5)));
        assert_eq!(quantile(&h, &buckets, 1.0), Some(50_201));
        assert_eq!(quantile(&new_histogram(), &buckets, 0.5), None);
    }

    #[test]
    fn targets_no_latency_can_meet_or_past_the_range_keep_no_bucket() {
        assert_eq!(TargetBucket::of_target(0.0), None);
        assert_eq!(TargetBucket::of_target(0.0005), None);
        assert_eq!(TargetBucket::of_target(f64::NAN), None);
        assert_eq!(TargetBucket::of_target(4_000_000_000.0), None);
        assert!(TargetBucket::of_target(0.001).is_some());
        // 0.29 × 1000 is 289.99999999999994 in binary: the target's microsecond is 290.
        let b = TargetBucket::of_target(0.29).expect("in range");
        assert!((b.low..=b.high).contains(&290));
        // Two targets in one bucket keep it once.
        assert_eq!(TargetBucket::of_targets([50.2, 50.201, 10.0]).len(), 2);
    }

    proptest! {
        /// Whatever the latencies, a percentile judged against a target through the target
        /// buckets is judged as the exact nearest-rank percentile would be; in a target's
        /// bucket it *is* the exact one, elsewhere the histogram's bucket top.
        #[test]
        fn judging_through_the_target_buckets_is_judging_the_latencies(
            target_us in 1u64..400_000,
            offsets in proptest::collection::vec(-300i64..300, 1..200),
            far in proptest::collection::vec(1u64..2_000_000, 0..50),
            p in prop_oneof![Just(0.5), Just(0.99), Just(1.0), 0.001f64..1.0],
        ) {
            let target_ms = target_us as f64 / 1e3;
            let latencies: Vec<u64> = offsets
                .iter()
                .map(|&d| target_us.saturating_add_signed(d).max(1))
                .chain(far.iter().copied())
                .collect();
            let (h, buckets) = recorded(&latencies, &[target_ms]);
            let judged = quantile(&h, &buckets, p).expect("not empty");
            let truth = exact(&latencies, p);
            prop_assert_eq!(judged as f64 / 1e3 <= target_ms, truth as f64 / 1e3 <= target_ms);
            let b = &buckets[0];
            if (b.low..=b.high).contains(&truth) {
                prop_assert_eq!(judged, truth);
            } else {
                prop_assert_eq!(judged, h.value_at_quantile(p));
            }
        }
    }
}
