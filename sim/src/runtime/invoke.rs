//! Running guest code: creating instances, copying bytes in and out through `alloc`, and the
//! driver loop that answers synchronous yields and stops at host operations.

use wasmi::{
    Instance, Linker, Memory, Module, Store, TrapCode, TypedFunc, TypedResumableCall,
    TypedResumableCallHostTrap, Val, WasmResults,
};

use super::context::{HostContext, LogLevel, LogLine};
use super::host::{HostState, Yield, guest_range};
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
}

impl GuestInstance {
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
    memory: Option<Memory>,
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
                return Driven::Faulted(fault_of_error(&error, grow_refused, budget));
            }
        };
        let answer = match call.host_error().downcast_ref::<Yield>() {
            Some(Yield::RandomU64) => Val::I64(ctx.random.next_u64().cast_signed()),
            Some(Yield::RandomBytes { ptr, len }) => {
                let errno = match memory {
                    Some(memory) => {
                        let data = memory.data_mut(&mut *store);
                        match guest_range(data, *ptr, *len) {
                            Some(range) => {
                                ctx.random.fill_bytes(&mut data[range]);
                                0
                            }
                            None => ERRNO_FAULT,
                        }
                    }
                    None => ERRNO_FAULT,
                };
                Val::I32(errno)
            }
            Some(Yield::Op(op)) => {
                let op = op.clone();
                return Driven::Suspended(call, op);
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
        Yield::Op(op) => GuestFault::HostOpOutsideHandler { import: op.import() },
        Yield::RandomU64 | Yield::RandomBytes { .. } => {
            GuestFault::HostOpOutsideHandler { import: "random" }
        }
    }
}

/// Maps an error that ended guest code (a trap, or a yield where the call was not resumable).
pub(crate) fn fault_of_error(
    error: &wasmi::Error,
    grow_refused: Option<GrowRefused>,
    budget: u64,
) -> GuestFault {
    if let Some(code) = error.as_trap_code() {
        return match trap_kind(code) {
            Some(kind) => GuestFault::Trap { kind, grow_refused },
            None => GuestFault::FuelExhausted { budget },
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

/// A fresh store and instance of `module`. The store starts with `budget` fuel, which the start
/// function and `_initialize` draw from: a cold start is charged to the request that caused it.
/// On failure the store is returned so the caller can account fuel and flush logs.
pub(crate) fn instantiate(
    linker: &Linker<HostState>,
    module: &Module,
    state: HostState,
    endpoints: &[String],
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
    let instance = match linker.instantiate_and_start(&mut store, module) {
        Ok(instance) => instance,
        Err(error) => {
            let fault = match fault_of_error(&error, store.data().limiter.last_refused, budget) {
                GuestFault::Engine { message } => GuestFault::Instantiation { message },
                other => other,
            };
            return Err(ColdStartFault { fault, store: Box::new(store) });
        }
    };
    let exports = match resolve_exports(&store, instance, endpoints) {
        Ok(exports) => exports,
        Err(message) => {
            let fault = GuestFault::Instantiation { message };
            return Err(ColdStartFault { fault, store: Box::new(store) });
        }
    };
    let (memory, alloc, handlers) = exports;
    store.data_mut().memory = Some(memory);
    if let Ok(initialize) = instance.get_typed_func::<(), ()>(&store, "_initialize") {
        let result = initialize.call_resumable(&mut store, ());
        match drive(&mut store, Some(memory), result, ctx, budget) {
            Driven::Finished(()) => {}
            Driven::Suspended(_, op) => {
                let fault = GuestFault::HostOpOutsideHandler { import: op.import() };
                return Err(ColdStartFault { fault, store: Box::new(store) });
            }
            Driven::Faulted(fault) => return Err(ColdStartFault { fault, store: Box::new(store) }),
        }
    }
    let id = store.data().instance;
    Ok(GuestInstance { id, store, memory, alloc, handlers })
}

/// A fresh instance that faulted while being created, with its store for the accounting.
pub(crate) struct ColdStartFault {
    pub fault: GuestFault,
    pub store: Box<Store<HostState>>,
}

type Exports = (Memory, TypedFunc<i32, i32>, Vec<TypedFunc<(i32, i32), i64>>);

/// The exports the loader already checked; an error here means the check and this disagree.
fn resolve_exports(
    store: &Store<HostState>,
    instance: Instance,
    endpoints: &[String],
) -> Result<Exports, String> {
    let memory = instance.get_memory(store, "memory").ok_or("no memory export")?;
    let alloc = instance.get_typed_func::<i32, i32>(store, "alloc").map_err(|e| e.to_string())?;
    let handlers = endpoints
        .iter()
        .map(|e| instance.get_typed_func::<(i32, i32), i64>(store, &handler_name(e)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok((memory, alloc, handlers))
}

/// Copies `bytes` into a buffer from the guest's `alloc` and returns its address. Empty input
/// needs no buffer and gets address 0.
pub(crate) fn write_into_guest(
    inst: &mut GuestInstance,
    bytes: &[u8],
    ctx: &mut HostContext<'_>,
    budget: u64,
) -> Result<u32, GuestFault> {
    let Ok(len) = u32::try_from(bytes.len()) else {
        let memory_bytes = inst.memory.data_size(&inst.store);
        return Err(GuestFault::BadAlloc { requested: u32::MAX, ptr: 0, memory_bytes });
    };
    if len == 0 {
        return Ok(0);
    }
    let result = inst.alloc.call_resumable(&mut inst.store, len.cast_signed());
    let ptr = match drive(&mut inst.store, Some(inst.memory), result, ctx, budget) {
        Driven::Finished(ptr) => ptr.cast_unsigned(),
        Driven::Suspended(_, op) => {
            return Err(GuestFault::HostOpOutsideHandler { import: op.import() });
        }
        Driven::Faulted(fault) => return Err(fault),
    };
    let data = inst.memory.data_mut(&mut inst.store);
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
) -> Result<(Vec<u8>, serde_json::Value), GuestFault> {
    let packed = packed.cast_unsigned();
    let ptr = u32::try_from(packed >> 32).unwrap_or(u32::MAX);
    let len = u32::try_from(packed & u64::from(u32::MAX)).unwrap_or(u32::MAX);
    let data = inst.memory.data(&inst.store);
    let Some(range) = guest_range(data, ptr, len) else {
        return Err(GuestFault::ResponseOutOfBounds { ptr, len, memory_bytes: data.len() });
    };
    let body = data[range].to_vec();
    if let Err(e) = std::str::from_utf8(&body) {
        return Err(GuestFault::ResponseNotUtf8 { valid_up_to: e.valid_up_to() });
    }
    match serde_json::from_slice(&body) {
        Ok(json) => Ok((body, json)),
        Err(e) => Err(GuestFault::ResponseNotJson { message: e.to_string() }),
    }
}
