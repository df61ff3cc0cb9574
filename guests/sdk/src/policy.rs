//! Scaling policies written in Rust (guests/ABI.md, "Scaling policies"): a policy module is
//! asked, every autoscaler interval of its service, for the replica count it wants. It is a
//! plain function [`Input`] → [`Decision`] exported with [`endpoint!`](crate::endpoint) as
//! `decide`:
//!
//! ```
//! use fusebench_guest::Reply;
//! use fusebench_guest::policy::{Decision, Input, average_value_desired};
//!
//! /// The HPA's own formula on the last interval: what `policy = "reactive"` would do for a
//! /// queue metric.
//! fn decide(input: Input) -> Reply<Decision> {
//!     let last = input.history.last().map_or(0.0, |s| s.total());
//!     Ok(Decision::new(average_value_desired(input.current, last, input.target, input.tolerance)))
//! }
//! fusebench_guest::endpoint!(decide, fn(input: Input) -> Reply<Decision>);
//!
//! let reply = fusebench_guest::fake::invoke(decide, r#"{"t_ms":4000,"interval_ms":2000,"horizon_ms":2000,"metric":"queue","target":10.0,"tolerance":0.1,"current":2,"ready":2,"min":1,"max":8,"params":{},"history":[{"t_ms":4000,"total_milli":45000,"ready":2}]}"#);
//! assert_eq!(reply, r#"{"desired":5}"#);
//! ```
//!
//! The host computes with the same integers (`t_ms`, `total_milli`) it hands over, so a policy
//! that repeats a built-in one's arithmetic takes its decisions exactly.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

/// What the autoscaler hands the policy each interval.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Input {
    /// Now, and the autoscaler's interval, ms.
    pub t_ms: u64,
    pub interval_ms: u64,
    /// How far ahead to look, ms: the replicas' start-up plus one interval unless the scenario
    /// sets `horizon_s`.
    pub horizon_ms: u64,
    /// `concurrency`, `utilisation` or `queue`.
    pub metric: String,
    /// The per-replica value aimed at, and the tolerance around it.
    pub target: f64,
    pub tolerance: f64,
    /// Replicas wanted now (ready or starting), ready, and the bounds.
    pub current: u32,
    pub ready: u32,
    pub min: u32,
    pub max: u32,
    /// The scenario's `params` of the policy.
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
    /// The last intervals' measurements, oldest first; the last is this interval's.
    pub history: Vec<Sample>,
}

impl Input {
    /// The parameter `name`, or `default` when the scenario does not set it.
    #[must_use]
    pub fn param(&self, name: &str, default: f64) -> f64 {
        self.params.get(name).copied().unwrap_or(default)
    }
}

/// One interval's measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Sample {
    /// When the interval ended, ms.
    pub t_ms: u64,
    /// The metric summed over the ready replicas (per-replica metrics) or the backlog
    /// (`queue`), in thousandths.
    pub total_milli: u64,
    pub ready: u32,
}

impl Sample {
    /// The metric's total, in its unit.
    #[must_use]
    pub fn total(&self) -> f64 {
        self.total_milli as f64 / 1000.0
    }
}

/// The policy's answer: the count it wants (the host bounds it by `min..=max` and applies the
/// HPA's stabilisation and rate limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub desired: u32,
}

impl Decision {
    #[must_use]
    pub fn new(desired: u32) -> Self {
        Decision { desired }
    }
}

/// The HPA's formula for an average-value target (what the host applies to a `queue` metric
/// and to a forecast): `ceil(total / target)`, or `current` while `total / (current × target)`
/// is within 1 ± `tolerance`.
#[must_use]
pub fn average_value_desired(current: u32, total: f64, target: f64, tolerance: f64) -> u32 {
    let per = f64::from(current.max(1)) * target;
    let off = total / per - 1.0;
    if (if off < 0.0 { -off } else { off }) <= tolerance {
        return current;
    }
    ceil_u32(total / target)
}

/// `x` rounded up to a count: 0 for anything not above 0 (NaN included), `u32::MAX` past it.
#[must_use]
pub fn ceil_u32(x: f64) -> u32 {
    if x.is_nan() || x <= 0.0 {
        return 0;
    }
    if x >= f64::from(u32::MAX) {
        return u32::MAX;
    }
    // Truncation then a step up when there was a fraction: `ceil` without libm (no_std).
    let t = x as u32;
    if f64::from(t) < x { t + 1 } else { t }
}
