//! Resource limits: what one run (or one exploration) may cost, checked before it starts and
//! watched while it runs.
//!
//! The parser's ranges say what a scenario may *mean*; they do not say what a machine can
//! afford: `rate_rps = 1e6` for 60 s, a million closed-loop users, a store with 1 000 replicas or
//! `retries = 100` on a deep call chain are each valid and each take gigabytes. A run that dies
//! of memory exhaustion reports nothing, so every cost that grows with a scenario's numbers is
//! bounded here, in one place: [`check_scenario`] refuses a scenario whose *expected* cost is
//! over a limit before anything runs (naming the field, its file and line, and the limit), and
//! [`Budget`] stops a run that nears its event or trace budget while running — a clear error
//! instead of the kernel's OOM killer. `Limits::off()` (the CLI's `--limits-off`) lifts them
//! deliberately.
//!
//! Defaults leave room: the largest shipped scenario expects about 100 000 requests, ten times
//! below [`Limits::DEFAULT`]'s request limit.

use fusebench_model::scenario::{Arrival, Workload};
use fusebench_model::{Location, Scenario};

use crate::Sim;
use crate::time::SimTime;

/// The limits of one run and of one exploration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Client requests a run is expected to send: the arrival rate integrated over the
    /// workload's duration (open loop).
    pub requests_max: f64,
    /// Closed-loop users (each is a live client with its own state and timer).
    pub users_max: u64,
    /// Replicas of one store (every write is replicated to each).
    pub store_replicas_max: u64,
    /// Expected requests × the worst-case attempts one request can cause (each call on a
    /// chain tried `1 + retries` times, multiplied along the chain).
    pub attempts_max: f64,
    /// Events processed by one run.
    pub events_max: u64,
    /// Bytes of trace kept in memory by one run (when the full trace is kept: the runs of
    /// `check` and `replay`, whose properties read it; `run --out` streams it to its file).
    pub trace_bytes_max: u64,
    /// Explored cases of one `check`.
    pub cases_max: usize,
    /// Faults in one replay file's schedule (exploration adds at most 4).
    pub schedule_faults_max: usize,
}

impl Limits {
    /// The limits every command applies unless told otherwise.
    pub const DEFAULT: Limits = Limits {
        requests_max: 1e6,
        users_max: 10_000,
        store_replicas_max: 100,
        attempts_max: 1e7,
        events_max: 100_000_000,
        trace_bytes_max: 512 << 20,
        cases_max: 10_000,
        schedule_faults_max: 64,
    };

    /// No limit at all: the machine's memory and the user's patience are the bounds.
    #[must_use]
    pub fn off() -> Self {
        Limits {
            requests_max: f64::INFINITY,
            users_max: u64::MAX,
            store_replicas_max: u64::MAX,
            attempts_max: f64::INFINITY,
            events_max: u64::MAX,
            trace_bytes_max: u64::MAX,
            cases_max: usize::MAX,
            schedule_faults_max: usize::MAX,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// How to lift the limits, appended to every message.
pub const HOW_TO_LIFT: &str = "pass --limits-off to lift the resource limits deliberately";

/// A limit a scenario, a replay file or a run went over (boxed: it travels in `Result`s of
/// every run, and its message parts are large).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(transparent)]
pub struct LimitError(Box<Exceeded>);

impl LimitError {
    /// Which limit, and by how much.
    #[must_use]
    pub fn exceeded(&self) -> &Exceeded {
        &self.0
    }
}

impl From<Exceeded> for LimitError {
    fn from(e: Exceeded) -> Self {
        LimitError(Box::new(e))
    }
}

/// Which limit was gone over, and by how much.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Exceeded {
    /// Checked before the run: a value whose expected cost is over a limit.
    #[error("{}{field} = {value}: {what} would be {cost}, over the limit of {limit}; {HOW_TO_LIFT}", .at.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
    Field {
        /// Where the value is written, when it comes from a scenario file.
        at: Option<Location>,
        field: String,
        value: String,
        what: &'static str,
        cost: String,
        limit: String,
    },
    /// Checked while running: the run was stopped before it could exhaust memory.
    #[error(
        "the run was stopped at t = {at_s:.3} s (simulated): {what} reached {reached}, over the limit of {limit}; {HOW_TO_LIFT}"
    )]
    Run { what: &'static str, reached: u64, limit: u64, at_s: f64 },
}

/// The client requests `w` is expected to send (open loop); `None` for a closed loop, whose
/// count depends on latencies (its users are limited instead, and its events while running).
/// An arrival that starts a journey sends one request per step: arrivals are weighted by the
/// mean number of requests an arrival sends.
#[must_use]
pub fn expected_requests(w: &Workload) -> Option<f64> {
    Some(expected_arrivals(w)? * requests_per_arrival(w))
}

/// The mean client requests one arrival sends: 1 for a mix entry, a journey's step count for a
/// journey, weighted as arrivals pick them.
fn requests_per_arrival(w: &Workload) -> f64 {
    let mix: f64 = w.mix.iter().map(|m| m.weight).sum();
    let journeys: f64 = w.journeys.iter().map(|j| j.weight).sum();
    let steps: f64 = w.journeys.iter().map(|j| j.weight * j.steps.len() as f64).sum();
    if mix + journeys > 0.0 { (mix + steps) / (mix + journeys) } else { 1.0 }
}

/// The arrivals `w` is expected to have (open loop).
fn expected_arrivals(w: &Workload) -> Option<f64> {
    let d = w.duration_s;
    match &w.arrival {
        Arrival::Poisson { rate_rps } | Arrival::Constant { rate_rps } => Some(rate_rps * d),
        Arrival::OnOff { rate_rps, on_s, off_s } => {
            let period = on_s + off_s;
            let on = if period > 0.0 {
                let full = (d / period).floor();
                full * on_s + (d - full * period).min(*on_s)
            } else {
                d
            };
            Some(rate_rps * on)
        }
        Arrival::Schedule { steps } => {
            let mut steps = steps.clone();
            steps.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
            let mut total = 0.0;
            for (i, st) in steps.iter().enumerate() {
                let until = steps.get(i + 1).map_or(d, |n| n.at_s).min(d);
                total += st.rate_rps * (until - st.at_s).max(0.0);
            }
            Some(total)
        }
        Arrival::Closed { .. } => None,
    }
}

/// The worst-case attempts one request to `service` causes, itself included: each call is
/// tried `1 + retries` times, and each attempt causes the callee's own attempts. A cycle (its
/// own static check reports it) counts its services once.
#[must_use]
pub fn attempts_per_request(s: &Scenario, service: &str) -> f64 {
    fn go(s: &Scenario, service: &str, stack: &mut Vec<String>) -> f64 {
        let Some(svc) = s.service(service) else { return 1.0 };
        if stack.iter().any(|x| x == service) || stack.len() > 64 {
            return 1.0;
        }
        stack.push(service.to_owned());
        let mut n = 1.0;
        for call in &svc.calls {
            let tries = s.channel(&call.channel.name).map_or(1.0, |c| 1.0 + f64::from(c.retries));
            n += tries * go(s, &call.service.name, stack);
        }
        stack.pop();
        n
    }
    go(s, service, &mut Vec::new())
}

fn show(x: f64) -> String {
    if x.is_finite() && x.abs() < 1e15 && x.fract() == 0.0 {
        format!("{x:.0}")
    } else if x.is_finite() && x.abs() < 1e15 {
        format!("{x:.3}")
    } else {
        format!("{x:e}")
    }
}

/// Every limit `s` goes over before it runs, each naming its field and where it is written.
#[must_use]
pub fn check_scenario(s: &Scenario, limits: &Limits) -> Vec<LimitError> {
    let mut out = Vec::new();
    if let Some(w) = &s.workload {
        let at = |key: &str| {
            s.locate_key(&["workload", "arrival", key])
                .or_else(|| s.locate_key(&["workload", "arrival"]))
                .or_else(|| s.locate_key(&["workload"]))
        };
        match (&w.arrival, expected_requests(w)) {
            (Arrival::Closed { users, .. }, _) if u64::from(*users) > limits.users_max => {
                out.push(
                    Exceeded::Field {
                        at: at("users"),
                        field: "workload.arrival.users".into(),
                        value: users.to_string(),
                        what: "the closed-loop users",
                        cost: users.to_string(),
                        limit: limits.users_max.to_string(),
                    }
                    .into(),
                );
            }
            (_, Some(requests)) => {
                let rate_key = match w.arrival {
                    Arrival::Schedule { .. } => "steps",
                    _ => "rate_rps",
                };
                if requests.is_nan() || requests > limits.requests_max {
                    out.push(
                        Exceeded::Field {
                            at: at(rate_key),
                            field: format!("workload.arrival.{rate_key} × workload.duration_s"),
                            value: format!("{} s of arrivals", show(w.duration_s)),
                            what: "the expected requests",
                            cost: show(requests),
                            limit: show(limits.requests_max),
                        }
                        .into(),
                    );
                } else {
                    // The worst fan-out over the entry points the mix and the journeys' steps
                    // use (a journey's requests are counted in `requests` already).
                    let fan_out = w
                        .mix
                        .iter()
                        .map(|m| &m.service.name)
                        .chain(
                            w.journeys
                                .iter()
                                .flat_map(|j| j.steps.iter().map(|st| &st.service.name)),
                        )
                        .map(|service| attempts_per_request(s, service))
                        .fold(1.0_f64, f64::max);
                    let attempts = requests * fan_out;
                    if attempts.is_nan() || attempts > limits.attempts_max {
                        out.push(Exceeded::Field {
                            at: s.locate_key(&["workload", "duration_s"]).or_else(|| at(rate_key)),
                            field: "requests × attempts per request (channel retries along call chains)"
                                .into(),
                            value: format!("{} × {}", show(requests), show(fan_out)),
                            what: "the worst-case attempts",
                            cost: show(attempts),
                            limit: show(limits.attempts_max),
                        }.into());
                    }
                }
            }
            _ => {}
        }
    }
    for store in &s.stores {
        if u64::from(store.replicas) > limits.store_replicas_max {
            out.push(
                Exceeded::Field {
                    at: Some(s.locate(store.span)),
                    field: format!("store[{}].replicas", store.name),
                    value: store.replicas.to_string(),
                    what: "the store's replicas",
                    cost: store.replicas.to_string(),
                    limit: limits.store_replicas_max.to_string(),
                }
                .into(),
            );
        }
    }
    out
}

/// The cases of one exploration, against [`Limits::cases_max`].
///
/// # Errors
/// Over the limit.
pub fn check_cases(cases: usize, limits: &Limits) -> Result<(), LimitError> {
    if cases > limits.cases_max {
        return Err(Exceeded::Field {
            at: None,
            field: "--cases".into(),
            value: cases.to_string(),
            what: "the explored cases",
            cost: cases.to_string(),
            limit: limits.cases_max.to_string(),
        }
        .into());
    }
    Ok(())
}

/// Events processed between two budget checks: small enough that a run overshoots its budget
/// by little, large enough that checking costs nothing.
const SLICE_EVENTS: u64 = 4096;

/// A run's budget, checked between slices of events (outside the simulator core, which only
/// exposes its counters).
#[derive(Debug, Clone)]
pub struct Budget {
    limits: Limits,
    events: u64,
}

impl Budget {
    #[must_use]
    pub fn new(limits: &Limits) -> Self {
        Budget { limits: *limits, events: 0 }
    }

    /// Events processed so far under this budget.
    #[must_use]
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Runs `sim` up to virtual time `t` (or its end), stopping with an error as soon as the run
    /// is over its event or trace budget.
    ///
    /// # Errors
    /// [`LimitError::Run`] naming the budget.
    pub fn run_until(&mut self, sim: &mut Sim, t: SimTime) -> Result<(), LimitError> {
        loop {
            let n = sim.run_until_bounded(t, SLICE_EVENTS);
            self.events += n;
            self.check(sim)?;
            if n == 0 {
                return Ok(());
            }
        }
    }

    /// Runs `sim` to its end under this budget.
    ///
    /// # Errors
    /// [`LimitError::Run`] naming the budget.
    pub fn run_to_end(&mut self, sim: &mut Sim) -> Result<(), LimitError> {
        self.run_until(sim, sim.end_time())
    }

    fn check(&self, sim: &Sim) -> Result<(), LimitError> {
        let at_s = sim.now().as_secs_f64();
        if self.events > self.limits.events_max {
            return Err(Exceeded::Run {
                what: "the events processed",
                reached: self.events,
                limit: self.limits.events_max,
                at_s,
            }
            .into());
        }
        let bytes = sim.trace_lines().len() as u64;
        if bytes > self.limits.trace_bytes_max {
            return Err(Exceeded::Run {
                what: "the trace kept in memory (bytes)",
                reached: bytes,
                limit: self.limits.trace_bytes_max,
                at_s,
            }
            .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
