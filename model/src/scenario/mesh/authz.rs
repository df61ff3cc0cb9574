//! `[[mesh.authorization]]`: which source may call which endpoint of a meshed service — Istio's
//! `AuthorizationPolicy` over mTLS identities, enforced by the callee's inbound sidecar (Envoy's
//! RBAC filter, which answers a refused request with 403).
//!
//! Semantics are Istio's: a request is denied if a DENY policy of its destination matches it;
//! else, if the destination has any ALLOW policy, it is allowed only when one matches; a
//! destination with no ALLOW policy allows it. A policy matches when the request's endpoint is
//! in `endpoints` (absent: every endpoint) and its source identity is in `from` (absent: any
//! source, an unauthenticated one included).
//!
//! Identities are mTLS ones: a meshed service presents its name, the gateway presents
//! `gateway`; a caller without a sidecar presents none (plaintext, Istio's PERMISSIVE mode), so
//! it matches only policies without `from`.

use serde::Serialize;

use super::super::NameRef;
use super::super::reader::{Cx, Obj};
use crate::diagnostic::Span;

/// The identity the gateway presents.
pub const GATEWAY_IDENTITY: &str = "gateway";

/// Istio's `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthzAction {
    Allow,
    Deny,
}

/// `[[mesh.authorization]]`: one Istio `AuthorizationPolicy` with one rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Authorization {
    /// Its name, as the Kubernetes object's: a pushed policy of the same name replaces it, and
    /// a push's `remove_authorization` takes it away by name. Left out of the serialisation
    /// when absent (the scenario hash of an unnamed policy is unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<NameRef>,
    /// The destination service whose inbound sidecar enforces it.
    pub service: NameRef,
    pub action: AuthzAction,
    /// Source identities (service names, or `gateway`); `None`: any source.
    pub from: Option<Vec<NameRef>>,
    /// The endpoints it covers; `None`: every endpoint.
    pub endpoints: Option<Vec<NameRef>>,
    #[serde(skip)]
    pub span: Span,
}

impl Authorization {
    /// Its name, else `service` (what a push's trace line calls it).
    #[must_use]
    pub fn label(&self) -> &str {
        self.name.as_ref().map_or(self.service.name.as_str(), |n| n.name.as_str())
    }

    /// Whether this policy's rule matches a request to `endpoint` from `source` (`None`: a
    /// source without an mTLS identity).
    #[must_use]
    pub fn matches(&self, endpoint: &str, source: Option<&str>) -> bool {
        let endpoint_in =
            self.endpoints.as_ref().is_none_or(|es| es.iter().any(|e| e.name == endpoint));
        let source_in = match &self.from {
            None => true,
            Some(from) => source.is_some_and(|s| from.iter().any(|f| f.name == s)),
        };
        endpoint_in && source_in
    }

    /// Always a policy, so that later diagnostics count policies as the file does; a missing
    /// `service` or a bad `action` is reported here (and the scenario does not run).
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Authorization {
        let name = o.opt_str(cx, "name").map(NameRef::from);
        let service = o.req_str(cx, "service", "the destination service the policy protects");
        let action = match o.opt_str(cx, "action") {
            None => AuthzAction::Allow,
            Some((a, _)) if a == "allow" => AuthzAction::Allow,
            Some((a, _)) if a == "deny" => AuthzAction::Deny,
            Some((a, span)) => {
                cx.error(
                    "parse.value",
                    span,
                    &o.field("action"),
                    format!("`action` is \"{a}\", not one of: allow, deny"),
                );
                AuthzAction::Allow
            }
        };
        let list = |cx: &mut Cx<'_>, o: &mut Obj<'_, '_>, key: &'static str| {
            if !o.has(key) {
                return None;
            }
            let items: Vec<NameRef> = o.str_list(cx, key).into_iter().map(NameRef::from).collect();
            if items.is_empty() {
                cx.error(
                    "parse.value",
                    o.span,
                    &o.field(key),
                    format!("`{key}` is empty: leave it out to mean every one"),
                );
            }
            Some(items)
        };
        let from = list(cx, &mut o, "from");
        let endpoints = list(cx, &mut o, "endpoints");
        let span = o.span;
        o.finish(cx);
        let service = service
            .map_or_else(|| NameRef { name: String::new(), span: Span::default() }, NameRef::from);
        Authorization { name, service, action, from, endpoints, span }
    }
}

/// Istio's decision for a request to `service.endpoint` from `source`, under `policies`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AuthzDecision<'a> {
    Allowed,
    /// A DENY policy matched.
    DeniedBy(&'a Authorization),
    /// The destination has ALLOW policies and none matched.
    NotAllowed,
}

impl AuthzDecision<'_> {
    #[must_use]
    pub fn is_allowed(self) -> bool {
        matches!(self, AuthzDecision::Allowed)
    }
}

/// Istio's evaluation: DENY policies first, then ALLOW policies if the destination has any.
#[must_use]
pub fn decide<'a>(
    policies: &'a [Authorization],
    service: &str,
    endpoint: &str,
    source: Option<&str>,
) -> AuthzDecision<'a> {
    let refs: Vec<&Authorization> = policies.iter().collect();
    decide_among(&refs, service, endpoint, source)
}

/// [`decide`] over the policies of one configuration (`MeshConfig::authorization`).
#[must_use]
pub fn decide_among<'a>(
    policies: &[&'a Authorization],
    service: &str,
    endpoint: &str,
    source: Option<&str>,
) -> AuthzDecision<'a> {
    let mine = || policies.iter().copied().filter(move |p| p.service.name == service);
    if let Some(p) = mine().find(|p| p.action == AuthzAction::Deny && p.matches(endpoint, source)) {
        return AuthzDecision::DeniedBy(p);
    }
    let mut allows = mine().filter(|p| p.action == AuthzAction::Allow).peekable();
    if allows.peek().is_none() || allows.any(|p| p.matches(endpoint, source)) {
        AuthzDecision::Allowed
    } else {
        AuthzDecision::NotAllowed
    }
}

#[cfg(test)]
mod tests;
