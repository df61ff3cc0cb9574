//! Fault injection (`fault` in a mesh policy): Envoy's HTTP fault filter as Istio's
//! VirtualService `fault` programs it into the caller's proxy (a meshed caller's sidecar, or
//! the gateway). It runs once per request the application (or the client) hands the proxy,
//! before the router: a delayed request waits `fixed_delay` in the proxy before it leaves (the
//! per-try timeout of the proxy's own retries starts after it, the caller's own timeout counts
//! it); an aborted request is answered by the proxy and never leaves, so the callee never sees
//! it. An abort is a local reply the router never handles: the same proxy's retry policy does
//! not retry it (Istio: retries are not enabled for faulted requests), while the application's
//! own retries (the channel's) and the retries of proxies upstream see it as the failure its
//! status stands for.
//!
//! Envoy decides the delay, then the abort, each with its own draw; here each from the run's
//! `mesh-fault` stream, drawn only for a configured fault, so runs without one draw nothing.

use fusebench_model::scenario::MeshFault;

use super::Refusal;
use crate::metrics::Outcome;
use crate::system::Sim;
use crate::system::balancer::Caller;
use crate::system::ids::{EndpointId, ReqId, ServiceId};
use crate::time::millis_to_nanos;
use crate::trace::TraceEvent;

/// A fault, resolved: probabilities in [0, 1], the delay in ns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FaultSpec {
    pub(crate) delay: Option<(f64, u64)>,
    pub(crate) abort: Option<(f64, u16)>,
}

impl FaultSpec {
    pub(crate) fn of(f: &MeshFault) -> Self {
        FaultSpec {
            delay: f
                .delay
                .as_ref()
                .map(|d| (d.percentage / 100.0, millis_to_nanos(d.fixed_delay_ms))),
            abort: f.abort.as_ref().map(|a| (a.percentage / 100.0, a.http_status)),
        }
    }
}

/// What the fault filter did to a request.
#[derive(Debug, Clone, Copy)]
enum Injected {
    Delay(u64),
    Abort(u16),
}

/// The outcome an abort with `status` gives its caller: the outcome of the failure the status
/// stands for when the destination itself fails that way (`ABORT_STATUSES` in the model lists
/// the same, by name).
pub(crate) fn abort_outcome(status: u16) -> Option<Outcome> {
    match status {
        // Envoy's 429: what the local rate limit answers.
        429 => Some(Outcome::RateLimited),
        // A server failure: what a faulting guest answers.
        500 => Some(Outcome::GuestFault),
        // Service unavailable: what no healthy replica (or a full queue) gives.
        503 => Some(Outcome::Rejected),
        // Gateway timeout: what waiting past the timeout gives.
        504 => Some(Outcome::Timeout),
        _ => None,
    }
}

impl Sim {
    /// Applies `fault` to request `req` from `caller` to `service.endpoint`: `Some` abort (the
    /// outcome the proxy answers), or `None` to send it, after the delay it drew (kept on the
    /// request, added to its departure). Traces each injection.
    pub(crate) fn inject_fault(
        &mut self,
        caller: Caller,
        service: ServiceId,
        endpoint: EndpointId,
        req: ReqId,
        fault: FaultSpec,
    ) -> Option<Refusal> {
        if let Some((p, nanos)) = fault.delay
            && self.rng_fault.chance(p)
        {
            self.requests.live_mut(req).fault_nanos = nanos;
            self.trace_fault(caller, service, endpoint, req, Injected::Delay(nanos));
        }
        let (p, status) = fault.abort?;
        if !self.rng_fault.chance(p) {
            return None;
        }
        self.trace_fault(caller, service, endpoint, req, Injected::Abort(status));
        let outcome = abort_outcome(status).unwrap_or(Outcome::Rejected);
        Some(Refusal::Fault(outcome))
    }

    fn trace_fault(
        &mut self,
        caller: Caller,
        service: ServiceId,
        endpoint: EndpointId,
        req: ReqId,
        what: Injected,
    ) {
        let (action, delay_ns, status) = match what {
            Injected::Delay(nanos) => ("delay", nanos, 0),
            Injected::Abort(status) => ("abort", 0, u32::from(status)),
        };
        let now = self.q.now();
        let spec = self.world.service(service);
        let target = format!("{}.{}", spec.name, spec.endpoint(endpoint).name);
        let caller = self.caller_name(caller).to_owned();
        let e = TraceEvent::MeshFault {
            caller: caller.as_str(),
            target: target.as_str(),
            req: req.0,
            action,
            delay_ns,
            status,
        };
        self.trace.emit(now, &e);
    }
}
