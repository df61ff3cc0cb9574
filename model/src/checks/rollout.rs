//! Before a rollout (`[[rollout]]`) starts, its new module is held to what the old one was
//! held to, and every caller to what the new one declares — the checks a Kubernetes admission
//! webhook or a CI contract test would run before `kubectl rollout`:
//!
//! - `rollout-valid`, `rollout-abi`, `rollout-capability`: the services' module checks
//!   (`modules.rs`) on the new module, as the service's: it validates, exports every endpoint's
//!   handler with the ABI's signatures, and imports nothing the service is not granted. The
//!   host would refuse to load such a module, so these stop a run as the module checks do.
//! - `rollout-contract`: every call into the service, held against the endpoints as the
//!   rollout changes them (version, request, response) with the contract rules of
//!   `contracts.rs`; only what the change breaks is reported (what the declared endpoint
//!   already breaks is `contract-*`'s), naming the caller — a field the caller sends or uses
//!   whose type changes incompatibly included (`change_problems`: the caller was written
//!   against the declared types).

use super::contracts::{call_problems, change_problems};
use super::modules::{ABI_ID, CAPABILITY_ID, VALID_ID, service_module};
use super::{Findings, Modules};

pub(super) const VALID: &str = "rollout-valid";
pub(super) const ABI: &str = "rollout-abi";
pub(super) const CAPABILITY: &str = "rollout-capability";
pub(super) const CONTRACT: &str = "rollout-contract";

pub(super) fn check(f: &mut Findings<'_>, modules: &Modules) {
    let s = f.s;
    for r in &s.rollouts {
        let Some(i) = s.services.iter().position(|x| x.name == r.service.name) else { continue };
        let svc = &s.services[i];
        let what = format!("rollout of `{}` to `{}`", svc.name, r.module.name);
        // The module checks, under this check's ids, located at the rollout's module.
        let mut own = Findings { s, diags: Vec::new() };
        service_module(&mut own, modules, i, &r.module);
        for mut d in own.diags {
            d.code = match d.code.as_str() {
                VALID_ID => VALID,
                ABI_ID => ABI,
                CAPABILITY_ID => CAPABILITY,
                other => unreachable!("a module check has id {other}"),
            }
            .to_owned();
            d.message = format!("{what}: {}", d.message);
            d.location = Some(s.locate(r.module.span));
            f.diags.push(d);
        }
        for caller in &s.services {
            for call in caller.calls.iter().filter(|c| c.service.name == svc.name) {
                let Some(old) = svc.endpoint(&call.endpoint.name) else { continue };
                let new = r.endpoint_after(old);
                let before = call_problems(&caller.name, call, &svc.name, old);
                let after = call_problems(&caller.name, call, &svc.name, &new)
                    .into_iter()
                    .filter(|p| !before.contains(p));
                let retyped = change_problems(&caller.name, call, &svc.name, old, &new);
                for p in after.chain(retyped) {
                    f.error(
                        CONTRACT,
                        call.span,
                        format!("{what} breaks a caller: {}", p.message),
                    )
                    .hint = Some(p.hint.unwrap_or_else(|| {
                        "keep the field in the new module's response, or update the caller first"
                            .into()
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::checks::{Modules, outcomes};
    use crate::module::{inspect, module_bytes};
    use crate::scenario::parse;

    /// A module serving `get` with the ABI's exports, importing `imports` (WAT text).
    fn module(exports_get: bool, imports: &str) -> Result<crate::module::ModuleInfo, String> {
        let get = if exports_get {
            r#"(func (export "handle_get") (param i32 i32) (result i64) (i64.const 0))"#
        } else {
            ""
        };
        let wat = format!(
            r#"(module {imports} (memory (export "memory") 1)
               (func (export "alloc") (param i32) (result i32) (i32.const 0)) {get})"#
        );
        let bytes = module_bytes("m.wat", wat.as_bytes()).map_err(|e| e.to_string())?;
        inspect(&bytes).map_err(|e| e.to_string())
    }

    const DESIGN: &str = r#"
[system]
name = "t"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[[channel]]
name = "http"
kind = "rest"
[[service]]
name = "catalog"
context = "c"
node = "n"
module = "catalog.wat"
[[service.endpoint]]
name = "get"
version = "1.2.0"
request = { id = "string", "trace?" = "string" }
response = { id = "string", price = "number", "note?" = "string" }
[[service]]
name = "orders"
context = "c"
node = "n"
module = "catalog.wat"
[[service.endpoint]]
name = "get"
[[service.call]]
service = "catalog"
endpoint = "get"
channel = "http"
version = "^1.0"
sends = ["id"]
uses = ["price"]
[[rollout]]
service = "catalog"
module = "catalog2.wat"
at_s = 1
"#;

    /// (id, message) of every failed rollout finding of `DESIGN` + `change` with `new` as the
    /// rollout's module.
    fn findings(
        change: &str,
        new: Result<crate::module::ModuleInfo, String>,
    ) -> Vec<(String, String)> {
        let p = parse("t.toml", &format!("{DESIGN}{change}"));
        assert!(!p.has_errors(), "{:?}", p.diagnostics);
        let s = p.ok().expect("parsed");
        let mut modules = Modules::new();
        modules.insert("catalog.wat".into(), module(true, ""));
        modules.insert("catalog2.wat".into(), new);
        outcomes(&s, &modules)
            .into_iter()
            .filter(|c| {
                c.id.starts_with("rollout-")
                    || c.id.starts_with("module-")
                    || c.id.starts_with("contract-")
            })
            .flat_map(|c| c.findings)
            .map(|d| (d.code, d.message))
            .collect()
    }

    /// A field the caller sends or uses changing its type breaks the caller, as it stood
    /// written against the declared type; a compatible change (a response `number` narrowed
    /// to `integer`, a request `integer` widened to `number`) and a change to a field nobody
    /// sends or uses do not.
    #[test]
    fn catches_a_type_change_of_a_field_a_caller_sends_or_uses() {
        let response = findings(
            "[rollout.endpoints.get]\nversion = \"1.3.0\"\nresponse = { id = \"string\", price = \"string\" }\n",
            module(true, ""),
        );
        assert_eq!(
            response,
            [(
                "rollout-contract".to_owned(),
                "rollout of `catalog` to `catalog2.wat` breaks a caller: `orders` relies on response field `price` of catalog.get as number, but the new contract makes it string".to_owned()
            )]
        );
        let request = findings(
            "[rollout.endpoints.get]\nversion = \"1.3.0\"\nrequest = { id = \"integer\" }\n",
            module(true, ""),
        );
        assert_eq!(
            request,
            [(
                "rollout-contract".to_owned(),
                "rollout of `catalog` to `catalog2.wat` breaks a caller: `orders` sends request field `id` of catalog.get as string, but the new contract takes integer".to_owned()
            )]
        );
        let nested = findings(
            "[rollout.endpoints.get]\nrequest = { id = { value = \"string\" } }\n",
            module(true, ""),
        );
        assert!(
            nested.iter().any(|(id, m)| id == "rollout-contract"
                && m.contains("sends request field `id` of catalog.get as string, but the new contract takes { value: string }")),
            "{nested:?}"
        );
        let compatible = "[rollout.endpoints.get]\nversion = \"1.3.0\"\nrequest = { id = \"string\", \"trace?\" = \"integer\" }\nresponse = { id = \"integer\", price = \"integer\", \"note?\" = \"boolean\" }\n";
        assert_eq!(findings(compatible, module(true, "")), Vec::<(String, String)>::new());
    }

    #[test]
    fn a_compatible_rollout_has_no_finding() {
        // A new optional field and a minor version: every caller still fits.
        let change = "[rollout.endpoints.get]\nversion = \"1.3.0\"\nresponse = { id = \"string\", price = \"number\", \"stock?\" = \"integer\" }\n";
        assert_eq!(findings(change, module(true, "")), Vec::<(String, String)>::new());
    }

    #[test]
    fn catches_a_removed_field_a_major_version_a_missing_export_and_an_ungranted_import() {
        let removed =
            findings("[rollout.endpoints.get]\nresponse = { id = \"string\" }\n", module(true, ""));
        assert!(
            removed.iter().any(|(id, m)| id == "rollout-contract"
                && m.contains("`orders` relies on response field `price` of catalog.get")),
            "{removed:?}"
        );
        let major = findings("[rollout.endpoints.get]\nversion = \"2.0.0\"\n", module(true, ""));
        assert!(
            major.iter().any(|(id, m)| id == "rollout-contract"
                && m.contains("`orders` requires catalog.get version ^1.0, but it is 2.0.0")),
            "{major:?}"
        );
        let required =
            findings("[rollout.endpoints.get]\nrequest = { sku = \"string\" }\n", module(true, ""));
        assert!(
            required.iter().any(|(id, m)| id == "rollout-contract"
                && m.contains("without required request field `sku`")),
            "{required:?}"
        );
        let no_export = findings("", module(false, ""));
        assert!(
            no_export.iter().any(|(id, m)| id == "rollout-abi" && m.contains("handle_get")),
            "{no_export:?}"
        );
        let ungranted =
            findings("", module(true, r#"(import "fusebench" "now" (func (result i64)))"#));
        assert!(ungranted.iter().any(|(id, _)| id == "rollout-capability"), "{ungranted:?}");
        // The service's own module checks stay clean: only the rollout is blamed.
        for f in [&removed, &major, &no_export, &ungranted] {
            assert!(f.iter().all(|(id, _)| id.starts_with("rollout-")), "{f:?}");
        }
    }
}
