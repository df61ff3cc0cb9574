//! Module checks (seed §3.2–3.3): each service's module validates (Validate ∧ Interpret needs
//! Validate first), exports what the guest ABI requires for its declared endpoints, and imports
//! nothing its granted capabilities do not cover — the sandbox is enforced before the run.

use super::{Findings, Modules};
use crate::abi::{self, ALLOC, HANDLER, INITIALIZE, Signature};
use crate::capability::{Capability, HOST_NAMESPACE, ImportNeed, import_need};
use crate::diagnostic::Span;
use crate::module::{ExternKind, ModuleInfo};
use crate::scenario::NameRef;

pub(super) const VALID_ID: &str = "module-valid";
pub(super) const ABI_ID: &str = "module-abi";
pub(super) const CAPABILITY_ID: &str = "module-capability";

pub(super) fn check(f: &mut Findings<'_>, modules: &Modules) {
    let s = f.s;
    for (i, svc) in s.services.iter().enumerate() {
        let Some(module) = &svc.module else { continue };
        service_module(f, modules, i, module);
    }
}

/// The module checks of service `i` running `module` (its own, or one a rollout brings).
pub(super) fn service_module(f: &mut Findings<'_>, modules: &Modules, i: usize, module: &NameRef) {
    let s = f.s;
    let svc = &s.services[i];
    let info = match modules.get(&module.name) {
        Some(Ok(info)) => info,
        Some(Err(reason)) => {
            f.error(
                VALID_ID,
                module.span,
                format!("module `{}` of `{}` is not usable: {reason}", module.name, svc.name),
            );
            return;
        }
        None => {
            f.error(
                VALID_ID,
                module.span,
                format!("module `{}` of `{}` was not loaded", module.name, svc.name),
            );
            return;
        }
    };
    let at = module.span;
    memory(f, i, &module.name, info, at);
    check_export(f, at, info, &svc.name, "alloc", ALLOC, Required::Yes);
    for ep in &svc.endpoints {
        let export = abi::handler_name(&ep.name);
        if info.export_func(&export).is_none() {
            f.error(
                ABI_ID,
                ep.span,
                format!(
                    "endpoint `{}` of `{}` has no export `{export}` in `{}`",
                    ep.name, svc.name, module.name
                ),
            )
            .hint = Some(format!(
                "exports of the module: {}",
                info.exports.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
            ));
        } else {
            check_export(f, ep.span, info, &svc.name, &export, HANDLER, Required::Yes);
        }
    }
    check_export(f, at, info, &svc.name, "_initialize", INITIALIZE, Required::No);
    // Imports from a declared library's name are the link checks' (`links.rs`).
    let libraries: Vec<&str> = s.libraries.iter().map(|l| l.name.as_str()).collect();
    imports(f, at, &svc.name, &svc.capabilities, info, grant_hint, &libraries);
}

/// Every import of `owner`'s module is a host function covered by `granted` (or free), with
/// the host's signature; `hint` says how to grant a missing capability. Imports from the
/// `linked` libraries' namespaces are the link checks' (`links.rs`).
pub(super) fn imports(
    f: &mut Findings<'_>,
    at: Span,
    owner: &str,
    granted: &std::collections::BTreeSet<Capability>,
    info: &ModuleInfo,
    hint: fn(Capability) -> String,
    linked: &[&str],
) {
    for imp in info.imports.iter().filter(|i| !linked.contains(&i.module.as_str())) {
        let what = format!("`{owner}` imports `{}.{}`", imp.module, imp.name);
        if imp.kind != ExternKind::Func {
            f.error(
                CAPABILITY_ID,
                at,
                format!(
                    "{what}, a {}: fusebench's host provides only functions",
                    imp.kind.as_str()
                ),
            );
            continue;
        }
        match import_need(&imp.module, &imp.name) {
            ImportNeed::Free => check_import(f, at, &what, imp),
            ImportNeed::Capability(cap) if granted.contains(&cap) => {
                check_import(f, at, &what, imp);
            }
            ImportNeed::Capability(cap) => {
                f.error(
                    CAPABILITY_ID,
                    at,
                    format!(
                        "{what}, which needs capability `{cap}`, not granted (sandbox violation)"
                    ),
                )
                .hint = Some(hint(cap));
            }
            ImportNeed::Unsupported => {
                f.error(CAPABILITY_ID, at, format!("{what}, which fusebench does not provide (outside the host API and the deterministic WASI subset)"));
            }
            ImportNeed::UnknownNamespace => {
                f.error(CAPABILITY_ID, at, format!("{what}: unknown import namespace `{}` (the host API is `{HOST_NAMESPACE}`)", imp.module));
            }
        }
    }
}

/// Whether an export must be there, or is only checked when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Required {
    Yes,
    No,
}

/// The function export `name` has the ABI's `want` signature (and exists, if required).
pub(super) fn check_export(
    f: &mut Findings<'_>,
    at: Span,
    info: &ModuleInfo,
    service: &str,
    name: &str,
    want: Signature,
    required: Required,
) {
    let want_text = want.to_func_sig();
    match info.export_func(name) {
        Some(sig) if want.matches(sig) => {}
        Some(sig) => {
            f.error(
                ABI_ID,
                at,
                format!("`{name}` of `{service}` has signature {sig}, the ABI needs {want_text}"),
            );
        }
        None if required == Required::Yes => {
            f.error(
                ABI_ID,
                at,
                format!("module of `{service}` does not export `{name}` {want_text}"),
            );
        }
        None => {}
    }
}

/// A granted (or free) function import has the signature the host defines it with: the host
/// would refuse to load it otherwise.
fn check_import(f: &mut Findings<'_>, at: Span, what: &str, imp: &crate::module::Import) {
    let (Some(want), Some(have)) = (abi::host_signature(&imp.module, &imp.name), &imp.sig) else {
        return;
    };
    if !want.matches(have) {
        f.error(
            ABI_ID,
            at,
            format!("{what} with signature {have}, the host provides {}", want.to_func_sig()),
        );
    }
}

/// The host needs an export named `memory` that is a memory, and refuses to instantiate one
/// whose initial size is above the service's `memory_max_kib` (its own, or the quality
/// default): both are findings here, so `run` never refuses what `check --static` passed.
fn memory(f: &mut Findings<'_>, i: usize, module: &str, info: &ModuleInfo, at: Span) {
    let s = f.s;
    let svc = &s.services[i];
    let Some(export) = info.exports.iter().find(|e| e.name == "memory") else {
        f.error(ABI_ID, at, format!("module of `{}` does not export its `memory`", svc.name));
        return;
    };
    if export.kind != ExternKind::Memory {
        let kind = export.kind.as_str();
        f.error(
            ABI_ID,
            at,
            format!("module of `{}` exports `memory` as a {kind}, not a memory", svc.name),
        );
        return;
    }
    let Some(memory) = info.memories.iter().find(|m| m.index == export.index) else { return };
    let limit_kib = s.memory_max_kib(svc);
    let initial_bytes = memory.min_pages.saturating_mul(PAGE_BYTES);
    if initial_bytes <= limit_kib.saturating_mul(1024) {
        return;
    }
    let (field, whose) = if svc.memory_max_kib.is_some() {
        (format!("service[{i}].memory_max_kib"), "the service's")
    } else {
        ("quality.memory_max_kib".to_owned(), "the default (quality)")
    };
    let needed_kib = initial_bytes.div_ceil(1024);
    let d = f.error(
        ABI_ID,
        at,
        format!(
            "module `{module}` of `{}` starts with {} page(s) of memory ({needed_kib} KiB), above {whose} memory_max_kib = {limit_kib}: the host would refuse to load it",
            svc.name, memory.min_pages
        ),
    );
    d.field = Some(field);
    d.hint = Some(format!(
        "raise `memory_max_kib` to at least {needed_kib}, or lower the module's initial memory"
    ));
}

/// A WebAssembly page.
pub(super) const PAGE_BYTES: u64 = 65_536;

pub(super) fn grant_hint(cap: Capability) -> String {
    format!("add \"{cap}\" to the service's `capabilities` if it should have it")
}
