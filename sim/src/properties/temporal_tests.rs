//! Each pattern on synthetic traces written through the simulator's own writer: it catches a
//! violation, raises no false alarm on a correct trace, and treats the end of the run and its
//! scopes as documented in the module.

use fusebench_model::Scenario;
use fusebench_model::scenario::{On, Selector};

use super::super::tests::TWO;
use super::super::{Status, Verdict, check};
use crate::runtime::Runtime;
use crate::system::{RunOptions, RunResult, Sim};
use crate::time::SimTime;
use crate::trace::{Trace, TraceEvent, TraceMode};

/// [`TWO`] with the given `[[temporal]]` text; a real run of it whose trace is replaced by
/// `events` (at their times, in ms) and whose end is `end_ms`.
fn run(temporal: &str, events: &[(u64, TraceEvent<String>)], end_ms: u64) -> (Scenario, RunResult) {
    let text = format!("{TWO}\n{temporal}");
    let parsed = fusebench_model::parse("two.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    let s = parsed.scenario.expect("parses");
    let mut options = RunOptions::new(1);
    options.trace = TraceMode::Off;
    let mut run = Sim::new(s.clone(), Box::new(Runtime::default()), &options).run();
    let mut trace = Trace::new(TraceMode::Full);
    for (ms, e) in events {
        trace.emit(SimTime(ms * 1_000_000), &e.map(String::as_str));
    }
    run.trace = trace.lines().to_vec();
    run.end = SimTime(end_ms * 1_000_000);
    (s, run)
}

fn verdict(temporal: &str, events: &[(u64, TraceEvent<String>)], end_ms: u64) -> Verdict {
    let (s, run) = run(temporal, events, end_ms);
    let name = s.temporal[0].name.clone();
    check(&s, &run).into_iter().find(|v| v.id == name).expect("a verdict for the property")
}

fn ms(t: u64) -> SimTime {
    SimTime(t * 1_000_000)
}

/// Invocation `inv` of `service.get` receiving `input`.
fn start(inv: u64, service: &str, input: &str) -> TraceEvent<String> {
    TraceEvent::InvocationStart {
        inv,
        req: inv,
        service: service.into(),
        endpoint: "get".into(),
        replica: 0,
        instance: 1,
        fresh: true,
        cause: "client".into(),
        source: inv,
        group: String::new(),
        attempt: 0,
        copy: 0,
        idem_key: String::new(),
        input: input.into(),
    }
}

fn end(inv: u64, outcome: &str, output: &str) -> TraceEvent<String> {
    TraceEvent::InvocationEnd { inv, fuel: 1, outcome: outcome.into(), output: output.into() }
}

fn publish(msg: u64, body: &str) -> TraceEvent<String> {
    TraceEvent::Publish { channel: "events".into(), msg, inv: 0, body: body.into() }
}

fn deliver(msg: u64) -> TraceEvent<String> {
    TraceEvent::Deliver { channel: "events".into(), msg, group: "b".into(), attempt: 1 }
}

fn fault(start: bool) -> TraceEvent<String> {
    if start {
        TraceEvent::FaultStart { index: 0, kind: "crash".into() }
    } else {
        TraceEvent::FaultEnd { index: 0, kind: "crash".into() }
    }
}

const RESPONSE: &str = r#"
[[temporal]]
name = "a-then-b"
pattern = "response"
trigger = { on = "answer", service = "a", endpoint = "get", outcome = "ok" }
response = { on = "request", service = "b", endpoint = "get" }
same = { "body.id" = "body.id" }
within_ms = 100
"#;

#[test]
fn response_holds_on_time_and_fails_late_dated_at_the_deadline() {
    let on_time = [
        (0, start(1, "a", "{}")),
        (10, end(1, "ok", r#"{"id":"x"}"#)),
        (50, start(2, "b", r#"{"id":"x"}"#)),
    ];
    let v = verdict(RESPONSE, &on_time, 1000);
    assert_eq!(v.status, Status::Held, "{v:#?}");

    let late = [
        (0, start(1, "a", "{}")),
        (10, end(1, "ok", r#"{"id":"x"}"#)),
        (50, start(2, "b", r#"{"id":"y"}"#)),
        (200, start(3, "b", r#"{"id":"x"}"#)),
    ];
    let v = verdict(RESPONSE, &late, 1000);
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert_eq!(v.at, Some(ms(110)), "dated at the deadline");
    let f = &v.findings[0];
    // Dated at the deadline, and saying when the trigger happened and how late the answer
    // came: otherwise "at 0.11 s … came at 0.2 s" reads as an answer within 100 ms.
    assert!(
        f.starts_with(
            "response violated: at 0.110000s: answer `ok` of a.get (req 1, inv 1) at 0.010000s"
        ),
        "{f}"
    );
    assert!(f.contains(r#"body.id = "x""#), "{f}");
    assert!(f.ends_with("(it came at 0.200000s, 190 ms after, too late)"), "{f}");
    assert_eq!(v.subjects, ["a"]);

    // A response to another id does not count, even on time.
    let wrong = [(10, end(1, "ok", r#"{"id":"x"}"#)), (20, start(2, "b", r#"{"id":"y"}"#))];
    let wrong = [vec![(0, start(1, "a", "{}"))], wrong.to_vec()].concat();
    assert_eq!(verdict(RESPONSE, &wrong, 1000).status, Status::Failed);
}

#[test]
fn response_at_the_end_of_the_run_is_not_judged() {
    // The deadline (960 ms) lies after the end (950 ms): nothing refutes it yet.
    let events = [(0, start(1, "a", "{}")), (860, end(1, "ok", r#"{"id":"x"}"#))];
    let v = verdict(RESPONSE, &events, 950);
    assert_eq!(v.status, Status::NotExercised, "{v:#?}");
    assert!(v.notes.iter().any(|n| n.contains("1 trigger(s) still awaiting")), "{v:#?}");

    // One judged trigger and one pending at the end: held, the pending one noted.
    let events = [
        (0, start(1, "a", "{}")),
        (10, end(1, "ok", r#"{"id":"x"}"#)),
        (20, start(2, "b", r#"{"id":"x"}"#)),
        (900, start(3, "a", "{}")),
        (901, end(3, "ok", r#"{"id":"z"}"#)),
    ];
    let v = verdict(RESPONSE, &events, 950);
    assert_eq!(v.status, Status::Held, "{v:#?}");
    assert!(v.notes.iter().any(|n| n.contains("1 trigger(s) judged")), "{v:#?}");

    // The same pending trigger with the run going on past its deadline: a violation.
    let v = verdict(RESPONSE, &events, 1200);
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert_eq!(v.at, Some(ms(1001)));

    // No trigger at all: not exercised.
    let v = verdict(RESPONSE, &[(0, start(2, "b", r#"{"id":"x"}"#))], 1000);
    assert_eq!(v.status, Status::NotExercised);
}

#[test]
fn response_correlates_an_answer_by_the_request_it_answers() {
    let t = r#"
[[temporal]]
name = "b-answers"
pattern = "response"
trigger = { on = "request", service = "a" }
response = { on = "answer", service = "b", outcome = "ok" }
same = { "body.id" = "request.id" }
within_ms = 100
"#;
    let events = [
        (0, start(1, "a", r#"{"id":7}"#)),
        (10, start(2, "b", r#"{"id":7}"#)),
        (20, end(2, "ok", r#"{"ok":true}"#)),
    ];
    assert_eq!(verdict(t, &events, 1000).status, Status::Held);
    let failing = [
        (0, start(1, "a", r#"{"id":7}"#)),
        (10, start(2, "b", r#"{"id":7}"#)),
        (20, end(2, "unavailable", "{}")),
    ];
    assert_eq!(verdict(t, &failing, 1000).status, Status::Failed);
}

#[test]
fn absence_and_existence() {
    let absence = r#"
[[temporal]]
name = "never-fails"
pattern = "absence"
event = { on = "answer", service = "a", outcome = "unavailable" }
"#;
    let good = [(0, start(1, "a", "{}")), (5, end(1, "ok", "{}"))];
    assert_eq!(verdict(absence, &good, 1000).status, Status::Held);
    let bad = [(0, start(1, "a", "{}")), (5, end(1, "unavailable", "{}"))];
    let v = verdict(absence, &bad, 1000);
    assert_eq!(v.status, Status::Failed);
    assert_eq!(v.at, Some(ms(5)));
    assert!(
        v.findings[0].contains("answer `unavailable` of a.get (req 1, inv 1) happened"),
        "{v:#?}"
    );

    let existence = r#"
[[temporal]]
name = "b-is-asked"
pattern = "existence"
event = { on = "request", service = "b" }
"#;
    let v = verdict(existence, &good, 1000);
    assert_eq!(v.status, Status::Failed);
    assert_eq!(v.at, Some(ms(1000)), "dated at the end of the run");
    let asked = [(0, start(1, "b", "{}"))];
    assert_eq!(verdict(existence, &asked, 1000).status, Status::Held);
}

#[test]
fn universality_over_selected_events() {
    let t = r#"
[[temporal]]
name = "positive-totals"
pattern = "universality"
event = { on = "answer", service = "a", outcome = "ok" }
holds = { "body.total" = { gt = 0 }, "body.currency" = { prefix = "EU" } }
"#;
    let good = [(0, start(1, "a", "{}")), (5, end(1, "ok", r#"{"total":3,"currency":"EUR"}"#))];
    assert_eq!(verdict(t, &good, 1000).status, Status::Held);
    let bad = [
        (0, start(1, "a", "{}")),
        (5, end(1, "ok", r#"{"total":3,"currency":"EUR"}"#)),
        (6, start(2, "a", "{}")),
        (9, end(2, "ok", r#"{"total":0,"currency":"EUR"}"#)),
    ];
    let v = verdict(t, &bad, 1000);
    assert_eq!(v.status, Status::Failed);
    assert_eq!(v.at, Some(ms(9)));
    assert!(v.findings[0].contains("body.total > 0 (it is 0)"), "{v:#?}");
    // An error answer is not selected; with no selected event nothing is judged.
    let none = [(0, start(1, "a", "{}")), (5, end(1, "unavailable", r#"{"total":0}"#))];
    assert_eq!(verdict(t, &none, 1000).status, Status::NotExercised);
}

#[test]
fn precedence_a_message_is_never_consumed_before_it_is_published() {
    let t = r#"
[[temporal]]
name = "published-first"
pattern = "precedence"
event = { on = "deliver" }
cause = { on = "publish" }
same = { "msg" = "msg" }
"#;
    let good = [(0, publish(1, "{}")), (5, deliver(1)), (6, deliver(1))];
    assert_eq!(verdict(t, &good, 1000).status, Status::Held);
    let bad = [(0, publish(1, "{}")), (5, deliver(2)), (6, publish(2, "{}"))];
    let v = verdict(t, &bad, 1000);
    assert_eq!(v.status, Status::Failed);
    assert_eq!(v.at, Some(ms(5)));
    assert!(
        v.findings[0]
            .contains("delivery on events to b (msg 2) with msg = 2 was not preceded by publish"),
        "{v:#?}"
    );
    assert_eq!(v.subjects, ["events"]);
    assert_eq!(verdict(t, &[(0, publish(1, "{}"))], 1000).status, Status::NotExercised);
}

#[test]
fn uniqueness_while_open() {
    let t = r#"
[[temporal]]
name = "one-ride-per-driver"
pattern = "uniqueness"
event = { on = "answer", service = "a", outcome = "ok" }
key = "body.driver_id"
until = { on = "request", service = "b" }
same = { "body.ride_id" = "body.ride_id" }
"#;
    let ride =
        |ride: &str, driver: &str| format!(r#"{{"ride_id":"{ride}","driver_id":"{driver}"}}"#);
    // r1 and r2 both get d1, and r1 is still open when r2 is assigned.
    let bad = [
        (0, start(1, "a", "{}")),
        (1, end(1, "ok", &ride("r1", "d1"))),
        (2, start(2, "a", "{}")),
        (3, end(2, "ok", &ride("r2", "d1"))),
    ];
    let v = verdict(t, &bad, 1000);
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert_eq!(v.at, Some(ms(3)));
    assert!(
        v.findings[0].contains(
            r#"has body.driver_id = "d1", like answer `ok` of a.get (req 1, inv 1), still open"#
        ),
        "{v:#?}"
    );
    // r1 finished (b is told about ride r1) before d1 is assigned again: fine.
    let good = [
        (0, start(1, "a", "{}")),
        (1, end(1, "ok", &ride("r1", "d1"))),
        (2, start(3, "b", r#"{"ride_id":"r1"}"#)),
        (3, start(2, "a", "{}")),
        (4, end(2, "ok", &ride("r2", "d1"))),
    ];
    assert_eq!(verdict(t, &good, 1000).status, Status::Held);
    // Closing another ride does not close r1.
    let other = [
        (0, start(1, "a", "{}")),
        (1, end(1, "ok", &ride("r1", "d1"))),
        (2, start(3, "b", r#"{"ride_id":"r9"}"#)),
        (3, start(2, "a", "{}")),
        (4, end(2, "ok", &ride("r2", "d1"))),
    ];
    assert_eq!(verdict(t, &other, 1000).status, Status::Failed);
}

const DURING_FAULT: &str = r#"
[[temporal]]
name = "a-survives-crash"
pattern = "absence"
event = { on = "answer", service = "a", outcome = "unavailable" }
scope = { kind = "KIND", from = { on = "fault", kind = "crash" }, to = { on = "heal" } }
"#;

#[test]
fn scopes_between_and_after_until() {
    let between = DURING_FAULT.replace("KIND", "between");
    let after_until = DURING_FAULT.replace("KIND", "after-until");
    let outside = [
        (0, start(1, "a", "{}")),
        (1, end(1, "unavailable", "{}")),
        (2, fault(true)),
        (3, start(2, "a", "{}")),
        (4, end(2, "ok", "{}")),
        (5, fault(false)),
        (6, start(3, "a", "{}")),
        (7, end(3, "unavailable", "{}")),
    ];
    assert_eq!(verdict(&between, &outside, 1000).status, Status::Held);
    assert_eq!(verdict(&after_until, &outside, 1000).status, Status::Held);

    let inside = [
        (2, fault(true)),
        (3, start(2, "a", "{}")),
        (4, end(2, "unavailable", "{}")),
        (5, fault(false)),
    ];
    assert_eq!(verdict(&between, &inside, 1000).status, Status::Failed);

    // The fault never heals: `between` judges no interval, `after-until` judges the open one.
    let unhealed = &inside[..3];
    assert_eq!(verdict(&between, unhealed, 1000).status, Status::NotExercised);
    let v = verdict(&after_until, unhealed, 1000);
    assert_eq!(v.status, Status::Failed);
    assert_eq!(v.at, Some(ms(4)));

    // No fault at all: the scope never opens.
    let v = verdict(&after_until, &outside[..2], 1000);
    assert_eq!(v.status, Status::NotExercised);
}

#[test]
fn scopes_before_and_after() {
    let t = r#"
[[temporal]]
name = "b-before-fault"
pattern = "existence"
event = { on = "request", service = "b" }
scope = { kind = "before", to = { on = "fault" } }
"#;
    let good = [(0, start(1, "b", "{}")), (5, fault(true))];
    assert_eq!(verdict(t, &good, 1000).status, Status::Held);
    let bad = [(0, fault(true)), (5, start(1, "b", "{}"))];
    let v = verdict(t, &bad, 1000);
    assert_eq!(v.status, Status::Failed);
    assert_eq!(v.at, Some(ms(0)), "dated when the scope closed");

    let after = t.replace(r#"kind = "before", to"#, r#"kind = "after", from"#);
    assert_eq!(verdict(&after, &bad, 1000).status, Status::Held);
    assert_eq!(verdict(&after, &good, 1000).status, Status::Failed);
}

#[test]
fn response_in_a_closed_interval_must_come_before_it_closes() {
    let t = r#"
[[temporal]]
name = "answered-before-heal"
pattern = "response"
trigger = { on = "request", service = "a" }
response = { on = "answer", service = "a" }
same = { "inv" = "inv" }
scope = { kind = "between", from = { on = "fault" }, to = { on = "heal" } }
"#;
    let bad =
        [(0, fault(true)), (1, start(1, "a", "{}")), (5, fault(false)), (6, end(1, "ok", "{}"))];
    let v = verdict(t, &bad, 1000);
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert_eq!(v.at, Some(ms(5)));
    assert!(v.findings[0].contains("before the scope closed (fault crash ending)"), "{v:#?}");
    let good =
        [(0, fault(true)), (1, start(1, "a", "{}")), (4, end(1, "ok", "{}")), (5, fault(false))];
    assert_eq!(verdict(t, &good, 1000).status, Status::Held);
}

#[test]
fn temporal_properties_join_the_catalogue_with_their_summaries() {
    let (s, _) = run(RESPONSE, &[], 1000);
    let cat = super::super::catalogue(&s);
    let last = cat.last().expect("some properties");
    assert_eq!(last.id, "a-then-b");
    assert_eq!(
        last.summary,
        "temporal response: every answer `ok` of a.get is followed by request to b.get with body.id = that body.id within 100 ms"
    );
    assert_eq!(cat.len(), super::super::PROPERTIES.len() + 1);
}

/// A selector naming every event of kind `on`, whatever its names and body.
fn every(on: On) -> Selector {
    Selector {
        on,
        service: None,
        endpoint: None,
        outcome: None,
        channel: None,
        group: None,
        store: None,
        key: None,
        kind: None,
        conditions: Vec::new(),
        field: String::new(),
        span: Default::default(),
    }
}

/// Properties whose scopes name events their patterns do not (the shipped scenarios' are all
/// global), for the shop.
const SCOPED: &str = r#"
[[temporal]]
name = "charged-while-an-order-is-open"
pattern = "existence"
event = { on = "request", service = "payments" }
scope = { kind = "between", from = { on = "client-request", service = "orders", endpoint = "create_order" }, to = { on = "client-answer", service = "orders", endpoint = "create_order" } }

[[temporal]]
name = "no-charge-between-publish-and-delivery"
pattern = "absence"
event = { on = "answer", service = "payments", outcome = "ok" }
scope = { kind = "after-until", from = { on = "publish", channel = "order-events" }, to = { on = "deliver", channel = "order-events" } }

[[temporal]]
name = "reserved-before-the-first-shipment"
pattern = "universality"
event = { on = "answer", service = "inventory", outcome = "ok" }
holds = { "body.reserved" = { exists = true } }
scope = { kind = "before", to = { on = "publish", channel = "shipment-events" } }

[[temporal]]
name = "writes-after-the-first-shipment-delivered"
pattern = "existence"
event = { on = "write", store = "orders-db" }
scope = { kind = "after", from = { on = "deliver", channel = "shipment-events" } }
"#;

/// Leaving out the events no selector names changes no verdict: on real runs of the shipped
/// scenarios with temporal properties (held and violated, faults, message deliveries, writes),
/// each property judged on the kept events reads exactly as judged on every event. The kept
/// events are also fewer, or the test would not test the leaving out.
#[test]
fn leaving_out_unnamed_events_changes_no_verdict() {
    use super::{events, judge, selectors};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let all: Vec<Selector> = [
        On::Request,
        On::Answer,
        On::ClientRequest,
        On::ClientAnswer,
        On::Publish,
        On::Deliver,
        On::Write,
        On::Fault,
        On::Heal,
    ]
    .into_iter()
    .map(every)
    .collect();
    let all: Vec<&Selector> = all.iter().collect();
    let mut failed = 0;
    for (file, extra) in [
        ("scenarios/shop/shop.toml", SCOPED),
        ("scenarios/mesh/shop-crash.toml", ""),
        ("scenarios/rides/rides.toml", ""),
        ("scenarios/flawed/temporal-double-charge.toml", ""),
        ("scenarios/flawed/rides-double-assignment.toml", ""),
        ("scenarios/flawed/rollout-breaks-orders.toml", ""),
    ] {
        let path = root.join(file);
        let text = crate::load::read_text(&path, crate::load::Input::Scenario)
            .expect("the scenario reads")
            + extra;
        let loaded = crate::load::load_text(&path, &text).expect("the scenario loads");
        let s = &loaded.scenario;
        let rt = crate::setup::build_runtime(s, &loaded.files).expect("the modules load");
        let mut o = RunOptions::new(1);
        o.trace = TraceMode::Full;
        o.duration = Some(SimTime(3_000_000_000));
        let r = Sim::new(s.clone(), Box::new(rt), &o).run();
        let judged = super::super::Judged::of(&r);
        let every_event = events(&judged, &all).expect("the trace reads back");
        let kept = events(&judged, &selectors(s)).expect("the trace reads back");
        assert!(kept.len() < every_event.len(), "{file}: nothing was left out");
        for t in &s.temporal {
            let v = judge(t, &kept, r.end);
            assert_eq!(v, judge(t, &every_event, r.end), "{file}: {}", t.name);
            failed += usize::from(v.failed());
        }
    }
    assert!(failed > 0, "some property of the flawed designs fails");
}

#[test]
fn a_delay_reads_in_milliseconds_to_the_microsecond() {
    use super::millis_text;
    assert_eq!(millis_text(8_001_359_123), "8001.359");
    assert_eq!(millis_text(190_000_000), "190");
    assert_eq!(millis_text(10_000_000_000), "10000");
    assert_eq!(millis_text(100_000), "0.1");
    assert_eq!(millis_text(999), "0");
}

/// A write by invocation `inv` of `db`'s `key`.
fn write(inv: u64, key: &str) -> TraceEvent<String> {
    TraceEvent::StoreWrite {
        store: "db".into(),
        replica: 0,
        key: key.into(),
        version: inv + 1,
        inv,
        prev_version: 0,
        changed: true,
        value: Some("{}".into()),
    }
}

#[test]
fn the_first_invocation_s_writes_correlate_like_any_other() {
    // Invocation ids start at 0: its write carries `inv = 0`, which is an id, not "none".
    let t = r#"
[[store]]
name = "db"
kind = "kv"
nodes = ["n"]

[[temporal]]
name = "written-by-a-request"
pattern = "precedence"
event = { on = "write", store = "db" }
cause = { on = "request", service = "a" }
same = { "inv" = "inv" }
"#;
    let good = [
        (0, start(0, "a", "{}")),
        (1, write(0, "k")),
        (2, start(1, "a", "{}")),
        (3, write(1, "k")),
    ];
    let v = verdict(t, &good, 1000);
    assert_eq!(v.status, Status::Held, "{v:#?}");
    let bad = [(0, start(1, "a", "{}")), (1, write(0, "k"))];
    assert_eq!(verdict(t, &bad, 1000).status, Status::Failed);
}

#[test]
fn whole_numbers_compare_exactly_and_by_value() {
    let absence = |value: &str| {
        format!(
            "[[temporal]]\nname = \"no-such-id\"\npattern = \"absence\"\nevent = {{ on = \"answer\", service = \"a\", where = {{ \"body.id\" = {value} }} }}\n"
        )
    };
    let answered = |body: &str| [(0, start(1, "a", "{}")), (1, end(1, "ok", body))];
    // 2^53 and 2^53 + 1 are one float but two ids.
    let big = answered(r#"{"id":9007199254740992}"#);
    assert_eq!(verdict(&absence("9007199254740993"), &big, 1000).status, Status::Held);
    assert_eq!(verdict(&absence("9007199254740992"), &big, 1000).status, Status::Failed);
    // By value: 1 = 1.0, both ways.
    assert_eq!(verdict(&absence("1"), &answered(r#"{"id":1.0}"#), 1000).status, Status::Failed);
    assert_eq!(verdict(&absence("1.0"), &answered(r#"{"id":1}"#), 1000).status, Status::Failed);
    assert_eq!(verdict(&absence("1.5"), &answered(r#"{"id":1}"#), 1000).status, Status::Held);
}

#[test]
fn a_condition_reads_a_body_as_the_guest_wrote_it_not_its_trace_escape() {
    // The trace doubles a literal U+FFFD (`trace::bytes_text`); the condition's literal is the
    // guest's text.
    let t = "[[temporal]]\nname = \"no-odd-id\"\npattern = \"absence\"\nevent = { on = \"answer\", service = \"a\", where = { \"body.t\" = \"t\u{FFFD}1\" } }\n";
    let body = crate::trace::str_text("{\"t\":\"t\u{FFFD}1\"}").into_owned();
    assert!(body.contains("t\u{FFFD}\u{FFFD}1"), "the trace's text: {body}");
    let events = [(0, start(1, "a", "{}")), (1, end(1, "ok", &body))];
    assert_eq!(verdict(t, &events, 1000).status, Status::Failed);
}
