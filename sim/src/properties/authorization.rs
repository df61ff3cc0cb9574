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
//!
//! With `[[mesh.push]]`es that change the policies, an invocation is judged by the
//! configurations the callee's sidecar held (its `mesh_route` `applied` lines; a callee
//! without a sidecar: what istiod had pushed, its `push` lines) from the moment its request
//! left its sender — the client request's `arrival`, the gateway's `gateway_try`, the call's
//! `call_start` or its `call_retry` — to the invocation's start: the sidecar judges the
//! request when it arrives there, somewhere in that span, so any of those configurations
//! allowing it clears it. A request sent after the callee applied a lock-out is judged by it
//! alone.

use std::collections::BTreeMap;

use fusebench_model::Scenario;
use fusebench_model::scenario::{AuthzDecision, GATEWAY_IDENTITY, MeshConfig};

use super::{Judged, Verdict, each_event, unreadable};
use crate::time::SimTime;
use crate::trace::TraceEvent;

pub(super) const ID: &str = "authorization-never-bypassed";

/// Findings listed at most (the count says how many there were).
const SHOWN: usize = 10;

pub(super) fn check(s: &Scenario, run: &Judged<'_>) -> Verdict {
    let Some(mesh) = s.mesh.as_ref().filter(|m| m.every_authorization().next().is_some()) else {
        return Verdict::not_exercised(ID, "the scenario has no mesh authorization policy");
    };
    let configs: Vec<MeshConfig<'_>> =
        (0..=mesh.pushes.len()).map(|k| mesh.configuration(k)).collect();
    let protected = |service: &str| mesh.every_authorization().any(|p| p.service.name == service);
    // When each sender let a request go: a gateway try's request, a client request's arrival,
    // a call's start and each retry.
    let mut tries: BTreeMap<u64, SimTime> = BTreeMap::new();
    let mut arrived: BTreeMap<u64, SimTime> = BTreeMap::new();
    let mut call_sent: BTreeMap<(u64, u32), SimTime> = BTreeMap::new();
    let mut service_of: BTreeMap<u64, String> = BTreeMap::new();
    let mut caller_of: BTreeMap<u64, String> = BTreeMap::new();
    // Each proxy's configurations from when it applied them (`istiod`: as pushed).
    let mut applied: BTreeMap<String, Vec<(SimTime, usize)>> = BTreeMap::new();
    let (mut judged, mut refused) = (0u64, 0u64);
    let mut violations: Vec<(SimTime, String, u64)> = Vec::new();
    let read = each_event(run, |line| match &line.event {
        TraceEvent::Arrival { req, .. } => {
            arrived.insert(*req, line.t);
        }
        TraceEvent::GatewayTry { try_req, .. } => {
            tries.insert(*try_req, line.t);
        }
        TraceEvent::CallStart { call, inv, .. } => {
            call_sent.insert((*call, 0), line.t);
            if let Some(svc) = service_of.get(inv) {
                caller_of.insert(*call, svc.clone());
            }
        }
        TraceEvent::CallRetry { call, attempt, .. } => {
            call_sent.insert((*call, *attempt), line.t);
        }
        TraceEvent::MeshRoute { proxy, action, config, .. }
            if action == "applied" || action == "push" =>
        {
            applied.entry(proxy.to_string()).or_default().push((line.t, *config as usize));
        }
        TraceEvent::MeshRefused { target, filter, .. }
            if filter == "rbac" && target.split('.').next().is_some_and(protected) =>
        {
            refused += 1;
        }
        TraceEvent::InvocationStart {
            inv, req, service, endpoint, cause, source, attempt, ..
        } => {
            service_of.insert(*inv, service.to_string());
            if !protected(service) {
                return;
            }
            let (from, sent) = match &**cause {
                "client" => (Some(GATEWAY_IDENTITY.to_owned()), arrived.get(req).copied()),
                "call" if tries.contains_key(req) => {
                    (Some(GATEWAY_IDENTITY.to_owned()), tries.get(req).copied())
                }
                "call" => {
                    (caller_of.get(source).cloned(), call_sent.get(&(*source, *attempt)).copied())
                }
                _ => (None, None),
            };
            let Some(from) = from else { return };
            judged += 1;
            // The configurations the callee's sidecar held from the send to now.
            let proxy = if mesh.contains(service) { &**service } else { "istiod" };
            let history = applied.get(proxy).map_or(&[][..], Vec::as_slice);
            let at = |t: SimTime| {
                history.iter().take_while(|(when, _)| *when <= t).last().map_or(0, |(_, k)| *k)
            };
            let (lo, hi) = (at(sent.unwrap_or(line.t)), at(line.t));
            let decisions: Vec<AuthzDecision<'_>> = (lo.min(hi)..=hi)
                .filter_map(|k| configs.get(k))
                .map(|c| c.authorize(service, endpoint, Some(&from)))
                .collect();
            if decisions.iter().any(|d| d.is_allowed()) {
                return;
            }
            let why = match decisions.last() {
                Some(AuthzDecision::DeniedBy(_)) => "a DENY policy matches it",
                _ => "no ALLOW policy of it matches",
            };
            let under = if hi == 0 {
                String::new()
            } else {
                format!(" under configuration {hi} (after {hi} push(es))")
            };
            violations.push((
                line.t,
                format!(
                    "`{from}` invoked `{service}.{endpoint}` (inv {inv}, at {:.1} ms), which its authorization policy{under} denies: {why}",
                    line.t.nanos() as f64 / 1e6
                ),
                *inv,
            ));
        }
        _ => {}
    });
    if let Err(e) = read {
        return Verdict::unjudged(ID, unreadable(&e));
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
