//! Composed services: a module linked with libraries, instantiated together in one store.

use super::*;

/// A pure library: `tax(amount, basis_points) = amount * bp / 10000`, and a global counter.
const MONEY: &str = r#"(module
  (global $n (mut i64) (i64.const 0))
  (func (export "tax") (param $a i64) (param $bp i32) (result i64)
    (i64.div_s (i64.mul (local.get $a) (i64.extend_i32_s (local.get $bp))) (i64.const 10000)))
  (func (export "count") (result i64)
    (global.set $n (i64.add (global.get $n) (i64.const 1))) (global.get $n))
  (func (export "trap") (result i64) unreachable)
  (func (export "spin") (result i64) (loop $l (br $l)) (i64.const 0)))"#;

const IMPORT_TAX: &str = r#"(import "money" "tax" (func $tax (param i64 i32) (result i64)))"#;

/// A service over `money`: `go` answers `{"r": tax(10000, 2000)}`, `count` the library's
/// counter, `trap` and `spin` call the library's faulting functions.
fn shop() -> String {
    module(
        &[
            IMPORT_TAX,
            r#"(import "money" "count" (func $count (result i64)))"#,
            r#"(import "money" "trap" (func $trap (result i64)))"#,
            r#"(import "money" "spin" (func $spin (result i64)))"#,
        ],
        r#"(func (export "handle_go") (param i32 i32) (result i64)
             (call $num (call $tax (i64.const 10000) (i32.const 2000))))
           (func (export "handle_count") (param i32 i32) (result i64) (call $num (call $count)))
           (func (export "handle_trap") (param i32 i32) (result i64) (call $num (call $trap)))
           (func (export "handle_spin") (param i32 i32) (result i64) (call $num (call $spin)))"#,
    )
}

fn shop_config(name: &str, policy: InstancePooling) -> ServiceConfig {
    let mut c = config(name, &[], &["go", "count", "trap", "spin"]);
    c.links = vec!["money".to_owned()];
    c.policy = policy;
    c
}

fn lib<'a>(name: &'a str, links: &'a [String], wat: &'a str) -> LibraryModule<'a> {
    LibraryModule { name, links, bytes: wat.as_bytes() }
}

impl Harness {
    fn load_composed(&mut self, config: &ServiceConfig, wat: &str, libs: &[LibraryModule<'_>]) {
        if let Err(e) = self.rt.load_composed(config, wat.as_bytes(), libs) {
            panic!("load failed: {e}");
        }
    }
}

#[test]
fn a_linked_call_reaches_the_library_and_counts_its_code_and_memory() {
    let mut h = Harness::new();
    let shop = shop();
    h.load_composed(
        &shop_config("shop", InstancePooling::PerRequest),
        &shop,
        &[lib("money", &[], MONEY)],
    );
    let slice = h.start("shop", "go", "{}");
    assert_eq!(r(&slice), 2000);
    // The service module's one page only: the library defines no memory.
    assert_eq!(slice.memory.bytes, 65_536);
    let wasm =
        |text: &str| fusebench_model::module::module_bytes("t", text.as_bytes()).expect("wat");
    let alone = super::code_section_bytes(&wasm(&shop));
    let money = super::code_section_bytes(&wasm(MONEY));
    assert!(money > 0);
    assert_eq!(h.rt.code_bytes("shop"), alone + money, "cold start compiles every module");
    assert_eq!(h.rt.live_instances(), 0);
}

#[test]
fn a_shared_library_compiles_once() {
    let mut h = Harness::new();
    let libs = [lib("money", &[], MONEY)];
    h.load_composed(&shop_config("shop", InstancePooling::PerRequest), &shop(), &libs);
    // A second service with another module over the same library.
    let mut c = config("invoice", &[], &["total"]);
    c.links = vec!["money".to_owned()];
    let invoice = module(
        &[IMPORT_TAX],
        r#"(func (export "handle_total") (param i32 i32) (result i64)
             (call $num (call $tax (i64.const 500) (i32.const 1000))))"#,
    );
    h.load_composed(&c, &invoice, &libs);
    assert_eq!(h.rt.cached_modules(), 3, "money, shop and invoice: the library once");
    assert_eq!(r(&h.start("invoice", "total", "{}")), 50);
    assert_eq!(r(&h.start("shop", "go", "{}")), 2000);
}

#[test]
fn a_pooled_composition_keeps_the_library_state() {
    let mut h = Harness::new();
    let pooled = shop_config("shop", InstancePooling::Pooled { idle_max: 2 });
    h.load_composed(&pooled, &shop(), &[lib("money", &[], MONEY)]);
    assert_eq!(r(&h.start("shop", "count", "{}")), 1);
    assert_eq!(r(&h.start("shop", "count", "{}")), 2);
    let mut h = Harness::new();
    let fresh = shop_config("shop", InstancePooling::PerRequest);
    h.load_composed(&fresh, &shop(), &[lib("money", &[], MONEY)]);
    assert_eq!(r(&h.start("shop", "count", "{}")), 1);
    assert_eq!(r(&h.start("shop", "count", "{}")), 1);
}

#[test]
fn a_trap_or_fuel_exhaustion_in_the_library_is_the_service_s_fault_and_the_host_goes_on() {
    let mut h = Harness::new();
    let pooled = shop_config("shop", InstancePooling::Pooled { idle_max: 2 });
    h.load_composed(&pooled, &shop(), &[lib("money", &[], MONEY)]);
    assert_eq!(r(&h.start("shop", "count", "{}")), 1);
    let trap = h.start("shop", "trap", "{}");
    assert_eq!(
        failed(&trap).cause,
        GuestFault::Trap { kind: TrapKind::Unreachable, grow_refused: None }
    );
    assert_eq!(failed(&trap).phase, Phase::Handler);
    let spin = h.start("shop", "spin", "{}");
    assert_eq!(failed(&spin).cause, GuestFault::FuelExhausted { budget: 1_000_000 });
    // The faulted compositions were discarded whole: the counter starts again.
    assert_eq!(r(&h.start("shop", "count", "{}")), 1);
    assert_eq!(r(&h.start("shop", "go", "{}")), 2000);
    assert_eq!(h.rt.idle_instances("shop"), Some(1));
}

/// A library with its own memory and `alloc` that reads a key through the host: `lookup()`
/// answers `len * 1000 + first byte` of the value, read from the library's own memory.
fn store_library() -> String {
    format!(
        r#"(module {KV_GET} {PRELUDE}
          (data (i32.const 0) "orders")
          (data (i32.const 16) "k1")
          (func (export "lookup") (result i64)
            (local $v i64) (local $p i32)
            (local.set $v (call $kv_get (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 2)))
            (if (i64.lt_s (local.get $v) (i64.const 0)) (then (return (local.get $v))))
            (local.set $p (i32.wrap_i64 (i64.shr_u (local.get $v) (i64.const 32))))
            (i64.add (i64.mul (i64.and (local.get $v) (i64.const 0xffffffff)) (i64.const 1000))
                     (i64.load8_u (local.get $p)))))"#
    )
}

fn reader(capabilities: &[Capability]) -> (ServiceConfig, String) {
    let mut c = config("reader", capabilities, &["read"]);
    c.links = vec!["store".to_owned()];
    c.permissions.kv_owned = set(&["orders"]);
    let wat = module(
        &[r#"(import "store" "lookup" (func $lookup (result i64)))"#],
        r#"(func (export "handle_read") (param i32 i32) (result i64)
             (call $num (call $lookup)))"#,
    );
    (c, wat)
}

#[test]
fn a_host_operation_inside_a_library_suspends_and_resumes_into_the_library_s_memory() {
    let mut h = Harness::new();
    let (c, wat) = reader(&[Capability::Kv]);
    let store = store_library();
    h.load_composed(&c, &wat, &[lib("store", &[], &store)]);
    let first = h.start("reader", "read", "{}");
    assert_eq!(pending(&first), &HostOp::KvGet { store: "orders".into(), key: b"k1".to_vec() });
    // Both memories count: the service's page and the library's.
    assert_eq!(first.memory.bytes, 2 * 65_536);
    assert!(first.memory.kept);
    let second = h.resume(first.invocation, HostReply::Value(b"hello".to_vec()));
    assert_eq!(r(&second), 5 * 1000 + i64::from(b'h'));
    assert_eq!(done(&second).report.suspensions, 1);
    // An error code reaches the library too.
    let again = h.start("reader", "read", "{}");
    let code = h.resume(again.invocation, HostReply::Error(HostCode::NotFound));
    assert_eq!(r(&code), i64::from(HostCode::NotFound.code()));
}

#[test]
fn a_library_cannot_reach_a_capability_the_service_was_not_granted() {
    let mut h = Harness::new();
    let (c, wat) = reader(&[]);
    let store = store_library();
    let err =
        h.rt.load_composed(&c, wat.as_bytes(), &[lib("store", &[], &store)])
            .expect_err("the host refuses it");
    assert!(
        matches!(&err, ServiceLoadError::CapabilityNotGranted { service, capability: Capability::Kv, .. } if service.contains("library `store`")),
        "{err}"
    );
}

#[test]
fn a_library_s_names_are_checked_against_the_service_s_permissions_at_run_time() {
    let mut h = Harness::new();
    let (mut c, wat) = reader(&[Capability::Kv]);
    c.permissions.kv_owned.clear();
    let store = store_library();
    h.load_composed(&c, &wat, &[lib("store", &[], &store)]);
    let slice = h.start("reader", "read", "{}");
    assert_eq!(r(&slice), i64::from(HostCode::Denied.code()));
    assert_eq!(done(&slice).report.refusals.len(), 1);
}

#[test]
fn a_memory_bomb_in_a_library_is_contained_by_the_composition_s_limit() {
    let bomb = r#"(module (memory (export "memory") 1)
      (func (export "bomb") (result i64)
        (loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        (i64.load (i32.const 0x7ffffff0))))"#;
    let mut h = Harness::new();
    let mut c = config("victim", &[], &["go"]);
    c.links = vec!["bomb".to_owned()];
    let wat = module(
        &[r#"(import "bomb" "bomb" (func $bomb (result i64)))"#],
        r#"(func (export "handle_go") (param i32 i32) (result i64) (call $num (call $bomb)))"#,
    );
    h.load_composed(&c, &wat, &[lib("bomb", &[], bomb)]);
    let slice = h.start("victim", "go", "{}");
    let fault = failed(&slice);
    let GuestFault::Trap { kind: TrapKind::MemoryOutOfBounds, grow_refused: Some(refused) } =
        fault.cause
    else {
        panic!("expected an out-of-bounds trap after a refused grow, got {:?}", fault.cause);
    };
    // The limit (1 MiB) covers the service's page and the library's pages together.
    assert_eq!(refused.limit_bytes, 1 << 20);
    assert_eq!(refused.desired_bytes, (1 << 20) + 65_536);
    assert_eq!(fault.report.limits.grows_refused, 1);
    assert_eq!(h.rt.live_instances(), 0);
}

#[test]
fn libraries_link_libraries_in_order_and_bad_links_are_refused_at_load() {
    let base = r#"(module (func (export "seven") (result i64) (i64.const 7)))"#;
    let mid = r#"(module (import "base" "seven" (func $s (result i64)))
        (func (export "fourteen") (result i64) (i64.mul (call $s) (i64.const 2))))"#;
    let mut c = config("top", &[], &["go"]);
    c.links = vec!["mid".to_owned()];
    let wat = module(
        &[r#"(import "mid" "fourteen" (func $f (result i64)))"#],
        r#"(func (export "handle_go") (param i32 i32) (result i64) (call $num (call $f)))"#,
    );
    let base_links: Vec<String> = vec!["base".to_owned()];
    let mut h = Harness::new();
    h.load_composed(&c, &wat, &[lib("base", &[], base), lib("mid", &base_links, mid)]);
    assert_eq!(r(&h.start("top", "go", "{}")), 14);
    // Out of order (a cycle cannot be ordered): refused, naming the link.
    let mut h = Harness::new();
    let err = h
        .rt
        .load_composed(&c, wat.as_bytes(), &[lib("mid", &base_links, mid), lib("base", &[], base)])
        .expect_err("the host refuses it");
    assert!(matches!(&err, ServiceLoadError::LinkOrder { link, .. } if link == "base"), "{err}");
    // An import the library does not export, and one of another type.
    let missing = module(
        &[r#"(import "mid" "twenty" (func $f (result i64)))"#],
        r#"(func (export "handle_go") (param i32 i32) (result i64) (call $num (call $f)))"#,
    );
    let err = Harness::new()
        .rt
        .load_composed(
            &c,
            missing.as_bytes(),
            &[lib("base", &[], base), lib("mid", &base_links, mid)],
        )
        .expect_err("the host refuses it");
    assert!(
        matches!(&err, ServiceLoadError::LinkUnresolved { import, .. } if import == "mid.twenty"),
        "{err}"
    );
    let mistyped = module(
        &[r#"(import "mid" "fourteen" (func $f (result i32)))"#],
        r#"(func (export "handle_go") (param i32 i32) (result i64) (call $num (i64.extend_i32_s (call $f))))"#,
    );
    let err = Harness::new()
        .rt
        .load_composed(
            &c,
            mistyped.as_bytes(),
            &[lib("base", &[], base), lib("mid", &base_links, mid)],
        )
        .expect_err("the host refuses it");
    assert!(matches!(&err, ServiceLoadError::LinkSignature { .. }), "{err}");
    assert!(err.to_string().contains("() -> i64"), "{err}");
}

#[test]
fn an_instance_s_memory_counts_every_memory_of_the_composition_exported_or_not() {
    // `money` with a memory of its own (3 pages) that it does not export, grown by one page
    // when `count` runs: the instance's memory is what the limiter counts, not only the
    // exported memories.
    let hidden = MONEY.replacen(
        "(module",
        "(module\n  (memory $m 3)",
        1,
    )
    .replace("(global.set $n (i64.add (global.get $n) (i64.const 1))) (global.get $n))", "(drop (memory.grow $m (i32.const 1))) (global.set $n (i64.add (global.get $n) (i64.const 1))) (global.get $n))");
    let mut h = Harness::new();
    let shop = shop();
    h.load_composed(
        &shop_config("shop", InstancePooling::Pooled { idle_max: 1 }),
        &shop,
        &[lib("money", &[], &hidden)],
    );
    let first = h.start("shop", "go", "{}");
    assert_eq!(r(&first), 2000);
    assert_eq!(first.memory.bytes, (1 + 3) * 65_536);
    // It grows in the library: the same instance now holds one more page.
    let grown = h.start("shop", "count", "{}");
    assert_eq!(r(&grown), 1);
    assert_eq!(grown.memory.instance, first.memory.instance);
    assert_eq!(grown.memory.bytes, (1 + 4) * 65_536);
}

#[test]
fn the_composition_s_initial_memory_must_fit_the_limit() {
    let big = r#"(module (memory (export "memory") 16) (func (export "seven") (result i64) (i64.const 7)))"#;
    let mut c = config("fat", &[], &["go"]);
    c.links = vec!["big".to_owned()];
    let wat = module(
        &[r#"(import "big" "seven" (func $s (result i64)))"#],
        r#"(func (export "handle_go") (param i32 i32) (result i64) (call $num (call $s)))"#,
    );
    let err = Harness::new()
        .rt
        .load_composed(&c, wat.as_bytes(), &[lib("big", &[], big)])
        .expect_err("the host refuses it");
    assert!(
        matches!(err, ServiceLoadError::InitialMemoryTooLarge { initial_bytes, .. } if initial_bytes == 17 * 65_536),
        "{err}"
    );
}
