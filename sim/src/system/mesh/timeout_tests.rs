//! The route timeout (`[[mesh.policy]] timeout_ms`: Istio's VirtualService `http.timeout`,
//! Envoy's route timeout), against Envoy's documented behaviour: it spans the whole call from
//! its first try, retries included, and once it passes the caller's proxy answers 504.

use std::collections::BTreeMap;

use super::tests::{events, run, service};
use crate::trace::TraceEvent;

/// Three replicas of `s`, two of which crash at 1 s and stay registered (their tries time out
/// after 50 ms): a request whose first two tries land on them succeeds on its third, after
/// about 100 ms. `timeout` is the route timeout's TOML line (may be empty).
fn design(timeout: &str) -> String {
    let crash = |r: u32| {
        format!(
            "\n[[fault]]\nkind = \"crash\"\nservice = \"s\"\nreplica = {r}\nat_s = 1\nrestart_after_s = 30\n"
        )
    };
    format!(
        "{}{}{}\n[mesh]\nall = true\n  [[mesh.policy]]\n  service = \"s\"\n  retries = {{ attempts = 3, per_try_timeout_ms = 50, retry_on = [\"timeout\"], base_interval_ms = 1 }}\n  {timeout}\n",
        service(3, 2.0, 200.0, 2.0),
        crash(0),
        crash(1)
    )
}

/// Each client request's try start times.
type Tries = BTreeMap<u64, Vec<u64>>;

/// Each client request's (outcome, latency ns), and each one's try start times.
fn answers(ev: &[(u64, TraceEvent)]) -> (Vec<(String, u64)>, Tries) {
    let mut tries = Tries::new();
    let mut out = Vec::new();
    for (t, e) in ev {
        match e {
            TraceEvent::GatewayTry { req, .. } => tries.entry(*req).or_default().push(*t),
            TraceEvent::Response { outcome, latency_ns, .. } => {
                out.push((outcome.clone(), *latency_ns));
            }
            _ => {}
        }
    }
    (out, tries)
}

const MS: u64 = 1_000_000;

#[test]
fn a_call_that_would_succeed_on_its_third_try_after_the_route_timeout_fails_with_a_timeout() {
    // Without a route timeout: third tries happen and succeed, past 100 ms.
    let (plain, tries) = answers(&events(&run(&design(""), 1)));
    assert!(plain.iter().all(|(o, _)| o == "ok"), "{plain:?}");
    assert!(plain.iter().any(|(_, l)| *l > 100 * MS), "some succeed on the third try");
    assert!(tries.values().any(|t| t.len() == 3));
    // With an 80 ms route timeout: those calls fail with a timeout, at 80 ms from the first
    // try; no try leaves after it; everything answered ok came within it.
    let (bounded, tries) = answers(&events(&run(&design("timeout_ms = 80"), 1)));
    let timeouts: Vec<u64> =
        bounded.iter().filter(|(o, _)| o == "timeout").map(|(_, l)| *l).collect();
    assert!(!timeouts.is_empty(), "{bounded:?}");
    assert!(timeouts.iter().all(|&l| (80 * MS..90 * MS).contains(&l)), "{timeouts:?}");
    assert!(
        bounded.iter().all(|(o, l)| o == "timeout" || (o == "ok" && *l < 80 * MS)),
        "{bounded:?}"
    );
    for t in tries.values() {
        assert!(t.iter().all(|&x| x - t[0] < 80 * MS), "a try after the route timeout: {t:?}");
    }
}

#[test]
fn a_call_within_the_route_timeout_succeeds_on_its_third_try() {
    let (within, tries) = answers(&events(&run(&design("timeout_ms = 400"), 1)));
    assert!(within.iter().all(|(o, _)| o == "ok"), "{within:?}");
    assert!(within.iter().any(|(_, l)| *l > 100 * MS));
    assert!(tries.values().any(|t| t.len() == 3));
}

#[test]
fn a_route_timeout_alone_bounds_the_single_try() {
    // No retries: the gateway's one try to a crashed replica fails at the route timeout (30 ms)
    // instead of the gateway's own (500 ms).
    let text = design("timeout_ms = 30").replace(
        "  retries = { attempts = 3, per_try_timeout_ms = 50, retry_on = [\"timeout\"], base_interval_ms = 1 }\n",
        "",
    );
    let (answers, _) = answers(&events(&run(&text, 1)));
    let timeouts: Vec<u64> =
        answers.iter().filter(|(o, _)| o == "timeout").map(|(_, l)| *l).collect();
    assert!(!timeouts.is_empty());
    assert!(timeouts.iter().all(|&l| (30 * MS..40 * MS).contains(&l)), "{timeouts:?}");
}
