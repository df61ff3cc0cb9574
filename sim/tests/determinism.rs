//! A run is a pure function of (scenario, modules, seed): the same inputs give the same trace,
//! byte for byte, and the same hash; another seed gives another trace. Checked on the shop (real
//! WebAssembly modules in four languages, stores, a broker, faults) and on a validation scenario
//! (abstract services only), and, over random seeds and durations, the trace's invariants: time
//! never goes backwards, and every client request that reached the gateway is answered exactly
//! once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fusebench_model::Scenario;
use fusebench_sim::runtime::ServiceHost;
use fusebench_sim::setup::{self, ModuleFiles};
use fusebench_sim::time::SimTime;
use fusebench_sim::trace::{self, TraceEvent, TraceLine, TraceMode};
use fusebench_sim::{RunOptions, RunResult, Sim};
use proptest::prelude::*;

/// A scenario with its modules read, ready to run any number of times.
struct Fixture {
    scenario: Scenario,
    files: ModuleFiles,
}

impl Fixture {
    /// `text` is the scenario (compiled in: sim/ reads no files of its own), `relative` its
    /// path under scenarios/, which module paths are relative to.
    fn load(relative: &str, text: &str) -> Self {
        let path: PathBuf =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(relative);
        let loaded = fusebench_sim::load::load_text(&path, text)
            .unwrap_or_else(|e| panic!("{relative}: {e}"));
        Fixture { scenario: loaded.scenario, files: loaded.files }
    }

    /// A fresh host each run: instance pools are state, and must not leak between runs.
    fn host(&self) -> Box<dyn ServiceHost> {
        Box::new(setup::build_runtime(&self.scenario, &self.files).expect("modules load"))
    }

    fn run(&self, seed: u64, duration_s: f64) -> RunResult {
        let mut options = RunOptions::new(seed);
        options.trace = TraceMode::Full;
        options.duration = Some(SimTime::from_secs_f64(duration_s));
        Sim::new(self.scenario.clone(), self.host(), &options).run()
    }
}

/// Same seed, same trace (bytes and hash); a different seed, a different one.
fn check_reproducible(f: &Fixture, duration_s: f64) {
    let a = f.run(1, duration_s);
    let b = f.run(1, duration_s);
    assert!(!a.trace.is_empty(), "Full mode keeps the lines");
    assert!(a.requests_sent > 0, "the workload sent requests");
    assert_eq!(a.trace_hash, b.trace_hash, "{}: same seed, same hash", a.system);
    if a.trace != b.trace {
        let first = a
            .trace
            .split(|&c| c == b'\n')
            .zip(b.trace.split(|&c| c == b'\n'))
            .position(|(x, y)| x != y);
        panic!("{}: same seed, traces differ from line {first:?}", a.system);
    }
    assert_eq!(a.events, b.events);
    let c = f.run(2, duration_s);
    assert_ne!(a.trace_hash, c.trace_hash, "{}: another seed, another run", a.system);
    assert_ne!(a.trace, c.trace);
    check_invariants(&a);
}

/// The trace's invariants: `t` never decreases line to line, and every client request that
/// arrived at the gateway gets exactly one `response` line (at most one for any request).
fn check_invariants(r: &RunResult) {
    let mut last = SimTime::ZERO;
    let mut arrivals: BTreeMap<u64, u32> = BTreeMap::new();
    let mut responses: BTreeMap<u64, u32> = BTreeMap::new();
    for line in trace::read(&r.trace) {
        let TraceLine { t, event } = line.unwrap_or_else(|e| panic!("{}: {e}", r.system));
        assert!(t >= last, "{}: time went back from {last:?} to {t:?}: {event:?}", r.system);
        last = t;
        match event {
            TraceEvent::Arrival { req, .. } => *arrivals.entry(req).or_default() += 1,
            TraceEvent::Response { req, .. } => *responses.entry(req).or_default() += 1,
            _ => {}
        }
    }
    assert!(!arrivals.is_empty(), "{}: no request arrived", r.system);
    for (req, n) in &arrivals {
        assert_eq!(*n, 1, "{}: request {req} arrived {n} times", r.system);
        assert_eq!(
            responses.get(req).copied().unwrap_or(0),
            1,
            "{}: request {req} arrived but was not answered exactly once",
            r.system
        );
    }
    for (req, n) in &responses {
        assert_eq!(*n, 1, "{}: request {req} answered {n} times", r.system);
    }
    assert_eq!(
        r.requests_answered, r.requests_sent,
        "{}: every request sent was answered (drain long enough)",
        r.system
    );
}

#[test]
fn shop_is_reproducible_byte_for_byte() {
    check_reproducible(&shop(), 3.0);
}

#[test]
fn validation_scenario_is_reproducible_byte_for_byte() {
    check_reproducible(
        &Fixture::load(
            "validation/mmc3-rho080.toml",
            include_str!("../../scenarios/validation/mmc3-rho080.toml"),
        ),
        3.0,
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 6,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any seed, any duration: the trace's invariants hold, on the shop (faults, retries,
    /// timeouts, brokers) and on a tandem driven through a WebAssembly router.
    #[test]
    fn trace_invariants_hold_for_any_seed(seed in any::<u64>(), duration_ms in 200u64..3_000) {
        let duration_s = duration_ms as f64 / 1e3;
        for fixture in [&*SHOP, &*TANDEM] {
            check_invariants(&fixture.run(seed, duration_s));
        }
    }
}

fn shop() -> Fixture {
    Fixture::load("shop/shop.toml", include_str!("../../scenarios/shop/shop.toml"))
}

static SHOP: std::sync::LazyLock<Fixture> = std::sync::LazyLock::new(shop);
static TANDEM: std::sync::LazyLock<Fixture> = std::sync::LazyLock::new(|| {
    Fixture::load(
        "validation/tandem-jackson.toml",
        include_str!("../../scenarios/validation/tandem-jackson.toml"),
    )
});

/// Scenarios without `[service.autoscale]` keep their trace byte for byte: autoscaling added
/// no event, no draw and no trace line to them. Pinned from the engine before it existed; a
/// change here must be explained in its commit. (Re-pinned once when the witness became BLAKE3:
/// the same bytes, whose SHA-256 were the pins before — a8c1437a…, 917e908f…, 6d0da8cd….)
#[test]
fn shipped_scenarios_keep_their_trace_hash() {
    let mmc3 = Fixture::load(
        "validation/mmc3-rho080.toml",
        include_str!("../../scenarios/validation/mmc3-rho080.toml"),
    );
    let pinned = [
        ("shop", &*SHOP, 3.0, "a738f5323256ae4e15474aa86af608031b5bf941fe383932e8c896cbadb01e89"),
        (
            "tandem",
            &*TANDEM,
            3.0,
            "12a3f93cc63ff30391285cf9732cd322dc9da2aa0e8c00b8bf2b4a6e8db281b2",
        ),
        ("mmc3", &mmc3, 3.0, "46d13bfc9e3939bd0c14d237cb890d6925c68f45d4371b56e0700e80ecca8116"),
    ];
    let mut seen = Vec::new();
    for (name, fixture, duration_s, _) in &pinned {
        seen.push(format!("{name} {}", fixture.run(7, *duration_s).trace_hash));
    }
    let expected: Vec<String> =
        pinned.iter().map(|(name, _, _, hash)| format!("{name} {hash}")).collect();
    assert_eq!(seen, expected);
}
