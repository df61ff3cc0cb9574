//! Static and dynamic agree (issue 17): what makes `run` refuse a scenario is a located static
//! finding first, every command gives the same exit code for an unusable module, `--cases 0` is
//! refused, and `run --out` replaces its directory whole.

use std::path::{Path, PathBuf};

use crate::support::{code, fusebench, stderr, stdout};

const INVALID: &str = "scenarios/flawed/static/module-valid.toml";

fn scratch(name: &str) -> PathBuf {
    crate::support::scratch("bad-input", name)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_invalid_module_is_bad_input_for_every_command() {
    // `check` still prints its whole report (the module-valid finding among the others).
    for args in [&["check", INVALID][..], &["check", "--static", INVALID]] {
        let o = fusebench(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).contains("FAIL  module-valid"), "{}", stdout(&o));
    }
    let o = fusebench(&["check", "--static", "--format", "json", INVALID]);
    assert_eq!(code(&o), 2);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    assert_eq!(json["passed"], false);
    // `run` and `invoke` report the same finding, located in the scenario, before anything runs.
    let located = "scenarios/flawed/static/module-valid.toml:27:";
    for args in [&["run", INVALID][..], &["invoke", INVALID, "orders", "get", "--data", "{}"]] {
        let o = fusebench(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(located) && err.contains("error[module-valid]"), "{args:?}: {err}");
        assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
    }
    // `replay` of a counterexample whose scenario's module is now invalid: the same finding.
    let dir = scratch("replay");
    let replay = serde_json::json!({
        "fusebench_replay": fusebench_sim::explore::replay::FORMAT,
        "scenario": INVALID,
        "scenario_sha256": "0".repeat(64),
        "seed": 1,
        "schedule": { "duration_s": 1.0, "rate_scale": 1.0, "faults": [], "declared": true },
        "violated": [],
        "findings": [],
        "trace_blake3": "0".repeat(64),
        "fields_sha256": {},
    });
    let file = dir.join("x.replay.json");
    std::fs::write(&file, replay.to_string()).expect("replay file");
    let o = fusebench(&["replay", file.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains(located), "{}", stderr(&o));
}

/// A scenario whose module starts with 2 pages (128 KiB) of memory, limited to `limit_kib`.
fn memory_scenario(dir: &Path, limit: &str) -> String {
    let good = std::fs::read_to_string(
        crate::support::root().join("scenarios/flawed/static/modules/good.wat"),
    )
    .expect("good.wat");
    let two_pages =
        good.replace("(memory (export \"memory\") 1)", "(memory (export \"memory\") 2)");
    assert_ne!(two_pages, good);
    std::fs::write(dir.join("big.wat"), two_pages).expect("module");
    let toml = format!(
        r#"[system]
name = "memory"

[[context]]
name = "c"

[[node]]
name = "cloud"
tier = "cloud"

[gateway]
node = "cloud"

{limit}

[[service]]
name = "big"
context = "c"
node = "cloud"
module = "big.wat"

  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/get"
  public = true

[workload]
duration_s = 1
arrival = {{ kind = "poisson", rate_rps = 10 }}

  [[workload.mix]]
  service = "big"
  endpoint = "get"
"#
    );
    let path = dir.join("memory.toml");
    std::fs::write(&path, toml).expect("scenario");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn initial_memory_above_the_limit_is_a_located_static_finding() {
    let dir = scratch("memory");
    for (limit, field) in [
        ("[quality]\nmemory_max_kib = 64", "quality.memory_max_kib"),
        ("[quality]\nmemory_max_kib = 4096", "service[0].memory_max_kib"),
    ] {
        // The second case sets the limit on the service itself.
        let scenario = if field.starts_with("service") {
            let path = memory_scenario(&dir, limit);
            let text = std::fs::read_to_string(&path).expect("scenario");
            let text =
                text.replace("module = \"big.wat\"", "module = \"big.wat\"\nmemory_max_kib = 64");
            std::fs::write(&path, text).expect("scenario");
            path
        } else {
            memory_scenario(&dir, limit)
        };
        let o = fusebench(&["check", "--static", &scenario]);
        assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
        let text = stdout(&o);
        assert!(text.contains("FAIL  module-abi"), "{text}");
        // Located at the service's `module` line (line 21), naming service, module and field.
        let line = text.lines().find(|l| l.contains("memory_max_kib = 64")).expect("the finding");
        assert!(line.contains("memory.toml:21:"), "{line}");
        assert!(line.contains("module `big.wat` of `big`"), "{line}");
        assert!(line.contains(&format!("(field `{field}`)")), "{line}");
        // `run` refuses with the same finding, exit 2, before running anything.
        let o = fusebench(&["run", &scenario]);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stderr(&o).contains(line.trim()), "{}\nwanted: {line}", stderr(&o));
    }
    // At the limit exactly it loads and runs.
    let scenario = memory_scenario(&dir, "[quality]\nmemory_max_kib = 128");
    let o = fusebench(&["check", "--static", &scenario]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let o = fusebench(&["run", &scenario]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn zero_cases_is_refused_with_the_valid_range() {
    let o = fusebench(&["check", "scenarios/shop/shop.toml", "--cases", "0"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("must be at least 1"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

#[test]
fn run_out_replaces_the_directory_whole() {
    let dir = scratch("out");
    let out = dir.join("out");
    let out_arg = out.to_str().expect("utf-8");
    let scenario = "scenarios/shop/shop.toml";
    // An old multi-seed output: its seed-N directories must not survive beside a new run.
    let o = fusebench(&["run", scenario, "--duration", "1", "--seeds", "2", "--out", out_arg]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(out.join("seed-1/trace.jsonl").is_file());
    let o = fusebench(&["run", scenario, "--duration", "1", "--seed", "3", "--out", out_arg]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let files = listing(&out);
    assert!(!files.iter().any(|f| f.starts_with("seed-") || f.starts_with('.')), "{files:?}");
    assert!(files.contains(&"trace.jsonl".to_owned()), "{files:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report"))
            .expect("JSON");
    assert_eq!(report["seed"], 3);
    // Nothing staged is left next to it either.
    assert_eq!(listing(&dir), ["out"]);

    // A directory holding anything else is not replaced: the run refuses, the files stay.
    std::fs::write(out.join("notes.txt"), "mine").expect("a file of the user's");
    let before = listing(&out);
    let o = fusebench(&["run", scenario, "--duration", "1", "--out", out_arg]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("notes.txt"), "{}", stderr(&o));
    assert_eq!(listing(&out), before);
    assert_eq!(listing(&dir), ["out"]);
}
