//! Metrics of a run: latency histograms (HdrHistogram), outcome counts, and time series
//! sampled at a fixed virtual interval. Everything keyed by name in `BTreeMap`s, so reports
//! list things in a stable order.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use hdrhistogram::Histogram;
use serde::Serialize;

mod exact;

pub use exact::TargetBucket;

/// Latency histograms record microseconds from 1 µs to one hour, 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts; failure would be a programming error.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

fn record_micros(h: &mut Histogram<u64>, nanos: u64) {
    h.saturating_record(micros(nanos));
}

/// The value a latency histogram records for `nanos`: whole microseconds, at least 1.
fn micros(nanos: u64) -> u64 {
    (nanos / 1_000).max(1)
}

/// The value a latency histogram's `saturating_record(value)` counts (`value` ≥ 1, its lowest
/// discernible value): the value itself if the histogram has a bucket for it, else its highest
/// trackable value. Its buckets reach past that value, to the end of the last bucket, and a
/// saturating record clamps only what lies beyond them.
fn counted_micros(value: u64) -> u64 {
    static LAST_BUCKET_TOP: OnceLock<(u64, u64)> = OnceLock::new();
    let &(top, high) = LAST_BUCKET_TOP.get_or_init(|| {
        let h = new_histogram();
        let top = h.iter_all().last().map_or(h.high(), |v| v.value_iterated_to());
        (top, h.high())
    });
    if value <= top { value } else { high }
}

/// How a request ended, as the client (or caller) saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A response conforming to the contract.
    Ok,
    /// An application error response (`{"error": ...}`) whose code the endpoint does not list
    /// in `expected_errors`: a failure for availability.
    AppError,
    /// An application error the endpoint lists in `expected_errors` (`not_found`): a business
    /// answer, available.
    ExpectedError,
    /// The gateway or caller gave up waiting.
    Timeout,
    /// A replica's queue was full, or no replica was available.
    Rejected,
    /// The guest trapped, ran out of fuel, or otherwise faulted.
    GuestFault,
    /// The instance grew past what its node had left and was killed (an OOM kill).
    OomKilled,
    /// The request or response broke the endpoint's contract.
    ContractViolation,
    /// The request named no route, or failed gateway validation.
    BadRequest,
    /// A mesh circuit breaker refused it: too many requests in flight to the destination
    /// (Envoy's 503 with `x-envoy-overloaded`).
    Overflow,
    /// A mesh local rate limit refused it: no token left (Envoy's 429).
    RateLimited,
    /// A mesh WebAssembly filter stopped it and answered itself, with a status other than 400
    /// (`bad-request`) or 429 (`rate-limited`): e.g. an authentication filter's 401.
    Filtered,
    /// The callee's mesh authorization policy refused its source (Envoy RBAC's 403).
    Denied,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 13] = [
        Outcome::Ok,
        Outcome::AppError,
        Outcome::ExpectedError,
        Outcome::Timeout,
        Outcome::Rejected,
        Outcome::GuestFault,
        Outcome::OomKilled,
        Outcome::ContractViolation,
        Outcome::BadRequest,
        Outcome::Overflow,
        Outcome::RateLimited,
        Outcome::Filtered,
        Outcome::Denied,
    ];

    /// The outcome a report names (`timeout`): the inverse of [`Outcome::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.name() == name)
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::AppError => "app-error",
            Outcome::ExpectedError => "expected-error",
            Outcome::Timeout => "timeout",
            Outcome::Rejected => "rejected",
            Outcome::GuestFault => "guest-fault",
            Outcome::OomKilled => "oom-killed",
            Outcome::ContractViolation => "contract-violation",
            Outcome::BadRequest => "bad-request",
            Outcome::Overflow => "overflow",
            Outcome::RateLimited => "rate-limited",
            Outcome::Filtered => "filtered",
            Outcome::Denied => "denied",
        }
    }

    /// Counts as available: a response, or an application error the endpoint declares
    /// expected. Every other outcome — an unexpected application error, a timeout, a
    /// rejection, a guest fault — counts against availability.
    #[must_use]
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::ExpectedError)
    }

    /// The handler answered (with a response or an application error): what a caller gets
    /// back as a value, and what acknowledges a message.
    #[must_use]
    pub fn is_answer(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::AppError | Outcome::ExpectedError)
    }
}

/// Client-observed statistics of one public endpoint.
#[derive(Debug, Clone)]
pub struct EndpointStats {
    /// Latency of the available answers (what latency objectives judge).
    pub latency: Histogram<u64>,
    /// Latency of every client answer, failures and timeouts included (a timeout's latency is
    /// the gateway's timeout): what a user waited.
    pub latency_all: Histogram<u64>,
    pub outcomes: BTreeMap<Outcome, u64>,
    /// Successes answered before the workload ended (`None` while it runs: all of them):
    /// what throughput counts, so answers the drain gives after the workload stopped do not
    /// raise a rate taken over the workload's duration.
    pub successes_in_workload: Option<u64>,
    /// The successes' latencies in the buckets of the endpoint's latency targets, value by
    /// value: percentiles there are read exactly ([`EndpointStats::latency_summary`]).
    pub targets: Vec<TargetBucket>,
}

impl Default for EndpointStats {
    fn default() -> Self {
        EndpointStats {
            latency: new_histogram(),
            latency_all: new_histogram(),
            outcomes: BTreeMap::new(),
            successes_in_workload: None,
            targets: Vec::new(),
        }
    }
}

/// An endpoint's statistics as a run records them, cheaper per answer than [`EndpointStats`]:
/// outcomes counted in an array, and the failures' latencies in a histogram of their own —
/// `latency_all` is `latency` plus `failed`, added up when the statistics are read (the same
/// counts, minimum and maximum as recording every answer twice: benches/README.md, "Engine
/// speed-ups").
#[derive(Debug, Clone)]
pub(crate) struct EndpointRecord {
    latency: Histogram<u64>,
    /// Latency of the answers that are not successes.
    failed: Histogram<u64>,
    /// By `Outcome as usize` (declaration order, as [`Outcome::ALL`]).
    outcomes: [u64; Outcome::ALL.len()],
    /// The current interval's successful latencies (see [`IntervalLatencies`]).
    interval: IntervalLatencies,
    interval_count: u64,
    interval_errors: u64,
    /// Successes when the workload ended ([`EndpointStats::successes_in_workload`]).
    in_workload: Option<u64>,
    /// The buckets of the endpoint's latency targets ([`EndpointStats::targets`]).
    targets: Vec<TargetBucket>,
}

impl Default for EndpointRecord {
    fn default() -> Self {
        EndpointRecord {
            latency: new_histogram(),
            failed: new_histogram(),
            outcomes: [0; Outcome::ALL.len()],
            interval: IntervalLatencies::new(INTERVAL_VALUES_MAX),
            interval_count: 0,
            interval_errors: 0,
            in_workload: None,
            targets: Vec::new(),
        }
    }
}

impl EndpointRecord {
    /// A record that also counts the successes' latencies in `targets` value by value.
    pub(crate) fn with_targets(targets: Vec<TargetBucket>) -> Self {
        EndpointRecord { targets, ..EndpointRecord::default() }
    }

    /// A client-observed outcome: successes go into the latency histograms.
    pub(crate) fn record(&mut self, outcome: Outcome, latency_nanos: u64) {
        self.outcomes[outcome as usize] += 1;
        self.interval_count += 1;
        if outcome.is_success() {
            record_micros(&mut self.latency, latency_nanos);
            let micros = micros(latency_nanos);
            self.interval.record(micros);
            self.targets.iter_mut().for_each(|b| b.record(micros));
        } else {
            record_micros(&mut self.failed, latency_nanos);
            self.interval_errors += 1;
        }
    }

    /// The statistics so far.
    pub(crate) fn stats(&self) -> EndpointStats {
        let mut latency_all = self.latency.clone();
        // Same bounds and precision: adding cannot fail.
        latency_all.add(&self.failed).expect("histograms of the same bounds add up");
        let outcomes =
            Outcome::ALL.into_iter().zip(self.outcomes).filter(|&(_, n)| n > 0).collect();
        EndpointStats {
            latency: self.latency.clone(),
            latency_all,
            outcomes,
            successes_in_workload: self.in_workload,
            targets: self.targets.clone(),
        }
    }

    /// The workload has ended: the successes so far are those its throughput counts.
    pub(crate) fn close_workload(&mut self) {
        let successes = Outcome::ALL.into_iter().filter(|o| o.is_success());
        self.in_workload = Some(successes.map(|o| self.outcomes[o as usize]).sum());
    }

    /// Closes the current sampling interval of `interval_s` seconds.
    pub(crate) fn close_interval(&mut self, interval_s: f64) -> EndpointSample {
        let ms = |v: Option<u64>| v.map_or(0.0, |v| v as f64 / 1e3);
        let [p50, p99] = self.interval.close(&self.latency);
        let sample = EndpointSample {
            throughput_rps: self.interval_count as f64 / interval_s,
            errors_rps: self.interval_errors as f64 / interval_s,
            p50_ms: ms(p50),
            p99_ms: ms(p99),
        };
        self.interval_count = 0;
        self.interval_errors = 0;
        sample
    }
}

/// Latencies an interval keeps as values before it counts them in a histogram: 32 KiB, a sixth
/// of a histogram's ≈ 188 KB of counts (an interval of a busy endpoint in a long run, above 4,096
/// answers, pays a histogram's reset as before).
const INTERVAL_VALUES_MAX: usize = 4_096;

/// One sampling interval's successful latencies (µs), for its p50 and p99: the values as a
/// latency histogram counts them ([`counted_micros`]), in no particular order, read off at the
/// interval's close ([`interval_quantile`]) and cleared for nothing — a histogram's reset zeroed
/// ≈ 188 KB of counts at every interval. An interval with more than `spill_at` of them counts
/// them all in a histogram instead (kept for the next such interval, reset after it), so the memory
/// stays bounded however long the intervals are; both give the same numbers.
#[derive(Debug, Clone)]
struct IntervalLatencies {
    values: Vec<u64>,
    spill_at: usize,
    /// Counting this interval's latencies, when it has more than `spill_at`.
    spilled: bool,
    histogram: Option<Histogram<u64>>,
}

impl IntervalLatencies {
    fn new(spill_at: usize) -> Self {
        IntervalLatencies { values: Vec::new(), spill_at, spilled: false, histogram: None }
    }

    /// A latency of `micros` µs (at least 1).
    fn record(&mut self, micros: u64) {
        if self.spilled {
            if let Some(h) = &mut self.histogram {
                h.saturating_record(micros);
            }
            return;
        }
        if self.values.len() < self.spill_at {
            self.values.push(counted_micros(micros));
            return;
        }
        // Full: the values never outgrow `spill_at` (nor their buffer its power of two).
        let h = self.histogram.get_or_insert_with(new_histogram);
        // A counted value lands in the bucket its latency would: recording it again counts it
        // where the latency was counted.
        for &v in &self.values {
            h.saturating_record(v);
        }
        h.saturating_record(micros);
        self.values.clear();
        self.spilled = true;
    }

    /// The interval's p50 and p99 (`None`: no latency), as a histogram of `like`'s bounds
    /// would give them; the next interval starts empty.
    fn close(&mut self, like: &Histogram<u64>) -> [Option<u64>; 2] {
        if self.spilled
            && let Some(h) = &mut self.histogram
        {
            let q = |p: f64| (!h.is_empty()).then(|| h.value_at_quantile(p));
            let quantiles = [q(0.5), q(0.99)];
            h.reset();
            self.spilled = false;
            return quantiles;
        }
        let quantiles = [0.5, 0.99].map(|p| interval_quantile(like, &mut self.values, p));
        self.values.clear();
        quantiles
    }
}

/// What `value_at_quantile(p)` (0 < `p` ≤ 1) gives for a histogram with `like`'s bounds and
/// precision that counted each of `values` ([`counted_micros`]); `None` for no values.
/// `values` is reordered.
///
/// hdrhistogram takes the rank ⌈p × n⌉ (at least 1), walks its buckets to the one holding the
/// value of that rank and answers the highest value equivalent to that bucket's: the value of
/// that rank among `values`, then its highest equivalent.
fn interval_quantile(like: &Histogram<u64>, values: &mut [u64], p: f64) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    let (_, &mut value, _) = values.select_nth_unstable(rank - 1);
    Some(like.highest_equivalent(value))
}

impl EndpointStats {
    #[must_use]
    pub fn total(&self) -> u64 {
        self.outcomes.values().sum()
    }

    #[must_use]
    pub fn successes(&self) -> u64 {
        self.outcomes.iter().filter(|(o, _)| o.is_success()).map(|(_, n)| n).sum()
    }

    /// The successes' latency summary, its percentiles read exactly where they fall in the
    /// bucket of a latency target (`metrics/exact.rs`): what the endpoint's SLO judges.
    #[must_use]
    pub fn latency_summary(&self) -> LatencySummary {
        LatencySummary::with_targets(&self.latency, &self.targets)
    }
}

/// Server-side statistics of one service.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceStats {
    pub invocations: u64,
    pub fresh_instances: u64,
    pub guest_faults: BTreeMap<String, u64>,
    /// Instances killed for growing past their node's memory (`system/memory.rs`).
    pub oom_kills: u64,
    pub refusals: u64,
    /// Requests to this service its sidecar's authorization policy refused (`rbac`).
    pub denied: u64,
    /// Times a caller's outlier detection ejected one of its replicas (the trace's `ejected`
    /// lines naming it): that caller's requests go to the others until the ejection ends.
    pub ejections: u64,
    pub fuel_total: u64,
    pub rejected: u64,
    pub queue_depth_max: u64,
    /// Nanoseconds of busy slot time, summed over replicas (for utilisation).
    pub busy_nanos: u64,
    /// Requests that finished at this service (any outcome), and their total time in the
    /// service (queue + service), nanoseconds: W = sojourn_nanos / completed.
    pub completed: u64,
    pub sojourn_nanos: u128,
    /// ∫ (requests in the service) dt, in request·nanoseconds: L = occupancy / run time.
    pub occupancy: u128,
    /// CPU nanoseconds of demand that slices a crash cut short never received (`busy_nanos`
    /// counts a slice's whole demand when it starts).
    #[serde(skip)]
    pub cpu_cancelled_nanos: u64,
    /// When the workload ended: the CPU time the service's slices had received (`busy_nanos`
    /// less what crashes cancelled and what running slices were still owed), and `occupancy`
    /// up to then — what the report's utilisation and L are taken over, so work the drain
    /// finishes does not count against the workload's duration. `None` before it ends.
    #[serde(skip)]
    pub cpu_in_workload_nanos: Option<u64>,
    #[serde(skip)]
    pub occupancy_in_workload: Option<u128>,
    /// Replica cold starts (`cold_start = "module"`) and, per endpoint, what waiting in a
    /// scale-to-zero service's activator cost; absent for other services.
    #[serde(skip_serializing_if = "ColdStarts::is_empty")]
    pub cold_starts: ColdStarts,
    #[serde(skip)]
    in_system: u64,
    #[serde(skip)]
    last_change: u64,
}

/// Cold starts of one service: what `cold_start` and `activator` trace lines add up to.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ColdStarts {
    /// Replicas started with `cold_start = "module"`, and their summed cost (fetch, compile,
    /// instantiate), nanoseconds.
    pub replicas: u64,
    pub cost_nanos: u64,
    /// Per endpoint: the requests the activator held while the service had no ready replica.
    pub endpoints: BTreeMap<String, ActivatorWaits>,
}

impl ColdStarts {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.replicas == 0 && self.endpoints.is_empty()
    }
}

/// Requests to one endpoint that waited in the activator.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ActivatorWaits {
    /// Released to a replica, and the latency their wait added (total and longest), ns.
    pub released: u64,
    pub waited_nanos_total: u64,
    pub waited_nanos_max: u64,
    /// Refused: the buffer was full.
    pub overflow: u64,
    /// Failed: they waited `activator_timeout_s`, or their caller gave up.
    pub timeout: u64,
}

impl ActivatorWaits {
    pub(crate) fn released(&mut self, waited_nanos: u64) {
        self.released += 1;
        self.waited_nanos_total += waited_nanos;
        self.waited_nanos_max = self.waited_nanos_max.max(waited_nanos);
    }
}

impl ServiceStats {
    /// The number of requests in the service changes by `delta` at `now_nanos`.
    pub fn occupancy_change(&mut self, now_nanos: u64, delta: i64) {
        self.occupancy +=
            u128::from(self.in_system) * u128::from(now_nanos.saturating_sub(self.last_change));
        self.last_change = now_nanos;
        self.in_system = self.in_system.saturating_add_signed(delta);
    }

    /// The workload ended at `now_nanos`, when the service's running slices were still owed
    /// `owed_nanos` of CPU: see [`ServiceStats::cpu_in_workload_nanos`].
    pub(crate) fn close_workload(&mut self, now_nanos: u64, owed_nanos: u64) {
        self.cpu_in_workload_nanos =
            Some(self.busy_nanos.saturating_sub(self.cpu_cancelled_nanos + owed_nanos));
        self.occupancy_in_workload = Some(self.occupancy_until(now_nanos));
    }

    /// CPU time received during the workload (all of it received so far while it runs).
    #[must_use]
    pub fn cpu_in_workload(&self) -> u64 {
        self.cpu_in_workload_nanos
            .unwrap_or_else(|| self.busy_nanos.saturating_sub(self.cpu_cancelled_nanos))
    }

    /// Mean number of requests in the service over the workload, lasting `duration_nanos`
    /// (over [0, `duration_nanos`] while it runs).
    #[must_use]
    pub fn mean_in_workload(&self, duration_nanos: u64) -> f64 {
        match self.occupancy_in_workload {
            Some(o) if duration_nanos > 0 => o as f64 / duration_nanos as f64,
            Some(_) => 0.0,
            None => self.mean_in_system(duration_nanos),
        }
    }

    /// ∫ (requests in the service) dt over [0, `now_nanos`], request·nanoseconds.
    #[must_use]
    pub fn occupancy_until(&self, now_nanos: u64) -> u128 {
        self.occupancy
            + u128::from(self.in_system) * u128::from(now_nanos.saturating_sub(self.last_change))
    }

    /// Mean number of requests in the service over [0, `end_nanos`].
    #[must_use]
    pub fn mean_in_system(&self, end_nanos: u64) -> f64 {
        let total = self.occupancy
            + u128::from(self.in_system) * u128::from(end_nanos.saturating_sub(self.last_change));
        if end_nanos == 0 { 0.0 } else { total as f64 / end_nanos as f64 }
    }

    /// Mean time in the service (queue + service), milliseconds.
    #[must_use]
    pub fn mean_sojourn_ms(&self) -> f64 {
        if self.completed == 0 {
            0.0
        } else {
            self.sojourn_nanos as f64 / self.completed as f64 / 1e6
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreStats {
    pub reads: u64,
    pub writes: u64,
    /// Replication messages applied (eventual: after lag; strong: before the ack).
    pub replications: u64,
    /// Largest replication delay observed, nanoseconds (origin write → apply at a replica).
    pub replication_lag_max_nanos: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ChannelStats {
    pub published: u64,
    pub delivered: u64,
    pub redelivered: u64,
    pub duplicated: u64,
    pub acked: u64,
    /// Messages given up after too many deliveries.
    pub dead_lettered: u64,
}

impl ChannelStats {
    /// Deliveries still owed to the channel's `groups` consumer groups: every group gets every
    /// message once; an acknowledgement or a dead letter settles one.
    #[must_use]
    pub fn consumer_lag(&self, groups: usize) -> u64 {
        (self.published * groups as u64).saturating_sub(self.acked + self.dead_lettered)
    }
}

/// One point of the time series.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub t_s: f64,
    pub endpoints: BTreeMap<String, EndpointSample>,
    pub services: BTreeMap<String, ServiceSample>,
    pub cache_hit_ratio: BTreeMap<String, f64>,
    pub replication_lag_ms: BTreeMap<String, f64>,
    /// Per async channel that has carried a message: the consumer lag at the sample's time,
    /// the deliveries still owed, Σ over its groups of (published − acknowledged −
    /// dead-lettered). A stream with two groups owes each message twice.
    pub consumer_lag: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct EndpointSample {
    pub throughput_rps: f64,
    pub errors_rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServiceSample {
    pub queue_depth: u64,
    pub utilisation: f64,
    pub live_instances: u64,
    pub fuel_per_request: f64,
}

/// All metrics of one run, keyed by name (services, `service.endpoint`, stores, channels) for
/// reports. The engine records them by typed id (`system/recorder.rs`) and builds this at the
/// end of the run or when asked; an entry appears once something happened to it.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub endpoints: BTreeMap<String, EndpointStats>,
    pub services: BTreeMap<String, ServiceStats>,
    pub caches: BTreeMap<String, CacheStats>,
    pub stores: BTreeMap<String, StoreStats>,
    pub channels: BTreeMap<String, ChannelStats>,
    pub series: Vec<Sample>,
    /// Per store: how long each replicated write took to reach a replica (µs), for the
    /// distribution of time-to-converge.
    pub replication_lag: BTreeMap<String, Histogram<u64>>,
    /// Per autoscaled service: its placed replicas over the run.
    pub replicas: BTreeMap<String, ReplicaStats>,
    /// Per service whose autoscaler asks a policy module: the decisions the module could not
    /// take (it faulted or answered nonsense) and the reactive formula took instead.
    pub policy_faults: BTreeMap<String, u64>,
}

/// An autoscaled service's placed replicas (starting, ready, draining or crashed: holding
/// their node's resources) over the run — what it costs (`system/autoscale.rs`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ReplicaStats {
    /// ∫ (replicas placed) dt up to the last change, in replica·nanoseconds.
    pub placed_nanos: u128,
    /// The fewest and most placed for a while before the last change (counts that changed
    /// again at the same instant are not counted: they lasted no time).
    pub held_min: Option<u32>,
    pub held_max: Option<u32>,
    /// Placed now, and since when.
    pub placed: u32,
    pub since_nanos: u64,
    /// ∫ (replicas placed) dt over the workload, once it has ended: the capacity the
    /// report's utilisation divides by ([`ReplicaStats::close_workload`]).
    #[serde(skip)]
    pub placed_in_workload_nanos: Option<u128>,
}

impl ReplicaStats {
    #[must_use]
    pub fn new(now_nanos: u64, placed: u32) -> Self {
        ReplicaStats {
            placed_nanos: 0,
            held_min: None,
            held_max: None,
            placed,
            since_nanos: now_nanos,
            placed_in_workload_nanos: None,
        }
    }

    /// The workload ended at `now_nanos`.
    pub(crate) fn close_workload(&mut self, now_nanos: u64) {
        self.placed_in_workload_nanos = Some(
            self.placed_nanos
                + u128::from(self.placed) * u128::from(now_nanos.saturating_sub(self.since_nanos)),
        );
    }

    /// The count placed is `placed` from `now_nanos` on.
    pub fn change(&mut self, now_nanos: u64, placed: u32) {
        let dt = now_nanos.saturating_sub(self.since_nanos);
        if dt > 0 {
            self.placed_nanos += u128::from(self.placed) * u128::from(dt);
            self.held_min = Some(self.held_min.map_or(self.placed, |m| m.min(self.placed)));
            self.held_max = Some(self.held_max.map_or(self.placed, |m| m.max(self.placed)));
        }
        self.since_nanos = now_nanos;
        self.placed = placed;
    }

    /// The fewest replicas placed for a while, the current count included.
    #[must_use]
    pub fn fewest(&self) -> u32 {
        self.held_min.map_or(self.placed, |m| m.min(self.placed))
    }

    /// The most replicas placed for a while, the current count included.
    #[must_use]
    pub fn most(&self) -> u32 {
        self.held_max.map_or(self.placed, |m| m.max(self.placed))
    }

    /// Replica-seconds over [0, `end_nanos`]: the cost a provider bills per replica running.
    #[must_use]
    pub fn replica_seconds(&self, end_nanos: u64) -> f64 {
        let dt = end_nanos.saturating_sub(self.since_nanos);
        (self.placed_nanos + u128::from(self.placed) * u128::from(dt)) as f64 / 1e9
    }
}

/// A histogram for replication lags (µs), as [`Metrics::replication_lag`] holds them.
pub(crate) fn lag_histogram() -> Histogram<u64> {
    new_histogram()
}

pub(crate) fn record_lag(h: &mut Histogram<u64>, nanos: u64) {
    record_micros(h, nanos);
}

/// A latency summary in milliseconds, for reports.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// The summary of `h`, its percentiles the tops of their buckets.
    #[must_use]
    pub fn of(h: &Histogram<u64>) -> Self {
        LatencySummary::with_targets(h, &[])
    }

    /// The summary of `h`, a percentile exact where it falls in one of `targets` (which saw
    /// every value `h` counted in them).
    fn with_targets(h: &Histogram<u64>, targets: &[TargetBucket]) -> Self {
        let q = |p: f64| exact::quantile(h, targets, p).map_or(0.0, |v| v as f64 / 1e3);
        LatencySummary {
            count: h.len(),
            mean_ms: if h.is_empty() { 0.0 } else { h.mean() / 1e3 },
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: if h.is_empty() { 0.0 } else { h.max() as f64 / 1e3 },
        }
    }
}

/// Points of the empirical CDF of a histogram: (latency ms, fraction ≤ it).
#[must_use]
pub fn cdf_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let total = h.len() as f64;
    let mut acc = 0u64;
    h.iter_recorded()
        .map(|v| {
            acc += v.count_at_value();
            (v.value_iterated_to() as f64 / 1e3, acc as f64 / total)
        })
        .collect()
}

#[cfg(test)]
mod outcome_tests {
    use super::Outcome;

    #[test]
    fn every_outcome_is_read_back_from_its_name() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::from_name(o.name()), Some(o));
        }
        // ALL lists each variant once: the names (one per variant) are distinct.
        let names: std::collections::BTreeSet<_> = Outcome::ALL.iter().map(|o| o.name()).collect();
        assert_eq!(names.len(), Outcome::ALL.len());
        assert_eq!(Outcome::from_name("lost"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Count, minimum, maximum, mean's bits, (value, count) of each recorded bucket, quantiles.
    type Readings = (u64, u64, u64, u64, Vec<(u64, u64)>, Vec<u64>);

    /// What a histogram says, every way a report or a viewer reads it.
    fn readings(h: &Histogram<u64>) -> Readings {
        let counts =
            h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect();
        let quantiles = [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0]
            .into_iter()
            .map(|p| h.value_at_quantile(p))
            .collect();
        (h.len(), h.min_nz(), h.max(), h.mean().to_bits(), counts, quantiles)
    }

    #[test]
    fn outcomes_are_indexed_in_declaration_order() {
        for (i, o) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(o as usize, i, "{o:?}");
        }
    }

    /// The p50 and p99 an interval sample gives for `latencies` (ns, all successes), and the
    /// ones a histogram of the run's bounds with each of them recorded gives.
    fn interval_quantiles(latencies: &[u64]) -> ((f64, f64), (f64, f64)) {
        let mut record = EndpointRecord::default();
        let mut h = new_histogram();
        for &nanos in latencies {
            record.record(Outcome::Ok, nanos);
            record_micros(&mut h, nanos);
        }
        let sample = record.close_interval(1.0);
        let q = |p: f64| if h.is_empty() { 0.0 } else { h.value_at_quantile(p) as f64 / 1e3 };
        ((sample.p50_ms, sample.p99_ms), (q(0.5), q(0.99)))
    }

    #[test]
    fn interval_quantiles_at_the_edges_of_the_histogram() {
        let high_ns = 3_600_000_000_u64 * 1_000;
        // Past the highest trackable value but inside the last bucket (counted as they are),
        // and past the last bucket (counted at the highest trackable value).
        let edges = [
            vec![],
            vec![0],
            vec![999, 1_000, 1_001],
            vec![high_ns],
            vec![high_ns + 1_000],
            vec![3_700_000_000_000],
            vec![high_ns * 2],
            vec![u64::MAX],
            vec![1_000, u64::MAX, high_ns * 3 / 2, 5, high_ns * 2 + 7_000],
        ];
        for latencies in edges {
            let (ours, histogram) = interval_quantiles(&latencies);
            assert_eq!(ours, histogram, "{latencies:?}");
        }
        // The same interval twice: closing it leaves nothing behind.
        let mut record = EndpointRecord::default();
        record.record(Outcome::Ok, 1_000_000);
        let first = record.close_interval(1.0);
        assert_eq!((first.p50_ms, first.p99_ms), (1.0, 1.0));
        let second = record.close_interval(1.0);
        assert_eq!((second.p50_ms, second.p99_ms, second.throughput_rps), (0.0, 0.0, 0.0));
    }

    proptest! {
        /// An interval with more latencies than it keeps as values (a small limit here)
        /// counts them in a histogram: the same p50 and p99, and the interval after it starts
        /// empty, as values again.
        #[test]
        fn an_interval_past_its_values_reads_the_same(
            spill_at in 0usize..40,
            intervals in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![0u64..5_000_000, 3_000_000_000_000u64..8_000_000_000_000, 0u64..u64::MAX],
                    0..80,
                ),
                1..4,
            ),
        ) {
            let like = new_histogram();
            let mut interval = IntervalLatencies::new(spill_at);
            for latencies in &intervals {
                let mut h = new_histogram();
                for &nanos in latencies {
                    interval.record(micros(nanos));
                    prop_assert!(interval.values.len() <= spill_at);
                    record_micros(&mut h, nanos);
                }
                let q = |p: f64| (!h.is_empty()).then(|| h.value_at_quantile(p));
                prop_assert_eq!(interval.close(&like), [q(0.5), q(0.99)]);
                prop_assert!(!interval.spilled && interval.values.is_empty());
            }
        }

        /// An interval's p50 and p99 are a histogram's of its successful latencies.
        #[test]
        fn interval_quantiles_are_a_histograms(
            latencies in proptest::collection::vec(
                prop_oneof![
                    0u64..5_000_000,
                    0u64..10_000_000_000,
                    3_000_000_000_000u64..8_000_000_000_000,
                    0u64..u64::MAX,
                ],
                0..300,
            ),
        ) {
            let (ours, histogram) = interval_quantiles(&latencies);
            prop_assert_eq!(ours, histogram);
        }

        /// The record's statistics are those of recording every answer into `latency_all` as
        /// it comes (what the run did before `latency_all` was derived on reading).
        #[test]
        fn a_record_reads_as_every_answer_recorded_twice(
            answers in proptest::collection::vec(
                (0..Outcome::ALL.len(), prop_oneof![0u64..5_000_000, 0u64..u64::MAX]),
                0..200,
            ),
        ) {
            let mut record = EndpointRecord::default();
            let mut latency = new_histogram();
            let mut latency_all = new_histogram();
            let mut outcomes = BTreeMap::new();
            for &(o, nanos) in &answers {
                let outcome = Outcome::ALL[o];
                record.record(outcome, nanos);
                *outcomes.entry(outcome).or_insert(0) += 1;
                record_micros(&mut latency_all, nanos);
                if outcome.is_success() {
                    record_micros(&mut latency, nanos);
                }
            }
            let stats = record.stats();
            prop_assert_eq!(&stats.outcomes, &outcomes);
            prop_assert_eq!(readings(&stats.latency), readings(&latency));
            prop_assert_eq!(readings(&stats.latency_all), readings(&latency_all));
            let summary = |h: &Histogram<u64>| serde_json::to_string(&LatencySummary::of(h));
            prop_assert_eq!(summary(&stats.latency_all).ok(), summary(&latency_all).ok());
        }
    }
}
