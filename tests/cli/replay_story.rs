//! `fusebench replay` tells the story around the violation (issue 12.7): the causal chain of
//! the violating request marked `*`, a marker line where the violation shows, the faults active
//! then, every event in words.

use std::path::Path;

use fusebench_sim::explore::replay::{ReplayFile, TraceWitness};

use crate::support::{code, fusebench, stderr, stdout};

/// `check` of a corpus defect into `out`; the replay file it wrote.
fn counterexample(design: &str, out: &Path) -> std::path::PathBuf {
    let o = fusebench(&["check", design, "--cases", "4", "--out", out.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 1, "{design}: {}\n{}", stdout(&o), stderr(&o));
    std::fs::read_dir(out)
        .expect("the output directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".replay.json") && !name.contains(".case-")
        })
        .unwrap_or_else(|| panic!("no replay file in {}: {}", out.display(), stdout(&o)))
}

/// The story's lines: from its heading to the end of the output.
fn story_of(text: &str) -> Vec<&str> {
    text.lines().skip_while(|l| !l.starts_with("the story")).collect()
}

#[test]
fn a_replay_marks_the_violation_and_tells_the_duplicate_s_chain() {
    let dir = crate::support::scratch("replay-story", "idempotence");
    let file = counterexample("scenarios/corpus/defects/idempotence/grpc-double-debit.toml", &dir);
    let o = fusebench(&["replay", file.to_str().expect("utf-8"), "--events", "30"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let text = stdout(&o);
    let story = story_of(&text);
    assert!(story[0].starts_with("the story around the violation at t="), "{text}");
    let marker = story
        .iter()
        .position(|l| l.contains(">>>>>> here the violation shows (idempotence) at t="))
        .unwrap_or_else(|| panic!("no marker: {text}"));
    // The chain: the call's two attempts (the first delivery and its retry) and their writes,
    // marked, before the marker; the duplicate's write right after it.
    let chain: Vec<&&str> = story.iter().filter(|l| l.starts_with("  * ")).collect();
    assert!(chain.len() >= 6, "{text}");
    assert!(
        story[..marker].iter().any(|l| l.starts_with("  * ") && l.contains("attempt 0")),
        "the first delivery before the marker: {text}"
    );
    assert!(
        story[..marker].iter().any(|l| l.starts_with("  * ") && l.contains("attempt 1")),
        "the retry before the marker: {text}"
    );
    assert!(
        story[marker + 1].starts_with("  * ") && story[marker + 1].contains("writes"),
        "the duplicate's write follows the marker: {text}"
    );
    assert!(text.contains("no fault was active when the violation showed"), "{text}");
    // Every event in words.
    assert!(story.iter().all(|l| !l.contains('{') && !l.contains('"')), "{text}");
    assert!(story.len() <= 30 + 3, "the limit holds: {text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_replay_names_the_fault_active_when_the_violation_showed() {
    let dir = crate::support::scratch("replay-story", "partition");
    let file = counterexample(
        "scenarios/corpus/defects/eventual-consistency/eventual-consistency-events-partition.toml",
        &dir,
    );
    let o = fusebench(&["replay", file.to_str().expect("utf-8"), "--events", "20"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let text = stdout(&o);
    let story = story_of(&text);
    let active = story
        .iter()
        .position(|l| *l == "  faults active when the violation showed:")
        .unwrap_or_else(|| panic!("no active faults: {text}"));
    let fault = story[active + 1];
    assert!(fault.contains("begins: partition (partition link "), "{text}");
    assert!(story.iter().any(|l| l.starts_with("  ! ") && l.contains("partition")), "{text}");
    let marker = story
        .iter()
        .position(|l| l.contains("here the violation shows (eventual-consistency)"))
        .unwrap_or_else(|| panic!("no marker: {text}"));
    assert!(
        story[marker + 1..].iter().any(|l| l.contains("MISSES")),
        "the missed copy is told after the marker: {text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--trace FILE` writes the replayed run's whole trace: the lines whose hash the replay file
/// records (so it is the counterexample's run, byte for byte), from `run_start` to `run_end`.
#[test]
fn a_replay_writes_the_whole_trace_when_asked() {
    let dir = crate::support::scratch("replay-story", "trace");
    let file = counterexample("scenarios/corpus/defects/idempotence/grpc-double-debit.toml", &dir);
    let trace = dir.join("replayed.jsonl");
    let args = ["replay", file.to_str().expect("utf-8"), "--trace", trace.to_str().expect("utf-8")];
    let o = fusebench(&args);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stdout(&o).contains("reproduced exactly"), "{}", stdout(&o));
    let bytes = std::fs::read(&trace).expect("the trace file");
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("the replay file"))
            .expect("JSON");
    assert_eq!(
        blake3::hash(&bytes).to_hex().as_str(),
        recorded["trace_blake3"].as_str().expect("a BLAKE3 witness"),
        "the written trace is the one the replay file witnesses"
    );
    let text = String::from_utf8(bytes).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains(r#""ev":"run_start""#), "{}", lines[0]);
    assert!(lines[lines.len() - 1].contains(r#""ev":"run_end""#), "{}", lines[lines.len() - 1]);
    // A file that cannot be written is an error naming it, not a panic.
    let bad = dir.join("no-such-dir").join("t.jsonl");
    let o = fusebench(&[
        "replay",
        file.to_str().expect("utf-8"),
        "--trace",
        bad.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("writing the replayed trace to"), "{}", stderr(&o));
    // A run that does not reproduce (as after an engine change: here a file sealed with
    // another witness) is refused, and its trace is still written, for finding where it went
    // another way.
    let mut other = ReplayFile::parse(&std::fs::read_to_string(&file).expect("the replay file"))
        .expect("it parses");
    other.trace = TraceWitness::Blake3("0".repeat(64));
    other.seal();
    let diverging = dir.join("diverging.replay.json");
    std::fs::write(&diverging, serde_json::to_string_pretty(&other).expect("JSON"))
        .expect("written");
    let _ = std::fs::remove_file(&trace);
    let args =
        ["replay", diverging.to_str().expect("utf-8"), "--trace", trace.to_str().expect("utf-8")];
    let o = fusebench(&args);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("the run did not reproduce"), "{err}");
    assert!(err.contains(&format!("the diverging run's trace is in {}", trace.display())), "{err}");
    assert_eq!(std::fs::read(&trace).expect("the diverging run's trace"), text.as_bytes());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_failed_property_can_be_replayed_even_one_the_counterexample_does_not_show() {
    // The stock consumer loses updates (`no-lost-update`, the counterexample's property) and,
    // in another case, counts a redelivery twice (`idempotence`): that case gets a replay file
    // of its own, as explored, named after its case.
    let design = "scenarios/corpus/defects/no-lost-update/no-lost-update-stock-queue.toml";
    let dir = crate::support::scratch("replay-every", "stock-queue");
    let out = dir.to_str().expect("utf-8");
    let o = fusebench(&["check", design, "--cases", "16", "--format", "json", "--out", out]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    let failed: Vec<&serde_json::Value> = json["dynamic"]["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .filter(|p| p["status"] == "failed")
        .collect();
    assert!(failed.len() >= 2, "{json:#}");
    assert!(
        failed.iter().any(|p| p["shown_from_counterexample"] == false),
        "a property the counterexample does not show: {json:#}"
    );
    for p in &failed {
        let id = p["id"].as_str().expect("id");
        let file = p["replay_file"].as_str().unwrap_or_else(|| panic!("{id}: no replay file"));
        if p["shown_from_counterexample"] == true {
            assert_eq!(file, json["dynamic"]["counterexample"]["replay_file"], "{id}");
        } else {
            let case = p["shown_case"].as_u64().expect("case");
            assert!(file.ends_with(&format!(".case-{case}.replay.json")), "{id}: {file}");
        }
        // The file replays its run exactly, and that run violates the property.
        let o = fusebench(&["replay", file]);
        assert_eq!(code(&o), 1, "{id}: {}\n{}", stdout(&o), stderr(&o));
        let text = stdout(&o);
        assert!(text.contains("reproduced exactly"), "{id}: {text}");
        let violated = text.lines().find(|l| l.starts_with("violated: ")).unwrap_or_default();
        assert!(violated.contains(id), "{id}: {text}");
    }
    // The text output says where each one's replay file is; JUnit names it in the failure.
    let o = fusebench(&["check", design, "--cases", "16", "--out", out]);
    let text = stdout(&o);
    let shown = failed.iter().find(|p| p["shown_from_counterexample"] == false).expect("one");
    let case_file = shown["replay_file"].as_str().expect("file");
    assert!(text.contains(&format!("        replay it: fusebench replay {case_file}")), "{text}");
    let o = fusebench(&["check", design, "--cases", "16", "--out", out, "--format", "junit"]);
    let xml = stdout(&o);
    assert_eq!(xml.matches("replay: fusebench replay ").count(), failed.len(), "{xml}");
    let _ = std::fs::remove_dir_all(&dir);
}
