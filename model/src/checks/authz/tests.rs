//! The authorization checks on small designs: each finding and each way of passing.

use crate::checks::fixture::{self, findings};
use crate::diagnostic::Severity;

/// `front` (public `go`) calls `back.get`; `back` also has a public `stats`.
fn design(mesh: &str) -> String {
    let stats = "  [[service.endpoint]]\n  name = \"stats\"\n  method = \"GET\"\n  path = \"/stats\"\n  public = true\n";
    fixture::front_calls_back(stats, mesh)
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

/// The meshed design allowing `front` and the gateway at `back`, then `pushes`.
fn pushed(pushes: &str) -> String {
    design(&format!(
        "[mesh]\nall = true\n[[mesh.authorization]]\nname = \"back-in\"\nservice = \"back\"\nfrom = [\"front\", \"gateway\"]\n[mesh.control_plane]\n{pushes}"
    ))
}

fn line_of(text: &str, needle: &str, nth: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == needle)
        .nth(nth)
        .map(|(i, _)| i + 1)
        .expect("line")
}

#[test]
fn a_push_that_denies_a_declared_call_is_named_at_the_push() {
    // The lock-out comes with the second push in time (file order: first).
    let text = pushed(
        "[[mesh.push]]\nat_s = 5\n[[mesh.push.authorization]]\nname = \"lock\"\nservice = \"back\"\naction = \"deny\"\nfrom = [\"front\"]\n[[mesh.push]]\nat_s = 1\n[[mesh.push.authorization]]\nservice = \"front\"\nfrom = [\"gateway\"]\n",
    );
    let f = findings(&text, DENIED);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].message.starts_with("after mesh.push[0] (at 5 s): the authorization policy denies `front`'s declared call to `back.get`: a DENY policy"),
        "{}",
        f[0].message
    );
    assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(line_of(&text, "[[mesh.push]]", 0)));
}

#[test]
fn a_push_replacing_a_policy_by_name_can_close_a_gateway_route_and_it_is_named() {
    let text = pushed(
        "[[mesh.push]]\nat_s = 2\n[[mesh.push.authorization]]\nname = \"back-in\"\nservice = \"back\"\nfrom = [\"front\"]\n",
    );
    let f = findings(&text, DENIED);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].message.starts_with("after mesh.push[0] (at 2 s): the authorization policy denies the gateway's route to `back.stats`"), "{}", f[0].message);
}

#[test]
fn a_pushed_policy_on_a_service_without_a_sidecar_is_unenforced_and_named() {
    let text = design(
        "[mesh]\nservices = [\"front\"]\n[mesh.control_plane]\n[[mesh.push]]\nat_s = 3\n[[mesh.push.authorization]]\nservice = \"back\"\nfrom = [\"front\"]\n",
    );
    let f = findings(&text, UNENFORCED);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].message.starts_with(
            "after mesh.push[0] (at 3 s): the authorization policy for `back` is never enforced"
        ),
        "{}",
        f[0].message
    );
}

#[test]
fn pushes_that_keep_every_declared_call_allowed_raise_nothing() {
    // Opening up, removing by name, and denying only what nobody declares calling.
    let text = pushed(
        "[[mesh.push]]\nat_s = 1\n[[mesh.push.authorization]]\nname = \"back-in\"\nservice = \"back\"\n[[mesh.push]]\nat_s = 2\n[[mesh.push.authorization]]\nname = \"no-gw-get\"\nservice = \"back\"\naction = \"deny\"\nfrom = [\"gateway\"]\nendpoints = [\"get\"]\n[[mesh.push]]\nat_s = 3\nremove_authorization = [\"no-gw-get\", \"back-in\"]\n",
    );
    assert!(findings(&text, DENIED).is_empty());
    assert!(findings(&text, UNENFORCED).is_empty());
    // A call denied from the start is named once, where it is declared, not again per push.
    let text = design(
        "[mesh]\nall = true\n[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"gateway\"]\n[mesh.control_plane]\n[[mesh.push]]\nat_s = 1\n[[mesh.push.authorization]]\nservice = \"back\"\naction = \"deny\"\nfrom = [\"front\"]\n",
    );
    let f = findings(&text, DENIED);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(!f[0].message.starts_with("after"), "{}", f[0].message);
}

#[test]
fn under_mtls_disable_an_allow_naming_the_callers_is_blamed_on_the_mode_not_the_policy() {
    // `back` takes plaintext only: `front` and the gateway, both in `from`, present no
    // identity, so the ALLOW matches neither.
    let mesh = "[mesh]\nall = true\n[[mesh.peer_authentication]]\nservice = \"back\"\nmode = \"disable\"\n[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"front\", \"gateway\"]\n";
    let f = findings(&design(mesh), DENIED);
    assert_eq!(f.len(), 2, "{f:#?}");
    let (call, route) =
        if f[0].message.contains("gateway's route") { (&f[1], &f[0]) } else { (&f[0], &f[1]) };
    for (d, who) in [(call, "front"), (route, "gateway")] {
        assert!(
            d.message
                .contains("(`back`'s mTLS mode is disable, so no caller presents an identity)"),
            "{}",
            d.message
        );
        assert!(
            d.message.contains(&format!(
                "`{who}` is in an ALLOW policy's `from`, but `from` matches only a presented identity"
            )),
            "{}",
            d.message
        );
        let hint = d.hint.as_deref().unwrap_or_default();
        assert!(
            hint.starts_with(
                "set `back`'s `[[mesh.peer_authentication]]` mode to `permissive` or `strict`"
            ),
            "{hint}"
        );
        assert!(!hint.contains("ALLOW"), "{who} is in `from` already: {hint}");
    }
    assert!(
        route.hint.as_deref().is_some_and(|h| h.ends_with("(or make `back.stats` not public)"))
    );
    // The mesh-wide mode: the hint says where it is set.
    let wide = "[mesh]\nall = true\nmtls = \"disable\"\n[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"front\", \"gateway\"]\n";
    let f = findings(&design(wide), DENIED);
    assert!(
        f.iter().all(|d| d.hint.as_deref().is_some_and(|h| h.starts_with("set `[mesh] mtls`"))),
        "{f:#?}"
    );
    // A caller that is not in `from` needs both.
    let neither = mesh.replace("from = [\"front\", \"gateway\"]", "from = [\"gateway\"]");
    let f = findings(&design(&neither), DENIED);
    let call = f.iter().find(|d| d.message.contains("`front`'s declared call")).expect("call");
    assert!(!call.message.contains("is in an ALLOW"), "{}", call.message);
    assert!(
        call.hint
            .as_deref()
            .is_some_and(|h| h.contains(", and add `front` to an ALLOW policy's `from`")),
        "{:?}",
        call.hint
    );
}

#[test]
fn a_caller_without_a_sidecar_named_by_an_allow_is_told_to_join_the_mesh() {
    let text = design(
        "[mesh]\nservices = [\"back\"]\n[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"front\", \"gateway\"]\n",
    );
    let f = findings(&text, DENIED);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].message.contains("`front` is in an ALLOW policy's `from`"), "{}", f[0].message);
    assert_eq!(
        f[0].hint.as_deref(),
        Some(
            "add `front` to `mesh.services`, so it presents its mTLS identity (or remove the call)"
        )
    );
    // A meshed caller left out of `from` is still told to join the ALLOW.
    let text = design(
        "[mesh]\nall = true\n[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"gateway\"]\n",
    );
    let f = findings(&text, DENIED);
    assert_eq!(
        f[0].hint.as_deref(),
        Some("add `front` to an ALLOW policy's `from` (or remove the call)")
    );
}

#[test]
fn a_denial_by_a_deny_policy_is_answered_by_narrowing_the_deny() {
    let text = design(
        "[mesh]\nall = true\n[[mesh.authorization]]\nname = \"no-stats\"\nservice = \"back\"\naction = \"deny\"\nfrom = [\"gateway\"]\nendpoints = [\"stats\"]\n",
    );
    let f = findings(&text, DENIED);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        f[0].hint.as_deref(),
        Some(
            "narrow the DENY policy `no-stats` for `back` (its `from` or `endpoints`) (or make `back.stats` not public)"
        )
    );
}

#[test]
fn a_deny_naming_a_caller_without_a_sidecar_is_bypassed_and_warned_about_at_the_policy() {
    let text = design(
        "[mesh]\nservices = [\"back\"]\n[[mesh.authorization]]\nname = \"no-front\"\nservice = \"back\"\naction = \"deny\"\nfrom = [\"front\"]\nendpoints = [\"get\"]\n",
    );
    let f = findings(&text, UNENFORCED);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(
        f[0].message,
        "the DENY policy `no-front` for `back` names `front`, which runs no sidecar: `front`'s declared call to `back.get` is plaintext without an mTLS identity, so the DENY never matches it and the call goes through"
    );
    let hint = f[0].hint.as_deref().unwrap_or_default();
    assert!(hint.starts_with("add `front` to `mesh.services`"), "{hint}");
    assert!(hint.contains("an ALLOW policy for `back` that leaves `front` out"), "{hint}");
    let policy = text.lines().position(|l| l == "[[mesh.authorization]]").expect("policy") + 1;
    assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(policy));
    // Nothing is denied: that is the trouble.
    assert!(findings(&text, DENIED).is_empty());
}

#[test]
fn a_deny_that_does_match_its_caller_is_no_bypass() {
    let deny = "[[mesh.authorization]]\nservice = \"back\"\naction = \"deny\"\nfrom = [\"front\"]\nendpoints = [\"get\"]\n";
    // `front` in the mesh: it presents its identity, the DENY matches (the call is denied).
    let meshed = design(&format!("[mesh]\nall = true\n{deny}"));
    assert!(findings(&meshed, UNENFORCED).is_empty());
    assert_eq!(findings(&meshed, DENIED).len(), 1);
    // A `strict` `back` refuses the plaintext call before any policy (the mTLS check's).
    let strict = design(&format!("[mesh]\nservices = [\"back\"]\nmtls = \"strict\"\n{deny}"));
    assert!(findings(&strict, UNENFORCED).is_empty());
    assert_eq!(findings(&strict, "mesh-mtls-plaintext-call").len(), 1);
    // A DENY without `from` matches plaintext too.
    let anyone = design(&format!(
        "[mesh]\nservices = [\"back\"]\n{}",
        deny.replace("from = [\"front\"]\n", "")
    ));
    assert!(findings(&anyone, UNENFORCED).is_empty());
    assert_eq!(findings(&anyone, DENIED).len(), 1);
    // A DENY on an endpoint the caller does not declare calling.
    let other = design(&format!(
        "[mesh]\nservices = [\"back\"]\n{}",
        deny.replace("[\"get\"]", "[\"stats\"]")
    ));
    assert!(findings(&other, UNENFORCED).is_empty());
    // An ALLOW leaving the plaintext caller out denies it (fails closed): no bypass either.
    let allow = design(
        "[mesh]\nservices = [\"back\"]\n[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"gateway\"]\n",
    );
    assert!(findings(&allow, UNENFORCED).is_empty());
}

#[test]
fn under_mtls_disable_a_deny_naming_a_meshed_caller_or_the_gateway_is_bypassed() {
    let text = design(
        "[mesh]\nall = true\n[[mesh.peer_authentication]]\nservice = \"back\"\nmode = \"disable\"\n[[mesh.authorization]]\nservice = \"back\"\naction = \"deny\"\nfrom = [\"front\", \"gateway\"]\n",
    );
    let f = findings(&text, UNENFORCED);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(f.iter().all(|d| d.severity == Severity::Warning));
    let msgs: Vec<&str> = f.iter().map(|d| d.message.as_str()).collect();
    assert!(
        msgs.iter().any(|m| m.starts_with("the DENY policy for `back` names `front`, but `back`'s mTLS mode is disable: `front`'s declared call to `back.get` presents no identity")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("the gateway's route to `back.stats` (a public endpoint) presents no identity, so the DENY never matches it and client requests go through")),
        "{msgs:#?}"
    );
    assert!(
        f.iter().all(|d| d
            .hint
            .as_deref()
            .is_some_and(|h| h.starts_with("set `back`'s `[[mesh.peer_authentication]]` mode"))),
        "{f:#?}"
    );
    // The same DENY under the default mode matches both (both are denied: errors, no bypass).
    let permissive = text.replace("mode = \"disable\"", "mode = \"permissive\"");
    assert!(findings(&permissive, UNENFORCED).is_empty());
    assert_eq!(findings(&permissive, DENIED).len(), 2);
}

#[test]
fn a_pushed_deny_naming_a_caller_without_a_sidecar_is_named_at_the_push() {
    let text = design(
        "[mesh]\nservices = [\"back\"]\n[mesh.control_plane]\n[[mesh.push]]\nat_s = 4\n[[mesh.push.authorization]]\nservice = \"back\"\naction = \"deny\"\nfrom = [\"front\"]\n",
    );
    let f = findings(&text, UNENFORCED);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].message
            .starts_with("after mesh.push[0] (at 4 s): the DENY policy for `back` names `front`"),
        "{}",
        f[0].message
    );
    assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(line_of(&text, "[[mesh.push]]", 0)));
    // Declared from the start, it is the declared policy's finding, once.
    let declared = design(
        "[mesh]\nservices = [\"back\"]\n[[mesh.authorization]]\nservice = \"back\"\naction = \"deny\"\nfrom = [\"front\"]\n[mesh.control_plane]\n[[mesh.push]]\nat_s = 4\n[[mesh.push.authorization]]\nservice = \"front\"\n",
    );
    let f = findings(&declared, UNENFORCED);
    // (the pushed policy for `front`, which runs no sidecar, is unenforced: an error)
    let bypass: Vec<_> = f.iter().filter(|d| d.severity == Severity::Warning).collect();
    assert_eq!(bypass.len(), 1, "{f:#?}");
    assert!(!bypass[0].message.starts_with("after"), "{}", bypass[0].message);
}
