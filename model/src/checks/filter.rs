//! Module checks of the mesh's WebAssembly filters (`[[mesh.filter]]`), under the same ids as
//! the services' module checks, so a filter that cannot be loaded stops a run the same way: its
//! module reads and validates (an invalid one is named by its file), exports `memory`, `alloc`
//! and `handle_request` (and `handle_response`, when it has one) with the ABI's signatures, and
//! imports nothing its grants (`capabilities`, default `log`) do not cover. A filter a
//! `[[mesh.push]]` brings is held to the same, its findings naming the push.

use std::collections::BTreeSet;

use super::modules::{ABI_ID, Required, VALID_ID, check_export, imports};
use super::{Findings, Modules};
use crate::abi::{ALLOC, HANDLER};
use crate::capability::Capability;
use crate::diagnostic::Span;
use crate::module::ExternKind;

/// The filter ABI's handlers (guests/ABI.md, "Mesh filters").
pub const REQUEST_HANDLER: &str = "handle_request";
pub const RESPONSE_HANDLER: &str = "handle_response";

pub(super) fn check(f: &mut Findings<'_>, modules: &Modules) {
    let s = f.s;
    let Some(mesh) = &s.mesh else { return };
    for filter in mesh.every_filter() {
        let owner = match filter.pushed {
            None => format!("mesh filter {}", filter.name),
            Some(i) => format!(
                "mesh filter {} pushed by mesh.push[{i}] (at {} s)",
                filter.name, mesh.pushes[i].at_s
            ),
        };
        let extension = Extension {
            module: &filter.module.name,
            at: filter.module.span,
            owner,
            handlers: &[(REQUEST_HANDLER, Required::Yes), (RESPONSE_HANDLER, Required::No)],
            granted: &filter.capabilities,
            hint: grant_hint,
        };
        extension.check(f, modules);
    }
}

/// A module that extends the host rather than serving endpoints (a mesh filter, a scaling
/// policy): it exports `memory`, `alloc` and its ABI's handlers, and imports within `granted`.
pub(super) struct Extension<'a> {
    pub(super) module: &'a str,
    pub(super) at: Span,
    /// Who it belongs to, in words (`mesh filter auth`).
    pub(super) owner: String,
    pub(super) handlers: &'a [(&'a str, Required)],
    pub(super) granted: &'a BTreeSet<Capability>,
    pub(super) hint: fn(Capability) -> String,
}

impl Extension<'_> {
    pub(super) fn check(&self, f: &mut Findings<'_>, modules: &Modules) {
        let (module, at, owner) = (self.module, self.at, &self.owner);
        let info = match modules.get(module) {
            Some(Ok(info)) => info,
            Some(Err(reason)) => {
                let msg = format!("module `{module}` of {owner} is not usable: {reason}");
                f.error(VALID_ID, at, msg);
                return;
            }
            None => {
                f.error(VALID_ID, at, format!("module `{module}` of {owner} was not loaded"));
                return;
            }
        };
        if !info.exports.iter().any(|e| e.name == "memory" && e.kind == ExternKind::Memory) {
            f.error(
                ABI_ID,
                at,
                format!("module `{module}` of {owner} does not export its `memory`"),
            );
        }
        check_export(f, at, info, owner, "alloc", ALLOC, Required::Yes);
        for &(handler, required) in self.handlers {
            check_export(f, at, info, owner, handler, HANDLER, required);
        }
        imports(f, at, owner, self.granted, info, self.hint, &[]);
    }
}

fn grant_hint(cap: Capability) -> String {
    format!(
        "add \"{cap}\" to the filter's `capabilities` if it should have it (filters may have log, clock, random)"
    )
}

#[cfg(test)]
#[path = "filter_tests.rs"]
pub(super) mod tests;
