//! Synchronous calls between services, and the gateway's forwarding of a client request
//! under a mesh retry policy: each try is a request with its own timeout; a failed try is
//! retried after a back-off, and whoever waits (the calling invocation, or the client through
//! the gateway) gets the callee's answer, or a failure once the tries are spent.
//!
//! The back-off is the channel's — exponential with ±50 % jitter — or, when the caller applies
//! a mesh retry policy to the destination, Envoy's (see `mesh.rs`), whose `retry_on`, retry
//! budget, circuit breaker and rate limit then apply too.

use fusebench_model::scenario::RetryOn;

use super::Sim;
use super::balancer::Caller;
use super::event::Event;
use super::ids::{
    CallId, ChannelId, Counter, EndpointId, InvId, NodeId, ReplicaIdx, ReqId, ServiceId, VersionIdx,
};
use super::idtable::IdTable;
use super::mesh::{Admission, Parked, Refusal, RetrySpec, RouteSpec, Waiter};
use super::requests::{ClientState, Origin, Request};
use super::world::CallPolicy;
use crate::engine::TimerId;
use crate::metrics::Outcome;
use crate::runtime::{HostCode, HostReply};
use crate::time::SimTime;
use crate::trace::TraceEvent;

/// Who waits for a call's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parent {
    /// A service's invocation (its host call): resumed with the answer.
    Inv(InvId),
    /// A client request the gateway forwards with the mesh's retries: answered with it.
    Client(ReqId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallState {
    /// An attempt is out; its timeout is pending.
    InFlight { timer: TimerId },
    /// Waiting for the backoff before the next attempt.
    Backoff,
}

#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) parent: Parent,
    caller: Caller,
    /// The caller's node, where every try leaves from.
    from: NodeId,
    service: ServiceId,
    endpoint: EndpointId,
    body: Vec<u8>,
    policy: CallPolicy,
    /// The mesh's retry policy, when the caller applies one to this destination.
    mesh: Option<RetrySpec>,
    /// When a meshed caller gives up on the whole call (its own timeout), tries included.
    deadline: Option<SimTime>,
    /// The deadline is the mesh route's timeout (Envoy answers 504 when it passes).
    route_timeout: bool,
    pub(crate) attempt: u32,
    pub(crate) state: CallState,
    /// The request of the latest attempt (named when the attempt fails).
    sent: Option<ReqId>,
    /// Why the latest try failed, and the outcome a client gets if it was the last.
    failed: (&'static str, Outcome),
    /// The version subset its proxy routed its first routed try to (`mesh/route.rs`): the
    /// proxy's own retries stay in it, as Envoy retries within the cluster the route picked.
    subset: Option<VersionIdx>,
    /// The replicas its proxy's tries went to so far: the proxy's retries avoid them
    /// (Istio's `previous_hosts` retry host predicate, see [`Calls::previous_hosts`]).
    tried: Vec<ReplicaIdx>,
}

#[derive(Debug, Default)]
pub(crate) struct Calls {
    table: IdTable<CallId, Call>,
    ids: Counter,
}

impl Calls {
    /// The subset a retry of `call`'s proxy must go to: the one its earlier try was routed
    /// to, when the proxy itself retries (an application's retry is a new request, routed anew).
    pub(crate) fn retry_subset(&self, call: CallId, attempt: u32) -> Option<VersionIdx> {
        let c = self.table.get(&call)?;
        if attempt == 0 || c.mesh.is_none() {
            return None;
        }
        c.subset
    }

    /// The replicas a retry of `call`'s proxy avoids: those its earlier tries went to. Istio
    /// configures every route's retry policy with Envoy's `previous_hosts` host predicate
    /// (`host_selection_retry_max_attempts` 5), so its sidecars and gateways retry elsewhere;
    /// an application's own retry is a new request, balanced anew.
    pub(crate) fn previous_hosts(&self, call: CallId, attempt: u32) -> &[ReplicaIdx] {
        match self.table.get(&call) {
            Some(c) if attempt > 0 && c.mesh.is_some() => &c.tried,
            _ => &[],
        }
    }

    /// `call`'s try `req` went to `replica` (the try it sent, not a wire duplicate of it):
    /// its proxy's retries avoid it.
    pub(crate) fn tried(&mut self, call: CallId, req: ReqId, replica: ReplicaIdx) {
        if let Some(c) = self.table.get_mut(&call)
            && c.mesh.is_some()
            && c.sent == Some(req)
        {
            c.tried.push(replica);
        }
    }

    /// `call`'s try was routed to `subset` (the first such try pins it).
    pub(crate) fn routed(&mut self, call: CallId, subset: VersionIdx) {
        if let Some(c) = self.table.get_mut(&call) {
            c.subset.get_or_insert(subset);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&CallId, &Call)> {
        self.table.iter()
    }

    fn live_mut(&mut self, id: CallId) -> &mut Call {
        self.table.get_mut(&id).unwrap_or_else(|| panic!("call {id} has no record"))
    }
}

impl Calls {
    /// Who makes call `call`, while it is under way.
    pub(crate) fn caller_of(&self, call: CallId) -> Option<Caller> {
        self.table.get(&call).map(|c| c.caller)
    }
}

impl Sim {
    /// Starts a call of `inv`; `timeout` (ns) replaces the per-attempt timeout for this call
    /// only (`call_timeout`); the retries and back-off still apply.
    pub(crate) fn start_call(
        &mut self,
        inv: InvId,
        service: &str,
        endpoint: &str,
        request: Vec<u8>,
        timeout: Option<u64>,
    ) {
        let Some(callee) = self.world.service_id(service) else {
            self.resume(inv, HostReply::Error(HostCode::InvalidArgument));
            return;
        };
        let caller = self.invocations.get(inv).expect("the caller is running").service;
        let spec = self.world.service(callee);
        // The callee's contract is checked before the request leaves (a client-side stub would).
        let endpoint = spec.endpoint_id(endpoint).filter(|&e| {
            serde_json::from_slice(&request)
                .is_ok_and(|v| spec.endpoint(e).request.check(&v).is_empty())
        });
        let Some(endpoint) = endpoint else {
            self.resume(inv, HostReply::Error(HostCode::Rejected));
            return;
        };
        let mut policy = self.world.service(caller).call_policy(callee, endpoint);
        if let Some(timeout) = timeout {
            policy.timeout = timeout;
        }
        let now = self.q.now();
        let route = self.mesh_route(Caller::Service(caller), callee, endpoint);
        let mesh = route.retries;
        let mut deadline = None;
        if let Some(r) = mesh {
            // The sidecar's retries replace the channel's (the client library's); the
            // caller's own timeout (the channel's, or this call's) bounds them all, as an
            // application's timeout bounds its sidecar's retries.
            deadline = Some(now + policy.timeout);
            policy.retries = r.attempts - 1;
            policy.timeout = r.per_try.unwrap_or(policy.timeout);
        }
        let route = route.timeout;
        let route_timeout = route.is_some_and(|t| deadline.is_none_or(|d| now + t < d));
        if let Some(t) = route.filter(|_| route_timeout) {
            // Envoy's route timeout spans the sidecar's tries from the first; without sidecar
            // retries each of the application's tries is a request of its own to the proxy.
            if mesh.is_some() {
                deadline = Some(now + t);
            }
            policy.timeout = policy.timeout.min(t);
        }
        let id = CallId(self.calls.ids.next());
        self.trace.emit(
            now,
            &TraceEvent::CallStart {
                call: id.0,
                inv: inv.0,
                service: &spec.name,
                endpoint: &spec.endpoint(endpoint).name,
            },
        );
        let call = Call {
            parent: Parent::Inv(inv),
            caller: Caller::Service(caller),
            from: self.world.service(caller).node,
            service: callee,
            endpoint,
            body: request,
            policy,
            mesh,
            deadline,
            route_timeout: route_timeout && mesh.is_some(),
            attempt: 0,
            state: CallState::Backoff,
            sent: None,
            subset: None,
            failed: ("", Outcome::Rejected),
            tried: Vec::new(),
        };
        self.calls.table.insert(id, call);
        self.send_call_attempt(id);
    }

    /// What `caller`'s proxy applies to `service.endpoint` (retries, route timeout); the empty
    /// route when `caller` has no proxy.
    fn mesh_route(&self, caller: Caller, service: ServiceId, endpoint: EndpointId) -> RouteSpec {
        self.world
            .mesh
            .as_ref()
            .filter(|m| m.applies(caller))
            .map_or_else(RouteSpec::default, |m| {
                m.route(self.mesh_config(caller), service, endpoint)
            })
    }

    /// Forwards client request `req` (validated at the gateway) under the mesh's retry policy
    /// for its route: each try is a request of its own; the client's request waits at the
    /// gateway for the result. Returns false when the route has no retry policy.
    pub(crate) fn start_gateway_call(&mut self, req: ReqId) -> bool {
        let r = self.requests.live(req);
        let (service, endpoint) = (r.service, r.endpoint);
        let now = self.q.now();
        let RouteSpec { retries, timeout: route, .. } =
            self.mesh_route(Caller::Gateway, service, endpoint);
        let retries = match (retries, route) {
            (Some(r), _) => r,
            // A route timeout alone: one try, bounded by it.
            (None, Some(_)) => RetrySpec {
                attempts: 1,
                per_try: None,
                base: 0,
                max: 0,
                on_5xx: false,
                on_timeout: false,
                on_unavailable: false,
            },
            (None, None) => return false,
        };
        let r = self.requests.live(req);
        let body = r.body.to_vec();
        let policy = CallPolicy {
            timeout: retries.per_try.unwrap_or(self.world.gateway_timeout),
            retries: retries.attempts - 1,
            backoff: 0,
            channel: None,
        };
        // The gateway holds the request; its record stays while the client waits.
        self.requests.settle(req);
        let call = Call {
            parent: Parent::Client(req),
            caller: Caller::Gateway,
            from: self.world.gateway_node,
            service,
            endpoint,
            body,
            policy,
            mesh: Some(retries),
            deadline: route.map(|t| now + t),
            route_timeout: route.is_some(),
            attempt: 0,
            state: CallState::Backoff,
            sent: None,
            subset: None,
            failed: ("", Outcome::Rejected),
            tried: Vec::new(),
        };
        let id = CallId(self.calls.ids.next());
        self.calls.table.insert(id, call);
        self.send_call_attempt(id);
        true
    }

    /// Whether whoever waits for the call still does.
    fn parent_waits(&self, parent: Parent) -> bool {
        match parent {
            Parent::Inv(inv) => self.invocations.get(inv).is_some(),
            Parent::Client(req) => self.requests.get(req).is_some_and(|r| {
                matches!(r.origin, Origin::Client { state: ClientState::Waiting { .. }, .. })
            }),
        }
    }

    pub(crate) fn send_call_attempt(&mut self, call: CallId) {
        let now = self.q.now();
        let c = &self.calls.table[&call];
        debug_assert_eq!(c.state, CallState::Backoff);
        if !self.parent_waits(c.parent) {
            // The caller crashed, or the client gave up, during the back-off.
            self.calls.table.remove(&call);
            return;
        }
        let (caller, from, parent) = (c.caller, c.from, c.parent);
        let (service, endpoint, attempt) = (c.service, c.endpoint, c.attempt);
        let origin = Origin::Call { call, attempt };
        let mut request = Request::new(service, endpoint, c.body.clone(), origin, now, from);
        if let Parent::Client(client) = parent {
            // The gateway's tries carry the client's headers (what its filters read).
            request.headers.clone_from(&self.requests.live(client).headers);
        }
        if let Parent::Inv(inv) = parent
            && let Some(mesh) = self.world.mesh.as_ref().filter(|m| !m.propagate_headers.is_empty())
            && let Some(served) = self.invocations.get(inv).map(|i| i.req)
            && let Some(r) = self.requests.get(served)
        {
            // The application copies the listed headers of the request it serves onto its
            // calls (Istio leaves that to it: `[mesh] propagate_headers`).
            for h in &mesh.propagate_headers {
                if let Some(v) = r.headers.get(h) {
                    request.headers.insert(h.clone(), v.clone());
                }
            }
        }
        // A `duplication` fault on the call's channel sends the request twice on the wire.
        let (mut timeout, channel) = (c.policy.timeout, c.policy.channel);
        if let Some(d) = c.deadline {
            timeout = timeout.min((d - now).max(1));
        }
        let after = c.failed.0;
        let copy = self.wire_duplicate(channel).then(|| request.duplicate());
        let req = self.requests.add(request);
        if let Parent::Client(client) = parent {
            let e = TraceEvent::GatewayTry { req: client.0, attempt, try_req: req.0, after };
            self.trace.emit(now, &e);
        }
        let sidecar_retries = self.calls.table[&call].mesh.is_some();
        // A try of the proxy's own retries is not a new request to it (its fault filter ran on
        // the first); a try of the application's retries is.
        let downstream = attempt == 0 || !sidecar_retries;
        let admission = self.mesh_admit(caller, service, endpoint, req, attempt == 0, downstream);
        match admission {
            Admission::Refused(Refusal::Fault(outcome)) if !sidecar_retries => {
                // The application got its proxy's answer: a failed try, as any other.
                self.requests.settle(req);
                self.calls.live_mut(call).sent = Some(req);
                let class = fault_class(outcome);
                self.call_attempt_failed(call, outcome.name(), class, outcome);
                return;
            }
            Admission::Refused(refusal) => {
                self.requests.settle(req);
                self.call_refused(call, refusal, req);
                return;
            }
            Admission::Send | Admission::Pending => {}
        }
        // The proxy's per-try timer starts once an injected delay is over; the application's
        // own timeout counts it.
        let delayed = self.requests.live(req).fault_nanos;
        if sidecar_retries && delayed > 0 {
            timeout = timeout.saturating_add(delayed);
            if let Some(d) = self.calls.table[&call].deadline {
                timeout = timeout.min((d - now).max(1));
            }
        }
        let timer = self.q.timer_after(timeout, Event::CallTimeout { call, attempt });
        let c = self.calls.live_mut(call);
        c.state = CallState::InFlight { timer };
        c.sent = Some(req);
        if admission == Admission::Pending {
            // It waits in the proxy for a connection (`mesh/bulkhead.rs`).
            let parked = Parked {
                req,
                from,
                deadline: now + timeout,
                retry: attempt > 0,
                waiter: Waiter::Call { call, attempt },
            };
            self.pool_park(caller, service, parked);
            return;
        }
        if !self.dispatch_try(req, from, caller, timeout, attempt > 0) {
            self.requests.settle(req);
            self.call_attempt_failed(
                call,
                "no healthy instance",
                RetryOn::Unavailable,
                Outcome::Rejected,
            );
            return;
        }
        if let Some(copy) = copy {
            let dup = self.requests.add(copy);
            if !self.dispatch_request(dup, from, caller, timeout) {
                self.requests.settle(dup);
            }
        }
    }

    /// Whether a `duplication` fault on `channel` duplicates the request leaving now (counted
    /// in the channel's metrics). Draws only while such a fault is active.
    fn wire_duplicate(&mut self, channel: Option<ChannelId>) -> bool {
        let Some(channel) = channel else { return false };
        let rate = self.broker.duplication_rate(channel);
        if rate <= 0.0 || !self.rng_wire.chance(rate) {
            return false;
        }
        self.rec.channel(channel).duplicated += 1;
        true
    }

    pub(crate) fn on_call_timeout(&mut self, call: CallId, attempt: u32) {
        let c = self.calls.live_mut(call);
        assert!(
            c.attempt == attempt && matches!(c.state, CallState::InFlight { .. }),
            "{call}: the timeout of attempt {attempt} fired but it was not in flight"
        );
        c.state = CallState::Backoff; // the timer fired
        self.call_attempt_failed(call, "timeout", RetryOn::Timeout, Outcome::Timeout);
    }

    pub(crate) fn on_call_reply(
        &mut self,
        call: CallId,
        attempt: u32,
        outcome: Outcome,
        body: Vec<u8>,
    ) {
        let Some(c) = self.calls.table.get_mut(&call) else {
            return; // a late reply to a call already given up on
        };
        if c.attempt != attempt {
            return; // a late reply to an attempt already given up on
        }
        let CallState::InFlight { timer } = c.state else {
            unreachable!("{call}: attempt {attempt} replied while not in flight")
        };
        self.q.cancel(timer);
        c.state = CallState::Backoff;
        let parent = c.parent;
        match outcome {
            Outcome::Ok
            | Outcome::AppError
            | Outcome::ExpectedError
            | Outcome::ContractViolation => {
                self.calls.table.remove(&call);
                self.call_done(parent, outcome, body);
            }
            Outcome::Rejected | Outcome::Overflow | Outcome::RateLimited => {
                self.call_attempt_failed(call, outcome.name(), RetryOn::Unavailable, outcome);
            }
            _ => self.call_attempt_failed(call, outcome.name(), RetryOn::FiveXx, outcome),
        }
    }

    /// The call is over with `outcome`: its parent gets the answer.
    fn call_done(&mut self, parent: Parent, outcome: Outcome, body: Vec<u8>) {
        match parent {
            Parent::Inv(inv) => {
                let reply = match outcome {
                    Outcome::Ok | Outcome::AppError | Outcome::ExpectedError => {
                        HostReply::Value(body)
                    }
                    Outcome::ContractViolation => HostReply::Error(HostCode::Rejected),
                    Outcome::Denied => HostReply::Error(HostCode::Denied),
                    _ => HostReply::Error(HostCode::Unavailable),
                };
                self.resume(inv, reply);
            }
            Parent::Client(req) => {
                if self.parent_waits(parent) {
                    self.answer_client(req, outcome, body);
                }
            }
        }
    }

    /// Whether try `attempt` of `call` is still awaited (for a request waiting in a mesh
    /// connection pool).
    pub(crate) fn call_try_waits(&self, call: CallId, attempt: u32) -> bool {
        self.calls.table.get(&call).is_some_and(|c| {
            c.attempt == attempt
                && matches!(c.state, CallState::InFlight { .. })
                && self.parent_waits(c.parent)
        })
    }

    /// A try that waited in a mesh connection pool found no replica when it could go.
    pub(crate) fn pool_try_failed(&mut self, call: CallId) {
        self.call_attempt_failed(
            call,
            "no healthy instance",
            RetryOn::Unavailable,
            Outcome::Rejected,
        );
    }

    /// A mesh filter refused a try: the call fails at once (a refusal is never retried).
    /// The caller's proxy refused try `req` of `call` and answered itself: the call gives up
    /// at once, traced as any call that gave up (`call_failed`, reason the refusal's outcome),
    /// so whoever reads why a caller's answer failed sees it ended the call.
    fn call_refused(&mut self, call: CallId, refusal: Refusal, req: ReqId) {
        let c = self.calls.table.remove(&call).expect("a refused call has a record");
        let outcome = refusal.outcome();
        if let Parent::Inv(inv) = c.parent {
            // `service.endpoint`, as the trace names a call's target.
            let target = self.world.service(c.service).endpoint(c.endpoint).metric_key.as_str();
            let e = TraceEvent::CallFailed {
                call: call.0,
                attempt: c.attempt,
                inv: inv.0,
                req: req.0,
                target,
                reason: outcome.name(),
                gave_up: true,
            };
            self.trace.emit(self.q.now(), &e);
        }
        let body = self.take_filter_answer();
        self.call_done(c.parent, outcome, body);
    }

    /// An attempt failed (its timer is no longer pending): retry after a backoff, or give up.
    fn call_attempt_failed(
        &mut self,
        call: CallId,
        reason: &'static str,
        class: RetryOn,
        outcome: Outcome,
    ) {
        let now = self.q.now();
        let c = self.calls.live_mut(call);
        if let CallState::InFlight { timer } = c.state {
            self.q.cancel(timer);
            c.state = CallState::Backoff;
        }
        c.failed = (reason, outcome);
        let (caller, service, endpoint, parent) = (c.caller, c.service, c.endpoint, c.parent);
        let (mesh, deadline, attempt) = (c.mesh, c.deadline, c.attempt);
        let mut gave_up = attempt >= c.policy.retries || mesh.is_some_and(|r| !r.retries(class));
        if !gave_up && mesh.is_some() && !self.retry_budget_allows(caller, service) {
            // Envoy: a retry over the budget is not sent; the failure stands.
            let req = self.calls.table[&call].sent.unwrap_or(ReqId(0));
            self.trace_refused(caller, service, endpoint, "retry-budget", req);
            gave_up = true;
        }
        let delay = if gave_up { 0 } else { self.backoff(call, attempt + 1) };
        // The caller's own timeout passes before the next try could leave: it gives up — with
        // a 504 when that is the route's timeout (Envoy's router answers it).
        let past = !gave_up && deadline.is_some_and(|d| now + delay >= d);
        gave_up |= past;
        let outcome =
            if past && self.calls.table[&call].route_timeout { Outcome::Timeout } else { outcome };
        if let Parent::Inv(inv) = parent {
            // `service.endpoint`, as the trace names a call's target.
            let target = self.world.service(service).endpoint(endpoint).metric_key.as_str();
            let sent = self.calls.table[&call].sent;
            self.trace.emit(
                now,
                &TraceEvent::CallFailed {
                    call: call.0,
                    attempt,
                    inv: inv.0,
                    req: sent.map_or(0, |r| r.0),
                    target,
                    reason,
                    gave_up,
                },
            );
        }
        if gave_up {
            self.calls.table.remove(&call);
            self.call_done(parent, outcome, Vec::new());
            return;
        }
        self.calls.live_mut(call).attempt = attempt + 1;
        if let Parent::Inv(_) = parent {
            let e = TraceEvent::CallRetry { call: call.0, attempt: attempt + 1, reason };
            self.trace.emit(now, &e);
        }
        self.q.after(delay, Event::CallRetry(call));
    }

    /// The wait before try `attempt` (1 for the first retry) of `call`.
    fn backoff(&mut self, call: CallId, attempt: u32) -> u64 {
        let c = &self.calls.table[&call];
        let (caller, parent) = (c.caller, c.parent);
        match c.mesh {
            // Envoy: uniform in [0, (2ⁿ − 1) × base], capped at the max interval.
            Some(r) => {
                let cap = r.backoff_cap(attempt);
                (cap as f64 * self.jitter_unit(caller)) as u64
            }
            // The channel's: exponential with ±50 % jitter from the caller's stream.
            None => {
                let base = c.policy.backoff.saturating_mul(1u64 << (attempt - 1).min(20));
                let jitter = match parent {
                    Parent::Inv(inv) => self
                        .invocations
                        .get(inv)
                        .map(|i| i.service)
                        .map_or(1.0, |s| 0.5 + self.services[s.index()].rng.unit()),
                    Parent::Client(_) => 1.0,
                };
                (base as f64 * jitter) as u64
            }
        }
    }

    /// A uniform draw in [0, 1) for a mesh back-off: from the calling service's own stream,
    /// or the gateway's.
    fn jitter_unit(&mut self, caller: Caller) -> f64 {
        match caller {
            Caller::Service(s) => self.services[s.index()].rng.unit(),
            Caller::Gateway | Caller::Broker => self.rng_gateway.unit(),
        }
    }
}

/// The retry class of an injected abort's outcome (what `on_call_reply` gives the same outcome
/// from a callee).
fn fault_class(outcome: Outcome) -> RetryOn {
    match outcome {
        Outcome::Timeout => RetryOn::Timeout,
        Outcome::Rejected | Outcome::Overflow | Outcome::RateLimited => RetryOn::Unavailable,
        _ => RetryOn::FiveXx,
    }
}
