//! The service mesh: sidecars and the filters they and the gateway apply to the requests they
//! send to a destination, each following Envoy (as Istio configures it):
//!
//! - **sidecar latency**: a request to or from a meshed service crosses its sidecar, which
//!   adds `sidecar_latency_ms` on the way out of the caller and on the way into the callee,
//!   and the same again for the answer (Istio's sidecar-injected Envoy on both ends);
//! - **sidecar CPU**: each crossing also costs `sidecar_cpu_us` of its node's CPU, shared with
//!   the guests there, and the WebAssembly filters' fuel is CPU of their proxy's node
//!   (`mesh/proxy.rs`);
//! - **retries** (Envoy route `retry_policy`): `attempts` tries in all, each with its own
//!   `per_try_timeout`; the n-th retry waits a uniform time in [0, (2ⁿ − 1) × base] capped at
//!   `max_interval` (Envoy's fully jittered exponential back-off); only failures `retry_on`
//!   names are retried. A meshed caller's sidecar retries replace the channel's (its client
//!   library's); without a `retry_budget`, retries are unlimited, as Istio sets Envoy's
//!   `max_retries` to 2³² − 1;
//! - **route timeout** (Istio VirtualService `http.timeout`, Envoy's route timeout): the
//!   whole call, retries included, fails with `timeout` (504) once `timeout_ms` has passed
//!   since its first try (`calls.rs`: the call's deadline);
//! - **retry budget** (Envoy `retry_budget`): a retry is sent only while the retries in
//!   flight to the destination are fewer than max(`min_retry_concurrency`, `budget_percent` %
//!   of the requests in flight to it) — else it is not sent and the failure stands;
//! - **circuit breaker** (Envoy `max_requests`): a request to a destination that already has
//!   `max_requests` in flight from this proxy fails fast with `overflow` (Envoy's 503 with
//!   `x-envoy-overloaded`), never retried;
//! - **connection pool** (Envoy `max_connections` and `max_pending_requests`, Istio's
//!   `connectionPool`): `mesh/bulkhead.rs` — at most `max_connections` in flight from this
//!   proxy, `max_pending_requests` more wait for a connection, one more fails fast (`overflow`);
//! - **fault injection** (Envoy's fault filter as Istio's VirtualService `fault` sets it):
//!   `mesh/fault.rs` — a share of the requests delayed or aborted in the caller's proxy;
//! - **local rate limit** (Envoy `local_ratelimit`): a token bucket per proxy and policy that
//!   starts full, gains `tokens_per_fill` each whole `fill_interval`; a request without a
//!   token is refused with `rate-limited` (Envoy's 429), never retried;
//! - **outlier detection** (Envoy's consecutive-5xx detector): `balancer.rs`, with the
//!   destination's parameters from here;
//! - **authorization** (Istio `AuthorizationPolicy`, Envoy RBAC on the callee's inbound
//!   sidecar): `mesh/authz.rs`; a denied request is answered `denied` (403), never retried;
//! - **mTLS mode** (Istio `PeerAuthentication`, `fusebench_model::scenario::MtlsMode`): a
//!   `strict` callee's sidecar refuses a caller without a sidecar (plaintext) — Envoy's TLS
//!   handshake fails; here it is answered `denied` at once, traced `mesh_refused` with filter
//!   `mtls`, counted with the callee's denials, never retried; a `disable` callee sees every
//!   caller without an identity (its authorization rules naming sources match nobody).
//!
//! Policies apply at the gateway (client → service) and at a meshed caller's sidecar
//! (service → service). Everything is resolved to ids once (`MeshSpec::new`); the event path
//! indexes vectors.

mod bulkhead;
pub(crate) mod control;
mod fault;
pub(crate) mod filter;
pub(crate) mod proxy;
pub(crate) mod route;

use bulkhead::Pool;
pub(crate) use bulkhead::{Parked, Waiter};
pub(crate) use fault::FaultSpec;

use std::collections::BTreeMap;

use fusebench_model::Scenario;
use fusebench_model::scenario::{MeshConfig, MtlsMode, OutlierDetection, RetryOn};

use super::Sim;
use super::balancer::Caller;
use super::ids::{EndpointId, ReqId, ServiceId};
use super::world::ServiceSpec;
use crate::metrics::Outcome;
use crate::time::{SimTime, millis_to_nanos};
use crate::trace::TraceEvent;

mod authz;
use authz::AuthzTable;

/// A retry policy, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RetrySpec {
    pub(crate) attempts: u32,
    pub(crate) per_try: Option<u64>,
    pub(crate) base: u64,
    pub(crate) max: u64,
    pub(crate) on_5xx: bool,
    pub(crate) on_timeout: bool,
    pub(crate) on_unavailable: bool,
}

impl RetrySpec {
    /// Whether a failed try of this class is retried.
    pub(crate) fn retries(&self, class: RetryOn) -> bool {
        match class {
            RetryOn::FiveXx => self.on_5xx,
            RetryOn::Timeout => self.on_timeout,
            RetryOn::Unavailable => self.on_unavailable,
        }
    }

    /// The longest back-off before retry `n` (1-based): (2ⁿ − 1) × base, at most `max`.
    pub(crate) fn backoff_cap(&self, n: u32) -> u64 {
        let factor = (1u64 << n.min(40)) - 1;
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// A token bucket's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BucketSpec {
    /// The policy it belongs to (one bucket per proxy and policy).
    pub(crate) policy: u32,
    pub(crate) max_tokens: u64,
    pub(crate) per_fill: u64,
    pub(crate) interval: u64,
}

/// Consecutive-5xx outlier detection, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutlierSpec {
    pub(crate) consecutive: u32,
    pub(crate) base_ejection: u64,
    pub(crate) max_percent: usize,
}

impl OutlierSpec {
    pub(crate) fn of(o: &OutlierDetection) -> Self {
        OutlierSpec {
            consecutive: o.consecutive_5xx,
            base_ejection: millis_to_nanos(o.base_ejection_time_ms),
            max_percent: o.max_ejection_percent as usize,
        }
    }
}

/// What applies to requests to one endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RouteSpec {
    pub(crate) retries: Option<RetrySpec>,
    /// The route timeout (ns): Envoy's, over the whole call from its first try.
    pub(crate) timeout: Option<u64>,
    pub(crate) rate_limit: Option<BucketSpec>,
    pub(crate) fault: Option<FaultSpec>,
}

/// What applies to a whole destination service (an Envoy cluster).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ClusterSpec {
    pub(crate) max_requests: Option<u32>,
    /// The connection pool: (max connections, max pending requests).
    pub(crate) pool: Option<(u32, u32)>,
    /// (budget percent, min retry concurrency).
    pub(crate) budget: Option<(f64, u32)>,
    pub(crate) outlier: Option<OutlierSpec>,
}

/// `[mesh]`, resolved.
#[derive(Debug)]
pub(crate) struct MeshSpec {
    meshed: Vec<bool>,
    /// Added by each sidecar crossed, each way.
    pub(crate) sidecar: u64,
    /// CPU (ns) each sidecar spends on every message crossing it.
    sidecar_cpu: u64,
    /// Per configuration (`control.rs`: 0 the scenario's, `i + 1` after push `i`), per
    /// service, per endpoint.
    routes: Vec<Vec<Vec<RouteSpec>>>,
    /// Per configuration, per service.
    clusters: Vec<Vec<ClusterSpec>>,
    /// Every WebAssembly filter of some configuration (`filter.rs`): the declared ones, then
    /// the pushed ones.
    pub(crate) filters: Vec<filter::FilterSpec>,
    /// Per configuration, its filter chain (indexes into `filters`, in order).
    pub(crate) chains: Vec<Vec<usize>>,
    /// The control plane's pushes (`control.rs`), when the scenario has any.
    pub(crate) control: Option<control::ControlPlane>,
    authz: AuthzTable,
    /// Per service: its sidecar's mTLS mode is `strict` (it refuses plaintext callers).
    strict: Vec<bool>,
    /// Version subsets, routes and the control plane (`route.rs`), when declared.
    pub(crate) routing: Option<route::Routing>,
    /// The headers a meshed service copies from the request it serves onto its calls.
    pub(crate) propagate_headers: Vec<String>,
}

impl MeshSpec {
    /// Resolves `s.mesh` against the services already resolved (same order as `s.services`).
    pub(crate) fn new(s: &Scenario, services: &[ServiceSpec]) -> Option<MeshSpec> {
        let mesh = s.mesh.as_ref()?;
        // A rate limit's bucket belongs to its policy (one per proxy and policy): a pushed
        // policy starts a fresh bucket, as Envoy builds a new filter from a new config.
        let every: Vec<&fusebench_model::scenario::MeshPolicy> = mesh.every_policy().collect();
        let index = |p: &fusebench_model::scenario::MeshPolicy| {
            every.iter().position(|q| std::ptr::eq(*q, p)).unwrap_or(0) as u32
        };
        let meshed: Vec<bool> = services.iter().map(|x| mesh.contains(&x.name)).collect();
        let mode = |x: &ServiceSpec| mesh.mtls_of(&x.name);
        let strict: Vec<bool> =
            services.iter().zip(&meshed).map(|(x, &m)| m && mode(x) == MtlsMode::Strict).collect();
        let plaintext: Vec<bool> = services.iter().map(|x| mode(x) == MtlsMode::Disable).collect();
        let control = control::ControlPlane::new(s, &meshed);
        let configurations = control.as_ref().map_or(1, control::ControlPlane::configurations);
        let filters = filter::specs(s, services);
        let (mut routes, mut clusters, mut chains) = (Vec::new(), Vec::new(), Vec::new());
        for k in 0..configurations {
            let config = mesh.configuration(k);
            routes.push(
                services
                    .iter()
                    .map(|x| {
                        x.endpoints.iter().map(|e| route_spec(&config, x, e, &index)).collect()
                    })
                    .collect(),
            );
            clusters.push(services.iter().map(|x| cluster_spec(&config, &x.name)).collect());
            chains.push(filter::chain_of(mesh, &config));
        }
        Some(MeshSpec {
            propagate_headers: mesh.propagate_headers.clone(),
            routing: route::Routing::new(s, services),
            authz: AuthzTable::new(s, services, &meshed, &plaintext, configurations),
            strict,
            meshed,
            sidecar: millis_to_nanos(mesh.sidecar_latency_ms),
            sidecar_cpu: (mesh.sidecar_cpu_us * 1_000.0).round() as u64,
            routes,
            clusters,
            filters,
            chains,
            control,
        })
    }

    pub(crate) fn is_meshed(&self, service: ServiceId) -> bool {
        self.meshed[service.index()]
    }

    /// Whether `caller` applies the policies (the gateway always does; a service only with
    /// its sidecar).
    pub(crate) fn applies(&self, caller: Caller) -> bool {
        match caller {
            Caller::Gateway => true,
            Caller::Service(s) => self.is_meshed(s),
            Caller::Broker => false,
        }
    }

    /// What applies to requests to `service.endpoint` under configuration `config`.
    pub(crate) fn route(&self, config: u32, service: ServiceId, endpoint: EndpointId) -> RouteSpec {
        self.routes[config as usize][service.index()][endpoint.index()]
    }

    /// What applies to `service` as a whole under configuration `config`.
    pub(crate) fn cluster(&self, config: u32, service: ServiceId) -> ClusterSpec {
        self.clusters[config as usize][service.index()]
    }

    /// Whether `service`'s sidecar, holding configuration `config`, authorizes `caller`'s
    /// request to `endpoint`.
    pub(crate) fn authorizes(
        &self,
        caller: Caller,
        service: ServiceId,
        endpoint: EndpointId,
        config: u32,
    ) -> bool {
        self.authz.allows(caller, service, endpoint, &self.meshed, config)
    }

    /// Whether `service`'s sidecar refuses `caller`'s plaintext connection: a `strict`
    /// callee and a caller without a sidecar (the gateway is in the mesh; broker deliveries
    /// are not subject to it).
    pub(crate) fn refuses_plaintext(&self, caller: Caller, service: ServiceId) -> bool {
        matches!(caller, Caller::Service(s) if !self.is_meshed(s)) && self.strict[service.index()]
    }

    /// Sidecar latency on a request from `caller` to `callee` (and on its answer back).
    pub(crate) fn hop_latency(&self, caller: Caller, callee: ServiceId) -> u64 {
        let out = matches!(caller, Caller::Service(s) if self.is_meshed(s));
        let inbound = self.is_meshed(callee);
        self.sidecar * (u64::from(out) + u64::from(inbound))
    }

    /// The CPU (ns) the caller's and the callee's sidecars each spend on one message between
    /// `caller` and `callee` (0 where there is no sidecar: the gateway's own cost is its
    /// filters').
    pub(crate) fn sidecar_cpu(&self, caller: Caller, callee: ServiceId) -> [u64; 2] {
        let out = matches!(caller, Caller::Service(s) if self.is_meshed(s));
        [u64::from(out) * self.sidecar_cpu, u64::from(self.is_meshed(callee)) * self.sidecar_cpu]
    }
}

/// The retries, rate limit and fault of requests to `x.e` under `config`.
fn route_spec(
    config: &MeshConfig<'_>,
    x: &ServiceSpec,
    e: &super::world::EndpointSpec,
    index: &impl Fn(&fusebench_model::scenario::MeshPolicy) -> u32,
) -> RouteSpec {
    RouteSpec {
        retries: config.retries(&x.name, &e.name).map(|r| RetrySpec {
            attempts: r.attempts.max(1),
            per_try: r.per_try_timeout_ms.map(millis_to_nanos),
            base: millis_to_nanos(r.base_interval_ms),
            max: millis_to_nanos(r.max_interval_ms),
            on_5xx: r.retry_on.contains(&RetryOn::FiveXx),
            on_timeout: r.retry_on.contains(&RetryOn::Timeout),
            on_unavailable: r.retry_on.contains(&RetryOn::Unavailable),
        }),
        rate_limit: config.policy_for(&x.name, &e.name, |p| p.rate_limit.as_ref()).map(|(p, l)| {
            BucketSpec {
                policy: index(p),
                max_tokens: u64::from(l.max_tokens),
                per_fill: u64::from(l.tokens_per_fill),
                interval: millis_to_nanos(l.fill_interval_ms).max(1),
            }
        }),
        fault: config.fault(&x.name, &e.name).map(FaultSpec::of),
        timeout: config.route_timeout(&x.name, &e.name).map(millis_to_nanos),
    }
}

/// What applies to `service` as a whole under `config`.
fn cluster_spec(config: &MeshConfig<'_>, service: &str) -> ClusterSpec {
    config.service_policy(service).map_or_else(ClusterSpec::default, |p| ClusterSpec {
        max_requests: p.circuit_breaker.as_ref().and_then(|c| c.max_requests),
        pool: p
            .circuit_breaker
            .as_ref()
            .and_then(|c| Some((c.max_connections?, c.max_pending_requests.unwrap_or(0)))),
        budget: p.retry_budget.as_ref().map(|b| (b.budget_percent, b.min_retry_concurrency)),
        outlier: p.outlier_detection.as_ref().map(OutlierSpec::of),
    })
}

/// A token bucket's state: tokens now, and when they were last counted.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u64,
    filled_at: SimTime,
}

/// The run-time state of the mesh's filters.
#[derive(Debug, Default)]
pub(crate) struct MeshState {
    buckets: BTreeMap<(Caller, u32), Bucket>,
    pub(crate) filters: filter::FilterState,
    pools: bulkhead::Pools,
    /// Which configuration each proxy holds (`control.rs`).
    pub(crate) control: control::ControlState,
    /// Messages on their way through proxies that compute.
    pub(crate) legs: proxy::Legs,
}

/// Why a filter refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Overflow,
    RateLimited,
    /// A WebAssembly filter stopped it (or faulted): the outcome its caller gets.
    Filter(Outcome),
    /// The callee's authorization policy (Envoy RBAC, 403).
    Denied,
    /// The callee's `strict` mTLS mode refused a plaintext caller.
    Mtls,
    /// An injected abort (`fault.abort`): the outcome its status stands for.
    Fault(Outcome),
}

/// What the caller's proxy does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    Send,
    /// Every connection of the pool is busy: it waits for one (`bulkhead.rs`).
    Pending,
    Refused(Refusal),
}

impl Refusal {
    pub(crate) fn filter(self) -> &'static str {
        match self {
            Refusal::Overflow => "circuit-breaker",
            Refusal::RateLimited => "rate-limit",
            Refusal::Filter(_) => "filter",
            Refusal::Denied => "rbac",
            Refusal::Mtls => "mtls",
            Refusal::Fault(_) => "fault",
        }
    }

    /// What the caller (or the client) gets.
    pub(crate) fn outcome(self) -> Outcome {
        match self {
            Refusal::Overflow => Outcome::Overflow,
            Refusal::RateLimited => Outcome::RateLimited,
            Refusal::Filter(outcome) => outcome,
            Refusal::Denied | Refusal::Mtls => Outcome::Denied,
            Refusal::Fault(outcome) => outcome,
        }
    }
}

impl Sim {
    /// The filters of `caller`'s proxy for a request `req` to `service.endpoint`, in Istio's
    /// order: its WebAssembly filters, the rate limit (on a `first` try only: Envoy's filter
    /// runs once per downstream request, before the router retries), the fault filter (on a
    /// `downstream` request only: once per request the application hands its proxy), the
    /// circuit breaker and the connection pool (the router's, on every try); then the callee's
    /// RBAC. Refusals are traced. Draws only for a fault; without a mesh it is always `Send`.
    pub(crate) fn mesh_admit(
        &mut self,
        caller: Caller,
        service: ServiceId,
        endpoint: EndpointId,
        req: ReqId,
        first: bool,
        downstream: bool,
    ) -> Admission {
        let Some(mesh) = self.world.mesh.as_ref() else { return Admission::Send };
        // The callee's sidecar judges by the authorization policies it holds now.
        let callee_config = self.mesh_config(Caller::Service(service));
        let authorized = mesh.authorizes(caller, service, endpoint, callee_config);
        let plaintext_refused = mesh.refuses_plaintext(caller, service);
        let applies = mesh.applies(caller);
        // The caller's outbound chain first: its WebAssembly filters, then the rate limit and
        // the circuit breaker; then the callee's inbound RBAC.
        if applies && let Some(refusal) = self.filter_request(caller, service, endpoint, req) {
            return Admission::Refused(refusal);
        }
        let Some(mesh) = self.world.mesh.as_ref() else { return Admission::Send };
        let mut pending = false;
        let refusal = if applies {
            let config = self.mesh_config(caller);
            let (route, cluster) =
                (mesh.route(config, service, endpoint), mesh.cluster(config, service));
            let limited = route.rate_limit.filter(|_| first);
            if limited.is_some_and(|b| !self.take_token(caller, b)) {
                Some(Refusal::RateLimited)
            } else if let Some(fault) = route.fault.filter(|_| downstream)
                && let Some(abort) = self.inject_fault(caller, service, endpoint, req, fault)
            {
                // Traced as the injection it is, not as a filter's refusal.
                return Admission::Refused(abort);
            } else if cluster
                .max_requests
                .is_some_and(|max| self.in_flight(caller, service).0 >= u64::from(max))
            {
                Some(Refusal::Overflow)
            } else if let Some((connections, queue)) = cluster.pool {
                match self.pool_admit(caller, service, connections, queue) {
                    Pool::Send => None,
                    Pool::Pending => {
                        pending = true;
                        None
                    }
                    Pool::Full => Some(Refusal::Overflow),
                }
            } else {
                None
            }
        } else {
            None
        };
        // (A request the callee would deny is denied without waiting for a connection; a
        // plaintext one a strict callee refuses never gets as far as its RBAC.)
        let refusal = refusal
            .or(plaintext_refused.then_some(Refusal::Mtls))
            .or((!authorized).then_some(Refusal::Denied));
        if matches!(refusal, Some(Refusal::Denied | Refusal::Mtls)) {
            self.rec.service(service).denied += 1;
        }
        if let Some(r) = refusal {
            self.trace_refused(caller, service, endpoint, r.filter(), req);
            return Admission::Refused(r);
        }
        if pending { Admission::Pending } else { Admission::Send }
    }

    /// Whether the retry budget of `caller` towards `service` allows one more retry now.
    pub(crate) fn retry_budget_allows(&mut self, caller: Caller, service: ServiceId) -> bool {
        let Some(mesh) = self.world.mesh.as_ref() else { return true };
        let config = self.mesh_config(caller);
        let Some((percent, min)) =
            mesh.cluster(config, service).budget.filter(|_| mesh.applies(caller))
        else {
            return true;
        };
        let (requests, retries) = self.in_flight(caller, service);
        let allowed = ((requests as f64 * percent / 100.0) as u64).max(u64::from(min));
        retries < allowed
    }

    pub(crate) fn trace_refused(
        &mut self,
        caller: Caller,
        service: ServiceId,
        endpoint: EndpointId,
        filter: &str,
        req: ReqId,
    ) {
        let now = self.q.now();
        let spec = self.world.service(service);
        let target = format!("{}.{}", spec.name, spec.endpoint(endpoint).name);
        let caller = self.caller_name(caller).to_owned();
        self.trace.emit(
            now,
            &TraceEvent::MeshRefused { caller: &caller, target: &target, filter, req: req.0 },
        );
    }

    /// Takes a token from `caller`'s bucket for policy `b`; false when it is empty.
    fn take_token(&mut self, caller: Caller, b: BucketSpec) -> bool {
        let now = self.q.now();
        let bucket = self.mesh.buckets.entry((caller, b.policy)).or_insert(Bucket {
            tokens: b.max_tokens,
            // Envoy's fill timer ticks from the proxy's start: at whole intervals.
            filled_at: SimTime(now.nanos() / b.interval * b.interval),
        });
        let fills = (now - bucket.filled_at) / b.interval;
        if fills > 0 {
            bucket.tokens = bucket.tokens.saturating_add(fills.saturating_mul(b.per_fill));
            bucket.tokens = bucket.tokens.min(b.max_tokens);
            bucket.filled_at = bucket.filled_at + fills * b.interval;
        }
        if bucket.tokens == 0 {
            return false;
        }
        bucket.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fault_tests;

#[cfg(test)]
mod route_tests;

#[cfg(test)]
mod control_tests;

#[cfg(test)]
mod timeout_tests;
