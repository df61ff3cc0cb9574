//! Version subsets, weighted and header routing, and the control plane, each against the
//! Istio/Envoy behaviour it follows (`mesh/route.rs`).

use std::collections::BTreeMap;

use super::tests::{events, run, service};
use crate::trace::TraceEvent;

/// `s` on node `b`: 2 declared replicas (subset `v1`) and `v2` with 2 of its own (positions 2
/// and 3), constant 5 ms, public `get`, clients at `rps` for `secs`, `headers` on a third of
/// them (a second mix entry); then `extra` (routes, pushes, faults).
fn routed(rps: f64, secs: f64, headers: &str, extra: &str) -> String {
    // `service` ends inside its one mix entry: weight it, then add the second entry.
    format!(
        r#"{}  weight = 2
  [[workload.mix]]
  service = "s"
  endpoint = "get"
  weight = 1
  {headers}
[mesh]
all = true
  [[mesh.subset]]
  service = "s"
  name = "v1"
  [[mesh.subset]]
  service = "s"
  name = "v2"
  replicas = 2
{extra}"#,
        service(2, 5.0, rps, secs)
    )
}

/// Per routed request: (time ns, proxy, config, subset, how: `routed`/`matched`).
type Routed = BTreeMap<u64, (u64, String, u32, String, String)>;

fn routed_lines(ev: &[(u64, TraceEvent)]) -> Routed {
    ev.iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::MeshRoute { proxy, action, config, req, detail, .. }
                if action == "routed" || action == "matched" =>
            {
                Some((*req, (*t, proxy.clone(), *config, detail.clone(), action.clone())))
            }
            _ => None,
        })
        .collect()
}

/// Request → the replica position its invocation ran on.
fn ran_on(ev: &[(u64, TraceEvent)]) -> BTreeMap<u64, u32> {
    ev.iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::InvocationStart { req, replica, .. } => Some((*req, *replica)),
            _ => None,
        })
        .collect()
}

fn subset_of(position: u32) -> &'static str {
    if position < 2 { "v1" } else { "v2" }
}

#[test]
fn weights_split_requests_within_binomial_bounds_and_each_lands_in_its_subset() {
    let extra = "  [[mesh.route]]\n  service = \"s\"\n  weights = { v1 = 90, v2 = 10 }\n";
    let r = run(&routed(400.0, 10.0, "", extra), 3);
    let ev = events(&r);
    let routed = routed_lines(&ev);
    let n = routed.len() as f64;
    assert!(n > 3000.0, "{n} routed");
    let v2 = routed.values().filter(|x| x.3 == "v2").count() as f64;
    // Istio's weights are probabilities per request: v2's share is Binomial(n, 0.1); four
    // standard deviations either side.
    let sd = (n * 0.1 * 0.9).sqrt();
    assert!((v2 - n * 0.1).abs() < 4.0 * sd, "{v2} of {n} to v2");
    // Envoy load-balances within the picked cluster only: every invocation ran on a replica
    // of the subset its request was routed to, and v2's replicas both served.
    let on = ran_on(&ev);
    let mut served: BTreeMap<u32, u64> = BTreeMap::new();
    for (req, (_, proxy, config, subset, how)) in &routed {
        assert_eq!((proxy.as_str(), *config, how.as_str()), ("gateway", 0, "routed"));
        let p = on[req];
        assert_eq!(subset_of(p), subset, "request {req} ran on position {p}");
        *served.entry(p).or_default() += 1;
    }
    assert_eq!(served.len(), 4, "{served:?}");
    // The report's log, kept by the simulator, agrees with the trace's lines.
    assert_eq!(r.mesh_routes, crate::trace::mesh_route::read(&trace_lines(&r)));
}

fn trace_lines(r: &crate::system::RunResult) -> Vec<crate::trace::TraceLine> {
    crate::trace::read(&r.trace).map(|l| l.expect("reads back")).collect()
}

#[test]
fn a_header_rule_sends_every_matching_request_to_its_subset() {
    let extra = "  [[mesh.route]]\n  service = \"s\"\n  weights = { v1 = 100 }\n  match = [{ headers = { x-route = \"canary\" }, subset = \"v2\" }]\n";
    let r = run(&routed(300.0, 5.0, "headers = { x-route = \"canary\" }", extra), 5);
    let ev = events(&r);
    let routed = routed_lines(&ev);
    let on = ran_on(&ev);
    let matched: Vec<_> = routed.iter().filter(|(_, x)| x.4 == "matched").collect();
    let by_weight: Vec<_> = routed.iter().filter(|(_, x)| x.4 == "routed").collect();
    // A third of the clients carry the header (mix weight 1 of 3).
    assert!(
        matched.len() > 300 && by_weight.len() > 600,
        "{} / {}",
        matched.len(),
        by_weight.len()
    );
    for (req, x) in &matched {
        assert_eq!(x.3, "v2");
        assert_eq!(subset_of(on[*req]), "v2");
    }
    // The rest follow the weights: all to v1.
    for (req, x) in &by_weight {
        assert_eq!(x.3, "v1");
        assert_eq!(subset_of(on[*req]), "v1");
    }
}

#[test]
fn without_a_route_every_replica_of_every_subset_serves() {
    // No VirtualService: a Kubernetes Service selects the pods of both Deployments.
    let r = run(&routed(200.0, 5.0, "", ""), 1);
    let ev = events(&r);
    assert!(routed_lines(&ev).is_empty());
    let mut served: BTreeMap<u32, u64> = BTreeMap::new();
    for p in ran_on(&ev).values() {
        *served.entry(*p).or_default() += 1;
    }
    assert_eq!(served.len(), 4, "{served:?}");
}

const PUSHES: &str = r#"
  [[mesh.route]]
  service = "s"
  weights = { v1 = 100 }
  [mesh.control_plane]
  propagation = { dist = "uniform", min_ms = 100, max_ms = 900 }
  [[mesh.push]]
  at_s = 2
  service = "s"
  weights = { v1 = 50, v2 = 50 }
  [[mesh.push]]
  at_s = 4
  service = "s"
  weights = { v2 = 100 }
"#;

#[test]
fn a_proxy_routes_by_its_old_weights_until_the_push_reaches_it() {
    let r = run(&routed(200.0, 6.0, "", PUSHES), 9);
    let ev = events(&r);
    let pushes: Vec<(u64, u32)> = ev
        .iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::MeshRoute { action, config, .. } if action == "push" => Some((*t, *config)),
            _ => None,
        })
        .collect();
    assert_eq!(pushes, [(2_000_000_000, 1), (4_000_000_000, 2)]);
    // Each proxy (the gateway, and `s`'s own sidecar) applies each push once, within the
    // declared propagation delay, in push order.
    let mut applied: BTreeMap<(String, u32), u64> = BTreeMap::new();
    for (t, e) in &ev {
        if let TraceEvent::MeshRoute { proxy, action, config, .. } = e
            && action == "applied"
        {
            assert!(applied.insert((proxy.clone(), *config), *t).is_none());
            let pushed = pushes[*config as usize - 1].0;
            assert!((pushed + 100_000_000..=pushed + 900_000_000).contains(t), "{proxy} {t}");
        }
    }
    assert_eq!(
        applied.keys().map(|k| k.0.as_str()).collect::<Vec<_>>(),
        ["gateway", "gateway", "s", "s"]
    );
    let landed1 = applied[&("gateway".to_owned(), 1)];
    let landed2 = applied[&("gateway".to_owned(), 2)];
    // Every routed request used the configuration its proxy held then: 0 before the first
    // push landed (also between the push and its landing), 1 until the second landed, 2 after.
    let routed = routed_lines(&ev);
    let mut stale = 0;
    for (t, _, config, subset, _) in routed.values() {
        let want = if *t < landed1 {
            0
        } else if *t < landed2 {
            1
        } else {
            2
        };
        assert_eq!(*config, want, "at {t}");
        stale += u32::from(*t >= 2_000_000_000 && *t < landed1);
        match config {
            0 => assert_eq!(subset, "v1"),
            2 => assert_eq!(subset, "v2"),
            _ => {}
        }
    }
    assert!(stale > 10, "{stale} requests under the old weights after the push left istiod");
    // The report's push timeline, recomputed from the trace.
    let log = crate::trace::mesh_route::read(&trace_lines(&r));
    assert_eq!(log.pushes.len(), 2);
    assert_eq!(log.pushes[0].change, "v1=50,v2=50");
    assert_eq!(log.pushes[0].applied.len(), 2);
    assert_eq!(log, r.mesh_routes);
}

#[test]
fn same_seed_same_trace_and_the_propagation_delays_are_seeded() {
    let a = run(&routed(100.0, 5.0, "", PUSHES), 4);
    let b = run(&routed(100.0, 5.0, "", PUSHES), 4);
    assert_eq!(a.trace, b.trace);
    let c = run(&routed(100.0, 5.0, "", PUSHES), 5);
    let landings = |r: &crate::system::RunResult| -> Vec<_> {
        r.mesh_routes.pushes.iter().flat_map(|p| p.applied.clone()).collect()
    };
    assert_ne!(landings(&a), landings(&c));
}

#[test]
fn a_crashed_subset_replica_restarts_on_its_own_version() {
    // v2 has replicas at positions 2 and 3; both crash at 1 s, one restarts 1 s later. Every
    // request goes to v2: after the restart the replica serves them again — as v2 (the
    // kubelet restarts the container in its pod, same image). Had it come back on the
    // service's target (v1's version), v2 would have no replica and every request would fail.
    let extra = "  [[mesh.route]]\n  service = \"s\"\n  weights = { v2 = 100 }\n[[fault]]\nkind = \"crash\"\nservice = \"s\"\nreplica = 2\nat_s = 1\nrestart_after_s = 1\n[[fault]]\nkind = \"crash\"\nservice = \"s\"\nreplica = 3\nat_s = 1\n";
    let r = run(&routed(100.0, 6.0, "", extra), 2);
    let ev = events(&r);
    let late: Vec<u32> = ev
        .iter()
        .filter(|(t, _)| *t > 3_000_000_000)
        .filter_map(|(_, e)| match e {
            TraceEvent::InvocationStart { replica, .. } => Some(*replica),
            _ => None,
        })
        .collect();
    assert!(late.len() > 200, "{} served after the restart", late.len());
    assert!(late.iter().all(|p| *p == 2), "only the restarted v2 replica serves");
    let (ok, failed) = super::tests::outcomes(&r, "s.get");
    assert!(ok > 400 && failed > 0, "{ok} ok, {failed} failed (while v2 was down)");
}

#[test]
fn the_proxy_s_own_retries_stay_in_the_subset_its_route_picked() {
    // Envoy retries within the cluster its route picked (a subset is a cluster of its own):
    // with v2's replicas gone, a request routed there fails all three tries — about half the
    // requests (v2's weight) — where re-routing each retry would lose only 1 in 8.
    let extra = r#"  [[mesh.route]]
  service = "s"
  weights = { v1 = 50, v2 = 50 }
  [[mesh.policy]]
  service = "s"
  retries = { attempts = 3, per_try_timeout_ms = 50, base_interval_ms = 1 }
[[fault]]
kind = "crash"
service = "s"
replica = 2
at_s = 0.5
restart_after_s = 100
[[fault]]
kind = "crash"
service = "s"
replica = 3
at_s = 0.5
restart_after_s = 100
"#;
    let r = run(&routed(200.0, 8.0, "", extra), 6);
    let ev = events(&r);
    let mut retries = 0;
    for (_, e) in &ev {
        if let TraceEvent::MeshRoute { action, detail, .. } = e
            && action == "retry"
        {
            retries += 1;
            assert_eq!(detail, "v2", "only v2's tries fail, and their retries stay there");
        }
    }
    assert!(retries > 500, "{retries} retries");
    let (ok, failed) = super::tests::outcomes(&r, "s.get");
    let share = failed as f64 / (ok + failed) as f64;
    assert!((0.4..0.6).contains(&share), "{failed} of {} failed", ok + failed);
    // The route log counts picks, not retries.
    let picks: u64 = r.mesh_routes.routed.values().sum();
    assert_eq!(picks, ok + failed);
}
