//! The mesh's WebAssembly filters end to end: the shipped shop behind api-key, header-router and
//! body-validator (scenarios/mesh/shop-filters.toml) — each filter's behaviour read from the
//! run's report and trace; a hostile filter contained; a filter module that is not granted its
//! imports, or not a module at all, refused before the run, naming it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::{code, fusebench, scratch, stderr, stdout};

const SHOP: &str = "scenarios/mesh/shop-filters.toml";

/// Runs `path` with `--out`; the exit code, report.json and the trace's lines.
fn run(path: &str, name: &str) -> (i32, Value, Vec<Value>) {
    let out = scratch("filters", name).join("out");
    let o = fusebench(&["run", path, "--seed", "1", "--out", out.to_str().expect("utf-8")]);
    let report = std::fs::read_to_string(out.join("report.json"))
        .unwrap_or_else(|e| panic!("{path}: no report ({e})\n{}\n{}", stdout(&o), stderr(&o)));
    let trace = std::fs::read_to_string(out.join("trace.jsonl")).expect("trace.jsonl");
    let lines = trace.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    (code(&o), serde_json::from_str(&report).expect("report.json is JSON"), lines)
}

fn of_kind<'a>(trace: &'a [Value], ev: &str) -> impl Iterator<Item = &'a Value> {
    trace.iter().filter(move |l| l["ev"] == ev)
}

#[test]
fn the_shop_behind_its_three_filters_refuses_exactly_what_each_filter_says() {
    let (_, report, trace) = run(SHOP, "shop");
    let outcomes = |endpoint: &str| report["endpoints"][endpoint]["outcomes"].clone();
    let count = |endpoint: &str, outcome: &str| outcomes(endpoint)[outcome].as_u64().unwrap_or(0);

    // Arrivals by request id: what each client sent (body) …
    let arrivals: BTreeMap<u64, &Value> =
        of_kind(&trace, "arrival").map(|l| (l["req"].as_u64().expect("req"), l)).collect();
    let answers: BTreeMap<u64, &Value> =
        of_kind(&trace, "response").map(|l| (l["req"].as_u64().expect("req"), l)).collect();
    let invoked: BTreeSet<u64> = of_kind(&trace, "invocation_start")
        .filter(|l| l["cause"] == "client")
        .map(|l| l["req"].as_u64().expect("req"))
        .collect();
    let stops = |filter: &str| -> Vec<(u64, String)> {
        of_kind(&trace, "mesh_filter")
            .filter(|l| l["filter"] == filter && l["action"] == "stop")
            .map(|l| {
                (l["req"].as_u64().expect("req"), l["detail"].as_str().expect("detail").to_owned())
            })
            .collect()
    };

    // api-key: a missing or unknown key is answered 401 (`filtered`) at the gateway, and the
    // shop never runs it; a known key passes.
    let refused = stops("api-key");
    assert!(refused.len() > 20, "{refused:?}");
    let mut why = BTreeSet::new();
    for (req, status) in &refused {
        assert_eq!(status, "401");
        let answer = answers[req];
        assert_eq!(answer["outcome"], "filtered", "{answer}");
        why.insert(answer["body"].as_str().expect("body").to_owned());
        assert!(!invoked.contains(req), "request {req} was refused yet served");
    }
    assert_eq!(
        why,
        BTreeSet::from([
            r#"{"error":"unauthorized: no x-api-key header"}"#.to_owned(),
            r#"{"error":"unauthorized: unknown api key"}"#.to_owned(),
        ])
    );
    let refused_count =
        count("catalog.get_product", "filtered") + count("inventory.stock", "filtered");
    assert_eq!(refused_count, refused.len() as u64);
    assert!(count("catalog.get_product", "ok") > 100, "{}", outcomes("catalog.get_product"));
    assert!(count("inventory.stock", "ok") > 10, "{}", outcomes("inventory.stock"));
    assert_eq!(count("orders.create_order", "filtered"), 0, "bob's key is known");

    // header-router: every catalog request through the gateway gets `x-route` — v2 exactly for
    // the canaries — and so do the orders sidecar's calls to the catalog.
    let routed: Vec<&Value> = of_kind(&trace, "mesh_filter")
        .filter(|l| l["filter"] == "header-router" && l["action"] == "modify")
        .collect();
    let mut canaries = 0;
    for l in routed.iter().filter(|l| l["proxy"] == "gateway") {
        let req = l["req"].as_u64().expect("req");
        // A gateway request's id is the client's (no retry policy at this gateway).
        let sent = arrivals.get(&req).map(|a| a["service"].clone());
        assert_eq!(sent, Some(Value::from("catalog")), "{l}");
        let detail = l["detail"].as_str().expect("detail");
        assert!(detail == "header x-route=v1" || detail == "header x-route=v2", "{detail}");
        canaries += usize::from(detail.ends_with("v2"));
    }
    assert!(canaries > 10, "canaries routed to v2: {canaries}");
    assert!(
        routed.iter().any(|l| l["proxy"] == "orders" && l["detail"] == "header x-route=v1"),
        "the orders sidecar routes its calls to the catalog too"
    );

    // body-validator: orders of more than 10 are answered 400 before orders runs; the others
    // (1 to 14 asked, contract-valid) reach it.
    let invalid = stops("body-validator");
    assert!(!invalid.is_empty());
    for (req, status) in &invalid {
        assert_eq!(status, "400");
        let body: Value = serde_json::from_str(arrivals[req]["body"].as_str().expect("body"))
            .expect("a JSON body");
        assert!(body["qty"].as_i64().expect("qty") > 10, "{body}");
        assert_eq!(answers[req]["outcome"], "bad-request");
        assert!(!invoked.contains(req), "request {req} was refused yet served");
    }
    assert_eq!(count("orders.create_order", "bad-request"), invalid.len() as u64);
    let bulk_served = of_kind(&trace, "arrival").filter(|a| {
        let body: Value =
            serde_json::from_str(a["body"].as_str().unwrap_or("{}")).unwrap_or_default();
        a["service"] == "orders" && body["qty"].as_i64().is_some_and(|q| (8..=10).contains(&q))
    });
    assert!(bulk_served.count() > 0, "bulk orders within the limit pass");

    // Every refusal is a `mesh_refused` naming the filter.
    let refusals = of_kind(&trace, "mesh_refused").count();
    assert_eq!(refusals, refused.len() + invalid.len());
}

/// A scenario with one public service and filter module `module` (written next to it).
fn one_filter(name: &str, module: &[u8], filter: &str) -> String {
    let dir = scratch("filters", name);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    std::fs::write(dir.join("f.wat"), module).expect("module");
    let path = dir.join("s.toml");
    let text = format!(
        r#"[system]
name = "one-filter"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[gateway]
node = "n"
[[service]]
name = "s"
context = "c"
node = "n"
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
[mesh]
all = true
[[mesh.filter]]
name = "f"
module = "f.wat"
{filter}
"#
    );
    std::fs::write(&path, text).expect("scenario");
    path.to_str().expect("utf-8").to_owned()
}

const PRELUDE: &str = r#"(memory (export "memory") 1)
  (data (i32.const 0) "{}")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))"#;

#[test]
fn a_looping_filter_fails_its_requests_and_the_run_goes_on() {
    // Loops on every second request its instance serves: the first of each pair passes.
    let module = format!(
        r#"(module {PRELUDE}
  (global $n (mut i32) (i32.const 0))
  (func (export "handle_request") (param i32 i32) (result i64)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (if (i32.eqz (i32.and (global.get $n) (i32.const 1))) (then (loop $l (br $l))))
    (i64.const 2)))"#
    );
    let path = one_filter("loop", module.as_bytes(), "fuel_budget = 50000");
    let (exit, report, trace) = run(&path, "loop-run");
    assert_eq!(exit, 0, "no objective declared: the run itself succeeds");
    let outcomes = &report["endpoints"]["s.get"]["outcomes"];
    assert_eq!((outcomes["ok"].as_u64(), outcomes["guest-fault"].as_u64()), (Some(10), Some(9)));
    let faults: Vec<&Value> =
        of_kind(&trace, "mesh_filter").filter(|l| l["action"] == "fault").collect();
    assert_eq!(faults.len(), 9);
    assert!(faults[0]["detail"].as_str().expect("detail").contains("fuel"), "{}", faults[0]);
}

#[test]
fn a_filter_importing_what_it_is_not_granted_fails_the_static_checks() {
    let module = format!(
        r#"(module (import "fusebench" "kv_get" (func (param i32 i32 i32 i32) (result i64))) {PRELUDE}
  (func (export "handle_request") (param i32 i32) (result i64) (i64.const 2)))"#
    );
    let path = one_filter("ungranted", module.as_bytes(), "");
    let out = fusebench(&["check", "--static", "--format", "json", &path]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let capability = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "module-capability")
        .expect("the capability check");
    assert_eq!(capability["passed"], false);
    let finding = capability["findings"][0]["message"].as_str().expect("message");
    assert!(finding.contains("`mesh filter f` imports `fusebench.kv_get`"), "{finding}");
    // And `run` refuses to start.
    let run = fusebench(&["run", &path]);
    assert_ne!(code(&run), 0);
}

#[test]
fn a_filter_module_that_is_not_a_module_is_an_error_naming_its_file() {
    let path = one_filter("garbage", b"(module (func $oops", "");
    let out = fusebench(&["check", "--static", &path]);
    assert_eq!(code(&out), 2, "{}\n{}", stdout(&out), stderr(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("f.wat") && text.contains("mesh filter f"), "{text}");
}
