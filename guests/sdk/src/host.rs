//! The one place that knows how the host is reached: the `fusebench.*` imports on wasm32, the
//! in-memory [`crate::fake`] host everywhere else. Both offer the same typed functions.

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::fake::host::*;

#[cfg(target_arch = "wasm32")]
pub(crate) use wasm::*;

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // FFI to the host and the ABI's raw buffers; each block says why it holds
pub(crate) mod wasm {
    use alloc::vec::Vec;
    use core::alloc::Layout;
    use core::cell::UnsafeCell;

    use crate::HostError;
    use crate::log::Level;

    #[global_allocator]
    static ALLOCATOR: crate::heap::wasm::GuestHeap = crate::heap::wasm::GuestHeap::new();

    /// A panic is a bug in the guest: trap, and let the host record a guest fault.
    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }

    mod import {
        #[link(wasm_import_module = "fusebench")]
        unsafe extern "C" {
            pub fn kv_get(store: i32, store_len: i32, key: i32, key_len: i32) -> i64;
            pub fn kv_put(s: i32, s_len: i32, k: i32, k_len: i32, v: i32, v_len: i32) -> i32;
            pub fn kv_delete(store: i32, store_len: i32, key: i32, key_len: i32) -> i32;
            #[allow(clippy::too_many_arguments)] // the ABI's eight i32 parameters
            pub fn kv_cas(
                s: i32,
                s_len: i32,
                k: i32,
                k_len: i32,
                e: i32,
                e_len: i32,
                n: i32,
                n_len: i32,
            ) -> i32;
            pub fn kv_scan(s: i32, s_len: i32, prefix: i32, prefix_len: i32, limit: i32) -> i64;
            pub fn kv_get_versioned(s: i32, s_len: i32, k: i32, k_len: i32, out: i32) -> i64;
            pub fn kv_cas_version(
                s: i32,
                s_len: i32,
                k: i32,
                k_len: i32,
                version: i64,
                n: i32,
                n_len: i32,
            ) -> i32;
            pub fn cache_get(cache: i32, cache_len: i32, key: i32, key_len: i32) -> i64;
            pub fn cache_put(c: i32, c_len: i32, k: i32, k_len: i32, v: i32, v_len: i32) -> i32;
            pub fn cache_delete(cache: i32, cache_len: i32, key: i32, key_len: i32) -> i32;
            pub fn publish(channel: i32, channel_len: i32, msg: i32, msg_len: i32) -> i32;
            pub fn call(s: i32, s_len: i32, e: i32, e_len: i32, r: i32, r_len: i32) -> i64;
            #[allow(clippy::too_many_arguments)] // the ABI's seven i32 parameters
            pub fn call_timeout(
                s: i32,
                s_len: i32,
                e: i32,
                e_len: i32,
                r: i32,
                r_len: i32,
                timeout_ms: i32,
            ) -> i64;
            pub fn log(level: i32, msg: i32, msg_len: i32);
            pub fn now() -> i64;
            pub fn random() -> i64;
        }
    }

    /// `(ptr, len)` of a byte string as the ABI passes it (wasm32: pointers are 32-bit).
    fn raw(bytes: &[u8]) -> (i32, i32) {
        (bytes.as_ptr() as i32, bytes.len() as i32)
    }

    fn status(code: i32) -> Result<(), HostError> {
        if code >= 0 { Ok(()) } else { Err(HostError::from_code(code.into())) }
    }

    /// Takes ownership of a buffer the host filled after obtaining it from `alloc`.
    ///
    /// # Safety
    /// `ptr`/`len` must come from one `alloc(len)` call, used for nothing else.
    unsafe fn take_buffer(ptr: u32, len: u32) -> Vec<u8> {
        if len == 0 {
            // `alloc(0)` allocated nothing; there is nothing to free.
            return Vec::new();
        }
        // SAFETY: `guest_alloc` allocated exactly `len` bytes with alignment 1, which is the
        // layout of a `Vec<u8>` with capacity `len`; the host initialised all of them.
        unsafe { Vec::from_raw_parts(ptr as *mut u8, len as usize, len as usize) }
    }

    /// Decodes a packed `(ptr << 32) | len` result; `-1` is "absent".
    fn packed(result: i64) -> Result<Option<Vec<u8>>, HostError> {
        match result {
            -1 => Ok(None),
            r if r < 0 => Err(HostError::from_code(r)),
            // SAFETY: per guests/ABI.md a non-negative result is a buffer the host obtained
            // from our `alloc` for this reply and handed over.
            r => Ok(Some(unsafe { take_buffer((r >> 32) as u32, r as u32) })),
        }
    }

    pub(crate) fn kv_get(store: &str, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        let ((s, sl), (k, kl)) = (raw(store.as_bytes()), raw(key));
        // SAFETY: the host only reads the two byte strings, which outlive the call.
        packed(unsafe { import::kv_get(s, sl, k, kl) })
    }

    pub(crate) fn kv_put(store: &str, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        let ((s, sl), (k, kl), (v, vl)) = (raw(store.as_bytes()), raw(key), raw(value));
        // SAFETY: the host only reads the byte strings, which outlive the call.
        status(unsafe { import::kv_put(s, sl, k, kl, v, vl) })
    }

    pub(crate) fn kv_delete(store: &str, key: &[u8]) -> Result<bool, HostError> {
        let ((s, sl), (k, kl)) = (raw(store.as_bytes()), raw(key));
        // SAFETY: the host only reads the byte strings, which outlive the call.
        match unsafe { import::kv_delete(s, sl, k, kl) } {
            -1 => Ok(false),
            code => status(code).map(|()| true),
        }
    }

    pub(crate) fn kv_cas(
        store: &str,
        key: &[u8],
        expect: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, HostError> {
        let ((s, sl), (k, kl), (n, nl)) = (raw(store.as_bytes()), raw(key), raw(new));
        // `expect_len = -1`: write only if the key is absent.
        let (e, el) = expect.map_or((0, -1), raw);
        // SAFETY: the host only reads the byte strings, which outlive the call.
        match unsafe { import::kv_cas(s, sl, k, kl, e, el, n, nl) } {
            -6 => Ok(false),
            code => status(code).map(|()| true),
        }
    }

    /// The value at `key` and the version that wrote it.
    pub(crate) fn kv_get_versioned(
        store: &str,
        key: &[u8],
    ) -> Result<Option<(Vec<u8>, u64)>, HostError> {
        let ((s, sl), (k, kl)) = (raw(store.as_bytes()), raw(key));
        let mut version = [0u8; 8];
        let out = version.as_mut_ptr() as i32;
        // SAFETY: the host only reads the byte strings, which outlive the call, and writes the
        // eight bytes of `version`, which is live and ours for the whole call.
        let value = packed(unsafe { import::kv_get_versioned(s, sl, k, kl, out) })?;
        Ok(value.map(|v| (v, u64::from_le_bytes(version))))
    }

    pub(crate) fn kv_cas_version(
        store: &str,
        key: &[u8],
        expect: Option<u64>,
        new: &[u8],
    ) -> Result<bool, HostError> {
        let ((s, sl), (k, kl), (n, nl)) = (raw(store.as_bytes()), raw(key), raw(new));
        // `-1`: write only if the key is absent; versions beyond i64 are never handed out.
        let version = expect.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        // SAFETY: the host only reads the byte strings, which outlive the call.
        match unsafe { import::kv_cas_version(s, sl, k, kl, version, n, nl) } {
            -6 => Ok(false),
            code => status(code).map(|()| true),
        }
    }

    /// The scan's JSON array (guests/ABI.md), undecoded.
    pub(crate) fn kv_scan(store: &str, prefix: &[u8], limit: u32) -> Result<Vec<u8>, HostError> {
        let ((s, sl), (p, pl)) = (raw(store.as_bytes()), raw(prefix));
        // A limit beyond i32 is beyond the host's maximum too: it answers invalid argument.
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        // SAFETY: the host only reads the byte strings, which outlive the call.
        match packed(unsafe { import::kv_scan(s, sl, p, pl, limit) }) {
            Ok(Some(json)) => Ok(json),
            Ok(None) => Err(HostError::NotFound),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn cache_get(cache: &str, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        let ((c, cl), (k, kl)) = (raw(cache.as_bytes()), raw(key));
        // SAFETY: the host only reads the byte strings, which outlive the call.
        packed(unsafe { import::cache_get(c, cl, k, kl) })
    }

    pub(crate) fn cache_put(cache: &str, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        let ((c, cl), (k, kl), (v, vl)) = (raw(cache.as_bytes()), raw(key), raw(value));
        // SAFETY: the host only reads the byte strings, which outlive the call.
        status(unsafe { import::cache_put(c, cl, k, kl, v, vl) })
    }

    pub(crate) fn cache_delete(cache: &str, key: &[u8]) -> Result<bool, HostError> {
        let ((c, cl), (k, kl)) = (raw(cache.as_bytes()), raw(key));
        // SAFETY: the host only reads the byte strings, which outlive the call.
        match unsafe { import::cache_delete(c, cl, k, kl) } {
            -1 => Ok(false),
            code => status(code).map(|()| true),
        }
    }

    pub(crate) fn publish(channel: &str, message: &[u8]) -> Result<(), HostError> {
        let ((c, cl), (m, ml)) = (raw(channel.as_bytes()), raw(message));
        // SAFETY: the host only reads the byte strings, which outlive the call.
        status(unsafe { import::publish(c, cl, m, ml) })
    }

    pub(crate) fn call(
        service: &str,
        endpoint: &str,
        request: &[u8],
    ) -> Result<Vec<u8>, HostError> {
        let (s, sl) = raw(service.as_bytes());
        let ((e, el), (r, rl)) = (raw(endpoint.as_bytes()), raw(request));
        // SAFETY: the host only reads the byte strings, which outlive the call.
        match packed(unsafe { import::call(s, sl, e, el, r, rl) }) {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(HostError::NotFound),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn call_timeout(
        service: &str,
        endpoint: &str,
        request: &[u8],
        timeout_ms: u32,
    ) -> Result<Vec<u8>, HostError> {
        let (s, sl) = raw(service.as_bytes());
        let ((e, el), (r, rl)) = (raw(endpoint.as_bytes()), raw(request));
        // A timeout beyond i32 (24 days) is as good as none: the longest the ABI can say.
        let timeout = i32::try_from(timeout_ms).unwrap_or(i32::MAX);
        // SAFETY: the host only reads the byte strings, which outlive the call.
        match packed(unsafe { import::call_timeout(s, sl, e, el, r, rl, timeout) }) {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(HostError::NotFound),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn log(level: Level, message: &str) {
        let (m, ml) = raw(message.as_bytes());
        // SAFETY: the host only reads the message, which outlives the call.
        unsafe { import::log(level as i32, m, ml) }
    }

    pub(crate) fn now() -> i64 {
        // SAFETY: no arguments, no memory access.
        unsafe { import::now() }
    }

    pub(crate) fn random() -> i64 {
        // SAFETY: no arguments, no memory access.
        unsafe { import::random() }
    }

    /// The export `alloc(len) -> ptr`: `len` fresh bytes for the host to write.
    #[unsafe(export_name = "alloc")]
    extern "C" fn guest_alloc(len: i32) -> i32 {
        let len = len.cast_unsigned() as usize;
        if len == 0 {
            return core::ptr::NonNull::<u8>::dangling().as_ptr() as i32;
        }
        // A failed layout (len > isize::MAX) or allocation traps: a guest fault.
        let Ok(layout) = Layout::from_size_align(len, 1) else { core::arch::wasm32::unreachable() };
        // SAFETY: `layout` has a non-zero size.
        let ptr = unsafe { alloc::alloc::alloc(layout) };
        if ptr.is_null() {
            alloc::alloc::handle_alloc_error(layout);
        }
        ptr as i32
    }

    /// The last response, kept alive until the host has copied it (the next call).
    struct ResponseSlot(UnsafeCell<Option<Vec<u8>>>);

    // SAFETY: wasm32-unknown-unknown without the atomics feature has a single thread.
    unsafe impl Sync for ResponseSlot {}

    static RESPONSE: ResponseSlot = ResponseSlot(UnsafeCell::new(None));

    /// Runs one handler invocation on a request the host wrote into an `alloc` buffer and
    /// returns the packed response.
    ///
    /// # Safety
    /// `ptr`/`len` must be a buffer from one `alloc(len)` call, filled by the host and used for
    /// nothing else; no other invocation of this instance may be in progress.
    pub unsafe fn serve(ptr: i32, len: i32, handle: impl FnOnce(&[u8]) -> Vec<u8>) -> i64 {
        // The host copied the previous response before making this call.
        replace_response(None);
        // SAFETY: the caller's contract.
        let request = unsafe { take_buffer(ptr.cast_unsigned(), len.cast_unsigned()) };
        let response = handle(&request);
        drop(request);
        let packed = ((response.as_ptr() as u32 as i64) << 32) | i64::from(response.len() as u32);
        replace_response(Some(response));
        packed
    }

    fn replace_response(response: Option<Vec<u8>>) {
        // SAFETY: single-threaded, and the reference lives only for this assignment.
        unsafe { *RESPONSE.0.get() = response };
    }

    /// A property checker's state (`property!`): one value for the instance's life.
    #[cfg(feature = "property")]
    struct CheckerSlot(core::cell::RefCell<Option<alloc::boxed::Box<dyn core::any::Any>>>);

    // SAFETY: wasm32-unknown-unknown without the atomics feature has a single thread.
    #[cfg(feature = "property")]
    unsafe impl Sync for CheckerSlot {}

    #[cfg(feature = "property")]
    static CHECKER: CheckerSlot = CheckerSlot(core::cell::RefCell::new(None));

    /// Runs `f` on the module's checker, made with `Default` on first use. A module exports one
    /// checker type (`property!` defines the two exports once), so the downcast always holds.
    #[cfg(feature = "property")]
    pub fn with_checker<C: Default + 'static, R>(f: impl FnOnce(&mut C) -> R) -> R {
        let mut slot = CHECKER.0.borrow_mut();
        let state = slot.get_or_insert_with(|| alloc::boxed::Box::new(C::default()));
        f(state.downcast_mut::<C>().expect("one checker type per module"))
    }
}
