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

/// A run of `s` whose trace is replaced by `events`, each at its own time (ms).
fn written_at(s: &Scenario, events: &[(u64, Ev)]) -> RunResult {
    let mut o = RunOptions::new(1);
    o.trace = TraceMode::Off;
    let mut r = Sim::new(s.clone(), Box::new(Runtime::default()), &o).run();
    let mut trace = Trace::new(TraceMode::Full);
    for (ms, e) in events {
        trace.emit(SimTime(ms * 1_000_000), e);
    }
    r.trace = trace.lines().to_vec();
    r
}

/// istiod's push at 1 s that locks `front` out of `s` (propagation 10 to 400 ms).
const LOCK_OUT_PUSH: &str = "[mesh.control_plane]\npropagation = { dist = \"uniform\", min_ms = 10, max_ms = 400 }\n[[mesh.push]]\nat_s = 0.5\n[[mesh.push.authorization]]\nname = \"lock\"\nservice = \"s\"\naction = \"deny\"\nfrom = [\"front\"]\n";

/// `e` (an invocation start) as the second attempt of its call.
fn retry_start(mut e: Ev) -> Ev {
    if let TraceEvent::InvocationStart { attempt, .. } = &mut e {
        *attempt = 1;
    }
    e
}

fn route(proxy: &'static str, action: &'static str) -> Ev {
    TraceEvent::MeshRoute { proxy, service: "s", action, config: 1, req: 0, detail: "authz lock" }
}

fn call(call: u64, inv: u64) -> Ev {
    TraceEvent::CallStart { call, inv, service: "s", endpoint: "get" }
}

#[test]
fn around_a_pushed_lock_out_each_request_is_judged_by_what_the_callee_held_when_it_was_sent() {
    let s = design("all = true", LOCK_OUT_PUSH);
    let ev = [
        (1, start(1, 1, "front", "client", 1)),
        (500, route("istiod", "push")),
        // Sent after istiod pushed but before s applied it: allowed.
        (600, call(7, 1)),
        (601, start(2, 2, "s", "call", 7)),
        // front applied it first: s still holds the old set.
        (650, route("front", "applied")),
        // Sent just before s applied it, invoked just after: allowed.
        (699, call(8, 1)),
        (700, route("s", "applied")),
        (701, start(3, 3, "s", "call", 8)),
    ];
    let v = judge(&s, &written_at(&s, &ev));
    assert_eq!(v.status, Status::Held, "{:?}", v.findings);
    assert!(v.notes[0].starts_with("2 invocation(s)"), "{:?}", v.notes);
    // Sent just after s applied it: a bypass, named with the configuration.
    let mut after = ev.to_vec();
    after.extend([(702, call(9, 1)), (703, start(4, 4, "s", "call", 9))]);
    let v = judge(&s, &written_at(&s, &after));
    assert_eq!(v.status, Status::Failed);
    assert_eq!(v.findings.len(), 1, "{:?}", v.findings);
    assert!(
        v.findings[0].starts_with("`front` invoked `s.get` (inv 4, at 703.0 ms), which its authorization policy under configuration 1 (after 1 push(es)) denies: a DENY policy matches it"),
        "{:?}",
        v.findings
    );
    assert_eq!(v.subjects, ["inv:4"]);
    // A retry sent after the apply is judged by its own send time, not its call's start.
    let mut retried = ev.to_vec();
    retried.extend([
        (702, TraceEvent::CallRetry { call: 8, attempt: 1, reason: "timeout" }),
        (703, retry_start(start(5, 5, "s", "call", 8))),
    ]);
    let v = judge(&s, &written_at(&s, &retried));
    assert_eq!(v.status, Status::Failed, "{:?}", v.findings);
    assert_eq!(v.subjects, ["inv:5"]);
    // A client request of the gateway is judged from its arrival.
    let mut gateway = ev.to_vec();
    gateway.extend([
        (
            710,
            TraceEvent::Arrival { req: 6, service: "s", endpoint: "get", body: Default::default() },
        ),
        (711, start(6, 6, "s", "client", 6)),
    ]);
    let v = judge(&s, &written_at(&s, &gateway));
    assert_eq!(v.status, Status::Held, "the lock-out names front only: {:?}", v.findings);
}

#[test]
fn a_callee_outside_the_mesh_is_judged_by_what_istiod_pushed() {
    let s = design("services = [\"front\"]", LOCK_OUT_PUSH);
    let ev = [
        (1, start(1, 1, "front", "client", 1)),
        (2, call(7, 1)),
        (3, start(2, 2, "s", "call", 7)),
        (500, route("istiod", "push")),
        (501, call(8, 1)),
        (502, start(3, 3, "s", "call", 8)),
    ];
    let v = judge(&s, &written_at(&s, &ev));
    assert_eq!(v.status, Status::Failed);
    assert_eq!(v.subjects, ["inv:3"], "{:?}", v.findings);
}

#[test]
fn a_pushed_lock_out_holds_on_a_run_and_its_bypass_is_caught() {
    // Meshed: s's sidecar enforces the lock-out from its own apply time — no false alarm
    // around the push, and denials happened.
    let s = design("all = true", LOCK_OUT_PUSH);
    let v = judge(&s, &run(&s));
    assert_eq!(v.status, Status::Held, "{:?}", v.findings);
    assert!(!v.notes[0].contains(" 0 request(s) refused"), "denials happened: {:?}", v.notes);
    // A push opening s to front after a declared lock-out: front's calls served after s
    // applied it are fine (judging by the declared policies alone would flag them).
    let open = ONLY_GATEWAY.replace("service = \"s\"", "name = \"s-in\"\nservice = \"s\"")
        + "[mesh.control_plane]\npropagation = { dist = \"uniform\", min_ms = 10, max_ms = 400 }\n[[mesh.push]]\nat_s = 0.5\n[[mesh.push.authorization]]\nname = \"s-in\"\nservice = \"s\"\nfrom = [\"gateway\", \"front\"]\n";
    let s = design("all = true", &open);
    let r = run(&s);
    let v = judge(&s, &r);
    assert_eq!(v.status, Status::Held, "{:?}", v.findings);
    let served_calls = crate::trace::read(&r.trace)
        .filter_map(Result::ok)
        .filter(|l| matches!(&l.event, TraceEvent::InvocationStart { service, cause, .. } if service == "s" && cause == "call"))
        .count();
    assert!(served_calls > 0, "front's calls were served after the push");
    // Outside the mesh, nobody enforces the lock-out: front's calls after the push are caught.
    let s = design("services = [\"front\"]", LOCK_OUT_PUSH);
    let v = judge(&s, &run(&s));
    assert_eq!(v.status, Status::Failed);
    assert!(v.findings[0].contains("under configuration 1"), "{:?}", v.findings);
}
