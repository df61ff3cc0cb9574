//! The control plane (`[mesh.control_plane]`, `[[mesh.push]]`): istiod pushing configuration to
//! every Envoy over xDS. A push at `at_s` may carry
//!
//! - a destination's new route (`service`, `weights`, `match`: a VirtualService update);
//! - resilience policies (`[[mesh.push.policy]]`, the keys of `[[mesh.policy]]`: a
//!   DestinationRule / VirtualService update) — each replaces the policy of its destination
//!   (service, or service and endpoint) as a whole, as applying a new resource replaces the
//!   old one; one that sets no filter removes it;
//! - filter modules (`[[mesh.push.filter]]`, the keys of `[[mesh.filter]]`: a WasmPlugin /
//!   EnvoyFilter update) — each replaces the filter of its name where it stands in the chain,
//!   or joins the chain's end; `remove_filters` takes filters out;
//! - authorization policies (`[[mesh.push.authorization]]`, the keys of
//!   `[[mesh.authorization]]`: an AuthorizationPolicy update) — a named one replaces the
//!   policy of its name, as applying a Kubernetes object replaces its namesake; any other
//!   joins the set; `remove_authorization` deletes policies by name.
//!
//! Pushes apply in time order (file order at equal times): configuration `k` is what a proxy
//! applies once the first `k` of them have reached it, each after its own `propagation`
//! delay (`sim/src/system/mesh/route.rs`); until then it applies the previous one.

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::NameRef;
use super::super::Scenario;
use super::super::reader::{Cx, Obj};
use super::super::topology::Distribution;
use super::{Authorization, AuthzDecision, MeshFault, MeshFilter, MeshPolicy, Retries, Route};
use crate::diagnostic::{Span, did_you_mean};

/// `[mesh.control_plane]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlPlane {
    /// The delay from a push to its arrival at one proxy, drawn per proxy and push.
    pub propagation: Distribution,
    #[serde(skip)]
    pub span: Span,
}

/// `[[mesh.push]]`: what the control plane changes at `at_s`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Push {
    pub at_s: f64,
    /// A destination's new route. (Each field below is left out of the serialisation when
    /// empty, so the scenario hash of a route-only push is unchanged.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    /// `[[mesh.push.policy]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<MeshPolicy>,
    /// `[[mesh.push.filter]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<MeshFilter>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove_filters: Vec<NameRef>,
    /// `[[mesh.push.authorization]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization: Vec<Authorization>,
    /// `remove_authorization`: the names of the policies it deletes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove_authorization: Vec<NameRef>,
    #[serde(skip)]
    pub span: Span,
}

impl Push {
    /// What it changes, in words for the trace and the report: the route's weights (exactly
    /// as a route-only push always said), then `policy <destination>` (`-policy` when it
    /// removes one), `filter <name>`, `-filter <name>`, `-authz <name>`, `authz <name>` (an
    /// unnamed policy by its service), separated by `; `.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = &self.route {
            let w: Vec<String> =
                r.weights.iter().map(|w| format!("{}={}", w.subset.name, w.percent)).collect();
            parts.push(w.join(","));
        }
        for p in &self.policies {
            let sign = if p.sets_nothing() { "-" } else { "" };
            parts.push(format!("{sign}policy {}", p.target()));
        }
        parts.extend(self.remove_filters.iter().map(|f| format!("-filter {}", f.name)));
        parts.extend(self.filters.iter().map(|f| format!("filter {}", f.name)));
        parts.extend(self.remove_authorization.iter().map(|a| format!("-authz {}", a.name)));
        parts.extend(self.authorization.iter().map(|a| format!("authz {}", a.label())));
        parts.join("; ")
    }

    /// The destination it names for the trace: its route's, else its first policy's service,
    /// else its first filter's only destination, else its first authorization policy's
    /// service, else `*` (the chain of every destination, or a removal by name).
    #[must_use]
    pub fn subject(&self) -> &str {
        if let Some(r) = &self.route {
            return &r.service.name;
        }
        if let Some(p) = self.policies.first() {
            return &p.service.name;
        }
        match self.filters.first().map(|f| f.services.as_slice()) {
            Some([one]) => &one.name,
            Some(_) => "*",
            None => self.authorization.first().map_or("*", |a| a.service.name.as_str()),
        }
    }
}

/// The policies and filters in force under one configuration of the control plane.
#[derive(Debug, Clone)]
pub struct MeshConfig<'a> {
    pub policies: Vec<&'a MeshPolicy>,
    /// The filter chain, in order.
    pub filters: Vec<&'a MeshFilter>,
    /// The authorization policies in force.
    pub authorization: Vec<&'a Authorization>,
}

impl<'a> MeshConfig<'a> {
    /// The policy written for exactly `service` and `endpoint` (`None`: the service-wide one).
    #[must_use]
    pub fn policy_exact(&self, service: &str, endpoint: Option<&str>) -> Option<&'a MeshPolicy> {
        self.policies.iter().copied().find(|p| p.is_for(service, endpoint))
    }

    /// The policy giving requests to `service.endpoint` the filter `pick` chooses: the
    /// endpoint's own policy when it sets that filter, else the service-wide policy's (as an
    /// Istio route's settings override its host's, filter by filter).
    #[must_use]
    pub fn policy_for<T>(
        &self,
        service: &str,
        endpoint: &str,
        pick: impl Fn(&'a MeshPolicy) -> Option<&'a T>,
    ) -> Option<(&'a MeshPolicy, &'a T)> {
        [Some(endpoint), None]
            .into_iter()
            .filter_map(|e| self.policy_exact(service, e))
            .find_map(|p| pick(p).map(|t| (p, t)))
    }

    /// The fault injected into requests to `service.endpoint`.
    #[must_use]
    pub fn fault(&self, service: &str, endpoint: &str) -> Option<&'a MeshFault> {
        self.policy_for(service, endpoint, |p| p.fault.as_ref()).map(|(_, f)| f)
    }

    /// The route timeout (ms) of requests to `service.endpoint` (the endpoint's policy's, else
    /// the service-wide one's).
    #[must_use]
    pub fn route_timeout(&self, service: &str, endpoint: &str) -> Option<f64> {
        self.policy_for(service, endpoint, |p| p.timeout_ms.as_ref()).map(|(_, t)| *t)
    }

    /// The retries for requests to `service.endpoint`.
    #[must_use]
    pub fn retries(&self, service: &str, endpoint: &str) -> Option<&'a Retries> {
        self.policy_for(service, endpoint, |p| p.retries.as_ref()).map(|(_, r)| r)
    }

    /// The service-wide policy of `service` (outlier detection, circuit breaking, the retry
    /// budget).
    #[must_use]
    pub fn service_policy(&self, service: &str) -> Option<&'a MeshPolicy> {
        self.policy_exact(service, None)
    }

    /// Istio's authorization decision for a request to `service.endpoint` from `source` under
    /// this configuration's policies.
    #[must_use]
    pub fn authorize(
        &self,
        service: &str,
        endpoint: &str,
        source: Option<&str>,
    ) -> AuthzDecision<'a> {
        super::authz::decide_among(&self.authorization, service, endpoint, source)
    }

    /// This configuration with `push` applied: its policies replace (or remove) theirs, the
    /// removed filters go, its filters take their namesakes' places or join the chain's end;
    /// the removed authorization policies go, its named ones replace their namesakes in place
    /// and the rest join the set.
    fn apply(&mut self, push: &'a Push) {
        for p in &push.policies {
            let key = (p.service.name.as_str(), p.endpoint.as_ref().map(|e| e.name.as_str()));
            let at = self.policies.iter().position(|q| q.is_for(key.0, key.1));
            match (at, p.sets_nothing()) {
                (Some(i), true) => {
                    self.policies.remove(i);
                }
                (Some(i), false) => self.policies[i] = p,
                (None, false) => self.policies.push(p),
                (None, true) => {}
            }
        }
        self.filters.retain(|f| !push.remove_filters.iter().any(|r| r.name == f.name));
        for f in &push.filters {
            match self.filters.iter().position(|g| g.name == f.name) {
                Some(i) => self.filters[i] = f,
                None => self.filters.push(f),
            }
        }
        let named = |a: &Authorization, name: &str| a.name.as_ref().is_some_and(|n| n.name == name);
        self.authorization.retain(|a| !push.remove_authorization.iter().any(|r| named(a, &r.name)));
        for a in &push.authorization {
            let at = a
                .name
                .as_ref()
                .and_then(|n| self.authorization.iter().position(|b| named(b, &n.name)));
            match at {
                Some(i) => self.authorization[i] = a,
                None => self.authorization.push(a),
            }
        }
    }
}

impl MeshPolicy {
    /// Whether it is the policy of exactly `service` and `endpoint`.
    fn is_for(&self, service: &str, endpoint: Option<&str>) -> bool {
        self.service.name == service && self.endpoint.as_ref().map(|e| e.name.as_str()) == endpoint
    }

    /// Whether it sets no filter (a pushed one removes its destination's policy).
    #[must_use]
    pub fn sets_nothing(&self) -> bool {
        self.retries.is_none()
            && self.retry_budget.is_none()
            && self.circuit_breaker.is_none()
            && self.outlier_detection.is_none()
            && self.rate_limit.is_none()
            && self.fault.is_none()
            && self.timeout_ms.is_none()
    }

    /// `service` or `service.endpoint`.
    #[must_use]
    pub fn target(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("{}.{}", self.service.name, e.name),
            None => self.service.name.clone(),
        }
    }
}

impl super::Mesh {
    /// The pushes' indexes in the order they apply: by `at_s`, file order at equal times.
    #[must_use]
    pub fn push_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.pushes.len()).collect();
        order.sort_by(|&a, &b| self.pushes[a].at_s.total_cmp(&self.pushes[b].at_s));
        order
    }

    /// Configuration `k`: the declared policies and filters with the first `k` pushes (in
    /// [`Self::push_order`]) applied; 0 is the scenario's own.
    #[must_use]
    pub fn configuration(&self, k: usize) -> MeshConfig<'_> {
        let mut c = MeshConfig {
            policies: self.policies.iter().collect(),
            filters: self.filters.iter().collect(),
            authorization: self.authorization.iter().collect(),
        };
        if k > 0 {
            for i in self.push_order().into_iter().take(k) {
                c.apply(&self.pushes[i]);
            }
        }
        c
    }

    /// Every filter that runs under some configuration: the declared ones, then each push's,
    /// in file order.
    pub fn every_filter(&self) -> impl Iterator<Item = &MeshFilter> {
        self.filters.iter().chain(self.pushes.iter().flat_map(|p| p.filters.iter()))
    }

    /// Every authorization policy of some configuration: the declared ones, then each push's,
    /// in file order.
    pub fn every_authorization(&self) -> impl Iterator<Item = &Authorization> {
        self.authorization.iter().chain(self.pushes.iter().flat_map(|p| p.authorization.iter()))
    }

    /// Every policy of some configuration: the declared ones, then each push's, in file order.
    pub fn every_policy(&self) -> impl Iterator<Item = &MeshPolicy> {
        self.policies.iter().chain(self.pushes.iter().flat_map(|p| p.policies.iter()))
    }
}

impl ControlPlane {
    pub(super) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<ControlPlane> {
        let propagation = match o.opt_table(cx, "propagation") {
            Some(t) => Distribution::read(cx, t)?,
            None => Distribution::Constant { ms: 0.0 },
        };
        let span = o.span;
        o.finish(cx);
        Some(ControlPlane { propagation, span })
    }
}

impl Push {
    /// Push `index` (file order).
    pub(super) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>, index: usize) -> Option<Push> {
        let at_s = o.req_f64(cx, "at_s", 0.0, 1e9, "when the control plane pushes, seconds");
        let has_route = o.has("service") || o.has("weights") || o.has("match");
        let route = if has_route { Route::read(cx, &mut o) } else { None };
        let policies: Vec<MeshPolicy> = o
            .table_list(cx, "policy")
            .into_iter()
            .filter_map(|t| MeshPolicy::read(cx, t, true))
            .collect();
        let filters: Vec<MeshFilter> = o
            .table_list(cx, "filter")
            .into_iter()
            .filter_map(|t| MeshFilter::read(cx, t))
            .map(|f| MeshFilter { pushed: Some(index), ..f })
            .collect();
        let remove_filters: Vec<NameRef> =
            o.str_list(cx, "remove_filters").into_iter().map(NameRef::from).collect();
        let authorization: Vec<Authorization> = o
            .table_list(cx, "authorization")
            .into_iter()
            .map(|t| Authorization::read(cx, t))
            .collect();
        let remove_authorization: Vec<NameRef> =
            o.str_list(cx, "remove_authorization").into_iter().map(NameRef::from).collect();
        let span = o.span;
        let empty = !has_route
            && !["policy", "filter", "remove_filters", "authorization", "remove_authorization"]
                .into_iter()
                .any(|k| o.has(k));
        if empty {
            let msg = "a push that changes nothing: give it a route (`service` and `weights`), `[[mesh.push.policy]]`, `[[mesh.push.filter]]`, `remove_filters`, `[[mesh.push.authorization]]` or `remove_authorization`";
            cx.error("parse.missing-field", span, &o.field("service"), msg);
        }
        o.finish(cx);
        if has_route && route.is_none() {
            return None;
        }
        Some(Push {
            at_s: at_s?,
            route,
            policies,
            filters,
            remove_filters,
            authorization,
            remove_authorization,
            span,
        })
    }
}

/// Each push: its route resolves as a `[[mesh.route]]` does, its policies as
/// `[[mesh.policy]]` do (one per destination within the push), its filters as
/// `[[mesh.filter]]` do (one per name within the push), and each filter it removes is in the
/// chain when it applies.
pub(crate) fn resolve(cx: &mut Cx<'_>, s: &Scenario, services: &[&str]) {
    let Some(mesh) = &s.mesh else { return };
    let order = mesh.push_order();
    for (i, p) in mesh.pushes.iter().enumerate() {
        let field = format!("mesh.push[{i}]");
        if let Some(r) = &p.route {
            super::route::resolve_route(cx, mesh, r, &field, services);
        }
        let mut seen = BTreeMap::new();
        for (j, pol) in p.policies.iter().enumerate() {
            let f = format!("{field}.policy[{j}]");
            super::super::resolve::resolve_policy(cx, s, mesh, pol, &f, services, &mut seen);
        }
        let filters: Vec<MeshFilter> = p.filters.clone();
        let at = format!("{field}.filter");
        super::filter::resolve_at(cx, &filters, services, &at);
        let position = order.iter().position(|&k| k == i).unwrap_or(0);
        let before = mesh.configuration(position);
        for (j, a) in p.authorization.iter().enumerate() {
            let f = format!("{field}.authorization[{j}]");
            super::super::resolve::resolve_authz_policy(cx, s, a, &f, services);
        }
        let authz_field = format!("{field}.authorization");
        super::super::resolve::unique_authz_names(cx, &p.authorization, &authz_field);
        resolve_authz_removals(cx, p, i, &before, &field);
        let names: Vec<&str> = before.filters.iter().map(|f| f.name.as_str()).collect();
        for r in &p.remove_filters {
            let what = format!("{field}.remove_filters");
            if p.filters.iter().any(|f| f.name == r.name) {
                let msg = format!(
                    "push {i} both removes and pushes filter `{}`: a pushed filter of the same name already replaces it",
                    r.name
                );
                cx.error("parse.value", r.span, &what, msg);
            } else if !names.contains(&r.name.as_str()) {
                let hint = did_you_mean(&r.name, names.iter().copied())
                    .map(|n| format!("did you mean `{n}`?"))
                    .or_else(|| {
                        Some(if names.is_empty() {
                            "no filter is in the chain then".to_owned()
                        } else {
                            format!("in the chain then: {}", names.join(", "))
                        })
                    });
                cx.error_hint(
                    "parse.unknown-reference",
                    r.span,
                    &what,
                    format!("filter `{}` is not in the chain when push {i} applies", r.name),
                    hint,
                );
            }
        }
    }
}

/// Each name push `i` removes names a policy in force when it applies (`before`), and the push
/// does not also push a policy of that name (which already replaces it).
fn resolve_authz_removals(
    cx: &mut Cx<'_>,
    p: &Push,
    i: usize,
    before: &MeshConfig<'_>,
    field: &str,
) {
    let names: Vec<&str> = before
        .authorization
        .iter()
        .filter_map(|a| a.name.as_ref())
        .map(|n| n.name.as_str())
        .collect();
    let what = format!("{field}.remove_authorization");
    for r in &p.remove_authorization {
        if p.authorization.iter().any(|a| a.name.as_ref().is_some_and(|n| n.name == r.name)) {
            let msg = format!(
                "push {i} both removes and pushes authorization policy `{}`: a pushed policy of the same name already replaces it",
                r.name
            );
            cx.error("parse.value", r.span, &what, msg);
        } else if !names.contains(&r.name.as_str()) {
            let hint = did_you_mean(&r.name, names.iter().copied())
                .map(|n| format!("did you mean `{n}`?"))
                .unwrap_or_else(|| {
                    if names.is_empty() {
                        "no named authorization policy is in force then (give policies a `name` to remove them)".to_owned()
                    } else {
                        format!("named policies in force then: {}", names.join(", "))
                    }
                });
            cx.error_hint(
                "parse.unknown-reference",
                r.span,
                &what,
                format!(
                    "no authorization policy named `{}` is in force when push {i} applies",
                    r.name
                ),
                Some(hint),
            );
        }
    }
}

#[cfg(test)]
#[path = "push_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "push_authz_tests.rs"]
mod authz_tests;
