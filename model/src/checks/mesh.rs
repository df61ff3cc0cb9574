//! Mesh designs: retry policies that cannot fit in the caller's own timeout, and retries that
//! multiply along a call path (a retry storm waiting to happen).
//!
//! Who retries a hop: the gateway applies the mesh's retry policy to public endpoints; a
//! meshed caller's sidecar applies it to its calls, replacing the channel's retries; any other
//! caller retries as its channel says. A hop's tries are its attempts (retries + 1); a path's
//! amplification is the product of its hops' tries — what a failing leaf receives per client
//! request when every hop retries (the Google SRE book's "retries multiply" rule).
//!
//! The amplification is checked without a `[mesh]` too (its id keeps the `mesh-` of the check
//! it grew from): then every hop retries as its channel says and the gateway tries once.
//!
//! A route timeout (`timeout_ms`) is a timeout the tries must fit in too: Envoy stops retrying
//! when it passes.
//!
//! Each configuration a `[[mesh.push]]` makes is checked too: a pushed retry policy must fit,
//! and a push that raises a path's amplification past the threshold is named.

use std::collections::BTreeMap;

use super::Findings;
use crate::scenario::{MeshConfig, Retries, Scenario, Service};

pub(super) const TIMEOUT_ID: &str = "mesh-retry-timeout";
pub(super) const AMPLIFICATION_ID: &str = "mesh-retry-amplification";

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    let Some(mesh) = &s.mesh else {
        // No proxy retries: the channels' retries still multiply along a path.
        let channels_only =
            MeshConfig { policies: Vec::new(), filters: Vec::new(), authorization: Vec::new() };
        amplification(f, s, &channels_only, None, &BTreeMap::new());
        return;
    };
    let declared = mesh.declared();
    timeouts(f, s, &declared, None);
    let mut products = amplification(f, s, &declared, None, &BTreeMap::new());
    // Each push's configuration is held to the same: its retries must fit, and a push that
    // makes a path's amplification worse past the threshold is named.
    for (k, &i) in mesh.push_order().iter().enumerate() {
        let config = mesh.configuration(k + 1);
        let push = Pushed { index: i, at_s: mesh.pushes[i].at_s, span: mesh.pushes[i].span };
        timeouts(f, s, &config, Some(&push));
        products = amplification(f, s, &config, Some(&push), &products);
    }
}

/// The push whose configuration is checked.
struct Pushed {
    index: usize,
    at_s: f64,
    span: crate::diagnostic::Span,
}

impl Pushed {
    fn prefix(p: Option<&Pushed>) -> String {
        p.map_or(String::new(), |p| format!("after mesh.push[{}] (at {} s): ", p.index, p.at_s))
    }
}

/// The retry policies of `config` that must fit in their callers' timeouts: every one, or
/// (with `push`) those the push brought.
fn timeouts(f: &mut Findings<'_>, s: &Scenario, config: &MeshConfig<'_>, push: Option<&Pushed>) {
    let Some(mesh) = &s.mesh else { return };
    let gateway_ms = s.gateway.as_ref().map_or(5000.0, |g| g.timeout_ms);
    let prefix = Pushed::prefix(push);
    for svc in &s.services {
        for e in &svc.endpoints {
            let Some((p, r)) = config.policy_for(&svc.name, &e.name, |p| p.retries.as_ref()) else {
                continue;
            };
            if let Some(push) = push
                && !mesh.pushes[push.index].policies.iter().any(|q| std::ptr::eq(q, p))
            {
                continue;
            }
            if e.public {
                let what = format!("the gateway's timeout ({gateway_ms} ms)");
                fits(f, r, gateway_ms, &svc.name, &e.name, "the gateway", &what, &prefix);
            }
            // The route timeout (VirtualService `http.timeout`) bounds every try too.
            if let Some(route_ms) = config.route_timeout(&svc.name, &e.name) {
                let what = format!("`timeout_ms` = {route_ms} ms");
                fits(f, r, route_ms, &svc.name, &e.name, "the route", &what, &prefix);
            }
            for caller in s.services.iter().filter(|c| mesh.contains(&c.name)) {
                for call in calls_to(caller, &svc.name, &e.name) {
                    let Some(channel) = s.channel(&call.channel.name) else { continue };
                    let what = format!(
                        "its channel `{}`'s timeout ({} ms)",
                        channel.name, channel.timeout_ms
                    );
                    fits(
                        f,
                        r,
                        channel.timeout_ms,
                        &svc.name,
                        &e.name,
                        &format!("`{}`", caller.name),
                        &what,
                        &prefix,
                    );
                }
            }
        }
    }
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
#[allow(clippy::too_many_arguments)] // one finding's every part
fn fits(
    f: &mut Findings<'_>,
    r: &Retries,
    caller_ms: f64,
    service: &str,
    endpoint: &str,
    caller: &str,
    what: &str,
    prefix: &str,
) {
    let per_try = r.per_try_timeout_ms.unwrap_or(caller_ms);
    let total = f64::from(r.attempts) * per_try;
    if r.attempts > 1 && total > caller_ms {
        let msg = format!(
            "{prefix}retries to `{service}.{endpoint}` take up to {} × {per_try} ms = {total} ms, more than {caller} waits: {what}",
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
fn tries(
    s: &Scenario,
    config: &MeshConfig<'_>,
    caller: Option<&Service>,
    service: &str,
    endpoint: &str,
) -> u64 {
    let mesh = s.mesh.as_ref();
    let meshed = caller.is_none_or(|c| mesh.is_some_and(|m| m.contains(&c.name)));
    if let Some(r) = config.retries(service, endpoint).filter(|_| meshed) {
        return u64::from(r.attempts);
    }
    let Some(caller) = caller else { return 1 };
    calls_to(caller, service, endpoint)
        .filter_map(|c| s.channel(&c.channel.name))
        .map(|ch| u64::from(ch.retries) + 1)
        .max()
        .unwrap_or(1)
}

/// The worst path from each public endpoint under `config`: a warning when its product of
/// tries passes `quality.retry_amplification_max` — with `push`, only where the push made it
/// larger than under the configuration before (`before`, per public endpoint). Returns the
/// products, for the next configuration.
fn amplification(
    f: &mut Findings<'_>,
    s: &Scenario,
    config: &MeshConfig<'_>,
    push: Option<&Pushed>,
    before: &BTreeMap<(String, String), u64>,
) -> BTreeMap<(String, String), u64> {
    let max = s.quality.retry_amplification_max();
    let mut products = BTreeMap::new();
    for svc in &s.services {
        for e in svc.endpoints.iter().filter(|e| e.public) {
            let first = tries(s, config, None, &svc.name, &e.name);
            let mut path = vec![format!("{}.{}", svc.name, e.name)];
            let mut on_path = vec![svc.name.as_str()];
            let (product, worst) = worst_path(s, config, svc, first, &mut path, &mut on_path);
            let key = (svc.name.clone(), e.name.clone());
            let grew = before.get(&key).is_none_or(|b| product > *b);
            products.insert(key, product);
            if product as f64 > max && (push.is_none() || grew) {
                let msg = format!(
                    "{}retry storm risk: a client request to `{}.{}` can reach the end of gateway → {} as {product} requests (tries multiply along the path), above {max}",
                    Pushed::prefix(push),
                    svc.name,
                    e.name,
                    worst.join(" → ")
                );
                let hint = if s.mesh.is_some() {
                    "retry at one hop only (usually the edge), or give the destinations a `retry_budget`"
                } else {
                    "retry at one hop only (usually the edge): call the inner hops over a channel with `retries = 0`, or put the services in a `[mesh]` and give the destinations a `retry_budget`"
                };
                let at = push.map_or(e.span, |p| p.span);
                f.warning(AMPLIFICATION_ID, at, msg).hint = Some(hint.to_owned());
            }
        }
    }
    products
}

/// The largest product of tries from `svc` on (`so_far` for the path to it), and that path.
fn worst_path<'a>(
    s: &'a Scenario,
    config: &MeshConfig<'_>,
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
        let product =
            so_far.saturating_mul(tries(s, config, Some(svc), &callee.name, &call.endpoint.name));
        path.push(format!("{}.{}", callee.name, call.endpoint.name));
        on_path.push(&callee.name);
        let found = worst_path(s, config, callee, product, path, on_path);
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
