//! The state properties on the corpus: every `stateprops` defect fails its property (and no
//! other) in its declared case, and the correct `stateprops-*` designs, which stress timing
//! (concurrent compare-and-set, serial read-modify-write, LWW overwrites under a partition and
//! a crash, a write-through cache), pass every property over several seeds — with the
//! properties they exist for held, not merely "not exercised".

use std::path::{Path, PathBuf};

use fusebench_sim::explore::{Schedule, run_case};
use fusebench_sim::load::{Input, load_text, read_text};
use fusebench_sim::properties::{Status, Verdict};

fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/corpus").join(dir)
}

fn declared(path: &Path, seed: u64) -> Vec<Verdict> {
    let text = read_text(path, Input::Scenario).unwrap_or_else(|e| panic!("{e}"));
    declared_text(path, &text, seed)
}

fn declared_text(path: &Path, text: &str, seed: u64) -> Vec<Verdict> {
    let loaded = load_text(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schedule = Schedule::declared(&loaded.scenario);
    let case = run_case(&loaded.scenario, &loaded.files, &schedule, seed)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    case.verdicts
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "toml")
                && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn each_stateprops_defect_fails_its_property_and_no_other() {
    for id in ["no-lost-update", "cache-staleness", "acked-writes-survive", "eventual-consistency"]
    {
        let designs = files(&corpus(&format!("defects/{id}")), id);
        assert!(designs.len() >= 3, "{id}: {} designs", designs.len());
        for path in designs {
            let text = read_text(&path, Input::Scenario).unwrap_or_else(|e| panic!("{e}"));
            assert!(text.starts_with(&format!("# expect-fail: {id}\n# defect: ")), "{path:?}");
            // Designs only exploration catches (`-explored`) or that declare a co-failure
            // (`# also-fails:`) are judged over explored cases by tests/cli/corpus.rs.
            let explored_only = path.to_string_lossy().ends_with("-explored.toml");
            if explored_only || text.lines().nth(2).is_some_and(|l| l.starts_with("# also-fails:"))
            {
                continue;
            }
            let verdicts = declared_text(&path, &text, 1);
            let failed: Vec<&str> =
                verdicts.iter().filter(|v| v.failed()).map(|v| &*v.id).collect();
            assert_eq!(failed, [id], "{}: {verdicts:#?}", path.display());
        }
    }
}

#[test]
fn the_correct_stateprops_designs_raise_no_alarm() {
    let expect_held: [(&str, &[&str]); 2] = [
        (
            "stateprops-cas-counter.toml",
            &["no-lost-update", "acked-writes-survive", "eventual-consistency"],
        ),
        ("stateprops-lww-cache.toml", &["cache-staleness", "eventual-consistency"]),
    ];
    for (name, held) in expect_held {
        let path = corpus("correct").join(name);
        for seed in 1..=3 {
            let verdicts = declared(&path, seed);
            let failed: Vec<&Verdict> = verdicts.iter().filter(|v| v.failed()).collect();
            assert!(failed.is_empty(), "{name} seed {seed}: {failed:#?}");
            for id in held {
                let v = verdicts.iter().find(|v| v.id == *id).expect("judged");
                assert_eq!(v.status, Status::Held, "{name} seed {seed}: {v:#?}");
            }
        }
    }
}
