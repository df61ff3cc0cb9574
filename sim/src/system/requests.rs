//! Requests in flight and their lifecycle: who waits for the answer ([`Origin`]), where the
//! request is ([`Stage`]), and when its record can go.
//!
//! A record lives while anything may still refer to it: the request is travelling, queued or
//! running at a replica, its response is travelling back, or a client is still waiting for it.
//! Once the request is [`Stage::Settled`] and nobody waits, it is dropped — so nothing is kept
//! per finished request, and a late event never meets a half-forgotten request.

use std::collections::BTreeMap;

use super::Sim;
use super::event::Event;
use super::ids::{CallId, Counter, EndpointId, GroupId, InvId, MsgId, NodeId, ReqId, ServiceId};
use super::idtable::IdTable;
use super::payload::Payload;
use crate::engine::TimerId;
use crate::metrics::Outcome;
use crate::time::SimTime;
use crate::trace::TraceEvent;

/// Whether a client still waits for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientState {
    /// `timer` is the gateway timeout, `None` once it fired.
    Waiting { timer: Option<TimerId> },
    /// Answered (response or timeout): counted once, never again.
    Answered,
}

/// Who sent a request, and so who gets its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    Client { user: Option<u32>, node: NodeId, state: ClientState },
    Call { call: CallId, attempt: u32 },
    Message { msg: MsgId, group: GroupId, attempt: u32 },
}

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Travelling to the gateway or to a replica.
    Outbound,
    /// Waiting in a replica's queue.
    Queued,
    /// Being served by an invocation.
    Running(InvId),
    /// Its response travels back (to the requester, or from the gateway to the client).
    Returning,
    /// Nothing in the system will refer to it again (answered, dropped, or lost in a crash).
    Settled,
}

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) service: ServiceId,
    pub(crate) endpoint: EndpointId,
    pub(crate) body: Payload,
    pub(crate) origin: Origin,
    pub(crate) sent: SimTime,
    /// Node the response must travel back to (gateway, caller or broker).
    pub(crate) reply_to: NodeId,
    /// When it reached the replica serving it (for time-in-service).
    pub(crate) arrived: SimTime,
    pub(crate) stage: Stage,
    /// 0 for the request as sent; 1 for the second copy a `duplication` fault made of it. The
    /// answer to a sync request's copy is ignored by its caller (the first answer is taken
    /// from the original).
    pub(crate) copy: u32,
    /// Latency the mesh's sidecars added to it on the way (its answer crosses the same ones).
    pub(crate) sidecar_nanos: u64,
    /// CPU the caller's and the callee's sidecars spend on each of its messages.
    pub(crate) sidecar_cpu: [u64; 2],
    /// Its headers (a client's, from the workload; as the mesh's filters left them).
    pub(crate) headers: BTreeMap<String, String>,
    /// CPU time the proxy's WebAssembly filters spent on it before it left.
    pub(crate) filter_nanos: u64,
    /// The mesh configuration its proxy's filter chain ran under (`mesh/control.rs`): its
    /// answer passes the same chain's response filters.
    pub(crate) filter_config: u32,
    /// The delay a mesh fault injected before it left (`mesh/fault.rs`).
    pub(crate) fault_nanos: u64,
}

impl Request {
    /// A request about to leave `from` at `now` for a replica of `service`.
    pub(crate) fn new(
        service: ServiceId,
        endpoint: EndpointId,
        body: impl Into<Payload>,
        origin: Origin,
        now: SimTime,
        reply_to: NodeId,
    ) -> Self {
        Request {
            service,
            endpoint,
            body: body.into(),
            origin,
            sent: now,
            reply_to,
            arrived: now,
            stage: Stage::Outbound,
            copy: 0,
            sidecar_nanos: 0,
            sidecar_cpu: [0; 2],
            headers: BTreeMap::new(),
            filter_nanos: 0,
            filter_config: 0,
            fault_nanos: 0,
        }
    }

    /// The second copy of this request, made by a `duplication` fault as it leaves.
    pub(crate) fn duplicate(&self) -> Self {
        Request { copy: 1, ..self.clone() }
    }

    fn waited_for(&self) -> bool {
        matches!(self.origin, Origin::Client { state: ClientState::Waiting { .. }, .. })
    }
}

#[derive(Debug, Default)]
pub(crate) struct Requests {
    table: IdTable<ReqId, Request>,
    ids: Counter,
}

impl Requests {
    /// The id the next request will get (a client's timer names it before it exists).
    pub(crate) fn next_id(&mut self) -> ReqId {
        ReqId(self.ids.next())
    }

    pub(crate) fn insert(&mut self, id: ReqId, req: Request) {
        let old = self.table.insert(id, req);
        assert!(old.is_none(), "request {id} created twice");
    }

    pub(crate) fn add(&mut self, req: Request) -> ReqId {
        let id = self.next_id();
        self.insert(id, req);
        id
    }

    pub(crate) fn get(&self, id: ReqId) -> Option<&Request> {
        self.table.get(&id)
    }

    /// A request the caller knows to be alive (an invariant: its record outlives every event
    /// that names it).
    pub(crate) fn live(&self, id: ReqId) -> &Request {
        self.table.get(&id).unwrap_or_else(|| panic!("request {id} has no record"))
    }

    pub(crate) fn live_mut(&mut self, id: ReqId) -> &mut Request {
        self.table.get_mut(&id).unwrap_or_else(|| panic!("request {id} has no record"))
    }

    pub(crate) fn set_stage(&mut self, id: ReqId, stage: Stage) {
        self.live_mut(id).stage = stage;
    }

    /// Settles a request and drops its record unless a client still waits for it.
    pub(crate) fn settle(&mut self, id: ReqId) {
        let r = self.live_mut(id);
        r.stage = Stage::Settled;
        if !r.waited_for() {
            self.table.discard(&id);
        }
    }

    /// Drops a settled request's record once nobody waits for it.
    pub(crate) fn release(&mut self, id: ReqId) {
        if self.table.get(&id).is_some_and(|r| r.stage == Stage::Settled && !r.waited_for()) {
            self.table.discard(&id);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&ReqId, &Request)> {
        self.table.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}

impl Sim {
    /// Sends a response from a replica of `service` back to whoever sent `req`.
    pub(crate) fn respond(
        &mut self,
        req: ReqId,
        service: ServiceId,
        outcome: Outcome,
        body: impl Into<Payload>,
    ) {
        let (outcome, body, filters) = self.filter_response(req, service, outcome, body.into());
        let r = self.requests.live(req);
        let (to, sidecars, [caller_cpu, callee_cpu]) = (r.reply_to, r.sidecar_nanos, r.sidecar_cpu);
        let from = self.world.service(service).node;
        if sidecars > 0 {
            let now = self.q.now();
            let e = TraceEvent::Sidecar { req: req.0, leg: "response", latency_ns: sidecars };
            self.trace.emit(now, &e);
        }
        match self.transit(from, to, "response", req.0) {
            Some(d) => {
                self.requests.set_stage(req, Stage::Returning);
                // Out through the callee's sidecar, in through the caller's proxy (its sidecar
                // and its response filters), each on its own node's cores.
                let then = Event::Reply { req, outcome, body };
                self.proxy_leg((from, callee_cpu), d + sidecars, (to, caller_cpu + filters), then);
            }
            None => self.requests.settle(req),
        }
    }

    /// A response reached the requester's node.
    pub(crate) fn on_reply(&mut self, req: ReqId, outcome: Outcome, body: Payload) {
        // The caller's balancer sees the answer (Envoy's consecutive-5xx counts server errors
        // and timeouts; an application error or a bad request is the caller's own business).
        let server_failure = matches!(
            outcome,
            Outcome::Timeout
                | Outcome::Rejected
                | Outcome::GuestFault
                | Outcome::OomKilled
                | Outcome::ContractViolation
        );
        self.caller_answered(req, !server_failure);
        let r = self.requests.live(req);
        debug_assert_eq!(r.stage, Stage::Returning);
        match r.origin.clone() {
            Origin::Client { state: ClientState::Waiting { .. }, .. } => {
                self.answer_client(req, outcome, body);
            }
            // The client was answered already (a timeout): nothing to do.
            Origin::Client { state: ClientState::Answered, .. } => self.requests.settle(req),
            // A wire duplicate's answer: the caller takes the original's, never this one.
            Origin::Call { .. } if r.copy > 0 => self.requests.settle(req),
            Origin::Call { call, attempt } => {
                self.requests.settle(req);
                self.on_call_reply(call, attempt, outcome, body.into_vec());
            }
            Origin::Message { msg, group, attempt } => {
                self.requests.settle(req);
                self.on_consumer_reply(req, msg, group, attempt, outcome);
            }
        }
    }
}
