//! The deterministic simulator's costs (issue "The deterministic simulator"): the bare event
//! queue, and the shop scenario end to end with its real WebAssembly modules, split into time
//! inside guests and engine overhead.
//!
//! `cargo bench --bench engine`; figures and conclusions in benches/README.md. Times are the
//! bench thread's CPU time (see support/cpu.rs), except the guest/engine split (wall time).

#[path = "support/cpu.rs"]
mod cpu;
mod support;

use std::cell::Cell;
use std::hint::black_box;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cpu::ThreadCpu;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use fusebench_model::Scenario;
use fusebench_sim::engine::EventQueue;
use fusebench_sim::runtime::{
    HostContext, HostReply, InvocationId, InvokeError, Runtime, ServiceHost, Slice,
};
use fusebench_sim::setup::{self, ModuleFiles};
use fusebench_sim::time::SimTime;
use fusebench_sim::trace::TraceMode;
use fusebench_sim::{RunOptions, Sim};

/// Events popped and rescheduled per measured iteration.
const BATCH: u64 = 1_000;

/// The classic "hold" model: the queue keeps `pending` events; each step pops the earliest and
/// schedules a new one up to 1 ms later, as a component reacting to an event does.
fn event_queue(c: &mut Criterion<ThreadCpu>) {
    let mut g = c.benchmark_group("event_queue_hold");
    g.throughput(Throughput::Elements(BATCH));
    for pending in [1_000u64, 100_000] {
        let mut q = EventQueue::default();
        let mut rng = support::Rng(0x9E37_79B9_7F4A_7C15);
        for n in 0..pending {
            q.schedule(SimTime(rng.below(1_000_000)), support::event(n));
        }
        let mut n = pending;
        g.bench_with_input(BenchmarkId::new("pop_then_schedule", pending), &pending, |b, _| {
            b.iter(|| {
                for _ in 0..BATCH {
                    let (_, event) = q.pop().expect("the queue never empties");
                    black_box(event);
                    q.after(rng.below(1_000_000), support::event(n));
                    n += 1;
                }
            });
        });
    }
    g.finish();
}

/// Wall time spent inside the runtime's `start`/`resume` (the guests, plus the host's copying
/// and bookkeeping around them), summed over a run.
#[derive(Debug, Default)]
struct GuestClock {
    inside: Cell<Duration>,
    slices: Cell<u64>,
}

/// A [`Runtime`] that times every slice it runs.
struct TimedHost {
    inner: Runtime,
    clock: Rc<GuestClock>,
}

impl TimedHost {
    fn timed(
        &mut self,
        f: impl FnOnce(&mut Runtime) -> Result<Slice, InvokeError>,
    ) -> Result<Slice, InvokeError> {
        let started = Instant::now();
        let slice = f(&mut self.inner);
        self.clock.inside.set(self.clock.inside.get() + started.elapsed());
        self.clock.slices.set(self.clock.slices.get() + 1);
        slice
    }
}

impl ServiceHost for TimedHost {
    fn start_in(
        &mut self,
        service: &str,
        pool: u32,
        endpoint: &str,
        request: &[u8],
        ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        self.timed(|rt| rt.start_in(service, pool, endpoint, request, ctx))
    }

    fn resume(
        &mut self,
        invocation: InvocationId,
        reply: HostReply,
        ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        self.timed(|rt| rt.resume(invocation, reply, ctx))
    }

    fn abandon(&mut self, invocation: InvocationId) -> bool {
        self.inner.abandon(invocation)
    }

    fn drop_pool(&mut self, service: &str, pool: u32) {
        self.inner.drop_pool(service, pool);
    }
}

/// Totals over every measured run of one scenario.
#[derive(Debug, Default)]
struct Totals {
    runs: u64,
    cpu: Duration,
    wall: Duration,
    inside: Duration,
    requests: u64,
    events: u64,
    slices: u64,
    fuel: u64,
}

fn load_scenario(path: &str) -> (Scenario, ModuleFiles) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let loaded = fusebench_sim::load::load(&path).expect("the scenario loads");
    (loaded.scenario, loaded.files)
}

/// One run with trace off. Building the runtime (compiling the modules) and `Sim::new` are not
/// timed, `run()` is.
struct Run {
    cpu: Duration,
    wall: Duration,
    result: fusebench_sim::RunResult,
    clock: Rc<GuestClock>,
}

fn timed_run(s: &Scenario, files: &ModuleFiles) -> Run {
    let runtime = setup::build_runtime(s, files).expect("modules load");
    let clock = Rc::new(GuestClock::default());
    let host = TimedHost { inner: runtime, clock: Rc::clone(&clock) };
    let mut options = RunOptions::new(1);
    options.trace = TraceMode::Off;
    let sim = Sim::new(s.clone(), Box::new(host), &options);
    let (cpu_started, started) = (cpu::now(), Instant::now());
    let result = sim.run();
    Run { cpu: cpu::now() - cpu_started, wall: started.elapsed(), result, clock }
}

fn shop_end_to_end(c: &mut Criterion<ThreadCpu>) {
    let mut g = c.benchmark_group("shop_end_to_end");
    g.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_millis(200));
    for scenario in ["scenarios/shop/shop.toml", "scenarios/shop/shop-rust.toml"] {
        let (s, files) = load_scenario(scenario);
        let first = timed_run(&s, &files).result;
        g.throughput(Throughput::Elements(first.requests_sent));
        let mut totals = Totals::default();
        g.bench_function(BenchmarkId::new("simulated_requests", scenario), |b| {
            b.iter_custom(|iters| {
                let mut cpu = Duration::ZERO;
                for _ in 0..iters {
                    let run = timed_run(&s, &files);
                    cpu += run.cpu;
                    totals.runs += 1;
                    totals.cpu += run.cpu;
                    totals.wall += run.wall;
                    totals.inside += run.clock.inside.get();
                    totals.slices += run.clock.slices.get();
                    totals.requests += run.result.requests_sent;
                    totals.events += run.result.events;
                    totals.fuel += run.result.guest_fuel;
                }
                cpu
            });
        });
        report(scenario, &totals);
    }
    g.finish();
}

/// The abstract M/M/c model of `benches/simpy/compare.sh` (`mmc3-rho080.toml`: no guests, one
/// station of three slots, λ = 800/s for 62.5 s ≈ 50,000 requests) with the trace hashed, as
/// `fusebench run` does by default: the engine alone, in simulated requests per CPU second.
/// Then the same runs with the trace off (`trace_off/…`), which no user run does: the
/// difference is what writing and hashing the trace costs per event.
fn abstract_mmc(c: &mut Criterion<ThreadCpu>) {
    let mut g = c.benchmark_group("abstract_mmc");
    g.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_millis(200));
    let scenario = "scenarios/validation/mmc3-rho080.toml";
    let (s, files) = load_scenario(scenario);
    for (name, mode) in [("simulated_requests", TraceMode::Hash), ("trace_off", TraceMode::Off)] {
        let run = || {
            let runtime = setup::build_runtime(&s, &files).expect("an abstract scenario loads");
            let mut options = RunOptions::new(1);
            options.trace = mode;
            let sim = Sim::new(s.clone(), Box::new(runtime), &options);
            let started = cpu::now();
            let result = sim.run();
            (cpu::now() - started, result)
        };
        let (_, first) = run();
        g.throughput(Throughput::Elements(first.requests_sent));
        let (mut cpu_total, mut runs) = (Duration::ZERO, 0u64);
        g.bench_function(BenchmarkId::new(name, scenario), |b| {
            b.iter_custom(|iters| {
                let mut cpu = Duration::ZERO;
                for _ in 0..iters {
                    let (spent, result) = run();
                    assert_eq!(result.trace_hash, first.trace_hash, "the run is deterministic");
                    assert_eq!(result.events, first.events, "the run is deterministic");
                    cpu += spent;
                }
                cpu_total += cpu;
                runs += iters;
                cpu
            });
        });
        if runs == 0 {
            continue; // left out by a filter
        }
        let per_run = cpu_total.as_secs_f64() / runs as f64;
        eprintln!(
            "{scenario} ({name}): {runs} runs, {:.1} ms CPU/run, {} requests/run, {} events/run, \
             {:.0} simulated requests/s, {:.2} M events/s, {:.0} ns/event",
            per_run * 1e3,
            first.requests_sent,
            first.events,
            first.requests_sent as f64 / per_run,
            first.events as f64 / per_run / 1e6,
            per_run / first.events.max(1) as f64 * 1e9,
        );
    }
    g.finish();
}

/// Prints what criterion cannot: the split between guests and engine (nothing for a scenario
/// a filter left out: no run, no figure).
fn report(scenario: &str, t: &Totals) {
    if t.runs == 0 {
        return;
    }
    let cpu = t.cpu.as_secs_f64();
    let wall = t.wall.as_secs_f64();
    let inside = t.inside.as_secs_f64();
    let runs = t.runs as f64;
    let share = inside / wall;
    eprintln!(
        "{scenario}: {} runs, {:.1} ms CPU/run ({:.1} ms wall), {:.0} requests/run, \
         {:.0} simulated requests/s, {:.0} events/run ({:.2} M events/s), {:.0} slices/run; \
         inside start/resume {:.1} % of wall ({:.2} µs/slice), engine overhead {:.1} % \
         (= {:.1} ms CPU/run outside guests, {:.2} µs/event); {:.0} fuel/request, \
         {:.2} ns/fuel inside",
        t.runs,
        cpu / runs * 1e3,
        wall / runs * 1e3,
        t.requests as f64 / runs,
        t.requests as f64 / cpu,
        t.events as f64 / runs,
        t.events as f64 / cpu / 1e6,
        t.slices as f64 / runs,
        share * 100.0,
        inside / t.slices.max(1) as f64 * 1e6,
        (1.0 - share) * 100.0,
        cpu * (1.0 - share) / runs * 1e3,
        cpu * (1.0 - share) / t.events.max(1) as f64 * 1e6,
        t.fuel as f64 / t.requests.max(1) as f64,
        inside / t.fuel.max(1) as f64 * 1e9,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(ThreadCpu)
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = event_queue, shop_end_to_end, abstract_mmc
}
criterion_main!(benches);
