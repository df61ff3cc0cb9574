//! Running the built `fusebench` binary from the repository root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `fusebench ARGS` in the repository root.
pub fn fusebench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fusebench"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the fusebench binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Every `*.toml` file directly in `dir` (relative to the root), sorted.
pub fn tomls(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .expect("directory exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

pub fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

/// A fresh, empty scratch directory for one test (`<prefix>-<name>` under cargo's test temp
/// dir): what a previous run left there is removed first.
pub fn scratch(prefix: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// `fusebench check PATH --cases 4 --seed 7 --format json --out OUT`: its exit code and JSON.
pub fn check_json(path: &str, out: &Path) -> (i32, serde_json::Value) {
    let o = fusebench(&[
        "check",
        path,
        "--cases",
        "4",
        "--seed",
        "7",
        "--format",
        "json",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let json =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{path}: {e}\n{}", stderr(&o)));
    (code(&o), json)
}

/// The dynamic verdict of property `id` in `check`'s JSON.
pub fn verdict<'a>(json: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    json["dynamic"]["properties"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no verdict {id} in {json:#}"))
}

/// The first README command line containing `marker` (with its `\` continuations joined), its
/// `fusebench` arguments (after `-- `), its line number, and the ```text block following it:
/// the output the README shows for it.
pub fn readme_command_and_output(marker: &str) -> (String, Vec<String>, usize, String) {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let lines: Vec<&str> = readme.lines().collect();
    let at = lines.iter().position(|l| l.contains(marker)).expect("the command in the README");
    let mut command = lines[at].trim_end_matches('\\').to_owned();
    let mut next = at + 1;
    while lines[next - 1].ends_with('\\') {
        command.push_str(lines[next].trim_end_matches('\\'));
        next += 1;
    }
    let command = command.split(" # ").next().unwrap_or(&command).trim_end().to_owned();
    let args: Vec<String> = command
        .split_once("-- ")
        .expect("cargo run -- ARGS")
        .1
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let open = next + lines[next..].iter().position(|l| *l == "```text").expect("its output");
    let close = open + 1 + lines[open + 1..].iter().position(|l| *l == "```").expect("fence");
    let shown: String = lines[open + 1..close].iter().map(|l| format!("{l}\n")).collect();
    (command, args, at + 1, shown)
}
