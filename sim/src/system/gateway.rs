//! The API gateway and its clients: a request is validated against its route's contract,
//! dispatched to a replica through discovery and balancing, and its client answered exactly
//! once — with the response, or with a timeout, whichever comes first.

use super::Sim;
use super::balancer::Caller;
use super::event::Event;
use super::ids::{EndpointId, ReqId, ServiceId};
use super::mesh::{Admission, Parked, Waiter};
use super::payload::Payload;
use super::requests::{ClientState, Origin, Stage};
use crate::metrics::Outcome;
use crate::trace::TraceEvent;

/// The gateway's last validation: a request body checked against its route's contract, and
/// the verdict. The check is a pure function of the endpoint (the world never changes) and the
/// bytes, so the same bytes to the same endpoint again — a workload whose body has no seeded
/// field sends the same bytes every time — are not parsed again.
#[derive(Debug, Default)]
pub(crate) struct BodyCheck {
    last: Option<(ServiceId, EndpointId, bool)>,
    bytes: Vec<u8>,
}

impl BodyCheck {
    /// Whether `body` is valid for `service.endpoint`: `check`'s verdict, or the last one's
    /// when the same bytes went to the same endpoint.
    fn valid(
        &mut self,
        service: ServiceId,
        endpoint: EndpointId,
        body: &[u8],
        check: impl FnOnce() -> bool,
    ) -> bool {
        if let Some((s, e, verdict)) = self.last
            && (s, e) == (service, endpoint)
            && self.bytes == body
        {
            return verdict;
        }
        let verdict = check();
        self.last = Some((service, endpoint, verdict));
        self.bytes.clear();
        self.bytes.extend_from_slice(body);
        verdict
    }
}

impl Sim {
    pub(crate) fn on_at_gateway(&mut self, req: ReqId) {
        let r = self.requests.live(req);
        if let Origin::Client { state: ClientState::Answered, .. } = r.origin {
            // The client's timeout fired while the request travelled: the gateway answered it
            // already and does not forward it.
            self.requests.settle(req);
            return;
        }
        let now = self.q.now();
        let svc = self.world.service(r.service);
        let endpoint = svc.endpoint(r.endpoint);
        self.trace.emit(
            now,
            &TraceEvent::Arrival {
                req: req.0,
                service: &svc.name,
                endpoint: &endpoint.name,
                body: &r.body.text(),
            },
        );
        let check =
            || serde_json::from_slice(&r.body).is_ok_and(|v| endpoint.request.check(&v).is_empty());
        let valid = endpoint.public && self.body_check.valid(r.service, r.endpoint, &r.body, check);
        if !valid {
            self.answer_client(req, Outcome::BadRequest, Vec::new());
            return;
        }
        if self.world.mesh.is_some() {
            // The gateway runs the mesh's filter chain: with a retry policy it forwards the
            // request as tries of its own; else it admits or refuses it here.
            if self.start_gateway_call(req) {
                return;
            }
            let r = self.requests.live(req);
            let (service, endpoint) = (r.service, r.endpoint);
            match self.mesh_admit(Caller::Gateway, service, endpoint, req, true, true) {
                Admission::Refused(refusal) => {
                    let body = self.take_filter_answer();
                    self.answer_client(req, refusal.outcome(), body);
                    return;
                }
                Admission::Pending => {
                    // It waits at the gateway for a connection (`mesh/bulkhead.rs`).
                    let deadline = self.q.now() + self.world.gateway_timeout;
                    let from = self.world.gateway_node;
                    let parked =
                        Parked { req, from, deadline, retry: false, waiter: Waiter::Client };
                    self.pool_park(Caller::Gateway, service, parked);
                    return;
                }
                Admission::Send => {}
            }
        }
        let gw = self.world.gateway_node;
        let patience = self.world.gateway_timeout;
        if !self.dispatch_request(req, gw, Caller::Gateway, patience) {
            self.answer_client(req, Outcome::Rejected, Vec::new());
        }
    }

    /// The gateway answers the client itself (rejections, bad requests, responses).
    pub(crate) fn answer_client(&mut self, req: ReqId, outcome: Outcome, body: impl Into<Payload>) {
        let Origin::Client { node, .. } = self.requests.live(req).origin else {
            unreachable!("only client requests are answered by the gateway")
        };
        let gw = self.world.gateway_node;
        match self.transit(gw, node, "response", req.0) {
            Some(d) => {
                self.requests.set_stage(req, Stage::Returning);
                self.q.after(d, Event::AtClient { req, outcome, body: body.into() });
            }
            None => self.requests.settle(req),
        }
    }

    pub(crate) fn on_gateway_timeout(&mut self, req: ReqId) {
        let r = self.requests.live_mut(req);
        let Origin::Client { state: ClientState::Waiting { timer }, .. } = &mut r.origin else {
            unreachable!("a gateway timeout fires only for a waiting client")
        };
        *timer = None; // fired
        self.client_done(req, Outcome::Timeout, &Payload::EMPTY);
    }

    pub(crate) fn on_at_client(&mut self, req: ReqId, outcome: Outcome, body: &Payload) {
        let r = self.requests.live_mut(req);
        r.stage = Stage::Settled;
        if let Origin::Client { state: ClientState::Waiting { .. }, .. } = r.origin {
            self.client_done(req, outcome, body);
        } else {
            // Answered already (its timeout fired while this answer travelled).
            self.requests.release(req);
        }
    }

    /// A client request is over: exactly once, whichever comes first (response or timeout).
    fn client_done(&mut self, req: ReqId, outcome: Outcome, body: &Payload) {
        let now = self.q.now();
        let r = self.requests.live_mut(req);
        let Origin::Client { user, state, .. } = &mut r.origin else {
            unreachable!("client_done on a request that is not a client's")
        };
        let user = *user;
        if let ClientState::Waiting { timer: Some(t) } = *state {
            self.q.cancel(t);
        }
        *state = ClientState::Answered;
        let latency = now - r.sent;
        let svc = self.world.service(r.service);
        let endpoint = svc.endpoint(r.endpoint);
        self.trace.emit(
            now,
            &TraceEvent::Response {
                req: req.0,
                service: &svc.name,
                endpoint: &endpoint.name,
                outcome: outcome.name(),
                latency_ns: latency,
                body: &body.text(),
            },
        );
        self.rec.endpoint(r.service, r.endpoint).record(outcome, latency);
        self.load.answered += 1;
        // A replica may still hold it (queued or running): its record goes when that ends.
        self.requests.release(req);
        if let Some(user) = user {
            self.user_done(user);
        }
        self.journey_answered(req, outcome, body);
    }
}

#[cfg(test)]
mod tests {
    use super::BodyCheck;
    use crate::system::ids::{EndpointId, ServiceId};

    /// The check runs again whenever the endpoint or a byte differs; only the same bytes to the
    /// same endpoint reuse the verdict.
    #[test]
    fn a_verdict_is_reused_only_for_the_same_bytes_to_the_same_endpoint() {
        let mut memo = BodyCheck::default();
        let mut checks = 0;
        let mut ask = |service: u32, endpoint: u32, body: &[u8], verdict: bool| {
            memo.valid(ServiceId(service), EndpointId(endpoint), body, || {
                checks += 1;
                verdict
            })
        };
        assert!(ask(0, 0, b"{}", true));
        assert!(ask(0, 0, b"{}", false), "same bytes, same endpoint: the kept verdict");
        assert!(!ask(0, 1, b"{}", false), "another endpoint is checked");
        assert!(ask(1, 1, b"{}", true), "another service is checked");
        assert!(!ask(1, 1, b"{} ", false), "another byte is checked");
        assert!(ask(1, 1, b"{}", true), "and so is the body before it, once another came");
        assert!(ask(1, 1, b"{}", false), "then it is the kept one again");
        assert_eq!(checks, 5);
    }
}
