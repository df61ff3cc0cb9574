//! Serving requests: the API gateway, the service registry (seed §5.1) with its discovery
//! cache, load balancing, service replicas (concurrency slots and a bounded FIFO queue), guest
//! invocations driven through the [`ServiceHost`](crate::runtime::ServiceHost), synchronous
//! calls with timeouts, retries and backoff, and responses back along the path.

use std::collections::{BTreeMap, VecDeque};

use fusebench_model::Scenario;
use fusebench_model::contract::is_application_error;
use fusebench_model::scenario::{Distribution, LoadBalancing};

use super::{Event, InvId, ReqId, Sim};
use crate::dist::sample_nanos;
use crate::engine::TimerId;
use crate::metrics::Outcome;
use crate::rng::{Seed, SimRng};
use crate::runtime::{
    HostCode, HostContext, HostOp, HostReply, InstanceReuse, InvocationId, LogLine, Slice,
    SliceOutcome,
};
use crate::time::{SimTime, millis_to_nanos};
use crate::trace::TraceEvent;

#[derive(Debug, Clone)]
pub(crate) struct Replica {
    pub(crate) up: bool,
    pub(crate) busy: u32,
    pub(crate) queue: VecDeque<ReqId>,
    pub(crate) registered: bool,
    pub(crate) last_heartbeat: SimTime,
    /// Invocations running on this replica (abandoned if it crashes).
    pub(crate) running: Vec<InvId>,
}

#[derive(Debug)]
pub(crate) struct Svc {
    pub(crate) name: String,
    /// The name the service host knows its current module by (changes on a module swap).
    pub(crate) runtime_name: String,
    pub(crate) node: usize,
    pub(crate) replicas: Vec<Replica>,
    pub(crate) has_module: bool,
    pub(crate) distribution: Option<Distribution>,
    pub(crate) ns_per_fuel: f64,
    pub(crate) concurrency: u32,
    pub(crate) queue_capacity: usize,
    pub(crate) balancing: LoadBalancing,
    pub(crate) rr: u64,
    pub(crate) rng: SimRng,
}

/// Who is waiting for a request's response.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    Client { user: Option<u32>, node: usize, timer: Option<TimerId> },
    Call { call: u64, attempt: u32 },
    Message { msg: u64, group: usize, attempt: u32 },
}

#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub(crate) svc: usize,
    pub(crate) endpoint: String,
    pub(crate) body: Vec<u8>,
    pub(crate) origin: Origin,
    pub(crate) sent: SimTime,
    /// Node the response must travel back to (gateway, caller or broker).
    pub(crate) reply_to: usize,
    pub(crate) done: bool,
    /// When it reached the replica serving it (for time-in-service).
    pub(crate) arrived: SimTime,
}

#[derive(Debug)]
pub(crate) struct Inv {
    pub(crate) req: ReqId,
    pub(crate) svc: usize,
    pub(crate) replica: u32,
    pub(crate) runtime: Option<InvocationId>,
    /// The step to act on when the current slice's CPU time has elapsed.
    pub(crate) step: Option<SliceOutcome>,
    pub(crate) fuel: u64,
}

#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) inv: InvId,
    pub(crate) svc: usize,
    pub(crate) endpoint: String,
    pub(crate) body: Vec<u8>,
    pub(crate) timeout: u64,
    pub(crate) retries: u32,
    pub(crate) backoff: u64,
    pub(crate) attempt: u32,
    pub(crate) timer: Option<TimerId>,
}

#[derive(Debug)]
pub(crate) struct Serving {
    pub(crate) svcs: Vec<Svc>,
    pub(crate) index: BTreeMap<String, usize>,
    pub(crate) reqs: BTreeMap<ReqId, Req>,
    pub(crate) invs: BTreeMap<InvId, Inv>,
    pub(crate) calls: BTreeMap<u64, Call>,
    /// (caller service or `None` for the gateway, target) → (fetched at, replicas).
    discovery: BTreeMap<(Option<usize>, usize), (SimTime, Vec<u32>)>,
    pub(crate) next_req: u64,
    next_inv: u64,
    next_call: u64,
    pub(crate) gateway_node: usize,
}

impl Serving {
    pub(crate) fn new(s: &Scenario, seed: Seed) -> Self {
        let nodes: BTreeMap<&str, usize> =
            s.nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
        let svcs: Vec<Svc> = s
            .services
            .iter()
            .map(|x| Svc {
                name: x.name.clone(),
                runtime_name: x.name.clone(),
                node: nodes.get(x.node.name.as_str()).copied().unwrap_or(0),
                replicas: (0..x.replicas)
                    .map(|_| Replica {
                        up: true,
                        busy: 0,
                        queue: VecDeque::new(),
                        registered: false,
                        last_heartbeat: SimTime::ZERO,
                        running: Vec::new(),
                    })
                    .collect(),
                has_module: x.module.is_some(),
                distribution: x.service_time.distribution,
                ns_per_fuel: x.service_time.ns_per_fuel,
                concurrency: x.concurrency.max(1),
                queue_capacity: x.queue_capacity as usize,
                balancing: x.load_balancing,
                rr: 0,
                rng: SimRng::stream(seed, &format!("service/{}", x.name)),
            })
            .collect();
        let index = svcs.iter().enumerate().map(|(i, x)| (x.name.clone(), i)).collect();
        let gateway_node =
            s.gateway.as_ref().and_then(|g| nodes.get(g.node.name.as_str()).copied()).unwrap_or(0);
        Serving {
            svcs,
            index,
            reqs: BTreeMap::new(),
            invs: BTreeMap::new(),
            calls: BTreeMap::new(),
            discovery: BTreeMap::new(),
            next_req: 0,
            next_inv: 0,
            next_call: 0,
            gateway_node,
        }
    }

    /// (queue depth, utilisation of slots, live replicas) per service, for the time series.
    pub(crate) fn gauges(&self) -> BTreeMap<String, (u64, f64, u64)> {
        self.svcs
            .iter()
            .map(|x| {
                let queue: u64 = x.replicas.iter().map(|r| r.queue.len() as u64).sum();
                let busy: u64 = x.replicas.iter().map(|r| u64::from(r.busy)).sum();
                let slots = (x.replicas.len() as u64 * u64::from(x.concurrency)).max(1);
                let live = x.replicas.iter().filter(|r| r.up).count() as u64;
                (x.name.clone(), (queue, busy as f64 / slots as f64, live))
            })
            .collect()
    }

    pub(crate) fn new_req(&mut self, req: Req) -> ReqId {
        let id = self.next_req;
        self.next_req += 1;
        self.reqs.insert(id, req);
        id
    }
}

impl Sim {
    // ---- registry ------------------------------------------------------------------------

    pub(crate) fn start_registry(&mut self) {
        let now = self.q.now();
        let hb = millis_to_nanos(self.s.registry.heartbeat_ms).max(1);
        for svc in 0..self.serving.svcs.len() {
            let n = self.serving.svcs[svc].replicas.len() as u64;
            for r in 0..n {
                self.register(svc, r as u32, now);
                // Spread heartbeats over the period so they do not all land at once.
                self.q.after(hb * (r + 1) / n.max(1), Event::Heartbeat { svc, replica: r as u32 });
            }
        }
        self.q.after(hb, Event::RegistrySweep);
    }

    fn register(&mut self, svc: usize, replica: u32, now: SimTime) {
        let r = &mut self.serving.svcs[svc].replicas[replica as usize];
        r.last_heartbeat = now;
        if !r.registered {
            r.registered = true;
            self.trace.emit(
                now,
                &TraceEvent::Registered { service: &self.serving.svcs[svc].name, replica },
            );
        }
    }

    pub(crate) fn on_heartbeat(&mut self, svc: usize, replica: u32) {
        if !self.serving.svcs[svc].replicas[replica as usize].up {
            return; // a crashed replica is silent; restart resumes its heartbeats
        }
        let now = self.q.now();
        self.register(svc, replica, now);
        if now < self.end {
            self.q.after(
                millis_to_nanos(self.s.registry.heartbeat_ms).max(1),
                Event::Heartbeat { svc, replica },
            );
        }
    }

    pub(crate) fn on_registry_sweep(&mut self) {
        let now = self.q.now();
        let ttl = millis_to_nanos(self.s.registry.ttl_ms);
        for svc in &mut self.serving.svcs {
            for (i, r) in svc.replicas.iter_mut().enumerate() {
                if r.registered && now - r.last_heartbeat > ttl {
                    r.registered = false;
                    self.trace.emit(
                        now,
                        &TraceEvent::Deregistered {
                            service: &svc.name,
                            replica: i as u32,
                            reason: "heartbeat expired",
                        },
                    );
                }
            }
        }
        if now < self.end {
            self.q
                .after(millis_to_nanos(self.s.registry.heartbeat_ms).max(1), Event::RegistrySweep);
        }
    }

    /// Registered replicas of `svc` as `caller` sees them (through its discovery cache).
    fn discover(&mut self, caller: Option<usize>, svc: usize) -> Vec<u32> {
        let now = self.q.now();
        let ttl = millis_to_nanos(self.s.registry.discovery_cache_ms);
        if let Some((at, list)) = self.serving.discovery.get(&(caller, svc))
            && now - *at < ttl
        {
            return list.clone();
        }
        let list: Vec<u32> = self.serving.svcs[svc]
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| r.registered)
            .map(|(i, _)| i as u32)
            .collect();
        self.serving.discovery.insert((caller, svc), (now, list.clone()));
        list
    }

    /// Load balancing over the discovered replicas.
    fn pick_replica(&mut self, caller: Option<usize>, svc: usize) -> Option<u32> {
        let candidates = self.discover(caller, svc);
        if candidates.is_empty() {
            return None;
        }
        let x = &mut self.serving.svcs[svc];
        Some(match x.balancing {
            LoadBalancing::RoundRobin => {
                x.rr += 1;
                candidates[((x.rr - 1) % candidates.len() as u64) as usize]
            }
            LoadBalancing::Random => {
                candidates[self.rng_lb.below(candidates.len() as u64) as usize]
            }
            LoadBalancing::LeastOutstanding => *candidates
                .iter()
                .min_by_key(|&&r| {
                    let rep = &x.replicas[r as usize];
                    (rep.busy as usize + rep.queue.len(), r)
                })
                .unwrap_or(&candidates[0]),
        })
    }

    /// Sends request `req` towards a replica of its service, from node `from` on behalf of
    /// `caller`. Returns false when no replica is registered.
    pub(crate) fn dispatch_request(
        &mut self,
        req: ReqId,
        from: usize,
        caller: Option<usize>,
    ) -> bool {
        let Some(svc) = self.serving.reqs.get(&req).map(|r| r.svc) else { return false };
        let Some(replica) = self.pick_replica(caller, svc) else { return false };
        let to = self.serving.svcs[svc].node;
        if let Some(d) = self.transit(from, to, "request", req) {
            self.q.after(d, Event::AtReplica { req, svc, replica });
        }
        true
    }

    // ---- gateway and clients -------------------------------------------------------------

    pub(crate) fn on_at_gateway(&mut self, req: ReqId) {
        let (svc, endpoint) = match self.serving.reqs.get(&req) {
            Some(r) => (r.svc, r.endpoint.clone()),
            None => return,
        };
        let now = self.q.now();
        self.trace.emit(
            now,
            &TraceEvent::Arrival {
                req,
                service: &self.serving.svcs[svc].name,
                endpoint: &endpoint,
            },
        );
        let ok = self.s.services[svc].endpoint(&endpoint).is_some_and(|e| {
            e.public
                && serde_json::from_slice(&self.serving.reqs[&req].body)
                    .is_ok_and(|v| e.request.check(&v).is_empty())
        });
        if !ok {
            self.answer_client(req, Outcome::BadRequest);
            return;
        }
        let gw = self.serving.gateway_node;
        if !self.dispatch_request(req, gw, None) {
            self.answer_client(req, Outcome::Rejected);
        }
    }

    /// The gateway answers the client itself (rejections, bad requests, responses).
    fn answer_client(&mut self, req: ReqId, outcome: Outcome) {
        let Some(r) = self.serving.reqs.get(&req) else { return };
        let Origin::Client { node, .. } = r.origin else { return };
        let gw = self.serving.gateway_node;
        if let Some(d) = self.transit(gw, node, "response", req) {
            self.q.after(d, Event::AtClient { req, outcome });
        }
    }

    pub(crate) fn on_gateway_timeout(&mut self, req: ReqId) {
        if self.serving.reqs.get(&req).is_some_and(|r| !r.done) {
            self.client_done(req, Outcome::Timeout);
        }
    }

    pub(crate) fn on_at_client(&mut self, req: ReqId, outcome: Outcome) {
        if self.serving.reqs.get(&req).is_some_and(|r| !r.done) {
            self.client_done(req, outcome);
        }
    }

    /// A client request is over: exactly once, whichever comes first (response or timeout).
    fn client_done(&mut self, req: ReqId, outcome: Outcome) {
        let now = self.q.now();
        let Some(r) = self.serving.reqs.get_mut(&req) else { return };
        r.done = true;
        let Origin::Client { user, timer, .. } = r.origin else { return };
        let latency = now - r.sent;
        let (svc, endpoint) = (r.svc, r.endpoint.clone());
        if let Some(t) = timer {
            self.q.cancel(t);
        }
        let name = &self.serving.svcs[svc].name;
        self.trace.emit(
            now,
            &TraceEvent::Response {
                req,
                service: name,
                endpoint: &endpoint,
                outcome: outcome.name(),
                latency_ns: latency,
            },
        );
        let key = format!("{name}.{endpoint}");
        self.metrics.record_request(&key, outcome, latency);
        self.load.answered += 1;
        // Kept until its response reaches the gateway (or never does): a replica may still be
        // serving it, and needs its endpoint, body and arrival time.
        self.forget_if_idle(req);
        if let Some(user) = user {
            self.user_done(user);
        }
    }

    /// Drops a finished client request's record unless a replica still holds it (queued or
    /// running), in which case its response, when it reaches the gateway, drops it.
    fn forget_if_idle(&mut self, req: ReqId) {
        let held = self.serving.invs.values().any(|i| i.req == req)
            || self.serving.svcs.iter().any(|x| x.replicas.iter().any(|r| r.queue.contains(&req)));
        if !held {
            self.serving.reqs.remove(&req);
        }
    }

    // ---- replicas and invocations --------------------------------------------------------

    pub(crate) fn on_at_replica(&mut self, req: ReqId, svc: usize, replica: u32) {
        let now = self.q.now();
        let x = &mut self.serving.svcs[svc];
        let r = &mut x.replicas[replica as usize];
        if !r.up {
            let node = &self.net.nodes[x.node];
            self.trace.emit(
                now,
                &TraceEvent::Dropped {
                    what: "request",
                    id: req,
                    from: node,
                    to: node,
                    reason: "replica down",
                },
            );
            return;
        }
        let accepted = r.busy < x.concurrency || r.queue.len() < x.queue_capacity;
        if accepted {
            if let Some(q) = self.serving.reqs.get_mut(&req) {
                q.arrived = now;
            }
            self.metrics.service(&self.serving.svcs[svc].name).occupancy_change(now.nanos(), 1);
        }
        let x = &mut self.serving.svcs[svc];
        let r = &mut x.replicas[replica as usize];
        if r.busy < x.concurrency {
            r.busy += 1;
            self.start_invocation(req, svc, replica);
        } else if r.queue.len() < x.queue_capacity {
            r.queue.push_back(req);
            let depth = x.replicas.iter().map(|r| r.queue.len() as u64).sum::<u64>();
            let stats = self.metrics.service(&self.serving.svcs[svc].name);
            stats.queue_depth_max = stats.queue_depth_max.max(depth);
        } else {
            self.trace.emit(
                now,
                &TraceEvent::Rejected { req, service: &x.name, replica, reason: "queue full" },
            );
            self.metrics.service(&self.serving.svcs[svc].name).rejected += 1;
            self.respond(req, svc, Outcome::Rejected, Vec::new());
        }
    }

    fn start_invocation(&mut self, req: ReqId, svc: usize, replica: u32) {
        let id = self.serving.next_inv;
        self.serving.next_inv += 1;
        let (endpoint, body) = match self.serving.reqs.get(&req) {
            Some(r) => (r.endpoint.clone(), r.body.clone()),
            None => (String::new(), Vec::new()),
        };
        self.serving.svcs[svc].replicas[replica as usize].running.push(id);
        let mut inv = Inv { req, svc, replica, runtime: None, step: None, fuel: 0 };
        let x = &mut self.serving.svcs[svc];
        let mut cpu = x.distribution.map_or(0, |d| sample_nanos(&d, &mut x.rng));
        let now = self.q.now();
        self.metrics.service(&x.name).invocations += 1;
        if x.has_module {
            let mut logs: Vec<LogLine> = Vec::new();
            let result = {
                let mut ctx =
                    HostContext { now_nanos: now.nanos(), random: &mut x.rng, log: &mut logs };
                self.host.start(&x.runtime_name, &endpoint, &body, &mut ctx)
            };
            self.emit_logs(&logs);
            match result {
                Ok(slice) => {
                    let (inst, fresh) = instance_of(&slice);
                    let name = &self.serving.svcs[svc].name;
                    self.trace.emit(
                        now,
                        &TraceEvent::InvocationStart {
                            inv: id,
                            req,
                            service: name,
                            endpoint: &endpoint,
                            replica,
                            instance: inst,
                            fresh,
                        },
                    );
                    cpu += self.absorb_slice(&mut inv, slice);
                }
                Err(e) => {
                    // The engine only invokes declared endpoints of loaded services; an error
                    // here means the host and scenario disagree — answer, and say why.
                    let msg = e.to_string();
                    let name = &self.serving.svcs[svc].name;
                    let input = input_text(&body);
                    self.trace.emit(
                        now,
                        &TraceEvent::GuestFault {
                            inv: id,
                            service: name,
                            cause: &msg,
                            input: &input,
                        },
                    );
                    inv.step = None;
                    self.serving.invs.insert(id, inv);
                    self.finish_invocation(id, Outcome::GuestFault, Vec::new());
                    return;
                }
            }
        } else {
            let name = &self.serving.svcs[svc].name;
            self.trace.emit(
                now,
                &TraceEvent::InvocationStart {
                    inv: id,
                    req,
                    service: name,
                    endpoint: &endpoint,
                    replica,
                    instance: 0,
                    fresh: false,
                },
            );
        }
        self.metrics.service(&self.serving.svcs[svc].name).busy_nanos += cpu;
        self.serving.invs.insert(id, inv);
        self.q.after(cpu, Event::SliceDone(id));
    }

    /// Takes a slice's step and fuel; returns its CPU time.
    fn absorb_slice(&mut self, inv: &mut Inv, slice: Slice) -> u64 {
        inv.runtime = Some(slice.invocation);
        inv.fuel += slice.fuel_used;
        self.guest_fuel += slice.fuel_used;
        let x = &self.serving.svcs[inv.svc];
        let cpu = (slice.fuel_used as f64 * x.ns_per_fuel).round() as u64;
        inv.step = Some(slice.outcome);
        cpu
    }

    fn emit_logs(&mut self, logs: &[LogLine]) {
        let now = self.q.now();
        for l in logs {
            let level = format!("{:?}", l.level).to_lowercase();
            self.trace.emit(
                now,
                &TraceEvent::Log { service: &l.service, level: &level, message: &l.message },
            );
        }
    }

    pub(crate) fn on_slice_done(&mut self, id: InvId) {
        let Some(inv) = self.serving.invs.get_mut(&id) else { return };
        let step = inv.step.take();
        let svc = inv.svc;
        let now = self.q.now();
        match step {
            None => {
                // An abstract service: its declared service time has elapsed.
                self.finish_invocation(id, Outcome::Ok, b"{}".to_vec());
            }
            Some(SliceOutcome::Done(resp)) => {
                self.count_fresh(svc, &resp.report);
                for r in &resp.report.refusals {
                    let name = format!("{}:{}", self.serving.svcs[svc].name, r.target);
                    self.trace.emit(
                        now,
                        &TraceEvent::Refused {
                            inv: id,
                            import: r.import,
                            target: &name,
                            code: r.code.code(),
                        },
                    );
                    self.metrics.service(&self.serving.svcs[svc].name).refusals += 1;
                }
                let outcome = self.judge_response(id, &resp.json);
                self.finish_invocation(id, outcome, resp.body);
            }
            Some(SliceOutcome::Failed(fault)) => {
                self.count_fresh(svc, &fault.report);
                let cause = fault.to_string();
                let name = &self.serving.svcs[svc].name;
                let req = self.serving.invs.get(&id).map(|i| i.req);
                let input = req
                    .and_then(|r| self.serving.reqs.get(&r))
                    .map(|r| input_text(&r.body))
                    .unwrap_or_default();
                self.trace.emit(
                    now,
                    &TraceEvent::GuestFault {
                        inv: id,
                        service: name,
                        cause: &cause,
                        input: &input,
                    },
                );
                let kind = cause.split(':').next().unwrap_or("fault").to_owned();
                *self
                    .metrics
                    .service(&self.serving.svcs[svc].name)
                    .guest_faults
                    .entry(kind)
                    .or_default() += 1;
                self.finish_invocation(id, Outcome::GuestFault, Vec::new());
            }
            Some(SliceOutcome::Pending(op)) => {
                let target = match &op {
                    HostOp::KvGet { store, .. }
                    | HostOp::KvPut { store, .. }
                    | HostOp::KvDelete { store, .. } => store.clone(),
                    HostOp::CacheGet { cache, .. } | HostOp::CachePut { cache, .. } => {
                        cache.clone()
                    }
                    HostOp::Publish { channel, .. } => channel.clone(),
                    HostOp::Call { service, endpoint, .. } => format!("{service}.{endpoint}"),
                };
                self.trace
                    .emit(now, &TraceEvent::HostOp { inv: id, op: op.import(), target: &target });
                self.perform(id, op);
            }
        }
    }

    /// Counts a cold start, known once the invocation is over (a slice that suspends does not
    /// report its instance).
    fn count_fresh(&mut self, svc: usize, report: &crate::runtime::InvocationReport) {
        if report.instance.reuse == InstanceReuse::Fresh {
            let name = self.serving.svcs[svc].name.clone();
            self.metrics.service(&name).fresh_instances += 1;
        }
    }

    /// Checks a finished handler's response against the endpoint's contract.
    fn judge_response(&self, id: InvId, json: &serde_json::Value) -> Outcome {
        let Some(inv) = self.serving.invs.get(&id) else { return Outcome::Ok };
        let Some(req) = self.serving.reqs.get(&inv.req) else { return Outcome::Ok };
        if is_application_error(json) {
            return Outcome::AppError;
        }
        let shape = self.s.services[inv.svc].endpoint(&req.endpoint).map(|e| &e.response);
        match shape {
            Some(shape) if !shape.check(json).is_empty() => Outcome::ContractViolation,
            _ => Outcome::Ok,
        }
    }

    /// Performs a host operation; the guest is resumed when its reply is ready.
    fn perform(&mut self, id: InvId, op: HostOp) {
        match op {
            HostOp::Call { service, endpoint, request } => {
                self.start_call(id, &service, &endpoint, request);
            }
            HostOp::Publish { channel, message } => self.publish(id, &channel, message),
            other => self.store_op(id, other),
        }
    }

    /// Resumes a suspended invocation with the reply to its host operation.
    pub(crate) fn resume(&mut self, id: InvId, reply: HostReply) {
        let Some(mut inv) = self.serving.invs.remove(&id) else { return };
        let Some(runtime) = inv.runtime else {
            self.serving.invs.insert(id, inv);
            return;
        };
        let now = self.q.now();
        let x = &mut self.serving.svcs[inv.svc];
        let mut logs: Vec<LogLine> = Vec::new();
        let result = {
            let mut ctx =
                HostContext { now_nanos: now.nanos(), random: &mut x.rng, log: &mut logs };
            self.host.resume(runtime, reply, &mut ctx)
        };
        self.emit_logs(&logs);
        match result {
            Ok(slice) => {
                let cpu = self.absorb_slice(&mut inv, slice);
                self.metrics.service(&self.serving.svcs[inv.svc].name).busy_nanos += cpu;
                self.serving.invs.insert(id, inv);
                self.q.after(cpu, Event::SliceDone(id));
            }
            Err(e) => {
                let msg = e.to_string();
                self.trace.emit(
                    now,
                    &TraceEvent::GuestFault {
                        inv: id,
                        service: &self.serving.svcs[inv.svc].name,
                        cause: &msg,
                        input: "",
                    },
                );
                self.serving.invs.insert(id, inv);
                self.finish_invocation(id, Outcome::GuestFault, Vec::new());
            }
        }
    }

    /// An invocation is over: free its slot, start the next queued request, answer.
    fn finish_invocation(&mut self, id: InvId, outcome: Outcome, body: Vec<u8>) {
        let Some(inv) = self.serving.invs.remove(&id) else { return };
        let now = self.q.now();
        let name = self.serving.svcs[inv.svc].name.clone();
        self.trace.emit(
            now,
            &TraceEvent::InvocationEnd { inv: id, fuel: inv.fuel, outcome: outcome.name() },
        );
        if self.serving.svcs[inv.svc].has_module {
            self.metrics.record_fuel(&name, inv.fuel);
        }
        let arrived = self.serving.reqs.get(&inv.req).map_or(now, |r| r.arrived);
        let stats = self.metrics.service(&name);
        stats.occupancy_change(now.nanos(), -1);
        stats.completed += 1;
        stats.sojourn_nanos += u128::from(now - arrived);
        let rep = &mut self.serving.svcs[inv.svc].replicas[inv.replica as usize];
        rep.running.retain(|r| *r != id);
        rep.busy = rep.busy.saturating_sub(1);
        self.respond(inv.req, inv.svc, outcome, body);
        self.start_next(inv.svc, inv.replica);
    }

    fn start_next(&mut self, svc: usize, replica: u32) {
        let x = &mut self.serving.svcs[svc];
        let r = &mut x.replicas[replica as usize];
        if r.up
            && r.busy < x.concurrency
            && let Some(next) = r.queue.pop_front()
        {
            r.busy += 1;
            self.start_invocation(next, svc, replica);
        }
    }

    /// Sends a response from a replica of `svc` back to whoever sent `req`.
    pub(crate) fn respond(&mut self, req: ReqId, svc: usize, outcome: Outcome, body: Vec<u8>) {
        let Some(r) = self.serving.reqs.get(&req) else { return };
        let to = r.reply_to;
        let from = self.serving.svcs[svc].node;
        if let Some(d) = self.transit(from, to, "response", req) {
            self.q.after(d, Event::Reply { req, outcome, body });
        }
    }

    /// A response reached the requester's node.
    pub(crate) fn on_reply(&mut self, req: ReqId, outcome: Outcome, body: Vec<u8>) {
        let Some(r) = self.serving.reqs.get(&req) else { return };
        match r.origin.clone() {
            Origin::Client { .. } => {
                if r.done {
                    self.serving.reqs.remove(&req); // answered already (timeout): nothing to do
                } else {
                    self.answer_client(req, outcome);
                }
            }
            Origin::Call { call, attempt } => {
                self.serving.reqs.remove(&req);
                self.on_call_reply(call, attempt, outcome, body);
            }
            Origin::Message { msg, group, attempt } => {
                self.serving.reqs.remove(&req);
                self.on_consumer_reply(msg, group, attempt, outcome);
            }
        }
    }

    // ---- synchronous calls ---------------------------------------------------------------

    fn start_call(&mut self, inv: InvId, service: &str, endpoint: &str, request: Vec<u8>) {
        let Some(&svc) = self.serving.index.get(service) else {
            self.resume(inv, HostReply::Error(HostCode::InvalidArgument));
            return;
        };
        let caller = self.serving.invs.get(&inv).map(|i| i.svc);
        let declared = caller.and_then(|c| {
            self.s.services[c]
                .calls
                .iter()
                .find(|k| k.service.name == service && k.endpoint.name == endpoint)
        });
        let channel = declared.and_then(|k| self.s.channel(&k.channel.name));
        let (timeout, retries, backoff) = channel
            .map_or((millis_to_nanos(1000.0), 0, millis_to_nanos(50.0)), |c| {
                (millis_to_nanos(c.timeout_ms), c.retries, millis_to_nanos(c.backoff_ms))
            });
        // The callee's contract is checked before the request leaves (a client-side stub would).
        let valid = self.s.services[svc].endpoint(endpoint).is_some_and(|e| {
            serde_json::from_slice(&request).is_ok_and(|v| e.request.check(&v).is_empty())
        });
        if !valid {
            self.resume(inv, HostReply::Error(HostCode::Rejected));
            return;
        }
        let id = self.serving.next_call;
        self.serving.next_call += 1;
        self.serving.calls.insert(
            id,
            Call {
                inv,
                svc,
                endpoint: endpoint.to_owned(),
                body: request,
                timeout,
                retries,
                backoff,
                attempt: 0,
                timer: None,
            },
        );
        self.send_call_attempt(id);
    }

    pub(crate) fn send_call_attempt(&mut self, call: u64) {
        let now = self.q.now();
        let Some(c) = self.serving.calls.get(&call) else { return };
        let Some(caller) = self.serving.invs.get(&c.inv) else {
            self.serving.calls.remove(&call); // the caller is gone (crashed)
            return;
        };
        let caller_svc = caller.svc;
        let from = self.serving.svcs[caller_svc].node;
        let (svc, endpoint, body, attempt, timeout) =
            (c.svc, c.endpoint.clone(), c.body.clone(), c.attempt, c.timeout);
        let req = self.serving.new_req(Req {
            svc,
            endpoint,
            body,
            origin: Origin::Call { call, attempt },
            sent: now,
            reply_to: from,
            done: false,
            arrived: now,
        });
        let timer = self.q.after(timeout, Event::CallTimeout { call, attempt });
        if let Some(c) = self.serving.calls.get_mut(&call) {
            c.timer = Some(timer);
        }
        if !self.dispatch_request(req, from, Some(caller_svc)) {
            self.serving.reqs.remove(&req);
            self.call_attempt_failed(call, "no healthy instance");
        }
    }

    pub(crate) fn on_call_timeout(&mut self, call: u64, attempt: u32) {
        if self.serving.calls.get(&call).is_some_and(|c| c.attempt == attempt) {
            self.call_attempt_failed(call, "timeout");
        }
    }

    fn on_call_reply(&mut self, call: u64, attempt: u32, outcome: Outcome, body: Vec<u8>) {
        let Some(c) = self.serving.calls.get(&call) else { return };
        if c.attempt != attempt {
            return; // a late reply to an attempt already given up on
        }
        if let Some(t) = c.timer {
            self.q.cancel(t);
        }
        match outcome {
            Outcome::Ok | Outcome::AppError => {
                let inv = c.inv;
                self.serving.calls.remove(&call);
                self.resume(inv, HostReply::Value(body));
            }
            Outcome::ContractViolation => {
                let inv = c.inv;
                self.serving.calls.remove(&call);
                self.resume(inv, HostReply::Error(HostCode::Rejected));
            }
            _ => self.call_attempt_failed(call, outcome.name()),
        }
    }

    fn call_attempt_failed(&mut self, call: u64, reason: &str) {
        let now = self.q.now();
        let Some(c) = self.serving.calls.get_mut(&call) else { return };
        if let Some(t) = c.timer.take() {
            self.q.cancel(t);
        }
        if c.attempt < c.retries {
            c.attempt += 1;
            let attempt = c.attempt;
            // Exponential backoff with ±50 % jitter from the caller's stream.
            let base = c.backoff.saturating_mul(1u64 << (attempt - 1).min(20));
            let caller = self.serving.invs.get(&c.inv).map(|i| i.svc);
            let jitter = caller.map_or(1.0, |s| 0.5 + self.serving.svcs[s].rng.unit());
            self.trace.emit(now, &TraceEvent::CallRetry { call, attempt, reason });
            self.q.after((base as f64 * jitter) as u64, Event::CallRetry { call });
        } else {
            let inv = c.inv;
            self.serving.calls.remove(&call);
            self.resume(inv, HostReply::Error(HostCode::Unavailable));
        }
    }

    // ---- crashes -------------------------------------------------------------------------

    pub(crate) fn crash_replica(&mut self, svc: usize, replica: u32) {
        let now = self.q.now();
        let r = &mut self.serving.svcs[svc].replicas[replica as usize];
        if !r.up {
            return;
        }
        r.up = false;
        r.busy = 0;
        let running = std::mem::take(&mut r.running);
        let running_count = running.len();
        let queued: Vec<ReqId> = r.queue.drain(..).collect();
        self.trace
            .emit(now, &TraceEvent::ReplicaDown { service: &self.serving.svcs[svc].name, replica });
        let mut lost_reqs = Vec::new();
        for id in running {
            if let Some(inv) = self.serving.invs.remove(&id) {
                lost_reqs.push(inv.req);
                if let Some(rt) = inv.runtime {
                    self.host.abandon(rt);
                }
            }
        }
        // Running and queued requests die with the replica; their senders time out. They leave
        // the service now: counted as departures so that L = λW still holds.
        let lost = (running_count + queued.len()) as i64;
        let name = self.serving.svcs[svc].name.clone();
        let arrivals: Vec<SimTime> = lost_reqs
            .iter()
            .chain(&queued)
            .filter_map(|r| self.serving.reqs.get(r))
            .map(|r| r.arrived)
            .collect();
        let stats = self.metrics.service(&name);
        stats.occupancy_change(now.nanos(), -lost);
        for arrived in arrivals {
            stats.completed += 1;
            stats.sojourn_nanos += u128::from(now - arrived);
        }
    }

    pub(crate) fn on_restart(&mut self, svc: usize, replica: u32) {
        let now = self.q.now();
        let r = &mut self.serving.svcs[svc].replicas[replica as usize];
        if r.up {
            return;
        }
        r.up = true;
        self.trace
            .emit(now, &TraceEvent::ReplicaUp { service: &self.serving.svcs[svc].name, replica });
        self.register(svc, replica, now);
        self.q.after(
            millis_to_nanos(self.s.registry.heartbeat_ms).max(1),
            Event::Heartbeat { svc, replica },
        );
    }
}

/// A request body as it appears in the trace: lossy UTF-8, cut to 256 bytes.
fn input_text(body: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned();
    if body.len() > 256 {
        s.push('…');
    }
    s
}

fn instance_of(slice: &Slice) -> (u64, bool) {
    let report = match &slice.outcome {
        SliceOutcome::Done(r) => Some(&r.report),
        SliceOutcome::Failed(f) => Some(&f.report),
        SliceOutcome::Pending(_) => None,
    };
    match report {
        Some(r) => (r.instance.id.0, r.instance.reuse == InstanceReuse::Fresh),
        None => (0, false),
    }
}
