//! The WASM host's costs (issue "The WASM host"): a typed host→guest call through wasmi, a JSON
//! request through a real Rust guest (pooled and fresh instances, and the same handler compiled
//! natively as the floor), and one suspend/resume round trip of a host call.
//!
//! `cargo bench --bench wasm_host`; figures and conclusions in benches/README.md. Times are the
//! bench thread's CPU time (see support/cpu.rs).

#[path = "support/cpu.rs"]
mod cpu;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use cpu::ThreadCpu;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fusebench_model::Capability;
use fusebench_sim::runtime::fake::{CountingRandom, FakeCall, run_to_end};
use fusebench_sim::runtime::{
    HostContext, HostOp, HostReply, InstancePooling, LogLine, Runtime, ServiceConfig, SliceOutcome,
};

const INVENTORY: &[u8] = include_bytes!("../scenarios/shop/modules/rust/inventory.wasm");
const INVENTORY_DB: &str = "inventory-db";
const STOCK_REQUEST: &str = r#"{"sku":"sku-3"}"#;
const STOCK_RESPONSE: &str = r#"{"sku":"sku-3","available":42}"#;

/// A [`Runtime`] driven to completion, with its host operations answered at once from an
/// in-memory key-value map (no simulated time: only the host's and the guest's own work).
struct Driver {
    rt: Runtime,
    kv: BTreeMap<(String, Vec<u8>), Vec<u8>>,
    /// The guests here never draw from it.
    random: CountingRandom,
    logs: Vec<LogLine>,
    /// Reply every `kv_get` with this instead of looking it up (the suspend/resume probe).
    fixed_get: Option<HostReply>,
}

impl Driver {
    fn new() -> Self {
        Self {
            rt: Runtime::default(),
            kv: BTreeMap::new(),
            random: CountingRandom::default(),
            logs: Vec::new(),
            fixed_get: None,
        }
    }

    /// Runs one request to completion; returns the response body.
    fn request(&mut self, service: &str, endpoint: &str, request: &[u8]) -> Vec<u8> {
        let Driver { rt, kv, random, logs, fixed_get } = self;
        let mut ctx = HostContext { now_nanos: 0, random, log: logs };
        let call = FakeCall { service, endpoint, request };
        let answer = |op: &HostOp| match op {
            HostOp::KvGet { .. } if fixed_get.is_some() => {
                fixed_get.clone().unwrap_or(HostReply::Ack)
            }
            HostOp::KvGet { store, key } => match kv.get(&(store.clone(), key.clone())) {
                Some(value) => HostReply::Value(value.clone()),
                None => HostReply::Error(fusebench_sim::runtime::HostCode::NotFound),
            },
            HostOp::KvPut { store, key, value } => {
                kv.insert((store.clone(), key.clone()), value.clone());
                HostReply::Ack
            }
            other => panic!("the benchmark guests do not use {}", other.import()),
        };
        let (slice, _) = run_to_end(rt, &mut ctx, call, answer).expect("runs");
        logs.clear();
        match slice.outcome {
            SliceOutcome::Done(response) => response.body.into_bytes(),
            other => panic!("{service}.{endpoint} did not answer: {other:?}"),
        }
    }
}

fn inventory_config(name: &str, policy: InstancePooling) -> ServiceConfig {
    let mut c = ServiceConfig::new(name);
    c.capabilities = [Capability::Kv, Capability::Log].into_iter().collect();
    c.endpoints = ["reserve", "restock", "stock"].map(String::from).into_iter().collect();
    c.permissions.kv_owned.insert(INVENTORY_DB.to_owned());
    c.policy = policy;
    c
}

/// The shop's Rust inventory module loaded twice (one compiled module): pooled and fresh.
fn inventory_driver() -> Driver {
    let mut d = Driver::new();
    let pooled = inventory_config("inventory-pooled", InstancePooling::Pooled { idle_max: 4 });
    let fresh = inventory_config("inventory-fresh", InstancePooling::PerRequest);
    d.rt.load_service(&pooled, INVENTORY).expect("load pooled");
    d.rt.load_service(&fresh, INVENTORY).expect("load fresh");
    d.kv.insert((INVENTORY_DB.to_owned(), b"stock/sku-3".to_vec()), b"42".to_vec());
    for service in ["inventory-pooled", "inventory-fresh"] {
        let body = d.request(service, "stock", STOCK_REQUEST.as_bytes());
        assert_eq!(String::from_utf8_lossy(&body), STOCK_RESPONSE);
    }
    d
}

/// inventory's `stock` handler exactly as in guests/shop/inventory/src/lib.rs (its handlers
/// are private to a `cdylib`, so they cannot be linked from here), compiled natively against
/// the same SDK source (benches/guest-native) and its in-memory fake host.
mod native_inventory {
    use fusebench_guest::{AppError, Reply, kv};
    use serde::{Deserialize, Serialize};

    const DB: &str = "inventory-db";
    pub const INITIAL_STOCK: i64 = 100;

    #[derive(Debug, Deserialize)]
    pub struct StockQuery {
        sku: String,
    }

    #[derive(Debug, Serialize)]
    pub struct Stock {
        sku: String,
        available: i64,
    }

    pub fn stock(req: StockQuery) -> Reply<Stock> {
        let available = available(&req.sku)?;
        Ok(Stock { sku: req.sku, available })
    }

    fn available(sku: &str) -> Result<i64, AppError> {
        match kv::get(DB, format!("stock/{sku}")).map_err(|_| storage_unavailable())? {
            None => Ok(INITIAL_STOCK),
            Some(text) => {
                fusebench_guest::parse_decimal(&text).ok_or_else(|| AppError::new("corrupt_record"))
            }
        }
    }

    fn storage_unavailable() -> AppError {
        AppError::unavailable("storage")
    }
}

/// `add(i32, i32)` straight through wasmi, with the runtime's engine settings (fuel on, eager).
fn typed_call(c: &mut Criterion<ThreadCpu>) {
    let mut config = wasmi::Config::default();
    config.consume_fuel(true).compilation_mode(wasmi::CompilationMode::Eager);
    let engine = wasmi::Engine::new(&config);
    let wasm = wat::parse_str(
        r#"(module (func (export "add") (param i32 i32) (result i32)
              (i32.add (local.get 0) (local.get 1))))"#,
    )
    .expect("valid WAT");
    let module = wasmi::Module::new(&engine, &wasm[..]).expect("valid module");
    let mut store = wasmi::Store::new(&engine, ());
    store.set_fuel(u64::MAX).expect("fuel metering is on");
    let instance = wasmi::Linker::<()>::new(&engine)
        .instantiate_and_start(&mut store, &module)
        .expect("instantiate");
    let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add").expect("add export");
    c.bench_function("host_to_guest_typed_call_add", |b| {
        b.iter(|| add.call(&mut store, (black_box(1), black_box(2))).expect("add"));
    });
}

/// One `inventory.stock` request (one `kv_get`, answered with a value) end to end.
fn json_request(c: &mut Criterion<ThreadCpu>) {
    let mut d = inventory_driver();
    let mut g = c.benchmark_group("inventory_stock");
    g.throughput(Throughput::Elements(1));
    g.bench_function("wasmi_pooled_instance", |b| {
        b.iter(|| d.request("inventory-pooled", "stock", black_box(STOCK_REQUEST.as_bytes())));
    });
    g.bench_function("wasmi_fresh_instance", |b| {
        b.iter(|| d.request("inventory-fresh", "stock", black_box(STOCK_REQUEST.as_bytes())));
    });
    fusebench_guest::fake::reset();
    fusebench_guest::fake::set_kv(INVENTORY_DB, "stock/sku-3", "42");
    assert_eq!(
        fusebench_guest::fake::invoke(native_inventory::stock, STOCK_REQUEST),
        STOCK_RESPONSE
    );
    g.bench_function("native_same_handler", |b| {
        b.iter(|| fusebench_guest::fake::invoke(native_inventory::stock, black_box(STOCK_REQUEST)));
    });
    g.finish();
}

/// A WAT guest whose `hundred` endpoint calls `kv_get` 100 times and whose `zero` endpoint
/// calls it never; (t(hundred) − t(zero)) / 100 is one suspend + resume round trip.
const KV_LOOP: &str = r#"(module
  (import "fusebench" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "db")
  (data (i32.const 8) "k")
  (data (i32.const 16) "{}")
  (global $bump (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (if (i32.gt_u (i32.add (global.get $bump) (local.get $len)) (i32.const 65536))
      (then (global.set $bump (i32.const 1024))))
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (local.get $p))
  (func $gets (param $n i32) (result i64)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (drop (call $kv_get (i32.const 0) (i32.const 2) (i32.const 8) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 2)))
  (func (export "handle_zero") (param i32 i32) (result i64) (call $gets (i32.const 0)))
  (func (export "handle_hundred") (param i32 i32) (result i64) (call $gets (i32.const 100))))"#;

fn suspend_resume(c: &mut Criterion<ThreadCpu>) {
    let mut d = Driver::new();
    let mut config = ServiceConfig::new("kvloop");
    config.capabilities = [Capability::Kv].into_iter().collect();
    config.endpoints = ["zero", "hundred"].map(String::from).into_iter().collect();
    config.permissions.kv_owned.insert("db".to_owned());
    config.policy = InstancePooling::Pooled { idle_max: 1 };
    d.rt.load_service(&config, KV_LOOP.as_bytes()).expect("load kvloop");
    let mut g = c.benchmark_group("kv_get_suspend_resume");
    let replies = [
        ("not_found", HostReply::Error(fusebench_sim::runtime::HostCode::NotFound)),
        ("value_2_bytes", HostReply::Value(b"42".to_vec())),
    ];
    for (name, reply) in replies {
        d.fixed_get = Some(reply);
        assert_eq!(d.request("kvloop", "hundred", b"{}"), b"{}");
        g.bench_function(format!("0_gets_{name}"), |b| {
            b.iter(|| d.request("kvloop", "zero", black_box(b"{}")));
        });
        g.bench_function(format!("100_gets_{name}"), |b| {
            b.iter(|| d.request("kvloop", "hundred", black_box(b"{}")));
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(ThreadCpu)
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = typed_call, json_request, suspend_resume
}
criterion_main!(benches);
