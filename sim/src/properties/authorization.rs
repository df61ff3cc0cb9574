//! Authorization never bypassed: no endpoint of a service with a `[[mesh.authorization]]`
//! policy is invoked on behalf of a source the policy denies (Istio's evaluation,
//! `fusebench_model::scenario::mesh::authz`), judged on the trace.
//!
//! The source of an invocation is who sent its request: the gateway for a client request or
//! a gateway try (`arrival`, `gateway_try`), the calling invocation's service for a call
//! (`call_start` → `invocation_start`). It is judged by its name — the identity the design
//! means it to have — so a request that reached the endpoint without the callee's sidecar
//! checking it (a callee outside the mesh), or with no identity slipping past a DENY that
//! names its service (a caller outside the mesh), is a violation. Message deliveries are not
//! judged (they carry no caller identity). Not exercised when the scenario has no policy, or
//! no request to a protected service was invoked or refused.

use std::collections::BTreeMap;

use fusebench_model::Scenario;
use fusebench_model::scenario::{AuthzDecision, GATEWAY_IDENTITY};

use super::{Verdict, each_event, unreadable};
use crate::system::RunResult;
use crate::time::SimTime;
use crate::trace::TraceEvent;

pub(super) const ID: &str = "authorization-never-bypassed";

/// Findings listed at most (the count says how many there were).
const SHOWN: usize = 10;

pub(super) fn check(s: &Scenario, run: &RunResult) -> Verdict {
    let Some(mesh) = s.mesh.as_ref().filter(|m| !m.authorization.is_empty()) else {
        return Verdict::not_exercised(ID, "the scenario has no mesh authorization policy");
    };
    let policies = &mesh.authorization;
    let protected = |service: &str| policies.iter().any(|p| p.service.name == service);
    // Gateway tries' requests; invocation → its service; call → its caller's service.
    let mut tries: BTreeMap<u64, ()> = BTreeMap::new();
    let mut service_of: BTreeMap<u64, String> = BTreeMap::new();
    let mut caller_of: BTreeMap<u64, String> = BTreeMap::new();
    let (mut judged, mut refused) = (0u64, 0u64);
    let mut violations: Vec<(SimTime, String, u64)> = Vec::new();
    let read = each_event(run, |line| match &line.event {
        TraceEvent::GatewayTry { try_req, .. } => {
            tries.insert(*try_req, ());
        }
        TraceEvent::CallStart { call, inv, .. } => {
            if let Some(svc) = service_of.get(inv) {
                caller_of.insert(*call, svc.clone());
            }
        }
        TraceEvent::MeshRefused { target, filter, .. }
            if filter == "rbac" && target.split('.').next().is_some_and(protected) =>
        {
            refused += 1;
        }
        TraceEvent::InvocationStart { inv, req, service, endpoint, cause, source, .. } => {
            service_of.insert(*inv, service.clone());
            if !protected(service) {
                return;
            }
            let from = match cause.as_str() {
                "client" => Some(GATEWAY_IDENTITY.to_owned()),
                "call" if tries.contains_key(req) => Some(GATEWAY_IDENTITY.to_owned()),
                "call" => caller_of.get(source).cloned(),
                _ => None,
            };
            let Some(from) = from else { return };
            judged += 1;
            let why = match mesh.authorize(service, endpoint, Some(&from)) {
                AuthzDecision::Allowed => return,
                AuthzDecision::DeniedBy(_) => "a DENY policy matches it",
                AuthzDecision::NotAllowed => "no ALLOW policy of it matches",
            };
            violations.push((
                line.t,
                format!(
                    "`{from}` invoked `{service}.{endpoint}` (inv {inv}, at {:.1} ms), which its authorization policy denies: {why}",
                    line.t.nanos() as f64 / 1e6
                ),
                *inv,
            ));
        }
        _ => {}
    });
    if let Err(e) = read {
        return Verdict::new(ID, vec![unreadable(&e)], Vec::new());
    }
    if judged == 0 && refused == 0 {
        return Verdict::not_exercised(
            ID,
            "no request to a service with an authorization policy was invoked or refused",
        );
    }
    let notes = vec![format!(
        "{judged} invocation(s) of protected services judged; {refused} request(s) refused by their policy (rbac)"
    )];
    let mut findings: Vec<String> =
        violations.iter().take(SHOWN).map(|(_, f, _)| f.clone()).collect();
    if violations.len() > SHOWN {
        findings.push(format!("… {} violations in all", violations.len()));
    }
    let subjects: Vec<String> =
        violations.iter().take(SHOWN).map(|(_, _, inv)| format!("inv:{inv}")).collect();
    let mut v = Verdict::new(ID, findings, notes).about(subjects);
    if let Some((t, _, _)) = violations.first() {
        v = v.at_time(*t);
    }
    v
}

#[cfg(test)]
mod tests;
