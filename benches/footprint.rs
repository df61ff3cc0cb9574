//! Memory, not time: bytes per live guest instance (the shop's Rust inventory module) and per
//! pending event in the engine's queue. Measured two ways: the heap bytes the process holds
//! (a counting global allocator: what was asked for, touched or not) and the resident set
//! (`/proc/self/statm`: what was touched). Prints its figures; no criterion.
//!
//! `cargo bench --bench footprint`; figures and conclusions in benches/README.md.

// The counting allocator below is the only unsafe code, and it only forwards to `System`.
#![allow(unsafe_code)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use fusebench_model::Capability;
use fusebench_sim::engine::EventQueue;
use fusebench_sim::runtime::fake::CountingRandom;
use fusebench_sim::runtime::{
    DiscardLog, HostCode, HostContext, HostReply, InstancePooling, InvocationId, Runtime,
    ServiceConfig, ServiceHost, SliceOutcome,
};
use fusebench_sim::time::SimTime;

/// Counts the bytes currently allocated through it.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counter
// has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size().cast_signed(), Ordering::Relaxed);
        // SAFETY: forwarded as is (the caller upholds `GlobalAlloc::alloc`'s contract).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size().cast_signed(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size().cast_signed(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HELD.fetch_add(new_size.cast_signed() - layout.size().cast_signed(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// (heap bytes held, resident bytes) now.
fn usage() -> (i64, i64) {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let resident_pages: i64 =
        statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    (HELD.load(Ordering::Relaxed) as i64, resident_pages * 4096)
}

fn per_item(label: &str, before: (i64, i64), after: (i64, i64), items: u64) {
    let n = items as f64;
    let (heap, resident) = ((after.0 - before.0) as f64, (after.1 - before.1) as f64);
    let (unit, scale) = if heap / n < 4096.0 { ("B", 1.0) } else { ("KiB", 1024.0) };
    eprintln!(
        "{label}: heap {:.1} {unit} each ({:.1} MiB for {items}), resident {:.1} {unit} each \
         ({:.1} MiB)",
        heap / n / scale,
        heap / 1048576.0,
        resident / n / scale,
        resident / 1048576.0,
    );
}

const INSTANCES: u64 = 1_000;
const INVENTORY: &[u8] = include_bytes!("../scenarios/shop/modules/rust/inventory.wasm");

/// 1,000 `inventory.stock` invocations suspended on their `kv_get` at once (1,000 live
/// instances), then all finished and parked in the pool (1,000 idle instances).
fn instances() {
    let mut rt = Runtime::default();
    let mut config = ServiceConfig::new("inventory");
    config.capabilities = [Capability::Kv, Capability::Log].into_iter().collect();
    config.endpoints = ["reserve", "restock", "stock"].map(String::from).into_iter().collect();
    config.permissions.kv_owned.insert("inventory-db".to_owned());
    config.policy = InstancePooling::Pooled { idle_max: INSTANCES as usize };
    rt.load_service(&config, INVENTORY).expect("load inventory");
    let mut random = CountingRandom::default();
    let mut log = DiscardLog;
    let request = br#"{"sku":"sku-3"}"#;
    // Warm up: one request through, so that lazily built host structures are not counted.
    let mut ctx = HostContext { now_nanos: 0, random: &mut random, log: &mut log };
    let warm = rt.start("inventory", "stock", request, &mut ctx).expect("start").invocation;
    let _ = rt.resume(warm, HostReply::Error(HostCode::NotFound), &mut ctx).expect("resume");
    let mut pool = rt.idle_instances("inventory").unwrap_or(0);
    assert_eq!(pool, 1);

    let before = usage();
    let mut suspended: Vec<InvocationId> = Vec::with_capacity(INSTANCES as usize);
    for _ in 0..INSTANCES {
        let slice = rt.start("inventory", "stock", request, &mut ctx).expect("start");
        assert!(matches!(slice.outcome, SliceOutcome::Pending(_)), "stock suspends on its kv_get");
        suspended.push(slice.invocation);
    }
    let held = usage();
    assert_eq!(rt.live_instances() as u64, INSTANCES);
    per_item("live Rust instance (inventory.stock suspended in kv_get)", before, held, INSTANCES);
    for invocation in suspended {
        let slice = rt.resume(invocation, HostReply::Error(HostCode::NotFound), &mut ctx);
        assert!(matches!(slice.expect("resume").outcome, SliceOutcome::Done(_)));
    }
    pool = rt.idle_instances("inventory").unwrap_or(0);
    assert_eq!(pool as u64, INSTANCES);
    per_item("idle pooled Rust instance (after its request)", before, usage(), INSTANCES);
}

/// Where an instance's bytes go, through wasmi directly (the runtime's engine settings, stub
/// imports): the store and instance alone, then after the guest's first `alloc` (which made
/// dlmalloc grow the linear memory; the SDK's own allocator now starts in the initial page).
fn instance_breakdown() {
    let mut config = wasmi::Config::default();
    config.consume_fuel(true).compilation_mode(wasmi::CompilationMode::Eager);
    let engine = wasmi::Engine::new(&config);
    let module = wasmi::Module::new(&engine, INVENTORY).expect("valid module");
    let mut linker = wasmi::Linker::<()>::new(&engine);
    linker
        .func_wrap("fusebench", "kv_get", |_: i32, _: i32, _: i32, _: i32| -> i64 { -1 })
        .and_then(|l| {
            l.func_wrap("fusebench", "kv_put", |_: i32, _: i32, _: i32, _: i32, _: i32, _: i32| 0)
        })
        .expect("stub imports");
    let before = usage();
    let mut live = Vec::with_capacity(INSTANCES as usize);
    for _ in 0..INSTANCES {
        let mut store = wasmi::Store::new(&engine, ());
        store.set_fuel(u64::MAX).expect("fuel metering is on");
        let instance = linker.instantiate_and_start(&mut store, &module).expect("instantiate");
        live.push((store, instance));
    }
    let instantiated = usage();
    let pages = |live: &Vec<(wasmi::Store<()>, wasmi::Instance)>| {
        let (store, instance) = &live[0];
        let memory = instance.get_memory(store, "memory").expect("memory export");
        memory.size(store)
    };
    let initial_pages = pages(&live);
    per_item(
        &format!("  wasmi store + instance ({initial_pages} pages)"),
        before,
        instantiated,
        INSTANCES,
    );
    for (store, instance) in &mut live {
        let alloc = instance.get_typed_func::<i32, i32>(&*store, "alloc").expect("alloc export");
        alloc.call(&mut *store, 16).expect("alloc");
    }
    let grown_pages = pages(&live);
    per_item(
        &format!("  ... after the first alloc ({grown_pages} pages)"),
        before,
        usage(),
        INSTANCES,
    );
    drop(live);
}

const EVENTS: u64 = 1_000_000;

fn pending_events() {
    let before = usage();
    let mut q = EventQueue::default();
    let mut rng = support::Rng(7);
    for n in 0..EVENTS {
        q.schedule(SimTime(rng.below(1_000_000_000)), support::event(n));
    }
    let after = usage();
    eprintln!(
        "event payload {} B (the simulator's `Event`), queue entry {} B (+ time and sequence)",
        size_of::<support::Event>(),
        size_of::<support::Event>() + 16,
    );
    per_item("pending event", before, after, EVENTS);
    std::hint::black_box(&q);
}

fn main() {
    // Events first: the resident figure only sees pages the process had not touched before.
    pending_events();
    instances();
    instance_breakdown();
}
