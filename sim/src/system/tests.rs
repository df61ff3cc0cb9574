//! Engine tests with small scenarios: abstract services (no host needed) and a scripted fake
//! host (no WebAssembly), so each test isolates one component's behaviour.

use super::*;
use crate::metrics::Outcome;
use crate::runtime::fake::FakeHost;
use crate::runtime::{HostOp, ServiceHost};

/// The topology the engine tests share: system `system`, context `c`, cloud nodes `a` and `b`
/// linked 1 ms apart, the gateway on `a` giving up after `timeout_ms`.
pub(super) fn two_nodes(system: &str, timeout_ms: u32) -> String {
    format!(
        r#"
[system]
name = "{system}"
[[context]]
name = "c"
[[node]]
name = "a"
tier = "cloud"
[[node]]
name = "b"
tier = "cloud"
[[link]]
between = ["a", "b"]
latency = {{ dist = "constant", ms = 1.0 }}
[gateway]
node = "a"
timeout_ms = {timeout_ms}
"#
    )
}

/// The topology of most tests here.
fn base() -> String {
    two_nodes("t", 500)
}

fn scenario(extra: &str) -> Scenario {
    let text = format!("{}{extra}", base());
    let parsed = fusebench_model::parse("t.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

fn run(s: Scenario, host: Box<dyn ServiceHost>, seed: u64) -> RunResult {
    let mut o = RunOptions::new(seed);
    o.trace = TraceMode::Full;
    Sim::new(s, host, &o).run()
}

/// A host whose every invocation writes `k` = a random number into `store`, then answers `{}`.
fn writer(store: &str) -> Box<dyn ServiceHost> {
    let store = store.to_owned();
    Box::new(FakeHost::new(serde_json::json!({}), move |_, ctx| {
        let value = ctx.random.next_u64().to_string().into_bytes();
        vec![HostOp::KvPut { store: store.clone(), key: b"k".to_vec(), value }]
    }))
}

const ABSTRACT: &str = r#"
[[service]]
name = "s"
context = "c"
node = "b"
replicas = 2
  [service.service_time]
  distribution = { dist = "exponential", mean_ms = 2.0 }
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/s"
  public = true
[workload]
duration_s = 5
arrival = { kind = "poisson", rate_rps = 200 }
  [[workload.mix]]
  service = "s"
  endpoint = "get"
"#;

fn no_host() -> Box<dyn ServiceHost> {
    Box::new(crate::runtime::Runtime::default())
}

#[test]
fn every_client_request_is_answered_once() {
    let r = run(scenario(ABSTRACT), no_host(), 1);
    assert!(r.requests_sent > 800, "{}", r.requests_sent);
    assert_eq!(r.requests_sent, r.requests_answered);
    let e = &r.metrics.endpoints["s.get"];
    assert_eq!(e.outcomes.get(&Outcome::Ok).copied(), Some(r.requests_sent));
    // Two link crossings each way of 1 ms, plus service time: the median is above 2 ms.
    let p50 = e.latency.value_at_quantile(0.5);
    assert!((2_000..10_000).contains(&p50), "p50 {p50} µs");
}

#[test]
fn same_seed_same_trace_other_seed_other_trace() {
    let a = run(scenario(ABSTRACT), no_host(), 7);
    let b = run(scenario(ABSTRACT), no_host(), 7);
    let c = run(scenario(ABSTRACT), no_host(), 8);
    assert_eq!(a.trace, b.trace);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_ne!(a.trace_hash, c.trace_hash);
}

#[test]
fn a_crashed_replica_expires_from_the_registry_and_requests_time_out_meanwhile() {
    let extra = format!(
        "{ABSTRACT}\n[[fault]]\nkind = \"crash\"\nservice = \"s\"\nreplica = 0\nat_s = 1\nrestart_after_s = 4.5\n"
    );
    let r = run(scenario(&extra), no_host(), 3);
    let trace = String::from_utf8(r.trace.clone()).expect("utf-8");
    assert!(
        trace.contains("\"ev\":\"replica_down\",\"service\":\"s\",\"replica\":0"),
        "no crash in trace"
    );
    assert!(
        trace.contains("\"ev\":\"deregistered\",\"service\":\"s\",\"replica\":0"),
        "never expired"
    );
    assert!(
        trace.contains("\"ev\":\"replica_up\",\"service\":\"s\",\"replica\":0"),
        "never restarted"
    );
    let e = &r.metrics.endpoints["s.get"];
    let timeouts = e.outcomes.get(&Outcome::Timeout).copied().unwrap_or(0);
    assert!(timeouts > 0, "requests routed to the dead replica before expiry must time out");
    assert_eq!(r.requests_sent, r.requests_answered);
}

/// A crash that restarts heals then: its `fault_end` comes at the restart, after the
/// replica's restart (a `[[temporal]]` scope `to = { on = "heal" }` closes there); a crash
/// that never restarts never heals.
#[test]
fn a_crash_heals_when_its_replica_restarts_and_not_before() {
    let crash = |restart: &str| {
        format!(
            "{ABSTRACT}\n[[fault]]\nkind = \"crash\"\nservice = \"s\"\nreplica = 0\nat_s = 1\n{restart}"
        )
    };
    let r = run(scenario(&crash("restart_after_s = 1.5\n")), no_host(), 3);
    let lines: Vec<_> =
        crate::trace::read(&r.trace).collect::<Result<_, _>>().expect("the trace reads");
    let at = |ev: &str| {
        lines
            .iter()
            .filter(|l| crate::trace::TraceEvent::kind(&l.event) == ev)
            .map(|l| l.t)
            .collect::<Vec<_>>()
    };
    assert_eq!(at("fault_start"), [SimTime::from_secs_f64(1.0)]);
    assert_eq!(at("fault_end"), [SimTime::from_secs_f64(2.5)], "heals at the restart");
    let r = run(scenario(&crash("")), no_host(), 3);
    let trace = String::from_utf8(r.trace.clone()).expect("utf-8");
    assert!(trace.contains("\"ev\":\"fault_start\""));
    assert!(!trace.contains("\"ev\":\"fault_end\""), "a crash for good never heals");
}

fn store_scenario(conflict: &str) -> Scenario {
    scenario(&format!(
        r#"
[[store]]
name = "db"
kind = "kv"
nodes = ["a", "b"]
replicas = 3
consistency = "eventual"
conflict = "{conflict}"
replication_lag = {{ dist = "uniform", min_ms = 0.0, max_ms = 30.0 }}

[[service]]
name = "w"
context = "c"
node = "a"
module = "w.wasm"
capabilities = ["kv"]
owns = ["db"]
concurrency = 64
  [[service.endpoint]]
  name = "put"
  method = "POST"
  path = "/w"
  public = true

[workload]
duration_s = 2
arrival = {{ kind = "poisson", rate_rps = 300 }}
  [[workload.mix]]
  service = "w"
  endpoint = "put"
"#
    ))
}

fn diverged(r: &RunResult) -> bool {
    let replicas = &r.stores["db"];
    replicas.iter().any(|rep| {
        rep.get(b"k".as_slice()).map(|v| &v.value)
            != replicas[0].get(b"k".as_slice()).map(|v| &v.value)
    })
}

#[test]
fn last_writer_wins_converges_where_arrival_order_diverges() {
    let host = || writer("db");
    let lww_diverged =
        (1..=5).filter(|seed| diverged(&run(store_scenario("lww-version"), host(), *seed))).count();
    let arrival_diverged = (1..=5)
        .filter(|seed| diverged(&run(store_scenario("arrival-order"), host(), *seed)))
        .count();
    assert_eq!(lww_diverged, 0, "LWW replicas must converge");
    assert!(
        arrival_diverged > 0,
        "concurrent writes at different replicas with random lag should diverge in arrival order"
    );
}

#[test]
fn strong_writes_wait_for_a_quorum_and_fail_under_partition() {
    let s = store_scenario("lww-version");
    let text = s.source().replace("consistency = \"eventual\"", "consistency = \"strong\"").replace("nodes = [\"a\", \"b\"]", "nodes = [\"b\", \"a\"]").replace(
        "[workload]",
        "[[fault]]\nkind = \"partition\"\nbetween = [\"a\", \"b\"]\nat_s = 0.5\nduration_s = 0.5\n\n[workload]",
    );
    let parsed = fusebench_model::parse("t.toml", &text);
    let s = parsed.ok().expect("valid");
    let r = run(s, writer("db"), 1);
    // The primary is on `b`, across the link from the writer on `a`: during the partition no
    // write reaches it, and the gateway times the requests out.
    let e = &r.metrics.endpoints["w.put"];
    assert!(e.outcomes.get(&Outcome::Timeout).copied().unwrap_or(0) > 0, "{:?}", e.outcomes);
    assert!(e.outcomes.get(&Outcome::Ok).copied().unwrap_or(0) > 0);
    assert!(!diverged(&r), "strong replicas agree after the heal");
}

/// Runs to the end and hands back the finished simulator, to look at what it still holds.
fn run_to_end(s: Scenario, seed: u64) -> Sim {
    let mut o = RunOptions::new(seed);
    o.trace = TraceMode::Full;
    let mut sim = Sim::new(s, no_host(), &o);
    while sim.step() {}
    sim
}

#[test]
fn nothing_is_kept_for_requests_that_settled_lost_or_crashed() {
    // Loss on the only link, and a crash: requests are dropped on the way out, their responses
    // on the way back, and some die with the replica. After the drain, every one has settled.
    let extra = format!(
        "{ABSTRACT}
[[fault]]
kind = \"loss\"
between = [\"a\", \"b\"]
rate = 0.3
at_s = 0.5
duration_s = 3
[[fault]]
kind = \"crash\"
service = \"s\"
replica = 1
at_s = 2
restart_after_s = 1
"
    );
    let sim = run_to_end(scenario(&extra), 5);
    let trace = String::from_utf8(sim.trace_lines().to_vec()).expect("utf-8");
    assert!(trace.contains("\"reason\":\"loss fault\""), "the loss fault dropped nothing");
    assert_eq!(sim.requests.len(), 0, "request records outlived their requests");
    assert_eq!(sim.invocations.iter().count(), 0);
    assert_eq!(sim.q.live_timers(), 0, "a timer neither fired nor was cancelled");
    assert_eq!(sim.load.sent, sim.load.answered);
}

#[test]
fn a_request_whose_client_gave_up_on_the_way_is_still_served_as_sent() {
    // The link to the service gets 600 ms slower than the gateway's 500 ms timeout: clients
    // time out while their requests travel. The replica still serves each as it was sent (its
    // endpoint and body), as a real server that never heard of the timeout would.
    let extra = format!(
        "{ABSTRACT}
[[fault]]
kind = \"latency-spike\"
between = [\"a\", \"b\"]
extra_ms = 600
at_s = 1
duration_s = 1
"
    );
    let sim = run_to_end(scenario(&extra), 2);
    let trace = String::from_utf8(sim.trace_lines().to_vec()).expect("utf-8");
    let starts: Vec<&str> =
        trace.lines().filter(|l| l.contains("\"ev\":\"invocation_start\"")).collect();
    assert!(!starts.is_empty());
    assert!(
        starts.iter().all(|l| l.contains("\"endpoint\":\"get\"")),
        "an invocation ran without its request's endpoint"
    );
    let e = &sim.metrics().endpoints["s.get"];
    assert!(e.outcomes.get(&Outcome::Timeout).copied().unwrap_or(0) > 0, "{:?}", e.outcomes);
    assert_eq!(sim.requests.len(), 0);
}

#[test]
fn a_scenario_with_a_dangling_reference_is_refused_not_indexed() {
    let mut s = scenario(ABSTRACT);
    s.services[0].node.name = "nowhere".into();
    let err = Sim::try_new(s, no_host(), &RunOptions::new(1)).expect_err("a dangling node");
    assert_eq!(err.to_string(), "cannot simulate: node `nowhere` is not declared");
}

#[test]
fn overlapping_loss_faults_end_without_leaving_loss_behind() {
    // Two loss faults of 0.8 overlap. A float sum clamped at 1.0 would drop to 0.2 when the
    // first ends while the second still runs; the set of active faults keeps 0.8 exactly,
    // and nothing is lost once both end.
    let extra = format!(
        "{ABSTRACT}
[[fault]]
kind = \"loss\"
between = [\"a\", \"b\"]
rate = 0.8
at_s = 0.5
duration_s = 1
[[fault]]
kind = \"loss\"
between = [\"a\", \"b\"]
rate = 0.8
at_s = 1
duration_s = 1
"
    );
    let sim = run_to_end(scenario(&extra), 4);
    let lost_at: Vec<u64> = String::from_utf8(sim.trace_lines().to_vec())
        .expect("utf-8")
        .lines()
        .filter(|l| l.contains("\"reason\":\"loss fault\""))
        .map(|l| {
            let t = l.trim_start_matches("{\"t\":");
            t[..t.find(',').expect("a time")].parse().expect("nanoseconds")
        })
        .collect();
    assert!(lost_at.iter().all(|t| (500_000_000..2_000_000_000).contains(t)), "{lost_at:?}");
    let between = |from: u64, to: u64| lost_at.iter().filter(|t| (from..to).contains(*t)).count();
    let (first_alone, second_alone) =
        (between(500_000_000, 1_000_000_000), between(1_500_000_000, 2_000_000_000));
    assert!(first_alone > 20, "the first fault alone dropped only {first_alone}");
    assert!(
        second_alone * 2 > first_alone,
        "the second fault alone ({second_alone} drops) must lose as much as the first \
         ({first_alone})"
    );
}

/// A drop's reason says whose loss it was: on a link that loses 30 % by design, with a loss
/// fault of 50 % on it for a second, a drop the link alone would have made is `loss` and one
/// only the fault explains is `loss fault` — the same draws and drops as one combined chance.
#[test]
fn a_drop_says_whether_the_link_s_own_loss_or_a_loss_fault_made_it() {
    let lossy = base().replace(
        "latency = { dist = \"constant\", ms = 1.0 }",
        "latency = { dist = \"constant\", ms = 1.0 }\nloss = 0.3",
    );
    let text = format!(
        "{lossy}{ABSTRACT}
[[fault]]
kind = \"loss\"
between = [\"a\", \"b\"]
rate = 0.5
at_s = 2
duration_s = 1
"
    );
    let parsed = fusebench_model::parse("t.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    let r = run(parsed.ok().expect("valid"), no_host(), 3);
    let text = String::from_utf8(r.trace).expect("utf-8");
    let (mut own, mut faulted) = ([0u32; 2], [0u32; 2]);
    for line in text.lines().filter(|l| l.contains("\"ev\":\"dropped\"")) {
        let t: u64 = line["{\"t\":".len()..line.find(',').expect("a time")].parse().expect("ns");
        let during = usize::from((2_000_000_000..3_000_000_000).contains(&t));
        if line.contains("\"reason\":\"loss fault\"") {
            faulted[during] += 1;
        } else if line.contains("\"reason\":\"loss\"") {
            own[during] += 1;
        }
    }
    assert_eq!(faulted[0], 0, "no fault, no fault's drop: {own:?} {faulted:?}");
    // During the fault: P(own) = 0.3, P(fault's) = 0.7 × 0.5 = 0.35, ≈ 400 crossings.
    assert!(own[1] > 60 && faulted[1] > 60, "{own:?} {faulted:?}");
    assert!(own[0] > 3 * own[1], "the link loses by design all along: {own:?}");
}

/// `p` publishes one message per request to channel `ch`; consumers `c1`, `c2`, `c3` subscribe
/// with the given group names (an empty name: the parser's default, the service's name).
fn consumers_scenario(kind: &str, groups: [&str; 3]) -> Scenario {
    let mut text = format!(
        r#"
[[store]]
name = "mq"
kind = "broker"
nodes = ["b"]

[[channel]]
name = "ch"
kind = "{kind}"
broker = "mq"
delivery = "at-least-once"
timeout_ms = 2000

[[service]]
name = "p"
context = "c"
node = "a"
module = "p.wasm"
capabilities = ["publish"]
publishes = ["ch"]
  [[service.endpoint]]
  name = "go"
  method = "POST"
  path = "/go"
  public = true
"#
    );
    for (i, group) in groups.iter().enumerate() {
        let group = if group.is_empty() { String::new() } else { format!("group = \"{group}\"\n") };
        text.push_str(&format!(
            r#"
[[service]]
name = "c{i}"
context = "c"
node = "b"
  [service.service_time]
  distribution = {{ dist = "constant", ms = 1.0 }}
  [[service.endpoint]]
  name = "on"
  method = "POST"
  path = "/on{i}"
  [[service.subscribe]]
  channel = "ch"
  endpoint = "on"
  {group}
"#
        ));
    }
    text.push_str(
        r#"
[workload]
duration_s = 2
arrival = { kind = "constant", rate_rps = 50 }
  [[workload.mix]]
  service = "p"
  endpoint = "go"
"#,
    );
    scenario(&text)
}

/// How many invocations each consumer served.
fn consumed(s: Scenario) -> [usize; 3] {
    let publisher = FakeHost::new(serde_json::json!({}), |_, _| {
        vec![HostOp::Publish { channel: "ch".into(), message: b"{}".to_vec() }]
    });
    let r = run(s, Box::new(publisher), 1);
    let trace = String::from_utf8(r.trace).expect("utf-8");
    let mut n = [0; 3];
    for (i, count) in n.iter_mut().enumerate() {
        let service = format!("\"service\":\"c{i}\"");
        *count = trace
            .lines()
            .filter(|l| l.contains("\"ev\":\"invocation_start\"") && l.contains(&service))
            .count();
    }
    n
}

#[test]
fn a_queue_hands_each_message_to_one_of_its_competing_consumers() {
    let n = consumed(consumers_scenario("queue", ["", "", ""]));
    let total: usize = n.iter().sum();
    assert!((95..=105).contains(&total), "each of ~100 messages consumed once: {n:?}");
    assert!(n.iter().all(|c| (30..=36).contains(c)), "round robin over three consumers: {n:?}");
}

#[test]
fn a_stream_gives_each_group_every_message_and_each_to_one_member_of_a_group() {
    // c0 and c1 form the group "g"; c2 is its own group.
    let n = consumed(consumers_scenario("event-stream", ["g", "g", ""]));
    assert!((95..=105).contains(&n[2]), "the lone group gets every message: {n:?}");
    assert_eq!(n[0] + n[1], n[2], "group g gets every message once between its members: {n:?}");
    assert!(n[0].abs_diff(n[1]) <= 1, "its members take turns: {n:?}");
}

/// Requests the crashed replica 0 of `s` swallowed ("replica down" drops) under `policy`, and
/// the client requests answered `ok`.
fn crash_window_drops(policy: &str, seed: u64) -> (usize, u64) {
    // Three replicas, a long registry TTL (the crash is invisible to discovery for 20 s), and
    // replica 0 down from 1 s to 4 s: only the callers' own view can steer around it.
    let extra = ABSTRACT
        .replace("replicas = 2", &format!("replicas = 3\nload_balancing = \"{policy}\""))
        .replace("rate_rps = 200", "rate_rps = 300");
    let text = format!(
        "{extra}\n[registry]\nheartbeat_ms = 1000\nttl_ms = 20000\n\n[[fault]]\nkind = \"crash\"\nservice = \"s\"\nreplica = 0\nat_s = 1\nrestart_after_s = 3\n"
    );
    let r = run(scenario(&text), no_host(), seed);
    let trace = String::from_utf8(r.trace).expect("utf-8");
    let drops = trace.lines().filter(|l| l.contains("\"reason\":\"replica down\"")).count();
    let ok = r.metrics.endpoints["s.get"].outcomes.get(&Outcome::Ok).copied().unwrap_or(0);
    (drops, ok)
}

#[test]
fn a_crashed_replica_gets_no_more_traffic_under_least_outstanding_than_round_robin() {
    for seed in 1..=3 {
        let (lo, lo_ok) = crash_window_drops("least-outstanding", seed);
        let (rr, rr_ok) = crash_window_drops("round-robin", seed);
        // Round robin keeps sending a third of the traffic until outlier detection ejects the
        // replica (5 timeouts); least-outstanding sees the unanswered requests pile up too.
        assert!(lo <= rr, "seed {seed}: least-outstanding sent {lo} to the dead replica, rr {rr}");
        assert!(lo_ok >= rr_ok, "seed {seed}: ok {lo_ok} (lo) vs {rr_ok} (rr)");
        // Outlier detection bounds the loss: round robin sends the dead replica a third of the
        // traffic until the first gateway timeout (0.5 s × 100 req/s ≈ 50) and 5 timeouts in a
        // row eject it — long before the 20 s TTL would (all 3 s: about 300 requests).
        assert!(rr < 90, "seed {seed}: round robin lost {rr} requests to the dead replica");
    }
}

#[test]
fn outlier_detection_ejects_a_crashed_replica_and_traces_it() {
    let extra = ABSTRACT.replace("replicas = 2", "replicas = 3");
    let text = format!(
        "{extra}\n[registry]\nheartbeat_ms = 1000\nttl_ms = 20000\n\n[[fault]]\nkind = \"crash\"\nservice = \"s\"\nreplica = 1\nat_s = 1\nrestart_after_s = 3\n"
    );
    let r = run(scenario(&text), no_host(), 1);
    let trace = String::from_utf8(r.trace).expect("utf-8");
    let ejected: Vec<&str> = trace.lines().filter(|l| l.contains("\"ev\":\"ejected\"")).collect();
    assert_eq!(ejected.len(), 1, "{ejected:?}");
    assert!(ejected[0].contains("\"caller\":\"gateway\",\"service\":\"s\",\"replica\":1"));
    // Without a crash, nothing is ejected.
    let calm = run(scenario(&ABSTRACT.replace("replicas = 2", "replicas = 3")), no_host(), 1);
    assert!(!String::from_utf8(calm.trace).expect("utf-8").contains("\"ev\":\"ejected\""));
}

#[test]
fn least_outstanding_spreads_ties_instead_of_favouring_replica_zero() {
    let extra =
        ABSTRACT.replace("replicas = 2", "replicas = 4\nload_balancing = \"least-outstanding\"");
    let r = run(scenario(&extra), no_host(), 1);
    let trace = String::from_utf8(r.trace).expect("utf-8");
    let per_replica: Vec<usize> = (0..4)
        .map(|i| {
            let needle = "\"ev\":\"invocation_start\"";
            let rep = format!("\"replica\":{i},");
            trace.lines().filter(|l| l.contains(needle) && l.contains(&rep)).count()
        })
        .collect();
    let (min, max) = (per_replica.iter().min().copied(), per_replica.iter().max().copied());
    let (min, max) = (min.unwrap_or(0), max.unwrap_or(0));
    // At 200 req/s and 2 ms per request most picks are ties (nothing outstanding): they must
    // spread over the replicas, not all go to replica 0.
    assert!(min * 10 >= max * 7, "invocations per replica: {per_replica:?}");
}

/// Mean time a request spends at service `s` (queue + service), on a node with `cores` cores,
/// under a closed loop of 4 users with no think time; its 10 ms service time is CPU or waiting.
fn closed_loop_sojourn_ms(cores: u32, resource: &str) -> f64 {
    // The base topology, with `b`'s cores set.
    let base = base().replacen(
        "name = \"b\"\ntier = \"cloud\"\n",
        &format!("name = \"b\"\ntier = \"cloud\"\ncpu_cores = {cores}\n"),
        1,
    );
    let text = format!(
        r#"{base}
[[service]]
name = "s"
context = "c"
node = "b"
concurrency = 4
  [service.service_time]
  distribution = {{ dist = "constant", ms = 10.0 }}
  resource = "{resource}"
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/s"
  public = true
[workload]
duration_s = 5
arrival = {{ kind = "closed", users = 4, think_ms = 0 }}
  [[workload.mix]]
  service = "s"
  endpoint = "get"
"#
    );
    let parsed = fusebench_model::parse("t.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    let r = run(parsed.ok().expect("valid"), no_host(), 1);
    r.metrics.services["s"].mean_sojourn_ms()
}

#[test]
fn invocations_on_a_node_share_its_cores() {
    // Four users, each 10 ms of CPU per request, always in the system together (they arrive in
    // step: same start, same constant hops): on four cores each runs at full speed; on one core
    // processor sharing gives each a quarter, so each takes 4 × 10 ms; on two, 2 × 10 ms.
    let ample = closed_loop_sojourn_ms(4, "cpu");
    let half = closed_loop_sojourn_ms(2, "cpu");
    let one = closed_loop_sojourn_ms(1, "cpu");
    assert!((ample - 10.0).abs() < 0.01, "ample: {ample} ms");
    assert!((half - 20.0).abs() < 0.01, "two cores: {half} ms");
    assert!((one - 40.0).abs() < 0.01, "one core: {one} ms");
    // Waiting (I/O, an external dependency) does not need a core: no stretching.
    let waiting = closed_loop_sojourn_ms(1, "wait");
    assert!((waiting - 10.0).abs() < 0.01, "waiting on one core: {waiting} ms");
}

/// A service answering `{"error": "boom"}` to 98 of every 100 requests and `{}` otherwise, with
/// an availability objective of 99 %; `expected` lists error codes the endpoint declares as
/// business answers.
fn mostly_errors(expected: &str) -> (RunResult, Scenario) {
    let extra = ABSTRACT
        .replace("replicas = 2", "replicas = 2\nmodule = \"m.wasm\"")
        .replace(
            "  public = true\n",
            &format!("  public = true\n  expected_errors = [{expected}]\n"),
        )
        .replace("distribution = { dist = \"exponential\", mean_ms = 2.0 }", "ns_per_fuel = 1.0");
    let text = format!(
        "{extra}\n[[quality.slo]]\nservice = \"s\"\nendpoint = \"get\"\navailability = 0.99\n"
    );
    let s = scenario(&text);
    let host = FakeHost::answering_each(|n| {
        if n % 50 == 0 { serde_json::json!({}) } else { serde_json::json!({"error": "boom"}) }
    });
    (run(s.clone(), Box::new(host), 1), s)
}

#[test]
fn application_errors_count_against_availability_unless_expected() {
    let (r, s) = mostly_errors("");
    let e = &r.metrics.endpoints["s.get"];
    let errors = e.outcomes.get(&Outcome::AppError).copied().unwrap_or(0);
    assert!(errors * 100 >= e.total() * 97, "{:?}", e.outcomes);
    let report = crate::report::Report::new(&r, &s);
    let availability = &report.endpoints["s.get"].availability;
    assert!(*availability < 0.03, "availability {availability}");
    let slo = crate::properties::check(&s, &r).into_iter().find(|v| v.id == "slo");
    assert!(slo.is_some_and(|v| v.failed()), "a 98 %-error service fails its availability SLO");
    // The same answers, declared as business outcomes (`not_found`-like), are available.
    let (r, s) = mostly_errors("\"boom\"");
    let e = &r.metrics.endpoints["s.get"];
    assert_eq!(e.outcomes.get(&Outcome::AppError), None, "{:?}", e.outcomes);
    assert!(e.outcomes.get(&Outcome::ExpectedError).copied().unwrap_or(0) > 0);
    let slo = crate::properties::check(&s, &r).into_iter().find(|v| v.id == "slo");
    assert!(slo.is_some_and(|v| v.status == crate::properties::Status::Held));
}

#[test]
fn timeouts_reach_the_latency_of_every_answer() {
    // Replica 0 crashes and the registry keeps it for 20 s: requests sent to it time out at
    // the gateway (500 ms) until outlier detection ejects it.
    let extra = ABSTRACT.replace("replicas = 2", "replicas = 3");
    let text = format!(
        "{extra}\n[registry]\nheartbeat_ms = 1000\nttl_ms = 20000\n\n[[fault]]\nkind = \"crash\"\nservice = \"s\"\nreplica = 0\nat_s = 1\nrestart_after_s = 3\n"
    );
    let r = run(scenario(&text), no_host(), 1);
    let e = &r.metrics.endpoints["s.get"];
    let timeouts = e.outcomes.get(&Outcome::Timeout).copied().unwrap_or(0);
    assert!(timeouts > 0, "{:?}", e.outcomes);
    assert_eq!(e.latency_all.len(), e.total(), "every answer is in latency_all");
    assert_eq!(e.latency.len(), e.successes(), "only available answers are in latency");
    // The timeouts (500 ms) sit in the tail of every answer, not in the successes'.
    assert!(e.latency_all.max() >= 500_000, "max {} µs", e.latency_all.max());
    assert!(e.latency.max() < 500_000, "max {} µs", e.latency.max());
}

/// A social fan-out modelled without a module: `posts` (abstract) writes each post under its
/// `id`, publishes an event half the time, and calls `media.store`; `timeline` (abstract)
/// consumes the events; `media` answers from its contract.
const ABSTRACT_FANOUT: &str = r#"
[[store]]
name = "mq"
kind = "broker"
nodes = ["b"]
[[store]]
name = "posts-db"
kind = "kv"
nodes = ["b"]
[[channel]]
name = "rest"
kind = "rest"
[[channel]]
name = "events"
kind = "event-stream"
broker = "mq"
delivery = "at-least-once"
[[service]]
name = "posts"
context = "c"
node = "a"
owns = ["posts-db"]
publishes = ["events"]
  [service.service_time]
  distribution = { dist = "constant", ms = 1.0 }
  [[service.call]]
  service = "media"
  endpoint = "store"
  channel = "rest"
  uses = ["url"]
  [[service.endpoint]]
  name = "create"
  method = "POST"
  path = "/posts"
  public = true
  request = { id = "string" }
  response = { id = "string", url = "string" }
    [[service.endpoint.effect]]
    write = "posts-db"
    key = "id"
    [[service.endpoint.effect]]
    publish = "events"
    probability = 0.5
    [[service.endpoint.effect]]
    call = "media.store"
[[service]]
name = "media"
context = "c"
node = "b"
  [service.service_time]
  distribution = { dist = "constant", ms = 2.0 }
  [[service.endpoint]]
  name = "store"
  method = "POST"
  path = "/media"
  response = { url = "string" }
[[service]]
name = "timeline"
context = "c"
node = "b"
  [service.service_time]
  distribution = { dist = "constant", ms = 1.0 }
  [[service.endpoint]]
  name = "on_post"
  request = { id = "string" }
  [[service.subscribe]]
  channel = "events"
  endpoint = "on_post"
[workload]
duration_s = 2
arrival = { kind = "constant", rate_rps = 100 }
  [[workload.mix]]
  service = "posts"
  endpoint = "create"
  body = { id = "post-${seq}" }
"#;

#[test]
fn an_abstract_service_performs_its_declared_effects() {
    let r = run(scenario(ABSTRACT_FANOUT), no_host(), 1);
    let trace = String::from_utf8(r.trace.clone()).expect("utf-8");
    let count = |needle: &str| trace.lines().filter(|l| l.contains(needle)).count();
    let created = r.metrics.endpoints["posts.create"].successes();
    assert!(created > 150, "{created}");
    // Every request wrote its post under its own id, and called media once.
    assert_eq!(r.stores["posts-db"][0].len() as u64, created, "one key per post id");
    assert_eq!(count("\"op\":\"call\",\"target\":\"media.store\"") as u64, created);
    // About half published an event, and each reached the consumer.
    let published = count("\"ev\":\"publish\"");
    assert!((60..=140).contains(&published), "{published} of {created}");
    let consumed = trace
        .lines()
        .filter(|l| {
            l.contains("\"ev\":\"invocation_start\"") && l.contains("\"service\":\"timeline\"")
        })
        .count();
    assert_eq!(consumed, published, "an abstract publish reaches its consumer");
    assert!(r.unacked.is_empty(), "{:?}", r.unacked);
}

/// A generated request names its work in the field the target endpoint keys idempotency on:
/// a call's key is fresh per calling invocation (drawn below 1000 as any generated string,
/// distinct posts' media shared keys and were deduplicated as one), and a message forwards
/// the key its publisher was given (the post's `id`).
#[test]
fn an_abstract_caller_names_its_work_in_the_target_s_idempotency_key() {
    let text = ABSTRACT_FANOUT
        .replace(
            "  name = \"store\"\n  method = \"POST\"\n  path = \"/media\"\n",
            "  name = \"store\"\n  method = \"POST\"\n  path = \"/media\"\n  idempotent = true\n  idempotency_key = \"token\"\n  request = { token = \"string\" }\n",
        )
        .replace(
            "  name = \"on_post\"\n  request = { id = \"string\" }\n",
            "  name = \"on_post\"\n  idempotent = true\n  idempotency_key = \"id\"\n  request = { id = \"string\" }\n",
        );
    assert_ne!(text, ABSTRACT_FANOUT);
    let r = run(scenario(&text), no_host(), 1);
    let lines: Vec<_> =
        crate::trace::read(&r.trace).collect::<Result<_, _>>().expect("the trace reads");
    let (mut media, mut timeline) = (Vec::new(), 0);
    for l in &lines {
        if let TraceEvent::InvocationStart { service, idem_key, input, .. } = &l.event {
            // The key as the request's JSON holds it: a string is quoted.
            let idem_key = idem_key.trim_matches('"');
            match service.as_str() {
                "media" => media.push(idem_key.to_owned()),
                "timeline" => {
                    timeline += 1;
                    assert!(idem_key.starts_with("post-"), "the post's id, forwarded: {idem_key}");
                    assert!(input.contains(&format!("\"id\":\"{idem_key}\"")), "{input}");
                }
                _ => {}
            }
        }
    }
    assert!(media.len() > 150 && timeline > 50, "{} media calls, {timeline} events", media.len());
    let distinct: std::collections::BTreeSet<&String> = media.iter().collect();
    assert_eq!(distinct.len(), media.len(), "one key per calling invocation");
    assert!(media.iter().all(|k| k.starts_with("token-inv")), "{:?}", &media[..3]);
}

#[test]
fn an_effect_must_be_declared_and_only_abstract_services_have_effects() {
    let undeclared = ABSTRACT_FANOUT.replace("publishes = [\"events\"]\n", "");
    let parsed = fusebench_model::parse("t.toml", &format!("{}{undeclared}", base()));
    let errors: Vec<String> = parsed.diagnostics.iter().map(|d| d.message.clone()).collect();
    assert!(errors.iter().any(|m| m.contains("does not publish to `events`")), "{errors:?}");
    let with_module = ABSTRACT_FANOUT
        .replace("owns = [\"posts-db\"]", "owns = [\"posts-db\"]\nmodule = \"p.wasm\"");
    let parsed = fusebench_model::parse("t.toml", &format!("{}{with_module}", base()));
    let errors: Vec<String> = parsed.diagnostics.iter().map(|d| d.message.clone()).collect();
    assert!(
        errors.iter().any(|m| m.contains("only abstract services declare effects")),
        "{errors:?}"
    );
}
