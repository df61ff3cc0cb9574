//! A composed service's composition in the inspector: its module and the libraries it links
//! (`[[library]]`, `links`), in instantiation order, and which import of which module each
//! library's exports resolve — the links `check` verifies (`link-unresolved`,
//! `link-signature`), shown as the host will link them (wasmtime's `Linker::instance`).

use eframe::egui::{self, RichText};
use fusebench_model::Scenario;
use fusebench_model::checks::Modules;
use fusebench_model::module::{ExternKind, ModuleInfo};
use fusebench_model::scenario::{NameRef, Service};
use fusebench_model::text::into_plain;

use crate::theme;

/// One module of a composition: who it is, its file, the libraries it links.
struct Member<'a> {
    who: String,
    file: &'a str,
    links: &'a [NameRef],
}

/// The composition of `svc`, if it links any library.
pub fn composition_ui(ui: &mut egui::Ui, s: &Scenario, svc: &Service, modules: &Modules) {
    let Some(module) = &svc.module else { return };
    if svc.links.is_empty() {
        return;
    }
    let libraries = s.composition(svc);
    let mut members = vec![Member {
        who: format!("module of {}", svc.name),
        file: &module.name,
        links: &svc.links,
    }];
    for lib in &libraries {
        members.push(Member {
            who: format!("library {}", lib.name),
            file: &lib.module.name,
            links: &lib.links,
        });
    }
    ui.label(RichText::new(format!("Composition ({} modules)", members.len())).strong());
    ui.weak("instantiated together in one store: libraries first, then the service's module");
    for member in &members {
        let links: Vec<&str> = member.links.iter().map(|l| l.name.as_str()).collect();
        let linked = if links.is_empty() {
            String::new()
        } else {
            format!(" — links {}", links.join(", "))
        };
        ui.label(
            RichText::new(into_plain(format!("{} ({}){linked}", member.who, member.file)))
                .monospace(),
        );
        let Some(Ok(info)) = modules.get(member.file) else {
            ui.colored_label(theme::FAIL, "  not inspected or invalid");
            continue;
        };
        for line in resolutions(s, info, member.links, modules) {
            match line {
                Ok(text) => ui.label(RichText::new(into_plain(format!("  {text}"))).monospace()),
                Err(text) => ui.colored_label(theme::FAIL, into_plain(format!("  {text}"))),
            };
        }
    }
}

/// For each import of `info` from a linked library: `Ok("money.tax_cents ← library money")`
/// when the library exports a function of the same type, `Err(...)` saying why not.
fn resolutions(
    s: &Scenario,
    info: &ModuleInfo,
    links: &[NameRef],
    modules: &Modules,
) -> Vec<Result<String, String>> {
    info.imports
        .iter()
        .filter(|i| links.iter().any(|l| l.name == i.module))
        .map(|imp| {
            let sig = imp.sig.as_ref().map_or(String::new(), |s| format!(" {s}"));
            let what = format!("{}.{}{sig}", imp.module, imp.name);
            let lib = s.library(&imp.module);
            let export = lib
                .and_then(|l| modules.get(&l.module.name))
                .and_then(|m| m.as_ref().ok())
                .and_then(|m| m.exports.iter().find(|e| e.name == imp.name));
            match export {
                Some(e) if e.kind == ExternKind::Func && e.sig == imp.sig => {
                    Ok(format!("{what} ← library {}", imp.module))
                }
                Some(e) => Err(format!(
                    "{what} ✗ library {} exports it as {} {}",
                    imp.module,
                    e.kind,
                    e.sig.as_ref().map_or(String::new(), ToString::to_string)
                )),
                None => {
                    Err(format!("{what} ✗ unresolved: library {} does not export it", imp.module))
                }
            }
        })
        .collect()
}
