//! Authorization never bypassed, on written traces and on runs: the broken designs it must
//! catch (a callee outside the mesh, a caller outside it slipping past a DENY), the correct
//! ones it must pass, and "not exercised" when nothing protected was reached.

use fusebench_model::Scenario;

use super::super::Status;
use super::super::tests::verdict_of;
use crate::runtime::Runtime;
use crate::system::{RunOptions, RunResult, Sim};
use crate::time::SimTime;
use crate::trace::{Trace, TraceEvent, TraceMode};

type Ev = TraceEvent<&'static str>;

/// `front` (public `go`) calls `s.get` (public too); clients to both for 1 s.
fn design(meshed: &str, authz: &str) -> Scenario {
    let text = format!(
        r#"
[system]
name = "authz"
[[context]]
name = "c"
[[node]]
name = "a"
tier = "cloud"
[gateway]
node = "a"
[[channel]]
name = "rest"
kind = "rest"
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
node = "a"
concurrency = 100
  [service.service_time]
  distribution = {{ dist = "constant", ms = 1.0 }}
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
{authz}"#
    );
    let parsed = fusebench_model::parse("authz.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

const ONLY_GATEWAY: &str = "[[mesh.authorization]]\nservice = \"s\"\nfrom = [\"gateway\"]\n";
const DENY_FRONT: &str =
    "[[mesh.authorization]]\nservice = \"s\"\naction = \"deny\"\nfrom = [\"front\"]\n";

fn run(s: &Scenario) -> RunResult {
    let mut o = RunOptions::new(5);
    o.trace = TraceMode::Full;
    Sim::new(s.clone(), Box::new(Runtime::default()), &o).run()
}

/// A run of `s` whose trace is replaced by `events`.
fn written(s: &Scenario, events: &[Ev]) -> RunResult {
    let mut o = RunOptions::new(1);
    o.trace = TraceMode::Off;
    let mut r = Sim::new(s.clone(), Box::new(Runtime::default()), &o).run();
    let mut trace = Trace::new(TraceMode::Full);
    for (i, e) in events.iter().enumerate() {
        trace.emit(SimTime(i as u64 * 1_000_000), e);
    }
    r.trace = trace.lines().to_vec();
    r
}

fn start(inv: u64, req: u64, service: &'static str, cause: &'static str, source: u64) -> Ev {
    TraceEvent::InvocationStart {
        inv,
        req,
        service,
        endpoint: if service == "s" { "get" } else { "go" },
        replica: 0,
        instance: 1,
        fresh: false,
        cause,
        source,
        group: "",
        attempt: 0,
        copy: 0,
        idem_key: "",
        input: Default::default(),
    }
}

fn judge(s: &Scenario, r: &RunResult) -> super::super::Verdict {
    verdict_of(s, r, "authorization-never-bypassed")
}

#[test]
fn a_call_from_a_source_the_policy_denies_is_a_violation_naming_it() {
    let s = design("all = true", ONLY_GATEWAY);
    let ev = [
        start(1, 1, "front", "client", 1),
        TraceEvent::CallStart { call: 7, inv: 1, service: "s", endpoint: "get" },
        start(2, 2, "s", "call", 7),
    ];
    let v = judge(&s, &written(&s, &ev));
    assert_eq!(v.status, Status::Failed);
    assert!(v.findings[0].starts_with("`front` invoked `s.get` (inv 2"), "{:?}", v.findings);
    assert!(v.findings[0].contains("no ALLOW policy of it matches"), "{:?}", v.findings);
    assert_eq!(v.subjects, ["inv:2"]);
    assert_eq!(v.at, Some(SimTime(2_000_000)));
}

#[test]
fn client_requests_and_gateway_tries_come_from_the_gateway() {
    let s = design("all = true", ONLY_GATEWAY);
    let ev = [
        start(1, 1, "s", "client", 1),
        TraceEvent::GatewayTry { req: 2, attempt: 0, try_req: 3, after: "" },
        start(2, 3, "s", "call", 40),
    ];
    let v = judge(&s, &written(&s, &ev));
    assert_eq!(v.status, Status::Held, "{:?}", v.findings);
    assert!(v.notes[0].starts_with("2 invocation(s)"), "{:?}", v.notes);
    // The gateway, denied by a DENY naming it, is caught the same way.
    let s = design(
        "all = true",
        "[[mesh.authorization]]\nservice = \"s\"\naction = \"deny\"\nfrom = [\"gateway\"]\n",
    );
    let v = judge(&s, &written(&s, &ev));
    assert_eq!(v.status, Status::Failed);
    assert_eq!(v.findings.len(), 2, "{:?}", v.findings);
    assert!(v.findings.iter().all(|f| f.contains("a DENY policy matches it")));
}

#[test]
fn refusals_alone_exercise_it_and_nothing_protected_is_not_exercised() {
    let s = design("all = true", ONLY_GATEWAY);
    let refused =
        TraceEvent::MeshRefused { caller: "front", target: "s.get", filter: "rbac", req: 4 };
    let v = judge(&s, &written(&s, &[refused]));
    assert_eq!(v.status, Status::Held);
    assert!(v.notes[0].contains("1 request(s) refused"), "{:?}", v.notes);
    // Only unprotected traffic, or a refusal by another filter: nothing judged.
    let other =
        TraceEvent::MeshRefused { caller: "front", target: "s.get", filter: "rate-limit", req: 4 };
    let v = judge(&s, &written(&s, &[start(1, 1, "front", "client", 1), other]));
    assert_eq!(v.status, Status::NotExercised);
    // No policy at all.
    let s = design("all = true", "");
    let v = judge(&s, &written(&s, &[start(1, 1, "s", "client", 1)]));
    assert_eq!(v.status, Status::NotExercised);
    assert!(v.notes[0].contains("no mesh authorization policy"), "{:?}", v.notes);
}

#[test]
fn a_correct_design_holds_on_a_run_with_denials() {
    let s = design("all = true", ONLY_GATEWAY);
    let v = judge(&s, &run(&s));
    assert_eq!(v.status, Status::Held, "{:?}", v.findings);
    assert!(!v.notes[0].contains(" 0 request(s) refused"), "denials happened: {:?}", v.notes);
    let s = design("all = true", DENY_FRONT);
    assert_eq!(judge(&s, &run(&s)).status, Status::Held);
}

#[test]
fn a_callee_outside_the_mesh_is_a_bypass_on_a_run() {
    let s = design("services = [\"front\"]", ONLY_GATEWAY);
    let v = judge(&s, &run(&s));
    assert_eq!(v.status, Status::Failed);
    assert!(v.findings[0].starts_with("`front` invoked `s.get`"), "{:?}", v.findings);
}

#[test]
fn a_caller_outside_the_mesh_slipping_past_a_deny_is_a_bypass_on_a_run() {
    // front has no sidecar, so no identity: Istio's DENY naming it does not match plaintext.
    let s = design("services = [\"s\"]", DENY_FRONT);
    let v = judge(&s, &run(&s));
    assert_eq!(v.status, Status::Failed);
    assert!(v.findings.iter().all(|f| f.contains("a DENY policy matches it")), "{:?}", v.findings);
}
