//! The story of a counterexample, read from its typed trace: which events it keeps, and how
//! they are told.

use super::replay::{describe, mermaid, story_events};
use super::{CaseOutcome, Schedule};
use crate::properties::tests::run_with;
use crate::properties::{Status, Verdict};
use crate::time::SimTime;
use crate::trace::{TraceEvent, TraceLine};

fn case(events: &[TraceEvent<&str>], subjects: &[&str]) -> CaseOutcome {
    let (s, run) = run_with(events);
    let failed = Verdict {
        id: "no-loss".into(),
        status: Status::Failed,
        findings: vec!["lost".into()],
        notes: Vec::new(),
        subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
        at: None,
    };
    CaseOutcome {
        seed: 1,
        schedule: Schedule::declared(&s),
        verdicts: vec![failed],
        trace_hash: run.trace_hash.clone(),
        run,
    }
}

#[test]
fn the_story_keeps_faults_and_events_naming_a_subject() {
    let events = [
        TraceEvent::Registered { service: "a", replica: 0 },
        TraceEvent::Registered { service: "b", replica: 0 },
        TraceEvent::StoreWrite {
            store: "a-db",
            replica: 1,
            key: "k",
            version: 3,
            inv: 1,
            prev_version: 0,
            changed: true,
            value: Default::default(),
        },
        TraceEvent::HostOp { inv: 1, op: "call", target: "a.get" },
        TraceEvent::HostOp { inv: 1, op: "call", target: "b:a" },
        TraceEvent::FaultStart { index: 0, kind: "crash" },
        TraceEvent::Refused { inv: 2, import: "call", target: "b:c.get", code: -2 },
        TraceEvent::GuestFault { inv: 3, service: "b", cause: "trap", input: "" },
        TraceEvent::FaultEnd { index: 0, kind: "crash" },
        TraceEvent::Response {
            req: 1,
            service: "b",
            endpoint: "get",
            outcome: "ok",
            latency_ns: 1,
            body: Default::default(),
        },
    ];
    let c = case(&events, &["a", "a-db"]);
    let story = story_events(&c, 100).expect("reads");
    let kept: Vec<TraceEvent<&str>> = story.iter().map(|l| l.event.borrowed()).collect();
    let expected = [0, 2, 4, 5, 6, 7, 8].map(|i| events[i].clone());
    assert_eq!(kept, expected);
    assert_eq!(story[1].t, SimTime(2_000_000), "times come from the trace");
    assert_eq!(story_events(&c, 3).expect("reads").len(), 3, "the limit holds");
}

#[test]
fn a_trace_that_does_not_read_back_is_an_error_not_a_shorter_story() {
    let mut c = case(&[TraceEvent::RunEnd { events: 1 }], &["a"]);
    c.run.trace.extend_from_slice(b"{\"t\":5,\"ev\":\"fault_start\",\"index\":\"zero\"}\n");
    let e = story_events(&c, 100).expect_err("a bad line");
    assert!(e.to_string().starts_with("trace line 2, column"), "{e}");
}

fn at(t: u64, event: &TraceEvent<&str>) -> TraceLine {
    TraceLine { t: SimTime(t), event: event.map(|s| (*s).to_owned()) }
}

#[test]
fn events_are_told_with_their_fields() {
    let told = |t, e: &TraceEvent<&str>| describe(&at(t, e));
    assert_eq!(
        told(
            1_500_000_000,
            &TraceEvent::Response {
                req: 9,
                service: "orders",
                endpoint: "create",
                outcome: "timeout",
                latency_ns: 2_340_000,
                body: Default::default(),
            }
        ),
        "t=   1.5000s  client gets timeout from orders.create after 2.3 ms"
    );
    assert_eq!(
        told(
            0,
            &TraceEvent::StoreApply {
                store: "db",
                replica: 2,
                key: "k1",
                version: 4,
                applied: false
            }
        ),
        "t=   0.0000s  db replica 2 ignores older replicated k1 (version 4)"
    );
    assert_eq!(
        told(0, &TraceEvent::Refused { inv: 3, import: "call", target: "a:b.put", code: -2 }),
        "t=   0.0000s  host REFUSED call to a:b.put (code -2)"
    );
    assert_eq!(
        told(
            0,
            &TraceEvent::Dropped { what: "reply", id: 4, from: "n1", to: "n2", reason: "loss" }
        ),
        "t=   0.0000s  reply 4 from n1 to n2 dropped: loss"
    );
}

#[test]
fn the_mermaid_diagram_draws_the_conversation() {
    let story = [
        at(0, &TraceEvent::FaultStart { index: 0, kind: "partition" }),
        at(
            1,
            &TraceEvent::InvocationStart {
                inv: 1,
                req: 7,
                service: "orders-v2",
                endpoint: "create",
                replica: 0,
                instance: 1,
                fresh: false,
                cause: "client",
                source: 0,
                group: "",
                attempt: 0,
                copy: 0,
                idem_key: "",
                input: Default::default(),
            },
        ),
        at(
            2,
            &TraceEvent::StoreApply {
                store: "db",
                replica: 1,
                key: "k",
                version: 2,
                applied: true,
            },
        ),
        at(3, &TraceEvent::Deliver { channel: "events", msg: 5, group: "mail", attempt: 2 }),
        at(4, &TraceEvent::GuestFault { inv: 1, service: "orders-v2", cause: "a; b", input: "" }),
        at(5, &TraceEvent::Registered { service: "orders-v2", replica: 0 }),
    ];
    assert_eq!(
        mermaid(&story),
        "sequenceDiagram\n  participant p0 as client\n  participant p1 as orders-v2\n  participant p2 as db\n  participant p3 as broker\n  participant p4 as mail\n  Note over p0: fault start partition\n  p0->>p1: create #7\n  Note over p2: replica 1 applied=true k v2\n  p3->>p4: events msg 5 (attempt 2)\n  Note over p1: FAULT a#59; b\n"
    );
}

#[test]
fn mermaid_participants_stay_apart_and_names_cannot_inject_syntax() {
    let start = |service: &'static str, req: u64| {
        at(
            req,
            &TraceEvent::InvocationStart {
                inv: req,
                req,
                service,
                endpoint: "go\n  p0->>p0: forged",
                replica: 0,
                instance: 0,
                fresh: false,
                cause: "client",
                source: req,
                group: "",
                attempt: 0,
                copy: 0,
                idem_key: "",
                input: Default::default(),
            },
        )
    };
    let story = [start("pay_x", 1), start("pay-x", 2), start("evil\nparticipant p0 as x", 3)];
    let m = mermaid(&story);
    assert!(m.contains("participant p1 as pay_x\n  participant p2 as pay-x\n"), "{m}");
    assert!(m.contains("p0->>p1:") && m.contains("p0->>p2:") && m.contains("p0->>p3:"), "{m}");
    // Every line is one of the diagram's own: a name's newline cannot start a line.
    for line in m.lines().skip(1) {
        assert!(
            line.starts_with("  participant p") || line.starts_with("  p"),
            "a name broke out onto its own line: {line:?} in {m}"
        );
    }
    assert!(!m.contains("forged\n"), "{m}");
}
