//! The live halves of sandbox containment, no loss and dynamic coupling, on designs that are
//! not the shipped examples: each defect in `scenarios/corpus/defects/<property>/` named after
//! its property fails that property and no other (but one its header explains) over 16
//! explored cases; the `halves-*`
//! correct designs (crashes, closed loops, several nodes) raise no alarm on several seeds.

use serde_json::Value;

use crate::support::{code, fusebench, rel, scratch, stderr, stdout, tomls};

/// The properties whose halves these designs exercise.
const PROPERTIES: &[&str] = &["sandbox-containment", "no-loss", "dynamic-coupling"];

/// `fusebench check FILE --cases 16 --seed SEED` as JSON: (exit code, the dynamic section).
fn check(file: &str, seed: &str) -> (i32, Value) {
    let name = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".toml");
    let out = scratch("halves", &format!("{name}-{seed}"));
    let o = fusebench(&[
        "check",
        file,
        "--cases",
        "16",
        "--seed",
        seed,
        "--format",
        "json",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let json: Value =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{file}: {e}\n{}", stderr(&o)));
    let _ = std::fs::remove_dir_all(&out);
    (code(&o), json["dynamic"].clone())
}

fn failed(dynamic: &Value) -> Vec<String> {
    dynamic["properties"]
        .as_array()
        .expect("verdicts")
        .iter()
        .filter(|v| v["status"] == "failed")
        .filter_map(|v| v["id"].as_str().map(str::to_owned))
        .collect()
}

fn verdict<'a>(dynamic: &'a Value, id: &str) -> &'a Value {
    let all = dynamic["properties"].as_array().expect("verdicts");
    all.iter().find(|v| v["id"] == id).unwrap_or_else(|| panic!("no verdict {id}"))
}

fn texts(v: &Value, field: &str) -> Vec<String> {
    v[field].as_array().expect(field).iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()
}

#[test]
fn every_halves_defect_fails_exactly_its_property() {
    for property in PROPERTIES {
        let files: Vec<String> = tomls(&format!("scenarios/corpus/defects/{property}"))
            .iter()
            .map(|p| rel(p))
            .filter(|p| p.rsplit('/').next().is_some_and(|n| n.starts_with(property)))
            .collect();
        assert!(files.len() >= 3, "{property}: at least three defects, found {files:?}");
        for file in &files {
            let text = std::fs::read_to_string(crate::support::root().join(file)).expect("read");
            let header = text.lines().next().unwrap_or_default();
            assert_eq!(header, format!("# expect-fail: {property}"), "{file}");
            // A co-failure its header explains (`# also-fails: <ids> — <why>`, the corpus's
            // convention: `scenarios/corpus/README.md`) may fail beside it.
            let also: Vec<&str> = text
                .lines()
                .nth(2)
                .and_then(|l| l.strip_prefix("# also-fails: "))
                .and_then(|rest| rest.split_once(" — "))
                .map(|(ids, _)| ids.split(',').map(str::trim).collect())
                .unwrap_or_default();
            let (exit, dynamic) = check(file, "1");
            assert_eq!(exit, 1, "{file}: {dynamic:#}");
            let failed = failed(&dynamic);
            assert!(failed.iter().any(|id| id == property), "{file}: its property: {dynamic:#}");
            assert!(
                failed.iter().all(|id| id == property || also.contains(&id.as_str())),
                "{file}: exactly its property (and what its header explains): {dynamic:#}"
            );
        }
    }
}

#[test]
fn halves_correct_designs_raise_no_alarm() {
    let files: Vec<String> = tomls("scenarios/corpus/correct")
        .iter()
        .map(|p| rel(p))
        .filter(|p| p.rsplit('/').next().is_some_and(|n| n.starts_with("halves-")))
        .collect();
    assert!(files.len() >= 2, "{files:?}");
    for file in &files {
        for seed in ["1", "2", "3"] {
            let (exit, dynamic) = check(file, seed);
            assert_eq!(exit, 0, "{file} seed {seed}: {dynamic:#}");
            assert!(failed(&dynamic).is_empty(), "{file} seed {seed}: {dynamic:#}");
            for id in PROPERTIES {
                assert_eq!(verdict(&dynamic, id)["status"], "held", "{file}: {id} judged");
            }
        }
    }
}

#[test]
fn the_dropped_requests_system_fails_no_loss() {
    // Every client request crosses a link that loses 30 %: the clients see gateway timeouts,
    // which count as failed requests, and the silent drops as losses.
    let (exit, dynamic) =
        check("scenarios/corpus/defects/no-loss/no-loss-lossy-core-link.toml", "1");
    assert_eq!(exit, 1);
    let v = verdict(&dynamic, "no-loss");
    let findings = texts(v, "findings");
    assert!(
        findings.iter().any(|f| f.contains("client request(s) silently dropped by the system")
            && f.contains("`edge` → `core`")),
        "{v:#}"
    );
    let notes = texts(v, "notes");
    assert!(notes[0].contains("timed out at the gateway"), "{v:#}");
}

#[test]
fn the_cascade_fails_containment() {
    let file =
        "scenarios/corpus/defects/sandbox-containment/sandbox-containment-pricing-cascade.toml";
    let (exit, dynamic) = check(file, "1");
    assert_eq!(exit, 1);
    let v = verdict(&dynamic, "sandbox-containment");
    let findings = texts(v, "findings");
    assert!(
        findings.iter().any(|f| f.starts_with(
            "not contained: the faulting guest of `pricing-engine` made healthy `storefront` fail"
        )),
        "{v:#}"
    );
    let subjects = texts(v, "subjects");
    assert!(subjects.contains(&"storefront".to_owned()), "{v:#}");
}
