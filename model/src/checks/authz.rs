//! Authorization designs (`[[mesh.authorization]]`, Istio's `AuthorizationPolicy`): a policy
//! that denies a call the design declares — a `[[service.call]]`, or the gateway's route to a
//! public endpoint — makes that call fail every time (Envoy's RBAC answers 403); a policy of a
//! service without a sidecar is enforced by nobody; a DENY naming a caller that presents no
//! identity never matches it, so that caller's declared calls go through (a warning under
//! `mesh-authz-unenforced`: Istio's DENY on source principals does not match plaintext).
//!
//! Every configuration `[[mesh.push]]`es make is judged too: a call a push newly denies is a
//! finding naming the push (at its line) — a deliberate lock-out shows here as what it does.
//!
//! Each call is judged with the identity its caller presents: a meshed service its name, the
//! gateway `gateway`, a caller without a sidecar none (plaintext) — and nobody one to a callee
//! whose mTLS mode is `disable` (`Mesh::identity`). Subscriptions are not
//! judged: a broker's deliveries carry no caller identity here.

use super::Findings;
use crate::diagnostic::Span;
use crate::scenario::{Authorization, AuthzDecision, GATEWAY_IDENTITY, Mesh, MeshConfig, Scenario};

pub(super) const DENIED_ID: &str = "mesh-authz-denies-call";
pub(super) const UNENFORCED_ID: &str = "mesh-authz-unenforced";

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    let Some(mesh) = &s.mesh else { return };
    if mesh.every_authorization().next().is_none() {
        return;
    }
    for p in &mesh.authorization {
        unenforced(f, p, "");
    }
    denials(f, &mesh.declared(), None, None);
    bypasses(f, &mesh.declared(), None, None);
    // Each push's configuration is judged too (istiod replaces AuthorizationPolicies by name):
    // a call it newly denies is named with the push.
    for (k, &i) in mesh.push_order().iter().enumerate() {
        let push = &mesh.pushes[i];
        let prefix = format!("after mesh.push[{i}] (at {} s): ", push.at_s);
        for p in &push.authorization {
            unenforced(f, p, &prefix);
        }
        let (before, after) = (mesh.configuration(k), mesh.configuration(k + 1));
        denials(f, &after, Some(&before), Some((&prefix, push.span)));
        bypasses(f, &after, Some(&before), Some((&prefix, push.span)));
    }
}

/// A policy of a service without a sidecar: nobody enforces it.
fn unenforced(f: &mut Findings<'_>, p: &Authorization, prefix: &str) {
    let Some(mesh) = &f.s.mesh else { return };
    if mesh.contains(&p.service.name) {
        return;
    }
    let msg = format!(
        "{prefix}the authorization policy for `{}` is never enforced: `{}` runs no sidecar, and the callee's inbound sidecar is what enforces it",
        p.service.name, p.service.name
    );
    let hint = format!("add `{}` to `mesh.services`", p.service.name);
    f.error(UNENFORCED_ID, p.span, msg).hint = Some(hint);
}

/// The declared calls and gateway routes `config` denies — with `before` (a push's previous
/// configuration), only those it allowed, named with `push` (its prefix and span).
fn denials(
    f: &mut Findings<'_>,
    config: &MeshConfig<'_>,
    before: Option<&MeshConfig<'_>>,
    push: Option<(&str, Span)>,
) {
    let s = f.s;
    let Some(mesh) = &s.mesh else { return };
    let prefix = push.map_or("", |(p, _)| p);
    let newly = |service: &str, endpoint: &str, source: Option<&str>| {
        let d = config.authorize(service, endpoint, source);
        let was_allowed =
            before.is_none_or(|b| b.authorize(service, endpoint, source).is_allowed());
        Some(d).filter(|d| !d.is_allowed() && was_allowed)
    };
    for (caller, declared) in declared_callers(s, mesh) {
        let identity = mesh.identity(caller.name, caller.callee);
        let Some(d) = newly(caller.callee, caller.endpoint, identity) else { continue };
        let msg = format!(
            "{prefix}the authorization policy denies {}{}: {}",
            caller.what(),
            caller.no_identity(mesh).map_or(String::new(), |n| n.why(&caller)),
            caller.why_denied(config, d, identity)
        );
        let at = push.map_or(declared, |(_, span)| span);
        f.error(DENIED_ID, at, msg).hint = Some(caller.hint(mesh, config, d, identity));
    }
}

/// Every declared caller of a meshed service's endpoint, with where it is declared: the
/// gateway's route to each public endpoint, then each `[[service.call]]`.
fn declared_callers<'a>(s: &'a Scenario, mesh: &Mesh) -> Vec<(Caller<'a>, Span)> {
    let mut callers = Vec::new();
    for callee in s.services.iter().filter(|x| mesh.contains(&x.name)) {
        for e in callee.endpoints.iter().filter(|e| e.public) {
            let caller = Caller { name: GATEWAY_IDENTITY, callee: &callee.name, endpoint: &e.name };
            callers.push((caller, e.span));
        }
    }
    for c in &s.services {
        for call in c.calls.iter().filter(|call| mesh.contains(&call.service.name)) {
            let caller =
                Caller { name: &c.name, callee: &call.service.name, endpoint: &call.endpoint.name };
            callers.push((caller, call.span));
        }
    }
    callers
}

/// The declared calls and gateway routes a DENY policy of `config` names the caller of but
/// cannot match: the caller presents no identity (it runs no sidecar, or the callee's mTLS
/// mode is `disable`) and a DENY's `from` matches only identities, so the call goes through —
/// as the simulator lets it, and `authorization-never-bypassed` fails on a run that makes it.
/// A warning, as `mesh-retry-amplification` is beside `retry-amplification`: the property
/// judges the calls a run makes. A `strict` callee refuses such a caller outright
/// (`mesh-mtls-plaintext-call`); a denied call is `mesh-authz-denies-call`'s. With `before`,
/// only what that configuration did not already let past.
fn bypasses(
    f: &mut Findings<'_>,
    config: &MeshConfig<'_>,
    before: Option<&MeshConfig<'_>>,
    push: Option<(&str, Span)>,
) {
    let s = f.s;
    let Some(mesh) = &s.mesh else { return };
    let prefix = push.map_or("", |(p, _)| p);
    // A caller a `strict` callee refuses for its plaintext is `mesh-mtls-plaintext-call`'s.
    let callers = declared_callers(s, mesh)
        .into_iter()
        .map(|(c, _)| c)
        .filter(|c| c.is_gateway() || !mesh.refuses_plaintext(c.name, c.callee));
    for c in callers {
        let Some(no_identity) = c.no_identity(mesh) else { continue };
        let Some(p) = c.bypassed(config) else { continue };
        if before.is_some_and(|b| c.bypassed(b).is_some()) {
            continue;
        }
        let what = c.what();
        let goes =
            if c.is_gateway() { "client requests go through" } else { "the call goes through" };
        let (msg, hint) = match no_identity {
            NoIdentity::NoSidecar => (
                format!(
                    "{prefix}the DENY policy{} for `{}` names `{}`, which runs no sidecar: {what} is plaintext without an mTLS identity, so the DENY never matches it and {goes}",
                    label(p),
                    c.callee,
                    c.name
                ),
                format!(
                    "add `{}` to `mesh.services`, so it presents its identity and the DENY matches it (mTLS mode `strict` on `{}` also refuses callers without one); or write the rule as an ALLOW policy for `{}` that leaves `{}` out (a DENY on sources never matches plaintext)",
                    c.name, c.callee, c.callee, c.name
                ),
            ),
            NoIdentity::Disabled => (
                format!(
                    "{prefix}the DENY policy{} for `{}` names `{}`, but `{}`'s mTLS mode is disable: {what} presents no identity, so the DENY never matches it and {goes}",
                    label(p),
                    c.callee,
                    c.name,
                    c.callee
                ),
                mode_hint(
                    mesh,
                    c.callee,
                    "its callers present their identities and the DENY matches them",
                ),
            ),
        };
        let at = push.map_or(p.span, |(_, span)| span);
        f.warning(UNENFORCED_ID, at, msg).hint = Some(hint);
    }
}

/// A declared caller of `callee.endpoint`: a service, or the gateway (its route to a public
/// endpoint).
struct Caller<'a> {
    name: &'a str,
    callee: &'a str,
    endpoint: &'a str,
}

/// Why a caller presents no mTLS identity to its callee's sidecar.
#[derive(Clone, Copy)]
enum NoIdentity {
    /// The caller runs no sidecar: plaintext.
    NoSidecar,
    /// The callee's mTLS mode is `disable`: nobody presents one.
    Disabled,
}

impl NoIdentity {
    /// The parenthesis a finding gives it.
    fn why(self, c: &Caller<'_>) -> String {
        match self {
            NoIdentity::NoSidecar => {
                format!(" (`{}` runs no sidecar, so it presents no mTLS identity)", c.name)
            }
            NoIdentity::Disabled => {
                format!(
                    " (`{}`'s mTLS mode is disable, so no caller presents an identity)",
                    c.callee
                )
            }
        }
    }
}

impl Caller<'_> {
    fn is_gateway(&self) -> bool {
        self.name == GATEWAY_IDENTITY
    }

    /// What a finding calls it: the gateway's route, or the service's declared call.
    fn what(&self) -> String {
        if self.is_gateway() {
            format!(
                "the gateway's route to `{}.{}` (a public endpoint)",
                self.callee, self.endpoint
            )
        } else {
            format!("`{}`'s declared call to `{}.{}`", self.name, self.callee, self.endpoint)
        }
    }

    /// Why it presents no identity to the callee (`None`: it presents its own).
    fn no_identity(&self, mesh: &Mesh) -> Option<NoIdentity> {
        if mesh.identity(self.name, self.callee).is_some() {
            None
        } else if self.is_gateway() || mesh.contains(self.name) {
            Some(NoIdentity::Disabled)
        } else {
            Some(NoIdentity::NoSidecar)
        }
    }

    /// The DENY policy of `config` that names it but lets it through: it is denied by its
    /// name (as `authorization-never-bypassed` judges it) and allowed without an identity (as
    /// the callee's sidecar sees it). Only a DENY can tell the two apart: an ALLOW that
    /// matches a request without an identity has no `from`, so it matches the name too.
    fn bypassed<'c>(&self, config: &MeshConfig<'c>) -> Option<&'c Authorization> {
        match config.authorize(self.callee, self.endpoint, Some(self.name)) {
            AuthzDecision::DeniedBy(p)
                if config.authorize(self.callee, self.endpoint, None).is_allowed() =>
            {
                Some(p)
            }
            _ => None,
        }
    }

    /// Whether `config` would let it through with its own identity (what the design means).
    fn allowed_by_name(&self, config: &MeshConfig<'_>) -> bool {
        config.authorize(self.callee, self.endpoint, Some(self.name)).is_allowed()
    }

    /// Why `d` denies it: the decision's reason, and — when only its missing identity keeps
    /// an ALLOW policy naming it from matching — that.
    fn why_denied(
        &self,
        config: &MeshConfig<'_>,
        d: AuthzDecision<'_>,
        identity: Option<&str>,
    ) -> String {
        let why = reason(d).unwrap_or_default();
        if identity.is_none() && self.allowed_by_name(config) {
            format!(
                "{why} — `{}` is in an ALLOW policy's `from`, but `from` matches only a presented identity",
                self.name
            )
        } else {
            why
        }
    }

    /// What would let the call through: the missing identity, the policy that stops it.
    fn hint(
        &self,
        mesh: &Mesh,
        config: &MeshConfig<'_>,
        d: AuthzDecision<'_>,
        identity: Option<&str>,
    ) -> String {
        let or_drop = if self.is_gateway() {
            format!("(or make `{}.{}` not public)", self.callee, self.endpoint)
        } else {
            "(or remove the call)".to_owned()
        };
        let give_identity = match self.no_identity(mesh) {
            Some(NoIdentity::NoSidecar) => Some(format!(
                "add `{}` to `mesh.services`, so it presents its mTLS identity",
                self.name
            )),
            Some(NoIdentity::Disabled) => {
                Some(mode_hint(mesh, self.callee, "its callers present their identities"))
            }
            None => None,
        };
        match (d, give_identity) {
            (AuthzDecision::DeniedBy(p), _) => format!(
                "narrow the DENY policy{} for `{}` (its `from` or `endpoints`) {or_drop}",
                label(p),
                p.service.name
            ),
            (_, Some(give)) if identity.is_none() && self.allowed_by_name(config) => {
                format!("{give} {or_drop}")
            }
            (_, Some(give)) => {
                format!("{give}, and add `{}` to an ALLOW policy's `from` {or_drop}", self.name)
            }
            (_, None) => format!("add `{}` to an ALLOW policy's `from` {or_drop}", self.name),
        }
    }
}

/// How to give `callee`'s sidecar a mode in which callers present their identities — `so`
/// what that brings.
fn mode_hint(mesh: &Mesh, callee: &str, so: &str) -> String {
    if mesh.peer_authentication.iter().any(|p| p.service.name == callee) {
        format!(
            "set `{callee}`'s `[[mesh.peer_authentication]]` mode to `permissive` or `strict`, so {so}"
        )
    } else {
        format!(
            "set `[mesh] mtls` to `permissive` or `strict` (or give `{callee}` such a mode with `[[mesh.peer_authentication]]`), so {so}"
        )
    }
}

/// ` `name`` for a named policy, else nothing.
fn label(p: &Authorization) -> String {
    p.name.as_ref().map_or(String::new(), |n| format!(" `{}`", n.name))
}

/// Why a decision denies, or `None` when it allows.
fn reason(d: AuthzDecision<'_>) -> Option<String> {
    match d {
        AuthzDecision::Allowed => None,
        AuthzDecision::DeniedBy(p) => {
            Some(format!("a DENY policy for `{}` matches it", p.service.name))
        }
        AuthzDecision::NotAllowed => {
            Some("the callee has ALLOW policies and none of them matches it".to_owned())
        }
    }
}

#[cfg(test)]
mod tests;
