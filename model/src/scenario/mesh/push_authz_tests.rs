//! `[[mesh.push.authorization]]` and `remove_authorization` (istiod pushing
//! AuthorizationPolicy changes): what each configuration's policy set is, how a request is
//! decided under each, and each mistake a located error.

use super::super::tests::{BASE, errors_of};
use crate::scenario::{AuthzDecision, parse};

const MESH: &str = r#"
[mesh]
all = true
  [[mesh.authorization]]
  name = "back-callers"
  service = "back"
  from = ["front"]
  [mesh.control_plane]
"#;

fn text(pushes: &str) -> String {
    format!("{BASE}{MESH}{pushes}")
}

const PUSHES: &str = r#"
  # applies third (at 30 s): the lock-out is lifted by name
  [[mesh.push]]
  at_s = 30
  remove_authorization = ["lock-front"]
  # applies first (at 10 s): the gateway may call back too (replacing `back-callers`)
  [[mesh.push]]
  at_s = 10
    [[mesh.push.authorization]]
    name = "back-callers"
    service = "back"
    from = ["front", "gateway"]
  # applies second (at 20 s): front is locked out of back.get
  [[mesh.push]]
  at_s = 20
    [[mesh.push.authorization]]
    name = "lock-front"
    service = "back"
    action = "deny"
    from = ["front"]
    endpoints = ["get"]
"#;

#[test]
fn each_configuration_replaces_by_name_adds_and_removes_policies_in_time_order() {
    let p = parse("m.toml", &text(PUSHES));
    assert!(!p.has_errors(), "{:#?}", p.diagnostics);
    let s = p.ok().expect("parsed");
    let m = s.mesh.as_ref().expect("mesh");
    assert_eq!(m.push_order(), [1, 2, 0]);
    let names = |k: usize| -> Vec<String> {
        m.configuration(k).authorization.iter().map(|a| a.label().to_owned()).collect()
    };
    let decide = |k: usize, src: &str| m.configuration(k).authorize("back", "get", Some(src));
    // 0: as declared — front only.
    assert_eq!(names(0), ["back-callers"]);
    assert!(decide(0, "front").is_allowed());
    assert_eq!(decide(0, "gateway"), AuthzDecision::NotAllowed);
    // 1 (10 s): replaced in place by name — the gateway too.
    assert_eq!(names(1), ["back-callers"]);
    assert_eq!(m.configuration(1).authorization[0].from.as_ref().map(Vec::len), Some(2));
    assert!(decide(1, "gateway").is_allowed() && decide(1, "front").is_allowed());
    // 2 (20 s): the DENY joins the set and wins over the ALLOW.
    assert_eq!(names(2), ["back-callers", "lock-front"]);
    assert!(matches!(decide(2, "front"), AuthzDecision::DeniedBy(p) if p.label() == "lock-front"));
    assert!(decide(2, "gateway").is_allowed());
    // 3 (30 s): removed by name; front is back.
    assert_eq!(names(3), ["back-callers"]);
    assert!(decide(3, "front").is_allowed());
    // The declared decision is still configuration 0's.
    assert!(m.authorize("back", "get", Some("front")).is_allowed());
    assert_eq!(m.every_authorization().count(), 3);
    // What each push says on its trace lines.
    assert_eq!(m.pushes[1].describe(), "authz back-callers");
    assert_eq!(m.pushes[2].describe(), "authz lock-front");
    assert_eq!(m.pushes[0].describe(), "-authz lock-front");
    assert_eq!((m.pushes[1].subject(), m.pushes[0].subject()), ("back", "*"));
}

#[test]
fn an_unnamed_pushed_policy_joins_the_set_and_a_declared_name_is_optional() {
    let push = "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.authorization]]\n    service = \"back\"\n    action = \"deny\"\n    from = [\"front\"]\n";
    let s = parse("m.toml", &text(push)).ok().expect("parsed");
    let m = s.mesh.as_ref().expect("mesh");
    assert_eq!(m.configuration(1).authorization.len(), 2);
    assert_eq!(m.pushes[0].describe(), "authz back");
    // The name is left out of the serialisation of an unnamed policy (its hash unchanged).
    let json = serde_json::to_string(&m.pushes[0].authorization).expect("json");
    assert!(!json.contains("name"), "{json}");
}

#[test]
fn bad_pushed_authorization_is_a_located_error_naming_the_field() {
    let base_lines = BASE.lines().count() + MESH.lines().count();
    for (push, needle, field) in [
        (
            "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.authorization]]\n    service = \"bakc\"\n",
            "unknown service `bakc`",
            "mesh.push[0].authorization[0].service",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.authorization]]\n    service = \"back\"\n    from = [\"frnot\"]\n",
            "unknown source identity (a service, or `gateway`) `frnot`",
            "mesh.push[0].authorization[0].from",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.authorization]]\n    service = \"back\"\n    endpoints = [\"gte\"]\n",
            "unknown endpoint of `back` `gte`",
            "mesh.push[0].authorization[0].endpoints",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.authorization]]\n    service = \"back\"\n    principals = [\"front\"]\n",
            "principals",
            "mesh.push[0].authorization[0]",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.authorization]]\n    service = \"back\"\n    action = \"audit\"\n",
            "not one of: allow, deny",
            "mesh.push[0].authorization[0].action",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n  remove_authorization = [\"back-caller\"]\n",
            "no authorization policy named `back-caller` is in force when push 0 applies",
            "mesh.push[0].remove_authorization",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n  remove_authorization = [\"back-callers\"]\n    [[mesh.push.authorization]]\n    name = \"back-callers\"\n    service = \"back\"\n",
            "both removes and pushes authorization policy `back-callers`",
            "mesh.push[0].remove_authorization",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.authorization]]\n    name = \"x\"\n    service = \"back\"\n    [[mesh.push.authorization]]\n    name = \"x\"\n    service = \"back\"\n",
            "two authorization policies are named `x`",
            "mesh.push[0].authorization[1].name",
        ),
    ] {
        let errs = errors_of(&text(push));
        let hit = errs.iter().find(|e| e.contains(needle));
        let hit = hit.unwrap_or_else(|| panic!("no `{needle}` in {errs:?}"));
        let line: usize = hit.split(':').next().and_then(|l| l.parse().ok()).expect("a line");
        assert!(line > base_lines, "`{needle}` located in the push: {hit} (after {base_lines})");
        assert!(hit.contains(field), "`{needle}` names `{field}`: {hit}");
    }
    // A misspelt removal gets the names in force as a hint.
    let p = parse(
        "m.toml",
        &text("  [[mesh.push]]\n  at_s = 1\n  remove_authorization = [\"back-caller\"]\n"),
    );
    let d = p.diagnostics.iter().find(|d| d.is_error()).expect("an error");
    assert_eq!(d.hint.as_deref(), Some("did you mean `back-callers`?"));
    // A policy removed by an earlier push is not there to remove again.
    let twice = "  [[mesh.push]]\n  at_s = 2\n  remove_authorization = [\"back-callers\"]\n  [[mesh.push]]\n  at_s = 1\n  remove_authorization = [\"back-callers\"]\n";
    let errs = errors_of(&text(twice));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("mesh.push[0].remove_authorization"), "{errs:?}");
    // Two declared policies may not share a name either.
    let dup = format!(
        "{BASE}[mesh]\nall = true\n[[mesh.authorization]]\nname = \"a\"\nservice = \"back\"\n[[mesh.authorization]]\nname = \"a\"\nservice = \"front\"\n"
    );
    let errs = errors_of(&dup);
    assert!(
        errs.iter()
            .any(|e| e
                .contains("mesh.authorization[1].name two authorization policies are named `a`")),
        "{errs:?}"
    );
}
