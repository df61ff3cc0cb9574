//! `[[temporal]]` parsing: each pattern and scope reads into its type; every mistake is an
//! error at its line and column with a hint where one helps; events the design cannot produce
//! are warnings; no text makes the reader panic.

use proptest::prelude::*;

use super::super::parse;
use super::*;
use crate::diagnostic::Severity;

const BASE: &str = r#"
[system]
name = "rides"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[gateway]
node = "n"
[[store]]
name = "rides-db"
kind = "kv"
nodes = ["n"]
[[store]]
name = "bus"
kind = "broker"
nodes = ["n"]
[[channel]]
name = "ride-events"
kind = "queue"
broker = "bus"
[[channel]]
name = "audit"
kind = "queue"
broker = "bus"
[[service]]
name = "rides"
context = "c"
node = "n"
owns = ["rides-db"]
publishes = ["ride-events"]
  [service.service_time]
  distribution = { dist = "constant", ms = 1.0 }
  [[service.endpoint]]
  name = "request_ride"
  method = "POST"
  path = "/rides"
  public = true
  [[service.endpoint]]
  name = "finish_ride"
  method = "POST"
  path = "/rides/finish"
  public = true
  [[service.endpoint]]
  name = "admin"
  method = "POST"
  path = "/admin"
  public = true
[[service]]
name = "billing"
context = "c"
node = "n"
  [service.service_time]
  distribution = { dist = "constant", ms = 1.0 }
  [[service.endpoint]]
  name = "on_ride"
  [[service.subscribe]]
  channel = "ride-events"
  endpoint = "on_ride"
[workload]
duration_s = 1
arrival = { kind = "constant", rate_rps = 5 }
  [[workload.mix]]
  service = "rides"
  endpoint = "request_ride"
  [[workload.mix]]
  service = "rides"
  endpoint = "finish_ride"
"#;

fn parsed(temporal: &str) -> crate::scenario::Parsed {
    parse("t.toml", &format!("{BASE}{temporal}"))
}

/// The diagnostics of `temporal` appended to [`BASE`], as `line:col severity[code] message |
/// hint` strings (lines of the whole file).
fn diags(temporal: &str) -> Vec<String> {
    parsed(temporal)
        .diagnostics
        .iter()
        .map(|d| {
            let loc =
                d.location.as_ref().map(|l| format!("{}:{}", l.line, l.column)).unwrap_or_default();
            format!(
                "{loc} {}[{}] {} | {}",
                d.severity,
                d.code,
                d.message,
                d.hint.as_deref().unwrap_or("")
            )
        })
        .collect()
}

/// The line (1-based, in the whole file) of the first line of `temporal` containing `needle`.
fn line_of(temporal: &str, needle: &str) -> usize {
    let base_lines = BASE.lines().count();
    base_lines + temporal.lines().position(|l| l.contains(needle)).expect("needle") + 1
}

#[test]
fn every_pattern_and_scope_reads() {
    let t = r#"
[[temporal]]
name = "ride-billed"
description = "every ride is billed within 2 s"
pattern = "response"
trigger = { on = "answer", service = "rides", endpoint = "request_ride", outcome = "ok", where = { "body.status" = "assigned", "body.fare" = { gt = 0 } } }
response = { on = "deliver", channel = "ride-events", group = "billing" }
same = { "body.ride_id" = "body.ride_id" }
within_ms = 2000
scope = { kind = "after-until", from = { on = "fault", kind = "crash" }, to = { on = "heal" } }

[[temporal]]
name = "one-ride-per-driver"
pattern = "uniqueness"
event = { on = "answer", service = "rides", endpoint = "request_ride", outcome = "ok" }
key = "body.driver_id"
until = { on = "request", service = "rides", endpoint = "finish_ride" }
same = { "body.ride_id" = "body.ride_id" }

[[temporal]]
name = "published-first"
pattern = "precedence"
event = { on = "deliver", channel = "ride-events" }
cause = { on = "publish", channel = "ride-events", service = "rides" }
same = { msg = "msg" }
scope = "global"

[[temporal]]
name = "no-admin"
pattern = "absence"
event = { on = "client-request", service = "rides", endpoint = "finish_ride" }
scope = { kind = "before", to = { on = "client-answer", service = "rides" } }

[[temporal]]
name = "some-write"
pattern = "existence"
event = { on = "write", store = "rides-db", key = "k", where = { key = { prefix = "ride/" }, "body.items.0" = { exists = true } } }
scope = { kind = "between", from = { on = "fault" }, to = { on = "heal" } }

[[temporal]]
name = "fares-positive"
pattern = "universality"
event = { on = "answer", service = "rides" }
holds = { "request.fare" = { ge = 0.5 } }
scope = { kind = "after", from = { on = "request", service = "billing" } }
"#;
    let p = parsed(t);
    assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
    let s = p.ok().expect("valid");
    let names: Vec<&str> = s.temporal.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ride-billed",
            "one-ride-per-driver",
            "published-first",
            "no-admin",
            "some-write",
            "fares-positive"
        ]
    );
    let Pattern::Response { trigger, response, same, within_ms } = &s.temporal[0].pattern else {
        panic!("response: {:#?}", s.temporal[0]);
    };
    assert_eq!(trigger.on, On::Answer);
    assert_eq!(trigger.outcome.as_deref(), Some("ok"));
    assert_eq!(trigger.conditions.len(), 2);
    assert_eq!(trigger.conditions[1].op, Op::Gt);
    assert_eq!(trigger.conditions[1].value, serde_json::json!(0));
    assert_eq!(response.group.as_deref(), Some("billing"));
    assert_eq!(same[0].first.segments, ["ride_id"]);
    assert_eq!(*within_ms, Some(2000.0));
    assert!(matches!(s.temporal[0].scope, Scope::AfterUntil { .. }));
    let Pattern::Uniqueness { key, until, .. } = &s.temporal[1].pattern else { panic!() };
    assert_eq!(key.text, "body.driver_id");
    assert!(until.is_some());
    let Pattern::Precedence { same, .. } = &s.temporal[2].pattern else { panic!() };
    assert_eq!(same[0].first.root, Root::Msg);
    assert!(matches!(s.temporal[3].scope, Scope::Before { .. }));
    let Pattern::Existence { event } = &s.temporal[4].pattern else { panic!() };
    assert_eq!(event.conditions[0].op, Op::Prefix);
    assert_eq!(event.conditions[1].path.segments, ["items", "0"]);
    let Pattern::Universality { holds, .. } = &s.temporal[5].pattern else { panic!() };
    assert_eq!(holds[0].path.root, Root::Request);
    assert!(matches!(s.temporal[5].scope, Scope::After { .. }));
}

#[test]
fn unknown_names_are_located_with_a_hint() {
    let t = r#"
[[temporal]]
name = "x"
pattern = "response"
trigger = { on = "answer", service = "ride", endpoint = "request_ride" }
response = { on = "answer", service = "rides", endpoint = "request_rid" }
same = { "body.id" = "body.id" }
[[temporal]]
name = "y"
pattern = "absence"
event = { on = "publish", channel = "ride-event" }
[[temporal]]
name = "z"
pattern = "absence"
event = { on = "write", store = "ride-db" }
"#;
    let d = diags(t);
    let col = |needle: &str, what: &str| {
        let line = t.lines().find(|l| l.contains(needle)).expect("line");
        line.find(what).expect("col") + 1
    };
    for (needle, what, msg, hint) in [
        ("service = \"ride\"", "\"ride\"", "unknown service `ride`", "did you mean `rides`?"),
        (
            "request_rid\"",
            "\"request_rid\"",
            "unknown endpoint of `rides` `request_rid`",
            "did you mean `request_ride`?",
        ),
        (
            "ride-event\"",
            "\"ride-event\"",
            "unknown channel `ride-event`",
            "did you mean `ride-events`?",
        ),
        ("ride-db\"", "\"ride-db\"", "unknown store `ride-db`", "did you mean `rides-db`?"),
    ] {
        let expected = format!(
            "{}:{} error[parse.unknown-reference] {msg} | {hint}",
            line_of(t, needle),
            col(needle, what)
        );
        assert!(d.contains(&expected), "missing {expected:?} in {d:#?}");
    }
}

#[test]
fn mistakes_in_patterns_selectors_and_paths_are_errors() {
    let t = r#"
[[temporal]]
name = "a"
pattern = "responce"
[[temporal]]
name = "b"
pattern = "absence"
event = { on = "anwser", service = "rides" }
[[temporal]]
name = "c"
pattern = "absence"
event = { on = "answer", channel = "ride-events" }
[[temporal]]
name = "d"
pattern = "absence"
event = { on = "answer", where = { "bdy.status" = "x", "service.name" = "y", "body..x" = 1 } }
[[temporal]]
name = "e"
pattern = "absence"
event = { on = "answer", where = { "body.n" = { greater = 1 } } }
[[temporal]]
name = "e2"
pattern = "absence"
event = { on = "answer" }
within_ms = 5
[[temporal]]
name = "f"
pattern = "uniqueness"
event = { on = "answer" }
key = "body.driver"
until = { on = "request" }
[[temporal]]
name = "g"
pattern = "existence"
event = { on = "answer" }
scope = { kind = "inside", from = { on = "fault" } }
[[temporal]]
name = "h"
pattern = "precedence"
event = { on = "answer" }
[[temporal]]
name = "e2"
pattern = "existence"
event = { on = "answer" }
[[temporal]]
name = "bad name!"
pattern = "absence"
event = { on = "answer", endpoint = "admin" }
"#;
    let d = diags(t);
    let has = |line_needle: &str, text: &str| {
        let line = line_of(t, line_needle);
        assert!(
            d.iter().any(|x| x.starts_with(&format!("{line}:")) && x.contains(text)),
            "no {text:?} at line {line} in {d:#?}"
        );
    };
    has("\"responce\"", "`pattern` = \"responce\" is not one of");
    has("\"responce\"", "did you mean `response`?");
    has("\"anwser\"", "did you mean `answer`?");
    has("channel = \"ride-events\" }", "`channel` does not apply to on = \"answer\"");
    has(
        "bdy.status",
        "`bdy.status` does not start with a known event field | did you mean `body`?",
    );
    has("bdy.status", "`service` is a plain value; only `body` and `request` have fields");
    has("bdy.status", "`body..x` has an empty segment");
    has("greater", "unknown comparison `greater`");
    has("within_ms = 5", "`within_ms` does not apply to pattern `absence`");
    has("until = { on = \"request\" }", "give `same` (event path = until path)");
    has("\"inside\"", "scope `inside` is not one of");
    // A missing field is reported at its table's `[[temporal]]` header.
    let header = line_of(t, "name = \"h\"") - 1;
    let missing = format!("{header}:1 error[parse.missing-field] missing required field `cause`");
    assert!(d.iter().any(|x| x.starts_with(&missing)), "no {missing:?} in {d:#?}");
    has("name = \"bad name!\"", "may hold only letters, digits");
    has("endpoint = \"admin\"", "`endpoint` needs the `service` it belongs to");
    assert!(!d.iter().any(|x| x.contains("unknown field `from`")), "{d:#?}");
    let second = t.rfind("[[temporal]]\nname = \"e2\"").expect("second e2");
    let line = BASE.lines().count() + t[..second].lines().count() + 1;
    let dup = format!("{line}:1 error[parse.duplicate] duplicate temporal property name `e2`");
    assert!(d.iter().any(|x| x.starts_with(&dup)), "no {dup:?} in {d:#?}");
    assert!(d.iter().all(|x| x.contains("error[")), "{d:#?}");
}

#[test]
fn events_the_design_cannot_produce_are_warnings() {
    let t = r#"
[[temporal]]
name = "w1"
pattern = "existence"
event = { on = "request", service = "rides", endpoint = "admin" }
[[temporal]]
name = "w2"
pattern = "existence"
event = { on = "deliver", channel = "audit" }
[[temporal]]
name = "w3"
pattern = "existence"
event = { on = "write", store = "bus" }
[[temporal]]
name = "fine"
pattern = "response"
trigger = { on = "publish", channel = "ride-events" }
response = { on = "answer", service = "billing", endpoint = "on_ride" }
"#;
    let p = parsed(t);
    assert!(!p.has_errors(), "{:#?}", p.diagnostics);
    let warnings: Vec<String> = p
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| format!("{}: {}", d.location.as_ref().map_or(0, |l| l.line), d.message))
        .collect();
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert!(
        warnings[0].starts_with(&format!(
            "{}: temporal property `w1`",
            line_of(t, "endpoint = \"admin\"")
        ))
    );
    assert!(
        warnings[0].contains(
            "no client request, declared call or subscribed channel reaches `rides.admin`"
        ),
        "{warnings:#?}"
    );
    assert!(warnings[1].contains("no service publishes to it"), "{warnings:#?}");
    assert!(warnings[2].contains("no service owns (writes) it"), "{warnings:#?}");
}

#[test]
fn an_endpoint_only_a_journey_requests_is_reachable() {
    let t = r#"
[[temporal]]
name = "admin-answered"
pattern = "existence"
event = { on = "answer", service = "rides", endpoint = "admin" }
[[temporal]]
name = "admin-asked"
pattern = "existence"
event = { on = "client-request", service = "rides", endpoint = "admin" }
"#;
    let warnings = |text: &str| -> Vec<String> {
        let p = parsed(text);
        assert!(!p.has_errors(), "{:#?}", p.diagnostics);
        let w = p.diagnostics.iter().filter(|d| d.severity == Severity::Warning);
        w.map(|d| d.message.clone()).collect()
    };
    let without = warnings(t);
    assert_eq!(without.len(), 2, "{without:#?}");
    assert!(without[1].contains("the workload never requests it"), "{without:#?}");
    let journey = r#"
[[workload.journey]]
name = "ops"
  [[workload.journey.step]]
  name = "look"
  service = "rides"
  endpoint = "admin"
"#;
    let with = warnings(&format!("{t}{journey}"));
    assert!(with.is_empty(), "a journey step is a client request: {with:#?}");
}

#[test]
fn field_paths() {
    let p = FieldPath::parse("body.items.0.sku").expect("valid");
    assert_eq!(
        (p.root, p.segments.as_slice()),
        (Root::Body, &["items".to_owned(), "0".to_owned(), "sku".to_owned()][..])
    );
    assert_eq!(FieldPath::parse("msg").expect("valid").root, Root::Msg);
    assert!(FieldPath::parse("").is_err());
    assert!(FieldPath::parse("body.").is_err());
    assert!(FieldPath::parse("$.x").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_paths_never_panic(text in "\\PC{0,40}") {
        let _ = FieldPath::parse(&text);
    }

    #[test]
    fn arbitrary_selector_text_never_panics(inner in "[a-z_\"=.,{} 0-9$-]{0,60}", key in "\\PC{0,12}") {
        let t = format!(
            "[[temporal]]\nname = \"p\"\npattern = \"uniqueness\"\nevent = {{ {inner} }}\nkey = {:?}\n",
            key
        );
        let _ = parsed(&t);
        let t = format!(
            "[[temporal]]\nname = \"p\"\npattern = \"absence\"\nevent = {{ on = \"answer\", where = {{ {:?} = {{ {inner} }} }} }}\n",
            key
        );
        let _ = parsed(&t);
    }
}
