//! Rollouts (`[[rollout]]`): a service's module replaced by a new version while it serves.
//!
//! `rolling` follows a Kubernetes Deployment's `RollingUpdate` controller
//! (`pkg/controller/deployment/rolling.go`): new replicas start in spare positions (the
//! service has `replicas + max_surge` of them) with the new version — placed, started and
//! made ready like an autoscaler's (`autoscale.rs`: `scale_up`, start-up delay, registration)
//! — as long as the replicas not terminating stay within `replicas + max_surge`; an old ready
//! replica is retired only while the ready ones stay at least `replicas − max_unavailable`.
//! A new replica with no room on its node stays pending as a new-version one; a retired
//! replica keeps its place on the node until it stopped (a terminating pod's resources stay
//! reserved until it exits), so a surge onto a full node waits for it.
//! A retired replica leaves the registry at once, keeps serving for `drain_delay` (a pod's
//! `preStop` sleep, while callers' cached discovery still names it), then drains — takes no
//! new request, finishes what it holds — and stops. Every change re-runs the controller.
//!
//! `in-place` keeps every replica: its idle pooled instances of the old module are dropped,
//! its next invocations instantiate the new one, and running ones finish on the old one (whose
//! instances are then dropped too) — the seed's "update without restart".
//!
//! An autoscaled service rolls out as a Deployment under an HPA does: the HPA keeps setting
//! the desired count (`autoscale.rs` hands its decisions to [`Sim::rollout_rescaled`] while
//! the rollout rolls), and the controller applies the surge and unavailability to the desired
//! count of the moment (unset ones are 25 % of it, as Kubernetes resolves percentages); new
//! replicas it starts run the new version. When the desired count falls, the replicas above
//! it go at once, old ones first (Kubernetes' proportional scaling does not wait for
//! `maxUnavailable` either: the HPA asked for fewer).
//!
//! A scale-to-zero service rolls out as a Knative Service gets a new Revision: at zero
//! replicas (desired 0) there is nothing to replace and the rollout finishes at once; if it
//! scales to zero meanwhile, the controller removes what is left. Either way the activator's
//! next scale from zero starts new-version replicas (the new Revision's pods) while it
//! buffers the requests (tests: `properties/rollout/tests.rs`).
//!
//! Every step is traced (`rollout`), so which version each replica runs at any instant can be
//! read back from the trace (`properties/rollout.rs`, the report's rollout section).

use fusebench_model::scenario::Strategy;

use super::Sim;
use super::event::Event;
use super::ids::{ReplicaIdx, ServiceId, VersionIdx};
use super::replica::Health;
use crate::trace::TraceEvent;

/// Where one rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not started yet.
    Waiting,
    /// Replacing replicas (rolling; an in-place rollout goes straight to `Finished`).
    Rolling,
    Finished,
}

/// One rollout's controller state.
#[derive(Debug, Clone)]
pub(crate) struct RolloutState {
    pub(crate) phase: Phase,
    /// The new version (valid once started).
    pub(crate) version: VersionIdx,
    /// Old replicas retired but still serving until their `drain_delay` ends (positions),
    /// counted neither as available nor as wanted.
    pub(crate) terminating: Vec<ReplicaIdx>,
    /// The controller is running (its own changes do not re-enter it).
    reconciling: bool,
    /// The desired count: the service's `replicas`, or its autoscaler's latest decision.
    pub(crate) desired: u32,
}

impl Default for RolloutState {
    fn default() -> Self {
        RolloutState {
            phase: Phase::Waiting,
            version: VersionIdx(0),
            terminating: Vec::new(),
            reconciling: false,
            desired: 0,
        }
    }
}

impl Sim {
    /// Each rollout starts at its time; a scenario without any schedules nothing.
    pub(crate) fn schedule_rollouts(&mut self) {
        for (i, r) in self.world.rollouts.iter().enumerate() {
            self.q.schedule(r.start, Event::RolloutStart(i));
        }
    }

    /// The rollout of `service` if it is replacing replicas now.
    pub(crate) fn rolling(&self, service: ServiceId) -> Option<usize> {
        let i = self.world.service(service).rollout?;
        (self.rollouts[i].phase == Phase::Rolling).then_some(i)
    }

    /// Traces a step of `service`'s rollout (with the desired count of the moment).
    fn trace_rollout(&mut self, service: ServiceId, step: &str, replica: u32, version: VersionIdx) {
        let now = self.q.now();
        let spec = self.world.service(service);
        let desired = spec.rollout.map_or(0, |i| self.rollouts[i].desired);
        let name = spec.name.as_str();
        let e = TraceEvent::Rollout { service: name, step, replica, version: version.0, desired };
        self.trace.emit(now, &e);
        self.rollout_log.step(now, name, step, replica, version.0, desired);
    }

    pub(crate) fn on_rollout_start(&mut self, i: usize) {
        let spec = &self.world.rollouts[i];
        let (service, strategy) = (spec.service, spec.strategy);
        let state = &mut self.services[service.index()];
        let version = state.version_named(&spec.runtime);
        state.target = version;
        self.rollouts[i].version = version;
        let desired = if self.world.service(service).autoscale.is_some() {
            // The HPA's current count (it has the service's replica-seconds measured).
            self.replica_count(service).current()
        } else {
            self.world.service(service).replicas
        };
        self.rollouts[i].desired = desired;
        self.trace_rollout(service, "started", 0, version);
        match strategy {
            Strategy::InPlace => {
                for replica in 0..self.world.service(service).slots {
                    let state = &mut self.services[service.index()];
                    let r = &mut state.replicas[replica as usize];
                    if r.health == Health::Off || r.version == version {
                        continue;
                    }
                    let was = r.version;
                    r.version = version;
                    let runtime = state.runtime(was);
                    self.host.drop_pool(runtime, replica);
                    self.trace_rollout(service, "swapped", replica, version);
                }
                self.rollouts[i].phase = Phase::Finished;
                self.trace_rollout(service, "finished", 0, version);
            }
            Strategy::Rolling => {
                // Its replica-seconds are measured from the start (an autoscaled service's
                // already are).
                if self.world.service(service).autoscale.is_none() {
                    self.rec.placed_change(service, 0, desired);
                }
                self.rollouts[i].phase = Phase::Rolling;
                self.reconcile_rollout(i);
            }
        }
    }

    /// The HPA set `service`'s desired count to `desired` while rollout `i` rolls: the
    /// controller resizes towards it.
    pub(crate) fn rollout_rescaled(&mut self, i: usize, desired: u32) {
        self.rollouts[i].desired = desired;
        self.reconcile_rollout(i);
    }

    /// The Deployment controller, until a pass changes nothing (a pass's own changes —
    /// a replica stopped, a place freed — do not re-enter it).
    fn reconcile_rollout(&mut self, i: usize) {
        if self.rollouts[i].reconciling {
            return;
        }
        self.rollouts[i].reconciling = true;
        while self.rollouts[i].phase == Phase::Rolling && self.reconcile_pass(i) {}
        self.rollouts[i].reconciling = false;
    }

    /// (new wanted, old wanted, ready, new ready) replicas of rollout `i`'s service, leaving
    /// out the retired ones still serving their drain delay.
    fn rollout_counts(&self, i: usize) -> (u32, u32, u32, u32) {
        let service = self.world.rollouts[i].service;
        let version = self.rollouts[i].version;
        let (mut new, mut old, mut ready, mut new_ready) = (0, 0, 0, 0);
        for (p, r) in self.services[service.index()].replicas.iter().enumerate() {
            if self.rollouts[i].terminating.contains(&(p as ReplicaIdx)) {
                continue;
            }
            let wanted =
                matches!(r.health, Health::Up | Health::Down | Health::Starting | Health::Pending);
            match (wanted, r.version == version) {
                (true, true) => new += 1,
                (true, false) => old += 1,
                _ => {}
            }
            if r.health == Health::Up {
                ready += 1;
                new_ready += u32::from(r.version == version);
            }
        }
        (new, old, ready, new_ready)
    }

    /// One pass, as `rolling.go` does it: scale the new replicas up within the surge, then the
    /// old ones down — unready ones first, ready ones while enough stay ready. Returns whether
    /// anything changed.
    fn reconcile_pass(&mut self, i: usize) -> bool {
        let spec = &self.world.rollouts[i];
        let desired = self.rollouts[i].desired;
        let (service, (surge, unavailable)) = (spec.service, spec.limits(desired));
        let version = self.rollouts[i].version;
        let mut changed = self.scale_to_desired(i, desired, surge);
        // Scale up: total within desired + surge, new within desired.
        let (new, old, _, _) = self.rollout_counts(i);
        let up = (desired + surge).saturating_sub(new + old).min(desired.saturating_sub(new));
        if up > 0 {
            let (before, ..) = self.rollout_counts(i);
            self.scale_up(service, up);
            changed |= self.rollout_counts(i).0 != before;
        }
        // Scale down old: at most all − minAvailable − new unavailable in total, and ready
        // ones only while the ready stay at or above minAvailable.
        let (new, old, ready, new_ready) = self.rollout_counts(i);
        let min_available = desired.saturating_sub(unavailable);
        let mut budget = (new + old).saturating_sub(min_available + (new - new_ready));
        let mut ready_budget = ready.saturating_sub(min_available);
        // Unready first, then the highest position (Kubernetes' pod deletion order).
        let mut old_ones: Vec<(u8, std::cmp::Reverse<ReplicaIdx>)> = self.services[service.index()]
            .replicas
            .iter()
            .enumerate()
            .filter(|&(p, r)| {
                r.version != version && !self.rollouts[i].terminating.contains(&(p as ReplicaIdx))
            })
            .filter_map(|(p, r)| match r.health {
                Health::Pending | Health::Starting | Health::Down => {
                    Some((0, std::cmp::Reverse(p as ReplicaIdx)))
                }
                Health::Up => Some((1, std::cmp::Reverse(p as ReplicaIdx))),
                Health::Draining | Health::Off => None,
            })
            .collect();
        old_ones.sort_unstable();
        for (rank, std::cmp::Reverse(p)) in old_ones {
            if budget == 0 || (rank == 1 && ready_budget == 0) {
                break;
            }
            budget -= 1;
            if rank == 1 {
                ready_budget -= 1;
            }
            self.retire(i, service, p);
            changed = true;
        }
        // Done when only new replicas are left, all ready, none old still draining.
        let (new, old, _, new_ready) = self.rollout_counts(i);
        let old_left = self.services[service.index()].replicas.iter().enumerate().any(|(p, r)| {
            r.version != version
                && (r.health == Health::Draining
                    || self.rollouts[i].terminating.contains(&(p as ReplicaIdx)))
        });
        if old == 0 && new == desired && new_ready == desired && !old_left {
            self.rollouts[i].phase = Phase::Finished;
            self.trace_rollout(service, "finished", 0, version);
            changed = false;
        }
        changed
    }

    /// The desired count fell under the replicas there are: new ones above `desired` go, then
    /// old ones above `desired + surge` — unready first, then the highest position (the
    /// ReplicaSet controller's deletion order). Returns whether any went.
    fn scale_to_desired(&mut self, i: usize, desired: u32, surge: u32) -> bool {
        let service = self.world.rollouts[i].service;
        let version = self.rollouts[i].version;
        let (new, old, _, _) = self.rollout_counts(i);
        let excess_new = new.saturating_sub(desired);
        let excess_old = (new - excess_new + old).saturating_sub(desired + surge);
        if excess_new + excess_old == 0 {
            return false;
        }
        let mut victims: Vec<(bool, u8, std::cmp::Reverse<ReplicaIdx>)> = self.services
            [service.index()]
        .replicas
        .iter()
        .enumerate()
        .filter(|&(p, _)| !self.rollouts[i].terminating.contains(&(p as ReplicaIdx)))
        .filter_map(|(p, r)| {
            let rank = match r.health {
                Health::Pending | Health::Starting | Health::Down => 0,
                Health::Up => 1,
                Health::Draining | Health::Off => return None,
            };
            Some((r.version == version, rank, std::cmp::Reverse(p as ReplicaIdx)))
        })
        .collect();
        victims.sort_unstable();
        let (mut old_left, mut new_left) = (excess_old, excess_new);
        for (is_new, _, std::cmp::Reverse(p)) in victims {
            let left = if is_new { &mut new_left } else { &mut old_left };
            if *left == 0 {
                continue;
            }
            *left -= 1;
            self.retire(i, service, p);
        }
        true
    }

    /// Old replica `replica` leaves: a ready one deregisters and serves on for the drain
    /// delay; one that serves nothing stops now.
    fn retire(&mut self, i: usize, service: ServiceId, replica: ReplicaIdx) {
        let r = self.replica_mut(service, replica);
        let (health, version) = (r.health, r.version);
        match health {
            Health::Up => {
                // Its heartbeats stop with this life: nothing registers it again.
                r.life += 1;
                let life = r.life;
                self.deregister(service, replica, "rollout");
                self.rollouts[i].terminating.push(replica);
                self.trace_rollout(service, "terminating", replica, version);
                let delay = self.world.rollouts[i].drain_delay;
                self.q.after(delay, Event::RolloutDrain { rollout: i, replica, life });
            }
            Health::Pending => {
                r.health = Health::Off;
                self.trace_replica(service, replica, self.q.now());
                self.trace_rollout(service, "stopped", replica, version);
            }
            Health::Starting | Health::Down => self.replica_stopped(service, replica),
            Health::Draining | Health::Off => {}
        }
    }

    /// A retired replica's drain delay is over: it takes no new request, finishes what it
    /// holds, and stops.
    pub(crate) fn on_rollout_drain(&mut self, i: usize, replica: ReplicaIdx, life: u32) {
        let service = self.world.rollouts[i].service;
        self.rollouts[i].terminating.retain(|&p| p != replica);
        let r = self.replica_mut(service, replica);
        if r.life != life || r.health != Health::Up {
            // It crashed meanwhile (and stopped, being retired): nothing left to drain.
            self.reconcile_rollout(i);
            return;
        }
        r.health = Health::Draining;
        let version = r.version;
        self.trace_rollout(service, "draining", replica, version);
        if self.replica(service, replica).outstanding() == 0 {
            self.replica_stopped(service, replica);
        } else {
            self.reconcile_rollout(i);
        }
    }

    /// A replica of `service` started with the target version (placed, or restarted after a
    /// crash), became ready, stopped, or crashed: a rolling rollout's controller looks again.
    pub(crate) fn rollout_replica_changed(
        &mut self,
        service: ServiceId,
        replica: ReplicaIdx,
        step: &'static str,
    ) {
        let Some(i) = self.world.service(service).rollout else { return };
        if self.rollouts[i].phase == Phase::Waiting {
            return;
        }
        let version = self.services[service.index()].version_of(replica);
        if !step.is_empty() {
            self.trace_rollout(service, step, replica, version);
        }
        // A replica being placed is the controller's own doing (or a pending one's turn):
        // it looks again once that replica is ready, not from inside `place`.
        if step != "starting" && self.rolling(service).is_some() {
            self.reconcile_rollout(i);
        }
    }

    /// Whether `replica` was retired and still served its drain delay — it crashed, so it
    /// stops instead of coming back (it is no longer counted as retiring).
    pub(crate) fn take_retired(&mut self, service: ServiceId, replica: ReplicaIdx) -> bool {
        let Some(i) = self.world.service(service).rollout else { return false };
        let before = self.rollouts[i].terminating.len();
        self.rollouts[i].terminating.retain(|&p| p != replica);
        self.rollouts[i].terminating.len() != before
    }

    /// An invocation that ran version `version` on `replica` finished after an in-place
    /// rollout moved the replica on: the instance it returned to the old module's pool is
    /// dropped (the old module serves nothing more there).
    pub(crate) fn drop_superseded(
        &mut self,
        service: ServiceId,
        replica: ReplicaIdx,
        version: VersionIdx,
    ) {
        if self.world.service(service).rollout.is_none() {
            return;
        }
        let state = &self.services[service.index()];
        if state.version_of(replica) != version {
            self.host.drop_pool(state.runtime(version), replica);
        }
    }
}
