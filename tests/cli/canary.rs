//! The canary release in the mesh end to end (scenarios/mesh/shop-canary.toml and its flawed
//! twin scenarios/flawed/canary-fails.toml), read back from the trace: the split each pushed
//! step gives is the step's weights within binomial bounds (Istio's weights are per-request
//! probabilities); header-matched requests all reach the named subset; each proxy routes by
//! its old weights until the push reaches it (istiod → Envoy over xDS); the report's push
//! table is the trace's; a failing v2 fails only the charges its share received.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{code, fusebench, scratch, stderr, stdout};

const CANARY: &str = "scenarios/mesh/shop-canary.toml";
const FLAWED: &str = "scenarios/flawed/canary-fails.toml";

/// One run: exit code, report.json, report.md, the trace's lines.
struct Run {
    exit: i32,
    report: Value,
    md: String,
    trace: Vec<Value>,
}

fn run(path: &str, name: &str) -> Run {
    let out = scratch("canary", name).join("out");
    let o = fusebench(&["run", path, "--seed", "1", "--out", out.to_str().expect("utf-8")]);
    let read = |f: &str| {
        std::fs::read_to_string(out.join(f))
            .unwrap_or_else(|e| panic!("{path}: no {f} ({e})\n{}\n{}", stdout(&o), stderr(&o)))
    };
    let trace = read("trace.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a trace line is JSON"))
        .collect();
    Run {
        exit: code(&o),
        report: serde_json::from_str(&read("report.json")).expect("report.json is JSON"),
        md: read("report.md"),
        trace,
    }
}

fn canary() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| run(CANARY, "good"))
}

fn flawed() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| run(FLAWED, "flawed"))
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

fn lines<'a>(r: &'a Run, ev: &'a str) -> impl Iterator<Item = &'a Value> {
    r.trace.iter().filter(move |l| l["ev"] == ev)
}

/// `mesh_route` lines with `action`.
fn routes<'a>(r: &'a Run, action: &'a str) -> impl Iterator<Item = &'a Value> {
    lines(r, "mesh_route").filter(move |l| l["action"] == action)
}

/// payments' replicas 0 and 1 are its declared ones (v1); 2 and 3 the v2 Deployment's.
fn payments_subset(position: u64) -> &'static str {
    if position < 2 { "v1" } else { "v2" }
}

/// Request → the payments replica position its invocation ran on.
fn payments_ran_on(r: &Run) -> BTreeMap<u64, u64> {
    lines(r, "invocation_start")
        .filter(|l| l["service"] == "payments")
        .map(|l| (n(l, "req"), n(l, "replica")))
        .collect()
}

#[test]
fn each_pushed_step_splits_the_charges_by_its_weights_within_binomial_bounds() {
    let r = canary();
    assert_eq!(r.exit, 0, "every objective met: {:#}", r.report["slos"]);
    // Configuration → v2's weight (0: the scenario's route, then the two pushes).
    for (config, v2_percent) in [(0u64, 10.0), (1, 50.0), (2, 100.0)] {
        let by_weight: Vec<&Value> =
            routes(r, "routed").filter(|l| n(l, "config") == config).collect();
        let total = by_weight.len() as f64;
        let v2 = by_weight.iter().filter(|l| l["detail"] == "v2").count() as f64;
        assert!(total > 300.0, "config {config}: {total} routed");
        let p = v2_percent / 100.0;
        // Binomial(total, p): within four standard deviations (exact at 0 and 100 %).
        let tolerance = 4.0 * (total * p * (1.0 - p)).sqrt();
        assert!(
            (v2 - total * p).abs() <= tolerance,
            "config {config}: {v2} of {total} to v2, expected {:.1} ± {tolerance:.1}",
            total * p
        );
    }
    // Envoy balances within the picked subset only.
    let ran = payments_ran_on(r);
    for l in routes(r, "routed").chain(routes(r, "matched")) {
        if let Some(p) = ran.get(&n(l, "req")) {
            assert_eq!(payments_subset(*p), s(l, "detail"), "{l}");
        }
    }
}

#[test]
fn the_testers_header_sends_every_one_of_their_charges_to_v2_from_the_start() {
    let r = canary();
    let matched: Vec<&Value> = routes(r, "matched").collect();
    // Orders copies `x-canary` onto its calls; its sidecar's header rule routes them.
    assert!(matched.len() > 50, "{} matched", matched.len());
    let ran = payments_ran_on(r);
    for l in &matched {
        assert_eq!((s(l, "proxy"), s(l, "detail")), ("orders".to_owned(), "v2".to_owned()));
        assert_eq!(payments_subset(ran[&n(l, "req")]), "v2", "{l}");
    }
    // Already under the first configuration (10 % by weight).
    assert!(matched.iter().any(|l| n(l, "config") == 0));
    // Every tester's charge is matched: the testers send 0.3 of the 4.3 mix weight of orders
    // (the mix's two create_order entries and the checkout journey), so their share of the
    // charges is Binomial(n, 0.3 / 4.3) — within four standard deviations.
    let total = (routes(r, "routed").count() + matched.len()) as f64;
    let p = 0.3 / 4.3;
    let tolerance = 4.0 * (total * p * (1.0 - p)).sqrt();
    let k = matched.len() as f64;
    assert!(
        (k - total * p).abs() <= tolerance,
        "{k} of {total} matched, expected {:.0}",
        total * p
    );
}

#[test]
fn a_proxy_routes_by_its_old_weights_until_the_push_lands_on_it() {
    let r = canary();
    let pushes: Vec<(u64, u64)> = routes(r, "push").map(|l| (n(l, "t"), n(l, "config"))).collect();
    assert_eq!(pushes, [(10_000_000_000, 1), (20_000_000_000, 2)]);
    // Every proxy applies every push once, 50 ms to 1.5 s after it left istiod.
    let mut applied: BTreeMap<(String, u64), u64> = BTreeMap::new();
    for l in routes(r, "applied") {
        let (t, config) = (n(l, "t"), n(l, "config"));
        let pushed = pushes[config as usize - 1].0;
        assert!((pushed + 50_000_000..=pushed + 1_500_000_000).contains(&t), "{l}");
        assert!(applied.insert((s(l, "proxy"), config), t).is_none(), "{l}");
    }
    assert_eq!(applied.len(), 2 * 7, "the gateway and the six meshed services: {applied:?}");
    // The proxies disagreed for a while: not all landed at once.
    let first: Vec<u64> = applied.iter().filter(|(k, _)| k.1 == 1).map(|(_, t)| *t).collect();
    assert!(first.iter().max() > first.iter().min());
    // Orders (the only caller of payments) routes by what it holds: config 0 until its first
    // push lands — also after the push left istiod — then 1, then 2.
    let (l1, l2) = (applied[&("orders".into(), 1)], applied[&("orders".into(), 2)]);
    let mut stale = 0;
    for l in routes(r, "routed").chain(routes(r, "matched")) {
        let t = n(l, "t");
        let held = if t < l1 {
            0
        } else if t < l2 {
            1
        } else {
            2
        };
        assert_eq!(n(l, "config"), held, "{l}");
        stale += u32::from(t >= 10_000_000_000 && t < l1);
    }
    assert!(stale > 0, "no charge routed between the push and its landing at orders");
}

#[test]
fn the_report_shows_each_push_and_when_each_proxy_applied_it_as_the_trace_says() {
    let r = canary();
    let pushes = r.report["mesh_routes"]["pushes"].as_array().expect("pushes in report.json");
    assert_eq!(pushes.len(), 2);
    for p in pushes {
        let config = n(p, "config");
        let from_trace: Vec<(String, f64)> = routes(r, "applied")
            .filter(|l| n(l, "config") == config)
            .map(|l| (s(l, "proxy"), n(l, "t") as f64 / 1e9))
            .collect();
        let reported: Vec<(String, f64)> = p["applied"]
            .as_array()
            .expect("applied")
            .iter()
            .map(|a| (s(a, "proxy"), a["at_s"].as_f64().expect("at_s")))
            .collect();
        assert_eq!(reported, from_trace);
    }
    assert!(r.md.contains("## Mesh routes"), "{}", r.md);
    // The service table counts v2's own Deployment (2 replicas) with the declared 2.
    assert_eq!(r.report["services"]["payments"]["replicas"], 4, "{:#}", r.report["services"]);
    assert!(r.md.contains("| 1 | payments | v1=50,v2=50 | 10.000 | orders |"), "{}", r.md);
    assert!(r.md.contains("| payments | 2 | v2 |"), "{}", r.md);
}

#[test]
fn a_failing_canary_fails_only_the_charges_its_share_received_and_misses_the_slo() {
    let r = flawed();
    assert_eq!(r.exit, 1, "the create_order availability objective is missed");
    let slo = r.report["slos"]
        .as_array()
        .expect("slos")
        .iter()
        .find(|v| v["endpoint"] == "orders.create_order" && v["objective"] == "availability")
        .cloned();
    assert!(slo.as_ref().is_some_and(|v| v["verdict"] == "fail"), "{slo:?}");
    // Every charge that faulted ran on a v2 replica; none on v1 did.
    let inv_replica: BTreeMap<u64, u64> = lines(r, "invocation_start")
        .filter(|l| l["service"] == "payments")
        .map(|l| (n(l, "inv"), n(l, "replica")))
        .collect();
    let faulted: Vec<u64> = lines(r, "guest_fault")
        .filter(|l| l["service"] == "payments")
        .map(|l| inv_replica[&n(l, "inv")])
        .collect();
    assert!(faulted.len() > 500, "{} faulted", faulted.len());
    assert!(faulted.iter().all(|p| payments_subset(*p) == "v2"));
    let v1_ran = inv_replica.values().filter(|p| payments_subset(**p) == "v1").count();
    assert!(v1_ran > 500 && faulted.len() == inv_replica.len() - v1_ran);
    // The good canary, same seed: no charge fault at all.
    assert_eq!(lines(canary(), "guest_fault").filter(|l| l["service"] == "payments").count(), 0);
}

#[test]
fn bad_routes_are_located_errors_before_anything_runs() {
    let dir = scratch("canary", "bad");
    std::fs::create_dir_all(&dir).expect("scratch");
    let root = crate::support::root();
    let text = std::fs::read_to_string(root.join(CANARY)).expect("scenario");
    let text = text.replace(
        "\"../shop/modules",
        &format!("\"{}", root.join("scenarios/shop/modules").display()),
    );
    for (name, from, to, needle, field) in [
        (
            "sum",
            "weights = { v1 = 90, v2 = 10 }",
            "weights = { v1 = 90, v2 = 20 }",
            "the weights sum to 110, not 100",
            "mesh.route[0].weights",
        ),
        (
            "subset",
            "weights = { v1 = 50, v2 = 50 }",
            "weights = { v1 = 50, v3 = 50 }",
            "unknown subset `v3` of `payments`",
            "mesh.push[0].weights",
        ),
        (
            "module",
            "rust/payments.wasm\"",
            "rust/payments-v3.wasm\"",
            "of subset `v2` of service `payments` not found",
            "mesh.subset[1].module",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        let line = text[..text.find(from).expect("present")].lines().count();
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
        let o = fusebench(&["check", path.to_str().expect("utf-8"), "--static"]);
        let err = stderr(&o) + &stdout(&o);
        assert_ne!(code(&o), 0, "{name}: {err}");
        let located = format!("{}:{line}:", path.display());
        let hit =
            err.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("{name}: {err}"));
        assert!(hit.starts_with(&located), "{name}: located at line {line}: {hit}");
        assert!(hit.contains(&format!("(field `{field}`)")), "{name}: {hit}");
    }
}

#[test]
fn a_module_swap_of_payments_is_refused_at_the_fault_because_it_has_subsets() {
    // A swap would put v1 and v2 on one module (Istio updates one Deployment): refused.
    let dir = scratch("canary", "swap");
    std::fs::create_dir_all(&dir).expect("scratch");
    let text = std::fs::read_to_string(crate::support::root().join(CANARY)).expect("scenario");
    let fault = "[[fault]]\nkind = \"module-swap\"\nservice = \"payments\"\nmodule = \"payments.wat\"\nat_s = 5\n\n";
    let text = text.replacen("[mesh]\nall = true\n", &format!("{fault}[mesh]\nall = true\n"), 1);
    let at = text.find("[[fault]]").expect("inserted");
    let line = text[..at].lines().count() + 1;
    let path = dir.join("swap.toml");
    std::fs::write(&path, text).expect("write");
    let o = fusebench(&["check", path.to_str().expect("utf-8"), "--static"]);
    let err = stderr(&o) + &stdout(&o);
    assert_eq!(code(&o), 2, "{err}");
    let hit = err
        .lines()
        .find(|l| l.contains("a `module-swap` of `payments`, which has version subsets (v1, v2)"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(hit.starts_with(&format!("{}:{line}:", path.display())), "{hit}");
    assert!(hit.contains("(field `fault[0].kind`)"), "{hit}");
    assert!(err.contains("as an Istio canary updates one Deployment"), "the hint: {err}");
}
