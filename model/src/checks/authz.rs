//! Authorization designs (`[[mesh.authorization]]`, Istio's `AuthorizationPolicy`): a policy
//! that denies a call the design declares — a `[[service.call]]`, or the gateway's route to a
//! public endpoint — makes that call fail every time (Envoy's RBAC answers 403); a policy of a
//! service without a sidecar is enforced by nobody.
//!
//! Each call is judged with the identity its caller presents: a meshed service its name, the
//! gateway `gateway`, a caller without a sidecar none (plaintext). Subscriptions are not
//! judged: a broker's deliveries carry no caller identity here.

use super::Findings;
use crate::scenario::{AuthzDecision, GATEWAY_IDENTITY};

pub(super) const DENIED_ID: &str = "mesh-authz-denies-call";
pub(super) const UNENFORCED_ID: &str = "mesh-authz-unenforced";

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    let Some(mesh) = &s.mesh else { return };
    if mesh.authorization.is_empty() {
        return;
    }
    for p in &mesh.authorization {
        if !mesh.contains(&p.service.name) {
            let msg = format!(
                "the authorization policy for `{}` is never enforced: `{}` runs no sidecar, and the callee's inbound sidecar is what enforces it",
                p.service.name, p.service.name
            );
            let hint = format!("add `{}` to `mesh.services`", p.service.name);
            f.error(UNENFORCED_ID, p.span, msg).hint = Some(hint);
        }
    }
    for callee in s.services.iter().filter(|x| mesh.contains(&x.name)) {
        for e in callee.endpoints.iter().filter(|e| e.public) {
            let d = mesh.authorize(&callee.name, &e.name, Some(GATEWAY_IDENTITY));
            if let Some(why) = reason(d) {
                let msg = format!(
                    "the authorization policy denies the gateway's route to `{}.{}` (a public endpoint): {why}",
                    callee.name, e.name
                );
                f.error(DENIED_ID, e.span, msg).hint = Some(hint(GATEWAY_IDENTITY));
            }
        }
    }
    for caller in &s.services {
        let meshed = mesh.contains(&caller.name);
        let identity = meshed.then_some(caller.name.as_str());
        for call in &caller.calls {
            if !mesh.contains(&call.service.name) {
                continue;
            }
            let d = mesh.authorize(&call.service.name, &call.endpoint.name, identity);
            let Some(why) = reason(d) else { continue };
            let plaintext = if meshed {
                String::new()
            } else {
                format!(" (`{}` runs no sidecar, so it presents no mTLS identity)", caller.name)
            };
            let msg = format!(
                "the authorization policy denies `{}`'s declared call to `{}.{}`{plaintext}: {why}",
                caller.name, call.service.name, call.endpoint.name
            );
            f.error(DENIED_ID, call.span, msg).hint = Some(hint(&caller.name));
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
