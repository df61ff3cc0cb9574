//! `[[mesh.authorization]]`: reading (every problem located) and Istio's evaluation order.

use super::{AuthzAction, AuthzDecision, decide};
use crate::scenario::parse;

/// The mesh's reading design (`front` calls `back.get`) with `back` also serving `admin`,
/// every service meshed, then `authz`.
fn design(authz: &str) -> String {
    let admin = "  [[service.endpoint]]\n  name = \"admin\"\n[mesh]\nall = true\n";
    format!("{}{admin}{authz}", super::super::tests::BASE)
}

fn errors(authz: &str) -> Vec<String> {
    super::super::tests::errors_of(&design(authz))
}

fn policies(authz: &str) -> Vec<super::Authorization> {
    let parsed = parse("m.toml", &design(authz));
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid").mesh.expect("a mesh").authorization
}

#[test]
fn a_policy_reads_with_allow_by_default_and_absent_lists_meaning_every_one() {
    let p = policies("[[mesh.authorization]]\nservice = \"back\"\n");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].action, AuthzAction::Allow);
    assert_eq!((p[0].from.clone(), p[0].endpoints.clone()), (None, None));
    let p = policies(
        "[[mesh.authorization]]\nservice = \"back\"\naction = \"deny\"\nfrom = [\"gateway\"]\nendpoints = [\"admin\"]\n",
    );
    assert_eq!(p[0].action, AuthzAction::Deny);
    assert_eq!(p[0].from.as_ref().map(|f| f[0].name.as_str()), Some("gateway"));
}

#[test]
fn every_problem_is_located_at_its_field() {
    let e = errors(
        r#"[[mesh.authorization]]
service = "bakc"
action = "permit"
from = ["frnt"]
[[mesh.authorization]]
service = "back"
endpoints = ["gte"]
from = []
colour = "red"
"#,
    );
    let joined = e.join("\n");
    for want in [
        "41:10 mesh.authorization[0].action `action` is \"permit\", not one of: allow, deny",
        "42:9 mesh.authorization[0].from unknown source identity (a service, or `gateway`) `frnt`",
        "40:11 mesh.authorization[0].service unknown service `bakc`",
        "mesh.authorization[1].endpoints unknown endpoint of `back` `gte`",
        "`from` is empty",
        "colour",
    ] {
        assert!(joined.contains(want), "missing {want:?} in:\n{joined}");
    }
    let e = errors("[[mesh.authorization]]\nfrom = [\"gateway\"]\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("mesh.authorization[0].service"), "{e:?}");
}

#[test]
fn istio_evaluates_deny_first_then_requires_a_matching_allow_if_any_exists() {
    // No policy: allowed (Istio allows a workload without AuthorizationPolicy).
    assert_eq!(decide(&[], "back", "get", Some("front")), AuthzDecision::Allowed);
    // ALLOW from front: front allowed, the gateway and an identity-less caller not.
    let allow = policies("[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"front\"]\n");
    assert!(decide(&allow, "back", "get", Some("front")).is_allowed());
    assert_eq!(decide(&allow, "back", "get", Some("gateway")), AuthzDecision::NotAllowed);
    assert_eq!(decide(&allow, "back", "get", None), AuthzDecision::NotAllowed);
    // A policy of another destination does not count for this one.
    assert!(decide(&allow, "front", "go", Some("gateway")).is_allowed());
    // DENY wins over a matching ALLOW.
    let both = policies(
        "[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"front\"]\n[[mesh.authorization]]\nservice = \"back\"\naction = \"deny\"\nendpoints = [\"admin\"]\n",
    );
    assert!(decide(&both, "back", "get", Some("front")).is_allowed());
    assert!(
        matches!(decide(&both, "back", "admin", Some("front")), AuthzDecision::DeniedBy(p) if p.action == AuthzAction::Deny)
    );
    // A DENY with principals does not match a caller without identity (Istio: use
    // `notPrincipals` for that), so plaintext slips past it.
    let deny = policies(
        "[[mesh.authorization]]\nservice = \"back\"\naction = \"deny\"\nfrom = [\"front\"]\n",
    );
    assert!(!decide(&deny, "back", "get", Some("front")).is_allowed());
    assert!(decide(&deny, "back", "get", None).is_allowed());
}
