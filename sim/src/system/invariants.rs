//! The simulator's own invariants, checked after every event in test and debug builds: a
//! broken one is a simulator bug, never a modelled outcome, so it panics with what broke.

use super::Sim;
use super::calls::CallState;
use super::ids::{ReplicaIdx, ServiceId};
use super::invocation::InvState;
use super::replica::Health;
use super::requests::Stage;
use super::storeops::OpState;

impl Sim {
    pub(crate) fn check_invariants(&self) {
        self.check_replicas();
        self.check_requests();
        self.check_calls_and_ops();
        for (node, cpu) in self.cpus.iter().enumerate() {
            for job in cpu.jobs() {
                if let super::cpu::CpuJob::Proxy(leg) = job {
                    assert!(
                        self.mesh.legs.computing(leg),
                        "node {node} computes leg {leg}, not due"
                    );
                }
            }
            for id in cpu.computing() {
                let inv = self
                    .invocations
                    .get(id)
                    .unwrap_or_else(|| panic!("node {node} computes {id}, which is not running"));
                assert!(
                    matches!(inv.state, InvState::Computing(_)),
                    "{id} on a CPU, not computing"
                );
                let at = self.world.service(inv.service).node.index();
                assert_eq!(at, node, "{id} computes on node {node}, its service is on {at}");
            }
        }
        assert!(
            self.balancers.outstanding_consistent(),
            "a caller's outstanding count disagrees with the requests it waits for"
        );
        assert!(
            self.q.cancelled_pending() <= self.q.pending(),
            "cancelled timers ({}) outnumber the events left ({})",
            self.q.cancelled_pending(),
            self.q.pending()
        );
    }

    /// Slots and queues within their bounds; a crashed replica holds nothing; every running
    /// invocation is in its replica's slots and serves a live request.
    fn check_replicas(&self) {
        for (s, (spec, state)) in self.world.services.iter().zip(&self.services).enumerate() {
            assert_eq!(state.replicas.len(), spec.slots as usize, "service {s}: positions");
            if let Some(a) = &spec.autoscale {
                // A rolling rollout's retired replicas still serving are not wanted; its surge
                // and unavailability widen the bounds (`rollout.rs`).
                let rolling = self.rolling(ServiceId(s as u32));
                let retired = rolling.map_or(&[][..], |i| &self.rollouts[i].terminating[..]);
                let wanted = state
                    .replicas
                    .iter()
                    .enumerate()
                    .filter(|(p, r)| {
                        !matches!(r.health, Health::Off | Health::Draining)
                            && !retired.contains(&(*p as ReplicaIdx))
                    })
                    .count() as u32;
                let (low, high) = match rolling {
                    Some(i) => {
                        let rollout = &self.world.rollouts[i];
                        let below = a.min.saturating_sub(rollout.limits(a.min).1);
                        (below, a.max + rollout.limits(a.max).0)
                    }
                    None => (a.min, a.max),
                };
                assert!(
                    (low..=high).contains(&wanted),
                    "service {s}: {wanted} replicas wanted, bounds {low}..={high}",
                );
            }
            for (r, rep) in state.replicas.iter().enumerate() {
                let at = (ServiceId(s as u32), r as ReplicaIdx);
                assert!(rep.busy() <= spec.concurrency, "{at:?}: busy > concurrency");
                assert!(rep.queue.len() <= spec.queue_capacity, "{at:?}: queue > capacity");
                if !matches!(rep.health, Health::Up | Health::Draining) {
                    assert!(
                        rep.outstanding() == 0,
                        "{at:?}: a {:?} replica holds requests",
                        rep.health
                    );
                }
                for inv in &rep.running {
                    let i = self.invocations.get(*inv).unwrap_or_else(|| {
                        panic!("{at:?}: slot holds {inv}, which is not running")
                    });
                    assert_eq!((i.service, i.replica), at, "{inv} is in another replica's slot");
                }
                for req in &rep.queue {
                    let stage = self.requests.get(*req).map(|r| r.stage);
                    assert_eq!(stage, Some(Stage::Queued), "{at:?}: queued {req} is {stage:?}");
                }
            }
        }
        for (id, inv) in self.invocations.iter() {
            let stage = self.requests.get(inv.req).map(|r| r.stage);
            assert_eq!(stage, Some(Stage::Running(*id)), "{id} serves {} in {stage:?}", inv.req);
            let slots = &self.services[inv.service.index()].replicas[inv.replica as usize].running;
            assert!(slots.contains(id), "{id} is running outside its replica's slots");
            if matches!(inv.state, InvState::Waiting) {
                let abstract_effects = !self.world.service(inv.service).has_module;
                assert!(
                    inv.runtime.is_some() || abstract_effects,
                    "{id}: only guests and abstract services with effects wait"
                );
            }
        }
    }

    /// A request's record goes once it is settled and nobody waits for it.
    fn check_requests(&self) {
        let running = self.invocations.iter().count();
        let held =
            self.requests.iter().filter(|(_, r)| matches!(r.stage, Stage::Running(_))).count();
        assert_eq!(running, held, "requests in service ≠ invocations running");
        for (id, r) in self.requests.iter() {
            if r.stage == Stage::Settled {
                assert!(
                    matches!(
                        r.origin,
                        super::requests::Origin::Client {
                            state: super::requests::ClientState::Waiting { .. },
                            ..
                        }
                    ),
                    "{id} is settled but kept although nobody waits for it"
                );
            }
        }
    }

    /// Strong writes never count more acknowledgements than there are other replicas.
    fn check_calls_and_ops(&self) {
        for (id, op) in self.ops.iter() {
            if let OpState::Collecting { acks, needed, .. } = op.state {
                let replicas = self.world.store(op.store).nodes.len() as u32;
                assert!(acks < replicas && needed < replicas, "{id}: {acks} acks of {replicas}");
            }
        }
        for (id, call) in self.calls.iter() {
            if let CallState::InFlight { .. } = call.state {
                assert!(call.attempt <= 100, "{id}: attempt {}", call.attempt);
            }
        }
        assert!(self.requests.len() >= self.invocations.iter().count());
    }
}
