//! Mesh designs: retry policies that cannot fit in the caller's own timeout, and retries that
//! multiply along a call path (a retry storm waiting to happen).
//!
//! Who retries a hop: the gateway applies the mesh's retry policy to public endpoints; a
//! meshed caller's sidecar applies it to its calls, replacing the channel's retries; any other
//! caller retries as its channel says. A hop's tries are its attempts (retries + 1); a path's
//! amplification is the product of its hops' tries — what a failing leaf receives per client
//! request when every hop retries (the Google SRE book's "retries multiply" rule).

use super::Findings;
use crate::scenario::{Retries, Scenario, Service};

pub(super) const TIMEOUT_ID: &str = "mesh-retry-timeout";
pub(super) const AMPLIFICATION_ID: &str = "mesh-retry-amplification";

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    let Some(mesh) = &s.mesh else { return };
    let gateway_ms = s.gateway.as_ref().map_or(5000.0, |g| g.timeout_ms);
    for svc in &s.services {
        for e in &svc.endpoints {
            let Some(r) = mesh.retries(&svc.name, &e.name) else { continue };
            if e.public {
                let what = format!("the gateway's timeout ({gateway_ms} ms)");
                fits(f, r, gateway_ms, &svc.name, &e.name, "the gateway", &what);
            }
            for caller in s.services.iter().filter(|c| mesh.contains(&c.name)) {
                for call in calls_to(caller, &svc.name, &e.name) {
                    let Some(channel) = s.channel(&call.channel.name) else { continue };
                    let what = format!(
                        "its channel `{}`'s timeout ({} ms)",
                        channel.name, channel.timeout_ms
                    );
                    fits(f, r, channel.timeout_ms, &svc.name, &e.name, &caller.name, &what);
                }
            }
        }
    }
    amplification(f, s);
}

fn calls_to<'a>(
    caller: &'a Service,
    service: &'a str,
    endpoint: &'a str,
) -> impl Iterator<Item = &'a crate::scenario::Call> {
    caller.calls.iter().filter(move |c| c.service.name == service && c.endpoint.name == endpoint)
}

/// Every try, each up to its per-try timeout, must fit in the caller's own timeout, or the
/// last tries are never made: the caller gives up first.
fn fits(
    f: &mut Findings<'_>,
    r: &Retries,
    caller_ms: f64,
    service: &str,
    endpoint: &str,
    caller: &str,
    what: &str,
) {
    let per_try = r.per_try_timeout_ms.unwrap_or(caller_ms);
    let total = f64::from(r.attempts) * per_try;
    if r.attempts > 1 && total > caller_ms {
        let msg = format!(
            "retries to `{service}.{endpoint}` take up to {} × {per_try} ms = {total} ms, more than {caller}'s own timeout: {what}",
            r.attempts
        );
        let hint = format!(
            "lower `attempts` or set `per_try_timeout_ms` to at most {} ms",
            (caller_ms / f64::from(r.attempts)).floor()
        );
        f.error(TIMEOUT_ID, r.span, msg).hint = Some(hint);
    }
}

/// The tries a hop makes: the mesh's attempts where its proxy applies a retry policy, else
/// the channel's retries + 1 (the gateway without a policy tries once).
fn tries(s: &Scenario, caller: Option<&Service>, service: &str, endpoint: &str) -> u64 {
    let mesh = s.mesh.as_ref();
    let meshed = caller.is_none_or(|c| mesh.is_some_and(|m| m.contains(&c.name)));
    if let Some(r) = mesh.filter(|_| meshed).and_then(|m| m.retries(service, endpoint)) {
        return u64::from(r.attempts);
    }
    let Some(caller) = caller else { return 1 };
    calls_to(caller, service, endpoint)
        .filter_map(|c| s.channel(&c.channel.name))
        .map(|ch| u64::from(ch.retries) + 1)
        .max()
        .unwrap_or(1)
}

/// The worst path from each public endpoint: a warning when its product of tries passes
/// `quality.retry_amplification_max`.
fn amplification(f: &mut Findings<'_>, s: &Scenario) {
    let max = s.quality.retry_amplification_max();
    for svc in &s.services {
        for e in svc.endpoints.iter().filter(|e| e.public) {
            let first = tries(s, None, &svc.name, &e.name);
            let mut path = vec![format!("{}.{}", svc.name, e.name)];
            let mut on_path = vec![svc.name.as_str()];
            let (product, worst) = worst_path(s, svc, first, &mut path, &mut on_path);
            if product as f64 > max {
                let msg = format!(
                    "retry storm risk: a client request to `{}.{}` can reach the end of gateway → {} as {product} requests (tries multiply along the path), above {max}",
                    svc.name,
                    e.name,
                    worst.join(" → ")
                );
                let hint = "retry at one hop only (usually the edge), or give the destinations a `retry_budget`".to_owned();
                f.warning(AMPLIFICATION_ID, e.span, msg).hint = Some(hint);
            }
        }
    }
}

/// The largest product of tries from `svc` on (`so_far` for the path to it), and that path.
fn worst_path<'a>(
    s: &'a Scenario,
    svc: &'a Service,
    so_far: u64,
    path: &mut Vec<String>,
    on_path: &mut Vec<&'a str>,
) -> (u64, Vec<String>) {
    let mut best = (so_far, path.clone());
    for call in &svc.calls {
        let Some(callee) = s.service(&call.service.name) else { continue };
        if on_path.contains(&callee.name.as_str()) {
            continue; // a cycle: `sync-cycle` reports it
        }
        let product = so_far.saturating_mul(tries(s, Some(svc), &callee.name, &call.endpoint.name));
        path.push(format!("{}.{}", callee.name, call.endpoint.name));
        on_path.push(&callee.name);
        let found = worst_path(s, callee, product, path, on_path);
        path.pop();
        on_path.pop();
        if found.0 > best.0 {
            best = found;
        }
    }
    best
}

#[cfg(test)]
mod tests;
