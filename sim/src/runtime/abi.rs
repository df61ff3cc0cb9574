//! The guest ABI (`guests/ABI.md`) as load-time checks: every import granted and correctly typed,
//! every required export present and correctly typed. The signatures are
//! `fusebench_model::abi`'s table and which capability an import needs is
//! `fusebench_model::capability`'s, so the static check and the loader agree by construction.

use fusebench_model::abi::{ALLOC, HANDLER, INITIALIZE, Signature, handler_name, host_signature};
use fusebench_model::capability::{ImportNeed, WASI_NAMESPACE, import_need};
use fusebench_model::module::{self, FuncSig};
use wasmi::{ExternType, FuncType, Module, ValType};

use super::config::ServiceConfig;
use super::error::ServiceLoadError;
use super::invoke::LinkedModule;

/// wasmi's value type in the model's terms, so signatures compare with the shared table.
fn val_type(ty: ValType) -> module::ValType {
    match ty {
        ValType::I32 => module::ValType::I32,
        ValType::I64 => module::ValType::I64,
        ValType::F32 => module::ValType::F32,
        ValType::F64 => module::ValType::F64,
        ValType::V128 => module::ValType::V128,
        ValType::FuncRef => module::ValType::FuncRef,
        ValType::ExternRef => module::ValType::ExternRef,
    }
}

/// A wasmi function type as the model's signature.
pub(crate) fn func_sig(ty: &FuncType) -> FuncSig {
    FuncSig::new(
        ty.params().iter().copied().map(val_type).collect::<Vec<_>>(),
        ty.results().iter().copied().map(val_type).collect::<Vec<_>>(),
    )
}

fn describe(sig: Signature) -> String {
    format!("func {}", sig.to_func_sig())
}

fn describe_extern(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => format!("func {}", func_sig(f)),
        ExternType::Memory(_) => "a memory".to_owned(),
        ExternType::Table(_) => "a table".to_owned(),
        ExternType::Global(_) => "a global".to_owned(),
    }
}

/// Bytes of memory `module` defines at its start (its memory exports' minimums).
pub(crate) fn initial_memory_bytes(module: &Module) -> u64 {
    module
        .exports()
        .filter_map(|e| match e.ty() {
            ExternType::Memory(ty) => Some(ty.minimum().saturating_mul(65_536)),
            _ => None,
        })
        .fold(0, u64::saturating_add)
}

/// Rejects a module whose imports are not all granted by `config`'s capabilities, in the WASI
/// subset and correctly typed — or, for an import from a `linked` library's name, exported by
/// that library as a function of the same type. `owner` names the module in errors (the
/// service, or one of its libraries). Reports the first offending import, in module order.
pub(crate) fn check_imports(
    config: &ServiceConfig,
    owner: &str,
    module: &Module,
    linked: &[&LinkedModule],
) -> Result<(), ServiceLoadError> {
    let service = || owner.to_owned();
    for import in module.imports() {
        let (namespace, name) = (import.module(), import.name());
        let qualified = format!("{namespace}.{name}");
        if let Some(lib) = linked.iter().find(|l| l.name == namespace) {
            let ExternType::Func(want) = import.ty() else {
                let expected = "a function (only functions are linked)".to_owned();
                let found = describe_extern(import.ty());
                return Err(ServiceLoadError::LinkSignature {
                    service: service(),
                    import: qualified,
                    expected,
                    found,
                });
            };
            match lib.module.get_export(name) {
                Some(ExternType::Func(have)) if func_sig(&have) == func_sig(want) => continue,
                Some(other) => {
                    return Err(ServiceLoadError::LinkSignature {
                        service: service(),
                        import: qualified,
                        expected: describe_extern(&other),
                        found: describe_extern(import.ty()),
                    });
                }
                None => {
                    return Err(ServiceLoadError::LinkUnresolved {
                        service: service(),
                        import: qualified,
                    });
                }
            }
        }
        let ExternType::Func(ty) = import.ty() else {
            let kind = match import.ty() {
                ExternType::Memory(_) => "memory",
                ExternType::Table(_) => "table",
                _ => "global",
            };
            return Err(ServiceLoadError::NonFunctionImport {
                service: service(),
                import: qualified,
                kind,
            });
        };
        match import_need(namespace, name) {
            ImportNeed::Free => {}
            ImportNeed::Capability(capability) => {
                if !config.capabilities.contains(&capability) {
                    return Err(ServiceLoadError::CapabilityNotGranted {
                        service: service(),
                        import: qualified,
                        capability,
                    });
                }
            }
            ImportNeed::Unsupported if namespace == WASI_NAMESPACE => {
                return Err(ServiceLoadError::UnsupportedWasi {
                    service: service(),
                    import: qualified,
                });
            }
            ImportNeed::Unsupported => {
                return Err(ServiceLoadError::UnknownHostFunction {
                    service: service(),
                    import: qualified,
                });
            }
            ImportNeed::UnknownNamespace => {
                return Err(ServiceLoadError::UnknownNamespace {
                    service: service(),
                    import: qualified,
                    namespace: namespace.to_owned(),
                });
            }
        }
        // Every name `import_need` accepts has a signature here (asserted in the tests).
        let Some(expected) = host_signature(namespace, name) else {
            return Err(ServiceLoadError::UnknownHostFunction {
                service: service(),
                import: qualified,
            });
        };
        if !expected.matches(&func_sig(ty)) {
            return Err(ServiceLoadError::ImportSignature {
                service: service(),
                import: qualified,
                expected: describe(expected),
                found: describe_extern(import.ty()),
            });
        }
    }
    Ok(())
}

/// Rejects a module without `memory`, `alloc` or a `handle_<endpoint>` per declared endpoint,
/// or whose memory — with the `libraries_bytes` its linked libraries start with — starts
/// larger than the service's limit.
pub(crate) fn check_exports(
    config: &ServiceConfig,
    module: &Module,
    libraries_bytes: u64,
) -> Result<(), ServiceLoadError> {
    let service = || config.name.clone();
    match module.get_export("memory") {
        Some(ExternType::Memory(ty)) => {
            let initial_bytes = ty.minimum().saturating_mul(65_536).saturating_add(libraries_bytes);
            let limit = config.limits.memory_bytes_max;
            if initial_bytes > u64::try_from(limit).unwrap_or(u64::MAX) {
                return Err(ServiceLoadError::InitialMemoryTooLarge {
                    service: service(),
                    initial_bytes,
                    limit_bytes: limit,
                });
            }
        }
        Some(other) => {
            return Err(ServiceLoadError::ExportSignature {
                service: service(),
                export: "memory".to_owned(),
                expected: "a memory".to_owned(),
                found: describe_extern(&other),
            });
        }
        None => {
            return Err(ServiceLoadError::MissingExport {
                service: service(),
                export: "memory".to_owned(),
                expected: "a memory".to_owned(),
            });
        }
    }
    check_func_export(config, module, "alloc", ALLOC)?;
    for endpoint in &config.endpoints {
        check_func_export(config, module, &handler_name(endpoint), HANDLER)?;
    }
    if module.get_export("_initialize").is_some() {
        check_func_export(config, module, "_initialize", INITIALIZE)?;
    }
    Ok(())
}

fn check_func_export(
    config: &ServiceConfig,
    module: &Module,
    export: &str,
    expected: Signature,
) -> Result<(), ServiceLoadError> {
    match module.get_export(export) {
        Some(ExternType::Func(ty)) if expected.matches(&func_sig(&ty)) => Ok(()),
        Some(other) => Err(ServiceLoadError::ExportSignature {
            service: config.name.clone(),
            export: export.to_owned(),
            expected: describe(expected),
            found: describe_extern(&other),
        }),
        None => Err(ServiceLoadError::MissingExport {
            service: config.name.clone(),
            export: export.to_owned(),
            expected: describe(expected),
        }),
    }
}
