//! Dynamic properties, checked on a finished run (each with a stable id used in reports).
//!
//! A property looks at one [`RunResult`] — metrics, final store states, the trace — and never
//! at another run: idempotence, too, judges each duplicate delivery by its own effects as the
//! trace recorded them. Each verdict names what broke (endpoint, key, store entries, input) so
//! a counterexample can be read, not just counted.

mod acked;
mod consistency;
mod containment;
mod coupling;
mod idempotence;
mod loss;
mod lost_update;
mod slo;
mod staleness;
#[cfg(test)]
pub(crate) mod tests;

use fusebench_model::Scenario;
use serde::Serialize;

use crate::system::RunResult;
use crate::trace::{self, TraceError, TraceLine};

/// A property: stable id and what it asserts.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PropertyInfo {
    pub id: &'static str,
    pub summary: &'static str,
}

/// Every dynamic property, in the order they are checked.
pub const PROPERTIES: &[PropertyInfo] = &[
    PropertyInfo {
        id: idempotence::ID,
        summary: "f(f(r)) = f(r): a duplicate delivery (redelivery, retry, wire copy, repeated idempotency key) changes no store or cache value, publishes nothing and calls no non-idempotent endpoint again",
    },
    PropertyInfo {
        id: consistency::ID,
        summary: "after faults heal and traffic stops, all replicas of each store converge",
    },
    PropertyInfo {
        id: lost_update::ID,
        summary: "no read-modify-write race: a write never overwrites a change made since its invocation read the key",
    },
    PropertyInfo {
        id: staleness::ID,
        summary: "a cache with a staleness bound never returns a value that has differed from its store for longer",
    },
    PropertyInfo {
        id: acked::ID,
        summary: "an acknowledged write is never replaced by an older version at a replica that had it",
    },
    PropertyInfo {
        id: loss::ID,
        summary: "every client request is answered exactly once by the system (a gateway timeout on a request the system dropped is a loss); every at-least-once message is acknowledged or still pending, never refused for good or dead-lettered",
    },
    PropertyInfo {
        id: slo::ID,
        summary: "latency percentiles, availability and throughput meet the quality targets",
    },
    PropertyInfo {
        id: containment::ID,
        summary: "no guest faults and no sandbox limit hit (even absorbed ones); a faulting guest never makes a healthy service time out, fail requests or fill its queue",
    },
    PropertyInfo {
        id: coupling::ID,
        summary: "no undeclared call, store access or publish is attempted (refused by the host); coupling measured on the run's traffic stays below quality.coupling_max",
    },
];

/// How a property came out on one run. "Nothing it judges happened" is its own outcome, never
/// a pass: a run that duplicated nothing says nothing about idempotence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Judged, and it held.
    Held,
    /// Judged, and violated: see the findings.
    Failed,
    /// Nothing the property judges happened in this run (the notes say what was missing).
    NotExercised,
}

/// The outcome of one property on one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub id: &'static str,
    pub status: Status,
    /// What was violated (empty when passed), most important first.
    pub findings: Vec<String>,
    /// Facts worth reporting either way (e.g. measured dynamic coupling).
    pub notes: Vec<String>,
    /// Names the violation concerns (services, stores, keys, channels): a replay tells the
    /// story of the trace events that mention them.
    pub subjects: Vec<String>,
}

impl Verdict {
    /// Judged: held when there are no findings, failed otherwise.
    pub(crate) fn new(id: &'static str, findings: Vec<String>, notes: Vec<String>) -> Self {
        let status = if findings.is_empty() { Status::Held } else { Status::Failed };
        Verdict { id, status, findings, notes, subjects: Vec::new() }
    }

    /// Nothing this property judges happened; `why` says what was missing.
    pub(crate) fn not_exercised(id: &'static str, why: impl Into<String>) -> Self {
        Verdict {
            id,
            status: Status::NotExercised,
            findings: Vec::new(),
            notes: vec![format!("not exercised: {}", why.into())],
            subjects: Vec::new(),
        }
    }

    /// Not violated (held, or not exercised): what a pass/fail exit code is decided on.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.status != Status::Failed
    }

    /// Violated in this run.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.status == Status::Failed
    }

    fn about(mut self, subjects: impl IntoIterator<Item = String>) -> Self {
        self.subjects.extend(subjects);
        self.subjects.sort();
        self.subjects.dedup();
        self
    }
}

/// Visits every event of the run's trace in order (a run checked for properties keeps its full
/// trace). A line the simulator wrote but cannot read back is a bug of its own: the property
/// reports it as a finding instead of judging a partial trace.
pub(crate) fn each_event(
    run: &RunResult,
    mut visit: impl FnMut(&TraceLine),
) -> Result<(), TraceError> {
    for line in trace::read(&run.trace) {
        visit(&line?);
    }
    Ok(())
}

/// The finding for a trace that could not be read back.
fn unreadable(e: &TraceError) -> String {
    format!("the run's trace could not be read back, so this property was not judged: {e}")
}

/// Checks every property on `run`.
#[must_use]
pub fn check(s: &Scenario, run: &RunResult) -> Vec<Verdict> {
    vec![
        idempotence::check(s, run),
        consistency::check(s, run),
        lost_update::check(s, run),
        staleness::check(s, run),
        acked::check(s, run),
        loss::check(s, run),
        slo::check(s, run),
        containment::check(s, run),
        coupling::check(s, run),
    ]
}

fn show(bytes: Option<&Vec<u8>>) -> String {
    match bytes {
        Some(b) => {
            let s = String::from_utf8_lossy(b);
            if s.len() > 120 {
                format!("{}…", &s[..s.char_indices().nth(120).map_or(s.len(), |(i, _)| i)])
            } else {
                s.into_owned()
            }
        }
        None => "(absent)".to_owned(),
    }
}
