//! Write fusebench service modules in Rust.
//!
//! A fusebench service is a core WebAssembly module that follows `guests/ABI.md`: it exports
//! `memory`, `alloc` and one `handle_<endpoint>(ptr, len) -> i64` per endpoint, and reaches the
//! simulated world only through the `fusebench.*` imports. This crate hides that ABI:
//!
//! ```
//! use fusebench_guest::{AppError, Reply, endpoint, kv};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct GetStock {
//!     sku: String,
//! }
//!
//! #[derive(Serialize)]
//! struct Stock {
//!     sku: String,
//!     available: i64,
//! }
//!
//! fn stock(req: GetStock) -> Reply<Stock> {
//!     let stored = kv::get("inventory-db", format!("stock/{}", req.sku))
//!         .map_err(|_| AppError::unavailable("storage"))?;
//!     let available = match stored {
//!         None => 100,
//!         Some(text) => fusebench_guest::parse_decimal(&text)
//!             .ok_or(AppError::new("corrupt_record"))?,
//!     };
//!     Ok(Stock { sku: req.sku, available })
//! }
//! endpoint!(stock, fn(req: GetStock) -> Reply<Stock>); // on wasm32: export `handle_stock`
//!
//! // Natively the imports hit the fake host, so the handler is testable as is:
//! fusebench_guest::fake::reset();
//! fusebench_guest::fake::set_kv("inventory-db", "stock/apple", "7");
//! let reply = fusebench_guest::fake::invoke(stock, r#"{"sku":"apple"}"#);
//! assert_eq!(reply, r#"{"sku":"apple","available":7}"#);
//! let reply = fusebench_guest::fake::invoke(stock, r#"{"sku":1}"#);
//! assert!(reply.starts_with(r#"{"error":"bad_request: invalid type"#));
//! ```
//!
//! * [`endpoint!`] turns a plain function `Request -> Reply<Response>` into the export
//!   `handle_<name>`. A request that does not deserialize answers
//!   `{"error":"bad_request: <why>"}`; an `Err(AppError)` answers `{"error":"<code>"}`. Neither
//!   is a trap: the ABI reserves traps for guest faults.
//! * [`kv`], [`cache`], [`publish`], [`call`] (and [`call_with_timeout`]), [`log`], [`now`]
//!   and [`random`] wrap every import of the ABI; negative result codes become [`HostError`].
//! * Compiled for anything but `wasm32`, the imports hit an in-memory, per-thread [`fake`] host,
//!   so `cargo test` runs service logic natively.
//!
//! # Memory discipline (wasm32)
//!
//! The SDK is `no_std` + `alloc`; on wasm32 it brings its own global allocator (power-of-two
//! blocks from `__heap_base`, grown only when the initial memory is full) and a panic handler
//! that traps (`unreachable`, a guest fault).
//!
//! * **`alloc(len)`** allocates `len` bytes with alignment 1 from the global allocator and never
//!   returns 0 (`alloc(0)` returns a dangling non-zero pointer and allocates nothing). Every
//!   buffer the host obtains this way is handed back to the guest, which then owns it:
//!   - the request buffer passed to `handle_*` is freed when the handler returns;
//!   - a value returned by `kv_get`, `kv_scan`, `cache_get`, `call` or `call_timeout`
//!     (packed `(ptr << 32) | len`) is
//!     taken over as a `Vec<u8>` and freed when the SDK's caller drops it.
//!
//!   So the host must use each `alloc` buffer exactly once and must not write into memory it
//!   did not obtain from `alloc` for this purpose.
//! * **The response** of a handler is a `Vec<u8>` parked in a single static slot; the packed
//!   `(ptr << 32) | len` points into it. It stays valid until the next `handle_*` call on the
//!   same instance, which frees it first thing. The host copies it out before calling again.
//! * **One invocation at a time per instance.** A handler suspended in a host call (wasmi
//!   resumable calls) must be resumed to completion before the same instance is entered again:
//!   the response slot and the shadow stack pointer are per instance.
//! * Pointers are below 2 GiB (memories are capped far lower), so a packed result is never
//!   negative and never collides with the ABI's negative error codes.
//!
//! Memory stays bounded over any number of requests: everything but the last response is freed.
//!
//! # Building
//!
//! Crate type `cdylib`, target `wasm32-unknown-unknown`, release profile `opt-level = "s"`,
//! `lto`, `codegen-units = 1`, `panic = "abort"`, `strip`, and `-C link-arg=-zstack-size=32768`.
//! `guests/sdk/README.md` walks through a new service from scratch.
#![no_std]

extern crate alloc;
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

mod error;
// The allocator: used on wasm32, tested natively (the fake host needs none).
#[cfg(any(target_arch = "wasm32", test))]
#[allow(unsafe_code)] // an allocator's raw blocks; each block says why it holds
mod heap;
mod host;
#[allow(unsafe_code)] // strings checked to be ASCII, copies into reserved room, word reads inside
// slices, zeroed scratch arrays; each block says why it holds
pub mod json;
mod reply;

#[cfg(test)]
mod tests;

#[cfg(not(target_arch = "wasm32"))]
pub mod fake;

use alloc::vec::Vec;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::{AppError, CallError, HostError};
pub use reply::{Ack, Reply, Respond};

/// Re-exported so that services need no direct `serde_json` dependency for ad-hoc JSON.
pub use serde_json;

/// The key–value stores a service owns or may read (`kv` capability).
pub mod kv {
    use alloc::string::String;
    use alloc::vec::Vec;

    use serde::{Deserialize, Serialize};

    use crate::{HostError, host};

    /// The most entries one [`scan`] may ask for (the host's bound).
    pub const SCAN_LIMIT_MAX: u32 = 1000;

    /// One entry of a [`scan`]: the key and value as text (bytes that are not UTF-8 come as
    /// U+FFFD: read such a value with [`get`]), and the version that wrote it (0: an initial
    /// entry of the scenario).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Entry {
        pub key: String,
        pub value: String,
        pub version: u64,
    }

    /// The live entries of `store` whose key starts with `prefix`, in key order, at most
    /// `limit` (1 to [`SCAN_LIMIT_MAX`]), read at the replica a [`get`] reads: each key
    /// returned counts as read (a later write of it is judged against what was seen).
    ///
    /// # Errors
    /// The host's error code: denied, unavailable, invalid argument (also a `limit` out of
    /// range, or a reply that is not the ABI's JSON array).
    pub fn scan(
        store: &str,
        prefix: impl AsRef<[u8]>,
        limit: u32,
    ) -> Result<Vec<Entry>, HostError> {
        let json = host::kv_scan(store, prefix.as_ref(), limit)?;
        serde_json::from_slice(&json).map_err(|_| HostError::InvalidArgument)
    }

    /// The value at `key` in `store`; `Ok(None)` if absent.
    ///
    /// # Errors
    /// The host's error code: denied, unavailable, invalid argument.
    pub fn get(store: &str, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, HostError> {
        host::kv_get(store, key.as_ref())
    }

    /// Writes `value` at `key` in `store`.
    ///
    /// # Errors
    /// The host's error code: denied, unavailable, invalid argument.
    pub fn put(
        store: &str,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<(), HostError> {
        host::kv_put(store, key.as_ref(), value.as_ref())
    }

    /// Deletes `key` from `store`: `Ok(true)` if it existed, `Ok(false)` if it did not.
    ///
    /// # Errors
    /// The host's error code: denied, unavailable, invalid argument.
    pub fn delete(store: &str, key: impl AsRef<[u8]>) -> Result<bool, HostError> {
        host::kv_delete(store, key.as_ref())
    }

    /// Compare-and-set: writes `new` at `key` only if the key holds `expect` (`None`: only if
    /// it is absent), decided atomically at the replica that decides writes. `Ok(true)` when
    /// written, `Ok(false)` when the key held something else (nothing written: read again and
    /// retry, or give up). A read-modify-write made this way cannot lose a concurrent update.
    ///
    /// # Errors
    /// The host's error code: denied, unavailable, invalid argument.
    pub fn cas(
        store: &str,
        key: impl AsRef<[u8]>,
        expect: Option<&[u8]>,
        new: impl AsRef<[u8]>,
    ) -> Result<bool, HostError> {
        host::kv_cas(store, key.as_ref(), expect, new.as_ref())
    }

    /// A value with the version that wrote it (0: an initial entry of the scenario).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Versioned {
        pub value: Vec<u8>,
        pub version: u64,
    }

    /// The value at `key` in `store` with its version, for a later [`cas_version`];
    /// `Ok(None)` if absent. Read where [`get`] reads.
    ///
    /// # Errors
    /// The host's error code: denied, unavailable, invalid argument.
    pub fn get_versioned(
        store: &str,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<Versioned>, HostError> {
        let read = host::kv_get_versioned(store, key.as_ref())?;
        Ok(read.map(|(value, version)| Versioned { value, version }))
    }

    /// Compare-and-set on a version: writes `new` at `key` only if the key still holds the
    /// value written by `expect` (`None`: only if it is absent), decided atomically where
    /// writes are decided. Unlike [`cas`], any write in between is a conflict, one that wrote
    /// the same bytes again included (no A→B→A). `Ok(false)` when nothing was written.
    ///
    /// # Errors
    /// The host's error code: denied, unavailable, invalid argument.
    pub fn cas_version(
        store: &str,
        key: impl AsRef<[u8]>,
        expect: Option<u64>,
        new: impl AsRef<[u8]>,
    ) -> Result<bool, HostError> {
        host::kv_cas_version(store, key.as_ref(), expect, new.as_ref())
    }
}

/// The caches a service uses (`cache` capability). TTL and capacity come from the scenario.
pub mod cache {
    use alloc::vec::Vec;

    use crate::{HostError, host};

    /// The cached value at `key`; `Ok(None)` on a miss (absent or expired).
    ///
    /// # Errors
    /// The host's error code: denied, unavailable, invalid argument.
    pub fn get(cache: &str, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, HostError> {
        host::cache_get(cache, key.as_ref())
    }

    /// Caches `value` at `key`.
    ///
    /// # Errors
    /// The host's error code: denied, unavailable, invalid argument.
    pub fn put(
        cache: &str,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<(), HostError> {
        host::cache_put(cache, key.as_ref(), value.as_ref())
    }

    /// Invalidates `key` (on a cache the service owns): the next [`get`] misses. `Ok(true)` if
    /// a fresh entry was removed, `Ok(false)` if there was none.
    ///
    /// # Errors
    /// The host's error code: denied, unavailable, invalid argument.
    pub fn delete(cache: &str, key: impl AsRef<[u8]>) -> Result<bool, HostError> {
        host::cache_delete(cache, key.as_ref())
    }
}

/// The trace log (`log` capability).
pub mod log {
    use crate::host;

    /// Severity, as the ABI numbers it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Level {
        Debug = 0,
        Info = 1,
        Warn = 2,
        Error = 3,
    }

    /// Writes one line at `level`.
    pub fn write(level: Level, message: &str) {
        host::log(level, message);
    }

    pub fn debug(message: &str) {
        write(Level::Debug, message);
    }

    pub fn info(message: &str) {
        write(Level::Info, message);
    }

    pub fn warn(message: &str) {
        write(Level::Warn, message);
    }

    pub fn error(message: &str) {
        write(Level::Error, message);
    }
}

/// Decimal text, the shop's encoding of counters in stores (`"42"`, `"-7"`): the value, or
/// `None` if `bytes` is not an optional `-` followed by 1–19 ASCII digits that fit an `i64`.
#[must_use]
pub fn parse_decimal(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.len() > 18 {
        return parse_long_decimal(negative, digits);
    }
    // Up to 18 digits cannot overflow an `i64` (10^18 − 1 < 2^63): no overflow checks, which
    // on wasm32 are a call into compiler-rt's 128-bit multiply per digit.
    let mut value: i64 = 0;
    for d in digits {
        value = value * 10 + i64::from(d - b'0');
    }
    Some(if negative { -value } else { value })
}

/// [`parse_decimal`] for 19 digits and more, checking every step.
#[cold]
#[inline(never)]
fn parse_long_decimal(negative: bool, digits: &[u8]) -> Option<i64> {
    let mut value: i64 = 0;
    for d in digits {
        let d = i64::from(d - b'0');
        value = value.checked_mul(10)?;
        value = if negative { value.checked_sub(d)? } else { value.checked_add(d)? };
    }
    Some(value)
}

/// The concatenation of `parts`, in one allocation of the exact size: keys such as
/// `stock/<sku>` without `format!`'s formatting machinery (on a guest, every instruction of it
/// is fuel).
#[must_use]
#[allow(unsafe_code)] // copies into reserved room; each block says why it holds
pub fn concat(parts: &[&str]) -> alloc::string::String {
    // Saturating: a total past the address space fails in `with_capacity`, before any copy.
    let mut out: Vec<u8> =
        Vec::with_capacity(parts.iter().fold(0usize, |n, p| n.saturating_add(p.len())));
    for part in parts {
        let len = out.len();
        // SAFETY: the capacity is the parts' total length, so each part fits after the ones
        // before it; its bytes are written before the length covers them, and the buffer is
        // not one of the parts. (`push_str` checks the capacity and has a grow path, paid in
        // fuel at every iteration.)
        unsafe {
            core::ptr::copy_nonoverlapping(part.as_ptr(), out.as_mut_ptr().add(len), part.len());
            out.set_len(len + part.len());
        }
    }
    // SAFETY: the concatenation of `str`s is UTF-8.
    unsafe { alloc::string::String::from_utf8_unchecked(out) }
}

/// `value` as decimal text (`"42"`, `"-7"`), the shop's encoding of counters in stores, as
/// `value.to_string()` writes it, without `core::fmt`.
#[must_use]
pub fn decimal(value: i64) -> alloc::string::String {
    let mut digits = [0u8; 20];
    let at = json::digits(value.unsigned_abs(), &mut digits);
    let mut out = alloc::string::String::with_capacity(21 - at);
    if value < 0 {
        out.push('-');
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
    out
}

/// Publishes `message` as JSON on `channel` (`publish` capability); `Ok` once the channel
/// accepted it.
///
/// # Errors
/// The host's error code; [`HostError::InvalidArgument`] also if `message` does not serialize.
pub fn publish<T: Serialize + ?Sized>(channel: &str, message: &T) -> Result<(), HostError> {
    let bytes = json::to_vec(message).map_err(|_| HostError::InvalidArgument)?;
    publish_raw(channel, &bytes)
}

/// Publishes bytes (UTF-8 JSON) on `channel`.
///
/// # Errors
/// The host's error code.
pub fn publish_raw(channel: &str, message: &[u8]) -> Result<(), HostError> {
    host::publish(channel, message)
}

/// Calls `service.endpoint` with `request` as JSON (`call` capability) and decodes the reply.
///
/// A reply carrying an `"error"` string (`{"error":"not_found"}`) is the callee's application
/// error, [`CallError::Failed`]; a host failure (unavailable, denied, rejected by the callee's
/// contract, ...) is [`CallError::Host`].
///
/// # Errors
/// See above; [`CallError::BadReply`] if the reply is neither an error nor a `Resp`.
pub fn call<Req, Resp>(service: &str, endpoint: &str, request: &Req) -> Result<Resp, CallError>
where
    Req: Serialize + ?Sized,
    Resp: DeserializeOwned,
{
    let bytes = json::to_vec(request).map_err(|_| HostError::InvalidArgument)?;
    let reply = call_raw(service, endpoint, &bytes)?;
    reply::decode_reply(&reply)
}

/// Calls `service.endpoint` with raw request bytes and returns the raw reply.
///
/// # Errors
/// The host's error code.
pub fn call_raw(service: &str, endpoint: &str, request: &[u8]) -> Result<Vec<u8>, HostError> {
    host::call(service, endpoint, request)
}

/// [`call`] with its own per-attempt timeout of `timeout_ms` (at least 1) instead of the
/// channel's; the channel's retries and backoff still apply, each attempt with this timeout.
///
/// # Errors
/// As [`call`]; a timeout is [`CallError::Host`] with [`HostError::Unavailable`].
pub fn call_with_timeout<Req, Resp>(
    service: &str,
    endpoint: &str,
    request: &Req,
    timeout_ms: u32,
) -> Result<Resp, CallError>
where
    Req: Serialize + ?Sized,
    Resp: DeserializeOwned,
{
    let bytes = json::to_vec(request).map_err(|_| HostError::InvalidArgument)?;
    let reply = call_raw_with_timeout(service, endpoint, &bytes, timeout_ms)?;
    reply::decode_reply(&reply)
}

/// [`call_raw`] with its own per-attempt timeout (see [`call_with_timeout`]).
///
/// # Errors
/// The host's error code.
pub fn call_raw_with_timeout(
    service: &str,
    endpoint: &str,
    request: &[u8],
    timeout_ms: u32,
) -> Result<Vec<u8>, HostError> {
    host::call_timeout(service, endpoint, request, timeout_ms)
}

/// Virtual time in nanoseconds since the start of the run (`clock` capability).
#[must_use]
pub fn now() -> u64 {
    host::now().cast_unsigned()
}

/// The next value of the service's seeded random stream (`random` capability).
#[must_use]
pub fn random() -> u64 {
    host::random().cast_unsigned()
}

/// Declares an endpoint: exports `handle_<name>` (on wasm32) calling the plain function `name`.
///
/// ```
/// use fusebench_guest::{Ack, AppError, Reply, endpoint};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize)]
/// struct Ping {
///     n: i64,
/// }
/// #[derive(Serialize)]
/// struct Pong {
///     n: i64,
/// }
///
/// fn ping(req: Ping) -> Reply<Pong> {
///     if req.n < 0 {
///         return Err(AppError::new("negative"));
///     }
///     Ok(Pong { n: req.n + 1 })
/// }
/// endpoint!(ping, fn(req: Ping) -> Reply<Pong>); // exports `handle_ping`
///
/// // Or define the function in place:
/// endpoint!(noop, fn(req: Ping) -> Reply<Ack> { Ok(Ack::OK) });
///
/// use fusebench_guest::fake::invoke;
/// assert_eq!(invoke(ping, r#"{"n":1}"#), r#"{"n":2}"#);
/// assert_eq!(invoke(ping, r#"{"n":-1}"#), r#"{"error":"negative"}"#);
/// assert_eq!(invoke(noop, r#"{"n":0}"#), r#"{"ok":true}"#);
/// ```
///
/// The request type must be `serde::de::DeserializeOwned`, the response type [`Respond`]
/// (any `Reply<T>` with `T: Serialize`). Off wasm32 nothing is exported; tests call the function
/// directly, or through [`fake::invoke`] to see the JSON the host would.
#[macro_export]
macro_rules! endpoint {
    ($name:ident, fn($req:ident : $Req:ty) -> $Resp:ty) => {
        const _: () = {
            #[cfg(target_arch = "wasm32")]
            #[allow(unsafe_code)] // the export itself; `serve` documents the ABI contract
            #[unsafe(export_name = concat!("handle_", stringify!($name)))]
            extern "C" fn handle(ptr: i32, len: i32) -> i64 {
                // SAFETY: called by the host per guests/ABI.md: `ptr`/`len` is a buffer
                // from `alloc` holding the request, used for this call only.
                unsafe {
                    $crate::__private::serve(ptr, len, |request| {
                        $crate::__private::dispatch::<$Req, $Resp>(request, $name)
                    })
                }
            }
            // Checks the signature, and keeps the handler "used" in native builds.
            let _: fn($Req) -> $Resp = $name;
        };
    };
    ($name:ident, fn($req:ident : $Req:ty) -> $Resp:ty $body:block) => {
        fn $name($req: $Req) -> $Resp $body
        $crate::endpoint!($name, fn($req: $Req) -> $Resp);
    };
}

#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::host::wasm::serve;
    #[cfg(all(target_arch = "wasm32", feature = "property"))]
    pub use crate::host::wasm::with_checker;
    pub use crate::reply::dispatch;
}

// Behind the `property` feature (see Cargo.toml): service modules rebuild byte-identical.
#[cfg(feature = "property")]
pub mod property;

// Behind the `filter` feature, for the same reason.
#[cfg(feature = "filter")]
pub mod filter;

// Behind the `policy` feature, for the same reason.
#[cfg(feature = "policy")]
pub mod policy;

/// Exports a [`property::Checker`] as a property checker module's `handle_event` and
/// `handle_end` (guests/ABI.md, "Property checkers"); one value of it, made with `Default` at
/// the first line, judges the whole run. One per module; needs the SDK's `property` feature.
#[cfg(feature = "property")]
#[macro_export]
macro_rules! property {
    ($Checker:ty) => {
        const _: () = {
            #[cfg(target_arch = "wasm32")]
            #[allow(unsafe_code)] // the exports themselves; `serve` documents the ABI contract
            #[unsafe(export_name = "handle_event")]
            extern "C" fn handle_event(ptr: i32, len: i32) -> i64 {
                // SAFETY: called by the host per guests/ABI.md, as `endpoint!`'s handlers.
                unsafe {
                    $crate::__private::serve(ptr, len, |line| {
                        $crate::__private::with_checker(|c: &mut $Checker| {
                            $crate::property::event_reply(c, line)
                        })
                    })
                }
            }
            #[cfg(target_arch = "wasm32")]
            #[allow(unsafe_code)]
            #[unsafe(export_name = "handle_end")]
            extern "C" fn handle_end(ptr: i32, len: i32) -> i64 {
                // SAFETY: as `handle_event`.
                unsafe {
                    $crate::__private::serve(ptr, len, |input| {
                        $crate::__private::with_checker(|c: &mut $Checker| {
                            $crate::property::end_reply(c, input)
                        })
                    })
                }
            }
            // Checks the type, and keeps it "used" in native builds.
            let _: fn() -> $Checker = <$Checker as ::core::default::Default>::default;
        };
    };
}
