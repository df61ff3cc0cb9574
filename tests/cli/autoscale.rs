//! `fusebench run` on the edge scenario, whose regional edge autoscales: the trace carries
//! the autoscalers' decisions and the replicas' lives, the report their cost. (The same seed
//! giving the same scaling is `sim`'s `the_same_seed_gives_the_same_scaling`.)

use fusebench_sim::trace::{self, TraceEvent, TraceLine};

use crate::support::{code, fusebench, scratch, stderr, stdout};

const EDGE: &str = "scenarios/edge-iot/edge-iot.toml";

fn run_edge(out: &std::path::Path) -> Vec<TraceLine> {
    let dir = out.to_str().expect("utf-8 path");
    let o = fusebench(&["run", EDGE, "--duration", "12", "--seed", "3", "--out", dir]);
    // Exit 0 or 1 (an SLO may fail): what matters here is that it ran and wrote its files.
    assert!([0, 1].contains(&code(&o)), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let bytes = std::fs::read(out.join("trace.jsonl")).expect("trace.jsonl");
    trace::read(&bytes).collect::<Result<_, _>>().expect("the trace reads back")
}

#[test]
fn the_regional_edge_scales_with_its_load_and_the_report_counts_the_cost() {
    let dir = scratch("autoscale", "edge");
    let lines = run_edge(&dir);
    let scales: Vec<(String, u32, u32, String)> = lines
        .iter()
        .filter_map(|l| match &l.event {
            TraceEvent::Scale { service, from, to, reason, .. } => {
                Some((service.clone(), *from, *to, reason.clone()))
            }
            _ => None,
        })
        .collect();
    // Both autoscalers decide every 5 s: at 5, 10 and 15 s (12 s of workload, 5 s of drain).
    for service in ["aggregate", "devices"] {
        let n = scales.iter().filter(|s| s.0 == service).count();
        assert_eq!(n, 3, "{service}: {scales:?}");
    }
    assert!(scales.iter().any(|s| s.2 > s.1), "something scaled up: {scales:?}");
    let started = lines.iter().any(|l| {
        matches!(&l.event, TraceEvent::ReplicaState { state, replica, .. } if state == "ready" && *replica >= 2)
    });
    assert!(started, "a new replica became ready");

    let md =
        String::from_utf8(std::fs::read(dir.join("report.md")).expect("report.md")).expect("utf-8");
    assert!(md.contains("## Autoscaling"), "{md}");
    assert!(md.contains("| devices | concurrency | 1..6 | 2 |"), "{md}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("report.json"))
            .expect("json");
    let cost = report["services"]["devices"]["autoscale"]["replica_seconds"].as_f64();
    assert!(cost.is_some_and(|c| c > 0.0), "{}", report["services"]["devices"]);
    // Services without autoscaling carry no autoscale entry.
    assert!(report["services"]["ingest"].get("autoscale").is_none());
    assert!(std::fs::metadata(dir.join("replicas.svg")).is_ok());
}
