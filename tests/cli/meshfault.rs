//! Mesh fault injection end to end: the shop whose orders' sidecar aborts 20 % of the charges
//! keeps its availability objective thanks to the orders service's own retries, and misses it
//! without them — as scenarios/mesh/shop-faults.toml says.

use serde_json::Value;

use crate::mesh::run_report;
use crate::support::{root, scratch};

const SCENARIO: &str = "scenarios/mesh/shop-faults.toml";

fn create_order(report: &Value) -> (f64, u64) {
    let e = &report["endpoints"]["orders.create_order"];
    let app_errors = e["outcomes"]["app-error"].as_u64().unwrap_or(0);
    (e["availability"].as_f64().expect("availability"), app_errors)
}

#[test]
fn the_application_s_retries_ride_out_the_injected_abort_and_its_absence_misses_the_slo() {
    let (exit, with) = run_report(SCENARIO, "faults-retries", "10");
    let (availability, _) = create_order(&with);
    assert!(availability >= 0.995, "{:#}", with["endpoints"]["orders.create_order"]);
    assert_eq!(exit, 0, "every objective met");

    // The same design with the gRPC channel's retries off (the module paths made absolute).
    let dir = scratch("meshfault", "no-retries");
    std::fs::create_dir_all(&dir).expect("scratch");
    let text = std::fs::read_to_string(root().join(SCENARIO)).expect("scenario");
    let grpc = "kind = \"grpc\"\ntimeout_ms = 100\nretries = 3\n";
    assert!(text.contains(grpc), "the scenario's grpc channel");
    let modules = root().join("scenarios/shop/modules");
    let text = text
        .replace(grpc, "kind = \"grpc\"\ntimeout_ms = 100\nretries = 0\n")
        .replace("\"../shop/modules", &format!("\"{}", modules.display()));
    let path = dir.join("no-retries.toml");
    std::fs::write(&path, text).expect("write");
    let (exit, without) = run_report(path.to_str().expect("utf-8"), "faults-no-retries", "10");
    let (availability, app_errors) = create_order(&without);
    // One charge in five aborted: the order answers `payments_unavailable`.
    assert!(availability < 0.9, "{:#}", without["endpoints"]["orders.create_order"]);
    assert!(app_errors > 0);
    assert_eq!(exit, 1, "the create_order availability objective is missed");
}
