//! The simulated system: one scenario, one seed, one run.
//!
//! [`Sim`] wires the components — workload, network, API gateway, service registry, load
//! balancing, service replicas running guest code through a [`ServiceHost`], key-value stores,
//! caches, the message broker and the fault plan — onto one [`EventQueue`]. Each component keeps
//! its own state and reacts to events; none reads a clock or an unseeded random source, and all
//! iteration is over ordered collections, so a run is a pure function of (scenario, modules,
//! seed). Components live in sibling files as `impl Sim` blocks over their own state.

mod data;
mod faults;
mod network;
mod serving;
mod workload;

use std::collections::BTreeMap;

use fusebench_model::Scenario;

use crate::engine::EventQueue;
use crate::metrics::{Metrics, Outcome};
use crate::rng::{Seed, SimRng};
use crate::runtime::ServiceHost;
use crate::time::{SimTime, millis_to_nanos, secs_to_nanos};
use crate::trace::{Trace, TraceEvent, TraceMode};

pub use data::{KvReplica, Versioned};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub seed: Seed,
    /// Overrides the workload's duration.
    pub duration: Option<SimTime>,
    pub trace: TraceMode,
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
            sample_interval: None,
            drain_nanos: secs_to_nanos(5.0),
        }
    }
}

/// Identifies a request (client request, internal call attempt, or message delivery).
pub(crate) type ReqId = u64;
pub(crate) type InvId = u64;

/// Events the components react to.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    Arrival,
    UserNext(u32),
    /// A client request reaches the gateway.
    AtGateway(ReqId),
    GatewayTimeout(ReqId),
    /// A response reaches the client.
    AtClient {
        req: ReqId,
        outcome: Outcome,
    },
    /// A request reaches a service replica.
    AtReplica {
        req: ReqId,
        svc: usize,
        replica: u32,
    },
    /// The CPU time of an invocation's slice has elapsed: act on its step.
    SliceDone(InvId),
    /// A response reaches whoever sent the request (gateway, caller, broker).
    Reply {
        req: ReqId,
        outcome: Outcome,
        body: Vec<u8>,
    },
    CallTimeout {
        call: u64,
        attempt: u32,
    },
    CallRetry {
        call: u64,
    },
    /// A store operation reaches a store replica.
    StoreAt {
        op: u64,
        replica: u32,
    },
    /// A store operation's answer reaches the invocation that issued it.
    OpReply {
        op: u64,
    },
    OpTimeout {
        op: u64,
    },
    /// A replicated write reaches a replica (boxed: it would make every event twice as big,
    /// and events are moved on every heap operation).
    Replicate(Box<ReplicaWrite>),
    /// A replicated write that could not get through is sent again.
    ReplicateRetry(Box<ReplicaWrite>),
    /// A strong write's replica acknowledgement reaches the primary.
    ReplicaAck {
        op: u64,
    },
    /// A published message reaches the broker.
    AtBroker {
        op: u64,
        channel: usize,
        message: Vec<u8>,
    },
    Deliver {
        msg: u64,
        group: usize,
        redelivery: bool,
    },
    AckTimeout {
        msg: u64,
        group: usize,
        attempt: u32,
    },
    Heartbeat {
        svc: usize,
        replica: u32,
    },
    RegistrySweep,
    FaultStart(usize),
    FaultEnd(usize),
    Restart {
        svc: usize,
        replica: u32,
    },
    Sample,
    WorkloadEnd,
}

/// A replicated write in flight from replica `from` to `replica` of `store`.
#[derive(Debug, Clone)]
pub(crate) struct ReplicaWrite {
    pub(crate) store: usize,
    pub(crate) replica: u32,
    pub(crate) key: Vec<u8>,
    pub(crate) value: Versioned,
    pub(crate) from: u32,
    pub(crate) sent: SimTime,
    pub(crate) ack_op: Option<u64>,
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
    /// Final state of every key-value store replica: store → replicas → key → value.
    pub stores: BTreeMap<String, Vec<BTreeMap<Vec<u8>, Versioned>>>,
    /// Nanoseconds spent inside guests (wall time is not measured; this is fuel-derived).
    pub guest_fuel: u64,
    /// Client requests sent, and how many got an answer (any outcome).
    pub requests_sent: u64,
    pub requests_answered: u64,
    /// Messages on at-least-once channels some consumer group never acknowledged:
    /// (channel, message id, group).
    pub unacked: Vec<(String, u64, String)>,
}

/// One simulation run in progress.
pub struct Sim {
    pub(crate) s: Scenario,
    pub(crate) host: Box<dyn ServiceHost>,
    pub(crate) q: EventQueue<Event>,
    pub(crate) trace: Trace,
    pub(crate) metrics: Metrics,
    pub(crate) seed: Seed,
    pub(crate) duration: SimTime,
    pub(crate) end: SimTime,
    pub(crate) sample_interval: u64,
    pub(crate) rng_workload: SimRng,
    pub(crate) rng_net: SimRng,
    pub(crate) rng_lb: SimRng,
    pub(crate) rng_broker: SimRng,
    pub(crate) net: network::Network,
    pub(crate) serving: serving::Serving,
    pub(crate) data: data::Data,
    pub(crate) load: workload::Load,
    pub(crate) guest_fuel: u64,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("system", &self.s.name)
            .field("now", &self.q.now())
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// Prepares a run. `host` runs the services' modules (it must have every service with a
    /// module loaded); abstract services are served from their declared distribution.
    #[must_use]
    pub fn new(scenario: Scenario, host: Box<dyn ServiceHost>, options: &RunOptions) -> Self {
        let seed = options.seed;
        let duration = options.duration.unwrap_or_else(|| {
            SimTime::from_secs_f64(scenario.workload.as_ref().map_or(0.0, |w| w.duration_s))
        });
        let end = duration + options.drain_nanos;
        let sample_interval =
            options.sample_interval.unwrap_or((duration.nanos() / 100).max(millis_to_nanos(10.0)));
        let net = network::Network::new(&scenario);
        let serving = serving::Serving::new(&scenario, seed);
        let data = data::Data::new(&scenario, seed);
        let load = workload::Load::default();
        let mut sim = Sim {
            host,
            q: EventQueue::default(),
            trace: Trace::new(options.trace),
            metrics: Metrics::default(),
            seed,
            duration,
            end,
            sample_interval,
            rng_workload: SimRng::stream(seed, "workload"),
            rng_net: SimRng::stream(seed, "network"),
            rng_lb: SimRng::stream(seed, "balancer"),
            rng_broker: SimRng::stream(seed, "broker"),
            net,
            serving,
            data,
            load,
            guest_fuel: 0,
            s: scenario,
        };
        sim.start();
        sim
    }

    fn start(&mut self) {
        let now = self.q.now();
        self.trace.emit(now, &TraceEvent::RunStart { system: &self.s.name, seed: self.seed });
        self.start_registry();
        self.schedule_faults();
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
        if self.finished() {
            return false;
        }
        let Some((_, event)) = self.q.pop() else { return false };
        self.dispatch(event);
        true
    }

    /// Runs until virtual time `t` (or the end), in one go. For bounded slices (a GUI frame,
    /// a progress bar) call it with successive times.
    pub fn run_until(&mut self, t: SimTime) {
        while self.q.peek_time().is_some_and(|next| next <= t && next <= self.end) {
            self.step();
        }
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
        let stores = self.data.snapshot();
        RunResult {
            system: self.s.name.clone(),
            seed: self.seed,
            duration: self.duration,
            end,
            events,
            trace_hash: self.trace.hash(),
            trace: self.trace.lines().to_vec(),
            metrics: std::mem::take(&mut self.metrics),
            stores,
            guest_fuel: self.guest_fuel,
            requests_sent: self.load.sent,
            requests_answered: self.load.answered,
            unacked: self.data.unacked(&self.s),
        }
    }

    /// The scenario being run.
    #[must_use]
    pub fn scenario(&self) -> &Scenario {
        &self.s
    }

    /// Metrics so far.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
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

    /// Runs until virtual time `t` (or the end) but processes at most `events_max` events, so a
    /// caller with a frame budget never blocks on a burst. Returns the events processed.
    pub fn run_until_bounded(&mut self, t: SimTime, events_max: u64) -> u64 {
        let mut n = 0;
        while n < events_max && self.next_event_time().is_some_and(|next| next <= t) {
            self.step();
            n += 1;
        }
        n
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Arrival => self.on_arrival(),
            Event::UserNext(user) => self.on_user_next(user),
            Event::AtGateway(req) => self.on_at_gateway(req),
            Event::GatewayTimeout(req) => self.on_gateway_timeout(req),
            Event::AtClient { req, outcome } => self.on_at_client(req, outcome),
            Event::AtReplica { req, svc, replica } => self.on_at_replica(req, svc, replica),
            Event::SliceDone(inv) => self.on_slice_done(inv),
            Event::Reply { req, outcome, body } => self.on_reply(req, outcome, body),
            Event::CallTimeout { call, attempt } => self.on_call_timeout(call, attempt),
            Event::CallRetry { call } => self.send_call_attempt(call),
            Event::StoreAt { op, replica } => self.on_store_at(op, replica),
            Event::OpReply { op } => self.on_op_reply(op),
            Event::OpTimeout { op } => self.on_op_timeout(op),
            Event::Replicate(w) => {
                let ReplicaWrite { store, replica, key, value, from, sent, ack_op } = *w;
                self.on_replicate(store, replica, &key, &value, from, sent, ack_op);
            }
            Event::ReplicateRetry(w) => {
                let ReplicaWrite { store, replica, key, value, from, sent, ack_op } = *w;
                self.send_replicate(store, replica, key, value, from, sent, ack_op);
            }
            Event::ReplicaAck { op } => self.on_replica_ack(op),
            Event::AtBroker { op, channel, message } => self.on_at_broker(op, channel, message),
            Event::Deliver { msg, group, redelivery } => self.on_deliver(msg, group, redelivery),
            Event::AckTimeout { msg, group, attempt } => self.on_ack_timeout(msg, group, attempt),
            Event::Heartbeat { svc, replica } => self.on_heartbeat(svc, replica),
            Event::RegistrySweep => self.on_registry_sweep(),
            Event::FaultStart(i) => self.on_fault_start(i),
            Event::FaultEnd(i) => self.on_fault_end(i),
            Event::Restart { svc, replica } => self.on_restart(svc, replica),
            Event::Sample => self.on_sample(),
            Event::WorkloadEnd => self.load.stopped = true,
        }
    }

    fn on_sample(&mut self) {
        let now = self.q.now();
        let gauges = self.serving.gauges();
        let interval = self.sample_interval as f64 / 1e9;
        self.metrics.sample(now.as_secs_f64(), interval, gauges);
        if now + self.sample_interval <= self.end {
            self.q.after(self.sample_interval, Event::Sample);
        }
    }
}

#[cfg(test)]
mod tests;
