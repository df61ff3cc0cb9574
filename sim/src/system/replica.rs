//! Service replicas: concurrency slots and a bounded FIFO queue in front of them (an M/M/c/K
//! station per replica), crashes that lose what they held, and restarts.

use std::collections::VecDeque;

use super::Sim;
use super::event::Event;
use super::ids::{InvId, ReplicaIdx, ReqId, ServiceId, VersionIdx};
use super::requests::Stage;
use crate::metrics::Outcome;
use crate::rng::SimRng;
use crate::trace::TraceEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    Up,
    /// Crashed: accepts nothing, sends no heartbeats, until a restart.
    Down,
    /// Wanted by the autoscaler, but no room on its node: holds nothing, waits for room (a
    /// Kubernetes pod `Pending` as unschedulable).
    Pending,
    /// Placed (it holds its CPU and memory request) and starting: ready after `startup_ms`.
    Starting,
    /// Scaled down: deregistered, takes no new work, finishes what it holds, then stops.
    Draining,
    /// No replica in this position (only an autoscaled service has such positions).
    Off,
}

impl Health {
    /// The name `replica_state` trace lines use.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Health::Up => "ready",
            Health::Down => "down",
            Health::Pending => "pending",
            Health::Starting => "starting",
            Health::Draining => "draining",
            Health::Off => "stopped",
        }
    }

    /// Whether it holds a place on its node (its requests count against the node's room).
    pub(crate) fn is_placed(self) -> bool {
        matches!(self, Health::Up | Health::Down | Health::Starting | Health::Draining)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Replica {
    pub(crate) health: Health,
    /// Starts in this position so far: events of an earlier replica here (its heartbeats, its
    /// readiness) are told apart from this one's.
    pub(crate) life: u32,
    /// Invocations running on this replica, one per busy slot (abandoned if it crashes).
    pub(crate) running: Vec<InvId>,
    pub(crate) queue: VecDeque<ReqId>,
    /// The module version this replica runs: the service's target when it started (a
    /// Kubernetes pod runs its ReplicaSet's template) or its version subset's, kept across a
    /// crash and restart (the same pod), changed in place only by a module swap or an in-place
    /// rollout.
    pub(crate) version: VersionIdx,
    /// It crashed while starting (never ready since it was placed): its restart starts it
    /// again, ready only after its start-up, as a Kubernetes pod whose container restarts
    /// is Ready only once its readiness probe passes. (A ready replica that crashes restarts
    /// through its start-up too, when it has one: `Sim::on_restart`.)
    pub(crate) crashed_starting: bool,
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
    /// The names the service host knows the service's module versions by, by [`VersionIdx`]:
    /// index 0 is the declared module, later ones were brought by module swaps and rollouts.
    versions: Vec<String>,
    /// The version a replica that starts runs (a Deployment's current pod template).
    pub(crate) target: VersionIdx,
    pub(crate) replicas: Vec<Replica>,
    /// Round-robin position.
    pub(crate) rr: u64,
    /// The service's own random stream (service times, guest randomness, retry jitter).
    pub(crate) rng: SimRng,
}

impl ServiceState {
    /// `replicas` up, in `slots` positions (the rest `Off`, for an autoscaler to fill).
    pub(crate) fn new(name: &str, replicas: u32, slots: u32, rng: SimRng) -> Self {
        let replica = |health| Replica {
            health,
            life: 0,
            running: Vec::new(),
            queue: VecDeque::new(),
            version: VersionIdx(0),
            crashed_starting: false,
        };
        let replicas = (0..slots.max(replicas))
            .map(|i| replica(if i < replicas { Health::Up } else { Health::Off }))
            .collect();
        ServiceState {
            versions: vec![name.to_owned()],
            target: VersionIdx(0),
            replicas,
            rr: 0,
            rng,
        }
    }

    /// The module version replica `replica` runs.
    pub(crate) fn version_of(&self, replica: ReplicaIdx) -> VersionIdx {
        self.replicas[replica as usize].version
    }

    /// The name the service host knows version `v` by.
    pub(crate) fn runtime(&self, v: VersionIdx) -> &str {
        &self.versions[v.index()]
    }

    /// The name the service host knows the module replica `replica` runs by.
    pub(crate) fn runtime_of(&self, replica: ReplicaIdx) -> &str {
        self.runtime(self.version_of(replica))
    }

    /// What starting an invocation on `replica` needs at once: the name its module version is
    /// known by, and the service's random stream.
    pub(crate) fn runtime_and_rng(&mut self, replica: ReplicaIdx) -> (&str, &mut SimRng) {
        let v = self.replicas[replica as usize].version;
        (&self.versions[v.index()], &mut self.rng)
    }

    /// The version the host knows as `runtime`, added after the others the first time.
    pub(crate) fn version_named(&mut self, runtime: &str) -> VersionIdx {
        let at = self.versions.iter().position(|v| v == runtime).unwrap_or_else(|| {
            self.versions.push(runtime.to_owned());
            self.versions.len() - 1
        });
        VersionIdx(at as u32)
    }
}

impl Sim {
    pub(crate) fn replica(&self, service: ServiceId, replica: ReplicaIdx) -> &Replica {
        &self.services[service.index()].replicas[replica as usize]
    }

    pub(crate) fn replica_mut(&mut self, service: ServiceId, replica: ReplicaIdx) -> &mut Replica {
        &mut self.services[service.index()].replicas[replica as usize]
    }

    /// A replica starts (`step` `starting`: a new pod, which runs the service's target
    /// version — its ReplicaSet's current template) or restarts after a crash (`restarted`:
    /// the kubelet restarts the container in the same pod, with the same image, so it keeps
    /// the version it ran — its version subset's, or the old one in the middle of a rolling
    /// rollout, which then retires it as any old replica).
    pub(crate) fn start_version(
        &mut self,
        service: ServiceId,
        replica: ReplicaIdx,
        step: &'static str,
    ) {
        if step != "restarted" {
            let state = &mut self.services[service.index()];
            state.replicas[replica as usize].version = state.target;
        }
        self.rollout_replica_changed(service, replica, step);
    }

    pub(crate) fn on_at_replica(&mut self, req: ReqId, service: ServiceId, replica: ReplicaIdx) {
        let now = self.q.now();
        self.activator_arrived(service, req);
        let r = &self.services[service.index()].replicas[replica as usize];
        if !matches!(r.health, Health::Up | Health::Down) && self.back_to_activator(req, service) {
            return; // a scale-to-zero service's activator holds it instead
        }
        let spec = self.world.service(service);
        let (concurrency, capacity) = (spec.concurrency, spec.queue_capacity);
        let r = &self.services[service.index()].replicas[replica as usize];
        if let Some(reason) = match r.health {
            Health::Up | Health::Down => None,
            Health::Draining => Some("replica draining"),
            Health::Pending | Health::Starting | Health::Off => Some("replica not running"),
        } {
            // Reached through a stale discovery cache: the process refuses it at once.
            let name = &spec.name;
            self.trace
                .emit(now, &TraceEvent::Rejected { req: req.0, service: name, replica, reason });
            self.rec.service(service).rejected += 1;
            self.respond(req, service, Outcome::Rejected, Vec::new());
            return;
        }
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

    /// A slot freed up: start the next queued request, if any; a draining replica that holds
    /// nothing more stops.
    pub(crate) fn start_next(&mut self, service: ServiceId, replica: ReplicaIdx) {
        let concurrency = self.world.service(service).concurrency;
        let r = self.replica_mut(service, replica);
        let serving = matches!(r.health, Health::Up | Health::Draining);
        if serving
            && r.busy() < concurrency
            && let Some(next) = r.queue.pop_front()
        {
            self.start_invocation(next, service, replica);
        }
        let r = self.replica(service, replica);
        if r.health == Health::Draining && r.outstanding() == 0 {
            self.replica_stopped(service, replica);
        }
        if !self.activators[service.index()].is_empty() {
            self.release_buffered(service);
        }
    }

    pub(crate) fn crash_replica(&mut self, service: ServiceId, replica: ReplicaIdx) {
        let now = self.q.now();
        let r = self.replica_mut(service, replica);
        let draining = match r.health {
            Health::Up => false,
            Health::Draining => true,
            Health::Starting => {
                // Nothing to lose yet; it stays placed, down, until a restart, which starts
                // it again (`on_restart`).
                r.health = Health::Down;
                r.crashed_starting = true;
                let name = &self.world.service(service).name;
                self.trace.emit(now, &TraceEvent::ReplicaDown { service: name, replica });
                return;
            }
            // Crashing a crashed replica, or a position with no process, changes nothing.
            Health::Down | Health::Pending | Health::Off => return,
        };
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
            let owed = self.cpu_cancel(node, id);
            self.rec.service(service).cpu_cancelled_nanos += owed;
            let inv = self.invocations.remove(id);
            lost.push(inv.req);
            if let Some(rt) = inv.runtime {
                self.host.abandon(rt);
            }
        }
        lost.extend(queued);
        // The replica's idle instances die with its process.
        let runtime = self.services[service.index()].runtime_of(replica);
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
        let retired = self.take_retired(service, replica);
        if draining || retired {
            // It was going anyway: it does not come back.
            self.replica_stopped(service, replica);
        } else {
            self.rollout_replica_changed(service, replica, "");
        }
    }

    /// A crashed replica restarts (a `crash` fault's `restart_after_s`), as the kubelet
    /// restarts a crashed container in the same pod: the pod is Ready — in its Service's
    /// endpoints, so discovered and balanced to — only once its readiness probe passes again.
    /// So a replica with a start-up (`startup_ms`, a rollout's, a module cold start) restarts
    /// `starting` and pays it again, exactly as a new replica of its service and version does,
    /// before it registers and takes work; one without a start-up is ready at once. The
    /// kubelet's CrashLoopBackOff (10 s doubling to 5 min between repeated restarts) is not
    /// modelled: the fault's `restart_after_s` is the delay.
    pub(crate) fn on_restart(&mut self, service: ServiceId, replica: ReplicaIdx) {
        let now = self.q.now();
        let r = self.replica_mut(service, replica);
        if r.health != Health::Down {
            return; // it was never down, another fault restarted it first, or it was scaled away
        }
        let crashed_starting = std::mem::take(&mut r.crashed_starting);
        if crashed_starting || self.has_startup(service, replica) {
            // It starts again and is ready only after its start-up, whether it had been ready
            // or not (a new life, so a first start's readiness event, or the heartbeats of
            // its life before the crash, no longer count). One that had been ready may still
            // be registered (the registry had not expired it yet): the restarted process
            // reports itself not ready, so it leaves the registry until it is ready.
            let r = self.replica_mut(service, replica);
            r.health = Health::Starting;
            r.life += 1;
            let life = r.life;
            let name = &self.world.service(service).name;
            self.trace.emit(now, &TraceEvent::ReplicaUp { service: name, replica });
            self.deregister(service, replica, "restarting");
            self.trace_replica(service, replica, now);
            self.start_version(service, replica, "restarted");
            let delay = self.startup_delay(service, replica);
            self.q.after(delay, Event::ReplicaReady { service, replica, life });
            return;
        }
        let r = self.replica_mut(service, replica);
        r.health = Health::Up;
        let life = r.life;
        let name = &self.world.service(service).name;
        self.trace.emit(now, &TraceEvent::ReplicaUp { service: name, replica });
        self.register(service, replica, now);
        self.q.after(self.world.heartbeat, Event::Heartbeat { service, replica, life });
        self.start_version(service, replica, "restarted");
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
                let placed = x.replicas.iter().filter(|r| r.health.is_placed()).count() as u64;
                let slots = (placed * u64::from(spec.concurrency)).max(1);
                let live = x.replicas.iter().filter(|r| r.is_up()).count() as u64;
                (spec.name.clone(), (queue, busy as f64 / slots as f64, live))
            })
            .collect()
    }
}
