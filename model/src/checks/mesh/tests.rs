//! The mesh checks on small designs: each finding and each way of passing.

use crate::checks::fixture::findings;
use crate::diagnostic::Severity;
use crate::scenario::parse;

/// `edge` (public `go`) → `mid.get` → `leaf.get`, over `rest` (1000 ms, `retries` retries);
/// the gateway waits 2000 ms.
fn chain(retries: u32, mesh: &str) -> String {
    format!(
        r#"
[system]
name = "chain"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[gateway]
node = "n"
timeout_ms = 2000
[[channel]]
name = "rest"
kind = "rest"
timeout_ms = 1000
retries = {retries}
[[service]]
name = "edge"
context = "c"
node = "n"
service_time = {{ distribution = {{ dist = "constant", ms = 1.0 }} }}
  [[service.endpoint]]
  name = "go"
  method = "GET"
  path = "/go"
  public = true
  [[service.call]]
  service = "mid"
  endpoint = "get"
  channel = "rest"
[[service]]
name = "mid"
context = "c"
node = "n"
service_time = {{ distribution = {{ dist = "constant", ms = 1.0 }} }}
  [[service.endpoint]]
  name = "get"
  [[service.call]]
  service = "leaf"
  endpoint = "get"
  channel = "rest"
[[service]]
name = "leaf"
context = "c"
node = "n"
service_time = {{ distribution = {{ dist = "constant", ms = 1.0 }} }}
  [[service.endpoint]]
  name = "get"
{mesh}"#
    )
}

#[test]
fn retries_longer_than_the_caller_s_timeout_are_an_error_at_the_policy() {
    // 3 × 800 ms > the channel's 1000 ms (mid's calls) and the gateway's 2000 ms (edge.go).
    let mesh = r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "leaf"
  retries = { attempts = 3, per_try_timeout_ms = 800 }
  [[mesh.policy]]
  service = "edge"
  retries = { attempts = 3, per_try_timeout_ms = 800 }
"#;
    let f = findings(&chain(0, mesh), "mesh-retry-timeout");
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(f.iter().all(|d| d.severity == Severity::Error));
    assert!(
        f[0].message.contains("`leaf.get`") && f[0].message.contains("more than `mid` waits"),
        "{}",
        f[0].message
    );
    assert!(f[0].message.contains("channel `rest`'s timeout (1000 ms)"), "{}", f[0].message);
    assert!(f[1].message.contains("the gateway's timeout (2000 ms)"), "{}", f[1].message);
    assert_eq!(
        f[0].hint.as_deref(),
        Some("lower `attempts` or set `per_try_timeout_ms` to at most 333 ms")
    );
    // Located at the retries table of the first policy.
    assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(54));
    // Fitting tries pass; so does a caller outside the mesh (its sidecar does not retry).
    let fitting = mesh.replace("800", "300");
    assert!(findings(&chain(0, &fitting), "mesh-retry-timeout").is_empty());
    let outside = mesh.replace("all = true", "services = [\"edge\"]").replace(
        "  [[mesh.policy]]\n  service = \"edge\"\n  retries = { attempts = 3, per_try_timeout_ms = 800 }\n",
        "",
    );
    let parsed = parse("chain.toml", &chain(0, &outside));
    // `leaf` has no meshed caller and no public endpoint: the policy is refused at parse.
    assert!(parsed.diagnostics.iter().any(|d| d.code == "parse.mesh-unused"));
}

#[test]
fn tries_multiplying_along_a_path_warn_naming_the_path() {
    // Every hop tries 3 times: 3 × 3 × 3 = 27 requests at the leaf per client request.
    let mesh = r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "edge"
  retries = { attempts = 3, per_try_timeout_ms = 600 }
  [[mesh.policy]]
  service = "mid"
  retries = { attempts = 3, per_try_timeout_ms = 300 }
  [[mesh.policy]]
  service = "leaf"
  retries = { attempts = 3, per_try_timeout_ms = 100 }
"#;
    let f = findings(&chain(0, mesh), "mesh-retry-amplification");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].message.contains("gateway → edge.go → mid.get → leaf.get as 27 requests"),
        "{}",
        f[0].message
    );
    // Retrying at the edge only: 3, within the default 10.
    let edge_only = mesh
        .replace(
            "service = \"mid\"\n  retries = { attempts = 3",
            "service = \"mid\"\n  retries = { attempts = 1",
        )
        .replace(
            "service = \"leaf\"\n  retries = { attempts = 3",
            "service = \"leaf\"\n  retries = { attempts = 1",
        );
    assert!(findings(&chain(0, &edge_only), "mesh-retry-amplification").is_empty());
    // Channel retries of callers outside the mesh count too: 3 (gateway) × 3 × 3 via `rest`.
    let channels = "\n[mesh]\nservices = [\"edge\"]\n  [[mesh.policy]]\n  service = \"edge\"\n  retries = { attempts = 3, per_try_timeout_ms = 600 }\n";
    let f = findings(&chain(2, channels), "mesh-retry-amplification");
    assert!(f.iter().any(|d| d.message.contains("as 27 requests")), "{f:#?}");
    // A higher threshold of the design's own.
    let relaxed =
        chain(0, mesh).replace("[mesh]", "[quality]\nretry_amplification_max = 30\n[mesh]");
    assert!(findings(&relaxed, "mesh-retry-amplification").is_empty());
}

/// A mesh retrying at the edge only (3 tries, fitting), then `pushes`.
fn pushed(pushes: &str) -> String {
    let mesh = format!(
        r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "edge"
  retries = {{ attempts = 3, per_try_timeout_ms = 600 }}
  [mesh.control_plane]
{pushes}"#
    );
    chain(0, &mesh)
}

#[test]
fn a_pushed_retry_policy_is_held_to_the_caller_s_timeout_and_the_finding_names_the_push() {
    // At 30 s leaf's callers get 3 × 800 ms tries: more than mid's channel timeout (1000 ms).
    let push = "  [[mesh.push]]\n  at_s = 30\n    [[mesh.push.policy]]\n    service = \"leaf\"\n    retries = { attempts = 3, per_try_timeout_ms = 800 }\n";
    let text = pushed(push);
    let f = findings(&text, "mesh-retry-timeout");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Error);
    assert!(
        f[0].message.starts_with("after mesh.push[0] (at 30 s): retries to `leaf.get`"),
        "{}",
        f[0].message
    );
    let line = text[..text.find("retries = { attempts = 3, per_try_timeout_ms = 800").expect("in")]
        .lines()
        .count();
    assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(line));
    // Fitting pushed retries pass; the declared fitting policy raises nothing either.
    assert!(findings(&pushed(&push.replace("800", "300")), "mesh-retry-timeout").is_empty());
    // A push that leaves the retries as declared is not blamed for them.
    let budget = "  [[mesh.push]]\n  at_s = 5\n    [[mesh.push.policy]]\n    service = \"mid\"\n    retry_budget = {}\n";
    assert!(findings(&pushed(budget), "mesh-retry-timeout").is_empty());
}

#[test]
fn a_push_that_multiplies_retries_along_a_path_is_named_and_one_that_lowers_them_is_not() {
    // Declared: 3 at the edge (within 10). The push adds 3 at mid and 3 at leaf: 27.
    let storm = "  [[mesh.push]]\n  at_s = 12\n    [[mesh.push.policy]]\n    service = \"mid\"\n    retries = { attempts = 3, per_try_timeout_ms = 300 }\n    [[mesh.push.policy]]\n    service = \"leaf\"\n    retries = { attempts = 3, per_try_timeout_ms = 100 }\n";
    let text = pushed(storm);
    let f = findings(&text, "mesh-retry-amplification");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].message.starts_with("after mesh.push[0] (at 12 s): retry storm risk")
            && f[0].message.contains("gateway → edge.go → mid.get → leaf.get as 27 requests"),
        "{}",
        f[0].message
    );
    let line = text[..text.find("[[mesh.push]]").expect("in")].lines().count();
    assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(line));
    // A later push that takes the mid retries away again (27 → 9) raises nothing more.
    let calm = format!(
        "{storm}  [[mesh.push]]\n  at_s = 20\n    [[mesh.push.policy]]\n    service = \"mid\"\n"
    );
    assert_eq!(findings(&pushed(&calm), "mesh-retry-amplification").len(), 1);
    // The same storm declared from the start is the declared design's finding, not a push's.
    let declared = pushed("").replace(
        "  [mesh.control_plane]\n",
        "  [[mesh.policy]]\n  service = \"mid\"\n  retries = { attempts = 3, per_try_timeout_ms = 300 }\n  [[mesh.policy]]\n  service = \"leaf\"\n  retries = { attempts = 3, per_try_timeout_ms = 100 }\n",
    );
    let f = findings(&declared, "mesh-retry-amplification");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(!f[0].message.contains("mesh.push"), "{}", f[0].message);
}

#[test]
fn retries_longer_than_the_route_timeout_are_an_error_and_fitting_ones_pass() {
    // 3 × 300 ms fit in mid's channel (1000 ms) but not in leaf's route timeout (500 ms).
    let mesh = "[mesh]\nall = true\n  [[mesh.policy]]\n  service = \"leaf\"\n  retries = { attempts = 3, per_try_timeout_ms = 300 }\n  timeout_ms = 500\n";
    let f = findings(&chain(0, mesh), "mesh-retry-timeout");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].message.starts_with("retries to `leaf.get` take up to 3 × 300 ms = 900 ms, more than the route waits: `timeout_ms` = 500 ms"),
        "{}",
        f[0].message
    );
    assert_eq!(
        f[0].hint.as_deref(),
        Some("lower `attempts` or set `per_try_timeout_ms` to at most 166 ms")
    );
    // Tries that fit in it pass; a route timeout without retries has nothing to fit.
    assert!(findings(&chain(0, &mesh.replace("300", "150")), "mesh-retry-timeout").is_empty());
    let alone = "[mesh]\nall = true\n  [[mesh.policy]]\n  service = \"leaf\"\n  timeout_ms = 500\n";
    assert!(findings(&chain(0, alone), "mesh-retry-timeout").is_empty());
    // A pushed route timeout is held to it, naming the push.
    let pushed = format!(
        "{}  [mesh.control_plane]\n  [[mesh.push]]\n  at_s = 4\n    [[mesh.push.policy]]\n    service = \"leaf\"\n    retries = {{ attempts = 3, per_try_timeout_ms = 300 }}\n    timeout_ms = 200\n",
        mesh.replace("300", "150")
    );
    let f = findings(&chain(0, &pushed), "mesh-retry-timeout");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].message.starts_with("after mesh.push[0] (at 4 s): retries to `leaf.get`"),
        "{}",
        f[0].message
    );
}

#[test]
fn channel_retries_multiplying_along_a_path_warn_without_a_mesh() {
    // No `[mesh]`: each hop retries as `rest` says — 3 retries, 4 tries — and the gateway tries
    // once: 1 × 4 × 4 = 16 requests at the leaf per client request, above the default 10.
    let f = findings(&chain(3, ""), "mesh-retry-amplification");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].message.contains("gateway → edge.go → mid.get → leaf.get as 16 requests"),
        "{}",
        f[0].message
    );
    // Located at the public endpoint the path starts from; the hint does not offer a mesh
    // setting as if there were a mesh.
    let text = chain(3, "");
    let line = text.lines().position(|l| l.trim() == "name = \"go\"").expect("go") + 1;
    assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(line - 1));
    assert!(f[0].hint.as_deref().is_some_and(|h| h.contains("`retries = 0`")), "{:?}", f[0].hint);
    // 2 retries: 3 × 3 = 9, within 10; the design's own threshold is honoured too.
    assert!(findings(&chain(2, ""), "mesh-retry-amplification").is_empty());
    let relaxed = format!("{}\n[quality]\nretry_amplification_max = 16\n", chain(3, ""));
    assert!(findings(&relaxed, "mesh-retry-amplification").is_empty());
    // The mesh-only check stays mesh-only: no retry policy, nothing to fit.
    assert!(findings(&chain(3, ""), "mesh-retry-timeout").is_empty());
}
