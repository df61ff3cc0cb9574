//! The simulated system: one scenario, one seed, one run.
//!
//! [`Sim`] wires the components onto one [`EventQueue`]. The scenario is first resolved into a
//! [`World`](world::World) — typed ids, units in nanoseconds, templates parsed — so nothing on
//! the event path looks a name up. Each component owns its state in its own file, with its
//! lifecycle spelled out as state enums:
//!
//! - `workload.rs` sends client requests (bodies from `template.rs`); `gateway.rs` validates, routes and answers them;
//! - `registry.rs` and `balancer.rs` find a replica; `replica.rs` queues and serves;
//! - `invocation.rs` runs handlers slice by slice; `calls.rs` makes their synchronous calls;
//! - `storeops.rs` carries their store operations to `kv.rs` and `cache.rs`, and `broker.rs`
//!   their publications; `requests.rs` tracks every request until nothing refers to it;
//! - `network.rs` carries every message between nodes; `faults.rs` applies the fault plan;
//! - `invariants.rs` checks the whole state after every event in test and debug builds.
//!
//! None reads a clock or an unseeded random source, and all iteration is over ordered
//! collections, so a run is a pure function of (scenario, modules, seed).

mod activator;
mod autoscale;
mod balancer;
mod broker;
mod cache;
mod calls;
mod cpu;
mod effects;
mod event;
mod faults;
mod gateway;
mod ids;
mod idtable;
mod invariants;
mod invocation;
mod journey;
mod kv;
mod memory;
mod mesh;
mod network;
mod payload;
mod recorder;
mod registry;
mod replica;
mod requests;
mod rollout;
mod storeops;
mod template;
mod workload;
mod world;

use std::collections::BTreeMap;

use fusebench_model::Scenario;

use crate::engine::EventQueue;
use crate::metrics::Metrics;
use crate::rng::{Seed, SimRng};
use crate::runtime::ServiceHost;
use crate::time::{SimTime, millis_to_nanos, secs_to_nanos};
use crate::trace::{Trace, TraceEvent, TraceMode};

pub use autoscale::policy::{ENDPOINT as POLICY_ENDPOINT, runtime_name as policy_runtime_name};
use event::Event;
pub use journey::JourneyStats;
pub use kv::{KvReplica, Versioned};
pub use mesh::filter::runtime_name as filter_runtime_name;
pub use mesh::filter::runtime_name_of as filter_runtime_name_of;
pub use mesh::route::subset_runtime_name;
pub use world::{WorldError, rollout_runtime_name};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub seed: Seed,
    /// Overrides the workload's duration.
    pub duration: Option<SimTime>,
    pub trace: TraceMode,
    /// Write, hash and stream the trace on a thread of its own ([`Trace::write_on_thread`]):
    /// the same trace, the run's thread freed of a third of its work. For a run that has a
    /// core to spare; only [`TraceMode::Hash`] moves.
    pub trace_thread: bool,
    /// Time-series sampling interval; default: the duration / 100, at least 10 ms.
    pub sample_interval: Option<u64>,
    /// After the workload stops, keep running this long so in-flight work drains.
    pub drain_nanos: u64,
}

impl RunOptions {
    #[must_use]
    pub fn new(seed: Seed) -> Self {
        RunOptions {
            seed,
            duration: None,
            trace: TraceMode::Hash,
            trace_thread: false,
            sample_interval: None,
            drain_nanos: secs_to_nanos(5.0),
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub system: String,
    pub seed: Seed,
    pub duration: SimTime,
    pub end: SimTime,
    pub events: u64,
    pub metrics: Metrics,
    pub trace_hash: String,
    /// The trace lines, when the trace mode is `Full`.
    pub trace: Vec<u8>,
    /// When the trace was streamed ([`Sim::with_trace_stream`]): the bytes written, or why the
    /// stream failed (the first error; the lines after it were not written).
    pub trace_streamed: Option<Result<u64, String>>,
    /// Final state of every key-value store replica: store → replicas → key → value.
    pub stores: BTreeMap<String, Vec<BTreeMap<Vec<u8>, Versioned>>>,
    /// Fuel every guest burned: the services' slices (those of invocations a crash or the
    /// run's end cut short included) and the mesh's WebAssembly filters. The trace's
    /// `invocation_end` lines add up to the finished invocations' part of it only.
    pub guest_fuel: u64,
    /// Client requests sent, and how many got an answer (any outcome).
    pub requests_sent: u64,
    pub requests_answered: u64,
    /// Messages on at-least-once channels some consumer group never acknowledged:
    /// (channel, message id, group).
    pub unacked: Vec<(String, u64, String)>,
    /// Per journey (by name, every declared one): how its instances went.
    pub journeys: BTreeMap<String, JourneyStats>,
    /// Every rollout that started, as its `rollout` trace lines tell it (the same reader the
    /// `rollout-safe` property uses on the trace).
    pub rollouts: Vec<crate::trace::rollout::RolloutTimeline>,
    /// The mesh's route pushes and routed requests, as its `mesh_route` lines tell them
    /// (empty without `[[mesh.subset]]`).
    pub mesh_routes: crate::trace::mesh_route::RouteLog,
}

/// One simulation run in progress.
pub struct Sim {
    scenario: Scenario,
    world: world::World,
    host: Box<dyn ServiceHost>,
    q: EventQueue<Event>,
    trace: Trace,
    rec: recorder::Recorder,
    seed: Seed,
    duration: SimTime,
    end: SimTime,
    sample_interval: u64,
    rng_workload: SimRng,
    rng_net: SimRng,
    rng_lb: SimRng,
    rng_broker: SimRng,
    /// Whether a `duplication` fault sends a sync request twice (drawn only while one is
    /// active, so runs without one draw nothing from it).
    rng_wire: SimRng,
    /// The gateway's back-off jitter under a mesh retry policy (drawn only then).
    rng_gateway: SimRng,
    /// The mesh filters' state (token buckets).
    mesh: mesh::MeshState,
    net: network::Network,
    registry: registry::Registry,
    services: Vec<replica::ServiceState>,
    requests: requests::Requests,
    invocations: invocation::Invocations,
    calls: calls::Calls,
    ops: storeops::StoreOps,
    stores: Vec<kv::StoreState>,
    /// The next write's version (the run's global write order).
    next_version: u64,
    broker: broker::Broker,
    balancers: balancer::Balancers,
    /// Per node: the invocations computing there share its cores.
    cpus: Vec<cpu::NodeCpu>,
    /// The guest instances on each node share its memory.
    memory: memory::NodeMemory,
    load: workload::Load,
    journeys: journey::Journeys,
    /// Per service: its autoscaler, if it has one.
    autoscalers: Vec<Option<autoscale::Autoscaler>>,
    /// Per `[[rollout]]`: where it is.
    rollouts: Vec<rollout::RolloutState>,
    /// The `rollout` lines written so far, read as the trace's reader reads them.
    rollout_log: crate::trace::rollout::Versions,
    /// The `mesh_route` lines written so far, read as the trace's reader reads them.
    route_log: crate::trace::mesh_route::RouteLog,
    /// The weighted pick of a version subset (`mesh/route.rs`; drawn only for a routed
    /// request, so other runs draw nothing from it).
    rng_route: SimRng,
    /// Each push's propagation delay to each proxy (drawn only for a push).
    rng_control: SimRng,
    /// Per service: the Knative activator of a scale-to-zero service (empty otherwise).
    activators: Vec<activator::Activator>,
    /// Module fetch times drawn when a replica starts with `cold_start = "module"` (drawn only
    /// then, so other runs draw nothing from it).
    rng_cold: SimRng,
    /// The mesh's fault injection (`mesh/fault.rs`; drawn only for a configured fault, so
    /// other runs draw nothing from it).
    rng_fault: SimRng,
    /// What a scaling policy module's `random` reads (never drawn unless a module does).
    rng_policy: SimRng,
    guest_fuel: u64,
    /// The gateway's last body validation (`gateway.rs`).
    body_check: gateway::BodyCheck,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("system", &self.world.name)
            .field("now", &self.q.now())
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// Prepares a run. `host` runs the services' modules (it must have every service with a
    /// module loaded); abstract services are served from their declared distribution.
    ///
    /// # Panics
    /// If the scenario has a dangling reference — which the parser refuses, so only a scenario
    /// built by hand can; use [`Sim::try_new`] for those.
    #[must_use]
    pub fn new(scenario: Scenario, host: Box<dyn ServiceHost>, options: &RunOptions) -> Self {
        match Self::try_new(scenario, host, options) {
            Ok(sim) => sim,
            Err(e) => panic!("{e} (a parsed scenario always resolves)"),
        }
    }

    /// Prepares a run of a scenario that may not have been through the parser.
    ///
    /// # Errors
    /// A reference to something the scenario does not declare.
    pub fn try_new(
        scenario: Scenario,
        host: Box<dyn ServiceHost>,
        options: &RunOptions,
    ) -> Result<Self, WorldError> {
        Self::build(scenario, host, options, None)
    }

    /// Prepares a run whose trace is streamed to `writer` line by line as it is emitted
    /// (buffer it) instead of being kept: `run --out` writes `trace.jsonl` this way, so a
    /// run's memory does not grow with its length. With [`TraceMode::Full`] the lines are
    /// also kept. [`Sim::finish`] flushes it and says how it went in
    /// [`RunResult::trace_streamed`].
    ///
    /// # Errors
    /// A reference to something the scenario does not declare.
    pub fn with_trace_stream(
        scenario: Scenario,
        host: Box<dyn ServiceHost>,
        options: &RunOptions,
        writer: Box<dyn std::io::Write + Send>,
    ) -> Result<Self, WorldError> {
        Self::build(scenario, host, options, Some(writer))
    }

    fn build(
        scenario: Scenario,
        host: Box<dyn ServiceHost>,
        options: &RunOptions,
        stream: Option<Box<dyn std::io::Write + Send>>,
    ) -> Result<Self, WorldError> {
        let world = world::World::new(&scenario)?;
        let seed = options.seed;
        let duration = options.duration.unwrap_or_else(|| {
            SimTime::from_secs_f64(scenario.workload.as_ref().map_or(0.0, |w| w.duration_s))
        });
        let end = duration + options.drain_nanos;
        let sample_interval =
            options.sample_interval.unwrap_or((duration.nanos() / 100).max(millis_to_nanos(10.0)));
        let services = world
            .services
            .iter()
            .map(|x| {
                let rng = SimRng::stream(seed, &format!("service/{}", x.name));
                replica::ServiceState::new(&x.name, x.replicas, x.slots, rng)
            })
            .collect();
        let stores = world
            .stores
            .iter()
            .map(|d| kv::StoreState {
                replicas: vec![d.initial.clone(); d.nodes.len()],
                cache: cache::CacheState::default(),
                extra_lag_nanos: 0,
                changes: BTreeMap::new(),
                rng: SimRng::stream(seed, &format!("store/{}", d.name)),
            })
            .collect();
        let mut trace = Trace::new(options.trace);
        if let Some(writer) = stream {
            trace.stream_to(writer);
        }
        if options.trace_thread {
            trace.write_on_thread();
        }
        let mut sim = Sim {
            host,
            q: EventQueue::default(),
            trace,
            rec: recorder::Recorder::new(&world),
            seed,
            duration,
            end,
            sample_interval,
            rng_workload: SimRng::stream(seed, "workload"),
            rng_net: SimRng::stream(seed, "network"),
            rng_lb: SimRng::stream(seed, "balancer"),
            rng_broker: SimRng::stream(seed, "broker"),
            rng_wire: SimRng::stream(seed, "wire-duplication"),
            rng_gateway: SimRng::stream(seed, "gateway"),
            mesh: mesh::MeshState::default(),
            net: network::Network::new(&world),
            registry: registry::Registry::new(world.services.iter().map(|x| x.slots)),
            services,
            requests: requests::Requests::default(),
            invocations: invocation::Invocations::default(),
            calls: calls::Calls::default(),
            ops: storeops::StoreOps::default(),
            stores,
            next_version: 1,
            broker: broker::Broker::new(world.channels.len(), world.groups.len()),
            balancers: balancer::Balancers::default(),
            cpus: world.node_cores.iter().map(|&c| cpu::NodeCpu::new(c)).collect(),
            memory: memory::NodeMemory::new(world.node_memory_mib.iter().copied()),
            load: workload::Load::default(),
            journeys: journey::Journeys::default(),
            autoscalers: world.services.iter().map(|_| None).collect(),
            activators: world.services.iter().map(|_| activator::Activator::default()).collect(),
            rollouts: world.rollouts.iter().map(|_| rollout::RolloutState::default()).collect(),
            rollout_log: crate::trace::rollout::Versions::default(),
            route_log: crate::trace::mesh_route::RouteLog::default(),
            rng_route: SimRng::stream(seed, "mesh-route"),
            rng_control: SimRng::stream(seed, "mesh-control-plane"),
            rng_cold: SimRng::stream(seed, "cold-start"),
            rng_fault: SimRng::stream(seed, "mesh-fault"),
            rng_policy: SimRng::stream(seed, "autoscale-policy"),
            guest_fuel: 0,
            body_check: gateway::BodyCheck::default(),
            world,
            scenario,
        };
        // No event after the end is ever popped (`step_until`): timers due later, such as the
        // M/M/c scenarios' 600 s gateway timeouts, are not queued.
        sim.q.never_after(end);
        sim.start();
        Ok(sim)
    }

    fn start(&mut self) {
        let now = self.q.now();
        self.trace.emit(now, &TraceEvent::RunStart { system: &self.world.name, seed: self.seed });
        self.start_registry();
        self.start_autoscalers();
        self.schedule_faults();
        self.schedule_rollouts();
        self.start_routing();
        self.start_workload();
        self.q.schedule(SimTime(self.sample_interval), Event::Sample);
    }

    /// Virtual time now.
    #[must_use]
    pub fn now(&self) -> SimTime {
        self.q.now()
    }

    /// Whether the run has reached its end.
    #[must_use]
    pub fn finished(&mut self) -> bool {
        self.q.peek_time().is_none_or(|t| t > self.end)
    }

    /// Processes one event; returns false when the run is over.
    pub fn step(&mut self) -> bool {
        self.step_until(self.end)
    }

    /// Processes the next event if it is due by `t` (and by the end); returns whether there
    /// was one. One look at the queue per event (`pop_if`), not a peek then a pop.
    fn step_until(&mut self, t: SimTime) -> bool {
        let limit = t.min(self.end);
        let Some((_, event)) = self.q.pop_if(|next| next <= limit) else { return false };
        self.dispatch(event);
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
        true
    }

    /// Runs until virtual time `t` (or the end), in one go. For bounded slices (a GUI frame,
    /// a progress bar) call it with successive times.
    pub fn run_until(&mut self, t: SimTime) {
        while self.step_until(t) {}
    }

    /// Runs to the end and returns the result.
    #[must_use]
    pub fn run(mut self) -> RunResult {
        while self.step() {}
        self.finish()
    }

    /// Ends the run now and returns the result.
    #[must_use]
    pub fn finish(mut self) -> RunResult {
        let events = self.q.processed();
        let end = self.q.now();
        self.trace.emit(end, &TraceEvent::RunEnd { events });
        let streaming = self.trace.is_streaming();
        let trace_streamed =
            streaming.then(|| self.trace.close_stream().map_err(|e| e.to_string()));
        RunResult {
            system: self.world.name.clone(),
            seed: self.seed,
            duration: self.duration,
            end,
            events,
            trace_hash: self.trace.hash(),
            trace: self.trace.take_lines(),
            trace_streamed,
            stores: self.take_kv_snapshot(),
            unacked: self.unacked(),
            metrics: self.rec.metrics(&self.world),
            guest_fuel: self.guest_fuel,
            requests_sent: self.load.sent,
            requests_answered: self.load.answered,
            journeys: self.journeys.stats(&self.world),
            rollouts: self.rollout_log.timelines_at(end),
            mesh_routes: std::mem::take(&mut self.route_log),
        }
    }

    /// The scenario being run.
    #[must_use]
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Metrics so far, keyed by name (built on each call: for a viewer of a live run that
    /// only needs the time series, [`Sim::series`] is cheaper).
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        self.rec.metrics(&self.world)
    }

    /// The time series sampled so far.
    #[must_use]
    pub fn series(&self) -> &[crate::metrics::Sample] {
        self.rec.series()
    }

    /// The trace lines emitted so far (empty unless the trace mode is `Full`): a viewer reads
    /// the new ones after each slice to show what happened.
    #[must_use]
    pub fn trace_lines(&self) -> &[u8] {
        self.trace.lines()
    }

    /// When the next event happens, if the run has one left before its end.
    #[must_use]
    pub fn next_event_time(&mut self) -> Option<SimTime> {
        self.q.peek_time().filter(|&t| t <= self.end)
    }

    /// When the run ends (the workload's duration plus the drain).
    #[must_use]
    pub fn end_time(&self) -> SimTime {
        self.end
    }

    /// Messages published on at-least-once channels and not yet acknowledged by every group.
    #[must_use]
    pub fn unacked_messages(&self) -> usize {
        self.broker.pending()
    }

    /// Runs until virtual time `t` (or the end) but processes at most `events_max` events, so a
    /// caller with a frame budget never blocks on a burst. Returns the events processed.
    pub fn run_until_bounded(&mut self, t: SimTime, events_max: u64) -> u64 {
        let mut n = 0;
        while n < events_max && self.step_until(t) {
            n += 1;
        }
        n
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Arrival => self.on_arrival(),
            Event::UserNext(user) => self.on_user_next(user),
            Event::JourneyNext(id) => self.on_journey_next(id),
            Event::AtGateway(req) => self.on_at_gateway(req),
            Event::GatewayTimeout(req) => self.on_gateway_timeout(req),
            Event::AtClient { req, outcome, body } => self.on_at_client(req, outcome, &body),
            Event::AtReplica { req, service, replica } => self.on_at_replica(req, service, replica),
            Event::CpuDone(node) => self.on_cpu_done(node),
            Event::ProxyWire(leg) => self.on_proxy_wire(leg),
            Event::SliceDone(inv) => self.on_slice_done(inv),
            Event::Reply { req, outcome, body } => self.on_reply(req, outcome, body),
            Event::CallTimeout { call, attempt } => self.on_call_timeout(call, attempt),
            Event::CallRetry(call) => self.send_call_attempt(call),
            Event::PoolDrain { caller, service } => self.on_pool_drain(caller, service),
            Event::StoreAt { op, replica } => self.on_store_at(op, replica),
            Event::OpReply(op) => self.on_op_reply(op),
            Event::OpTimeout(op) => self.on_op_timeout(op),
            Event::Replicate(w) => self.on_replicate(&w),
            Event::ReplicateRetry(w) => self.send_replicate(*w),
            Event::ReplicaAck(op) => self.on_replica_ack(op),
            Event::AtBroker { op, inv, channel, message } => {
                self.on_at_broker(op, inv, channel, message);
            }
            Event::Deliver { msg, group, redelivery } => self.on_deliver(msg, group, redelivery),
            Event::AckTimeout { msg, group, attempt } => self.on_ack_timeout(msg, group, attempt),
            Event::Heartbeat { service, replica, life } => {
                self.on_heartbeat(service, replica, life);
            }
            Event::ReplicaReady { service, replica, life } => {
                self.on_replica_ready(service, replica, life);
            }
            Event::Autoscale(service) => self.on_autoscale(service),
            Event::ActivatorTimeout { service, req } => self.on_activator_timeout(service, req),
            Event::RegistrySweep => self.on_registry_sweep(),
            Event::FaultStart(i) => self.on_fault_start(i),
            Event::FaultEnd(i) => self.on_fault_end(i),
            Event::Restart { service, replica } => self.on_restart(service, replica),
            Event::RolloutStart(i) => self.on_rollout_start(i),
            Event::MeshPush(i) => self.on_mesh_push(i),
            Event::MeshApply { proxy, config } => self.on_mesh_apply(proxy, config),
            Event::RolloutDrain { rollout, replica, life } => {
                self.on_rollout_drain(rollout, replica, life);
            }
            Event::Sample => self.on_sample(),
            Event::WorkloadEnd => {
                self.load.stopped = true;
                let owed = self.cpu_owed_by_service();
                self.rec.close_workload(self.q.now().nanos(), &owed);
            }
        }
    }

    fn on_sample(&mut self) {
        let now = self.q.now();
        let gauges = self.gauges();
        let interval = self.sample_interval as f64 / 1e9;
        self.rec.sample(&self.world, now.as_secs_f64(), interval, gauges);
        if now + self.sample_interval <= self.end {
            self.q.after(self.sample_interval, Event::Sample);
        }
    }
}

#[cfg(test)]
mod hostops_tests;
#[cfg(test)]
mod tests;
