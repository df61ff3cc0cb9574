//! Authorization against Istio's `AuthorizationPolicy` as Envoy's RBAC filter enforces it on
//! the callee's inbound sidecar: refused sources get 403 (`denied`), traced `rbac`, never
//! retried; a caller without a sidecar has no identity; a callee without one enforces nothing.

use fusebench_model::Scenario;

use super::super::super::tests::two_nodes;
use crate::metrics::Outcome;
use crate::system::{RunOptions, RunResult, Sim};
use crate::trace::{self, TraceEvent, TraceMode};

/// `front` (public `go`, on `a`) calls `s.get` (public too, on `b`); clients send 10 a second
/// for 1 s to each; the gateway retries `s` (3 tries) so a retried denial would show.
fn design(meshed: &str, authz: &str) -> Scenario {
    let text = design_text(meshed, authz);
    let parsed = fusebench_model::parse("authz.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

/// [`design`]'s text.
pub(super) fn design_text(meshed: &str, authz: &str) -> String {
    format!(
        r#"{}
[[channel]]
name = "rest"
kind = "rest"
timeout_ms = 500
retries = 2
[[service]]
name = "front"
context = "c"
node = "a"
concurrency = 100
  [service.service_time]
  distribution = {{ dist = "constant", ms = 1.0 }}
  [[service.call]]
  service = "s"
  endpoint = "get"
  channel = "rest"
  [[service.endpoint]]
  name = "go"
  method = "GET"
  path = "/go"
  public = true
    [[service.endpoint.effect]]
    call = "s.get"
[[service]]
name = "s"
context = "c"
node = "b"
concurrency = 100
  [service.service_time]
  distribution = {{ dist = "constant", ms = 2.0 }}
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/s"
  public = true
[workload]
duration_s = 1
arrival = {{ kind = "constant", rate_rps = 20 }}
  [[workload.mix]]
  service = "front"
  endpoint = "go"
  [[workload.mix]]
  service = "s"
  endpoint = "get"
[mesh]
{meshed}
  [[mesh.policy]]
  service = "s"
  retries = {{ attempts = 3, per_try_timeout_ms = 100 }}
{authz}"#,
        two_nodes("authz", 2000)
    )
}

fn run(s: Scenario) -> RunResult {
    let mut o = RunOptions::new(3);
    o.trace = TraceMode::Full;
    Sim::new(s, Box::new(crate::runtime::Runtime::default()), &o).run()
}

fn events(r: &RunResult) -> Vec<TraceEvent> {
    trace::read(&r.trace).map(|l| l.expect("reads back").event).collect()
}

/// (rbac refusals by caller, invocations of `s` by cause) from the trace.
fn denied_and_served(r: &RunResult) -> (Vec<String>, Vec<String>) {
    let ev = events(r);
    let denied = ev
        .iter()
        .filter_map(|e| match e {
            TraceEvent::MeshRefused { caller, target, filter, .. } if filter == "rbac" => {
                assert_eq!(target, "s.get");
                Some(caller.clone())
            }
            _ => None,
        })
        .collect();
    let served = ev
        .iter()
        .filter_map(|e| match e {
            TraceEvent::InvocationStart { service, cause, .. } if service == "s" => {
                Some(cause.clone())
            }
            _ => None,
        })
        .collect();
    (denied, served)
}

/// Client requests that arrived for `service` (the mix draws which, so counts vary).
fn arrivals(r: &RunResult, service: &str) -> usize {
    events(r)
        .iter()
        .filter(|e| matches!(e, TraceEvent::Arrival { service: s, .. } if s == service))
        .count()
}

fn outcome(r: &RunResult, key: &str, o: Outcome) -> u64 {
    r.metrics.endpoints[key].outcomes.get(&o).copied().unwrap_or(0)
}

#[test]
fn an_allow_policy_admits_its_sources_and_answers_every_other_403_once_without_retry() {
    let r =
        run(design("all = true", "[[mesh.authorization]]\nservice = \"s\"\nfrom = [\"front\"]\n"));
    let (denied, served) = denied_and_served(&r);
    // Every client request to s.get is refused at the first try: one `rbac` each, no retry.
    let clients = outcome(&r, "s.get", Outcome::Denied);
    assert_eq!(clients as usize, arrivals(&r, "s"), "{:?}", r.metrics.endpoints["s.get"].outcomes);
    assert!(clients > 0);
    assert_eq!(denied.iter().filter(|c| *c == "gateway").count() as u64, clients);
    let tries = events(&r)
        .iter()
        .filter(|e| matches!(e, TraceEvent::GatewayTry { attempt, .. } if *attempt > 0))
        .count();
    assert_eq!(tries, 0, "a denial is never retried");
    // front's calls are admitted: s serves exactly them.
    assert!(denied.iter().all(|c| c == "gateway"), "{denied:?}");
    assert_eq!(served.len(), arrivals(&r, "front"), "{served:?}");
    assert!(served.iter().all(|c| c == "call"), "{served:?}");
    assert_eq!(r.metrics.services["s"].denied, clients);
}

#[test]
fn a_caller_refused_gets_denied_and_its_channel_does_not_retry_it() {
    let r = run(design(
        "all = true",
        "[[mesh.authorization]]\nservice = \"s\"\nfrom = [\"gateway\"]\n",
    ));
    let (denied, served) = denied_and_served(&r);
    assert_eq!(denied.len(), arrivals(&r, "front"), "{denied:?}");
    assert!(denied.iter().all(|c| c == "front"), "{denied:?}");
    // Only the clients' own requests reach s; no call from front was retried.
    assert_eq!(served.len(), arrivals(&r, "s"), "{served:?}");
    assert!(!events(&r).iter().any(|e| matches!(e, TraceEvent::CallRetry { .. })));
    assert_eq!(outcome(&r, "s.get", Outcome::Ok) as usize, arrivals(&r, "s"));
}

#[test]
fn a_deny_policy_wins_over_an_allow_that_matches() {
    let authz = "[[mesh.authorization]]\nservice = \"s\"\nfrom = [\"front\", \"gateway\"]\n[[mesh.authorization]]\nservice = \"s\"\naction = \"deny\"\nfrom = [\"front\"]\n";
    let r = run(design("all = true", authz));
    let (denied, served) = denied_and_served(&r);
    assert_eq!((denied.len(), served.len()), (arrivals(&r, "front"), arrivals(&r, "s")));
    assert!(denied.iter().all(|c| c == "front"), "{denied:?}");
}

#[test]
fn a_caller_without_a_sidecar_has_no_identity_an_allow_can_name() {
    // front is outside the mesh: it presents no mTLS identity, so `from = ["front"]` does
    // not match it (Istio PERMISSIVE: plaintext has no principal).
    let authz = "[[mesh.authorization]]\nservice = \"s\"\nfrom = [\"front\", \"gateway\"]\n";
    let r = run(design("services = [\"s\"]", authz));
    let (denied, served) = denied_and_served(&r);
    assert_eq!(denied.len(), arrivals(&r, "front"), "{denied:?}");
    assert!(denied.iter().all(|c| c == "front"), "{denied:?}");
    assert_eq!(served.len(), arrivals(&r, "s"));
    // ... and so slips past a DENY that names it.
    let deny = "[[mesh.authorization]]\nservice = \"s\"\naction = \"deny\"\nfrom = [\"front\"]\n";
    let r = run(design("services = [\"s\"]", deny));
    let (denied, served) = denied_and_served(&r);
    assert_eq!((denied.len(), served.len()), (0, arrivals(&r, "front") + arrivals(&r, "s")));
}

#[test]
fn a_callee_without_a_sidecar_enforces_nothing() {
    let authz = "[[mesh.authorization]]\nservice = \"s\"\nfrom = [\"gateway\"]\n";
    let r = run(design("services = [\"front\"]", authz));
    let (denied, served) = denied_and_served(&r);
    assert_eq!((denied.len(), served.len()), (0, arrivals(&r, "front") + arrivals(&r, "s")));
}

#[test]
fn without_authorization_policies_nothing_is_denied_and_the_trace_is_the_same_seed_to_seed() {
    let a = run(design("all = true", ""));
    let b = run(design("all = true", ""));
    assert_eq!(a.trace_hash, b.trace_hash);
    let (denied, served) = denied_and_served(&a);
    assert_eq!((denied.len(), served.len()), (0, arrivals(&a, "front") + arrivals(&a, "s")));
}
