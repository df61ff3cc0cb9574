//! Link checks for composed services (`[[library]]`, `links`): the composition links as
//! wasmtime's `Linker::instance` would link it, or the host refuses it. Every import of every
//! module in a composition is resolved — by the host ABI or by a linked library's export of the
//! same name — with equal signatures; the libraries link no cycle; each library reads and
//! validates; and the sandbox covers the whole composition: a library's host imports need the
//! service's own grants (`module-capability`), so linking one reaches no capability the
//! service was not granted.

use std::collections::BTreeSet;

use super::modules::{self, ABI_ID, PAGE_BYTES, VALID_ID, grant_hint};
use super::{Findings, Modules};
use crate::abi;
use crate::capability::{HOST_NAMESPACE, WASI_NAMESPACE};
use crate::diagnostic::Span;
use crate::module::{ExternKind, ModuleInfo};
use crate::scenario::{Library, NameRef, Scenario, Service};

pub(super) const UNRESOLVED_ID: &str = "link-unresolved";
pub(super) const SIGNATURE_ID: &str = "link-signature";
pub(super) const CYCLE_ID: &str = "link-cycle";

pub(super) fn check(f: &mut Findings<'_>, modules: &Modules) {
    let s = f.s;
    for lib in &s.libraries {
        let Some(info) = library_info(f, lib, modules) else { continue };
        let owner = format!("library `{}`", lib.name);
        linked_imports(f, &owner, info, &lib.links, lib.module.span, modules);
    }
    cycles(f);
    for svc in s.services.iter().filter(|x| !x.links.is_empty()) {
        let Some(module) = &svc.module else { continue };
        if let Some(Ok(info)) = modules.get(&module.name) {
            let owner = format!("`{}`", svc.name);
            linked_imports(f, &owner, info, &svc.links, module.span, modules);
        }
        composition(f, svc, modules);
    }
    // A module importing from a library it does not link (a service without `links`).
    for svc in s.services.iter().filter(|x| x.links.is_empty()) {
        let Some(module) = &svc.module else { continue };
        if let Some(Ok(info)) = modules.get(&module.name) {
            let owner = format!("`{}`", svc.name);
            linked_imports(f, &owner, info, &[], module.span, modules);
        }
    }
}

/// The library's module inspected, or a `module-valid` finding at its `module`.
fn library_info<'m>(
    f: &mut Findings<'_>,
    lib: &Library,
    modules: &'m Modules,
) -> Option<&'m ModuleInfo> {
    match modules.get(&lib.module.name) {
        Some(Ok(info)) => Some(info),
        Some(Err(reason)) => {
            let msg = format!(
                "module `{}` of library `{}` is not usable: {reason}",
                lib.module.name, lib.name
            );
            f.error(VALID_ID, lib.module.span, msg);
            None
        }
        None => {
            let msg =
                format!("module `{}` of library `{}` was not loaded", lib.module.name, lib.name);
            f.error(VALID_ID, lib.module.span, msg);
            None
        }
    }
}

fn is_host_namespace(ns: &str) -> bool {
    ns == HOST_NAMESPACE || ns == WASI_NAMESPACE || ns == "env"
}

/// Every import `owner`'s module takes from a library namespace is resolved by a library it
/// links, which exports a function of that name with the same signature.
fn linked_imports(
    f: &mut Findings<'_>,
    owner: &str,
    info: &ModuleInfo,
    links: &[NameRef],
    module_span: Span,
    modules: &Modules,
) {
    let s = f.s;
    for imp in info.imports.iter().filter(|i| !is_host_namespace(&i.module)) {
        let what = format!("{owner} imports `{}.{}`", imp.module, imp.name);
        let Some(link) = links.iter().find(|l| l.name == imp.module) else {
            if s.library(&imp.module).is_some() {
                let d = f.error(
                    UNRESOLVED_ID,
                    module_span,
                    format!("{what}, but does not link library `{}`", imp.module),
                );
                d.hint = Some(format!("add \"{}\" to its `links`", imp.module));
            }
            // Any other namespace is `module-capability`'s (unknown import namespace).
            continue;
        };
        let Some(lib) = s.library(&link.name) else { continue };
        let Some(Ok(lib_info)) = modules.get(&lib.module.name) else { continue };
        if imp.kind != ExternKind::Func {
            let msg = format!(
                "{what}, a {}: only functions are linked between modules (each keeps its own memory, globals and tables)",
                imp.kind
            );
            f.error(SIGNATURE_ID, link.span, msg);
            continue;
        }
        let Some(export) = lib_info.exports.iter().find(|e| e.name == imp.name) else {
            let exported: Vec<&str> = lib_info
                .exports
                .iter()
                .filter(|e| e.kind == ExternKind::Func)
                .map(|e| e.name.as_str())
                .collect();
            let d = f.error(
                UNRESOLVED_ID,
                link.span,
                format!(
                    "{what}, which library `{}` (`{}`) does not export",
                    lib.name, lib.module.name
                ),
            );
            d.hint = Some(format!("functions it exports: {}", exported.join(", ")));
            continue;
        };
        let (Some(want), Some(have)) = (&imp.sig, &export.sig) else {
            let msg = format!(
                "{what}, a function, but library `{}` exports `{}` as a {}",
                lib.name, imp.name, export.kind
            );
            f.error(SIGNATURE_ID, link.span, msg);
            continue;
        };
        if want != have {
            let msg = format!(
                "{what} as {want}, but library `{}` (`{}`) exports it as {have}",
                lib.name, lib.module.name
            );
            f.error(SIGNATURE_ID, link.span, msg);
        }
    }
}

/// Cycles among the libraries' links, each reported once (named from its alphabetically
/// first library), at the link entry that closes it where a walk in declaration order first
/// finds it.
fn cycles(f: &mut Findings<'_>) {
    let s = f.s;
    let mut seen: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut found: Vec<(Vec<String>, Span)> = Vec::new();
    for lib in &s.libraries {
        let mut path = vec![lib.name.clone()];
        walk(s, lib, &mut path, &mut seen, &mut found);
    }
    for (cycle, span) in found {
        let shown = cycle.join(" → ");
        let msg = format!(
            "libraries link in a cycle: {shown} → {} (a composition is instantiated libraries first, so links must form no cycle)",
            cycle[0]
        );
        f.error(CYCLE_ID, span, msg);
    }
}

fn walk(
    s: &Scenario,
    lib: &Library,
    path: &mut Vec<String>,
    seen: &mut BTreeSet<Vec<String>>,
    found: &mut Vec<(Vec<String>, Span)>,
) {
    for link in &lib.links {
        if let Some(at) = path.iter().position(|p| *p == link.name) {
            let mut cycle = path[at..].to_vec();
            // Rotate to start at the smallest name: one key per cycle.
            let min = cycle.iter().enumerate().min_by(|a, b| a.1.cmp(b.1)).map_or(0, |m| m.0);
            cycle.rotate_left(min);
            if seen.insert(cycle.clone()) {
                found.push((cycle, link.span));
            }
            continue;
        }
        let Some(next) = s.library(&link.name) else { continue };
        path.push(next.name.clone());
        walk(s, next, path, seen, found);
        path.pop();
    }
}

/// The module checks over a service's composition: each library's host imports covered by
/// the service's grants with the host's signatures (`module-capability`, `module-abi`), the
/// `memory`/`alloc` exports those imports need, and the composition's initial memories within
/// the service's limit (the limit covers the whole composition). Located at the service's
/// link through which the library is reached.
fn composition(f: &mut Findings<'_>, svc: &Service, modules: &Modules) {
    let s = f.s;
    let mut initial_bytes: u64 = svc
        .module
        .as_ref()
        .and_then(|m| modules.get(&m.name)?.as_ref().ok())
        .map_or(0, initial_memory);
    for lib in s.composition(svc) {
        let Some(Ok(info)) = modules.get(&lib.module.name) else { continue };
        initial_bytes = initial_bytes.saturating_add(initial_memory(info));
        let at = via(s, svc, &lib.name).unwrap_or(svc.span);
        let owner = format!("`{}`'s library `{}`", svc.name, lib.name);
        // `imports` quotes the owner itself: "`quotes`'s library `legacy` imports …".
        let quoted = &owner[1..owner.len() - 1];
        let libraries: Vec<&str> = s.libraries.iter().map(|l| l.name.as_str()).collect();
        modules::imports(f, at, quoted, &svc.capabilities, info, grant_hint, &libraries);
        let host_imports = || info.imports.iter().filter(|i| is_host_namespace(&i.module));
        if let Some(imp) = host_imports().find(|i| abi::needs_memory(&i.module, &i.name))
            && !info.exports.iter().any(|e| e.name == "memory" && e.kind == ExternKind::Memory)
        {
            let msg = format!(
                "{owner} imports `{}.{}` but does not export its `memory`, where the host reads and writes the call's bytes",
                imp.module, imp.name
            );
            f.error(ABI_ID, at, msg);
        }
        if let Some(imp) = host_imports().find(|i| abi::needs_alloc(&i.module, &i.name)) {
            let want = abi::ALLOC;
            match info.export_func("alloc") {
                Some(sig) if want.matches(sig) => {}
                _ => {
                    let msg = format!(
                        "{owner} imports `{}.{}` but does not export `alloc` {}, through which the host copies the reply in",
                        imp.module,
                        imp.name,
                        want.to_func_sig()
                    );
                    f.error(ABI_ID, at, msg);
                }
            }
        }
    }
    let limit_kib = s.memory_max_kib(svc);
    if initial_bytes > limit_kib.saturating_mul(1024) {
        let at = svc.links.first().map_or(svc.span, |l| l.span);
        let needed_kib = initial_bytes.div_ceil(1024);
        let d = f.error(
            ABI_ID,
            at,
            format!(
                "the composition of `{}` (its module and linked libraries) starts with {needed_kib} KiB of memory, above its memory_max_kib = {limit_kib}: the limit covers the whole composition, so the host would refuse to load it",
                svc.name
            ),
        );
        d.hint = Some(format!("raise `memory_max_kib` to at least {needed_kib}"));
    }
}

/// The bytes of memory a module starts with (its defined memories' minimums).
fn initial_memory(info: &ModuleInfo) -> u64 {
    info.memories
        .iter()
        .filter(|m| !m.imported)
        .map(|m| m.min_pages.saturating_mul(PAGE_BYTES))
        .fold(0, u64::saturating_add)
}

/// The span of `svc`'s first direct link whose composition holds library `target`.
fn via(s: &Scenario, svc: &Service, target: &str) -> Option<Span> {
    svc.links.iter().find_map(|l| {
        let reached = l.name == target
            || s.library(&l.name).is_some_and(|lib| reaches(s, lib, target, &mut Vec::new()));
        reached.then_some(l.span)
    })
}

fn reaches<'a>(s: &'a Scenario, lib: &'a Library, target: &str, path: &mut Vec<&'a str>) -> bool {
    if path.contains(&lib.name.as_str()) {
        return false;
    }
    path.push(&lib.name);
    lib.links.iter().any(|l| {
        l.name == target || s.library(&l.name).is_some_and(|next| reaches(s, next, target, path))
    })
}

#[cfg(test)]
#[path = "links_tests.rs"]
mod tests;
