//! The host functions: `fusebench.*`, the WASI preview 1 subset and `env.abort`.
//!
//! Answers that need nothing but the instance's own state (`log`, `now`, the WASI clock, args,
//! environ, `fd_write`) are given inside the host function. Everything else leaves the guest
//! through a [`Yield`] host error, which wasmi's resumable calls turn into a suspension: the
//! driver in `invoke.rs` answers `random` from the caller's context on the spot, and hands
//! operations that take virtual time (`kv_*`, `cache_*`, `publish`, `call*`) to the engine.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fusebench_model::capability::{HOST_NAMESPACE, WASI_NAMESPACE};
use wasmi::{Caller, Engine, Error, Extern, Func, Linker, Memory};
use wasmi_core::{LimiterError, MemoryError, ResourceLimiter};

use super::config::{CallTarget, Permissions, WasiConfig};
use super::context::{
    LOG_LINE_BYTES_MAX, LOG_LINES_PER_INVOCATION_MAX, LogLevel, LogLine, LogSource,
};
use super::step::{CasExpect, GrowRefused, HostCode, HostOp, InstanceId, Refusal};

/// What every instance of one service shares.
#[derive(Debug)]
pub(crate) struct ServiceShared {
    pub name: String,
    pub permissions: Permissions,
    pub wasi: WasiConfig,
    /// The memory limit of one instance of the whole composition (all its memories together).
    pub memory_bytes_max: usize,
    /// Modules instantiated together per instance: 1, plus the linked libraries.
    pub modules: usize,
}

impl ServiceShared {
    /// Whether the service links libraries: then a host call reads the calling module's own
    /// memory, which may be a library's.
    pub(crate) fn composed(&self) -> bool {
        self.modules > 1
    }
}

/// The module of a composition that made the pending host operation: its reply's bytes go into
/// that module's memory through its `alloc` (shared-nothing: each module has its own memory).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    pub memory: Memory,
    pub alloc: Option<Func>,
}

/// The data of each instance's `Store`.
#[derive(Debug)]
pub(crate) struct HostState {
    pub service: Arc<ServiceShared>,
    pub instance: InstanceId,
    /// Set right after instantiation; start functions look the export up instead.
    pub memory: Option<Memory>,
    pub limiter: MemoryLimiter,
    /// Virtual time of the current slice.
    pub now_nanos: u64,
    /// Lines logged in the current slice, flushed to the caller's sink when it ends.
    pub logs: Vec<LogLine>,
    /// Per-invocation accounting, reset by the driver at each start.
    pub log_lines: u32,
    pub log_lines_dropped: u32,
    /// Lines cut to `LOG_LINE_BYTES_MAX`, and lines the run's log budget dropped.
    pub log_lines_cut: u32,
    pub log_lines_over_budget: u32,
    pub refusals: Vec<Refusal>,
    /// Set by a composed service's host operation: the calling module (see [`Origin`]).
    pub origin: Option<Origin>,
    /// The operation a host function yields on ([`OpYield`]), taken by the driver: moved
    /// out here rather than cloned out of the host error.
    pub pending_op: Option<HostOp>,
    /// Counts the store as a live instance; taken away while a recycled instance waits to be
    /// used again (`reset.rs`).
    live: Option<LiveToken>,
}

impl HostState {
    pub(crate) fn new(service: Arc<ServiceShared>, instance: InstanceId, live: LiveToken) -> Self {
        let limiter = MemoryLimiter::new(service.memory_bytes_max, service.modules);
        Self {
            service,
            instance,
            memory: None,
            limiter,
            now_nanos: 0,
            logs: Vec::new(),
            log_lines: 0,
            log_lines_dropped: 0,
            log_lines_cut: 0,
            log_lines_over_budget: 0,
            refusals: Vec::new(),
            origin: None,
            pending_op: None,
            live: Some(live),
        }
    }

    /// Stops counting the store as a live instance (a recycled instance, waiting).
    pub(crate) fn release_live_token(&mut self) {
        self.live = None;
    }

    fn push_log(&mut self, level: LogLevel, source: LogSource, bytes: &[u8]) {
        if self.log_lines >= LOG_LINES_PER_INVOCATION_MAX {
            self.log_lines_dropped = self.log_lines_dropped.saturating_add(1);
            return;
        }
        self.log_lines += 1;
        if bytes.len() > LOG_LINE_BYTES_MAX {
            self.log_lines_cut = self.log_lines_cut.saturating_add(1);
        }
        let cut = &bytes[..bytes.len().min(LOG_LINE_BYTES_MAX)];
        self.logs.push(LogLine {
            service: self.service.name.clone(),
            instance: self.instance,
            level,
            source,
            message: String::from_utf8_lossy(cut).into_owned(),
        });
    }
}

/// Counts live stores (one per instance): the proof that discarded instances are freed.
#[derive(Debug)]
pub(crate) struct LiveToken(Arc<AtomicUsize>);

impl LiveToken {
    pub(crate) fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(counter))
    }
}

impl Drop for LiveToken {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The service's memory limit, recording the last `memory.grow` it refused. A refused grow
/// returns -1 to the guest (the WebAssembly semantics; wasmi's `trap_on_grow_failure` is off), so
/// a guest whose allocator copes keeps running, and one that writes past its memory anyway faults
/// with `MemoryOutOfBounds`, reported together with the refused grow.
///
/// The limit covers every memory of the store: a composed service's module and its linked
/// libraries together (one `Store` per instance of the composition), so a memory bomb in a
/// library is contained like one in the service. With one module the total is that memory.
#[derive(Debug, Clone)]
pub(crate) struct MemoryLimiter {
    limit_bytes: usize,
    /// Modules per store: bounds instances, memories and tables.
    modules: usize,
    /// Bytes of every memory of the store together.
    total_bytes: usize,
    /// The last approved change `(current, desired)`, undone if the grow then fails.
    approved: Option<(usize, usize)>,
    pub last_refused: Option<GrowRefused>,
    /// Grows refused since the invocation's report last took the count.
    pub grows_refused: u32,
}

/// Table elements an instance may grow to (tables are not part of the ABI; a bound on everything).
const TABLE_ELEMENTS_MAX: usize = 100_000;
/// Tables an instance may define.
const TABLES_MAX: usize = 4;

impl MemoryLimiter {
    fn new(limit_bytes: usize, modules: usize) -> Self {
        let modules = modules.max(1);
        Self {
            limit_bytes,
            modules,
            total_bytes: 0,
            approved: None,
            last_refused: None,
            grows_refused: 0,
        }
    }
}

impl MemoryLimiter {
    /// Bytes of every memory of the store together.
    pub(crate) fn total_bytes(&self) -> usize {
        self.total_bytes
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        let total = self.total_bytes.saturating_sub(current).saturating_add(desired);
        if total > self.limit_bytes {
            self.last_refused =
                Some(GrowRefused { desired_bytes: total, limit_bytes: self.limit_bytes });
            self.grows_refused = self.grows_refused.saturating_add(1);
            return Ok(false);
        }
        self.total_bytes = total;
        self.approved = Some((current, desired));
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: &MemoryError) -> Result<(), LimiterError> {
        if let Some((current, desired)) = self.approved.take() {
            self.total_bytes = self.total_bytes.saturating_sub(desired).saturating_add(current);
        }
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        Ok(desired <= TABLE_ELEMENTS_MAX)
    }

    fn instances(&self) -> usize {
        self.modules
    }

    fn tables(&self) -> usize {
        TABLES_MAX.saturating_mul(self.modules)
    }

    fn memories(&self) -> usize {
        self.modules
    }
}

/// A host operation that takes virtual time: suspend and ask the engine. The operation (and
/// its import's name) waits in [`HostState::pending_op`]. Carried as a wasmi host error; never
/// a real error.
///
/// Zero-sized, unlike [`Yield`]: wasmi boxes a host error (`Error::host`), and a box of a
/// zero-sized value allocates nothing, so a suspension costs one allocation (wasmi's own error
/// box) instead of two (benches/README.md, "The shop's time around the guests, sixth round").
#[derive(Debug)]
pub(crate) struct OpYield;

impl fmt::Display for OpYield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("host operation")
    }
}

impl wasmi::errors::HostError for OpYield {}

/// Why a host function left the guest, other than a host operation ([`OpYield`]). Carried as
/// a wasmi host error; never a real error.
#[derive(Debug)]
pub(crate) enum Yield {
    /// `random()`: resume with the next value of the caller's stream.
    RandomU64,
    /// WASI `random_get` on a buffer already checked to lie inside the calling module's memory.
    RandomBytes { memory: Memory, ptr: u32, len: u32 },
    /// WASI `proc_exit`.
    Exit(i32),
    /// `env.abort`.
    Abort { message: Option<String>, file: Option<String>, line: u32, column: u32 },
}

impl fmt::Display for Yield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Yield::RandomU64 => f.write_str("random"),
            Yield::RandomBytes { len, .. } => write!(f, "random_get of {len} bytes"),
            Yield::Exit(code) => write!(f, "proc_exit({code})"),
            Yield::Abort { .. } => f.write_str("abort"),
        }
    }
}

impl wasmi::errors::HostError for Yield {}

// WASI errno values (preview 1).
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;
/// iovecs one `fd_write` may pass.
const IOVECS_MAX: u32 = 1024;
/// Bytes of one `fd_write` kept for the trace (the guest is told all were written).
const FD_WRITE_KEPT_BYTES_MAX: usize = 64 * 1024;
/// Bytes of an AssemblyScript `abort` message or file name decoded.
const ABORT_TEXT_BYTES_MAX: usize = 2048;

/// The calling module's memory. In a composed service that is the caller instance's own
/// `memory` export (a library's, when a library calls the host); otherwise the service's.
fn memory_of(caller: &Caller<'_, HostState>) -> Option<Memory> {
    let own = || caller.get_export("memory").and_then(Extern::into_memory);
    if caller.data().service.composed() {
        return own();
    }
    caller.data().memory.or_else(own)
}

/// The bytes at `ptr .. ptr + len`, if they lie inside `data`.
pub(crate) fn guest_range(data: &[u8], ptr: u32, len: u32) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(ptr).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    (end <= data.len()).then_some(start..end)
}

fn bytes_at(data: &[u8], ptr: i32, len: i32) -> Result<Vec<u8>, (String, HostCode)> {
    guest_range(data, ptr.cast_unsigned(), len.cast_unsigned())
        .map(|r| data[r].to_vec())
        .ok_or_else(|| ("<outside memory>".to_owned(), HostCode::InvalidArgument))
}

fn name_at(data: &[u8], ptr: i32, len: i32) -> Result<String, (String, HostCode)> {
    let bytes = bytes_at(data, ptr, len)?;
    String::from_utf8(bytes).map_err(|e| {
        (String::from_utf8_lossy(e.as_bytes()).into_owned(), HostCode::InvalidArgument)
    })
}

fn permitted(
    allowed: bool,
    target: String,
    op: impl FnOnce(String) -> HostOp,
) -> Result<HostOp, (String, HostCode)> {
    if allowed { Ok(op(target)) } else { Err((target, HostCode::Denied)) }
}

/// Decodes and permission-checks a host operation, then suspends the guest on it; a refused
/// operation is recorded and its error code returned to the guest at once.
fn host_op(
    caller: &mut Caller<'_, HostState>,
    import: &'static str,
    decode: impl FnOnce(&[u8], &Permissions) -> Result<HostOp, (String, HostCode)>,
) -> Result<i32, Error> {
    let decoded = match memory_of(caller) {
        Some(memory) => {
            let (data, state) = memory.data_and_store_mut(&mut *caller);
            decode(data, &state.service.permissions)
        }
        None => Err(("<no memory>".to_owned(), HostCode::InvalidArgument)),
    };
    match decoded {
        Ok(op) => {
            if caller.data().service.composed()
                && let Some(memory) = memory_of(caller)
            {
                let alloc = caller.get_export("alloc").and_then(Extern::into_func);
                caller.data_mut().origin = Some(Origin { memory, alloc });
            }
            caller.data_mut().pending_op = Some(op);
            Err(Error::host(OpYield))
        }
        Err((target, code)) => {
            caller.data_mut().refusals.push(Refusal { import, target, code });
            Ok(code.code())
        }
    }
}

fn kv_get(
    mut caller: Caller<'_, HostState>,
    sp: i32,
    sl: i32,
    kp: i32,
    kl: i32,
) -> Result<i64, Error> {
    host_op(&mut caller, "kv_get", |m, p| {
        let store = name_at(m, sp, sl)?;
        let key = bytes_at(m, kp, kl)?;
        let allowed = p.kv_owned.contains(&store) || p.kv_readable.contains(&store);
        permitted(allowed, store, |store| HostOp::KvGet { store, key })
    })
    .map(i64::from)
}

/// `kv_get_versioned(store, key, version_out) -> i64`: a read, allowed where `kv_get` is; the
/// eight bytes at `version_out` must lie in guest memory (else `-4`, nothing read).
fn kv_get_versioned(
    mut caller: Caller<'_, HostState>,
    sp: i32,
    sl: i32,
    kp: i32,
    kl: i32,
    version_out: i32,
) -> Result<i64, Error> {
    host_op(&mut caller, "kv_get_versioned", |m, p| {
        let store = name_at(m, sp, sl)?;
        let key = bytes_at(m, kp, kl)?;
        bytes_at(m, version_out, 8).map_err(|_| (store.clone(), HostCode::InvalidArgument))?;
        let version_out = version_out.cast_unsigned();
        let allowed = p.kv_owned.contains(&store) || p.kv_readable.contains(&store);
        permitted(allowed, store, |store| HostOp::KvGetVersioned { store, key, version_out })
    })
    .map(i64::from)
}

fn kv_put(
    mut caller: Caller<'_, HostState>,
    sp: i32,
    sl: i32,
    kp: i32,
    kl: i32,
    vp: i32,
    vl: i32,
) -> Result<i32, Error> {
    host_op(&mut caller, "kv_put", |m, p| {
        let store = name_at(m, sp, sl)?;
        let key = bytes_at(m, kp, kl)?;
        let value = bytes_at(m, vp, vl)?;
        let allowed = p.kv_owned.contains(&store);
        permitted(allowed, store, |store| HostOp::KvPut { store, key, value })
    })
}

fn kv_delete(
    mut caller: Caller<'_, HostState>,
    sp: i32,
    sl: i32,
    kp: i32,
    kl: i32,
) -> Result<i32, Error> {
    host_op(&mut caller, "kv_delete", |m, p| {
        let store = name_at(m, sp, sl)?;
        let key = bytes_at(m, kp, kl)?;
        let allowed = p.kv_owned.contains(&store);
        permitted(allowed, store, |store| HostOp::KvDelete { store, key })
    })
}

/// `kv_cas(store, key, expect, new) -> i32`: `expect_len = -1` expects the key absent.
#[allow(clippy::too_many_arguments)] // the ABI's eight i32 parameters
fn kv_cas(
    mut caller: Caller<'_, HostState>,
    sp: i32,
    sl: i32,
    kp: i32,
    kl: i32,
    ep: i32,
    el: i32,
    np: i32,
    nl: i32,
) -> Result<i32, Error> {
    host_op(&mut caller, "kv_cas", |m, p| {
        let store = name_at(m, sp, sl)?;
        let key = bytes_at(m, kp, kl)?;
        let expect =
            if el == -1 { CasExpect::Absent } else { CasExpect::Value(bytes_at(m, ep, el)?) };
        let new = bytes_at(m, np, nl)?;
        let allowed = p.kv_owned.contains(&store);
        permitted(allowed, store, |store| HostOp::KvCas { store, key, expect, new })
    })
}

/// `kv_cas_version(store, key, version, new) -> i32`: `version = -1` expects the key absent;
/// any other negative version is an invalid argument.
#[allow(clippy::too_many_arguments)] // the ABI's seven parameters
fn kv_cas_version(
    mut caller: Caller<'_, HostState>,
    sp: i32,
    sl: i32,
    kp: i32,
    kl: i32,
    version: i64,
    np: i32,
    nl: i32,
) -> Result<i32, Error> {
    host_op(&mut caller, "kv_cas_version", |m, p| {
        let store = name_at(m, sp, sl)?;
        let key = bytes_at(m, kp, kl)?;
        let expect = match version {
            -1 => CasExpect::Absent,
            v => CasExpect::Version(
                u64::try_from(v).map_err(|_| (store.clone(), HostCode::InvalidArgument))?,
            ),
        };
        let new = bytes_at(m, np, nl)?;
        let allowed = p.kv_owned.contains(&store);
        permitted(allowed, store, |store| HostOp::KvCas { store, key, expect, new })
    })
}

/// Entries one `kv_scan` may ask for: bounds the reply a guest has to take in.
pub const SCAN_LIMIT_MAX: u32 = 1000;

/// `kv_scan(store, prefix, limit) -> i64`: a read, allowed where `kv_get` is; `limit` outside
/// `1..=SCAN_LIMIT_MAX` is an invalid argument.
fn kv_scan(
    mut caller: Caller<'_, HostState>,
    sp: i32,
    sl: i32,
    pp: i32,
    pl: i32,
    limit: i32,
) -> Result<i64, Error> {
    host_op(&mut caller, "kv_scan", |m, p| {
        let store = name_at(m, sp, sl)?;
        let prefix = bytes_at(m, pp, pl)?;
        let limit = u32::try_from(limit)
            .ok()
            .filter(|l| (1..=SCAN_LIMIT_MAX).contains(l))
            .ok_or_else(|| (store.clone(), HostCode::InvalidArgument))?;
        let allowed = p.kv_owned.contains(&store) || p.kv_readable.contains(&store);
        permitted(allowed, store, |store| HostOp::KvScan { store, prefix, limit })
    })
    .map(i64::from)
}

fn cache_get(
    mut caller: Caller<'_, HostState>,
    cp: i32,
    cl: i32,
    kp: i32,
    kl: i32,
) -> Result<i64, Error> {
    host_op(&mut caller, "cache_get", |m, p| {
        let cache = name_at(m, cp, cl)?;
        let key = bytes_at(m, kp, kl)?;
        let allowed = p.caches_owned.contains(&cache) || p.caches_readable.contains(&cache);
        permitted(allowed, cache, |cache| HostOp::CacheGet { cache, key })
    })
    .map(i64::from)
}

fn cache_put(
    mut caller: Caller<'_, HostState>,
    cp: i32,
    cl: i32,
    kp: i32,
    kl: i32,
    vp: i32,
    vl: i32,
) -> Result<i32, Error> {
    host_op(&mut caller, "cache_put", |m, p| {
        let cache = name_at(m, cp, cl)?;
        let key = bytes_at(m, kp, kl)?;
        let value = bytes_at(m, vp, vl)?;
        let allowed = p.caches_owned.contains(&cache);
        permitted(allowed, cache, |cache| HostOp::CachePut { cache, key, value })
    })
}

/// `cache_delete(cache, key) -> i32`: invalidation, a write (allowed where `cache_put` is).
fn cache_delete(
    mut caller: Caller<'_, HostState>,
    cp: i32,
    cl: i32,
    kp: i32,
    kl: i32,
) -> Result<i32, Error> {
    host_op(&mut caller, "cache_delete", |m, p| {
        let cache = name_at(m, cp, cl)?;
        let key = bytes_at(m, kp, kl)?;
        let allowed = p.caches_owned.contains(&cache);
        permitted(allowed, cache, |cache| HostOp::CacheDelete { cache, key })
    })
}

fn publish(
    mut caller: Caller<'_, HostState>,
    cp: i32,
    cl: i32,
    mp: i32,
    ml: i32,
) -> Result<i32, Error> {
    host_op(&mut caller, "publish", |m, p| {
        let channel = name_at(m, cp, cl)?;
        let message = bytes_at(m, mp, ml)?;
        let allowed = p.publishes.contains(&channel);
        permitted(allowed, channel, |channel| HostOp::Publish { channel, message })
    })
}

fn call(
    mut caller: Caller<'_, HostState>,
    sp: i32,
    sl: i32,
    ep: i32,
    el: i32,
    rp: i32,
    rl: i32,
) -> Result<i64, Error> {
    host_op(&mut caller, "call", |m, p| {
        let target = CallTarget { service: name_at(m, sp, sl)?, endpoint: name_at(m, ep, el)? };
        let request = bytes_at(m, rp, rl)?;
        if !p.calls.contains(&target) {
            return Err((format!("{}.{}", target.service, target.endpoint), HostCode::Denied));
        }
        let CallTarget { service, endpoint } = target;
        Ok(HostOp::Call { service, endpoint, request })
    })
    .map(i64::from)
}

/// `call_timeout(service, endpoint, request, timeout_ms) -> i64`: `call` with its own
/// per-attempt timeout; `timeout_ms < 1` is an invalid argument.
#[allow(clippy::too_many_arguments)] // the ABI's seven i32 parameters
fn call_timeout(
    mut caller: Caller<'_, HostState>,
    sp: i32,
    sl: i32,
    ep: i32,
    el: i32,
    rp: i32,
    rl: i32,
    timeout_ms: i32,
) -> Result<i64, Error> {
    host_op(&mut caller, "call_timeout", |m, p| {
        let target = CallTarget { service: name_at(m, sp, sl)?, endpoint: name_at(m, ep, el)? };
        let request = bytes_at(m, rp, rl)?;
        let shown = || format!("{}.{}", target.service, target.endpoint);
        let Some(timeout_ms) = u32::try_from(timeout_ms).ok().filter(|t| *t >= 1) else {
            return Err((shown(), HostCode::InvalidArgument));
        };
        if !p.calls.contains(&target) {
            return Err((shown(), HostCode::Denied));
        }
        let CallTarget { service, endpoint } = target;
        Ok(HostOp::CallTimeout { service, endpoint, request, timeout_ms })
    })
    .map(i64::from)
}

fn log(mut caller: Caller<'_, HostState>, level: i32, ptr: i32, len: i32) {
    let Some(memory) = memory_of(&caller) else { return };
    let (data, state) = memory.data_and_store_mut(&mut caller);
    match guest_range(data, ptr.cast_unsigned(), len.cast_unsigned()) {
        Some(range) => state.push_log(LogLevel::from_code(level), LogSource::Log, &data[range]),
        None => state.refusals.push(Refusal {
            import: "log",
            target: "<outside memory>".to_owned(),
            code: HostCode::InvalidArgument,
        }),
    }
}

fn write_bytes(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> i32 {
    let Some(memory) = memory_of(caller) else { return ERRNO_FAULT };
    let data = memory.data_mut(&mut *caller);
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    match guest_range(data, ptr.cast_unsigned(), len) {
        Some(range) => {
            data[range].copy_from_slice(bytes);
            ERRNO_SUCCESS
        }
        None => ERRNO_FAULT,
    }
}

fn read_u32(data: &[u8], at: u32) -> Option<u32> {
    let range = guest_range(data, at, 4)?;
    let bytes: [u8; 4] = data[range].try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

fn fd_write(
    mut caller: Caller<'_, HostState>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nwritten: i32,
) -> i32 {
    let (level, source) = match fd {
        1 => (LogLevel::Info, LogSource::Stdout),
        2 => (LogLevel::Warn, LogSource::Stderr),
        _ => return ERRNO_BADF,
    };
    let iovs_len = iovs_len.cast_unsigned();
    if iovs_len > IOVECS_MAX {
        return ERRNO_INVAL;
    }
    let Some(memory) = memory_of(&caller) else { return ERRNO_FAULT };
    let data = memory.data(&caller);
    let mut text = Vec::new();
    let mut written: u32 = 0;
    for i in 0..iovs_len {
        let Some(at) = iovs.cast_unsigned().checked_add(i * 8) else { return ERRNO_FAULT };
        let (Some(buf), Some(len)) =
            (read_u32(data, at), at.checked_add(4).and_then(|a| read_u32(data, a)))
        else {
            return ERRNO_FAULT;
        };
        let Some(range) = guest_range(data, buf, len) else { return ERRNO_FAULT };
        let kept = FD_WRITE_KEPT_BYTES_MAX.saturating_sub(text.len()).min(range.len());
        text.extend_from_slice(&data[range.start..range.start + kept]);
        written = written.saturating_add(len);
    }
    let errno = write_bytes(&mut caller, nwritten, &written.to_le_bytes());
    if errno != ERRNO_SUCCESS {
        return errno;
    }
    let state = caller.data_mut();
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        state.push_log(level, source, line);
    }
    ERRNO_SUCCESS
}

fn clock_time_get(mut caller: Caller<'_, HostState>, id: i32, _precision: i64, out: i32) -> i32 {
    // realtime, monotonic, process and thread CPU time: all read the virtual clock.
    if !(0..=3).contains(&id) {
        return ERRNO_INVAL;
    }
    let now = caller.data().now_nanos;
    write_bytes(&mut caller, out, &now.to_le_bytes())
}

fn clock_res_get(mut caller: Caller<'_, HostState>, id: i32, out: i32) -> i32 {
    if !(0..=3).contains(&id) {
        return ERRNO_INVAL;
    }
    write_bytes(&mut caller, out, &1_u64.to_le_bytes())
}

fn random_get(caller: &Caller<'_, HostState>, buf: i32, len: i32) -> Result<i32, Error> {
    let Some(memory) = memory_of(caller) else { return Ok(ERRNO_FAULT) };
    let (ptr, len) = (buf.cast_unsigned(), len.cast_unsigned());
    if guest_range(memory.data(caller), ptr, len).is_none() {
        return Ok(ERRNO_FAULT);
    }
    if len == 0 {
        return Ok(ERRNO_SUCCESS);
    }
    Err(Error::host(Yield::RandomBytes { memory, ptr, len }))
}

/// `(count, total bytes with NUL terminators)` of a WASI string list.
fn strings_sizes(strings: &[String]) -> (u32, u32) {
    let count = u32::try_from(strings.len()).unwrap_or(u32::MAX);
    let bytes = strings.iter().map(|s| s.len() + 1).sum::<usize>();
    (count, u32::try_from(bytes).unwrap_or(u32::MAX))
}

fn write_sizes(caller: &mut Caller<'_, HostState>, strings: &[String], at: (i32, i32)) -> i32 {
    let (count, bytes) = strings_sizes(strings);
    match write_bytes(caller, at.0, &count.to_le_bytes()) {
        ERRNO_SUCCESS => write_bytes(caller, at.1, &bytes.to_le_bytes()),
        errno => errno,
    }
}

/// Writes WASI `argv`/`environ`: a pointer per string at `ptrs`, the NUL-terminated strings
/// packed at `buf`.
fn write_strings(
    caller: &mut Caller<'_, HostState>,
    strings: &[String],
    ptrs: i32,
    buf: i32,
) -> i32 {
    let mut offset: u32 = 0;
    for (i, s) in strings.iter().enumerate() {
        let Ok(i) = u32::try_from(i) else { return ERRNO_FAULT };
        let at = buf.cast_unsigned().wrapping_add(offset);
        let slot = ptrs.cast_unsigned().wrapping_add(i.wrapping_mul(4));
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        for (ptr, content) in [(slot, &at.to_le_bytes()[..]), (at, &bytes[..])] {
            let errno = write_bytes(caller, ptr.cast_signed(), content);
            if errno != ERRNO_SUCCESS {
                return errno;
            }
        }
        offset = offset.wrapping_add(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    }
    ERRNO_SUCCESS
}

fn args_of(caller: &Caller<'_, HostState>) -> Vec<String> {
    caller.data().service.wasi.args.clone()
}

fn environ_of(caller: &Caller<'_, HostState>) -> Vec<String> {
    caller.data().service.wasi.environ.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// Decodes an AssemblyScript string (UTF-16LE, byte length in the 4 bytes before it).
fn assemblyscript_string(data: &[u8], ptr: i32) -> Option<String> {
    let ptr = ptr.cast_unsigned();
    let len = read_u32(data, ptr.checked_sub(4)?)?;
    let len = len.min(u32::try_from(ABORT_TEXT_BYTES_MAX).unwrap_or(u32::MAX));
    let range = guest_range(data, ptr, len)?;
    let units: Vec<u16> =
        data[range].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    Some(String::from_utf16_lossy(&units))
}

fn abort(
    caller: &Caller<'_, HostState>,
    msg: i32,
    file: i32,
    line: i32,
    column: i32,
) -> Result<(), Error> {
    let (message, file) = match memory_of(caller) {
        Some(memory) => {
            let data = memory.data(caller);
            (assemblyscript_string(data, msg), assemblyscript_string(data, file))
        }
        None => (None, None),
    };
    Err(Error::host(Yield::Abort {
        message,
        file,
        line: line.cast_unsigned(),
        column: column.cast_unsigned(),
    }))
}

/// A linker with every host function. Whether a module may import one is decided at load time
/// (`abi::check_imports`), so all are always defined.
pub(crate) fn linker(engine: &Engine) -> Result<Linker<HostState>, wasmi::errors::LinkerError> {
    let mut l = Linker::new(engine);
    let h = HOST_NAMESPACE;
    l.func_wrap(h, "kv_get", kv_get)?;
    l.func_wrap(h, "kv_put", kv_put)?;
    l.func_wrap(h, "kv_delete", kv_delete)?;
    l.func_wrap(h, "kv_cas", kv_cas)?;
    l.func_wrap(h, "kv_get_versioned", kv_get_versioned)?;
    l.func_wrap(h, "kv_cas_version", kv_cas_version)?;
    l.func_wrap(h, "kv_scan", kv_scan)?;
    l.func_wrap(h, "cache_get", cache_get)?;
    l.func_wrap(h, "cache_put", cache_put)?;
    l.func_wrap(h, "cache_delete", cache_delete)?;
    l.func_wrap(h, "publish", publish)?;
    l.func_wrap(h, "call", call)?;
    l.func_wrap(h, "call_timeout", call_timeout)?;
    l.func_wrap(h, "log", log)?;
    l.func_wrap(h, "now", |c: Caller<'_, HostState>| c.data().now_nanos.cast_signed())?;
    l.func_wrap(h, "random", |_: Caller<'_, HostState>| -> Result<i64, Error> {
        Err(Error::host(Yield::RandomU64))
    })?;

    let w = WASI_NAMESPACE;
    l.func_wrap(w, "fd_write", fd_write)?;
    l.func_wrap(w, "clock_time_get", clock_time_get)?;
    l.func_wrap(w, "clock_res_get", clock_res_get)?;
    l.func_wrap(w, "random_get", |c: Caller<'_, HostState>, buf: i32, len: i32| {
        random_get(&c, buf, len)
    })?;
    l.func_wrap(w, "args_sizes_get", |mut c: Caller<'_, HostState>, n: i32, s: i32| {
        let args = args_of(&c);
        write_sizes(&mut c, &args, (n, s))
    })?;
    l.func_wrap(w, "args_get", |mut c: Caller<'_, HostState>, p: i32, b: i32| {
        let args = args_of(&c);
        write_strings(&mut c, &args, p, b)
    })?;
    l.func_wrap(w, "environ_sizes_get", |mut c: Caller<'_, HostState>, n: i32, s: i32| {
        let environ = environ_of(&c);
        write_sizes(&mut c, &environ, (n, s))
    })?;
    l.func_wrap(w, "environ_get", |mut c: Caller<'_, HostState>, p: i32, b: i32| {
        let environ = environ_of(&c);
        write_strings(&mut c, &environ, p, b)
    })?;
    l.func_wrap(w, "proc_exit", |_: Caller<'_, HostState>, code: i32| -> Result<(), Error> {
        Err(Error::host(Yield::Exit(code)))
    })?;
    l.func_wrap(w, "sched_yield", |_: Caller<'_, HostState>| ERRNO_SUCCESS)?;

    l.func_wrap(
        "env",
        "abort",
        |c: Caller<'_, HostState>, msg: i32, file: i32, line: i32, column: i32| {
            abort(&c, msg, file, line, column)
        },
    )?;
    Ok(l)
}
