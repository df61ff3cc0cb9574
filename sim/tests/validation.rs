//! The simulator against queueing theory: the scenarios of `scenarios/validation/` have closed-form
//! answers, and every run must agree with them within a tolerance derived from the estimator's
//! known variance.
//!
//! # What is measured (per station, i.e. per service)
//! The engine follows a request at a service from its arrival at the replica to the end of its
//! invocation (queue + service; `ServiceStats`). With T the workload's duration (arrivals stop
//! at T, then the run drains so that every request is finished):
//! * **L̂**, mean number in system: the time average of N(t) over [0, T], read at T
//!   (`Sim::run_until`, then `ServiceStats::mean_in_system(T)`);
//! * **W̄**, mean sojourn: `sojourn_nanos / completed` over all requests that arrived in [0, T];
//! * **ρ̂**, utilisation: `busy_nanos / (T · c)`, the service times drawn for those requests.
//!
//! **Little's law** L = λW is checked on every run over the whole run [0, end], with
//! λ = completed / end: both sides come from the engine's own bookkeeping (the occupancy
//! integral on one side, per-request sojourns on the other), so they must agree to rounding
//! (relative 10⁻⁹); any gap is an accounting bug (a request counted in but never out, a
//! sojourn measured from the wrong instant, …).
//!
//! # Formulas
//! * M/M/1 (arrival rate λ, service rate μ, ρ = λ/μ): W = 1/(μ − λ), L = ρ/(1 − ρ).
//! * M/M/c (Erlang C, offered load a = λ/μ, ρ = a/c):
//!   C(c, a) = [aᶜ/c! · c/(c − a)] / [Σ_{k<c} aᵏ/k! + aᶜ/c! · c/(c − a)],
//!   W = C(c, a)/(cμ − λ) + 1/μ, L = λW.
//! * M/D/1 (Pollaczek–Khinchine with E[S²] = 1/μ²): W = ρ/(2μ(1 − ρ)) + 1/μ, L = λW.
//! * Tandem of two M/M/1 stations (Jackson): P(n₁, n₂) = (1 − ρ₁)ρ₁^n₁ · (1 − ρ₂)ρ₂^n₂, so each
//!   station is an M/M/1 queue with the same λ: Wᵢ = 1/(μᵢ − λ), Lᵢ = ρᵢ/(1 − ρᵢ); and N₁(t),
//!   N₂(t) are independent (checked on the sampled time series).
//!
//! # Tolerances: |estimate − E[estimate]| ≤ Z·σ with Z = 4
//! (two-sided false-alarm probability 6·10⁻⁵ per check, so reshuffled random streams after an
//! engine change do not make the suite flaky; the seeds are fixed, so a given engine always
//! gives the same verdict).
//! * **L̂**: for an M/M/c queue N(t) is a birth–death process, so the asymptotic variance of its
//!   time average is exact (Whitt 1992): T·Var(L̂) → σ² = 2 Σⱼ Fⱼ² / (λ πⱼ), with
//!   Fⱼ = Σ_{i>j} (i − L) πᵢ; for M/M/1 this is 2ρ(1 + ρ)/(μ(1 − ρ)⁴) (checked below). The run
//!   starts empty, so E[L̂] = L + h₀/T with h₀ = −Σⱼ Fⱼ P(N > j)/(λ πⱼ) (for M/M/1,
//!   −ρ/(μ(1 − ρ)³)): the expectation is corrected by it (−0.4 % at ρ = 0.95, T = 105 s).
//!   M/D/1 is not birth–death: σ² is bounded by half the M/M/1 value at the same ρ (heavy-traffic
//!   scaling gives one eighth: the variability parameter c_a² + c_s² halves and σ² ∝ its cube),
//!   and the initial bias by the M/M/1 one, added to the tolerance.
//! * **W̄** = ∫N dt / n: relative σ ≤ relative σ(L̂) + 1/√n (n ~ Poisson(λT)).
//! * **ρ̂** is a compound Poisson sum: relative σ = √((1 + c_s²)/(λT)), c_s² the squared
//!   coefficient of variation of the service time (1 exponential, 0 constant). Exact.
//! * Averaging k seeds divides every σ by √k.
//!
//! ρ = 0.95 is the noisy one: σ(L̂)/L = √(2(1 + ρ)/((1 − ρ)² n)) ≈ √(1560/n), 18 % for 50,000
//! requests (the relaxation time grows like (1 − ρ)⁻²). Its scenario is twice as long
//! (100,000 requests) and it still gets the widest tolerance (±50 % at 4σ in a debug build).
//! Release builds (`cargo test --release`) run every scenario 4× longer, halving every tolerance.
//!
//! Run with `--nocapture` to see measured against expected.

use std::path::Path;

use fusebench_sim::load::Loaded;
use fusebench_sim::runtime::ServiceHost;
use fusebench_sim::time::SimTime;
use fusebench_sim::trace::TraceMode;
use fusebench_sim::{RunOptions, RunResult, Sim, setup};

/// Checks hold within Z standard deviations of the estimator.
const Z: f64 = 4.0;

/// A message between two components on one node takes this long (`LOCAL_NANOS` of
/// `sim/src/system/network.rs`): constant, so arrival processes stay Poisson.
const HOP_S: f64 = 50e-6;

/// Workload durations are multiplied by this: release builds can afford tighter estimates.
const SCALE: f64 = if cfg!(debug_assertions) { 1.0 } else { 4.0 };

// ---- theory ------------------------------------------------------------------------------

/// The number in system of a birth–death process with constant birth rate λ: its mean, the
/// asymptotic variance σ² of its time average (T·Var(L̂_T) → σ²), and h₀ = ∫ (E₀[N(t)] − L) dt,
/// the initial-transient bias of a run started empty (E[L̂_T] ≈ L + h₀/T). Units: seconds.
#[derive(Debug, Clone, Copy)]
struct BirthDeath {
    mean: f64,
    var: f64,
    bias: f64,
}

/// `death(j)`: the death rate in state j ≥ 1.
fn birth_death(lambda: f64, death: impl Fn(usize) -> f64) -> BirthDeath {
    let mut p = vec![1.0_f64];
    loop {
        let j = p.len();
        let next = p[j - 1] * lambda / death(j);
        if next < 1e-250 || j > 1_000_000 {
            break;
        }
        p.push(next);
    }
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= total);
    let mean: f64 = p.iter().enumerate().map(|(i, x)| i as f64 * x).sum();
    // Sums over the tail i > j, accumulated from the top: accumulating Σ_{i≤j} from 0 would
    // lose everything to cancellation where πⱼ is tiny.
    let (mut dev_tail, mut p_tail) = (0.0, 0.0);
    let (mut var, mut bias) = (0.0, 0.0);
    for j in (0..p.len()).rev() {
        var += 2.0 * dev_tail * dev_tail / (lambda * p[j]);
        bias -= dev_tail * p_tail / (lambda * p[j]);
        dev_tail += (j as f64 - mean) * p[j];
        p_tail += p[j];
    }
    BirthDeath { mean, var, bias }
}

fn mmc(lambda: f64, mu: f64, c: u32) -> BirthDeath {
    birth_death(lambda, |j| mu * j.min(c as usize) as f64)
}

/// Erlang C: the probability that an arrival waits in an M/M/c queue with offered load a.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0; // aᵏ/k!
    let mut below = 0.0;
    for k in 0..c {
        below += term;
        term *= a / f64::from(k + 1);
    }
    let top = term * f64::from(c) / (f64::from(c) - a);
    top / (below + top)
}

/// What one station should show, and how far a correct engine may stray from it.
#[derive(Debug, Clone, Copy)]
struct Expect {
    l: f64,
    w_ms: f64,
    rho: f64,
    tol_l: f64,
    tol_w_ms: f64,
    tol_rho: f64,
}

/// The distribution of the service time, for the formulas.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Service {
    Exponential,
    Constant,
}

/// A FIFO station: Poisson(λ) arrivals, `servers` servers, mean service `mean_s` seconds.
#[derive(Debug, Clone, Copy)]
struct Station {
    service: &'static str,
    lambda: f64,
    mean_s: f64,
    servers: u32,
    kind: Service,
}

impl Station {
    /// Theory for arrivals over `t` seconds, averaged over `seeds` independent runs.
    fn expect(&self, t: f64, seeds: usize) -> Expect {
        let (lambda, mu, c) = (self.lambda, 1.0 / self.mean_s, self.servers);
        let rho = lambda / (mu * f64::from(c));
        let k = seeds as f64;
        let n = lambda * t * k;
        let (w, bd_l, var, bias, extra) = match self.kind {
            Service::Exponential => {
                let a = lambda / mu;
                let w = erlang_c(c, a) / (f64::from(c) * mu - lambda) + 1.0 / mu;
                let bd = mmc(lambda, mu, c);
                (w, bd.mean, bd.var, bd.bias / t, 0.0)
            }
            Service::Constant => {
                assert_eq!(c, 1, "M/D/c has no closed form here");
                let w = rho / (2.0 * mu * (1.0 - rho)) + 1.0 / mu;
                let bound = mmc(lambda, mu, 1);
                (w, lambda * w, bound.var / 2.0, 0.0, bound.bias.abs() / t)
            }
        };
        let l = lambda * w;
        assert!((bd_l - l).abs() < 1e-6 * l || self.kind == Service::Constant, "{bd_l} vs {l}");
        let l_hat = l + bias;
        let tol_l = Z * (var / t / k).sqrt() + extra;
        let cs2 = if self.kind == Service::Exponential { 1.0 } else { 0.0 };
        Expect {
            l: l_hat,
            w_ms: l_hat / lambda * 1e3,
            rho,
            tol_l,
            tol_w_ms: (tol_l / l + Z / n.sqrt()) * w * 1e3,
            tol_rho: Z * rho * ((1.0 + cs2) / n).sqrt(),
        }
    }
}

// ---- running -----------------------------------------------------------------------------

/// The scenario text, compiled in (sim/ reads no files of its own).
fn text(name: &str) -> &'static str {
    match name {
        "mm1-rho050" => include_str!("../../scenarios/validation/mm1-rho050.toml"),
        "mm1-rho080" => include_str!("../../scenarios/validation/mm1-rho080.toml"),
        "mm1-rho095" => include_str!("../../scenarios/validation/mm1-rho095.toml"),
        "mmc3-rho080" => include_str!("../../scenarios/validation/mmc3-rho080.toml"),
        "md1-rho080" => include_str!("../../scenarios/validation/md1-rho080.toml"),
        "tandem-jackson" => include_str!("../../scenarios/validation/tandem-jackson.toml"),
        "mm1-ps-rho080" => include_str!("../../scenarios/validation/mm1-ps-rho080.toml"),
        "mmc2-ps-shared" => include_str!("../../scenarios/validation/mmc2-ps-shared.toml"),
        other => panic!("no validation scenario {other}"),
    }
}

/// The scenario with its modules read (paths relative to scenarios/validation/).
fn load(name: &str) -> Loaded {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/validation/{name}.toml"));
    fusebench_sim::load::load_text(&path, text(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn host(loaded: &Loaded) -> Box<dyn ServiceHost> {
    // Abstract services never reach the host: an empty runtime would refuse any call.
    Box::new(setup::build_runtime(&loaded.scenario, &loaded.files).expect("modules load"))
}

/// One station's estimates from one run.
#[derive(Debug, Clone, Copy, Default)]
struct Measured {
    l: f64,
    w_ms: f64,
    rho: f64,
}

/// One run: the stations' estimates, and the whole result.
fn run(
    loaded: &Loaded,
    seed: u64,
    stations: &[Station],
    sample_ms: Option<f64>,
) -> (Vec<Measured>, RunResult) {
    let s = &loaded.scenario;
    let t = s.workload.as_ref().expect("a workload").duration_s * SCALE;
    let mut options = RunOptions::new(seed);
    options.trace = TraceMode::Off;
    options.duration = Some(SimTime::from_secs_f64(t));
    options.sample_interval = sample_ms.map(|ms| (ms * 1e6) as u64);
    let mut sim = Sim::new(s.clone(), host(loaded), &options);
    let t_end = SimTime::from_secs_f64(t);
    sim.run_until(t_end);
    let at_t: Vec<f64> = stations
        .iter()
        .map(|x| {
            sim.metrics().services.get(x.service).map_or(0.0, |m| m.mean_in_system(t_end.nanos()))
        })
        .collect();
    let result = sim.run();
    let measured = stations
        .iter()
        .zip(at_t)
        .map(|(x, l)| {
            let m = result.metrics.services.get(x.service).expect("the station served");
            check_little(&result, x.service);
            assert_eq!(m.completed, m.invocations, "{}: every invocation finished", x.service);
            Measured {
                l,
                w_ms: m.mean_sojourn_ms(),
                rho: m.busy_nanos as f64 / 1e9 / (t * f64::from(x.servers)),
            }
        })
        .collect();
    assert_eq!(result.requests_sent, result.requests_answered, "every request answered");
    for (name, e) in &result.metrics.endpoints {
        assert_eq!(e.successes(), e.total(), "{name}: every request succeeded: {:?}", e.outcomes);
    }
    (measured, result)
}

/// Little's law over the whole run: L = λW with λ = completed / run time. Both sides are the
/// engine's own measurements of the same requests, so only rounding may separate them.
fn check_little(r: &RunResult, service: &str) {
    let m = &r.metrics.services[service];
    let end = r.end;
    let l = m.mean_in_system(end.nanos());
    let lambda = m.completed as f64 / end.as_secs_f64();
    let w = m.mean_sojourn_ms() / 1e3;
    assert!(l > 0.0, "{service}: nobody in the system");
    assert!(
        (l - lambda * w).abs() <= 1e-9 * l,
        "{service} seed {}: Little's law broken: L = {l} but λW = {lambda} × {w} = {}",
        r.seed,
        lambda * w
    );
}

/// Runs `name` once per seed (sampling the time series every `sample_ms` if given) and checks
/// each station's averaged estimates against theory.
fn validate(
    name: &str,
    seeds: &[u64],
    stations: &[Station],
    sample_ms: Option<f64>,
) -> Vec<RunResult> {
    let loaded = load(name);
    let t = loaded.scenario.workload.as_ref().expect("a workload").duration_s * SCALE;
    let mut sums = vec![Measured::default(); stations.len()];
    let mut results = Vec::new();
    for &seed in seeds {
        let (measured, result) = run(&loaded, seed, stations, sample_ms);
        for (sum, m) in sums.iter_mut().zip(measured) {
            sum.l += m.l;
            sum.w_ms += m.w_ms;
            sum.rho += m.rho;
        }
        results.push(result);
    }
    let k = seeds.len() as f64;
    let mut failures = Vec::new();
    for (x, sum) in stations.iter().zip(&sums) {
        let e = x.expect(t, seeds.len());
        let got = Measured { l: sum.l / k, w_ms: sum.w_ms / k, rho: sum.rho / k };
        for (what, got, want, tol) in [
            ("L", got.l, e.l, e.tol_l),
            ("W ms", got.w_ms, e.w_ms, e.tol_w_ms),
            ("rho", got.rho, e.rho, e.tol_rho),
        ] {
            let ok = (got - want).abs() <= tol;
            eprintln!(
                "{name} {:<9} {what:<4}: measured {got:8.4}, expected {want:8.4} ± {tol:.4} \
                 ({:+.2} %, tolerance {:.2} %) {}",
                x.service,
                100.0 * (got / want - 1.0),
                100.0 * tol / want,
                if ok { "ok" } else { "FAIL" }
            );
            if !ok {
                failures.push(format!("{} {what}: {got} not within {want} ± {tol}", x.service));
            }
        }
    }
    assert!(failures.is_empty(), "{name} ({} seeds, T = {t} s): {failures:#?}", seeds.len());
    results
}

/// The client sees the station's sojourn plus four constant hops (client → gateway → replica
/// and back), give or take the latency histogram's resolution (1 µs, 3 significant digits).
fn check_client_latency(r: &RunResult, endpoint: &str, station_w_ms: f64) {
    let h = &r.metrics.endpoints[endpoint].latency;
    let client_ms = h.mean() / 1e3;
    let want = station_w_ms + 4.0 * HOP_S * 1e3;
    assert!(
        (client_ms - want).abs() <= 2e-3 * want + 1e-3,
        "{endpoint}: client mean {client_ms} ms, station {station_w_ms} ms + 4 hops = {want}"
    );
}

fn station(service: &'static str, lambda: f64, mean_ms: f64, servers: u32) -> Station {
    Station { service, lambda, mean_s: mean_ms / 1e3, servers, kind: Service::Exponential }
}

// ---- the formulas themselves -------------------------------------------------------------

#[test]
fn birth_death_formulas_match_the_mm1_closed_forms() {
    for rho in [0.5, 0.8, 0.95] {
        let mu = 1000.0;
        let bd = mmc(rho * mu, mu, 1);
        let var = 2.0 * rho * (1.0 + rho) / (mu * (1.0 - rho).powi(4));
        let bias = -rho / (mu * (1.0 - rho).powi(3));
        assert!((bd.mean / (rho / (1.0 - rho)) - 1.0).abs() < 1e-9, "{rho}: {bd:?}");
        assert!((bd.var / var - 1.0).abs() < 1e-9, "{rho}: {bd:?} vs {var}");
        assert!((bd.bias / bias - 1.0).abs() < 1e-9, "{rho}: {bd:?} vs {bias}");
    }
    // Erlang C for c = 1 is ρ; for c = 3, a = 2.4 it is 0.6472 (tables).
    assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
    assert!((erlang_c(3, 2.4) - 0.647_191).abs() < 1e-6, "{}", erlang_c(3, 2.4));
}

// ---- the scenarios -----------------------------------------------------------------------

#[test]
fn mm1_at_rho_050() {
    let x = station("station", 500.0, 1.0, 1);
    let runs = validate("mm1-rho050", &[1], &[x], None);
    let w = runs[0].metrics.services["station"].mean_sojourn_ms();
    check_client_latency(&runs[0], "station.serve", w);
}

#[test]
fn mm1_at_rho_080() {
    validate("mm1-rho080", &[1, 2], &[station("station", 800.0, 1.0, 1)], None);
}

/// The noisy one: twice the requests of the others, and still the widest tolerance.
#[test]
fn mm1_at_rho_095() {
    validate("mm1-rho095", &[1], &[station("station", 950.0, 1.0, 1)], None);
}

#[test]
fn mmc_erlang_c_three_servers_at_rho_080() {
    validate("mmc3-rho080", &[1, 2], &[station("station", 800.0, 3.0, 3)], None);
}

/// Processor sharing on one core: a thousand invocations in service at once, and still the
/// M/M/1 birth–death process (the core completes work at rate μ whatever the number present).
/// ρ̂ is CPU time used over T: the node's one core.
#[test]
fn mm1_processor_sharing_on_one_core() {
    validate("mm1-ps-rho080", &[1, 2], &[station("station", 800.0, 1.0, 1)], None);
}

/// Six replicas on a two-core node: the node's cores, not the replicas, are the servers — the
/// number present is M/M/2's (Erlang C), 2.8× the 2.5 ms the replicas would take on their own
/// cores. ρ̂ is CPU time used over T·2 cores.
#[test]
fn mmc_processor_sharing_two_cores_six_replicas() {
    validate("mmc2-ps-shared", &[1, 2], &[station("station", 640.0, 2.5, 2)], None);
}

#[test]
fn md1_pollaczek_khinchine_at_rho_080() {
    let x = Station {
        service: "station",
        lambda: 800.0,
        mean_s: 1e-3,
        servers: 1,
        kind: Service::Constant,
    };
    validate("md1-rho080", &[1, 2], &[x], None);
}

/// Per station, the M/M/1 marginals of the product form; then the product form itself: at any
/// one instant the two stations' queues are independent. Sampled every 10 ms over [0, T]: the
/// correlation coefficient of (N_A, N_B) is 0 within 0.08 (Bartlett: σ² ≈ 2τ_Aτ_B/((τ_A + τ_B)T)
/// with integrated autocorrelation times τ_A ≈ 12 ms, τ_B ≈ 72 ms, so σ ≈ 0.015 at T = 100 s),
/// and the fraction of samples with a station empty is 1 − ρ within 4σ (the birth–death
/// variance of the indicator plus a binomial sampling term).
#[test]
fn tandem_is_a_jackson_network() {
    let (a, b) = (station("station-a", 500.0, 1.2, 1), station("station-b", 500.0, 1.6, 1));
    let runs = validate("tandem-jackson", &[1], &[a, b], Some(10.0));
    let r = &runs[0];
    // Each request's time at `entry` is exactly its time at A and at B plus four hops.
    let m = |s: &str| r.metrics.services[s].mean_sojourn_ms();
    let (wa, wb, we) = (m("station-a"), m("station-b"), m("entry"));
    let hops = 4.0 * HOP_S * 1e3;
    assert!((we - (wa + wb + hops)).abs() < 1e-6, "entry {we} ms vs {wa} + {wb} + {hops}");
    assert_eq!(r.metrics.services["entry"].busy_nanos, 0, "entry takes no time itself");
    check_little(r, "entry");
    check_client_latency(r, "entry.serve", we);

    let t = r.duration.as_secs_f64();
    let n = |sample: &fusebench_sim::metrics::Sample, svc: &str| {
        let x = &sample.services[svc];
        x.queue_depth as f64 + x.utilisation.round()
    };
    let pairs: Vec<(f64, f64)> = r
        .metrics
        .series
        .iter()
        .filter(|x| x.t_s <= t)
        .map(|x| (n(x, "station-a"), n(x, "station-b")))
        .collect();
    let k = pairs.len() as f64;
    let mean = |f: &dyn Fn(&(f64, f64)) -> f64| pairs.iter().map(f).sum::<f64>() / k;
    let (ma, mb) = (mean(&|p| p.0), mean(&|p| p.1));
    let cov = mean(&|p| (p.0 - ma) * (p.1 - mb));
    let (va, vb) = (mean(&|p| (p.0 - ma).powi(2)), mean(&|p| (p.1 - mb).powi(2)));
    let corr = cov / (va * vb).sqrt();
    eprintln!("tandem: {k} samples, mean N_A {ma:.3}, N_B {mb:.3}, corr(N_A, N_B) {corr:+.4}");
    assert!(corr.abs() < 0.08, "corr(N_A, N_B) = {corr}: the stations are not independent");
    for (x, first) in [(a, true), (b, false)] {
        let rho = x.lambda * x.mean_s;
        let idle = pairs.iter().filter(|p| if first { p.0 } else { p.1 } == 0.0).count();
        let idle = idle as f64 / k;
        let tol = Z * (indicator_zero_var(rho, x.lambda) / t + rho * (1.0 - rho) / k).sqrt();
        eprintln!(
            "tandem: {} empty {idle:.4} of the time, expected {:.4} ± {tol:.4}",
            x.service,
            1.0 - rho
        );
        assert!((idle - (1.0 - rho)).abs() <= tol, "{}: P(N = 0) = {idle}", x.service);
    }
}

/// Asymptotic variance of the time average of 1{N = 0} for an M/M/1 queue: the birth–death
/// formula with f = 1{i = 0}, Fⱼ = −p₀ P(N > j) = −p₀ρ^{j+1} and πⱼ = p₀ρʲ, sums to 2ρ²/λ.
fn indicator_zero_var(rho: f64, lambda: f64) -> f64 {
    2.0 * rho * rho / lambda
}
