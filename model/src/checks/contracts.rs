//! Interface compatibility between caller and callee (seed §2.2, I_s = (API, Contract, Version)).
//!
//! Versions follow semver: the caller's requirement (`call.version`, e.g. `^1.2`) must match the
//! callee endpoint's version. Contracts: every field the callee requires in a request must be in
//! what the caller sends, and every response field the caller uses must be one the callee
//! always provides (declared and required).

use super::Findings;
use crate::scenario::{Call, Endpoint};

pub(super) const VERSION_ID: &str = "contract-version";
pub(super) const FIELDS_ID: &str = "contract-fields";

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    for svc in &s.services {
        for call in &svc.calls {
            let Some(callee) = s.service(&call.service.name) else { continue };
            let Some(ep) = callee.endpoint(&call.endpoint.name) else { continue };
            for p in call_problems(&svc.name, call, &callee.name, ep) {
                let id = match p.kind {
                    Kind::Version => VERSION_ID,
                    Kind::Fields => FIELDS_ID,
                };
                f.error(id, call.span, p.message).hint = p.hint;
            }
        }
    }
}

/// Which rule a call breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Version,
    Fields,
}

/// One way a call does not fit the endpoint it calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    pub(super) kind: Kind,
    pub(super) message: String,
    pub(super) hint: Option<String>,
}

/// Every way `caller`'s `call` does not fit endpoint `ep` of `callee`: the one rule, applied
/// to the declared endpoints here and to a rollout's changed ones (`rollout.rs`).
pub(super) fn call_problems(
    caller: &str,
    call: &Call,
    callee: &str,
    ep: &Endpoint,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let target = format!("{callee}.{}", ep.name);
    if !call.version.matches(&ep.version) {
        out.push(Problem {
            kind: Kind::Version,
            message: format!(
                "`{caller}` requires {target} version {}, but it is {}",
                call.version, ep.version
            ),
            hint: Some(
                "update the caller's requirement, or keep a compatible endpoint version".into(),
            ),
        });
    }
    for required in ep.request.required() {
        if !call.sends.iter().any(|x| x == required) {
            out.push(Problem {
                kind: Kind::Fields,
                message: format!(
                    "`{caller}` calls {target} without required request field `{required}`"
                ),
                hint: Some(format!(
                    "add \"{required}\" to `sends`, or make it optional in {target}'s request contract"
                )),
            });
        }
    }
    for used in &call.uses {
        let message = match ep.response.fields.get(used) {
            Some(field) if field.required => continue,
            Some(_) => format!(
                "`{caller}` relies on response field `{used}` of {target}, which the callee does not always provide (optional)"
            ),
            None => format!(
                "`{caller}` relies on response field `{used}` of {target}, which its contract does not provide"
            ),
        };
        out.push(Problem { kind: Kind::Fields, message, hint: None });
    }
    out
}
