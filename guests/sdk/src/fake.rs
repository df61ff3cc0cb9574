//! An in-memory host for native tests (everything but wasm32).
//!
//! Each thread has its own fake world (stores, caches, channels, callees, log, clock), so the
//! test harness's threads never see each other's state. Start every test with [`reset`].
//!
//! ```
//! use fusebench_guest::{AppError, HostError, Reply, fake, kv};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Forget {
//!     key: String,
//! }
//!
//! fn forget(req: Forget) -> Reply<bool> {
//!     kv::delete("db", &req.key).map_err(|_| AppError::unavailable("storage"))
//! }
//!
//! fake::reset();
//! fake::set_kv("db", "a", "1");
//! assert_eq!(fake::invoke(forget, r#"{"key":"a"}"#), "true");
//! assert_eq!(fake::kv_text("db", "a"), None);
//! fake::fail("db", Some(HostError::Unavailable));
//! assert_eq!(fake::invoke(forget, r#"{"key":"a"}"#), r#"{"error":"storage_unavailable"}"#);
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::string::String;
use std::vec::Vec;

use serde::de::DeserializeOwned;

use crate::log::Level;
use crate::{HostError, Respond};

type Callee = Rc<dyn Fn(&[u8]) -> Result<Vec<u8>, HostError>>;

#[derive(Default)]
struct World {
    kv: BTreeMap<(String, Vec<u8>), Vec<u8>>,
    /// The version of each key written here, from 1 in write order (absent: 0, as an initial
    /// entry of the scenario).
    versions: BTreeMap<(String, Vec<u8>), u64>,
    writes: u64,
    cache: BTreeMap<(String, Vec<u8>), Vec<u8>>,
    published: Vec<(String, Vec<u8>)>,
    calls: Vec<(String, String, Vec<u8>)>,
    callees: BTreeMap<(String, String), Callee>,
    /// service → how long (ms) its calls take, for `call_with_timeout`.
    latency_ms: BTreeMap<String, u32>,
    /// The timeout of every `call_with_timeout`, in call order.
    timeouts: Vec<u32>,
    failing: BTreeMap<String, HostError>,
    failing_writes: BTreeMap<String, HostError>,
    logs: Vec<(Level, String)>,
    now_nanos: i64,
    random_state: u64,
}

std::thread_local! {
    static WORLD: RefCell<World> = RefCell::new(World::default());
}

fn with<R>(f: impl FnOnce(&mut World) -> R) -> R {
    WORLD.with(|world| f(&mut world.borrow_mut()))
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Empties this thread's fake world.
pub fn reset() {
    with(|w| *w = World::default());
}

/// Sets `key` in `store` directly, as a scenario's initial data would.
pub fn set_kv(store: &str, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
    with(|w| {
        // An entry set here is like one of the scenario's initial entries: version 0.
        let slot = (store.into(), key.as_ref().to_vec());
        w.versions.remove(&slot);
        w.kv.insert(slot, value.as_ref().to_vec())
    });
}

/// The value at `key` in `store`, as text.
#[must_use]
pub fn kv_text(store: &str, key: impl AsRef<[u8]>) -> Option<String> {
    with(|w| w.kv.get(&(store.into(), key.as_ref().to_vec())).cloned()).map(text)
}

/// Every key of `store`, in order, as text.
#[must_use]
pub fn kv_keys(store: &str) -> Vec<String> {
    with(|w| w.kv.keys().filter(|(s, _)| s == store).map(|(_, k)| text(k.clone())).collect())
}

/// Sets `key` in `cache` directly.
pub fn set_cache(cache: &str, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
    with(|w| w.cache.insert((cache.into(), key.as_ref().to_vec()), value.as_ref().to_vec()));
}

/// The cached value at `key`, as text.
#[must_use]
pub fn cache_text(cache: &str, key: impl AsRef<[u8]>) -> Option<String> {
    with(|w| w.cache.get(&(cache.into(), key.as_ref().to_vec())).cloned()).map(text)
}

/// Every message published on `channel`, in order, as text.
#[must_use]
pub fn published(channel: &str) -> Vec<String> {
    with(|w| {
        w.published.iter().filter(|(c, _)| c == channel).map(|(_, m)| text(m.clone())).collect()
    })
}

/// Every call made, in order: `(service, endpoint, request)`.
#[must_use]
pub fn calls() -> Vec<(String, String, String)> {
    with(|w| w.calls.iter().map(|(s, e, r)| (s.clone(), e.clone(), text(r.clone()))).collect())
}

/// Every log line, in order.
#[must_use]
pub fn logs() -> Vec<(Level, String)> {
    with(|w| w.logs.clone())
}

/// Answers calls to `service.endpoint` with `callee`. See [`serve`] to plug in a real handler.
pub fn on_call(
    service: &str,
    endpoint: &str,
    callee: impl Fn(&[u8]) -> Result<Vec<u8>, HostError> + 'static,
) {
    with(|w| w.callees.insert((service.into(), endpoint.into()), Rc::new(callee)));
}

/// Makes calls to `service` take `ms` milliseconds: a [`crate::call_with_timeout`] with a
/// shorter timeout fails with [`HostError::Unavailable`] (without reaching the callee, as if
/// each attempt timed out); a plain [`crate::call`] waits as long as it takes.
pub fn set_latency(service: &str, ms: u32) {
    with(|w| w.latency_ms.insert(service.into(), ms));
}

/// The timeout of every [`crate::call_with_timeout`] made, in order.
#[must_use]
pub fn timeouts() -> Vec<u32> {
    with(|w| w.timeouts.clone())
}

/// Makes every operation on the store, cache, channel or service named `name` fail with
/// `error` (`None` heals it), like a partition or crashed replica would.
pub fn fail(name: &str, error: Option<HostError>) {
    with(|w| match error {
        Some(e) => w.failing.insert(name.into(), e),
        None => w.failing.remove(name),
    });
}

/// Like [`fail`], but only for writes (`kv_put`, `kv_delete`, `kv_cas`, `cache_put`,
/// `cache_delete`): reads still work,
/// as when a write is lost after the caller has acted on what it read.
pub fn fail_writes(name: &str, error: Option<HostError>) {
    with(|w| match error {
        Some(e) => w.failing_writes.insert(name.into(), e),
        None => w.failing_writes.remove(name),
    });
}

/// Sets the virtual clock.
pub fn set_now(nanos: u64) {
    with(|w| w.now_nanos = nanos.cast_signed());
}

/// Calls `handler` as the host would: `request` is the JSON the host passes, the result is
/// the JSON the host reads back (including `bad_request` answers).
pub fn invoke<Req: DeserializeOwned, Resp: Respond>(
    handler: fn(Req) -> Resp,
    request: &str,
) -> String {
    text(crate::reply::dispatch(request.as_bytes(), handler))
}

/// A callee for [`on_call`] that runs a real handler, e.g. to wire `orders` to `inventory`.
pub fn serve<Req: DeserializeOwned, Resp: Respond>(
    handler: fn(Req) -> Resp,
) -> impl Fn(&[u8]) -> Result<Vec<u8>, HostError> {
    move |request| Ok(crate::reply::dispatch(request, handler))
}

/// The fake's side of [`crate::host`].
pub(crate) mod host {
    use std::string::{String, ToString};
    use std::vec::Vec;

    use super::{World, with};
    use crate::HostError;
    use crate::log::Level;

    /// Records a write of `slot`: its next version.
    fn bump(w: &mut World, slot: &(String, Vec<u8>)) {
        w.writes += 1;
        w.versions.insert(slot.clone(), w.writes);
    }

    fn version(w: &World, slot: &(String, Vec<u8>)) -> u64 {
        w.versions.get(slot).copied().unwrap_or(0)
    }

    fn check(w: &World, name: &str) -> Result<(), HostError> {
        w.failing.get(name).map_or(Ok(()), |e| Err(*e))
    }

    fn check_write(w: &World, name: &str) -> Result<(), HostError> {
        check(w, name)?;
        w.failing_writes.get(name).map_or(Ok(()), |e| Err(*e))
    }

    pub(crate) fn kv_get(store: &str, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        with(|w| {
            check(w, store)?;
            Ok(w.kv.get(&(store.into(), key.to_vec())).cloned())
        })
    }

    pub(crate) fn kv_put(store: &str, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        with(|w| {
            check_write(w, store)?;
            let slot = (store.into(), key.to_vec());
            bump(w, &slot);
            w.kv.insert(slot, value.to_vec());
            Ok(())
        })
    }

    pub(crate) fn kv_delete(store: &str, key: &[u8]) -> Result<bool, HostError> {
        with(|w| {
            check_write(w, store)?;
            let slot = (store.into(), key.to_vec());
            let existed = w.kv.remove(&slot).is_some();
            if existed {
                bump(w, &slot);
            }
            Ok(existed)
        })
    }

    pub(crate) fn kv_cas(
        store: &str,
        key: &[u8],
        expect: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, HostError> {
        with(|w| {
            check_write(w, store)?;
            let slot = (store.into(), key.to_vec());
            if w.kv.get(&slot).map(Vec::as_slice) != expect {
                return Ok(false);
            }
            bump(w, &slot);
            w.kv.insert(slot, new.to_vec());
            Ok(true)
        })
    }

    pub(crate) fn kv_get_versioned(
        store: &str,
        key: &[u8],
    ) -> Result<Option<(Vec<u8>, u64)>, HostError> {
        with(|w| {
            check(w, store)?;
            let slot = (store.into(), key.to_vec());
            Ok(w.kv.get(&slot).map(|v| (v.clone(), version(w, &slot))))
        })
    }

    pub(crate) fn kv_cas_version(
        store: &str,
        key: &[u8],
        expect: Option<u64>,
        new: &[u8],
    ) -> Result<bool, HostError> {
        with(|w| {
            check_write(w, store)?;
            let slot = (store.into(), key.to_vec());
            let held = w.kv.contains_key(&slot).then(|| version(w, &slot));
            if held != expect {
                return Ok(false);
            }
            bump(w, &slot);
            w.kv.insert(slot, new.to_vec());
            Ok(true)
        })
    }

    /// The JSON array the host answers (guests/ABI.md), built from the fake's data.
    pub(crate) fn kv_scan(store: &str, prefix: &[u8], limit: u32) -> Result<Vec<u8>, HostError> {
        with(|w| {
            check(w, store)?;
            if limit == 0 || limit > crate::kv::SCAN_LIMIT_MAX {
                return Err(HostError::InvalidArgument);
            }
            let entries: Vec<crate::kv::Entry> =
                w.kv.range((store.to_string(), prefix.to_vec())..)
                    .take_while(|((s, k), _)| s == store && k.starts_with(prefix))
                    .take(limit as usize)
                    .map(|(slot, v)| crate::kv::Entry {
                        key: String::from_utf8_lossy(&slot.1).into_owned(),
                        value: String::from_utf8_lossy(v).into_owned(),
                        version: version(w, slot),
                    })
                    .collect();
            serde_json::to_vec(&entries).map_err(|_| HostError::InvalidArgument)
        })
    }

    pub(crate) fn cache_get(cache: &str, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        with(|w| {
            check(w, cache)?;
            Ok(w.cache.get(&(cache.into(), key.to_vec())).cloned())
        })
    }

    pub(crate) fn cache_put(cache: &str, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        with(|w| {
            check_write(w, cache)?;
            w.cache.insert((cache.into(), key.to_vec()), value.to_vec());
            Ok(())
        })
    }

    pub(crate) fn cache_delete(cache: &str, key: &[u8]) -> Result<bool, HostError> {
        with(|w| {
            check_write(w, cache)?;
            Ok(w.cache.remove(&(cache.into(), key.to_vec())).is_some())
        })
    }

    pub(crate) fn publish(channel: &str, message: &[u8]) -> Result<(), HostError> {
        with(|w| {
            check(w, channel)?;
            w.published.push((channel.into(), message.to_vec()));
            Ok(())
        })
    }

    pub(crate) fn call(
        service: &str,
        endpoint: &str,
        request: &[u8],
    ) -> Result<Vec<u8>, HostError> {
        // Look the callee up, then release the world: it may use the fake host itself.
        let callee = with(|w| {
            check(w, service)?;
            w.calls.push((service.into(), endpoint.into(), request.to_vec()));
            w.callees
                .get(&(service.to_string(), endpoint.to_string()))
                .cloned()
                .ok_or(HostError::InvalidArgument)
        })?;
        callee(request)
    }

    pub(crate) fn call_timeout(
        service: &str,
        endpoint: &str,
        request: &[u8],
        timeout_ms: u32,
    ) -> Result<Vec<u8>, HostError> {
        let slow = with(|w| {
            w.timeouts.push(timeout_ms);
            if timeout_ms == 0 {
                return Err(HostError::InvalidArgument);
            }
            Ok(w.latency_ms.get(service).is_some_and(|ms| *ms > timeout_ms))
        })?;
        if slow {
            return Err(HostError::Unavailable);
        }
        call(service, endpoint, request)
    }

    pub(crate) fn log(level: Level, message: &str) {
        with(|w| w.logs.push((level, message.into())));
    }

    pub(crate) fn now() -> i64 {
        with(|w| w.now_nanos)
    }

    /// SplitMix64: a seeded, portable stream, like the host's.
    pub(crate) fn random() -> i64 {
        with(|w| {
            w.random_state = w.random_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = w.random_state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)).cast_signed()
        })
    }
}
