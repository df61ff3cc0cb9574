//! `fusebench run` on `scenarios/predictive/`: a daily-shaped load scaled by the reactive HPA,
//! by the built-in Holt forecast and by the same forecast as a WebAssembly policy module. The
//! predictive run must not be slower at p99 than the reactive one (both computed here, from
//! the reports), and the module must take exactly the built-in policy's decisions — the
//! cross-check of the two implementations (the simulator's and guests/policies/holt-winters).

use fusebench_sim::trace::{self, TraceEvent};

use crate::support::{code, fusebench, scratch, stderr, stdout};

const DIR: &str = "scenarios/predictive";
/// The night, the morning ramp and the peak (the whole day is 240 s): enough for a debug build.
const DURATION: &str = "130";

struct Run {
    p99_ms: f64,
    replica_seconds: f64,
    report: serde_json::Value,
    /// `(t, from, to, desired, reason)` of every `scale` line.
    scales: Vec<(u64, u32, u32, u32, String)>,
    faults: usize,
}

fn run(file: &str) -> Run {
    let out = scratch("predictive", file);
    let dir = out.to_str().expect("utf-8 path");
    let scenario = format!("{DIR}/{file}");
    let o = fusebench(&["run", &scenario, "--duration", DURATION, "--seed", "1", "--out", dir]);
    assert_eq!(code(&o), 0, "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json"))
            .expect("json");
    let p99_ms = report["endpoints"]["api.serve"]["latency"]["p99_ms"].as_f64().expect("p99");
    let replica_seconds =
        report["services"]["api"]["autoscale"]["replica_seconds"].as_f64().expect("cost");
    let bytes = std::fs::read(out.join("trace.jsonl")).expect("trace.jsonl");
    let (mut scales, mut faults) = (Vec::new(), 0);
    for line in trace::read(&bytes) {
        let line = line.expect("the trace reads back");
        match line.event {
            TraceEvent::Scale { from, to, desired, reason, .. } => {
                scales.push((line.t.nanos(), from, to, desired, reason));
            }
            TraceEvent::PolicyFault { .. } => faults += 1,
            _ => {}
        }
    }
    Run { p99_ms, replica_seconds, report, scales, faults }
}

#[test]
fn the_forecast_scales_ahead_of_the_ramp_and_the_module_decides_as_the_built_in() {
    let reactive = run("daily.toml");
    let predictive = run("daily-predictive.toml");
    let module = run("daily-module.toml");
    assert!(
        predictive.p99_ms <= reactive.p99_ms,
        "holt-winters p99 {} ms, reactive {} ms",
        predictive.p99_ms,
        reactive.p99_ms
    );
    // It scaled up first: the first decision that added replicas came earlier.
    let first_up = |r: &Run| r.scales.iter().find(|s| s.2 > s.1).map(|s| s.0).expect("scales up");
    assert!(first_up(&predictive) < first_up(&reactive));
    assert!(predictive.replica_seconds > 0.0 && reactive.replica_seconds > 0.0);

    // The module and the built-in policy: the same decisions, the same run.
    assert_eq!(module.faults, 0);
    assert!(!module.scales.is_empty());
    assert_eq!(module.scales, predictive.scales);
    assert_eq!(module.p99_ms, predictive.p99_ms);
    assert_eq!(module.replica_seconds, predictive.replica_seconds);
    let autoscale = &module.report["services"]["api"]["autoscale"];
    assert_eq!(autoscale["policy"], "modules/rust/holt-winters.wasm", "{autoscale}");
    assert_eq!(autoscale["policy_faults"], 0, "{autoscale}");
    assert_eq!(predictive.report["services"]["api"]["autoscale"]["policy"], "holt-winters");
    assert!(reactive.report["services"]["api"]["autoscale"].get("policy").is_none());
}

/// A policy module gets the services' module checks before anything runs: the shipped one
/// passes them; one that reads the clock (its decisions would no longer follow from its input)
/// is refused statically, naming the service whose policy it is and the import.
#[test]
fn policy_modules_are_checked_statically_before_the_run() {
    let o = fusebench(&["check", &format!("{DIR}/daily-module.toml"), "--static"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));

    let dir = scratch("predictive", "clock-policy");
    std::fs::create_dir_all(&dir).expect("scratch");
    let wat = r#"(module (import "fusebench" "now" (func (result i64)))
        (memory (export "memory") 1)
        (func (export "alloc") (param i32) (result i32) (i32.const 1024))
        (func (export "handle_decide") (param i32 i32) (result i64) (i64.const 0)))"#;
    std::fs::write(dir.join("clock.wat"), wat).expect("write");
    let text = std::fs::read_to_string(crate::support::root().join(DIR).join("daily-module.toml"))
        .expect("read");
    let shipped = "module = \"modules/rust/holt-winters.wasm\"";
    assert!(text.contains(shipped), "the shipped policy module's line");
    let path = dir.join("clock.toml");
    std::fs::write(&path, text.replace(shipped, "module = \"clock.wat\"")).expect("write");
    let o = fusebench(&["check", path.to_str().expect("utf-8"), "--static"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains(
            "error[module-capability]: `the scaling policy of `api`` imports `fusebench.now`, which needs capability `clock`, not granted"
        ),
        "{out}"
    );
}
