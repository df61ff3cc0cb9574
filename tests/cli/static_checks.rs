//! `fusebench check`: every static check fails on its flawed scenario and only there, and the
//! shipped systems pass every check.

use std::collections::BTreeSet;

use fusebench_model::checks::CHECKS;
use serde_json::Value;

use crate::support::{code, fusebench, rel, stderr, stdout, tomls};

/// Check ids whose findings are warnings: tripping them does not fail `check`.
const WARNING_ONLY: &[&str] = &["data-shared-read", "async-cycle", "mesh-retry-amplification"];

fn report(path: &str) -> (i32, Value) {
    let out = fusebench(&["check", "--static", "--format", "json", path]);
    let json: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}); stderr: {}", stderr(&out)));
    (code(&out), json)
}

fn ids_where(json: &Value, pred: impl Fn(&Value) -> bool) -> BTreeSet<String> {
    json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| pred(c))
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

#[test]
fn each_flawed_scenario_trips_exactly_its_check() {
    let files = tomls("scenarios/flawed/static");
    let mut covered = BTreeSet::new();
    for file in &files {
        let path = rel(file);
        let id = file.file_stem().and_then(|s| s.to_str()).expect("name").to_owned();
        let (exit, json) = report(&path);
        let failed = ids_where(&json, |c| c["passed"] == false);
        let with_findings =
            ids_where(&json, |c| c["findings"].as_array().is_some_and(|f| !f.is_empty()));
        if WARNING_ONLY.contains(&id.as_str()) {
            assert_eq!(exit, 0, "{path}: a warning must not fail check");
            assert!(failed.is_empty(), "{path}: failed {failed:?}");
        } else if id == fusebench_model::checks::MODULE_VALID {
            // A module that does not validate is unusable input: exit 2 (README, exit codes).
            assert_eq!(exit, 2, "{path}: an invalid module is bad input");
            assert_eq!(failed, BTreeSet::from([id.clone()]), "{path}");
        } else {
            assert_eq!(exit, 1, "{path}: a failed check exits 1");
            assert_eq!(failed, BTreeSet::from([id.clone()]), "{path}");
        }
        assert_eq!(
            with_findings,
            BTreeSet::from([id.clone()]),
            "{path}: findings only for its own check"
        );
        covered.insert(id);
    }
    let all: BTreeSet<String> = CHECKS.iter().map(|c| c.id.to_owned()).collect();
    assert_eq!(
        covered, all,
        "every static check has a flawed scenario in scenarios/flawed/static/"
    );
}

#[test]
fn findings_point_at_the_scenario_element() {
    let (_, json) = report("scenarios/flawed/static/data-ownership.toml");
    let check = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "data-ownership")
        .expect("check");
    let finding = &check["findings"][0];
    assert_eq!(finding["location"]["file"], "scenarios/flawed/static/data-ownership.toml");
    // The second `owns = ["sales-db"]` (the invoices service) is where ownership breaks.
    let text = std::fs::read_to_string(
        crate::support::root().join("scenarios/flawed/static/data-ownership.toml"),
    )
    .expect("read");
    let line = finding["location"]["line"].as_u64().expect("line") as usize;
    let source_line = text.lines().nth(line - 1).expect("line exists");
    assert!(source_line.contains("sales-db"), "line {line}: {source_line}");
    assert!(finding["message"].as_str().expect("message").contains("orders, invoices"));
}

#[test]
fn shipped_systems_pass_every_static_check() {
    for path in ["scenarios/shop/shop.toml", "scenarios/edge-iot/edge-iot.toml"] {
        let (exit, json) = report(path);
        let failed = ids_where(&json, |c| c["passed"] == false);
        assert!(failed.is_empty(), "{path}: {failed:?}\n{json:#}");
        assert_eq!(exit, 0, "{path}");
    }
}

#[test]
fn text_and_junit_formats_tell_the_same_story() {
    let out = fusebench(&["check", "scenarios/flawed/static/sync-cycle.toml"]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(text.contains("FAIL  sync-cycle"), "{text}");
    let passed = fusebench_model::checks::CHECKS.len() - 1;
    assert!(text.contains(&format!("static: {passed} passed, 1 failed")), "{text}");
    let out = fusebench(&["check", "--format", "junit", "scenarios/flawed/static/sync-cycle.toml"]);
    let xml = stdout(&out);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains(r#"failures="1""#), "{xml}");
    assert!(
        xml.contains(r#"<testcase classname="flawed-sync-cycle.static" name="sync-cycle">"#),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert_eq!(xml.matches("<testcase").count(), fusebench_model::checks::CHECKS.len(), "{xml}");
}

/// Issue 11: a WASI import with the wrong signature is a `module-abi` finding of the static
/// checks (the host would refuse to load it), so `check` reports it (exit 1) instead of failing
/// later with bad input.
#[test]
fn a_wasi_import_with_a_wrong_signature_is_a_module_abi_finding() {
    let dir = std::env::temp_dir().join(format!("fusebench-wasi-sig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = std::fs::read_to_string(
        crate::support::root().join("scenarios/flawed/static/modules/good.wat"),
    )
    .expect("good.wat");
    // fd_write is (i32, i32, i32, i32) -> i32; this one lacks a parameter.
    let wat = good.replacen(
        "(module",
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32) (result i32)))"#,
        1,
    );
    std::fs::write(dir.join("wasi.wat"), wat).expect("write module");
    let scenario = std::fs::read_to_string(
        crate::support::root().join("scenarios/flawed/static/module-abi.toml"),
    )
    .expect("scenario")
    .replace("modules/wrong-abi.wat", "wasi.wat")
    .replace(r#"capabilities = ["log"]"#, r#"capabilities = ["log", "wasi"]"#)
        + "\n[workload]\nduration_s = 1\norigin = \"cloud\"\narrival = { kind = \"poisson\", rate_rps = 10 }\n\n  [[workload.mix]]\n  service = \"orders\"\n  endpoint = \"get\"\n  weight = 1\n  body = { id = \"x\" }\n";
    let path = dir.join("wasi.toml");
    std::fs::write(&path, scenario).expect("write scenario");
    let path = path.to_str().expect("utf-8");

    let (exit, json) = report(path);
    assert_eq!(exit, 1, "{json:#}");
    let failed = ids_where(&json, |c| c["passed"] == false);
    assert_eq!(failed, BTreeSet::from(["module-abi".to_owned()]), "{json:#}");
    let abi = json["checks"].as_array().expect("checks").iter().find(|c| c["id"] == "module-abi");
    let message = abi.expect("module-abi")["findings"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("wasi_snapshot_preview1.fd_write")
            && message.contains("(i32, i32, i32) -> i32")
            && message.contains("(i32, i32, i32, i32) -> i32"),
        "{message}"
    );

    // The full check reports it too (exit 1 with a report), not exit 2 without one.
    let out = fusebench(&["check", "--cases", "1", path]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("FAIL  module-abi"), "{}", stdout(&out));
    let _ = std::fs::remove_dir_all(&dir);
}
