//! What a cold start costs the host on the shipped modules (issue 15, "cold start cost
//! measured on the shipped modules"): compiling each module with wasmi as the simulator's
//! `Runtime` does (fuel metering, eager compilation), and instantiating it through the
//! `Runtime` (imports linked, start function and `_initialize` run), with the fuel that took.
//!
//! Before criterion runs, a table is printed to stderr — per module: code section bytes,
//! compile µs (median of 15), ns per code byte, instantiate µs (median of 15), instantiate
//! fuel, and the cold-start cost the simulator derives for it (`COMPILE_NS_PER_CODE_BYTE` ×
//! code bytes + `INSTANTIATE_NS`) — which benches/README.md copies ("Cold start").
//!
//! `cargo bench --profile dev --bench cold_start` with the per-package opt-levels of
//! benches/README.md. Times are the bench thread's CPU time (see support/cpu.rs).

#[path = "support/cpu.rs"]
mod cpu;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cpu::ThreadCpu;
use criterion::{Criterion, criterion_group, criterion_main};
use fusebench_model::Capability;
use fusebench_sim::runtime::fake::CountingRandom;
use fusebench_sim::runtime::{
    COMPILE_NS_PER_CODE_BYTE, HostContext, INSTANTIATE_NS, InstancePooling, LogLine, Runtime,
    ServiceConfig, code_section_bytes,
};

/// One shipped module.
struct Shipped {
    /// Its path under scenarios/.
    name: String,
    bytes: Vec<u8>,
}

/// Every `.wasm` under scenarios/*/modules/ and scenarios/defects-modules/, sorted by path.
fn shipped() -> Vec<Shipped> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "wasm") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    paths.retain(|p| p.components().any(|c| c.as_os_str().to_string_lossy().contains("modules")));
    paths.sort();
    paths
        .into_iter()
        .map(|p| Shipped {
            name: p.strip_prefix(&root).unwrap_or(&p).display().to_string(),
            bytes: std::fs::read(&p).expect("a shipped module reads"),
        })
        .collect()
}

/// The engine configuration of the simulator's `Runtime`.
fn engine() -> wasmi::Engine {
    let mut config = wasmi::Config::default();
    config.consume_fuel(true).compilation_mode(wasmi::CompilationMode::Eager);
    wasmi::Engine::new(&config)
}

/// A runtime with `m` loaded as service `svc`: every capability granted, its handlers
/// declared as endpoints, fresh instances per request. An error for a module that does not
/// start alone: a library of a composed service (no service ABI), or a service whose imports a
/// linked library satisfies (scenarios/composed/).
fn loaded(m: &Shipped) -> Result<Runtime, String> {
    let info = fusebench_model::module::inspect(&m.bytes).expect("a shipped module parses");
    let mut config = ServiceConfig::new("svc");
    config.capabilities = Capability::ALL.iter().copied().collect();
    config.endpoints = info
        .exports
        .iter()
        .filter_map(|e| e.name.strip_prefix("handle_").map(str::to_owned))
        .collect();
    config.policy = InstancePooling::PerRequest;
    let mut rt = Runtime::default();
    rt.load_service(&config, &m.bytes).map_err(|e| e.to_string())?;
    Ok(rt)
}

fn instantiate(rt: &mut Runtime) -> u64 {
    let mut random = CountingRandom::default();
    let mut log: Vec<LogLine> = Vec::new();
    let mut ctx = HostContext { now_nanos: 0, random: &mut random, log: &mut log };
    rt.instantiate_probe("svc", &mut ctx).expect("instantiates")
}

fn median_cpu(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = cpu::now();
            f();
            cpu::now().saturating_sub(t)
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// The table benches/README.md copies.
fn table(modules: &[Shipped]) {
    let engine = engine();
    eprintln!(
        "| module | code bytes | compile µs | ns / code byte | instantiate µs | instantiate fuel | simulator's cost µs |"
    );
    eprintln!("|---|---:|---:|---:|---:|---:|---:|");
    let mut alone = Vec::new();
    // Per module, for the medians the simulator's two constants are set from.
    let mut per_byte = Vec::new();
    let mut instantiations = Vec::new();
    for m in modules {
        let code = code_section_bytes(&m.bytes);
        let compile = median_cpu(15, || {
            black_box(wasmi::Module::new(&engine, &m.bytes[..]).expect("compiles"));
        });
        let derived = code * COMPILE_NS_PER_CODE_BYTE + INSTANTIATE_NS;
        per_byte.push(compile.as_nanos() as f64 / code.max(1) as f64);
        let mut rt = match loaded(m) {
            Ok(rt) => rt,
            Err(why) => {
                eprintln!(
                    "| {} | {code} | {:.0} | {:.1} | – | – | {:.0} |",
                    m.name,
                    compile.as_secs_f64() * 1e6,
                    compile.as_nanos() as f64 / code.max(1) as f64,
                    derived as f64 / 1e3,
                );
                alone.push(format!("{}: {why}", m.name));
                continue;
            }
        };
        let fuel = instantiate(&mut rt);
        let inst = median_cpu(15, || {
            black_box(instantiate(&mut rt));
        });
        instantiations.push(inst.as_nanos() as f64);
        eprintln!(
            "| {} | {code} | {:.0} | {:.1} | {:.1} | {fuel} | {:.0} |",
            m.name,
            compile.as_secs_f64() * 1e6,
            compile.as_nanos() as f64 / code.max(1) as f64,
            inst.as_secs_f64() * 1e6,
            derived as f64 / 1e3,
        );
    }
    for line in alone {
        eprintln!("not instantiated alone (part of a composed service): {line}");
    }
    eprintln!(
        "median over modules: {:.1} ns per code byte (COMPILE_NS_PER_CODE_BYTE is {COMPILE_NS_PER_CODE_BYTE}), \
         {:.0} ns per instantiation (INSTANTIATE_NS is {INSTANTIATE_NS})",
        median(&mut per_byte),
        median(&mut instantiations),
    );
}

/// The median of `xs` (the upper one of an even count), 0 for none.
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

fn cold_start(c: &mut Criterion<ThreadCpu>) {
    let modules = shipped();
    assert!(modules.len() >= 20, "found only {} shipped modules", modules.len());
    table(&modules);
    let engine = engine();
    let mut group = c.benchmark_group("cold_start");
    for m in &modules {
        group.bench_function(format!("compile/{}", m.name), |b| {
            b.iter(|| wasmi::Module::new(&engine, black_box(&m.bytes[..])).expect("compiles"));
        });
        if let Ok(mut rt) = loaded(m) {
            group.bench_function(format!("instantiate/{}", m.name), |b| {
                b.iter(|| instantiate(&mut rt));
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(ThreadCpu)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(800));
    targets = cold_start
}
criterion_main!(benches);
