//! Idempotence judged without a twin run: the false alarm of issue 11 (a correct consumer whose
//! end state depends on timing) holds, and the shipped defect still fails.

use serde_json::Value;

use crate::support::{code, fusebench, root, scratch, stderr, stdout};

/// `scenarios/fixed/payment-redelivery.toml` under a closed-loop workload, with the publisher
/// and the consumer on two nodes: the duplicate-free twin of the old oracle drifted here
/// (`charged/o-18: 4395 with duplicates, 4936 after single deliveries`).
fn closed_loop_charge_once() -> String {
    let text = std::fs::read_to_string(root().join("scenarios/fixed/payment-redelivery.toml"))
        .expect("the fixed scenario");
    let modules = root().join("scenarios/defects-modules");
    let text = text
        .replace("../defects-modules", modules.to_str().expect("utf-8 path"))
        .replace(
            "[gateway]",
            "[[node]]\nname = \"edge\"\ntier = \"regional-edge\"\n\n[[link]]\nbetween = [\"edge\", \"cloud\"]\nlatency = { dist = \"exponential\", mean_ms = 3.0 }\n\n[gateway]",
        )
        .replace(
            "arrival = { kind = \"poisson\", rate_rps = 40 }",
            "arrival = { kind = \"closed\", users = 4, think_ms = 40 }",
        )
        // A short run keeps the debug-build test quick: 3 s, duplicated from 0.5 s to 2.5 s.
        .replace("duration_s = 8", "duration_s = 3")
        .replace("duration_s = 7", "duration_s = 2");
    // `orders` moves to the edge node; `charge` and its stores stay in the cloud.
    let orders = text.find("name = \"orders\"").expect("orders");
    let node = orders + text[orders..].find("node = \"cloud\"").expect("orders' node");
    format!("{}node = \"edge\"{}", &text[..node], &text[node + "node = \"cloud\"".len()..])
}

#[test]
fn charge_once_under_a_closed_loop_on_two_nodes_holds() {
    let dir = scratch("idempotence", "closed-loop");
    let path = dir.join("payment-redelivery-closed.toml");
    std::fs::write(&path, closed_loop_charge_once()).expect("scenario written");
    let out = dir.join("out");
    let o = fusebench(&[
        "check",
        path.to_str().expect("utf-8"),
        "--cases",
        "4",
        "--format",
        "json",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let json: Value =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}\n{}", stderr(&o)));
    let verdict = json["dynamic"]["properties"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["id"] == "idempotence")
        .expect("idempotence judged")
        .clone();
    assert_eq!(verdict["status"], "held", "{verdict:#}");
    let notes = verdict["notes"].to_string();
    assert!(notes.contains("broker duplicate"), "the duplication fault was exercised: {notes}");
    assert_eq!(code(&o), 0, "{:#}", json["dynamic"]);
}
