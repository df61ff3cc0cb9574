//! Replays that travel (issue 11.7): a replay file names its scenario relative to itself, so it
//! reproduces from any working directory and after the output directory moves; a scenario that
//! cannot be found is one error naming the replay file, the field and every path tried; editing
//! a comment in the scenario keeps a counterexample valid, changing a rate does not.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{code, fusebench, root, stderr, stdout};

const DEFECT: &str = "scenarios/flawed/dynamic/hot-path-slo.toml";

/// `fusebench replay FILE` run in `cwd`.
fn replay_in(cwd: &Path, file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fusebench"))
        .arg("replay")
        .arg(file)
        .current_dir(cwd)
        .output()
        .expect("the fusebench binary runs")
}

/// `check` of `scenario` writing its replay file into `out`; the replay file's path.
fn counterexample(scenario: &str, out: &Path) -> std::path::PathBuf {
    let o = fusebench(&["check", scenario, "--cases", "2", "--out", out.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let file = out.join("hot-path-slo.replay.json");
    assert!(file.is_file(), "{}", stdout(&o));
    file
}

#[test]
fn a_replay_reproduces_from_another_directory_and_after_its_directory_moves() {
    let dir = crate::support::scratch("travel", "cwd");
    let file = counterexample(DEFECT, &dir.join("out"));
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
    let field = json["scenario"].as_str().expect("scenario field");
    assert!(!Path::new(field).is_absolute(), "stored relative to the replay file: {field}");
    assert!(field.ends_with("scenarios/flawed/dynamic/hot-path-slo.toml"), "{field}");

    // From the replay file's own directory and from the filesystem root: the scenario as
    // typed (`scenarios/…`, relative to the repository) exists in neither.
    for cwd in [dir.join("out").as_path(), Path::new("/")] {
        let o = replay_in(cwd, &file);
        assert_eq!(code(&o), 1, "from {}: {}", cwd.display(), stderr(&o));
        assert!(stdout(&o).contains("reproduced exactly"), "{}", stdout(&o));
    }

    // The output directory moved one level deeper: the relative path no longer reaches the
    // scenario, and neither does it from the working directory. One error, every path.
    let deeper = dir.join("a/b");
    std::fs::create_dir_all(&deeper).expect("mkdir");
    let moved = deeper.join("moved.replay.json");
    std::fs::copy(&file, &moved).expect("copy");
    let o = replay_in(&dir, &moved);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "a single error: {err}");
    assert!(err.contains(&format!("{}:", moved.display())), "names the replay file: {err}");
    assert!(err.contains("field `scenario`") && err.contains(field), "names the field: {err}");
    let beside = deeper.join(field);
    assert!(err.contains(&beside.display().to_string()), "the path beside the file: {err}");
    assert!(err.contains("relative to the working directory"), "the fallback: {err}");
    assert!(!err.contains("os error"), "no OS error repeated: {err}");
}

#[test]
fn an_older_file_naming_the_scenario_from_the_working_directory_still_replays() {
    let dir = crate::support::scratch("travel", "fallback");
    let file = counterexample(DEFECT, &dir);
    let mut json: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
    json["scenario"] = Value::String(DEFECT.to_owned());
    std::fs::write(&file, json.to_string()).expect("write");
    let o = replay_in(&root(), &file);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stdout(&o).contains("reproduced exactly"), "{}", stdout(&o));
}

#[test]
fn a_comment_edit_keeps_a_counterexample_and_a_rate_change_invalidates_it() {
    let dir = crate::support::scratch("travel", "edits");
    // A copy of the defect whose modules are named by absolute paths.
    let modules = root().join("scenarios/defects-modules/wat/");
    let text = std::fs::read_to_string(root().join(DEFECT))
        .expect("the defect")
        .replace("\"../../defects-modules/wat/", &format!("\"{}", modules.display()));
    let scenario = dir.join("hot-path-slo.toml");
    std::fs::write(&scenario, &text).expect("copy");
    let file = counterexample(scenario.to_str().expect("utf-8"), &dir.join("out"));

    std::fs::write(&scenario, format!("# reviewed: the SLO is right, the design is not\n{text}"))
        .expect("edit");
    let o = replay_in(Path::new("/"), &file);
    assert_eq!(code(&o), 1, "a comment does not invalidate it: {}", stderr(&o));

    let rate = text.find("rate_rps = ").expect("an open-loop rate");
    let edited = format!("{}rate_rps = 1{}", &text[..rate], &text[rate + "rate_rps = ".len()..]);
    std::fs::write(&scenario, edited).expect("edit");
    let o = replay_in(Path::new("/"), &file);
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    assert!(stderr(&o).contains("different version of the scenario"), "{}", stderr(&o));
}

/// A replay file of format 3, written by fusebench before the trace's witness became BLAKE3
/// (`tests/fixtures/replay-v3/`: the file, and frozen copies of the scenario and module it was
/// found in), still reproduces: its SHA-256 is recomputed over the rerun's trace. A wrong
/// SHA-256 (fields resealed, as `fusebench` would) is refused as not reproduced, and a file that
/// mixes the formats' fields is refused as corrupted.
#[test]
fn a_replay_file_of_format_3_reproduces_by_its_sha256() {
    let fixture = root().join("tests/fixtures/replay-v3");
    let file = fixture.join("replication-order.replay.json");
    let o = replay_in(&root(), &file);
    assert_eq!(code(&o), 1, "the counterexample fails its properties again: {}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("reproduced exactly (trace SHA-256 40b06a62d4a64fc7)"), "{out}");
    assert!(out.contains("violated: eventual-consistency"), "{out}");

    let dir = crate::support::scratch("travel", "v3");
    for f in ["replication-order.toml", "prices.wasm"] {
        std::fs::copy(fixture.join(f), dir.join(f)).expect("copy the fixture");
    }
    let text = std::fs::read_to_string(&file).expect("read");
    let original: Value = serde_json::from_str(&text).expect("json");
    let write = |name: &str, v: &Value| {
        let path = dir.join(name);
        std::fs::write(&path, v.to_string()).expect("write");
        replay_in(&dir, &path)
    };

    // Another SHA-256, its field hash recomputed: the run's trace is not that one.
    let mut wrong: fusebench_sim::explore::replay::ReplayFile =
        serde_json::from_value(original.clone()).expect("a replay file");
    wrong.trace = fusebench_sim::explore::replay::TraceWitness::Sha256("ab".repeat(32));
    wrong.seal();
    let wrong = serde_json::to_value(&wrong).expect("json");
    assert_eq!(wrong["fusebench_replay"], 3, "a SHA-256 file stays format 3");
    let o = write("wrong.json", &wrong);
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "did not reproduce: trace hash 40b06a62d4a64fc7a7415deeb7efab2cf12190b5c52c89958e07024e672f7551, the replay file recorded {}",
            "ab".repeat(32)
        )),
        "{err}"
    );

    // Format 3 with format 4's field, and format 4 with format 3's: corrupted, saying why.
    let mut mixed = original.clone();
    mixed["trace_blake3"] = mixed["trace_sha256"].clone();
    let o = write("mixed.json", &mixed);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("format 3 records the trace hash as `trace_sha256` alone"),
        "{}",
        stderr(&o)
    );
    let mut relabelled = original;
    relabelled["fusebench_replay"] = serde_json::json!(4);
    let o = write("relabelled.json", &relabelled);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("format 4 records the trace hash as `trace_blake3` alone"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
