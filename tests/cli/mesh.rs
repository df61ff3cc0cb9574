//! The service mesh end to end: the mesh shop rides out the replica crash that costs the
//! mesh-less shop availability; the retry storm is warned about before running and measured
//! when exploring, and its retry-budget twin passes; a bad `[mesh]` is bad input, located.

use serde_json::Value;

use crate::support::{code, fusebench, scratch, stderr, stdout};

/// Runs `path` for `secs` with `--out`; returns the exit code and report.json.
pub(crate) fn run_report(path: &str, name: &str, secs: &str) -> (i32, Value) {
    let dir = scratch("mesh", name);
    let out = dir.join("out");
    let o = fusebench(&[
        "run",
        path,
        "--duration",
        secs,
        "--seed",
        "1",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let text = std::fs::read_to_string(out.join("report.json"))
        .unwrap_or_else(|e| panic!("{path}: no report ({e})\n{}\n{}", stdout(&o), stderr(&o)));
    (code(&o), serde_json::from_str(&text).expect("report.json is JSON"))
}

#[test]
fn the_mesh_shop_rides_out_the_crash_that_costs_the_mesh_less_shop_availability() {
    let (plain_exit, plain) = run_report("scenarios/mesh/shop-crash.toml", "plain", "20");
    let (mesh_exit, mesh) = run_report("scenarios/mesh/shop-mesh.toml", "mesh", "20");
    let catalog = |r: &Value| r["endpoints"]["catalog.get_product"].clone();
    let (p, m) = (catalog(&plain), catalog(&mesh));
    let availability = |e: &Value| e["availability"].as_f64().expect("availability");
    let timeouts = |e: &Value| e["outcomes"]["timeout"].as_u64().unwrap_or(0);
    assert!(timeouts(&p) > 20, "the crash costs the mesh-less shop timeouts: {p:#}");
    assert!(availability(&p) < 0.999, "{p:#}");
    assert_eq!(plain_exit, 1, "the catalog's availability objective is missed");
    assert_eq!(timeouts(&m), 0, "{m:#}");
    assert!(availability(&m) >= 0.999, "{m:#}");
    assert_eq!(mesh_exit, 0, "every objective met in the mesh");
    // The tail the users waited: timeouts of 2 s without the mesh, a retry or two with it.
    let p99_all = |e: &Value| e["latency_all"]["p99_ms"].as_f64().expect("p99");
    assert!(p99_all(&m) < p99_all(&p), "{} vs {}", p99_all(&m), p99_all(&p));
}

fn check_json(path: &str, name: &str) -> (i32, Value) {
    let dir = scratch("mesh", name);
    let o = fusebench(&[
        "check",
        path,
        "--cases",
        "2",
        "--seed",
        "3",
        "--format",
        "json",
        "--out",
        dir.join("out").to_str().expect("utf-8"),
    ]);
    let json =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{path}: {e}\n{}", stderr(&o)));
    (code(&o), json)
}

fn verdict<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["dynamic"]["properties"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no verdict {id}"))
}

fn amplification_warning(json: &Value) -> String {
    let check = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "mesh-retry-amplification")
        .expect("the check");
    assert_eq!(check["passed"], true, "a warning does not fail the check");
    check["findings"][0]["message"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn the_retry_storm_is_warned_about_and_measured_and_its_budgeted_twin_holds() {
    let (exit, json) = check_json("scenarios/flawed/retry-storm.toml", "storm");
    assert_eq!(exit, 1, "{json:#}");
    let warning = amplification_warning(&json);
    assert!(
        warning.contains("gateway → edge.page → mid.details → leaf.price as 27 requests"),
        "{warning}"
    );
    let v = verdict(&json, "retry-amplification");
    assert_eq!(v["status"], "failed", "{v:#}");
    let failed: Vec<&str> = json["dynamic"]["properties"]
        .as_array()
        .expect("verdicts")
        .iter()
        .filter(|v| v["status"] == "failed")
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert_eq!(failed, ["retry-amplification"], "only the storm is wrong");

    let (exit, json) = check_json("scenarios/fixed/retry-storm.toml", "budgeted");
    assert!(!amplification_warning(&json).is_empty(), "the policies alone still multiply");
    let v = verdict(&json, "retry-amplification");
    assert_eq!(v["status"], "held", "{v:#}");
    assert_eq!(exit, 0, "{json:#}");
}

#[test]
fn a_bad_mesh_is_bad_input_located_with_a_hint() {
    let dir = scratch("mesh", "bad");
    std::fs::create_dir_all(&dir).expect("dir");
    let text =
        std::fs::read_to_string(crate::support::root().join("scenarios/flawed/retry-storm.toml"))
            .expect("read")
            .replace(
                "per_try_timeout_ms = 90 }",
                "per_try_timeout_ms = 90, retry_onn = [\"5xx\"] }",
            );
    let path = dir.join("bad.toml");
    std::fs::write(&path, text).expect("write");
    let o = fusebench(&["check", path.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o) + &stdout(&o);
    assert!(err.contains("bad.toml:"), "{err}");
    assert!(err.contains("unknown field `retry_onn`"), "{err}");
    assert!(err.contains("did you mean `retry_on`?"), "{err}");
}

/// The mesh shop with its catalog's node (`edge-paris`) given `cores` cores and sidecars
/// spending `cpu_us` of CPU per crossing, written to a scratch file; run for 6 s: the catalog's
/// p99 latency of every answer (ms).
fn catalog_p99_with_sidecar_cpu(cores: u32, cpu_us: u32) -> f64 {
    let root = crate::support::root();
    let text = std::fs::read_to_string(root.join("scenarios/mesh/shop-mesh.toml")).expect("read");
    let node = "name = \"edge-paris\"\ntier = \"regional-edge\"\ncpu_cores = 8\n";
    assert!(text.contains(node), "shop-mesh.toml still declares edge-paris this way");
    let modules = root.join("scenarios/shop/modules");
    let text = text
        .replace(
            node,
            &format!("name = \"edge-paris\"\ntier = \"regional-edge\"\ncpu_cores = {cores}\n"),
        )
        .replace(
            "sidecar_latency_ms = 0.2\n",
            &format!("sidecar_latency_ms = 0.2\nsidecar_cpu_us = {cpu_us}\n"),
        )
        .replace("../shop/modules", modules.to_str().expect("utf-8"));
    let name = format!("cpu-{cores}-{cpu_us}");
    let path = scratch("mesh", &name).join("shop.toml");
    std::fs::write(&path, text).expect("write");
    let (_, report) = run_report(path.to_str().expect("utf-8"), &format!("{name}-run"), "6");
    report["endpoints"]["catalog.get_product"]["latency_all"]["p99_ms"].as_f64().expect("p99")
}

#[test]
fn costly_sidecars_raise_the_p99_most_on_a_small_node() {
    // Each catalog request crosses its sidecar twice (in, and its answer out): 2 ms of CPU each
    // adds 4 ms on an idle core; on one core shared by the sidecars and the catalog's guests
    // (≈ 115 catalog requests a second: the core about half busy with sidecar work alone) each
    // one's work waits for the others' (processor sharing) and the tail grows far more.
    let (big_free, big_costly) =
        (catalog_p99_with_sidecar_cpu(8, 0), catalog_p99_with_sidecar_cpu(8, 2000));
    let (small_free, small_costly) =
        (catalog_p99_with_sidecar_cpu(1, 0), catalog_p99_with_sidecar_cpu(1, 2000));
    let (big_rise, small_rise) = (big_costly - big_free, small_costly - small_free);
    assert!(big_rise >= 3.9, "4 ms of sidecar CPU per request: {big_free} → {big_costly} ms");
    assert!(
        small_rise > 2.0 * big_rise,
        "on one core the p99 rises more ({small_free} → {small_costly} ms) than on eight \
         ({big_free} → {big_costly} ms)"
    );
}

/// `edge` (public) → `mid` → `leaf` → `db`, every call over `rest` (`retries = 3`), then `tail`.
fn channel_chain(tail: &str) -> String {
    let mut text = String::from(
        "[system]\nname = \"chain\"\n[[context]]\nname = \"c\"\n[[node]]\nname = \"n\"\ntier = \"cloud\"\n\
         [gateway]\nnode = \"n\"\n[quality]\ncoupling_max = 0.9\n\
         [[channel]]\nname = \"rest\"\nkind = \"rest\"\ntimeout_ms = 300\nretries = 3\n",
    );
    for (svc, next) in
        [("edge", Some("mid")), ("mid", Some("leaf")), ("leaf", Some("db")), ("db", None)]
    {
        text += &format!(
            "[[service]]\nname = \"{svc}\"\ncontext = \"c\"\nnode = \"n\"\nservice_time = {{ distribution = {{ dist = \"constant\", ms = 1.0 }} }}\n  [[service.endpoint]]\n  name = \"go\"\n"
        );
        if svc == "edge" {
            text += "  method = \"GET\"\n  path = \"/go\"\n  public = true\n";
        }
        if let Some(next) = next {
            text += &format!(
                "  [[service.call]]\n  service = \"{next}\"\n  endpoint = \"go\"\n  channel = \"rest\"\n"
            );
        }
    }
    text + tail
}

#[test]
fn channel_retries_multiplying_along_a_path_are_warned_about_with_or_without_a_mesh() {
    let dir = scratch("mesh", "channel-storm");
    for (name, tail) in [("plain", ""), ("meshed", "[mesh]\nall = true\n")] {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, channel_chain(tail)).expect("write");
        let o =
            fusebench(&["check", path.to_str().expect("utf-8"), "--static", "--format", "json"]);
        let json: Value = serde_json::from_str(&stdout(&o))
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", stderr(&o)));
        assert_eq!(code(&o), 0, "{name}: a warning does not fail check: {json:#}");
        let warning = amplification_warning(&json);
        assert!(
            warning.contains("gateway → edge.go → mid.go → leaf.go → db.go as 64 requests"),
            "{name}: {warning}"
        );
    }
}

/// An outlier ejection is said under the service table (the rejections it can cause show
/// there, the ejection itself only in the trace before), and the report's count is the
/// trace's `ejected` lines naming the service.
#[test]
fn run_says_when_outlier_detection_ejected_a_replica() {
    let dir = scratch("mesh", "ejections");
    let out = dir.join("out");
    let o = fusebench(&[
        "run",
        "scenarios/mesh/shop-mesh.toml",
        "--duration",
        "10",
        "--seed",
        "1",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let said: Vec<String> = stdout(&o)
        .lines()
        .filter(|l| l.starts_with("outlier detection ejected a replica of "))
        .map(str::to_owned)
        .collect();
    assert!(!said.is_empty(), "{}", stdout(&o));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report"))
            .expect("JSON");
    let trace = std::fs::read_to_string(out.join("trace.jsonl")).expect("trace");
    for line in &said {
        let service = line["outlier detection ejected a replica of ".len()..]
            .split(' ')
            .next()
            .expect("a service");
        let traced = trace
            .lines()
            .filter(|l| {
                l.contains("\"ev\":\"ejected\"")
                    && l.contains(&format!("\"service\":\"{service}\""))
            })
            .count() as u64;
        assert_eq!(report["services"][service]["ejections"].as_u64(), Some(traced), "{line}");
        assert!(line.contains(&format!(" {traced} time(s)")), "{line}");
    }
}
