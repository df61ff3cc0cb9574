//! `[[mesh.subset]]`, `[[mesh.route]]`, `[mesh.control_plane]`, `[[mesh.push]]` reading:
//! each mistake an Istio user can make with DestinationRule subsets and VirtualService weights
//! is a located error.

use super::super::tests::{BASE, errors_of};
use crate::scenario::{Distribution, parse};

const SUBSETS: &str = r#"
[mesh]
all = true
  [[mesh.subset]]
  service = "back"
  name = "v1"
  [[mesh.subset]]
  service = "back"
  name = "v2"
  replicas = 2
"#;

fn errors(extra: &str) -> Vec<String> {
    errors_of(&format!("{BASE}{SUBSETS}{extra}"))
}

#[test]
fn reads_subsets_routes_and_pushes() {
    let text = format!(
        "{BASE}{}  [[mesh.route]]\n  service = \"back\"\n  weights = {{ v1 = 90, v2 = 10 }}\n  match = [{{ headers = {{ x-route = \"canary\" }}, subset = \"v2\" }}]\n  [mesh.control_plane]\n  propagation = {{ dist = \"uniform\", min_ms = 100, max_ms = 900 }}\n  [[mesh.push]]\n  at_s = 5\n  service = \"back\"\n  weights = {{ v1 = 50, v2 = 50 }}\n",
        SUBSETS.replace("all = true", "all = true\npropagate_headers = [\"X-Route\"]")
    );
    let p = parse("m.toml", &text);
    assert!(!p.has_errors(), "{:#?}", p.diagnostics);
    let s = p.ok().expect("parsed");
    let m = s.mesh.as_ref().expect("mesh");
    assert_eq!(m.subset_replicas("back"), 2);
    assert_eq!(m.propagate_headers, ["x-route"]);
    assert_eq!(m.routes[0].weights.iter().map(|w| w.percent).collect::<Vec<_>>(), [90, 10]);
    let headers = [("x-route".to_owned(), "canary".to_owned())].into_iter().collect();
    assert!(m.routes[0].matches[0].matches(&headers));
    assert!(!m.routes[0].matches[0].matches(&Default::default()));
    assert_eq!(
        m.control_plane.as_ref().map(|c| c.propagation),
        Some(Distribution::Uniform { min_ms: 100.0, max_ms: 900.0 })
    );
    assert_eq!(
        (m.pushes[0].at_s, m.pushes[0].route.as_ref().expect("a route").weights[1].percent),
        (5.0, 50)
    );
    // A crash may name a subset's replica (positions after the declared one).
    let crash = "[[fault]]\nkind = \"crash\"\nservice = \"back\"\nreplica = 2\nat_s = 1\n";
    assert!(errors(crash).is_empty(), "{:?}", errors(crash));
    let beyond = "[[fault]]\nkind = \"crash\"\nservice = \"back\"\nreplica = 3\nat_s = 1\n";
    assert!(errors(beyond).iter().any(|e| e.contains("has 3 replica(s)")), "{:?}", errors(beyond));
}

#[test]
fn a_module_swap_of_a_subsetted_service_is_refused_at_the_fault_with_a_hint() {
    // Istio: a subset is one Deployment's pods; a swap of the whole service would put every
    // subset on one module (and leave the routes' subsets without replicas).
    let swap = |service: &str| {
        format!(
            "[[fault]]\nkind = \"module-swap\"\nservice = \"{service}\"\nmodule = \"new.wat\"\nat_s = 1\n"
        )
    };
    let text = format!("{BASE}{SUBSETS}{}", swap("back"));
    let p = parse("m.toml", &text);
    let d = p
        .diagnostics
        .iter()
        .find(|d| {
            d.message.contains("a `module-swap` of `back`, which has version subsets (v1, v2)")
        })
        .unwrap_or_else(|| panic!("{:#?}", p.diagnostics));
    let fault_line = text[..text.find("[[fault]]").expect("in")].lines().count() + 1;
    assert_eq!(d.location.as_ref().map(|l| l.line), Some(fault_line));
    assert_eq!(d.field.as_deref(), Some("fault[0].kind"));
    assert!(d.hint.as_deref().is_some_and(|h| h.contains("`[[mesh.subset]]` with `module`")));
    // A service without subsets may be swapped as before.
    let errs = errors(&swap("front"));
    assert!(!errs.iter().any(|e| e.contains("module-swap")), "{errs:?}");
}

#[test]
fn a_rollout_of_a_subsetted_service_is_refused_at_each_subset() {
    // The rollout would replace the declared replicas' module (v1's) and leave v1's routes
    // without replicas; with its own Deployment (v2) it is refused too.
    let rollout = "[[rollout]]\nservice = \"back\"\nmodule = \"new.wat\"\nat_s = 1\n";
    let errs = errors(rollout);
    let hits: Vec<&String> = errs
        .iter()
        .filter(|e| e.contains("`back` has a `[[rollout]]`: a rollout and version subsets"))
        .collect();
    assert_eq!(hits.len(), 2, "one per subset: {errs:?}");
    assert!(hits.iter().all(|e| e.contains("mesh.subset[")), "{hits:?}");
    // A rollout of a service without subsets is not refused by the mesh.
    let other = rollout.replace("\"back\"", "\"front\"");
    let errs = errors(&other);
    assert!(!errs.iter().any(|e| e.contains("version subsets")), "{errs:?}");
}

#[test]
fn refuses_bad_routes_with_located_errors() {
    let base_lines = BASE.lines().count() + SUBSETS.lines().count();
    for (extra, needle) in [
        (
            "  [[mesh.route]]\n  service = \"back\"\n  weights = { v1 = 90, v2 = 20 }\n",
            "the weights sum to 110, not 100",
        ),
        (
            "  [[mesh.route]]\n  service = \"back\"\n  weights = { v1 = 90, v3 = 10 }\n",
            "unknown subset `v3` of `back`",
        ),
        (
            "  [[mesh.route]]\n  service = \"back\"\n  weights = { v1 = 100 }\n  match = [{ headers = { x-route = \"c\" }, subset = \"canary\" }]\n",
            "unknown subset `canary` of `back`",
        ),
        (
            "  [[mesh.route]]\n  service = \"back\"\n  weights = { v1 = 100 }\n  match = [{ headers = { x-route = 1 }, subset = \"v2\" }]\n",
            "header `x-route` must be a string",
        ),
        (
            "  [[mesh.route]]\n  service = \"back\"\n  weights = { v1 = 100.5 }\n",
            "must be a whole percentage",
        ),
        ("  [[mesh.route]]\n  service = \"back\"\n", "missing required field `weights`"),
        (
            "  [[mesh.route]]\n  service = \"front\"\n  weights = { v1 = 100 }\n",
            "`front` has no `[[mesh.subset]]`",
        ),
        (
            "  [[mesh.route]]\n  service = \"back\"\n  weights = { v1 = 100 }\n  [[mesh.route]]\n  service = \"back\"\n  weights = { v2 = 100 }\n",
            "a second route for `back`",
        ),
        (
            "  [[mesh.route]]\n  service = \"back\"\n  weights = { v1 = 100 }\n  weight = 3\n",
            "unknown field `weight`",
        ),
        (
            "  [[mesh.subset]]\n  service = \"back\"\n  name = \"v2\"\n  replicas = 1\n",
            "a second subset `v2` of `back`",
        ),
        (
            "  [[mesh.subset]]\n  service = \"back\"\n  name = \"v0\"\n",
            "would both be its declared replicas",
        ),
        (
            "  [[mesh.subset]]\n  service = \"back\"\n  name = \"v3\"\n  module = \"b3.wat\"\n  replicas = 1\n",
            "abstract service",
        ),
        (
            "  [[mesh.subset]]\n  service = \"back\"\n  name = \"v3\"\n  module = \"b3.wat\"\n",
            "give it `replicas` too",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n  service = \"back\"\n  weights = { v1 = 50, v2 = 50 }\n",
            "needs `[mesh.control_plane]`",
        ),
        (
            "  [mesh.control_plane]\n  [[mesh.push]]\n  at_s = 1\n  service = \"back\"\n  weights = { v1 = 60, v2 = 50 }\n",
            "the weights sum to 110",
        ),
        (
            "  [mesh.control_plane]\n  [[mesh.push]]\n  at_s = 1\n  service = \"back\"\n  weights = { v1 = 50, v9 = 50 }\n",
            "unknown subset `v9`",
        ),
    ] {
        let errs = errors(extra);
        let hit = errs.iter().find(|e| e.contains(needle));
        let hit = hit.unwrap_or_else(|| panic!("no `{needle}` in {errs:?}"));
        let line: usize = hit.split(':').next().and_then(|l| l.parse().ok()).expect("a line");
        assert!(line >= base_lines - 10, "`{needle}` located in the mesh: {hit}");
        assert!(hit.contains("mesh."), "`{needle}` names its field: {hit}");
    }
}

#[test]
fn a_mesh_without_routes_serialises_as_before() {
    let s = parse("m.toml", &format!("{BASE}[mesh]\nall = true\n")).ok().expect("parsed");
    let json = serde_json::to_string(s.mesh.as_ref().expect("mesh")).expect("serialises");
    for key in ["subsets", "routes", "control_plane", "pushes"] {
        assert!(!json.contains(key), "{key} in {json}");
    }
}
