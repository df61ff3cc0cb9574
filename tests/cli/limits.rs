//! Hostile inputs (issue 17): replay files whose schedule is invalid, out of range or edited are
//! refused before anything runs, naming the field; scenarios whose expected cost is over a
//! resource limit are refused naming the field, its line and the limit.

use fusebench_sim::explore::replay::ReplayFile;
use serde_json::{Value, json};

use crate::support::{code, fusebench, stderr};

fn temp_dir(name: &str) -> std::path::PathBuf {
    crate::support::scratch("limits", name)
}

/// A real replay file, from `check` on a defect (`checkout` has 2 replicas).
fn replay_file(dir: &std::path::Path) -> Value {
    let o = fusebench(&[
        "check",
        "scenarios/flawed/dynamic/undeclared-call.toml",
        "--cases",
        "2",
        "--format",
        "json",
        "--out",
        dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.join("undeclared-call.replay.json")).expect("written");
    serde_json::from_str(&text).expect("json")
}

/// Writes `v` as a replay file and replays it.
fn replay(dir: &std::path::Path, name: &str, v: &Value) -> (i32, String) {
    let path = dir.join(name);
    std::fs::write(&path, v.to_string()).expect("write");
    let o = fusebench(&["replay", path.to_str().expect("utf-8")]);
    (code(&o), stderr(&o))
}

/// `v` with its field hashes recomputed, as an attacker who knows the format would.
fn resealed(v: &Value) -> Value {
    let mut r: ReplayFile = serde_json::from_value(v.clone()).expect("a replay file");
    r.seal();
    serde_json::to_value(&r).expect("json")
}

#[test]
fn a_replay_schedule_is_validated_limited_and_hash_checked_before_it_runs() {
    let dir = temp_dir("replay");
    let good = replay_file(&dir);
    assert_eq!(good["fusebench_replay"], fusebench_sim::explore::replay::FORMAT);

    // A crash of replica 99 of the 2-replica `checkout` (it once panicked the serving code):
    // refused with the field and the parser's reason, whether or not the hashes were recomputed.
    let mut crash = good.clone();
    crash["schedule"]["declared"] = json!(false);
    crash["schedule"]["faults"] = json!([{
        "kind": "crash", "service": "checkout", "replica": 99, "at_s": 0.5, "restart_after_s": 0.5
    }]);
    for (name, v) in [("crash.json", crash.clone()), ("crash-sealed.json", resealed(&crash))] {
        let (exit, err) = replay(&dir, name, &v);
        assert_eq!(exit, 2, "{err}");
        assert!(err.contains(name), "names the file: {err}");
        assert!(err.contains("schedule.faults[0].replica"), "names the field: {err}");
        assert!(err.contains("replica 99 does not exist: `checkout` has 2 replica(s)"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }

    // An unknown service, through the same validation.
    let mut unknown = crash.clone();
    unknown["schedule"]["faults"][0]["service"] = json!("nope");
    let (exit, err) = replay(&dir, "unknown.json", &resealed(&unknown));
    assert_eq!(exit, 2, "{err}");
    assert!(err.contains("schedule.faults[0]: unknown service `nope`"), "{err}");

    // A duration of 10^9 s: refused at once, naming the field and the limit.
    let mut long = good.clone();
    long["schedule"]["duration_s"] = json!(1e9);
    let (exit, err) = replay(&dir, "long.json", &resealed(&long));
    assert_eq!(exit, 2, "{err}");
    assert!(err.contains("schedule.duration_s"), "{err}");
    assert!(err.contains("0.001..=10000000 seconds"), "names the limit: {err}");

    // A negative rate scale.
    let mut negative = good.clone();
    negative["schedule"]["rate_scale"] = json!(-1.0);
    let (exit, err) = replay(&dir, "negative.json", &resealed(&negative));
    assert_eq!(exit, 2, "{err}");
    assert!(err.contains("schedule.rate_scale: -1 is not a positive finite factor"), "{err}");

    // A valid but edited schedule (twice the duration: shrinking may have left the shortest
    // one, which halving would not change): refused as edited, naming the field, before
    // running (the trace hash would only notice after the run).
    let mut edited = good.clone();
    let d = good["schedule"]["duration_s"].as_f64().expect("duration");
    edited["schedule"]["duration_s"] = json!((d * 2.0 * 10.0).round() / 10.0);
    let (exit, err) = replay(&dir, "edited.json", &edited);
    assert_eq!(exit, 2, "{err}");
    assert!(err.contains("edited or made for another scenario"), "{err}");
    assert!(err.contains("schedule.duration_s"), "{err}");
    assert!(!err.contains("seed,"), "only the edited field is named: {err}");

    // A different seed, likewise.
    let mut seeded = good.clone();
    seeded["seed"] = json!(good["seed"].as_u64().expect("seed") + 1);
    let (exit, err) = replay(&dir, "seed.json", &seeded);
    assert_eq!(exit, 2, "{err}");
    assert!(err.contains("edited or made for another scenario: seed no longer"), "{err}");

    // A file of the previous format is refused as such.
    let mut old = good.clone();
    old["fusebench_replay"] = json!(1);
    let (exit, err) = replay(&dir, "v1.json", &old);
    assert_eq!(exit, 2, "{err}");
    let expected = format!(
        "format version 1; this fusebench reads versions {} and {}",
        fusebench_sim::explore::replay::FORMAT,
        fusebench_sim::explore::replay::FORMAT_SHA256
    );
    assert!(err.contains(&expected), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A copy of `dir/file` with one line replaced, in a scratch directory; its module paths are
/// made absolute so they still resolve (the repository's tree is never written to).
fn variant(dir: &str, file: &str, from: &str, to: &str) -> String {
    let src_dir = crate::support::root().join(dir);
    let src = std::fs::read_to_string(src_dir.join(file)).expect("read");
    assert!(src.contains(from), "{from}");
    let text: String = src
        .replacen(from, to, 1)
        .lines()
        .map(|l| match l.strip_prefix("module = \"").and_then(|r| r.strip_suffix('"')) {
            Some(rel) => format!("module = {:?}\n", src_dir.join(rel).display().to_string()),
            None => format!("{l}\n"),
        })
        .collect();
    let path = temp_dir("variant").join(file);
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn scenarios_over_a_resource_limit_are_refused_up_front_naming_field_line_and_limit() {
    let from = r#"arrival = { kind = "poisson", rate_rps = 220 }"#;
    let fast = variant(
        "scenarios/fixed",
        "hot-path-slo.toml",
        from,
        r#"arrival = { kind = "poisson", rate_rps = 1e6 }"#,
    );
    let line = std::fs::read_to_string(crate::support::root().join(&fast))
        .expect("read")
        .lines()
        .position(|l| l.contains("rate_rps = 1e6"))
        .expect("line")
        + 1;
    for args in [vec!["run", &fast], vec!["check", &fast, "--cases", "2"]] {
        let o = fusebench(&args);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{args:?}: {err}");
        assert!(err.contains(&format!("{fast}:{line}:")), "{args:?}: file:line: {err}");
        assert!(err.contains("workload.arrival.rate_rps"), "{err}");
        assert!(err.contains("over the limit of 1000000"), "{err}");
        assert!(err.contains("--limits-off"), "{err}");
    }
    let _ = std::fs::remove_file(&fast);

    let o = fusebench(&["check", "scenarios/fixed/hot-path-slo.toml", "--cases", "1000000"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--cases = 1000000"), "{}", stderr(&o));
}
