//! Module checks (seed §3.2–3.3): each service's module validates (Validate ∧ Interpret needs
//! Validate first), exports what the guest ABI requires for its declared endpoints, and imports
//! nothing its granted capabilities do not cover — the sandbox is enforced before the run.

use super::{Findings, Modules};
use crate::abi::{self, ALLOC, HANDLER, INITIALIZE, Signature};
use crate::capability::{Capability, HOST_NAMESPACE, ImportNeed, import_need};
use crate::module::{ExternKind, ModuleInfo};

pub(super) const VALID_ID: &str = "module-valid";
pub(super) const ABI_ID: &str = "module-abi";
pub(super) const CAPABILITY_ID: &str = "module-capability";

pub(super) fn check(f: &mut Findings<'_>, modules: &Modules) {
    let s = f.s;
    for svc in &s.services {
        let Some(module) = &svc.module else { continue };
        let info = match modules.get(&module.name) {
            Some(Ok(info)) => info,
            Some(Err(reason)) => {
                f.error(
                    VALID_ID,
                    module.span,
                    format!("module `{}` of `{}` is not usable: {reason}", module.name, svc.name),
                );
                continue;
            }
            None => {
                f.error(
                    VALID_ID,
                    module.span,
                    format!("module `{}` of `{}` was not loaded", module.name, svc.name),
                );
                continue;
            }
        };
        let at = module.span;
        // The host copies requests and responses through the export named `memory`, and
        // refuses a memory that starts above the service's limit.
        match info.exports.iter().find(|e| e.name == "memory") {
            Some(e) if e.kind == ExternKind::Memory => {
                let initial_bytes = info
                    .memories
                    .iter()
                    .find(|m| m.index == e.index)
                    .map_or(0, |m| m.min_pages.saturating_mul(65_536));
                let limit_bytes = s.memory_max_kib(svc).saturating_mul(1024);
                if initial_bytes > limit_bytes {
                    f.error(
                        ABI_ID,
                        at,
                        format!(
                            "the memory of `{}` starts at {initial_bytes} bytes, over the service's limit of {limit_bytes} bytes",
                            svc.name
                        ),
                    )
                    .hint = Some("raise `memory_max_kib` or shrink the module's initial memory".into());
                }
            }
            Some(e) => {
                f.error(
                    ABI_ID,
                    at,
                    format!(
                        "`memory` of `{}` is a {}, the ABI needs a memory",
                        svc.name,
                        e.kind.as_str()
                    ),
                );
            }
            None => {
                f.error(
                    ABI_ID,
                    at,
                    format!("module of `{}` does not export its `memory`", svc.name),
                );
            }
        }
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
        for imp in &info.imports {
            let what = format!("`{}` imports `{}.{}`", svc.name, imp.module, imp.name);
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
                ImportNeed::Capability(cap) if svc.capabilities.contains(&cap) => {
                    check_import(f, at, &what, imp);
                }
                ImportNeed::Capability(cap) => {
                    f.error(CAPABILITY_ID, at, format!("{what}, which needs capability `{cap}`, not granted (sandbox violation)"))
                        .hint = Some(grant_hint(cap));
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
}

/// Whether an export must be there, or is only checked when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Required {
    Yes,
    No,
}

/// The function export `name` has the ABI's `want` signature (and exists, if required).
fn check_export(
    f: &mut Findings<'_>,
    at: crate::Span,
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
fn check_import(f: &mut Findings<'_>, at: crate::Span, what: &str, imp: &crate::module::Import) {
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

fn grant_hint(cap: Capability) -> String {
    format!("add \"{cap}\" to the service's `capabilities` if it should have it")
}
