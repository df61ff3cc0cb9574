//! Reports that agree with the trace (issue 12.6): a short run of the shop, and every figure of
//! its report that the trace can give recomputed from the trace alone and compared. The issue
//! saw a cache with 0 writes while the trace had 1,140 `cache_put`s, a broker whose row was all
//! zeros, and utilisation that did not follow the CPU time used.

use std::collections::{BTreeMap, BTreeSet};

use fusebench_model::Scenario;
use fusebench_sim::load::load;
use fusebench_sim::report::Report;
use fusebench_sim::setup::build_runtime;
use fusebench_sim::time::SimTime;
use fusebench_sim::trace::{self, TraceEvent, TraceLine};
use fusebench_sim::{RunOptions, RunResult, Sim};

fn shop_run(seconds: f64, seed: u64) -> (Scenario, RunResult) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/shop/shop.toml");
    let loaded = load(std::path::Path::new(path)).expect("the shop loads");
    let runtime = build_runtime(&loaded.scenario, &loaded.files).expect("the shop's modules load");
    let mut o = RunOptions::new(seed);
    o.trace = trace::TraceMode::Full;
    o.duration = Some(SimTime::from_secs_f64(seconds));
    let result = Sim::new(loaded.scenario.clone(), Box::new(runtime), &o).run();
    (loaded.scenario, result)
}

fn lines(result: &RunResult) -> Vec<TraceLine> {
    trace::read(&result.trace).map(|l| l.expect("the trace reads back")).collect()
}

/// Counts by key.
#[derive(Debug, Default)]
struct Tally(BTreeMap<String, u64>);

impl Tally {
    fn add(&mut self, key: impl Into<String>) {
        *self.0.entry(key.into()).or_default() += 1;
    }
    fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }
}

/// Everything the checks below count, from the trace alone.
#[derive(Debug, Default)]
struct FromTrace {
    /// `service.endpoint` → outcome → answers.
    responses: BTreeMap<String, Tally>,
    invocations: Tally,
    /// Invocations that started on a fresh instance (a cold start).
    fresh: Tally,
    ended: Tally,
    rejected: Tally,
    refusals: Tally,
    /// service → cause → guest faults.
    faults: BTreeMap<String, Tally>,
    /// service → fuel of its finished invocations.
    fuel: BTreeMap<String, u64>,
    /// Fuel of the invocations that ended before the workload did, and of those that started
    /// before it ended: the CPU time received during the workload lies between the two.
    fuel_ended_in_workload: BTreeMap<String, u64>,
    fuel_started_in_workload: BTreeMap<String, u64>,
    /// `store/op` → host operations (`kv_get`, `kv_put`, `cache_get`, …).
    ops: Tally,
    hits: Tally,
    misses: Tally,
    applies: Tally,
    published: Tally,
    delivered: Tally,
    redelivered: Tally,
    acked: Tally,
    dead: Tally,
}

fn from_trace(lines: &[TraceLine], workload_end: SimTime) -> FromTrace {
    let mut t = FromTrace::default();
    let mut started: BTreeMap<u64, String> = BTreeMap::new();
    let mut started_in_workload: BTreeSet<u64> = BTreeSet::new();
    for line in lines {
        match &line.event {
            TraceEvent::Response { service, endpoint, outcome, .. } => {
                t.responses
                    .entry(format!("{service}.{endpoint}"))
                    .or_default()
                    .add(outcome.clone());
            }
            TraceEvent::InvocationStart { inv, service, fresh, .. } => {
                started.insert(*inv, service.clone());
                if line.t < workload_end {
                    started_in_workload.insert(*inv);
                }
                t.invocations.add(service.clone());
                if *fresh {
                    t.fresh.add(service.clone());
                }
            }
            TraceEvent::InvocationEnd { inv, fuel, .. } => {
                let service = started.get(inv).expect("an invocation ends after it starts");
                t.ended.add(service.clone());
                *t.fuel.entry(service.clone()).or_default() += fuel;
                if line.t <= workload_end {
                    *t.fuel_ended_in_workload.entry(service.clone()).or_default() += fuel;
                }
                if started_in_workload.contains(inv) {
                    *t.fuel_started_in_workload.entry(service.clone()).or_default() += fuel;
                }
            }
            TraceEvent::GuestFault { inv, service, cause, .. } => {
                if !started.contains_key(inv) {
                    // Faulted before it could start: still an invocation.
                    t.invocations.add(service.clone());
                }
                // Counted by kind: the cause up to its first colon.
                let kind = cause.split(':').next().unwrap_or("fault");
                t.faults.entry(service.clone()).or_default().add(kind);
            }
            TraceEvent::Rejected { service, .. } => t.rejected.add(service.clone()),
            TraceEvent::Refused { target, .. } => {
                t.refusals.add(target.split(':').next().unwrap_or_default());
            }
            TraceEvent::HostOp { op, target, .. } => t.ops.add(format!("{target}/{op}")),
            TraceEvent::CacheLookup { cache, hit, .. } => {
                if *hit {
                    t.hits.add(cache.clone());
                } else {
                    t.misses.add(cache.clone());
                }
            }
            TraceEvent::StoreApply { store, .. } => t.applies.add(store.clone()),
            TraceEvent::Publish { channel, .. } => t.published.add(channel.clone()),
            TraceEvent::Deliver { channel, attempt, .. } => {
                t.delivered.add(channel.clone());
                if *attempt > 1 {
                    t.redelivered.add(channel.clone());
                }
            }
            TraceEvent::Acked { channel, .. } => t.acked.add(channel.clone()),
            TraceEvent::Dropped { what, from, reason, .. }
                if what == "message" && reason == "dead-lettered" =>
            {
                t.dead.add(from.clone());
            }
            _ => {}
        }
    }
    t
}

fn groups(s: &Scenario, channel: &str) -> u64 {
    let g: BTreeSet<&str> = s
        .services
        .iter()
        .flat_map(|svc| &svc.subscriptions)
        .filter(|sub| sub.channel.name == channel)
        .map(|sub| sub.group.as_str())
        .collect();
    g.len() as u64
}

#[test]
fn every_report_figure_the_trace_can_give_agrees_with_the_trace() {
    let (s, result) = shop_run(4.0, 3);
    let report = Report::new(&result, &s);
    let lines = lines(&result);
    let t = from_trace(&lines, result.duration);

    // Endpoints: answers by outcome, successes, and one latency sample per success.
    assert!(!report.endpoints.is_empty());
    for (name, e) in &report.endpoints {
        let got = t.responses.get(name).map(|o| o.0.clone()).unwrap_or_default();
        assert_eq!(e.outcomes, got, "{name}: outcomes");
        assert_eq!(e.requests, got.values().sum::<u64>(), "{name}: requests");
        // A success is `ok` or an application error the endpoint declares expected.
        let ok =
            got.get("ok").copied().unwrap_or(0) + got.get("expected-error").copied().unwrap_or(0);
        assert_eq!(e.successes, ok, "{name}: successes");
        assert_eq!(e.latency.count, ok, "{name}: latency samples");
    }

    // Services: invocations, completions, errors, fuel, CPU time → utilisation.
    let duration_ns = result.duration.nanos() as f64;
    for svc in &s.services {
        let r = &report.services[&svc.name];
        let n = &svc.name;
        assert_eq!(r.invocations, t.invocations.get(n), "{n}: invocations");
        assert_eq!(r.completed, t.ended.get(n), "{n}: completed (no crash in this window)");
        // Cold starts: the slice names its instance even when it suspends.
        assert_eq!(r.fresh_instances, t.fresh.get(n), "{n}: fresh instances");
        assert_eq!(r.rejected, t.rejected.get(n), "{n}: rejected");
        assert_eq!(r.refusals, t.refusals.get(n), "{n}: refusals");
        let faults = t.faults.get(n).map(|f| f.0.clone()).unwrap_or_default();
        assert_eq!(r.guest_faults, faults, "{n}: guest faults");
        let fuel = t.fuel.get(n).copied().unwrap_or(0);
        assert_eq!(r.fuel_total, fuel, "{n}: fuel");
        // CPU time is fuel × ns_per_fuel (the shop's services declare no extra service time);
        // utilisation is the CPU time received during the workload over the slots' capacity:
        // at least that of the invocations done by then, at most that of those begun by then,
        // and never above the capacity.
        assert!(svc.service_time.distribution.is_none(), "{n}: a module-only service");
        let slots = f64::from(svc.replicas * svc.concurrency);
        let share = |fuel: &BTreeMap<String, u64>| {
            fuel.get(n).copied().unwrap_or(0) as f64 * svc.service_time.ns_per_fuel
                / (duration_ns * slots)
        };
        let (low, high) = (share(&t.fuel_ended_in_workload), share(&t.fuel_started_in_workload));
        assert!(
            low * (1.0 - 1e-9) <= r.utilisation && r.utilisation <= high * (1.0 + 1e-9) + 1e-12,
            "{n}: utilisation {} outside [{low}, {high}] from the trace's CPU time",
            r.utilisation
        );
        assert!(r.utilisation <= 1.0, "{n}: utilisation {}", r.utilisation);
        assert!(r.invocations == 0 || r.utilisation > 0.0, "{n}: used CPU");
    }

    // Stores: reads and writes as the guests asked for them, cache hits and misses as the
    // cache answered, replications as applied.
    for d in &s.stores {
        let r = &report.stores[&d.name];
        let op = |o: &str| t.ops.get(&format!("{}/{o}", d.name));
        match d.kind.name() {
            "kv" => {
                let reads = op("kv_get") + op("kv_scan") + op("kv_get_versioned");
                let writes = op("kv_put") + op("kv_delete") + op("kv_cas") + op("kv_cas_version");
                assert_eq!(r.reads, reads, "{}: reads", d.name);
                assert_eq!(r.writes, writes, "{}: writes", d.name);
                assert_eq!(r.replications, t.applies.get(&d.name), "{}: replications", d.name);
            }
            "cache" => {
                assert_eq!(r.reads, op("cache_get"), "{}: reads", d.name);
                // A cache's writes are its puts and its invalidations.
                assert_eq!(r.writes, op("cache_put") + op("cache_delete"), "{}: writes", d.name);
                assert!(r.writes > 0, "{}: the catalog fills its cache", d.name);
                let c = r.cache.expect("a cache's figures");
                assert_eq!(c.hits, t.hits.get(&d.name), "{}: hits", d.name);
                assert_eq!(c.misses, t.misses.get(&d.name), "{}: misses", d.name);
            }
            "broker" => {
                let b = r.broker.expect("a broker's figures");
                let carried: Vec<&str> = s
                    .channels
                    .iter()
                    .filter(|c| c.broker.as_ref().is_some_and(|b| b.name == d.name))
                    .map(|c| c.name.as_str())
                    .collect();
                let sum = |tally: &Tally| carried.iter().map(|c| tally.get(c)).sum::<u64>();
                assert_eq!(b.published, sum(&t.published), "{}: published", d.name);
                assert_eq!(b.delivered, sum(&t.delivered), "{}: delivered", d.name);
                assert_eq!(b.redelivered, sum(&t.redelivered), "{}: redelivered", d.name);
                assert_eq!(b.acked, sum(&t.acked), "{}: acked", d.name);
                assert_eq!(b.dead_lettered, sum(&t.dead), "{}: dead-lettered", d.name);
                assert!(b.published > 0, "{}: the broker row is not all zeros", d.name);
                assert_eq!((r.reads, r.writes), (b.delivered, b.published), "{}", d.name);
            }
            other => panic!("a store kind this test does not know: {other}"),
        }
    }

    // Channels: the broker's counters and the consumer lag at the end.
    for (name, c) in &report.channels {
        assert_eq!(c.stats.published, t.published.get(name), "{name}: published");
        assert_eq!(c.stats.delivered, t.delivered.get(name), "{name}: delivered");
        assert_eq!(c.stats.redelivered, t.redelivered.get(name), "{name}: redelivered");
        assert_eq!(c.stats.acked, t.acked.get(name), "{name}: acked");
        assert_eq!(c.stats.dead_lettered, t.dead.get(name), "{name}: dead-lettered");
        let groups = groups(&s, name);
        assert_eq!(c.groups, groups, "{name}: groups");
        let owed = t.published.get(name) * groups - t.acked.get(name) - t.dead.get(name);
        assert_eq!(c.consumer_lag_end, owed, "{name}: consumer lag at the end");
    }
}

#[test]
fn the_consumer_lag_series_is_the_traces_publish_minus_ack_at_every_sample() {
    let (s, result) = shop_run(3.0, 5);
    let lines = lines(&result);
    let channels: Vec<&str> =
        s.channels.iter().filter(|c| !c.kind.is_sync()).map(|c| c.name.as_str()).collect();
    assert!(!channels.is_empty());
    let mut seen_lag = false;
    for sample in &result.metrics.series {
        let at = SimTime::from_secs_f64(sample.t_s);
        for c in &channels {
            let before = |f: &dyn Fn(&TraceEvent) -> bool| {
                lines.iter().filter(|l| l.t <= at && f(&l.event)).count() as u64
            };
            let published =
                before(&|e| matches!(e, TraceEvent::Publish { channel, .. } if channel == c));
            let settled = before(&|e| match e {
                TraceEvent::Acked { channel, .. } => channel == c,
                TraceEvent::Dropped { what, from, reason, .. } => {
                    what == "message" && from == c && reason == "dead-lettered"
                }
                _ => false,
            });
            let want = published * groups(&s, c) - settled;
            let got = sample.consumer_lag.get(*c).copied();
            if published == 0 {
                assert!(got.is_none_or(|g| g == 0), "{c} at {}: {got:?}", sample.t_s);
            } else {
                assert_eq!(got, Some(want), "{c} at {} s", sample.t_s);
                seen_lag |= want > 0;
            }
        }
    }
    assert!(seen_lag, "some sample caught messages in flight");

    // The consumer-lag plot draws one series per channel that carried messages.
    let report = Report::new(&result, &s);
    fusebench_sim::report::plots::register_fonts().expect("fonts");
    let plot = fusebench_sim::report::plots::PLOTS
        .iter()
        .find(|p| p.name == "consumer-lag")
        .expect("a consumer-lag plot");
    let svg = fusebench_sim::report::plots::svg(plot, &report).expect("drawn");
    for c in &channels {
        assert!(svg.contains(c), "{c} in the consumer-lag plot");
    }
    assert!(svg.contains("deliveries owed to consumer groups"), "a chart, not a note");
}

/// The journey table (issue 13.4), recomputed from `journey_start` / `journey_end` lines
/// alone: started, completed, failed at each step, unfinished, the completion rate and the
/// nearest-rank latency percentiles of completed journeys, to the nanosecond.
#[test]
fn the_journey_table_is_the_traces_journey_lines() {
    let (s, result) = shop_run(4.0, 7);
    let report = Report::new(&result, &s);
    let declared: Vec<&str> = s
        .workload
        .as_ref()
        .map(|w| w.journeys.iter().map(|j| j.name.as_str()).collect())
        .unwrap_or_default();
    assert!(!declared.is_empty(), "the shop declares a journey");
    assert_eq!(report.journeys.keys().map(String::as_str).collect::<Vec<_>>(), declared);
    let mut started = Tally::default();
    let mut completed = Tally::default();
    // `journey/step` → failures.
    let mut failed = Tally::default();
    let mut latencies: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in lines(&result) {
        match line.event {
            TraceEvent::JourneyStart { journey, .. } => started.add(journey),
            TraceEvent::JourneyEnd { journey, outcome, step, latency_ns, .. } => {
                match outcome.as_str() {
                    "completed" => {
                        completed.add(journey.clone());
                        latencies.entry(journey).or_default().push(latency_ns);
                    }
                    "failed" => failed.add(format!("{journey}/{step}")),
                    other => panic!("unknown journey outcome `{other}`"),
                }
            }
            _ => {}
        }
    }
    for (name, j) in &report.journeys {
        assert!(started.get(name) > 10, "{name}: too few journeys to compare ({j:?})");
        assert_eq!(j.started, started.get(name), "{name} started");
        assert_eq!(j.completed, completed.get(name), "{name} completed");
        let by_step: u64 = j
            .failed_by_step
            .iter()
            .map(|f| {
                assert_eq!(
                    f.failed,
                    failed.get(&format!("{name}/{}", f.step)),
                    "{name}/{}",
                    f.step
                );
                f.failed
            })
            .sum();
        assert_eq!(j.failed, by_step);
        assert_eq!(j.unfinished, j.started - j.completed - j.failed, "{name} unfinished");
        let ended = j.completed + j.failed;
        assert!((j.completion_rate - j.completed as f64 / ended as f64).abs() < 1e-12);
        let mut l = latencies.remove(name).unwrap_or_default();
        l.sort_unstable();
        let pct = |p: usize| {
            // Nearest rank: the smallest value with at least p % of the values at or below it.
            let k = (p * l.len()).div_ceil(100).max(1);
            l[k - 1] as f64 / 1e6
        };
        assert_eq!(j.latency.count, l.len() as u64);
        assert_eq!(j.latency.p50_ms, pct(50), "{name} p50");
        assert_eq!(j.latency.p95_ms, pct(95), "{name} p95");
        assert_eq!(j.latency.p99_ms, pct(99), "{name} p99");
        assert_eq!(j.latency.max_ms, l[l.len() - 1] as f64 / 1e6, "{name} max");
    }
    // And `report.json` carries them.
    let json: serde_json::Value =
        serde_json::from_slice(&report.to_json().expect("serialises")).expect("json");
    for name in declared {
        assert_eq!(json["journeys"][name]["started"], started.get(name));
    }
}

/// The edge scenario autoscales `devices` and `aggregate` at the metro edge: each one's
/// replica-seconds and placed extremes in the report are the integral of its `replica_state`
/// lines, and the ready-replica series is what those lines (with crashes and restarts) leave
/// ready at every sample.
#[test]
fn the_autoscaling_figures_are_the_traces_replica_lines() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/edge-iot/edge-iot.toml");
    let loaded = load(std::path::Path::new(path)).expect("edge-iot loads");
    let runtime = build_runtime(&loaded.scenario, &loaded.files).expect("its modules load");
    let mut o = RunOptions::new(5);
    o.trace = trace::TraceMode::Full;
    o.duration = Some(SimTime::from_secs_f64(12.0));
    let result = Sim::new(loaded.scenario.clone(), Box::new(runtime), &o).run();
    let report = Report::new(&result, &loaded.scenario);
    let lines = lines(&result);
    let scaled: Vec<&String> =
        report.services.iter().filter(|(_, s)| s.autoscale.is_some()).map(|(n, _)| n).collect();
    assert_eq!(scaled, ["aggregate", "devices"]);
    let mut changed = false;
    for service in scaled {
        // position → (placed since, ready)
        let mut placed: BTreeMap<u32, u64> = BTreeMap::new();
        let mut ready: BTreeSet<u32> = BTreeSet::new();
        let (mut nanos, mut most, mut fewest) = (0u128, 0usize, usize::MAX);
        let mut ready_at: Vec<(u64, usize)> = Vec::new();
        // The count held after the last instant that changed it (counts within one instant
        // last no time and are not extremes).
        let mut pending_instant: Option<u64> = None;
        for line in &lines {
            let t = line.t.nanos();
            if pending_instant.is_some_and(|at| at != t) {
                most = most.max(placed.len());
                fewest = fewest.min(placed.len());
                pending_instant = None;
            }
            match &line.event {
                TraceEvent::ReplicaState { service: s, replica, state } if s == service => {
                    pending_instant = Some(t);
                    match state.as_str() {
                        "starting" | "ready" => {
                            placed.entry(*replica).or_insert(t);
                        }
                        "stopped" => {
                            if let Some(since) = placed.remove(replica) {
                                nanos += u128::from(t - since);
                            }
                        }
                        _ => {}
                    }
                    if state == "ready" {
                        ready.insert(*replica);
                    } else {
                        ready.remove(replica);
                    }
                    if t > 0 {
                        changed = true;
                    }
                }
                TraceEvent::ReplicaDown { service: s, replica } if s == service => {
                    ready.remove(replica);
                }
                TraceEvent::ReplicaUp { service: s, replica } if s == service => {
                    ready.insert(*replica);
                }
                _ => {}
            }
            ready_at.push((t, ready.len()));
        }
        most = most.max(placed.len());
        fewest = fewest.min(placed.len());
        let end = result.end.nanos();
        nanos += placed.values().map(|since| u128::from(end - since)).sum::<u128>();
        let a = report.services[service].autoscale.as_ref().expect("autoscaled");
        let from_trace = nanos as f64 / 1e9;
        assert!((a.replica_seconds - from_trace).abs() < 1e-6, "{service}: {a:?} vs {from_trace}");
        assert_eq!((a.placed_min as usize, a.placed_max as usize), (fewest, most), "{service}");
        assert_eq!(a.placed_end as usize, placed.len(), "{service}");
        // Every sample: ready replicas as the trace leaves them at that time (a sample taken
        // at the very time of a replica line is skipped: their order within it is the queue's).
        let mut compared = 0;
        for sample in &report.series {
            let t = SimTime::from_secs_f64(sample.t_s).nanos();
            if ready_at.iter().any(|(at, _)| *at == t) {
                continue;
            }
            let expected = ready_at.iter().take_while(|(at, _)| *at < t).last().map_or(0, |x| x.1);
            assert_eq!(
                sample.services[service].live_instances as usize, expected,
                "{service} at {t}"
            );
            compared += 1;
        }
        assert!(compared > 50, "{service}: {compared} samples compared");
    }
    assert!(changed, "the run scaled something: the check compares more than the start");
}

/// A cache too small for its working set evicts, and the report's `evictions` are the trace's
/// `cache_evict` lines, one per key the cache let go (the edge cache of the corpus, cut from
/// 100 entries to 2).
#[test]
fn a_cache_s_evictions_are_the_traces_cache_evict_lines() {
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/corpus/correct/corpus-edge-cache.toml");
    let mut loaded = load(std::path::Path::new(path)).expect("the design loads");
    let cache = loaded.scenario.stores.iter_mut().find(|d| d.name == "product-cache");
    cache.expect("its cache").capacity = Some(2);
    let runtime = build_runtime(&loaded.scenario, &loaded.files).expect("its modules load");
    let mut o = RunOptions::new(1);
    o.trace = trace::TraceMode::Full;
    o.duration = Some(SimTime::from_secs_f64(5.0));
    let result = Sim::new(loaded.scenario.clone(), Box::new(runtime), &o).run();
    let report = Report::new(&result, &loaded.scenario);
    let evicted = lines(&result)
        .iter()
        .filter(|l| {
            matches!(&l.event, TraceEvent::CacheEvict { cache, .. } if cache == "product-cache")
        })
        .count() as u64;
    let r = report.stores["product-cache"].cache.expect("a cache's figures");
    assert!(r.evictions > 10, "a 2-entry cache evicts: {}", r.evictions);
    assert_eq!(r.evictions, evicted, "the report counts the trace's evictions");
}
