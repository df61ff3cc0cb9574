//! Service replicas: concurrency slots and a bounded FIFO queue in front of them (an M/M/c/K
//! station per replica), crashes that lose what they held, and restarts.

use std::collections::VecDeque;

use super::Sim;
use super::event::Event;
use super::ids::{InvId, ReplicaIdx, ReqId, ServiceId};
use super::requests::Stage;
use crate::metrics::Outcome;
use crate::rng::SimRng;
use crate::trace::TraceEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    Up,
    /// Crashed: accepts nothing, sends no heartbeats, until a restart.
    Down,
}

#[derive(Debug, Clone)]
pub(crate) struct Replica {
    pub(crate) health: Health,
    /// Invocations running on this replica, one per busy slot (abandoned if it crashes).
    pub(crate) running: Vec<InvId>,
    pub(crate) queue: VecDeque<ReqId>,
}

impl Replica {
    pub(crate) fn is_up(&self) -> bool {
        self.health == Health::Up
    }

    pub(crate) fn busy(&self) -> u32 {
        self.running.len() as u32
    }

    /// Requests in service or queued here.
    pub(crate) fn outstanding(&self) -> usize {
        self.running.len() + self.queue.len()
    }
}

/// The run-time state of one service.
#[derive(Debug)]
pub(crate) struct ServiceState {
    /// The name the service host knows its current module by (changes on a module swap).
    pub(crate) runtime_name: String,
    pub(crate) replicas: Vec<Replica>,
    /// Round-robin position.
    pub(crate) rr: u64,
    /// The service's own random stream (service times, guest randomness, retry jitter).
    pub(crate) rng: SimRng,
}

impl ServiceState {
    pub(crate) fn new(name: &str, replicas: u32, rng: SimRng) -> Self {
        let replica = Replica { health: Health::Up, running: Vec::new(), queue: VecDeque::new() };
        ServiceState {
            runtime_name: name.to_owned(),
            replicas: vec![replica; replicas as usize],
            rr: 0,
            rng,
        }
    }
}

impl Sim {
    pub(crate) fn replica(&self, service: ServiceId, replica: ReplicaIdx) -> &Replica {
        &self.services[service.index()].replicas[replica as usize]
    }

    fn replica_mut(&mut self, service: ServiceId, replica: ReplicaIdx) -> &mut Replica {
        &mut self.services[service.index()].replicas[replica as usize]
    }

    pub(crate) fn on_at_replica(&mut self, req: ReqId, service: ServiceId, replica: ReplicaIdx) {
        let now = self.q.now();
        let spec = self.world.service(service);
        let (concurrency, capacity) = (spec.concurrency, spec.queue_capacity);
        let r = &self.services[service.index()].replicas[replica as usize];
        if !r.is_up() {
            let node = self.world.node_name(spec.node);
            self.trace.emit(
                now,
                &TraceEvent::Dropped {
                    what: "request",
                    id: req.0,
                    from: node,
                    to: node,
                    reason: "replica down",
                },
            );
            self.requests.settle(req);
            return;
        }
        let (busy, queued) = (r.busy(), r.queue.len());
        if busy < concurrency || queued < capacity {
            self.requests.live_mut(req).arrived = now;
            self.rec.service(service).occupancy_change(now.nanos(), 1);
        }
        if busy < concurrency {
            self.start_invocation(req, service, replica);
        } else if queued < capacity {
            self.replica_mut(service, replica).queue.push_back(req);
            self.requests.set_stage(req, Stage::Queued);
            let depth: u64 =
                self.services[service.index()].replicas.iter().map(|r| r.queue.len() as u64).sum();
            let stats = self.rec.service(service);
            stats.queue_depth_max = stats.queue_depth_max.max(depth);
        } else {
            let name = &self.world.service(service).name;
            self.trace.emit(
                now,
                &TraceEvent::Rejected { req: req.0, service: name, replica, reason: "queue full" },
            );
            self.rec.service(service).rejected += 1;
            self.respond(req, service, Outcome::Rejected, Vec::new());
        }
    }

    /// A slot freed up: start the next queued request, if any.
    pub(crate) fn start_next(&mut self, service: ServiceId, replica: ReplicaIdx) {
        let concurrency = self.world.service(service).concurrency;
        let r = self.replica_mut(service, replica);
        if r.is_up()
            && r.busy() < concurrency
            && let Some(next) = r.queue.pop_front()
        {
            self.start_invocation(next, service, replica);
        }
    }

    pub(crate) fn crash_replica(&mut self, service: ServiceId, replica: ReplicaIdx) {
        let now = self.q.now();
        let r = self.replica_mut(service, replica);
        if !r.is_up() {
            return; // crashing a crashed replica changes nothing
        }
        r.health = Health::Down;
        let running = std::mem::take(&mut r.running);
        let queued: Vec<ReqId> = r.queue.drain(..).collect();
        let name = &self.world.service(service).name;
        self.trace.emit(now, &TraceEvent::ReplicaDown { service: name, replica });
        // Running and queued requests die with the replica; their senders time out. They leave
        // the service now: counted as departures so that L = λW still holds.
        let mut lost = Vec::with_capacity(running.len() + queued.len());
        let node = self.world.service(service).node;
        for id in running {
            self.cpu_cancel(node, id);
            let inv = self.invocations.remove(id);
            lost.push(inv.req);
            if let Some(rt) = inv.runtime {
                self.host.abandon(rt);
            }
        }
        lost.extend(queued);
        // The replica's idle instances die with its process.
        let runtime = &self.services[service.index()].runtime_name;
        self.host.drop_pool(runtime, replica);
        self.memory.drop_replica(service, replica);
        let stats = self.rec.service(service);
        stats.occupancy_change(now.nanos(), -(lost.len() as i64));
        let node = self.world.node_name(self.world.service(service).node);
        for req in lost {
            // Traced one by one: a request lost in a crash is a silent drop unless its sender
            // recovers it (a retry, a redelivery), which no-loss judges.
            self.trace.emit(
                now,
                &TraceEvent::Dropped {
                    what: "request",
                    id: req.0,
                    from: node,
                    to: node,
                    reason: "replica crashed",
                },
            );
            let arrived = self.requests.live(req).arrived;
            stats.completed += 1;
            stats.sojourn_nanos += u128::from(now - arrived);
            self.requests.settle(req);
        }
    }

    pub(crate) fn on_restart(&mut self, service: ServiceId, replica: ReplicaIdx) {
        let now = self.q.now();
        let r = self.replica_mut(service, replica);
        if r.is_up() {
            return; // it was never down, or another fault restarted it first
        }
        r.health = Health::Up;
        let name = &self.world.service(service).name;
        self.trace.emit(now, &TraceEvent::ReplicaUp { service: name, replica });
        self.register(service, replica, now);
        self.q.after(self.world.heartbeat, Event::Heartbeat { service, replica });
    }

    /// (queue depth, utilisation of slots, live replicas) per service, for the time series.
    pub(crate) fn gauges(&self) -> std::collections::BTreeMap<String, (u64, f64, u64)> {
        self.world
            .services
            .iter()
            .zip(&self.services)
            .map(|(spec, x)| {
                let queue: u64 = x.replicas.iter().map(|r| r.queue.len() as u64).sum();
                let busy: u64 = x.replicas.iter().map(|r| u64::from(r.busy())).sum();
                let slots = (x.replicas.len() as u64 * u64::from(spec.concurrency)).max(1);
                let live = x.replicas.iter().filter(|r| r.is_up()).count() as u64;
                (spec.name.clone(), (queue, busy as f64 / slots as f64, live))
            })
            .collect()
    }
}
