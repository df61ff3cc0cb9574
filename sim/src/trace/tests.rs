use std::collections::BTreeSet;

use proptest::prelude::*;
use serde::Deserialize;

use super::*;

#[test]
fn lines_are_flat_json_and_hashed() {
    let mut t = Trace::new(TraceMode::Full);
    t.emit(SimTime(1500), &TraceEvent::Registered { service: "orders", replica: 2 });
    let text = String::from_utf8(t.lines().to_vec()).expect("utf-8");
    assert_eq!(text, "{\"t\":1500,\"ev\":\"registered\",\"service\":\"orders\",\"replica\":2}\n");
    let mut h = Trace::new(TraceMode::Hash);
    h.emit(SimTime(1500), &TraceEvent::Registered { service: "orders", replica: 2 });
    assert_eq!(t.hash(), h.hash());
    assert!(h.lines().is_empty());
}

/// A kept trace started after a recycled one writes into its allocation, from empty, and
/// gives the same bytes and hash as a fresh one; a trace that keeps no lines leaves it.
#[test]
fn a_recycled_trace_allocation_is_reused_empty() {
    let write = |t: &mut Trace| {
        for n in 0..500 {
            t.emit(SimTime(n), &TraceEvent::Registered { service: "orders", replica: 2 });
        }
    };
    std::thread::spawn(move || {
        let mut first = Trace::new(TraceMode::Full);
        write(&mut first);
        let (bytes, hash) = (first.take_lines(), first.hash());
        let (ptr, capacity) = (bytes.as_ptr(), bytes.capacity());
        recycle(bytes);
        // Hash mode keeps nothing, so takes nothing.
        let hashed = Trace::new(TraceMode::Hash);
        assert!(hashed.lines().is_empty());
        let mut second = Trace::new(TraceMode::Full);
        assert!(second.lines().is_empty());
        write(&mut second);
        assert_eq!(second.hash(), hash);
        let reused = second.take_lines();
        assert_eq!((reused.as_ptr(), reused.capacity()), (ptr, capacity));
        let mut fresh = Trace::new(TraceMode::Full);
        write(&mut fresh);
        assert_eq!(reused, fresh.lines());
    })
    .join()
    .expect("the test thread");
}

/// The reported hash is BLAKE3 of the trace's bytes however they were batched: `b3sum` of the
/// file `run --out` writes gives it (lines are handed to the hasher [`HASH_BATCH`] bytes at a
/// time, and the rest at the end). Checked after 0 lines, within the first batch, exactly at
/// and past several batch boundaries.
#[test]
fn the_hash_is_blake3_of_the_bytes_across_batches() {
    let mut t = Trace::new(TraceMode::Full);
    assert_eq!(t.hash(), blake3::hash(b"").to_hex().as_str());
    let mut checked = 0;
    for i in 0..2_000u32 {
        t.emit(
            SimTime(u64::from(i) * 7),
            &TraceEvent::Registered { service: "orders", replica: i },
        );
        if i % 97 == 0 || t.lines().len() % HASH_BATCH < 60 {
            assert_eq!(t.hash(), blake3::hash(t.lines()).to_hex().as_str(), "after line {i}");
            checked += 1;
        }
    }
    assert!(t.lines().len() > 4 * HASH_BATCH, "{} bytes: several batches", t.lines().len());
    assert!(checked > 20);
    assert_eq!(t.hash(), blake3::hash(t.lines()).to_hex().as_str());
}

/// Numbers for the sample events, one per field type.
#[derive(Debug, Clone, Copy)]
pub(super) struct Numbers {
    big: u64,
    small: u32,
    code: i32,
    index: usize,
    flag: bool,
}

pub(super) const PLAIN: Numbers = Numbers { big: 42, small: 3, code: -2, index: 1, flag: true };

/// One event of every kind, strings taken in turn from `text`. A kind added to the enum
/// without a sample here fails `every_kind_has_a_sample`, which compares these with the kinds
/// the derive itself knows (and `TraceEvent::kind`, an exhaustive match, stops compiling).
pub(super) fn every_kind(text: &[String], n: Numbers) -> Vec<TraceEvent<&str>> {
    let s = |i: usize| text[i % text.len()].as_str();
    vec![
        TraceEvent::RunStart { system: s(0), seed: n.big },
        TraceEvent::Registered { service: s(1), replica: n.small },
        TraceEvent::Deregistered { service: s(2), replica: n.small, reason: s(3) },
        TraceEvent::Arrival { req: n.big, service: s(4), endpoint: s(5), body: s(54) },
        TraceEvent::Dropped { what: s(6), id: n.big, from: s(7), to: s(8), reason: s(9) },
        TraceEvent::Rejected { req: n.big, service: s(10), replica: n.small, reason: s(11) },
        TraceEvent::InvocationStart {
            inv: n.big,
            req: n.big / 2,
            service: s(12),
            endpoint: s(13),
            replica: n.small,
            instance: n.big / 3,
            fresh: n.flag,
            cause: s(42),
            source: n.big / 4,
            group: s(43),
            attempt: n.small,
            copy: n.small / 2,
            idem_key: s(44),
            input: s(55),
        },
        TraceEvent::HostOp { inv: n.big, op: s(14), target: s(15) },
        TraceEvent::Refused { inv: n.big, import: s(16), target: s(17), code: n.code },
        TraceEvent::InvocationEnd { inv: n.big, fuel: n.big / 5, outcome: s(18), output: s(56) },
        TraceEvent::GuestFault { inv: n.big, service: s(19), cause: s(20), input: s(21) },
        TraceEvent::Log { service: s(22), level: s(23), message: s(24) },
        TraceEvent::Response {
            req: n.big,
            service: s(25),
            endpoint: s(26),
            outcome: s(27),
            latency_ns: n.big / 7,
            body: s(57),
        },
        TraceEvent::CallRetry { call: n.big, attempt: n.small, reason: s(28) },
        TraceEvent::CallStart { call: n.big, inv: n.big / 2, service: s(45), endpoint: s(46) },
        TraceEvent::StoreWrite {
            store: s(29),
            replica: n.small,
            key: s(30),
            version: n.big,
            inv: n.big,
            prev_version: n.big / 3,
            changed: n.flag,
            value: Some(s(58)),
        },
        TraceEvent::StoreApply {
            store: s(31),
            replica: n.small,
            key: s(32),
            version: n.big,
            applied: n.flag,
        },
        TraceEvent::CacheWrite { inv: n.big, cache: s(42), key: s(43), changed: n.flag },
        TraceEvent::StoreRead {
            inv: n.big,
            store: s(44),
            replica: n.small,
            key: s(45),
            version: n.big,
        },
        TraceEvent::CacheRead {
            inv: n.big,
            cache: s(46),
            key: s(47),
            store_version: n.big,
            differs_ns: n.big / 2,
        },
        TraceEvent::WorkOf { inv: n.big, work: s(53) },
        TraceEvent::StoreAcked { inv: n.big, store: s(51), key: s(52), version: n.big },
        TraceEvent::ReplicaMissed { store: s(49), replica: n.small, key: s(50), version: n.big },
        TraceEvent::Publish { channel: s(33), msg: n.big, inv: n.big / 2, body: s(59) },
        TraceEvent::Deliver { channel: s(34), msg: n.big, group: s(35), attempt: n.small },
        TraceEvent::Acked { channel: s(36), msg: n.big, group: s(37) },
        TraceEvent::FaultStart { index: n.index, kind: s(38) },
        TraceEvent::FaultEnd { index: n.index, kind: s(39) },
        TraceEvent::ReplicaDown { service: s(40), replica: n.small },
        TraceEvent::ReplicaUp { service: s(41), replica: n.small },
        TraceEvent::Ejected { caller: s(42), service: s(43), replica: n.small, until_ns: n.big },
        TraceEvent::CacheLookup { inv: n.big, cache: s(44), hit: n.flag },
        TraceEvent::RunEnd { events: n.big },
        TraceEvent::LimitHit { inv: n.big, service: s(42), limit: s(43), count: n.big / 11 },
        TraceEvent::CallFailed {
            call: n.big,
            attempt: n.small,
            inv: n.big / 2,
            req: n.big / 3,
            target: s(44),
            reason: s(45),
            gave_up: n.flag,
        },
        TraceEvent::Nacked {
            channel: s(46),
            msg: n.big,
            group: s(47),
            attempt: n.small,
            outcome: s(48),
            req: n.big / 5,
        },
        TraceEvent::OomKilled {
            inv: n.big,
            service: s(60),
            replica: n.small,
            node: s(61),
            bytes: n.big,
            others: n.big / 2,
            capacity: n.big / 3,
        },
        TraceEvent::JourneyStart { journey: s(49), id: n.big },
        TraceEvent::JourneyStep { id: n.big, step: n.small, name: s(50), req: n.big / 2 },
        TraceEvent::JourneyEnd {
            journey: s(51),
            id: n.big,
            outcome: s(52),
            step: s(53),
            steps: n.small,
            latency_ns: n.big / 7,
            reason: s(54),
        },
        TraceEvent::CacheDelete { inv: n.big, cache: s(49), key: s(50), existed: n.flag },
        TraceEvent::Scale {
            service: s(61),
            from: n.small,
            to: n.small,
            metric: s(62),
            value_milli: n.big,
            desired: n.small,
            reason: s(63),
        },
        TraceEvent::ReplicaState { service: s(64), replica: n.small, state: s(65) },
        TraceEvent::Sidecar { req: n.big, leg: s(56), latency_ns: n.big / 2 },
        TraceEvent::MeshRefused { caller: s(57), target: s(58), filter: s(62), req: n.big },
        TraceEvent::GatewayTry { req: n.big, attempt: n.small, try_req: n.big / 2, after: s(63) },
        TraceEvent::MeshFilter {
            proxy: s(64),
            filter: s(65),
            req: n.big,
            action: s(66),
            detail: s(67),
        },
        TraceEvent::Activator {
            req: n.big,
            service: s(66),
            endpoint: s(67),
            action: s(68),
            waited_ns: n.big / 2,
            buffered: n.small,
        },
        TraceEvent::ColdStart {
            service: s(69),
            replica: n.small,
            fetch_ns: n.big,
            compile_ns: n.big / 2,
            instantiate_ns: n.big,
        },
        TraceEvent::MeshFault {
            caller: s(70),
            target: s(71),
            req: n.big,
            action: s(72),
            delay_ns: n.big / 2,
            status: n.small,
        },
        TraceEvent::PolicyFault { service: s(73), reason: s(74) },
        TraceEvent::Rollout {
            service: s(75),
            step: s(76),
            replica: n.small,
            version: n.small,
            desired: n.small,
        },
        TraceEvent::MeshRoute {
            proxy: s(77),
            service: s(78),
            action: s(79),
            config: n.small,
            req: n.big,
            detail: s(80),
        },
        TraceEvent::OpTimeout { inv: n.big / 2, target: s(81) },
        TraceEvent::CacheEvict { inv: n.big / 3, cache: s(82), key: s(83) },
    ]
}

/// The kinds the derive itself accepts on a trace line, asked from serde: reading an unknown
/// `ev` makes it list every variant name it knows.
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

pub(super) fn texts(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// Writes `events` through the real writer, one per microsecond.
pub(super) fn written(events: &[TraceEvent<&str>]) -> Trace {
    let mut trace = Trace::new(TraceMode::Full);
    for (i, e) in events.iter().enumerate() {
        trace.emit(SimTime(i as u64 * 1000), e);
    }
    trace
}

fn round_trip(events: &[TraceEvent<&str>]) -> Result<(), String> {
    let trace = written(events);
    let lines: Vec<TraceLine> = read(trace.lines())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{e}\n{}", String::from_utf8_lossy(trace.lines())))?;
    if lines.len() != events.len() {
        return Err(format!("{} events written, {} read", events.len(), lines.len()));
    }
    for (i, (line, event)) in lines.iter().zip(events).enumerate() {
        if line.t != SimTime(i as u64 * 1000) || line.event.borrowed() != *event {
            return Err(format!("line {}: wrote {event:?}, read {line:?}", i + 1));
        }
    }
    Ok(())
}

#[test]
fn every_kind_has_a_sample() {
    let serde: BTreeSet<&str> = kinds_known_to_serde().into_iter().collect();
    assert!(serde.len() > 20, "serde listed {serde:?}");
    let text = texts(&["x"]);
    let sampled: Vec<&str> = every_kind(&text, PLAIN).iter().map(TraceEvent::kind).collect();
    let unique: BTreeSet<&str> = sampled.iter().copied().collect();
    assert_eq!(unique.len(), sampled.len(), "one sample per kind: {sampled:?}");
    assert_eq!(unique, serde, "every kind the trace may carry has a sample, and `kind` names it");
}

#[test]
fn every_kind_round_trips_with_awkward_strings() {
    let text = texts(&[
        "orders",
        "",
        "quote \" backslash \\ slash /",
        "line\nbreak\ttab\r",
        "unicode é ✓ 🦀",
        "control \u{0001} \u{001f}",
        "{\"t\":1,\"ev\":\"registered\"}",
        "orders:payments.charge",
    ]);
    let extremes = [
        PLAIN,
        Numbers { big: 0, small: 0, code: 0, index: 0, flag: false },
        Numbers { big: u64::MAX, small: u32::MAX, code: i32::MIN, index: usize::MAX, flag: true },
        Numbers { big: u64::MAX, small: u32::MAX, code: i32::MAX, index: usize::MAX, flag: true },
    ];
    for n in extremes {
        round_trip(&every_kind(&text, n)).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_kind_is_the_written_ev() {
    let text = texts(&["s"]);
    for event in every_kind(&text, PLAIN) {
        let trace = written(std::slice::from_ref(&event));
        let line = String::from_utf8(trace.lines().to_vec()).expect("utf-8");
        let prefix = format!("{{\"t\":0,\"ev\":\"{}\",", event.kind());
        assert!(line.starts_with(&prefix), "{line}");
    }
}

/// The exact bytes of each kind: field names and order are the format every trace hash
/// depends on (written out by hand from the declaration, not from the writer).
#[test]
fn the_format_of_every_kind_is_pinned() {
    let text = texts(&["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]);
    let expected = [
        r#"{"t":0,"ev":"run_start","system":"a","seed":42}"#,
        r#"{"t":1000,"ev":"registered","service":"b","replica":3}"#,
        r#"{"t":2000,"ev":"deregistered","service":"c","replica":3,"reason":"d"}"#,
        r#"{"t":3000,"ev":"arrival","req":42,"service":"e","endpoint":"f","body":"e"}"#,
        r#"{"t":4000,"ev":"dropped","what":"g","id":42,"from":"h","to":"i","reason":"j"}"#,
        r#"{"t":5000,"ev":"rejected","req":42,"service":"a","replica":3,"reason":"b"}"#,
        r#"{"t":6000,"ev":"invocation_start","inv":42,"req":21,"service":"c","endpoint":"d","replica":3,"instance":14,"fresh":true,"cause":"c","source":10,"group":"d","attempt":3,"copy":1,"idem_key":"e","input":"f"}"#,
        r#"{"t":7000,"ev":"host_op","inv":42,"op":"e","target":"f"}"#,
        r#"{"t":8000,"ev":"refused","inv":42,"import":"g","target":"h","code":-2}"#,
        r#"{"t":9000,"ev":"invocation_end","inv":42,"fuel":8,"outcome":"i","output":"g"}"#,
        r#"{"t":10000,"ev":"guest_fault","inv":42,"service":"j","cause":"a","input":"b"}"#,
        r#"{"t":11000,"ev":"log","service":"c","level":"d","message":"e"}"#,
        r#"{"t":12000,"ev":"response","req":42,"service":"f","endpoint":"g","outcome":"h","latency_ns":6,"body":"h"}"#,
        r#"{"t":13000,"ev":"call_retry","call":42,"attempt":3,"reason":"i"}"#,
        r#"{"t":14000,"ev":"call_start","call":42,"inv":21,"service":"f","endpoint":"g"}"#,
        r#"{"t":15000,"ev":"store_write","store":"j","replica":3,"key":"a","version":42,"inv":42,"prev_version":14,"changed":true,"value":"i"}"#,
        r#"{"t":16000,"ev":"store_apply","store":"b","replica":3,"key":"c","version":42,"applied":true}"#,
        r#"{"t":17000,"ev":"cache_write","inv":42,"cache":"c","key":"d","changed":true}"#,
        r#"{"t":18000,"ev":"store_read","inv":42,"store":"e","replica":3,"key":"f","version":42}"#,
        r#"{"t":19000,"ev":"cache_read","inv":42,"cache":"g","key":"h","store_version":42,"differs_ns":21}"#,
        r#"{"t":20000,"ev":"work_of","inv":42,"work":"d"}"#,
        r#"{"t":21000,"ev":"store_acked","inv":42,"store":"b","key":"c","version":42}"#,
        r#"{"t":22000,"ev":"replica_missed","store":"j","replica":3,"key":"a","version":42}"#,
        r#"{"t":23000,"ev":"publish","channel":"d","msg":42,"inv":21,"body":"j"}"#,
        r#"{"t":24000,"ev":"deliver","channel":"e","msg":42,"group":"f","attempt":3}"#,
        r#"{"t":25000,"ev":"acked","channel":"g","msg":42,"group":"h"}"#,
        r#"{"t":26000,"ev":"fault_start","index":1,"kind":"i"}"#,
        r#"{"t":27000,"ev":"fault_end","index":1,"kind":"j"}"#,
        r#"{"t":28000,"ev":"replica_down","service":"a","replica":3}"#,
        r#"{"t":29000,"ev":"replica_up","service":"b","replica":3}"#,
        r#"{"t":30000,"ev":"ejected","caller":"c","service":"d","replica":3,"until_ns":42}"#,
        r#"{"t":31000,"ev":"cache_lookup","inv":42,"cache":"e","hit":true}"#,
        r#"{"t":32000,"ev":"run_end","events":42}"#,
        r#"{"t":33000,"ev":"limit_hit","inv":42,"service":"c","limit":"d","count":3}"#,
        r#"{"t":34000,"ev":"call_failed","call":42,"attempt":3,"inv":21,"req":14,"target":"e","reason":"f","gave_up":true}"#,
        r#"{"t":35000,"ev":"nacked","channel":"g","msg":42,"group":"h","attempt":3,"outcome":"i","req":8}"#,
        r#"{"t":36000,"ev":"oom_killed","inv":42,"service":"a","replica":3,"node":"b","bytes":42,"others":21,"capacity":14}"#,
        r#"{"t":37000,"ev":"journey_start","journey":"j","id":42}"#,
        r#"{"t":38000,"ev":"journey_step","id":42,"step":3,"name":"a","req":21}"#,
        r#"{"t":39000,"ev":"journey_end","journey":"b","id":42,"outcome":"c","step":"d","steps":3,"latency_ns":6,"reason":"e"}"#,
        r#"{"t":40000,"ev":"cache_delete","inv":42,"cache":"j","key":"a","existed":true}"#,
        r#"{"t":41000,"ev":"scale","service":"b","from":3,"to":3,"metric":"c","value_milli":42,"desired":3,"reason":"d"}"#,
        r#"{"t":42000,"ev":"replica_state","service":"e","replica":3,"state":"f"}"#,
        r#"{"t":43000,"ev":"sidecar","req":42,"leg":"g","latency_ns":21}"#,
        r#"{"t":44000,"ev":"mesh_refused","caller":"h","target":"i","filter":"c","req":42}"#,
        r#"{"t":45000,"ev":"gateway_try","req":42,"attempt":3,"try_req":21,"after":"d"}"#,
        r#"{"t":46000,"ev":"mesh_filter","proxy":"e","filter":"f","req":42,"action":"g","detail":"h"}"#,
        r#"{"t":47000,"ev":"activator","req":42,"service":"g","endpoint":"h","action":"i","waited_ns":21,"buffered":3}"#,
        r#"{"t":48000,"ev":"cold_start","service":"j","replica":3,"fetch_ns":42,"compile_ns":21,"instantiate_ns":42}"#,
        r#"{"t":49000,"ev":"mesh_fault","caller":"a","target":"b","req":42,"action":"c","delay_ns":21,"status":3}"#,
        r#"{"t":50000,"ev":"policy_fault","service":"d","reason":"e"}"#,
        r#"{"t":51000,"ev":"rollout","service":"f","step":"g","replica":3,"version":3,"desired":3}"#,
        r#"{"t":52000,"ev":"mesh_route","proxy":"h","service":"i","action":"j","config":3,"req":42,"detail":"a"}"#,
        r#"{"t":53000,"ev":"op_timeout","inv":21,"target":"b"}"#,
        r#"{"t":54000,"ev":"cache_evict","inv":14,"cache":"c","key":"d"}"#,
    ];
    let trace = written(&every_kind(&text, PLAIN));
    let text = String::from_utf8(trace.lines().to_vec()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, expected);
}

#[test]
fn texts_lists_every_string_field_in_order() {
    let e = TraceEvent::Dropped { what: "request", id: 7, from: "n1", to: "n2", reason: "loss" };
    assert_eq!(e.texts(), ["request", "n1", "n2", "loss"]);
    assert!(TraceEvent::<&str>::RunEnd { events: 3 }.texts().is_empty());
}

fn problem(bytes: &[u8]) -> TraceError {
    match read(bytes).find_map(Result::err) {
        Some(e) => e,
        None => panic!("{:?} was read without an error", String::from_utf8_lossy(bytes)),
    }
}

#[test]
fn a_bad_line_is_an_error_naming_its_line_and_what_is_wrong() {
    let good = "{\"t\":1,\"ev\":\"run_end\",\"events\":3}\n";
    let cases: [(&str, &str); 7] = [
        ("garbage", "expected value"),
        ("{\"ev\":\"run_end\",\"events\":3}", "missing field `t`"),
        ("{\"t\":1,\"events\":3}", "missing field `ev`"),
        ("{\"t\":1,\"ev\":\"teleported\"}", "unknown variant `teleported`"),
        ("{\"t\":1,\"ev\":\"registered\",\"replica\":1}", "missing field `service`"),
        ("{\"t\":1,\"ev\":\"registered\",\"service\":5,\"replica\":1}", "invalid type"),
        ("{\"t\":-4,\"ev\":\"run_end\",\"events\":3}", "invalid value"),
    ];
    for (bad, what) in cases {
        let bytes = format!("{good}{good}\n{bad}\n{good}");
        let e = problem(bytes.as_bytes());
        let TraceError::Line { line, problem, .. } = &e;
        assert_eq!(*line, 4, "{bad}: blank lines count: {e}");
        assert!(problem.contains(what), "{bad}: {e}");
        assert!(!problem.contains("at line 1"), "serde's own position is replaced: {e}");
        assert!(e.to_string().starts_with("trace line 4, column "), "{e}");
    }
}

#[test]
fn reading_goes_on_after_a_bad_line() {
    let bytes = b"{\"t\":1,\"ev\":\"run_end\",\"events\":3}\ngarbage\n{\"t\":2,\"ev\":\"run_end\",\"events\":4}";
    let results: Vec<_> = read(bytes).collect();
    assert_eq!(results.len(), 3);
    assert!(matches!(results[1], Err(TraceError::Line { line: 2, .. })));
    assert_eq!(
        results[2],
        Ok(TraceLine { t: SimTime(2), event: TraceEvent::RunEnd { events: 4 } }),
        "the last line needs no newline"
    );
}

#[test]
fn lines_are_numbered_after_what_came_before() {
    let e = problem(b"\n{oops}\n");
    assert!(matches!(e, TraceError::Line { line: 2, .. }), "{e}");
    let later = read(b"{oops}\n").numbered_after(1000).find_map(Result::err);
    assert!(matches!(later, Some(TraceError::Line { line: 1001, .. })), "{later:?}");
    assert_eq!(read(b"").count(), 0);
    assert_eq!(read(b"\n \n\r\n").count(), 0, "blank lines hold no event");
}

/// Any text, including what JSON must escape.
pub(super) fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z:._-]{0,12}", "[\"\\\\\n\t\u{0}-\u{1f}]{0,6}"]
}

pub(super) fn any_numbers() -> impl Strategy<Value = Numbers> {
    (any::<u64>(), any::<u32>(), any::<i32>(), any::<usize>(), any::<bool>())
        .prop_map(|(big, small, code, index, flag)| Numbers { big, small, code, index, flag })
}

proptest! {
    #[test]
    fn every_kind_round_trips(text in prop::collection::vec(any_text(), 1..8), n in any_numbers()) {
        let events = every_kind(&text, n);
        prop_assert_eq!(round_trip(&events), Ok(()));
        let back: Vec<TraceEvent> = events.iter().map(|e| e.map(|s| (*s).to_owned())).collect();
        for (owned, event) in back.iter().zip(&events) {
            prop_assert_eq!(&owned.borrowed(), event);
        }
    }

    /// Every kind, with any strings and numbers, is written by the direct writer
    /// (`trace/line.rs`) byte for byte as serde_json writes it: the trace hashes of every run
    /// depend on it.
    #[test]
    fn every_kind_is_written_as_serde_json_writes_it(
        text in prop::collection::vec(any_text(), 1..8),
        n in any_numbers(),
    ) {
        for event in every_kind(&text, n) {
            let mut ours = Vec::new();
            line::write_fields(&mut ours, &event);
            ours[0] = b'{'; // the writer starts with the comma after the line's `t`
            let json = serde_json::to_vec(&event).expect("serialises");
            prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&json));
        }
    }

    /// Whatever the bytes, reading never panics and every error names a line that exists.
    #[test]
    fn any_bytes_read_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let lines = bytes.split(|b| *b == b'\n').count();
        for result in read(&bytes) {
            if let Err(TraceError::Line { line, .. }) = result {
                prop_assert!((1..=lines).contains(&line), "line {} of {}", line, lines);
            }
        }
    }

    /// One corrupted byte in a real trace: the error, if any, is on the line it hit.
    #[test]
    fn a_corrupted_byte_is_found_on_its_line(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let text = texts(&["orders", "a \"quoted\" name"]);
        let trace = written(&every_kind(&text, PLAIN));
        let mut bytes = trace.lines().to_vec();
        let i = at.index(bytes.len());
        prop_assume!(byte != b'\n' && bytes[i] != b'\n');
        bytes[i] = byte;
        let hit = bytes[..i].iter().filter(|b| **b == b'\n').count() + 1;
        for result in read(&bytes) {
            if let Err(TraceError::Line { line, .. }) = result {
                prop_assert_eq!(line, hit);
            }
        }
    }
}

/// Valid UTF-8 without U+FFFD is its own text, borrowed: every trace written before
/// `bytes_text` reads the same.
#[test]
fn valid_text_is_its_own_trace_text_borrowed() {
    for text in ["", "tok/7", "orders", "café ☕ 😀", "{\"id\":\"a-1\"}", "\u{FFFC}\u{FFFE}"] {
        let got = bytes_text(text.as_bytes());
        assert!(matches!(got, Cow::Borrowed(_)), "{text:?} was copied");
        assert_eq!(got, text);
        assert!(matches!(str_text(text), Cow::Borrowed(_)), "{text:?} was copied");
    }
}

/// Two keys that differ only in a byte that is not UTF-8 read differently (the lossy text
/// read `tok/\u{FFFD}` for both), and a literal U+FFFD is doubled so that it never reads as
/// an escaped byte.
#[test]
fn invalid_bytes_are_escaped_and_a_literal_replacement_doubled() {
    assert_eq!(bytes_text(b"tok/\x80"), "tok/\u{FFFD}80");
    assert_eq!(bytes_text(b"tok/\x81"), "tok/\u{FFFD}81");
    assert_ne!(bytes_text(b"tok/\x80"), bytes_text(b"tok/\x81"));
    assert_eq!(bytes_text(b"\xff\xfe"), "\u{FFFD}ff\u{FFFD}fe");
    // An incomplete sequence: one escape per byte, then the valid rest.
    assert_eq!(bytes_text(b"a\xe2\x82b"), "a\u{FFFD}e2\u{FFFD}82b");
    // A literal U+FFFD, as valid text and beside invalid bytes.
    assert_eq!(bytes_text("a\u{FFFD}b".as_bytes()), "a\u{FFFD}\u{FFFD}b");
    assert_eq!(str_text("\u{FFFD}\u{FFFD}"), "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}");
    let mixed = [b"\x80".as_slice(), "\u{FFFD}".as_bytes(), b"80"].concat();
    assert_eq!(bytes_text(&mixed), "\u{FFFD}80\u{FFFD}\u{FFFD}80");
    // The byte 0x80 and the text "\u{FFFD}80" no longer read the same.
    assert_ne!(bytes_text(b"\x80"), bytes_text("\u{FFFD}80".as_bytes()));
    // A JSON field of the trace writes the text as any other string.
    let mut t = Trace::new(TraceMode::Full);
    let key = bytes_text(b"tok/\x80");
    t.emit(SimTime(1), &TraceEvent::CacheDelete { inv: 1, cache: "c", key: &key, existed: true });
    let line = String::from_utf8(t.lines().to_vec()).expect("utf-8");
    assert!(line.contains("\"key\":\"tok/\u{FFFD}80\""), "{line}");
}

/// Bytes drawn mostly from those that collide under a lossy conversion: continuation and lead
/// bytes, U+FFFD's own bytes, hex digits, ASCII.
fn colliding_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        Just(0x80u8),
        Just(0x81),
        Just(0xbf),
        Just(0xbd),
        Just(0xef),
        Just(0xe2),
        Just(0xc3),
        Just(0xff),
        Just(b'8'),
        Just(b'0'),
        Just(b'f'),
        Just(b'a'),
        any::<u8>(),
    ];
    prop::collection::vec(byte, 0..12)
}

proptest! {
    /// Different bytes, different text; and the text decodes back to the bytes.
    #[test]
    fn bytes_text_is_injective(a in colliding_bytes(), b in colliding_bytes(),
                               text in "(\\PC|\u{FFFD}){0,8}") {
        for x in [&a, &b, &text.as_bytes().to_vec()] {
            prop_assert_eq!(bytes_of_text(&bytes_text(x)), Some(x.clone()));
            // Read as a value: the original text, an invalid byte as U+FFFD.
            let written = bytes_text(x);
            prop_assert_eq!(text_value(&written), String::from_utf8_lossy(x));
        }
        prop_assert_eq!(a == b, bytes_text(&a) == bytes_text(&b));
        // Text and bytes agree: `str_text` is `bytes_text` of the text's bytes.
        prop_assert_eq!(str_text(&text), bytes_text(text.as_bytes()));
        // Valid text without U+FFFD is unchanged.
        if let Ok(valid) = std::str::from_utf8(&a) {
            prop_assert_eq!(bytes_text(&a) == valid, !valid.contains('\u{FFFD}'));
        }
    }
}
