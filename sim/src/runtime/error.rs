//! Errors are bad input (a module that may not be loaded, an unknown service); guest
//! misbehaviour at run time is a [`GuestFault`](super::GuestFault) value, never an `Err`.

use fusebench_model::Capability;
use fusebench_model::module::ModuleError;

/// Why a service's module was rejected before it ran.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceLoadError {
    #[error("service `{service}` is already loaded")]
    DuplicateService { service: String },
    /// Neither a binary module nor WebAssembly text that parses.
    #[error("service `{service}`: {cause}")]
    Unreadable { service: String, cause: ModuleError },
    #[error("service `{service}`: the module is not valid WebAssembly: {message}")]
    InvalidModule { service: String, message: String },
    #[error(
        "service `{service}`: import `{import}` needs capability `{capability}`, which the scenario does not grant"
    )]
    CapabilityNotGranted { service: String, import: String, capability: Capability },
    #[error(
        "service `{service}`: import `{import}` is a WASI function outside fusebench's deterministic subset"
    )]
    UnsupportedWasi { service: String, import: String },
    #[error("service `{service}`: import `{import}` is not a fusebench host function")]
    UnknownHostFunction { service: String, import: String },
    #[error("service `{service}`: import `{import}` is from unknown namespace `{namespace}`")]
    UnknownNamespace { service: String, import: String, namespace: String },
    #[error("service `{service}`: import `{import}` is a {kind}; the host provides only functions")]
    NonFunctionImport { service: String, import: String, kind: &'static str },
    #[error("service `{service}`: import `{import}` has type {found}, expected {expected}")]
    ImportSignature { service: String, import: String, expected: String, found: String },
    #[error("service `{service}`: missing export `{export}` ({expected})")]
    MissingExport { service: String, export: String, expected: String },
    #[error("service `{service}`: export `{export}` is {found}, expected {expected}")]
    ExportSignature { service: String, export: String, expected: String, found: String },
    #[error(
        "service `{service}`: initial memory of {initial_bytes} bytes exceeds the limit of {limit_bytes} bytes"
    )]
    InitialMemoryTooLarge { service: String, initial_bytes: u64, limit_bytes: usize },
    /// A module links a library that is not loaded before it (a cycle, or a wrong order).
    #[error(
        "service `{service}`: `{library}` links library `{link}`, which is not loaded before it (links must form no cycle)"
    )]
    LinkOrder { service: String, library: String, link: String },
    #[error("service `{service}`: import `{import}` is not exported by the library it names")]
    LinkUnresolved { service: String, import: String },
    #[error(
        "service `{service}`: import `{import}` has type {found}, but the library exports it as {expected}"
    )]
    LinkSignature { service: String, import: String, expected: String, found: String },
    #[error("service `{service}`: a fuel budget of 0 cannot run anything")]
    ZeroFuelBudget { service: String },
}

/// Why `start` or `resume` could not proceed: the caller's mistake, not the guest's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvokeError {
    #[error("no service `{service}` is loaded")]
    UnknownService { service: String },
    #[error("service `{service}` declares no endpoint `{endpoint}`")]
    UnknownEndpoint { service: String, endpoint: String },
    #[error("{invocation} is not suspended (finished, failed or abandoned)")]
    UnknownInvocation { invocation: super::InvocationId },
    #[error(
        "{invocation} waits on `{import}`, which cannot take a {reply} reply; it stays suspended"
    )]
    ReplyMismatch { invocation: super::InvocationId, import: &'static str, reply: &'static str },
    #[error("request of {len} bytes does not fit a 32-bit guest")]
    RequestTooLarge { len: usize },
}
