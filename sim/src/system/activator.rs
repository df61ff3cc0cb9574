//! Scale to zero (`[service.autoscale]` with `min_replicas = 0`), with the semantics of
//! Knative Serving's autoscaler and activator (`knative.dev/serving`, `pkg/activator`,
//! `pkg/autoscaler`):
//!
//! - The autoscaler may take the last replica away only when the service has had no request
//!   for `scale_to_zero_grace_s` (Knative's `scale-to-zero-grace-period`), holds none, and its
//!   activator buffers none; until then the last replica stays (`scale` reason
//!   `scale-to-zero grace`).
//! - A request for which no discovered replica exists goes to the activator. If a replica is
//!   ready (a caller's discovery cache had not seen it yet), the activator proxies the request
//!   to it at once. Otherwise it buffers it — at most `activator_capacity` requests (one more
//!   is refused: `overflow`, answered `rejected`) — and, if the service has no replica at all,
//!   scales it from zero to one at once (the activator's poke: Knative's activator reports the
//!   buffered concurrency so the autoscaler scales up without waiting for its next tick;
//!   `scale` reason `activator`).
//! - When a replica becomes ready the buffer is released in arrival order to the ready
//!   replicas with room (concurrency plus queue), fewest outstanding first; what finds no room
//!   waits for the next freed slot. `released` records how long each request waited: the
//!   latency the cold start added.
//! - A request buffered `activator_timeout_s` fails (`timeout`, answered `timeout`); one whose
//!   caller gave up meanwhile is dropped at release (`timeout`, nobody waits for an answer).
//! - A request that reaches a replica no longer running (a stale discovery cache during a
//!   scale down) is handed back to the activator rather than refused.
//!
//! Every action is traced (`activator`), so the cold-start latency per endpoint is a sum over
//! the trace.

use std::collections::{BTreeMap, VecDeque};

use super::Sim;
use super::balancer::Caller;
use super::event::Event;
use super::ids::{NodeId, ReplicaIdx, ReqId, ServiceId};
use super::replica::Health;
use super::requests::Stage;
use super::world::ZeroSpec;
use crate::metrics::Outcome;
use crate::time::SimTime;
use crate::trace::TraceEvent;

/// A request waiting in the activator.
#[derive(Debug, Clone, Copy)]
struct Buffered {
    req: ReqId,
    from: NodeId,
    caller: Caller,
    since: SimTime,
    /// When its caller gives up on it.
    deadline: SimTime,
    retry: bool,
}

/// One scale-to-zero service's activator.
#[derive(Debug, Default)]
pub(crate) struct Activator {
    buffer: VecDeque<Buffered>,
    /// When the service last got a request (what the grace period counts from).
    pub(crate) last_request: Option<SimTime>,
    /// Released requests still travelling, and the replica each goes to: they count towards
    /// that replica's room until they arrive.
    in_transit: BTreeMap<ReqId, ReplicaIdx>,
}

impl Activator {
    pub(crate) fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }
}

impl Sim {
    fn zero_spec(&self, service: ServiceId) -> Option<ZeroSpec> {
        self.world.service(service).autoscale.as_ref().and_then(|a| a.zero)
    }

    fn trace_activator(&mut self, req: ReqId, service: ServiceId, action: &str, waited: u64) {
        let now = self.q.now();
        let spec = self.world.service(service);
        let endpoint = spec.endpoint(self.requests.live(req).endpoint).name.as_str();
        let buffered = self.activators[service.index()].buffer.len() as u32;
        let e = TraceEvent::Activator {
            req: req.0,
            service: spec.name.as_str(),
            endpoint,
            action,
            waited_ns: waited,
            buffered,
        };
        self.trace.emit(now, &e);
    }

    /// Takes `req` (from `caller` on node `from`, who waits `patience` more nanoseconds) into
    /// the activator of its scale-to-zero service. False when the buffer is full (the caller
    /// treats it as no replica available).
    pub(crate) fn activate(
        &mut self,
        req: ReqId,
        from: NodeId,
        caller: Caller,
        patience: u64,
        retry: bool,
    ) -> bool {
        let now = self.q.now();
        let service = self.requests.live(req).service;
        let Some(zero) = self.zero_spec(service) else { return false };
        if let Some(replica) = self.replica_with_room(service) {
            return self.send_to_replica(req, from, caller, patience, retry, replica);
        }
        if self.activators[service.index()].buffer.len() >= zero.capacity {
            self.trace_activator(req, service, "overflow", 0);
            let name = &self.world.service(service).endpoint(self.requests.live(req).endpoint).name;
            self.rec.cold_waits(service, name).overflow += 1;
            return false;
        }
        let deadline = now + patience;
        let b = Buffered { req, from, caller, since: now, deadline, retry };
        self.activators[service.index()].buffer.push_back(b);
        self.requests.set_stage(req, Stage::Outbound);
        self.trace_activator(req, service, "buffered", 0);
        self.q.after(zero.timeout, Event::ActivatorTimeout { service, req });
        self.poke(service);
        true
    }

    /// The activator's poke: a service with no replica at all scales to one at once.
    fn poke(&mut self, service: ServiceId) {
        let now = self.q.now();
        let wanted = self.services[service.index()]
            .replicas
            .iter()
            .any(|r| !matches!(r.health, Health::Off | Health::Draining));
        if wanted {
            return; // one is on its way (pending, starting) or crashed and restarting
        }
        let Some(metric) = self.world.service(service).autoscale.as_ref().map(|a| a.metric) else {
            return;
        };
        if let Some(scaler) = self.autoscalers[service.index()].as_mut() {
            scaler.note_change(now, 1);
        }
        let buffered = self.activators[service.index()].buffer.len() as u64;
        let name = &self.world.service(service).name;
        self.trace.emit(
            now,
            &TraceEvent::Scale {
                service: name,
                from: 0,
                to: 1,
                metric: metric.name(),
                value_milli: buffered * 1000,
                desired: 1,
                reason: "activator",
            },
        );
        self.scale_up(service, 1);
    }

    /// The ready replica with room for one more request (running plus queued below
    /// concurrency plus queue capacity) holding the fewest, the lowest position on a tie.
    fn replica_with_room(&self, service: ServiceId) -> Option<ReplicaIdx> {
        let spec = self.world.service(service);
        let room = spec.concurrency as usize + spec.queue_capacity;
        let in_transit = &self.activators[service.index()].in_transit;
        let held = |i: usize| {
            self.services[service.index()].replicas[i].outstanding()
                + in_transit.values().filter(|&&r| r as usize == i).count()
        };
        self.services[service.index()]
            .replicas
            .iter()
            .enumerate()
            .filter(|&(i, r)| r.health == Health::Up && held(i) < room)
            .min_by_key(|&(i, _)| (held(i), i))
            .map(|(i, _)| i as ReplicaIdx)
    }

    /// Releases buffered requests, in arrival order, to ready replicas with room.
    pub(crate) fn release_buffered(&mut self, service: ServiceId) {
        let now = self.q.now();
        while let Some(&b) = self.activators[service.index()].buffer.front() {
            if b.deadline <= now {
                // Its caller gave up: nobody waits for an answer.
                self.activators[service.index()].buffer.pop_front();
                self.trace_activator(b.req, service, "timeout", now - b.since);
                let endpoint = self.requests.live(b.req).endpoint;
                let name = &self.world.service(service).endpoint(endpoint).name;
                self.rec.cold_waits(service, name).timeout += 1;
                self.requests.settle(b.req);
                continue;
            }
            let Some(replica) = self.replica_with_room(service) else { return };
            self.activators[service.index()].buffer.pop_front();
            self.trace_activator(b.req, service, "released", now - b.since);
            let endpoint = self.requests.live(b.req).endpoint;
            let name = &self.world.service(service).endpoint(endpoint).name;
            self.rec.cold_waits(service, name).released(now - b.since);
            self.activators[service.index()].in_transit.insert(b.req, replica);
            let patience = b.deadline - now;
            self.send_to_replica(b.req, b.from, b.caller, patience, b.retry, replica);
        }
    }

    /// A buffered request waited `activator_timeout_s`: it fails with a timeout.
    pub(crate) fn on_activator_timeout(&mut self, service: ServiceId, req: ReqId) {
        let now = self.q.now();
        let buffer = &mut self.activators[service.index()].buffer;
        let Some(at) = buffer.iter().position(|b| b.req == req) else { return };
        let b = buffer.remove(at).expect("found just now");
        self.trace_activator(req, service, "timeout", now - b.since);
        let name = &self.world.service(service).endpoint(self.requests.live(req).endpoint).name;
        self.rec.cold_waits(service, name).timeout += 1;
        self.respond(req, service, Outcome::Timeout, Vec::new());
    }

    /// A request the activator released reached its replica.
    pub(crate) fn activator_arrived(&mut self, service: ServiceId, req: ReqId) {
        if let Some(a) = self.activators.get_mut(service.index()) {
            a.in_transit.remove(&req);
        }
    }

    /// A request reached `replica`, which no longer runs (scaled down, or not started): the
    /// activator takes it back. False for services that do not scale to zero.
    pub(crate) fn back_to_activator(&mut self, req: ReqId, service: ServiceId) -> bool {
        if self.zero_spec(service).is_none() {
            return false;
        }
        let now = self.q.now();
        let node = self.world.service(service).node;
        let (caller, deadline, retry) =
            self.take_waiting(req).unwrap_or((Caller::Gateway, now + 1, false));
        let patience = deadline.nanos().saturating_sub(now.nanos()).max(1);
        if !self.activate(req, node, caller, patience, retry) {
            self.respond(req, service, Outcome::Rejected, Vec::new());
        }
        true
    }

    /// Whether the autoscaler must keep the last replica: a request came within the grace
    /// period, or one is held by a replica or the activator.
    pub(crate) fn within_grace(&self, service: ServiceId, now: SimTime) -> bool {
        let Some(zero) = self.zero_spec(service) else { return true };
        let a = &self.activators[service.index()];
        let recent = a.last_request.is_some_and(|t| now - t < zero.grace);
        let held = self.services[service.index()].replicas.iter().any(|r| r.outstanding() > 0);
        recent || held || !a.is_empty()
    }
}
