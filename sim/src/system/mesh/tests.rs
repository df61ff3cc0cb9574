//! The mesh's filters, each against the Envoy behaviour it follows (see `mesh.rs`).

use fusebench_model::Scenario;

use super::super::tests::two_nodes;
use super::RetrySpec;
use crate::metrics::Outcome;
use crate::system::{RunOptions, RunResult, Sim};
use crate::trace::{self, TraceEvent, TraceMode};

pub(super) fn scenario(extra: &str) -> Scenario {
    let text = format!("{}{extra}", two_nodes("mesh", 2000));
    let parsed = fusebench_model::parse("mesh.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

pub(super) fn run(extra: &str, seed: u64) -> RunResult {
    let mut o = RunOptions::new(seed);
    o.trace = TraceMode::Full;
    Sim::new(scenario(extra), Box::new(crate::runtime::Runtime::default()), &o).run()
}

pub(super) fn events(r: &RunResult) -> Vec<(u64, TraceEvent)> {
    trace::read(&r.trace).map(|l| l.expect("reads back")).map(|l| (l.t.nanos(), l.event)).collect()
}

pub(super) fn outcomes(r: &RunResult, key: &str) -> (u64, u64) {
    let e = &r.metrics.endpoints[key];
    let ok = e.outcomes.get(&Outcome::Ok).copied().unwrap_or(0);
    (ok, e.outcomes.values().sum::<u64>() - ok)
}

/// Service `s` on node `b`: `replicas`, constant service time `ms`, public endpoint `get`,
/// clients at `rps` (constant) for `secs`.
pub(super) fn service(replicas: u32, ms: f64, rps: f64, secs: f64) -> String {
    format!(
        r#"
[[service]]
name = "s"
context = "c"
node = "b"
replicas = {replicas}
concurrency = 1000
  [service.service_time]
  distribution = {{ dist = "constant", ms = {ms} }}
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/s"
  public = true
[workload]
duration_s = {secs}
arrival = {{ kind = "constant", rate_rps = {rps} }}
  [[workload.mix]]
  service = "s"
  endpoint = "get"
"#
    )
}

pub(super) const CRASH: &str =
    "\n[[fault]]\nkind = \"crash\"\nservice = \"s\"\nreplica = 0\nat_s = 1\nrestart_after_s = 30\n";

#[test]
fn envoy_back_off_caps_are_2_to_the_n_minus_1_times_base_up_to_ten_times_base() {
    let r = RetrySpec {
        attempts: 6,
        per_try: None,
        base: 25,
        max: 250,
        on_5xx: true,
        on_timeout: true,
        on_unavailable: true,
    };
    let caps: Vec<u64> = (1..=5).map(|n| r.backoff_cap(n)).collect();
    assert_eq!(caps, [25, 75, 175, 250, 250]);
}

#[test]
fn gateway_retries_with_a_per_try_timeout_ride_out_a_crashed_replica() {
    let plain = run(&format!("{}{CRASH}", service(2, 2.0, 100.0, 4.0)), 1);
    let (_, failed) = outcomes(&plain, "s.get");
    assert!(failed > 0, "without a mesh, requests sent to the dead replica time out");
    let mesh = r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "s"
  retries = { attempts = 3, per_try_timeout_ms = 50, retry_on = ["timeout"] }
"#;
    let r = run(&format!("{}{CRASH}{mesh}", service(2, 2.0, 100.0, 4.0)), 1);
    let (ok, failed) = outcomes(&r, "s.get");
    assert_eq!((failed, ok), (0, r.requests_sent), "every request answered ok");
    let retried = events(&r)
        .iter()
        .filter(|(_, e)| matches!(e, TraceEvent::GatewayTry { attempt: 1.., after, .. } if after == "timeout"))
        .count();
    assert!(retried > 0, "the gateway retried after per-try timeouts");
}

/// Replica 0 of two is dead from 1 s (its registry entry lives on; the outlier detector would
/// need 1000 failures): each request's one retry must go to the other replica — Istio gives
/// every retry policy Envoy's `previous_hosts` predicate, reselecting up to 5 times.
#[test]
fn a_proxy_retry_avoids_the_replica_its_earlier_try_went_to() {
    let mesh = r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "s"
  retries = { attempts = 2, per_try_timeout_ms = 50, retry_on = ["timeout"] }
  outlier_detection = { consecutive_5xx = 1000, base_ejection_time_ms = 1000, max_ejection_percent = 10 }
"#;
    for balancing in ["round-robin", "random", "least-outstanding"] {
        let svc = service(2, 2.0, 100.0, 4.0).replacen(
            "concurrency = 1000",
            &format!("concurrency = 1000\nload_balancing = \"{balancing}\""),
            1,
        );
        let r = run(&format!("{svc}{CRASH}{mesh}"), 1);
        let (_, failed) = outcomes(&r, "s.get");
        let retried = events(&r)
            .iter()
            .filter(|(_, e)| matches!(e, TraceEvent::GatewayTry { attempt: 1, .. }))
            .count() as u64;
        assert!(retried >= 50, "{balancing}: the dead replica's tries were retried ({retried})");
        match balancing {
            // Round-robin's next pick is the other replica: never the dead one again.
            "round-robin" => assert_eq!(failed, 0, "{balancing}: {failed} of {retried} retries"),
            // A random pick lands on the dead replica 6 times running with odds 1/64.
            "random" => {
                assert!(failed * 20 <= retried, "{balancing}: {failed} of {retried} retries");
            }
            // Two draws with replacement pick the dead replica at most when either draw lands
            // on it (3/4), 6 times running: ≤ 18 % of retries even if it always looked idler.
            _ => assert!(failed * 4 <= retried, "{balancing}: {failed} of {retried} retries"),
        }
    }
}

#[test]
fn retries_wait_a_fully_jittered_exponential_back_off_and_stop_after_attempts() {
    // A service slower than the per-try timeout: every try times out after 10 ms.
    let mesh = r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "s"
  retries = { attempts = 4, per_try_timeout_ms = 10, base_interval_ms = 20 }
"#;
    let r = run(&format!("{}{mesh}", service(1, 500.0, 5.0, 2.0)), 3);
    let mut tries: std::collections::BTreeMap<u64, Vec<(u32, u64)>> = Default::default();
    for (t, e) in events(&r) {
        if let TraceEvent::GatewayTry { req, attempt, .. } = e {
            tries.entry(req).or_default().push((attempt, t));
        }
    }
    assert!(tries.len() >= 9, "{}", tries.len());
    let mut waited_max = [0u64; 4];
    for sent in tries.values() {
        let attempts: Vec<u32> = sent.iter().map(|(a, _)| *a).collect();
        assert_eq!(attempts, [0, 1, 2, 3], "4 tries in all");
        for w in sent.windows(2) {
            let n = w[1].0 as usize;
            let waited = w[1].1 - (w[0].1 + 10_000_000);
            let cap = 20_000_000 * ((1 << n) - 1);
            assert!(waited <= cap.min(200_000_000), "retry {n} waited {waited} ns > {cap}");
            waited_max[n] = waited_max[n].max(waited);
        }
    }
    // Jittered: the third retry's back-off goes beyond the first's cap.
    assert!(waited_max[3] > 20_000_000, "{waited_max:?}");
    let (ok, failed) = outcomes(&r, "s.get");
    assert_eq!((ok, failed), (0, r.requests_sent));
    assert_eq!(
        r.metrics.endpoints["s.get"].outcomes.get(&Outcome::Timeout),
        Some(&r.requests_sent)
    );
}

#[test]
fn retry_on_decides_which_failures_are_retried() {
    let mesh = r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "s"
  retries = { attempts = 4, per_try_timeout_ms = 10, retry_on = ["5xx"] }
"#;
    let r = run(&format!("{}{mesh}", service(1, 500.0, 5.0, 1.0)), 3);
    let retries = events(&r)
        .iter()
        .filter(|(_, e)| matches!(e, TraceEvent::GatewayTry { attempt: 1.., .. }))
        .count();
    assert_eq!(retries, 0, "a per-try timeout is not a 5xx");
}

#[test]
fn a_retry_budget_caps_retries_in_flight_and_traces_those_not_sent() {
    let policy = |budget: &str| {
        format!(
            r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "s"
  retries = {{ attempts = 3, per_try_timeout_ms = 100 }}
  {budget}
"#
        )
    };
    // 200 requests/s into a service that never answers in time: each fails after 100 ms.
    let unlimited = run(&format!("{}{}", service(2, 1000.0, 200.0, 2.0), policy("")), 5);
    let budget = "retry_budget = { budget_percent = 20, min_retry_concurrency = 3 }";
    let budgeted = run(&format!("{}{}", service(2, 1000.0, 200.0, 2.0), policy(budget)), 5);
    let count = |r: &RunResult| {
        let ev = events(r);
        let retries = ev
            .iter()
            .filter(|(_, e)| matches!(e, TraceEvent::GatewayTry { attempt: 1.., .. }))
            .count();
        let refused = ev
            .iter()
            .filter(|(_, e)| matches!(e, TraceEvent::MeshRefused { filter, .. } if filter == "retry-budget"))
            .count();
        (retries, refused)
    };
    let (all_retries, none_refused) = count(&unlimited);
    assert_eq!(none_refused, 0);
    assert_eq!(all_retries as u64, 2 * unlimited.requests_sent, "unlimited: every retry sent");
    let (retries, refused) = count(&budgeted);
    assert!(refused > 0 && retries < all_retries / 2, "{retries} retries, {refused} refused");
    // ~20 requests in flight (200/s × 100 ms): 20 % of them is 4, so at most ~4 retries are out
    // at once; each lasts 100 ms — at most ~40 retries a second, 80 in the run, plus slack for
    // the in-flight count growing with the retries themselves.
    assert!(retries <= 120, "{retries}");
}

#[test]
fn a_circuit_breaker_fails_requests_over_max_requests_fast_with_overflow() {
    let mesh = r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "s"
  circuit_breaker = { max_requests = 2 }
"#;
    // 100 requests/s of 100 ms each: ~10 in flight wanted, 2 allowed.
    let r = run(&format!("{}{mesh}", service(1, 100.0, 100.0, 2.0)), 2);
    let e = &r.metrics.endpoints["s.get"];
    let overflow = e.outcomes.get(&Outcome::Overflow).copied().unwrap_or(0);
    let ok = e.outcomes.get(&Outcome::Ok).copied().unwrap_or(0);
    assert!(overflow > 100 && ok > 20, "overflow {overflow}, ok {ok}");
    assert_eq!(ok + overflow, r.requests_sent);
    // Never more than 2 in service at once: each ok took the 100 ms service time and no more.
    assert!(ok <= 2 * 10 * 2 + 2, "{ok}");
    let refused = events(&r)
        .iter()
        .filter(|(_, e)| matches!(e, TraceEvent::MeshRefused { filter, caller, .. } if filter == "circuit-breaker" && caller == "gateway"))
        .count() as u64;
    assert_eq!(refused, overflow);
}

#[test]
fn a_local_rate_limit_is_a_token_bucket_that_starts_full() {
    let mesh = r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "s"
  rate_limit = { max_tokens = 5, tokens_per_fill = 2, fill_interval_ms = 100 }
"#;
    // 100 requests/s for 1 s: 5 tokens at the start, 2 more every 100 ms.
    let r = run(&format!("{}{mesh}", service(1, 1.0, 100.0, 1.0)), 4);
    let e = &r.metrics.endpoints["s.get"];
    let limited = e.outcomes.get(&Outcome::RateLimited).copied().unwrap_or(0);
    let ok = e.outcomes.get(&Outcome::Ok).copied().unwrap_or(0);
    assert_eq!(ok + limited, r.requests_sent);
    // 5 + 2 × (whole intervals before the last arrival): 23 or 25 by where arrivals fall.
    assert!((23..=25).contains(&ok), "ok {ok} of {}", r.requests_sent);
}

#[test]
fn outlier_detection_takes_its_parameters_from_the_policy() {
    let mesh = r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "s"
  outlier_detection = { consecutive_5xx = 2, base_ejection_time_ms = 1000, max_ejection_percent = 50 }
"#;
    let r = run(&format!("{}{CRASH}{mesh}", service(2, 2.0, 100.0, 4.0)), 1);
    let ejections: Vec<(u64, u64)> = events(&r)
        .into_iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::Ejected { until_ns, replica: 0, .. } => Some((t, until_ns)),
            _ => None,
        })
        .collect();
    assert!(!ejections.is_empty());
    // The service's count is the trace's `ejected` lines naming it (any replica).
    let traced = events(&r)
        .into_iter()
        .filter(|(_, e)| matches!(e, TraceEvent::Ejected { service, .. } if service == "s"))
        .count() as u64;
    assert_eq!(r.metrics.services["s"].ejections, traced);
    // Ejected for base × the number of ejections: 1 s, then 2 s…
    assert_eq!(ejections[0].1 - ejections[0].0, 1_000_000_000);
    if let Some(second) = ejections.get(1) {
        assert_eq!(second.1 - second.0, 2_000_000_000);
    }
}

#[test]
fn sidecars_add_their_latency_on_both_legs_and_trace_it() {
    let plain = run(&service(1, 2.0, 10.0, 1.0), 1);
    let mesh = "\n[mesh]\nservices = [\"s\"]\nsidecar_latency_ms = 1.5\n";
    let r = run(&format!("{}{mesh}", service(1, 2.0, 10.0, 1.0)), 1);
    let p50 = |r: &RunResult| r.metrics.endpoints["s.get"].latency.value_at_quantile(0.5);
    // The gateway has no sidecar: only `s`'s inbound sidecar, once each way.
    assert_eq!(p50(&r) - p50(&plain), 3_000, "µs");
    let legs: Vec<(String, u64)> = events(&r)
        .into_iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::Sidecar { leg, latency_ns, .. } => Some((leg, latency_ns)),
            _ => None,
        })
        .take(2)
        .collect();
    assert_eq!(legs, [("request".into(), 1_500_000), ("response".into(), 1_500_000)]);
}

#[test]
fn a_meshed_caller_s_sidecar_retries_its_calls_the_policy_s_way() {
    // `front` (abstract) calls `s.get` for each client request; `s` is too slow for the
    // per-try timeout. The channel would retry once; the sidecar's policy tries 3 times.
    let caller = r#"
[[channel]]
name = "rest"
kind = "rest"
timeout_ms = 1000
retries = 1
[[service]]
name = "front"
context = "c"
node = "a"
  [service.service_time]
  distribution = { dist = "constant", ms = 1.0 }
  [[service.call]]
  service = "s"
  endpoint = "get"
  channel = "rest"
  [[service.endpoint]]
  name = "go"
  method = "GET"
  path = "/go"
  public = true
    [[service.endpoint.effect]]
    call = "s.get"
[mesh]
services = ["front"]
  [[mesh.policy]]
  service = "s"
  retries = { attempts = 3, per_try_timeout_ms = 20 }
"#;
    let text = service(1, 500.0, 5.0, 1.0).replace(
        "[[workload.mix]]\n  service = \"s\"\n  endpoint = \"get\"",
        "[[workload.mix]]\n  service = \"front\"\n  endpoint = \"go\"",
    );
    let r = run(&format!("{text}{caller}"), 6);
    let failed: Vec<(u32, bool)> = events(&r)
        .into_iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::CallFailed { attempt, gave_up, reason, .. } => {
                assert_eq!(reason, "timeout");
                Some((attempt, gave_up))
            }
            _ => None,
        })
        .collect();
    assert!(failed.len() >= 12, "{failed:?}");
    assert!(failed.iter().all(|(a, gave_up)| *gave_up == (*a == 2)), "{failed:?}");
}

/// `front` (public `go`, abstract) calls `s.get` (`service_ms`) over a channel `rest` with the
/// settings `channel` (TOML lines), with the mesh policy `policy` for `s` applied by front's
/// sidecar; clients at `rps` for `secs`.
pub(super) fn front_calls_s(
    channel: &str,
    service_ms: f64,
    rps: f64,
    secs: f64,
    policy: &str,
    seed: u64,
) -> RunResult {
    let caller = format!(
        r#"
[[channel]]
name = "rest"
kind = "rest"
{channel}
{FRONT_CALLS_S}[mesh]
services = ["front"]
  [[mesh.policy]]
  service = "s"
  {policy}
"#
    );
    let text = service(1, service_ms, rps, secs).replace(
        "[[workload.mix]]\n  service = \"s\"\n  endpoint = \"get\"",
        "[[workload.mix]]\n  service = \"front\"\n  endpoint = \"go\"",
    );
    run(&format!("{text}{caller}"), seed)
}

/// [`front_calls_s`] with `s` taking 500 ms, over a channel of `timeout_ms`, for 1 s.
fn meshed_caller(timeout_ms: u32, rps: f64, policy: &str) -> RunResult {
    front_calls_s(&format!("timeout_ms = {timeout_ms}"), 500.0, rps, 1.0, policy, 6)
}

#[test]
fn the_caller_s_own_timeout_bounds_its_sidecar_s_tries() {
    // 5 tries of 20 ms would need 100 ms and more; the channel gives the call 50 ms in all.
    let r = meshed_caller(50, 5.0, "retries = { attempts = 5, per_try_timeout_ms = 20 }");
    let ev = events(&r);
    let gave_up: Vec<u32> = ev
        .iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::CallFailed { attempt, gave_up: true, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert!(gave_up.len() >= 4, "{gave_up:?}");
    assert!(gave_up.iter().all(|a| *a < 4), "given up before the 5th try: {gave_up:?}");
    // Every call ends within 50 ms of its start (plus the last try's own 20 ms at most).
    let starts: std::collections::BTreeMap<u64, u64> = ev
        .iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::CallStart { call, .. } => Some((*call, *t)),
            _ => None,
        })
        .collect();
    for (t, e) in &ev {
        if let TraceEvent::CallFailed { call, gave_up: true, .. } = e {
            assert!(t - starts[call] <= 50_000_000, "call {call} ran {} ns", t - starts[call]);
        }
    }
}

#[test]
fn a_meshed_caller_s_sidecar_applies_the_circuit_breaker_and_the_rate_limit() {
    // 100 calls a second to a 500 ms service: ~50 in flight wanted, 3 allowed; a bucket of 20.
    let policy = "circuit_breaker = { max_requests = 3 }\n  rate_limit = { max_tokens = 20, fill_interval_ms = 10000 }";
    let r = meshed_caller(1000, 100.0, policy);
    let refused = |filter: &str| {
        events(&r)
            .iter()
            .filter(|(_, e)| matches!(e, TraceEvent::MeshRefused { caller, filter: f, target, .. } if caller == "front" && f == filter && target == "s.get"))
            .count()
    };
    // 20 tokens: every call after the 20th is rate-limited; of the 20, only 3 fit at once.
    assert_eq!(refused("rate-limit") as u64, r.requests_sent - 20);
    assert!(refused("circuit-breaker") >= 10, "{}", refused("circuit-breaker"));
    let served = events(&r)
        .iter()
        .filter(|(_, e)| matches!(e, TraceEvent::InvocationStart { service, .. } if service == "s"))
        .count();
    assert_eq!(served + refused("circuit-breaker"), 20);
}

#[test]
fn same_seed_same_trace_with_a_mesh() {
    let mesh = r#"
[mesh]
all = true
sidecar_latency_ms = 0.3
  [[mesh.policy]]
  service = "s"
  retries = { attempts = 3, per_try_timeout_ms = 50 }
  retry_budget = {}
  circuit_breaker = { max_requests = 50 }
"#;
    let text = format!("{}{CRASH}{mesh}", service(2, 2.0, 100.0, 3.0));
    assert_eq!(run(&text, 9).trace_hash, run(&text, 9).trace_hash);
}

/// `front`, a one-millisecond public `front.go` that calls `s.get` over the channel `rest`: the
/// caller whose sidecar the mesh tests configure.
pub(super) const FRONT_CALLS_S: &str = r#"[[service]]
name = "front"
context = "c"
node = "a"
concurrency = 1000
  [service.service_time]
  distribution = { dist = "constant", ms = 1.0 }
  [[service.call]]
  service = "s"
  endpoint = "get"
  channel = "rest"
  [[service.endpoint]]
  name = "go"
  method = "GET"
  path = "/go"
  public = true
    [[service.endpoint.effect]]
    call = "s.get"
"#;
