//! The scenario hash covers what a run reads, not the bytes of the file; a replay file finds its
//! scenario relative to itself.

use std::path::{Path, PathBuf};

use super::{ReplayFile, absolute, relative_path, scenario_hash};
use crate::explore::Schedule;
use crate::setup::ModuleFiles;

const SHOP: &str = include_str!("../../../../scenarios/shop/shop.toml");

fn modules() -> ModuleFiles {
    [("modules/orders.wasm".to_owned(), vec![0, 97, 115, 109, 1, 0, 0, 0])].into_iter().collect()
}

fn hash_as(file: &str, text: &str, files: &ModuleFiles) -> String {
    let parsed = fusebench_model::parse(file, text);
    let scenario = parsed.scenario.unwrap_or_else(|| panic!("parses: {:?}", parsed.diagnostics));
    scenario_hash(&scenario, files)
}

fn hash(text: &str) -> String {
    hash_as("scenarios/shop/shop.toml", text, &modules())
}

/// `text` with `from` replaced by `to`, which must occur exactly once.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?} occurs once in the shop");
    text.replacen(from, to, 1)
}

#[test]
fn comments_layout_order_of_tables_file_name_and_descriptions_keep_the_hash() {
    let base = hash(SHOP);
    let registry = "[registry]\nheartbeat_ms = 1000\nttl_ms = 3500\ndiscovery_cache_ms = 500\n";
    let same = [
        ("a comment edited", edit(SHOP, "# --- topology", "# --- where things run")),
        ("a comment added", format!("# reviewed\n{SHOP}")),
        (
            "whitespace",
            edit(SHOP, "timeout_ms = 2000\n\n[registry]", "timeout_ms   =  2000\n\n\n[registry]"),
        ),
        (
            "keys reordered",
            edit(
                SHOP,
                "heartbeat_ms = 1000\nttl_ms = 3500\n",
                "ttl_ms = 3500\nheartbeat_ms = 1000\n",
            ),
        ),
        (
            "tables reordered",
            edit(SHOP, registry, "").replacen("[gateway]", &format!("{registry}\n[gateway]"), 1),
        ),
        ("a description", edit(SHOP, "Orders and the money for them", "Orders and payments")),
    ];
    for (what, text) in same {
        assert_ne!(text, SHOP, "{what}: the text changed");
        assert_eq!(hash(&text), base, "{what} must not invalidate a counterexample");
    }
    let elsewhere = hash_as("/somewhere/else/shop.toml", SHOP, &modules());
    assert_eq!(elsewhere, base, "the path it was read from is not its meaning");
}

#[test]
fn every_change_a_run_reads_changes_the_hash() {
    let base = hash(SHOP);
    let fault = "\n[[fault]]\nkind = \"crash\"\nservice = \"orders\"\nreplica = 0\nat_s = 3\nrestart_after_s = 1\n";
    let changed = [
        ("the arrival rate", edit(SHOP, "rate_rps = 200", "rate_rps = 201")),
        (
            "the gateway timeout",
            edit(SHOP, "timeout_ms = 2000\n\n[registry]", "timeout_ms = 2001\n\n[registry]"),
        ),
        ("a registry period", edit(SHOP, "ttl_ms = 3500", "ttl_ms = 3400")),
        ("an added fault", format!("{SHOP}{fault}")),
        ("a fault's time", edit(SHOP, "at_s = 20", "at_s = 21")),
        ("the system's name", edit(SHOP, "name = \"shop\"", "name = \"shop2\"")),
    ];
    for (what, text) in changed {
        assert_ne!(hash(&text), base, "{what} alters behaviour: the hash must change");
    }
    let mut files = modules();
    files.values_mut().for_each(|b| b[7] ^= 1);
    assert_ne!(hash_as("scenarios/shop/shop.toml", SHOP, &files), base, "a module byte changed");
}

#[test]
fn relative_paths_climb_to_the_common_ancestor() {
    let rel = |from: &str, to: &str| relative_path(Path::new(from), Path::new(to));
    assert_eq!(rel("/a/b/out", "/a/b/s.toml").as_deref(), Some("../s.toml"));
    assert_eq!(rel("/a/b", "/a/b/x/s.toml").as_deref(), Some("x/s.toml"));
    assert_eq!(rel("/tmp/r", "/work/s/s.toml").as_deref(), Some("../../work/s/s.toml"));
    assert_eq!(rel("/", "/s.toml").as_deref(), Some("s.toml"));
}

#[test]
fn a_stored_replay_names_its_scenario_relative_to_itself_and_finds_it_there() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let scenario = root.join("scenarios/shop/shop.toml");
    let r = ReplayFile {
        scenario: scenario.display().to_string(),
        scenario_sha256: String::new(),
        seed: 1,
        schedule: Schedule::declared(
            &fusebench_model::parse("shop.toml", SHOP).scenario.expect("the shop parses"),
        ),
        violated: Vec::new(),
        findings: Vec::new(),
        trace: super::TraceWitness::Blake3(String::new()),
        fields_sha256: std::collections::BTreeMap::new(),
    };
    let replay_path = root.join("target/some-out/shop.replay.json");
    let stored = r.stored_at(&replay_path);
    assert_eq!(stored.scenario, "../../scenarios/shop/shop.toml");
    let found = stored.scenario_candidates(&replay_path);
    assert_eq!(absolute(&found[0]), std::fs::canonicalize(&scenario).expect("the shop exists"));
    // A relative field that is not beside the replay file is also tried from the working
    // directory (hand-written and older files).
    let bare = ReplayFile { scenario: "nowhere/s.toml".to_owned(), ..stored };
    let tried = bare.scenario_candidates(&replay_path);
    assert_eq!(
        tried,
        [root.join("target/some-out/nowhere/s.toml"), PathBuf::from("nowhere/s.toml")]
    );
}
