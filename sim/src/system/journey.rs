//! User journeys: one client's sequence of requests, each step sent through the gateway like
//! any client request (so every property judges it), the next one after the answer and the
//! step's think time, its body free to use fields of earlier answers.
//!
//! A journey instance lives from its start to its end: it ends *completed* after its last
//! step's answer, or *failed* at the step whose answer its `stop_on` refuses (a timeout, a
//! rejection, an error) or whose body refers to a field an earlier answer lacks. Instances
//! started before the workload's end go on after it (a user half-way through a checkout
//! finishes it); those still open when the run ends are counted as unfinished. In a closed
//! loop the user runs its journey to the end, then thinks.
//!
//! Everything is kept in ordered maps keyed by instance and request id, and every draw comes
//! from the workload's stream, so a run stays a pure function of (scenario, modules, seed).

use std::collections::BTreeMap;

use fusebench_model::scenario::{Journey, StopOn};
use serde_json::Value as Json;

use super::Sim;
use super::event::Event;
use super::ids::{EndpointId, ReqId, ServiceId};
use super::template::Body;
use super::world::{World, WorldError};
use crate::metrics::Outcome;
use crate::time::{SimTime, millis_to_nanos};
use crate::trace::TraceEvent;

/// A journey, resolved.
#[derive(Debug)]
pub(crate) struct JourneySpec {
    pub(crate) name: String,
    pub(crate) weight: f64,
    pub(crate) steps: Vec<StepSpec>,
}

#[derive(Debug)]
pub(crate) struct StepSpec {
    pub(crate) name: String,
    pub(crate) service: ServiceId,
    pub(crate) endpoint: EndpointId,
    pub(crate) body: Body,
    /// Think time before the step, ns.
    pub(crate) think: u64,
    pub(crate) stop_on: StopOn,
}

impl JourneySpec {
    /// Resolves `j`; `resolve` turns a (service, endpoint) name pair into ids.
    pub(crate) fn new(
        j: &Journey,
        mut resolve: impl FnMut(&str, &str) -> Result<(ServiceId, EndpointId), WorldError>,
    ) -> Result<Self, WorldError> {
        let names: Vec<String> = j.steps.iter().map(|s| s.name.clone()).collect();
        let mut steps = Vec::with_capacity(j.steps.len());
        for s in &j.steps {
            let (service, endpoint) = resolve(&s.service.name, &s.endpoint.name)?;
            steps.push(StepSpec {
                name: s.name.clone(),
                service,
                endpoint,
                body: Body::parse_in(&s.body, &names),
                think: millis_to_nanos(s.think_ms),
                stop_on: s.stop_on,
            });
        }
        Ok(JourneySpec { name: j.name.clone(), weight: j.weight, steps })
    }
}

/// How one journey's instances went in a run (the report's journey table is built from it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JourneyStats {
    pub started: u64,
    pub completed: u64,
    /// Per step, in declaration order: (step name, instances that failed at it).
    pub failed_at: Vec<(String, u64)>,
    /// Started and not ended when the run stopped.
    pub unfinished: u64,
    /// End-to-end latency of every completed instance, ns, in completion order.
    pub latencies_ns: Vec<u64>,
}

impl JourneyStats {
    /// Instances that ended failed, at any step.
    #[must_use]
    pub fn failed(&self) -> u64 {
        self.failed_at.iter().map(|(_, n)| n).sum()
    }
}

/// One journey in progress.
#[derive(Debug)]
struct Instance {
    journey: usize,
    /// The closed-loop user running it, told when it ends.
    user: Option<u32>,
    /// The step sent or about to be sent.
    step: usize,
    started: SimTime,
    /// The answers of the steps done, by step index.
    answers: Vec<Json>,
}

#[derive(Debug, Default)]
pub(crate) struct Journeys {
    /// The last instance id given (ids count from 1).
    ids: u64,
    live: BTreeMap<u64, Instance>,
    /// The step request each instance waits for.
    by_req: BTreeMap<ReqId, u64>,
    /// By journey index; sized on first use.
    tallies: Vec<JourneyStats>,
}

impl Journeys {
    /// Every declared journey's figures, by name, the ones still open counted as unfinished.
    pub(crate) fn stats(&self, world: &World) -> BTreeMap<String, JourneyStats> {
        let Some(w) = &world.workload else { return BTreeMap::new() };
        w.journeys
            .iter()
            .enumerate()
            .map(|(i, j)| {
                let mut s = self.tallies.get(i).cloned().unwrap_or_else(|| Self::empty(j));
                s.unfinished = self.live.values().filter(|x| x.journey == i).count() as u64;
                (j.name.clone(), s)
            })
            .collect()
    }

    fn empty(j: &JourneySpec) -> JourneyStats {
        JourneyStats {
            failed_at: j.steps.iter().map(|s| (s.name.clone(), 0)).collect(),
            ..JourneyStats::default()
        }
    }
}

/// Why an answer ends a journey, if it does.
fn stops(stop_on: StopOn, outcome: Outcome) -> bool {
    match stop_on {
        StopOn::AnyError => outcome != Outcome::Ok,
        StopOn::Unexpected => !outcome.is_success(),
    }
}

impl Sim {
    /// A client starts journey `journey` (an index into the workload's journeys).
    pub(crate) fn start_journey(&mut self, journey: usize, user: Option<u32>) {
        let Some(w) = &self.world.workload else { return };
        let spec = &w.journeys[journey];
        if self.journeys.tallies.len() < w.journeys.len() {
            self.journeys.tallies = w.journeys.iter().map(Journeys::empty).collect();
        }
        self.journeys.ids += 1;
        let id = self.journeys.ids;
        let now = self.q.now();
        self.trace.emit(now, &TraceEvent::JourneyStart { journey: &spec.name, id });
        self.journeys.tallies[journey].started += 1;
        let instance = Instance { journey, user, step: 0, started: now, answers: Vec::new() };
        self.journeys.live.insert(id, instance);
        self.journey_think(id);
    }

    /// The instance thinks before its current step, then sends it.
    fn journey_think(&mut self, id: u64) {
        let Some(w) = &self.world.workload else { return };
        let Some(inst) = self.journeys.live.get(&id) else { return };
        let think = w.journeys[inst.journey].steps[inst.step].think;
        if think == 0 {
            self.send_journey_step(id);
        } else {
            self.q.after(think, Event::JourneyNext(id));
        }
    }

    pub(crate) fn on_journey_next(&mut self, id: u64) {
        self.send_journey_step(id);
    }

    fn send_journey_step(&mut self, id: u64) {
        let Some(w) = &self.world.workload else { return };
        let Some(inst) = self.journeys.live.get(&id) else { return };
        let step = &w.journeys[inst.journey].steps[inst.step];
        let mut r = self.load.renderer(&mut self.rng_workload, self.seed, &inst.answers);
        let body = r.body(&step.body);
        if let Some(missing) = r.missing {
            let why = format!("step `{}`: {missing}", step.name);
            self.end_journey(id, Some(&why));
            return;
        }
        let (service, endpoint) = (step.service, step.endpoint);
        let text = serde_json::to_string(&body).unwrap_or_default();
        let req = self.send_request(service, endpoint, text, None);
        self.journeys.by_req.insert(req, id);
        let Some(w) = &self.world.workload else { return };
        let Some(inst) = self.journeys.live.get(&id) else { return };
        let name = &w.journeys[inst.journey].steps[inst.step].name;
        let step = u32::try_from(inst.step).unwrap_or(u32::MAX);
        let now = self.q.now();
        self.trace.emit(now, &TraceEvent::JourneyStep { id, step, name, req: req.0 });
    }

    /// A client request was answered (response or timeout): if a journey waits for it, the
    /// journey goes on to its next step, completes, or fails here.
    pub(crate) fn journey_answered(&mut self, req: ReqId, outcome: Outcome, body: &[u8]) {
        let Some(id) = self.journeys.by_req.remove(&req) else { return };
        let Some(w) = &self.world.workload else { return };
        let Some(inst) = self.journeys.live.get_mut(&id) else { return };
        let steps = &w.journeys[inst.journey].steps;
        if stops(steps[inst.step].stop_on, outcome) {
            let why = format!("step `{}`: answer {}", steps[inst.step].name, outcome.name());
            self.end_journey(id, Some(&why));
            return;
        }
        // A timeout has no body; an answer whose body is not JSON has no fields: later
        // references to it fail with a clear reason.
        let answer = serde_json::from_slice(body).unwrap_or(Json::Null);
        inst.answers.push(answer);
        inst.step += 1;
        if inst.step == steps.len() {
            self.end_journey(id, None);
        } else {
            self.journey_think(id);
        }
    }

    /// Ends instance `id`: completed (`failure` none) or failed at its current step.
    fn end_journey(&mut self, id: u64, failure: Option<&str>) {
        let Some(inst) = self.journeys.live.remove(&id) else { return };
        let Some(w) = &self.world.workload else { return };
        let spec = &w.journeys[inst.journey];
        let now = self.q.now();
        let latency = now - inst.started;
        let tally = &mut self.journeys.tallies[inst.journey];
        let step = inst.step.min(spec.steps.len() - 1);
        match failure {
            None => {
                tally.completed += 1;
                tally.latencies_ns.push(latency);
            }
            Some(_) => tally.failed_at[step].1 += 1,
        }
        self.trace.emit(
            now,
            &TraceEvent::JourneyEnd {
                journey: &spec.name,
                id,
                outcome: if failure.is_some() { "failed" } else { "completed" },
                step: &spec.steps[step].name,
                steps: u32::try_from(inst.answers.len()).unwrap_or(u32::MAX),
                latency_ns: latency,
                reason: failure.unwrap_or(""),
            },
        );
        if let Some(user) = inst.user {
            self.user_done(user);
        }
    }
}

#[cfg(test)]
mod tests;
