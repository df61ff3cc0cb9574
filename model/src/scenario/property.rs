//! Properties written as WebAssembly: `[[property]]` names a checker module that reads every
//! event of a run and says whether its property held — for what no built-in property and no
//! expression can say, in the language the team writes its services in. The checker ABI is in
//! `guests/ABI.md` ("Property checkers"); `sim/src/properties/wasm.rs` runs it.

use serde::Serialize;

use super::NameRef;
use super::reader::{Cx, Obj};
use crate::diagnostic::Span;

/// One `[[property]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WasmProperty {
    /// The verdict's id: unique among the scenario's properties.
    pub name: String,
    /// What it asserts, shown beside its verdict.
    pub description: String,
    /// The checker module, relative to the scenario's directory (`.wasm` or `.wat`).
    pub module: NameRef,
    #[serde(skip)]
    pub span: Span,
}

impl WasmProperty {
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<WasmProperty> {
        let name = o.req_str(cx, "name", "the property's name (its verdict's id)");
        let description = o.opt_str(cx, "description").map(|d| d.0).unwrap_or_default();
        let module = o.req_str(cx, "module", "the checker module (`.wasm` or `.wat`)");
        let span = o.span;
        o.finish(cx);
        let (name, name_span) = name?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            let msg = format!(
                "property name `{name}` must be non-empty letters, digits, `-`, `_` or `.` (it names a verdict and a file)"
            );
            cx.error("parse.value", name_span, "name", msg);
            return None;
        }
        Some(WasmProperty { name, description, module: module?.into(), span })
    }
}

/// Two `[[property]]` tables with one name would give two verdicts one id.
pub(crate) fn check_unique(cx: &mut Cx<'_>, properties: &[WasmProperty]) {
    for (i, p) in properties.iter().enumerate() {
        if properties[..i].iter().any(|q| q.name == p.name) {
            let msg =
                format!("a second property named `{}`: property names must be unique", p.name);
            cx.error("parse.duplicate", p.span, "name", msg);
        }
    }
}
