//! The authorization checks on small designs: each finding and each way of passing.

use crate::checks::{Modules, run};
use crate::diagnostic::Diagnostic;
use crate::scenario::parse;

/// `front` (public `go`) calls `back.get`; `back` also has a public `stats`.
fn design(mesh: &str) -> String {
    format!(
        r#"
[system]
name = "a"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[gateway]
node = "n"
[quality]
coupling_max = 0.9
[[channel]]
name = "rest"
kind = "rest"
[[service]]
name = "front"
context = "c"
node = "n"
service_time = {{ distribution = {{ dist = "constant", ms = 1.0 }} }}
  [[service.endpoint]]
  name = "go"
  method = "GET"
  path = "/go"
  public = true
  [[service.call]]
  service = "back"
  endpoint = "get"
  channel = "rest"
[[service]]
name = "back"
context = "c"
node = "n"
service_time = {{ distribution = {{ dist = "constant", ms = 1.0 }} }}
  [[service.endpoint]]
  name = "get"
  [[service.endpoint]]
  name = "stats"
  method = "GET"
  path = "/stats"
  public = true
{mesh}"#
    )
}

fn findings(text: &str, id: &str) -> Vec<Diagnostic> {
    let parsed = parse("a.toml", text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    let s = parsed.ok().expect("valid");
    run(&s, &Modules::new()).into_iter().filter(|d| d.code == id).collect()
}

const DENIED: &str = "mesh-authz-denies-call";
const UNENFORCED: &str = "mesh-authz-unenforced";

#[test]
fn an_allow_policy_without_the_caller_denies_its_declared_call_naming_both_and_the_endpoint() {
    let text = design(
        "[mesh]\nall = true\n[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"gateway\"]\n",
    );
    let f = findings(&text, DENIED);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].is_error());
    assert!(f[0].message.contains("`front`'s declared call to `back.get`"), "{}", f[0].message);
    assert!(f[0].message.contains("ALLOW policies and none of them matches"), "{}", f[0].message);
    // Located at the `[[service.call]]`.
    let line = text.lines().position(|l| l.contains("service = \"back\"")).expect("the call") + 1;
    assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(line - 1));
}

#[test]
fn a_deny_policy_on_a_public_endpoint_denies_the_gateway_route() {
    let text = design(
        "[mesh]\nall = true\n[[mesh.authorization]]\nservice = \"back\"\naction = \"deny\"\nfrom = [\"gateway\"]\nendpoints = [\"stats\"]\n",
    );
    let f = findings(&text, DENIED);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].message.contains("gateway's route to `back.stats`"), "{}", f[0].message);
    assert!(f[0].message.contains("a DENY policy for `back` matches it"), "{}", f[0].message);
}

#[test]
fn a_caller_without_a_sidecar_presents_no_identity_and_is_denied_by_an_allow_naming_it() {
    let text = design(
        "[mesh]\nservices = [\"back\"]\n[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"front\", \"gateway\"]\n",
    );
    let f = findings(&text, DENIED);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].message.contains("`front` runs no sidecar"), "{}", f[0].message);
}

#[test]
fn policies_admitting_every_declared_call_pass() {
    let text = design(
        "[mesh]\nall = true\n[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"front\", \"gateway\"]\n[[mesh.authorization]]\nservice = \"back\"\naction = \"deny\"\nfrom = [\"gateway\"]\nendpoints = [\"get\"]\n",
    );
    assert!(findings(&text, DENIED).is_empty());
    assert!(findings(&text, UNENFORCED).is_empty());
    // No policy at all: nothing to judge.
    assert!(findings(&design("[mesh]\nall = true\n"), DENIED).is_empty());
}

#[test]
fn a_policy_for_a_service_without_a_sidecar_is_unenforced_and_not_judged_as_a_denial() {
    let text = design(
        "[mesh]\nservices = [\"front\"]\n[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"gateway\"]\n",
    );
    let f = findings(&text, UNENFORCED);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].message.contains("`back` runs no sidecar"), "{}", f[0].message);
    assert!(findings(&text, DENIED).is_empty());
}
