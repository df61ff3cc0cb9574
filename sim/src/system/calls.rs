//! Synchronous calls between services: each attempt is a request with its own timeout; a
//! failed attempt is retried after an exponential backoff with ±50 % jitter (the policy of
//! the call's channel), and the caller is resumed with the callee's answer or with
//! `unavailable` once the attempts are spent.

use std::collections::BTreeMap;

use super::Sim;
use super::balancer::Caller;
use super::event::Event;
use super::ids::{CallId, ChannelId, Counter, EndpointId, InvId, ReqId, ServiceId};
use super::requests::{Origin, Request};
use super::world::CallPolicy;
use crate::engine::TimerId;
use crate::metrics::Outcome;
use crate::runtime::{HostCode, HostReply};
use crate::trace::TraceEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallState {
    /// An attempt is out; its timeout is pending.
    InFlight { timer: TimerId },
    /// Waiting for the backoff before the next attempt.
    Backoff,
}

#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) inv: InvId,
    service: ServiceId,
    endpoint: EndpointId,
    body: Vec<u8>,
    policy: CallPolicy,
    pub(crate) attempt: u32,
    pub(crate) state: CallState,
    /// The request of the latest attempt (named when the attempt fails).
    sent: Option<ReqId>,
}

#[derive(Debug, Default)]
pub(crate) struct Calls {
    table: BTreeMap<CallId, Call>,
    ids: Counter,
}

impl Calls {
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&CallId, &Call)> {
        self.table.iter()
    }

    fn live_mut(&mut self, id: CallId) -> &mut Call {
        self.table.get_mut(&id).unwrap_or_else(|| panic!("call {id} has no record"))
    }
}

impl Sim {
    /// Starts a call of `inv`; `timeout` (ns) replaces the channel's per-attempt timeout for
    /// this call only (`call_timeout`), the channel's retries and backoff still apply.
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
        let id = CallId(self.calls.ids.next());
        let now = self.q.now();
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
            inv,
            service: callee,
            endpoint,
            body: request,
            policy,
            attempt: 0,
            state: CallState::Backoff,
            sent: None,
        };
        self.calls.table.insert(id, call);
        self.send_call_attempt(id);
    }

    pub(crate) fn send_call_attempt(&mut self, call: CallId) {
        let now = self.q.now();
        let c = &self.calls.table[&call];
        debug_assert_eq!(c.state, CallState::Backoff);
        let Some(caller) = self.invocations.get(c.inv) else {
            self.calls.table.remove(&call); // the caller crashed during the backoff
            return;
        };
        let caller = caller.service;
        let from = self.world.service(caller).node;
        let origin = Origin::Call { call, attempt: c.attempt };
        let request = Request::new(c.service, c.endpoint, c.body.clone(), origin, now, from);
        // A `duplication` fault on the call's channel sends the request twice on the wire.
        let (timeout, attempt, channel) = (c.policy.timeout, c.attempt, c.policy.channel);
        let copy = self.wire_duplicate(channel).then(|| request.duplicate());
        let req = self.requests.add(request);
        let timer = self.q.timer_after(timeout, Event::CallTimeout { call, attempt });
        let c = self.calls.live_mut(call);
        c.state = CallState::InFlight { timer };
        c.sent = Some(req);
        if !self.dispatch_request(req, from, Caller::Service(caller), timeout) {
            self.requests.settle(req);
            self.call_attempt_failed(call, "no healthy instance");
            return;
        }
        if let Some(copy) = copy {
            let dup = self.requests.add(copy);
            if !self.dispatch_request(dup, from, Caller::Service(caller), timeout) {
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
        self.call_attempt_failed(call, "timeout");
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
        let inv = c.inv;
        match outcome {
            Outcome::Ok | Outcome::AppError | Outcome::ExpectedError => {
                self.calls.table.remove(&call);
                self.resume(inv, HostReply::Value(body));
            }
            Outcome::ContractViolation => {
                self.calls.table.remove(&call);
                self.resume(inv, HostReply::Error(HostCode::Rejected));
            }
            _ => self.call_attempt_failed(call, outcome.name()),
        }
    }

    /// An attempt failed (its timer is no longer pending): retry after a backoff, or give up.
    fn call_attempt_failed(&mut self, call: CallId, reason: &str) {
        let now = self.q.now();
        let c = self.calls.live_mut(call);
        if let CallState::InFlight { timer } = c.state {
            self.q.cancel(timer);
            c.state = CallState::Backoff;
        }
        let gave_up = c.attempt >= c.policy.retries;
        let (service, endpoint) = (c.service, c.endpoint);
        let spec = self.world.service(service);
        let target = format!("{}.{}", spec.name, spec.endpoint(endpoint).name);
        self.trace.emit(
            now,
            &TraceEvent::CallFailed {
                call: call.0,
                attempt: c.attempt,
                inv: c.inv.0,
                req: c.sent.map_or(0, |r| r.0),
                target: &target,
                reason,
                gave_up,
            },
        );
        let c = self.calls.live_mut(call);
        if !gave_up {
            c.attempt += 1;
            let attempt = c.attempt;
            // Exponential backoff with ±50 % jitter from the caller's stream.
            let base = c.policy.backoff.saturating_mul(1u64 << (attempt - 1).min(20));
            let caller = self.invocations.get(c.inv).map(|i| i.service);
            let jitter = caller.map_or(1.0, |s| 0.5 + self.services[s.index()].rng.unit());
            self.trace.emit(now, &TraceEvent::CallRetry { call: call.0, attempt, reason });
            self.q.after((base as f64 * jitter) as u64, Event::CallRetry(call));
        } else {
            let inv = c.inv;
            self.calls.table.remove(&call);
            self.resume(inv, HostReply::Error(HostCode::Unavailable));
        }
    }
}
