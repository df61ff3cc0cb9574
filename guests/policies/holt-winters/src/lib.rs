//! A scaling policy (guests/ABI.md, "Scaling policies"): **Holt's linear method** — double
//! exponential smoothing, level and trend — forecasts the metric `horizon_ms` ahead from the
//! intervals it is handed, and the HPA's average-value formula sizes the service for the
//! forecast: the predictive scaling of AWS EC2 Auto Scaling and KEDA's predictkube, in the
//! sandbox. It is the module twin of the simulator's built-in `policy = "holt-winters"`
//! (sim/src/system/autoscale/forecast.rs): the same operations on the same numbers, so the
//! two take the same decisions (tests/cli/predictive.rs checks it on a whole run).
//!
//! Parameters (`params` of the scenario's policy): `alpha` (level smoothing, default 0.5) and
//! `beta` (trend smoothing, default 0.3).
#![no_std]

extern crate alloc;

use alloc::vec::Vec;

use fusebench_guest::policy::{Decision, Input, average_value_desired};
use fusebench_guest::{Reply, endpoint};

#[cfg(test)]
mod tests;

/// Holt's linear method over `series` (oldest first), `steps` intervals past the last value:
/// level ℓ₀ = x₀, trend b₀ = x₁ − x₀, then ℓ = α·x + (1 − α)(ℓ + b) and
/// b = β(ℓ − ℓ_prev) + (1 − β)·b for each later x; the forecast ℓ + steps·b, at least 0.
#[must_use]
pub fn holt(series: &[f64], alpha: f64, beta: f64, steps: f64) -> f64 {
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

fn decide(input: Input) -> Reply<Decision> {
    let series: Vec<f64> =
        input.history.iter().map(fusebench_guest::policy::Sample::total).collect();
    let steps = input.horizon_ms as f64 / input.interval_ms.max(1) as f64;
    let forecast = holt(&series, input.param("alpha", 0.5), input.param("beta", 0.3), steps);
    Ok(Decision::new(average_value_desired(input.current, forecast, input.target, input.tolerance)))
}
endpoint!(decide, fn(input: Input) -> Reply<Decision>);
