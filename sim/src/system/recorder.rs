//! The run's metrics as the engine records them: by typed id, in vectors, so recording on the
//! event path is an index, never a lookup by name. [`Metrics`], keyed by name for reports, is
//! built from it at the end of the run (or when a viewer asks); an entry appears there once
//! something happened to it, as if it had been created on first use.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::ids::{ChannelId, EndpointId, ServiceId, StoreId};
use super::world::{EndpointSpec, World};
use crate::metrics::{
    ActivatorWaits, CacheStats, ChannelStats, EndpointRecord, Metrics, ReplicaStats, Sample,
    ServiceSample, ServiceStats, StoreStats, TargetBucket, lag_histogram, record_lag,
};

#[derive(Debug)]
pub(crate) struct Recorder {
    /// Per service, per endpoint.
    endpoints: Vec<Vec<Option<EndpointRecord>>>,
    /// Per service, per endpoint: the buckets of its latency targets, empty.
    latency_targets: Vec<Vec<Vec<TargetBucket>>>,
    /// The workload has ended ([`Recorder::close_workload`]).
    workload_over: bool,
    services: Vec<Option<ServiceStats>>,
    /// Per service, in the current sampling interval: (fuel, invocations).
    interval_fuel: Vec<Option<(u64, u64)>>,
    /// Per store (caches).
    caches: Vec<Option<CacheStats>>,
    interval_cache: Vec<Option<CacheStats>>,
    /// Per store (key-value stores).
    stores: Vec<Option<StoreStats>>,
    interval_lag: Vec<Option<u64>>,
    replication_lag: Vec<Option<Histogram<u64>>>,
    channels: Vec<Option<ChannelStats>>,
    /// Per service (autoscaled ones only).
    replicas: Vec<Option<ReplicaStats>>,
    /// Per service with a policy module: the decisions its module could not take.
    policy_faults: Vec<Option<u64>>,
    series: Vec<Sample>,
}

fn nones<T>(n: usize) -> Vec<Option<T>> {
    std::iter::repeat_with(|| None).take(n).collect()
}

/// The `(name, value)` pairs of the entries that exist.
fn named<'a, T: Clone + 'a>(
    values: impl Iterator<Item = &'a Option<T>>,
    name: impl Fn(usize) -> &'a str,
) -> BTreeMap<String, T> {
    values
        .enumerate()
        .filter_map(|(i, v)| v.as_ref().map(|v| (name(i).to_owned(), v.clone())))
        .collect()
}

impl Recorder {
    pub(crate) fn new(world: &World) -> Self {
        let (services, stores, channels) =
            (world.services.len(), world.stores.len(), world.channels.len());
        Recorder {
            endpoints: world.services.iter().map(|s| nones(s.endpoints.len())).collect(),
            latency_targets: world
                .services
                .iter()
                .map(|s| {
                    let targets = |e: &EndpointSpec| {
                        TargetBucket::of_targets(e.latency_targets_ms.iter().copied())
                    };
                    s.endpoints.iter().map(targets).collect()
                })
                .collect(),
            services: nones(services),
            interval_fuel: nones(services),
            caches: nones(stores),
            interval_cache: nones(stores),
            stores: nones(stores),
            interval_lag: nones(stores),
            replication_lag: nones(stores),
            channels: nones(channels),
            replicas: nones(services),
            policy_faults: nones(services),
            series: Vec::new(),
            workload_over: false,
        }
    }

    /// The workload has ended: each endpoint's successes so far are those its throughput
    /// counts (an endpoint first answered during the drain counts none).
    /// Each service's CPU time and occupancy so far are those its utilisation and L count,
    /// its running slices still owed `owed_nanos[service]` of CPU at `now_nanos`.
    pub(crate) fn close_workload(&mut self, now_nanos: u64, owed_nanos: &[u64]) {
        self.workload_over = true;
        self.endpoints.iter_mut().flatten().flatten().for_each(EndpointRecord::close_workload);
        for (stats, &owed) in self.services.iter_mut().zip(owed_nanos) {
            if let Some(stats) = stats {
                stats.close_workload(now_nanos, owed);
            }
        }
        for replicas in self.replicas.iter_mut().flatten() {
            replicas.close_workload(now_nanos);
        }
    }

    /// Client-observed statistics of a public endpoint.
    pub(crate) fn endpoint(&mut self, s: ServiceId, e: EndpointId) -> &mut EndpointRecord {
        let over = self.workload_over;
        let targets = &self.latency_targets[s.index()][e.index()];
        self.endpoints[s.index()][e.index()].get_or_insert_with(|| {
            let mut record = EndpointRecord::with_targets(targets.clone());
            if over {
                record.close_workload();
            }
            record
        })
    }

    pub(crate) fn service(&mut self, s: ServiceId) -> &mut ServiceStats {
        self.services[s.index()].get_or_insert_with(ServiceStats::default)
    }

    /// What the activator's waits cost `endpoint` of scale-to-zero service `s`.
    pub(crate) fn cold_waits(&mut self, s: ServiceId, endpoint: &str) -> &mut ActivatorWaits {
        let endpoints = &mut self.service(s).cold_starts.endpoints;
        if !endpoints.contains_key(endpoint) {
            endpoints.insert(endpoint.to_owned(), ActivatorWaits::default());
        }
        endpoints.get_mut(endpoint).expect("inserted just now")
    }

    /// An autoscaled service has `placed` replicas placed from `now_nanos` on.
    pub(crate) fn placed_change(&mut self, s: ServiceId, now_nanos: u64, placed: u32) {
        match &mut self.replicas[s.index()] {
            Some(r) => r.change(now_nanos, placed),
            None => self.replicas[s.index()] = Some(ReplicaStats::new(now_nanos, placed)),
        }
    }

    /// A decision of `s`'s policy module fell back to the reactive one (`faulted`), or not:
    /// either way the service now has a count.
    pub(crate) fn policy_decided(&mut self, s: ServiceId, faulted: bool) {
        *self.policy_faults[s.index()].get_or_insert(0) += u64::from(faulted);
    }

    /// ∫ (requests in the service) dt so far (0 before its first request).
    pub(crate) fn occupancy_until(&self, s: ServiceId, now_nanos: u64) -> u128 {
        self.services[s.index()].as_ref().map_or(0, |x| x.occupancy_until(now_nanos))
    }

    /// CPU demand the service's slices have had so far.
    pub(crate) fn busy_nanos(&self, s: ServiceId) -> u64 {
        self.services[s.index()].as_ref().map_or(0, |x| x.busy_nanos)
    }

    pub(crate) fn record_fuel(&mut self, s: ServiceId, fuel: u64) {
        self.service(s).fuel_total += fuel;
        let f = self.interval_fuel[s.index()].get_or_insert((0, 0));
        f.0 += fuel;
        f.1 += 1;
    }

    pub(crate) fn cache_access(&mut self, d: StoreId, hit: bool) {
        for c in [&mut self.caches[d.index()], &mut self.interval_cache[d.index()]] {
            let c = c.get_or_insert_with(CacheStats::default);
            if hit { c.hits += 1 } else { c.misses += 1 }
        }
    }

    pub(crate) fn evictions(&mut self, d: StoreId, n: u64) {
        self.caches[d.index()].get_or_insert_with(CacheStats::default).evictions += n;
    }

    pub(crate) fn store(&mut self, d: StoreId) -> &mut StoreStats {
        self.stores[d.index()].get_or_insert_with(StoreStats::default)
    }

    pub(crate) fn replication_lag(&mut self, d: StoreId, nanos: u64) {
        let s = self.store(d);
        s.replications += 1;
        s.replication_lag_max_nanos = s.replication_lag_max_nanos.max(nanos);
        let m = self.interval_lag[d.index()].get_or_insert(0);
        *m = (*m).max(nanos);
        record_lag(self.replication_lag[d.index()].get_or_insert_with(lag_histogram), nanos);
    }

    pub(crate) fn channel(&mut self, c: ChannelId) -> &mut ChannelStats {
        self.channels[c.index()].get_or_insert_with(ChannelStats::default)
    }

    /// Closes the current interval into a [`Sample`]; `gauges` gives the instantaneous queue
    /// depth, utilisation and live replicas per service.
    pub(crate) fn sample(
        &mut self,
        world: &World,
        t_s: f64,
        interval_s: f64,
        gauges: BTreeMap<String, (u64, f64, u64)>,
    ) {
        let mut endpoints = BTreeMap::new();
        for (s, eps) in self.endpoints.iter_mut().enumerate() {
            for (e, stats) in eps.iter_mut().enumerate() {
                if let Some(stats) = stats {
                    let key = &world.services[s].endpoints[e].metric_key;
                    endpoints.insert(key.clone(), stats.close_interval(interval_s));
                }
            }
        }
        let fuel: BTreeMap<&str, (u64, u64)> = self
            .interval_fuel
            .iter_mut()
            .enumerate()
            .filter_map(|(s, f)| f.take().map(|f| (world.services[s].name.as_str(), f)))
            .collect();
        let services = gauges
            .into_iter()
            .map(|(name, (queue_depth, utilisation, live_instances))| {
                let (fuel, n) = fuel.get(name.as_str()).copied().unwrap_or_default();
                let fuel_per_request = if n == 0 { 0.0 } else { fuel as f64 / n as f64 };
                (name, ServiceSample { queue_depth, utilisation, live_instances, fuel_per_request })
            })
            .collect();
        let store_name = |d: usize| world.stores[d].name.clone();
        let cache_hit_ratio = self
            .interval_cache
            .iter_mut()
            .enumerate()
            .filter_map(|(d, c)| c.take().map(|c| (store_name(d), c)))
            .map(|(name, c)| {
                let total = c.hits + c.misses;
                (name, if total == 0 { 0.0 } else { c.hits as f64 / total as f64 })
            })
            .collect();
        let replication_lag_ms = self
            .interval_lag
            .iter_mut()
            .enumerate()
            .filter_map(|(d, l)| l.take().map(|l| (store_name(d), l as f64 / 1e6)))
            .collect();
        let consumer_lag = self
            .channels
            .iter()
            .enumerate()
            .filter_map(|(c, stats)| {
                let spec = &world.channels[c];
                stats.map(|s| (spec.name.clone(), s.consumer_lag(spec.groups.len())))
            })
            .collect();
        self.series.push(Sample {
            t_s,
            endpoints,
            services,
            cache_hit_ratio,
            replication_lag_ms,
            consumer_lag,
        });
    }

    pub(crate) fn series(&self) -> &[Sample] {
        &self.series
    }

    /// The metrics keyed by name, as reports read them.
    pub(crate) fn metrics(&self, world: &World) -> Metrics {
        let mut endpoints = BTreeMap::new();
        for (s, eps) in self.endpoints.iter().enumerate() {
            for (e, stats) in eps.iter().enumerate() {
                if let Some(stats) = stats {
                    endpoints
                        .insert(world.services[s].endpoints[e].metric_key.clone(), stats.stats());
                }
            }
        }
        let service = |i: usize| world.services[i].name.as_str();
        let store = |i: usize| world.stores[i].name.as_str();
        Metrics {
            endpoints,
            services: named(self.services.iter(), service),
            caches: named(self.caches.iter(), store),
            stores: named(self.stores.iter(), store),
            channels: named(self.channels.iter(), |i| world.channels[i].name.as_str()),
            series: self.series.clone(),
            replication_lag: named(self.replication_lag.iter(), store),
            replicas: named(self.replicas.iter(), service),
            policy_faults: named(self.policy_faults.iter(), service),
        }
    }
}
