//! Dynamic properties, checked on a finished run (each with a stable id used in reports).
//!
//! A property looks at one [`RunResult`] — metrics, final store states, the trace — and never
//! at another run: idempotence, too, judges each duplicate delivery by its own effects as the
//! trace recorded them. Each verdict names what broke (endpoint, key, store entries, input) so
//! a counterexample can be read, not just counted.

mod acked;
mod amplification;
mod authorization;
mod consistency;
mod containment;
mod coupling;
mod idempotence;
mod invariant;
mod loss;
mod lost_update;
mod rollout;
mod slo;
mod staleness;
mod store_keys;
mod temporal;
#[cfg(test)]
pub(crate) mod tests;
pub mod wasm;

use std::borrow::Cow;

use fusebench_model::Scenario;
use serde::{Deserialize, Serialize};

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
    let mut all: Vec<PropertyInfo> = PROPERTIES
        .iter()
        .cloned()
        .chain(invariant::catalogue(s))
        .chain(temporal::catalogue(s))
        .collect();
    all.extend(s.properties.iter().map(|p| PropertyInfo {
        id: Cow::Owned(p.name.clone()),
        summary: Cow::Owned(wasm::summary(p)),
    }));
    all
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
        "a cache with a staleness bound never returns a value its store replaced longer ago",
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
        "no undeclared call, store access or publish is attempted (refused by the host); coupling measured on the run's traffic stays within quality.coupling_max",
    ),
    PropertyInfo::builtin(
        amplification::ID,
        "requests reaching each service per client request on its path (retries and fan-out multiplied) stay within quality.retry_amplification_max",
    ),
    PropertyInfo::builtin(
        authorization::ID,
        "no endpoint is invoked on behalf of a source its mesh authorization policy denies (no path around the callee's sidecar)",
    ),
    PropertyInfo::builtin(
        rollout::ID,
        "no request fails because of a rollout: none fails after a replica it retires refused it (a try a retry recovered does not count), none fails on the new version or right after the new version answered it",
    ),
];

/// How a property came out on one run. "Nothing it judges happened" is its own outcome, never
/// a pass: a run that duplicated nothing says nothing about idempotence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Judged, and it held.
    Held,
    /// Judged, and violated: see the findings.
    Failed,
    /// Nothing the property judges happened in this run (the notes say what was missing).
    NotExercised,
    /// The property could not be judged: its checker module faulted, ran out of fuel or
    /// answered outside the ABI, or the run's trace did not read back (the notes say why).
    /// Neither a pass nor a violation of the design — the judge broke, not the system — so
    /// it is never shrunk, and `check` exits 2 (bad input) on it.
    Error,
}

impl Status {
    /// Judged and not violated (held, or not exercised): what a pass/fail exit code is
    /// decided on. A property that could not be judged did not pass.
    #[must_use]
    pub fn passed(self) -> bool {
        matches!(self, Status::Held | Status::NotExercised)
    }
}

/// The outcome of one property on one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub id: Cow<'static, str>,
    pub status: Status,
    /// What was violated (empty when passed), most important first.
    pub findings: Vec<String>,
    /// Facts worth reporting either way (e.g. measured dynamic coupling).
    pub notes: Vec<String>,
    /// Names the violation concerns, of two sorts. Plain names (services, stores, keys,
    /// channels): a replay keeps the trace events around the violation that mention them.
    /// Trace ids written as a [`Link`] (`req:12`, `inv:45`, `call:9`, `msg:7`): the requests,
    /// invocations, calls and messages that violated the property; a replay follows them along
    /// the trace's links (an invocation's cause and source, its calls and publishes) to tell
    /// the causal chain of the violation.
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

    /// The property could not be judged; `why` says what broke.
    pub(crate) fn unjudged(id: impl Into<Cow<'static, str>>, why: impl Into<String>) -> Self {
        Verdict {
            id: id.into(),
            status: Status::Error,
            findings: Vec::new(),
            notes: vec![format!("not judged: {}", why.into())],
            subjects: Vec::new(),
            at: None,
        }
    }

    /// Judged and not violated in this run ([`Status::passed`]).
    #[must_use]
    pub fn passed(&self) -> bool {
        self.status.passed()
    }

    /// Violated in this run.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.status == Status::Failed
    }

    /// Records when the violation shows in the trace: the earliest time given wins, so a
    /// property may report each violating event as it finds them.
    pub(crate) fn at_time(mut self, t: SimTime) -> Self {
        self.at = Some(self.at.map_or(t, |old| old.min(t)));
        self
    }

    /// Dates the violation when `t` is known (see [`Verdict::at_time`]).
    fn at_opt(self, t: Option<SimTime>) -> Self {
        match t {
            Some(t) => self.at_time(t),
            None => self,
        }
    }

    fn about(mut self, subjects: impl IntoIterator<Item = String>) -> Self {
        self.subjects.extend(subjects);
        self.subjects.sort();
        self.subjects.dedup();
        self
    }
}

/// One id of the trace, as a subject of a verdict: the request, invocation, call or message a
/// replay follows to tell the causal chain of a violation. Written `req:N`, `inv:N`, `call:N`,
/// `msg:N` (N as in the trace: `req`, `inv`, `call`, `msg` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Link {
    /// A request id: a client request (`arrival`, `response`) or one attempt of a call.
    Req(u64),
    Inv(u64),
    Call(u64),
    Msg(u64),
}

impl Link {
    /// Reads a subject written by [`Link`]'s `Display`; `None` for a plain name (a service
    /// called `inv` with a key `x` stays a name: the number must parse).
    #[must_use]
    pub fn parse(subject: &str) -> Option<Link> {
        let (kind, n) = subject.split_once(':')?;
        let n: u64 = n.parse().ok()?;
        match kind {
            "req" => Some(Link::Req(n)),
            "inv" => Some(Link::Inv(n)),
            "call" => Some(Link::Call(n)),
            "msg" => Some(Link::Msg(n)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Link::Req(n) => write!(f, "req:{n}"),
            Link::Inv(n) => write!(f, "inv:{n}"),
            Link::Call(n) => write!(f, "call:{n}"),
            Link::Msg(n) => write!(f, "msg:{n}"),
        }
    }
}

/// A run being judged: the run, and its trace read back once — on the first property that
/// walks it — for every property after it (each used to read the whole trace again: most of
/// a `check` case's time). It reads as the run itself (`Deref`).
pub(crate) struct Judged<'r> {
    run: &'r RunResult,
    /// The lines read up to the first one that could not be, and that line's error.
    lines: std::cell::OnceCell<(Vec<Line<'r>>, Option<TraceError>)>,
    /// The (store, key) pairs of those lines, interned on the first call that needs them.
    store_keys: std::cell::OnceCell<store_keys::StoreKeys>,
}

/// A trace line as properties read it: strings borrowed from the run's trace bytes.
pub(crate) type Line<'r> = TraceLine<std::borrow::Cow<'r, str>>;

/// A trace event as properties read it.
pub(crate) type Event<'r> = crate::trace::TraceEvent<std::borrow::Cow<'r, str>>;

impl<'r> Judged<'r> {
    pub(crate) fn of(run: &'r RunResult) -> Self {
        Judged { run, lines: std::cell::OnceCell::new(), store_keys: std::cell::OnceCell::new() }
    }
}

impl std::ops::Deref for Judged<'_> {
    type Target = RunResult;

    fn deref(&self) -> &RunResult {
        self.run
    }
}

impl<'r> Judged<'r> {
    /// The run's trace lines read back (a run checked for properties keeps its full trace), up
    /// to the first one that could not be, and that line's error: read on the first call, kept
    /// for every later one.
    pub(crate) fn lines(&self) -> (&[Line<'r>], Option<&TraceError>) {
        let (lines, error) = self.lines.get_or_init(|| {
            // One line per newline: sized once, not grown (a line is 200 bytes), in the
            // allocation the previous run judged on this thread left (see `SPARE_LINES`).
            let mut lines = recycled(SPARE_LINES.take());
            lines.reserve_exact(memchr::memchr_iter(b'\n', &self.run.trace).count());
            for line in trace::scan::read_borrowed(&self.run.trace) {
                match line {
                    Ok(line) => lines.push(line),
                    Err(e) => return (lines, Some(e)),
                }
            }
            (lines, None)
        });
        (lines, error.as_ref())
    }

    /// The (store, key) pairs of [`Judged::lines`] as dense ids (see [`store_keys`]): interned
    /// on the first call, kept for every later one.
    pub(crate) fn store_keys(&self) -> &store_keys::StoreKeys {
        self.store_keys.get_or_init(|| store_keys::StoreKeys::of(self.lines().0))
    }
}

impl Drop for Judged<'_> {
    /// Hands the lines' allocation to the next run judged on this thread.
    fn drop(&mut self) {
        if let Some((lines, _)) = self.lines.take() {
            crate::spare::give_back(&SPARE_LINES, recycled(lines));
        }
    }
}

thread_local! {
    /// The allocation of the lines of the last run judged on this thread, emptied (`spare.rs`):
    /// a shop case reads ≈ 230,000 lines back (46 MB).
    static SPARE_LINES: std::cell::Cell<Vec<Line<'static>>> =
        const { std::cell::Cell::new(Vec::new()) };
}

/// `lines` emptied, as a vector of lines of another lifetime in the same allocation: the
/// standard library collects a vector's `into_iter` into one of a type of the same size and
/// alignment in place (an optimisation, not a promise: without it the capacity is lost, not
/// any line — `recycling_keeps_the_allocation` tells).
#[expect(
    clippy::unnecessary_filter_map,
    reason = "a filter keeps the type; this changes the lines' lifetime"
)]
fn recycled<'b>(mut lines: Vec<Line<'_>>) -> Vec<Line<'b>> {
    lines.clear();
    lines.into_iter().filter_map(|_| None).collect()
}

/// Visits every event of the run's trace in order. A line the simulator wrote but cannot read
/// back is a bug of its own: the property reports it as a finding instead of judging a partial
/// trace (the lines before it are visited, then the error is returned).
pub(crate) fn each_event<'j, 'r>(
    run: &'j Judged<'r>,
    mut visit: impl FnMut(&'j Line<'r>),
) -> Result<(), TraceError> {
    let (lines, error) = run.lines();
    lines.iter().for_each(&mut visit);
    error.cloned().map_or(Ok(()), Err)
}

/// Why a property was not judged when the run's trace could not be read back.
fn unreadable(e: &TraceError) -> String {
    format!("the run's trace could not be read back: {e}")
}

/// Checks every property on `run`.
#[must_use]
pub fn check(s: &Scenario, run: &RunResult) -> Vec<Verdict> {
    let run = &Judged::of(run);
    let mut verdicts = vec![
        idempotence::check(s, run),
        consistency::check(s, run),
        lost_update::check(s, run),
        staleness::check(s, run),
        acked::check(s, run),
        loss::check(s, run),
        slo::check(s, run),
        containment::check(s, run),
        coupling::check(s, run),
        amplification::check(s, run),
        authorization::check(s, run),
        rollout::check(s, run),
    ];
    verdicts.extend(invariant::check(s, run));
    verdicts.extend(temporal::check(s, run));
    verdicts
}

fn show(bytes: Option<&Vec<u8>>) -> String {
    match bytes {
        Some(b) => {
            let s = crate::trace::bytes_text(b);
            if s.len() > 120 {
                format!("{}…", &s[..s.char_indices().nth(120).map_or(s.len(), |(i, _)| i)])
            } else {
                s.into_owned()
            }
        }
        None => "(absent)".to_owned(),
    }
}
