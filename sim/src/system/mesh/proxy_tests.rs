//! The sidecars' CPU on their nodes' cores, against processor sharing (M/M/c-PS): with c
//! cores and n CPU demands of d each in progress together, each takes d·max(1, n/c) — sidecar
//! work and guest work alike.

use fusebench_model::Scenario;

use crate::system::tests::two_nodes;
use crate::system::{RunOptions, RunResult, Sim};
use crate::trace::{self, TraceEvent, TraceMode};

const MS: u64 = 1_000_000;

/// Service `s` (10 ms of CPU per request, `concurrency` slots) on node `b` with `cores` cores,
/// in the mesh with sidecars of `cpu_us`; `users` closed-loop clients without think time send
/// one request each at the start, in step; the workload ends 5 ms later, before any answer, so
/// the run sees exactly `users` requests.
fn one_service(cores: u32, concurrency: u32, users: u32, cpu_us: f64) -> Scenario {
    parse(&one_service_text(cores, concurrency, users, cpu_us))
}

fn one_service_text(cores: u32, concurrency: u32, users: u32, cpu_us: f64) -> String {
    let base = two_nodes("proxycpu", 2000).replacen(
        "name = \"b\"\ntier = \"cloud\"\n",
        &format!("name = \"b\"\ntier = \"cloud\"\ncpu_cores = {cores}\n"),
        1,
    );
    format!(
        r#"{base}
[[service]]
name = "s"
context = "c"
node = "b"
concurrency = {concurrency}
  [service.service_time]
  distribution = {{ dist = "constant", ms = 10.0 }}
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/s"
  public = true
[workload]
duration_s = 0.005
arrival = {{ kind = "closed", users = {users}, think_ms = 0 }}
  [[workload.mix]]
  service = "s"
  endpoint = "get"
[mesh]
services = ["s"]
sidecar_cpu_us = {cpu_us}
"#
    )
}

fn parse(text: &str) -> Scenario {
    let parsed = fusebench_model::parse("proxycpu.toml", text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

fn run(s: Scenario) -> RunResult {
    let mut o = RunOptions::new(3);
    o.trace = TraceMode::Full;
    Sim::new(s, Box::new(crate::runtime::Runtime::default()), &o).run()
}

fn events(r: &RunResult) -> Vec<(u64, TraceEvent)> {
    trace::read(&r.trace).map(|l| l.expect("reads back")).map(|l| (l.t.nanos(), l.event)).collect()
}

/// Each client request's latency, by request id.
fn latencies(r: &RunResult) -> Vec<u64> {
    let mut out: Vec<(u64, u64)> = events(r)
        .into_iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::Response { req, latency_ns, .. } => Some((req, latency_ns)),
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out.into_iter().map(|(_, l)| l).collect()
}

/// How long each invocation took from its start to its end, in start order.
fn invocation_times(r: &RunResult) -> Vec<u64> {
    let mut start = std::collections::BTreeMap::new();
    let mut took = Vec::new();
    for (t, e) in events(r) {
        match e {
            TraceEvent::InvocationStart { inv, .. } => {
                start.insert(inv, t);
            }
            TraceEvent::InvocationEnd { inv, .. } => took.push((start[&inv], t - start[&inv])),
            _ => {}
        }
    }
    took.sort_unstable();
    took.into_iter().map(|(_, d)| d).collect()
}

#[test]
fn on_an_idle_node_a_sidecar_adds_exactly_its_cpu_per_crossing() {
    // One request at a time: the callee's sidecar computes on the way in and on the way out.
    let free = latencies(&run(one_service(1, 1, 1, 0.0)));
    let costly = latencies(&run(one_service(1, 1, 1, 500.0)));
    assert_eq!(free.len(), 1);
    assert_eq!(costly, [free[0] + MS], "two crossings of 0.5 ms of CPU each");
}

#[test]
fn a_meshed_callers_sidecar_computes_on_its_own_node_for_each_crossing() {
    // front (node a) calls back (node b); both meshed: a client request crosses front's sidecar
    // twice (request in, answer out), and the call crosses front's and back's sidecars twice
    // each: 6 crossings.
    let text = |cpu_us: f64| {
        format!(
            r#"{}
[[channel]]
name = "rest"
kind = "rest"
[[service]]
name = "front"
context = "c"
node = "a"
  [service.service_time]
  distribution = {{ dist = "constant", ms = 1.0 }}
  [[service.call]]
  service = "back"
  endpoint = "get"
  channel = "rest"
  [[service.endpoint]]
  name = "go"
  method = "GET"
  path = "/go"
  public = true
    [[service.endpoint.effect]]
    call = "back.get"
[[service]]
name = "back"
context = "c"
node = "b"
  [service.service_time]
  distribution = {{ dist = "constant", ms = 2.0 }}
  [[service.endpoint]]
  name = "get"
[workload]
duration_s = 1
arrival = {{ kind = "closed", users = 1, think_ms = 100 }}
  [[workload.mix]]
  service = "front"
  endpoint = "go"
[mesh]
all = true
sidecar_cpu_us = {cpu_us}
"#,
            two_nodes("chain", 2000)
        )
    };
    let free = latencies(&run(parse(&text(0.0))));
    let costly = latencies(&run(parse(&text(250.0))));
    assert!(free.len() >= 5, "{free:?}");
    assert_eq!(free.len(), costly.len());
    let added: Vec<u64> = free.iter().zip(&costly).map(|(a, b)| b - a).collect();
    assert!(added.iter().all(|&d| d == 6 * 250_000), "{added:?}");
}

#[test]
fn sidecars_and_guests_share_a_nodes_cores_by_processor_sharing() {
    // Two requests reach s together; one slot. With 10 ms sidecars and 10 ms guests:
    //   1 core:  both inbound sidecars share it, done at 20; guest 0 alone to 30; then guest 1
    //            and request 0's outbound sidecar share it, both done at 50; request 1's
    //            outbound sidecar alone to 60. Each request pays 40 ms more than without
    //            sidecars, and guest 1 takes 20 ms for its 10 ms of CPU.
    //   2 cores: nothing is ever stretched: 10 + 10 = 20 ms more each, guests take 10 ms.
    // (A sidecar costing only latency would give the 2-core figures on one core.)
    let base = latencies(&run(one_service(1, 1, 2, 0.0)));
    assert_eq!(base.len(), 2);
    assert_eq!(base[1] - base[0], 10 * MS, "request 1 waited for request 0's slot");
    for (cores, added, guests) in [(1, 40 * MS, [10 * MS, 20 * MS]), (2, 20 * MS, [10 * MS; 2])] {
        let r = run(one_service(cores, 1, 2, 10_000.0));
        let got = latencies(&r);
        assert_eq!(got, [base[0] + added, base[1] + added], "{cores} core(s)");
        assert_eq!(invocation_times(&r), guests, "{cores} core(s): the guests' times");
    }
    // Without sidecars the two guests on one core with two slots share it: 20 ms each.
    let shared = latencies(&run(one_service(1, 2, 2, 0.0)));
    assert_eq!(shared, [base[0] + 10 * MS, base[0] + 10 * MS]);
}

#[test]
fn every_leg_through_computing_sidecars_ends() {
    // Eight requests at once through costly sidecars on one core, the replica crashing while
    // they are on their way: every leg ends, every request is answered once, nothing is kept.
    let crash = "[[fault]]\nkind = \"crash\"\nservice = \"s\"\nreplica = 0\nat_s = 0.005\nrestart_after_s = 0.1\n";
    let s = parse(&format!("{}{crash}", one_service_text(1, 4, 8, 2_000.0)));
    let mut o = RunOptions::new(5);
    o.trace = TraceMode::Full;
    let mut sim = Sim::new(s, Box::new(crate::runtime::Runtime::default()), &o);
    while sim.step() {}
    assert_eq!(sim.mesh.legs.len(), 0, "a leg outlived its message");
    assert_eq!(sim.cpus.iter().map(|c| c.jobs().count()).sum::<usize>(), 0);
    assert_eq!(sim.requests.len(), 0);
    assert_eq!(sim.q.live_timers(), 0);
    assert_eq!((sim.load.sent, sim.load.answered), (8, 8));
}
