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
mod temporal;
#[cfg(test)]
pub(crate) mod tests;

use std::borrow::Cow;

use fusebench_model::Scenario;
use serde::Serialize;

use crate::system::RunResult;
use crate::time::SimTime;
use crate::trace::{self, TraceError, TraceLine};

/// A property: stable id and what it asserts. Built-in properties have static texts; a
/// property the scenario states (an invariant, a temporal pattern) carries its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyInfo {
    pub id: Cow<'static, str>,
    pub summary: Cow<'static, str>,
}

impl PropertyInfo {
    const fn builtin(id: &'static str, summary: &'static str) -> Self {
        PropertyInfo { id: Cow::Borrowed(id), summary: Cow::Borrowed(summary) }
    }
}

/// Every property judged on runs of `s`, in the order they are checked: the built-in
/// [`PROPERTIES`], then those the scenario states itself.
#[must_use]
pub fn catalogue(s: &Scenario) -> Vec<PropertyInfo> {
    PROPERTIES.iter().cloned().chain(temporal::catalogue(s)).collect()
}

/// The summary of property `id` in `catalogue`, or "" for an unknown id.
#[must_use]
pub fn summary_of<'a>(catalogue: &'a [PropertyInfo], id: &str) -> &'a str {
    catalogue.iter().find(|p| p.id == id).map_or("", |p| &p.summary)
}

/// Every built-in dynamic property, in the order they are checked.
pub const PROPERTIES: &[PropertyInfo] = &[
    PropertyInfo::builtin(
        idempotence::ID,
        "f(f(r)) = f(r): a duplicate delivery (redelivery, retry, wire copy, repeated idempotency key) changes no store or cache value, publishes nothing and calls no non-idempotent endpoint again",
    ),
    PropertyInfo::builtin(
        consistency::ID,
        "after faults heal and traffic stops, all replicas of each store converge",
    ),
    PropertyInfo::builtin(
        lost_update::ID,
        "no read-modify-write race: a write never overwrites a change made since its invocation read the key",
    ),
    PropertyInfo::builtin(
        staleness::ID,
        "a cache with a staleness bound never returns a value that has differed from its store for longer",
    ),
    PropertyInfo::builtin(
        acked::ID,
        "an acknowledged write is never replaced by an older version at a replica that had it",
    ),
    PropertyInfo::builtin(
        loss::ID,
        "every client request is answered exactly once by the system (a gateway timeout on a request the system dropped is a loss); every at-least-once message is acknowledged or still pending, never refused for good or dead-lettered",
    ),
    PropertyInfo::builtin(
        slo::ID,
        "latency percentiles, availability and throughput meet the quality targets",
    ),
    PropertyInfo::builtin(
        containment::ID,
        "no guest faults and no sandbox limit hit (even absorbed ones); a faulting guest never makes a healthy service time out, fail requests or fill its queue",
    ),
    PropertyInfo::builtin(
        coupling::ID,
        "no undeclared call, store access or publish is attempted (refused by the host); coupling measured on the run's traffic stays below quality.coupling_max",
    ),
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
    pub id: Cow<'static, str>,
    pub status: Status,
    /// What was violated (empty when passed), most important first.
    pub findings: Vec<String>,
    /// Facts worth reporting either way (e.g. measured dynamic coupling).
    pub notes: Vec<String>,
    /// Names the violation concerns (services, stores, keys, channels): a replay tells the
    /// story of the trace events that mention them.
    pub subjects: Vec<String>,
    /// When the violation shows in the trace (the time of the first violating event), so a
    /// replay can tell the story around it; `None` when the property did not fail or its
    /// violation has no single moment (e.g. a percentile over the whole run).
    pub at: Option<SimTime>,
}

impl Verdict {
    /// Judged: held when there are no findings, failed otherwise.
    pub(crate) fn new(
        id: impl Into<Cow<'static, str>>,
        findings: Vec<String>,
        notes: Vec<String>,
    ) -> Self {
        let status = if findings.is_empty() { Status::Held } else { Status::Failed };
        Verdict { id: id.into(), status, findings, notes, subjects: Vec::new(), at: None }
    }

    /// Nothing this property judges happened; `why` says what was missing.
    pub(crate) fn not_exercised(id: impl Into<Cow<'static, str>>, why: impl Into<String>) -> Self {
        Verdict {
            id: id.into(),
            status: Status::NotExercised,
            findings: Vec::new(),
            notes: vec![format!("not exercised: {}", why.into())],
            subjects: Vec::new(),
            at: None,
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

    /// Records when the violation shows in the trace: the earliest time given wins, so a
    /// property may report each violating event as it finds them.
    #[allow(dead_code, reason = "set by properties as they learn to date their violations")]
    pub(crate) fn at_time(mut self, t: SimTime) -> Self {
        self.at = Some(self.at.map_or(t, |old| old.min(t)));
        self
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
    .into_iter()
    .chain(temporal::check(s, run))
    .collect()
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
