//! The common currency between the event engine and whatever runs services: a [`Slice`] of
//! execution ends in a [`SliceOutcome`] — done, waiting on a host operation, or failed. The wasmi
//! [`Runtime`](super::Runtime) produces these, and so can a fake service in engine tests
//! (see [`ServiceHost`]).

use std::fmt;

use super::context::HostContext;
use super::error::InvokeError;

/// Drives service invocations: what the event engine needs from a service runtime. Implemented
/// by [`Runtime`](super::Runtime); engine tests implement it with scripted fakes.
pub trait ServiceHost {
    /// Starts `service`'s `endpoint` on `request` (UTF-8 JSON) and runs until the invocation
    /// finishes, fails or needs a host operation.
    ///
    /// # Errors
    /// Bad input from the caller: an unknown service or endpoint. Guest misbehaviour is never an
    /// error; it is a [`SliceOutcome::Failed`].
    fn start(
        &mut self,
        service: &str,
        endpoint: &str,
        request: &[u8],
        ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        self.start_in(service, 0, endpoint, request, ctx)
    }

    /// [`start`](Self::start) on an instance of `pool`: pooled instances are reused only within
    /// their pool (the engine keeps one per replica, so that instances die with their replica).
    ///
    /// # Errors
    /// As [`start`](Self::start).
    fn start_in(
        &mut self,
        service: &str,
        pool: u32,
        endpoint: &str,
        request: &[u8],
        ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError>;

    /// The size of `service`'s module code section, bytes (what its compilation costs scale
    /// with); 0 for hosts without modules.
    fn code_bytes(&self, _service: &str) -> u64 {
        0
    }

    /// Drops every idle instance of `service`'s `pool` (its replica crashed: in-memory state,
    /// an in-memory dedupe set included, is gone). Hosts without pools ignore it.
    fn drop_pool(&mut self, _service: &str, _pool: u32) {}

    /// Drops `instance` if it is idle in `service`'s `pool` (the node killed it for memory);
    /// returns whether it was there. Hosts without pools ignore it.
    fn discard_idle(&mut self, _service: &str, _pool: u32, _instance: InstanceId) -> bool {
        false
    }

    /// Continues a suspended invocation with the reply to its pending [`HostOp`].
    ///
    /// # Errors
    /// An unknown (finished or abandoned) invocation, or a reply of the wrong kind for the
    /// pending operation.
    fn resume(
        &mut self,
        invocation: InvocationId,
        reply: HostReply,
        ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError>;

    /// Drops a suspended invocation (e.g. its service crashed); its instance is discarded.
    /// Returns whether it was suspended.
    fn abandon(&mut self, invocation: InvocationId) -> bool;
}

/// Identifies one invocation from `start` until it is done, failed or abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InvocationId(pub u64);

/// Identifies one guest instance over its life (unique within a runtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(pub u64);

impl fmt::Display for InvocationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invocation#{}", self.0)
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "instance#{}", self.0)
    }
}

/// One uninterrupted run of guest code, from `start` or `resume` to the next [`SliceOutcome`].
#[derive(Debug)]
pub struct Slice {
    pub invocation: InvocationId,
    /// Fuel burnt in this slice alone; the engine turns it into virtual service time.
    pub fuel_used: u64,
    pub outcome: SliceOutcome,
    /// The memory the slice's instance held when it ended: what the engine charges to the
    /// node the replica runs on.
    pub memory: InstanceMemory,
    /// The instance that ran the slice, known even when the slice suspends (the report comes
    /// only with the invocation's end); `None` from hosts without instances.
    pub instance: Option<InstanceInfo>,
}

/// The linear memory of the instance that ran a slice, as the slice ended. Linear memory never
/// shrinks, so this is the most the instance used so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceMemory {
    pub instance: InstanceId,
    pub bytes: u64,
    /// The instance outlives the slice (suspended on a host operation, or back in its pool):
    /// its memory stays taken. Otherwise it was dropped with the slice's end.
    pub kept: bool,
}

impl InstanceMemory {
    /// No instance memory: scripted hosts, or an instance that could not be created.
    pub const NONE: InstanceMemory =
        InstanceMemory { instance: InstanceId(0), bytes: 0, kept: false };
}

/// How a slice ended.
#[derive(Debug)]
pub enum SliceOutcome {
    /// The handler returned a response; the invocation is over.
    Done(Response),
    /// The guest waits for a host operation; answer with `resume(invocation, reply)`.
    Pending(HostOp),
    /// The guest faulted; the invocation is over and its instance discarded.
    Failed(GuestFailure),
}

/// A finished invocation's response. Contract validation is the engine's job.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The response exactly as the guest wrote it (JSON): a `String`, since the runtime has
    /// checked its UTF-8 already, so the trace lines that write it (`invocation_end`'s
    /// `output`, `response`'s `body`) do not check it again.
    pub body: String,
    /// `body` parsed.
    pub json: serde_json::Value,
    pub report: InvocationReport,
}

/// A failed invocation: what went wrong, when, and the accounting up to that point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestFailure {
    pub cause: GuestFault,
    pub phase: Phase,
    pub report: InvocationReport,
}

impl fmt::Display for GuestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (while {})", self.cause, self.phase)
    }
}

/// Accounting for one invocation, summed over all its slices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationReport {
    pub fuel_used: u64,
    pub fuel_budget: u64,
    pub instance: InstanceInfo,
    /// How many times the guest was suspended on a host operation.
    pub suspensions: u32,
    /// Host calls refused without suspending (denied or invalid), in call order.
    pub refusals: Vec<Refusal>,
    /// Log lines beyond [`LOG_LINES_PER_INVOCATION_MAX`](super::LOG_LINES_PER_INVOCATION_MAX).
    pub log_lines_dropped: u32,
    /// The other sandbox limits the guest hit while it kept running.
    pub limits: LimitsHit,
}

/// Sandbox limits a guest hit without faulting: the host absorbed them, so nothing else would
/// show them, yet each is the guest misbehaving inside its sandbox (a containment finding).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitsHit {
    /// Log lines cut to [`LOG_LINE_BYTES_MAX`](super::LOG_LINE_BYTES_MAX).
    pub log_lines_cut: u32,
    /// Log lines dropped because the run's guest log budget was spent.
    pub log_lines_over_budget: u32,
    /// `memory.grow` calls refused by the service's memory limit (the guest got -1).
    pub grows_refused: u32,
}

/// Which instance served an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceInfo {
    pub id: InstanceId,
    pub reuse: InstanceReuse,
}

/// Whether the instance was created for this invocation (a cold start) or taken from the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceReuse {
    Fresh,
    Reused,
}

/// A host call answered at once with an error code instead of being performed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The import, e.g. `kv_put`.
    pub import: &'static str,
    /// The store, cache, channel or `service.endpoint` named (lossy if not UTF-8).
    pub target: String,
    /// What the guest got back.
    pub code: HostCode,
}

/// A host operation that takes virtual time: the engine performs it and resumes the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostOp {
    KvGet {
        store: String,
        key: Vec<u8>,
    },
    /// `kv_get` that also gives the version of the value read (the write that set it, 0 for
    /// an initial entry): answered with [`HostReply::Versioned`], the version written as eight
    /// little-endian bytes at `version_out` in guest memory (checked when the call was made).
    KvGetVersioned {
        store: String,
        key: Vec<u8>,
        version_out: u32,
    },
    KvPut {
        store: String,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    KvDelete {
        store: String,
        key: Vec<u8>,
    },
    /// Compare-and-set: write `new` only if the key holds what `expect` says (`kv_cas` compares
    /// the value, `kv_cas_version` the version).
    KvCas {
        store: String,
        key: Vec<u8>,
        expect: CasExpect,
        new: Vec<u8>,
    },
    /// The live keys of `store` starting with `prefix`, in key order, at most `limit` (at
    /// least 1): answered with [`HostReply::Value`] holding the JSON array of `guests/ABI.md`.
    KvScan {
        store: String,
        prefix: Vec<u8>,
        limit: u32,
    },
    CacheGet {
        cache: String,
        key: Vec<u8>,
    },
    CachePut {
        cache: String,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Invalidation: the entry is removed, a later `cache_get` misses.
    CacheDelete {
        cache: String,
        key: Vec<u8>,
    },
    Publish {
        channel: String,
        message: Vec<u8>,
    },
    Call {
        service: String,
        endpoint: String,
        request: Vec<u8>,
    },
    /// `call` with its own per-attempt timeout (ms, at least 1) instead of the channel's; the
    /// channel's retries and backoff still apply. A variant of its own rather than a field of
    /// [`HostOp::Call`], so that the shipped modules' `call` import and every place building
    /// a plain call stay as they are.
    CallTimeout {
        service: String,
        endpoint: String,
        request: Vec<u8>,
        timeout_ms: u32,
    },
}

impl HostOp {
    /// The import that issued the operation.
    #[must_use]
    pub fn import(&self) -> &'static str {
        match self {
            HostOp::KvGet { .. } => "kv_get",
            HostOp::KvGetVersioned { .. } => "kv_get_versioned",
            HostOp::KvCas { expect: CasExpect::Version(_), .. } => "kv_cas_version",
            HostOp::KvPut { .. } => "kv_put",
            HostOp::KvDelete { .. } => "kv_delete",
            HostOp::KvCas { .. } => "kv_cas",
            HostOp::KvScan { .. } => "kv_scan",
            HostOp::CacheGet { .. } => "cache_get",
            HostOp::CachePut { .. } => "cache_put",
            HostOp::CacheDelete { .. } => "cache_delete",
            HostOp::Publish { .. } => "publish",
            HostOp::Call { .. } => "call",
            HostOp::CallTimeout { .. } => "call_timeout",
        }
    }

    /// Whether a successful reply carries bytes ([`HostReply::Value`]) rather than
    /// [`HostReply::Ack`].
    #[must_use]
    pub fn replies_with_value(&self) -> bool {
        matches!(
            self,
            HostOp::KvGet { .. }
                | HostOp::KvGetVersioned { .. }
                | HostOp::KvScan { .. }
                | HostOp::CacheGet { .. }
                | HostOp::Call { .. }
                | HostOp::CallTimeout { .. }
        )
    }
}

/// What a compare-and-set expects the key to hold for the write to happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CasExpect {
    /// No live value (never written, or deleted): `kv_cas` with `expect_len = -1`, or
    /// `kv_cas_version` with version `-1`.
    Absent,
    /// Exactly these bytes (`kv_cas`): an A→B→A change in between goes unnoticed.
    Value(Vec<u8>),
    /// A live value set by exactly this write (`kv_cas_version`, the version
    /// `kv_get_versioned` or `kv_scan` gave): any write in between is a conflict, the same
    /// bytes written again included.
    Version(u64),
}

/// The engine's answer to a [`HostOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostReply {
    /// The value found (`kv_get`, `cache_get`), the scan's JSON (`kv_scan`) or the callee's
    /// response (`call`, `call_timeout`): copied into a
    /// buffer from the guest's `alloc`, the guest gets `(ptr << 32) | len`.
    Value(Vec<u8>),
    /// The value and its version (`kv_get_versioned`): the value as [`HostReply::Value`], the
    /// version written at the operation's `version_out`.
    Versioned { value: Vec<u8>, version: u64 },
    /// Success of `kv_put`, `kv_delete`, `kv_cas`, `cache_put`, `cache_delete`, `publish`: the
    /// guest gets `0`.
    Ack,
    /// Failure: the guest gets the code's negative number.
    Error(HostCode),
}

/// The ABI's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostCode {
    /// `-1`
    NotFound,
    /// `-2`: capability not granted, or store/channel/target not permitted.
    Denied,
    /// `-3`: timeout, partition, crashed replica, circuit open.
    Unavailable,
    /// `-4`: bad UTF-8 name, a buffer outside guest memory, unknown name.
    InvalidArgument,
    /// `-5`: rejected by the callee's contract.
    Rejected,
    /// `-6`: `kv_cas` found another value than the expected one (`kv_cas_version`: another
    /// version); nothing was written.
    Conflict,
}

impl HostCode {
    #[must_use]
    pub fn code(self) -> i32 {
        match self {
            HostCode::NotFound => -1,
            HostCode::Denied => -2,
            HostCode::Unavailable => -3,
            HostCode::InvalidArgument => -4,
            HostCode::Rejected => -5,
            HostCode::Conflict => -6,
        }
    }
}

/// Where in an invocation a fault happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Creating a fresh instance (start function, `_initialize`).
    Instantiate,
    /// Calling `alloc` and copying the request in.
    WriteRequest,
    /// Running the endpoint's handler.
    Handler,
    /// Calling `alloc` and copying a host reply in, before resuming.
    WriteReply,
    /// Reading and decoding the response the handler pointed at.
    ReadResponse,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Instantiate => "instantiating",
            Phase::WriteRequest => "writing the request into guest memory",
            Phase::Handler => "running the handler",
            Phase::WriteReply => "writing a host reply into guest memory",
            Phase::ReadResponse => "reading the response",
        })
    }
}

/// Why a guest invocation failed. Every cause is contained: the host and every other instance
/// keep working.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuestFault {
    /// A WebAssembly trap.
    #[error("trap: {kind}{}", grow_refused.map(|g| format!(" (after {g})")).unwrap_or_default())]
    Trap {
        kind: TrapKind,
        /// The last `memory.grow` the memory limit refused, if any: the usual reason for a
        /// later out-of-bounds access.
        grow_refused: Option<GrowRefused>,
    },
    /// The invocation burnt its whole fuel budget (e.g. an infinite loop).
    #[error("fuel exhausted: the budget of {budget} was used up")]
    FuelExhausted { budget: u64 },
    /// WASI `proc_exit`.
    #[error("proc_exit({code})")]
    ProcExit { code: i32 },
    /// `env.abort` (AssemblyScript's runtime abort).
    #[error("abort: {}{}:{line}:{column}", message.as_deref().map(|m| format!("{m} at ")).unwrap_or_default(), file.as_deref().unwrap_or("?"))]
    Abort { message: Option<String>, file: Option<String>, line: u32, column: u32 },
    /// `alloc` returned a buffer that is null or not inside memory.
    #[error(
        "alloc({requested}) returned {ptr:#x}, not a buffer inside the {memory_bytes}-byte memory"
    )]
    BadAlloc { requested: u32, ptr: u32, memory_bytes: usize },
    /// The handler's packed result points outside memory.
    #[error("response at {ptr:#x}+{len} lies outside the {memory_bytes}-byte memory")]
    ResponseOutOfBounds { ptr: u32, len: u32, memory_bytes: usize },
    #[error("response is not UTF-8 (valid up to byte {valid_up_to})")]
    ResponseNotUtf8 { valid_up_to: usize },
    #[error("response is not JSON: {message}")]
    ResponseNotJson { message: String },
    /// A host operation that takes virtual time was called outside a handler (from `alloc`,
    /// `_initialize` or a start function), where the guest cannot be suspended.
    #[error("host operation `{import}` called outside a handler")]
    HostOpOutsideHandler { import: &'static str },
    /// Instantiation failed for a reason other than a trap (e.g. a data segment that does not
    /// fit the memory).
    #[error("instantiation failed: {message}")]
    Instantiation { message: String },
    /// The interpreter reported an error that is neither a trap nor a host yield (a host bug,
    /// kept as a value so that the run goes on and the trace shows it).
    #[error("interpreter error: {message}")]
    Engine { message: String },
}

/// A `memory.grow` refused by the service's memory limit (the guest got -1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrowRefused {
    pub desired_bytes: usize,
    pub limit_bytes: usize,
}

impl fmt::Display for GrowRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory.grow to {} bytes was refused by the {}-byte limit",
            self.desired_bytes, self.limit_bytes
        )
    }
}

/// The WebAssembly trap codes, independent of wasmi's types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TrapKind {
    Unreachable,
    MemoryOutOfBounds,
    TableOutOfBounds,
    IndirectCallToNull,
    IntegerDivisionByZero,
    IntegerOverflow,
    BadConversionToInteger,
    StackOverflow,
    BadSignature,
    /// A growth the limiter refused with a trap (not used: refused grows return -1).
    GrowthOperationLimited,
    OutOfSystemMemory,
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapKind::Unreachable => "unreachable executed",
            TrapKind::MemoryOutOfBounds => "out-of-bounds memory access",
            TrapKind::TableOutOfBounds => "out-of-bounds table access",
            TrapKind::IndirectCallToNull => "indirect call to null",
            TrapKind::IntegerDivisionByZero => "integer division by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::BadConversionToInteger => "invalid conversion to integer",
            TrapKind::StackOverflow => "stack overflow (call depth or value stack limit)",
            TrapKind::BadSignature => "indirect call signature mismatch",
            TrapKind::GrowthOperationLimited => "growth operation limited",
            TrapKind::OutOfSystemMemory => "host out of memory",
        })
    }
}

/// One entry of a `kv_scan` reply, as `guests/ABI.md` documents it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScanEntry {
    /// The key (bytes that are not UTF-8 are replaced by U+FFFD: read such a key with
    /// `kv_get` under the exact bytes of a key you know).
    pub key: String,
    /// The value, decoded the same way.
    pub value: String,
    /// The version that wrote it (what `store_read` traces; 0 for an initial entry).
    pub version: u64,
}

impl ScanEntry {
    #[must_use]
    pub fn new(key: &[u8], value: &[u8], version: u64) -> Self {
        ScanEntry {
            key: String::from_utf8_lossy(key).into_owned(),
            value: String::from_utf8_lossy(value).into_owned(),
            version,
        }
    }
}

/// A `kv_scan` reply: the entries as one JSON array, `[{"key","value","version"}, ...]`, in the
/// order given (key order).
#[must_use]
pub fn encode_scan(entries: &[ScanEntry]) -> Vec<u8> {
    // Serializing strings and integers cannot fail.
    serde_json::to_vec(entries).unwrap_or_else(|_| b"[]".to_vec())
}
