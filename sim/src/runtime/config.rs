//! What the scenario tells the host about one service: its grants, its endpoints, its limits.

use std::collections::BTreeSet;

use fusebench_model::Capability;

/// Engine-wide settings of the wasmi host. One [`Runtime`](super::Runtime) is one simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Nested WebAssembly calls allowed before a `StackOverflow` fault. wasmi sets this per
    /// `Engine`, and a simulation has exactly one engine, so it is the same for every service.
    pub recursion_depth_max: usize,
    /// Height of wasmi's value stack, in bytes, before a `StackOverflow` fault (engine-wide too).
    pub value_stack_bytes_max: usize,
    /// Guest log lines one simulation passes on (every service together). The per-invocation
    /// cap bounds one request; this bounds a run under load, whose log lines go into the trace
    /// (held in memory with `--out`). Later lines are counted and dropped, and one marker line
    /// says so in the trace.
    pub log_lines_per_run_max: u64,
    /// Bytes of guest log messages one simulation passes on, likewise.
    pub log_bytes_per_run_max: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            recursion_depth_max: 1_000,
            value_stack_bytes_max: 1_000_000,
            log_lines_per_run_max: 1_000_000,
            log_bytes_per_run_max: 256 << 20,
        }
    }
}

/// Everything the host needs to load and run one service's module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// The service's name in the scenario; unique within a runtime.
    pub name: String,
    /// Capabilities granted by the scenario; every import of the module must be covered.
    pub capabilities: BTreeSet<Capability>,
    /// Endpoint names the scenario declares; each needs an export `handle_<endpoint>`.
    pub endpoints: BTreeSet<String>,
    pub limits: ServiceLimits,
    pub policy: InstancePooling,
    /// What the service's host calls may touch at run time (checked on every call).
    pub permissions: Permissions,
    /// `args_*` and `environ_*` of the WASI subset. Empty for every scenario (no scenario field
    /// sets them, as `guests/ABI.md` says); only the runtime's own tests fill them.
    pub wasi: WasiConfig,
    /// Libraries the service's module links (their names are its import module names); empty
    /// for a service that is one module. See [`Runtime::load_composed`](super::Runtime::load_composed).
    pub links: Vec<String>,
}

/// One library of a composed service, as handed to
/// [`Runtime::load_composed`](super::Runtime::load_composed).
#[derive(Debug, Clone, Copy)]
pub struct LibraryModule<'a> {
    /// Its import module name.
    pub name: &'a str,
    /// The libraries whose exports satisfy its own imports (loaded before it).
    pub links: &'a [String],
    /// Its module (binary `.wasm` or WAT text).
    pub bytes: &'a [u8],
}

impl ServiceConfig {
    /// A service with no grants, no permissions, the default limits and a fresh instance per
    /// request; fill in what the scenario declares.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            capabilities: BTreeSet::new(),
            endpoints: BTreeSet::new(),
            limits: ServiceLimits::default(),
            policy: InstancePooling::PerRequest,
            permissions: Permissions::default(),
            wasi: WasiConfig::default(),
            links: Vec::new(),
        }
    }
}

/// Per-service resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceLimits {
    /// Fuel each invocation may burn, summed over all its slices (including the `alloc` calls
    /// that copy the request and host replies in, and a fresh instance's start function).
    pub fuel_per_invocation: u64,
    /// Largest linear memory of one instance, in bytes (every module of a composed service
    /// together); `memory.grow` past it returns -1.
    pub memory_bytes_max: usize,
}

impl Default for ServiceLimits {
    fn default() -> Self {
        Self { fuel_per_invocation: 10_000_000, memory_bytes_max: 16 << 20 }
    }
}

/// How instances of a service are created and reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstancePooling {
    /// A fresh `Store` and instance for every request, dropped when the request ends (the
    /// serverless model). wasmi frees instances only with their `Store`, hence one store each.
    PerRequest,
    /// Instances are reused across requests and keep their state (globals, memory). An instance
    /// that faults is discarded. At most `idle_max` idle instances are kept; concurrent requests
    /// beyond the idle ones get fresh instances.
    Pooled { idle_max: usize },
}

/// Run-time permissions: the names a service's host calls may use. A call outside them returns
/// `-2` (denied) to the guest and is recorded in the invocation's report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Key-value stores the service owns: `kv_get`, `kv_put`, `kv_delete`, `kv_cas`.
    pub kv_owned: BTreeSet<String>,
    /// Further key-value stores it may read: `kv_get` only.
    pub kv_readable: BTreeSet<String>,
    /// Caches it owns: `cache_get`, `cache_put`.
    pub caches_owned: BTreeSet<String>,
    /// Further caches it may read: `cache_get` only.
    pub caches_readable: BTreeSet<String>,
    /// Channels it publishes to.
    pub publishes: BTreeSet<String>,
    /// Endpoints of other services it declares it calls.
    pub calls: BTreeSet<CallTarget>,
}

/// One declared synchronous call target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CallTarget {
    pub service: String,
    pub endpoint: String,
}

impl CallTarget {
    #[must_use]
    pub fn new(service: impl Into<String>, endpoint: impl Into<String>) -> Self {
        Self { service: service.into(), endpoint: endpoint.into() }
    }
}

/// The program arguments and environment the WASI subset reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WasiConfig {
    pub args: Vec<String>,
    /// `(name, value)` pairs, reported as `name=value`.
    pub environ: Vec<(String, String)>,
}
