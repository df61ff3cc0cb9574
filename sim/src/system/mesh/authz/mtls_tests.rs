//! mTLS modes (Istio `PeerAuthentication`) at the callee's sidecar: `strict` refuses a caller
//! without a sidecar before any authorization (traced `mtls`, answered `denied`, counted with
//! the callee's denials); `permissive` (the default) lets it in without an identity;
//! `disable` takes every caller's identity away.

use super::tests::design_text;
use crate::system::{RunOptions, RunResult, Sim};
use crate::trace::{self, TraceEvent, TraceMode};

fn run(meshed: &str, authz: &str) -> RunResult {
    let parsed = fusebench_model::parse("mtls.toml", &design_text(meshed, authz));
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    let mut o = RunOptions::new(3);
    o.trace = TraceMode::Full;
    Sim::new(parsed.ok().expect("valid"), Box::new(crate::runtime::Runtime::default()), &o).run()
}

/// (refusals as `caller filter`, invocations of `s` by cause, client arrivals for `front`).
fn seen(r: &RunResult) -> (Vec<String>, Vec<String>, usize) {
    let ev: Vec<TraceEvent> = trace::read(&r.trace).map(|l| l.expect("reads").event).collect();
    let refused = ev
        .iter()
        .filter_map(|e| match e {
            TraceEvent::MeshRefused { caller, target, filter, .. } => {
                assert_eq!(target, "s.get");
                Some(format!("{caller} {filter}"))
            }
            _ => None,
        })
        .collect();
    let served = ev
        .iter()
        .filter_map(|e| match e {
            TraceEvent::InvocationStart { service, cause, .. } if service == "s" => {
                Some(cause.clone())
            }
            _ => None,
        })
        .collect();
    let fronts = ev
        .iter()
        .filter(|e| matches!(e, TraceEvent::Arrival { service, .. } if service == "front"))
        .count();
    (refused, served, fronts)
}

#[test]
fn strict_refuses_a_caller_without_a_sidecar_and_lets_the_gateway_in() {
    let r = run("services = [\"s\"]\nmtls = \"strict\"", "");
    let (refused, served, fronts) = seen(&r);
    assert!(fronts > 0);
    // Every call front makes is refused by s's sidecar (front's channel retries 2 times:
    // each try is refused at once; a refusal ends the call).
    assert_eq!(refused.len(), fronts, "{refused:?}");
    assert!(refused.iter().all(|x| x == "front mtls"), "{refused:?}");
    assert_eq!(r.metrics.services["s"].denied as usize, fronts);
    // Only the gateway's requests (client requests and gateway tries) reach s.
    let (_, permissive_served, _) = seen(&run("services = [\"s\"]", ""));
    assert_eq!(served.len() + fronts, permissive_served.len());
}

#[test]
fn permissive_accepts_plaintext_with_no_identity_and_a_service_may_override_the_mesh() {
    // The default: front's plaintext calls are served.
    let (refused, served, fronts) = seen(&run("services = [\"s\"]", ""));
    assert!(refused.is_empty(), "{refused:?}");
    assert!(served.iter().filter(|c| *c == "call").count() >= fronts);
    // Strict mesh-wide, but s's own PeerAuthentication is permissive: the same.
    let own = "services = [\"s\"]\nmtls = \"strict\"\n[[mesh.peer_authentication]]\nservice = \"s\"\nmode = \"permissive\"";
    let (refused, _, _) = seen(&run(own, ""));
    assert!(refused.is_empty(), "{refused:?}");
    // Permissive, an ALLOW naming front does not match its plaintext: rbac, not mtls.
    let allow = "[[mesh.authorization]]\nservice = \"s\"\nfrom = [\"front\", \"gateway\"]\n";
    let (refused, _, fronts) = seen(&run("services = [\"s\"]", allow));
    assert_eq!(refused.len(), fronts);
    assert!(refused.iter().all(|x| x == "front rbac"), "{refused:?}");
}

#[test]
fn disable_takes_every_callers_identity_away() {
    let allow = "[[mesh.authorization]]\nservice = \"s\"\nfrom = [\"front\", \"gateway\"]\n";
    let (refused, served, _) = seen(&run("all = true\nmtls = \"disable\"", allow));
    assert!(served.is_empty(), "nobody matches a rule naming sources: {served:?}");
    assert!(
        refused.iter().any(|x| x == "front rbac") && refused.iter().any(|x| x == "gateway rbac")
    );
    // The same policy with mTLS on (the default) admits both.
    let (refused, _, _) = seen(&run("all = true", allow));
    assert!(refused.is_empty(), "{refused:?}");
    // Without a policy, disable refuses nobody.
    let (refused, _, _) = seen(&run("all = true\nmtls = \"disable\"", ""));
    assert!(refused.is_empty(), "{refused:?}");
}
