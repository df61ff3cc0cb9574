//! The service mesh (`[mesh]`): which services run a sidecar proxy, what each sidecar hop costs,
//! and the resilience policies (`[[mesh.policy]]`) the callers' sidecars and the gateway apply
//! to the requests they send to a destination — modelled on Envoy's cluster and route
//! configuration (retry policy, retry budget, circuit breakers and connection pool, outlier
//! detection, local rate limit, fault injection), as Istio programs it.

use serde::Serialize;

mod fault;
mod filter;
mod push;
mod route;

pub use fault::{ABORT_STATUSES, FaultAbort, FaultDelay, MeshFault};
pub(crate) use filter::resolve as resolve_filters;
pub use filter::{FILTER_CAPABILITIES, FilterAt, MeshFilter};
pub(crate) use push::resolve as resolve_pushes;
pub use push::{ControlPlane, MeshConfig, Push};
pub(crate) use route::resolve as resolve_routes;
pub use route::{HeaderMatch, Route, Subset, Weight};

use super::NameRef;
use super::reader::{Cx, Obj};
use crate::diagnostic::Span;

mod authz;
pub use authz::{Authorization, AuthzAction, AuthzDecision, GATEWAY_IDENTITY, decide};
mod mtls;
pub(crate) use mtls::resolve as resolve_mtls;
pub use mtls::{MtlsMode, PeerAuthentication};

/// `[mesh]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mesh {
    /// Every service runs a sidecar (`all = true`).
    pub all: bool,
    /// The services that run a sidecar, when not `all`.
    pub services: Vec<NameRef>,
    /// Latency each sidecar adds on every hop through it (a call crosses the caller's
    /// outbound sidecar and the callee's inbound one, the answer the same two back).
    pub sidecar_latency_ms: f64,
    /// CPU each sidecar spends on every message crossing it (request or answer, each way), in
    /// microseconds, taken from its node's cores; Istio's published figure for Envoy is about
    /// 0.35 vCPU per 1000 requests per second through a proxy (≈ 175 µs per crossing). `0`
    /// (the default, left out of the serialisation so the scenario hash is unchanged): only
    /// latency.
    #[serde(skip_serializing_if = "is_zero")]
    pub sidecar_cpu_us: f64,
    pub policies: Vec<MeshPolicy>,
    /// `[[mesh.filter]]`: the WebAssembly filter chain, in order. Left out of the
    /// serialisation when empty (the canonical form of a mesh without filters is unchanged).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<MeshFilter>,
    /// `[[mesh.authorization]]` (left out of the serialisation when empty, so the scenario
    /// hash of a mesh without it is unchanged).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization: Vec<Authorization>,
    /// `mtls` (Istio's mesh-wide PeerAuthentication) and `[[mesh.peer_authentication]]` (one
    /// service's): `mesh/mtls.rs`. Each left out of the serialisation when unset, so the
    /// scenario hash of a mesh without them is unchanged.
    #[serde(skip_serializing_if = "MtlsMode::is_permissive")]
    pub mtls: MtlsMode,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peer_authentication: Vec<PeerAuthentication>,
    /// `[[mesh.subset]]`, `[[mesh.route]]`, `[mesh.control_plane]`, `[[mesh.push]]`
    /// (`mesh/route.rs`; each left out of the serialisation when absent, so the scenario hash
    /// of a mesh without them is unchanged).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<Subset>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<ControlPlane>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pushes: Vec<Push>,
    /// `propagate_headers`: the request headers every meshed service copies from the request
    /// it serves onto the calls it makes — what Istio requires of the application for a header
    /// route to apply past the first hop (Bookinfo's services propagate `end-user`); lower-case.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub propagate_headers: Vec<String>,
    #[serde(skip)]
    pub span: Span,
}

impl Mesh {
    /// Whether `service` runs a sidecar.
    #[must_use]
    pub fn contains(&self, service: &str) -> bool {
        self.all || self.services.iter().any(|s| s.name == service)
    }

    /// The replicas of `service`'s subsets that are Deployments of their own (beyond its
    /// declared replicas).
    #[must_use]
    pub fn subset_replicas(&self, service: &str) -> u32 {
        self.subsets.iter().filter(|s| s.service.name == service).filter_map(|s| s.replicas).sum()
    }

    /// The declared policies and filters (configuration 0, before any push).
    #[must_use]
    pub fn declared(&self) -> MeshConfig<'_> {
        self.configuration(0)
    }

    /// The declared policy written for exactly `service` and `endpoint` (`None`: the
    /// service-wide one).
    #[must_use]
    pub fn policy_exact(&self, service: &str, endpoint: Option<&str>) -> Option<&MeshPolicy> {
        self.declared().policy_exact(service, endpoint)
    }

    /// The declared policy giving requests to `service.endpoint` the filter `pick` chooses
    /// ([`MeshConfig::policy_for`]).
    #[must_use]
    pub fn policy_for<T>(
        &self,
        service: &str,
        endpoint: &str,
        pick: impl Fn(&MeshPolicy) -> Option<&T>,
    ) -> Option<(&MeshPolicy, &T)> {
        self.declared().policy_for(service, endpoint, pick)
    }

    /// The fault injected into requests to `service.endpoint` (the endpoint's policy's, else
    /// the service-wide one's), as declared.
    #[must_use]
    pub fn fault(&self, service: &str, endpoint: &str) -> Option<&MeshFault> {
        self.declared().fault(service, endpoint)
    }

    /// The declared route timeout (ms) of requests to `service.endpoint`.
    #[must_use]
    pub fn route_timeout(&self, service: &str, endpoint: &str) -> Option<f64> {
        self.declared().route_timeout(service, endpoint)
    }

    /// The declared retries for requests to `service.endpoint`.
    #[must_use]
    pub fn retries(&self, service: &str, endpoint: &str) -> Option<&Retries> {
        self.declared().retries(service, endpoint)
    }

    /// The declared service-wide policy of `service` (where outlier detection, circuit
    /// breaking and the retry budget live).
    #[must_use]
    pub fn service_policy(&self, service: &str) -> Option<&MeshPolicy> {
        self.declared().service_policy(service)
    }

    /// Istio's authorization decision for a request to `service.endpoint` from `source` (an
    /// mTLS identity; `None` for a caller without a sidecar), whether or not `service` runs
    /// the sidecar that would enforce it.
    #[must_use]
    pub fn authorize(
        &self,
        service: &str,
        endpoint: &str,
        source: Option<&str>,
    ) -> AuthzDecision<'_> {
        decide(&self.authorization, service, endpoint, source)
    }
}

/// `[[mesh.policy]]`: the filters applied to requests sent to one destination.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeshPolicy {
    pub service: NameRef,
    /// Only requests to this endpoint (a route, in Envoy's terms); else every endpoint.
    pub endpoint: Option<NameRef>,
    pub retries: Option<Retries>,
    pub retry_budget: Option<RetryBudget>,
    pub circuit_breaker: Option<CircuitBreaker>,
    pub outlier_detection: Option<OutlierDetection>,
    pub rate_limit: Option<RateLimit>,
    /// Left out of the serialisation when absent (the scenario hash of a policy without it is
    /// unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<MeshFault>,
    /// `timeout_ms`: Istio's VirtualService `http.timeout` (Envoy's route timeout) — the whole
    /// call, every retry included, fails with 504 at the caller's proxy once it has passed
    /// since the first try left. Absent: none (Istio's default). Left out of the
    /// serialisation when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<f64>,
    #[serde(skip)]
    pub span: Span,
}

/// What a failed try must be for a retry (Envoy `retry_on`, narrowed to what the simulator
/// tells apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryOn {
    /// The callee answered with a server failure (guest fault, OOM kill, its own timeout).
    FiveXx,
    /// The try's own timeout passed (`per_try_timeout_ms`).
    Timeout,
    /// No healthy replica, or the replica refused it (full queue, crashed).
    Unavailable,
}

impl RetryOn {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            RetryOn::FiveXx => "5xx",
            RetryOn::Timeout => "timeout",
            RetryOn::Unavailable => "unavailable",
        }
    }
}

/// Envoy's route retry policy: `attempts` tries in all (Envoy's `num_retries` + 1), each with
/// `per_try_timeout_ms`, separated by a fully jittered exponential back-off — the n-th retry
/// waits a uniform time in [0, (2ⁿ − 1) × base], capped at `max_interval` (default 10 × base).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retries {
    pub attempts: u32,
    /// Default: the caller's timeout (the channel's, or the gateway's).
    pub per_try_timeout_ms: Option<f64>,
    pub base_interval_ms: f64,
    pub max_interval_ms: f64,
    pub retry_on: Vec<RetryOn>,
    #[serde(skip)]
    pub span: Span,
}

/// Envoy's `retry_budget` (circuit-breaker thresholds): active retries may not exceed
/// `budget_percent` of the active requests to the destination, nor fall below
/// `min_retry_concurrency`. A retry over the budget is not sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetryBudget {
    pub budget_percent: f64,
    pub min_retry_concurrency: u32,
    #[serde(skip)]
    pub span: Span,
}

/// Envoy's cluster circuit breakers, per proxy: `max_requests` requests to the destination in
/// flight at once, one more fails fast (`overflow`, Envoy's 503 with `x-envoy-overloaded`);
/// and the HTTP/1.1 connection pool (Istio's `maxConnections` and `http1MaxPendingRequests`):
/// at most `max_connections` requests in flight (one per connection), up to
/// `max_pending_requests` more wait in the proxy in arrival order for a connection to free up,
/// one more fails fast (`overflow`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CircuitBreaker {
    pub max_requests: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Default (with `max_connections`): Envoy's 1024.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pending_requests: Option<u32>,
    #[serde(skip)]
    pub span: Span,
}

/// Envoy's default `max_pending_requests`.
pub const ENVOY_MAX_PENDING: u32 = 1024;

/// Envoy's consecutive-5xx outlier detection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutlierDetection {
    pub consecutive_5xx: u32,
    pub base_ejection_time_ms: f64,
    pub max_ejection_percent: u32,
    #[serde(skip)]
    pub span: Span,
}

impl Default for OutlierDetection {
    /// Envoy's defaults.
    fn default() -> Self {
        OutlierDetection {
            consecutive_5xx: 5,
            base_ejection_time_ms: 30_000.0,
            max_ejection_percent: 10,
            span: Span::default(),
        }
    }
}

/// Envoy's `local_ratelimit` token bucket: it starts full with `max_tokens`, gains
/// `tokens_per_fill` every `fill_interval_ms` up to `max_tokens`; a request takes one token or
/// is refused (`rate-limited`, HTTP 429).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateLimit {
    pub max_tokens: u32,
    pub tokens_per_fill: u32,
    pub fill_interval_ms: f64,
    #[serde(skip)]
    pub span: Span,
}

/// Whether a cost is the default `0` (left out of the canonical form).
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Mesh {
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Mesh {
        let all = o.opt_bool(cx, "all").unwrap_or(false);
        let services: Vec<NameRef> =
            o.str_list(cx, "services").into_iter().map(NameRef::from).collect();
        if all && !services.is_empty() {
            cx.error(
                "parse.value",
                o.span,
                &o.field("services"),
                "`[mesh]` has both `all = true` and `services`: give one of them",
            );
        }
        if !all && services.is_empty() {
            cx.error(
                "parse.missing-field",
                o.span,
                &o.field("services"),
                "`[mesh]` puts no service in the mesh: list them in `services = [...]` or set `all = true`",
            );
        }
        let sidecar_latency_ms = o.opt_f64(cx, "sidecar_latency_ms", 0.0, 1000.0).unwrap_or(0.0);
        let sidecar_cpu_us = o.opt_f64(cx, "sidecar_cpu_us", 0.0, 1_000_000.0).unwrap_or(0.0);
        let policies: Vec<MeshPolicy> = o
            .table_list(cx, "policy")
            .into_iter()
            .filter_map(|t| MeshPolicy::read(cx, t, false))
            .collect();
        let filters: Vec<MeshFilter> = o
            .table_list(cx, "filter")
            .into_iter()
            .filter_map(|t| MeshFilter::read(cx, t))
            .collect();
        let authorization: Vec<Authorization> = o
            .table_list(cx, "authorization")
            .into_iter()
            .map(|t| Authorization::read(cx, t))
            .collect();
        let mtls = MtlsMode::read(cx, &mut o, "mtls").unwrap_or_default();
        let peer_authentication: Vec<PeerAuthentication> = o
            .table_list(cx, "peer_authentication")
            .into_iter()
            .filter_map(|t| PeerAuthentication::read(cx, t))
            .collect();
        let subsets: Vec<Subset> =
            o.table_list(cx, "subset").into_iter().filter_map(|t| Subset::read(cx, t)).collect();
        let routes: Vec<Route> = o
            .table_list(cx, "route")
            .into_iter()
            .filter_map(|mut t| {
                let r = Route::read(cx, &mut t);
                t.finish(cx);
                r
            })
            .collect();
        let control_plane =
            o.opt_table(cx, "control_plane").and_then(|t| ControlPlane::read(cx, t));
        let propagate_headers: Vec<String> = o
            .str_list(cx, "propagate_headers")
            .into_iter()
            .map(|(h, _)| h.to_ascii_lowercase())
            .collect();
        let pushes: Vec<Push> = o
            .table_list(cx, "push")
            .into_iter()
            .enumerate()
            .filter_map(|(i, t)| Push::read(cx, t, i))
            .collect();
        if !pushes.is_empty() && control_plane.is_none() {
            let msg = "`[[mesh.push]]` needs `[mesh.control_plane]` (its `propagation` delay to each proxy)";
            cx.error("parse.missing-field", o.span, &o.field("control_plane"), msg);
        }
        let span = o.span;
        o.finish(cx);
        Mesh {
            propagate_headers,
            subsets,
            routes,
            control_plane,
            pushes,
            all,
            services,
            sidecar_latency_ms,
            sidecar_cpu_us,
            policies,
            filters,
            authorization,
            mtls,
            peer_authentication,
            span,
        }
    }
}

impl MeshPolicy {
    /// Reads one policy; a `pushed` one (`[[mesh.push.policy]]`) may set no filter: it removes
    /// its destination's policy.
    fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>, pushed: bool) -> Option<MeshPolicy> {
        let service = o.req_str(cx, "service", "the destination service");
        let endpoint = o.opt_str(cx, "endpoint").map(NameRef::from);
        let retries = o.opt_table(cx, "retries").and_then(|t| Retries::read(cx, t));
        let retry_budget = o.opt_table(cx, "retry_budget").map(|mut t| {
            let budget_percent = t.opt_f64(cx, "budget_percent", 0.0, 100.0).unwrap_or(20.0);
            let min_retry_concurrency =
                t.opt_u64(cx, "min_retry_concurrency", 0, 1_000_000).unwrap_or(3);
            let span = t.span;
            t.finish(cx);
            RetryBudget {
                budget_percent,
                min_retry_concurrency: u32::try_from(min_retry_concurrency).unwrap_or(u32::MAX),
                span,
            }
        });
        let circuit_breaker = o.opt_table(cx, "circuit_breaker").map(|mut t| {
            let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
            let max_requests = t.opt_u64(cx, "max_requests", 1, 1_000_000).map(count);
            let max_connections = t.opt_u64(cx, "max_connections", 1, 1_000_000).map(count);
            let pending_given = t.has("max_pending_requests");
            let max_pending_requests = t.opt_u64(cx, "max_pending_requests", 0, 1_000_000).map(count);
            if pending_given && !t.has("max_connections") {
                cx.error(
                    "parse.missing-field",
                    t.span,
                    &t.field("max_connections"),
                    "`max_pending_requests` counts requests waiting for one of `max_connections` connections: give `max_connections` too",
                );
            }
            if !t.has("max_requests") && !t.has("max_connections") {
                cx.error(
                    "parse.missing-field",
                    t.span,
                    &t.field("max_requests"),
                    "a `circuit_breaker` limits nothing: give it `max_requests` or `max_connections` (with `max_pending_requests`)",
                );
            }
            let span = t.span;
            t.finish(cx);
            CircuitBreaker {
                max_requests,
                max_pending_requests: max_pending_requests
                    .or(max_connections.map(|_| ENVOY_MAX_PENDING)),
                max_connections,
                span,
            }
        });
        let outlier_detection = o.opt_table(cx, "outlier_detection").map(|mut t| {
            let d = OutlierDetection::default();
            let consecutive = t.opt_u64(cx, "consecutive_5xx", 1, 1_000_000);
            let base = t.opt_f64(cx, "base_ejection_time_ms", 1.0, 3.6e6);
            let percent = t.opt_u64(cx, "max_ejection_percent", 0, 100);
            let span = t.span;
            t.finish(cx);
            OutlierDetection {
                consecutive_5xx: consecutive.map_or(d.consecutive_5xx, |n| n as u32),
                base_ejection_time_ms: base.unwrap_or(d.base_ejection_time_ms),
                max_ejection_percent: percent.map_or(d.max_ejection_percent, |n| n as u32),
                span,
            }
        });
        let rate_limit = o.opt_table(cx, "rate_limit").and_then(|mut t| {
            let max = t.req_u64(cx, "max_tokens", 1, 1_000_000_000, "the bucket's size");
            let per_fill = t.opt_u64(cx, "tokens_per_fill", 1, 1_000_000_000).unwrap_or(1);
            let every =
                t.req_f64(cx, "fill_interval_ms", 0.001, 3.6e6, "how often the bucket refills");
            let span = t.span;
            t.finish(cx);
            Some(RateLimit {
                max_tokens: u32::try_from(max?).ok()?,
                tokens_per_fill: u32::try_from(per_fill).unwrap_or(u32::MAX),
                fill_interval_ms: every?,
                span,
            })
        });
        let fault = o.opt_table(cx, "fault").and_then(|t| MeshFault::read(cx, t));
        let timeout_ms = o.opt_f64(cx, "timeout_ms", 0.001, 3.6e6);
        let span = o.span;
        if let Some(e) = &endpoint {
            // Envoy keeps these per cluster (the destination service), not per route.
            for (what, present) in [
                ("outlier_detection", outlier_detection.is_some()),
                ("circuit_breaker", circuit_breaker.is_some()),
                ("retry_budget", retry_budget.is_some()),
            ] {
                if present {
                    cx.error(
                        "parse.value",
                        e.span,
                        &o.field(what),
                        format!(
                            "`{what}` applies to a whole destination service (an Envoy cluster), not to one endpoint: put it in a policy without `endpoint`"
                        ),
                    );
                }
            }
        }
        if !pushed
            && retries.is_none()
            && retry_budget.is_none()
            && circuit_breaker.is_none()
            && outlier_detection.is_none()
            && rate_limit.is_none()
            && fault.is_none()
            && timeout_ms.is_none()
        {
            cx.error(
                "parse.missing-field",
                span,
                &o.field("retries"),
                "a mesh policy sets no filter: give it retries, retry_budget, circuit_breaker, outlier_detection, rate_limit, fault or timeout_ms",
            );
        }
        o.finish(cx);
        Some(MeshPolicy {
            service: service?.into(),
            endpoint,
            retries,
            retry_budget,
            circuit_breaker,
            outlier_detection,
            rate_limit,
            fault,
            timeout_ms,
            span,
        })
    }
}

impl Retries {
    fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Retries> {
        let attempts = o.req_u64(cx, "attempts", 1, 100, "tries in all, the first included");
        let per_try_timeout_ms = o.opt_f64(cx, "per_try_timeout_ms", 0.001, 3.6e6);
        let base_interval_ms = o.opt_f64(cx, "base_interval_ms", 0.0, 3.6e6).unwrap_or(25.0);
        let max_interval_ms =
            o.opt_f64(cx, "max_interval_ms", 0.0, 3.6e7).unwrap_or(base_interval_ms * 10.0);
        if max_interval_ms < base_interval_ms {
            cx.error(
                "parse.range",
                o.span,
                &o.field("max_interval_ms"),
                format!(
                    "`max_interval_ms` ({max_interval_ms}) is below `base_interval_ms` ({base_interval_ms})"
                ),
            );
        }
        let retry_on = if o.has("retry_on") {
            let mut on = Vec::new();
            for (name, span) in o.str_list(cx, "retry_on") {
                let known = [RetryOn::FiveXx, RetryOn::Timeout, RetryOn::Unavailable];
                match known.iter().find(|k| k.name() == name) {
                    Some(k) if !on.contains(k) => on.push(*k),
                    Some(_) => {}
                    None => cx.error_hint(
                        "parse.value",
                        span,
                        &o.field("retry_on"),
                        format!("`retry_on` has \"{name}\", not one of: 5xx, timeout, unavailable"),
                        crate::diagnostic::did_you_mean(&name, known.iter().map(|k| k.name()))
                            .map(|n| format!("did you mean `{n}`?")),
                    ),
                }
            }
            on.sort();
            on
        } else {
            vec![RetryOn::FiveXx, RetryOn::Timeout, RetryOn::Unavailable]
        };
        let span = o.span;
        o.finish(cx);
        Some(Retries {
            attempts: u32::try_from(attempts?).ok()?,
            per_try_timeout_ms,
            base_interval_ms,
            max_interval_ms,
            retry_on,
            span,
        })
    }
}

#[cfg(test)]
mod tests;
