//! Temporal properties (`[[temporal]]`) through the command line: a stated uniqueness finds the
//! shipped double-charge flaw, shrinks it and replays it with the breaking writes in the story
//! (a checker written in Rust, `[[property]]`, finds it too); its fixed twin passes both; the shop's own temporal properties hold; a misspelt name is a located
//! error with a hint.

use serde_json::Value;

use crate::support::{check_json, code, fusebench, root, scratch, stderr, stdout, verdict};

const FLAWED: &str = "scenarios/flawed/temporal-double-charge.toml";
const FIXED: &str = "scenarios/fixed/temporal-double-charge.toml";

#[test]
fn the_double_charge_is_found_shrunk_and_replayed_and_its_twin_passes() {
    let dir = scratch("temporal", "flawed");
    let (exit, json) = check_json(FLAWED, &dir);
    assert_eq!(exit, 1, "a violated property exits 1: {json:#}");
    let v = verdict(&json, "charged-once");
    assert_eq!(v["status"], "failed", "{v:#}");
    assert_eq!(v["shown_from_counterexample"], true, "{v:#}");
    let finding = v["findings"][0].as_str().expect("a finding");
    assert!(finding.starts_with("uniqueness violated: at "), "{v:#}");
    // The checker written in Rust (guests/defects/charges-match-orders) sees the same defect
    // as a charge above the order's amount.
    let rust = verdict(&json, "charges-match-orders");
    assert_eq!(rust["status"], "failed", "{rust:#}");
    let said = rust["findings"][0].as_str().expect("a finding");
    assert!(
        said.contains("cents in all, placed for") && said.contains("charged more than once"),
        "{rust:#}"
    );
    // And in the state the run ended with, which the host hands to `handle_end`.
    let findings = rust["findings"].as_array().expect("findings");
    let at_end = findings.iter().filter_map(|f| f.as_str()).find(|f| f.contains("ends the run"));
    assert!(at_end.is_some_and(|f| f.contains("placed for")), "{rust:#}");
    let subjects = v["subjects"].as_array().expect("subjects");
    assert!(
        subjects.iter().all(|s| s.as_str().is_some_and(|s| s.starts_with("charged/"))),
        "{v:#}"
    );
    let ce = &json["dynamic"]["counterexample"];
    let replay_file = ce["replay_file"].as_str().expect("replay file");
    assert!(std::path::Path::new(replay_file).exists(), "{replay_file}");

    let r = fusebench(&["replay", replay_file, "--events", "2000"]);
    let story = stdout(&r);
    assert_eq!(code(&r), 1, "replay of a violation exits 1\n{}", stderr(&r));
    assert!(story.contains("reproduced exactly"), "{story}");
    assert!(story.contains("violated: charged-once"), "{story}");
    // The finding names the twice-written key; the story shows both writes of it.
    let finding = story
        .lines()
        .find(|l| l.contains("uniqueness violated"))
        .unwrap_or_else(|| panic!("no finding in {story}"));
    let key = finding
        .split("payments-db[")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .unwrap_or_else(|| panic!("no key in {finding}"));
    assert!(key.starts_with("charged/"), "{finding}");
    let writes = story.lines().filter(|l| l.contains(&format!("writes {key} "))).count();
    assert!(writes >= 2, "the story shows both writes of {key}:\n{story}");
    let _ = std::fs::remove_dir_all(&dir);

    let dir = scratch("temporal", "fixed");
    let (exit, json) = check_json(FIXED, &dir);
    assert_eq!(exit, 0, "{json:#}");
    assert_eq!(verdict(&json, "charged-once")["status"], "held", "{json:#}");
    assert_eq!(verdict(&json, "charges-match-orders")["status"], "held", "{json:#}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_misspelt_name_is_located_with_a_hint_and_an_impossible_event_warns() {
    let text = std::fs::read_to_string(root().join(FIXED)).expect("scenario");
    let dir = scratch("temporal", "errors");
    let base = root().join("scenarios/fixed");
    let write = |name: &str, text: &str| {
        // Beside the original, so the module paths still resolve.
        let path = base.join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let misspelt = text.replace("store = \"payments-db\"", "store = \"payment-db\"");
    let path = write("temporal-test-misspelt.toml", &misspelt);
    let o = fusebench(&["check", path.to_str().expect("utf-8"), "--static"]);
    let err = stderr(&o);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code(&o), 2, "{err}");
    let line = misspelt.lines().position(|l| l.contains("payment-db")).expect("line") + 1;
    let col =
        misspelt.lines().nth(line - 1).expect("line").find("\"payment-db\"").expect("col") + 1;
    let located = format!(
        "{}:{line}:{col}: error[parse.unknown-reference]: unknown store `payment-db`",
        path.display()
    );
    assert!(err.contains(&located), "missing {located:?} in:\n{err}");
    assert!(err.contains("did you mean `payments-db`?"), "{err}");

    // Writes to the broker store: nobody owns it, so the property could never be exercised.
    let impossible = text.replace("store = \"payments-db\"", "store = \"bus\"");
    let path = write("temporal-test-impossible.toml", &impossible);
    let o = fusebench(&["check", path.to_str().expect("utf-8"), "--static"]);
    let _ = std::fs::remove_file(&path);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(code(&o), 0, "a warning does not fail: {all}");
    assert!(all.contains("warning[temporal.unreachable-event]"), "{all}");
    assert!(all.contains("no service owns (writes) it"), "{all}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_shops_temporal_properties_hold() {
    let dir = scratch("temporal", "shop");
    let o = fusebench(&[
        "check",
        "scenarios/shop/shop.toml",
        "--cases",
        "1",
        "--format",
        "json",
        "--out",
        dir.to_str().expect("utf-8"),
    ]);
    let json: Value =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}\n{}", stderr(&o)));
    for id in ["paid-before-placed", "placed-order-shipped"] {
        assert_eq!(verdict(&json, id)["status"], "held", "{id}: {json:#}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
