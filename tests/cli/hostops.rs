//! The host operations of issue 13 (`kv_scan`, `cache_delete`, `call_timeout`) on the static
//! side, driven as a user would: `inspect` lists them with their ABI signatures, and `check`
//! reports a module importing one without its capability exactly as it reports `kv_get`.

use serde_json::Value;

use crate::support::{code, fusebench, root, scratch, stderr, stdout};

const DESIGN: &str = "scenarios/corpus/correct/hostops-cas-tally.toml";
const MODULE: &str = "scenarios/corpus/modules/hostops-tally.wat";

#[test]
fn inspect_lists_the_new_imports_with_their_signatures() {
    let module = root().join(MODULE);
    let out = fusebench(&["inspect", module.to_str().expect("utf-8")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "fusebench.kv_scan func 2  (i32, i32, i32, i32, i32) -> i64",
        "fusebench.cache_delete func 5  (i32, i32, i32, i32) -> i32",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}

#[test]
fn an_import_of_kv_scan_without_kv_is_reported_as_kv_get_is() {
    let dir = scratch("hostops", "capability");
    let modules = root().join("scenarios/corpus/modules/");
    let design = std::fs::read_to_string(root().join(DESIGN))
        .expect("the design")
        .replace(r#"capabilities = ["kv", "cache"]"#, r#"capabilities = ["cache"]"#)
        .replace("../modules/", modules.to_str().expect("utf-8"));
    let path = dir.join("no-kv.toml");
    std::fs::write(&path, design).expect("write the design");
    let out = fusebench(&["check", "--static", "--format", "json", path.to_str().expect("utf-8")]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let capability = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "module-capability")
        .expect("module-capability");
    assert_eq!(capability["passed"], false);
    let messages: Vec<&str> = capability["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["message"].as_str().expect("message"))
        .collect();
    let of = |import: &str| {
        messages
            .iter()
            .find(|m| m.contains(&format!("`fusebench.{import}`")))
            .unwrap_or_else(|| panic!("no finding for {import}: {messages:?}"))
            .replace(import, "IMPORT")
    };
    assert_eq!(of("kv_scan"), of("kv_get"));
    assert!(of("kv_scan").contains("needs capability `kv`, not granted"), "{messages:?}");
    // The cache imports, cache_delete included, are granted.
    assert!(!messages.iter().any(|m| m.contains("cache_")), "{messages:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invoke_answers_a_scan_and_performs_a_compare_and_set_then_an_invalidation() {
    let dir = scratch("hostops", "invoke");
    let init = dir.join("init.json");
    let entries = serde_json::json!({"tally-db": {
        "n/{\"k\":\"a\"}": "41",
        "n/{\"k\":\"b\"}": "7",
        "other": "x",
    }});
    std::fs::write(&init, entries.to_string()).expect("write the store contents");
    let design = root().join(DESIGN);
    let (design, init) = (design.to_str().expect("utf-8"), init.to_str().expect("utf-8"));
    let run = |endpoint: &str, data: &str| {
        let args =
            ["invoke", "--json", "--data", data, "--store-init", init, design, "tally", endpoint];
        let out = fusebench(&args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        serde_json::from_str::<Value>(&stdout(&out)).expect("JSON")
    };
    let list = run("list", "{}");
    let expected = serde_json::json!({"entries": [
        {"key": "n/{\"k\":\"a\"}", "value": "41", "version": 0},
        {"key": "n/{\"k\":\"b\"}", "value": "7", "version": 0},
    ]});
    assert_eq!(list["response"], expected, "{list:#}");
    let add = run("add", r#"{"k":"a"}"#);
    let ops: Vec<(&str, &str)> = add["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .map(|o| (o["op"].as_str().expect("op"), o["result"].as_str().expect("result")))
        .collect();
    assert_eq!(ops, [("kv_get", "41"), ("kv_cas", "ok (42)"), ("cache_delete", "not found")]);
    let _ = std::fs::remove_dir_all(&dir);
}
