//! Pushed policies (`[[mesh.push.policy]]`), each against what Istio does when istiod pushes a
//! changed DestinationRule or VirtualService over xDS: each Envoy applies the new policy only
//! once the update reaches it — until then it keeps the previous one — and each proxy gets it
//! at its own time (`mesh/control.rs`).

use std::collections::BTreeMap;

use super::tests::{CRASH, FRONT_CALLS_S, events, run, service};
use crate::trace::TraceEvent;

/// Two proxies in front of `s` (one replica of `ms` ms unless `replicas` says otherwise): the
/// gateway (clients call the public `s.get` directly) and `front`'s sidecar (clients call
/// `front.go`, which calls `s.get`); `declared` is s's policy at the start (TOML keys, may be
/// empty), `pushed` the policy pushed for `s` at 2 s; each proxy applies it 100 ms to 1.9 s
/// later.
fn two_proxies(
    replicas: u32,
    ms: f64,
    rps: f64,
    secs: f64,
    declared: &str,
    pushed: &str,
) -> String {
    let declared = if declared.is_empty() {
        String::new()
    } else {
        format!("  [[mesh.policy]]\n  service = \"s\"\n  {declared}\n")
    };
    format!(
        r#"{}
  [[workload.mix]]
  service = "front"
  endpoint = "go"
[[channel]]
name = "rest"
kind = "rest"
timeout_ms = 5000
{FRONT_CALLS_S}[mesh]
services = ["front"]
{declared}  [mesh.control_plane]
  propagation = {{ dist = "uniform", min_ms = 100, max_ms = 1900 }}
  [[mesh.push]]
  at_s = 2
    [[mesh.push.policy]]
    service = "s"
    {pushed}
"#,
        service(replicas, ms, rps, secs)
    )
}

/// When each proxy applied configuration 1.
fn applied(ev: &[(u64, TraceEvent)]) -> BTreeMap<String, u64> {
    ev.iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::MeshRoute { proxy, action, config: 1, .. } if action == "applied" => {
                Some((proxy.clone(), *t))
            }
            _ => None,
        })
        .collect()
}

/// The times `filter` refused a request, per proxy.
fn refusals(ev: &[(u64, TraceEvent)], filter: &str) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (t, e) in ev {
        if let TraceEvent::MeshRefused { caller, filter: f, .. } = e
            && f == filter
        {
            out.entry(caller.clone()).or_default().push(*t);
        }
    }
    out
}

/// Every proxy applied the push at its own time, between 2.1 and 3.9 s, and did what `times`
/// lists (per proxy) only from then on — and did it.
fn only_after_apply(ev: &[(u64, TraceEvent)], times: &BTreeMap<String, Vec<u64>>, what: &str) {
    let applied = applied(ev);
    assert_eq!(applied.keys().collect::<Vec<_>>(), ["front", "gateway"], "{applied:?}");
    for (proxy, at) in &applied {
        assert!((2_100_000_000..=3_900_000_000).contains(at), "{proxy} applied at {at}");
        let seen = times.get(proxy).map_or(&[][..], Vec::as_slice);
        assert!(!seen.is_empty(), "{proxy}: no {what} after it applied the push");
        let early: Vec<&u64> = seen.iter().filter(|t| *t < at).collect();
        assert!(early.is_empty(), "{proxy}: {what} before its push landed at {at}: {early:?}");
    }
}

#[test]
fn a_pushed_fault_injection_aborts_at_each_proxy_only_once_its_xds_update_lands() {
    // Istio VirtualService `fault.abort`, pushed: each Envoy's fault filter changes when its
    // listener update arrives.
    let push = "fault = { abort = { percentage = 100, http_status = 503 } }";
    let r = run(&two_proxies(1, 1.0, 100.0, 5.0, "", push), 1);
    let ev = events(&r);
    let mut aborted: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (t, e) in &ev {
        if let TraceEvent::MeshFault { caller, action, .. } = e
            && action == "abort"
        {
            aborted.entry(caller.clone()).or_default().push(*t);
        }
    }
    only_after_apply(&ev, &aborted, "abort");
    // Before the first landing every request was answered ok.
    let first = applied(&ev).values().copied().min().unwrap_or(0);
    let before = ev
        .iter()
        .filter(|(t, e)| {
            *t < first && matches!(e, TraceEvent::Response { outcome, .. } if outcome == "ok")
        })
        .count();
    assert!(before > 150, "{before} answered before the push landed");
}

#[test]
fn a_pushed_circuit_breaker_overflows_at_each_proxy_only_once_its_xds_update_lands() {
    // DestinationRule `connectionPool.http.http2MaxRequests` (Envoy `max_requests`), pushed:
    // ~10 requests in flight wanted per proxy, 1 allowed once the update lands.
    let r = run(&two_proxies(1, 50.0, 200.0, 5.0, "", "circuit_breaker = { max_requests = 1 }"), 2);
    let ev = events(&r);
    only_after_apply(&ev, &refusals(&ev, "circuit-breaker"), "overflow");
}

#[test]
fn a_pushed_connection_pool_queues_and_overflows_at_each_proxy_only_once_its_update_lands() {
    // DestinationRule `connectionPool` (`maxConnections`, `http1MaxPendingRequests`), pushed.
    let push = "circuit_breaker = { max_connections = 1, max_pending_requests = 1 }";
    let r = run(&two_proxies(1, 50.0, 200.0, 5.0, "", push), 3);
    let ev = events(&r);
    only_after_apply(&ev, &refusals(&ev, "circuit-breaker"), "overflow");
}

#[test]
fn a_pushed_local_rate_limit_refuses_at_each_proxy_only_once_its_update_lands() {
    // Envoy `local_ratelimit` pushed in a filter update: a new bucket from the update on.
    let push = "rate_limit = { max_tokens = 2, fill_interval_ms = 1000 }";
    let r = run(&two_proxies(1, 1.0, 100.0, 5.0, "", push), 4);
    let ev = events(&r);
    only_after_apply(&ev, &refusals(&ev, "rate-limit"), "rate limiting");
}

#[test]
fn pushed_retries_apply_to_requests_the_gateway_starts_after_its_update_lands() {
    // VirtualService `retries` (with `perTryTimeout`), pushed: Envoy snapshots the route when
    // a request starts, so requests started before the update keep trying once.
    let push = "retries = { attempts = 3, per_try_timeout_ms = 20, retry_on = [\"timeout\"] }";
    let r = run(&two_proxies(2, 100.0, 50.0, 5.0, "", push), 5);
    let ev = events(&r);
    let at = applied(&ev)["gateway"];
    let mut first: BTreeMap<u64, u64> = BTreeMap::new();
    let mut retried = 0;
    for (t, e) in &ev {
        if let TraceEvent::GatewayTry { req, attempt, .. } = e {
            assert!(*t >= at, "a gateway try at {t}, before the retries landed at {at}");
            if *attempt == 0 {
                first.insert(*req, *t);
            } else {
                retried += 1;
                assert!(first[req] >= at);
            }
        }
    }
    assert!(retried > 100, "{retried} retries");
}

#[test]
fn a_pushed_retry_budget_stops_retries_only_once_the_update_lands() {
    // DestinationRule `retryBudget` (Envoy `retry_budget`) pushed with the retries it keeps:
    // a pushed policy replaces the destination's as a whole. 0 % and no minimum: no retry.
    let retries = "retries = { attempts = 3, per_try_timeout_ms = 100, retry_on = [\"timeout\"] }";
    let budget = format!(
        "{retries}\n    retry_budget = {{ budget_percent = 0, min_retry_concurrency = 0 }}"
    );
    let r = run(&two_proxies(2, 1000.0, 50.0, 5.0, retries, &budget), 6);
    let ev = events(&r);
    let at = applied(&ev)["gateway"];
    let refused = refusals(&ev, "retry-budget");
    let gateway = refused.get("gateway").cloned().unwrap_or_default();
    assert!(!gateway.is_empty() && gateway.iter().all(|t| *t >= at), "{gateway:?} vs {at}");
    let retries: Vec<u64> = ev
        .iter()
        .filter_map(|(t, e)| matches!(e, TraceEvent::GatewayTry { attempt: 1.., .. }).then_some(*t))
        .collect();
    assert!(retries.iter().filter(|t| **t < at).count() > 50, "retries before the budget");
    // After it (and the longest back-off, 250 ms), not one.
    assert_eq!(retries.iter().filter(|t| **t > at + 250_000_000).count(), 0);
}

#[test]
fn pushed_outlier_detection_ejects_with_its_parameters_only_once_it_landed() {
    // DestinationRule `outlierDetection` pushed: until the update lands the gateway's Envoy
    // detects with its defaults (5 consecutive 5xx, 30 s base); from then on with the pushed
    // parameters (2, 1 s), its failure counts carried over.
    let run_with = |at_s: f64| {
        let push = format!(
            "\n[mesh]\nall = true\n  [mesh.control_plane]\n  [[mesh.push]]\n  at_s = {at_s}\n    [[mesh.push.policy]]\n    service = \"s\"\n    outlier_detection = {{ consecutive_5xx = 2, base_ejection_time_ms = 1000, max_ejection_percent = 50 }}\n"
        );
        let r = run(&format!("{}{CRASH}{push}", service(2, 2.0, 100.0, 4.0)), 1);
        let ev = events(&r);
        let ejections: Vec<(u64, u64)> = ev
            .iter()
            .filter_map(|(t, e)| match e {
                TraceEvent::Ejected { until_ns, replica: 0, .. } => Some((*t, until_ns - t)),
                _ => None,
            })
            .collect();
        (ejections, applied_gateway(&ev))
    };
    // Landed at 0.5 s, before the crash at 1 s: ejected with the pushed base, 1 s × n.
    let (ejections, landed) = run_with(0.5);
    assert_eq!(landed, Some(500_000_000));
    assert!(!ejections.is_empty());
    assert_eq!(ejections[0].1, 1_000_000_000, "{ejections:?}");
    // Landed at 3 s: the crashed replica's failures since 1 s were fewer than Envoy's 5 in a
    // row, so no ejection before; the pushed 2 eject it right after, with the pushed base.
    let (ejections, landed) = run_with(3.0);
    let landed = landed.expect("landed within the run");
    assert!(!ejections.is_empty(), "ejected once the push landed");
    assert!(ejections.iter().all(|(t, _)| *t >= landed), "{ejections:?} before {landed}");
    assert_eq!(ejections[0].1, 1_000_000_000, "{ejections:?}");
    // Pushed after the run: Envoy's defaults throughout (no ejection, or one of 30 s).
    let (ejections, landed) = run_with(30.0);
    assert_eq!(landed, None);
    assert!(ejections.iter().all(|(_, base)| *base % 30_000_000_000 == 0), "{ejections:?}");
}

fn applied_gateway(ev: &[(u64, TraceEvent)]) -> Option<u64> {
    applied(ev).get("gateway").copied()
}

#[test]
fn a_push_is_traced_with_what_it_changes_and_a_proxy_without_a_policy_push_keeps_its_own() {
    let push = "rate_limit = { max_tokens = 2, fill_interval_ms = 1000 }";
    let r = run(&two_proxies(1, 1.0, 20.0, 5.0, "", push), 7);
    let ev = events(&r);
    let lines: Vec<(String, String, String)> = ev
        .iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::MeshRoute { proxy, service, action, detail, .. }
                if action == "push" || action == "applied" =>
            {
                Some((proxy.clone(), service.clone(), detail.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], ("istiod".into(), "s".into(), "policy s".into()));
    assert!(lines[1..].iter().all(|(_, s, d)| s == "s" && d == "policy s"), "{lines:?}");
    // The report's log is the trace's.
    let log = crate::trace::mesh_route::read(
        &crate::trace::read(&r.trace).map(|l| l.expect("reads")).collect::<Vec<_>>(),
    );
    assert_eq!(log, r.mesh_routes);
    assert_eq!(r.mesh_routes.pushes[0].change, "policy s");
}
