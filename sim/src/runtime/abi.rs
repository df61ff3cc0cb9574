//! The guest ABI (`guests/ABI.md`) as load-time checks: every import granted and correctly typed,
//! every required export present and correctly typed. Which capability an import needs comes
//! from `fusebench_model::capability`, so the static check and the loader agree.

use fusebench_model::capability::{HOST_NAMESPACE, ImportNeed, WASI_NAMESPACE, import_need};
use wasmi::{ExternType, FuncType, Module, ValType};

use super::config::ServiceConfig;
use super::error::LoadError;

const I32: ValType = ValType::I32;
const I64: ValType = ValType::I64;

/// A function signature as static slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sig {
    pub params: &'static [ValType],
    pub results: &'static [ValType],
}

const fn sig(params: &'static [ValType], results: &'static [ValType]) -> Sig {
    Sig { params, results }
}

/// `alloc(len: i32) -> i32`
pub(crate) const ALLOC: Sig = sig(&[I32], &[I32]);
/// `handle_<endpoint>(ptr: i32, len: i32) -> i64`
pub(crate) const HANDLER: Sig = sig(&[I32, I32], &[I64]);
/// `_initialize()`, run once on a fresh instance when a WASI reactor exports it.
pub(crate) const INITIALIZE: Sig = sig(&[], &[]);

/// The signature of every function the host provides, by namespace and name.
pub(crate) fn host_signature(namespace: &str, name: &str) -> Option<Sig> {
    let s = match (namespace, name) {
        (HOST_NAMESPACE, "kv_get" | "kv_delete" | "cache_get") => {
            sig(&[I32, I32, I32, I32], if name == "kv_delete" { &[I32] } else { &[I64] })
        }
        (HOST_NAMESPACE, "kv_put" | "cache_put") => sig(&[I32, I32, I32, I32, I32, I32], &[I32]),
        (HOST_NAMESPACE, "publish") => sig(&[I32, I32, I32, I32], &[I32]),
        (HOST_NAMESPACE, "call") => sig(&[I32, I32, I32, I32, I32, I32], &[I64]),
        (HOST_NAMESPACE, "log") => sig(&[I32, I32, I32], &[]),
        (HOST_NAMESPACE, "now" | "random") => sig(&[], &[I64]),
        (WASI_NAMESPACE, "fd_write") => sig(&[I32, I32, I32, I32], &[I32]),
        (WASI_NAMESPACE, "clock_time_get") => sig(&[I32, I64, I32], &[I32]),
        (
            WASI_NAMESPACE,
            "clock_res_get" | "random_get" | "environ_get" | "environ_sizes_get" | "args_get"
            | "args_sizes_get",
        ) => sig(&[I32, I32], &[I32]),
        (WASI_NAMESPACE, "proc_exit") => sig(&[I32], &[]),
        (WASI_NAMESPACE, "sched_yield") => sig(&[], &[I32]),
        ("env", "abort") => sig(&[I32, I32, I32, I32], &[]),
        _ => return None,
    };
    Some(s)
}

fn val_name(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::FuncRef => "funcref",
        ValType::ExternRef => "externref",
    }
}

fn list(types: &[ValType]) -> String {
    let names: Vec<&str> = types.iter().map(|t| val_name(*t)).collect();
    format!("({})", names.join(", "))
}

impl Sig {
    fn matches(self, ty: &FuncType) -> bool {
        ty.params() == self.params && ty.results() == self.results
    }

    pub(crate) fn describe(self) -> String {
        format!("func {} -> {}", list(self.params), list(self.results))
    }
}

fn describe_extern(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => format!("func {} -> {}", list(f.params()), list(f.results())),
        ExternType::Memory(_) => "a memory".to_owned(),
        ExternType::Table(_) => "a table".to_owned(),
        ExternType::Global(_) => "a global".to_owned(),
    }
}

/// Rejects a module whose imports are not all granted by `config`'s capabilities, in the WASI
/// subset and correctly typed. Reports the first offending import, in module order.
pub(crate) fn check_imports(config: &ServiceConfig, module: &Module) -> Result<(), LoadError> {
    let service = || config.name.clone();
    for import in module.imports() {
        let (namespace, name) = (import.module(), import.name());
        let qualified = format!("{namespace}.{name}");
        let ExternType::Func(ty) = import.ty() else {
            let kind = match import.ty() {
                ExternType::Memory(_) => "memory",
                ExternType::Table(_) => "table",
                _ => "global",
            };
            return Err(LoadError::NonFunctionImport {
                service: service(),
                import: qualified,
                kind,
            });
        };
        match import_need(namespace, name) {
            ImportNeed::Free => {}
            ImportNeed::Capability(capability) => {
                if !config.capabilities.contains(&capability) {
                    return Err(LoadError::CapabilityNotGranted {
                        service: service(),
                        import: qualified,
                        capability,
                    });
                }
            }
            ImportNeed::Unsupported if namespace == WASI_NAMESPACE => {
                return Err(LoadError::UnsupportedWasi { service: service(), import: qualified });
            }
            ImportNeed::Unsupported => {
                return Err(LoadError::UnknownHostFunction {
                    service: service(),
                    import: qualified,
                });
            }
            ImportNeed::UnknownNamespace => {
                return Err(LoadError::UnknownNamespace {
                    service: service(),
                    import: qualified,
                    namespace: namespace.to_owned(),
                });
            }
        }
        // Every name `import_need` accepts has a signature here (asserted in the tests).
        let Some(expected) = host_signature(namespace, name) else {
            return Err(LoadError::UnknownHostFunction { service: service(), import: qualified });
        };
        if !expected.matches(ty) {
            return Err(LoadError::ImportSignature {
                service: service(),
                import: qualified,
                expected: expected.describe(),
                found: describe_extern(import.ty()),
            });
        }
    }
    Ok(())
}

/// Rejects a module without `memory`, `alloc` or a `handle_<endpoint>` per declared endpoint,
/// or whose memory starts larger than the service's limit.
pub(crate) fn check_exports(config: &ServiceConfig, module: &Module) -> Result<(), LoadError> {
    let service = || config.name.clone();
    match module.get_export("memory") {
        Some(ExternType::Memory(ty)) => {
            let initial_bytes = ty.minimum().saturating_mul(65_536);
            let limit = config.limits.memory_bytes_max;
            if initial_bytes > u64::try_from(limit).unwrap_or(u64::MAX) {
                return Err(LoadError::InitialMemoryTooLarge {
                    service: service(),
                    initial_bytes,
                    limit_bytes: limit,
                });
            }
        }
        Some(other) => {
            return Err(LoadError::ExportSignature {
                service: service(),
                export: "memory".to_owned(),
                expected: "a memory".to_owned(),
                found: describe_extern(&other),
            });
        }
        None => {
            return Err(LoadError::MissingExport {
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
    expected: Sig,
) -> Result<(), LoadError> {
    match module.get_export(export) {
        Some(ExternType::Func(ty)) if expected.matches(&ty) => Ok(()),
        Some(other) => Err(LoadError::ExportSignature {
            service: config.name.clone(),
            export: export.to_owned(),
            expected: expected.describe(),
            found: describe_extern(&other),
        }),
        None => Err(LoadError::MissingExport {
            service: config.name.clone(),
            export: export.to_owned(),
            expected: expected.describe(),
        }),
    }
}

/// The export that serves `endpoint`.
pub(crate) fn handler_name(endpoint: &str) -> String {
    format!("handle_{endpoint}")
}
