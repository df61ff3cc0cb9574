//! Load balancing over the replicas a caller discovered, from the caller's own view — as a
//! client-side balancer (Envoy, gRPC) sees them: it knows only what it sent and what came back.
//!
//! - `round-robin`: the next replica in turn (Envoy `ROUND_ROBIN`);
//! - `random`: a uniformly random replica (Envoy `RANDOM`);
//! - `least-outstanding`: power of two choices over the caller's own requests still awaiting an
//!   answer per replica — two replicas drawn at random *with replacement* (both draws may be the
//!   same replica), the one with fewer wins, a tie goes to the first drawn (Envoy
//!   `LEAST_REQUEST` with equal weights and its default `choice_count` 2).
//!
//! Every policy skips replicas the caller has ejected by **outlier detection** (Envoy's
//! consecutive-5xx detector with its defaults): 5 consecutive failures — a failed answer, or no
//! answer by the time the caller gives up (its call, gateway or ack timeout) — eject the replica
//! for 30 s × the number of times it was ejected; at most 10 % of a service's replicas (at least
//! one) are ejected at once, and when fewer than half of the discovered replicas are left the
//! caller balances over all of them (Envoy's 50 % panic threshold). An ejected replica returns
//! when its ejection time has passed (Envoy checks at its sweep interval; here at the next pick).
//!
//! A mesh proxy's retry avoids the replicas its earlier tries of the same call went to: Istio
//! gives every retry policy Envoy's `previous_hosts` retry host predicate with
//! `host_selection_retry_max_attempts` 5 — the balancer picks again while it picks a
//! previous host, at most 5 more times, then keeps its last pick.
//!
//! Each caller — the gateway, the broker, each calling service — has its own view, as each
//! Envoy proxy does. A replica that crashed is therefore avoided as soon as its callers see it
//! fail, not only once the registry's TTL expires.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use fusebench_model::scenario::LoadBalancing;

use super::Sim;
use super::event::Event;
use super::ids::{NodeId, ReplicaIdx, ReqId, ServiceId, VersionIdx};
use super::idtable::IdTable;
use super::mesh::OutlierSpec;
use super::requests::Origin;
use crate::rng::SimRng;
use crate::time::SimTime;
use crate::trace::TraceEvent;

/// Envoy's consecutive-5xx detector with its defaults (`consecutive_5xx` 5,
/// `base_ejection_time` 30 s, `max_ejection_percent` 10 %), for destinations whose mesh policy
/// sets none.
const ENVOY_OUTLIER: OutlierSpec =
    OutlierSpec { consecutive: 5, base_ejection: 30_000_000_000, max_percent: 10 };

/// How many more picks a retry makes while it picks a replica an earlier try went to:
/// Istio's `host_selection_retry_max_attempts` (Envoy's own default is 1).
const HOST_SELECTION_RETRY_MAX_ATTEMPTS: u32 = 5;

/// Power of two choices as Envoy's `LEAST_REQUEST` draws them: two uniform draws with
/// replacement, the one with fewer `outstanding` wins, a tie goes to the first. Drawing with
/// replacement lets the busier of two replicas win a quarter of the picks (both draws on it) —
/// which is also what lets a retry's host reselection leave the less loaded of two replicas
/// when the retry predicate rejects it. One candidate: no draw.
fn two_choices(
    rng: &mut SimRng,
    candidates: &[ReplicaIdx],
    outstanding: impl Fn(ReplicaIdx) -> u32,
) -> ReplicaIdx {
    let k = candidates.len() as u64;
    if k == 1 {
        return candidates[0];
    }
    let a = candidates[rng.below(k) as usize];
    let b = candidates[rng.below(k) as usize];
    if outstanding(b) < outstanding(a) { b } else { a }
}

/// Who picks a replica: each has its own view of the replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Caller {
    Gateway,
    Broker,
    Service(ServiceId),
}

/// One replica as one caller sees it.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Requests sent to it that the caller still waits for.
    outstanding: u32,
    /// Of those, the retries (a mesh's retry budget counts them).
    retries: u32,
    /// Failures in a row (reset by a success).
    failures: u32,
    /// How many times it was ejected (the ejection time grows with it).
    ejections: u32,
    ejected_until: Option<SimTime>,
}

/// A request the caller waits for: where it counts, and when the caller gives up on it.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    view: (Caller, ServiceId),
    replica: ReplicaIdx,
    deadline: SimTime,
    retry: bool,
}

/// Each caller's view of each service it sent to, by caller then service index (a look-up is
/// two indexings; a `BTreeMap` by `(Caller, ServiceId)` was three searches per request).
#[derive(Debug, Default)]
struct Views {
    /// By [`caller_index`], then by service index; `None` until the caller sends there.
    by_caller: Vec<Vec<Option<Vec<Slot>>>>,
}

/// A caller's row in [`Views`].
fn caller_index(caller: Caller) -> usize {
    match caller {
        Caller::Gateway => 0,
        Caller::Broker => 1,
        Caller::Service(s) => 2 + s.index(),
    }
}

/// The service at index `i` of a row (made from a `ServiceId`'s index: it fits).
fn service_at(i: usize) -> ServiceId {
    ServiceId(u32::try_from(i).expect("a service index fits its id"))
}

impl Views {
    fn get(&self, (caller, service): (Caller, ServiceId)) -> Option<&Vec<Slot>> {
        self.by_caller.get(caller_index(caller))?.get(service.index())?.as_ref()
    }

    fn get_mut(&mut self, (caller, service): (Caller, ServiceId)) -> Option<&mut Vec<Slot>> {
        self.by_caller.get_mut(caller_index(caller))?.get_mut(service.index())?.as_mut()
    }

    /// The view, made with `n` replica slots if the caller had none of the service yet.
    fn or_insert(&mut self, (caller, service): (Caller, ServiceId), n: usize) -> &mut Vec<Slot> {
        let (c, s) = (caller_index(caller), service.index());
        if self.by_caller.len() <= c {
            self.by_caller.resize_with(c + 1, Vec::new);
        }
        let row = &mut self.by_caller[c];
        if row.len() <= s {
            row.resize_with(s + 1, || None);
        }
        row[s].get_or_insert_with(|| vec![Slot::default(); n])
    }

    /// Every view with its (caller, service).
    fn iter(&self) -> impl Iterator<Item = ((Caller, ServiceId), &Vec<Slot>)> {
        self.by_caller.iter().enumerate().flat_map(|(c, row)| {
            let caller = match c {
                0 => Caller::Gateway,
                1 => Caller::Broker,
                _ => Caller::Service(service_at(c - 2)),
            };
            row.iter().enumerate().filter_map(move |(s, slots)| {
                slots.as_ref().map(|slots| ((caller, service_at(s)), slots))
            })
        })
    }
}

#[derive(Debug, Default)]
pub(crate) struct Balancers {
    views: Views,
    /// By request id (a slab: one lookup per answer, benches/README.md "Third round").
    waiting: IdTable<ReqId, Waiting>,
    /// When the callers give up on `waiting`, earliest first: a min-heap whose entries are
    /// not removed when a request is answered (a push per request instead of a `BTreeSet`'s
    /// insert and remove). An entry is live while `waiting` holds its request with its
    /// deadline; the others are skipped when they come to the top, and dropped in one pass
    /// when they outnumber the live ones (memory stays flat in run length).
    deadlines: BinaryHeap<Reverse<(SimTime, ReqId)>>,
    /// [`Sim::pick_replica`]'s candidates, kept between picks.
    candidates: Vec<ReplicaIdx>,
}

impl Balancers {
    /// Outstanding requests (and retries among them) per (caller, service, replica), for the
    /// invariants.
    pub(crate) fn outstanding_consistent(&self) -> bool {
        let mut counted: BTreeMap<((Caller, ServiceId), ReplicaIdx), (u32, u32)> = BTreeMap::new();
        for (_, w) in self.waiting.iter() {
            let c = counted.entry((w.view, w.replica)).or_default();
            c.0 += 1;
            c.1 += u32::from(w.retry);
        }
        self.views.iter().all(|(view, slots)| {
            slots.iter().enumerate().all(|(r, s)| {
                (s.outstanding, s.retries)
                    == counted.get(&(view, r as ReplicaIdx)).copied().unwrap_or((0, 0))
            })
        }) && {
            let listed: BTreeSet<(SimTime, ReqId)> = self.deadlines.iter().map(|e| e.0).collect();
            self.waiting.iter().all(|(&req, w)| listed.contains(&(w.deadline, req)))
        }
    }

    /// When the first request `view`'s caller waits for is given up on.
    pub(crate) fn earliest_deadline(&self, view: (Caller, ServiceId)) -> Option<SimTime> {
        self.waiting.iter().filter(|(_, w)| w.view == view).map(|(_, w)| w.deadline).min()
    }

    /// `req` waits for an answer until `w.deadline`.
    fn wait(&mut self, req: ReqId, w: Waiting) {
        self.waiting.insert(req, w);
        self.deadlines.push(Reverse((w.deadline, req)));
    }

    /// `req` no longer waits (its deadline's entry goes when it comes to the top, or with the
    /// other stale ones).
    fn unwait(&mut self, req: ReqId) -> Option<Waiting> {
        let w = self.waiting.remove(&req)?;
        if self.deadlines.len() > 2 * self.waiting.len() + STALE_DEADLINES_MIN {
            let waiting = &self.waiting;
            self.deadlines.retain(|&Reverse((d, r))| is_waiting(waiting, r, d));
        }
        Some(w)
    }

    /// The earliest request whose caller gave up by `now`, taken out of `waiting`: what a
    /// `BTreeSet` of `(deadline, request)` would give first.
    fn expired(&mut self, now: SimTime) -> Option<(ReqId, Waiting)> {
        while let Some(&Reverse((deadline, req))) = self.deadlines.peek() {
            if deadline > now {
                return None;
            }
            self.deadlines.pop();
            if is_waiting(&self.waiting, req, deadline) {
                let w = self.waiting.remove(&req).expect("a live deadline names a waiting request");
                return Some((req, w));
            }
        }
        None
    }
}

/// Stale entries `deadlines` may hold beyond twice the live ones before it is compacted.
const STALE_DEADLINES_MIN: usize = 64;

/// Whether `deadlines`' entry `(deadline, req)` is live.
fn is_waiting(waiting: &IdTable<ReqId, Waiting>, req: ReqId, deadline: SimTime) -> bool {
    waiting.get(&req).is_some_and(|w| w.deadline == deadline)
}

impl Sim {
    pub(crate) fn caller_name(&self, caller: Caller) -> &str {
        match caller {
            Caller::Gateway => "gateway",
            Caller::Broker => "broker",
            Caller::Service(s) => &self.world.service(s).name,
        }
    }

    /// The requests whose callers gave up by now: each is a failure of the replica it went to.
    fn expire_waiting(&mut self, now: SimTime) {
        while let Some((_, w)) = self.balancers.expired(now) {
            self.count_answer(w, false, now);
        }
    }

    /// Takes `req` out of its caller's view without judging the replica (the replica handed it
    /// to the activator): the caller, when it gives up, and whether it is a retry.
    pub(crate) fn take_waiting(&mut self, req: ReqId) -> Option<(Caller, SimTime, bool)> {
        let w = self.balancers.unwait(req)?;
        if let Some(slot) =
            self.balancers.views.get_mut(w.view).and_then(|v| v.get_mut(w.replica as usize))
        {
            slot.outstanding -= 1;
            slot.retries -= u32::from(w.retry);
        }
        self.pool_released(w.view.0, w.view.1);
        Some((w.view.0, w.deadline, w.retry))
    }

    /// The caller got its answer for `req` (or gave up on it): it no longer counts as
    /// outstanding, and a failure moves the replica towards ejection.
    pub(crate) fn caller_answered(&mut self, req: ReqId, success: bool) {
        let now = self.q.now();
        let Some(w) = self.balancers.unwait(req) else {
            return; // the caller had given up on it already (counted then)
        };
        self.count_answer(w, success, now);
    }

    fn count_answer(&mut self, w: Waiting, success: bool, now: SimTime) {
        let n = self.world.service(w.view.1).slots as usize;
        let slots = self.balancers.views.get_mut(w.view).expect("a waiting request has a view");
        let slot = &mut slots[w.replica as usize];
        slot.outstanding -= 1;
        slot.retries -= u32::from(w.retry);
        self.pool_released(w.view.0, w.view.1);
        let slots = self.balancers.views.get_mut(w.view).expect("a waiting request has a view");
        let slot = &mut slots[w.replica as usize];
        if success {
            slot.failures = 0;
            return;
        }
        let (caller, service) = w.view;
        let od = self.outlier(caller, service);
        let slots = self.balancers.views.get_mut(w.view).expect("a waiting request has a view");
        let slot = &mut slots[w.replica as usize];
        slot.failures += 1;
        if slot.failures < od.consecutive || slot.ejected_until.is_some_and(|u| u > now) {
            return;
        }
        let ejected = slots.iter().filter(|s| s.ejected_until.is_some_and(|u| u > now)).count();
        if ejected >= (n * od.max_percent / 100).max(1) {
            return;
        }
        let slot = &mut slots[w.replica as usize];
        slot.ejections += 1;
        slot.failures = 0;
        let until = now + od.base_ejection.saturating_mul(u64::from(slot.ejections));
        slot.ejected_until = Some(until);
        let caller = self.caller_name(caller).to_owned();
        self.trace.emit(
            now,
            &TraceEvent::Ejected {
                caller: &caller,
                service: &self.world.service(service).name,
                replica: w.replica,
                until_ns: until.nanos(),
            },
        );
        self.rec.service(service).ejections += 1;
    }

    /// Picks a replica of `service` for `caller` (of version `subset` only, when given),
    /// picking again while it picks one of `avoid` (a retry's previous hosts), at most
    /// [`HOST_SELECTION_RETRY_MAX_ATTEMPTS`] times; `None` when none is registered.
    fn pick_replica(
        &mut self,
        caller: Caller,
        service: ServiceId,
        subset: Option<VersionIdx>,
        avoid: &[ReplicaIdx],
    ) -> Option<ReplicaIdx> {
        // The candidates go in a buffer kept between picks (no allocation per request).
        let mut candidates = std::mem::take(&mut self.balancers.candidates);
        let pick = self.pick_among(caller, service, subset, avoid, &mut candidates);
        self.balancers.candidates = candidates;
        pick
    }

    /// [`Sim::pick_replica`], with `candidates` as its scratch buffer.
    fn pick_among(
        &mut self,
        caller: Caller,
        service: ServiceId,
        subset: Option<VersionIdx>,
        avoid: &[ReplicaIdx],
        candidates: &mut Vec<ReplicaIdx>,
    ) -> Option<ReplicaIdx> {
        let now = self.q.now();
        self.expire_waiting(now);
        self.discover(caller_service(caller), service, candidates);
        if let Some(v) = subset {
            let state = &self.services[service.index()];
            candidates.retain(|&r| state.version_of(r) == v);
        }
        if candidates.is_empty() {
            return None;
        }
        let n = self.world.service(service).slots as usize;
        let slots = self.balancers.views.or_insert((caller, service), n);
        let is_healthy = |r: ReplicaIdx| slots[r as usize].ejected_until.is_none_or(|u| u <= now);
        let healthy = candidates.iter().filter(|&&r| is_healthy(r)).count();
        // Fewer than half left: balance over every discovered replica (Envoy's panic mode);
        // else over the healthy ones, in discovery order.
        if healthy * 2 >= candidates.len() && healthy < candidates.len() {
            candidates.retain(|&r| is_healthy(r));
        }
        let candidates = &candidates[..];
        let balancing = self.world.service(service).balancing;
        let mut reselections = if avoid.is_empty() { 0 } else { HOST_SELECTION_RETRY_MAX_ATTEMPTS };
        loop {
            let pick = match balancing {
                LoadBalancing::RoundRobin => {
                    let state = &mut self.services[service.index()];
                    state.rr += 1;
                    candidates[((state.rr - 1) % candidates.len() as u64) as usize]
                }
                LoadBalancing::Random => {
                    candidates[self.rng_lb.below(candidates.len() as u64) as usize]
                }
                LoadBalancing::LeastOutstanding => {
                    two_choices(&mut self.rng_lb, candidates, |r| slots[r as usize].outstanding)
                }
            };
            if reselections == 0 || !avoid.contains(&pick) {
                return Some(pick);
            }
            reselections -= 1;
        }
    }

    /// The outlier detection `caller` applies to `service`: the mesh policy's when the
    /// caller applies the mesh's policies and the destination has one, else Envoy's defaults.
    fn outlier(&self, caller: Caller, service: ServiceId) -> OutlierSpec {
        self.world
            .mesh
            .as_ref()
            .filter(|m| m.applies(caller))
            .and_then(|m| m.cluster(self.mesh_config(caller), service).outlier)
            .unwrap_or(ENVOY_OUTLIER)
    }

    /// The requests `caller` has in flight to `service` (those it still waits for), and how
    /// many of them are retries.
    pub(crate) fn in_flight(&mut self, caller: Caller, service: ServiceId) -> (u64, u64) {
        let now = self.q.now();
        self.expire_waiting(now);
        self.balancers.views.get((caller, service)).map_or((0, 0), |slots| {
            slots
                .iter()
                .fold((0, 0), |(n, r), s| (n + u64::from(s.outstanding), r + u64::from(s.retries)))
        })
    }

    /// Sends request `req` towards a replica of its service, from node `from` on behalf of
    /// `caller`, who gives up waiting for it after `patience` nanoseconds. Returns false when
    /// no replica is registered.
    pub(crate) fn dispatch_request(
        &mut self,
        req: ReqId,
        from: NodeId,
        caller: Caller,
        patience: u64,
    ) -> bool {
        self.dispatch_try(req, from, caller, patience, false)
    }

    /// [`Sim::dispatch_request`] for a try that may be a retry (counted as one in flight).
    pub(crate) fn dispatch_try(
        &mut self,
        req: ReqId,
        from: NodeId,
        caller: Caller,
        patience: u64,
        retry: bool,
    ) -> bool {
        let service = self.requests.live(req).service;
        let zero = self.world.service(service).autoscale.as_ref().and_then(|a| a.zero).is_some();
        if zero {
            self.activators[service.index()].last_request = Some(self.q.now());
        }
        let subset = self.route_subset(req, caller, service);
        let call = match self.requests.live(req).origin {
            Origin::Call { call, attempt } => Some((call, attempt)),
            _ => None,
        };
        let avoid = call.map_or(Vec::new(), |(c, a)| self.calls.previous_hosts(c, a).to_vec());
        let Some(replica) = self.pick_replica(caller, service, subset, &avoid) else {
            // A scale-to-zero service's activator takes what no discovered replica can.
            return zero && self.activate(req, from, caller, patience, retry);
        };
        if let Some((c, _)) = call {
            self.calls.tried(c, req, replica);
        }
        self.send_to_replica(req, from, caller, patience, retry, replica)
    }

    /// Sends `req` to `replica` of its service, counted in `caller`'s view; false when the
    /// network lost it at once.
    pub(crate) fn send_to_replica(
        &mut self,
        req: ReqId,
        from: NodeId,
        caller: Caller,
        patience: u64,
        retry: bool,
        replica: ReplicaIdx,
    ) -> bool {
        let service = self.requests.live(req).service;
        let view = (caller, service);
        let n = self.world.service(service).slots as usize;
        let slots = self.balancers.views.or_insert(view, n);
        slots[replica as usize].outstanding += 1;
        slots[replica as usize].retries += u32::from(retry);
        let deadline = self.q.now() + patience;
        self.balancers.wait(req, Waiting { view, replica, deadline, retry });
        let to = self.world.service(service).node;
        let sidecars = self.world.mesh.as_ref().map_or(0, |m| m.hop_latency(caller, service));
        let sidecars = if sidecars > 0 {
            self.requests.live_mut(req).sidecar_nanos = sidecars;
            let now = self.q.now();
            self.trace.emit(
                now,
                &TraceEvent::Sidecar { req: req.0, leg: "request", latency_ns: sidecars },
            );
            sidecars
        } else {
            0
        };
        let [out_cpu, in_cpu] =
            self.world.mesh.as_ref().map_or([0; 2], |m| m.sidecar_cpu(caller, service));
        match self.transit(from, to, "request", req.0) {
            Some(d) => {
                let r = self.requests.live_mut(req);
                r.sidecar_cpu = [out_cpu, in_cpu];
                // The caller's proxy (sidecar and filters) computes on the caller's node, the
                // callee's sidecar on the callee's (`mesh/proxy.rs`); the injected delay is on
                // the wire.
                let (filters, wire) = (r.filter_nanos, d + sidecars + r.fault_nanos);
                let then = Event::AtReplica { req, service, replica };
                self.proxy_leg((from, out_cpu + filters), wire, (to, in_cpu), then);
            }
            None => {
                self.requests.settle(req);
                return true;
            }
        };
        true
    }
}

/// The service whose discovery cache a caller uses (the gateway and broker share none).
fn caller_service(caller: Caller) -> Option<ServiceId> {
    match caller {
        Caller::Service(s) => Some(s),
        Caller::Gateway | Caller::Broker => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The lazy heap of deadlines gives up on the same requests in the same order as the
        /// `BTreeSet<(deadline, request)>` it replaced, with entries removed on every answer;
        /// and it stays bounded by the live ones.
        #[test]
        fn the_deadline_heap_expires_as_the_ordered_set_did(
            ops in proptest::collection::vec((0u8..4, 0u64..40, 0u64..50), 1..400),
        ) {
            let mut ours = Balancers::default();
            let mut set: BTreeSet<(SimTime, ReqId)> = BTreeSet::new();
            let mut model: BTreeMap<ReqId, SimTime> = BTreeMap::new();
            let mut now = 0;
            for (op, id, dt) in ops {
                let req = ReqId(id);
                match op {
                    // A request is sent (one not waiting already, as `send_to_replica` does).
                    0 | 1 if !model.contains_key(&req) => {
                        let deadline = SimTime(now + dt);
                        let view = (Caller::Gateway, ServiceId(0));
                        ours.wait(req, Waiting { view, replica: 0, deadline, retry: false });
                        set.insert((deadline, req));
                        model.insert(req, deadline);
                    }
                    // It is answered (or was given up on already).
                    2 => {
                        let theirs = model.remove(&req).inspect(|&d| {
                            set.remove(&(d, req));
                        });
                        prop_assert_eq!(ours.unwait(req).map(|w| w.deadline), theirs);
                    }
                    // Time passes; the callers give up on what is due.
                    _ => {
                        now += dt;
                        loop {
                            let theirs = set.first().copied().filter(|&(d, _)| d <= SimTime(now));
                            let got = ours.expired(SimTime(now)).map(|(r, w)| (w.deadline, r));
                            prop_assert_eq!(got, theirs);
                            let Some((d, r)) = theirs else { break };
                            set.remove(&(d, r));
                            model.remove(&r);
                        }
                    }
                }
                prop_assert!(ours.deadlines.len() <= 2 * model.len() + STALE_DEADLINES_MIN + 1);
                prop_assert_eq!(ours.waiting.len(), model.len());
            }
        }
    }

    /// Envoy's `LEAST_REQUEST` draws with replacement: of two replicas, the busier is picked
    /// when both draws land on it — a quarter of the time — and ties go to the first draw.
    #[test]
    fn two_choices_draw_with_replacement() {
        let mut rng = SimRng::stream(7, "balancer");
        let load = |r: ReplicaIdx| if r == 1 { 5 } else { 0 };
        let n = 40_000;
        let busy = (0..n).filter(|_| two_choices(&mut rng, &[0, 1], load) == 1).count();
        let share = busy as f64 / f64::from(n);
        assert!((share - 0.25).abs() < 0.01, "busier replica's share {share}");
        // Equal loads: the first draw wins, so the picks are uniform.
        let even = (0..n).filter(|_| two_choices(&mut rng, &[0, 1, 2, 3], |_| 0) == 3).count();
        assert!((even as f64 / f64::from(n) - 0.25).abs() < 0.01, "{even}");
        // One candidate: no draw at all (the stream is left as it was).
        let before = rng.clone().next_u64();
        assert_eq!(two_choices(&mut rng, &[2], load), 2);
        assert_eq!(rng.next_u64(), before);
    }
}
