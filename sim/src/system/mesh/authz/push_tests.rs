//! Pushed authorization (`[[mesh.push.authorization]]`, istiod pushing an AuthorizationPolicy
//! change over xDS): each callee's sidecar judges by the policy set it has applied, so a
//! lock-out starts at each callee at its own apply time — not at the caller's, not at the
//! push's — and the requests sent before it are served.

use std::collections::BTreeMap;

use fusebench_model::Scenario;

use super::tests::design_text;
use crate::system::{RunOptions, RunResult, Sim};
use crate::trace::{self, TraceEvent, TraceMode};

/// The authz design (`front.go` calls `s.get`; clients call both; everything meshed) for
/// 3 s at 60 requests a second, with `pushes`; each proxy applies a push 50 ms to 900 ms
/// after it leaves istiod.
fn pushed(authz: &str, pushes: &str) -> Scenario {
    let text = design_text("all = true", authz)
        .replace("duration_s = 1", "duration_s = 3")
        .replace("rate_rps = 20", "rate_rps = 60");
    let text = format!(
        "{text}  [mesh.control_plane]\n  propagation = {{ dist = \"uniform\", min_ms = 50, max_ms = 900 }}\n{pushes}"
    );
    let parsed = fusebench_model::parse("authz.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

fn run(s: Scenario, seed: u64) -> RunResult {
    let mut o = RunOptions::new(seed);
    o.trace = TraceMode::Full;
    Sim::new(s, Box::new(crate::runtime::Runtime::default()), &o).run()
}

fn events(r: &RunResult) -> Vec<(u64, TraceEvent)> {
    trace::read(&r.trace).map(|l| l.expect("reads back")).map(|l| (l.t.nanos(), l.event)).collect()
}

/// When each proxy applied configuration `config`, and what the line says changed.
fn applied(ev: &[(u64, TraceEvent)], config: u32) -> BTreeMap<String, (u64, String)> {
    ev.iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::MeshRoute { proxy, action, config: c, detail, .. }
                if action == "applied" && *c == config =>
            {
                Some((proxy.clone(), (*t, detail.clone())))
            }
            _ => None,
        })
        .collect()
}

/// The times of the `rbac` refusals of requests from `caller` to `target`.
fn denials(ev: &[(u64, TraceEvent)], caller: &str, target: &str) -> Vec<u64> {
    ev.iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::MeshRefused { caller: c, target: tg, filter, .. }
                if filter == "rbac" && c == caller && tg == target =>
            {
                Some(*t)
            }
            _ => None,
        })
        .collect()
}

/// The times calls from `front` to `s` left (`call_start`), and the times `s` began serving
/// them (its invocations whose source is one of those calls).
fn front_calls(ev: &[(u64, TraceEvent)]) -> (Vec<u64>, Vec<u64>) {
    let calls: BTreeMap<u64, u64> = ev
        .iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::CallStart { call, service, .. } if service == "s" => Some((*call, *t)),
            _ => None,
        })
        .collect();
    let served = ev
        .iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::InvocationStart { service, cause, source, .. }
                if service == "s" && cause == "call" && calls.contains_key(source) =>
            {
                Some(*t)
            }
            _ => None,
        })
        .collect();
    (calls.into_values().collect(), served)
}

/// The times `s` began serving a request from the gateway (a client's, or a gateway try).
fn gateway_served(ev: &[(u64, TraceEvent)]) -> Vec<u64> {
    let tries: Vec<u64> = ev
        .iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::GatewayTry { try_req, .. } => Some(*try_req),
            _ => None,
        })
        .collect();
    ev.iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::InvocationStart { service, cause, req, .. }
                if service == "s" && (cause == "client" || tries.contains(req)) =>
            {
                Some(*t)
            }
            _ => None,
        })
        .collect()
}

const LOCK_FRONT_OUT: &str = "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.authorization]]\n    name = \"lock-front\"\n    service = \"s\"\n    action = \"deny\"\n    from = [\"front\"]\n";

#[test]
fn a_pushed_lock_out_starts_at_the_callees_own_apply_time() {
    let r = run(pushed("", LOCK_FRONT_OUT), 4);
    let ev = events(&r);
    let at = applied(&ev, 1);
    assert_eq!(at.len(), 3, "the gateway, front and s each apply it: {at:?}");
    assert!(at.values().all(|(_, d)| d == "authz lock-front"), "traced what changed: {at:?}");
    let (t_s, t_front) = (at["s"].0, at["front"].0);
    assert!(t_s > 1_050_000_000 && t_s <= 1_900_000_000, "{t_s}");
    assert_ne!(t_s, t_front, "the proxies disagree for a while");
    let denied = denials(&ev, "front", "s.get");
    let (sent, served) = front_calls(&ev);
    // Every call that left after s applied the lock-out is refused, none before.
    assert!(!denied.is_empty());
    assert!(denied.iter().all(|&t| t >= t_s), "refused before s applied it at {t_s}: {denied:?}");
    let after = sent.iter().filter(|&&t| t >= t_s).count();
    assert_eq!(denied.len(), after, "every call sent after {t_s} refused");
    // The calls before it were served, right up to it — whatever front itself applied.
    let before = sent.iter().filter(|&&t| t < t_s).count();
    assert!(before > 0 && served.len() == before, "{before} sent before, {} served", served.len());
    assert!(served.iter().any(|&t| t > 1_000_000_000), "served after the push left istiod");
    assert_eq!(r.metrics.services["s"].denied as usize, denied.len());
    // The gateway's own requests to s are never touched.
    assert!(denials(&ev, "gateway", "s.get").is_empty());
}

#[test]
fn a_removal_by_name_reopens_access_at_each_callee_when_it_applies() {
    let unlock = "  [[mesh.push]]\n  at_s = 2\n  remove_authorization = [\"lock-front\"]\n";
    let r = run(pushed("", &format!("{LOCK_FRONT_OUT}{unlock}")), 4);
    let ev = events(&r);
    let (locked, open) = (applied(&ev, 1)["s"].0, applied(&ev, 2)["s"].0);
    assert_eq!(applied(&ev, 2)["s"].1, "-authz lock-front");
    let denied = denials(&ev, "front", "s.get");
    assert!(!denied.is_empty());
    assert!(denied.iter().all(|&t| (locked..open).contains(&t)), "{locked}..{open}: {denied:?}");
    let (sent, _) = front_calls(&ev);
    let in_window = sent.iter().filter(|&&t| (locked..open).contains(&t)).count();
    assert_eq!(denied.len(), in_window);
}

#[test]
fn a_pushed_policy_replacing_a_declared_one_by_name_opens_a_route_at_the_callee() {
    // Declared: s answers front only (the gateway's requests to s are refused); the push
    // replaces that policy by name with one that lets the gateway in too.
    let declared = "[[mesh.authorization]]\nname = \"s-in\"\nservice = \"s\"\nfrom = [\"front\"]\n";
    let open = "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.authorization]]\n    name = \"s-in\"\n    service = \"s\"\n    from = [\"front\", \"gateway\"]\n";
    let r = run(pushed(declared, open), 4);
    let ev = events(&r);
    let t_s = applied(&ev, 1)["s"].0;
    let denied = denials(&ev, "gateway", "s.get");
    assert!(!denied.is_empty() && denied.iter().all(|&t| t < t_s), "{t_s}: {denied:?}");
    let served = gateway_served(&ev);
    assert!(served.iter().all(|&t| t > t_s), "served before s applied it at {t_s}: {served:?}");
    assert!(served.len() > 10, "the gateway's requests to s are served once s applied the push");
}
