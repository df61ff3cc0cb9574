//! `fusebench run` on `scenarios/edge-iot/edge-iot-elastic.toml`: the edge design under a
//! shift's load, its regional edge elastic — `devices` on the shipped Holt forecast,
//! `aggregate` on its backlog. The replicas rise with the ramp and fall back after it, the
//! ingestion objective holds, and the forecast's decisions are in the trace: against the same
//! file with the reactive HPA (the policy table removed), the first interval where the two
//! differ is in the ramp, and the forecast asks for more.

use fusebench_sim::trace::{self, TraceEvent};

use crate::support::{code, fusebench, root, scratch, stderr, stdout};

const ELASTIC: &str = "scenarios/edge-iot/edge-iot-elastic.toml";

struct Run {
    exit: i32,
    report: serde_json::Value,
    /// `(t ns, service, from, to, desired)` of every `scale` line.
    scales: Vec<(u64, String, u32, u32, u32)>,
}

/// Runs `path` (for `secs`, or its own duration) with seed 1.
fn run(path: &str, name: &str, secs: Option<&str>) -> Run {
    let out = scratch("edge-elastic", name);
    let dir = out.to_str().expect("utf-8 path");
    let mut args = vec!["run", path, "--seed", "1", "--out", dir];
    if let Some(secs) = secs {
        args.extend(["--duration", secs]);
    }
    let o = fusebench(&args);
    let exit = code(&o);
    assert!([0, 1].contains(&exit), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json"))
            .expect("json");
    let bytes = std::fs::read(out.join("trace.jsonl")).expect("trace.jsonl");
    let mut scales = Vec::new();
    for line in trace::read(&bytes) {
        let line = line.expect("the trace reads back");
        if let TraceEvent::Scale { service, from, to, desired, .. } = line.event {
            scales.push((line.t.nanos(), service, from, to, desired));
        }
    }
    Run { exit, report, scales }
}

const S: u64 = 1_000_000_000;

#[test]
fn the_regional_edge_scales_ahead_of_a_shift_and_back_within_its_objective() {
    let elastic = run(ELASTIC, "holt", None);
    assert_eq!(elastic.exit, 0, "every objective met: {:#}", elastic.report["slos"]);
    let ingest = &elastic.report["endpoints"]["ingest.submit_reading"];
    let p99 = ingest["latency"]["p99_ms"].as_f64().expect("p99");
    assert!(p99 <= 120.0, "the ingestion objective's p99: {p99} ms");
    // `devices` (from 2 replicas, down to 1 in the quiet start) rises with the ramp and comes
    // back down after it.
    let scales: Vec<&(u64, String, u32, u32, u32)> =
        elastic.scales.iter().filter(|s| s.1 == "devices").collect();
    let most = scales.iter().map(|s| s.3).max().expect("decisions");
    let peak = scales.iter().find(|s| s.3 == most).expect("reached");
    assert!(most >= 3 && (10 * S..=25 * S).contains(&peak.0), "peak in the ramp: {scales:?}");
    let up = scales.iter().find(|s| s.3 > s.2).expect("a scale-up");
    assert!((5 * S..=25 * S).contains(&up.0), "scaled up in the ramp: {scales:?}");
    assert!(scales.iter().any(|s| s.0 > 30 * S && s.3 < s.2), "scaled down after: {scales:?}");
    assert_eq!(scales.last().map(|s| s.3), Some(1), "back to one: {scales:?}");

    // The reactive twin: the same file without the policy table.
    let text = std::fs::read_to_string(root().join(ELASTIC)).expect("read");
    let policy =
        "  [service.autoscale.policy]\n  kind = \"holt-winters\"\n  alpha = 0.8\n  beta = 0.5\n";
    assert!(text.contains(policy), "the file still declares its policy this way");
    let modules = root().join("scenarios/edge-iot/modules");
    let modules = format!("module = \"{}", modules.to_str().expect("utf-8"));
    let twin = scratch("edge-elastic", "twin").join("reactive.toml");
    std::fs::write(&twin, text.replace(policy, "").replace("module = \"modules", &modules))
        .expect("write");
    // (Up to the end of the ramp: where the two first differ.)
    let reactive = run(twin.to_str().expect("utf-8"), "reactive", Some("25"));
    let devices = |r: &Run| -> Vec<(u64, u32, u32, u32)> {
        r.scales.iter().filter(|s| s.1 == "devices").map(|s| (s.0, s.2, s.3, s.4)).collect()
    };
    let (h, r) = (devices(&elastic), devices(&reactive));
    assert!(r.len() >= 4, "{r:?}");
    let first = h.iter().zip(&r).position(|(a, b)| a != b).expect("the policies differ somewhere");
    let (hd, rd) = (h[first], r[first]);
    assert_eq!(hd.0, rd.0, "the same interval");
    assert!((5 * S..=25 * S).contains(&hd.0), "first difference in the ramp: {hd:?} vs {rd:?}");
    assert!(hd.3 > rd.3, "the forecast asks for more than the last measurement: {hd:?} vs {rd:?}");
}
