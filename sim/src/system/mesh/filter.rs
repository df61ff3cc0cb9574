//! The mesh's WebAssembly filters (`[[mesh.filter]]`, guests/ABI.md "Mesh filters"): the
//! proxy-wasm lifecycle with fusebench's guest ABI. A proxy (the gateway, or a meshed caller's
//! sidecar) runs the chain — the filters that apply to the destination, in the order written —
//! on each request it forwards (`handle_request`, on every try) and on each answer a service
//! gives back through it (`handle_response`, when the module exports it). Each filter answers:
//!
//! - `{}` or `{"action": "continue"}`: go on unchanged;
//! - `{"action": "continue", "headers": {…}, "body": …}`: go on with the headers and/or body
//!   replaced (what the next filter and the destination see; headers are what routing reads);
//! - `{"action": "stop", "status": 401, "body": …}`: answer the caller here; the request is
//!   never forwarded (status 400 → outcome `bad-request`, 429 → `rate-limited`, any other →
//!   `filtered`), traced `mesh_refused` with the filter's name.
//!
//! Filters run in the services' sandbox (fuel and memory limits, imports within their grants),
//! inline: a fault (trap, fuel exhausted, memory limit, a bad answer, a host call that would
//! wait) fails the request it was handling — outcome `guest-fault`, traced `mesh_filter` with
//! action `fault` and `mesh_refused` — and the faulted instance is dropped; the next request
//! gets a fresh one. The fuel a chain burns is the proxy's CPU time, `fuel × ns_per_fuel` (the
//! services' cost model), computed on the proxy's node — shared with the guests there — before
//! the request goes on, or when the answer reaches the proxy (`proxy.rs`).

use std::collections::BTreeMap;

use fusebench_model::Scenario;
use fusebench_model::scenario::{Mesh, MeshConfig, MeshFilter};
use serde_json::{Map, Value};

use super::super::Sim;
use super::super::balancer::Caller;
use super::super::ids::{EndpointId, ReqId, ServiceId};
use super::super::payload::Payload;
use super::super::requests::Origin;
use super::super::world::ServiceSpec;
use super::Refusal;
use crate::metrics::Outcome;
use crate::rng::SimRng;
use crate::runtime::{HostContext, InvokeError, LogLine, SliceOutcome};
use crate::trace::TraceEvent;

/// The name a filter is loaded under in the runtime (next to the services).
#[must_use]
pub fn runtime_name(filter: &str) -> String {
    format!("filter:{filter}")
}

/// The name `f` is loaded under: [`runtime_name`] for a declared filter, with `@push<i>` for
/// one that `[[mesh.push]]` `i` brings (a module swap under the same filter name).
#[must_use]
pub fn runtime_name_of(f: &MeshFilter) -> String {
    match f.pushed {
        None => runtime_name(&f.name),
        Some(i) => format!("{}@push{i}", runtime_name(&f.name)),
    }
}

/// The runtime endpoints of a filter: `request`, and `response` when it exports it.
pub const REQUEST: &str = "request";
pub const RESPONSE: &str = "response";

/// One `[[mesh.filter]]`, resolved.
#[derive(Debug, Clone)]
pub(crate) struct FilterSpec {
    name: String,
    runtime: String,
    gateway: bool,
    sidecar: bool,
    /// Per service (by id): whether its requests pass this filter.
    dests: Vec<bool>,
    ns_per_fuel: f64,
}

impl FilterSpec {
    /// Its random stream's name: `filter/<name>` for a declared filter, as before pushes
    /// existed; a pushed module gets its own (`filter/<name>@push<i>`).
    fn stream(&self) -> &str {
        self.runtime.strip_prefix("filter:").unwrap_or(&self.runtime)
    }
}

/// Resolves every filter of the scenario — the declared ones, then the pushed ones
/// (`Mesh::every_filter`) — against its services (same order as `s.services`).
pub(crate) fn specs(s: &Scenario, services: &[ServiceSpec]) -> Vec<FilterSpec> {
    let Some(mesh) = &s.mesh else { return Vec::new() };
    mesh.every_filter()
        .map(|f| FilterSpec {
            name: f.name.clone(),
            runtime: runtime_name_of(f),
            gateway: f.at.gateway(),
            sidecar: f.at.sidecar(),
            dests: services.iter().map(|x| f.applies_to(&x.name)).collect(),
            ns_per_fuel: f.ns_per_fuel,
        })
        .collect()
}

/// The chain of `config`: indexes into [`specs`], in order.
pub(crate) fn chain_of(mesh: &Mesh, config: &MeshConfig<'_>) -> Vec<usize> {
    let every: Vec<&MeshFilter> = mesh.every_filter().collect();
    config.filters.iter().filter_map(|f| every.iter().position(|g| std::ptr::eq(*g, *f))).collect()
}

/// The filters' run-time state: each filter's random stream (drawn only by filters granted
/// `random`), and the answer of the last filter that stopped a request.
#[derive(Debug, Default)]
pub(crate) struct FilterState {
    rngs: BTreeMap<usize, SimRng>,
    answer: Vec<u8>,
}

/// What one filter said.
enum Verdict {
    Continue { changed: Vec<&'static str> },
    Stop { status: u16, body: Vec<u8> },
    Fault(String),
}

/// Which phase of the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Request,
    Response,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Request => REQUEST,
            Phase::Response => RESPONSE,
        }
    }
}

/// The outcome a stopping filter's status gives the caller.
fn stop_outcome(status: u16) -> Outcome {
    match status {
        400 => Outcome::BadRequest,
        429 => Outcome::RateLimited,
        _ => Outcome::Filtered,
    }
}

impl Sim {
    /// The filters of `caller`'s proxy that see requests to `service`, in chain order, under
    /// configuration `config`.
    fn chain(&self, caller: Caller, service: ServiceId, config: u32) -> Vec<usize> {
        let Some(mesh) = self.world.mesh.as_ref() else { return Vec::new() };
        let at_proxy = |f: &FilterSpec| match caller {
            Caller::Gateway => f.gateway,
            Caller::Service(s) => f.sidecar && mesh.is_meshed(s),
            Caller::Broker => false,
        };
        mesh.chains[config as usize]
            .iter()
            .copied()
            .filter(|&i| {
                let f = &mesh.filters[i];
                at_proxy(f) && f.dests[service.index()]
            })
            .collect()
    }

    /// Runs `caller`'s request chain on request `req` to `service.endpoint`: `Some` refusal
    /// when a filter stopped it or faulted (traced; its answer waits in
    /// [`Sim::take_filter_answer`]), else `None` with the request's headers and body as the
    /// chain left them and the chain's CPU time added to its way out.
    pub(crate) fn filter_request(
        &mut self,
        caller: Caller,
        service: ServiceId,
        endpoint: EndpointId,
        req: ReqId,
    ) -> Option<Refusal> {
        let config = self.mesh_config(caller);
        self.requests.live_mut(req).filter_config = config;
        let chain = self.chain(caller, service, config);
        if chain.is_empty() {
            return None;
        }
        let r = self.requests.live(req);
        let (headers, body) = (r.headers.clone(), r.body.clone());
        let mut view = self.filter_view(Phase::Request, caller, service, endpoint, &headers, &body);
        let mut nanos = 0u64;
        let mut changed = false;
        for i in chain {
            let before = view.get("headers").cloned();
            let (verdict, cost) = self.run_filter(i, Phase::Request, &mut view);
            nanos += cost;
            match verdict {
                Verdict::Continue { changed: what } => {
                    let detail = describe_changes(&what, before.as_ref(), view.get("headers"));
                    if !detail.is_empty() {
                        changed = true;
                        self.trace_filter(caller, i, req, "modify", &detail);
                    }
                }
                Verdict::Stop { status, body } => {
                    self.trace_filter(caller, i, req, "stop", &status.to_string());
                    self.trace_refused(caller, service, endpoint, &self.filter_name(i), req);
                    self.mesh.filters.answer = body;
                    return Some(Refusal::Filter(stop_outcome(status)));
                }
                Verdict::Fault(why) => {
                    self.trace_filter(caller, i, req, "fault", &why);
                    self.trace_refused(caller, service, endpoint, &self.filter_name(i), req);
                    self.mesh.filters.answer = Vec::new();
                    return Some(Refusal::Filter(Outcome::GuestFault));
                }
            }
        }
        let r = self.requests.live_mut(req);
        r.filter_nanos = nanos;
        if changed {
            r.headers = headers_of(&view);
            r.body = body_of(&view).into();
        }
        None
    }

    /// Runs the response chain of the proxy that will receive the answer to `req` (from
    /// `service`): the outcome and body it passes on, and its CPU time.
    pub(crate) fn filter_response(
        &mut self,
        req: ReqId,
        service: ServiceId,
        outcome: Outcome,
        body: Payload,
    ) -> (Outcome, Payload, u64) {
        if self.world.mesh.as_ref().is_none_or(|m| m.filters.is_empty()) || !outcome.is_answer() {
            return (outcome, body, 0);
        }
        let r = self.requests.live(req);
        let caller = match r.origin {
            Origin::Client { .. } => Caller::Gateway,
            Origin::Call { call, .. } if r.copy == 0 => match self.calls.caller_of(call) {
                Some(c) => c,
                None => return (outcome, body, 0),
            },
            Origin::Call { .. } | Origin::Message { .. } => return (outcome, body, 0),
        };
        // The chain its request went through (Envoy's filter chain is per stream), even if a
        // push changed the proxy's since.
        let chain = self.chain(caller, service, r.filter_config);
        if chain.is_empty() {
            return (outcome, body, 0);
        }
        let (endpoint, headers) = (r.endpoint, r.headers.clone());
        let mut view =
            self.filter_view(Phase::Response, caller, service, endpoint, &headers, &body);
        view.insert("outcome".into(), Value::from(outcome.name()));
        let mut nanos = 0u64;
        let mut changed = false;
        for i in chain {
            let (verdict, cost) = self.run_filter(i, Phase::Response, &mut view);
            nanos += cost;
            match verdict {
                Verdict::Continue { changed: what } => {
                    if what.contains(&"body") {
                        changed = true;
                        self.trace_filter(caller, i, req, "modify", "body");
                    }
                }
                Verdict::Stop { status, body } => {
                    self.trace_filter(caller, i, req, "stop", &status.to_string());
                    self.trace_refused(caller, service, endpoint, &self.filter_name(i), req);
                    return (stop_outcome(status), body.into(), nanos);
                }
                Verdict::Fault(why) => {
                    self.trace_filter(caller, i, req, "fault", &why);
                    self.trace_refused(caller, service, endpoint, &self.filter_name(i), req);
                    return (Outcome::GuestFault, Payload::EMPTY, nanos);
                }
            }
        }
        if changed { (outcome, body_of(&view).into(), nanos) } else { (outcome, body, nanos) }
    }

    /// The body the last stopping filter answered with (empty after a built-in refusal).
    pub(crate) fn take_filter_answer(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.mesh.filters.answer)
    }

    fn filter_name(&self, i: usize) -> String {
        self.world.mesh.as_ref().map(|m| m.filters[i].name.clone()).unwrap_or_default()
    }

    fn filter_view(
        &self,
        phase: Phase,
        caller: Caller,
        service: ServiceId,
        endpoint: EndpointId,
        headers: &BTreeMap<String, String>,
        body: &[u8],
    ) -> Map<String, Value> {
        let spec = self.world.service(service);
        let mut view = Map::new();
        view.insert("phase".into(), Value::from(phase.name()));
        view.insert("proxy".into(), Value::from(self.caller_name(caller)));
        view.insert("service".into(), Value::from(spec.name.as_str()));
        view.insert("endpoint".into(), Value::from(spec.endpoint(endpoint).name.as_str()));
        let headers: Map<String, Value> =
            headers.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
        view.insert("headers".into(), Value::Object(headers));
        let body = serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(body).into_owned()));
        view.insert("body".into(), body);
        view
    }

    /// Runs filter `i`'s `phase` handler on `view` (updated in place when it continues with
    /// changes): its verdict and CPU time.
    fn run_filter(
        &mut self,
        i: usize,
        phase: Phase,
        view: &mut Map<String, Value>,
    ) -> (Verdict, u64) {
        let Some(spec) = self.world.mesh.as_ref().map(|m| m.filters[i].clone()) else {
            return (Verdict::Continue { changed: Vec::new() }, 0);
        };
        let input = serde_json::to_vec(&Value::Object(view.clone())).unwrap_or_default();
        let now = self.q.now();
        let seed = self.seed;
        let rng = self
            .mesh
            .filters
            .rngs
            .entry(i)
            .or_insert_with(|| SimRng::stream(seed, &format!("filter/{}", spec.stream())));
        let mut logs: Vec<LogLine> = Vec::new();
        let result = {
            let mut ctx = HostContext { now_nanos: now.nanos(), random: rng, log: &mut logs };
            self.host.start_in(&spec.runtime, 0, phase.name(), &input, &mut ctx)
        };
        super::super::invocation::emit_logs(&mut self.trace, now, &logs);
        let slice = match result {
            Ok(slice) => slice,
            // A filter without `handle_response` lets answers through.
            Err(InvokeError::UnknownEndpoint { .. }) if phase == Phase::Response => {
                return (Verdict::Continue { changed: Vec::new() }, 0);
            }
            Err(e) => return (Verdict::Fault(e.to_string()), 0),
        };
        self.guest_fuel += slice.fuel_used;
        let cost = (slice.fuel_used as f64 * spec.ns_per_fuel).round() as u64;
        let verdict = match slice.outcome {
            SliceOutcome::Done(r) => read_answer(r.json, view),
            SliceOutcome::Failed(f) => Verdict::Fault(f.to_string()),
            SliceOutcome::Pending(op) => {
                self.host.abandon(slice.invocation);
                Verdict::Fault(format!(
                    "called the host ({}), which would wait: a filter runs inline",
                    op.import()
                ))
            }
        };
        (verdict, cost)
    }

    fn trace_filter(&mut self, caller: Caller, i: usize, req: ReqId, action: &str, detail: &str) {
        let now = self.q.now();
        let filter = self.filter_name(i);
        let proxy = self.caller_name(caller).to_owned();
        let e = TraceEvent::MeshFilter {
            proxy: proxy.as_str(),
            filter: filter.as_str(),
            req: req.0,
            action,
            detail,
        };
        self.trace.emit(now, &e);
    }
}

/// Reads a filter's answer; a `continue` applies its changes to `view`.
fn read_answer(answer: Value, view: &mut Map<String, Value>) -> Verdict {
    let Value::Object(mut a) = answer else {
        return Verdict::Fault(format!("answered {answer}, not a JSON object"));
    };
    let action = match a.remove("action") {
        None => "continue".to_owned(),
        Some(Value::String(s)) => s,
        Some(other) => return Verdict::Fault(format!("answered action {other}, not a string")),
    };
    match action.as_str() {
        "continue" => {
            let mut changed = Vec::new();
            if let Some(h) = a.remove("headers") {
                let Value::Object(h) = &h else {
                    return Verdict::Fault(format!("answered headers {h}, not an object"));
                };
                if let Some((k, v)) = h.iter().find(|(_, v)| !v.is_string()) {
                    return Verdict::Fault(format!("answered header `{k}` = {v}, not a string"));
                }
                view.insert("headers".into(), Value::Object(h.clone()));
                changed.push("headers");
            }
            if let Some(b) = a.remove("body") {
                view.insert("body".into(), b);
                changed.push("body");
            }
            if let Some(k) = a.keys().next() {
                return Verdict::Fault(format!("answered an unknown field `{k}`"));
            }
            Verdict::Continue { changed }
        }
        "stop" => {
            let status = match a.remove("status") {
                Some(Value::Number(n)) => n.as_u64().filter(|s| (400..600).contains(s)),
                _ => None,
            };
            let Some(status) = status else {
                return Verdict::Fault("answered stop without a status in 400..=599".into());
            };
            let body = a.remove("body").map(|b| serde_json::to_vec(&b).unwrap_or_default());
            if let Some(k) = a.keys().next() {
                return Verdict::Fault(format!("answered an unknown field `{k}`"));
            }
            Verdict::Stop { status: status as u16, body: body.unwrap_or_default() }
        }
        other => Verdict::Fault(format!("answered action \"{other}\", not continue or stop")),
    }
}

/// What a filter changed, for the trace: `header <name>=<value>` per header set or changed,
/// `-header <name>` per header removed, `body` when it replaced the body.
fn describe_changes(what: &[&str], before: Option<&Value>, after: Option<&Value>) -> String {
    let mut parts = Vec::new();
    if what.contains(&"headers") {
        let empty = Map::new();
        let as_map = |v: Option<&Value>| match v {
            Some(Value::Object(m)) => m.clone(),
            _ => empty.clone(),
        };
        let (old, new) = (as_map(before), as_map(after));
        for (k, v) in &new {
            if old.get(k) != Some(v) {
                parts.push(format!("header {k}={}", v.as_str().unwrap_or_default()));
            }
        }
        parts.extend(old.keys().filter(|k| !new.contains_key(*k)).map(|k| format!("-header {k}")));
    }
    if what.contains(&"body") {
        parts.push("body".to_owned());
    }
    parts.join(", ")
}

fn headers_of(view: &Map<String, Value>) -> BTreeMap<String, String> {
    match view.get("headers") {
        Some(Value::Object(h)) => h
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.to_ascii_lowercase(), v.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn body_of(view: &Map<String, Value>) -> Vec<u8> {
    view.get("body").map(|b| serde_json::to_vec(b).unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
