//! A property written as WebAssembly (`[[property]]`, `sim/src/properties/wasm.rs`), used as an
//! architect would: `check` fails the flawed ledger on it, shrinks and saves the counterexample,
//! `replay` reproduces it, and the fixed twin passes; a bad `[[property]]` is a located error.

use serde_json::Value;

use crate::support::{code, fusebench, stderr, stdout};

const FLAWED: &str = "scenarios/flawed/dynamic/wasm-property-ledger.toml";
const FIXED: &str = "scenarios/fixed/wasm-property-ledger.toml";
const ID: &str = "write-once-markers";

fn check(path: &str, out: &std::path::Path) -> (i32, Value) {
    let dir = out.to_str().expect("utf-8");
    let o = fusebench(&["check", path, "--cases", "4", "--format", "json", "--out", dir]);
    let json: Value =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{path}: {e}\n{}", stderr(&o)));
    (code(&o), json)
}

fn property<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["dynamic"]["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no property {id}"))
}

#[test]
fn a_webassembly_property_finds_the_flaw_shrinks_and_replays_it_and_its_twin_passes() {
    let dir = crate::support::scratch("wasm-property", "flawed");
    let (exit, json) = check(FLAWED, &dir);
    assert_eq!(exit, 1);
    let p = property(&json, ID);
    assert_eq!(p["status"], "failed", "{p:#}");
    assert!(
        p["findings"][0].as_str().expect("finding").contains("dedup marker overwritten"),
        "{p:#}"
    );
    assert_eq!(p["shown_from_counterexample"], true, "{p:#}");
    let file = json["dynamic"]["counterexample"]["replay_file"].as_str().expect("replay file");
    let o = fusebench(&["replay", file]);
    assert_eq!(code(&o), 1, "replay exits 1 when the violation reproduces: {}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("reproduced exactly"), "{text}");
    assert!(text.contains(&format!("violated: {ID}")), "{text}");

    let dir = crate::support::scratch("wasm-property", "fixed");
    let (exit, json) = check(FIXED, &dir);
    assert_eq!(exit, 0, "{json:#}");
    assert_eq!(property(&json, ID)["status"], "held");
}

#[test]
fn a_bad_property_table_is_a_located_error() {
    let dir = crate::support::scratch("wasm-property", "bad");
    std::fs::create_dir_all(&dir).expect("dir");
    let text = std::fs::read_to_string(crate::support::root().join(FIXED)).expect("fixed twin");
    let cases = [
        (text.replace("name = \"write-once-markers\"", "name = \"two words\""), "property name"),
        (text.replace("../properties/write-once-markers.wat", "nowhere.wat"), "not found"),
        (
            format!("{text}\n[[property]]\nname = \"write-once-markers\"\nmodule = \"x.wat\"\n"),
            "second property",
        ),
    ];
    for (i, (bad, why)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad-{i}.toml"));
        // Module paths stay relative to the fixed twin's directory.
        let bad = bad.replace(
            "../corpus/",
            &format!("{}/scenarios/corpus/", crate::support::root().display()),
        );
        std::fs::write(&path, bad).expect("write");
        let o = fusebench(&["check", path.to_str().expect("utf-8"), "--static"]);
        assert_eq!(code(&o), 2, "{why}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(why), "{why}: {err}");
        assert!(err.contains(&format!("bad-{i}.toml:")), "located: {err}");
    }
}

/// A checker that breaks (here `handle_end` traps) gives no verdict: the property is reported
/// not judged — `error` in JSON, `ERROR` in text, a JUnit `<error>` — nothing is shrunk for it,
/// and `check` exits 2 (bad input: the checker), as it does for a module that does not load.
#[test]
fn a_checker_that_traps_leaves_its_property_not_judged_and_check_exits_2() {
    let dir = crate::support::scratch("wasm-property", "trapping");
    std::fs::create_dir_all(&dir).expect("dir");
    let checker = r#"(module
        (memory (export "memory") 1)
        (data (i32.const 0) "{}")
        (func (export "alloc") (param i32) (result i32) (i32.const 1024))
        (func (export "handle_event") (param i32 i32) (result i64) (i64.const 2))
        (func (export "handle_end") (param i32 i32) (result i64) unreachable))"#;
    std::fs::write(dir.join("trapping.wat"), checker).expect("write checker");
    let text = std::fs::read_to_string(crate::support::root().join(FIXED)).expect("fixed twin");
    let text = text
        .replace("../properties/write-once-markers.wat", "trapping.wat")
        .replace("../corpus/", &format!("{}/scenarios/corpus/", crate::support::root().display()));
    let path = dir.join("trapping.toml");
    std::fs::write(&path, text).expect("write scenario");
    let path = path.to_str().expect("utf-8");

    let (exit, json) = check(path, &dir);
    assert_eq!(exit, 2, "{json:#}");
    let p = property(&json, ID);
    assert_eq!(p["status"], "error", "{p:#}");
    assert_eq!(p["errors"], serde_json::json!([0, 1, 2, 3]), "{p:#}");
    assert_eq!(p["findings"], serde_json::json!([]), "{p:#}");
    let why = p["notes"][0].as_str().expect("a note says why");
    assert!(
        why.starts_with("not judged: the checker could not judge the run: handle_end faulted"),
        "{why}"
    );
    assert!(json["dynamic"]["counterexample"].is_null(), "nothing to shrink: {json:#}");
    assert_eq!(property(&json, "no-loss")["status"], "held", "the other properties are judged");

    let o = fusebench(&["check", path, "--cases", "4", "--out", dir.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2);
    let out = stdout(&o);
    assert!(out.contains(&format!("ERROR {ID}")), "{out}");
    assert!(out.contains("could not be judged in 4 (first: case 0)"), "{out}");
    assert!(out.contains("not judged: the checker could not judge the run"), "{out}");
    assert!(out.contains("1 not judged (a checker broke: exit 2)"), "{out}");

    let o = fusebench(&[
        "check",
        path,
        "--cases",
        "4",
        "--format",
        "junit",
        "--out",
        dir.to_str().expect("utf-8"),
    ]);
    let xml = stdout(&o);
    assert!(xml.contains(r#"errors="1""#), "{xml}");
    assert!(xml.contains(r#"<error message="not judged: the checker could not judge"#), "{xml}");
}
