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
