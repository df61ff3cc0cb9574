//! Module checks of scaling policy modules (`[service.autoscale] policy = { module = … }`),
//! under the services' module check ids, so a policy that could only fault is named before the
//! run instead of silently falling back to the reactive decision every interval: its module
//! validates, exports `memory`, `alloc` and `handle_decide` with the ABI's signatures
//! (guests/ABI.md, "Scaling policies"), and imports nothing but `log` — a decision may depend
//! on nothing but its input.

use std::collections::BTreeSet;

use super::filter::Extension;
use super::modules::Required;
use super::{Findings, Modules};
use crate::capability::Capability;
use crate::scenario::ScalePolicy;

/// The policy ABI's handler.
const DECIDE_HANDLER: &str = "handle_decide";

pub(super) fn check(f: &mut Findings<'_>, modules: &Modules) {
    let s = f.s;
    let granted = BTreeSet::from([Capability::Log]);
    for svc in &s.services {
        let Some(ScalePolicy::Module(policy)) = svc.autoscale.as_ref().map(|a| &a.policy) else {
            continue;
        };
        let extension = Extension {
            module: &policy.module.name,
            at: policy.module.span,
            owner: format!("the scaling policy of `{}`", svc.name),
            handlers: &[(DECIDE_HANDLER, Required::Yes)],
            granted: &granted,
            hint: grant_hint,
        };
        extension.check(f, modules);
    }
}

fn grant_hint(cap: Capability) -> String {
    format!(
        "a scaling policy may only `log`: its decision must follow from its input alone, so \"{cap}\" cannot be granted"
    )
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
