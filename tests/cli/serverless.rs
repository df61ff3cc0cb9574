//! `fusebench run` on the serverless example, whose resize worker scales to zero between
//! bursts: the activator holds the first images of a burst while a replica cold-starts, the
//! trace says so line by line, and the report's cold-start figures are sums over that trace.
//! The pre-warmed twin pays no activator wait.

use fusebench_sim::trace::{self, TraceEvent, TraceLine};

use crate::support::{code, fusebench, scratch, stderr, stdout};

const COLD: &str = "scenarios/serverless/serverless.toml";
const WARM: &str = "scenarios/serverless/serverless-warm.toml";

fn run(scenario: &str, out: &std::path::Path) -> (Vec<TraceLine>, serde_json::Value, String) {
    let dir = out.to_str().expect("utf-8 path");
    let o = fusebench(&["run", scenario, "--duration", "70", "--seed", "1", "--out", dir]);
    assert!([0, 1].contains(&code(&o)), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let bytes = std::fs::read(out.join("trace.jsonl")).expect("trace.jsonl");
    let lines = trace::read(&bytes).collect::<Result<_, _>>().expect("the trace reads back");
    let report = serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("json"))
        .expect("report.json parses");
    let md = String::from_utf8(std::fs::read(out.join("report.md")).expect("md")).expect("utf-8");
    (lines, report, md)
}

#[test]
fn the_worker_scales_to_zero_between_bursts_and_the_report_sums_the_cold_starts() {
    let dir = scratch("serverless", "cold");
    let (lines, report, md) = run(COLD, &dir);
    let to_zero = lines.iter().find_map(|l| match &l.event {
        TraceEvent::Scale { service, to: 0, .. } if service == "resize" => Some(l.t),
        _ => None,
    });
    let to_zero = to_zero.expect("resize scales to zero in the idle minute");
    // The second burst (60 s on) finds no replica: its first image is buffered, and the
    // activator wakes the worker.
    let (mut released, mut waited_ns, mut cold_starts, mut cost_ns) = (0u64, 0u64, 0u64, 0u64);
    let mut poked = false;
    for l in &lines {
        match &l.event {
            TraceEvent::Activator { action, waited_ns: w, .. } if action == "released" => {
                assert!(l.t > to_zero);
                released += 1;
                waited_ns += w;
            }
            TraceEvent::Scale { reason, from: 0, to: 1, .. } if reason == "activator" => {
                poked = true;
            }
            TraceEvent::ColdStart { fetch_ns, compile_ns, instantiate_ns, .. } => {
                cold_starts += 1;
                cost_ns += fetch_ns + compile_ns + instantiate_ns;
                assert!(*fetch_ns > 0 && *compile_ns > 0 && *instantiate_ns > 0);
            }
            _ => {}
        }
    }
    assert!(poked && released > 0, "the burst waited in the activator");
    let cold = &report["services"]["resize"]["cold_starts"];
    assert_eq!(cold["replicas"].as_u64(), Some(cold_starts), "{cold}");
    assert_eq!(cold["cost_nanos"].as_u64(), Some(cost_ns), "{cold}");
    assert_eq!(cold["endpoints"]["resize"]["released"].as_u64(), Some(released), "{cold}");
    assert_eq!(cold["endpoints"]["resize"]["waited_nanos_total"].as_u64(), Some(waited_ns));
    assert!(md.contains("## Cold starts"), "{md}");
    // Nothing lost: every upload's image was resized and acknowledged.
    let nacked = lines.iter().any(|l| matches!(l.event, TraceEvent::Nacked { .. }));
    assert!(!nacked);

    // The pre-warmed twin: one replica stays, no image waits in an activator.
    let dir = scratch("serverless", "warm");
    let (lines, report, _) = run(WARM, &dir);
    assert!(!lines.iter().any(|l| matches!(l.event, TraceEvent::Activator { .. })));
    let zero = lines.iter().any(|l| matches!(l.event, TraceEvent::Scale { to: 0, .. }));
    assert!(!zero, "min_replicas = 1 keeps a replica");
    assert!(
        report["services"]["resize"]["cold_starts"]
            .get("endpoints")
            .is_none_or(|e| { e.as_object().is_none_or(serde_json::Map::is_empty) })
    );
}
