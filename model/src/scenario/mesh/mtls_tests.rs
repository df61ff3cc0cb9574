//! mTLS modes: reading (every problem located), each service's mode, and the identity a
//! caller presents under each.

use super::super::tests::{BASE, errors_of};
use super::MtlsMode;
use crate::scenario::parse;

fn mesh(text: &str) -> crate::scenario::Mesh {
    let p = parse("m.toml", &format!("{BASE}{text}"));
    assert!(!p.has_errors(), "{:#?}", p.diagnostics);
    p.ok().expect("valid").mesh.expect("a mesh")
}

#[test]
fn the_default_is_permissive_and_a_service_of_its_own_overrides_the_mesh() {
    let m = mesh("[mesh]\nall = true\n");
    assert_eq!((m.mtls, m.mtls_of("back")), (MtlsMode::Permissive, MtlsMode::Permissive));
    // Unset, neither shows in the serialisation (the scenario hash is unchanged).
    let json = serde_json::to_string(&m).expect("json");
    assert!(!json.contains("mtls") && !json.contains("peer_authentication"), "{json}");
    let m = mesh(
        "[mesh]\nall = true\nmtls = \"strict\"\n[[mesh.peer_authentication]]\nservice = \"back\"\nmode = \"disable\"\n",
    );
    assert_eq!((m.mtls_of("front"), m.mtls_of("back")), (MtlsMode::Strict, MtlsMode::Disable));
}

#[test]
fn the_identity_a_caller_presents_follows_its_sidecar_and_the_callees_mode() {
    let m = mesh(
        "[mesh]\nservices = [\"back\"]\nmtls = \"strict\"\n[[mesh.peer_authentication]]\nservice = \"back\"\nmode = \"permissive\"\n",
    );
    // front has no sidecar: plaintext, no identity; permissive back accepts it.
    assert_eq!(m.identity("front", "back"), None);
    assert!(!m.refuses_plaintext("front", "back"));
    assert_eq!(m.identity("gateway", "back"), Some("gateway"));
    let m = mesh("[mesh]\nservices = [\"back\"]\nmtls = \"strict\"\n");
    assert!(m.refuses_plaintext("front", "back"));
    assert!(!m.refuses_plaintext("gateway", "back"), "the gateway is in the mesh");
    assert!(!m.refuses_plaintext("back", "front"), "front has no sidecar to refuse anything");
    let m = mesh("[mesh]\nall = true\nmtls = \"disable\"\n");
    assert_eq!((m.identity("front", "back"), m.identity("gateway", "back")), (None, None));
    assert!(!m.refuses_plaintext("front", "back"));
}

#[test]
fn bad_modes_are_located_errors_naming_the_field() {
    let errs = |t: &str| errors_of(&format!("{BASE}{t}"));
    let base = BASE.lines().count();
    for (text, needle, field) in [
        (
            "[mesh]\nall = true\nmtls = \"strikt\"\n",
            "`mtls` = \"strikt\" is not one of: strict, permissive, disable",
            "mesh.mtls",
        ),
        (
            "[mesh]\nall = true\n[[mesh.peer_authentication]]\nservice = \"bakc\"\nmode = \"strict\"\n",
            "unknown service `bakc`",
            "mesh.peer_authentication[0].service",
        ),
        (
            "[mesh]\nservices = [\"front\"]\n[[mesh.peer_authentication]]\nservice = \"back\"\nmode = \"strict\"\n",
            "`back` runs no sidecar",
            "mesh.peer_authentication[0].service",
        ),
        (
            "[mesh]\nall = true\n[[mesh.peer_authentication]]\nservice = \"back\"\n",
            "missing required field `mode`",
            "mesh.peer_authentication[0].mode",
        ),
        (
            "[mesh]\nall = true\n[[mesh.peer_authentication]]\nservice = \"back\"\nmode = \"strict\"\nport = 8080\n",
            "port",
            "mesh.peer_authentication[0]",
        ),
        (
            "[mesh]\nall = true\n[[mesh.peer_authentication]]\nservice = \"back\"\nmode = \"strict\"\n[[mesh.peer_authentication]]\nservice = \"back\"\nmode = \"disable\"\n",
            "a second mTLS mode for `back`",
            "mesh.peer_authentication[1].service",
        ),
    ] {
        let e = errs(text);
        let hit = e
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in {e:?}"));
        let line: usize = hit.split(':').next().and_then(|l| l.parse().ok()).expect("a line");
        assert!(line > base, "located in the mesh: {hit}");
        assert!(hit.contains(field), "`{needle}` names `{field}`: {hit}");
    }
}
