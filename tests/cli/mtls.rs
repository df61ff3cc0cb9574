//! mTLS modes end to end (Istio PeerAuthentication): the authorization-bypass design with the
//! mesh `strict` — `reports`, outside the mesh, can no longer walk past the DENY: its
//! plaintext refunds are refused at `payments`' sidecar (traced `mtls`, counted as denials)
//! and the static check names its declared call; with `reports` in the mesh the check passes.

use serde_json::Value;

use crate::support::{code, fusebench, root, scratch, stderr, stdout};

const BYPASS: &str = "scenarios/flawed/dynamic/authz-bypass.toml";

fn strict(name: &str, edit: impl Fn(String) -> String) -> (String, String) {
    let text = std::fs::read_to_string(root().join(BYPASS)).expect("read");
    let text = edit(text.replace(
        "services = [\"storefront\", \"payments\"]",
        "services = [\"storefront\", \"payments\"]\nmtls = \"strict\"",
    ));
    let dir = scratch("mtls", name);
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, &text).expect("write");
    (path.to_str().expect("utf-8").to_owned(), text)
}

fn check(path: &str) -> Value {
    let o = fusebench(&["check", path, "--static", "--format", "json"]);
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)))
}

fn finding<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["checks"].as_array().expect("checks").iter().find(|c| c["id"] == id).expect("the check")
}

#[test]
fn strict_refuses_the_plaintext_caller_on_the_run_and_the_check_names_its_call() {
    let (path, text) = strict("strict", |t| t);
    let json = check(&path);
    let c = finding(&json, "mesh-mtls-plaintext-call");
    assert_eq!(c["passed"], false, "{c:#}");
    let f = &c["findings"][0];
    let msg = f["message"].as_str().expect("message");
    assert!(
        msg.starts_with(
            "`reports` runs no sidecar, so its declared call to `payments.refund` is plaintext"
        ),
        "{msg}"
    );
    let call_line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[service.call]]")
        .nth(1)
        .map(|(i, _)| i + 1)
        .expect("reports' call");
    assert_eq!(f["location"]["line"], call_line, "{f:#}");

    let out = std::path::Path::new(&path).with_file_name("out");
    let o = fusebench(&["run", &path, "--seed", "1", "--out", out.to_str().expect("utf-8")]);
    assert!(code(&o) <= 1, "{}", stderr(&o));
    let trace = std::fs::read_to_string(out.join("trace.jsonl")).expect("trace");
    let refused: Vec<Value> = trace
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|l| l["ev"] == "mesh_refused")
        .collect();
    assert!(!refused.is_empty());
    for l in &refused {
        assert_eq!(
            (l["caller"].as_str(), l["target"].as_str(), l["filter"].as_str()),
            (Some("reports"), Some("payments.refund"), Some("mtls"))
        );
    }
    let refunds = trace
        .lines()
        .filter(|l| l.contains("\"invocation_start\"") && l.contains("\"refund\""))
        .count();
    assert_eq!(refunds, 0, "no plaintext refund reaches payments");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report"))
            .expect("json");
    assert_eq!(report["services"]["payments"]["denied"].as_u64(), Some(refused.len() as u64));
}

#[test]
fn with_every_caller_in_the_mesh_strict_raises_nothing() {
    let (path, _) =
        strict("meshed", |t| t.replace("services = [\"storefront\", \"payments\"]", "all = true"));
    let json = check(&path);
    assert_eq!(finding(&json, "mesh-mtls-plaintext-call")["passed"], true);
    // A permissive payments (its own PeerAuthentication) accepts the plaintext caller again.
    let (path, _) = strict("permissive", |t| {
        t + "\n  [[mesh.peer_authentication]]\n  service = \"payments\"\n  mode = \"permissive\"\n"
    });
    assert_eq!(finding(&check(&path), "mesh-mtls-plaintext-call")["passed"], true);
}

#[test]
fn a_bad_mode_is_a_located_error() {
    let (path, _) = strict("bad", |t| t.replace("mtls = \"strict\"", "mtls = \"strikt\""));
    let o = fusebench(&["check", &path, "--static"]);
    let err = stderr(&o) + &stdout(&o);
    assert_eq!(code(&o), 2, "{err}");
    let hit = err
        .lines()
        .find(|l| l.contains("`mtls` = \"strikt\" is not one of: strict, permissive, disable"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(hit.starts_with(&format!("{path}:")) && hit.contains("(field `mesh.mtls`"), "{hit}");
    assert!(err.contains("did you mean `strict`?"), "{err}");
}

#[test]
fn an_allow_naming_callers_of_a_disable_service_is_blamed_on_the_mode() {
    // Every caller in the mesh and in the ALLOW's `from`, but `payments` takes plaintext only:
    // nobody presents an identity, so the ALLOW matches nobody. The hint is the mode, not
    // `from` (which already names them).
    let text = std::fs::read_to_string(root().join(BYPASS)).expect("read");
    let mesh_at = text.find("[mesh]").expect("a mesh");
    let text = format!(
        "{}[mesh]\nall = true\n  [[mesh.peer_authentication]]\n  service = \"payments\"\n  mode = \"disable\"\n  [[mesh.authorization]]\n  service = \"payments\"\n  from = [\"storefront\", \"reports\"]\n",
        &text[..mesh_at]
    );
    let dir = scratch("mtls", "disable-allow");
    let path = dir.join("disable-allow.toml");
    std::fs::write(&path, &text).expect("write");
    let json = check(path.to_str().expect("utf-8"));
    let c = finding(&json, "mesh-authz-denies-call");
    assert_eq!(c["passed"], false, "{c:#}");
    let findings = c["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 2, "{c:#}");
    for f in findings {
        let (msg, hint) =
            (f["message"].as_str().expect("message"), f["hint"].as_str().expect("hint"));
        assert!(
            msg.contains("(`payments`'s mTLS mode is disable, so no caller presents an identity)"),
            "{msg}"
        );
        assert!(
            msg.contains(
                "is in an ALLOW policy's `from`, but `from` matches only a presented identity"
            ),
            "{msg}"
        );
        assert!(
            hint.starts_with(
                "set `payments`'s `[[mesh.peer_authentication]]` mode to `permissive` or `strict`"
            ),
            "{hint}"
        );
    }
}
