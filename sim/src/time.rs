//! Virtual time: nanoseconds since the start of a run. There is no other clock in `sim`.

use std::fmt;
use std::ops::{Add, Sub};

use serde::Serialize;

/// A point in virtual time, in nanoseconds since the run started.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, serde::Deserialize,
)]
pub struct SimTime(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);

    #[must_use]
    pub fn from_secs_f64(s: f64) -> Self {
        SimTime(secs_to_nanos(s))
    }

    #[must_use]
    pub fn nanos(self) -> u64 {
        self.0
    }

    #[must_use]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    #[must_use]
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

/// Milliseconds (as written in scenarios) to nanoseconds, saturating; negative or NaN → 0.
#[must_use]
pub fn millis_to_nanos(ms: f64) -> u64 {
    if ms.is_nan() || ms <= 0.0 {
        return 0;
    }
    let ns = ms * 1e6;
    if ns >= u64::MAX as f64 { u64::MAX } else { ns.round() as u64 }
}

#[must_use]
pub fn secs_to_nanos(s: f64) -> u64 {
    millis_to_nanos(s * 1e3)
}

impl Add<u64> for SimTime {
    type Output = SimTime;
    fn add(self, nanos: u64) -> SimTime {
        SimTime(self.0.saturating_add(nanos))
    }
}

/// The time from `earlier` to `self`, in nanoseconds. Subtracting a later time is a simulator
/// bug (a duration cannot be negative): it asserts instead of hiding the bug behind zero.
impl Sub for SimTime {
    type Output = u64;
    fn sub(self, earlier: SimTime) -> u64 {
        assert!(earlier <= self, "time subtraction went negative: {self} - {earlier}");
        self.0 - earlier.0
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}s", self.as_secs_f64())
    }
}
