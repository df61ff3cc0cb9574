//! Unit tests with inline WAT guests: every host import, suspension and resumption, capability
//! checks at load and at run time, both instance policies and the WASI subset. The hostile
//! guests of `scenarios/flawed/sandbox/` are exercised in `sim/tests/sandbox.rs`.

use std::collections::BTreeSet;

use fusebench_model::Capability;

use super::fake::CountingRandom;
use super::*;

/// A runtime plus the context the engine would pass.
struct Harness {
    rt: Runtime,
    random: CountingRandom,
    logs: Vec<LogLine>,
    now_nanos: u64,
}

impl Harness {
    fn new() -> Self {
        Self {
            rt: Runtime::default(),
            random: CountingRandom::default(),
            logs: Vec::new(),
            now_nanos: 0,
        }
    }

    fn load(&mut self, config: &ServiceConfig, wat: &str) -> ModuleHash {
        match self.rt.load_service(config, wat.as_bytes()) {
            Ok(hash) => hash,
            Err(e) => panic!("load failed: {e}"),
        }
    }

    fn start(&mut self, service: &str, endpoint: &str, request: &str) -> Slice {
        let mut ctx = HostContext {
            now_nanos: self.now_nanos,
            random: &mut self.random,
            log: &mut self.logs,
        };
        self.rt.start(service, endpoint, request.as_bytes(), &mut ctx).expect("start")
    }

    fn resume(&mut self, invocation: InvocationId, reply: HostReply) -> Slice {
        self.try_resume(invocation, reply).expect("resume")
    }

    fn try_resume(
        &mut self,
        invocation: InvocationId,
        reply: HostReply,
    ) -> Result<Slice, InvokeError> {
        let mut ctx = HostContext {
            now_nanos: self.now_nanos,
            random: &mut self.random,
            log: &mut self.logs,
        };
        self.rt.resume(invocation, reply, &mut ctx)
    }
}

fn done(slice: &Slice) -> &Response {
    match &slice.outcome {
        SliceOutcome::Done(response) => response,
        other => panic!("expected Done, got {other:?}"),
    }
}

fn pending(slice: &Slice) -> &HostOp {
    match &slice.outcome {
        SliceOutcome::Pending(op) => op,
        other => panic!("expected Pending, got {other:?}"),
    }
}

fn failed(slice: &Slice) -> &GuestFailure {
    match &slice.outcome {
        SliceOutcome::Failed(fault) => fault,
        other => panic!("expected Failed, got {other:?}"),
    }
}

/// The `"r"` number of a `{"r":n}` response.
fn r(slice: &Slice) -> i64 {
    done(slice).json["r"].as_i64().expect("numeric r")
}

/// Memory, a wrapping bump `alloc` from 1024, `$pack` and `$num` (`{"r":n}` written at 505..541).
const PRELUDE: &str = r#"
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (if (i32.gt_u (i32.add (global.get $bump) (local.get $len)) (i32.const 65536))
      (then (global.set $bump (i32.const 1024))))
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (local.get $p))
  (func $pack (param $p i32) (param $l i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32))
            (i64.extend_i32_u (local.get $l))))
  (func $num (param $n i64) (result i64)
    (local $p i32) (local $neg i32)
    (local.set $p (i32.const 540))
    (local.set $neg (i64.lt_s (local.get $n) (i64.const 0)))
    (if (local.get $neg) (then (local.set $n (i64.sub (i64.const 0) (local.get $n)))))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $n) (i64.const 10)))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $n) (i64.const 0))))
    (if (local.get $neg)
      (then (local.set $p (i32.sub (local.get $p) (i32.const 1)))
            (i32.store8 (local.get $p) (i32.const 45))))
    (i32.store8 (i32.const 540) (i32.const 125))
    (local.set $p (i32.sub (local.get $p) (i32.const 5)))
    (i32.store8 (local.get $p) (i32.const 123))
    (i32.store8 (i32.add (local.get $p) (i32.const 1)) (i32.const 34))
    (i32.store8 (i32.add (local.get $p) (i32.const 2)) (i32.const 114))
    (i32.store8 (i32.add (local.get $p) (i32.const 3)) (i32.const 34))
    (i32.store8 (i32.add (local.get $p) (i32.const 4)) (i32.const 58))
    (call $pack (local.get $p) (i32.sub (i32.const 541) (local.get $p))))
"#;

const KV_GET: &str =
    r#"(import "fusebench" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))"#;
const KV_PUT: &str =
    r#"(import "fusebench" "kv_put" (func $kv_put (param i32 i32 i32 i32 i32 i32) (result i32)))"#;
const KV_DELETE: &str =
    r#"(import "fusebench" "kv_delete" (func $kv_delete (param i32 i32 i32 i32) (result i32)))"#;
const KV_CAS: &str = r#"(import "fusebench" "kv_cas" (func $kv_cas (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))"#;
const CACHE_GET: &str =
    r#"(import "fusebench" "cache_get" (func $cache_get (param i32 i32 i32 i32) (result i64)))"#;
const CACHE_PUT: &str = r#"(import "fusebench" "cache_put" (func $cache_put (param i32 i32 i32 i32 i32 i32) (result i32)))"#;
const KV_SCAN: &str =
    r#"(import "fusebench" "kv_scan" (func $kv_scan (param i32 i32 i32 i32 i32) (result i64)))"#;
const CACHE_DELETE: &str = r#"(import "fusebench" "cache_delete" (func $cache_delete (param i32 i32 i32 i32) (result i32)))"#;
const CALL_TIMEOUT: &str = r#"(import "fusebench" "call_timeout" (func $call_timeout (param i32 i32 i32 i32 i32 i32 i32) (result i64)))"#;
const PUBLISH: &str =
    r#"(import "fusebench" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))"#;
const CALL: &str =
    r#"(import "fusebench" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))"#;
const LOG: &str = r#"(import "fusebench" "log" (func $log (param i32 i32 i32)))"#;
const NOW: &str = r#"(import "fusebench" "now" (func $now (result i64)))"#;
const RANDOM: &str = r#"(import "fusebench" "random" (func $random (result i64)))"#;

/// Constant strings used by the guests, at fixed offsets.
const DATA: &str = r#"
  (data (i32.const 0) "orders")
  (data (i32.const 8) "users")
  (data (i32.const 16) "k1")
  (data (i32.const 24) "v1")
  (data (i32.const 32) "pay")
  (data (i32.const 40) "charge")
  (data (i32.const 48) "c")
  (data (i32.const 56) "events")
  (data (i32.const 64) "hello log")
  (data (i32.const 80) "\ff\fe")
  (data (i32.const 96) "refund")
  (data (i32.const 104) "{\"ok\":true}")
"#;

fn module(imports: &[&str], body: &str) -> String {
    format!("(module {} {PRELUDE} {DATA} {body})", imports.join("\n"))
}

fn config(name: &str, capabilities: &[Capability], endpoints: &[&str]) -> ServiceConfig {
    let mut c = ServiceConfig::new(name);
    c.capabilities = capabilities.iter().copied().collect();
    c.endpoints = endpoints.iter().map(|e| (*e).to_owned()).collect();
    c.limits.fuel_per_invocation = 1_000_000;
    c.limits.memory_bytes_max = 1 << 20;
    c
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

const ECHO: &str = r#"(func (export "handle_echo") (param $p i32) (param $l i32) (result i64)
    (call $pack (local.get $p) (local.get $l)))"#;

#[test]
fn echo_round_trip_reports_fuel_and_a_fresh_instance() {
    let mut h = Harness::new();
    h.load(&config("echo", &[], &["echo"]), &module(&[], ECHO));
    let slice = h.start("echo", "echo", r#"{"a":[1,2]}"#);
    let response = done(&slice);
    assert_eq!(response.body, r#"{"a":[1,2]}"#);
    assert_eq!(response.json["a"][1], 2);
    assert!(slice.fuel_used > 0);
    assert_eq!(response.report.fuel_used, slice.fuel_used);
    assert_eq!(response.report.instance.reuse, InstanceReuse::Fresh);
    assert_eq!(response.report.suspensions, 0);
    // Per-request: the instance is gone once the request is.
    assert_eq!(h.rt.live_instances(), 0);
}

#[test]
fn fuel_is_deterministic_and_modules_are_cached_by_hash() {
    let mut h = Harness::new();
    let a = h.load(&config("a", &[], &["echo"]), &module(&[], ECHO));
    let b = h.load(&config("b", &[], &["echo"]), &module(&[], ECHO));
    assert_eq!(a, b);
    assert_eq!(h.rt.cached_modules(), 1);
    let first = h.start("a", "echo", "{}").fuel_used;
    let second = h.start("b", "echo", "{}").fuel_used;
    assert_eq!(first, second);
    assert_eq!(a.to_string().len(), 64);
}

fn kv_then_call_service() -> (ServiceConfig, String) {
    let mut c = config("orders", &[Capability::Kv, Capability::Call], &["run"]);
    c.permissions.kv_owned = set(&["orders"]);
    c.permissions.calls.insert(CallTarget::new("pay", "charge"));
    let body = r#"(func (export "handle_run") (param i32 i32) (result i64)
        (local $v i64)
        (local.set $v (call $kv_get (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 2)))
        (if (i64.lt_s (local.get $v) (i64.const 0)) (then (return (call $num (local.get $v)))))
        (call $call (i32.const 32) (i32.const 3) (i32.const 40) (i32.const 6)
          (i32.wrap_i64 (i64.shr_u (local.get $v) (i64.const 32)))
          (i32.wrap_i64 (local.get $v))))"#;
    (c, module(&[KV_GET, CALL], body))
}

#[test]
fn kv_get_then_call_suspends_twice_and_resumes() {
    let mut h = Harness::new();
    let (c, wat) = kv_then_call_service();
    h.load(&c, &wat);
    let first = h.start("orders", "run", "{}");
    assert_eq!(pending(&first), &HostOp::KvGet { store: "orders".into(), key: b"k1".to_vec() });
    assert_eq!(h.rt.suspended_invocations(), 1);
    assert_eq!(h.rt.live_instances(), 1);
    let id = first.invocation;

    let second = h.resume(id, HostReply::Value(br#"{"amount":5}"#.to_vec()));
    assert_eq!(second.invocation, id);
    assert_eq!(
        pending(&second),
        &HostOp::Call {
            service: "pay".into(),
            endpoint: "charge".into(),
            request: br#"{"amount":5}"#.to_vec(),
        }
    );

    let third = h.resume(id, HostReply::Value(br#"{"paid":true}"#.to_vec()));
    let response = done(&third);
    assert_eq!(response.json["paid"], true);
    assert_eq!(response.report.suspensions, 2);
    let total = first.fuel_used + second.fuel_used + third.fuel_used;
    assert_eq!(response.report.fuel_used, total);
    assert_eq!(h.rt.suspended_invocations(), 0);
    assert_eq!(h.rt.live_instances(), 0);
    // Finished: the id is no longer known.
    assert!(matches!(h.try_resume(id, HostReply::Ack), Err(InvokeError::UnknownInvocation { .. })));
}

#[test]
fn error_replies_reach_the_guest_as_codes() {
    let mut h = Harness::new();
    let (c, wat) = kv_then_call_service();
    h.load(&c, &wat);
    let first = h.start("orders", "run", "{}");
    let slice = h.resume(first.invocation, HostReply::Error(HostCode::NotFound));
    assert_eq!(r(&slice), -1);
    let first = h.start("orders", "run", "{}");
    let slice = h.resume(first.invocation, HostReply::Error(HostCode::Unavailable));
    assert_eq!(r(&slice), -3);
}

#[test]
fn a_reply_of_the_wrong_kind_is_refused_and_the_invocation_stays_suspended() {
    let mut h = Harness::new();
    let (c, wat) = kv_then_call_service();
    h.load(&c, &wat);
    let first = h.start("orders", "run", "{}");
    let err = h.try_resume(first.invocation, HostReply::Ack).expect_err("mismatch");
    assert!(matches!(err, InvokeError::ReplyMismatch { import: "kv_get", reply: "ack", .. }));
    assert_eq!(h.rt.suspended_invocations(), 1);
    assert!(h.rt.abandon(first.invocation));
    assert!(!h.rt.abandon(first.invocation));
    assert_eq!(h.rt.live_instances(), 0);
    assert_eq!(h.rt.service_stats("orders").map(|s| s.instances_discarded), Some(1));
}

/// A guest whose `alloc` grows memory on every call: the reply lands in memory that did not
/// exist when the handler was suspended, and the resumed handler must see it.
#[test]
fn reply_bytes_are_written_through_an_alloc_that_grows_memory() {
    let mut h = Harness::new();
    let mut c = config("grower", &[Capability::Kv], &["run"]);
    c.permissions.kv_owned = set(&["orders"]);
    let wat = format!(
        r#"(module {KV_GET}
        (memory (export "memory") 1)
        (data (i32.const 0) "orders")
        (data (i32.const 16) "k1")
        (func (export "alloc") (param $len i32) (result i32)
          (i32.mul (memory.grow (i32.const 1)) (i32.const 65536)))
        (func (export "handle_run") (param i32 i32) (result i64)
          (call $kv_get (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 2))))"#
    );
    h.load(&c, &wat);
    let first = h.start("grower", "run", "{}");
    let slice = h.resume(first.invocation, HostReply::Value(br#"{"big":"value"}"#.to_vec()));
    assert_eq!(done(&slice).json["big"], "value");
}

fn all_imports_service() -> (ServiceConfig, String) {
    let mut c = config("all", &Capability::ALL, &[]);
    c.endpoints = set(&[
        "put",
        "delete",
        "cas",
        "cas_absent",
        "cas_users",
        "get",
        "read_users",
        "put_users",
        "cget",
        "cput",
        "publish",
        "publish_denied",
        "call_denied",
        "bad_name",
        "oob",
        "log",
        "now",
        "random",
    ]);
    c.permissions.kv_owned = set(&["orders"]);
    c.permissions.kv_readable = set(&["users"]);
    c.permissions.caches_owned = set(&["c"]);
    c.permissions.publishes = set(&["events"]);
    c.permissions.calls.insert(CallTarget::new("pay", "charge"));
    let handler = |name: &str, body: &str| {
        format!(r#"(func (export "handle_{name}") (param i32 i32) (result i64) {body})"#)
    };
    let num = |expr: &str| format!("(call $num (i64.extend_i32_s {expr}))");
    let body = [
        handler("put", &num("(call $kv_put (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 2) (i32.const 24) (i32.const 2))")),
        handler("delete", &num("(call $kv_delete (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 2))")),
        handler("cas", &num("(call $kv_cas (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 2) (i32.const 24) (i32.const 2) (i32.const 104) (i32.const 11))")),
        handler("cas_absent", &num("(call $kv_cas (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 2) (i32.const 0) (i32.const -1) (i32.const 24) (i32.const 2))")),
        handler("cas_users", &num("(call $kv_cas (i32.const 8) (i32.const 5) (i32.const 16) (i32.const 2) (i32.const 0) (i32.const -1) (i32.const 24) (i32.const 2))")),
        handler("get", "(local $v i64) (local.set $v (call $kv_get (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 2))) (if (result i64) (i64.lt_s (local.get $v) (i64.const 0)) (then (call $num (local.get $v))) (else (local.get $v)))"),
        handler("read_users", "(call $kv_get (i32.const 8) (i32.const 5) (i32.const 16) (i32.const 2))"),
        handler("put_users", &num("(call $kv_put (i32.const 8) (i32.const 5) (i32.const 16) (i32.const 2) (i32.const 24) (i32.const 2))")),
        handler("cget", "(local $v i64) (local.set $v (call $cache_get (i32.const 48) (i32.const 1) (i32.const 16) (i32.const 2))) (if (result i64) (i64.lt_s (local.get $v) (i64.const 0)) (then (call $num (local.get $v))) (else (local.get $v)))"),
        handler("cput", &num("(call $cache_put (i32.const 48) (i32.const 1) (i32.const 16) (i32.const 2) (i32.const 24) (i32.const 2))")),
        handler("publish", &num("(call $publish (i32.const 56) (i32.const 6) (i32.const 104) (i32.const 11))")),
        handler("publish_denied", &num("(call $publish (i32.const 0) (i32.const 6) (i32.const 104) (i32.const 11))")),
        handler("call_denied", "(call $num (call $call (i32.const 32) (i32.const 3) (i32.const 96) (i32.const 6) (i32.const 104) (i32.const 11)))"),
        handler("bad_name", &num("(call $kv_put (i32.const 80) (i32.const 2) (i32.const 16) (i32.const 2) (i32.const 24) (i32.const 2))")),
        handler("oob", "(call $num (call $kv_get (i32.const -256) (i32.const 10) (i32.const 16) (i32.const 2)))"),
        handler("log", "(call $log (i32.const 2) (i32.const 64) (i32.const 9)) (call $log (i32.const 7) (i32.const 16) (i32.const 2)) (call $pack (i32.const 104) (i32.const 11))"),
        handler("now", "(call $num (call $now))"),
        handler("random", "(drop (call $random)) (call $num (call $random))"),
    ]
    .join("\n");
    let imports =
        [KV_GET, KV_PUT, KV_DELETE, KV_CAS, CACHE_GET, CACHE_PUT, PUBLISH, CALL, LOG, NOW, RANDOM];
    (c, module(&imports, &body))
}

#[test]
fn every_host_import_suspends_or_answers_as_the_abi_says() {
    let mut h = Harness::new();
    let (c, wat) = all_imports_service();
    h.load(&c, &wat);

    let s = h.start("all", "put", "{}");
    let op = HostOp::KvPut { store: "orders".into(), key: b"k1".to_vec(), value: b"v1".to_vec() };
    assert_eq!(pending(&s), &op);
    assert_eq!(r(&h.resume(s.invocation, HostReply::Ack)), 0);

    let s = h.start("all", "delete", "{}");
    assert_eq!(pending(&s), &HostOp::KvDelete { store: "orders".into(), key: b"k1".to_vec() });
    assert_eq!(r(&h.resume(s.invocation, HostReply::Error(HostCode::NotFound))), -1);

    // Compare-and-set: expected bytes, or `expect_len = -1` for "absent"; a conflict is -6.
    let s = h.start("all", "cas", "{}");
    let op = HostOp::KvCas {
        store: "orders".into(),
        key: b"k1".to_vec(),
        expect: CasExpect::Value(b"v1".to_vec()),
        new: br#"{"ok":true}"#.to_vec(),
    };
    assert_eq!(pending(&s), &op);
    assert_eq!(r(&h.resume(s.invocation, HostReply::Ack)), 0);
    let s = h.start("all", "cas_absent", "{}");
    let op = HostOp::KvCas {
        store: "orders".into(),
        key: b"k1".to_vec(),
        expect: CasExpect::Absent,
        new: b"v1".to_vec(),
    };
    assert_eq!(pending(&s), &op);
    assert_eq!(r(&h.resume(s.invocation, HostReply::Error(HostCode::Conflict))), -6);
    // A write: denied on a store the service only reads.
    assert_eq!(r(&h.start("all", "cas_users", "{}")), -2);

    let s = h.start("all", "get", "{}");
    let got = h.resume(s.invocation, HostReply::Value(b"[1,2,3]".to_vec()));
    assert_eq!(done(&got).body, "[1,2,3]");

    // Readable but not owned: reads suspend, writes are denied.
    let s = h.start("all", "read_users", "{}");
    assert_eq!(pending(&s), &HostOp::KvGet { store: "users".into(), key: b"k1".to_vec() });
    assert!(h.rt.abandon(s.invocation));

    let s = h.start("all", "cget", "{}");
    assert_eq!(pending(&s), &HostOp::CacheGet { cache: "c".into(), key: b"k1".to_vec() });
    assert_eq!(r(&h.resume(s.invocation, HostReply::Error(HostCode::NotFound))), -1);

    let s = h.start("all", "cput", "{}");
    let op = HostOp::CachePut { cache: "c".into(), key: b"k1".to_vec(), value: b"v1".to_vec() };
    assert_eq!(pending(&s), &op);
    assert_eq!(r(&h.resume(s.invocation, HostReply::Ack)), 0);

    let s = h.start("all", "publish", "{}");
    let op = HostOp::Publish { channel: "events".into(), message: br#"{"ok":true}"#.to_vec() };
    assert_eq!(pending(&s), &op);
    assert_eq!(r(&h.resume(s.invocation, HostReply::Ack)), 0);

    h.now_nanos = 1_234_567;
    assert_eq!(r(&h.start("all", "now", "{}")), 1_234_567);
    // The second draw of the caller's stream.
    assert_eq!(r(&h.start("all", "random", "{}")), 2);

    let s = h.start("all", "log", "{}");
    assert_eq!(done(&s).json["ok"], true);
    assert_eq!(h.logs.len(), 2);
    assert_eq!(h.logs[0].message, "hello log");
    assert_eq!(h.logs[0].level, LogLevel::Warn);
    assert_eq!(h.logs[0].source, LogSource::Log);
    assert_eq!(h.logs[0].service, "all");
    assert_eq!(h.logs[1].level, LogLevel::Error);
    assert_eq!(h.rt.live_instances(), 0);
}

#[test]
fn calls_outside_the_permissions_are_denied_at_run_time_and_recorded() {
    let mut h = Harness::new();
    let (c, wat) = all_imports_service();
    h.load(&c, &wat);
    let cases: [(&str, i64, &str, HostCode); 5] = [
        ("put_users", -2, "users", HostCode::Denied),
        ("publish_denied", -2, "orders", HostCode::Denied),
        ("call_denied", -2, "pay.refund", HostCode::Denied),
        ("bad_name", -4, "\u{fffd}\u{fffd}", HostCode::InvalidArgument),
        ("oob", -4, "<outside memory>", HostCode::InvalidArgument),
    ];
    for (endpoint, code, target, host_code) in cases {
        let slice = h.start("all", endpoint, "{}");
        assert_eq!(r(&slice), code, "{endpoint}");
        let refusals = &done(&slice).report.refusals;
        assert_eq!(refusals.len(), 1, "{endpoint}");
        assert_eq!(refusals[0].target, target, "{endpoint}");
        assert_eq!(refusals[0].code, host_code, "{endpoint}");
    }
}

/// A service using the host operations of issue 13 (scan, invalidation, a call with its own
/// timeout), with the permissions of [`all_imports_service`].
fn hostops_service() -> (ServiceConfig, String) {
    let mut c = config("ops", &Capability::ALL, &[]);
    c.endpoints = set(&[
        "scan",
        "scan_users",
        "scan_zero",
        "scan_denied",
        "cdel",
        "cdel_denied",
        "tcall",
        "tcall_zero",
        "tcall_denied",
    ]);
    c.permissions.kv_owned = set(&["orders"]);
    c.permissions.kv_readable = set(&["users"]);
    c.permissions.caches_owned = set(&["c"]);
    c.permissions.calls.insert(CallTarget::new("pay", "charge"));
    let handler = |name: &str, body: &str| {
        format!(r#"(func (export "handle_{name}") (param i32 i32) (result i64) {body})"#)
    };
    // A packed reply is returned as the response; a negative code as {"r":code}.
    let packed = |expr: &str| {
        format!(
            "(local $v i64) (local.set $v {expr}) (if (result i64) (i64.lt_s (local.get $v) (i64.const 0)) (then (call $num (local.get $v))) (else (local.get $v)))"
        )
    };
    let num = |expr: &str| format!("(call $num (i64.extend_i32_s {expr}))");
    let body = [
        handler("scan", &packed("(call $kv_scan (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 1) (i32.const 10))")),
        handler("scan_users", &packed("(call $kv_scan (i32.const 8) (i32.const 5) (i32.const 16) (i32.const 1) (i32.const 1000))")),
        handler("scan_zero", &packed("(call $kv_scan (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 1) (i32.const 0))")),
        handler("scan_denied", &packed("(call $kv_scan (i32.const 56) (i32.const 6) (i32.const 16) (i32.const 1) (i32.const 10))")),
        handler("cdel", &num("(call $cache_delete (i32.const 48) (i32.const 1) (i32.const 16) (i32.const 2))")),
        handler("cdel_denied", &num("(call $cache_delete (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 2))")),
        handler("tcall", &packed("(call $call_timeout (i32.const 32) (i32.const 3) (i32.const 40) (i32.const 6) (i32.const 104) (i32.const 11) (i32.const 250))")),
        handler("tcall_zero", &packed("(call $call_timeout (i32.const 32) (i32.const 3) (i32.const 40) (i32.const 6) (i32.const 104) (i32.const 11) (i32.const 0))")),
        handler("tcall_denied", &packed("(call $call_timeout (i32.const 32) (i32.const 3) (i32.const 96) (i32.const 6) (i32.const 104) (i32.const 11) (i32.const 250))")),
    ]
    .join("\n");
    (c, module(&[KV_SCAN, CACHE_DELETE, CALL_TIMEOUT], &body))
}

#[test]
fn scan_invalidation_and_timed_calls_suspend_or_answer_as_the_abi_says() {
    let mut h = Harness::new();
    let (c, wat) = hostops_service();
    h.load(&c, &wat);

    // A scan suspends on the store; its JSON reply is handed to the guest like a value.
    let s = h.start("ops", "scan", "{}");
    let op = HostOp::KvScan { store: "orders".into(), prefix: b"k".to_vec(), limit: 10 };
    assert_eq!(pending(&s), &op);
    let reply = br#"[{"key":"k1","value":"v1","version":3}]"#;
    let got = h.resume(s.invocation, HostReply::Value(reply.to_vec()));
    assert_eq!(done(&got).json[0]["version"], 3);
    // A read: allowed on a store the service only reads, up to the largest limit.
    let s = h.start("ops", "scan_users", "{}");
    let op = HostOp::KvScan { store: "users".into(), prefix: b"k".to_vec(), limit: 1000 };
    assert_eq!(pending(&s), &op);
    assert!(h.rt.abandon(s.invocation));

    // Invalidation: 0 when an entry went, -1 when there was none.
    let s = h.start("ops", "cdel", "{}");
    assert_eq!(pending(&s), &HostOp::CacheDelete { cache: "c".into(), key: b"k1".to_vec() });
    assert_eq!(r(&h.resume(s.invocation, HostReply::Ack)), 0);
    let s = h.start("ops", "cdel", "{}");
    assert_eq!(r(&h.resume(s.invocation, HostReply::Error(HostCode::NotFound))), -1);

    // A call with its own timeout: the op carries it; the reply is the callee's response.
    let s = h.start("ops", "tcall", "{}");
    let op = HostOp::CallTimeout {
        service: "pay".into(),
        endpoint: "charge".into(),
        request: br#"{"ok":true}"#.to_vec(),
        timeout_ms: 250,
    };
    assert_eq!(pending(&s), &op);
    assert_eq!(op.import(), "call_timeout");
    assert!(op.replies_with_value());
    let got = h.resume(s.invocation, HostReply::Value(br#"{"paid":1}"#.to_vec()));
    assert_eq!(done(&got).json["paid"], 1);
    let s = h.start("ops", "tcall", "{}");
    assert_eq!(r(&h.resume(s.invocation, HostReply::Error(HostCode::Unavailable))), -3);

    // Refused at once, without suspending, and recorded.
    let cases: [(&str, i64, &str, &str, HostCode); 5] = [
        ("scan_zero", -4, "kv_scan", "orders", HostCode::InvalidArgument),
        ("scan_denied", -2, "kv_scan", "events", HostCode::Denied),
        ("cdel_denied", -2, "cache_delete", "orders", HostCode::Denied),
        ("tcall_zero", -4, "call_timeout", "pay.charge", HostCode::InvalidArgument),
        ("tcall_denied", -2, "call_timeout", "pay.refund", HostCode::Denied),
    ];
    for (endpoint, code, import, target, host_code) in cases {
        let slice = h.start("ops", endpoint, "{}");
        assert_eq!(r(&slice), code, "{endpoint}");
        let refusals = &done(&slice).report.refusals;
        assert_eq!(refusals.len(), 1, "{endpoint}");
        assert_eq!(refusals[0].import, import, "{endpoint}");
        assert_eq!(refusals[0].target, target, "{endpoint}");
        assert_eq!(refusals[0].code, host_code, "{endpoint}");
    }
    assert_eq!(h.rt.live_instances(), 0);
}

const KV_GET_VERSIONED: &str = r#"(import "fusebench" "kv_get_versioned" (func $kv_get_versioned (param i32 i32 i32 i32 i32) (result i64)))"#;
const KV_CAS_VERSION: &str = r#"(import "fusebench" "kv_cas_version" (func $kv_cas_version (param i32 i32 i32 i32 i64 i32 i32) (result i32)))"#;

/// A service reading with versions and writing over a version (`guests/ABI.md`): `vget` answers
/// the version it was handed (at 200), `vget_value` the value, `vget_oob` points the version
/// outside memory, `vcas*` write over version 7, absent (-1), an invalid version (-2), and a
/// store the service only reads.
fn versioned_service() -> (ServiceConfig, String) {
    let mut c = config(
        "ver",
        &[Capability::Kv],
        &[
            "vget",
            "vget_value",
            "vget_oob",
            "vget_users",
            "vcas",
            "vcas_absent",
            "vcas_bad",
            "vcas_users",
        ],
    );
    c.permissions.kv_owned = set(&["orders"]);
    c.permissions.kv_readable = set(&["users"]);
    let handler = |name: &str, body: &str| {
        format!(r#"(func (export "handle_{name}") (param i32 i32) (result i64) {body})"#)
    };
    let get = |store: &str, out: &str| {
        format!("(call $kv_get_versioned {store} (i32.const 16) (i32.const 2) (i32.const {out}))")
    };
    let orders = "(i32.const 0) (i32.const 6)";
    let users = "(i32.const 8) (i32.const 5)";
    let num = |expr: &str| format!("(call $num (i64.extend_i32_s {expr}))");
    let cas = |store: &str, version: &str| {
        num(&format!(
            "(call $kv_cas_version {store} (i32.const 16) (i32.const 2) (i64.const {version}) (i32.const 24) (i32.const 2))"
        ))
    };
    let negative_or = |expr: &str, then: &str| {
        format!(
            "(local $v i64) (local.set $v {expr}) (if (result i64) (i64.lt_s (local.get $v) (i64.const 0)) (then (call $num (local.get $v))) (else {then}))"
        )
    };
    let body = [
        handler(
            "vget",
            &negative_or(&get(orders, "200"), "(call $num (i64.load (i32.const 200)))"),
        ),
        handler("vget_value", &negative_or(&get(orders, "200"), "(local.get $v)")),
        handler("vget_oob", &negative_or(&get(orders, "65532"), "(local.get $v)")),
        handler("vget_users", &negative_or(&get(users, "200"), "(local.get $v)")),
        handler("vcas", &cas(orders, "7")),
        handler("vcas_absent", &cas(orders, "-1")),
        handler("vcas_bad", &cas(orders, "-2")),
        handler("vcas_users", &cas(users, "7")),
    ]
    .join("\n");
    (c, module(&[KV_GET_VERSIONED, KV_CAS_VERSION], &body))
}

#[test]
fn versioned_reads_and_version_compare_and_set_suspend_or_answer_as_the_abi_says() {
    let mut h = Harness::new();
    let (c, wat) = versioned_service();
    h.load(&c, &wat);
    let op = |out| HostOp::KvGetVersioned {
        store: "orders".into(),
        key: b"k1".to_vec(),
        version_out: out,
    };

    // The version lands at the address the guest gave, the value as a `kv_get` value.
    let s = h.start("ver", "vget", "{}");
    assert_eq!(pending(&s), &op(200));
    let reply = HostReply::Versioned { value: b"{}".to_vec(), version: 41_000_000_007 };
    assert_eq!(r(&h.resume(s.invocation, reply)), 41_000_000_007);
    let s = h.start("ver", "vget_value", "{}");
    let reply = HostReply::Versioned { value: b"[7]".to_vec(), version: 3 };
    assert_eq!(done(&h.resume(s.invocation, reply)).body, "[7]");
    let s = h.start("ver", "vget", "{}");
    assert_eq!(r(&h.resume(s.invocation, HostReply::Error(HostCode::NotFound))), -1);
    // The eight bytes must fit in memory: refused at once, nothing read.
    assert_eq!(r(&h.start("ver", "vget_oob", "{}")), -4);
    // A read: allowed on a store the service only reads.
    let s = h.start("ver", "vget_users", "{}");
    assert!(matches!(pending(&s), HostOp::KvGetVersioned { store, .. } if store == "users"));
    // A plain value is not the answer to a versioned read.
    let err = h.try_resume(s.invocation, HostReply::Value(b"1".to_vec())).expect_err("mismatch");
    assert!(matches!(
        err,
        InvokeError::ReplyMismatch { import: "kv_get_versioned", reply: "value", .. }
    ));

    // Compare-and-set over a version, or -1 for "absent"; other negatives are invalid.
    let s = h.start("ver", "vcas", "{}");
    let cas = |expect| HostOp::KvCas {
        store: "orders".into(),
        key: b"k1".to_vec(),
        expect,
        new: b"v1".to_vec(),
    };
    assert_eq!(pending(&s), &cas(CasExpect::Version(7)));
    assert_eq!(pending(&s).import(), "kv_cas_version");
    assert_eq!(r(&h.resume(s.invocation, HostReply::Error(HostCode::Conflict))), -6);
    let s = h.start("ver", "vcas_absent", "{}");
    assert_eq!(pending(&s), &cas(CasExpect::Absent));
    assert_eq!(r(&h.resume(s.invocation, HostReply::Ack)), 0);
    assert_eq!(r(&h.start("ver", "vcas_bad", "{}")), -4);
    // A write: denied on a store the service only reads.
    assert_eq!(r(&h.start("ver", "vcas_users", "{}")), -2);
    // A versioned answer to anything else is a mismatch.
    let s = h.start("ver", "vcas", "{}");
    let reply = HostReply::Versioned { value: Vec::new(), version: 1 };
    let err = h.try_resume(s.invocation, reply).expect_err("mismatch");
    assert!(matches!(
        err,
        InvokeError::ReplyMismatch { import: "kv_cas_version", reply: "versioned value", .. }
    ));
}

#[test]
fn the_new_imports_need_their_family_s_capability_at_load() {
    for (import, name, capability) in [
        (KV_SCAN, "fusebench.kv_scan", Capability::Kv),
        (CACHE_DELETE, "fusebench.cache_delete", Capability::Cache),
        (CALL_TIMEOUT, "fusebench.call_timeout", Capability::Call),
    ] {
        let err = load_err(&config("s", &[Capability::Log], &["echo"]), &module(&[import], ECHO));
        let expected = ServiceLoadError::CapabilityNotGranted {
            service: "s".into(),
            import: name.into(),
            capability,
        };
        assert_eq!(err, expected);
        let mut rt = Runtime::default();
        let granted = config("s", &[capability], &["echo"]);
        assert!(rt.load_service(&granted, module(&[import], ECHO).as_bytes()).is_ok(), "{name}");
    }
}

fn load_err(config: &ServiceConfig, wat: &str) -> ServiceLoadError {
    let mut rt = Runtime::default();
    rt.load_service(config, wat.as_bytes()).expect_err("load must fail")
}

#[test]
fn imports_are_checked_against_capabilities_at_load() {
    let wat = module(&[KV_GET], ECHO);
    let err = load_err(&config("s", &[Capability::Log], &["echo"]), &wat);
    assert_eq!(
        err,
        ServiceLoadError::CapabilityNotGranted {
            service: "s".into(),
            import: "fusebench.kv_get".into(),
            capability: Capability::Kv,
        }
    );
    assert!(err.to_string().contains("fusebench.kv_get"), "{err}");

    let wasi = r#"(import "wasi_snapshot_preview1" "path_open" (func (param i32)))"#;
    let err = load_err(&config("s", &Capability::ALL, &["echo"]), &module(&[wasi], ECHO));
    assert!(matches!(&err, ServiceLoadError::UnsupportedWasi { import, .. }
        if import == "wasi_snapshot_preview1.path_open"));

    let sys = r#"(import "env" "system" (func (param i32)))"#;
    let err = load_err(&config("s", &Capability::ALL, &["echo"]), &module(&[sys], ECHO));
    assert!(
        matches!(&err, ServiceLoadError::UnknownNamespace { namespace, .. } if namespace == "env")
    );

    let sock = r#"(import "fusebench" "open_socket" (func))"#;
    let err = load_err(&config("s", &Capability::ALL, &["echo"]), &module(&[sock], ECHO));
    assert!(matches!(&err, ServiceLoadError::UnknownHostFunction { import, .. }
        if import == "fusebench.open_socket"));

    let bad = r#"(import "fusebench" "now" (func (result i32)))"#;
    let err = load_err(&config("s", &Capability::ALL, &["echo"]), &module(&[bad], ECHO));
    assert!(matches!(&err, ServiceLoadError::ImportSignature { import, expected, found, .. }
        if import == "fusebench.now" && expected == "func () -> i64" && found == "func () -> i32"));

    let mem = r#"(import "fusebench" "heap" (memory 1))"#;
    let wat =
        format!("(module {mem} (func (export \"alloc\") (param i32) (result i32) (i32.const 0)))");
    let err = load_err(&config("s", &Capability::ALL, &[]), &wat);
    assert!(matches!(err, ServiceLoadError::NonFunctionImport { kind: "memory", .. }));

    // env.abort needs no capability.
    let abort = r#"(import "env" "abort" (func (param i32 i32 i32 i32)))"#;
    let mut rt = Runtime::default();
    assert!(
        rt.load_service(&config("s", &[], &["echo"]), module(&[abort], ECHO).as_bytes()).is_ok()
    );
}

#[test]
fn exports_are_checked_at_load() {
    let err = load_err(&config("s", &[], &["echo", "other"]), &module(&[], ECHO));
    assert!(
        matches!(&err, ServiceLoadError::MissingExport { export, .. } if export == "handle_other")
    );

    let wrong = r#"(func (export "handle_x") (param i32) (result i64) (i64.const 0))"#;
    let err = load_err(&config("s", &[], &["x"]), &module(&[], wrong));
    assert!(matches!(&err, ServiceLoadError::ExportSignature { export, found, .. }
        if export == "handle_x" && found == "func (i32) -> i64"));

    let no_memory = r#"(module (func (export "alloc") (param i32) (result i32) (i32.const 0)))"#;
    let err = load_err(&config("s", &[], &[]), no_memory);
    assert!(matches!(&err, ServiceLoadError::MissingExport { export, .. } if export == "memory"));

    let no_alloc = r#"(module (memory (export "memory") 1))"#;
    let err = load_err(&config("s", &[], &[]), no_alloc);
    assert!(matches!(&err, ServiceLoadError::MissingExport { export, .. } if export == "alloc"));

    let huge = r#"(module (memory (export "memory") 32)
        (func (export "alloc") (param i32) (result i32) (i32.const 0)))"#;
    let err = load_err(&config("s", &[], &[]), huge);
    assert!(matches!(
        err,
        ServiceLoadError::InitialMemoryTooLarge { initial_bytes: 2_097_152, .. }
    ));

    let err = load_err(&config("s", &[], &[]), "(module (func $f (result i32) (i64.const 0)))");
    assert!(matches!(err, ServiceLoadError::InvalidModule { .. }), "{err}");
    let err = load_err(&config("s", &[], &[]), "(module (oops))");
    assert!(matches!(err, ServiceLoadError::Unreadable { .. }), "{err}");
    let err = load_err(&config("s", &[], &[]), "PK\u{3}\u{4} not a module");
    assert!(matches!(err, ServiceLoadError::Unreadable { .. }), "{err}");

    let mut rt = Runtime::default();
    let c = config("s", &[], &["echo"]);
    assert!(rt.load_service(&c, module(&[], ECHO).as_bytes()).is_ok());
    assert!(matches!(
        rt.load_service(&c, module(&[], ECHO).as_bytes()),
        Err(ServiceLoadError::DuplicateService { .. })
    ));
}

/// The linker and the model's ABI table agree: a module importing each table entry with the
/// table's signature loads (the check) and instantiates (the linker), and with any other
/// signature it is refused at load.
#[test]
fn the_linker_defines_every_function_of_the_abi_table_with_its_signature() {
    use fusebench_model::abi::HOST_FUNCTIONS;
    let wat_types = |types: &[fusebench_model::module::ValType]| {
        types.iter().map(|t| format!(" {t}")).collect::<String>()
    };
    for (i, f) in HOST_FUNCTIONS.iter().enumerate() {
        let sig = f.signature;
        let import = format!(
            r#"(import "{}" "{}" (func (param{}) (result{})))"#,
            f.namespace,
            f.name,
            wat_types(sig.params),
            wat_types(sig.results)
        );
        let mut h = Harness::new();
        let name = format!("s{i}");
        h.load(&config(&name, &Capability::ALL, &["echo"]), &module(&[&import], ECHO));
        let slice = h.start(&name, "echo", "{}");
        assert_eq!(done(&slice).body, "{}", "{}.{}", f.namespace, f.name);

        let wrong = format!(
            r#"(import "{}" "{}" (func (param{} f64) (result{})))"#,
            f.namespace,
            f.name,
            wat_types(sig.params),
            wat_types(sig.results)
        );
        let err = load_err(&config(&name, &Capability::ALL, &["echo"]), &module(&[&wrong], ECHO));
        assert!(matches!(err, ServiceLoadError::ImportSignature { .. }), "{}: {err}", f.name);
    }
}

#[test]
fn unknown_service_and_endpoint_are_errors_not_faults() {
    let mut h = Harness::new();
    h.load(&config("echo", &[], &["echo"]), &module(&[], ECHO));
    let mut ctx = HostContext { now_nanos: 0, random: &mut h.random, log: &mut h.logs };
    assert!(matches!(
        h.rt.start("nope", "echo", b"{}", &mut ctx),
        Err(InvokeError::UnknownService { .. })
    ));
    assert!(matches!(
        h.rt.start("echo", "nope", b"{}", &mut ctx),
        Err(InvokeError::UnknownEndpoint { .. })
    ));
}

/// A counter in a global: pooled instances keep it, fresh ones start over.
const COUNTER: &str = r#"
  (global $count (mut i64) (i64.const 0))
  (func (export "handle_count") (param i32 i32) (result i64)
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (call $num (global.get $count)))
  (func (export "handle_crash") (param i32 i32) (result i64) unreachable)
  (func (export "handle_wait") (param i32 i32) (result i64)
    (call $kv_get (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 2)))"#;

fn counter_config(policy: InstancePooling) -> ServiceConfig {
    let mut c = config("counter", &[Capability::Kv], &["count", "crash", "wait"]);
    c.permissions.kv_owned = set(&["orders"]);
    c.policy = policy;
    c
}

#[test]
fn per_request_instances_are_always_fresh() {
    let mut h = Harness::new();
    h.load(&counter_config(InstancePooling::PerRequest), &module(&[KV_GET], COUNTER));
    let a = h.start("counter", "count", "{}");
    let b = h.start("counter", "count", "{}");
    assert_eq!((r(&a), r(&b)), (1, 1));
    let (ia, ib) = (done(&a).report.instance, done(&b).report.instance);
    assert_eq!((ia.reuse, ib.reuse), (InstanceReuse::Fresh, InstanceReuse::Fresh));
    assert_ne!(ia.id, ib.id);
    assert_eq!(h.rt.live_instances(), 0);
    assert_eq!(h.rt.idle_instances("counter"), Some(0));
    let stats = h.rt.service_stats("counter").expect("stats");
    assert_eq!((stats.instances_created, stats.instances_retired), (2, 2));
}

/// State in memory (a byte the data segment does not set, and one it does), in a global, and
/// the memory's size: `{"r": byte × 100 + count + pages × 10,000 + data byte × 1,000,000}`.
const TALLY: &str = r#"
  (global $count (mut i64) (i64.const 0))
  (func $tally (result i64)
    (i32.store8 (i32.const 2000) (i32.add (i32.load8_u (i32.const 2000)) (i32.const 1)))
    (i32.store8 (i32.const 0) (i32.add (i32.load8_u (i32.const 0)) (i32.const 1)))
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (i64.add
      (i64.add
        (i64.mul (i64.extend_i32_u (i32.load8_u (i32.const 2000))) (i64.const 100))
        (global.get $count))
      (i64.add
        (i64.mul (i64.extend_i32_u (memory.size)) (i64.const 10000))
        (i64.mul (i64.extend_i32_u (i32.load8_u (i32.const 0))) (i64.const 1000000)))))
  (func (export "handle_tally") (param i32 i32) (result i64) (call $num (call $tally)))
  (func (export "handle_grow") (param i32 i32) (result i64)
    (drop (memory.grow (i32.const 1)))
    (call $num (call $tally)))"#;

/// Per-request instances are recycled (put back to their state as instantiated) instead of
/// instantiated anew: each request still sees memory, globals and memory size as a new
/// instance has them, burns the same fuel, and gets a new instance id; an instance whose
/// memory grew is not recycled.
#[test]
fn recycled_per_request_instances_are_as_fresh_as_new_ones() {
    let mut h = Harness::new();
    let c = config("tally", &[], &["tally", "grow"]);
    let mut c = c;
    c.policy = InstancePooling::PerRequest;
    h.load(&c, &module(&[], TALLY));
    // 'o' (111) + 1 in the data byte, 1 in the other byte, count 1, one page.
    let fresh = 112 * 1_000_000 + 10_000 + 100 + 1;
    let first = h.start("tally", "tally", "{}");
    assert_eq!(r(&first), fresh);
    assert_eq!(h.rt.recycled_instances("tally"), Some(1));
    let mut ids = vec![done(&first).report.instance.id];
    for _ in 0..3 {
        let again = h.start("tally", "tally", "{}");
        assert_eq!(r(&again), fresh);
        assert_eq!(again.fuel_used, first.fuel_used);
        assert_eq!(again.memory.bytes, first.memory.bytes);
        assert_eq!(done(&again).report.instance.reuse, InstanceReuse::Fresh);
        ids.push(done(&again).report.instance.id);
        assert_eq!(h.rt.recycled_instances("tally"), Some(1));
        assert_eq!(h.rt.live_instances(), 0);
    }
    ids.dedup();
    assert_eq!(ids.len(), 4, "each request its own instance id");
    let grown = h.start("tally", "grow", "{}");
    assert_eq!(r(&grown), fresh + 10_000);
    assert_eq!(h.rt.recycled_instances("tally"), Some(0), "a grown memory cannot shrink");
    let after = h.start("tally", "tally", "{}");
    assert_eq!(r(&after), fresh);
    assert_eq!(after.fuel_used, first.fuel_used);
    let stats = h.rt.service_stats("tally").expect("stats");
    assert_eq!((stats.instances_created, stats.instances_retired), (6, 6));
}

#[test]
fn pooled_instances_keep_state_and_are_discarded_after_a_fault() {
    let mut h = Harness::new();
    h.load(&counter_config(InstancePooling::Pooled { idle_max: 2 }), &module(&[KV_GET], COUNTER));
    let a = h.start("counter", "count", "{}");
    let b = h.start("counter", "count", "{}");
    assert_eq!((r(&a), r(&b)), (1, 2));
    let (ia, ib) = (done(&a).report.instance, done(&b).report.instance);
    assert_eq!((ia.reuse, ib.reuse), (InstanceReuse::Fresh, InstanceReuse::Reused));
    assert_eq!(ia.id, ib.id);
    assert_eq!(h.rt.idle_instances("counter"), Some(1));

    let crash = h.start("counter", "crash", "{}");
    let fault = failed(&crash);
    assert_eq!(fault.cause, GuestFault::Trap { kind: TrapKind::Unreachable, grow_refused: None });
    assert_eq!(fault.phase, Phase::Handler);
    assert_eq!(fault.report.instance.id, ia.id);
    assert_eq!(h.rt.idle_instances("counter"), Some(0));
    assert_eq!(h.rt.live_instances(), 0);

    let c = h.start("counter", "count", "{}");
    assert_eq!(r(&c), 1);
    assert_eq!(done(&c).report.instance.reuse, InstanceReuse::Fresh);
    assert_ne!(done(&c).report.instance.id, ia.id);
}

/// Each replica has its own pool (its own process), and a crash drops its instances: an
/// in-memory counter (or dedupe set) does not cross replicas and does not survive a crash.
#[test]
fn pools_are_per_replica_and_a_dropped_pool_forgets_its_state() {
    let mut h = Harness::new();
    h.load(&counter_config(InstancePooling::Pooled { idle_max: 2 }), &module(&[KV_GET], COUNTER));
    let on = |h: &mut Harness, pool: u32| {
        let mut ctx = HostContext { now_nanos: 0, random: &mut h.random, log: &mut h.logs };
        let slice = h.rt.start_in("counter", pool, "count", b"{}", &mut ctx).expect("start");
        (r(&slice), done(&slice).report.instance.reuse)
    };
    assert_eq!(on(&mut h, 0), (1, InstanceReuse::Fresh));
    assert_eq!(on(&mut h, 0), (2, InstanceReuse::Reused));
    // Replica 1 never sees replica 0's instance.
    assert_eq!(on(&mut h, 1), (1, InstanceReuse::Fresh));
    assert_eq!(h.rt.idle_instances("counter"), Some(2));
    // Replica 0 crashes: its instance goes, replica 1's stays.
    h.rt.drop_pool("counter", 0);
    assert_eq!(h.rt.idle_instances("counter"), Some(1));
    assert_eq!(h.rt.service_stats("counter").map(|s| s.instances_discarded), Some(1));
    assert_eq!(on(&mut h, 0), (1, InstanceReuse::Fresh));
    assert_eq!(on(&mut h, 1), (2, InstanceReuse::Reused));
}

#[test]
fn a_suspended_pooled_instance_is_busy_so_concurrent_requests_get_another() {
    let mut h = Harness::new();
    h.load(&counter_config(InstancePooling::Pooled { idle_max: 1 }), &module(&[KV_GET], COUNTER));
    let waiting = h.start("counter", "wait", "{}");
    pending(&waiting);
    let other = h.start("counter", "count", "{}");
    assert_eq!(r(&other), 1);
    assert_eq!(h.rt.live_instances(), 2);
    let resumed = h.resume(waiting.invocation, HostReply::Value(b"{}".to_vec()));
    done(&resumed);
    // The pool holds one idle instance; the second was retired.
    assert_eq!(h.rt.idle_instances("counter"), Some(1));
    assert_eq!(h.rt.live_instances(), 1);
    assert_eq!(h.rt.service_stats("counter").map(|s| s.instances_retired), Some(1));
}

const WASI_IMPORTS: &[&str] = &[
    r#"(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))"#,
    r#"(import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))"#,
    r#"(import "wasi_snapshot_preview1" "clock_res_get" (func $clock_res (param i32 i32) (result i32)))"#,
    r#"(import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))"#,
    r#"(import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes (param i32 i32) (result i32)))"#,
    r#"(import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))"#,
    r#"(import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))"#,
    r#"(import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))"#,
    r#"(import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))"#,
    r#"(import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))"#,
];

const WASI_BODY: &str = r#"
  (data (i32.const 120) "line one\nline two\n")
  ;; iovec at 200: { buf = 120, len = 18 }
  (data (i32.const 200) "\78\00\00\00\12\00\00\00")
  (func $errno_or (param $errno i32) (param $value i64) (result i64)
    (if (result i64) (local.get $errno)
      (then (call $num (i64.sub (i64.const 0) (i64.extend_i32_u (local.get $errno)))))
      (else (call $num (local.get $value)))))
  (func (export "handle_write") (param i32 i32) (result i64)
    (call $errno_or (call $fd_write (i32.const 1) (i32.const 200) (i32.const 1) (i32.const 208))
                    (i64.load32_u (i32.const 208))))
  (func (export "handle_bad_fd") (param i32 i32) (result i64)
    (call $errno_or (call $fd_write (i32.const 5) (i32.const 200) (i32.const 1) (i32.const 208))
                    (i64.const 0)))
  (func (export "handle_clock") (param i32 i32) (result i64)
    (call $errno_or (call $clock (i32.const 1) (i64.const 1) (i32.const 300))
                    (i64.load (i32.const 300))))
  (func (export "handle_clock_res") (param i32 i32) (result i64)
    (call $errno_or (call $clock_res (i32.const 0) (i32.const 300)) (i64.load (i32.const 300))))
  (func (export "handle_random") (param i32 i32) (result i64)
    (call $errno_or (call $random_get (i32.const 300) (i32.const 8)) (i64.load (i32.const 300))))
  (func (export "handle_random_oob") (param i32 i32) (result i64)
    (call $errno_or (call $random_get (i32.const 65530) (i32.const 8)) (i64.const 0)))
  (func (export "handle_environ") (param i32 i32) (result i64)
    (drop (call $environ_sizes (i32.const 300) (i32.const 304)))
    (drop (call $environ_get (i32.const 320) (i32.const 400)))
    ;; the first string, without its NUL, as a JSON string: "MODE=test" is wrapped in quotes
    (i32.store8 (i32.const 399) (i32.const 34))
    (i32.store8 (i32.add (i32.const 399) (i32.load (i32.const 304))) (i32.const 34))
    (call $pack (i32.const 399) (i32.add (i32.load (i32.const 304)) (i32.const 1))))
  (func (export "handle_args") (param i32 i32) (result i64)
    (drop (call $args_sizes (i32.const 300) (i32.const 304)))
    (drop (call $args_get (i32.const 320) (i32.const 400)))
    ;; argc * 1000 + the first byte of argv[1]
    (call $num (i64.add (i64.mul (i64.load32_u (i32.const 300)) (i64.const 1000))
                        (i64.load8_u (i32.load (i32.const 324))))))
  (func (export "handle_yield") (param i32 i32) (result i64)
    (call $num (i64.extend_i32_u (call $sched_yield))))
  (func (export "handle_exit") (param i32 i32) (result i64)
    (call $proc_exit (i32.const 7))
    (i64.const 0))
"#;

#[test]
fn the_wasi_subset_is_deterministic_and_answered_from_the_context() {
    let mut h = Harness::new();
    let mut c = config("wasi", &[Capability::Wasi], &[]);
    c.endpoints = set(&[
        "write",
        "bad_fd",
        "clock",
        "clock_res",
        "random",
        "random_oob",
        "environ",
        "args",
        "yield",
        "exit",
    ]);
    c.wasi.environ = vec![("MODE".into(), "test".into())];
    c.wasi.args = vec!["svc".into(), "x".into()];
    h.load(&c, &module(WASI_IMPORTS, WASI_BODY));

    assert_eq!(r(&h.start("wasi", "write", "{}")), 18);
    let lines: Vec<_> = h.logs.iter().map(|l| (l.source, l.message.as_str())).collect();
    assert_eq!(lines, [(LogSource::Stdout, "line one"), (LogSource::Stdout, "line two")]);
    assert_eq!(r(&h.start("wasi", "bad_fd", "{}")), -8);

    h.now_nanos = 42_000;
    assert_eq!(r(&h.start("wasi", "clock", "{}")), 42_000);
    assert_eq!(r(&h.start("wasi", "clock_res", "{}")), 1);
    // random_get fills from the caller's stream: the first value, little-endian.
    assert_eq!(r(&h.start("wasi", "random", "{}")), 1);
    assert_eq!(r(&h.start("wasi", "random_oob", "{}")), -21);
    assert_eq!(done(&h.start("wasi", "environ", "{}")).json, "MODE=test");
    assert_eq!(r(&h.start("wasi", "args", "{}")), 2000 + i64::from(b'x'));
    assert_eq!(r(&h.start("wasi", "yield", "{}")), 0);
    let exit = h.start("wasi", "exit", "{}");
    assert_eq!(failed(&exit).cause, GuestFault::ProcExit { code: 7 });
    assert_eq!(h.rt.live_instances(), 0);
}

#[test]
fn log_lines_beyond_the_cap_are_counted_not_kept() {
    let mut h = Harness::new();
    let body = r#"(func (export "handle_flood") (param i32 i32) (result i64)
        (local $i i32)
        (loop $again
          (call $log (i32.const 1) (i32.const 64) (i32.const 9))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $again (i32.lt_u (local.get $i) (i32.const 1500))))
        (call $pack (i32.const 104) (i32.const 11)))"#;
    h.load(&config("flood", &[Capability::Log], &["flood"]), &module(&[LOG], body));
    let slice = h.start("flood", "flood", "{}");
    assert_eq!(done(&slice).report.log_lines_dropped, 1500 - LOG_LINES_PER_INVOCATION_MAX);
    assert_eq!(h.logs.len(), LOG_LINES_PER_INVOCATION_MAX as usize);
}

#[test]
fn log_lines_beyond_the_run_budget_are_dropped_with_one_marker_line() {
    let mut h = Harness::new();
    h.rt = Runtime::new(&RuntimeConfig { log_lines_per_run_max: 1500, ..RuntimeConfig::default() });
    let body = r#"(func (export "handle_flood") (param i32 i32) (result i64)
        (local $i i32)
        (loop $again
          (call $log (i32.const 1) (i32.const 64) (i32.const 9))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $again (i32.lt_u (local.get $i) (i32.const 1000))))
        (call $pack (i32.const 104) (i32.const 11)))"#;
    h.load(&config("flood", &[Capability::Log], &["flood"]), &module(&[LOG], body));
    // Three requests of 1000 lines each: the run's budget of 1500 is spent in the second.
    let mut over_budget = Vec::new();
    for _ in 0..3 {
        let slice = h.start("flood", "flood", "{}");
        assert_eq!(done(&slice).report.log_lines_dropped, 0, "under the per-invocation cap");
        over_budget.push(done(&slice).report.limits.log_lines_over_budget);
    }
    // Each invocation reports the lines the budget took from it (a containment finding).
    assert_eq!(over_budget, [0, 500, 1000]);
    assert_eq!(h.logs.len(), 1500 + 1, "the budget's lines and one marker");
    assert!(h.logs[..1500].iter().all(|l| l.message == "hello log"));
    let marker = &h.logs[1500];
    assert_eq!(marker.level, LogLevel::Warn);
    assert_eq!(marker.service, "flood");
    assert!(marker.message.contains("guest log budget (1500 lines"), "{}", marker.message);
    assert_eq!(h.rt.log_lines_dropped(), 1500);
}

#[test]
fn the_log_byte_budget_counts_message_bytes() {
    let mut h = Harness::new();
    h.rt = Runtime::new(&RuntimeConfig { log_bytes_per_run_max: 90, ..RuntimeConfig::default() });
    let body = r#"(func (export "handle_log") (param i32 i32) (result i64)
        (call $log (i32.const 1) (i32.const 64) (i32.const 9))
        (call $pack (i32.const 104) (i32.const 11)))"#;
    h.load(&config("logger", &[Capability::Log], &["log"]), &module(&[LOG], body));
    for _ in 0..12 {
        h.start("logger", "log", "{}");
    }
    // 10 lines of 9 bytes fit in 90 bytes; the 11th is the first dropped.
    assert_eq!(h.logs.len(), 11);
    assert_eq!(h.rt.log_lines_dropped(), 2);
}

#[test]
fn a_start_function_that_traps_fails_the_request_at_instantiation() {
    let mut h = Harness::new();
    let body = format!("{ECHO} (func $boom unreachable) (start $boom)");
    h.load(&config("cold", &[], &["echo"]), &module(&[], &body));
    let slice = h.start("cold", "echo", "{}");
    let fault = failed(&slice);
    assert_eq!(fault.phase, Phase::Instantiate);
    assert!(matches!(fault.cause, GuestFault::Trap { kind: TrapKind::Unreachable, .. }));
    assert_eq!(h.rt.live_instances(), 0);
}

#[test]
fn wasi_reactors_get_initialize_called_once_per_instance() {
    let mut h = Harness::new();
    let body = r#"
      (global $init (mut i64) (i64.const 0))
      (func (export "_initialize") (global.set $init (i64.add (global.get $init) (i64.const 1))))
      (func (export "handle_init") (param i32 i32) (result i64) (call $num (global.get $init)))"#;
    let mut c = config("reactor", &[], &["init"]);
    c.policy = InstancePooling::Pooled { idle_max: 1 };
    h.load(&c, &module(&[], body));
    assert_eq!(r(&h.start("reactor", "init", "{}")), 1);
    assert_eq!(r(&h.start("reactor", "init", "{}")), 1);
}

#[test]
fn the_runtime_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Runtime>();
}

#[test]
fn limits_the_host_absorbs_are_reported_per_invocation() {
    let mut h = Harness::new();
    // One 5000-byte line (cut to LOG_LINE_BYTES_MAX) and a grow far past the memory limit
    // (refused: -1, which the guest ignores), twice.
    let body = r#"(func (export "handle_greedy") (param i32 i32) (result i64)
        (call $log (i32.const 1) (i32.const 0) (i32.const 5000))
        (drop (memory.grow (i32.const 4096)))
        (drop (memory.grow (i32.const 4096)))
        (call $pack (i32.const 104) (i32.const 11)))"#;
    h.load(&config("greedy", &[Capability::Log], &["greedy"]), &module(&[LOG], body));
    let slice = h.start("greedy", "greedy", "{}");
    let limits = done(&slice).report.limits;
    assert_eq!(limits, LimitsHit { log_lines_cut: 1, log_lines_over_budget: 0, grows_refused: 2 });
    // Cut to 4096 bytes before decoding (lossy decoding may widen invalid bytes a little).
    assert!(h.logs[0].message.len() < 5000, "{}", h.logs[0].message.len());
    // Counted per invocation: a pooled instance starts the next one from zero.
    let again = h.start("greedy", "greedy", "{}");
    assert_eq!(done(&again).report.limits, limits);
}

#[path = "link_tests.rs"]
mod links;
