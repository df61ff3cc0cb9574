//! The rides scenario through the command line: two riders given one driver — a match that
//! claims its driver with a blind write — is found by the stated uniqueness property, shrunk
//! and replayed with both claims in the story; the compare-and-set twin passes under the same
//! concurrency and a dispatch crash; `run` reports the rider journey; the three modules (Rust
//! and WAT) answer a ride request together.

use serde_json::Value;

use crate::support::{check_json, code, fusebench, scratch, stderr, stdout, verdict};

const FLAWED: &str = "scenarios/flawed/rides-double-assignment.toml";
const FIXED: &str = "scenarios/fixed/rides-double-assignment.toml";
const RIDES: &str = "scenarios/rides/rides.toml";
const UNIQUE: &str = "one-ride-per-driver";
const INVARIANT: &str = "no-driver-left-on-a-finished-ride";

#[test]
fn the_double_assignment_is_found_shrunk_and_replayed_and_its_twin_passes() {
    let dir = scratch("rides", "flawed");
    let (exit, json) = check_json(FLAWED, &dir);
    assert_eq!(exit, 1, "a violated property exits 1: {json:#}");
    let v = verdict(&json, UNIQUE);
    assert_eq!(v["status"], "failed", "{v:#}");
    assert_eq!(v["shown_from_counterexample"], true, "{v:#}");
    let finding = v["findings"][0].as_str().expect("a finding");
    assert!(finding.starts_with("uniqueness violated: at "), "{v:#}");
    assert!(finding.contains("of rides.request_ride"), "{finding}");
    // The blind write is the defect, not the release: the invariant holds in the flawed twin.
    assert_eq!(verdict(&json, INVARIANT)["status"], "held", "{json:#}");
    let replay_file = json["dynamic"]["counterexample"]["replay_file"].as_str().expect("replay");

    let r = fusebench(&["replay", replay_file, "--events", "2000"]);
    let story = stdout(&r);
    assert_eq!(code(&r), 1, "replay of a violation exits 1\n{}", stderr(&r));
    assert!(story.contains("reproduced exactly"), "{story}");
    assert!(story.contains(&format!("violated: {UNIQUE}")), "{story}");
    // The finding names the driver both rides got; the story shows both claims writing it.
    let line = story
        .lines()
        .find(|l| l.contains("uniqueness violated"))
        .unwrap_or_else(|| panic!("no finding in {story}"));
    let driver = line
        .split("body.driver_id = \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no driver in {line}"));
    assert!(driver.starts_with("d-"), "{line}");
    let claims = story.lines().filter(|l| l.contains(&format!("writes driver/{driver} "))).count();
    assert!(claims >= 2, "the story shows both claims of {driver}:\n{story}");
    let _ = std::fs::remove_dir_all(&dir);

    let dir = scratch("rides", "fixed");
    let (exit, json) = check_json(FIXED, &dir);
    assert_eq!(exit, 0, "{json:#}");
    for id in [UNIQUE, INVARIANT, "no-lost-update", "idempotence", "no-loss"] {
        assert_eq!(verdict(&json, id)["status"], "held", "{id}: {json:#}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The flawed and fixed files are the same design but for dispatch's module.
#[test]
fn the_twins_differ_only_in_dispatchs_module() {
    let body = |path: &str| -> Vec<String> {
        let text = std::fs::read_to_string(crate::support::root().join(path)).expect("read");
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("description = "))
            .map(str::to_owned)
            .collect()
    };
    let (flawed, fixed) = (body(FLAWED), body(FIXED));
    assert_eq!(flawed.len(), fixed.len());
    let differ: Vec<(&String, &String)> =
        flawed.iter().zip(&fixed).filter(|(a, b)| a != b).collect();
    assert_eq!(
        differ,
        [(
            &"module = \"../rides/modules/rust/dispatch-racy.wasm\"".to_owned(),
            &"module = \"../rides/modules/rust/dispatch.wasm\"".to_owned()
        )]
    );
}

#[test]
fn run_reports_the_rider_journey_as_report_json_does() {
    let dir = scratch("rides", "run");
    let o = fusebench(&["run", RIDES, "--out", dir.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("report.json")).expect("report.json"),
    )
    .expect("json");
    let j = &report["journeys"]["ride"];
    let started = j["started"].as_u64().expect("started");
    let completed = j["completed"].as_u64().expect("completed");
    assert!(started > 50 && completed > 0 && completed <= started, "{j:#}");
    // A fleet of 20 for ~8 rides a second of ~2.3 s each: some riders get `no_driver`.
    let at_request = &j["failed_by_step"][0];
    assert_eq!(at_request["step"], "request_ride", "{j:#}");
    assert!(at_request["failed"].as_u64().expect("failed") > 0, "{j:#}");

    let header = out.lines().position(|l| l.starts_with("journey ")).expect("journey table");
    let row: Vec<&str> = out.lines().nth(header + 1).expect("row").split_whitespace().collect();
    let expected = [
        "ride".to_owned(),
        started.to_string(),
        completed.to_string(),
        j["failed"].to_string(),
        j["unfinished"].to_string(),
        format!("{:.1}", j["completion_rate"].as_f64().expect("rate") * 100.0),
        format!("{:.2}", j["latency"]["p50_ms"].as_f64().expect("p50")),
        format!("{:.2}", j["latency"]["p95_ms"].as_f64().expect("p95")),
        format!("{:.2}", j["latency"]["p99_ms"].as_f64().expect("p99")),
    ];
    assert_eq!(row, expected, "{out}");
    let steps = out.lines().nth(header + 2).expect("failed steps");
    assert!(
        steps.starts_with(&format!("    failed at step: request_ride {}", at_request["failed"])),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_ride_request_runs_through_the_rust_and_wat_modules() {
    let o = fusebench(&[
        "invoke",
        RIDES,
        "rides",
        "request_ride",
        "--data",
        r#"{"rider_id":"u-1","distance_km":5}"#,
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let json: Value = serde_json::from_str(&stdout(&o)).expect("json");
    let response = &json["response"];
    // The WAT pricing module's tariff (250 + 120 per km) and the first driver of the fleet.
    assert_eq!(response["fare_cents"], 850, "{json:#}");
    assert_eq!(response["driver_id"], "d-01", "{json:#}");
    assert_eq!(response["status"], "assigned", "{json:#}");
    let ops: Vec<String> = json["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .map(|op| format!("{} {} {}", op["service"], op["op"], op["target"]))
        .collect();
    assert!(ops.contains(&r#""pricing" "kv_get" "pricing-db""#.to_owned()), "{ops:?}");
    assert!(ops.contains(&r#""dispatch" "kv_scan" "drivers-db""#.to_owned()), "{ops:?}");
    assert!(ops.contains(&r#""dispatch" "kv_cas_version" "drivers-db""#.to_owned()), "{ops:?}");
}

#[test]
fn the_wat_pricing_module_refuses_what_it_cannot_price() {
    let quote = |data: &str| -> String {
        let o = fusebench(&["invoke", RIDES, "pricing", "quote", "--data", data, "--json"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let json: Value = serde_json::from_str(&stdout(&o)).expect("json");
        json["response"].to_string()
    };
    assert_eq!(
        quote(r#"{"distance_km":12,"note":"a \"quoted\" {note}"}"#),
        r#"{"distance_km":12,"fare_cents":1690}"#
    );
    let range = r#"{"error":"bad_request: distance_km must be an integer within 1..=500"}"#;
    for bad in ["0", "501", "5.5", r#""5""#, "-3"] {
        assert_eq!(quote(&format!(r#"{{"distance_km":{bad}}}"#)), range, "{bad}");
    }
    assert_eq!(quote("{}"), r#"{"error":"bad_request: missing field `distance_km`"}"#);
    assert_eq!(quote("[5]"), r#"{"error":"bad_request: malformed JSON"}"#);

    // A tariff that is not a decimal within 0..=1e9 is a corrupt record, not a price.
    let dir = scratch("rides", "tariff");
    for tariff in ["twelve", "-1", "1000000001"] {
        let init = dir.join("init.json");
        let text = format!(r#"{{"pricing-db":{{"tariff/per_km_cents":"{tariff}"}}}}"#);
        std::fs::write(&init, text).expect("write");
        let data = r#"{"distance_km":5}"#;
        let init = init.to_str().expect("utf-8");
        let o = fusebench(&[
            "invoke",
            RIDES,
            "pricing",
            "quote",
            "--data",
            data,
            "--store-init",
            init,
            "--json",
        ]);
        let json: Value = serde_json::from_str(&stdout(&o)).expect("json");
        assert_eq!(json["response"], serde_json::json!({"error": "corrupt_record"}), "{tariff}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
