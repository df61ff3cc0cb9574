//! The oracle on real runs driven by a [`FakeHost`]: each duplicate source is exercised, a
//! non-idempotent effect fails, a re-set value holds, and nothing duplicated is "not exercised".

use std::cell::Cell;
use std::rc::Rc;

use fusebench_model::Scenario;

use super::check;
use crate::properties::Judged;
use crate::properties::{Status, Verdict};
use crate::runtime::HostOp;
use crate::runtime::fake::{FakeCall, FakeHost};
use crate::system::{RunOptions, RunResult, Sim};
use crate::trace::{TraceEvent, TraceMode};

const BASE: &str = r#"
[system]
name = "idem"
[[context]]
name = "c"
[[node]]
name = "a"
tier = "cloud"
[[node]]
name = "b"
tier = "cloud"
[[link]]
between = ["a", "b"]
latency = { dist = "constant", ms = 1.0 }
[gateway]
node = "a"
timeout_ms = 2000
[[store]]
name = "db"
kind = "kv"
nodes = ["b"]
consistency = "strong"
"#;

fn scenario(extra: &str) -> Scenario {
    let text = format!("{BASE}{extra}");
    let parsed = fusebench_model::parse("idem.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

fn run(s: &Scenario, host: FakeHost) -> RunResult {
    let mut o = RunOptions::new(7);
    o.trace = TraceMode::Full;
    o.drain_nanos = 3_000_000_000;
    Sim::new(s.clone(), Box::new(host), &o).run()
}

/// `front.go` (public) calls `back.<endpoint>` over the gRPC channel `rpc`.
fn rpc(
    endpoint: &str,
    idempotent: bool,
    channel: &str,
    back_ns_per_fuel: f64,
    fault: &str,
) -> Scenario {
    scenario(&rpc_text(endpoint, idempotent, channel, back_ns_per_fuel, fault))
}

fn rpc_text(
    endpoint: &str,
    idempotent: bool,
    channel: &str,
    back_ns_per_fuel: f64,
    fault: &str,
) -> String {
    format!(
        r#"
[[channel]]
name = "rpc"
kind = "grpc"
{channel}
[[service]]
name = "front"
context = "c"
node = "a"
module = "front.wasm"
capabilities = ["call"]
  [[service.endpoint]]
  name = "go"
  method = "POST"
  path = "/go"
  public = true
  [[service.call]]
  service = "back"
  endpoint = "{endpoint}"
  channel = "rpc"
[[service]]
name = "back"
context = "c"
node = "b"
module = "back.wasm"
capabilities = ["kv"]
owns = ["db"]
  [service.service_time]
  ns_per_fuel = {back_ns_per_fuel}
  [[service.endpoint]]
  name = "{endpoint}"
  grpc = "Back/{endpoint}"
  idempotent = {idempotent}
  request = {{ id = "integer" }}
[workload]
duration_s = 2
arrival = {{ kind = "constant", rate_rps = 10 }}
  [[workload.mix]]
  service = "front"
  endpoint = "go"
  body = {{ n = "${{seq}}" }}
{fault}
"#
    )
}

const DUPLICATE_RPC: &str = r#"
[[fault]]
kind = "duplication"
channel = "rpc"
at_s = 0.2
duration_s = 1.5
rate = 0.5
"#;

/// `front.go` calls `back.<endpoint>` with `{"id": <request seq>}`; `back` either bumps a
/// counter (writes a new value every invocation) or records the request under its id.
fn host(bump: bool) -> FakeHost {
    let counter = Rc::new(Cell::new(0u64));
    FakeHost::new(serde_json::json!({}), move |call: FakeCall<'_>, _| {
        if call.service == "front" {
            let body: serde_json::Value = serde_json::from_slice(call.request).expect("json");
            let id = body["n"].as_u64().expect("n");
            let request = serde_json::json!({ "id": id }).to_string().into_bytes();
            let endpoint = if bump { "bump" } else { "record" };
            return vec![HostOp::Call {
                service: "back".into(),
                endpoint: endpoint.into(),
                request,
            }];
        }
        if bump {
            counter.set(counter.get() + 1);
            let value = counter.get().to_string().into_bytes();
            vec![HostOp::KvPut { store: "db".into(), key: b"count".to_vec(), value }]
        } else {
            let body: serde_json::Value = serde_json::from_slice(call.request).expect("json");
            let key = format!("seen/{}", body["id"]).into_bytes();
            vec![HostOp::KvPut { store: "db".into(), key, value: call.request.to_vec() }]
        }
    })
}

fn note(v: &Verdict, part: &str) -> bool {
    v.notes.iter().any(|n| n.contains(part))
}

#[test]
fn a_grpc_duplication_is_delivered_twice_and_fails_a_counter() {
    let s = rpc("bump", false, "", 1.0, DUPLICATE_RPC);
    let r = run(&s, host(true));
    let v = check(&s, &Judged::of(&r));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(note(&v, "wire duplicate"), "{v:#?}");
    let f = &v.findings[0];
    assert!(f.contains("`back.bump`") && f.contains("wire duplicate"), "{f}");
    assert!(f.contains("changed store `db` key `count` again"), "{f}");
    assert!(v.subjects.contains(&"back".to_owned()) && v.subjects.contains(&"db".to_owned()));
    assert!(r.metrics.channels["rpc"].duplicated > 0, "counted on the channel");
}

#[test]
fn a_grpc_duplication_holds_for_an_idempotent_callee() {
    let s = rpc("record", true, "", 1.0, DUPLICATE_RPC);
    let v = check(&s, &Judged::of(&run(&s, host(false))));
    assert_eq!(v.status, Status::Held, "{v:#?}");
    assert!(note(&v, "wire duplicate"), "{v:#?}");
}

#[test]
fn without_a_duplicate_the_property_is_not_exercised() {
    let s = rpc("bump", false, "", 1.0, "");
    let v = check(&s, &Judged::of(&run(&s, host(true))));
    assert_eq!(v.status, Status::NotExercised, "{v:#?}");
    assert!(note(&v, "call retries") && note(&v, "idempotency key"), "{v:#?}");
}

#[test]
fn a_timeout_driven_retry_of_a_counter_fails() {
    // `back` burns 1 000 fuel at 100 µs each: 100 ms, past the 30 ms call timeout. The slow
    // first attempt still writes; its retry writes again.
    let s = rpc("bump", false, "timeout_ms = 30\nretries = 1\nbackoff_ms = 5", 100_000.0, "");
    let v = check(&s, &Judged::of(&run(&s, host(true))));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].contains("call retry"), "{v:#?}");
}

#[test]
fn a_call_to_a_non_idempotent_endpoint_from_a_duplicate_is_a_violation() {
    // Every `front.go` request repeats the idempotency key `k`: the second and later ones are
    // duplicates of the first, and each calls the non-idempotent `back.bump` again.
    let text = rpc_text("bump", false, "", 1.0, "")
        .replace("public = true", "public = true\n  idempotent = true\n  idempotency_key = \"k\"\n  request = { k = \"string\" }")
        .replace("body = { n = \"${seq}\" }", "body = { k = \"same\" }");
    let s = scenario(&text);
    let counter = Rc::new(Cell::new(0u64));
    let h = FakeHost::new(serde_json::json!({}), move |call: FakeCall<'_>, _| {
        if call.service == "front" {
            counter.set(counter.get() + 1);
            let request = serde_json::json!({ "id": counter.get() }).to_string().into_bytes();
            return vec![HostOp::Call { service: "back".into(), endpoint: "bump".into(), request }];
        }
        Vec::new()
    });
    let v = check(&s, &Judged::of(&run(&s, h)));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(note(&v, "repeated idempotency key"), "{v:#?}");
    assert!(
        v.findings[0].contains("called `back.bump`, which is not declared idempotent, again"),
        "{v:#?}"
    );
}

/// `p.go` (public) publishes its request to the queue `ev`; `w.on` consumes it (one replica,
/// one at a time). `w_extra` goes into `w`'s service table, `extra` at the end.
fn queue(
    ack_timeout_ms: u32,
    w_ns_per_fuel: f64,
    w_extra: &str,
    rate: u32,
    extra: &str,
) -> Scenario {
    scenario(&queue_toml(ack_timeout_ms, w_ns_per_fuel, w_extra, rate, extra))
}

/// [`queue`]'s scenario text.
fn queue_toml(
    ack_timeout_ms: u32,
    w_ns_per_fuel: f64,
    w_extra: &str,
    rate: u32,
    extra: &str,
) -> String {
    format!(
        r#"
[[store]]
name = "mq"
kind = "broker"
nodes = ["b"]
[[store]]
name = "hot"
kind = "cache"
nodes = ["b"]
[[channel]]
name = "ev"
kind = "queue"
broker = "mq"
delivery = "at-least-once"
timeout_ms = {ack_timeout_ms}
[[channel]]
name = "out"
kind = "queue"
broker = "mq"
[[service]]
name = "p"
context = "c"
node = "a"
module = "p.wasm"
capabilities = ["publish"]
publishes = ["ev"]
  [[service.endpoint]]
  name = "go"
  method = "POST"
  path = "/go"
  public = true
[[service]]
name = "w"
context = "c"
node = "b"
module = "w.wasm"
replicas = 1
concurrency = 1
queue_capacity = 10000
capabilities = ["kv", "cache", "publish", "call"]
owns = ["db"]
publishes = ["out"]
{w_extra}
  [service.service_time]
  ns_per_fuel = {w_ns_per_fuel}
  [[service.endpoint]]
  name = "on"
  [[service.subscribe]]
  channel = "ev"
  endpoint = "on"
[workload]
duration_s = 1
arrival = {{ kind = "constant", rate_rps = {rate} }}
  [[workload.mix]]
  service = "p"
  endpoint = "go"
  body = {{ v = "${{seq}}" }}
{extra}
"#
    )
}

const DUPLICATE_EV: &str = r#"
[[fault]]
kind = "duplication"
channel = "ev"
at_s = 0.0
duration_s = 1.0
rate = 0.5
"#;

/// `p` publishes its request on `ev`; `w` does `consume(message)`.
fn consumer(mut consume: impl FnMut(&[u8]) -> Vec<HostOp> + 'static) -> FakeHost {
    FakeHost::new(serde_json::json!({}), move |call: FakeCall<'_>, _| match call.service {
        "p" => vec![HostOp::Publish { channel: "ev".into(), message: call.request.to_vec() }],
        "w" => consume(call.request),
        _ => Vec::new(),
    })
}

/// The last-writer-wins consumer: the message's value under the fixed key `latest`.
fn overwrite(message: &[u8]) -> Vec<HostOp> {
    vec![HostOp::KvPut { store: "db".into(), key: b"latest".to_vec(), value: message.to_vec() }]
}

#[test]
fn a_duplicate_re_setting_the_value_it_wrote_holds() {
    // Few messages, a fast consumer: each duplicated copy runs right after its original and
    // puts the very value the original put.
    let s = queue(1000, 1.0, "", 5, DUPLICATE_EV);
    let v = check(&s, &Judged::of(&run(&s, consumer(overwrite))));
    assert_eq!(v.status, Status::Held, "{v:#?}");
    assert!(note(&v, "broker duplicate"), "{v:#?}");
}

#[test]
fn a_redelivery_reverting_a_later_write_is_a_stale_redelivery() {
    // The consumer takes 50 ms a message while they come every 20 ms: messages wait past the
    // 100 ms ack timeout and are redelivered behind newer ones, whose values they then revert.
    let s = queue(100, 50_000.0, "", 50, "");
    let v = check(&s, &Judged::of(&run(&s, consumer(overwrite))));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(note(&v, "redelivery"), "{v:#?}");
    assert!(
        v.findings.iter().any(|f| f.starts_with("stale redelivery reverted a later write")
            && f.contains("`w.on`")
            && f.contains("key `latest`")),
        "{v:#?}"
    );
}

/// The same late redeliveries, from a consumer that reads the key before it writes it (a
/// read-modify-write): a redelivery that read the newer value and wrote over it built on it —
/// it changed the value again, and is not said to have reverted anything.
#[test]
fn a_redelivery_that_read_the_later_write_changed_it_again_and_reverted_nothing() {
    let s = queue(100, 50_000.0, "", 50, "");
    let read_then_write = |message: &[u8]| {
        let mut ops = vec![HostOp::KvGet { store: "db".into(), key: b"latest".to_vec() }];
        ops.extend(overwrite(message));
        ops
    };
    let v = check(&s, &Judged::of(&run(&s, consumer(read_then_write))));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(!v.findings.iter().any(|f| f.contains("reverted")), "{v:#?}");
    assert!(
        v.findings.iter().any(|f| f.contains("changed store `db` key `latest` again")),
        "{v:#?}"
    );
}

#[test]
fn a_duplicate_publishing_a_follow_up_again_fails() {
    let s = queue(1000, 1.0, "", 5, DUPLICATE_EV);
    let h = consumer(|m| vec![HostOp::Publish { channel: "out".into(), message: m.to_vec() }]);
    let v = check(&s, &Judged::of(&run(&s, h)));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].contains("published again on channel `out`"), "{v:#?}");
}

#[test]
fn a_duplicate_bumping_a_cache_counter_fails() {
    let s = queue(1000, 1.0, "", 5, DUPLICATE_EV);
    let mut n = 0u64;
    let h = consumer(move |_| {
        n += 1;
        vec![HostOp::CachePut {
            cache: "hot".into(),
            key: b"hits".to_vec(),
            value: n.to_string().into_bytes(),
        }]
    });
    let v = check(&s, &Judged::of(&run(&s, h)));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].contains("changed cache `hot` key `hits` again"), "{v:#?}");
}

#[test]
fn a_duplicate_is_judged_by_what_its_idempotent_callees_do() {
    // `w` calls `back.bump`, declared idempotent but bumping a counter: the message's duplicate
    // changes the store through its call.
    let back = r#"
[[channel]]
name = "rpc"
kind = "grpc"
[[service]]
name = "back"
context = "c"
node = "b"
module = "back.wasm"
capabilities = ["kv"]
owns = ["db"]
  [[service.endpoint]]
  name = "bump"
  grpc = "Back/bump"
  idempotent = true
"#;
    let call =
        "  [[service.call]]\n  service = \"back\"\n  endpoint = \"bump\"\n  channel = \"rpc\"";
    let s = queue(1000, 1.0, call, 5, &format!("{back}{DUPLICATE_EV}"));
    let mut n = 0u64;
    let h = FakeHost::new(serde_json::json!({}), move |call: FakeCall<'_>, _| match call.service {
        "p" => vec![HostOp::Publish { channel: "ev".into(), message: call.request.to_vec() }],
        "w" => vec![HostOp::Call {
            service: "back".into(),
            endpoint: "bump".into(),
            request: b"{}".to_vec(),
        }],
        _ => {
            n += 1;
            vec![HostOp::KvPut {
                store: "db".into(),
                key: b"count".to_vec(),
                value: n.to_string().into_bytes(),
            }]
        }
    });
    let v = check(&s, &Judged::of(&run(&s, h)));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    let f = &v.findings[0];
    assert!(f.contains("`w.on` (message") && f.contains("changed store `db` key `count`"), "{f}");
}

#[test]
fn a_duplicate_effect_dates_the_violation_and_names_both_deliveries() {
    let s = rpc("bump", false, "", 1.0, DUPLICATE_RPC);
    let r = run(&s, host(true));
    let v = check(&s, &Judged::of(&r));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    let at = v.at.expect("a duplicate's write dates the violation");
    let lines: Vec<_> =
        crate::trace::read(&r.trace).collect::<Result<_, _>>().expect("the trace reads back");
    // The event at `at` is a write by a duplicate delivery (the wire copy), named as a subject.
    let dup = |inv: u64| {
        lines.iter().any(
            |l| matches!(l.event, TraceEvent::InvocationStart { inv: i, copy: 1, .. } if i == inv),
        )
    };
    let written_by = lines
        .iter()
        .find_map(|l| match l.event {
            TraceEvent::StoreWrite { inv, changed: true, .. } if l.t == at && dup(inv) => Some(inv),
            _ => None,
        })
        .expect("a changing store write by the duplicate at the violation's time");
    assert!(v.subjects.contains(&format!("inv:{written_by}")), "{v:#?}");
    // No duplicate changed the store before: `at` is the first violating event.
    let earlier_dup_write = lines.iter().any(|l| {
        l.t < at && matches!(l.event, TraceEvent::StoreWrite { inv, changed: true, .. } if dup(inv))
    });
    assert!(!earlier_dup_write, "{v:#?}");
    // The first delivery is named too: two invocations in all.
    assert!(v.subjects.iter().filter(|s| s.starts_with("inv:")).count() >= 2, "{v:#?}");
}

#[test]
fn a_first_delivery_acting_after_its_concurrent_duplicate_is_named_as_such() {
    // Two deliveries of one message run at once (concurrency 2, a broker duplicate at the same
    // moment): whichever publishes second is one delivery too many, even when it is the first
    // delivery — the finding then says it acted after its duplicate.
    let text =
        queue_toml(1000, 1.0, "", 5, DUPLICATE_EV).replace("concurrency = 1", "concurrency = 2");
    let s = scenario(&text);
    // The first delivery reads the store before it publishes; its duplicate publishes at once.
    let mut n = 0u32;
    let h = consumer(move |m| {
        n += 1;
        let publish = HostOp::Publish { channel: "out".into(), message: m.to_vec() };
        if n % 2 == 1 {
            vec![HostOp::KvGet { store: "db".into(), key: b"seen".to_vec() }, publish]
        } else {
            vec![publish]
        }
    });
    let v = check(&s, &Judged::of(&run(&s, h)));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(
        v.findings[0].starts_with(
            "`w.on` (message 0 to group `w`; first delivery invocation 1 started at 0.201151 s, \
             after its broker duplicate invocation 2 started at 0.201151 s had acted) published \
             again on channel `out`"
        ) && v.findings[0].ends_with("(invocation 2 did so at 0.201202 s)"),
        "{v:#?}"
    );
}

#[test]
fn a_copy_that_overtakes_its_original_makes_a_copy_pair_not_a_retry() {
    let inv = |cause, attempt, copy| super::Inv {
        t: crate::time::SimTime::ZERO,
        service: "w",
        endpoint: "on",
        cause,
        source: 7,
        group: "g",
        attempt,
        copy,
        idem_key: "",
    };
    use super::DupKind;
    for (cause, pair, again) in [
        ("message", DupKind::BrokerDuplicate, DupKind::Redelivery),
        ("call", DupKind::WireDuplicate, DupKind::CallRetry),
    ] {
        // The copy (copy 1) ran first: the original after it is the other half of the pair.
        assert_eq!(DupKind::of(&inv(cause, 1, 1), &inv(cause, 1, 0)), pair, "{cause}");
        assert_eq!(DupKind::of(&inv(cause, 1, 0), &inv(cause, 1, 1)), pair, "{cause}");
        // Another attempt is a retry, whichever copy each was.
        assert_eq!(DupKind::of(&inv(cause, 1, 1), &inv(cause, 2, 0)), again, "{cause}");
        assert_eq!(DupKind::of(&inv(cause, 1, 0), &inv(cause, 2, 0)), again, "{cause}");
    }
}

/// Invocation `inv` of `w.on`, delivery `attempt` of message 7 to group `g`, started at `at` ms.
fn delivery(inv: u64, attempt: u32) -> TraceEvent<&'static str> {
    TraceEvent::InvocationStart {
        inv,
        req: inv,
        service: "w",
        endpoint: "on",
        replica: 0,
        instance: 1,
        fresh: true,
        cause: "message",
        source: 7,
        group: "g",
        attempt,
        copy: 0,
        idem_key: "",
        input: "{}",
    }
}

fn written(inv: u64, key: &'static str, version: u64) -> TraceEvent<&'static str> {
    TraceEvent::StoreWrite {
        store: "db",
        replica: 0,
        key,
        version,
        inv,
        prev_version: 0,
        changed: true,
        value: Some("{}"),
    }
}

fn ended(inv: u64, outcome: &'static str) -> TraceEvent<&'static str> {
    TraceEvent::InvocationEnd { inv, fuel: 1, outcome, output: "{}" }
}

#[test]
fn a_duplicate_acting_where_a_completed_delivery_did_not_is_one_delivery_too_many() {
    use crate::properties::tests::run_with;
    let judge = |events: &[TraceEvent<&str>]| {
        let (s, r) = run_with(events);
        check(&s, &Judged::of(&r))
    };
    // The redelivery stores the order again under a fresh id after the first answered `ok`.
    let twice = [
        delivery(1, 1),
        written(1, "order/a", 1),
        ended(1, "ok"),
        delivery(2, 2),
        written(2, "order/b", 2),
        ended(2, "ok"),
    ];
    let v = judge(&twice);
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(
        v.findings[0].contains("redelivery invocation 2")
            && v.findings[0].contains("after invocation 1")
            && v.findings[0].contains("changed store `db` key `order/b`")
            && v.findings[0].contains("which that delivery had not done"),
        "{v:#?}"
    );
    // The first delivery failed (it answered no `ok`): the redelivery completing the work is
    // what at-least-once delivery is for.
    let mut retried = twice;
    retried[2] = ended(1, "app-error");
    assert_eq!(judge(&retried).status, Status::Held);
    // The two ran concurrently (the second started before the first answered): not this rule.
    let overlapping = [
        delivery(1, 1),
        written(1, "order/a", 1),
        delivery(2, 2),
        ended(1, "ok"),
        written(2, "order/b", 2),
        ended(2, "ok"),
    ];
    assert_eq!(judge(&overlapping).status, Status::Held);
}

#[test]
fn a_duplicate_acting_after_a_delivery_that_changed_nothing_is_not_judged_by_it() {
    use crate::properties::tests::run_with;
    // The first delivery answered `ok` having written nothing (say "out of stock", an answer
    // the caller never got); the retry then reserves: one answer seen, a state that matches.
    let events = [delivery(1, 1), ended(1, "ok"), delivery(2, 2), written(2, "stock/a", 1)];
    let (s, r) = run_with(&events);
    assert_eq!(check(&s, &Judged::of(&r)).status, Status::Held);
}
