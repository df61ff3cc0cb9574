//! The built-in predictive policy (`policy = "holt-winters"`): Holt's linear method — double
//! exponential smoothing, a level and a trend, no seasonal term — over the metric of the last
//! `window` intervals, forecast `horizon` ahead and fed to the HPA's average-value formula in
//! place of the measurement (the idea of AWS EC2 Auto Scaling's predictive scaling and KEDA's
//! predictkube scaler). Its WebAssembly twin is `guests/policies/holt-winters`: both compute on
//! the same integers (`total_milli`, milliseconds) with the same f64 operations in the same
//! order, so they take the same decisions.

use super::{Sample, external_metric_desired};

/// Holt's linear method over `series` (oldest first), forecast `steps` intervals past the last:
/// level ℓ₀ = x₀, trend b₀ = x₁ − x₀; then for each later x:
/// ℓ = α·x + (1 − α)(ℓ + b), b = β(ℓ − ℓ_prev) + (1 − β)·b; the forecast ℓ + steps·b, at
/// least 0 (a load is never negative). One value is its own forecast; none forecasts 0.
pub(crate) fn holt(series: &[f64], alpha: f64, beta: f64, steps: f64) -> f64 {
    let (first, second) = match series {
        [] => return 0.0,
        [x] => return x.max(0.0),
        [a, b, ..] => (*a, *b),
    };
    let (mut level, mut trend) = (first, second - first);
    for &x in &series[1..] {
        let previous = level;
        level = alpha * x + (1.0 - alpha) * (level + trend);
        trend = beta * (level - previous) + (1.0 - beta) * trend;
    }
    (level + steps * trend).max(0.0)
}

/// The replica count the forecast asks for: the metric's total of `history` forecast
/// `horizon_ms` ahead (in intervals of `interval_ms`), then the HPA's average-value formula
/// with its tolerance around `current`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn desired(
    history: &[Sample],
    alpha: f64,
    beta: f64,
    horizon_ms: u64,
    interval_ms: u64,
    current: u32,
    target: f64,
    tolerance: f64,
) -> u32 {
    let series: Vec<f64> = history.iter().map(|s| s.total_milli as f64 / 1000.0).collect();
    let steps = horizon_ms as f64 / interval_ms.max(1) as f64;
    let forecast = holt(&series, alpha, beta, steps);
    external_metric_desired(current, forecast, target, tolerance)
}
