//! Invariants judged on synthetic traces written through the simulator's own writer.

use fusebench_model::Scenario;
use fusebench_model::scenario::BUILTIN_PROPERTY_IDS;

use super::super::tests::{TWO, run_with};
use super::super::{PROPERTIES, Status, Verdict, catalogue, check};
use crate::system::RunResult;
use crate::time::SimTime;
use crate::trace::TraceEvent;

/// [`TWO`] with a `ledger` store (two accounts) and the given invariants.
fn scenario(invariants: &str) -> Scenario {
    let text = format!(
        "{TWO}\n[[store]]\nname = \"ledger\"\nkind = \"kv\"\nnodes = [\"n\"]\n  [store.init]\n  \"balance/a\" = 100\n  \"balance/b\" = 50\n\n[[store]]\nname = \"other\"\nkind = \"kv\"\nnodes = [\"n\"]\n{invariants}"
    );
    let p = fusebench_model::parse("two.toml", &text);
    assert!(!p.has_errors(), "{:?}", p.diagnostics);
    p.scenario.expect("parses")
}

fn write(
    store: &'static str,
    key: &'static str,
    version: u64,
    value: Option<&'static str>,
) -> TraceEvent<&'static str> {
    TraceEvent::StoreWrite {
        store,
        replica: 0,
        key,
        version,
        inv: 1,
        prev_version: 0,
        changed: true,
        value,
    }
}

fn judged(invariants: &str, events: &[TraceEvent<&str>]) -> (Vec<Verdict>, RunResult, Scenario) {
    let s = scenario(invariants);
    let (_, run) = run_with(events);
    let verdicts: Vec<Verdict> =
        check(&s, &run).into_iter().filter(|v| !PROPERTIES.iter().any(|p| p.id == v.id)).collect();
    (verdicts, run, s)
}

const CONSERVED: &str = r#"
[[invariant]]
name = "conserved"
expr = 'sum(values(scan(stores.ledger, "balance/"))) == sum(values(scan(initial.ledger, "balance/")))'

[[invariant]]
name = "conserved-at-end"
when = "at-end"
description = "the accounts' total is the initial total once the run is over"
expr = 'sum(values(scan(stores.ledger, "balance/"))) == 150'
"#;

/// A transfer of 30 from a to b: debit first (the total is 120 for a moment), then credit.
fn transfer() -> Vec<TraceEvent<&'static str>> {
    vec![write("ledger", "balance/a", 7, Some("70")), write("ledger", "balance/b", 8, Some("80"))]
}

#[test]
fn always_and_at_end_differ_on_a_transient_violation() {
    let (v, _, _) = judged(CONSERVED, &transfer());
    assert_eq!(v.len(), 2);
    assert_eq!((v[0].id.as_ref(), v[0].status), ("conserved", Status::Failed), "{v:?}");
    // Event 0 of the trace is at 0 ms: the debit.
    assert_eq!(v[0].at, Some(SimTime(0)));
    let f = &v[0].findings[0];
    assert!(f.contains("invariant `conserved` is false (left side 120, right side 150) at 0.000 s, after `store_write` of `ledger`/`balance/a` = 70"), "{f}");
    assert!(f.contains("`ledger`/`balance/a` = 70"), "{f}");
    assert!(
        v[0].subjects.contains(&"balance/a".to_owned())
            && v[0].subjects.contains(&"ledger".to_owned())
    );
    assert_eq!((v[1].id.as_ref(), v[1].status), ("conserved-at-end", Status::Held), "{v:?}");
}

#[test]
fn a_lost_credit_fails_both_and_dates_the_at_end_violation_at_the_last_change() {
    let events =
        vec![write("ledger", "balance/a", 7, Some("70")), write("other", "x", 8, Some("1"))];
    let (v, _, _) = judged(CONSERVED, &events);
    assert!(v[0].failed() && v[1].failed(), "{v:?}");
    // The write to `other` does not concern the invariants: the last change they read is at 0 ms.
    assert_eq!(v[1].at, Some(SimTime(0)));
    assert!(v[1].findings[0].contains("on the state the run ended in"), "{:?}", v[1].findings);
    assert!(v[1].findings[0].contains("`ledger`/`balance/a` = 70"), "{:?}", v[1].findings);
}

#[test]
fn nothing_read_changed_is_not_exercised() {
    let (v, _, _) = judged(CONSERVED, &[write("other", "x", 3, Some("1"))]);
    assert!(v.iter().all(|v| v.status == Status::NotExercised), "{v:?}");
    assert!(v[0].notes[0].contains("store `ledger`"), "{:?}", v[0].notes);
    let (v, _, _) = judged(
        "[[invariant]]\nname = \"constant\"\nexpr = 'size(initial.ledger) == 2'\n",
        &transfer(),
    );
    assert_eq!(v[0].status, Status::NotExercised, "{v:?}");
}

/// Only the stores some invariant reads are followed; one that reads every store (a computed
/// store name) follows them all, and one naming a store sees its writes among others'.
#[test]
fn the_stores_followed_are_those_an_invariant_reads() {
    let other_empty = |name: &str, store: &str| {
        format!("[[invariant]]\nname = \"{name}\"\nexpr = 'size(stores[{store}]) == 0'\n")
    };
    let events = [
        write("ledger", "balance/a", 1, Some("70")),
        write("other", "x", 1, Some("1")),
        write("ledger", "balance/b", 1, Some("80")),
    ];
    for store in [r#""other""#, r#""oth" + "er""#] {
        let (v, _, _) = judged(&(other_empty("other-empty", store) + CONSERVED), &events);
        assert_eq!(v[0].status, Status::Failed, "{store}: {v:?}");
        assert!(v[0].findings[0].contains("`other`/`x` = 1"), "{store}: {:?}", v[0].findings);
        assert_eq!(v[2].status, Status::Held, "{store}: {v:?}");
    }
}

#[test]
fn an_older_version_arriving_late_does_not_replace_a_newer_one() {
    let events = vec![
        write("ledger", "balance/a", 9, Some("70")),
        write("ledger", "balance/a", 4, Some("100")),
    ];
    let (v, _, _) = judged(
        "[[invariant]]\nname = \"a-is-70\"\nwhen = \"at-end\"\nexpr = 'stores.ledger[\"balance/a\"] == 70'\n",
        &events,
    );
    assert_eq!(v[0].status, Status::Held, "{v:?}");
}

#[test]
fn an_evaluation_error_is_a_finding_naming_the_invariant() {
    let events = vec![write("ledger", "balance/a", 7, None)];
    let (v, _, _) = judged(
        "[[invariant]]\nname = \"has-a\"\nexpr = 'stores.ledger[\"balance/a\"] >= 0'\n[[invariant]]\nname = \"not-bool\"\nexpr = 'size(stores.ledger)'\n",
        &events,
    );
    assert!(v[0].failed(), "{v:?}");
    assert!(
        v[0].findings[0].starts_with("invariant `has-a` could not be evaluated ("),
        "{:?}",
        v[0].findings
    );
    // `not-bool` is not a boolean already on the initial state.
    assert!(
        v[1].findings[0].contains("evaluated to 2, not a boolean")
            && v[1].findings[0].contains("on the initial state"),
        "{:?}",
        v[1].findings
    );
}

#[test]
fn metrics_and_json_fields_are_readable() {
    let events = vec![
        TraceEvent::Arrival { req: 1, service: "a", endpoint: "get", body: "{}" },
        write("other", "order/1", 2, Some(r#"{"qty": 3, "price": 1.5, "tags": ["x"]}"#)),
        TraceEvent::Response {
            req: 1,
            service: "a",
            endpoint: "get",
            outcome: "error",
            latency_ns: 5,
            body: "",
        },
    ];
    let (v, _, _) = judged(
        "[[invariant]]\nname = \"no-errors\"\nexpr = 'errors == 0 && answered <= requests'\n[[invariant]]\nname = \"order-fields\"\nwhen = \"at-end\"\nexpr = 'stores.other[\"order/1\"].qty * 2 == 6 && sum([stores.other[\"order/1\"].price, 1]) == 2.5 && stores.other[\"order/1\"].tags == [\"x\"] && keys(stores.other) == [\"order/1\"] && now_ms == 2'\n",
        &events,
    );
    assert!(v[0].failed(), "{v:?}");
    assert_eq!(v[0].at, Some(SimTime(2_000_000)));
    assert!(
        v[0].findings[0].contains("after `response` of `a.get` (error)"),
        "{:?}",
        v[0].findings
    );
    assert_eq!(v[1].status, Status::Held, "{v:?}");
}

#[test]
fn findings_do_not_depend_on_write_order_or_hash_seeds() {
    let invariants = "[[invariant]]\nname = \"small\"\nexpr = 'values(stores.other).all(v, v < 5)'\n[[invariant]]\nname = \"listed\"\nwhen = \"at-end\"\nexpr = 'size(keys(stores.other)) == 0'\n";
    let mut events: Vec<_> = ["k1", "k2", "k3", "k4", "k5", "k6"]
        .iter()
        .enumerate()
        .map(|(i, k)| write("other", k, 10 + i as u64, Some("1")))
        .collect();
    events.push(write("other", "k9", 30, Some("7")));
    let (a, _, _) = judged(invariants, &events);
    let (b, _, _) = judged(invariants, &events);
    assert_eq!(a, b);
    let f = &a[1].findings[0];
    assert!(f.contains("`other`/`k1` = 1, `other`/`k2` = 1"), "{f}");
    events.swap(0, 5);
    let (c, _, _) = judged(invariants, &events);
    assert_eq!(a[1].findings, c[1].findings);
}

#[test]
fn the_catalogue_lists_invariants_after_the_built_in_properties() {
    let s = scenario(CONSERVED);
    let c = catalogue(&s);
    assert_eq!(c.len(), PROPERTIES.len() + 2);
    assert_eq!(c[PROPERTIES.len() + 1].id, "conserved-at-end");
    assert_eq!(
        c[PROPERTIES.len() + 1].summary,
        "the accounts' total is the initial total once the run is over (at-end)"
    );
    assert!(c[PROPERTIES.len()].summary.starts_with("sum(values(scan(stores.ledger"));
}

#[test]
fn the_model_reserves_exactly_the_built_in_ids() {
    let ids: Vec<&str> = PROPERTIES.iter().map(|p| p.id.as_ref()).collect();
    assert_eq!(ids, BUILTIN_PROPERTY_IDS);
}

/// The functions fusebench adds read their arguments in place (`CelState` lends the stores by
/// reference); every branch — results, types, arity, overflow — on a state set key by key.
#[test]
fn the_added_functions_compute_on_the_lent_state_and_refuse_wrong_arguments() {
    use std::sync::Arc;

    use cel::Value;
    use cel::common::types::CelMap;

    use super::{CelState, context, to_val};

    let mut cel = CelState { stores: CelMap::default(), initial: Box::new(CelMap::default()) };
    let text = |s: &str| Value::String(Arc::new(s.to_owned()));
    cel.set("s", "a/1", Some(to_val(&Value::Int(2))));
    cel.set("s", "a/2", Some(to_val(&Value::UInt(3))));
    cel.set("s", "b/1", Some(to_val(&Value::Float(0.5))));
    cel.set("s", "c", Some(to_val(&text("x"))));
    cel.set("s", "gone", Some(to_val(&Value::Int(1))));
    cel.set("s", "gone", None);
    cel.set("t", "k", Some(to_val(&Value::Int(1))));
    cel.set("t", "k", Some(to_val(&Value::Int(4))));
    let cx = context(&cel, SimTime::from_secs_f64(0.007), [1, 2, 3]);
    let eval = |e: &str| {
        fusebench_model::expr::compile(e).expect("parses").execute(&cx).map_err(|e| e.to_string())
    };
    let is = |e: &str, v: Value| assert_eq!(eval(e), Ok(v), "{e}");
    let fails = |e: &str, why: &str| {
        let got = eval(e);
        assert!(got.as_ref().is_err_and(|m| m.contains(why)), "{e}: {got:?}");
    };
    is(r#"sum(values(scan(stores.s, "a/")))"#, Value::Int(5));
    is(r#"sum(values(scan(stores.s, "b/"))) + 1.0"#, Value::Float(1.5));
    is("sum([1, 0.5, 2u])", Value::Float(3.5));
    is("sum([])", Value::Int(0));
    is(r#"keys(stores.s) == ["a/1", "a/2", "b/1", "c"]"#, Value::Bool(true));
    is(r#"values(scan(stores.s, "a")) == [2, 3u]"#, Value::Bool(true));
    is(r#"!("gone" in stores.s) && stores.t.k == 4 && size(initial) == 0"#, Value::Bool(true));
    is("now_ms == 7 && requests == 1 && answered == 2 && errors == 3", Value::Bool(true));
    fails(r#"sum(values(stores.s))"#, r#""x" is not a number"#);
    fails("sum([9223372036854775807, 1])", "overflow");
    fails("sum([18446744073709551615u])", "overflow");
    fails("sum(1)", "expects one list of numbers");
    fails(r#"scan(1, "a")"#, "expects a map, got 1");
    fails("scan(stores.s, 1)", "expects a string prefix");
    fails("keys(stores.s, 1)", "takes 1 argument(s), got 2");
    fails(r#"values("m")"#, "expects a map");
}

#[test]
fn an_expression_sees_the_guest_s_text_not_its_trace_escape() {
    // A value and a key holding U+FFFD are doubled in the trace (`trace::bytes_text`); the
    // expression's literals are the guest's text.
    let key = crate::trace::str_text("note/\u{FFFD}").into_owned();
    let value = crate::trace::str_text("\"a\u{FFFD}\"").into_owned();
    assert!(key.ends_with("\u{FFFD}\u{FFFD}") && value.contains("\u{FFFD}\u{FFFD}"));
    let (key, value): (&'static str, &'static str) = (key.leak(), value.leak());
    let invariant = "[[invariant]]\nname = \"note\"\nwhen = \"at-end\"\nexpr = 'stores.other[\"note/\u{FFFD}\"] == \"a\u{FFFD}\"'\n";
    let (verdicts, _, _) = judged(invariant, &[write("other", key, 3, Some(value))]);
    assert_eq!(verdicts[0].status, Status::Held, "{verdicts:#?}");
}
