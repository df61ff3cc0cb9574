//! The story of a counterexample, read from its typed trace: which events it keeps, and how
//! they are told.

use std::collections::BTreeSet;

use serde::Deserialize as _;

use super::replay::{Role, describe, mermaid, story, story_events};
use super::{CaseOutcome, Schedule};
use crate::properties::tests::run_with;
use crate::properties::{Status, Verdict};
use crate::time::SimTime;
use crate::trace::{TraceEvent, TraceLine};

fn case(events: &[TraceEvent<&str>], subjects: &[&str]) -> CaseOutcome {
    dated(events, subjects, None)
}

/// A case whose failed verdict names `subjects` and shows at `at`.
fn dated(events: &[TraceEvent<&str>], subjects: &[&str], at: Option<SimTime>) -> CaseOutcome {
    let (s, run) = run_with(events);
    let failed = Verdict {
        id: "no-loss".into(),
        status: Status::Failed,
        findings: vec!["lost".into()],
        notes: Vec::new(),
        subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
        at,
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
        "t=   0.0000s  host REFUSED call to a:b.put (code -2, invocation 3)"
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

fn start(
    inv: u64,
    req: u64,
    service: &'static str,
    cause: &'static str,
    source: u64,
    attempt: u32,
) -> TraceEvent<&'static str> {
    TraceEvent::InvocationStart {
        inv,
        req,
        service,
        endpoint: "go",
        replica: 0,
        instance: 1,
        fresh: false,
        cause,
        source,
        group: "",
        attempt,
        copy: 0,
        idem_key: "",
        input: Default::default(),
    }
}

fn write(inv: u64, version: u64) -> TraceEvent<&'static str> {
    TraceEvent::StoreWrite {
        store: "ledger",
        replica: 0,
        key: "acct",
        version,
        inv,
        prev_version: version - 1,
        changed: true,
        value: Default::default(),
    }
}

/// One request of the background traffic: `shop` serves client request `req` alone.
fn background(req: u64) -> [TraceEvent<&'static str>; 4] {
    [
        TraceEvent::Arrival { req, service: "shop", endpoint: "go", body: Default::default() },
        start(req, req, "shop", "client", req, 0),
        TraceEvent::InvocationEnd { inv: req, fuel: 1, outcome: "ok", output: Default::default() },
        TraceEvent::Response {
            req,
            service: "shop",
            endpoint: "go",
            outcome: "ok",
            latency_ns: 1,
            body: Default::default(),
        },
    ]
}

/// 40 background requests (160 events), a partition that begins early and stays, then client
/// request 500 whose invocation calls `wallet` (call 9): the first attempt writes, times out
/// and is retried, and the retry writes again — the violation — then more background.
fn late_violation() -> (Vec<TraceEvent<&'static str>>, usize) {
    let mut events: Vec<TraceEvent<&'static str>> = Vec::new();
    for req in 0..20 {
        events.extend(background(req));
    }
    events.push(TraceEvent::FaultStart { index: 0, kind: "partition" });
    events.push(TraceEvent::FaultStart { index: 1, kind: "loss" });
    events.push(TraceEvent::FaultEnd { index: 1, kind: "loss" });
    for req in 20..40 {
        events.extend(background(req));
    }
    events.extend([
        TraceEvent::Arrival { req: 500, service: "shop", endpoint: "go", body: Default::default() },
        start(500, 500, "shop", "client", 500, 0),
        TraceEvent::CallStart { call: 9, inv: 500, service: "wallet", endpoint: "debit" },
        start(501, 501, "wallet", "call", 9, 0),
        write(501, 1),
        TraceEvent::CallFailed {
            call: 9,
            attempt: 0,
            inv: 500,
            req: 501,
            target: "wallet.debit",
            reason: "timeout",
            gave_up: false,
        },
        TraceEvent::CallRetry { call: 9, attempt: 1, reason: "timeout" },
        start(502, 502, "wallet", "call", 9, 1),
    ]);
    let violation = events.len();
    events.extend([
        write(502, 2),
        TraceEvent::InvocationEnd { inv: 502, fuel: 1, outcome: "ok", output: Default::default() },
        TraceEvent::InvocationEnd { inv: 500, fuel: 1, outcome: "ok", output: Default::default() },
        TraceEvent::Response {
            req: 500,
            service: "shop",
            endpoint: "go",
            outcome: "ok",
            latency_ns: 1,
            body: Default::default(),
        },
    ]);
    for req in 40..60 {
        events.extend(background(req));
    }
    (events, violation)
}

/// `run_with` writes one event per millisecond.
fn ms(i: usize) -> SimTime {
    SimTime(i as u64 * 1_000_000)
}

#[test]
fn a_late_violation_is_told_from_its_causal_chain_and_the_faults_active_then() {
    let (events, violation) = late_violation();
    assert!(violation > 160, "the violation is well after the first 60 events");
    let c = dated(&events, &["inv:502", "wallet"], Some(ms(violation)));
    let st = story(&c, 20).expect("reads");
    assert!(st.lines.len() <= 20, "the limit holds: {}", st.lines.len());
    let told: Vec<TraceEvent<&str>> = st.lines.iter().map(|l| l.line.event.borrowed()).collect();

    // The whole causal chain: the client request, its invocation, the call, both attempts,
    // their writes, the timeout and retry, the answer.
    for e in &events[violation - 8..violation + 4] {
        assert!(told.contains(e), "missing {e:?} from {told:#?}");
    }
    // The partition active at the violation is told first; the loss fault that ended before
    // it, and every unrelated early request, are not.
    assert_eq!(told[0], events[80]);
    assert_eq!(st.active_faults.len(), 1);
    assert_eq!(st.active_faults[0].event.borrowed(), events[80]);
    assert!(!told.contains(&events[81]) && !told.contains(&events[82]), "{told:#?}");
    assert!(!told.contains(&events[0]) && !told.contains(&events[1]), "{told:#?}");
    assert_eq!(
        st.lines[1].line.t,
        ms(violation - 8),
        "after the active fault, the story starts with the violating request: {told:#?}"
    );
    // Roles and the marker: the chain is marked, the marker sits before the violating write.
    let m = st.marker.expect("a dated story has a marker");
    assert_eq!(st.lines[m].line.event.borrowed(), events[violation]);
    assert_eq!(st.lines[m].role, Role::Chain);
    assert_eq!(st.lines[0].role, Role::Fault);
    assert_eq!(st.at, Some(ms(violation)));
    assert_eq!(st.violated, ["no-loss"]);
    assert_eq!(st.chain_left_out, 0);

    // A tighter limit keeps what is nearest the violation, and says what it left out.
    let short = story(&c, 5).expect("reads");
    assert_eq!(short.lines.len(), 5);
    assert!(short.lines.iter().any(|l| l.line.event.borrowed() == events[violation]));
    assert!(short.chain_left_out > 0);
    assert_eq!(story_events(&c, 5).expect("reads").len(), 5);
}

#[test]
fn the_chain_follows_calls_down_and_causes_up_but_not_the_causes_other_effects() {
    let (events, violation) = late_violation();
    // Seeded with the call only: its attempts, their writes, the calling invocation and its
    // client request are the chain; background requests naming no subject are not told.
    let c = dated(&events, &["call:9"], Some(ms(violation)));
    let st = story(&c, 100).expect("reads");
    let chain: BTreeSet<usize> = st
        .lines
        .iter()
        .filter(|l| l.role == Role::Chain)
        .map(|l| events.iter().position(|e| *e == l.line.event.borrowed()).expect("an event"))
        .collect();
    let expected: BTreeSet<usize> = (violation - 8..violation + 4).collect();
    assert_eq!(chain, expected);
    assert!(st.lines.iter().all(|l| l.role != Role::Context), "no name subject, no context");
}

#[test]
fn an_undated_violation_is_told_from_the_run_start() {
    let (events, _) = late_violation();
    let c = dated(&events, &["shop"], None);
    let st = story(&c, 10).expect("reads");
    assert_eq!((st.at, st.marker), (None, None));
    assert_eq!(st.lines[0].line.event.borrowed(), events[0]);
    assert_eq!(st.lines.len(), 10);
}

/// The kinds the derive accepts on a trace line, asked from serde (reading an unknown `ev`
/// makes it list every variant it knows): the describe test covers exactly those.
fn kinds_known_to_serde() -> Vec<&'static str> {
    #[derive(Debug)]
    struct Expected(Vec<&'static str>);
    impl std::fmt::Display for Expected {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "expected one of {:?}", self.0)
        }
    }
    impl std::error::Error for Expected {}
    impl serde::de::Error for Expected {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Expected(Vec::new())
        }
        fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
            Expected(expected.to_vec())
        }
    }
    let fields = [("ev", "no such kind")].into_iter();
    let de = serde::de::value::MapDeserializer::<_, Expected>::new(fields);
    match TraceEvent::<String>::deserialize(de) {
        Err(Expected(kinds)) => kinds,
        Ok(e) => panic!("an unknown kind was read as {e:?}"),
    }
}

/// One event of every kind, with the values the simulator writes: plain names, and JSON text
/// where the trace carries JSON (a guest's input, an idempotency key).
fn every_kind() -> Vec<TraceEvent<&'static str>> {
    vec![
        TraceEvent::RunStart { system: "shop", seed: 7 },
        TraceEvent::Registered { service: "orders", replica: 1 },
        TraceEvent::Deregistered { service: "orders", replica: 1, reason: "crashed" },
        TraceEvent::Arrival {
            req: 3,
            service: "orders",
            endpoint: "create",
            body: Default::default(),
        },
        TraceEvent::Dropped { what: "request", id: 3, from: "edge", to: "core", reason: "loss" },
        TraceEvent::Rejected { req: 3, service: "orders", replica: 0, reason: "queue full" },
        TraceEvent::InvocationStart {
            inv: 4,
            req: 3,
            service: "orders",
            endpoint: "create",
            replica: 0,
            instance: 2,
            fresh: true,
            cause: "message",
            source: 9,
            group: "mailer",
            attempt: 2,
            copy: 1,
            idem_key: "\"order-17\"",
            input: Default::default(),
        },
        TraceEvent::HostOp { inv: 4, op: "kv_put", target: "orders-db" },
        TraceEvent::Refused { inv: 4, import: "call", target: "orders:pay.debit", code: -2 },
        TraceEvent::InvocationEnd { inv: 4, fuel: 1200, outcome: "ok", output: Default::default() },
        TraceEvent::GuestFault {
            inv: 4,
            service: "orders",
            cause: "trap: unreachable",
            input: "{\"sku\":\"a\",\"n\":1}",
        },
        TraceEvent::Log { service: "orders", level: "info", message: "created order 17" },
        TraceEvent::Response {
            req: 3,
            service: "orders",
            endpoint: "create",
            outcome: "ok",
            latency_ns: 1_500_000,
            body: Default::default(),
        },
        TraceEvent::CallRetry { call: 5, attempt: 1, reason: "timeout" },
        TraceEvent::CallStart { call: 5, inv: 4, service: "pay", endpoint: "debit" },
        TraceEvent::StoreWrite {
            store: "orders-db",
            replica: 0,
            key: "o17",
            version: 3,
            inv: 4,
            prev_version: 2,
            changed: false,
            value: Default::default(),
        },
        TraceEvent::StoreApply {
            store: "orders-db",
            replica: 1,
            key: "o17",
            version: 3,
            applied: true,
        },
        TraceEvent::CacheWrite { inv: 4, cache: "hot", key: "o17", changed: true },
        TraceEvent::StoreRead { inv: 4, store: "orders-db", replica: 0, key: "o17", version: 3 },
        TraceEvent::CacheRead {
            inv: 4,
            cache: "hot",
            key: "o17",
            store_version: 3,
            differs_ns: 2_000_000,
        },
        TraceEvent::WorkOf { inv: 4, work: "msg:9/mailer" },
        TraceEvent::StoreAcked { inv: 4, store: "orders-db", key: "o17", version: 3 },
        TraceEvent::ReplicaMissed { store: "orders-db", replica: 2, key: "o17", version: 3 },
        TraceEvent::Publish { channel: "order-events", msg: 9, inv: 4, body: Default::default() },
        TraceEvent::Deliver { channel: "order-events", msg: 9, group: "mailer", attempt: 2 },
        TraceEvent::Acked { channel: "order-events", msg: 9, group: "mailer" },
        TraceEvent::FaultStart { index: 0, kind: "partition" },
        TraceEvent::FaultEnd { index: 0, kind: "partition" },
        TraceEvent::ReplicaDown { service: "orders", replica: 1 },
        TraceEvent::ReplicaUp { service: "orders", replica: 1 },
        TraceEvent::Ejected { caller: "shop", service: "orders", replica: 1, until_ns: 5 },
        TraceEvent::CacheLookup { inv: 4, cache: "hot", hit: false },
        TraceEvent::RunEnd { events: 1000 },
        TraceEvent::LimitHit { inv: 4, service: "orders", limit: "memory", count: 2 },
        TraceEvent::CallFailed {
            call: 5,
            attempt: 0,
            inv: 4,
            req: 6,
            target: "pay.debit",
            reason: "timeout",
            gave_up: true,
        },
        TraceEvent::OpTimeout { inv: 4, target: "orders-db" },
        TraceEvent::Nacked {
            channel: "order-events",
            msg: 9,
            group: "mailer",
            attempt: 2,
            outcome: "guest-fault",
            req: 12,
        },
        TraceEvent::OomKilled {
            inv: 12,
            service: "sessions",
            replica: 1,
            node: "edge-box",
            bytes: 2 << 20,
            others: 5 << 20,
            capacity: 6 << 20,
        },
        TraceEvent::CacheDelete { inv: 12, cache: "menu-cache", key: "item/4", existed: true },
        TraceEvent::CacheEvict { inv: 12, cache: "menu-cache", key: "item/1" },
        TraceEvent::Scale {
            service: "orders",
            from: 2,
            to: 4,
            metric: "concurrency",
            value_milli: 9_500,
            desired: 4,
            reason: "scale up",
        },
        TraceEvent::ReplicaState { service: "orders", replica: 3, state: "starting" },
        TraceEvent::JourneyStart { journey: "checkout", id: 3 },
        TraceEvent::JourneyStep { id: 3, step: 1, name: "order", req: 40 },
        TraceEvent::JourneyEnd {
            journey: "checkout",
            id: 3,
            outcome: "failed",
            step: "order",
            steps: 2,
            latency_ns: 9_000_000,
            reason: "the answer of step browse has no field sku",
        },
        TraceEvent::Sidecar { req: 40, leg: "request", latency_ns: 500_000 },
        TraceEvent::MeshRefused {
            caller: "gateway",
            target: "payments.charge",
            filter: "circuit-breaker",
            req: 41,
        },
        TraceEvent::GatewayTry { req: 40, attempt: 1, try_req: 44, after: "timeout" },
        TraceEvent::MeshFilter {
            proxy: "gateway",
            filter: "api-key",
            req: 45,
            action: "stop",
            detail: "401",
        },
        TraceEvent::Activator {
            req: 45,
            service: "thumbnails",
            endpoint: "resize",
            action: "released",
            waited_ns: 120_000_000,
            buffered: 0,
        },
        TraceEvent::ColdStart {
            service: "thumbnails",
            replica: 0,
            fetch_ns: 80_000_000,
            compile_ns: 2_000_000,
            instantiate_ns: 20_000,
        },
        TraceEvent::MeshFault {
            caller: "orders",
            target: "payments.charge",
            req: 46,
            action: "abort",
            delay_ns: 0,
            status: 503,
        },
        TraceEvent::PolicyFault { service: "resize", reason: "decide faulted: out of fuel" },
        TraceEvent::Rollout {
            service: "catalog",
            step: "ready",
            replica: 3,
            version: 1,
            desired: 2,
        },
        TraceEvent::MeshRoute {
            proxy: "orders",
            service: "payments",
            action: "routed",
            config: 1,
            req: 47,
            detail: "v2",
        },
    ]
}

#[test]
fn every_kind_of_event_is_told_in_words() {
    let samples = every_kind();
    let sampled: BTreeSet<&str> = samples.iter().map(TraceEvent::kind).collect();
    let known: BTreeSet<&str> = kinds_known_to_serde().into_iter().collect();
    assert_eq!(sampled, known, "one sample per kind of trace event");
    assert_eq!(sampled.len(), samples.len());
    for e in &samples {
        let told = describe(&at(1_000_000, e));
        let words = told.split_once("s  ").map_or("", |(_, w)| w);
        assert!(
            !told.contains(['{', '}', '"', '[']) && !told.contains("msg:"),
            "{}: JSON or Debug debris in {told:?}",
            e.kind()
        );
        // More than the kind's name: every event says what happened, in words.
        assert!(words.split(' ').count() >= 3, "{}: {told:?}", e.kind());
    }
}

#[test]
fn events_at_the_moment_of_the_violation_come_before_earlier_neighbours() {
    // Nothing in the chain but the write of invocation 9; the copy missed for good happens at
    // the same moment a few lines later, and an older apply sits just before.
    let apply =
        TraceEvent::StoreApply { store: "db", replica: 1, key: "k", version: 1, applied: true };
    let missed = TraceEvent::ReplicaMissed { store: "db", replica: 2, key: "k", version: 2 };
    let other = TraceEvent::Registered { service: "x", replica: 0 };
    let timed: [(u64, TraceEvent<&str>); 8] = [
        (0, apply.clone()),
        (1, other.clone()),
        (2, other.clone()),
        (5, write_of(9)),
        (5, other.clone()),
        (5, other.clone()),
        (5, other.clone()),
        (5, missed.clone()),
    ];
    let mut c = dated(&[], &["inv:9", "db"], Some(SimTime(5)));
    let mut trace = crate::trace::Trace::new(crate::trace::TraceMode::Full);
    for (t, e) in &timed {
        trace.emit(SimTime(*t), e);
    }
    c.run.trace = trace.lines().to_vec();
    let st = story(&c, 2).expect("reads");
    let told: Vec<TraceEvent<&str>> = st.lines.iter().map(|l| l.line.event.borrowed()).collect();
    assert_eq!(told, [write_of(9), missed]);
}

fn write_of(inv: u64) -> TraceEvent<&'static str> {
    TraceEvent::StoreWrite {
        store: "db",
        replica: 0,
        key: "k",
        version: 2,
        inv,
        prev_version: 1,
        changed: true,
        value: Default::default(),
    }
}
