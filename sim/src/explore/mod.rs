//! Exploration: proptest strategies derived from the scenario generate workloads (duration,
//! rate, bursts) and fault schedules (every fault kind the format has, on every target kind it
//! applies to, inside each case's active window: `strategy.rs`); cases run in parallel; every
//! property is judged in every case and summarised over all of them (`summary.rs`: a property
//! that failed in any case is failed); the first failing case is shrunk to a minimal schedule
//! (`shrink.rs`) and can be saved as a replay file.
//!
//! The declared scenario itself is case 0 and is checked for every property; generated cases,
//! which add faults the quality targets were not written for, are checked for every property
//! except the SLOs, and the summary reports the SLOs as skipped there, saying why.

pub mod replay;
pub mod shard;
mod shrink;
#[cfg(test)]
mod story_tests;
mod strategy;
mod summary;
#[cfg(test)]
mod tests;

pub use shrink::Shrinking;
pub use strategy::schedules;
pub use summary::{PropertySummary, SLO_SKIPPED_WHY, summarise};

use fusebench_model::Scenario;
use fusebench_model::edit::{self, Edit, FaultSpec};
use fusebench_model::scenario::{Arrival, Fault, FaultKind, FaultTarget, NameRef, Workload};
use proptest::strategy::{Strategy as _, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::limits::{Budget, LimitError, Limits};
use crate::properties::{self, Verdict};
use crate::setup::{ModuleFiles, SetupError, build_runtime};
use crate::trace::TraceMode;
use crate::{RunOptions, RunResult, Sim};

/// A fault added by exploration (times in seconds of simulated time). Serialized in replay
/// files: variants and fields are only ever added, so older files keep reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum InjectedFault {
    /// One replica of a service stops, and restarts after `restart_after_s`.
    Crash {
        service: String,
        replica: u32,
        at_s: f64,
        restart_after_s: f64,
    },
    /// Every replica on a node stops, and restarts after `restart_after_s`.
    NodeCrash {
        node: String,
        at_s: f64,
        restart_after_s: f64,
    },
    Partition {
        between: [String; 2],
        at_s: f64,
        duration_s: f64,
    },
    LatencySpike {
        between: [String; 2],
        at_s: f64,
        duration_s: f64,
        extra_ms: f64,
    },
    /// A fraction of the messages on a link is lost.
    Loss {
        between: [String; 2],
        at_s: f64,
        duration_s: f64,
        rate: f64,
    },
    /// A fraction of the messages on a channel (sync ones too) is delivered twice.
    Duplication {
        channel: String,
        at_s: f64,
        duration_s: f64,
        rate: f64,
    },
    Reorder {
        channel: String,
        at_s: f64,
        duration_s: f64,
        jitter_ms: f64,
    },
    /// Replication of a store lags by an extra amount.
    ReplicaLag {
        store: String,
        at_s: f64,
        duration_s: f64,
        extra_ms: f64,
    },
    /// A service's module is replaced by one the scenario already swaps it to.
    ModuleSwap {
        service: String,
        module: String,
        at_s: f64,
    },
}

impl InjectedFault {
    fn to_model(&self) -> Fault {
        let link = |b: &[String; 2]| FaultTarget::Link {
            between: [NameRef::new(&b[0]), NameRef::new(&b[1])],
        };
        let channel = |c: &str| FaultTarget::Channel { channel: NameRef::new(c) };
        let (kind, target, at_s, duration_s) = match self {
            InjectedFault::Crash { service, replica, at_s, restart_after_s } => (
                FaultKind::Crash { restart_after_s: Some(*restart_after_s) },
                FaultTarget::Service { service: NameRef::new(service), replica: Some(*replica) },
                *at_s,
                None,
            ),
            InjectedFault::NodeCrash { node, at_s, restart_after_s } => (
                FaultKind::Crash { restart_after_s: Some(*restart_after_s) },
                FaultTarget::Node { node: NameRef::new(node) },
                *at_s,
                None,
            ),
            InjectedFault::Partition { between, at_s, duration_s } => {
                (FaultKind::Partition, link(between), *at_s, Some(*duration_s))
            }
            InjectedFault::LatencySpike { between, at_s, duration_s, extra_ms } => (
                FaultKind::LatencySpike { extra_ms: *extra_ms },
                link(between),
                *at_s,
                Some(*duration_s),
            ),
            InjectedFault::Loss { between, at_s, duration_s, rate } => {
                (FaultKind::Loss { rate: *rate }, link(between), *at_s, Some(*duration_s))
            }
            InjectedFault::Duplication { channel: c, at_s, duration_s, rate } => {
                (FaultKind::Duplication { rate: *rate }, channel(c), *at_s, Some(*duration_s))
            }
            InjectedFault::Reorder { channel: c, at_s, duration_s, jitter_ms } => {
                (FaultKind::Reorder { jitter_ms: *jitter_ms }, channel(c), *at_s, Some(*duration_s))
            }
            InjectedFault::ReplicaLag { store, at_s, duration_s, extra_ms } => (
                FaultKind::ReplicaLag { extra_ms: *extra_ms },
                FaultTarget::Store { store: NameRef::new(store) },
                *at_s,
                Some(*duration_s),
            ),
            InjectedFault::ModuleSwap { service, module, at_s } => (
                FaultKind::ModuleSwap { module: NameRef::new(module) },
                FaultTarget::Service { service: NameRef::new(service), replica: None },
                *at_s,
                None,
            ),
        };
        Fault { kind, target, at_s, duration_s, span: fusebench_model::Span::default() }
    }

    /// When it starts.
    #[must_use]
    pub fn at_s(&self) -> f64 {
        match self {
            InjectedFault::Crash { at_s, .. }
            | InjectedFault::NodeCrash { at_s, .. }
            | InjectedFault::Partition { at_s, .. }
            | InjectedFault::LatencySpike { at_s, .. }
            | InjectedFault::Loss { at_s, .. }
            | InjectedFault::Duplication { at_s, .. }
            | InjectedFault::Reorder { at_s, .. }
            | InjectedFault::ReplicaLag { at_s, .. }
            | InjectedFault::ModuleSwap { at_s, .. } => *at_s,
        }
    }

    /// The same fault with every time (start, length, restart delay) multiplied by `k` and
    /// kept on the tenth-of-a-second grid, at least 0.1 s long: what halving a case's duration
    /// does to its faults, so they stay inside its active window.
    #[must_use]
    pub fn scaled(&self, k: f64) -> Self {
        let at = |x: f64| (x * k * 10.0).floor() / 10.0;
        let len = |x: f64| ((x * k * 10.0).floor() / 10.0).max(0.1);
        let mut f = self.clone();
        match &mut f {
            InjectedFault::Crash { at_s, restart_after_s, .. }
            | InjectedFault::NodeCrash { at_s, restart_after_s, .. } => {
                *at_s = at(*at_s);
                *restart_after_s = len(*restart_after_s);
            }
            InjectedFault::Partition { at_s, duration_s, .. }
            | InjectedFault::LatencySpike { at_s, duration_s, .. }
            | InjectedFault::Loss { at_s, duration_s, .. }
            | InjectedFault::Duplication { at_s, duration_s, .. }
            | InjectedFault::Reorder { at_s, duration_s, .. }
            | InjectedFault::ReplicaLag { at_s, duration_s, .. } => {
                *at_s = at(*at_s);
                *duration_s = len(*duration_s);
            }
            InjectedFault::ModuleSwap { at_s, .. } => *at_s = at(*at_s),
        }
        f
    }
}

/// Arrivals in on/off bursts at the same mean rate: the peak rate is the mean × (on + off) / on
/// (capped at the largest rate a scenario may declare).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Burst {
    pub on_s: f64,
    pub off_s: f64,
}

impl Burst {
    /// The peak rate for a mean rate `mean_rps`.
    #[must_use]
    pub fn peak_rps(&self, mean_rps: f64) -> f64 {
        (mean_rps * (self.on_s + self.off_s) / self.on_s).min(Workload::RATE_RPS_MAX)
    }
}

/// One explored case: the workload's duration, rate and bursts, and the faults added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub duration_s: f64,
    /// Arrival rates are multiplied by this (closed-loop users, the concurrency, too).
    pub rate_scale: f64,
    /// Open-loop arrivals (poisson, constant) sent in on/off bursts at the same mean rate.
    /// Absent in replay files written before bursts existed (and whenever there is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<Burst>,
    pub faults: Vec<InjectedFault>,
    /// Case 0: the scenario as declared (SLOs are checked only there).
    pub declared: bool,
}

impl Schedule {
    /// The scenario as declared.
    #[must_use]
    pub fn declared(s: &Scenario) -> Self {
        Schedule {
            duration_s: s.workload.as_ref().map_or(1.0, |w| w.duration_s),
            rate_scale: 1.0,
            burst: None,
            faults: Vec::new(),
            declared: true,
        }
    }

    /// The scenario this case runs.
    #[must_use]
    pub fn apply(&self, s: &Scenario) -> Scenario {
        let mut out = s.clone();
        if let Some(w) = &mut out.workload {
            w.duration_s = self.duration_s;
            match &mut w.arrival {
                Arrival::Poisson { rate_rps }
                | Arrival::Constant { rate_rps }
                | Arrival::OnOff { rate_rps, .. } => *rate_rps *= self.rate_scale,
                Arrival::Schedule { steps } => {
                    steps.iter_mut().for_each(|st| st.rate_rps *= self.rate_scale);
                }
                Arrival::Closed { users, .. } => {
                    *users = ((f64::from(*users) * self.rate_scale).round() as u32).max(1);
                }
            }
            if let (Some(b), Arrival::Poisson { rate_rps } | Arrival::Constant { rate_rps }) =
                (self.burst, &w.arrival)
            {
                w.arrival = Arrival::OnOff {
                    rate_rps: b.peak_rps(*rate_rps),
                    on_s: b.on_s,
                    off_s: b.off_s,
                };
            }
        }
        out.faults.extend(self.faults.iter().map(InjectedFault::to_model));
        out
    }

    /// Every way this schedule is not one exploration could have made for `s`: each field goes
    /// through the scenario parser's own validation (an injected fault is written into the
    /// scenario's text as a `[[fault]]` and parsed back, so an unknown service, channel or link,
    /// a replica the service does not have, a negative, NaN or out-of-range number is refused
    /// exactly as in a scenario file), the workload's duration and scaled rates stay inside
    /// the parser's ranges, and no fault starts after the run. Read from a file (a replay), a
    /// schedule is input like any other; run unchecked, it reached code that indexes replicas.
    ///
    /// At most `faults_max` faults are looked at (each is one parse): more is one problem.
    #[must_use]
    pub fn validate(&self, s: &Scenario, faults_max: usize) -> Vec<ScheduleProblem> {
        let mut out = Vec::new();
        let problem = |field: &str, message: String| ScheduleProblem {
            field: format!("schedule.{field}"),
            message,
        };
        let (lo, hi) = Workload::DURATION_S_RANGE;
        if !(lo..=hi).contains(&self.duration_s) {
            out.push(problem(
                "duration_s",
                format!(
                    "{} is outside the range a scenario's `workload.duration_s` may take ({lo}..={hi} seconds)",
                    self.duration_s
                ),
            ));
        }
        if !(self.rate_scale.is_finite() && self.rate_scale > 0.0) {
            out.push(problem(
                "rate_scale",
                format!("{} is not a positive finite factor", self.rate_scale),
            ));
        } else if let Some(w) = &s.workload {
            let max_rate = match &w.arrival {
                Arrival::Poisson { rate_rps }
                | Arrival::Constant { rate_rps }
                | Arrival::OnOff { rate_rps, .. } => *rate_rps,
                Arrival::Schedule { steps } => steps.iter().map(|x| x.rate_rps).fold(0.0, f64::max),
                Arrival::Closed { .. } => 0.0,
            };
            if max_rate * self.rate_scale > Workload::RATE_RPS_MAX {
                out.push(problem(
                    "rate_scale",
                    format!(
                        "{} scales the arrival rate to {} req/s, over the {} a scenario may declare",
                        self.rate_scale,
                        max_rate * self.rate_scale,
                        Workload::RATE_RPS_MAX
                    ),
                ));
            }
            if let Arrival::Closed { users, .. } = w.arrival
                && f64::from(users) * self.rate_scale > Workload::USERS_MAX as f64
            {
                out.push(problem(
                    "rate_scale",
                    format!(
                        "{} scales the closed-loop users over the {} a scenario may declare",
                        self.rate_scale,
                        Workload::USERS_MAX
                    ),
                ));
            }
        }
        if let Some(b) = self.burst {
            if !(b.on_s.is_finite() && b.on_s >= 0.001 && b.on_s <= 1e7) {
                out.push(problem(
                    "burst.on_s",
                    format!("{} is not a burst length (0.001..=1e7 seconds)", b.on_s),
                ));
            }
            if !(b.off_s.is_finite() && b.off_s >= 0.0 && b.off_s <= 1e7) {
                out.push(problem(
                    "burst.off_s",
                    format!("{} is not a pause length (0..=1e7 seconds)", b.off_s),
                ));
            }
            let arrival = s.workload.as_ref().map(|w| &w.arrival);
            if !matches!(arrival, Some(Arrival::Poisson { .. } | Arrival::Constant { .. })) {
                out.push(problem(
                    "burst",
                    "bursts apply to poisson and constant arrivals only, and this scenario's workload has neither".to_owned(),
                ));
            }
        }
        if self.declared
            && (!self.faults.is_empty() || self.rate_scale != 1.0 || self.burst.is_some())
        {
            out.push(problem(
                "declared",
                "the declared scenario (case 0) has no added faults, its own rate and no bursts"
                    .to_owned(),
            ));
        }
        if self.faults.len() > faults_max {
            out.push(problem(
                "faults",
                format!(
                    "{} faults, over the limit of {faults_max} (exploration adds at most 4); {}",
                    self.faults.len(),
                    crate::limits::HOW_TO_LIFT
                ),
            ));
            return out;
        }
        // The run spans the declared workload (faults are drawn inside it) or the schedule's.
        let run_s = s.workload.as_ref().map_or(0.0, |w| w.duration_s).max(self.duration_s);
        for (i, f) in self.faults.iter().enumerate() {
            let here = format!("faults[{i}]");
            let model = f.to_model();
            let spec = FaultSpec::from(&model);
            let text = match edit::apply(s.source(), &[Edit::AddFault(spec)]) {
                Ok(t) => t,
                Err(e) => {
                    out.push(problem(&here, e.to_string()));
                    continue;
                }
            };
            let parsed = fusebench_model::parse(&s.file, &text);
            for d in parsed.diagnostics.iter().filter(|d| d.is_error()) {
                let key = fault_key(d.field.as_deref().unwrap_or_default());
                let hint = d.hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default();
                out.push(problem(&format!("{here}{key}"), format!("{}{hint}", d.message)));
            }
            if let InjectedFault::ModuleSwap { service, module, .. } = f {
                let declared = s.faults.iter().any(|d| {
                    matches!((&d.kind, &d.target),
                        (FaultKind::ModuleSwap { module: m }, FaultTarget::Service { service: sv, .. })
                            if m.name == *module && sv.name == *service)
                });
                if !declared {
                    out.push(problem(
                        &format!("{here}.module"),
                        format!(
                            "`{}` is not a module the scenario swaps `{}` to (exploration swaps only to modules a declared `module-swap` fault names)",
                            module, service
                        ),
                    ));
                }
            }
            if model.at_s.is_finite() && model.at_s > run_s {
                out.push(problem(
                    &format!("{here}.at_s"),
                    format!("{} s is after the run ends ({run_s} s)", model.at_s),
                ));
            }
        }
        out
    }

    /// A size for "smaller" comparisons in tests: faults first, then requests, then time.
    #[must_use]
    pub fn size(&self) -> (usize, u64, u64) {
        (self.faults.len(), (self.rate_scale * 1000.0) as u64, (self.duration_s * 1000.0) as u64)
    }
}

/// The key inside one fault of a parser diagnostic's field (`fault[4].replica`,
/// `fault.replica` → `.replica`; `fault` → nothing).
fn fault_key(field: &str) -> String {
    let Some(rest) = field.strip_prefix("fault") else { return String::new() };
    let rest = match rest.strip_prefix('[') {
        Some(r) => r.split_once(']').map_or("", |(_, tail)| tail),
        None => rest,
    };
    rest.strip_prefix('.').map_or(String::new(), |k| format!(".{k}"))
}

/// One field of a schedule that fails validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleProblem {
    /// The field's path in the replay file, e.g. `schedule.faults[0].replica`.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ScheduleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a case could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExploreError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Limit(#[from] LimitError),
}

/// The largest factor exploration scales the declared arrival rates by (the smallest is 0.5):
/// limits are checked up front against it.
pub const RATE_SCALE_MAX: f64 = 1.5;

/// One case's outcome, with the run it judged: what a counterexample carries (its replay file
/// and story are read from the run's trace).
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    pub seed: u64,
    pub schedule: Schedule,
    pub verdicts: Vec<Verdict>,
    pub trace_hash: String,
    pub run: RunResult,
}

impl CaseOutcome {
    #[must_use]
    pub fn failed(&self) -> bool {
        self.verdicts.iter().any(Verdict::failed)
    }

    /// The verdicts without the run.
    #[must_use]
    pub fn judged(&self) -> CaseVerdicts {
        CaseVerdicts {
            seed: self.seed,
            schedule: self.schedule.clone(),
            verdicts: self.verdicts.clone(),
            trace_hash: self.trace_hash.clone(),
        }
    }
}

/// What exploration keeps of a case while it explores and shrinks: the verdicts, not the run.
/// A run's full trace is what properties read, and it can be gigabytes (a 100 s queueing
/// scenario's is hundreds of megabytes); kept for every case, memory grew with `--cases`.
/// The one case that becomes a counterexample is run again with its trace kept (the run is a
/// pure function of scenario, schedule and seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseVerdicts {
    pub seed: u64,
    pub schedule: Schedule,
    pub verdicts: Vec<Verdict>,
    pub trace_hash: String,
}

impl CaseVerdicts {
    #[must_use]
    pub fn failed(&self) -> bool {
        self.verdicts.iter().any(Verdict::failed)
    }
}

/// Runs one case under the default [`Limits`]: see [`run_case_limited`].
///
/// # Errors
/// A module the host rejects, or a limit.
pub fn run_case(
    s: &Scenario,
    files: &ModuleFiles,
    schedule: &Schedule,
    seed: u64,
) -> Result<CaseOutcome, ExploreError> {
    run_case_limited(s, files, schedule, seed, &Limits::DEFAULT)
}

/// Runs one case: the schedule applied to the scenario, and every property. The applied scenario is checked against `limits` before it
/// runs, and each run stops when it goes over its event or trace budget. The run is kept (see
/// [`judge_case_limited`] for the verdicts alone).
///
/// # Errors
/// A module the host rejects, or a limit.
pub fn run_case_limited(
    s: &Scenario,
    files: &ModuleFiles,
    schedule: &Schedule,
    seed: u64,
    limits: &Limits,
) -> Result<CaseOutcome, ExploreError> {
    let (verdicts, run) = run_and_judge(s, files, schedule, seed, limits)?;
    Ok(CaseOutcome {
        seed,
        schedule: schedule.clone(),
        verdicts,
        trace_hash: run.trace_hash.clone(),
        run,
    })
}

/// Runs one case as [`run_case_limited`] does and keeps only its verdicts: the run, and its
/// trace, are dropped as soon as the properties have read them.
///
/// # Errors
/// A module the host rejects, or a limit.
pub fn judge_case_limited(
    s: &Scenario,
    files: &ModuleFiles,
    schedule: &Schedule,
    seed: u64,
    limits: &Limits,
) -> Result<CaseVerdicts, ExploreError> {
    let (verdicts, mut run) = run_and_judge(s, files, schedule, seed, limits)?;
    // The next case on this worker writes its trace into this one's allocation.
    crate::trace::recycle(std::mem::take(&mut run.trace));
    Ok(CaseVerdicts { seed, schedule: schedule.clone(), verdicts, trace_hash: run.trace_hash })
}

/// The case's run (its full trace kept: properties read it) and its verdicts.
fn run_and_judge(
    s: &Scenario,
    files: &ModuleFiles,
    schedule: &Schedule,
    seed: u64,
    limits: &Limits,
) -> Result<(Vec<Verdict>, RunResult), ExploreError> {
    let scenario = schedule.apply(s);
    if let Some(e) = crate::limits::check_scenario(&scenario, limits).into_iter().next() {
        return Err(e.into());
    }
    let run_one = |sc: Scenario| -> Result<RunResult, ExploreError> {
        let runtime = build_runtime(&sc, files)?;
        let mut o = RunOptions::new(seed);
        o.trace = TraceMode::Full;
        // Properties are judged once faults heal and traffic stops: run on past the last fault's
        // end, then for the convergence bound.
        let faults_end_s = sc
            .faults
            .iter()
            .map(|f| match f.kind {
                FaultKind::Crash { restart_after_s } => f.at_s + restart_after_s.unwrap_or(0.0),
                _ => f.at_s + f.duration_s.unwrap_or(0.0),
            })
            .fold(0.0_f64, f64::max);
        let duration_s = sc.workload.as_ref().map_or(0.0, |w| w.duration_s);
        // …and long enough for the last request to be answered or timed out by the gateway, so
        // that "no loss" judges finished requests only (capped at an hour of simulated time).
        let timeout_s = sc.gateway.as_ref().map_or(5.0, |g| g.timeout_ms / 1e3);
        let settle_s = ((faults_end_s - duration_s).max(0.0)
            + (sc.quality.convergence_ms / 1e3).max(timeout_s).max(1.0))
        .min(3600.0);
        o.drain_nanos = crate::time::secs_to_nanos(settle_s);
        let mut sim = Sim::new(sc, Box::new(runtime), &o);
        Budget::new(limits).run_to_end(&mut sim)?;
        Ok(sim.finish())
    };
    let run = run_one(scenario.clone())?;
    let mut verdicts = properties::check(&scenario, &run);
    verdicts.extend(properties::wasm::check(&scenario, files, &run));
    // The SLOs are judged on the declared workload only: a generated case's verdicts leave
    // them out, and the summary reports them as skipped there, with `SLO_SKIPPED_WHY`.
    if !schedule.declared {
        verdicts.retain(|v| v.id != "slo");
    }
    Ok((verdicts, run))
}

/// What exploration found.
#[derive(Debug)]
pub struct Exploration {
    pub cases: usize,
    /// Cases in which some property failed.
    pub failing: usize,
    /// The minimal failing case, if any, and how many runs shrinking it took.
    pub counterexample: Option<(CaseOutcome, usize)>,
    /// How the counterexample was shrunk: from which case, and whether the budget stopped it.
    pub shrinking: Option<Shrinking>,
    /// The declared scenario's verdicts (case 0).
    pub declared: Vec<Verdict>,
    /// Every property over every case, in [`properties::PROPERTIES`] order: the verdict to
    /// report (failed if it failed in any case).
    pub summary: Vec<PropertySummary>,
}

/// Explores under the default [`Limits`], shrinking without a time budget: see
/// [`explore_limited`].
///
/// # Errors
/// A module the host rejects, or a limit.
pub fn explore(
    s: &Scenario,
    files: &ModuleFiles,
    cases: usize,
    seed: u64,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Exploration, ExploreError> {
    explore_limited(s, files, cases, seed, &Limits::DEFAULT, &|| true, progress)
}

/// The schedules of `cases` cases from `seed`: the declared scenario, then generated ones.
#[must_use]
pub fn case_schedules(s: &Scenario, cases: usize, seed: u64) -> Vec<Schedule> {
    let strategy = schedules(s);
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner =
        TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &key));
    let mut out = vec![Schedule::declared(s)];
    for _ in 1..cases.max(1) {
        match strategy.new_tree(&mut runner) {
            Ok(t) => out.push(t.current()),
            Err(_) => break,
        }
    }
    out
}

/// Runs case `index` of the exploration of `cases` cases from `seed` again, keeping its run:
/// the case a property failed in, as explored (not shrunk), for its own replay file when the
/// counterexample was shrunk for another property. `None` when there is no such case.
///
/// # Errors
/// A module the host rejects, or a limit.
pub fn rerun_case(
    s: &Scenario,
    files: &ModuleFiles,
    (cases, seed): (usize, u64),
    index: usize,
    limits: &Limits,
) -> Result<Option<CaseOutcome>, ExploreError> {
    if index >= cases {
        return Ok(None);
    }
    // The schedules are drawn in case order: the first `index + 1` are those of any longer run.
    let schedules = case_schedules(s, index + 1, seed);
    let Some(schedule) = schedules.get(index) else { return Ok(None) };
    run_case_limited(s, files, schedule, seed.wrapping_add(index as u64), limits).map(Some)
}

/// A deterministic slice of an exploration's cases, for running one exploration as several
/// processes (a batch engine's array job): case `i` belongs to shard `i mod count`. Every shard
/// derives the same schedules from the seed and runs only its own; [`conclude`] on all their
/// verdicts gives what one process would have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// From 0.
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Every case: one process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` (`0 ≤ I < N`, 0-based as Kubernetes' `JOB_COMPLETION_INDEX`).
    ///
    /// # Errors
    /// The text is not `I/N` with `I < N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}` is not a shard: expected I/N with 0 ≤ I < N (e.g. 0/4)");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether case `case` is this shard's.
    #[must_use]
    pub fn owns(self, case: usize) -> bool {
        case % self.count == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Explores `cases` cases (the declared scenario first) from `seed`, in parallel; judges every
/// property in every case; shrinks the first failing case while `keep_shrinking()` says so (the
/// caller's wall-time budget: `sim` has no clock; see [`shrink`]). `progress(done, failing)` is
/// called as cases finish. The number of cases and every case are held to `limits`.
///
/// # Errors
/// A module the host rejects, or a limit.
pub fn explore_limited(
    s: &Scenario,
    files: &ModuleFiles,
    cases: usize,
    seed: u64,
    limits: &Limits,
    keep_shrinking: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Exploration, ExploreError> {
    let outcomes = judge_cases(s, files, cases, seed, limits, Shard::WHOLE, progress)?;
    let outcomes: Vec<CaseVerdicts> = outcomes.into_iter().map(|(_, c)| c).collect();
    conclude(s, files, &outcomes, limits, keep_shrinking)
}

/// Judges the cases of `shard` among `cases` cases from `seed`, in parallel: each with its
/// case number, in case order. `progress(done, failing)` counts this shard's cases.
///
/// # Errors
/// A module the host rejects, or a limit.
pub fn judge_cases(
    s: &Scenario,
    files: &ModuleFiles,
    cases: usize,
    seed: u64,
    limits: &Limits,
    shard: Shard,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<(usize, CaseVerdicts)>, ExploreError> {
    crate::limits::check_cases(cases, limits)?;
    let schedules = case_schedules(s, cases, seed);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let failing = std::sync::atomic::AtomicUsize::new(0);
    let mine: Vec<(usize, &Schedule)> =
        schedules.iter().enumerate().filter(|(i, _)| shard.owns(*i)).collect();
    // Each case is judged as it finishes and only its verdicts are kept: memory stays that of
    // the cases running at once, whatever the number of cases.
    let outcomes: Vec<Result<(usize, CaseVerdicts), ExploreError>> = mine
        .par_iter()
        .map(|&(i, sched)| {
            let out = judge_case_limited(s, files, sched, seed.wrapping_add(i as u64), limits);
            if out.as_ref().is_ok_and(CaseVerdicts::failed) {
                failing.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(n, failing.load(std::sync::atomic::Ordering::Relaxed));
            out.map(|c| (i, c))
        })
        .collect();
    outcomes.into_iter().collect()
}

/// What every case's verdicts (`outcomes`, in case order from case 0) add up to: the summary
/// of each property, and the first failing case shrunk while `keep_shrinking()` says so.
///
/// # Errors
/// A module the host rejects, or a limit.
pub fn conclude(
    s: &Scenario,
    files: &ModuleFiles,
    outcomes: &[CaseVerdicts],
    limits: &Limits,
    keep_shrinking: &(dyn Fn() -> bool + Sync),
) -> Result<Exploration, ExploreError> {
    let failing_count = outcomes.iter().filter(|o| o.failed()).count();
    let declared = outcomes.first().map(|o| o.verdicts.clone()).unwrap_or_default();
    let mut summary = summarise(&properties::catalogue(s), outcomes);
    let first = outcomes.iter().position(CaseVerdicts::failed);
    let (counterexample, shrinking) = match first {
        None => (None, None),
        Some(i) => {
            let (best, shrinking) =
                shrink::shrink(s, files, limits, i, outcomes[i].clone(), keep_shrinking)?;
            let case = recorded(s, files, limits, &best)?;
            let runs = shrinking.runs;
            (Some((case, runs)), Some(shrinking))
        }
    };
    // A property the counterexample still fails is shown with the counterexample's findings
    // (shrunk: fewer faults, shorter): that is the case its replay file reproduces.
    if let Some((case, _)) = &counterexample {
        for p in &mut summary {
            if let Some(v) = case.verdicts.iter().find(|v| v.id == p.id && v.failed()) {
                p.shown = v.clone();
                p.shown_from_counterexample = true;
            }
        }
    }
    Ok(Exploration {
        cases: outcomes.len(),
        failing: failing_count,
        counterexample,
        shrinking,
        declared,
        summary,
    })
}

/// The counterexample's case run again with its trace kept, for its replay file and story.
/// Runs are deterministic, so it is the run that was judged: same verdicts, same trace hash.
fn recorded(
    s: &Scenario,
    files: &ModuleFiles,
    limits: &Limits,
    best: &CaseVerdicts,
) -> Result<CaseOutcome, ExploreError> {
    let out = run_case_limited(s, files, &best.schedule, best.seed, limits)?;
    debug_assert_eq!(&out.judged(), best, "a case run twice gave different runs");
    Ok(out)
}
