//! Sampling the scenario's duration distributions (milliseconds in the model, nanoseconds here).

use fusebench_model::scenario::Distribution;

use crate::rng::SimRng;
use crate::time::millis_to_nanos;

/// One draw, in nanoseconds, never negative (a normal draw below zero is clamped to zero).
/// Transcendental functions come from the pure-Rust `libm` (see `SimRng::standard_normal`), so
/// the draw has the same bits on every machine.
pub fn sample_nanos(d: &Distribution, rng: &mut SimRng) -> u64 {
    let ms = match *d {
        Distribution::Constant { ms } => ms,
        Distribution::Uniform { min_ms, max_ms } => min_ms + (max_ms - min_ms) * rng.unit(),
        Distribution::Normal { mean_ms, stddev_ms } => mean_ms + stddev_ms * rng.standard_normal(),
        Distribution::LogNormal { median_ms, sigma } => {
            median_ms * libm::exp(sigma * rng.standard_normal())
        }
        Distribution::Exponential { mean_ms } => rng.exponential(mean_ms),
    };
    millis_to_nanos(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_ms(d: &Distribution) -> f64 {
        let mut rng = SimRng::stream(3, "dist");
        let n = 100_000u32;
        (0..n).map(|_| sample_nanos(d, &mut rng) as f64 / 1e6).sum::<f64>() / f64::from(n)
    }

    #[test]
    fn sample_means_match_the_model() {
        for d in [
            Distribution::Constant { ms: 2.5 },
            Distribution::Uniform { min_ms: 1.0, max_ms: 3.0 },
            Distribution::Normal { mean_ms: 10.0, stddev_ms: 1.0 },
            Distribution::LogNormal { median_ms: 5.0, sigma: 0.4 },
            Distribution::Exponential { mean_ms: 4.0 },
        ] {
            let (got, want) = (mean_ms(&d), d.mean_ms());
            assert!((got - want).abs() / want < 0.02, "{d:?}: {got} vs {want}");
        }
    }
}
