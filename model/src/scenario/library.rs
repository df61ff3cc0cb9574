//! `[[library]]`: WebAssembly modules that services link against — a library shared by several
//! services, or a legacy core behind an adapter. A service's `links = ["money"]` satisfies its
//! module's imports from module `money` with the exports of library `money`'s instance, as
//! wasmtime's `Linker::instance` does (shared-nothing: every module keeps its own memory; only
//! functions are linked). A library may link further libraries; the links form no cycle.

use serde::Serialize;

use super::NameRef;
use super::reader::{Cx, Obj};
use crate::capability::{HOST_NAMESPACE, WASI_NAMESPACE};
use crate::diagnostic::Span;

/// Import module names a library cannot take: the host's own namespaces.
pub const RESERVED_LIBRARY_NAMES: &[&str] = &[HOST_NAMESPACE, WASI_NAMESPACE, "env"];

/// One `[[library]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Library {
    /// The import module name its exports are linked under.
    pub name: String,
    /// The module file, relative to the scenario's directory (`.wasm` or `.wat`).
    pub module: NameRef,
    /// Libraries whose exports satisfy this library's own imports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<NameRef>,
    #[serde(skip)]
    pub span: Span,
}

impl Library {
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Library> {
        let name =
            o.req_str(cx, "name", "the library's name (the import module name it satisfies)");
        let module = o.req_str(cx, "module", "the library module (`.wasm` or `.wat`)");
        let links = read_links(cx, &mut o);
        let name_field = o.field("name");
        let span = o.span;
        o.finish(cx);
        let (name, name_span) = name?;
        if !valid_name(&name) {
            let msg = format!(
                "library name `{name}` must be non-empty letters, digits, `-`, `_` or `.` (it is the import module name)"
            );
            cx.error("parse.value", name_span, &name_field, msg);
            return None;
        }
        if RESERVED_LIBRARY_NAMES.contains(&name.as_str()) {
            let msg = format!(
                "library name `{name}` is a host namespace ({}): imports from it go to the host",
                RESERVED_LIBRARY_NAMES.join(", ")
            );
            cx.error("parse.value", name_span, &name_field, msg);
            return None;
        }
        Some(Library { name, module: module?.into(), links, span })
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// `links = ["money", …]` of a service or a library: names of `[[library]]` tables (resolved
/// in `resolve.rs`); a name listed twice is an error where it is repeated.
pub(crate) fn read_links(cx: &mut Cx<'_>, o: &mut Obj<'_, '_>) -> Vec<NameRef> {
    let mut links: Vec<NameRef> = Vec::new();
    for (name, span) in o.str_list(cx, "links") {
        if links.iter().any(|l| l.name == name) {
            let msg = format!("library `{name}` is linked twice");
            cx.error("parse.duplicate", span, &o.field("links"), msg);
            continue;
        }
        links.push(NameRef { name, span });
    }
    links
}
