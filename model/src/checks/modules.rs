//! Module checks (seed §3.2–3.3): each service's module validates (Validate ∧ Interpret needs
//! Validate first), exports what the guest ABI requires for its declared endpoints, and imports
//! nothing its granted capabilities do not cover — the sandbox is enforced before the run.

use super::{Findings, Modules};
use crate::capability::{Capability, HOST_NAMESPACE, ImportNeed, import_need};
use crate::module::{ExternKind, FuncSig, ValType};

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
        if !info.exported_memory() {
            f.error(ABI_ID, at, format!("module of `{}` does not export its `memory`", svc.name));
        }
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

fn grant_hint(cap: Capability) -> String {
    format!("add \"{cap}\" to the service's `capabilities` if it should have it")
}
