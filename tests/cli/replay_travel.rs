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
