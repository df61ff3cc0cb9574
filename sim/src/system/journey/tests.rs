//! Journeys in the engine: answers flow into later steps' bodies, an error answer or a
//! missing field ends a journey at its step, closed-loop users run one journey at a time, and
//! a run stays a pure function of its seed.

use std::sync::{Arc, Mutex};

use serde_json::{Value as Json, json};

use super::super::*;
use crate::runtime::fake::report;
use crate::runtime::{
    HostContext, HostReply, InvocationId, InvokeError, Response, ServiceHost, Slice, SliceOutcome,
};
use crate::trace::{self, TraceEvent};

/// The shared topology (`system/tests.rs`), then these tests' services.
fn base() -> String {
    super::super::tests::two_nodes("j", 500) + SERVICES
}

/// The services of these tests, after the shared topology (`base`).
const SERVICES: &str = r#"
[[service]]
name = "app"
context = "c"
node = "b"
module = "app.wasm"
concurrency = 16
  [[service.endpoint]]
  name = "start"
  method = "POST"
  path = "/start"
  public = true
  response = { token = "string", n = "integer" }
  [[service.endpoint]]
  name = "use"
  method = "POST"
  path = "/use"
  public = true
  request = { token = "string" }
  response = { got = "string" }
  EXPECTED
  [[service.endpoint]]
  name = "done"
  method = "POST"
  path = "/done"
  public = true
  request = { n = "integer", token = "string" }
"#;

/// A three-step journey: `two` sends `one`'s token, `three` sends `one`'s number (a JSON
/// integer) and the token `two` got back.
const JOURNEY: &str = r#"
  [[workload.journey]]
  name = "flow"
  weight = 1
    [[workload.journey.step]]
    name = "one"
    service = "app"
    endpoint = "start"
    [[workload.journey.step]]
    name = "two"
    service = "app"
    endpoint = "use"
    think_ms = 5
    STOP
    body = { token = "${steps.one.token}" }
    [[workload.journey.step]]
    name = "three"
    service = "app"
    endpoint = "done"
    body = { n = "${steps.one.n}", token = "${steps.two.got}" }
"#;

fn scenario(workload: &str, expected: &str, stop: &str) -> Scenario {
    let text = format!("{}{workload}{}", base().replace("EXPECTED", expected), JOURNEY)
        .replace("STOP", stop);
    let parsed = fusebench_model::parse("j.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

const CLOSED: &str = r#"
[workload]
duration_s = 2
arrival = { kind = "closed", users = 3, think_ms = 10 }
"#;

/// Every request the app received: (endpoint, body).
type Seen = Arc<Mutex<Vec<(String, Json)>>>;

/// Answers `start` with a fresh token `tok-<k>` and `n` = k, `use` with the token it was sent
/// (or an error when `use_fails`), `done` with `{}`; records every request.
struct App {
    seen: Seen,
    next: u64,
    use_fails: bool,
}

impl ServiceHost for App {
    fn start_in(
        &mut self,
        _service: &str,
        _pool: u32,
        endpoint: &str,
        request: &[u8],
        _ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        let invocation = InvocationId(self.next);
        self.next += 1;
        let req: Json = serde_json::from_slice(request).expect("the engine sends JSON");
        self.seen.lock().expect("not poisoned").push((endpoint.to_owned(), req.clone()));
        let json = match endpoint {
            "start" => json!({ "token": format!("tok-{}", invocation.0), "n": invocation.0 }),
            "use" if self.use_fails => json!({ "error": "boom" }),
            "use" => json!({ "got": req["token"] }),
            _ => json!({}),
        };
        let body = json.to_string();
        let outcome = SliceOutcome::Done(Response { body, json, report: report(1000) });
        Ok(Slice {
            invocation,
            fuel_used: 1000,
            outcome,
            memory: crate::runtime::InstanceMemory::NONE,
            instance: None,
        })
    }

    fn resume(
        &mut self,
        invocation: InvocationId,
        _reply: HostReply,
        _ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        Err(InvokeError::UnknownInvocation { invocation })
    }

    fn abandon(&mut self, _invocation: InvocationId) -> bool {
        false
    }
}

fn run(s: Scenario, use_fails: bool, seed: u64) -> (RunResult, Vec<(String, Json)>) {
    let seen: Seen = Arc::default();
    let host = App { seen: Arc::clone(&seen), next: 0, use_fails };
    let mut o = RunOptions::new(seed);
    o.trace = TraceMode::Full;
    let r = Sim::new(s, Box::new(host), &o).run();
    let seen = seen.lock().expect("not poisoned").clone();
    (r, seen)
}

fn events(r: &RunResult) -> Vec<TraceEvent> {
    trace::read(&r.trace).map(|l| l.expect("reads back").event).collect()
}

#[test]
fn later_steps_receive_fields_of_earlier_answers() {
    let (r, seen) = run(scenario(CLOSED, "", ""), false, 1);
    let stats = &r.journeys["flow"];
    assert!(stats.completed > 20, "{stats:?}");
    assert_eq!(stats.failed(), 0, "{stats:?}");
    assert_eq!(stats.started, stats.completed + stats.unfinished);
    let tokens: Vec<&Json> =
        seen.iter().filter(|(e, _)| e == "use").map(|(_, b)| &b["token"]).collect();
    assert!(tokens.len() as u64 >= stats.completed);
    for t in &tokens {
        let t = t.as_str().expect("a string");
        assert!(t.starts_with("tok-"), "step two got `{t}`, not step one's token");
    }
    let dones: Vec<&Json> = seen.iter().filter(|(e, _)| e == "done").map(|(_, b)| b).collect();
    assert_eq!(dones.len() as u64, stats.completed);
    for d in dones {
        // `n` came from step one as an integer; `token` went through step two and back.
        let n = d["n"].as_u64().expect("a whole reference keeps the integer");
        assert_eq!(d["token"], json!(format!("tok-{n}")), "{d}");
    }
    // Every completed journey took at least its 5 ms think time.
    assert!(stats.latencies_ns.iter().all(|&l| l >= 5_000_000), "{:?}", stats.latencies_ns);
}

#[test]
fn closed_loop_users_run_one_journey_at_a_time_and_steps_are_linked_to_it() {
    let (r, _) = run(scenario(CLOSED, "", ""), false, 2);
    let (mut live, mut most) = (0_i64, 0_i64);
    let mut step_reqs = std::collections::BTreeSet::new();
    let mut responses = std::collections::BTreeSet::new();
    for e in events(&r) {
        match e {
            TraceEvent::JourneyStart { .. } => {
                live += 1;
                most = most.max(live);
            }
            TraceEvent::JourneyEnd { .. } => live -= 1,
            TraceEvent::JourneyStep { req, .. } => {
                step_reqs.insert(req);
            }
            TraceEvent::Response { req, .. } => {
                responses.insert(req);
            }
            _ => {}
        }
    }
    assert_eq!(most, 3, "three users, each in one journey at a time");
    // No mix entry: every client request is a journey step, and each step's answer is traced.
    assert_eq!(step_reqs.len() as u64, r.requests_sent);
    assert!(step_reqs.iter().all(|q| responses.contains(q)));
}

#[test]
fn an_error_answer_ends_the_journey_at_its_step() {
    let (r, seen) = run(scenario(CLOSED, "", ""), true, 1);
    let stats = &r.journeys["flow"];
    assert_eq!(stats.completed, 0);
    assert!(stats.failed() > 20, "{stats:?}");
    assert_eq!(stats.failed_at[1], ("two".to_owned(), stats.failed()), "{stats:?}");
    assert!(seen.iter().all(|(e, _)| e != "done"), "no step after the failed one is sent");
    let reasons: Vec<String> = events(&r)
        .into_iter()
        .filter_map(|e| match e {
            TraceEvent::JourneyEnd { outcome, step, reason, .. } => {
                assert_eq!((outcome.as_str(), step.as_str()), ("failed", "two"));
                Some(reason)
            }
            _ => None,
        })
        .collect();
    assert!(reasons.iter().all(|r| r.contains("app-error")), "{reasons:?}");
}

#[test]
fn an_expected_error_goes_on_under_stop_on_unexpected_and_a_missing_field_fails_later() {
    let s = scenario(CLOSED, "expected_errors = [\"boom\"]", "stop_on = \"unexpected\"");
    let (r, seen) = run(s, true, 1);
    let stats = &r.journeys["flow"];
    assert_eq!(stats.completed, 0);
    // Step two's business error lets it go on; step three needs `got`, which the error
    // answer lacks: it fails there, before sending anything.
    assert_eq!(stats.failed_at[2], ("three".to_owned(), stats.failed()), "{stats:?}");
    assert!(stats.failed() > 20, "{stats:?}");
    assert!(seen.iter().all(|(e, _)| e != "done"));
    let why = events(&r).into_iter().find_map(|e| match e {
        TraceEvent::JourneyEnd { reason, .. } => Some(reason),
        _ => None,
    });
    assert_eq!(
        why.as_deref(),
        Some("step `three`: ${steps.two.got}: the answer has no such field")
    );
}

#[test]
fn journeys_share_the_mix_and_a_run_is_a_function_of_its_seed() {
    let open = r#"
[workload]
duration_s = 2
arrival = { kind = "poisson", rate_rps = 40 }
  [[workload.mix]]
  service = "app"
  endpoint = "start"
  weight = 1
"#;
    let (a, _) = run(scenario(open, "", ""), false, 5);
    let (b, _) = run(scenario(open, "", ""), false, 5);
    let (c, _) = run(scenario(open, "", ""), false, 6);
    assert_eq!(a.trace, b.trace);
    assert_ne!(a.trace_hash, c.trace_hash);
    let stats = &a.journeys["flow"];
    // Half the arrivals start a journey (weights 1 : 1), each sending up to three requests.
    assert!((20..60).contains(&stats.started), "{stats:?}");
    let singles = a.requests_sent - stats.started * 3;
    assert!((20..60).contains(&singles), "{} sent, {stats:?}", a.requests_sent);
}

#[test]
fn a_step_may_use_an_abstract_services_generated_answer() {
    // `one` served abstractly: its answer generated from the response contract.
    let text =
        format!("{}{CLOSED}{JOURNEY}", base().replace("EXPECTED", "")).replace("STOP", "").replace(
            "    service = \"app\"\n    endpoint = \"start\"",
            "    service = \"gen\"\n    endpoint = \"gen\"",
        ) + r#"
[[service]]
name = "gen"
context = "c"
node = "b"
  [service.service_time]
  distribution = { dist = "constant", ms = 1.0 }
  [[service.endpoint]]
  name = "gen"
  method = "GET"
  path = "/gen"
  public = true
  response = { token = "string", n = "integer" }
"#;
    let parsed = fusebench_model::parse("j.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    let (r, seen) = run(parsed.ok().expect("valid"), false, 3);
    assert!(r.journeys["flow"].completed > 20, "{:?}", r.journeys);
    let uses: Vec<&Json> = seen.iter().filter(|(e, _)| e == "use").map(|(_, b)| b).collect();
    assert!(!uses.is_empty());
    assert!(seen.iter().all(|(e, _)| e != "start"), "step one is served abstractly");
    for u in uses {
        let token = u["token"].as_str().expect("the generated string");
        assert!(!token.contains("${"), "{u}");
    }
}
