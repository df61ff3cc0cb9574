//! The WebAssembly filter chain: each action (continue, modify, stop) as the ABI states it,
//! its cost as CPU of the proxy's node, and hostile filters (loop, trap, memory bomb) contained.

use fusebench_model::Scenario;

use super::super::super::tests::two_nodes;
use crate::metrics::Outcome;
use crate::setup::{ModuleFiles, build_runtime};
use crate::system::{RunOptions, RunResult, Sim};
use crate::trace::{self, TraceEvent, TraceMode};

/// Service `s` (public `get`, 1 ms, abstract) behind the gateway; clients send 10 requests a
/// second for 2 s (19 requests) with header `x-api-key: k1`; `filters` are `[[mesh.filter]]` tables.
fn scenario(filters: &str) -> Scenario {
    let text = scenario_text(filters);
    let parsed = fusebench_model::parse("filters.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

fn scenario_text(filters: &str) -> String {
    format!(
        r#"{}
[[service]]
name = "s"
context = "c"
node = "b"
concurrency = 100
  [service.service_time]
  distribution = {{ dist = "constant", ms = 1.0 }}
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/s"
  public = true
[workload]
duration_s = 2
arrival = {{ kind = "constant", rate_rps = 10 }}
  [[workload.mix]]
  service = "s"
  endpoint = "get"
  body = {{ n = 1 }}
  headers = {{ X-Api-Key = "k1" }}
[mesh]
all = true
{filters}"#,
        two_nodes("filters", 2000)
    )
}

/// A filter module answering `answer` to every request; `hostile` runs instead on every
/// second request an instance serves (a fresh instance after a fault starts counting again).
fn wat(answer: &str, hostile: &str, response: &str) -> String {
    let escaped = answer.replace('"', "\\\"");
    format!(
        r#"(module
  (memory (export "memory") 1)
  (global $n (mut i32) (i32.const 0))
  (data (i32.const 0) "{escaped}")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "handle_request") (param i32 i32) (result i64)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (if (i32.eqz (i32.and (global.get $n) (i32.const 1))) (then {hostile}))
    (i64.const {len}))
  {response})"#,
        len = answer.len()
    )
}

fn run_with(filters: &str, modules: &[(&str, String)]) -> RunResult {
    run_scenario(scenario(filters), modules)
}

fn run_scenario(s: Scenario, modules: &[(&str, String)]) -> RunResult {
    let files: ModuleFiles =
        modules.iter().map(|(n, m)| ((*n).to_owned(), m.as_bytes().to_vec())).collect();
    let rt = build_runtime(&s, &files).expect("the filters load");
    let mut o = RunOptions::new(7);
    o.trace = TraceMode::Full;
    Sim::new(s, Box::new(rt), &o).run()
}

fn events(r: &RunResult) -> Vec<(u64, TraceEvent)> {
    trace::read(&r.trace).map(|l| l.expect("reads back")).map(|l| (l.t.nanos(), l.event)).collect()
}

fn outcome_count(r: &RunResult, o: Outcome) -> u64 {
    r.metrics.endpoints["s.get"].outcomes.get(&o).copied().unwrap_or(0)
}

fn filter(name: &str, extra: &str) -> String {
    format!("[[mesh.filter]]\nname = \"{name}\"\nmodule = \"{name}.wat\"\n{extra}\n")
}

#[test]
fn a_stopping_filter_answers_the_client_and_the_service_never_runs() {
    let stop = wat(r#"{"action":"stop","status":401,"body":{"error":"unauthorized"}}"#, "", "");
    let r = run_with(&filter("deny", ""), &[("deny.wat", stop)]);
    assert_eq!(outcome_count(&r, Outcome::Filtered), 19);
    let ev = events(&r);
    assert!(!ev.iter().any(|(_, e)| matches!(e, TraceEvent::InvocationStart { .. })));
    let refused = ev
        .iter()
        .filter(|(_, e)| matches!(e, TraceEvent::MeshRefused { filter, caller, target, .. } if filter == "deny" && caller == "gateway" && target == "s.get"))
        .count();
    assert_eq!(refused, 19);
    let stopped = ev.iter().filter(|(_, e)| matches!(e, TraceEvent::MeshFilter { action, detail, .. } if action == "stop" && detail == "401")).count();
    assert_eq!(stopped, 19);
    assert!(ev.iter().any(|(_, e)| matches!(e, TraceEvent::Response { outcome, body, .. } if outcome == "filtered" && body == r#"{"error":"unauthorized"}"#)));

    // Status 400 is a bad request, 429 a rate limit.
    let bad = wat(r#"{"action":"stop","status":400}"#, "", "");
    let r = run_with(&filter("v", ""), &[("v.wat", bad)]);
    assert_eq!(outcome_count(&r, Outcome::BadRequest), 19);
    let limited = wat(r#"{"action":"stop","status":429}"#, "", "");
    let r = run_with(&filter("v", ""), &[("v.wat", limited)]);
    assert_eq!(outcome_count(&r, Outcome::RateLimited), 19);
}

#[test]
fn a_filter_scoped_elsewhere_is_not_run() {
    let stop = wat(r#"{"action":"stop","status":401}"#, "", "");
    for scope in ["at = \"sidecar\"", "services = [\"s\"]\nat = \"gateway\""] {
        let r = run_with(&filter("deny", scope), &[("deny.wat", stop.clone())]);
        let ok = outcome_count(&r, Outcome::Ok);
        let want = if scope.contains("sidecar") { 19 } else { 0 };
        assert_eq!(ok, want, "{scope}: a gateway request passes only sidecar filters untouched");
    }
}

#[test]
fn a_modifying_filter_rewrites_the_request_and_its_fuel_adds_its_cpu_time_on_an_idle_node() {
    let modify = wat(r#"{"headers":{"x-route":"v2"},"body":{"n":2}}"#, "", "");
    let latencies = |ns_per_fuel: f64| {
        let r = run_with(
            &filter("router", &format!("ns_per_fuel = {ns_per_fuel}")),
            &[("router.wat", modify.clone())],
        );
        assert_eq!(outcome_count(&r, Outcome::Ok), 19);
        let ev = events(&r);
        let modified = ev.iter().filter(|(_, e)| matches!(e, TraceEvent::MeshFilter { action, detail, filter, .. } if action == "modify" && detail == "header x-route=v2, -header x-api-key, body" && filter == "router")).count();
        assert_eq!(modified, 19);
        ev.into_iter()
            .filter_map(|(_, e)| match e {
                TraceEvent::Response { latency_ns, .. } => Some(latency_ns),
                _ => None,
            })
            .collect::<Vec<u64>>()
    };
    let (free, costly) = (latencies(0.0), latencies(100_000.0));
    // One request at a time on the gateway's idle node: its CPU adds exactly its time.
    assert_eq!(free.len(), costly.len());
    let added: Vec<u64> = free.iter().zip(&costly).map(|(a, b)| b - a).collect();
    // Whole fuel units at 0.1 ms each, a dozen or so per call (the module's two paths
    // alternate: 13 and 14 units).
    assert!(
        added.iter().all(|d| *d >= 1_000_000 && d % 100_000 == 0 && *d < 3_000_000),
        "{added:?}"
    );
}

#[test]
fn a_response_filter_rewrites_the_answer_the_client_gets() {
    let response = r#"(data (i32.const 512) "{\"body\":{\"seen\":true}}")
  (func (export "handle_response") (param i32 i32) (result i64) (i64.const 0x20000000016))"#;
    let pass = wat("{}", "", response);
    let r = run_with(&filter("tag", ""), &[("tag.wat", pass)]);
    assert_eq!(outcome_count(&r, Outcome::Ok), 19);
    let bodies: Vec<String> = events(&r)
        .into_iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::Response { body, .. } => Some(body),
            _ => None,
        })
        .collect();
    assert_eq!(bodies.len(), 19);
    assert!(bodies.iter().all(|b| b == r#"{"seen":true}"#), "{bodies:?}");
}

/// Must show: a hostile filter fails the request it was handling (traced, counted as a guest
/// fault), the proxy keeps serving the others, the run goes on to its end.
#[test]
fn hostile_filters_fail_their_request_and_the_proxy_keeps_serving() {
    let bomb = "(loop $g (br_if $g (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        (i32.store (i32.mul (memory.size) (i32.const 65536)) (i32.const 1))";
    let cases = [
        ("loop", "(loop $l (br $l))", "fuel"),
        ("trap", "unreachable", "unreachable"),
        ("bomb", bomb, "memory"),
    ];
    for (name, hostile, cause) in cases {
        let m = wat("{}", hostile, "");
        let r = run_with(
            &filter(name, "fuel_budget = 100000\nmemory_max_kib = 256"),
            &[(&format!("{name}.wat"), m)],
        );
        let (ok, faults) = (outcome_count(&r, Outcome::Ok), outcome_count(&r, Outcome::GuestFault));
        assert_eq!((ok, faults), (10, 9), "{name}: every second request fails, no other");
        let ev = events(&r);
        let fault_at: Vec<u64> = ev
            .iter()
            .filter_map(|(t, e)| match e {
                TraceEvent::MeshFilter { action, detail, .. } if action == "fault" => {
                    assert!(detail.to_lowercase().contains(cause), "{name}: {detail}");
                    Some(*t)
                }
                _ => None,
            })
            .collect();
        assert_eq!(fault_at.len(), 9, "{name}");
        let refused = ev
            .iter()
            .filter(|(_, e)| matches!(e, TraceEvent::MeshRefused { filter, .. } if filter == name))
            .count();
        assert_eq!(refused, 9, "{name}");
        let served_after = ev.iter().any(|(t, e)| {
            *t > fault_at[0] && matches!(e, TraceEvent::Response { outcome, .. } if outcome == "ok")
        });
        assert!(served_after, "{name}: the gateway serves requests after the first fault");
        assert!(r.end.nanos() >= 2_000_000_000, "{name}: the run goes on to its end");
    }
}

#[test]
fn a_filter_answering_nonsense_is_a_fault_not_a_pass() {
    let cases = [
        (r#"[1]"#, "not a JSON object"),
        (r#"{"action":"maybe"}"#, "not continue or stop"),
        (r#"{"action":"stop"}"#, "without a status"),
        (r#"{"action":"stop","status":200}"#, "without a status"),
        (r#"{"headers":{"a":1}}"#, "not a string"),
        (r#"{"headers":3}"#, "not an object"),
        (r#"{"action":7}"#, "not a string"),
        (r#"{"colour":"red"}"#, "unknown field `colour`"),
        (r#"{"action":"stop","status":401,"x":1}"#, "unknown field `x`"),
    ];
    for (answer, why) in cases {
        let r = run_with(&filter("odd", ""), &[("odd.wat", wat(answer, "", ""))]);
        assert_eq!(outcome_count(&r, Outcome::GuestFault), 19, "{answer}");
        let told = events(&r).into_iter().any(|(_, e)| matches!(e, TraceEvent::MeshFilter { action, detail, .. } if action == "fault" && detail.contains(why)));
        assert!(told, "{answer}: no fault saying {why:?}");
    }
}

#[test]
fn filters_keep_runs_deterministic() {
    let m = wat(r#"{"headers":{"x-route":"v2"}}"#, "unreachable", "");
    let a = run_with(&filter("f", ""), &[("f.wat", m.clone())]);
    let b = run_with(&filter("f", ""), &[("f.wat", m)]);
    assert_eq!(a.trace_hash, b.trace_hash);
}

#[test]
fn a_filters_fuel_is_cpu_that_competes_for_the_gateways_cores() {
    // Two clients send at once; the gateway's filter burns 0.1 ms per fuel unit on node `a`
    // (its two paths alternate: 13 and 14 units). On two cores each request pays its own
    // filter time; on one, processor sharing: the two share the core until the shorter is
    // done (at twice its demand), then the longer runs alone (finishing at the sum).
    let modify = wat(r#"{"headers":{"x-route":"v2"}}"#, "", "");
    let latencies = |cores: u32, ns_per_fuel: f64| {
        let text = scenario_text(&filter("router", &format!("ns_per_fuel = {ns_per_fuel}")))
            .replacen(
                "name = \"a\"\ntier = \"cloud\"\n",
                &format!("name = \"a\"\ntier = \"cloud\"\ncpu_cores = {cores}\n"),
                1,
            )
            .replace(
                "arrival = { kind = \"constant\", rate_rps = 10 }",
                "arrival = { kind = \"closed\", users = 2, think_ms = 0 }",
            )
            // The workload ends before any answer: exactly the two first requests.
            .replace("duration_s = 2\n", "duration_s = 0.001\n");
        let parsed = fusebench_model::parse("filters.toml", &text);
        assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
        let r = run_scenario(parsed.ok().expect("valid"), &[("router.wat", modify.clone())]);
        let mut l: Vec<(u64, u64)> = events(&r)
            .into_iter()
            .filter_map(|(_, e)| match e {
                TraceEvent::Response { req, latency_ns, .. } => Some((req, latency_ns)),
                _ => None,
            })
            .collect();
        l.sort_unstable();
        l.into_iter().map(|(_, l)| l).collect::<Vec<u64>>()
    };
    let base = latencies(1, 0.0);
    assert_eq!(base.len(), 2);
    let own: Vec<u64> = latencies(2, 100_000.0).iter().zip(&base).map(|(l, b)| l - b).collect();
    let (a, b) = (own[0].min(own[1]), own[0].max(own[1]));
    assert!(a >= 1_000_000 && b > a, "each filter run costs its own fuel: {own:?}");
    let shared: Vec<u64> = latencies(1, 100_000.0).iter().zip(&base).map(|(l, b)| l - b).collect();
    let mut shared_sorted = shared.clone();
    shared_sorted.sort_unstable();
    assert_eq!(shared_sorted, [2 * a, a + b], "one core shared: {shared:?} (alone: {own:?})");
}

/// The time each `mesh_filter` line of `filter` with `action` was written.
fn filter_times(ev: &[(u64, TraceEvent)], name: &str, act: &str) -> Vec<u64> {
    ev.iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::MeshFilter { filter, action, .. } if filter == name && action == act => {
                Some(*t)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_pushed_filter_module_runs_from_its_landing_on_and_a_removed_one_stops_running() {
    // istiod pushing WasmPlugin changes: at 0.55 s the `gate` filter's module is swapped (a
    // 401 gate for a header-tagging one, the chain's position kept), at 1.25 s a `tag` filter
    // joins the chain, at 1.65 s it leaves; each reaches the gateway at once here.
    let deny = wat(r#"{"action":"stop","status":401}"#, "", "");
    let tag_v2 = wat(r#"{"action":"continue","headers":{"x-v":"2"}}"#, "", "");
    let tag = wat(r#"{"action":"continue","headers":{"x-tag":"t"}}"#, "", "");
    let pushes = r#"
[mesh.control_plane]
[[mesh.push]]
at_s = 0.55
  [[mesh.push.filter]]
  name = "gate"
  module = "gate-v2.wat"
[[mesh.push]]
at_s = 1.25
  [[mesh.push.filter]]
  name = "tag"
  module = "tag.wat"
  at = "gateway"
[[mesh.push]]
at_s = 1.65
remove_filters = ["tag"]
"#;
    let filters = format!("{}{pushes}", filter("gate", ""));
    let r = run_with(&filters, &[("gate.wat", deny), ("gate-v2.wat", tag_v2), ("tag.wat", tag)]);
    let ev = events(&r);
    let (swap, add, remove) = (550_000_000, 1_250_000_000, 1_650_000_000);
    // The old module answered 401 until the swap, never after.
    let stops = filter_times(&ev, "gate", "stop");
    assert!(!stops.is_empty() && stops.iter().all(|t| *t < swap), "{stops:?}");
    assert_eq!(outcome_count(&r, Outcome::Filtered), stops.len() as u64);
    // The new module ran on every request from the swap on, and on none before.
    let v2 = filter_times(&ev, "gate", "modify");
    assert!(v2.iter().all(|t| *t >= swap), "{v2:?}");
    assert_eq!(v2.len() + stops.len(), r.requests_sent as usize);
    // `tag` ran only while it was in the chain.
    let tagged = filter_times(&ev, "tag", "modify");
    assert!(!tagged.is_empty(), "tag never ran");
    assert!(tagged.iter().all(|t| (add..remove).contains(t)), "{tagged:?}");
    // Configurations traced: three pushes, each applied by the gateway and by s's sidecar.
    let applied = ev
        .iter()
        .filter(|(_, e)| matches!(e, TraceEvent::MeshRoute { action, .. } if action == "applied"))
        .count();
    assert_eq!(applied, 3 * 2);
    let changes: Vec<String> = r.mesh_routes.pushes.iter().map(|p| p.change.clone()).collect();
    assert_eq!(changes, ["filter gate", "filter tag", "-filter tag"]);
}

#[test]
fn a_pushed_filter_module_that_is_not_a_filter_is_refused_before_the_run() {
    // The pushed module is held to the declared filters' checks when the runtime loads it.
    let pushes = "[mesh.control_plane]\n[[mesh.push]]\nat_s = 1\n  [[mesh.push.filter]]\n  name = \"gate\"\n  module = \"bad.wat\"\n";
    let s = scenario(&format!("{}{pushes}", filter("gate", "")));
    let good = wat("{}", "", "");
    let bad = "(module (memory (export \"memory\") 1))".to_owned();
    let files: ModuleFiles = [("gate.wat", good), ("bad.wat", bad)]
        .into_iter()
        .map(|(n, m)| (n.to_owned(), m.into_bytes()))
        .collect();
    assert!(build_runtime(&s, &files).is_err(), "a module without alloc/handle_request loads");
}
