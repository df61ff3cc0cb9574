//! Replay files: a counterexample as (scenario hash, seed, schedule), reproduced exactly, and
//! the story of the trace events that violate the property — as text and as a Mermaid sequence
//! diagram.
//!
//! A replay file is input: it may be corrupted, edited or made for another scenario. Before
//! anything runs, its schedule goes through the scenario parser's validation
//! ([`Schedule::validate`]), the resource limits ([`crate::limits`]), and a check that every
//! field deciding what runs still has the hash recorded with it (`fields_sha256`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use fusebench_model::Scenario;
use fusebench_model::text;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    CaseOutcome, ExploreError, InjectedFault, Schedule, ScheduleProblem, run_case_limited,
};
use crate::limits::{LimitError, Limits};
use crate::properties::{Link, Verdict};
use crate::setup::{ModuleFiles, SetupError};
use crate::time::SimTime;
use crate::trace::{self, TraceError, TraceEvent, TraceLine};

#[cfg(test)]
mod tests;

/// The format version written in every replay file (2: `fields_sha256`; 3: `scenario` relative
/// to the replay file, `scenario_sha256` over the scenario's meaning rather than its bytes;
/// 4: the trace's BLAKE3 hash, `trace_blake3`, where 3 had its SHA-256, `trace_sha256`).
pub const FORMAT: u32 = 4;

/// The older format still read: the same fields, but the trace hash is SHA-256
/// (`trace_sha256`), which a replay recomputes over the rerun's trace.
pub const FORMAT_SHA256: u32 = 3;

/// The hash a replay file recorded of its run's trace, by the algorithm of its format: the
/// variant decides the format version written and the field's name, so a file cannot claim
/// one algorithm and carry the other's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceWitness {
    /// Format 4 (`trace_blake3`): the hash every run reports ([`crate::trace::Trace::hash`]).
    Blake3(String),
    /// Format 3 (`trace_sha256`): written by fusebench before BLAKE3 became the witness.
    Sha256(String),
}

impl TraceWitness {
    /// The format version of a file carrying this hash.
    #[must_use]
    pub fn format(&self) -> u32 {
        match self {
            TraceWitness::Blake3(_) => FORMAT,
            TraceWitness::Sha256(_) => FORMAT_SHA256,
        }
    }

    /// The name of the field holding it.
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            TraceWitness::Blake3(_) => "trace_blake3",
            TraceWitness::Sha256(_) => "trace_sha256",
        }
    }

    /// The hex hash.
    #[must_use]
    pub fn hex(&self) -> &str {
        match self {
            TraceWitness::Blake3(h) | TraceWitness::Sha256(h) => h,
        }
    }

    /// The same algorithm's hash of a rerun: its reported hash, or the SHA-256 of its trace
    /// bytes for a format-3 file (`run` keeps them: the properties read them).
    fn of(&self, run: &crate::system::RunResult) -> String {
        match self {
            TraceWitness::Blake3(_) => run.trace_hash.clone(),
            TraceWitness::Sha256(_) => hex(&Sha256::digest(&run.trace)),
        }
    }
}

/// A saved counterexample. Written and read as [`ReplayWire`], whose version and trace-hash
/// fields must agree ([`TraceWitness`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ReplayWire", into = "ReplayWire")]
pub struct ReplayFile {
    /// The scenario file, relative to the directory of the replay file (`/`-separated), so
    /// the replay finds it from any working directory; see [`ReplayFile::scenario_candidates`].
    pub scenario: String,
    /// SHA-256 of the scenario's meaning (a canonical serialization of the parsed scenario) and
    /// of every module it loads ([`scenario_hash`]): a replay runs only against the system it
    /// was found in, but editing a comment, whitespace or the order of keys keeps it valid.
    pub scenario_sha256: String,
    pub seed: u64,
    pub schedule: Schedule,
    /// The properties the case violates.
    pub violated: Vec<String>,
    pub findings: Vec<String>,
    /// The hash of the run's trace: the replay must reproduce it byte for byte.
    pub trace: TraceWitness,
    /// For each field that decides what runs (the seed, every schedule field, the trace hash):
    /// SHA-256 of the field's name and JSON value, bound to `scenario_sha256`. An edited field,
    /// or a file moved onto another scenario, is refused and named before anything runs (the
    /// trace hash alone would notice only after the whole run). Integrity, not authenticity:
    /// anyone can recompute it, which is why the schedule is also validated.
    pub fields_sha256: BTreeMap<String, String>,
}

/// A replay file as it is written: [`ReplayFile`] with the version and the trace hash under
/// the field its format names.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayWire {
    fusebench_replay: u32,
    scenario: String,
    scenario_sha256: String,
    seed: u64,
    schedule: Schedule,
    violated: Vec<String>,
    findings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace_blake3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace_sha256: Option<String>,
    fields_sha256: BTreeMap<String, String>,
}

impl TryFrom<ReplayWire> for ReplayFile {
    type Error = String;

    fn try_from(w: ReplayWire) -> Result<Self, String> {
        let trace = match (w.fusebench_replay, w.trace_blake3, w.trace_sha256) {
            (FORMAT, Some(h), None) => TraceWitness::Blake3(h),
            (FORMAT_SHA256, None, Some(h)) => TraceWitness::Sha256(h),
            (FORMAT, _, _) => {
                return Err(format!(
                    "format {FORMAT} records the trace hash as `trace_blake3` alone"
                ));
            }
            (FORMAT_SHA256, _, _) => {
                return Err(format!(
                    "format {FORMAT_SHA256} records the trace hash as `trace_sha256` alone"
                ));
            }
            (found, _, _) => return Err(version_problem(found)),
        };
        Ok(ReplayFile {
            scenario: w.scenario,
            scenario_sha256: w.scenario_sha256,
            seed: w.seed,
            schedule: w.schedule,
            violated: w.violated,
            findings: w.findings,
            trace,
            fields_sha256: w.fields_sha256,
        })
    }
}

impl From<ReplayFile> for ReplayWire {
    fn from(r: ReplayFile) -> Self {
        let fusebench_replay = r.trace.format();
        let (trace_blake3, trace_sha256) = match r.trace {
            TraceWitness::Blake3(h) => (Some(h), None),
            TraceWitness::Sha256(h) => (None, Some(h)),
        };
        ReplayWire {
            fusebench_replay,
            scenario: r.scenario,
            scenario_sha256: r.scenario_sha256,
            seed: r.seed,
            schedule: r.schedule,
            violated: r.violated,
            findings: r.findings,
            trace_blake3,
            trace_sha256,
            fields_sha256: r.fields_sha256,
        }
    }
}

fn version_problem(found: impl std::fmt::Display) -> String {
    format!(
        "the replay file has format version {found}; this fusebench reads versions {FORMAT} and {FORMAT_SHA256}"
    )
}

/// Why a replay could not be made or trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    #[error("the replay file is corrupted: {0}")]
    Corrupted(String),
    #[error("{}", version_problem(found))]
    Version { found: u32 },
    #[error(
        "the replay file was made from a different version of the scenario or its modules (recorded hash {recorded}, now {current}); it cannot be replayed faithfully"
    )]
    ScenarioChanged { recorded: String, current: String },
    #[error("the replay file's schedule is invalid for this scenario: {}", list(.0))]
    InvalidSchedule(Vec<ScheduleProblem>),
    #[error(
        "the replay file was edited or made for another scenario: {} no longer match(es) the hash recorded with it",
        .fields.join(", ")
    )]
    Edited { fields: Vec<String> },
    #[error("the replay file's schedule is over a resource limit: {0}")]
    Limit(#[from] LimitError),
    #[error("the run did not reproduce: trace hash {got}, the replay file recorded {expected}")]
    NotReproduced { expected: String, got: String },
    #[error(transparent)]
    Setup(#[from] SetupError),
}

impl From<ExploreError> for ReplayError {
    fn from(e: ExploreError) -> Self {
        match e {
            ExploreError::Setup(e) => ReplayError::Setup(e),
            ExploreError::Limit(e) => ReplayError::Limit(e),
        }
    }
}

fn list(problems: &[ScheduleProblem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 over the scenario's meaning and the bytes of its modules (in name order).
///
/// The scenario is hashed as the JSON serialization of its parsed form, not as its text: the
/// parser drops comments and layout, reads keys by name whatever their order, and the model
/// skips source positions when serialising, so editing a comment or whitespace or reordering
/// keys or distinct tables (`[gateway]` before `[registry]`) keeps the hash, while every value
/// the simulator reads (a rate, a timeout, a fault, a replica count…) is in it. The entries of
/// an array of tables (`[[service]]`, `[[fault]]`) keep their order: a run may depend on it. Also left out, because no run reads them:
/// the file name (it depends on the working directory) and the system's and bounded contexts'
/// descriptions (documentation). A module's bytes are hashed as read (`.wat` text included).
#[must_use]
pub fn scenario_hash(s: &Scenario, files: &ModuleFiles) -> String {
    let mut meaning = s.clone();
    meaning.file.clear();
    meaning.description.clear();
    for c in &mut meaning.contexts {
        c.description.clear();
    }
    // Struct fields serialise in declaration order and the model's maps are ordered
    // (`BTreeMap`, serde_json without `preserve_order`), so the text is canonical.
    let canonical = serde_json::to_vec(&meaning).expect("a parsed scenario serialises to JSON");
    let mut h = Sha256::new();
    h.update(b"fusebench-scenario-meaning-1\0");
    h.update((canonical.len() as u64).to_le_bytes());
    h.update(&canonical);
    for (name, bytes) in files {
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    hex(&h.finalize())
}

/// `to` relative to the directory `from` (both absolute, without `.`/`..` left in them), with
/// `/` separators; `None` when there is no relative path (different roots or drives).
fn relative_path(from: &Path, to: &Path) -> Option<String> {
    let (from, to): (Vec<Component<'_>>, Vec<Component<'_>>) =
        (from.components().collect(), to.components().collect());
    if from.first() != to.first() {
        return None;
    }
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(to[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    Some(parts.join("/"))
}

/// `path` made absolute, with symbolic links resolved as far as it exists (so the relative
/// path is the one the file system follows) and `.`/`..` resolved lexically in the rest.
fn absolute(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let existing = path.ancestors().find_map(|a| Some((a, std::fs::canonicalize(a).ok()?)));
    let (mut out, rest) = match existing {
        Some((a, real)) => (real, path.strip_prefix(a).unwrap_or(Path::new("")).to_path_buf()),
        None => (PathBuf::new(), path.clone()),
    };
    for c in rest.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The fields of a replay file that decide what runs, by name, as JSON values.
fn behaviour_fields(r: &ReplayFile) -> Vec<(&'static str, serde_json::Value)> {
    let sc = &r.schedule;
    let mut fields = vec![
        ("seed", serde_json::json!(r.seed)),
        ("schedule.duration_s", serde_json::json!(sc.duration_s)),
        ("schedule.rate_scale", serde_json::json!(sc.rate_scale)),
        ("schedule.faults", serde_json::to_value(&sc.faults).unwrap_or_default()),
        ("schedule.declared", serde_json::json!(sc.declared)),
        (r.trace.field(), serde_json::json!(r.trace.hex())),
    ];
    // Only when there is one: files written before bursts existed have no hash for it and
    // stay valid, while a burst added to any file has no recorded hash and is refused.
    if let Some(b) = &sc.burst {
        fields.push(("schedule.burst", serde_json::to_value(b).unwrap_or_default()));
    }
    fields
}

/// Each behaviour field's hash, bound to the scenario hash and the format.
fn field_hashes(r: &ReplayFile) -> BTreeMap<String, String> {
    behaviour_fields(r)
        .into_iter()
        .map(|(name, value)| {
            let mut h = Sha256::new();
            h.update(format!("fusebench-replay-{}\0", r.trace.format()).as_bytes());
            h.update(r.scenario_sha256.as_bytes());
            h.update([0]);
            h.update(name.as_bytes());
            h.update([0]);
            h.update(value.to_string().as_bytes());
            (name.to_owned(), hex(&h.finalize()))
        })
        .collect()
}

impl ReplayFile {
    #[must_use]
    pub fn new(scenario_path: &str, s: &Scenario, files: &ModuleFiles, case: &CaseOutcome) -> Self {
        let failed: Vec<_> = case.verdicts.iter().filter(|v| v.failed()).collect();
        let mut r = ReplayFile {
            scenario: scenario_path.to_owned(),
            scenario_sha256: scenario_hash(s, files),
            seed: case.seed,
            schedule: case.schedule.clone(),
            violated: failed.iter().map(|v| v.id.to_string()).collect(),
            findings: failed.iter().flat_map(|v| v.findings.iter().cloned()).collect(),
            trace: TraceWitness::Blake3(case.trace_hash.clone()),
            fields_sha256: BTreeMap::new(),
        };
        r.seal();
        r
    }

    /// This file as it is written to `replay_path`: its `scenario` field (the path as given to
    /// `check`, relative to the working directory) becomes relative to `replay_path`'s
    /// directory, so `fusebench replay` finds the scenario from any working directory. When no
    /// relative path exists (another drive), the absolute path is stored.
    #[must_use]
    pub fn stored_at(&self, replay_path: &Path) -> ReplayFile {
        let dir = absolute(replay_path.parent().unwrap_or(Path::new(".")));
        let scenario = absolute(Path::new(&self.scenario));
        let field = relative_path(&dir, &scenario)
            .unwrap_or_else(|| scenario.to_string_lossy().replace('\\', "/"));
        ReplayFile { scenario: field, ..self.clone() }
    }

    /// Where the scenario of the replay file at `replay_path` may be, in the order to try: the
    /// `scenario` field relative to the replay file's directory (what [`ReplayFile::stored_at`]
    /// wrote), then, for a hand-written or older file, relative to the working directory. One
    /// candidate when the field is absolute or both are the same path.
    #[must_use]
    pub fn scenario_candidates(&self, replay_path: &Path) -> Vec<PathBuf> {
        let field = Path::new(&self.scenario);
        let beside = replay_path.parent().unwrap_or(Path::new("")).join(field);
        let mut out = vec![beside];
        if field.is_relative() && absolute(&out[0]) != absolute(field) {
            out.push(field.to_path_buf());
        }
        out
    }

    /// Records the hashes of the behaviour fields as they are now.
    pub fn seal(&mut self) {
        self.fields_sha256 = field_hashes(self);
    }

    /// Parses a replay file.
    ///
    /// # Errors
    /// [`ReplayError::Corrupted`] (with serde's line and column) or a version mismatch.
    pub fn parse(text: &str) -> Result<Self, ReplayError> {
        // The version first, so an older file is refused as such rather than as corrupted.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
            && let Some(found) = v.get("fusebench_replay").and_then(serde_json::Value::as_u64)
            && found != u64::from(FORMAT)
            && found != u64::from(FORMAT_SHA256)
        {
            return Err(ReplayError::Version { found: u32::try_from(found).unwrap_or(u32::MAX) });
        }
        serde_json::from_str(text).map_err(|e| ReplayError::Corrupted(e.to_string()))
    }

    /// Everything that can be known about the file before running it, against `s` and its
    /// `files`: the scenario hash, the schedule's validation, the limits, the field hashes (in
    /// that order: the most specific reason first).
    ///
    /// # Errors
    /// The first of those that fails.
    pub fn verify(
        &self,
        s: &Scenario,
        files: &ModuleFiles,
        limits: &Limits,
    ) -> Result<(), ReplayError> {
        let current = scenario_hash(s, files);
        if current != self.scenario_sha256 {
            return Err(ReplayError::ScenarioChanged {
                recorded: self.scenario_sha256.clone(),
                current,
            });
        }
        let problems = self.schedule.validate(s, limits.schedule_faults_max);
        if !problems.is_empty() {
            return Err(ReplayError::InvalidSchedule(problems));
        }
        if let Some(e) =
            crate::limits::check_scenario(&self.schedule.apply(s), limits).into_iter().next()
        {
            return Err(e.into());
        }
        let expected = field_hashes(self);
        let names: BTreeSet<&String> = expected.keys().chain(self.fields_sha256.keys()).collect();
        let edited: Vec<String> = names
            .into_iter()
            .filter(|n| expected.get(*n) != self.fields_sha256.get(*n))
            .cloned()
            .collect();
        if !edited.is_empty() {
            return Err(ReplayError::Edited { fields: edited });
        }
        Ok(())
    }

    /// Verifies the file ([`ReplayFile::verify`]), runs the case again under `limits` and
    /// checks it reproduced exactly.
    ///
    /// # Errors
    /// The file does not verify, a limit is hit, or the trace differs.
    pub fn reproduce(
        &self,
        s: &Scenario,
        files: &ModuleFiles,
        limits: &Limits,
    ) -> Result<CaseOutcome, ReplayError> {
        let out = self.rerun(s, files, limits)?;
        self.reproduced(&out)?;
        Ok(out)
    }

    /// Verifies the file and runs its case again, whether or not the run then reproduces (see
    /// [`ReplayFile::reproduced`]): a run that diverged is what shows how.
    ///
    /// # Errors
    /// The file does not verify, or a limit is hit.
    pub fn rerun(
        &self,
        s: &Scenario,
        files: &ModuleFiles,
        limits: &Limits,
    ) -> Result<CaseOutcome, ReplayError> {
        self.verify(s, files, limits)?;
        Ok(run_case_limited(s, files, &self.schedule, self.seed, limits)?)
    }

    /// Whether `out` (a [`ReplayFile::rerun`]) reproduced the recorded run exactly.
    ///
    /// # Errors
    /// Its trace hash differs from the recorded one.
    pub fn reproduced(&self, out: &CaseOutcome) -> Result<(), ReplayError> {
        let got = self.trace.of(&out.run);
        if got != self.trace.hex() {
            return Err(ReplayError::NotReproduced { expected: self.trace.hex().to_owned(), got });
        }
        Ok(())
    }
}

/// Why an event is in the story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An event of the violating requests, invocations, calls or messages (the ids the failed
    /// verdicts name, see [`Link`]) or of what they caused or were caused by.
    Chain,
    /// A fault injected or declared: active when the violation showed, or beginning or ending
    /// inside the story's window.
    Fault,
    /// Another event naming a subject of the violation (a service, store, key, channel), or a
    /// guest fault or host refusal, near the violation.
    Context,
}

/// One event of the story.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryLine {
    pub line: TraceLine,
    pub role: Role,
}

/// The story of a counterexample: the events around its violation, in trace order.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// When the violation shows (the earliest `at` of the failed verdicts); `None` when no
    /// failed verdict is dated, and the story then tells the run from its start.
    pub at: Option<SimTime>,
    /// The properties whose violation shows at `at` (all failed ones when `at` is `None`).
    pub violated: Vec<String>,
    pub lines: Vec<StoryLine>,
    /// Where the violation is: `lines[marker..]` happened at or after `at` (`None` when undated).
    pub marker: Option<usize>,
    /// The faults active at `at` (begun and not yet ended), by their `fault_start` lines; these
    /// are also in `lines`.
    pub active_faults: Vec<TraceLine>,
    /// Events of the causal chain left out by the limit.
    pub chain_left_out: usize,
}

impl Story {
    /// The story's trace lines, without their roles (e.g. for [`mermaid`]).
    #[must_use]
    pub fn trace_lines(&self) -> Vec<TraceLine> {
        self.lines.iter().map(|l| l.line.clone()).collect()
    }
}

/// The ids an event names, as [`Link`]s (what ties it to a causal chain).
fn links(event: &TraceEvent) -> Vec<Link> {
    match event {
        TraceEvent::Arrival { req, .. }
        | TraceEvent::Rejected { req, .. }
        | TraceEvent::Response { req, .. } => vec![Link::Req(*req)],
        TraceEvent::Dropped { what, id, .. } => match what.as_str() {
            "request" | "response" => vec![Link::Req(*id)],
            "message" => vec![Link::Msg(*id)],
            _ => Vec::new(),
        },
        TraceEvent::InvocationStart { inv, req, .. } => vec![Link::Inv(*inv), Link::Req(*req)],
        TraceEvent::HostOp { inv, .. }
        | TraceEvent::Refused { inv, .. }
        | TraceEvent::InvocationEnd { inv, .. }
        | TraceEvent::GuestFault { inv, .. }
        | TraceEvent::StoreWrite { inv, .. }
        | TraceEvent::CacheWrite { inv, .. }
        | TraceEvent::StoreRead { inv, .. }
        | TraceEvent::CacheRead { inv, .. }
        | TraceEvent::WorkOf { inv, .. }
        | TraceEvent::StoreAcked { inv, .. }
        | TraceEvent::CacheLookup { inv, .. }
        | TraceEvent::CacheDelete { inv, .. }
        | TraceEvent::CacheEvict { inv, .. }
        | TraceEvent::LimitHit { inv, .. }
        | TraceEvent::OpTimeout { inv, .. }
        | TraceEvent::OomKilled { inv, .. } => vec![Link::Inv(*inv)],
        TraceEvent::JourneyStep { req, .. } => vec![Link::Req(*req)],
        TraceEvent::CallRetry { call, .. } | TraceEvent::CallStart { call, .. } => {
            vec![Link::Call(*call)]
        }
        TraceEvent::CallFailed { call, req, .. } => vec![Link::Call(*call), Link::Req(*req)],
        TraceEvent::Sidecar { req, .. }
        | TraceEvent::MeshRefused { req, .. }
        | TraceEvent::MeshFilter { req, .. }
        | TraceEvent::MeshFault { req, .. } => vec![Link::Req(*req)],
        TraceEvent::MeshRoute { req, .. } if *req != 0 => vec![Link::Req(*req)],
        TraceEvent::MeshRoute { .. } => Vec::new(),
        TraceEvent::GatewayTry { req, try_req, .. } => vec![Link::Req(*req), Link::Req(*try_req)],
        TraceEvent::Activator { req, .. } => vec![Link::Req(*req)],
        TraceEvent::Publish { msg, .. }
        | TraceEvent::Deliver { msg, .. }
        | TraceEvent::Acked { msg, .. }
        | TraceEvent::Nacked { msg, .. } => vec![Link::Msg(*msg)],
        TraceEvent::RunStart { .. }
        | TraceEvent::Registered { .. }
        | TraceEvent::Deregistered { .. }
        | TraceEvent::Log { .. }
        | TraceEvent::StoreApply { .. }
        | TraceEvent::ReplicaMissed { .. }
        | TraceEvent::FaultStart { .. }
        | TraceEvent::FaultEnd { .. }
        | TraceEvent::ReplicaDown { .. }
        | TraceEvent::ReplicaUp { .. }
        | TraceEvent::Scale { .. }
        | TraceEvent::ReplicaState { .. }
        | TraceEvent::ColdStart { .. }
        | TraceEvent::PolicyFault { .. }
        | TraceEvent::Rollout { .. }
        | TraceEvent::Ejected { .. }
        | TraceEvent::JourneyStart { .. }
        | TraceEvent::JourneyEnd { .. }
        | TraceEvent::RunEnd { .. } => Vec::new(),
    }
}

/// How the trace's ids hang together: what caused each invocation and what each caused.
#[derive(Default)]
struct Links {
    /// Invocation → its request and the link that delivered it (client request, call, message).
    cause: BTreeMap<u64, (u64, Link)>,
    /// Call, message or client request → the invocations serving it (every attempt, every
    /// delivery, every copy).
    served_by: BTreeMap<Link, Vec<u64>>,
    /// Call → calling invocation; message → publishing invocation.
    made_by: BTreeMap<Link, u64>,
    /// Invocation → the calls it made and the messages it published.
    made: BTreeMap<u64, Vec<Link>>,
    /// The request of one call attempt → its call.
    attempt_of: BTreeMap<u64, u64>,
}

impl Links {
    fn read(lines: &[TraceLine]) -> Links {
        let mut l = Links::default();
        for line in lines {
            match &line.event {
                TraceEvent::InvocationStart { inv, req, cause, source, .. } => {
                    let by = match cause.as_str() {
                        "call" => {
                            l.attempt_of.insert(*req, *source);
                            Link::Call(*source)
                        }
                        "message" => Link::Msg(*source),
                        _ => Link::Req(*source),
                    };
                    l.cause.insert(*inv, (*req, by));
                    l.served_by.entry(by).or_default().push(*inv);
                    if Link::Req(*req) != by {
                        l.served_by.entry(Link::Req(*req)).or_default().push(*inv);
                    }
                }
                TraceEvent::CallStart { call, inv, .. } => {
                    l.made_by.insert(Link::Call(*call), *inv);
                    l.made.entry(*inv).or_default().push(Link::Call(*call));
                }
                TraceEvent::Publish { msg, inv, .. } => {
                    l.made_by.insert(Link::Msg(*msg), *inv);
                    l.made.entry(*inv).or_default().push(Link::Msg(*msg));
                }
                TraceEvent::CallFailed { call, req, .. } => {
                    l.attempt_of.insert(*req, *call);
                }
                _ => {}
            }
        }
        l
    }

    /// The causal chain of `seeds`: each seed and everything it caused (the invocations
    /// serving it, their calls and publishes, transitively); everything that caused it (the
    /// invocation that made a call or published a message, up to the client request); and the
    /// other deliveries of each call or message on the way (every attempt, redelivery or copy:
    /// the duplicates), with what they caused. The other effects of a cause are not followed.
    fn chain(&self, seeds: &BTreeSet<Link>) -> BTreeSet<Link> {
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        enum Way {
            Down,
            Up,
        }
        let mut chain = BTreeSet::new();
        let mut todo: Vec<(Link, Way)> = seeds.iter().map(|l| (*l, Way::Down)).collect();
        let mut done = BTreeSet::new();
        while let Some((link, way)) = todo.pop() {
            if !done.insert((link, way)) {
                continue;
            }
            chain.insert(link);
            if way == Way::Down {
                // What it caused, and (going up from it) what caused it.
                todo.push((link, Way::Up));
                match link {
                    Link::Inv(inv) => {
                        if let Some((req, _)) = self.cause.get(&inv) {
                            chain.insert(Link::Req(*req));
                        }
                        let made = self.made.get(&inv).into_iter().flatten();
                        todo.extend(made.map(|l| (*l, Way::Down)));
                    }
                    Link::Call(_) | Link::Msg(_) | Link::Req(_) => {
                        let invs = self.served_by.get(&link).into_iter().flatten();
                        todo.extend(invs.map(|i| (Link::Inv(*i), Way::Down)));
                    }
                }
                continue;
            }
            match link {
                Link::Inv(inv) => {
                    if let Some((req, by)) = self.cause.get(&inv) {
                        chain.insert(Link::Req(*req));
                        todo.push((*by, Way::Up));
                    }
                }
                Link::Call(_) | Link::Msg(_) => {
                    // Every delivery of it is the same request: the duplicates belong.
                    let invs = self.served_by.get(&link).into_iter().flatten();
                    todo.extend(invs.map(|i| (Link::Inv(*i), Way::Down)));
                    if let Some(i) = self.made_by.get(&link) {
                        todo.push((Link::Inv(*i), Way::Up));
                    }
                }
                Link::Req(req) => {
                    if let Some(c) = self.attempt_of.get(&req) {
                        todo.push((Link::Call(*c), Way::Up));
                    }
                }
            }
        }
        chain
    }
}

/// Events of the causal chain kept before the violation for each one kept after it: the
/// causes matter more than the consequences.
const BEFORE_PER_AFTER: usize = 2;

/// The story of a counterexample, told around its violation.
///
/// The failed verdicts say when the violation shows (`at`) and name subjects: trace ids
/// ([`Link`]: requests, invocations, calls, messages) and plain names (services, stores, keys,
/// channels). The story keeps, within `limit` events:
/// 1. the faults active at `at` (always, they frame everything else);
/// 2. the causal chain of the ids — the events of those requests, invocations, calls and
///    messages, of what they caused and of what caused them — nearest to `at` (about twice
///    as many before it as after);
/// 3. faults beginning or ending inside the window the chain spans, then other events naming a
///    subject, or a guest fault or host refusal, nearest to `at`.
///
/// When no failed verdict is dated, it tells the same kinds of events from the run's start.
/// Deterministic: a function of the trace and the verdicts only.
///
/// # Errors
/// A line of the run's trace that does not read back (a simulator bug, reported rather than
/// telling a story with holes).
pub fn story(case: &CaseOutcome, limit: usize) -> Result<Story, TraceError> {
    let failed: Vec<&Verdict> = case.verdicts.iter().filter(|v| v.failed()).collect();
    let at = failed.iter().filter_map(|v| v.at).min();
    let violated: Vec<String> =
        failed.iter().filter(|v| at.is_none() || v.at == at).map(|v| v.id.to_string()).collect();
    let mut seeds = BTreeSet::new();
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for s in failed.iter().flat_map(|v| &v.subjects) {
        match Link::parse(s) {
            Some(link) => {
                seeds.insert(link);
            }
            None => {
                names.insert(s);
            }
        }
    }
    let mut story = Story {
        at,
        violated,
        lines: Vec::new(),
        marker: None,
        active_faults: Vec::new(),
        chain_left_out: 0,
    };
    if limit == 0 {
        return Ok(story);
    }
    let lines: Vec<TraceLine> = trace::read(&case.run.trace).collect::<Result<_, _>>()?;
    let chain = Links::read(&lines).chain(&seeds);
    let role = |line: &TraceLine| -> Option<Role> {
        if links(&line.event).iter().any(|l| chain.contains(l)) {
            return Some(Role::Chain);
        }
        match line.event {
            TraceEvent::FaultStart { .. } | TraceEvent::FaultEnd { .. } => {
                return Some(Role::Fault);
            }
            TraceEvent::GuestFault { .. } | TraceEvent::Refused { .. } => {
                return Some(Role::Context);
            }
            _ => {}
        }
        let mentions = line
            .event
            .texts()
            .into_iter()
            .any(|s| names.contains(s) || s.split(':').any(|p| names.contains(p)));
        mentions.then_some(Role::Context)
    };
    let roles: Vec<Option<Role>> = lines.iter().map(role).collect();

    let Some(at) = at else {
        // Undated: the run from its start, as far as the limit goes.
        story.lines = lines
            .into_iter()
            .zip(roles)
            .filter_map(|(line, role)| Some(StoryLine { line, role: role? }))
            .take(limit)
            .collect();
        return Ok(story);
    };

    // The violation's place in the trace: the first event at or after `at`.
    let here = lines.partition_point(|l| l.t < at);
    let mut keep: BTreeSet<usize> = BTreeSet::new();
    let mut open: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, line) in lines[..here].iter().enumerate() {
        match &line.event {
            TraceEvent::FaultStart { index, .. } => {
                open.insert(*index, i);
            }
            TraceEvent::FaultEnd { index, .. } => {
                open.remove(index);
            }
            _ => {}
        }
    }
    // In the order they began (their lines'), not by their index in the plan.
    let mut began: Vec<usize> = open.into_values().collect();
    began.sort_unstable();
    for &i in began.iter().take(limit) {
        keep.insert(i);
        story.active_faults.push(lines[i].clone());
    }
    // Nearest to the violation first (in trace lines); the causes before it count half the
    // distance of what follows it.
    // Events at the very moment of the violation (the violating event among them) come first.
    let distance = |i: usize| {
        if lines[i].t == at {
            0
        } else if i < here {
            (here - i).div_ceil(BEFORE_PER_AFTER)
        } else {
            i - here
        }
    };
    let by_distance = |want: Role| {
        let mut v: Vec<usize> = (0..lines.len()).filter(|i| roles[*i] == Some(want)).collect();
        v.sort_by_key(|i| (distance(*i), *i));
        v
    };
    let chain_lines = by_distance(Role::Chain);
    let context_lines = by_distance(Role::Context);
    let rest = limit - keep.len();
    // A quarter of the story for context when there is any, the rest for the chain.
    let context_share = context_lines.len().min(rest / 4);
    let chain_taken = chain_lines.len().min(rest - context_share);
    let chain_kept = &chain_lines[..chain_taken];
    keep.extend(chain_kept);
    story.chain_left_out = chain_lines.len() - chain_taken;
    // The window the chain spans around the violation (the active faults, however early they
    // began, do not widen it).
    let first = chain_kept.iter().copied().min().unwrap_or(here).min(here);
    let last = chain_kept.iter().copied().max().unwrap_or(here).max(here);
    let faults_inside = (first..=last).filter(|i| roles.get(*i) == Some(&Some(Role::Fault)));
    let mut rest = limit - keep.len();
    for i in faults_inside.chain(context_lines) {
        if rest == 0 {
            break;
        }
        if keep.insert(i) {
            rest -= 1;
        }
    }
    story.marker = Some(keep.range(..here).count());
    story.lines = keep
        .into_iter()
        .map(|i| StoryLine { line: lines[i].clone(), role: roles[i].unwrap_or(Role::Fault) })
        .collect();
    Ok(story)
}

/// The events of [`story`], without their roles.
///
/// # Errors
/// As [`story`].
pub fn story_events(case: &CaseOutcome, limit: usize) -> Result<Vec<TraceLine>, TraceError> {
    Ok(story(case, limit)?.trace_lines())
}

/// A fault exploration injected, in words (what a schedule adds to the scenario).
#[must_use]
pub fn describe_injected(f: &InjectedFault) -> String {
    let s = |t: &f64| format!("{t:.1} s");
    match f {
        InjectedFault::Crash { service, replica, at_s, restart_after_s } => format!(
            "{service} replica {replica} crashes at {}, restarts {} later",
            s(at_s),
            s(restart_after_s)
        ),
        InjectedFault::NodeCrash { node, at_s, restart_after_s } => {
            format!("node {node} crashes at {}, restarts {} later", s(at_s), s(restart_after_s))
        }
        InjectedFault::Partition { between: [a, b], at_s, duration_s } => {
            format!("{a} and {b} are partitioned at {} for {}", s(at_s), s(duration_s))
        }
        InjectedFault::LatencySpike { between: [a, b], at_s, duration_s, extra_ms } => format!(
            "the link {a} to {b} gets {extra_ms:.1} ms slower at {} for {}",
            s(at_s),
            s(duration_s)
        ),
        InjectedFault::Loss { between: [a, b], at_s, duration_s, rate } => format!(
            "the link {a} to {b} loses {:.0} % of its packets at {} for {}",
            rate * 100.0,
            s(at_s),
            s(duration_s)
        ),
        InjectedFault::Duplication { channel, at_s, duration_s, rate } => format!(
            "{channel} duplicates {:.0} % of its deliveries at {} for {}",
            rate * 100.0,
            s(at_s),
            s(duration_s)
        ),
        InjectedFault::Reorder { channel, at_s, duration_s, jitter_ms } => format!(
            "{channel} reorders deliveries (jitter {jitter_ms:.1} ms) at {} for {}",
            s(at_s),
            s(duration_s)
        ),
        InjectedFault::ReplicaLag { store, at_s, duration_s, extra_ms } => format!(
            "{store} replication lags {extra_ms:.1} ms more at {} for {}",
            s(at_s),
            s(duration_s)
        ),
        InjectedFault::ModuleSwap { service, module, at_s } => {
            format!("{service} swaps to module {module} at {}", s(at_s))
        }
    }
}

/// One line of the story, readable.
#[must_use]
pub fn describe(line: &TraceLine) -> String {
    let t = line.t.as_secs_f64();
    let what = match &line.event {
        TraceEvent::RunStart { system, seed } => format!("run of {system} starts (seed {seed})"),
        TraceEvent::Registered { service, replica } => {
            format!("{service} replica {replica} registers")
        }
        TraceEvent::Deregistered { service, replica, reason } => {
            format!("{service} replica {replica} is deregistered: {reason}")
        }
        TraceEvent::Arrival { req, service, endpoint, .. } => {
            format!("request {req} for {service}.{endpoint} reaches the gateway")
        }
        TraceEvent::Dropped { what, id, from, to, reason } => {
            format!("{what} {id} from {from} to {to} dropped: {reason}")
        }
        TraceEvent::Rejected { req, service, replica, reason } => {
            format!("{service} replica {replica} rejects request {req}: {reason}")
        }
        TraceEvent::InvocationStart {
            req,
            service,
            endpoint,
            replica,
            cause,
            source,
            group,
            attempt,
            copy,
            ..
        } => {
            let copy = if *copy > 0 { ", duplicated copy" } else { "" };
            let by = match cause.as_str() {
                "call" => format!("call {source} attempt {attempt}{copy}"),
                "message" => format!("message {source} to {group}, delivery {attempt}{copy}"),
                _ => format!("client request {source}"),
            };
            format!("{service} starts {endpoint} (request {req}, replica {replica}; {by})")
        }
        TraceEvent::InvocationEnd { inv, outcome, .. } => {
            format!("invocation {inv} ends: {outcome}")
        }
        TraceEvent::HostOp { inv, op, target } => {
            format!("invocation {inv} does {op} on {target}")
        }
        TraceEvent::StoreWrite { store, replica, key, version, inv, changed, .. } => {
            let same = if *changed { "" } else { ", value unchanged" };
            format!(
                "{store} replica {replica} writes {key} (version {version}, invocation {inv}{same})"
            )
        }
        TraceEvent::CallStart { call, inv, service, endpoint } => {
            format!("invocation {inv} calls {service}.{endpoint} (call {call})")
        }
        TraceEvent::CacheWrite { inv, cache, key, changed } => {
            let same = if *changed { "" } else { ", value unchanged" };
            format!("invocation {inv} puts {key} in cache {cache}{same}")
        }
        TraceEvent::CacheDelete { inv, cache, key, existed } => {
            let was = if *existed { "" } else { " (it held no entry)" };
            format!("invocation {inv} invalidates {key} in cache {cache}{was}")
        }
        TraceEvent::CacheEvict { inv, cache, key } => {
            format!("cache {cache}, full, evicts {key} (least recently used) for invocation {inv}")
        }
        TraceEvent::StoreApply { store, replica, key, version, applied } => format!(
            "{store} replica {replica} {} replicated {key} (version {version})",
            if *applied { "applies" } else { "ignores older" },
        ),
        TraceEvent::StoreRead { inv, store, replica, key, version } => {
            format!("invocation {inv} reads {key} at {store} replica {replica} (version {version})")
        }
        TraceEvent::CacheRead { inv, cache, key, differs_ns, .. } => format!(
            "invocation {inv} reads {key} from {cache}{}",
            if *differs_ns > 0 {
                format!(" (the store had replaced it {:.1} ms before)", *differs_ns as f64 / 1e6)
            } else {
                String::new()
            }
        ),
        TraceEvent::WorkOf { inv, work } => {
            // `msg:<message>/<group>` or `call:<call>` (see the event's doc): said in words.
            let what = if let Some(m) = work.strip_prefix("msg:") {
                let (msg, group) = m.split_once('/').unwrap_or((m, "?"));
                format!("message {msg} for group {group}")
            } else if let Some(call) = work.strip_prefix("call:") {
                format!("call {call}")
            } else {
                work.clone()
            };
            format!("invocation {inv} works on {what} (one of its deliveries)")
        }
        TraceEvent::StoreAcked { inv, store, key, version } => {
            format!("invocation {inv} gets the ack of {key} (version {version}) from {store}")
        }
        TraceEvent::ReplicaMissed { store, replica, key, version } => {
            format!("{store} replica {replica} MISSES {key} (version {version}) for good")
        }
        TraceEvent::Publish { channel, msg, inv, .. } => {
            format!("message {msg} published on {channel} by invocation {inv}")
        }
        TraceEvent::Deliver { channel, msg, group, attempt } => {
            format!("message {msg} delivered to {group} on {channel} (attempt {attempt})")
        }
        TraceEvent::Acked { msg, group, .. } => format!("message {msg} acknowledged by {group}"),
        // The input is the request body (JSON, cut to 256 bytes): told by its size, never
        // pasted, so the story stays words (the finding and the trace keep the bytes).
        TraceEvent::GuestFault { inv, service, cause, input } => format!(
            "GUEST FAULT in {service} (invocation {inv}): {cause}, on {}",
            match input.len() {
                0 => "an empty input".to_owned(),
                n => format!("an input of {n} byte(s)"),
            }
        ),
        TraceEvent::Refused { inv, import, target, code } => {
            format!("host REFUSED {import} to {target} (code {code}, invocation {inv})")
        }
        TraceEvent::Log { service, level, message } => format!("{service} logs {level}: {message}"),
        TraceEvent::CallRetry { call, attempt, reason } => {
            format!("call {call} is retried (attempt {attempt}): {reason}")
        }
        TraceEvent::FaultStart { index, kind } => format!("fault #{index} begins: {kind}"),
        TraceEvent::FaultEnd { index, kind } => format!("fault #{index} ends: {kind}"),
        TraceEvent::ReplicaDown { service, replica } => {
            format!("{service} replica {replica} goes DOWN")
        }
        TraceEvent::ReplicaUp { service, replica } => {
            format!("{service} replica {replica} is up again")
        }
        TraceEvent::Scale { service, from, to, metric, value_milli, desired, reason } => format!(
            "autoscaler of {service}: {metric} {:.3} per replica asks for {desired}, {from} → {to} ({reason})",
            *value_milli as f64 / 1e3
        ),
        TraceEvent::Activator { req, service, endpoint, action, waited_ns, buffered } => {
            let waited = *waited_ns as f64 / 1e6;
            match action.as_str() {
                "buffered" => format!(
                    "{service}'s activator BUFFERS request {req} for {endpoint} (no replica ready; {buffered} waiting)"
                ),
                "released" => format!(
                    "{service}'s activator releases request {req} for {endpoint} after {waited:.2} ms (cold start)"
                ),
                "overflow" => format!(
                    "{service}'s activator REFUSES request {req} for {endpoint}: its buffer is full"
                ),
                _ => format!(
                    "{service}'s activator FAILS request {req} for {endpoint}: {action} after {waited:.2} ms"
                ),
            }
        }
        TraceEvent::ColdStart { service, replica, fetch_ns, compile_ns, instantiate_ns } => {
            let ms = |n: u64| n as f64 / 1e6;
            format!(
                "{service} replica {replica} cold start: fetch {:.2} ms + compile {:.2} ms + instantiate {:.2} ms",
                ms(*fetch_ns),
                ms(*compile_ns),
                ms(*instantiate_ns)
            )
        }
        TraceEvent::PolicyFault { service, reason } => {
            format!(
                "{service}'s scaling policy module FAILS ({reason}): the reactive decision stands"
            )
        }
        TraceEvent::ReplicaState { service, replica, state } => {
            format!("{service} replica {replica} is {state}")
        }
        TraceEvent::Rollout { service, step, replica, version, desired } => match step.as_ref() {
            "started" | "finished" => {
                format!("rollout of {service} to version {version} {step} ({desired} replicas)")
            }
            _ => format!("rollout of {service}: replica {replica} {step} (version {version})"),
        },
        TraceEvent::Response { service, endpoint, outcome, latency_ns, .. } => format!(
            "client gets {outcome} from {service}.{endpoint} after {:.1} ms",
            *latency_ns as f64 / 1e6
        ),
        TraceEvent::Ejected { caller, service, replica, until_ns } => format!(
            "{caller} EJECTS {service} replica {replica} (outlier detection) until t={:.4}s",
            *until_ns as f64 / 1e9
        ),
        TraceEvent::CacheLookup { inv, cache, hit } => {
            format!("invocation {inv} reads {cache}: {}", if *hit { "a hit" } else { "a miss" })
        }
        TraceEvent::RunEnd { events } => format!("run ends after {events} events"),
        TraceEvent::LimitHit { inv, service, limit, count } => {
            format!("{service} hits its {limit} limit {count} time(s) (invocation {inv})")
        }
        TraceEvent::CallFailed { call, attempt, target, reason, gave_up, .. } => format!(
            "call {call} to {target} fails (attempt {attempt}): {reason}{}",
            if *gave_up { "; the caller gives up" } else { "" }
        ),
        TraceEvent::Nacked { msg, group, outcome, .. } => {
            format!("message {msg} NOT acknowledged by {group}: {outcome}")
        }
        TraceEvent::OpTimeout { inv, target } => {
            format!("invocation {inv} gets NO ANSWER from {target} in time: unavailable")
        }
        TraceEvent::Sidecar { req, leg, latency_ns } => format!(
            "mesh sidecars add {:.2} ms to the {leg} of request {req}",
            *latency_ns as f64 / 1e6
        ),
        TraceEvent::MeshRefused { caller, target, filter, req } => {
            format!("{caller}'s mesh {filter} STOPS request {req} to {target}")
        }
        TraceEvent::MeshFault { caller, target, req, action, delay_ns, status } => {
            if action == "delay" {
                format!(
                    "{caller}'s mesh fault DELAYS request {req} to {target} by {:.2} ms",
                    *delay_ns as f64 / 1e6
                )
            } else {
                format!("{caller}'s mesh fault ABORTS request {req} to {target} with {status}")
            }
        }
        TraceEvent::MeshRoute { proxy, service, action, config, req, detail } => {
            match action.as_ref() {
                "push" => format!(
                    "the control plane pushes route config {config} for {service}: {detail}"
                ),
                "applied" => format!("{proxy} applies route config {config} ({service}: {detail})"),
                "matched" => format!(
                    "{proxy} sends request {req} to subset {detail} of {service} by a header rule (config {config})"
                ),
                _ => format!(
                    "{proxy} sends request {req} to subset {detail} of {service} by weight (config {config})"
                ),
            }
        }
        TraceEvent::MeshFilter { proxy, filter, req, action, detail } => match action.as_ref() {
            "modify" => format!("{proxy}'s filter {filter} rewrites the {detail} of request {req}"),
            "stop" => format!("{proxy}'s filter {filter} STOPS request {req}, answering {detail}"),
            _ => format!("{proxy}'s filter {filter} FAULTS on request {req}: {detail}"),
        },
        TraceEvent::GatewayTry { req, attempt, try_req, after } => {
            if after.is_empty() {
                format!("gateway sends try {attempt} of request {req} as request {try_req}")
            } else {
                format!(
                    "gateway RETRIES request {req} (try {attempt}, as request {try_req}) after {after}"
                )
            }
        }
        TraceEvent::OomKilled { inv, service, replica, node, bytes, others, capacity } => {
            let mib = |b: &u64| *b as f64 / f64::from(1 << 20);
            format!(
                "{service} replica {replica} is OOM-KILLED (invocation {inv}): its instance grew to {:.1} MiB while the other instances on node {node} held {:.1} of its {:.1} MiB",
                mib(bytes),
                mib(others),
                mib(capacity)
            )
        }
        TraceEvent::JourneyStart { journey, id } => {
            format!("a client starts journey {journey} (instance {id})")
        }
        TraceEvent::JourneyStep { id, step, name, req } => {
            format!("journey instance {id} sends step {step} ({name}) as request {req}")
        }
        TraceEvent::JourneyEnd { journey, id, outcome, step, steps, latency_ns, reason } => {
            let ms = *latency_ns as f64 / 1e6;
            if reason.is_empty() {
                format!(
                    "journey {journey} (instance {id}) {outcome} after {steps} step(s) in {ms:.1} ms"
                )
            } else {
                format!(
                    "journey {journey} (instance {id}) {outcome} at step {step} after {steps} step(s) in {ms:.1} ms: {reason}"
                )
            }
        }
    };
    format!("t={t:>9.4}s  {what}")
}

/// The story as a Mermaid sequence diagram.
#[must_use]
pub fn mermaid(events: &[TraceLine]) -> String {
    // Participants get positional ids (`p0`, `p1`…) declared with their names as escaped
    // labels: two names that differ only in punctuation stay apart, and a name cannot inject
    // diagram syntax. Every free text (keys, causes, outcomes) is escaped the same way.
    let mut participants: Vec<String> = Vec::new();
    let mut id = |name: &str| {
        let at = participants.iter().position(|p| p == name).unwrap_or_else(|| {
            participants.push(name.to_owned());
            participants.len() - 1
        });
        format!("p{at}")
    };
    let t = text::mermaid;
    let mut body = String::new();
    let out = &mut body;
    for line in events {
        let _ = match &line.event {
            TraceEvent::InvocationStart { req, service, endpoint, .. } => {
                let client = id("client");
                writeln!(out, "  {client}->>{}: {} #{req}", id(service), t(endpoint))
            }
            TraceEvent::StoreWrite { store, key, version, .. } => {
                writeln!(out, "  Note over {}: write {} v{version}", id(store), t(key))
            }
            TraceEvent::StoreApply { store, replica, key, version, applied } => writeln!(
                out,
                "  Note over {}: replica {replica} applied={applied} {} v{version}",
                id(store),
                t(key)
            ),
            TraceEvent::Deliver { channel, msg, group, attempt } => {
                let broker = id("broker");
                writeln!(
                    out,
                    "  {broker}->>{}: {} msg {msg} (attempt {attempt})",
                    id(group),
                    t(channel)
                )
            }
            TraceEvent::Acked { msg, group, .. } => {
                let group = id(group);
                writeln!(out, "  {group}-->>{}: ack msg {msg}", id("broker"))
            }
            TraceEvent::GuestFault { service, cause, .. } => {
                writeln!(out, "  Note over {}: FAULT {}", id(service), t(cause))
            }
            TraceEvent::OomKilled { service, replica, .. } => {
                writeln!(out, "  Note over {}: replica {replica} OOM-killed", id(service))
            }
            TraceEvent::Refused { import, target, .. } => {
                writeln!(out, "  Note over {}: refused {} {}", id("host"), t(import), t(target))
            }
            TraceEvent::FaultStart { kind, .. } | TraceEvent::FaultEnd { kind, .. } => writeln!(
                out,
                "  Note over {}: {} {}",
                id("client"),
                line.event.kind().replace('_', " "),
                t(kind)
            ),
            TraceEvent::Ejected { caller, service, replica, .. } => {
                writeln!(out, "  Note over {}: {} ejects replica {replica}", id(service), t(caller))
            }
            TraceEvent::MeshRefused { caller, target, filter, .. } => {
                writeln!(out, "  Note over {}: {} refuses {}", id(caller), t(filter), t(target))
            }
            TraceEvent::MeshFault { caller, target, action, .. } => {
                writeln!(out, "  Note over {}: fault {} {}", id(caller), t(action), t(target))
            }
            TraceEvent::Response { req, service, outcome, .. } => {
                let service = id(service);
                writeln!(out, "  {service}-->>{}: {} #{req}", id("client"), t(outcome))
            }
            TraceEvent::JourneyEnd { journey, id: instance, outcome, step, .. } => writeln!(
                out,
                "  Note over {}: journey {} #{instance} {} at {}",
                id("client"),
                t(journey),
                t(outcome),
                t(step)
            ),
            // Not drawn: the diagram shows the conversation between participants, and these
            // are either bookkeeping or already told by the events above.
            TraceEvent::RunStart { .. }
            | TraceEvent::Registered { .. }
            | TraceEvent::Deregistered { .. }
            | TraceEvent::Arrival { .. }
            | TraceEvent::Dropped { .. }
            | TraceEvent::Rejected { .. }
            | TraceEvent::HostOp { .. }
            | TraceEvent::InvocationEnd { .. }
            | TraceEvent::Log { .. }
            | TraceEvent::CallRetry { .. }
            | TraceEvent::CallStart { .. }
            | TraceEvent::CacheWrite { .. }
            | TraceEvent::CacheDelete { .. }
            | TraceEvent::CacheEvict { .. }
            | TraceEvent::Publish { .. }
            | TraceEvent::StoreRead { .. }
            | TraceEvent::CacheRead { .. }
            | TraceEvent::StoreAcked { .. }
            | TraceEvent::WorkOf { .. }
            | TraceEvent::ReplicaMissed { .. }
            | TraceEvent::ReplicaDown { .. }
            | TraceEvent::ReplicaUp { .. }
            | TraceEvent::Scale { .. }
            | TraceEvent::ReplicaState { .. }
            | TraceEvent::Activator { .. }
            | TraceEvent::ColdStart { .. }
            | TraceEvent::PolicyFault { .. }
            | TraceEvent::Rollout { .. }
            | TraceEvent::MeshRoute { .. }
            | TraceEvent::CacheLookup { .. }
            | TraceEvent::RunEnd { .. }
            | TraceEvent::LimitHit { .. }
            | TraceEvent::CallFailed { .. }
            | TraceEvent::OpTimeout { .. }
            | TraceEvent::Nacked { .. }
            | TraceEvent::JourneyStart { .. }
            | TraceEvent::JourneyStep { .. }
            | TraceEvent::Sidecar { .. }
            | TraceEvent::GatewayTry { .. }
            // Told by the `mesh_refused` note when it stops a request.
            | TraceEvent::MeshFilter { .. } => Ok(()),
        };
    }
    let mut out = String::from("sequenceDiagram\n");
    for (i, name) in participants.iter().enumerate() {
        let _ = writeln!(out, "  participant p{i} as {}", t(name));
    }
    out.push_str(&body);
    out
}
