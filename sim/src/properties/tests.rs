//! Each property that reads the trace, fed the event kinds it depends on through the real
//! writer: a renamed kind or field, or a property looking at the wrong one, fails here instead
//! of quietly passing.

use fusebench_model::Scenario;

use super::{Verdict, check};
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
        "guest of `a` faulted 2 time(s): trap: unreachable; first on input {\"sku\":1}"
    );
    assert_eq!(v.subjects, ["a"]);

    let (s, run) = run_with(&[TraceEvent::Registered { service: "a", replica: 0 }]);
    assert!(verdict(&s, &run, "sandbox-containment").passed());
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
        v.findings.contains(&"`a` called `b.put` 1 time(s) without declaring it (refused by the host: an undeclared dependency)".to_owned()),
        "{v:#?}"
    );
    assert!(
        v.findings.contains(&"`a` called `b.get`, which it does not declare".to_owned()),
        "{v:#?}"
    );
    assert!(v.notes.iter().any(|n| n.starts_with("a → b.get: 2 calls")), "{v:#?}");
    assert_eq!(v.subjects, ["a"]);

    let (s, run) = run_with(&events[..1]);
    assert!(verdict(&s, &run, "dynamic-coupling").passed());
}

#[test]
fn no_loss_counts_answers_per_request() {
    let answer = |req| TraceEvent::Response {
        req,
        service: "a",
        endpoint: "get",
        outcome: "ok",
        latency_ns: 1_000,
    };
    let (s, run) = run_with(&[answer(5), answer(6), answer(5)]);
    let v = verdict(&s, &run, "no-loss");
    assert_eq!(v.findings, ["request 5 was answered 2 times"]);

    let (s, run) = run_with(&[answer(5), answer(6)]);
    assert!(verdict(&s, &run, "no-loss").passed());
}

#[test]
fn a_trace_that_does_not_read_back_fails_the_properties_that_read_it() {
    let (s, mut run) = run_with(&[]);
    run.trace =
        b"{\"t\":1,\"ev\":\"run_end\",\"events\":1}\n{\"t\":2,\"ev\":\"guest_faulted\"}\n".to_vec();
    for id in ["sandbox-containment", "dynamic-coupling", "no-loss"] {
        let v = verdict(&s, &run, id);
        assert!(!v.passed(), "{id}");
        assert!(
            v.findings.iter().any(|f| f.contains("trace line 2") && f.contains("guest_faulted")),
            "{id}: {v:#?}"
        );
    }
}
