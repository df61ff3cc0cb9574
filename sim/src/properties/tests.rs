//! Each property that reads the trace, fed the event kinds it depends on through the real
//! writer: a renamed kind or field, or a property looking at the wrong one, fails here instead
//! of quietly passing.

use fusebench_model::Scenario;

use super::{Status, Verdict, check};
use crate::runtime::{HostOp, Runtime};
use crate::system::{RunOptions, RunResult, Sim};
use crate::time::SimTime;
use crate::trace::{Trace, TraceEvent, TraceMode};

/// Two abstract services (no calls declared), a little traffic to `a`.
pub(crate) const TWO: &str = r#"
[system]
name = "two"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[gateway]
node = "n"
[[service]]
name = "a"
context = "c"
node = "n"
  [service.service_time]
  distribution = { dist = "constant", ms = 1.0 }
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/a"
  public = true
[[service]]
name = "b"
context = "c"
node = "n"
  [service.service_time]
  distribution = { dist = "constant", ms = 1.0 }
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/b"
  public = true
[workload]
duration_s = 1
arrival = { kind = "constant", rate_rps = 5 }
  [[workload.mix]]
  service = "a"
  endpoint = "get"
"#;

/// A real run of [`TWO`] (so metrics and counts are consistent) whose trace is replaced by
/// `events`, written through the simulator's own writer.
pub(crate) fn run_with(events: &[TraceEvent<&str>]) -> (Scenario, RunResult) {
    let s = fusebench_model::parse("two.toml", TWO).scenario.expect("parses");
    let mut options = RunOptions::new(1);
    options.trace = TraceMode::Off;
    let mut run = Sim::new(s.clone(), Box::new(Runtime::default()), &options).run();
    assert!(run.requests_sent > 0 && run.requests_sent == run.requests_answered);
    let mut trace = Trace::new(TraceMode::Full);
    for (i, e) in events.iter().enumerate() {
        trace.emit(SimTime(i as u64 * 1_000_000), e);
    }
    run.trace = trace.lines().to_vec();
    (s, run)
}

fn verdict(s: &Scenario, run: &RunResult, id: &str) -> Verdict {
    let verdicts = check(s, run);
    verdicts.into_iter().find(|v| v.id == id).unwrap_or_else(|| panic!("no verdict {id}"))
}

/// The verdict of property `id` on `run` (for the tests beside each property).
pub(crate) fn verdict_of(s: &Scenario, run: &RunResult, id: &str) -> Verdict {
    verdict(s, run, id)
}

/// The name the runtime gives the `call` import, as the simulator traces it.
fn call_op() -> &'static str {
    HostOp::Call { service: "b".into(), endpoint: "get".into(), request: Vec::new() }.import()
}

#[test]
fn containment_counts_guest_faults_by_service_and_cause() {
    let fault = TraceEvent::GuestFault {
        inv: 1,
        service: "a",
        cause: "trap: unreachable",
        input: "{\"sku\":1}",
    };
    let other =
        TraceEvent::GuestFault { inv: 2, service: "a", cause: "trap: unreachable", input: "{}" };
    let (s, run) = run_with(&[fault, other]);
    let v = verdict(&s, &run, "sandbox-containment");
    assert!(!v.passed());
    assert_eq!(
        v.findings[0],
        "guest of `a` faulted 2 time(s): trap: unreachable; first at 0.0 ms on input {\"sku\":1}"
    );
    assert_eq!(v.subjects, ["a", "inv:1"]);
    assert_eq!(v.at, Some(SimTime(0)), "dated by the first guest fault");

    // No guest ran: nothing to judge, which is not a pass.
    let (s, run) = run_with(&[TraceEvent::Registered { service: "a", replica: 0 }]);
    let v = verdict(&s, &run, "sandbox-containment");
    assert_eq!(v.status, Status::NotExercised, "{v:#?}");
}

#[test]
fn coupling_attributes_calls_to_the_invoking_service_and_reports_refusals() {
    let events = [
        TraceEvent::InvocationStart {
            inv: 7,
            req: 1,
            service: "a",
            endpoint: "get",
            replica: 0,
            instance: 1,
            fresh: true,
            cause: "client",
            source: 0,
            group: "",
            attempt: 0,
            copy: 0,
            idem_key: "",
            input: Default::default(),
        },
        TraceEvent::HostOp { inv: 7, op: call_op(), target: "b.get" },
        TraceEvent::HostOp { inv: 7, op: call_op(), target: "b.get" },
        TraceEvent::HostOp { inv: 7, op: "kv_get", target: "b.get" },
        TraceEvent::Refused { inv: 7, import: call_op(), target: "a:b.put", code: -2 },
    ];
    let (s, run) = run_with(&events);
    let v = verdict(&s, &run, "dynamic-coupling");
    assert!(!v.passed());
    assert!(
        v.findings.contains(&"`a` called `b.put` without declaring it: refused by the host 1 time(s) (`call` returned -2): an undeclared dependency".to_owned()),
        "{v:#?}"
    );
    assert!(v.notes.iter().any(|n| n.starts_with("a → b.get: 2 calls")), "{v:#?}");
    // Only calls between a and b in this trace: measured coupling 1.0, above 0.5.
    assert!(v.findings.iter().any(|f| f.starts_with("measured Coupling(a, b) = 1.00")), "{v:#?}");
    assert_eq!(v.subjects, ["a", "b", "inv:7"]);
    assert_eq!(v.at, Some(SimTime(4_000_000)), "dated by the refusal, the 5th event");

    // An abstract service that did nothing: not exercised, not a pass.
    let (s, run) = run_with(&events[..1]);
    assert_eq!(verdict(&s, &run, "dynamic-coupling").status, Status::NotExercised);
}

#[test]
fn no_loss_counts_answers_per_request() {
    let answer = |req| TraceEvent::Response {
        req,
        service: "a",
        endpoint: "get",
        outcome: "ok",
        latency_ns: 1_000,
        body: Default::default(),
    };
    let (s, run) = run_with(&[answer(5), answer(6), answer(5)]);
    let v = verdict(&s, &run, "no-loss");
    assert_eq!(v.findings, ["request 5 was answered 2 times"]);

    let (s, run) = run_with(&[answer(5), answer(6)]);
    assert!(verdict(&s, &run, "no-loss").passed());
}

/// [`TWO`] with `a` declared as running a guest module (the trace is the test's own, so the
/// module is never loaded): for properties that judge guests.
fn with_guest(mut s: Scenario) -> Scenario {
    s.services[0].module = Some(fusebench_model::scenario::NameRef::new("a.wat"));
    s.services[1].module = Some(fusebench_model::scenario::NameRef::new("b.wat"));
    s
}

fn start(inv: u64, req: u64, service: &'static str) -> TraceEvent<&'static str> {
    TraceEvent::InvocationStart {
        inv,
        req,
        service,
        endpoint: "get",
        replica: 0,
        instance: 1,
        fresh: false,
        cause: "client",
        source: req,
        group: "",
        attempt: 0,
        copy: 0,
        idem_key: "",
        input: Default::default(),
    }
}

fn end(inv: u64, outcome: &'static str) -> TraceEvent<&'static str> {
    TraceEvent::InvocationEnd { inv, fuel: 10, outcome, output: Default::default() }
}

fn call_failed(inv: u64, req: u64, reason: &'static str) -> TraceEvent<&'static str> {
    TraceEvent::CallFailed { call: 1, attempt: 0, inv, req, target: "b.get", reason, gave_up: true }
}

fn client(req: u64, outcome: &'static str) -> TraceEvent<&'static str> {
    TraceEvent::Response {
        req,
        service: "a",
        endpoint: "get",
        outcome,
        latency_ns: 1,
        body: Default::default(),
    }
}

#[test]
fn containment_holds_for_guests_that_stay_inside_their_sandbox() {
    let (s, run) = run_with(&[start(1, 1, "a"), end(1, "ok"), client(1, "ok")]);
    let v = verdict(&with_guest(s), &run, "sandbox-containment");
    assert_eq!(v.status, Status::Held, "{v:#?}");
}

#[test]
fn containment_reports_every_absorbed_sandbox_limit() {
    let limit = |limit, count| TraceEvent::LimitHit { inv: 1, service: "a", limit, count };
    let events = [start(1, 1, "a"), limit("log-line-bytes", 2), limit("memory", 1), end(1, "ok")];
    let (s, run) = run_with(&events);
    let v = verdict(&with_guest(s), &run, "sandbox-containment");
    assert!(v.failed());
    assert_eq!(
        v.findings,
        [
            "guest of `a` hit its sandbox limit `log-line-bytes` 2 time(s) (absorbed by the host); first at 1.0 ms",
            "guest of `a` hit its sandbox limit `memory` 1 time(s) (absorbed by the host); first at 2.0 ms",
        ]
    );
}

/// `a` (healthy) calls `b`, whose guest runs until its fuel is gone: `a`'s call times out
/// while `b`'s invocation is still running, `a`'s client request fails and `a` rejects a
/// request with a full queue meanwhile.
#[test]
fn containment_blames_a_cascade_on_the_faulting_guest() {
    let events = [
        start(1, 1, "a"),
        TraceEvent::HostOp { inv: 1, op: call_op(), target: "b.get" },
        start(2, 2, "b"),
        TraceEvent::Rejected { req: 3, service: "a", replica: 0, reason: "queue full" },
        call_failed(1, 2, "timeout"),
        end(1, "contract-violation"),
        client(1, "contract-violation"),
        TraceEvent::GuestFault { inv: 2, service: "b", cause: "fuel exhausted", input: "{}" },
        end(2, "guest-fault"),
    ];
    let (s, run) = run_with(&events);
    let v = verdict(&with_guest(s), &run, "sandbox-containment");
    assert!(v.failed());
    assert!(
        v.findings.contains(&"not contained: the faulting guest of `b` made healthy `a` fail: 1 call(s) to `b` timed out and 0 failed otherwise (first at 4.0 ms), 1 of `a`'s requests failed while waiting on it, 1 request(s) were rejected by its full queue meanwhile".to_owned()),
        "{v:#?}"
    );
    assert_eq!(v.subjects, ["a", "b", "inv:1", "inv:2"]);
    assert_eq!(v.at, Some(SimTime(4_000_000)), "dated by a's call timing out, before b faults");
}

#[test]
fn containment_does_not_blame_a_guest_for_an_error_answer_its_caller_handled() {
    let events = [
        start(1, 1, "a"),
        start(2, 2, "b"),
        TraceEvent::GuestFault { inv: 2, service: "b", cause: "trap", input: "{}" },
        end(2, "guest-fault"),
        call_failed(1, 2, "guest-fault"),
        end(1, "app-error"),
        client(1, "app-error"),
    ];
    let (s, run) = run_with(&events);
    let v = verdict(&with_guest(s), &run, "sandbox-containment");
    assert_eq!(v.findings.len(), 1, "only the fault itself: {v:#?}");
    assert!(
        v.notes.iter().any(|n| n.starts_with("contained: `a` got 1 failed answer(s) from `b`"))
    );
}

#[test]
fn containment_never_blames_a_guest_for_timeouts_a_crash_caused() {
    // `b` has no guest fault: its replica crashed (a fault of the run, not of the guest).
    let events = [
        start(1, 1, "a"),
        start(2, 2, "b"),
        TraceEvent::ReplicaDown { service: "b", replica: 0 },
        call_failed(1, 2, "timeout"),
        end(1, "contract-violation"),
        client(1, "contract-violation"),
    ];
    let (s, run) = run_with(&events);
    let v = verdict(&with_guest(s), &run, "sandbox-containment");
    assert_eq!(v.status, Status::Held, "{v:#?}");
}

fn drop(id: u64, what: &'static str, reason: &'static str) -> TraceEvent<&'static str> {
    TraceEvent::Dropped { what, id, from: "n", to: "m", reason }
}

fn arrival(req: u64) -> TraceEvent<&'static str> {
    TraceEvent::Arrival { req, service: "a", endpoint: "get", body: Default::default() }
}

#[test]
fn no_loss_fails_a_request_the_system_dropped_and_the_client_only_saw_time_out() {
    let events = [arrival(1), drop(1, "request", "loss"), client(1, "timeout")];
    let (s, run) = run_with(&events);
    let v = verdict(&s, &run, "no-loss");
    assert!(v.failed());
    assert_eq!(
        v.findings,
        [
            "1 client request(s) silently dropped by the system (request loss `n` → `m`; first: request 1): the client only saw its gateway timeout"
        ]
    );
    assert_eq!(v.at, Some(SimTime(1_000_000)), "dated by the drop");
    assert!(v.subjects.contains(&"req:1".to_owned()), "{v:#?}");
}

/// A loss fault somewhere does not excuse what a link loses by design: the drop's own reason
/// says whose it was (`system/network.rs`), not whether some loss fault was active.
#[test]
fn no_loss_blames_the_design_s_lossy_link_while_a_loss_fault_is_active_elsewhere() {
    let events = [
        TraceEvent::FaultStart { index: 0, kind: "loss" },
        arrival(1),
        drop(1, "request", "loss"),
        client(1, "timeout"),
    ];
    let (s, run) = run_with(&events);
    let v = verdict(&s, &run, "no-loss");
    assert!(v.failed(), "{v:#?}");
    assert!(v.findings[0].starts_with("1 client request(s) silently dropped by the system"));
}

#[test]
fn no_loss_counts_timeouts_faults_and_rejections_apart_from_losses() {
    let fault = |kind| TraceEvent::FaultStart { index: 0, kind };
    let events = [
        // Slow: timed out, nothing dropped.
        arrival(1),
        client(1, "timeout"),
        // Dropped by a loss fault: the fault's, not the design's.
        fault("loss"),
        arrival(2),
        drop(2, "request", "loss fault"),
        client(2, "timeout"),
        // Lost in a replica crash: an injected fault.
        arrival(3),
        drop(3, "request", "replica crashed"),
        client(3, "timeout"),
        // Dropped before it reached the gateway: the client's network.
        drop(4, "request", "loss"),
        client(4, "timeout"),
        // Rejected with a reason: an answer.
        arrival(5),
        TraceEvent::Rejected { req: 5, service: "a", replica: 0, reason: "queue full" },
        client(5, "rejected"),
    ];
    let (s, run) = run_with(&events);
    let v = verdict(&s, &run, "no-loss");
    assert_eq!(v.status, Status::Held, "{v:#?}");
    assert!(
        v.notes[0].contains("1 answered by the system (rejected 1), 4 timed out at the gateway (0 lost by the system, 2 lost to an injected fault, 1 lost between client and gateway, 1 still being served: failed, not lost)"),
        "{v:#?}"
    );
    assert_eq!(v.notes[1], "rejections with a reason are answers, not losses: queue full 1");
}

#[test]
fn no_loss_tells_a_refused_message_from_one_still_pending() {
    let nack = TraceEvent::Nacked {
        channel: "ch",
        msg: 3,
        group: "g",
        attempt: 1,
        outcome: "contract-violation",
        req: 11,
    };
    let (s, mut run) = run_with(&[nack]);
    run.unacked = vec![("ch".into(), 3, "g".into()), ("ch".into(), 4, "g".into())];
    let v = verdict(&s, &run, "no-loss");
    assert_eq!(
        v.findings,
        [
            "message 3 on at-least-once channel `ch` is lost for group `g`: its consumer refused it 1 time(s) (contract-violation) and never acknowledged it"
        ]
    );
    assert!(v.notes.iter().any(|n| n.contains("1 refused by their consumer: lost, 1 waiting in a backlog or for redelivery: pending, not lost")), "{v:#?}");
    assert_eq!((v.at, v.subjects.as_slice()), (Some(SimTime(0)), ["msg:3".to_owned()].as_slice()));

    // A backlog at the cutoff alone is not a loss.
    let (s, mut run) = run_with(&[]);
    run.unacked = vec![("ch".into(), 4, "g".into())];
    assert_eq!(verdict(&s, &run, "no-loss").status, Status::Held);
}

#[test]
fn no_loss_is_not_exercised_without_requests_or_messages() {
    let (s, mut run) = run_with(&[]);
    run.requests_sent = 0;
    run.requests_answered = 0;
    assert_eq!(verdict(&s, &run, "no-loss").status, Status::NotExercised);
}

#[test]
fn coupling_reports_refused_writes_and_publishes_by_service_and_target() {
    let refused = |import, target| TraceEvent::Refused { inv: 7, import, target, code: -2 };
    let events = [
        start(7, 1, "a"),
        refused("kv_put", "a:stock"),
        refused("kv_put", "a:stock"),
        refused("publish", "a:mails"),
    ];
    let (s, run) = run_with(&events);
    let v = verdict(&with_guest(s), &run, "dynamic-coupling");
    assert_eq!(
        v.findings,
        [
            "`a` wrote store `stock` without declaring it: refused by the host 2 time(s) (`kv_put` returned -2): an undeclared dependency",
            "`a` published to channel `mails` without declaring it: refused by the host 1 time(s) (`publish` returned -2): an undeclared dependency",
        ]
    );
}

#[test]
fn coupling_on_traffic_holds_below_coupling_max_and_fails_above_it() {
    let mut events = vec![start(7, 1, "a")];
    for req in 0..4 {
        events.push(arrival(req));
        events.push(TraceEvent::Arrival {
            req: 10 + req,
            service: "b",
            endpoint: "get",
            body: Default::default(),
        });
    }
    events.push(TraceEvent::HostOp { inv: 7, op: call_op(), target: "b.get" });
    let (s, run) = run_with(&events);
    let v = verdict(&with_guest(s.clone()), &run, "dynamic-coupling");
    assert_eq!(v.status, Status::Held, "{v:#?}");
    assert!(v.notes.contains(&"measured Coupling(a, b) = 0.11".to_owned()), "{v:#?}");

    let mut strict = with_guest(s);
    strict.quality.coupling_max = 0.1;
    let v = verdict(&strict, &run, "dynamic-coupling");
    assert!(v.failed());
    assert!(v.findings[0].starts_with("measured Coupling(a, b) = 0.11 on this run's traffic exceeds quality.coupling_max = 0.1"), "{v:#?}");
}

/// A call's retries and the network's duplicates of it re-run one interaction: only its first
/// invocation counts, and nothing the re-runs caused. Repeated calls inside one invocation are
/// traffic, and still count.
#[test]
fn coupling_counts_an_interaction_once_however_often_faults_repeat_it() {
    let serving = |inv: u64, service, cause, source: u64, attempt: u32, copy: u32| {
        let mut e = start(inv, 100 + inv, service);
        if let TraceEvent::InvocationStart { cause: c, source: s, attempt: a, copy: k, .. } = &mut e
        {
            (*c, *s, *a, *k) = (cause, source, attempt, copy);
        }
        e
    };
    let calls = |inv, service, target| {
        [
            TraceEvent::CallStart { call: 100 + inv, inv, service, endpoint: "get" },
            TraceEvent::HostOp { inv, op: call_op(), target },
        ]
    };
    let other = TraceEvent::Arrival { req: 2, service: "b", endpoint: "get", body: "" };
    // Call 40 to `a`, its duplicate copy and its retry: each calls `b` once, and `b`, serving
    // each of those three calls, calls `a` back.
    let mut events = vec![arrival(1), other];
    for (inv, attempt, copy) in [(7, 0, 0), (8, 0, 1), (9, 1, 0)] {
        events.push(serving(inv, "a", "call", 40, attempt, copy));
        events.extend(calls(inv, "b", "b.get"));
        events.push(end(inv, "ok"));
        let callee = inv + 20;
        events.push(serving(callee, "b", "call", 100 + inv, 0, 0));
        events.extend(calls(callee, "a", "a.get"));
        events.push(end(callee, "ok"));
    }
    let (s, run) = run_with(&events);
    let mut strict = with_guest(s);
    strict.quality.coupling_max = 0.5;
    let v = verdict(&strict, &run, "dynamic-coupling");
    // 2 of 4: client → a, client → b, a → b and b → a once each. Counting every invocation
    // would make it 6 of 8; counting the re-runs' own calls but not what they caused, 4 of 6.
    assert_eq!(v.status, Status::Held, "{v:#?}");
    assert!(v.notes.contains(&"measured Coupling(a, b) = 0.50".to_owned()), "{v:#?}");

    // Call 41, whose one invocation calls `b` three times: 5 of 7 between `a` and `b`.
    events.push(serving(10, "a", "call", 41, 0, 0));
    for _ in 0..3 {
        events.push(TraceEvent::HostOp { inv: 10, op: call_op(), target: "b.get" });
    }
    events.push(end(10, "ok"));
    let (_, run) = run_with(&events);
    let v = verdict(&strict, &run, "dynamic-coupling");
    assert!(v.failed(), "{v:#?}");
    assert!(
        v.findings[0].starts_with("measured Coupling(a, b) = 0.71 on this run's traffic exceeds quality.coupling_max = 0.5: 5 of 7"),
        "{v:#?}"
    );
}

/// The lines of a run read back into the allocation the run judged before it on this thread
/// left (no fresh pages per case), and they are that run's own lines: a bigger run after a
/// smaller one, a smaller after a bigger, and an unreadable one in between.
#[test]
fn recycling_keeps_the_allocation() {
    use super::Judged;
    let log = |i: u64| TraceEvent::Log {
        service: "a",
        level: "info",
        message: if i.is_multiple_of(2) { "even" } else { "odd \"quoted\"" },
    };
    let run_of = |n: u64| run_with(&(0..n).map(log).collect::<Vec<_>>()).1;
    let (big, small) = (run_of(300), run_of(7));
    let events = |run: &RunResult| {
        let judged = Judged::of(run);
        let (lines, error) = judged.lines();
        let got: Vec<_> = lines.iter().map(|l| (l.t, l.event.map(ToString::to_string))).collect();
        (got, error.cloned(), lines.as_ptr() as usize, lines.len())
    };
    let owned = |run: &RunResult| {
        crate::trace::read(&run.trace)
            .map(|l| l.map(|l| (l.t, l.event)))
            .collect::<Result<Vec<_>, _>>()
            .expect("reads back")
    };
    let (first, _, at, _) = events(&big);
    assert_eq!(first, owned(&big));
    let (second, _, again, _) = events(&small);
    assert_eq!(second, owned(&small));
    assert_eq!(again, at, "the small run's lines are not in the big run's allocation");
    let mut broken = small.clone();
    broken.trace.extend_from_slice(b"{\"t\":9,\"ev\":\"nope\"}\n");
    let (partial, error, _, len) = events(&broken);
    assert_eq!((partial, len), (owned(&small), 7));
    assert!(error.is_some(), "the unreadable line was not reported");
    let (third, _, last, _) = events(&big);
    assert_eq!(third, owned(&big));
    assert_eq!(last, at, "the big run's allocation was not kept");
}

/// A trace that does not read back (a simulator bug) leaves every property that reads it not
/// judged — never held, and not a violation to shrink — saying which line broke. (The SLOs
/// are judged on the metrics; the properties whose subject this scenario lacks — caches,
/// mesh policies, rollouts — are not exercised before they read the trace.)
#[test]
fn a_trace_that_does_not_read_back_leaves_the_properties_reading_it_not_judged() {
    let (s, mut run) = run_with(&[]);
    run.trace =
        b"{\"t\":1,\"ev\":\"run_end\",\"events\":1}\n{\"t\":2,\"ev\":\"guest_faulted\"}\n".to_vec();
    let mut unjudged = Vec::new();
    for v in check(&s, &run) {
        if v.status != Status::Error {
            assert!(v.passed(), "{v:#?}");
            continue;
        }
        assert!(!v.passed() && !v.failed() && v.findings.is_empty(), "{v:#?}");
        let why = &v.notes[0];
        assert!(why.starts_with("not judged: the run's trace could not be read back"), "{why}");
        assert!(why.contains("trace line 2") && why.contains("guest_faulted"), "{why}");
        unjudged.push(v.id.to_string());
    }
    assert_eq!(
        unjudged,
        [
            "idempotence",
            "eventual-consistency",
            "no-lost-update",
            "acked-writes-survive",
            "no-loss",
            "sandbox-containment",
            "dynamic-coupling",
            "retry-amplification"
        ]
    );
}
