//! Mesh authorization (`[[mesh.authorization]]`, Istio's `AuthorizationPolicy` with Envoy's
//! RBAC filter on the callee's inbound sidecar): a request from a source the policy denies is
//! refused with `denied` (Envoy's 403), traced `mesh_refused` with filter `rbac`, never
//! retried. Only a meshed callee enforces it; the source's identity is its mTLS one — the
//! gateway's, a meshed service's name, or none for a caller without a sidecar (see
//! `fusebench_model::scenario::mesh::authz` for the evaluation). Broker deliveries are not
//! subject to it.
//!
//! The decision is made when the request leaves its caller (after the caller's own filters),
//! under the policies the callee's sidecar holds at that moment — each sidecar switches to a
//! pushed `[[mesh.push.authorization]]` set when the push reaches it (`control.rs`), as each
//! Envoy applies its own xDS update; the round trip to the callee's sidecar that carries the
//! 403 back is not simulated.

use fusebench_model::Scenario;
use fusebench_model::scenario::{GATEWAY_IDENTITY, MeshConfig};

use super::super::balancer::Caller;
use super::super::ids::{EndpointId, ServiceId};
use super::super::world::ServiceSpec;

/// Every (configuration, destination endpoint, source) decision, resolved once; empty
/// without policies.
#[derive(Debug, Default)]
pub(crate) struct AuthzTable {
    /// `[configuration][service][endpoint][source]`, sources numbered by
    /// [`AuthzTable::source`].
    allowed: Vec<Vec<Vec<Vec<bool>>>>,
}

impl AuthzTable {
    /// The decisions under each of the `configurations` (`control.rs`); a callee whose mTLS
    /// mode is `disable` (`plaintext`) sees every source without an identity.
    pub(crate) fn new(
        s: &Scenario,
        services: &[ServiceSpec],
        meshed: &[bool],
        plaintext: &[bool],
        configurations: usize,
    ) -> AuthzTable {
        let Some(mesh) = s.mesh.as_ref().filter(|m| m.every_authorization().next().is_some())
        else {
            return AuthzTable::default();
        };
        let allowed = (0..configurations)
            .map(|k| Self::configuration(&mesh.configuration(k), services, meshed, plaintext))
            .collect();
        AuthzTable { allowed }
    }

    fn configuration(
        config: &MeshConfig<'_>,
        services: &[ServiceSpec],
        meshed: &[bool],
        plaintext: &[bool],
    ) -> Vec<Vec<Vec<bool>>> {
        // Source 0: no identity; 1: the gateway; 2 + i: service i.
        let mut sources: Vec<Option<&str>> = vec![None, Some(GATEWAY_IDENTITY)];
        sources.extend(services.iter().map(|x| Some(x.name.as_str())));
        services
            .iter()
            .zip(meshed)
            .zip(plaintext)
            .map(|((x, &enforced), &plain)| {
                x.endpoints
                    .iter()
                    .map(|e| {
                        sources
                            .iter()
                            .map(|&src| {
                                let src = src.filter(|_| !plain);
                                !enforced || config.authorize(&x.name, &e.name, src).is_allowed()
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    /// The source index of `caller`: its mTLS identity (none without a sidecar).
    fn source(caller: Caller, meshed: &[bool]) -> Option<usize> {
        match caller {
            Caller::Broker => None,
            Caller::Gateway => Some(1),
            Caller::Service(s) if meshed[s.index()] => Some(2 + s.index()),
            Caller::Service(_) => Some(0),
        }
    }

    /// Whether the callee's sidecar, holding configuration `config`, lets `caller`'s request
    /// to `service.endpoint` through.
    pub(crate) fn allows(
        &self,
        caller: Caller,
        service: ServiceId,
        endpoint: EndpointId,
        meshed: &[bool],
        config: u32,
    ) -> bool {
        let Some(source) = Self::source(caller, meshed) else { return true };
        self.allowed
            .get(config as usize)
            .and_then(|c| c.get(service.index()))
            .is_none_or(|eps| eps[endpoint.index()][source])
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod push_tests;

#[cfg(test)]
mod mtls_tests;
