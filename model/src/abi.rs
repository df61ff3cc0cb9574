//! The guest ABI (`guests/ABI.md`) as one table: the signature of every function the host
//! provides and of every export the host calls.
//!
//! Both sides read it: the static check `module-abi` (`checks/modules.rs`) compares a module's
//! imports and exports with it, and the wasmi host (`fusebench_sim::runtime`) rejects a module
//! that disagrees with it at load time and checks its linker against it (a test instantiates
//! every entry). Which capability an import needs is the other half of the sandbox rule and
//! lives next door in [`crate::capability`].

use crate::capability::{HOST_NAMESPACE, WASI_NAMESPACE};
use crate::module::{FuncSig, ValType};

use ValType::{I32, I64};

/// A function signature as static slices, so the table is a `const`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    pub params: &'static [ValType],
    pub results: &'static [ValType],
}

impl Signature {
    const fn new(params: &'static [ValType], results: &'static [ValType]) -> Self {
        Signature { params, results }
    }

    /// The owned form the module inspection reports, for comparison and display.
    #[must_use]
    pub fn to_func_sig(self) -> FuncSig {
        FuncSig::new(self.params, self.results)
    }

    /// Whether `sig` is exactly this signature.
    #[must_use]
    pub fn matches(self, sig: &FuncSig) -> bool {
        sig.params == self.params && sig.results == self.results
    }
}

/// One function the host provides to guests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFunction {
    /// The import module name: [`HOST_NAMESPACE`], [`WASI_NAMESPACE`] or `env`.
    pub namespace: &'static str,
    pub name: &'static str,
    pub signature: Signature,
}

const fn host(
    namespace: &'static str,
    name: &'static str,
    params: &'static [ValType],
    results: &'static [ValType],
) -> HostFunction {
    HostFunction { namespace, name, signature: Signature::new(params, results) }
}

const H: &str = HOST_NAMESPACE;
const W: &str = WASI_NAMESPACE;

/// Every function the host defines, by namespace and name. Whether a service may import one is
/// [`crate::capability::import_need`]'s answer; this is only its type.
pub const HOST_FUNCTIONS: &[HostFunction] = &[
    host(H, "kv_get", &[I32, I32, I32, I32], &[I64]),
    host(H, "kv_put", &[I32, I32, I32, I32, I32, I32], &[I32]),
    host(H, "kv_delete", &[I32, I32, I32, I32], &[I32]),
    host(H, "kv_cas", &[I32, I32, I32, I32, I32, I32, I32, I32], &[I32]),
    host(H, "kv_scan", &[I32, I32, I32, I32, I32], &[I64]),
    host(H, "kv_get_versioned", &[I32, I32, I32, I32, I32], &[I64]),
    host(H, "kv_cas_version", &[I32, I32, I32, I32, I64, I32, I32], &[I32]),
    host(H, "cache_get", &[I32, I32, I32, I32], &[I64]),
    host(H, "cache_put", &[I32, I32, I32, I32, I32, I32], &[I32]),
    host(H, "cache_delete", &[I32, I32, I32, I32], &[I32]),
    host(H, "publish", &[I32, I32, I32, I32], &[I32]),
    host(H, "call", &[I32, I32, I32, I32, I32, I32], &[I64]),
    host(H, "call_timeout", &[I32, I32, I32, I32, I32, I32, I32], &[I64]),
    host(H, "log", &[I32, I32, I32], &[]),
    host(H, "now", &[], &[I64]),
    host(H, "random", &[], &[I64]),
    host(W, "fd_write", &[I32, I32, I32, I32], &[I32]),
    host(W, "clock_time_get", &[I32, I64, I32], &[I32]),
    host(W, "clock_res_get", &[I32, I32], &[I32]),
    host(W, "random_get", &[I32, I32], &[I32]),
    host(W, "environ_get", &[I32, I32], &[I32]),
    host(W, "environ_sizes_get", &[I32, I32], &[I32]),
    host(W, "args_get", &[I32, I32], &[I32]),
    host(W, "args_sizes_get", &[I32, I32], &[I32]),
    host(W, "proc_exit", &[I32], &[]),
    host(W, "sched_yield", &[], &[I32]),
    host("env", "abort", &[I32, I32, I32, I32], &[]),
];

/// The signature of the host function `namespace`.`name`, if the host defines one.
#[must_use]
pub fn host_signature(namespace: &str, name: &str) -> Option<Signature> {
    HOST_FUNCTIONS.iter().find(|f| f.namespace == namespace && f.name == name).map(|f| f.signature)
}

/// Host functions whose reply is bytes the host copies into the caller's memory through its
/// `alloc` (so a module importing one must export `alloc`, a linked library too).
pub const REPLIES_WITH_BYTES: &[&str] =
    &["kv_get", "kv_get_versioned", "kv_scan", "cache_get", "call", "call_timeout"];

/// Whether importing `namespace`.`name` needs the importing module's `alloc` export.
#[must_use]
pub fn needs_alloc(namespace: &str, name: &str) -> bool {
    namespace == HOST_NAMESPACE && REPLIES_WITH_BYTES.contains(&name)
}

/// Whether importing `namespace`.`name` needs the importing module's `memory` export: every
/// host function taking an address does (all but `now`, `random`, `sched_yield`, `proc_exit`).
#[must_use]
pub fn needs_memory(namespace: &str, name: &str) -> bool {
    let addresses = ["now", "random", "sched_yield", "proc_exit"];
    host_signature(namespace, name).is_some() && !addresses.contains(&name)
}

/// `alloc(len: i32) -> i32`: the guest's allocator, through which the host copies requests and
/// replies in.
pub const ALLOC: Signature = Signature::new(&[I32], &[I32]);
/// `handle_<endpoint>(ptr: i32, len: i32) -> i64`: the packed `(ptr << 32) | len` response.
pub const HANDLER: Signature = Signature::new(&[I32, I32], &[I64]);
/// `_initialize()`, run once on a fresh instance when a WASI reactor exports it.
pub const INITIALIZE: Signature = Signature::new(&[], &[]);

/// The export that serves `endpoint`.
#[must_use]
pub fn handler_name(endpoint: &str) -> String {
    format!("handle_{endpoint}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::{ALWAYS_ALLOWED, Capability, ImportNeed, WASI_SUBSET, import_need};

    #[test]
    fn every_import_a_capability_grants_has_exactly_one_signature() {
        let mut granted: Vec<(&str, &str)> = Capability::ALL
            .into_iter()
            .flat_map(|c| c.host_functions().iter().map(|f| (HOST_NAMESPACE, *f)))
            .chain(WASI_SUBSET.iter().map(|f| (WASI_NAMESPACE, *f)))
            .chain(ALWAYS_ALLOWED.iter().copied())
            .collect();
        let mut table: Vec<(&str, &str)> =
            HOST_FUNCTIONS.iter().map(|f| (f.namespace, f.name)).collect();
        granted.sort_unstable();
        table.sort_unstable();
        assert_eq!(granted, table, "the table and the capability map name the same functions");
        table.dedup();
        assert_eq!(table.len(), HOST_FUNCTIONS.len(), "no function twice");
        for f in HOST_FUNCTIONS {
            assert_ne!(import_need(f.namespace, f.name), ImportNeed::Unsupported, "{}", f.name);
        }
    }

    #[test]
    fn signatures_compare_with_inspected_ones() {
        let fd_write = host_signature(WASI_NAMESPACE, "fd_write").expect("defined");
        assert!(fd_write.matches(&FuncSig::new([I32; 4], [I32])));
        assert!(!fd_write.matches(&FuncSig::new([I32; 3], [I32])));
        assert_eq!(HANDLER.to_func_sig().to_string(), "(i32, i32) -> i64");
        assert_eq!(host_signature(HOST_NAMESPACE, "open_socket"), None);
    }
}
