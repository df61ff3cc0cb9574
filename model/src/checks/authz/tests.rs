//! The authorization checks on small designs: each finding and each way of passing.

use crate::checks::fixture::{self, findings};

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
