//! The mTLS check on small designs: plaintext calls to strict services named, correct designs
//! passing.

use crate::checks::fixture;
use crate::diagnostic::Diagnostic;

/// `front` (public `go`) calls `back.get`, then `mesh`.
fn design(mesh: &str) -> String {
    fixture::front_calls_back("", mesh)
}

fn findings(mesh: &str, id: &str) -> Vec<Diagnostic> {
    fixture::findings(&design(mesh), id)
}

const PLAINTEXT: &str = "mesh-mtls-plaintext-call";

#[test]
fn a_plaintext_call_to_a_strict_service_is_named_at_the_call() {
    for mesh in [
        "[mesh]\nservices = [\"back\"]\nmtls = \"strict\"\n",
        "[mesh]\nservices = [\"back\"]\n[[mesh.peer_authentication]]\nservice = \"back\"\nmode = \"strict\"\n",
    ] {
        let f = findings(mesh, PLAINTEXT);
        assert_eq!(f.len(), 1, "{mesh}: {f:#?}");
        assert!(
            f[0].message.starts_with(
                "`front` runs no sidecar, so its declared call to `back.get` is plaintext"
            ),
            "{}",
            f[0].message
        );
        let call_line =
            design(mesh).lines().position(|l| l.trim() == "[[service.call]]").expect("call") + 1;
        assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(call_line));
        assert!(f[0].hint.as_deref().is_some_and(|h| h.contains("add `front` to `mesh.services`")));
    }
}

#[test]
fn meshed_callers_permissive_callees_and_unmeshed_callees_raise_nothing() {
    for mesh in [
        "[mesh]\nall = true\nmtls = \"strict\"\n",
        "[mesh]\nservices = [\"back\"]\n",
        "[mesh]\nservices = [\"back\"]\nmtls = \"strict\"\n[[mesh.peer_authentication]]\nservice = \"back\"\nmode = \"permissive\"\n",
        "[mesh]\nservices = [\"front\"]\nmtls = \"strict\"\n",
    ] {
        assert!(findings(mesh, PLAINTEXT).is_empty(), "{mesh}");
    }
}

#[test]
fn under_disable_no_caller_has_an_identity_a_rule_could_name() {
    let f = findings(
        "[mesh]\nall = true\nmtls = \"disable\"\n[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"front\"]\n",
        "mesh-authz-denies-call",
    );
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].message.contains("`back`'s mTLS mode is disable"), "{}", f[0].message);
    // The same policy under the default mode allows front's call.
    let f = findings(
        "[mesh]\nall = true\n[[mesh.authorization]]\nservice = \"back\"\nfrom = [\"front\"]\n",
        "mesh-authz-denies-call",
    );
    assert!(f.is_empty(), "{f:#?}");
}
