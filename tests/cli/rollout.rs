//! Rollouts (`[[rollout]]`) end to end: the shop rolls its catalog out to 1.4.0
//! (scenarios/shop/shop-rollout.toml) — every static check passes, `run` finishes the rollout
//! and its report's rollout section agrees with the trace, and `rollout-safe` holds; the flawed
//! twin (scenarios/flawed/rollout-breaks-orders.toml) renames the field `orders` relies on —
//! `check` names `orders` before the run, and the run fails `rollout-safe`.

use fusebench_sim::properties::{self, Status};
use fusebench_sim::setup::build_runtime;
use fusebench_sim::time::SimTime;
use fusebench_sim::trace::{self, TraceEvent, TraceMode, rollout::timelines};
use fusebench_sim::{RunOptions, RunResult, Sim};

use crate::support::{code, fusebench, root, scratch, stderr, stdout};

const SHOP: &str = "scenarios/shop/shop-rollout.toml";
const BROKEN: &str = "scenarios/flawed/rollout-breaks-orders.toml";

fn static_json(path: &str) -> (i32, serde_json::Value) {
    let o = fusebench(&["check", "--static", "--format", "json", path]);
    let json = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}); stderr: {}", stderr(&o)));
    (code(&o), json)
}

/// A run of `path` for `seconds` of workload with its full trace.
fn simulate(path: &str, seconds: f64) -> (fusebench_model::Scenario, RunResult) {
    let loaded = fusebench_sim::load::load(&root().join(path)).expect("loads");
    let rt = build_runtime(&loaded.scenario, &loaded.files).expect("the modules load");
    let mut o = RunOptions::new(1);
    o.trace = TraceMode::Full;
    o.duration = Some(SimTime::from_secs_f64(seconds));
    let run = Sim::new(loaded.scenario.clone(), Box::new(rt), &o).run();
    (loaded.scenario, run)
}

fn rollout_safe(s: &fusebench_model::Scenario, run: &RunResult) -> properties::Verdict {
    properties::check(s, run).into_iter().find(|v| v.id == "rollout-safe").expect("verdict")
}

#[test]
fn the_shops_catalog_rollout_passes_every_check_and_runs_clean() {
    let (exit, json) = static_json(SHOP);
    assert_eq!(exit, 0, "{json:#}");
    let rollout_checks: Vec<&serde_json::Value> = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["id"].as_str().is_some_and(|id| id.starts_with("rollout-")))
        .collect();
    assert_eq!(rollout_checks.len(), 4);
    assert!(rollout_checks.iter().all(|c| c["passed"] == true), "{rollout_checks:?}");

    let out = scratch("rollout", "shop");
    let dir = out.to_str().expect("utf-8");
    let o = fusebench(&["run", SHOP, "--duration", "9", "--seed", "1", "--out", dir]);
    assert_eq!(code(&o), 0, "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json"))
            .expect("json");
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(md.contains("## Rollouts"), "{md}");
    // The report's rollout section is what the trace says.
    let bytes = std::fs::read(out.join("trace.jsonl")).expect("trace.jsonl");
    let lines: Vec<trace::TraceLine> =
        trace::read(&bytes).map(|l| l.expect("the trace reads back")).collect();
    let from_trace = timelines(&lines);
    assert_eq!(from_trace.len(), 1);
    let t = &from_trace[0];
    let r = &report["rollouts"][0];
    assert_eq!(r["service"], "catalog");
    assert_eq!(r["steps"].as_u64(), Some(t.steps));
    assert!((r["started_s"].as_f64().expect("started") - t.started.as_secs_f64()).abs() < 1e-9);
    let finished = t.finished.expect("the rollout finishes within the run");
    assert!((r["finished_s"].as_f64().expect("finished") - finished.as_secs_f64()).abs() < 1e-9);
    assert!((r["skew_s"].as_f64().expect("skew") - t.skew_ns as f64 / 1e9).abs() < 1e-9);
    // Two replicas replaced one by one: each old one terminating, draining, stopped.
    let stopped = lines
        .iter()
        .filter(|l| matches!(&l.event, TraceEvent::Rollout { step, .. } if step == "stopped"))
        .count();
    assert_eq!(stopped, 2);

    let (s, run) = simulate(SHOP, 9.0);
    let v = rollout_safe(&s, &run);
    assert_eq!(v.status, Status::Held, "{v:?}");
}

#[test]
fn a_rollout_that_breaks_orders_is_named_before_the_run_and_fails_it() {
    let (exit, json) = static_json(BROKEN);
    assert_eq!(exit, 1, "{json:#}");
    let contract = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "rollout-contract")
        .expect("rollout-contract");
    assert_eq!(contract["passed"], false);
    let messages: Vec<&str> = contract["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m
            .contains("`orders` relies on response field `price_cents` of catalog.get_product")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m
                .contains("`orders` requires catalog.get_product version ^1.2, but it is 2.0.0")),
        "{messages:?}"
    );
    // Only the rollout is blamed: every other check passes.
    let failed: Vec<&str> = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(failed, ["rollout-contract"]);

    let (s, run) = simulate(BROKEN, 9.0);
    let v = rollout_safe(&s, &run);
    assert_eq!(v.status, Status::Failed, "{v:?}");
    // The new catalog answers what its rollout states (no `price_cents`): valid for it, so
    // the blame goes to the caller that relies on the field, right after the answer.
    let after = "of `orders` ended app-error";
    assert!(
        v.findings
            .iter()
            .any(|f| f.contains(after)
                && f.contains("right after the new version answered its call")),
        "{v:?}"
    );
    assert!(!v.findings.iter().any(|f| f.contains("`catalog`")), "{v:?}");
}

/// The shop's rollout with `get_product`'s 1.4.0 contract edited by `edit`, written where the
/// shop's modules resolve (absolute paths), and its static check.
fn shop_rollout_with(name: &str, edit: impl Fn(&str) -> String) -> (i32, serde_json::Value) {
    let text = std::fs::read_to_string(root().join(SHOP)).expect("shop-rollout");
    let modules = root().join("scenarios/shop/modules");
    let text = text.replace(
        "module = \"modules/",
        &format!("module = \"{}/", modules.to_str().expect("utf-8")),
    );
    let edited = edit(&text);
    assert_ne!(edited, text, "{name}: the edit applies");
    let dir = scratch("rollout-retyped", name);
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, edited).expect("write");
    static_json(path.to_str().expect("utf-8"))
}

/// A 1.4.0 that changes the type of a field `orders` relies on (`price_cents`, integer →
/// string) or sends (`sku`, string → integer) is named by `rollout-contract` before the run,
/// however compatible its version; one that retypes a field nobody sends or uses is not.
#[test]
fn a_rollout_that_retypes_a_field_orders_sends_or_uses_is_named_before_the_run() {
    let declared = "  version = \"1.4.0\"\n  response = { sku = \"string\", name = \"string\", price_cents = \"integer\", \"currency?\" = \"string\" }\n\n  [rollout.endpoints.put_product]";
    let cases = [
        (
            "response",
            "  version = \"1.4.0\"\n  response = { sku = \"string\", name = \"string\", price_cents = \"string\" }\n\n  [rollout.endpoints.put_product]",
            Some(
                "`orders` relies on response field `price_cents` of catalog.get_product as integer, but the new contract makes it string",
            ),
        ),
        (
            "request",
            "  version = \"1.4.0\"\n  request = { sku = \"integer\" }\n\n  [rollout.endpoints.put_product]",
            Some(
                "`orders` sends request field `sku` of catalog.get_product as string, but the new contract takes integer",
            ),
        ),
        (
            "unused",
            "  version = \"1.4.0\"\n  response = { sku = \"string\", name = \"integer\", price_cents = \"integer\" }\n\n  [rollout.endpoints.put_product]",
            None,
        ),
    ];
    for (name, changed, expected) in cases {
        let (exit, json) = shop_rollout_with(name, |t| t.replacen(declared, changed, 1));
        let failed: Vec<&str> = json["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter(|c| c["passed"] == false)
            .filter_map(|c| c["id"].as_str())
            .collect();
        let Some(expected) = expected else {
            assert_eq!((exit, failed), (0, vec![]), "{name}: {json:#}");
            continue;
        };
        assert_eq!((exit, failed), (1, vec!["rollout-contract"]), "{name}: {json:#}");
        let contract = json["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == "rollout-contract");
        let messages: Vec<&str> = contract.expect("rollout-contract")["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| f["message"].as_str())
            .collect();
        assert_eq!(messages.len(), 1, "{name}: {messages:?}");
        assert!(messages[0].contains(expected), "{name}: {messages:?}");
    }
}
