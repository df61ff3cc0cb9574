//! Fault injection and the connection pool, each against the Envoy behaviour it follows
//! (`mesh/fault.rs`, `mesh/bulkhead.rs`).

use fusebench_model::scenario::ABORT_STATUSES;

use super::fault::abort_outcome;
use super::tests::{events, front_calls_s, outcomes, run, service};
use crate::metrics::Outcome;
use crate::rng::SimRng;
use crate::system::RunResult;
use crate::trace::TraceEvent;

/// A gateway policy for `s` with `fault`.
fn gateway_fault(fault: &str) -> String {
    format!("\n[mesh]\nall = true\n  [[mesh.policy]]\n  service = \"s\"\n  fault = {fault}\n")
}

fn aborts(r: &RunResult) -> Vec<(String, u32)> {
    events(r)
        .into_iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::MeshFault { caller, action, status, .. } if action == "abort" => {
                Some((caller, status))
            }
            _ => None,
        })
        .collect()
}

fn invocations_of(r: &RunResult, name: &str) -> usize {
    events(r)
        .iter()
        .filter(
            |(_, e)| matches!(e, TraceEvent::InvocationStart { service, .. } if service == name),
        )
        .count()
}

#[test]
fn every_abort_status_the_model_accepts_has_its_outcome() {
    for (status, name) in ABORT_STATUSES {
        assert_eq!(abort_outcome(status).map(Outcome::name), Some(name), "{status}");
    }
    assert_eq!(abort_outcome(418), None);
}

#[test]
fn an_abort_of_100_percent_answers_every_request_itself_and_the_callee_never_runs() {
    let fault = gateway_fault("{ abort = { percentage = 100, http_status = 503 } }");
    let r = run(&format!("{}{fault}", service(1, 2.0, 50.0, 1.0)), 1);
    let e = &r.metrics.endpoints["s.get"];
    // Envoy's 503 is what an unavailable destination gives: `rejected`.
    assert_eq!(e.outcomes.get(&Outcome::Rejected), Some(&r.requests_sent), "{:?}", e.outcomes);
    assert_eq!(invocations_of(&r, "s"), 0, "no aborted request reaches the callee");
    let a = aborts(&r);
    assert_eq!(a.len() as u64, r.requests_sent);
    assert!(a.iter().all(|(caller, status)| caller == "gateway" && *status == 503));
}

#[test]
fn an_abort_percentage_aborts_the_requests_the_seeded_stream_picks() {
    let fault = gateway_fault("{ abort = { percentage = 20, http_status = 500 } }");
    let r = run(&format!("{}{fault}", service(1, 2.0, 100.0, 4.0)), 7);
    let n = r.requests_sent;
    // One draw per request from the run's `mesh-fault` stream, in arrival order.
    let mut rng = SimRng::stream(7, "mesh-fault");
    let picked = (0..n).filter(|_| rng.chance(0.2)).count() as u64;
    let aborted = aborts(&r).len() as u64;
    assert_eq!(aborted, picked);
    // Binomial(n, 0.2) within 4 standard deviations.
    let (mean, sd) = (n as f64 * 0.2, (n as f64 * 0.2 * 0.8).sqrt());
    assert!((aborted as f64 - mean).abs() < 4.0 * sd, "{aborted} of {n}");
    let e = &r.metrics.endpoints["s.get"];
    assert_eq!(e.outcomes.get(&Outcome::GuestFault), Some(&aborted), "500 is a server failure");
    assert_eq!(invocations_of(&r, "s") as u64, n - aborted);
}

#[test]
fn a_zero_percent_fault_injects_nothing_and_draws_nothing() {
    let text = service(1, 2.0, 100.0, 2.0);
    let without = run(&format!("{text}\n[mesh]\nall = true\n"), 3);
    let zero = gateway_fault(
        "{ abort = { percentage = 0, http_status = 503 }, delay = { percentage = 0, fixed_delay_ms = 5 } }",
    );
    let r = run(&format!("{text}{zero}"), 3);
    assert!(aborts(&r).is_empty());
    assert_eq!(outcomes(&r, "s.get"), (r.requests_sent, 0));
    assert_eq!(r.trace_hash, without.trace_hash, "the same run, event for event");
}

#[test]
fn a_delay_adds_exactly_its_fixed_delay_to_the_latency() {
    let text = service(1, 2.0, 20.0, 1.0);
    let plain = run(&format!("{text}\n[mesh]\nall = true\n"), 1);
    let delayed = run(
        &format!(
            "{text}{}",
            gateway_fault("{ delay = { percentage = 100, fixed_delay_ms = 30 } }")
        ),
        1,
    );
    // Request for request (the same arrivals and service times: the delay draws from a stream
    // of its own), each answer comes exactly 30 ms later.
    let latencies = |r: &RunResult| -> Vec<u64> {
        events(r)
            .into_iter()
            .filter_map(|(_, e)| match e {
                TraceEvent::Response { latency_ns, .. } => Some(latency_ns),
                _ => None,
            })
            .collect()
    };
    let (before, after) = (latencies(&plain), latencies(&delayed));
    assert_eq!(before.len() as u64, plain.requests_sent);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a - b, 30_000_000, "{b} → {a}");
    }
    let delays: Vec<u64> = events(&delayed)
        .into_iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::MeshFault { action, delay_ns, .. } if action == "delay" => Some(delay_ns),
            _ => None,
        })
        .collect();
    assert_eq!(delays.len() as u64, delayed.requests_sent);
    assert!(delays.iter().all(|d| *d == 30_000_000));
}

#[test]
fn a_delay_does_not_count_against_the_proxy_s_per_try_timeout() {
    // Envoy's router starts the per-try timer once the fault filter lets the request go: a
    // 30 ms delay before a 2 ms service never trips a 20 ms per-try timeout.
    let policy = "{ delay = { percentage = 100, fixed_delay_ms = 30 } }\n  retries = { attempts = 2, per_try_timeout_ms = 20 }";
    let r = run(&format!("{}{}", service(1, 2.0, 20.0, 1.0), gateway_fault(policy)), 1);
    assert_eq!(outcomes(&r, "s.get"), (r.requests_sent, 0));
}

/// `front` (public `go`, abstract) calls `s.get` (1 ms) over a channel with `retries` for each
/// client request; front's sidecar applies `policy` to `s`.
fn meshed_caller(retries: u32, policy: &str) -> RunResult {
    let channel = format!("timeout_ms = 1000\nretries = {retries}\nbackoff_ms = 1");
    front_calls_s(&channel, 1.0, 100.0, 4.0, policy, 5)
}

/// (calls made, calls that failed for good) by `front`.
fn calls(r: &RunResult) -> (usize, usize) {
    let ev = events(r);
    let started = ev.iter().filter(|(_, e)| matches!(e, TraceEvent::CallStart { .. })).count();
    let given_up = ev
        .iter()
        .filter(|(_, e)| matches!(e, TraceEvent::CallFailed { gave_up: true, .. }))
        .count();
    (started, given_up)
}

#[test]
fn the_application_s_retries_ride_out_an_abort_its_sidecar_injects() {
    let fault = "fault = { abort = { percentage = 50, http_status = 503 } }";
    // Without retries, about half the calls fail: each abort is the call's answer.
    let (made, failed) = calls(&meshed_caller(0, fault));
    assert!(made >= 350, "{made}");
    let share = failed as f64 / made as f64;
    assert!((0.4..0.6).contains(&share), "{failed} of {made}");
    // With 3 retries (the channel's, in the application), each try is a new request to the
    // sidecar, aborted or not on its own draw: a call fails only if 4 tries in a row are
    // (0.5⁴ ≈ 6 %).
    let r = meshed_caller(3, fault);
    let (made, failed) = calls(&r);
    let share = failed as f64 / made as f64;
    assert!(share < 0.12, "{failed} of {made}");
    let reasons: Vec<String> = events(&r)
        .into_iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::CallFailed { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert!(!reasons.is_empty() && reasons.iter().all(|r| r == "rejected"), "{reasons:?}");
}

#[test]
fn the_sidecar_s_own_retries_do_not_retry_the_abort_it_injected() {
    // Envoy's fault filter answers before the router: an aborted request never reaches the
    // route's retry policy (Istio: retries are not enabled for faulted requests).
    let policy = "fault = { abort = { percentage = 50, http_status = 503 } }\n  retries = { attempts = 4, retry_on = [\"5xx\", \"unavailable\"] }";
    let r = meshed_caller(0, policy);
    let (made, given_up) = calls(&r);
    let aborted = aborts(&r).len();
    let served = invocations_of(&r, "s");
    assert_eq!(aborted + served, made, "one fault decision per call, no retry after an abort");
    // Each aborted call gave up there, and says so as a call that gave up after its tries
    // does (what `rollout-safe` reads to excuse the caller's error answer).
    assert_eq!(given_up, aborted, "every abort ends its call with a `call_failed`");
    let share = aborted as f64 / made as f64;
    assert!((0.4..0.6).contains(&share), "{aborted} of {made}");
}

#[test]
fn a_pool_of_one_connection_and_one_pending_runs_one_queues_one_refuses_one() {
    let mesh = r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "s"
  circuit_breaker = { max_connections = 1, max_pending_requests = 1 }
"#;
    // Three requests 10 ms apart into a 100 ms service.
    let r = run(&format!("{}{mesh}", service(1, 100.0, 100.0, 0.035)), 1);
    assert_eq!(r.requests_sent, 3);
    let ev = events(&r);
    let answers: Vec<(u64, String, u64)> = ev
        .iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::Response { req, outcome, .. } => Some((*req, outcome.clone(), *t)),
            _ => None,
        })
        .collect();
    let starts: Vec<u64> = ev
        .iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::InvocationStart { service, .. } if service == "s" => Some(*t),
            _ => None,
        })
        .collect();
    let outcome_of = |req: u64| answers.iter().find(|a| a.0 == req).map(|a| a.1.as_str());
    let mut reqs: Vec<u64> = answers.iter().map(|a| a.0).collect();
    reqs.sort_unstable();
    assert_eq!(reqs.len(), 3);
    // The first runs; the second waits for the first's connection, then runs; the third
    // finds the connection busy and the one pending place taken: refused at once.
    assert_eq!(outcome_of(reqs[0]), Some("ok"));
    assert_eq!(outcome_of(reqs[1]), Some("ok"));
    assert_eq!(outcome_of(reqs[2]), Some("overflow"));
    assert_eq!(starts.len(), 2);
    assert!(starts[1] >= starts[0] + 100_000_000, "{starts:?}");
    let first_answered = answers.iter().find(|a| a.0 == reqs[0]).map(|a| a.2).expect("answered");
    assert!(starts[1] > first_answered - 2_000_000, "the second ran only once the first was over");
    let refused = ev
        .iter()
        .filter(|(_, e)| matches!(e, TraceEvent::MeshRefused { filter, .. } if filter == "circuit-breaker"))
        .count();
    assert_eq!(refused, 1);
}

#[test]
fn same_seed_same_trace_with_faults_and_a_pool() {
    let policy = "{ abort = { percentage = 10, http_status = 503 }, delay = { percentage = 30, fixed_delay_ms = 5 } }\n  circuit_breaker = { max_connections = 2, max_pending_requests = 3 }";
    let text = format!("{}{}", service(1, 20.0, 150.0, 2.0), gateway_fault(policy));
    let (a, b) = (run(&text, 4), run(&text, 4));
    assert_eq!(a.trace_hash, b.trace_hash);
    let e = &a.metrics.endpoints["s.get"];
    assert!(e.outcomes.get(&Outcome::Overflow).is_some_and(|n| *n > 0), "{:?}", e.outcomes);
}

#[test]
fn each_callers_sidecar_has_its_own_pool_so_one_full_pool_refuses_no_other_proxys_request() {
    // Every client request makes `pub` publish one event on a stream that two consumer
    // services, `front1` and `front2` (both meshed), each receive; each then calls `s` (100 ms)
    // through its own sidecar, whose pool towards `s` has one connection and no pending place.
    // Clients send 3 requests 10 ms apart: each event's two calls reach `s` together, one from
    // each sidecar. Envoy keeps its pools per cluster in each Envoy: front1's busy connection is
    // not front2's, so both first calls run; each sidecar's own later calls find its one
    // connection busy and are refused.
    let text = format!(
        r#"
[[store]]
name = "mq"
kind = "broker"
nodes = ["a"]
[[channel]]
name = "rest"
kind = "rest"
timeout_ms = 1000
[[channel]]
name = "events"
kind = "event-stream"
broker = "mq"
delivery = "at-most-once"
[[service]]
name = "pub"
context = "c"
node = "a"
publishes = ["events"]
  [service.service_time]
  distribution = {{ dist = "constant", ms = 1.0 }}
  [[service.endpoint]]
  name = "post"
  method = "POST"
  path = "/post"
  public = true
    [[service.endpoint.effect]]
    publish = "events"
{}{}[[service]]
name = "s"
context = "c"
node = "b"
concurrency = 100
  [service.service_time]
  distribution = {{ dist = "constant", ms = 100.0 }}
  [[service.endpoint]]
  name = "get"
[workload]
duration_s = 0.035
arrival = {{ kind = "constant", rate_rps = 100 }}
  [[workload.mix]]
  service = "pub"
  endpoint = "post"
[mesh]
services = ["front1", "front2"]
  [[mesh.policy]]
  service = "s"
  circuit_breaker = {{ max_connections = 1, max_pending_requests = 0 }}
"#,
        consumer("front1"),
        consumer("front2"),
    );
    let r = run(&text, 2);
    assert_eq!(r.requests_sent, 3);
    let ev = events(&r);
    // Which consumer each call is made by.
    let mut caller_of_inv: std::collections::BTreeMap<u64, String> = Default::default();
    let mut caller_of_call: std::collections::BTreeMap<u64, String> = Default::default();
    let mut s_runs: Vec<(u64, String)> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for (t, e) in &ev {
        match e {
            TraceEvent::InvocationStart { inv, service, cause, source, .. } => {
                if service.starts_with("front") {
                    caller_of_inv.insert(*inv, service.clone());
                } else if service == "s" && cause == "call" {
                    s_runs.push((*t, caller_of_call[source].clone()));
                }
            }
            TraceEvent::CallStart { call, inv, service, .. } if service == "s" => {
                caller_of_call.insert(*call, caller_of_inv[inv].clone());
            }
            TraceEvent::MeshRefused { caller, target, filter, .. }
                if target == "s.get" && filter == "circuit-breaker" =>
            {
                refused.push(caller.clone());
            }
            _ => {}
        }
    }
    // The first event's two calls both ran, together (a shared pool of one would have run
    // one and refused the other).
    assert_eq!(s_runs.len(), 2, "{s_runs:?}");
    let callers: std::collections::BTreeSet<&str> =
        s_runs.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(callers.len(), 2, "one call from each sidecar ran: {s_runs:?}");
    assert!(s_runs[1].0 - s_runs[0].0 < 5_000_000, "they ran together: {s_runs:?}");
    // The two later events' calls: each refused by its own sidecar, whose connection is busy.
    refused.sort();
    assert_eq!(refused, ["front1", "front1", "front2", "front2"]);
}

/// A meshed consumer of `events` that calls `s.get` for each event.
fn consumer(name: &str) -> String {
    format!(
        r#"[[service]]
name = "{name}"
context = "c"
node = "a"
  [service.service_time]
  distribution = {{ dist = "constant", ms = 1.0 }}
  [[service.call]]
  service = "s"
  endpoint = "get"
  channel = "rest"
  [[service.endpoint]]
  name = "on_event"
    [[service.endpoint.effect]]
    call = "s.get"
  [[service.subscribe]]
  channel = "events"
  endpoint = "on_event"
"#
    )
}
