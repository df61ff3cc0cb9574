//! Authorization designs (`[[mesh.authorization]]`, Istio's `AuthorizationPolicy`): a policy
//! that denies a call the design declares — a `[[service.call]]`, or the gateway's route to a
//! public endpoint — makes that call fail every time (Envoy's RBAC answers 403); a policy of a
//! service without a sidecar is enforced by nobody.
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
use crate::scenario::{Authorization, AuthzDecision, GATEWAY_IDENTITY, MeshConfig};

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
        reason(d).filter(|_| was_allowed)
    };
    for callee in s.services.iter().filter(|x| mesh.contains(&x.name)) {
        for e in callee.endpoints.iter().filter(|e| e.public) {
            let identity = mesh.identity(GATEWAY_IDENTITY, &callee.name);
            if let Some(why) = newly(&callee.name, &e.name, identity) {
                let msg = format!(
                    "{prefix}the authorization policy denies the gateway's route to `{}.{}` (a public endpoint): {why}",
                    callee.name, e.name
                );
                let at = push.map_or(e.span, |(_, span)| span);
                f.error(DENIED_ID, at, msg).hint = Some(hint(GATEWAY_IDENTITY));
            }
        }
    }
    for caller in &s.services {
        let meshed = mesh.contains(&caller.name);
        for call in &caller.calls {
            if !mesh.contains(&call.service.name) {
                continue;
            }
            let identity = mesh.identity(&caller.name, &call.service.name);
            let Some(why) = newly(&call.service.name, &call.endpoint.name, identity) else {
                continue;
            };
            let plaintext = if !meshed {
                format!(" (`{}` runs no sidecar, so it presents no mTLS identity)", caller.name)
            } else if identity.is_none() {
                format!(
                    " (`{}`'s mTLS mode is disable, so no caller presents an identity)",
                    call.service.name
                )
            } else {
                String::new()
            };
            let msg = format!(
                "{prefix}the authorization policy denies `{}`'s declared call to `{}.{}`{plaintext}: {why}",
                caller.name, call.service.name, call.endpoint.name
            );
            let at = push.map_or(call.span, |(_, span)| span);
            f.error(DENIED_ID, at, msg).hint = Some(hint(&caller.name));
        }
    }
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

fn hint(source: &str) -> String {
    format!("add `{source}` to an ALLOW policy's `from` (or remove the call)")
}

#[cfg(test)]
mod tests;
