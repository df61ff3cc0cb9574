// The guest ABI (guests/ABI.md) for AssemblyScript: every `fusebench.*` import declared once
// with its exact signature, and helpers over `Buf` (./json.ts) for the host operations of
// issue 13 (scan, invalidation, a call with its own timeout, delete, compare-and-set).
//
// Import what you use: AssemblyScript only emits the imports a module calls, so importing this
// file grants nothing by itself. (catalog.ts predates it and declares its four imports itself.)
// Names are passed as `Buf`s of UTF-8 bytes; `text` (ASCII literals) builds one.
//
// Error codes: -1 not found, -2 denied, -3 unavailable, -4 invalid argument, -5 rejected by the
// callee's contract, -6 conflict (kv_cas, kv_cas_version).
import { Buf } from "./json";

export const NOT_FOUND: i32 = -1;
export const DENIED: i32 = -2;
export const UNAVAILABLE: i32 = -3;
export const INVALID_ARGUMENT: i32 = -4;
export const REJECTED: i32 = -5;
export const CONFLICT: i32 = -6;
/** The most entries one `kv_scan` may ask for. */
export const SCAN_LIMIT_MAX: i32 = 1000;

@external("fusebench", "kv_get")
export declare function kv_get(store: usize, storeLen: i32, key: usize, keyLen: i32): i64;
@external("fusebench", "kv_put")
export declare function kv_put(
  store: usize, storeLen: i32, key: usize, keyLen: i32, value: usize, valueLen: i32,
): i32;
@external("fusebench", "kv_delete")
export declare function kv_delete(store: usize, storeLen: i32, key: usize, keyLen: i32): i32;
@external("fusebench", "kv_cas")
export declare function kv_cas(
  store: usize, storeLen: i32, key: usize, keyLen: i32,
  expect: usize, expectLen: i32, value: usize, valueLen: i32,
): i32;
@external("fusebench", "kv_scan")
export declare function kv_scan(
  store: usize, storeLen: i32, prefix: usize, prefixLen: i32, limit: i32,
): i64;
@external("fusebench", "kv_get_versioned")
export declare function kv_get_versioned(
  store: usize, storeLen: i32, key: usize, keyLen: i32, versionOut: usize,
): i64;
@external("fusebench", "kv_cas_version")
export declare function kv_cas_version(
  store: usize, storeLen: i32, key: usize, keyLen: i32, version: i64, value: usize, valueLen: i32,
): i32;
@external("fusebench", "cache_get")
export declare function cache_get(cache: usize, cacheLen: i32, key: usize, keyLen: i32): i64;
@external("fusebench", "cache_put")
export declare function cache_put(
  cache: usize, cacheLen: i32, key: usize, keyLen: i32, value: usize, valueLen: i32,
): i32;
@external("fusebench", "cache_delete")
export declare function cache_delete(cache: usize, cacheLen: i32, key: usize, keyLen: i32): i32;
@external("fusebench", "publish")
export declare function publish(channel: usize, channelLen: i32, msg: usize, msgLen: i32): i32;
@external("fusebench", "call")
export declare function call(
  service: usize, serviceLen: i32, endpoint: usize, endpointLen: i32,
  request: usize, requestLen: i32,
): i64;
@external("fusebench", "call_timeout")
export declare function call_timeout(
  service: usize, serviceLen: i32, endpoint: usize, endpointLen: i32,
  request: usize, requestLen: i32, timeoutMs: i32,
): i64;
@external("fusebench", "log")
export declare function log(level: i32, msg: usize, msgLen: i32): void;
@external("fusebench", "now")
export declare function now(): i64;
@external("fusebench", "random")
export declare function random(): i64;

/** An ASCII literal as bytes (store, cache, service and endpoint names). */
export function text(s: string): Buf {
  const b = new Buf(s.length);
  b.ascii(s);
  return b;
}

/** A host answer: the buffer it handed over, or the negative code. */
export class Answer {
  code: i32 = 0;
  bytes: Buf | null = null;

  /** Splits a packed `(ptr << 32) | len` result. */
  static of(r: i64): Answer {
    const a = new Answer();
    if (r < 0) {
      a.code = <i32>r;
    } else {
      a.bytes = Buf.view(<usize>(<u64>r >>> 32), <i32>(r & 0xffffffff));
    }
    return a;
  }

  get ok(): bool {
    return this.code == 0;
  }
}

/**
 * The live keys of `store` starting with `prefix`, in key order, at most `limit`
 * (1..=SCAN_LIMIT_MAX): on success `bytes` holds the JSON array
 * `[{"key":"…","value":"…","version":n}, …]` (scan it with `Scanner`).
 */
export function scan(store: Buf, prefix: Buf, limit: i32): Answer {
  return Answer.of(kv_scan(store.ptr, store.len, prefix.ptr, prefix.len, limit));
}

/** Invalidates `key` in `cache`: 1 removed, 0 there was none, or a negative code. */
export function invalidate(cache: Buf, key: Buf): i32 {
  const r = cache_delete(cache.ptr, cache.len, key.ptr, key.len);
  return r == 0 ? 1 : r == NOT_FOUND ? 0 : r;
}

/** `call` with each attempt's timeout `timeoutMs` (>= 1) instead of the channel's. */
export function callWithin(service: Buf, endpoint: Buf, request: Buf, timeoutMs: i32): Answer {
  return Answer.of(
    call_timeout(
      service.ptr, service.len, endpoint.ptr, endpoint.len, request.ptr, request.len, timeoutMs,
    ),
  );
}

/** Deletes `key` from `store`: 1 deleted, 0 it was absent, or a negative code. */
export function remove(store: Buf, key: Buf): i32 {
  const r = kv_delete(store.ptr, store.len, key.ptr, key.len);
  return r == 0 ? 1 : r == NOT_FOUND ? 0 : r;
}

/**
 * Writes `value` at `key` only if it holds `expect` (null: only if absent): 1 written, 0
 * conflict (nothing written: read again and retry), or a negative code.
 */
export function cas(store: Buf, key: Buf, expect: Buf | null, value: Buf): i32 {
  const e = expect;
  const r = e === null
    ? kv_cas(store.ptr, store.len, key.ptr, key.len, 0, -1, value.ptr, value.len)
    : kv_cas(store.ptr, store.len, key.ptr, key.len, e.ptr, e.len, value.ptr, value.len);
  return r == 0 ? 1 : r == CONFLICT ? 0 : r;
}

/**
 * Writes `value` at `key` only if it still holds the value written by `version` (-1: only if
 * absent; read versions with `kv_get_versioned` or `scan`): 1 written, 0 conflict (also when
 * the same bytes were written again in between), or a negative code.
 */
export function casVersion(store: Buf, key: Buf, version: i64, value: Buf): i32 {
  const r = kv_cas_version(store.ptr, store.len, key.ptr, key.len, version, value.ptr, value.len);
  return r == 0 ? 1 : r == CONFLICT ? 0 : r;
}
