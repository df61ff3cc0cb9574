//! The wasmi host: loads service modules and runs their endpoints, sans-IO.
//!
//! A [`Runtime`] is one simulation's host: one wasmi `Engine` (fuel metering on, eager
//! compilation, so fuel is a deterministic CPU cost), a cache of compiled modules keyed by the
//! SHA-256 of their bytes, and the loaded services. The event engine drives it through
//! [`ServiceHost`]: [`start`](ServiceHost::start) runs a handler until it finishes, faults or
//! needs a host operation that takes virtual time ([`SliceOutcome::Pending`]); the engine performs the
//! operation on its own schedule and calls [`resume`](ServiceHost::resume) with the
//! [`HostReply`]. Each slice reports the fuel it burnt.
//!
//! **Sandbox.** Imports are checked at load against the service's capabilities
//! ([`fusebench_model::capability::import_need`]) and the WASI subset; names are checked at run
//! time against its [`Permissions`] (a refused call returns `-2`/`-4` to the guest and is
//! recorded). Traps, fuel exhaustion, `memory.grow` past the limit, stack overflow, bad
//! responses, `proc_exit` and `env.abort` all end as a [`GuestFault`] value; the faulting
//! instance is dropped with its `Store` and the runtime keeps serving.
//!
//! **Memory limit.** A `memory.grow` past the service's limit returns -1 to the guest, as the
//! WebAssembly spec allows; a guest that then writes past its memory traps with
//! `MemoryOutOfBounds`, and the fault names the refused grow.
//!
//! **Replies with bytes** (`kv_get`, `cache_get`, `call`) are copied in while the handler is
//! suspended: the host calls the guest's `alloc(len)` (a second, nested call on the same
//! instance; its fuel counts against the invocation), copies the bytes to the buffer and resumes
//! the handler with `(ptr << 32) | len`. Empty values get `0` (ptr 0, len 0) without `alloc`.

mod abi;
mod config;
mod context;
mod error;
#[doc(hidden)]
pub mod fake;
mod host;
mod invoke;
pub(crate) mod parked;
mod reset;
mod step;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};
use wasmi::{CompilationMode, Config, Engine, Linker, Module, TypedResumableCallHostTrap, Val};

pub use config::{
    CallTarget, InstancePooling, LibraryModule, Permissions, RuntimeConfig, ServiceConfig,
    ServiceLimits, WasiConfig,
};
pub use context::{
    DiscardLog, HostContext, LOG_LINE_BYTES_MAX, LOG_LINES_PER_INVOCATION_MAX, LogLevel, LogLine,
    LogSink, LogSource, RandomSource,
};
pub use error::{InvokeError, ServiceLoadError};
pub use host::SCAN_LIMIT_MAX;
pub use step::{
    CasExpect, GrowRefused, GuestFailure, GuestFault, HostCode, HostOp, HostReply, InstanceId,
    InstanceInfo, InstanceMemory, InstanceReuse, InvocationId, InvocationReport, LimitsHit, Phase,
    Refusal, Response, ScanEntry, ServiceHost, Slice, SliceOutcome, TrapKind, encode_scan,
};

use host::{HostState, LiveToken, ServiceShared};
use invoke::{Driven, GuestInstance, LinkedModule};
use parked::Parked;
use reset::Recycler;

/// How many idle wasmi stacks the engine keeps for new calls (see [`Runtime::new`]).
const STACKS_CACHED: usize = 64;

/// The SHA-256 of a module's binary bytes: the module cache key, and the trace's name for the
/// exact code a service ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleHash(pub [u8; 32]);

impl fmt::Display for ModuleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Counters for one service over the runtime's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstanceStats {
    pub instances_created: u64,
    /// Dropped after a fault or an abandoned invocation.
    pub instances_discarded: u64,
    /// Dropped after a successful request (per-request policy, or the pool was full).
    pub instances_retired: u64,
    pub invocations_done: u64,
    pub invocations_failed: u64,
}

struct LoadedService {
    shared: Arc<ServiceShared>,
    module: Module,
    /// Linked libraries, in instantiation order (each after those it links); empty for a
    /// service that is one module.
    libraries: Vec<LinkedModule>,
    /// Endpoint names in index order (the order of [`GuestInstance::handlers`]).
    endpoints: Vec<String>,
    fuel_budget: u64,
    policy: InstancePooling,
    /// Idle pooled instances per pool (the engine keeps one pool per replica: a replica's
    /// instances live in its process and die with it); the most recently used is reused first.
    /// Boxed: an instance (its wasmi `Store`) is ≈ 1.7 KB and moves several times per slice.
    #[expect(
        clippy::vec_box,
        reason = "boxed so an instance moves by pointer between the pool, a slice and the slab"
    )]
    idle: BTreeMap<u32, Vec<Box<GuestInstance>>>,
    stats: InstanceStats,
    /// The size of the code sections (function bodies) of its module and linked libraries:
    /// what compilation scales with.
    code_bytes: u64,
    /// Retired instances put back to their state as instantiated and used as fresh ones, for a
    /// module that allows it (`reset.rs`).
    recycler: Option<Recycler>,
}

impl fmt::Debug for LoadedService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedService")
            .field("name", &self.shared.name)
            .field("endpoints", &self.endpoints)
            .field("idle", &self.idle.values().map(Vec::len).sum::<usize>())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// A compiled module (see [`Runtime::compile`]).
struct Compiled {
    module: Module,
    hash: ModuleHash,
    /// The size of its code section.
    code_bytes: u64,
    /// The recycling variant's global export names, when `module` is that variant.
    globals: Option<Vec<String>>,
}

/// A fresh instance that could not be created (its start function or `_initialize` faulted).
struct ColdStartFailure {
    cause: GuestFault,
    fuel_used: u64,
    instance: InstanceId,
}

/// Per-invocation bookkeeping kept across suspensions.
#[derive(Debug, Clone, Copy)]
struct Progress {
    id: InvocationId,
    /// The pool its instance came from and returns to.
    pool: u32,
    budget: u64,
    reuse: InstanceReuse,
    suspensions: u32,
    /// Fuel left when the current slice began (a fresh instance's cold start included).
    slice_fuel_left: u64,
}

/// A suspended invocation. The [`HostOp`] it waits on went to the engine in
/// [`SliceOutcome::Pending`]; only what checking the reply needs is kept.
struct Suspended {
    /// Index in [`Runtime::services`].
    service: usize,
    instance: Box<GuestInstance>,
    call: TypedResumableCallHostTrap<i64>,
    /// The import that issued the operation ([`HostOp::import`]).
    import: &'static str,
    /// [`HostOp::replies_with_value`].
    wants_value: bool,
    /// Where a `kv_get_versioned` reply's version goes in guest memory.
    version_out: Option<u32>,
    progress: Progress,
}

impl fmt::Debug for Suspended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suspended")
            .field("service", &self.service)
            .field("instance", &self.instance.id)
            .field("op", &self.import)
            .finish_non_exhaustive()
    }
}

/// One simulation's wasmi host. See the [module docs](self).
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    /// Compiled modules by hash and variant: as given (`false`), or with the exports that let
    /// its instances be recycled (`true`, `reset.rs`), with those exports' names.
    modules: BTreeMap<(ModuleHash, bool), (Module, Vec<String>)>,
    /// Modules whose instances cannot be recycled (`reset::plan` said no).
    not_recyclable: BTreeSet<ModuleHash>,
    /// In load order; found by name through `service_index` once per `start`, by index after.
    services: Vec<LoadedService>,
    service_index: BTreeMap<String, usize>,
    suspended: Parked<Suspended>,
    next_invocation: u64,
    next_instance: u64,
    live_stores: Arc<AtomicUsize>,
    log_budget: invoke::LogBudget,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("modules", &self.modules.keys().map(|(hash, _)| hash).collect::<Vec<_>>())
            .field("services", &self.services)
            .field("suspended", &self.suspended.values().collect::<Vec<_>>())
            .field("live_instances", &self.live_instances())
            .finish_non_exhaustive()
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new(&RuntimeConfig::default())
    }
}

impl Runtime {
    #[must_use]
    pub fn new(config: &RuntimeConfig) -> Self {
        let mut wasmi_config = Config::default();
        wasmi_config
            .consume_fuel(true)
            .compilation_mode(CompilationMode::Eager)
            .wasm_multi_memory(false)
            .set_max_recursion_depth(config.recursion_depth_max.max(1))
            // wasmi panics if the maximum is below its default minimum (1,000 bytes).
            .set_max_stack_height(config.value_stack_bytes_max.max(1_000))
            // A suspended invocation holds its wasmi stack; when it ends the stack goes back to
            // the engine's cache, which keeps 2 by default: with dozens of invocations in
            // flight every new call allocated a stack and regrew it frame by frame (malloc,
            // realloc copies, frees). Keeping up to `STACKS_CACHED` costs no more memory than
            // the peak of suspended invocations already held; heights and limits are unchanged.
            .set_max_cached_stacks(STACKS_CACHED);
        let engine = Engine::new(&wasmi_config);
        let linker = host::linker(&engine).expect("each host function is defined exactly once");
        Self {
            engine,
            linker,
            modules: BTreeMap::new(),
            not_recyclable: BTreeSet::new(),
            services: Vec::new(),
            service_index: BTreeMap::new(),
            suspended: Parked::default(),
            next_invocation: 0,
            next_instance: 0,
            live_stores: Arc::new(AtomicUsize::new(0)),
            log_budget: invoke::LogBudget::new(
                config.log_lines_per_run_max,
                config.log_bytes_per_run_max,
            ),
        }
    }

    /// Guest log lines dropped because the run's log budget was spent.
    #[must_use]
    pub fn log_lines_dropped(&self) -> u64 {
        self.log_budget.dropped
    }

    /// Loads a service from its module (binary `.wasm` or WAT text, told apart by
    /// [`fusebench_model::module::module_bytes`]), compiling it once per distinct module. Rejects the module, naming the import or export, when an import is not
    /// granted by `config.capabilities`, is a WASI function outside the subset or comes from an
    /// unknown namespace, or when `memory`, `alloc` or a `handle_<endpoint>` is missing or
    /// mistyped.
    ///
    /// # Errors
    /// See [`ServiceLoadError`].
    pub fn load_service(
        &mut self,
        config: &ServiceConfig,
        module_bytes: &[u8],
    ) -> Result<ModuleHash, ServiceLoadError> {
        self.load_composed(config, module_bytes, &[])
    }

    /// Loads a composed service: its module linked with `libraries` (each compiled once per
    /// distinct module, like service modules), given in instantiation order — every library
    /// after the libraries it links. The imports of the service module from the names in
    /// `config.links`, and of each library from its own `links`, are resolved by those
    /// libraries' exports (functions only, equal signatures); every other import of every
    /// module is checked as a service module's is, against the *service's* capabilities. The
    /// memory limit covers the composition: its initial memories together must fit.
    ///
    /// # Errors
    /// See [`ServiceLoadError`].
    pub fn load_composed(
        &mut self,
        config: &ServiceConfig,
        module_bytes: &[u8],
        libraries: &[LibraryModule<'_>],
    ) -> Result<ModuleHash, ServiceLoadError> {
        let service = || config.name.clone();
        if self.service_index.contains_key(&config.name) {
            return Err(ServiceLoadError::DuplicateService { service: service() });
        }
        if config.limits.fuel_per_invocation == 0 {
            return Err(ServiceLoadError::ZeroFuelBudget { service: service() });
        }
        let mut linked: Vec<LinkedModule> = Vec::with_capacity(libraries.len());
        let mut code_bytes = 0_u64;
        let mut initial_bytes = 0_u64;
        for lib in libraries {
            let owner = format!("{} (library `{}`)", config.name, lib.name);
            if let Some(missing) = lib.links.iter().find(|l| !linked.iter().any(|m| &m.name == *l))
            {
                return Err(ServiceLoadError::LinkOrder {
                    service: service(),
                    library: lib.name.to_owned(),
                    link: missing.clone(),
                });
            }
            let Compiled { module, code_bytes: bytes, .. } =
                self.compile(&owner, lib.bytes, false)?;
            let deps: Vec<&LinkedModule> =
                linked.iter().filter(|m| lib.links.contains(&m.name)).collect();
            abi::check_imports(config, &owner, &module, &deps)?;
            code_bytes += bytes;
            initial_bytes = initial_bytes.saturating_add(abi::initial_memory_bytes(&module));
            linked.push(LinkedModule { name: lib.name.to_owned(), module });
        }
        // A library's exports are linked by name: only a service module alone gets the
        // recycling variant.
        let recycle = linked.is_empty();
        let Compiled { module, hash, code_bytes: bytes, globals } =
            self.compile(&config.name, module_bytes, recycle)?;
        code_bytes += bytes;
        let deps: Vec<&LinkedModule> =
            linked.iter().filter(|m| config.links.contains(&m.name)).collect();
        if let Some(missing) = config.links.iter().find(|l| !linked.iter().any(|m| &m.name == *l)) {
            return Err(ServiceLoadError::LinkOrder {
                service: service(),
                library: config.name.clone(),
                link: missing.clone(),
            });
        }
        abi::check_imports(config, &config.name, &module, &deps)?;
        abi::check_exports(config, &module, initial_bytes)?;
        let shared = Arc::new(ServiceShared {
            name: config.name.clone(),
            permissions: config.permissions.clone(),
            wasi: config.wasi.clone(),
            memory_bytes_max: config.limits.memory_bytes_max,
            modules: 1 + linked.len(),
        });
        let loaded = LoadedService {
            shared,
            code_bytes,
            module,
            libraries: linked,
            endpoints: config.endpoints.iter().cloned().collect(),
            fuel_budget: config.limits.fuel_per_invocation,
            policy: config.policy,
            idle: BTreeMap::new(),
            stats: InstanceStats::default(),
            recycler: globals.map(Recycler::new),
        };
        self.service_index.insert(config.name.clone(), self.services.len());
        self.services.push(loaded);
        Ok(hash)
    }

    /// Compiles a module once per distinct content (the SHA-256 cache); returns it, its hash,
    /// the size of its code section and, when `recycle` is asked and the module allows it, the
    /// recycling variant's global export names (`reset.rs`; then the module returned is that
    /// variant).
    fn compile(
        &mut self,
        owner: &str,
        module_bytes: &[u8],
        recycle: bool,
    ) -> Result<Compiled, ServiceLoadError> {
        let wasm = fusebench_model::module::module_bytes(owner, module_bytes)
            .map_err(|cause| ServiceLoadError::Unreadable { service: owner.to_owned(), cause })?;
        let hash = ModuleHash(Sha256::digest(&wasm).into());
        let code_bytes = code_section_bytes(&wasm);
        if recycle && !self.not_recyclable.contains(&hash) {
            if let Some((module, globals)) = self.modules.get(&(hash, true)) {
                let globals = Some(globals.clone());
                return Ok(Compiled { module: module.clone(), hash, code_bytes, globals });
            }
            // A variant that does not compile (the module does not either, or the check
            // and wasmi disagree) falls back to the module as given and its own error.
            if let Some(plan) = reset::plan(&wasm)
                && let Ok(module) = Module::new(&self.engine, &plan.wasm[..])
            {
                self.modules.insert((hash, true), (module.clone(), plan.globals.clone()));
                return Ok(Compiled { module, hash, code_bytes, globals: Some(plan.globals) });
            }
            self.not_recyclable.insert(hash);
        }
        let module = match self.modules.get(&(hash, false)) {
            Some((module, _)) => module.clone(),
            None => {
                let module = Module::new(&self.engine, &wasm[..]).map_err(|e| {
                    ServiceLoadError::InvalidModule {
                        service: owner.to_owned(),
                        message: e.to_string(),
                    }
                })?;
                self.modules.insert((hash, false), (module.clone(), Vec::new()));
                module
            }
        };
        Ok(Compiled { module, hash, code_bytes, globals: None })
    }

    /// Instances alive right now (idle in pools or held by suspended invocations): each is a
    /// `Store`, counted from creation to drop.
    #[must_use]
    pub fn live_instances(&self) -> usize {
        self.live_stores.load(Ordering::Relaxed)
    }

    /// Idle pooled instances of `service`.
    #[must_use]
    pub fn idle_instances(&self, service: &str) -> Option<usize> {
        self.service(service).map(|s| s.idle.values().map(Vec::len).sum())
    }

    #[must_use]
    pub fn suspended_invocations(&self) -> usize {
        self.suspended.len()
    }

    /// Distinct compiled modules.
    #[must_use]
    pub fn cached_modules(&self) -> usize {
        self.modules.len()
    }

    #[must_use]
    pub fn service_stats(&self, service: &str) -> Option<InstanceStats> {
        self.service(service).map(|s| s.stats)
    }

    /// Recycled instances of `service` waiting to serve as fresh ones; `None` when its
    /// instances are not recycled.
    #[cfg(test)]
    fn recycled_instances(&self, service: &str) -> Option<usize> {
        self.service(service)?.recycler.as_ref().map(Recycler::spares)
    }

    /// Creates one fresh instance of `service` — instantiation, its start function and
    /// `_initialize` — and drops it; returns the fuel that took (`None` for an unknown service
    /// or a failed instantiation). For the cold-start bench (`benches/cold_start.rs`): the
    /// instance counts as created. Call it before the service serves requests: afterwards a
    /// recycled instance (`reset.rs`) may be handed out instead of a new one.
    pub fn instantiate_probe(&mut self, service: &str, ctx: &mut HostContext<'_>) -> Option<u64> {
        let index = *self.service_index.get(service)?;
        let budget = self.services[index].fuel_budget;
        let (inst, _) = self.acquire(index, u32::MAX, budget, ctx).ok()?;
        Some(budget.saturating_sub(inst.fuel_left()))
    }

    /// The import a suspended invocation waits on.
    #[must_use]
    pub fn pending_import(&self, invocation: InvocationId) -> Option<&'static str> {
        self.suspended.get(invocation.0).map(|s| s.import)
    }

    fn service(&self, name: &str) -> Option<&LoadedService> {
        self.service_index.get(name).map(|&i| &self.services[i])
    }

    fn service_mut(&mut self, name: &str) -> Option<&mut LoadedService> {
        self.service_index.get(name).map(|&i| &mut self.services[i])
    }

    /// Takes an idle pooled instance or creates a fresh one (charged to the budget).
    fn acquire(
        &mut self,
        service: usize,
        pool: u32,
        budget: u64,
        ctx: &mut HostContext<'_>,
    ) -> Result<(Box<GuestInstance>, InstanceReuse), ColdStartFailure> {
        let svc = &mut self.services[service];
        if let Some(mut inst) = svc.idle.get_mut(&pool).and_then(Vec::pop) {
            // The store has fuel metering on, so setting fuel cannot fail.
            let _ = inst.store.set_fuel(budget);
            return Ok((inst, InstanceReuse::Reused));
        }
        let id = InstanceId(self.next_instance);
        self.next_instance += 1;
        svc.stats.instances_created += 1;
        if let Some(recycler) = svc.recycler.as_mut().filter(|r| r.ready()) {
            let live = LiveToken::new(&self.live_stores);
            if let Some(mut inst) = recycler.take(&svc.shared, id, live, ctx.now_nanos) {
                // The store has fuel metering on, so setting fuel cannot fail.
                let _ = inst.store.set_fuel(budget);
                return Ok((inst, InstanceReuse::Fresh));
            }
        }
        let live = LiveToken::new(&self.live_stores);
        let state = HostState::new(Arc::clone(&svc.shared), id, live);
        let (linker, libraries) = (&self.linker, &svc.libraries);
        let wanted = invoke::Wanted {
            endpoints: &svc.endpoints,
            globals: svc.recycler.as_ref().map_or(&[][..], |r| &r.globals[..]),
        };
        match invoke::instantiate(linker, libraries, &svc.module, state, wanted, budget, ctx) {
            Ok(inst) => {
                if let Some(recycler) = &mut svc.recycler {
                    recycler.observe_fresh(&inst);
                }
                Ok((Box::new(inst), InstanceReuse::Fresh))
            }
            Err(invoke::ColdStartFault { fault: cause, mut store }) => {
                invoke::flush_logs(&mut store, ctx, &mut self.log_budget);
                let fuel_used = budget.saturating_sub(store.get_fuel().unwrap_or(0));
                svc.stats.instances_discarded += 1;
                svc.stats.invocations_failed += 1;
                Err(ColdStartFailure { cause, fuel_used, instance: id })
            }
        }
    }

    /// Ends a slice: flushes logs, then finishes, fails or parks the invocation.
    fn conclude(
        &mut self,
        service: usize,
        mut inst: Box<GuestInstance>,
        driven: Driven<i64>,
        fault_phase: Phase,
        mut progress: Progress,
        ctx: &mut HostContext<'_>,
    ) -> Slice {
        inst.flush_logs(ctx, &mut self.log_budget);
        let fuel_used = progress.slice_fuel_left.saturating_sub(inst.fuel_left());
        let mut memory =
            InstanceMemory { instance: inst.id, bytes: inst.memory_bytes() as u64, kept: false };
        let step = match driven {
            Driven::Suspended(call, op) => {
                progress.suspensions += 1;
                let version_out = match op {
                    HostOp::KvGetVersioned { version_out, .. } => Some(version_out),
                    _ => None,
                };
                let parked = Suspended {
                    service,
                    instance: inst,
                    call,
                    import: op.import(),
                    wants_value: op.replies_with_value(),
                    version_out,
                    progress,
                };
                self.suspended.insert(progress.id.0, parked);
                let step = SliceOutcome::Pending(op);
                memory.kept = true;
                let instance = Some(InstanceInfo { id: memory.instance, reuse: progress.reuse });
                return Slice {
                    invocation: progress.id,
                    fuel_used,
                    outcome: step,
                    memory,
                    instance,
                };
            }
            Driven::Finished(packed) => match invoke::read_response(&inst, packed) {
                Ok((body, json)) => {
                    let report = report(&mut inst, &progress);
                    memory.kept = self.release(service, progress.pool, inst);
                    SliceOutcome::Done(Response { body, json, report })
                }
                Err(cause) => self.fail(service, inst, &progress, cause, Phase::ReadResponse),
            },
            Driven::Faulted(cause) => self.fail(service, inst, &progress, cause, fault_phase),
        };
        let instance = Some(InstanceInfo { id: memory.instance, reuse: progress.reuse });
        Slice { invocation: progress.id, fuel_used, outcome: step, memory, instance }
    }

    fn fail(
        &mut self,
        service: usize,
        mut inst: Box<GuestInstance>,
        progress: &Progress,
        cause: GuestFault,
        phase: Phase,
    ) -> SliceOutcome {
        let report = report(&mut inst, progress);
        let svc = &mut self.services[service];
        svc.stats.invocations_failed += 1;
        svc.stats.instances_discarded += 1;
        drop(inst);
        SliceOutcome::Failed(GuestFailure { cause, phase, report })
    }

    /// Returns a healthy instance after a successful request: to the pool (true), or dropped.
    fn release(&mut self, service: usize, pool: u32, inst: Box<GuestInstance>) -> bool {
        let svc = &mut self.services[service];
        svc.stats.invocations_done += 1;
        let idle = svc.idle.entry(pool).or_default();
        match svc.policy {
            InstancePooling::Pooled { idle_max } if idle.len() < idle_max => {
                idle.push(inst);
                true
            }
            _ => {
                svc.stats.instances_retired += 1;
                if let Some(recycler) = &mut svc.recycler {
                    recycler.recycle(inst);
                }
                false
            }
        }
    }
}

/// The invocation's report; takes the per-invocation records out of the instance.
fn report(inst: &mut GuestInstance, progress: &Progress) -> InvocationReport {
    let fuel_used = progress.budget.saturating_sub(inst.fuel_left());
    let state = inst.store.data_mut();
    InvocationReport {
        fuel_used,
        fuel_budget: progress.budget,
        instance: InstanceInfo { id: inst.id, reuse: progress.reuse },
        suspensions: progress.suspensions,
        refusals: std::mem::take(&mut state.refusals),
        log_lines_dropped: std::mem::take(&mut state.log_lines_dropped),
        limits: LimitsHit {
            log_lines_cut: std::mem::take(&mut state.log_lines_cut),
            log_lines_over_budget: std::mem::take(&mut state.log_lines_over_budget),
            grows_refused: std::mem::take(&mut state.limiter.grows_refused),
        },
    }
}

/// The size of `wasm`'s code section, 0 when it has none (or cannot be read, which the
/// compilation before this refused already).
#[must_use]
pub fn code_section_bytes(wasm: &[u8]) -> u64 {
    fusebench_model::module::inspect(wasm)
        .ok()
        .and_then(|info| info.sections.iter().find(|s| s.id == 10).map(|s| s.size_bytes))
        .unwrap_or(0)
}

/// What compiling one byte of code section costs the host, ns: wasmi's eager compilation
/// measured on the shipped modules by `benches/cold_start.rs` in a release build, the median
/// over modules of ns per code byte that its table ends with (benches/README.md, "Cold start").
pub const COMPILE_NS_PER_CODE_BYTE: u64 = 35;

/// What instantiating a compiled module costs the host before its start function or
/// `_initialize` runs (their fuel is charged to the first request, as before), ns: measured
/// by `benches/cold_start.rs` in a release build, the median over the shipped modules.
pub const INSTANTIATE_NS: u64 = 8_400;

impl ServiceHost for Runtime {
    fn code_bytes(&self, service: &str) -> u64 {
        self.service(service).map_or(0, |s| s.code_bytes)
    }

    fn start_in(
        &mut self,
        service: &str,
        pool: u32,
        endpoint: &str,
        request: &[u8],
        ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        let index = *self
            .service_index
            .get(service)
            .ok_or_else(|| InvokeError::UnknownService { service: service.to_owned() })?;
        let svc = &self.services[index];
        let endpoint_index = svc.endpoints.iter().position(|e| e == endpoint).ok_or_else(|| {
            InvokeError::UnknownEndpoint {
                service: service.to_owned(),
                endpoint: endpoint.to_owned(),
            }
        })?;
        let request_len = u32::try_from(request.len())
            .map_err(|_| InvokeError::RequestTooLarge { len: request.len() })?;
        let budget = svc.fuel_budget;
        let id = InvocationId(self.next_invocation);
        self.next_invocation += 1;

        let (mut inst, reuse) = match self.acquire(index, pool, budget, ctx) {
            Ok(acquired) => acquired,
            Err(ColdStartFailure { cause, fuel_used, instance }) => {
                let report = InvocationReport {
                    fuel_used,
                    fuel_budget: budget,
                    instance: InstanceInfo { id: instance, reuse: InstanceReuse::Fresh },
                    suspensions: 0,
                    refusals: Vec::new(),
                    log_lines_dropped: 0,
                    limits: LimitsHit::default(),
                };
                let step =
                    SliceOutcome::Failed(GuestFailure { cause, phase: Phase::Instantiate, report });
                let memory = InstanceMemory::NONE;
                let instance = Some(InstanceInfo { id: instance, reuse: InstanceReuse::Fresh });
                return Ok(Slice { invocation: id, fuel_used, outcome: step, memory, instance });
            }
        };
        // A fresh instance's cold start is part of this invocation's first slice.
        let progress =
            Progress { id, pool, budget, reuse, suspensions: 0, slice_fuel_left: budget };
        let state = inst.store.data_mut();
        state.now_nanos = ctx.now_nanos;
        state.refusals.clear();
        state.log_lines = 0;
        state.log_lines_dropped = 0;
        state.log_lines_cut = 0;
        state.log_lines_over_budget = 0;
        state.limiter.grows_refused = 0;

        let target = inst.target();
        let ptr = match invoke::write_into_guest(&mut inst, target, request, ctx, budget) {
            Ok(ptr) => ptr,
            Err(cause) => {
                let driven = Driven::Faulted(cause);
                return Ok(self.conclude(index, inst, driven, Phase::WriteRequest, progress, ctx));
            }
        };
        let handler = inst.handlers[endpoint_index];
        let args = (ptr.cast_signed(), request_len.cast_signed());
        let result = handler.call_resumable(&mut inst.store, args);
        let driven = invoke::drive(&mut inst.store, result, ctx, budget);
        Ok(self.conclude(index, inst, driven, Phase::Handler, progress, ctx))
    }

    fn resume(
        &mut self,
        invocation: InvocationId,
        reply: HostReply,
        ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        let parked = self
            .suspended
            .get(invocation.0)
            .ok_or(InvokeError::UnknownInvocation { invocation })?;
        let (wants_value, version_out) = (parked.wants_value, parked.version_out);
        let mismatch = match &reply {
            HostReply::Value(_) if !wants_value || version_out.is_some() => Some("value"),
            HostReply::Versioned { .. } if version_out.is_none() => Some("versioned value"),
            HostReply::Ack if wants_value => Some("ack"),
            _ => None,
        };
        if let Some(reply) = mismatch {
            let import = parked.import;
            return Err(InvokeError::ReplyMismatch { invocation, import, reply });
        }
        let Some(Suspended { service, mut instance, call, progress, .. }) =
            self.suspended.remove(invocation.0)
        else {
            return Err(InvokeError::UnknownInvocation { invocation });
        };
        instance.store.data_mut().now_nanos = ctx.now_nanos;
        // The module that asked: a library's own memory and `alloc` in a composed service.
        let origin = instance.store.data_mut().origin.take();
        let reply_memory = origin.map_or(instance.memory, |o| o.memory);
        let target = match origin {
            None => Ok(instance.target()),
            Some(origin) => match origin.alloc.map(|f| f.typed::<i32, i32>(&instance.store)) {
                Some(Ok(alloc)) => Ok(invoke::Target { memory: origin.memory, alloc }),
                Some(Err(e)) => Err(e.to_string()),
                None => Err("the calling library exports no `alloc`".to_owned()),
            },
        };
        let mut progress = progress;
        progress.slice_fuel_left = instance.fuel_left();
        let code = |c: i32| if wants_value { Val::I64(i64::from(c)) } else { Val::I32(c) };
        // A value to copy into the guest, or the code it gets at once.
        let value = match reply {
            HostReply::Versioned { value, version } => {
                // `version_out` was checked when the call was made, and memory never shrinks.
                let at = version_out.unwrap_or(0) as usize;
                let data = reply_memory.data_mut(&mut instance.store);
                if let Some(slot) = data.get_mut(at..at + 8) {
                    slot.copy_from_slice(&version.to_le_bytes());
                }
                Ok(value)
            }
            HostReply::Value(bytes) => Ok(bytes),
            HostReply::Ack => Err(code(0)),
            HostReply::Error(host_code) => Err(code(host_code.code())),
        };
        let answer = match value {
            Err(code) => code,
            Ok(bytes) => {
                let written = match target {
                    Ok(target) => invoke::write_into_guest(
                        &mut instance,
                        target,
                        &bytes,
                        ctx,
                        progress.budget,
                    ),
                    Err(message) => Err(GuestFault::Engine { message }),
                };
                match written {
                    // Lengths above u32::MAX were refused by write_into_guest.
                    Ok(ptr) => Val::I64(invoke::pack(ptr, u32::try_from(bytes.len()).unwrap_or(0))),
                    Err(cause) => {
                        let driven = Driven::Faulted(cause);
                        return Ok(self.conclude(
                            service,
                            instance,
                            driven,
                            Phase::WriteReply,
                            progress,
                            ctx,
                        ));
                    }
                }
            }
        };
        let result = call.resume(&mut instance.store, &[answer]);
        let driven = invoke::drive(&mut instance.store, result, ctx, progress.budget);
        Ok(self.conclude(service, instance, driven, Phase::Handler, progress, ctx))
    }

    fn abandon(&mut self, invocation: InvocationId) -> bool {
        let Some(parked) = self.suspended.remove(invocation.0) else { return false };
        let svc = &mut self.services[parked.service];
        svc.stats.instances_discarded += 1;
        svc.stats.invocations_failed += 1;
        true
    }

    fn drop_pool(&mut self, service: &str, pool: u32) {
        if let Some(svc) = self.service_mut(service)
            && let Some(idle) = svc.idle.remove(&pool)
        {
            svc.stats.instances_discarded += idle.len() as u64;
        }
    }

    fn discard_idle(&mut self, service: &str, pool: u32, instance: InstanceId) -> bool {
        let Some(svc) = self.service_mut(service) else { return false };
        let Some(idle) = svc.idle.get_mut(&pool) else { return false };
        let Some(at) = idle.iter().position(|i| i.id == instance) else { return false };
        drop(idle.remove(at));
        svc.stats.instances_discarded += 1;
        true
    }
}
