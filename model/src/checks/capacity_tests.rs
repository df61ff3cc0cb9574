//! The node-memory check: replicas' instances that may outgrow their node are caught, the
//! second Deployment of a mesh subset (`[[mesh.subset]]` with `replicas`) counted with them;
//! a design that fits is not flagged.

use crate::checks::fixture::findings;
use crate::diagnostic::Diagnostic;

/// `s` (a module, 4 instances of at most 4 MiB per replica: 16 MiB a replica) with `replicas`
/// on node `n` of 64 MiB, then `extra`.
fn design(replicas: u32, extra: &str) -> String {
    format!(
        r#"
[system]
name = "cap"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
memory_mib = 64
[gateway]
node = "n"
[[service]]
name = "s"
context = "c"
node = "n"
module = "s.wat"
replicas = {replicas}
concurrency = 4
memory_max_kib = 4096
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/s"
  public = true
{extra}"#
    )
}

fn memory_findings(text: &str) -> Vec<Diagnostic> {
    findings(text, "node-memory")
}

/// A mesh with `s`'s declared replicas as `v1` and a second Deployment `v2` of `n` replicas.
fn subsets(n: u32) -> String {
    format!(
        "[mesh]\nall = true\n  [[mesh.subset]]\n  service = \"s\"\n  name = \"v1\"\n  [[mesh.subset]]\n  service = \"s\"\n  name = \"v2\"\n  replicas = {n}\n"
    )
}

#[test]
fn replicas_that_fit_their_node_are_not_flagged_subsets_included() {
    assert!(memory_findings(&design(4, "")).is_empty(), "4 × 16 MiB = 64 MiB fits");
    assert!(memory_findings(&design(3, &subsets(1))).is_empty(), "3 + 1 replicas fit");
    // A subset of the declared replicas (no `replicas` of its own) adds none.
    let declared_only =
        "[mesh]\nall = true\n  [[mesh.subset]]\n  service = \"s\"\n  name = \"v1\"\n";
    assert!(memory_findings(&design(4, declared_only)).is_empty());
}

#[test]
fn a_subset_deployment_that_overflows_the_node_is_caught_with_the_replicas_counted() {
    // Declared replicas alone overflow: caught as before.
    let f = memory_findings(&design(5, ""));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].message.contains("may grow to 80 MiB"), "{}", f[0].message);
    // 3 declared + 2 of subset v2 = 5 replicas = 80 MiB on a 64 MiB node.
    let f = memory_findings(&design(3, &subsets(2)));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].message.contains("may grow to 80 MiB: `s` 5 replica(s) × 4 instance(s) × 4096 KiB"),
        "{}",
        f[0].message
    );
    assert_eq!(f[0].hint.as_deref().map(|h| h.contains("at least 80")), Some(true));
    // A large second Deployment alone overflows a node its declared replica fits in.
    let f = memory_findings(&design(1, &subsets(4)));
    assert!(f.len() == 1 && f[0].message.contains("`s` 5 replica(s)"), "{f:#?}");
}

/// A rolling rollout of `s` at 5 s with `max_unavailable` as given (unset: Kubernetes' 25 %
/// rounded down), its new module the same file.
fn rolling(max_unavailable: Option<u32>) -> String {
    let unavailable = max_unavailable.map_or(String::new(), |n| format!("max_unavailable = {n}\n"));
    format!(
        "[[rollout]]\nservice = \"s\"\nmodule = \"s.wat\"\nat_s = 5\nstrategy = \"rolling\"\n{unavailable}"
    )
}

#[test]
fn a_rolling_rollout_whose_surge_replica_cannot_be_placed_never_finishes_and_is_caught() {
    // 4 replicas fill the 64 MiB node; the default for 4 drains one first (25 %): it fits.
    assert!(memory_findings(&design(4, &rolling(None))).is_empty());
    // None may be unavailable: a fifth replica must start first, and has no room.
    let f = memory_findings(&design(4, &rolling(Some(0))));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].message.contains("rolling rollout of `s` can never finish"), "{}", f[0].message);
    assert!(f[0].message.contains("new replica (16 MiB)") && f[0].message.contains("take 64 MiB"));
    assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(25), "at `[[rollout]]`");
    // 3 replicas (the default for them: none unavailable) leave room for the surge.
    assert!(memory_findings(&design(3, &rolling(None))).is_empty());
    // 2 replicas of 32 MiB (16 MiB instances): full, and the default for 2 drains none.
    let big = design(2, &rolling(None)).replace("memory_max_kib = 4096", "memory_max_kib = 8192");
    assert_eq!(memory_findings(&big).len(), 1);
    // An overcommitted node is reported once, as such.
    let f = memory_findings(&design(5, &rolling(Some(0))));
    assert!(f.len() == 1 && f[0].message.contains("may grow to 80 MiB"), "{f:#?}");
}
