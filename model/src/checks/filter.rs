//! Module checks of the mesh's WebAssembly filters (`[[mesh.filter]]`), under the same ids as
//! the services' module checks, so a filter that cannot be loaded stops a run the same way: its
//! module reads and validates (an invalid one is named by its file), exports `memory`, `alloc`
//! and `handle_request` (and `handle_response`, when it has one) with the ABI's signatures, and
//! imports nothing its grants (`capabilities`, default `log`) do not cover.

use super::modules::{ABI_ID, Required, VALID_ID, check_export, imports};
use super::{Findings, Modules};
use crate::abi::{ALLOC, HANDLER};
use crate::capability::Capability;
use crate::module::ExternKind;

/// The filter ABI's handlers (guests/ABI.md, "Mesh filters").
pub const REQUEST_HANDLER: &str = "handle_request";
pub const RESPONSE_HANDLER: &str = "handle_response";

pub(super) fn check(f: &mut Findings<'_>, modules: &Modules) {
    let s = f.s;
    let Some(mesh) = &s.mesh else { return };
    for filter in &mesh.filters {
        let (module, at) = (&filter.module.name, filter.module.span);
        let owner = format!("mesh filter {}", filter.name);
        let info = match modules.get(module) {
            Some(Ok(info)) => info,
            Some(Err(reason)) => {
                let msg = format!("module `{module}` of {owner} is not usable: {reason}");
                f.error(VALID_ID, at, msg);
                continue;
            }
            None => {
                f.error(VALID_ID, at, format!("module `{module}` of {owner} was not loaded"));
                continue;
            }
        };
        if !info.exports.iter().any(|e| e.name == "memory" && e.kind == ExternKind::Memory) {
            f.error(
                ABI_ID,
                at,
                format!("module `{module}` of {owner} does not export its `memory`"),
            );
        }
        check_export(f, at, info, &owner, "alloc", ALLOC, Required::Yes);
        check_export(f, at, info, &owner, REQUEST_HANDLER, HANDLER, Required::Yes);
        check_export(f, at, info, &owner, RESPONSE_HANDLER, HANDLER, Required::No);
        imports(f, at, &owner, &filter.capabilities, info, grant_hint);
    }
}

fn grant_hint(cap: Capability) -> String {
    format!(
        "add \"{cap}\" to the filter's `capabilities` if it should have it (filters may have log, clock, random)"
    )
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
