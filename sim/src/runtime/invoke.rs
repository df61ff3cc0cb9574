//! Running guest code: creating instances, copying bytes in and out through `alloc`, and the
//! driver loop that answers synchronous yields and stops at host operations.

use wasmi::{
    Global, Instance, Linker, Memory, Module, Store, TrapCode, TypedFunc, TypedResumableCall,
    TypedResumableCallHostTrap, Val, WasmResults,
};

use super::host;

use super::context::{HostContext, LogLevel, LogLine};
use super::host::{HostState, OpYield, Yield, guest_range};
use super::step::{GrowRefused, GuestFault, HostOp, InstanceId, TrapKind};
use fusebench_model::abi::handler_name;

/// WASI `EFAULT`, for a `random_get` buffer that vanished (cannot happen: checked before the yield).
const ERRNO_FAULT: i32 = 21;

/// One live guest instance in its own `Store` (dropping it frees everything it allocated).
#[derive(Debug)]
pub(crate) struct GuestInstance {
    pub id: InstanceId,
    pub store: Store<HostState>,
    pub memory: Memory,
    pub alloc: TypedFunc<i32, i32>,
    /// Handlers in the order of the service's endpoint index.
    pub handlers: Vec<TypedFunc<(i32, i32), i64>>,
    /// The mutable globals a recycled instance gets back (`reset.rs`), in the plan's order;
    /// empty when the service's instances are not recycled.
    pub globals: Vec<Global>,
}

/// Where bytes for the guest go: a module's memory and its `alloc`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub memory: Memory,
    pub alloc: TypedFunc<i32, i32>,
}

impl GuestInstance {
    /// Bytes of linear memory of the whole instance: every memory of every module of a
    /// composition, exported or not — the count the store's limiter keeps, so the node's
    /// memory (`system/memory.rs`) and the limit see the same bytes.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.store.data().limiter.total_bytes()
    }

    /// The service module's own memory and `alloc`.
    pub(crate) fn target(&self) -> Target {
        Target { memory: self.memory, alloc: self.alloc }
    }

    /// Fuel left in the store (the store is created with fuel metering on, so this cannot fail).
    pub(crate) fn fuel_left(&self) -> u64 {
        self.store.get_fuel().unwrap_or(0)
    }

    /// Hands the lines logged since the last flush to the caller's sink, within `budget`.
    pub(crate) fn flush_logs(&mut self, ctx: &mut HostContext<'_>, budget: &mut LogBudget) {
        flush_logs(&mut self.store, ctx, budget);
    }
}

/// What is left of a simulation's guest log budget (see
/// [`RuntimeConfig::log_lines_per_run_max`](super::RuntimeConfig)).
#[derive(Debug, Clone)]
pub(crate) struct LogBudget {
    lines_max: u64,
    bytes_max: u64,
    lines: u64,
    bytes: u64,
    pub dropped: u64,
}

impl LogBudget {
    pub fn new(lines_max: u64, bytes_max: u64) -> Self {
        LogBudget { lines_max, bytes_max, lines: 0, bytes: 0, dropped: 0 }
    }

    /// Whether `line` fits; counts it either way.
    fn admit(&mut self, line: &LogLine) -> bool {
        let bytes = line.message.len() as u64;
        if self.dropped == 0 && self.lines < self.lines_max && self.bytes + bytes <= self.bytes_max
        {
            self.lines += 1;
            self.bytes += bytes;
            true
        } else {
            self.dropped += 1;
            false
        }
    }
}

pub(crate) fn flush_logs(
    store: &mut Store<HostState>,
    ctx: &mut HostContext<'_>,
    budget: &mut LogBudget,
) {
    let lines: Vec<LogLine> = store.data_mut().logs.drain(..).collect();
    for line in lines {
        if budget.admit(&line) {
            ctx.log.log(line);
            continue;
        }
        let state = store.data_mut();
        state.log_lines_over_budget = state.log_lines_over_budget.saturating_add(1);
        if budget.dropped == 1 {
            // Once, where it happens: the trace shows that (and when) lines went missing.
            ctx.log.log(LogLine {
                level: LogLevel::Warn,
                message: format!(
                    "fusebench: the run's guest log budget ({} lines, {} bytes) is spent; this and every later guest log line is dropped",
                    budget.lines_max, budget.bytes_max
                ),
                ..line
            });
        }
    }
}

/// How a run of guest code ended.
pub(crate) enum Driven<R> {
    Finished(R),
    /// Stopped at an operation that takes virtual time; resume `call` with its reply.
    Suspended(TypedResumableCallHostTrap<R>, HostOp),
    Faulted(GuestFault),
}

/// Runs a resumable call to completion, answering `random` yields from `ctx`, and stops at the
/// first host operation, exit, abort, trap or fuel exhaustion.
pub(crate) fn drive<R: WasmResults>(
    store: &mut Store<HostState>,
    mut result: Result<TypedResumableCall<R>, wasmi::Error>,
    ctx: &mut HostContext<'_>,
    budget: u64,
) -> Driven<R> {
    loop {
        let call = match result {
            Ok(TypedResumableCall::Finished(r)) => return Driven::Finished(r),
            Ok(TypedResumableCall::OutOfFuel(_)) => {
                return Driven::Faulted(GuestFault::FuelExhausted { budget });
            }
            Ok(TypedResumableCall::HostTrap(call)) => call,
            Err(error) => {
                let grow_refused = store.data().limiter.last_refused;
                let pending = store.data().pending_op.as_ref();
                return Driven::Faulted(fault_of_error(&error, grow_refused, pending, budget));
            }
        };
        if call.host_error().downcast_ref::<OpYield>().is_some() {
            return match store.data_mut().pending_op.take() {
                Some(op) => Driven::Suspended(call, op),
                None => Driven::Faulted(GuestFault::Engine {
                    message: "a host operation yielded without its operation".to_owned(),
                }),
            };
        }
        let answer = match call.host_error().downcast_ref::<Yield>() {
            Some(Yield::RandomU64) => Val::I64(ctx.random.next_u64().cast_signed()),
            Some(Yield::RandomBytes { memory, ptr, len }) => {
                let data = memory.data_mut(&mut *store);
                let errno = match guest_range(data, *ptr, *len) {
                    Some(range) => {
                        ctx.random.fill_bytes(&mut data[range]);
                        0
                    }
                    None => ERRNO_FAULT,
                };
                Val::I32(errno)
            }
            Some(other) => return Driven::Faulted(fault_of_yield(other)),
            None => {
                let message = call.host_error().to_string();
                return Driven::Faulted(GuestFault::Engine { message });
            }
        };
        result = call.resume(&mut *store, &[answer]);
    }
}

fn fault_of_yield(y: &Yield) -> GuestFault {
    match y {
        Yield::Exit(code) => GuestFault::ProcExit { code: *code },
        Yield::Abort { message, file, line, column } => GuestFault::Abort {
            message: message.clone(),
            file: file.clone(),
            line: *line,
            column: *column,
        },
        Yield::RandomU64 | Yield::RandomBytes { .. } => {
            GuestFault::HostOpOutsideHandler { import: "random" }
        }
    }
}

/// Maps an error that ended guest code (a trap, or a yield where the call was not resumable).
///
/// `pending` is the operation a host function left in [`HostState::pending_op`]: an
/// [`OpYield`] outside a resumable call (a start function's or `_initialize`'s) names it.
pub(crate) fn fault_of_error(
    error: &wasmi::Error,
    grow_refused: Option<GrowRefused>,
    pending: Option<&HostOp>,
    budget: u64,
) -> GuestFault {
    if let Some(code) = error.as_trap_code() {
        return match trap_kind(code) {
            Some(kind) => GuestFault::Trap { kind, grow_refused },
            None => GuestFault::FuelExhausted { budget },
        };
    }
    if error.downcast_ref::<OpYield>().is_some() {
        return match pending {
            Some(op) => GuestFault::HostOpOutsideHandler { import: op.import() },
            None => GuestFault::Engine {
                message: "a host operation yielded without its operation".to_owned(),
            },
        };
    }
    if let Some(y) = error.downcast_ref::<Yield>() {
        return fault_of_yield(y);
    }
    if let Some(code) = error.i32_exit_status() {
        return GuestFault::ProcExit { code };
    }
    GuestFault::Engine { message: error.to_string() }
}

/// Our trap kind for wasmi's code; `None` for running out of fuel.
fn trap_kind(code: TrapCode) -> Option<TrapKind> {
    Some(match code {
        TrapCode::UnreachableCodeReached => TrapKind::Unreachable,
        TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds => TrapKind::TableOutOfBounds,
        TrapCode::IndirectCallToNull => TrapKind::IndirectCallToNull,
        TrapCode::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
        TrapCode::BadConversionToInteger => TrapKind::BadConversionToInteger,
        TrapCode::StackOverflow => TrapKind::StackOverflow,
        TrapCode::BadSignature => TrapKind::BadSignature,
        TrapCode::GrowthOperationLimited => TrapKind::GrowthOperationLimited,
        TrapCode::OutOfSystemMemory => TrapKind::OutOfSystemMemory,
        TrapCode::OutOfFuel => return None,
    })
}

/// A library of a composed service, compiled, as the runtime instantiates it.
#[derive(Debug, Clone)]
pub(crate) struct LinkedModule {
    /// The import module name its exports are linked under.
    pub name: String,
    pub module: Module,
}

/// A fresh store and instance of `module`. The store starts with `budget` fuel, which the start
/// function and `_initialize` draw from: a cold start is charged to the request that caused it.
/// On failure the store is returned so the caller can account fuel and flush logs.
///
/// With `libraries` (a composed service, in dependency order), each library is instantiated
/// first in the same store — its exports defined under its name, as wasmtime's
/// `Linker::instance` does, its start function and `_initialize` run — and then the service's
/// module, whose imports from those names they satisfy. One store holds the whole
/// composition, so fuel, the memory limit and the sandbox apply to all of it.
pub(crate) fn instantiate(
    linker: &Linker<HostState>,
    libraries: &[LinkedModule],
    module: &Module,
    state: HostState,
    exports: Wanted<'_>,
    budget: u64,
    ctx: &mut HostContext<'_>,
) -> Result<GuestInstance, ColdStartFault> {
    let mut store = Store::new(linker.engine(), state);
    store.limiter(|state| &mut state.limiter);
    store.data_mut().now_nanos = ctx.now_nanos;
    if let Err(error) = store.set_fuel(budget) {
        return Err(ColdStartFault {
            fault: GuestFault::Engine { message: error.to_string() },
            store: Box::new(store),
        });
    }
    let composed;
    let linker = if libraries.is_empty() {
        linker
    } else {
        // Library instances belong to this store: a linker of its own holds them.
        let mut own = match host::linker(linker.engine()) {
            Ok(own) => own,
            Err(error) => {
                let fault = GuestFault::Engine { message: error.to_string() };
                return Err(ColdStartFault { fault, store: Box::new(store) });
            }
        };
        for lib in libraries {
            let instance = match start_instance(&own, &mut store, &lib.module, budget, ctx) {
                Ok(instance) => instance,
                Err(fault) => return Err(ColdStartFault { fault, store: Box::new(store) }),
            };
            if let Err(error) = own.instance(&mut store, &lib.name, instance) {
                let fault = GuestFault::Instantiation { message: error.to_string() };
                return Err(ColdStartFault { fault, store: Box::new(store) });
            }
        }
        composed = own;
        &composed
    };
    let instance = match instantiate_one(linker, &mut store, module, budget) {
        Ok(instance) => instance,
        Err(fault) => return Err(ColdStartFault { fault, store: Box::new(store) }),
    };
    let exports = match resolve_exports(&store, instance, exports) {
        Ok(exports) => exports,
        Err(message) => {
            let fault = GuestFault::Instantiation { message };
            return Err(ColdStartFault { fault, store: Box::new(store) });
        }
    };
    let (memory, alloc, handlers, globals) = exports;
    store.data_mut().memory = Some(memory);
    if let Err(fault) = initialize(&mut store, instance, ctx, budget) {
        return Err(ColdStartFault { fault, store: Box::new(store) });
    }
    let id = store.data().instance;
    Ok(GuestInstance { id, store, memory, alloc, handlers, globals })
}

/// Instantiates `module` in `store` through `linker`, running its start function.
fn instantiate_one(
    linker: &Linker<HostState>,
    store: &mut Store<HostState>,
    module: &Module,
    budget: u64,
) -> Result<Instance, GuestFault> {
    linker.instantiate_and_start(&mut *store, module).map_err(|error| {
        let pending = store.data().pending_op.as_ref();
        match fault_of_error(&error, store.data().limiter.last_refused, pending, budget) {
            GuestFault::Engine { message } => GuestFault::Instantiation { message },
            other => other,
        }
    })
}

/// A library instance: instantiated, started and initialised.
fn start_instance(
    linker: &Linker<HostState>,
    store: &mut Store<HostState>,
    module: &Module,
    budget: u64,
    ctx: &mut HostContext<'_>,
) -> Result<Instance, GuestFault> {
    let instance = instantiate_one(linker, store, module, budget)?;
    initialize(store, instance, ctx, budget)?;
    Ok(instance)
}

/// Runs `_initialize` if the instance exports it (a WASI reactor). Host operations that take
/// virtual time are not allowed there: nothing waits on their answer.
fn initialize(
    store: &mut Store<HostState>,
    instance: Instance,
    ctx: &mut HostContext<'_>,
    budget: u64,
) -> Result<(), GuestFault> {
    let Ok(initialize) = instance.get_typed_func::<(), ()>(&*store, "_initialize") else {
        return Ok(());
    };
    let result = initialize.call_resumable(&mut *store, ());
    match drive(store, result, ctx, budget) {
        Driven::Finished(()) => Ok(()),
        Driven::Suspended(_, op) => Err(GuestFault::HostOpOutsideHandler { import: op.import() }),
        Driven::Faulted(fault) => Err(fault),
    }
}
/// A fresh instance that faulted while being created, with its store for the accounting.
pub(crate) struct ColdStartFault {
    pub fault: GuestFault,
    pub store: Box<Store<HostState>>,
}

/// The exports an instance is used through, by name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted<'a> {
    /// The service's endpoints, in index order (`handle_<endpoint>`).
    pub endpoints: &'a [String],
    /// A recycling plan's global exports (`reset.rs`); empty without one.
    pub globals: &'a [String],
}

type Exports = (Memory, TypedFunc<i32, i32>, Vec<TypedFunc<(i32, i32), i64>>, Vec<Global>);

/// The exports the loader already checked; an error here means the check and this disagree.
fn resolve_exports(
    store: &Store<HostState>,
    instance: Instance,
    wanted: Wanted<'_>,
) -> Result<Exports, String> {
    let memory = instance.get_memory(store, "memory").ok_or("no memory export")?;
    let alloc = instance.get_typed_func::<i32, i32>(store, "alloc").map_err(|e| e.to_string())?;
    let handlers = wanted
        .endpoints
        .iter()
        .map(|e| instance.get_typed_func::<(i32, i32), i64>(store, &handler_name(e)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let globals = wanted
        .globals
        .iter()
        .map(|name| instance.get_global(store, name).ok_or_else(|| format!("no export `{name}`")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((memory, alloc, handlers, globals))
}

/// Copies `bytes` into a buffer from the guest's `alloc` and returns its address. Empty input
/// needs no buffer and gets address 0.
pub(crate) fn write_into_guest(
    inst: &mut GuestInstance,
    target: Target,
    bytes: &[u8],
    ctx: &mut HostContext<'_>,
    budget: u64,
) -> Result<u32, GuestFault> {
    let Ok(len) = u32::try_from(bytes.len()) else {
        let memory_bytes = target.memory.data_size(&inst.store);
        return Err(GuestFault::BadAlloc { requested: u32::MAX, ptr: 0, memory_bytes });
    };
    if len == 0 {
        return Ok(0);
    }
    let result = target.alloc.call_resumable(&mut inst.store, len.cast_signed());
    let ptr = match drive(&mut inst.store, result, ctx, budget) {
        Driven::Finished(ptr) => ptr.cast_unsigned(),
        Driven::Suspended(_, op) => {
            return Err(GuestFault::HostOpOutsideHandler { import: op.import() });
        }
        Driven::Faulted(fault) => return Err(fault),
    };
    let data = target.memory.data_mut(&mut inst.store);
    match guest_range(data, ptr, len) {
        Some(range) if ptr != 0 => {
            data[range].copy_from_slice(bytes);
            Ok(ptr)
        }
        _ => Err(GuestFault::BadAlloc { requested: len, ptr, memory_bytes: data.len() }),
    }
}

/// The ABI's packing of a buffer: `(ptr << 32) | len`.
pub(crate) fn pack(ptr: u32, len: u32) -> i64 {
    ((u64::from(ptr) << 32) | u64::from(len)).cast_signed()
}

/// Reads and decodes the response a handler's packed result points at.
pub(crate) fn read_response(
    inst: &GuestInstance,
    packed: i64,
) -> Result<(String, serde_json::Value), GuestFault> {
    let packed = packed.cast_unsigned();
    let ptr = u32::try_from(packed >> 32).unwrap_or(u32::MAX);
    let len = u32::try_from(packed & u64::from(u32::MAX)).unwrap_or(u32::MAX);
    let data = inst.memory.data(&inst.store);
    let Some(range) = guest_range(data, ptr, len) else {
        return Err(GuestFault::ResponseOutOfBounds { ptr, len, memory_bytes: data.len() });
    };
    let body = &data[range];
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(e) => return Err(GuestFault::ResponseNotUtf8 { valid_up_to: e.valid_up_to() }),
    };
    // Parsed from the text just validated: serde_json's `from_str` does not validate each
    // string's UTF-8 a second time, as `from_slice` would (same values, same errors).
    match serde_json::from_str(text) {
        Ok(json) => Ok((text.to_owned(), json)),
        Err(e) => Err(GuestFault::ResponseNotJson { message: e.to_string() }),
    }
}
