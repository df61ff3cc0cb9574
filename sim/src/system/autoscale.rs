//! Autoscaling (`[service.autoscale]`): the replica count of a service follows its load, with
//! the semantics of the Kubernetes Horizontal Pod Autoscaler (`autoscaling/v2`,
//! `pkg/controller/podautoscaler` in kubernetes/kubernetes) and, for consumers, KEDA's queue
//! scalers:
//!
//! - Every `interval_s` (HPA's sync period) the autoscaler measures its metric and computes
//!   `desired = ceil(current × metric / target)`; a ratio within 1 ± `tolerance` keeps the
//!   current count. Per-replica metrics (`concurrency`, `utilisation`) are averaged over the
//!   *ready* replicas; when scaling up, replicas not ready yet (starting, pending, crashed) are
//!   counted as using nothing, and if that reverses the direction nothing changes (HPA's
//!   treatment of unready pods). `queue` is an external metric with an average-value target:
//!   `desired = ceil(backlog / target)` (KEDA).
//! - Stabilisation: the recommendation becomes the *lowest* of the scale-up window's and the
//!   *highest* of the scale-down window's recommendations, bounding the current count (HPA
//!   `behavior.scale{Up,Down}.stabilizationWindowSeconds`).
//! - Rate limits: per period, at most `scale_up_percent` % or `scale_up_pods` more replicas
//!   than at the period's start (whichever allows more, HPA's `selectPolicy: Max`), at most
//!   `scale_down_percent` % fewer; then `min_replicas ..= max_replicas`.
//!
//! A new replica is placed on its service's node if the node has room for its requests — the
//! memory of `concurrency` instances of `memory_max_kib` (the `node-memory` check's rule) and
//! its `cpu_request` — next to every replica placed there (the Kubernetes scheduler's
//! resource fit); otherwise it stays `pending` until a replica on that node stops. A placed
//! replica is ready `startup_ms` later: it registers and is discovered like any other. A
//! replica scaled down leaves the registry at once, takes no new work, finishes what it holds
//! and stops (a terminating pod). Kubernetes' choice of whom to remove is followed: pending
//! first, then not ready, then the newest (highest position).
//!
//! The desired count before stabilisation comes from the service's `policy`: the HPA formula
//! above (`reactive`, the default), the same formula on a Holt forecast of the metric
//! (`holt-winters`, `autoscale/forecast.rs`), or a WebAssembly module (`autoscale/policy.rs`);
//! stabilisation, rate limits and bounds then apply to every policy alike.
//!
//! Every decision is traced (`scale`), and every change of a replica (`replica_state`).

mod forecast;
pub(crate) mod policy;

use std::collections::VecDeque;

use fusebench_model::scenario::{ColdStart, ScaleMetric};

use super::Sim;
use super::event::Event;
use super::ids::{GroupId, NodeId, ReplicaIdx, ServiceId};
use super::replica::Health;
use super::world::{AutoscaleSpec, PolicySpec};
use crate::dist::sample_nanos;
use crate::runtime::{COMPILE_NS_PER_CODE_BYTE, INSTANTIATE_NS};
use crate::time::SimTime;
use crate::trace::TraceEvent;

/// One autoscaled service's controller state.
#[derive(Debug, Default)]
pub(crate) struct Autoscaler {
    /// Past recommendations (time, desired before stabilisation), within the longest window.
    recommendations: VecDeque<(SimTime, u32)>,
    /// Past scale events (time, replicas added or removed), within the longest period.
    changes: VecDeque<(SimTime, i64)>,
    /// What the metric's integrals stood at, at the last decision.
    occupancy_then: u128,
    busy_then: u64,
    then: SimTime,
    /// The metric of the last `window` intervals, for a predictive policy (empty otherwise).
    history: VecDeque<Sample>,
}

/// One interval's measurement, as a predictive policy sees it (guests/ABI.md, "Scaling
/// policies"): integers, so that a module computes on exactly the host's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Sample {
    /// When the interval ended, ms.
    pub(crate) t_ms: u64,
    /// The metric summed over the ready replicas (per-replica metrics) or the whole backlog
    /// (`queue`), in thousandths.
    pub(crate) total_milli: u64,
    /// Replicas ready then.
    pub(crate) ready: u32,
}

/// What a decision settled on, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) to: u32,
    /// What the metric alone asks for (before stabilisation and limits).
    pub(crate) desired: u32,
    pub(crate) reason: &'static str,
}

/// The replicas an autoscaled service has, as the HPA counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Count {
    /// Ready and serving.
    pub(crate) ready: u32,
    /// Wanted but not ready: starting, pending, crashed.
    pub(crate) unready: u32,
}

impl Count {
    pub(crate) fn current(self) -> u32 {
        self.ready + self.unready
    }
}

/// HPA's replica count for a per-replica metric: `total` summed over the ready replicas.
pub(crate) fn pod_metric_desired(count: Count, total: f64, target: f64, tolerance: f64) -> u32 {
    let current = count.current();
    if count.ready == 0 {
        return current; // no replica reports the metric: nothing to decide on
    }
    let ratio = total / (f64::from(count.ready) * target);
    if (ratio - 1.0).abs() <= tolerance {
        return current;
    }
    if ratio > 1.0 && count.unready > 0 {
        // The replicas not ready yet count as using nothing (HPA, scaling up).
        let all = f64::from(current);
        let with_unready = total / (all * target);
        if (with_unready - 1.0).abs() <= tolerance || with_unready < 1.0 {
            return current;
        }
        return ceil_u32(with_unready * all).max(current);
    }
    ceil_u32(ratio * f64::from(count.ready))
}

/// HPA's replica count for an external metric with an average-value target (KEDA's queue
/// length): `total` is the whole backlog.
pub(crate) fn external_metric_desired(
    current: u32,
    total: f64,
    target: f64,
    tolerance: f64,
) -> u32 {
    let ratio = total / (f64::from(current.max(1)) * target);
    if (ratio - 1.0).abs() <= tolerance {
        return current;
    }
    ceil_u32(total / target)
}

fn ceil_u32(x: f64) -> u32 {
    // The metric is finite and non-negative; a count past u32 is clamped by max_replicas.
    let c = x.ceil();
    if c <= 0.0 {
        0
    } else if c >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        c as u32
    }
}

impl Autoscaler {
    /// Stabilisation, rate limits and bounds applied to `desired` (HPA's
    /// `normalizeDesiredReplicasWithBehaviors`), and the recommendation remembered.
    pub(crate) fn decide(
        &mut self,
        spec: &AutoscaleSpec,
        now: SimTime,
        current: u32,
        desired: u32,
    ) -> Decision {
        // Stabilisation: the lowest recommendation of the up window, the highest of the down
        // window, the new one included in both.
        let (mut up, mut down) = (desired, desired);
        for &(at, rec) in &self.recommendations {
            if now - at < spec.up_window {
                up = up.min(rec);
            }
            if now - at < spec.down_window {
                down = down.max(rec);
            }
        }
        let mut to = current.max(up).min(down);
        let mut reason = match to.cmp(&current) {
            std::cmp::Ordering::Greater => "scale up",
            std::cmp::Ordering::Less => "scale down",
            std::cmp::Ordering::Equal => "no change",
        };
        if to != desired {
            if desired < current && to > desired {
                reason = "scale-down stabilisation";
            } else if desired > current && to < desired {
                reason = "scale-up stabilisation";
            }
        }
        self.recommendations.push_back((now, desired));
        let keep = spec.up_window.max(spec.down_window);
        while self.recommendations.front().is_some_and(|&(at, _)| now - at >= keep) {
            self.recommendations.pop_front();
        }
        // Rate limits and bounds.
        if to > current {
            let (added, removed) = self.changed_within(now, spec.up_period);
            let start = f64::from(current) - added + removed;
            let by_percent = (start * (1.0 + spec.up_percent / 100.0)).ceil();
            let by_pods = start + f64::from(spec.up_pods);
            let limit = ceil_u32(by_percent.max(by_pods)).max(current);
            let (allowed, why) = if spec.max > limit {
                (limit, "scale-up rate limit")
            } else {
                (spec.max, "max replicas")
            };
            if to > allowed {
                to = allowed;
                reason = why;
            }
        } else if to < current {
            let (added, removed) = self.changed_within(now, spec.down_period);
            let start = f64::from(current) + removed - added;
            // Truncated, as Kubernetes converts it to an integer.
            let limit = (start * (1.0 - spec.down_percent / 100.0)).max(0.0).floor();
            let limit = (limit as u32).min(current);
            let (allowed, why) = if spec.min < limit {
                (limit, "scale-down rate limit")
            } else {
                (spec.min, "min replicas")
            };
            if to < allowed {
                to = allowed;
                reason = why;
            }
        }
        if to != current {
            self.changes.push_back((now, i64::from(to) - i64::from(current)));
        }
        let keep = spec.up_period.max(spec.down_period);
        while self.changes.front().is_some_and(|&(at, _)| now - at >= keep) {
            self.changes.pop_front();
        }
        Decision { to, desired, reason }
    }

    /// A change made outside a decision (the activator's scale from zero), counted by the
    /// rate limits.
    pub(crate) fn note_change(&mut self, now: SimTime, n: i64) {
        self.changes.push_back((now, n));
    }

    /// Replicas added and removed by decisions within the last `period`.
    fn changed_within(&self, now: SimTime, period: u64) -> (f64, f64) {
        let (mut added, mut removed) = (0.0, 0.0);
        for &(at, n) in &self.changes {
            if now - at < period {
                if n > 0 { added += n as f64 } else { removed += (-n) as f64 }
            }
        }
        (added, removed)
    }
}

impl Sim {
    /// The initial replicas of autoscaled services are traced ready, and each autoscaler's
    /// first decision is one interval away. Services without autoscaling get nothing.
    pub(crate) fn start_autoscalers(&mut self) {
        let now = self.q.now();
        for s in 0..self.world.services.len() {
            let service = ServiceId(s as u32);
            let Some(spec) = &self.world.services[s].autoscale else { continue };
            let interval = spec.interval;
            for replica in 0..self.world.services[s].replicas {
                self.trace_replica(service, replica, now);
            }
            self.autoscalers[s] = Some(Autoscaler::default());
            self.rec.placed_change(service, now.nanos(), self.world.services[s].replicas);
            self.q.after(interval, Event::Autoscale(service));
        }
    }

    pub(crate) fn trace_replica(&mut self, service: ServiceId, replica: ReplicaIdx, now: SimTime) {
        let state = self.replica(service, replica).health.name();
        let name = &self.world.service(service).name;
        self.trace.emit(now, &TraceEvent::ReplicaState { service: name, replica, state });
    }

    /// The autoscaled service's replicas, as the HPA counts them (draining ones are gone).
    pub(crate) fn replica_count(&self, service: ServiceId) -> Count {
        let mut count = Count::default();
        for r in &self.services[service.index()].replicas {
            match r.health {
                Health::Up => count.ready += 1,
                Health::Down | Health::Starting | Health::Pending => count.unready += 1,
                Health::Draining | Health::Off => {}
            }
        }
        count
    }

    /// Messages the service's consumer groups hold unacknowledged (KEDA's queue length).
    fn backlog(&self, service: ServiceId) -> u64 {
        let groups: Vec<GroupId> = (0..self.world.groups.len())
            .map(|g| GroupId(g as u32))
            .filter(|&g| self.world.group(g).members.iter().any(|(s, _)| *s == service))
            .collect();
        groups.iter().map(|&g| self.broker.backlog(g)).sum()
    }

    pub(crate) fn on_autoscale(&mut self, service: ServiceId) {
        let now = self.q.now();
        let Some(mut spec) = self.world.service(service).autoscale.clone() else { return };
        let Some(mut scaler) = self.autoscalers[service.index()].take() else { return };
        let count = self.replica_count(service);
        // While a rollout rolls, the HPA's current count is the Deployment's desired one (its
        // `spec.replicas`), not the old and new pods there are; the metric is still theirs.
        let rolling = self.rolling(service);
        let current = rolling.map_or(count.current(), |i| self.rollouts[i].desired);
        // Scale to zero: the last replica stays while the grace period runs (Knative).
        let grace = spec.zero.is_some() && self.within_grace(service, now);
        if grace {
            spec.min = 1;
        }
        let window = (now - scaler.then).max(1) as f64;
        let occupancy = self.rec.occupancy_until(service, now.nanos());
        let busy = self.rec.busy_nanos(service);
        // The metric summed over the ready replicas (per-replica metrics) or the whole backlog.
        let total = match spec.metric {
            ScaleMetric::Concurrency => (occupancy - scaler.occupancy_then) as f64 / window,
            ScaleMetric::Utilisation => {
                let cores = spec.cpu_request_milli as f64 / 1000.0;
                (busy - scaler.busy_then) as f64 / window / cores * 100.0
            }
            ScaleMetric::Queue => self.backlog(service) as f64,
        };
        (scaler.occupancy_then, scaler.busy_then, scaler.then) = (occupancy, busy, now);
        let (desired, per) = match spec.metric {
            ScaleMetric::Queue => {
                (external_metric_desired(current, total, spec.target, spec.tolerance), current)
            }
            _ => (pod_metric_desired(count, total, spec.target, spec.tolerance), count.ready),
        };
        let value = if per == 0 { 0.0 } else { total / f64::from(per) };
        let desired = self.policy_desired(service, &spec, &mut scaler, count, total, desired);
        let mut decision = scaler.decide(&spec, now, current, desired);
        if grace && decision.to == 1 && decision.desired == 0 && decision.reason == "min replicas" {
            decision.reason = "scale-to-zero grace";
        }
        self.autoscalers[service.index()] = Some(scaler);
        let name = &self.world.service(service).name;
        self.trace.emit(
            now,
            &TraceEvent::Scale {
                service: name,
                from: current,
                to: decision.to,
                metric: spec.metric.name(),
                value_milli: (value * 1000.0).round() as u64,
                desired: decision.desired,
                reason: decision.reason,
            },
        );
        if let Some(i) = rolling {
            self.rollout_rescaled(i, decision.to);
        } else if decision.to > current {
            self.scale_up(service, decision.to - current);
        } else if decision.to < current {
            self.scale_down(service, current - decision.to);
        }
        if now < self.end {
            self.q.after(spec.interval, Event::Autoscale(service));
        }
    }

    /// The desired count of `service`'s policy, given this interval's metric `total` and the
    /// reactive formula's answer `reactive` (which a faulting policy module falls back to).
    fn policy_desired(
        &mut self,
        service: ServiceId,
        spec: &AutoscaleSpec,
        scaler: &mut Autoscaler,
        count: Count,
        total: f64,
        reactive: u32,
    ) -> u32 {
        if matches!(spec.policy, PolicySpec::Reactive) {
            return reactive;
        }
        let now = self.q.now();
        let total_milli = (total * 1000.0).round().max(0.0) as u64;
        let sample = Sample { t_ms: now.nanos() / 1_000_000, total_milli, ready: count.ready };
        scaler.history.push_back(sample);
        while scaler.history.len() > spec.window.max(1) {
            scaler.history.pop_front();
        }
        let interval_ms = spec.interval / 1_000_000;
        let current = count.current();
        match &spec.policy {
            PolicySpec::Reactive => reactive,
            PolicySpec::Holt { alpha, beta } => forecast::desired(
                scaler.history.make_contiguous(),
                *alpha,
                *beta,
                spec.horizon_ms,
                interval_ms,
                current,
                spec.target,
                spec.tolerance,
            ),
            PolicySpec::Module { params } => {
                let input = policy::Input {
                    t_ms: sample.t_ms,
                    interval_ms,
                    horizon_ms: spec.horizon_ms,
                    metric: spec.metric.name(),
                    target: spec.target,
                    tolerance: spec.tolerance,
                    current,
                    ready: count.ready,
                    min: spec.min,
                    max: spec.max,
                    params,
                    history: scaler.history.make_contiguous(),
                };
                let name = &self.world.service(service).name;
                let asked =
                    policy::ask(&mut *self.host, name, &input, now.nanos(), &mut self.rng_policy);
                self.rec.policy_decided(service, asked.is_err());
                match asked {
                    Ok(n) => n,
                    Err(reason) => {
                        let e = TraceEvent::PolicyFault { service: name.as_str(), reason: &reason };
                        self.trace.emit(now, &e);
                        reactive
                    }
                }
            }
        }
    }

    pub(crate) fn scale_up(&mut self, service: ServiceId, n: u32) {
        let now = self.q.now();
        for _ in 0..n {
            let replicas = &self.services[service.index()].replicas;
            let Some(free) = replicas.iter().position(|r| r.health == Health::Off) else {
                return; // every position holds a replica: max_replicas bounds `to`
            };
            let replica = free as ReplicaIdx;
            // A pending pod is already its ReplicaSet's: it runs the target version when it
            // is placed, and a rolling rollout's controller counts it as new while it waits
            // (counted as old, the controller would retire it at once and ask for it again).
            let state = &mut self.services[service.index()];
            let target = state.target;
            let r = &mut state.replicas[free];
            r.health = Health::Pending;
            r.version = target;
            if self.room_for(service) {
                self.place(service, replica);
            } else {
                self.trace_replica(service, replica, now);
            }
        }
    }

    /// Pending `replica` goes onto its node: it holds its requests there from now on.
    fn place(&mut self, service: ServiceId, replica: ReplicaIdx) {
        let now = self.q.now();
        let r = self.replica_mut(service, replica);
        debug_assert_eq!(r.health, Health::Pending);
        r.health = Health::Starting;
        r.life += 1;
        let life = r.life;
        self.trace_replica(service, replica, now);
        self.start_version(service, replica, "starting");
        self.note_placed(service);
        let delay = self.startup_delay(service, replica);
        self.q.after(delay, Event::ReplicaReady { service, replica, life });
    }

    /// How long `replica` takes from starting to ready: its start-up delay plus, with
    /// `cold_start = "module"`, the cold start of the module it runs (traced).
    pub(crate) fn startup_delay(&mut self, service: ServiceId, replica: ReplicaIdx) -> u64 {
        self.declared_startup(service, replica) + self.cold_start_cost(service, replica)
    }

    /// `replica`'s declared start-up delay, in nanoseconds: a replica running a rollout's new
    /// version starts as that version does (`rollout.rs`); any other as its autoscaler says;
    /// a service with neither starts at once.
    fn declared_startup(&self, service: ServiceId, replica: ReplicaIdx) -> u64 {
        let spec = self.world.service(service);
        let rolled = spec.rollout.filter(|&i| {
            self.rollouts[i].phase != super::rollout::Phase::Waiting
                && self.services[service.index()].version_of(replica) == self.rollouts[i].version
        });
        match (rolled, &spec.autoscale) {
            (Some(i), _) => self.world.rollouts[i].startup,
            (None, Some(a)) => a.startup,
            (None, None) => 0,
        }
    }

    /// Whether starting `replica` takes any time: a declared start-up delay, or a module cold
    /// start (`cold_start = "module"`). A replica without one is ready the moment it runs.
    pub(crate) fn has_startup(&self, service: ServiceId, replica: ReplicaIdx) -> bool {
        let cold = self
            .world
            .service(service)
            .autoscale
            .as_ref()
            .is_some_and(|a| a.cold_start != ColdStart::Declared);
        cold || self.declared_startup(service, replica) > 0
    }

    pub(crate) fn on_replica_ready(&mut self, service: ServiceId, replica: ReplicaIdx, life: u32) {
        let now = self.q.now();
        let r = self.replica_mut(service, replica);
        if r.health != Health::Starting || r.life != life {
            return; // crashed or scaled away while starting
        }
        r.health = Health::Up;
        self.trace_replica(service, replica, now);
        self.register(service, replica, now);
        self.q.after(self.world.heartbeat, Event::Heartbeat { service, replica, life });
        self.release_buffered(service);
        self.rollout_replica_changed(service, replica, "ready");
    }

    /// What starting `replica` costs besides `startup_ms` with `cold_start = "module"` —
    /// fetching the module to its node, compiling it, instantiating it — traced; 0 otherwise.
    fn cold_start_cost(&mut self, service: ServiceId, replica: ReplicaIdx) -> u64 {
        let spec = self.world.service(service);
        if spec.autoscale.as_ref().is_none_or(|a| a.cold_start == ColdStart::Declared) {
            return 0;
        }
        let fetch = match &self.world.node_module_fetch[spec.node.index()] {
            Some(d) => sample_nanos(d, &mut self.rng_cold),
            None => 0,
        };
        let (compile, instantiate) = if spec.has_module {
            // The module this replica runs: a rollout's new version has code of its own.
            let code = self.host.code_bytes(self.services[service.index()].runtime_of(replica));
            (code.saturating_mul(COMPILE_NS_PER_CODE_BYTE), INSTANTIATE_NS)
        } else {
            (0, 0)
        };
        let now = self.q.now();
        let e = TraceEvent::ColdStart {
            service: spec.name.as_str(),
            replica,
            fetch_ns: fetch,
            compile_ns: compile,
            instantiate_ns: instantiate,
        };
        self.trace.emit(now, &e);
        let total = fetch + compile + instantiate;
        let c = &mut self.rec.service(service).cold_starts;
        c.replicas += 1;
        c.cost_nanos += total;
        total
    }

    /// Removes `n` replicas, in the order Kubernetes' ReplicaSet controller deletes pods:
    /// unscheduled first, then not ready, then the newest.
    fn scale_down(&mut self, service: ServiceId, n: u32) {
        let now = self.q.now();
        for _ in 0..n {
            let replicas = &self.services[service.index()].replicas;
            let rank = |h: Health| match h {
                Health::Pending => Some(0),
                Health::Starting => Some(1),
                Health::Down => Some(2),
                Health::Up => Some(3),
                Health::Draining | Health::Off => None,
            };
            let Some(victim) = replicas
                .iter()
                .enumerate()
                .filter_map(|(i, r)| rank(r.health).map(|k| (k, std::cmp::Reverse(i))))
                .min()
                .map(|(_, std::cmp::Reverse(i))| i as ReplicaIdx)
            else {
                return;
            };
            let r = self.replica_mut(service, victim);
            match r.health {
                Health::Up => {
                    r.health = Health::Draining;
                    self.deregister(service, victim, "scaled down");
                    self.trace_replica(service, victim, now);
                    if self.replica(service, victim).outstanding() == 0 {
                        self.replica_stopped(service, victim);
                    }
                }
                Health::Pending => {
                    r.health = Health::Off;
                    self.trace_replica(service, victim, now);
                }
                _ => self.replica_stopped(service, victim),
            }
        }
    }

    /// A placed replica is gone (it drained, or it was scaled away before it was ready): its
    /// instances and its place on the node are freed, and a pending replica may take it.
    pub(crate) fn replica_stopped(&mut self, service: ServiceId, replica: ReplicaIdx) {
        let now = self.q.now();
        debug_assert_eq!(self.replica(service, replica).outstanding(), 0);
        let r = self.replica_mut(service, replica);
        r.health = Health::Off;
        r.crashed_starting = false;
        self.deregister(service, replica, "scaled down");
        self.trace_replica(service, replica, now);
        let runtime = self.services[service.index()].runtime_of(replica);
        self.host.drop_pool(runtime, replica);
        self.memory.drop_replica(service, replica);
        self.note_placed(service);
        self.place_pending(self.world.service(service).node);
        self.rollout_replica_changed(service, replica, "stopped");
    }

    /// Places pending replicas on `node` while it has room, services and positions in order.
    fn place_pending(&mut self, node: NodeId) {
        for s in 0..self.world.services.len() {
            let service = ServiceId(s as u32);
            // Only autoscaled services and rolling rollouts have pending replicas.
            if self.world.services[s].node != node {
                continue;
            }
            for replica in 0..self.world.services[s].slots {
                if self.replica(service, replica).health == Health::Pending
                    && self.room_for(service)
                {
                    self.place(service, replica);
                }
            }
        }
    }

    /// Whether one more replica of `service` fits on its node next to every replica placed
    /// there: memory requests, and CPU requests when it declares one.
    fn room_for(&self, service: ServiceId) -> bool {
        let spec = self.world.service(service);
        let node = spec.node;
        let (mut memory_kib, mut cpu_milli) = (spec.memory_request_kib, 0);
        let cpu_own = spec.autoscale.as_ref().map_or(0, |a| a.cpu_request_milli);
        for (other, state) in self.world.services.iter().zip(&self.services) {
            if other.node != node {
                continue;
            }
            let placed = state.replicas.iter().filter(|r| r.health.is_placed()).count() as u64;
            memory_kib = memory_kib.saturating_add(placed.saturating_mul(other.memory_request_kib));
            let cpu = other.autoscale.as_ref().map_or(0, |a| a.cpu_request_milli);
            cpu_milli += placed * cpu;
        }
        let memory_fits =
            memory_kib <= self.world.node_memory_mib[node.index()].saturating_mul(1024);
        let cpu_fits = cpu_own == 0
            || cpu_milli + cpu_own <= u64::from(self.world.node_cores[node.index()]) * 1000;
        memory_fits && cpu_fits
    }

    /// The service's placed replicas changed: the replica-seconds integral moves on.
    fn note_placed(&mut self, service: ServiceId) {
        let now = self.q.now();
        let placed =
            self.services[service.index()].replicas.iter().filter(|r| r.health.is_placed()).count()
                as u32;
        self.rec.placed_change(service, now.nanos(), placed);
    }
}

#[cfg(test)]
mod tests;
