//! mTLS modes (Istio's `PeerAuthentication`): `[mesh] mtls` for every meshed service and
//! `[[mesh.peer_authentication]]` (`service`, `mode`) for one. What the callee's inbound
//! sidecar accepts:
//!
//! - `strict` — mTLS only: a caller without a sidecar (plaintext) is refused at the
//!   connection, before any authorization policy (Envoy's TLS handshake fails);
//! - `permissive` (the default: what the mesh always did) — mTLS or plaintext; a plaintext
//!   caller has no verified identity, so a rule naming sources (`from`) never matches it
//!   (Istio: `source.principals` are empty for plaintext);
//! - `disable` — plaintext only: every caller, meshed or not, the gateway too, arrives
//!   without an identity.
//!
//! The gateway is in the mesh (Istio's ingress gateway presents its own mTLS identity).

use serde::Serialize;

use super::super::NameRef;
use super::super::reader::{Cx, Obj};
use super::GATEWAY_IDENTITY;
use crate::diagnostic::Span;

/// Istio's `PeerAuthentication` `mtls.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MtlsMode {
    Strict,
    #[default]
    Permissive,
    Disable,
}

impl MtlsMode {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            MtlsMode::Strict => "strict",
            MtlsMode::Permissive => "permissive",
            MtlsMode::Disable => "disable",
        }
    }

    /// Whether it is the default (left out of the serialisation, so the scenario hash of a
    /// mesh that does not set it is unchanged).
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
    #[must_use]
    pub fn is_permissive(&self) -> bool {
        *self == MtlsMode::Permissive
    }

    /// Reads `key` of `o` (`None`: absent, or bad — reported).
    pub(crate) fn read(
        cx: &mut Cx<'_>,
        o: &mut Obj<'_, '_>,
        key: &'static str,
    ) -> Option<MtlsMode> {
        o.opt_enum(
            cx,
            key,
            &[
                ("strict", MtlsMode::Strict),
                ("permissive", MtlsMode::Permissive),
                ("disable", MtlsMode::Disable),
            ],
        )
    }
}

/// `[[mesh.peer_authentication]]`: one service's own mode (a workload-selector
/// PeerAuthentication, which overrides the mesh-wide one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerAuthentication {
    pub service: NameRef,
    pub mode: MtlsMode,
    #[serde(skip)]
    pub span: Span,
}

impl PeerAuthentication {
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<PeerAuthentication> {
        let service = o.req_str(cx, "service", "the service whose sidecar takes this mode");
        let has_mode = o.has("mode");
        let mode = MtlsMode::read(cx, &mut o, "mode");
        if !has_mode {
            let msg = "missing required field `mode` (strict, permissive or disable)";
            cx.error("parse.missing-field", o.span, &o.field("mode"), msg);
        }
        let span = o.span;
        o.finish(cx);
        Some(PeerAuthentication { service: NameRef::from(service?), mode: mode?, span })
    }
}

impl super::Mesh {
    /// The mTLS mode of `service`'s inbound sidecar: its own `[[mesh.peer_authentication]]`,
    /// else the mesh's.
    #[must_use]
    pub fn mtls_of(&self, service: &str) -> MtlsMode {
        self.peer_authentication
            .iter()
            .find(|p| p.service.name == service)
            .map_or(self.mtls, |p| p.mode)
    }

    /// The identity `caller` (a service's name, or [`GATEWAY_IDENTITY`]) presents to
    /// `callee`'s sidecar: its own over mTLS; none from a caller without a sidecar, nor to a
    /// callee whose mode is `disable` (plaintext carries no verified identity).
    #[must_use]
    pub fn identity<'a>(&self, caller: &'a str, callee: &str) -> Option<&'a str> {
        let meshed = caller == GATEWAY_IDENTITY || self.contains(caller);
        (meshed && self.mtls_of(callee) != MtlsMode::Disable).then_some(caller)
    }

    /// Whether `callee`'s sidecar refuses `caller`'s connection: a `strict` callee in the
    /// mesh and a caller without a sidecar.
    #[must_use]
    pub fn refuses_plaintext(&self, caller: &str, callee: &str) -> bool {
        caller != GATEWAY_IDENTITY
            && !self.contains(caller)
            && self.contains(callee)
            && self.mtls_of(callee) == MtlsMode::Strict
    }
}

/// Each `[[mesh.peer_authentication]]` names a meshed service, at most once.
pub(crate) fn resolve(cx: &mut Cx<'_>, mesh: &super::Mesh, services: &[&str]) {
    for (i, p) in mesh.peer_authentication.iter().enumerate() {
        let field = format!("mesh.peer_authentication[{i}].service");
        if !super::super::resolve::expect_name(cx, &p.service, "service", &field, services) {
            continue;
        }
        if !mesh.contains(&p.service.name) {
            let msg = format!(
                "`{}` runs no sidecar: its mTLS mode is nobody's to enforce",
                p.service.name
            );
            cx.error_hint(
                "parse.value",
                p.service.span,
                &field,
                msg,
                Some(format!("add `{}` to `mesh.services`", p.service.name)),
            );
        }
        if mesh.peer_authentication[..i].iter().any(|q| q.service.name == p.service.name) {
            let msg = format!("a second mTLS mode for `{}`", p.service.name);
            cx.error("parse.duplicate", p.service.span, &field, msg);
        }
    }
}

#[cfg(test)]
#[path = "mtls_tests.rs"]
mod tests;
