//! `check`'s verdicts are over every explored case, not the counterexample's alone: a property
//! failing only in an explored case is failed in text, JSON and JUnit; "not exercised" is
//! neither a pass nor a failure (JUnit: skipped, with the reason); the counterexample line
//! counts declared and injected faults apart.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{code, fusebench, root, scratch, stderr, stdout};

/// The shipped idempotence defect without its declared duplication fault, in a scratch
/// directory: case 0 duplicates nothing, so only an explored case injecting duplication on its
/// queue finds the defect.
fn late_defect(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch("verdicts", name);
    let text =
        std::fs::read_to_string(root().join("scenarios/flawed/dynamic/payment-redelivery.toml"))
            .expect("the defect");
    let modules = root().join("scenarios/defects-modules");
    let without = text[..text.find("[[fault]]").expect("declares its fault")]
        .replace("../../defects-modules", modules.to_str().expect("utf-8"));
    let path = dir.join("late.toml");
    std::fs::write(&path, without).expect("write");
    (dir, path)
}

fn check(path: &Path, out: &Path, cases: &str, format: &str) -> std::process::Output {
    fusebench(&[
        "check",
        path.to_str().expect("utf-8"),
        "--cases",
        cases,
        "--seed",
        "1",
        "--format",
        format,
        "--out",
        out.to_str().expect("utf-8"),
    ])
}

#[test]
fn a_property_failing_only_in_an_explored_case_is_failed_in_text_json_and_junit() {
    let (dir, path) = late_defect("late");
    let out = dir.join("out");
    let json_run = check(&path, &out, "8", "json");
    assert_eq!(code(&json_run), 1, "{}", stderr(&json_run));
    let json: Value = serde_json::from_str(&stdout(&json_run)).expect("json");
    let props = json["dynamic"]["properties"].as_array().expect("properties");
    let all = fusebench_sim::properties::PROPERTIES.len();
    assert_eq!(props.len(), all, "every property, the SLO included: {props:#?}");
    let status = |s: &str| props.iter().filter(|p| p["status"] == s).count();
    let (held, failed, unexercised) = (status("held"), status("failed"), status("not-exercised"));
    assert_eq!(failed, 1, "{props:#?}");
    let idem = props.iter().find(|p| p["id"] == "idempotence").expect("idempotence");
    assert_eq!(idem["status"], "failed", "{idem:#}");
    let first = idem["failed"][0].as_u64().expect("a failing case");
    assert!(first > 0, "case 0 duplicates nothing: {idem:#}");
    assert_eq!(idem["not_exercised"][0], 0, "{idem:#}");
    let slo = props.iter().find(|p| p["id"] == "slo").expect("slo");
    // The design declares no SLO: nothing to judge in case 0 either.
    assert_eq!(slo["status"], "not-exercised", "{slo:#}");
    assert_eq!(slo["not_exercised"], serde_json::json!([0]));
    assert_eq!(slo["skipped"].as_array().expect("skipped").len(), 7);
    assert!(slo["skipped_why"].as_str().expect("why").contains("declared workload"));
    let ce = &json["dynamic"]["counterexample"];
    assert_eq!(ce["shrinking"]["from_case"], first);
    assert_eq!(
        (ce["declared_faults"].as_u64(), ce["injected_faults"].as_u64()),
        (Some(0), Some(1))
    );

    let text_run = check(&path, &out, "8", "text");
    assert_eq!(code(&text_run), 1);
    let text = stdout(&text_run);
    assert!(text.contains("  FAIL  idempotence"), "{text}");
    assert!(text.contains(&format!("(first: case {first})")), "{text}");
    assert!(text.contains(&format!("counterexample (case {first}, shrunk in ")), "{text}");
    assert!(text.contains(": 0 declared + 1 injected fault(s), "), "{text}");
    assert!(text.contains("skipped in 7 generated case(s): the quality targets"), "{text}");
    let summary = format!("dynamic: {held} held, {failed} failed, {unexercised} not exercised");
    assert!(text.contains(&summary), "{summary}\n{text}");

    let junit_run = check(&path, &out, "8", "junit");
    assert_eq!(code(&junit_run), 1);
    let xml = stdout(&junit_run);
    let suite = format!(r#"tests="{all}" failures="1" errors="0" skipped="{unexercised}""#);
    assert!(xml.contains(&suite), "{suite}\n{xml}");
    let at = xml.find(r#"name="idempotence">"#).expect("idempotence's test case");
    let case_xml = &xml[at..at + xml[at..].find("</testcase>").expect("closed")];
    assert!(case_xml.contains("<failure"), "{case_xml}");
    assert!(case_xml.contains(&format!("(first: case {first})")), "{case_xml}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn not_exercised_is_skipped_in_junit_with_the_reason_and_is_no_failure() {
    let (dir, path) = late_defect("not-exercised");
    // Only the declared case: nothing is duplicated, so idempotence judges nothing.
    let o = check(&path, &dir.join("out"), "1", "junit");
    assert_eq!(code(&o), 0, "not exercised is not a failure\n{}", stderr(&o));
    let xml = stdout(&o);
    // Idempotence and every other property nothing exercised in the declared case are skipped,
    // each with its reason; the suite counts them.
    let skipped = xml.matches("<skipped message=").count();
    assert!(skipped >= 1, "{xml}");
    assert!(xml.contains(&format!(r#"failures="0" errors="0" skipped="{skipped}""#)), "{xml}");
    let at = xml.find(r#"name="idempotence">"#).expect("idempotence's test case");
    let case_xml = &xml[at..at + xml[at..].find("</testcase>").expect("closed")];
    assert!(case_xml.contains(r#"<skipped message="not exercised: "#), "{case_xml}");
    let text = stdout(&check(&path, &dir.join("out"), "1", "text"));
    assert!(text.contains("  skip  idempotence"), "{text}");
    let held = fusebench_sim::properties::PROPERTIES.len() - skipped;
    let summary = format!("dynamic: {held} held, 0 failed, {skipped} not exercised");
    assert!(text.contains(&summary), "{summary}\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn declared_faults_are_counted_apart_from_injected_ones() {
    let dir = scratch("verdicts", "declared");
    let o = fusebench(&[
        "check",
        "scenarios/flawed/dynamic/payment-redelivery.toml",
        "--cases",
        "2",
        "--seed",
        "7",
        "--out",
        dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&o), 1);
    let text = stdout(&o);
    assert!(text.contains("the declared scenario, 1 declared + 0 injected fault(s)"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_shrink_budget_is_refused() {
    for bad in ["0", "-3", "soon", "NaN"] {
        let arg = format!("--shrink-budget={bad}");
        let o = fusebench(&["check", "scenarios/shop/shop.toml", &arg]);
        assert_eq!(code(&o), 2, "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("--shrink-budget"), "{bad}: {}", stderr(&o));
    }
}
