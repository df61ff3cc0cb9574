//! Module checks (seed §3.2–3.3): each service's module validates (Validate ∧ Interpret needs
//! Validate first), exports what the guest ABI requires for its declared endpoints, and imports
//! nothing its granted capabilities do not cover — the sandbox is enforced before the run.

use super::{Findings, Modules};
use crate::capability::{Capability, HOST_NAMESPACE, ImportNeed, import_need};
use crate::diagnostic::Span;
use crate::module::{ExternKind, FuncSig, ModuleInfo, ValType};

pub(super) const VALID_ID: &str = "module-valid";
pub(super) const ABI_ID: &str = "module-abi";
pub(super) const CAPABILITY_ID: &str = "module-capability";

use ValType::{I32, I64};

/// The signature the guest ABI (`guests/ABI.md`) gives each host function.
#[must_use]
pub fn host_signature(name: &str) -> Option<FuncSig> {
    Some(match name {
        "kv_get" | "cache_get" => FuncSig::new([I32; 4], [I64]),
        "kv_put" | "cache_put" => FuncSig::new([I32; 6], [I32]),
        "kv_delete" | "publish" => FuncSig::new([I32; 4], [I32]),
        "call" => FuncSig::new([I32; 6], [I64]),
        "log" => FuncSig::new([I32; 3], []),
        "now" | "random" => FuncSig::new([], [I64]),
        _ => return None,
    })
}

pub(super) fn check(f: &mut Findings<'_>, modules: &Modules) {
    let s = f.s;
    for (i, svc) in s.services.iter().enumerate() {
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
        memory(f, i, info, at);
        let alloc = FuncSig::new([I32], [I32]);
        match info.export_func("alloc") {
            Some(sig) if *sig == alloc => {}
            Some(sig) => {
                f.error(
                    ABI_ID,
                    at,
                    format!("`alloc` of `{}` has signature {sig}, the ABI needs {alloc}", svc.name),
                );
            }
            None => {
                f.error(
                    ABI_ID,
                    at,
                    format!("module of `{}` does not export `alloc` {alloc}", svc.name),
                );
            }
        }
        let handler = FuncSig::new([I32, I32], [I64]);
        for ep in &svc.endpoints {
            let export = format!("handle_{}", ep.name);
            match info.export_func(&export) {
                Some(sig) if *sig == handler => {}
                Some(sig) => {
                    f.error(
                        ABI_ID,
                        ep.span,
                        format!(
                            "`{export}` of `{}` has signature {sig}, the ABI needs {handler}",
                            svc.name
                        ),
                    );
                }
                None => {
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
                }
            }
        }
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
                ImportNeed::Free => {}
                ImportNeed::Capability(cap) if svc.capabilities.contains(&cap) => {
                    if imp.module == HOST_NAMESPACE
                        && let (Some(want), Some(have)) = (host_signature(&imp.name), &imp.sig)
                        && want != *have
                    {
                        f.error(
                            ABI_ID,
                            at,
                            format!("{what} with signature {have}, the host provides {want}"),
                        );
                    }
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

/// The host needs an export named `memory` that is a memory, and refuses to instantiate one
/// whose initial size is above the service's `memory_max_kib` (its own, or the quality
/// default): both are findings here, so `run` never refuses what `check --static` passed.
fn memory(f: &mut Findings<'_>, i: usize, info: &ModuleInfo, at: Span) {
    let s = f.s;
    let svc = &s.services[i];
    let module = svc.module.as_ref().map_or("", |m| m.name.as_str());
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
    let Some(memory) = info.memories.get(export.index as usize) else { return };
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
const PAGE_BYTES: u64 = 65_536;

fn grant_hint(cap: Capability) -> String {
    format!("add \"{cap}\" to the service's `capabilities` if it should have it")
}
