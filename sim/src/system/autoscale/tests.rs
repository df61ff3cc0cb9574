//! The autoscaler against what Kubernetes documents for the Horizontal Pod Autoscaler
//! ("Horizontal Pod Autoscaling", kubernetes.io: algorithm details, stabilization window,
//! scaling policies) and KEDA's queue scalers; then the engine end to end.

use fusebench_model::scenario::ScaleMetric;

use super::*;
use crate::metrics::Outcome;
use crate::system::{RunOptions, RunResult, Sim};
use crate::trace::{self, TraceMode};

const S: u64 = 1_000_000_000;

fn ready(n: u32) -> Count {
    Count { ready: n, unready: 0 }
}

/// HPA's defaults (`behavior` left out) with the given bounds.
fn hpa(min: u32, max: u32) -> AutoscaleSpec {
    AutoscaleSpec {
        min,
        max,
        metric: ScaleMetric::Concurrency,
        target: 1.0,
        interval: 15 * S,
        tolerance: 0.1,
        up_window: 0,
        down_window: 300 * S,
        up_percent: 100.0,
        up_pods: 4,
        up_period: 15 * S,
        down_percent: 100.0,
        down_period: 15 * S,
        startup: 0,
        cpu_request_milli: 0,
        cold_start: fusebench_model::scenario::ColdStart::Declared,
        zero: None,
        policy: PolicySpec::Reactive,
        horizon_ms: 0,
        window: 0,
    }
}

fn at(s: u64) -> SimTime {
    SimTime(s * S)
}

#[test]
fn desired_is_the_ceiling_of_current_times_metric_over_target() {
    // The documentation's example: 50 replicas at 90 % CPU against a 75 % target → 60.
    assert_eq!(pod_metric_desired(ready(50), 50.0 * 90.0, 75.0, 0.1), 60);
    // A fraction rounds up: 3 replicas at 2.5 requests each, target 1 → 8.
    assert_eq!(pod_metric_desired(ready(3), 7.5, 1.0, 0.1), 8);
    // Below target: 4 replicas at 0.2 each, target 1 → 1 (ceil 0.8).
    assert_eq!(pod_metric_desired(ready(4), 0.8, 1.0, 0.1), 1);
}

#[test]
fn a_ratio_within_the_tolerance_changes_nothing() {
    assert_eq!(pod_metric_desired(ready(10), 10.0 * 1.09, 1.0, 0.1), 10);
    assert_eq!(pod_metric_desired(ready(10), 10.0 * 0.91, 1.0, 0.1), 10);
    assert_eq!(pod_metric_desired(ready(10), 10.0 * 1.11, 1.0, 0.1), 12);
    assert_eq!(pod_metric_desired(ready(10), 10.0 * 0.89, 1.0, 0.1), 9);
    // A tolerance of 0 acts on any difference.
    assert_eq!(pod_metric_desired(ready(10), 10.0 * 1.01, 1.0, 0.0), 11);
}

#[test]
fn replicas_not_ready_count_as_idle_when_scaling_up() {
    // 2 ready at 3 each, 2 starting: 6 / (4 × 1) = 1.5 → ceil(1.5 × 4) = 6.
    assert_eq!(pod_metric_desired(Count { ready: 2, unready: 2 }, 6.0, 1.0, 0.1), 6);
    // 1 ready at 1.5, 3 starting: 1.5 / 4 < 1, the direction reverses: keep 4.
    assert_eq!(pod_metric_desired(Count { ready: 1, unready: 3 }, 1.5, 1.0, 0.1), 4);
    // No ready replica reports a metric: keep what there is.
    assert_eq!(pod_metric_desired(Count { ready: 0, unready: 3 }, 0.0, 1.0, 0.1), 3);
}

#[test]
fn a_queue_scales_to_backlog_over_target_as_keda_does() {
    assert_eq!(external_metric_desired(2, 95.0, 10.0, 0.1), 10);
    // 21 messages for 2 replicas of target 10: ratio 1.05, within the tolerance.
    assert_eq!(external_metric_desired(2, 21.0, 10.0, 0.1), 2);
    assert_eq!(external_metric_desired(3, 0.0, 10.0, 0.1), 0);
}

#[test]
fn scale_down_waits_for_the_highest_recommendation_of_its_window() {
    let spec = hpa(1, 20);
    let mut a = Autoscaler::default();
    assert_eq!(a.decide(&spec, at(0), 10, 10).to, 10);
    // The load drops: for 300 s every recommendation is 2, but the window still holds 10.
    for t in (15..300).step_by(15) {
        let d = a.decide(&spec, at(t), 10, 2);
        assert_eq!((d.to, d.desired, d.reason), (10, 2, "scale-down stabilisation"), "at {t} s");
    }
    // 300 s after the last 10 it has left the window: down to 2 at once (100 % per 15 s).
    let d = a.decide(&spec, at(300), 10, 2);
    assert_eq!((d.to, d.reason), (2, "scale down"));
}

#[test]
fn a_short_peak_inside_the_window_holds_the_count_up() {
    let spec = hpa(1, 20);
    let mut a = Autoscaler::default();
    a.decide(&spec, at(0), 4, 4);
    a.decide(&spec, at(100), 4, 6); // scale up to 6 (no up window)
    let d = a.decide(&spec, at(115), 6, 1);
    assert_eq!((d.to, d.reason), (6, "scale-down stabilisation"));
    // At 400 s the window (100, 400] no longer holds the 6 from t = 100 s, but 1s since.
    let d = a.decide(&spec, at(401), 6, 1);
    assert_eq!(d.to, 1);
}

#[test]
fn scale_up_may_wait_for_the_lowest_recommendation_of_its_window() {
    let mut spec = hpa(1, 20);
    spec.up_window = 60 * S;
    let mut a = Autoscaler::default();
    a.decide(&spec, at(0), 5, 5);
    let d = a.decide(&spec, at(15), 5, 10);
    assert_eq!((d.to, d.reason), (5, "scale-up stabilisation"));
    // Once every recommendation of the last 60 s asks for at least 10: scale up.
    for t in [30, 45] {
        a.decide(&spec, at(t), 5, 10);
    }
    assert_eq!(a.decide(&spec, at(60), 5, 10).to, 10);
}

#[test]
fn scale_up_is_limited_to_double_or_four_more_per_period() {
    let spec = hpa(1, 100);
    let mut a = Autoscaler::default();
    // From 2: max(2 × 2, 2 + 4) = 6.
    let d = a.decide(&spec, at(0), 2, 20);
    assert_eq!((d.to, d.reason), (6, "scale-up rate limit"));
    // 5 s later the period started at 2 replicas: no more yet.
    let d = a.decide(&spec, at(5), 6, 20);
    assert_eq!((d.to, d.reason), (6, "scale-up rate limit"));
    // A full period later it starts at 6: max(12, 10) = 12.
    assert_eq!(a.decide(&spec, at(15), 6, 20).to, 12);
    // From 12: max(24, 16), capped by the demand of 20.
    assert_eq!(
        a.decide(&spec, at(30), 12, 20),
        Decision { to: 20, desired: 20, reason: "scale up" }
    );
}

#[test]
fn bounds_apply_after_the_rate_limits() {
    let spec = hpa(2, 8);
    let mut a = Autoscaler::default();
    assert_eq!(a.decide(&spec, at(0), 6, 50).reason, "max replicas");
    assert_eq!(a.decide(&spec, at(0), 6, 50).to, 8);
    let mut spec = hpa(2, 8);
    spec.down_window = 0;
    let mut a = Autoscaler::default();
    let d = a.decide(&spec, at(0), 6, 0);
    assert_eq!((d.to, d.reason), (2, "min replicas"));
}

#[test]
fn scale_down_is_limited_by_its_percent_per_period() {
    let mut spec = hpa(1, 20);
    spec.down_window = 0;
    spec.down_percent = 50.0;
    let mut a = Autoscaler::default();
    let d = a.decide(&spec, at(0), 10, 1);
    assert_eq!((d.to, d.reason), (5, "scale-down rate limit"));
    // Within the period the start is still 10: 10 × 0.5 = 5, no further.
    assert_eq!(a.decide(&spec, at(10), 5, 1).to, 5);
    // The next period starts at 5: 5 × 0.5 = 2.5, truncated to 2.
    assert_eq!(a.decide(&spec, at(15), 5, 1).to, 2);
}

// --- the engine ------------------------------------------------------------------------------

fn scenario(autoscale: &str, node_memory_mib: u32, rate: &str) -> fusebench_model::Scenario {
    let text = format!(
        r#"{}
[[node]]
name = "c"
tier = "cloud"
cpu_cores = 4
memory_mib = {node_memory_mib}
[[link]]
between = ["a", "c"]
latency = {{ dist = "constant", ms = 1.0 }}
[[service]]
name = "s"
context = "c"
node = "c"
replicas = 1
concurrency = 2
queue_capacity = 1000
  [service.service_time]
  distribution = {{ dist = "constant", ms = 20.0 }}
  resource = "wait"
  [service.autoscale]
  {autoscale}
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/s"
  public = true
[workload]
duration_s = 120
arrival = {rate}
  [[workload.mix]]
  service = "s"
  endpoint = "get"
"#,
        super::super::tests::two_nodes("t", 60_000)
    );
    let parsed = fusebench_model::parse("t.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

fn run(s: fusebench_model::Scenario) -> RunResult {
    let mut o = RunOptions::new(3);
    o.trace = TraceMode::Full;
    Sim::new(s, Box::new(crate::runtime::Runtime::default()), &o).run()
}

/// `(t in s, from, to, reason)` of every `scale` line, and `(t in s, replica, state)` of every
/// `replica_state` line.
#[allow(clippy::type_complexity)]
fn scaling(r: &RunResult) -> (Vec<(f64, u32, u32, String)>, Vec<(f64, u32, String)>) {
    let (mut scales, mut states) = (Vec::new(), Vec::new());
    for line in trace::read(&r.trace) {
        let line = line.expect("a trace line");
        let t = line.t.as_secs_f64();
        match line.event {
            TraceEvent::Scale { from, to, reason, .. } => scales.push((t, from, to, reason)),
            TraceEvent::ReplicaState { replica, state, .. } => states.push((t, replica, state)),
            _ => {}
        }
    }
    (scales, states)
}

/// 100 requests/s of 20 ms each, 2 slots per replica: concurrency 2 in all, 1 per replica
/// would need 2 replicas at target 1; at target 0.25 it needs 8.
const BUSY: &str = r#"{ kind = "constant", rate_rps = 100 }"#;

#[test]
fn a_loaded_service_scales_up_its_new_replicas_start_then_serve() {
    let r = run(scenario(
        "min_replicas = 1\n  max_replicas = 8\n  metric = \"concurrency\"\n  target = 0.25\n  startup_ms = 2000",
        4096,
        BUSY,
    ));
    let (scales, states) = scaling(&r);
    // First decision at 15 s: 1 → max(2, 5) = 5 by the rate limit; at 30 s to 8 (demand 8).
    assert_eq!(scales[0].0, 15.0);
    assert_eq!((scales[0].1, scales[0].2, scales[0].3.as_str()), (1, 5, "scale-up rate limit"));
    assert_eq!((scales[1].1, scales[1].2), (5, 8), "{scales:?}");
    // Replica 1 is placed at 15 s and ready 2 s later.
    assert!(states.contains(&(15.0, 1, "starting".to_owned())), "{states:?}");
    assert!(states.contains(&(17.0, 1, "ready".to_owned())), "{states:?}");
    // Every position served once ready: load spreads to the new replicas.
    let served: std::collections::BTreeSet<u32> = trace::read(&r.trace)
        .filter_map(|l| match l.expect("line").event {
            TraceEvent::InvocationStart { replica, .. } => Some(replica),
            _ => None,
        })
        .collect();
    assert_eq!(served.len(), 8, "{served:?}");
    assert_eq!(r.requests_sent, r.requests_answered);
    let ok = r.metrics.endpoints["s.get"].outcomes.get(&Outcome::Ok).copied();
    assert_eq!(ok, Some(r.requests_sent), "no request lost while scaling");
    // Cost: 1 replica for 15 s, 5 for 15 s, then 8 until the end (125 s with the drain).
    let cost = r.metrics.replicas["s"].replica_seconds(r.end.nanos());
    assert!(
        (cost - (15.0 + 5.0 * 15.0 + 8.0 * (r.end.as_secs_f64() - 30.0))).abs() < 1e-6,
        "{cost}"
    );
}

#[test]
fn replicas_that_do_not_fit_their_node_stay_pending() {
    // No module: no memory request; 4 cores, 1.5 per replica: 2 fit (3 cores), not a third.
    let r = run(scenario(
        "max_replicas = 6\n  metric = \"concurrency\"\n  target = 0.25\n  cpu_request = 1.5",
        4096,
        BUSY,
    ));
    let (_, states) = scaling(&r);
    let at_15: Vec<(u32, &str)> =
        states.iter().filter(|s| s.0 == 15.0).map(|s| (s.1, s.2.as_str())).collect();
    assert_eq!(
        at_15,
        [(1, "starting"), (2, "pending"), (3, "pending"), (4, "pending"), (1, "ready")],
        "{states:?}"
    );
    assert_eq!(r.metrics.replicas["s"].most(), 2);
}

#[test]
fn a_scaled_down_replica_drains_its_work_and_stops() {
    // 30 s of load, then nothing: after the 300 s window... shortened to 30 s here.
    let r = run(scenario(
        "max_replicas = 4\n  metric = \"concurrency\"\n  target = 0.5\n  scale_down_stabilisation_s = 30",
        4096,
        r#"{ kind = "schedule", steps = [{ at_s = 0, rate_rps = 100 }, { at_s = 40, rate_rps = 1 }] }"#,
    ));
    let (scales, states) = scaling(&r);
    assert!(scales.iter().any(|s| s.2 < s.1 && s.3 == "scale down"), "{scales:?}");
    // Each replica scaled down drains, leaves the registry, then stops.
    let draining: Vec<u32> = states.iter().filter(|s| s.2 == "draining").map(|s| s.1).collect();
    assert!(!draining.is_empty());
    for replica in &draining {
        assert!(
            states.iter().any(|s| s.1 == *replica && s.2 == "stopped"),
            "replica {replica} drained but never stopped: {states:?}"
        );
    }
    let deregistered = trace::read(&r.trace).any(|l| {
        matches!(l.expect("line").event, TraceEvent::Deregistered { reason, .. } if reason == "scaled down")
    });
    assert!(deregistered);
    let ok = r.metrics.endpoints["s.get"].outcomes.get(&Outcome::Ok).copied();
    assert_eq!(ok, Some(r.requests_sent), "draining loses nothing");
    assert_eq!(r.metrics.replicas["s"].placed, 1, "back to min_replicas");
}

#[test]
fn the_same_seed_gives_the_same_scaling() {
    let s = scenario("max_replicas = 8\n  metric = \"concurrency\"\n  target = 0.25", 4096, BUSY);
    let (a, b) = (run(s.clone()), run(s));
    assert_eq!(a.trace_hash, b.trace_hash);
}

#[test]
fn utilisation_is_cpu_against_the_request_and_pending_replicas_go_first() {
    // 100 requests/s of 20 ms of CPU: 2 cores busy. 1 replica requesting 1.5 cores runs at
    // 133 %; target 50 % → ceil(1 × 133 / 50) = 3 (2.67). 4 cores: only one more fits.
    let text = scenario(
        "max_replicas = 6\n  metric = \"utilisation\"\n  target = 50\n  cpu_request = 1.5\n  scale_down_stabilisation_s = 0",
        4096,
        r#"{ kind = "schedule", steps = [{ at_s = 0, rate_rps = 100 }, { at_s = 20, rate_rps = 1 }] }"#,
    );
    let mut s = text;
    s.services[0].service_time.resource = fusebench_model::scenario::TimeResource::Cpu;
    let r = run(s);
    let (scales, states) = scaling(&r);
    assert_eq!((scales[0].1, scales[0].2, scales[0].3.as_str()), (1, 3, "scale up"), "{scales:?}");
    let at = |t: f64| -> Vec<(u32, &str)> {
        states.iter().filter(|s| s.0 == t).map(|s| (s.1, s.2.as_str())).collect()
    };
    assert_eq!(at(15.0), [(1, "starting"), (2, "pending"), (1, "ready")], "{states:?}");
    // The load is gone at 30 s: down to 1, the pending replica removed before the ready one.
    let down = scales.iter().find(|s| s.2 < s.1).expect("a scale down");
    assert_eq!((down.1, down.2), (3, 1), "{scales:?}");
    assert_eq!(at(down.0), [(2, "stopped"), (1, "draining"), (1, "stopped")], "{states:?}");
}

// --- scale to zero (Knative) -----------------------------------------------------------------

/// `(t in s, req, action, waited in s)` of every `activator` line.
fn activator(r: &RunResult) -> Vec<(f64, u64, String, f64)> {
    trace::read(&r.trace)
        .filter_map(|l| {
            let l = l.expect("a trace line");
            match l.event {
                TraceEvent::Activator { req, action, waited_ns, .. } => {
                    Some((l.t.as_secs_f64(), req, action, waited_ns as f64 / 1e9))
                }
                _ => None,
            }
        })
        .collect()
}

/// Knative-like: decisions every second, no scale-down window, `extra` appended.
fn zero(extra: &str) -> String {
    format!(
        "min_replicas = 0\n  max_replicas = 2\n  metric = \"concurrency\"\n  target = 1\n  interval_s = 1\n  scale_down_stabilisation_s = 0\n  {extra}"
    )
}

/// 5 s of 10 requests/s, silence, then a burst of 10 requests/s from 40 s to 41 s.
const BURSTS: &str = r#"{ kind = "schedule", steps = [{ at_s = 0, rate_rps = 10 }, { at_s = 5, rate_rps = 0 }, { at_s = 40, rate_rps = 10 }, { at_s = 41, rate_rps = 0 }] }"#;

fn arrivals(r: &RunResult) -> Vec<(f64, u64)> {
    trace::read(&r.trace)
        .filter_map(|l| {
            let l = l.expect("a trace line");
            match l.event {
                TraceEvent::Arrival { req, .. } => Some((l.t.as_secs_f64(), req)),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn scale_to_zero_happens_only_after_the_grace_with_no_traffic() {
    let r = run(scenario(&zero("scale_to_zero_grace_s = 10"), 4096, BURSTS));
    let last_before_gap =
        arrivals(&r).iter().filter(|a| a.0 < 30.0).map(|a| a.0).fold(0.0, f64::max);
    let (scales, _) = scaling(&r);
    let to_zero = scales.iter().find(|s| s.2 == 0).expect("scales to zero in the 35 s gap");
    // The first decision at least 10 s after the last request, not one before.
    assert!(to_zero.0 >= last_before_gap + 10.0, "{to_zero:?} after {last_before_gap}: {scales:?}");
    assert!(to_zero.0 < last_before_gap + 11.0, "{to_zero:?}: {scales:?}");
    // Meanwhile the metric asked for zero and the grace kept one.
    let held = scales.iter().filter(|s| s.3 == "scale-to-zero grace").count();
    assert!(held >= 8, "{scales:?}");
    assert!(scales.iter().filter(|s| s.0 < to_zero.0).all(|s| s.2 >= 1), "{scales:?}");
    assert_eq!(r.metrics.services["s"].cold_starts.replicas, 0, "cold_start is `declared`");
}

#[test]
fn buffered_requests_are_served_by_the_new_replica_in_arrival_order_none_lost() {
    let r = run(scenario(&zero("scale_to_zero_grace_s = 10\n  startup_ms = 2000"), 4096, BURSTS));
    let acts = activator(&r);
    let buffered: Vec<u64> = acts.iter().filter(|a| a.2 == "buffered").map(|a| a.1).collect();
    let released: Vec<u64> = acts.iter().filter(|a| a.2 == "released").map(|a| a.1).collect();
    assert!(buffered.len() >= 10, "the burst at 40 s waits for a replica: {acts:?}");
    assert_eq!(released, buffered, "released in arrival order, every one");
    // The activator scales from zero at the first buffered request, at once.
    let (scales, states) = scaling(&r);
    let first = acts.iter().find(|a| a.2 == "buffered").expect("buffered");
    let poke = scales.iter().find(|s| s.3 == "activator").expect("the activator's poke");
    assert_eq!((poke.0, poke.1, poke.2), (first.0, 0, 1), "{scales:?}");
    // Released when the new replica is ready, 2 s later; the first waited those 2 s.
    let ready = states.iter().find(|s| s.0 > poke.0 && s.2 == "ready").expect("ready");
    assert!((ready.0 - poke.0 - 2.0).abs() < 1e-9, "{states:?}");
    let first_release = acts.iter().find(|a| a.2 == "released").expect("released");
    assert_eq!(first_release.0, ready.0);
    assert!((first_release.3 - 2.0).abs() < 1e-9, "{first_release:?}");
    // None lost: every request answered ok; the report sums the waits per endpoint.
    assert_eq!(r.requests_sent, r.requests_answered);
    let ok = r.metrics.endpoints["s.get"].outcomes.get(&Outcome::Ok).copied();
    assert_eq!(ok, Some(r.requests_sent));
    let waits = &r.metrics.services["s"].cold_starts.endpoints["get"];
    assert_eq!(waits.released, buffered.len() as u64);
    let total: f64 = acts.iter().filter(|a| a.2 == "released").map(|a| a.3).sum();
    assert!((waits.waited_nanos_total as f64 / 1e9 - total).abs() < 1e-6);
    assert_eq!(waits.waited_nanos_max, 2_000_000_000);
}

#[test]
fn a_request_during_scale_down_is_buffered_not_dropped() {
    // Load until 2 s, none until 4.3 s: with no grace the replica goes at 4 s. The gateway's
    // discovery cache (5 s, filled at the first request) still names it: requests of the
    // second burst reach the stopped replica, and the activator takes them back instead of a
    // refusal.
    let burst = r#"{ kind = "schedule", steps = [{ at_s = 0, rate_rps = 10 }, { at_s = 2, rate_rps = 0 }, { at_s = 4.3, rate_rps = 20 }, { at_s = 4.6, rate_rps = 0 }] }"#;
    let mut s = scenario(&zero("scale_to_zero_grace_s = 0"), 4096, burst);
    s.registry.discovery_cache_ms = 5000.0;
    let r = run(s);
    let (scales, _) = scaling(&r);
    assert!(scales.iter().any(|s| s.0 == 4.0 && s.2 == 0), "{scales:?}");
    let acts = activator(&r);
    let arrived = arrivals(&r);
    let handed_back = acts
        .iter()
        .filter(|a| a.2 == "buffered")
        .filter(|a| arrived.iter().any(|b| b.1 == a.1 && b.0 < a.0))
        .count();
    assert!(handed_back > 0, "a request reached a stopped replica: {acts:?}");
    let rejected = trace::read(&r.trace)
        .filter(|l| matches!(l.as_ref().expect("line").event, TraceEvent::Rejected { .. }))
        .count();
    assert_eq!(rejected, 0);
    let ok = r.metrics.endpoints["s.get"].outcomes.get(&Outcome::Ok).copied();
    assert_eq!(ok, Some(r.requests_sent), "no request lost");
}

#[test]
fn a_full_buffer_refuses_and_a_long_wait_fails_by_name() {
    let r = run(scenario(
        &zero(
            "scale_to_zero_grace_s = 1\n  startup_ms = 5000\n  activator_capacity = 3\n  activator_timeout_s = 2",
        ),
        4096,
        BURSTS,
    ));
    let acts = activator(&r);
    let count = |what: &str| acts.iter().filter(|a| a.2 == what).count();
    // 10 requests in the burst, 3 held: 7 refused; the 3 held time out after 2 s (the
    // replica needs 5 s).
    assert!(count("overflow") >= 7, "{acts:?}");
    assert!(count("timeout") >= 3, "{acts:?}");
    for a in acts.iter().filter(|a| a.2 == "timeout") {
        assert!((a.3 - 2.0).abs() < 1e-9, "{a:?}");
    }
    let outcomes = &r.metrics.endpoints["s.get"].outcomes;
    assert!(outcomes.get(&Outcome::Rejected).copied().unwrap_or(0) >= 7, "{outcomes:?}");
    assert!(outcomes.get(&Outcome::Timeout).copied().unwrap_or(0) >= 3, "{outcomes:?}");
    let waits = &r.metrics.services["s"].cold_starts.endpoints["get"];
    assert_eq!(
        (waits.overflow, waits.timeout),
        (count("overflow") as u64, count("timeout") as u64)
    );
}

// --- predictive policies ---------------------------------------------------------------------

#[test]
fn holt_s_linear_method_matches_the_hand_computed_series() {
    // x = 1, 3, 4 with α = β = 0.5: ℓ₀ = 1, b₀ = 2; x = 3: ℓ = 1.5 + 1.5 = 3, b = 1 + 1 = 2;
    // x = 4: ℓ = 2 + 2.5 = 4.5, b = 0.75 + 1 = 1.75; two intervals ahead: 4.5 + 3.5 = 8.
    assert_eq!(forecast::holt(&[1.0, 3.0, 4.0], 0.5, 0.5, 2.0), 8.0);
    // α = 1, β = 0 follows the last value with the first difference as trend.
    assert_eq!(forecast::holt(&[2.0, 3.0, 7.0], 1.0, 0.0, 1.0), 8.0);
    // Too short a history: nothing, or the one value; a falling trend stops at zero.
    assert_eq!(forecast::holt(&[], 0.5, 0.5, 2.0), 0.0);
    assert_eq!(forecast::holt(&[3.0], 0.5, 0.5, 2.0), 3.0);
    assert_eq!(forecast::holt(&[4.0, 2.0, 0.0], 0.5, 0.5, 5.0), 0.0);
}

fn samples(totals: &[f64]) -> Vec<Sample> {
    totals
        .iter()
        .enumerate()
        .map(|(i, &x)| Sample {
            t_ms: (i as u64 + 1) * 5000,
            total_milli: (x * 1000.0).round() as u64,
            ready: 1,
        })
        .collect()
}

#[test]
fn the_forecast_leads_a_linear_ramp_by_its_horizon() {
    // A load growing by 1 request in flight per 5 s interval: after a few intervals Holt has
    // the slope, and 20 s (4 intervals) ahead it asks for what the ramp will need then, not
    // what it needs now.
    let ramp: Vec<f64> = (0..12).map(|i| 2.0 + f64::from(i)).collect();
    let now = *ramp.last().expect("a ramp");
    let ahead = forecast::holt(&ramp, 0.5, 0.3, 4.0);
    assert!((ahead - (now + 4.0)).abs() < 1e-9, "forecast {ahead} for {}", now + 4.0);
    let reactive = external_metric_desired(4, now, 1.0, 0.1);
    let predictive = forecast::desired(&samples(&ramp), 0.5, 0.3, 20_000, 5000, 4, 1.0, 0.1);
    assert_eq!((reactive, predictive), (13, 17), "four intervals of growth ahead");
    // A flat load forecasts itself: the predictive policy is the reactive one.
    let flat = samples(&[6.0; 10]);
    assert_eq!(forecast::desired(&flat, 0.5, 0.3, 20_000, 5000, 4, 1.0, 0.1), 6);
    // A falling one scales down ahead of it, never below zero replicas.
    let falling: Vec<f64> = (0..8).map(|i| 8.0 - f64::from(i)).collect();
    assert_eq!(forecast::desired(&samples(&falling), 0.5, 0.3, 20_000, 5000, 4, 1.0, 0.1), 0);
}

/// The engine scenario with a policy table under the autoscaler.
fn with_policy(policy: &str) -> fusebench_model::Scenario {
    let autoscale = format!(
        "max_replicas = 6\n  metric = \"concurrency\"\n  target = 0.5\n  interval_s = 5\n  scale_down_stabilisation_s = 10\n  startup_ms = 2000\n  {policy}"
    );
    scenario(
        &autoscale,
        60_000,
        r#"{ kind = "schedule", steps = [{ at_s = 0, rate_rps = 5 }, { at_s = 20, rate_rps = 20 }, { at_s = 30, rate_rps = 40 }, { at_s = 40, rate_rps = 60 }, { at_s = 50, rate_rps = 80 }, { at_s = 80, rate_rps = 5 }] }"#,
    )
}

/// Runs `s` with policy module `wat` loaded as its service's policy.
fn run_with_module(mut s: fusebench_model::Scenario, wat: &str) -> RunResult {
    // A small budget: the looping module runs out of it at every decision.
    s.quality.fuel_budget = 1_000_000;
    let mut files = crate::setup::ModuleFiles::new();
    files.insert("p.wat".into(), wat.as_bytes().to_vec());
    let rt = crate::setup::build_runtime(&s, &files).expect("the policy module loads");
    let mut o = RunOptions::new(3);
    o.trace = TraceMode::Full;
    Sim::new(s, Box::new(rt), &o).run()
}

fn faults(r: &RunResult) -> Vec<String> {
    trace::read(&r.trace)
        .filter_map(|l| match l.expect("a trace line").event {
            TraceEvent::PolicyFault { reason, .. } => Some(reason),
            _ => None,
        })
        .collect()
}

/// A module answering `answer` (JSON) to every call, or running `body` instead.
fn policy_wat(answer: &str, body: Option<&str>) -> String {
    let escaped = answer.replace('"', "\\\"");
    let body = body.map_or_else(|| format!("(i64.const {})", answer.len()), str::to_owned);
    format!(
        r#"(module (memory (export "memory") 1)
            (data (i32.const 0) "{escaped}")
            (func (export "alloc") (param i32) (result i32) (i32.const 1024))
            (func (export "handle_decide") (param i32 i32) (result i64) {body}))"#
    )
}

#[test]
fn a_policy_module_decides_and_its_count_is_bounded_like_any_recommendation() {
    let s = with_policy("policy = { module = \"p.wat\" }");
    let r = run_with_module(s, &policy_wat(r#"{"desired":3}"#, None));
    assert!(faults(&r).is_empty(), "{:?}", faults(&r));
    let (scales, _) = scaling(&r);
    assert!(!scales.is_empty());
    // Every decision goes to the module's 3 (within the rate limits: 1 → 3 is allowed).
    assert!(scales.iter().all(|s| s.2 == 3), "{scales:?}");
    assert_eq!(r.metrics.policy_faults.get("s"), Some(&0));
    // Past `max_replicas` (6): bounded, and the `scale` line says so — no fault.
    let s = with_policy("policy = { module = \"p.wat\" }");
    let r = run_with_module(s, &policy_wat(r#"{"desired":1000}"#, None));
    assert!(faults(&r).is_empty(), "{:?}", faults(&r));
    let (scales, _) = scaling(&r);
    assert!(scales.iter().any(|s| s.2 == 6 && s.3 == "max replicas"), "{scales:?}");
    assert!(scales.iter().all(|s| s.2 <= 6), "{scales:?}");
}

#[test]
fn a_faulting_policy_module_falls_back_to_the_reactive_decision_and_is_counted() {
    let reactive = run(with_policy("policy = \"reactive\""));
    let (reactive_scales, _) = scaling(&reactive);
    let cases: [(String, &str); 4] = [
        (policy_wat("", Some("unreachable")), "handle_decide faulted"),
        (policy_wat("", Some("(loop (br 0)) (i64.const 0)")), "handle_decide faulted"),
        (policy_wat(r#"{"replicas":2}"#, None), "expected {\"desired\": n}"),
        (policy_wat(r#"{"desired":-1}"#, None), "expected {\"desired\": n}"),
    ];
    for (wat, says) in cases {
        let s = with_policy("policy = { module = \"p.wat\" }");
        let r = run_with_module(s, &wat);
        let (scales, _) = scaling(&r);
        let seen = faults(&r);
        // One fault per decision, and each decision is the reactive one: the same scaling.
        assert_eq!(seen.len(), scales.len(), "{says}: {seen:?}");
        assert!(seen.iter().all(|f| f.contains(says)), "{says}: {seen:?}");
        assert_eq!(scales, reactive_scales, "{says}");
        assert_eq!(r.metrics.policy_faults.get("s"), Some(&(scales.len() as u64)), "{says}");
    }
}

#[test]
fn the_reactive_policy_spelled_out_changes_nothing() {
    let base = scenario(
        "max_replicas = 6\n  metric = \"concurrency\"\n  target = 0.5\n  interval_s = 5\n  scale_down_stabilisation_s = 10\n  startup_ms = 2000",
        60_000,
        r#"{ kind = "schedule", steps = [{ at_s = 0, rate_rps = 5 }, { at_s = 20, rate_rps = 20 }, { at_s = 30, rate_rps = 40 }, { at_s = 40, rate_rps = 60 }, { at_s = 50, rate_rps = 80 }, { at_s = 80, rate_rps = 5 }] }"#,
    );
    let spelled = with_policy("policy = \"reactive\"");
    assert_eq!(run(base).trace, run(spelled).trace);
}

#[test]
fn the_holt_policy_scales_up_before_the_reactive_one_on_a_ramp() {
    let first_up =
        |r: &RunResult| scaling(r).0.iter().find(|s| s.2 > s.1).map(|s| s.0).expect("it scales up");
    let reactive = run(with_policy("policy = \"reactive\""));
    let predictive = run(with_policy("policy = \"holt-winters\""));
    let (r, p) = (first_up(&reactive), first_up(&predictive));
    assert!(p <= r, "holt-winters first scaled up at {p} s, reactive at {r} s");
    let most = |r: &RunResult| scaling(r).0.iter().map(|s| s.2).max().unwrap_or(0);
    assert!(most(&predictive) >= most(&reactive).min(6));
}

/// Two replicas of `s` held at two by the autoscaler, `autoscale` added to its section, 50
/// requests/s for 20 s; replica 0 crashes at 1 s and restarts at 4 s. The registry keeps a
/// crashed replica for 20 s (it is still registered when it restarts) and callers cache no
/// discovery answer, so what the registry lists is what the balancer picks from; the gateway
/// waits 60 s, so no caller ejects the crashed replica in the window (outlier detection).
fn crash_and_restart(autoscale: &str) -> RunResult {
    let text = format!(
        r#"{}
[registry]
heartbeat_ms = 1000
ttl_ms = 20000
discovery_cache_ms = 0
[[service]]
name = "s"
context = "c"
node = "b"
replicas = 2
concurrency = 2
queue_capacity = 1000
  [service.service_time]
  distribution = {{ dist = "constant", ms = 20.0 }}
  resource = "wait"
  [service.autoscale]
  min_replicas = 2
  max_replicas = 2
  metric = "concurrency"
  target = 1
  {autoscale}
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/s"
  public = true
[workload]
duration_s = 20
arrival = {{ kind = "constant", rate_rps = 50 }}
  [[workload.mix]]
  service = "s"
  endpoint = "get"
[[fault]]
kind = "crash"
service = "s"
replica = 0
at_s = 1
restart_after_s = 3
"#,
        super::super::tests::two_nodes("t", 60_000)
    );
    let parsed = fusebench_model::parse("t.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    run(parsed.ok().expect("valid"))
}

/// What reached replica 0 of `r` from `from` s on: `(t in s, what)` for every invocation
/// started on it, request refused by it, registration and replica state change of it.
fn replica_0_from(r: &RunResult, from: f64) -> Vec<(f64, String)> {
    trace::read(&r.trace)
        .filter_map(|l| {
            let l = l.expect("a trace line");
            let t = (l.t.as_secs_f64() * 1e6).round() / 1e6;
            let what = match l.event {
                TraceEvent::InvocationStart { replica: 0, .. } => "invocation".to_owned(),
                TraceEvent::Rejected { replica: 0, reason, .. } => format!("rejected {reason}"),
                TraceEvent::Registered { replica: 0, .. } => "registered".to_owned(),
                TraceEvent::Deregistered { replica: 0, reason, .. } => {
                    format!("deregistered {reason}")
                }
                TraceEvent::ReplicaState { replica: 0, state, .. } => state,
                TraceEvent::ReplicaUp { replica: 0, .. } => "up".to_owned(),
                _ => return None,
            };
            (t >= from).then_some((t, what))
        })
        .collect()
}

#[test]
fn a_ready_replica_that_crashes_serves_again_only_after_its_startup() {
    // The kubelet restarts the crashed container; its pod is Ready, back in the Service's
    // endpoints, only once its readiness probe passes: here after `startup_ms`, 1.5 s. From
    // its restart at 4 s until 5.5 s it is out of the registry, nothing is sent to it, and the
    // other replica serves everything.
    let r = crash_and_restart("startup_ms = 1500");
    let seen = replica_0_from(&r, 4.0);
    let seen = &seen[..seen.len().min(8)];
    let window: Vec<&(f64, String)> = seen.iter().filter(|(t, _)| *t < 5.5).collect();
    assert_eq!(
        window,
        [
            &(4.0, "up".to_owned()),
            &(4.0, "deregistered restarting".to_owned()),
            &(4.0, "starting".to_owned())
        ],
        "{seen:?}"
    );
    let ready: Vec<&str> =
        seen.iter().filter(|(t, _)| *t == 5.5).map(|(_, w)| w.as_str()).take(2).collect();
    assert_eq!(ready, ["ready", "registered"], "{seen:?}");
    assert!(
        seen.iter().any(|(t, w)| *t > 5.5 && *t < 6.0 && w == "invocation"),
        "it serves again once ready: {seen:?}"
    );
    // The restart is not a failure of the requests sent meanwhile: every one was answered
    // but those the crash itself swallowed (sent to it between 1 s and 4 s).
    let lost = r.requests_sent - r.requests_answered;
    assert!(lost > 0 && lost <= 3 * 25 + 1, "{lost} lost");
    let states: Vec<(f64, u32, String)> = scaling(&r).1;
    assert!(states.iter().all(|s| s.2 != "stopped"), "the autoscaler kept both: {states:?}");
}

#[test]
fn a_ready_replica_without_a_startup_serves_again_at_its_restart() {
    // No start-up to pay: the restarted replica is ready at once (as before), still in the
    // registry (its entry had not expired), and served from then on.
    let r = crash_and_restart("");
    let seen = replica_0_from(&r, 4.0);
    let seen = &seen[..seen.len().min(4)];
    assert_eq!(seen[0], (4.0, "up".to_owned()), "{seen:?}");
    assert!(seen.iter().all(|(_, w)| w == "up" || w == "invocation"), "{seen:?}");
    assert!(seen.iter().any(|(t, w)| *t < 4.1 && w == "invocation"), "it serves at once: {seen:?}");
}
