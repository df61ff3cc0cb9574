//! Reports of a run: a serialisable [`Report`] built from a [`RunResult`] and its [`Scenario`],
//! rendered as Markdown ([`markdown`]) and plots ([`plots`]), and aggregated over seeds
//! ([`multi`]).
//!
//! A report is a pure function of the run: no wall clock, no host name, no path, and every
//! collection is ordered (`BTreeMap`, or scenario order), so the same scenario and seed give a
//! byte-identical `report.json` and `report.md`.
//!
//! Rates and time averages (throughput, utilisation, mean number in service) are taken over the
//! workload's duration. An endpoint's throughput counts the successes answered before the
//! workload ended: answers the drain gives after it (queued requests, a closed loop's last
//! round) would raise a rate no system could sustain over that duration (+11 % for a
//! single-slot service whose users queue 8 deep at the end of a 4 s run). Likewise utilisation
//! counts the CPU time the service's slices received before the workload ended (not a slice's
//! whole demand when it starts, nor what a crash cut short), and the mean number in service
//! its occupancy up to then: counting the drain's work over the workload's duration read 240 %
//! for a fuel-heavy service whose backlog the drain worked off, and dividing by the drain too
//! would dilute every figure by an amount that depends only on the drain setting.

pub mod journeys;
pub mod markdown;
pub mod multi;
pub mod plots;
pub mod png;
pub mod shard;
pub mod sweep;
pub mod typeset;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use fusebench_model::scenario::ScalePolicy;
use fusebench_model::{Scenario, text};
use serde::{Deserialize, Serialize};

use crate::RunResult;
use crate::atomic;
use crate::metrics::{CacheStats, ChannelStats, LatencySummary, Sample, cdf_points};
use crate::time::SimTime;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error("cannot write {path}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot draw the plot {plot}: {reason}")]
    Plot { plot: String, reason: String },
    #[error("cannot serialise the report")]
    Json(#[from] serde_json::Error),
    /// The output directory holds files fusebench did not write: replacing it would lose them.
    #[error(
        "{} holds `{entry}`, which fusebench did not write; refusing to replace the directory (choose a new or empty one)",
        dir.display()
    )]
    Foreign { dir: PathBuf, entry: String },
}

/// Everything a run tells about the system, ready for `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub system: String,
    pub seed: u64,
    /// The workload's duration (rates are per second of it).
    pub duration_s: f64,
    /// Virtual time at the end of the run, drain included.
    pub end_s: f64,
    pub events: u64,
    /// BLAKE3 of the trace (`b3sum trace.jsonl`): identifies the run's behaviour.
    pub trace_hash: String,
    pub requests_sent: u64,
    pub requests_answered: u64,
    /// Fuel every guest burned, mesh filters and unfinished invocations included
    /// ([`crate::RunResult::guest_fuel`]); a service's `fuel_total` is its finished
    /// invocations' fuel, as their `invocation_end` lines give it.
    pub guest_fuel: u64,
    /// Client-observed, per public endpoint `service.endpoint`.
    pub endpoints: BTreeMap<String, EndpointReport>,
    pub services: BTreeMap<String, ServiceReport>,
    pub stores: BTreeMap<String, StoreReport>,
    /// Asynchronous channels (synchronous calls are counted at the services they reach).
    pub channels: BTreeMap<String, ChannelReport>,
    /// One verdict per objective of every SLO, in scenario order.
    pub slos: Vec<SloVerdict>,
    /// The time series, sampled at a fixed virtual interval.
    pub series: Vec<Sample>,
    /// When each fault of the run was active, for the plots' bands.
    pub faults: Vec<FaultSpan>,
    /// Per journey of the workload (left out when it has none, so reports of workloads
    /// without journeys keep their bytes).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub journeys: BTreeMap<String, journeys::JourneyReport>,
    /// Every rollout that started (left out when none did, so other reports keep their
    /// bytes): its steps, duration and skew window, as its `rollout` trace lines give them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<RolloutReport>,
    /// The mesh's version routing (left out without `[[mesh.subset]]` routes, so other
    /// reports keep their bytes): each control-plane push and when each proxy applied it,
    /// and the requests each configuration sent to each subset — from the `mesh_route` lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh_routes: Option<RoutesReport>,
}

/// The mesh's version routing in the report (`trace::mesh_route` reads it off the trace).
#[derive(Debug, Clone, Serialize)]
pub struct RoutesReport {
    pub pushes: Vec<PushReport>,
    pub routed: Vec<RoutedReport>,
}

/// One control-plane push.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// The configuration it publishes (0 is the scenario's own routes).
    pub config: u32,
    pub service: String,
    /// What it changes: the route's weights, `policy <destination>`, `filter <name>`…
    pub change: String,
    pub pushed_s: f64,
    /// Each proxy that applied it, when, in the order they did.
    pub applied: Vec<AppliedReport>,
}

/// A proxy applying a push.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedReport {
    pub proxy: String,
    pub at_s: f64,
    /// Its propagation delay, ms.
    pub after_ms: f64,
}

/// The requests one configuration sent to one subset.
#[derive(Debug, Clone, Serialize)]
pub struct RoutedReport {
    pub service: String,
    pub config: u32,
    pub subset: String,
    pub requests: u64,
    /// Of those, sent by a header rule.
    pub by_header: u64,
}

impl RoutesReport {
    fn of(log: &crate::trace::mesh_route::RouteLog) -> Option<RoutesReport> {
        if log.is_empty() {
            return None;
        }
        let pushes = log
            .pushes
            .iter()
            .map(|p| PushReport {
                config: p.config,
                service: p.service.clone(),
                change: p.change.clone(),
                pushed_s: p.pushed.as_secs_f64(),
                applied: p
                    .applied
                    .iter()
                    .map(|(proxy, t)| AppliedReport {
                        proxy: proxy.clone(),
                        at_s: t.as_secs_f64(),
                        after_ms: (*t - p.pushed) as f64 / 1e6,
                    })
                    .collect(),
            })
            .collect();
        let routed = log
            .routed
            .iter()
            .map(|((service, config, subset), n)| RoutedReport {
                service: service.clone(),
                config: *config,
                subset: subset.clone(),
                requests: *n,
                by_header: log
                    .matched
                    .get(&(service.clone(), *config, subset.clone()))
                    .copied()
                    .unwrap_or(0),
            })
            .collect();
        Some(RoutesReport { pushes, routed })
    }
}

/// One rollout in the report (`trace::rollout` reads it off the trace).
#[derive(Debug, Clone, Serialize)]
pub struct RolloutReport {
    pub service: String,
    /// The new module version's number (0 is the declared module).
    pub version: u32,
    pub started_s: f64,
    /// `None` when it had not finished by the end of the run.
    pub finished_s: Option<f64>,
    /// Replica steps (started, ready, draining, stopped, swapped…).
    pub steps: u64,
    /// How long two versions served side by side, seconds.
    pub skew_s: f64,
}

/// A fault's active span in the run, seconds of simulated time.
#[derive(Debug, Clone, Serialize)]
pub struct FaultSpan {
    /// `crash payments/0`, `latency-spike edge-paris–cloud-eu`: kind and target.
    pub label: String,
    pub from_s: f64,
    /// The end of the fault (a crash: its restart), or of the run when it never ends.
    pub to_s: f64,
}

/// The spans of `scenario`'s faults that start before `end_s`, in scenario order.
fn fault_spans(scenario: &Scenario, end_s: f64) -> Vec<FaultSpan> {
    use fusebench_model::scenario::{FaultKind, FaultTarget};
    scenario
        .faults
        .iter()
        .filter(|f| f.at_s < end_s)
        .map(|f| {
            let target = match &f.target {
                FaultTarget::Service { service, replica: Some(r) } => format!("{service}/{r}"),
                FaultTarget::Service { service, replica: None } => service.name.clone(),
                FaultTarget::Node { node } => node.name.clone(),
                FaultTarget::Link { between: [a, b] } => format!("{a}–{b}"),
                FaultTarget::Channel { channel } => channel.name.clone(),
                FaultTarget::Store { store } => store.name.clone(),
            };
            let lasts = match &f.kind {
                FaultKind::Crash { restart_after_s } => *restart_after_s,
                FaultKind::ModuleSwap { .. } => None,
                _ => f.duration_s,
            };
            let to_s = lasts.map_or(end_s, |d| (f.at_s + d).min(end_s));
            FaultSpan { label: format!("{} {target}", f.kind.name()), from_s: f.at_s, to_s }
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointReport {
    /// Requests that got an answer of any outcome.
    pub requests: u64,
    /// Available answers (`ok`, or an application error the endpoint declares in
    /// `expected_errors`): see `Outcome::is_success`.
    pub successes: u64,
    /// successes / requests; 0 when there were none.
    pub availability: f64,
    /// Successful answers per second of workload.
    pub throughput_rps: f64,
    /// Latency of the successful answers (what latency objectives judge).
    pub latency: LatencySummary,
    /// Latency of every answer, failures included — a timeout counts as the gateway's timeout:
    /// what the users waited.
    pub latency_all: LatencySummary,
    /// Outcome name → count.
    pub outcomes: BTreeMap<String, u64>,
    /// The empirical CDF of the successful answers' latency: (ms, fraction ≤ it).
    pub latency_cdf: Vec<(f64, f64)>,
}

impl EndpointReport {
    /// Requests that were not answered as designed.
    #[must_use]
    pub fn failures(&self) -> u64 {
        self.requests - self.successes
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub replicas: u32,
    /// Requests one replica serves at once.
    pub concurrency: u32,
    pub invocations: u64,
    /// Requests that finished at the service (any outcome).
    pub completed: u64,
    pub rejected: u64,
    pub refusals: u64,
    /// Requests its sidecar's mesh authorization policy refused (left out when none, so
    /// reports of designs without one are unchanged).
    #[serde(skip_serializing_if = "is_zero")]
    pub denied: u64,
    /// Times a caller's outlier detection ejected one of its replicas (left out when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub ejections: u64,
    pub fresh_instances: u64,
    /// Fault cause → count.
    pub guest_faults: BTreeMap<String, u64>,
    pub fuel_total: u64,
    pub fuel_per_invocation: f64,
    pub queue_depth_max: u64,
    /// CPU time received during the workload / (duration × replicas × concurrency); for an
    /// autoscaled service, / (∫ replicas placed dt over the workload × concurrency).
    pub utilisation: f64,
    /// W: mean time in the service, queue and service, milliseconds.
    pub mean_sojourn_ms: f64,
    /// L: mean number of requests in the service.
    pub mean_in_system: f64,
    /// Its autoscaling, when it has `[service.autoscale]` (left out otherwise, so reports of
    /// services without it keep their bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<AutoscaleReport>,
    /// Replica cold starts (`cold_start = "module"`) and, per endpoint, the requests a
    /// scale-to-zero service's activator held and the latency that added (left out when
    /// there were none, so other reports keep their bytes).
    #[serde(skip_serializing_if = "crate::metrics::ColdStarts::is_empty")]
    pub cold_starts: crate::metrics::ColdStarts,
}

/// An autoscaled service's replicas over the run (`replicas` of its [`ServiceReport`] is the
/// count it started with).
#[derive(Debug, Clone, Serialize)]
pub struct AutoscaleReport {
    pub metric: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// The fewest and most replicas placed on the node at once (starting, ready, draining or
    /// crashed), and at the end.
    pub placed_min: u32,
    pub placed_max: u32,
    pub placed_end: u32,
    /// ∫ replicas placed dt over the whole run (drain included): the cost, in replica-seconds.
    pub replica_seconds: f64,
    /// The policy deciding the count, when not the reactive HPA: `holt-winters`, or the
    /// policy module's path (left out otherwise, so other reports keep their bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// A policy module's decisions it could not take (the reactive one stood instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_faults: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoreReport {
    pub kind: String,
    pub replicas: u32,
    pub consistency: String,
    pub reads: u64,
    pub writes: u64,
    pub replications: u64,
    pub replication_lag_max_ms: f64,
    /// Caches only.
    pub cache: Option<CacheReport>,
    /// Brokers only: the traffic of the async channels it carries (their `reads` are the
    /// deliveries, their `writes` the publishes).
    pub broker: Option<BrokerReport>,
}

/// A broker's traffic: the sums over the async channels it carries.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct BrokerReport {
    pub channels: u64,
    pub published: u64,
    pub delivered: u64,
    pub redelivered: u64,
    pub acked: u64,
    pub dead_lettered: u64,
    /// Deliveries still owed to consumer groups at the end of the run, and the most at any
    /// sample (see [`ChannelReport::consumer_lag_max`]).
    pub consumer_lag_end: u64,
    pub consumer_lag_max: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct CacheReport {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    /// hits / (hits + misses); 0 with no access.
    pub hit_ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelReport {
    pub kind: String,
    #[serde(flatten)]
    pub stats: ChannelStats,
    /// Consumer groups subscribed (each gets every message).
    pub groups: u64,
    /// Consumer lag: deliveries still owed, Σ over groups of published − acknowledged −
    /// dead-lettered ([`ChannelStats::consumer_lag`]), at the end of the run.
    pub consumer_lag_end: u64,
    /// The largest consumer lag at any sample of the time series or at the end.
    pub consumer_lag_max: u64,
}

/// What an SLO objective constrains. Serialised names are stable: tools read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Median latency of successful answers must not exceed the target (ms).
    P50Ms,
    /// 99th percentile latency must not exceed the target (ms).
    P99Ms,
    /// successes / requests must reach the target.
    Availability,
    /// Successful answers per second must reach the target.
    ThroughputMinRps,
}

impl Objective {
    /// The stable name, as in `report.json`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Objective::P50Ms => "p50_ms",
            Objective::P99Ms => "p99_ms",
            Objective::Availability => "availability",
            Objective::ThroughputMinRps => "throughput_min_rps",
        }
    }

    /// Whether `actual` meets `target`.
    #[must_use]
    pub fn met(self, actual: f64, target: f64) -> bool {
        match self {
            Objective::P50Ms | Objective::P99Ms => actual <= target,
            Objective::Availability | Objective::ThroughputMinRps => actual >= target,
        }
    }

    /// `≤ 150 ms`, `≥ 99.5 %`: the target as a person reads it.
    #[must_use]
    pub fn show_target(self, target: f64) -> String {
        match self {
            Objective::P50Ms | Objective::P99Ms => format!("≤ {target} ms"),
            Objective::Availability => format!("≥ {} %", fmt_percent(target)),
            Objective::ThroughputMinRps => format!("≥ {target} req/s"),
        }
    }

    /// An actual value in the objective's unit.
    #[must_use]
    pub fn show_value(self, value: f64) -> String {
        match self {
            Objective::P50Ms | Objective::P99Ms => format!("{value:.2} ms"),
            Objective::Availability => format!("{} %", fmt_percent(value)),
            Objective::ThroughputMinRps => format!("{value:.1} req/s"),
        }
    }

    /// A short label: `p50`, `p99`, `availability`, `throughput`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Objective::P50Ms => "p50",
            Objective::P99Ms => "p99",
            Objective::Availability => "availability",
            Objective::ThroughputMinRps => "throughput",
        }
    }
}

/// A fraction as a percentage with enough digits to tell 99.9 from 99.95.
fn fmt_percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    let s = format!("{p:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

/// Met or not. A measured value decides; no data (no request, no success) fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloStatus {
    Pass,
    Fail,
}

impl SloStatus {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            SloStatus::Pass => "PASS",
            SloStatus::Fail => "FAIL",
        }
    }
}

/// One objective of one SLO, judged.
#[derive(Debug, Clone, Serialize)]
pub struct SloVerdict {
    /// `service.endpoint`.
    pub endpoint: String,
    pub objective: Objective,
    pub target: f64,
    /// None when the endpoint had no data for it (no request, or no successful one).
    pub actual: Option<f64>,
    pub verdict: SloStatus,
}

impl Report {
    /// Builds the report of `result`, a run of `scenario`.
    #[must_use]
    pub fn new(result: &RunResult, scenario: &Scenario) -> Self {
        let duration_s = result.duration.as_secs_f64();
        let endpoints: BTreeMap<String, EndpointReport> = result
            .metrics
            .endpoints
            .iter()
            .map(|(name, e)| {
                let requests = e.total();
                let successes = e.successes();
                let report = EndpointReport {
                    requests,
                    successes,
                    availability: ratio(successes, requests),
                    throughput_rps: per_second(
                        e.successes_in_workload.unwrap_or(successes),
                        duration_s,
                    ),
                    latency: e.latency_summary(),
                    latency_all: LatencySummary::of(&e.latency_all),
                    outcomes: e.outcomes.iter().map(|(o, n)| (o.name().to_owned(), *n)).collect(),
                    latency_cdf: cdf_points(&e.latency),
                };
                (name.clone(), report)
            })
            .collect();
        let slos = slo_verdicts(scenario, &endpoints);
        Report {
            system: result.system.clone(),
            seed: result.seed,
            duration_s,
            end_s: result.end.as_secs_f64(),
            events: result.events,
            trace_hash: result.trace_hash.clone(),
            requests_sent: result.requests_sent,
            requests_answered: result.requests_answered,
            guest_fuel: result.guest_fuel,
            endpoints,
            services: services(result, scenario),
            stores: stores(result, scenario),
            channels: channels(result, scenario),
            slos,
            series: result.metrics.series.clone(),
            faults: fault_spans(scenario, result.end.as_secs_f64()),
            journeys: journeys::journeys(&result.journeys),
            rollouts: result
                .rollouts
                .iter()
                .map(|t| RolloutReport {
                    service: t.service.clone(),
                    version: t.version,
                    started_s: t.started.as_secs_f64(),
                    finished_s: t.finished.map(SimTime::as_secs_f64),
                    steps: t.steps,
                    skew_s: t.skew_ns as f64 / 1e9,
                })
                .collect(),
            mesh_routes: RoutesReport::of(&result.mesh_routes),
        }
    }

    /// Whether every SLO objective was met (true when there are none).
    #[must_use]
    pub fn slos_met(&self) -> bool {
        self.slos.iter().all(|v| v.verdict == SloStatus::Pass)
    }

    /// `report.json`: pretty JSON with a final newline.
    ///
    /// # Errors
    /// Never in practice (every field is a plain value); kept for the serialiser's signature.
    pub fn to_json(&self) -> Result<Vec<u8>, ReportError> {
        // Names come from the scenario (untrusted): every string shown visibly (`text::json`).
        let mut json = text::json(&serde_json::to_string_pretty(self)?);
        json.push('\n');
        Ok(json.into_bytes())
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

fn per_second(count: u64, duration_s: f64) -> f64 {
    if duration_s > 0.0 { count as f64 / duration_s } else { 0.0 }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn services(result: &RunResult, scenario: &Scenario) -> BTreeMap<String, ServiceReport> {
    let duration_nanos = result.duration.nanos();
    scenario
        .services
        .iter()
        .map(|svc| {
            let m = result.metrics.services.get(&svc.name).cloned().unwrap_or_default();
            // Its subsets' own Deployments serve too (their busy time is the service's).
            let replicas = scenario.replicas_of(svc);
            let slots = f64::from(replicas) * f64::from(svc.concurrency);
            // An autoscaled service's capacity is the replicas it had placed over the
            // workload (its starting count read 211 % for a service scaled to six).
            let placed = svc.autoscale.as_ref().and_then(|_| {
                let r = result.metrics.replicas.get(&svc.name)?;
                Some(
                    r.placed_in_workload_nanos
                        .unwrap_or_else(|| (r.replica_seconds(duration_nanos) * 1e9) as u128),
                )
            });
            let capacity_nanos = match placed {
                Some(replica_nanos) => replica_nanos as f64 * f64::from(svc.concurrency),
                None => duration_nanos as f64 * slots,
            };
            let report = ServiceReport {
                replicas,
                concurrency: svc.concurrency,
                invocations: m.invocations,
                completed: m.completed,
                rejected: m.rejected,
                refusals: m.refusals,
                denied: m.denied,
                ejections: m.ejections,
                fresh_instances: m.fresh_instances,
                guest_faults: m.guest_faults.clone(),
                fuel_total: m.fuel_total,
                fuel_per_invocation: if m.invocations == 0 {
                    0.0
                } else {
                    m.fuel_total as f64 / m.invocations as f64
                },
                queue_depth_max: m.queue_depth_max,
                utilisation: if capacity_nanos > 0.0 {
                    m.cpu_in_workload() as f64 / capacity_nanos
                } else {
                    0.0
                },
                mean_sojourn_ms: m.mean_sojourn_ms(),
                mean_in_system: m.mean_in_workload(duration_nanos),
                autoscale: svc.autoscale.as_ref().map(|a| {
                    let r = result.metrics.replicas.get(&svc.name).cloned().unwrap_or_default();
                    AutoscaleReport {
                        metric: a.metric.name().to_owned(),
                        min_replicas: a.min_replicas,
                        max_replicas: a.max_replicas,
                        placed_min: r.fewest(),
                        placed_max: r.most(),
                        placed_end: r.placed,
                        replica_seconds: r.replica_seconds(result.end.nanos()),
                        policy: (!a.policy.is_reactive()).then(|| a.policy.name().to_owned()),
                        policy_faults: matches!(a.policy, ScalePolicy::Module(_)).then(|| {
                            result.metrics.policy_faults.get(&svc.name).copied().unwrap_or(0)
                        }),
                    }
                }),
                cold_starts: m.cold_starts.clone(),
            };
            (svc.name.clone(), report)
        })
        .collect()
}

fn stores(result: &RunResult, scenario: &Scenario) -> BTreeMap<String, StoreReport> {
    scenario
        .stores
        .iter()
        .map(|d| {
            let m = result.metrics.stores.get(&d.name).cloned().unwrap_or_default();
            let cache = (d.kind == fusebench_model::scenario::StoreKind::Cache).then(|| {
                let c: CacheStats = result.metrics.caches.get(&d.name).copied().unwrap_or_default();
                CacheReport {
                    hits: c.hits,
                    misses: c.misses,
                    evictions: c.evictions,
                    hit_ratio: ratio(c.hits, c.hits + c.misses),
                }
            });
            let broker = (d.kind == fusebench_model::scenario::StoreKind::Broker)
                .then(|| broker(result, scenario, &d.name));
            let (reads, writes) = match &broker {
                Some(b) => (b.delivered, b.published),
                None => (m.reads, m.writes),
            };
            let report = StoreReport {
                kind: d.kind.name().to_owned(),
                replicas: d.replicas,
                consistency: match d.consistency {
                    fusebench_model::scenario::Consistency::Strong => "strong",
                    fusebench_model::scenario::Consistency::Eventual => "eventual",
                }
                .to_owned(),
                reads,
                writes,
                replications: m.replications,
                replication_lag_max_ms: m.replication_lag_max_nanos as f64 / 1e6,
                cache,
                broker,
            };
            (d.name.clone(), report)
        })
        .collect()
}

/// The consumer groups subscribed to `channel`.
fn groups(scenario: &Scenario, channel: &str) -> u64 {
    let groups: std::collections::BTreeSet<&str> = scenario
        .services
        .iter()
        .flat_map(|s| &s.subscriptions)
        .filter(|sub| sub.channel.name == channel)
        .map(|sub| sub.group.as_str())
        .collect();
    groups.len() as u64
}

fn channels(result: &RunResult, scenario: &Scenario) -> BTreeMap<String, ChannelReport> {
    scenario
        .channels
        .iter()
        .filter(|c| !c.kind.is_sync() || result.metrics.channels.contains_key(&c.name))
        .map(|c| {
            let stats = result.metrics.channels.get(&c.name).copied().unwrap_or_default();
            let groups = groups(scenario, &c.name);
            let consumer_lag_end = stats.consumer_lag(usize::try_from(groups).unwrap_or(0));
            let consumer_lag_max = result
                .metrics
                .series
                .iter()
                .filter_map(|s| s.consumer_lag.get(&c.name).copied())
                .fold(consumer_lag_end, u64::max);
            let report = ChannelReport {
                kind: c.kind.name().to_owned(),
                stats,
                groups,
                consumer_lag_end,
                consumer_lag_max,
            };
            (c.name.clone(), report)
        })
        .collect()
}

/// The traffic of the broker `store`: its channels' figures summed.
fn broker(result: &RunResult, scenario: &Scenario, store: &str) -> BrokerReport {
    let carried: Vec<&str> = scenario
        .channels
        .iter()
        .filter(|c| c.broker.as_ref().is_some_and(|b| b.name == store))
        .map(|c| c.name.as_str())
        .collect();
    let channels = self::channels(result, scenario);
    let mut b = BrokerReport { channels: carried.len() as u64, ..BrokerReport::default() };
    for c in carried.iter().filter_map(|c| channels.get(*c)) {
        b.published += c.stats.published;
        b.delivered += c.stats.delivered;
        b.redelivered += c.stats.redelivered;
        b.acked += c.stats.acked;
        b.dead_lettered += c.stats.dead_lettered;
        b.consumer_lag_end += c.consumer_lag_end;
    }
    let lag_at = |s: &crate::metrics::Sample| -> u64 {
        carried.iter().filter_map(|c| s.consumer_lag.get(*c)).sum()
    };
    b.consumer_lag_max =
        result.metrics.series.iter().map(lag_at).fold(b.consumer_lag_end, u64::max);
    b
}

/// Judges every objective of every SLO against the endpoints' figures.
fn slo_verdicts(
    scenario: &Scenario,
    endpoints: &BTreeMap<String, EndpointReport>,
) -> Vec<SloVerdict> {
    let mut verdicts = Vec::new();
    for slo in &scenario.quality.slos {
        let key = format!("{}.{}", slo.service, slo.endpoint);
        let e = endpoints.get(&key);
        let answered = e.filter(|e| e.requests > 0);
        let succeeded = e.filter(|e| e.successes > 0);
        let objectives = [
            (Objective::P50Ms, slo.p50_ms, succeeded.map(|e| e.latency.p50_ms)),
            (Objective::P99Ms, slo.p99_ms, succeeded.map(|e| e.latency.p99_ms)),
            (Objective::Availability, slo.availability, answered.map(|e| e.availability)),
            (Objective::ThroughputMinRps, slo.throughput_min_rps, e.map(|e| e.throughput_rps)),
        ];
        for (objective, target, actual) in objectives {
            let Some(target) = target else { continue };
            let met = actual.is_some_and(|a| objective.met(a, target));
            verdicts.push(SloVerdict {
                endpoint: key.clone(),
                objective,
                target,
                actual,
                verdict: if met { SloStatus::Pass } else { SloStatus::Fail },
            });
        }
    }
    verdicts
}

/// The files of a run directory, relative to it.
pub const REPORT_JSON: &str = "report.json";
pub const REPORT_MD: &str = "report.md";
pub const TRACE_JSONL: &str = "trace.jsonl";

/// Writes a run's directory whole or not at all: `report.json`, `report.md`, `trace.jsonl` (when
/// `trace` is given) and every plot as SVG and PNG go into a staging directory next to `dir`,
/// which then replaces `dir` (see [`atomic::StagedDir`]): an interrupted or failed write leaves
/// the previous output as it was, never a new trace beside an old report. A `dir` holding
/// anything fusebench does not write is refused, not replaced. Returns the files written,
/// relative to `dir`, in the order written.
///
/// # Errors
/// `dir` holds other files, a file cannot be written, or a plot cannot be drawn.
pub fn write_run_dir(
    dir: &Path,
    report: &Report,
    trace: Option<&[u8]>,
) -> Result<Vec<String>, ReportError> {
    let staged = stage_dir(dir)?;
    let written = write_run_files(staged.path(), report, trace)?;
    commit_dir(staged, dir)?;
    Ok(written)
}

/// Writes a run's files into `dir` (creating it), each atomically: for a directory that is
/// itself staged (a seed's `seed-N/` inside a staged multi-seed directory).
///
/// # Errors
/// A file cannot be written, or a plot cannot be drawn.
pub fn write_run_files(
    dir: &Path,
    report: &Report,
    trace: Option<&[u8]>,
) -> Result<Vec<String>, ReportError> {
    create_dir(dir)?;
    let mut written = Vec::new();
    if let Some(trace) = trace {
        write_file(dir, TRACE_JSONL, trace)?;
        written.push(TRACE_JSONL.to_owned());
    }
    let plots = plots::write_all(dir, report)?;
    write_file(dir, REPORT_JSON, &report.to_json()?)?;
    written.push(REPORT_JSON.to_owned());
    // The Markdown links the plots: write it last, once they are all in place.
    written.extend(plots.iter().flat_map(|p| [p.svg(), p.png()]));
    write_file(dir, REPORT_MD, markdown::render(report, &plots).as_bytes())?;
    written.push(REPORT_MD.to_owned());
    Ok(written)
}

/// Starts replacing the output directory `dir`: checks that it holds only what fusebench writes
/// (so `--out .` cannot delete a project), then makes the staging directory to write into.
///
/// # Errors
/// `dir` holds other files, is not a directory, or the staging directory cannot be made.
pub fn stage_dir(dir: &Path) -> Result<atomic::StagedDir, ReportError> {
    if let Some(entry) = foreign_entry(dir) {
        return Err(ReportError::Foreign { dir: dir.to_path_buf(), entry });
    }
    atomic::StagedDir::new(dir)
        .map_err(|source| ReportError::Write { path: dir.to_path_buf(), source })
}

/// Puts a finished staging directory in place of `dir`.
///
/// # Errors
/// The rename failed (the previous `dir` is then kept where possible).
pub fn commit_dir(staged: atomic::StagedDir, dir: &Path) -> Result<(), ReportError> {
    staged.commit().map_err(|source| ReportError::Write { path: dir.to_path_buf(), source })
}

/// The first entry of `dir` that is not a run's output (nor a seed's `seed-N/` of them, nor a
/// hidden temporary file of an atomic write), if any; `dir` itself when it is not a directory.
fn foreign_entry(dir: &Path) -> Option<String> {
    if !dir.exists() {
        return None;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Some(dir.display().to_string());
    };
    let mut names: Vec<(String, bool)> = entries
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path().is_dir()))
        .collect();
    names.sort();
    for (name, is_dir) in names {
        let ours = if is_dir {
            name.strip_prefix("seed-")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                && foreign_entry(&dir.join(&name)).is_none()
        } else {
            [REPORT_JSON, REPORT_MD, TRACE_JSONL].contains(&name.as_str())
                || plots::PLOTS.iter().any(|p| name == p.svg() || name == p.png())
                || (name.starts_with('.') && name.contains(".tmp-"))
        };
        if !ours {
            return Some(name);
        }
    }
    None
}

/// Creates `dir` and its parents.
///
/// # Errors
/// It cannot be created (or a file is in the way).
pub fn create_dir(dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir)
        .map_err(|source| ReportError::Write { path: dir.to_path_buf(), source })
}

/// Writes `dir/name` atomically.
///
/// # Errors
/// It cannot be written.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), ReportError> {
    let path = dir.join(name);
    atomic::write(&path, bytes).map_err(|source| ReportError::Write { path, source })
}
