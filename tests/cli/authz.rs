//! Mesh authorization end to end: a caller outside the mesh walking past a DENY policy is
//! warned about by the static checks (`mesh-authz-unenforced`, which still pass) and caught by
//! `authorization-never-bypassed` on the run, shrunk and replayed; the same design with the
//! caller in the mesh has its declared call named by `mesh-authz-denies-call` and its requests
//! refused (counted in the report); the shop with policies on every service runs without a
//! denial; a bad policy is bad input, located.

use serde_json::Value;

use crate::support::{check_json, code, fusebench, root, scratch, stderr, stdout, verdict};

const BYPASS: &str = "scenarios/flawed/dynamic/authz-bypass.toml";

fn failed(json: &Value) -> Vec<&str> {
    json["dynamic"]["properties"]
        .as_array()
        .expect("verdicts")
        .iter()
        .filter(|v| v["status"] == "failed")
        .filter_map(|v| v["id"].as_str())
        .collect()
}

#[test]
fn a_caller_outside_the_mesh_bypassing_a_deny_is_found_by_the_property_and_replayed() {
    let dir = scratch("authz", "bypass");
    let (exit, json) = check_json(BYPASS, &dir);
    assert_eq!(exit, 1, "{json:#}");
    let statics_ok = json["checks"].as_array().expect("checks").iter().all(|c| c["passed"] == true);
    assert!(statics_ok, "a warning, not a failed check: {json:#}");
    // The static warning names the policy, the caller and its call, at the policy.
    let unenforced = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "mesh-authz-unenforced")
        .expect("the check");
    let warnings = unenforced["findings"].as_array().expect("findings");
    assert_eq!(warnings.len(), 1, "{unenforced:#}");
    let w = &warnings[0];
    assert_eq!(w["severity"], "warning", "{w:#}");
    let msg = w["message"].as_str().expect("message");
    assert!(
        msg.starts_with("the DENY policy for `payments` names `reports`, which runs no sidecar: `reports`'s declared call to `payments.refund` is plaintext"),
        "{msg}"
    );
    let text = std::fs::read_to_string(root().join(BYPASS)).expect("read");
    let policy = text.lines().position(|l| l.trim() == "[[mesh.authorization]]").expect("policy");
    assert_eq!(w["location"]["line"], policy + 1, "{w:#}");
    assert_eq!(failed(&json), ["authorization-never-bypassed"]);
    let v = verdict(&json, "authorization-never-bypassed");
    let finding = v["findings"][0].as_str().expect("a finding");
    assert!(finding.starts_with("`reports` invoked `payments.refund`"), "{finding}");
    let replay_file = json["dynamic"]["counterexample"]["replay_file"].as_str().expect("replay");
    let r = fusebench(&["replay", replay_file]);
    let text = stdout(&r);
    assert_eq!(code(&r), 1, "{text}\n{}", stderr(&r));
    assert!(text.contains("reproduced exactly"), "{text}");
    assert!(text.contains("violated: authorization-never-bypassed"), "{text}");
}

#[test]
fn with_the_caller_in_the_mesh_its_call_is_named_statically_and_refused_on_the_run() {
    let dir = scratch("authz", "meshed");
    let text = std::fs::read_to_string(root().join(BYPASS))
        .expect("read")
        .replace("services = [\"storefront\", \"payments\"]", "all = true");
    let path = dir.join("meshed.toml");
    std::fs::write(&path, &text).expect("write");
    let path = path.to_str().expect("utf-8");
    let o = fusebench(&["check", path, "--static", "--format", "json"]);
    let json: Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(code(&o), 1, "{json:#}");
    let check = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "mesh-authz-denies-call")
        .expect("the check");
    assert_eq!(check["passed"], false);
    let unenforced = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "mesh-authz-unenforced")
        .expect("the check");
    assert_eq!(unenforced["findings"], Value::Array(Vec::new()), "the DENY matches: no bypass");
    let f = &check["findings"][0];
    let msg = f["message"].as_str().expect("message");
    assert!(msg.contains("`reports`'s declared call to `payments.refund`"), "{msg}");
    let call_line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[service.call]]")
        .nth(1)
        .map(|(i, _)| i + 1)
        .expect("reports' call");
    assert_eq!(f["location"]["line"], call_line, "{f:#}");

    let out = dir.join("out");
    let o = fusebench(&[
        "run",
        path,
        "--duration",
        "3",
        "--seed",
        "1",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(code(&o) <= 1, "{}", stderr(&o));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report"))
            .expect("report.json");
    let denied = report["services"]["payments"]["denied"].as_u64().expect("denials counted");
    assert!(denied > 0, "{:#}", report["services"]);
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(md.contains(&format!("answered `denied`): payments {denied}.")), "{md}");
}

#[test]
fn the_shop_with_a_policy_on_every_called_service_runs_without_a_denial() {
    let dir = scratch("authz", "shop");
    let out = dir.join("out");
    let o = fusebench(&[
        "run",
        "scenarios/mesh/shop-authz.toml",
        "--duration",
        "3",
        "--seed",
        "1",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let report = std::fs::read_to_string(out.join("report.json")).expect("report");
    assert!(!report.contains("denied"), "no request refused: {report}");
    let o = fusebench(&["check", "scenarios/mesh/shop-authz.toml", "--static"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

#[test]
fn a_bad_authorization_policy_is_bad_input_located_with_a_hint() {
    let dir = scratch("authz", "bad");
    let text = std::fs::read_to_string(root().join(BYPASS))
        .expect("read")
        .replace("from = [\"reports\"]", "from = [\"reprots\"]");
    let path = dir.join("bad.toml");
    std::fs::write(&path, text).expect("write");
    let o = fusebench(&["check", path.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o) + &stdout(&o);
    assert!(err.contains("bad.toml:"), "{err}");
    assert!(err.contains("unknown source identity (a service, or `gateway`) `reprots`"), "{err}");
    assert!(err.contains("did you mean `reports`?"), "{err}");
}
