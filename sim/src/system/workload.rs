//! The workload: open-loop arrivals (Poisson, constant, on/off, a rate schedule) or closed-loop
//! users with think time; a weighted request mix; request bodies rendered from templates
//! (parsed once, in the [`World`](super::world::World)) with seeded fields.

use fusebench_model::scenario::Arrival;
use serde_json::Value as Json;

use super::Sim;
use super::event::Event;
use super::ids::{EndpointId, ReqId, ServiceId};
use super::payload::Payload;
use super::requests::{ClientState, Origin, Request};
use super::template::Renderer;
use crate::rng::{Seed, SimRng};
use crate::time::{SimTime, millis_to_nanos, secs_to_nanos};

#[derive(Debug, Default)]
pub(crate) struct Load {
    pub(crate) sent: u64,
    pub(crate) answered: u64,
    /// The workload's duration is over: no new requests.
    pub(crate) stopped: bool,
    seq: u64,
    keys: u64,
}

impl Sim {
    pub(crate) fn start_workload(&mut self) {
        let Some(w) = &self.world.workload else {
            self.load.stopped = true;
            return;
        };
        let duration = self.duration;
        self.q.schedule(duration, Event::WorkloadEnd);
        match w.arrival {
            Arrival::Closed { users, think_ms } => {
                for u in 0..users {
                    let think =
                        self.rng_workload.exponential(millis_to_nanos(think_ms) as f64) as u64;
                    self.q.after(think.max(1), Event::UserNext(u));
                }
            }
            _ => {
                if let Some(gap) = self.next_gap(SimTime::ZERO) {
                    self.q.after(gap, Event::Arrival);
                }
            }
        }
    }

    /// Time from `t` to the next open-loop arrival; `None` if there is none before the end.
    fn next_gap(&mut self, t: SimTime) -> Option<u64> {
        let w = self.world.workload.as_ref()?;
        let rng = &mut self.rng_workload;
        let mut exp = |rate: f64| (rng.exponential(1e9 / rate)).max(1.0) as u64;
        let gap = match &w.arrival {
            Arrival::Poisson { rate_rps } => exp(*rate_rps),
            Arrival::Constant { rate_rps } => ((1e9 / rate_rps) as u64).max(1),
            Arrival::OnOff { rate_rps, on_s, off_s } => {
                let period = secs_to_nanos(on_s + off_s).max(1);
                let on = secs_to_nanos(*on_s);
                let candidate = t.nanos() + exp(*rate_rps);
                let phase = candidate % period;
                if phase < on {
                    candidate - t.nanos()
                } else {
                    candidate - phase + period - t.nanos()
                }
            }
            Arrival::Schedule { steps } => {
                let now_s = t.as_secs_f64();
                let current =
                    steps.iter().rev().find(|s| s.at_s <= now_s).map_or(0.0, |s| s.rate_rps);
                if current > 0.0 {
                    exp(current)
                } else {
                    let next = steps.iter().find(|s| s.at_s > now_s && s.rate_rps > 0.0)?;
                    secs_to_nanos(next.at_s) - t.nanos() + exp(next.rate_rps)
                }
            }
            Arrival::Closed { .. } => return None,
        };
        (t + gap < self.duration).then_some(gap)
    }

    pub(crate) fn on_arrival(&mut self) {
        if self.load.stopped {
            return;
        }
        self.send_client_request(None);
        let now = self.q.now();
        if let Some(gap) = self.next_gap(now) {
            self.q.after(gap, Event::Arrival);
        }
    }

    pub(crate) fn on_user_next(&mut self, user: u32) {
        if !self.load.stopped {
            self.send_client_request(Some(user));
        }
    }

    /// A closed-loop user got its answer: it thinks, then sends again.
    pub(crate) fn user_done(&mut self, user: u32) {
        let Some(w) = &self.world.workload else { return };
        if let Arrival::Closed { think_ms, .. } = w.arrival {
            let think = self.rng_workload.exponential(millis_to_nanos(think_ms) as f64) as u64;
            self.q.after(think.max(1), Event::UserNext(user));
        }
    }

    /// An arrival (or a closed-loop user done thinking) picks a mix entry or a journey by
    /// weight: one draw, mix entries first, so a workload without journeys draws as before.
    fn send_client_request(&mut self, user: Option<u32>) {
        let Some(w) = &self.world.workload else { return };
        let entries = w.mix.len() + w.journeys.len();
        if entries == 0 || w.total_weight <= 0.0 {
            return;
        }
        let mut pick = self.rng_workload.unit() * w.total_weight;
        let mut chosen = entries - 1;
        let weights = w.mix.iter().map(|m| m.weight).chain(w.journeys.iter().map(|j| j.weight));
        for (i, weight) in weights.enumerate() {
            if pick < weight {
                chosen = i;
                break;
            }
            pick -= weight;
        }
        if chosen >= w.mix.len() {
            let journey = chosen - w.mix.len();
            self.start_journey(journey, user);
            return;
        }
        let (service, endpoint) = (w.mix[chosen].service, w.mix[chosen].endpoint);
        let bytes = match &w.mix[chosen].fixed {
            Some(fixed) => Payload::Shared(fixed.clone()),
            None => {
                let body = self.render(chosen);
                Payload::from(serde_json::to_string(&body).unwrap_or_default())
            }
        };
        let req = self.send_request(service, endpoint, bytes, user);
        let headers = self.scenario.workload.as_ref().map(|w| &w.mix[chosen].headers);
        if let Some(h) = headers.filter(|h| !h.is_empty()) {
            self.requests.live_mut(req).headers = h.clone();
        }
    }

    /// Sends one client request to the gateway; `user` is the closed-loop user to tell when it
    /// is answered (none for a journey's step: the journey tells its user when it ends).
    pub(crate) fn send_request(
        &mut self,
        service: ServiceId,
        endpoint: EndpointId,
        bytes: impl Into<Payload>,
        user: Option<u32>,
    ) -> ReqId {
        let origin = self.world.workload.as_ref().map_or(self.world.gateway_node, |w| w.origin);
        let now = self.q.now();
        let gw = self.world.gateway_node;
        let req = self.requests.next_id();
        let timer =
            self.q.timer_after_with(self.world.gateway_timeout, || Event::GatewayTimeout(req));
        let state = ClientState::Waiting { timer: Some(timer) };
        let client = Origin::Client { user, node: origin, state };
        self.requests.insert(req, Request::new(service, endpoint, bytes, client, now, gw));
        self.load.sent += 1;
        match self.transit(origin, gw, "request", req.0) {
            Some(d) => {
                self.q.after(d, Event::AtGateway(req));
            }
            None => self.requests.settle(req),
        }
        req
    }

    /// Renders mix entry `entry`'s body: every generator replaced by a seeded value.
    fn render(&mut self, entry: usize) -> Json {
        let Some(w) = self.world.workload.as_ref() else { return Json::Null };
        self.load.renderer(&mut self.rng_workload, self.seed, &[]).body(&w.mix[entry].body)
    }
}

impl Load {
    /// A renderer drawing from the workload's stream `rng` and this load's counters, seeing
    /// `answers` (a journey's answers so far; none for a mix entry).
    pub(crate) fn renderer<'a>(
        &'a mut self,
        rng: &'a mut SimRng,
        seed: Seed,
        answers: &'a [Json],
    ) -> Renderer<'a> {
        Renderer { rng, seq: &mut self.seq, keys: &mut self.keys, seed, answers, missing: None }
    }
}
