//! Interface compatibility between caller and callee (seed §2.2, I_s = (API, Contract, Version)).
//!
//! Versions follow semver: the caller's requirement (`call.version`, e.g. `^1.2`) must match the
//! callee endpoint's version. Contracts: every field the callee requires in a request must be in
//! what the caller sends, and every response field the caller uses must be one the callee
//! always provides (declared and required).

use super::Findings;

pub(super) const VERSION_ID: &str = "contract-version";
pub(super) const FIELDS_ID: &str = "contract-fields";

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    for svc in &s.services {
        for call in &svc.calls {
            let Some(callee) = s.service(&call.service.name) else { continue };
            let Some(ep) = callee.endpoint(&call.endpoint.name) else { continue };
            let target = format!("{}.{}", callee.name, ep.name);
            if !call.version.matches(&ep.version) {
                f.error(
                    VERSION_ID,
                    call.span,
                    format!(
                        "`{}` requires {target} version {}, but it is {}",
                        svc.name, call.version, ep.version
                    ),
                )
                .hint = Some(
                    "update the caller's requirement, or keep a compatible endpoint version".into(),
                );
            }
            for required in ep.request.required() {
                if !call.sends.iter().any(|x| x == required) {
                    f.error(
                        FIELDS_ID,
                        call.span,
                        format!(
                            "`{}` calls {target} without required request field `{required}`",
                            svc.name
                        ),
                    )
                    .hint = Some(format!(
                        "add \"{required}\" to `sends`, or make it optional in {target}'s request contract"
                    ));
                }
            }
            for used in &call.uses {
                match ep.response.fields.get(used) {
                    Some(field) if field.required => {}
                    Some(_) => {
                        f.error(FIELDS_ID, call.span, format!("`{}` relies on response field `{used}` of {target}, which the callee does not always provide (optional)", svc.name));
                    }
                    None => {
                        f.error(FIELDS_ID, call.span, format!("`{}` relies on response field `{used}` of {target}, which its contract does not provide", svc.name));
                    }
                }
            }
        }
    }
}
