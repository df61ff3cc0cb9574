//! mTLS designs (Istio's `PeerAuthentication`): a declared call from a caller without a
//! sidecar to a service whose sidecar is `strict` is plaintext the callee refuses — it fails
//! every time (Envoy's TLS handshake fails). Subscriptions are not judged: a broker's
//! deliveries do not go through the callee's sidecar here.

use super::Findings;

pub(super) const PLAINTEXT_ID: &str = "mesh-mtls-plaintext-call";

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    let Some(mesh) = &s.mesh else { return };
    for caller in &s.services {
        for call in &caller.calls {
            if !mesh.refuses_plaintext(&caller.name, &call.service.name) {
                continue;
            }
            let msg = format!(
                "`{}` runs no sidecar, so its declared call to `{}.{}` is plaintext, which `{}`'s sidecar refuses (mTLS mode strict)",
                caller.name, call.service.name, call.endpoint.name, call.service.name
            );
            let hint = format!(
                "add `{}` to `mesh.services`, or give `{}` mode `permissive` with `[[mesh.peer_authentication]]`",
                caller.name, call.service.name
            );
            f.error(PLAINTEXT_ID, call.span, msg).hint = Some(hint);
        }
    }
}

#[cfg(test)]
mod tests;
