/*
 * fusebench.h: the guest ABI (guests/ABI.md) for freestanding C, every `fusebench.*` import
 * declared once with its exact signature, and small helpers around them. Header-only: include
 * it in a module built as guests/build.sh builds payments.c (clang --target=wasm32 -nostdlib,
 * then wasm-ld --no-entry); a function the module does not call is not imported, so including
 * it grants nothing by itself. (payments.c predates it and declares its two imports itself.)
 *
 * Strings are (pointer, length) pairs; lengths are i32. A result `i64` is either a packed
 * `(ptr << 32) | len` buffer the host obtained from the module's `alloc` (the module owns it
 * then), or a negative error code: -1 not found, -2 denied, -3 unavailable, -4 invalid
 * argument, -5 rejected by the callee's contract, -6 conflict (kv_cas, kv_cas_version).
 */
#ifndef FUSEBENCH_H
#define FUSEBENCH_H

typedef unsigned char fb_u8;
typedef __UINT32_TYPE__ fb_u32;
typedef __INT32_TYPE__ fb_i32;
typedef __INT64_TYPE__ fb_i64;
typedef __UINT64_TYPE__ fb_u64;

#define FB_NOT_FOUND (-1)
#define FB_DENIED (-2)
#define FB_UNAVAILABLE (-3)
#define FB_INVALID_ARGUMENT (-4)
#define FB_REJECTED (-5)
#define FB_CONFLICT (-6)
/* The most entries one kv_scan may ask for. */
#define FB_SCAN_LIMIT_MAX 1000

#define FB_IMPORT(name) __attribute__((import_module("fusebench"), import_name(#name)))

/* Key-value stores (capability `kv`). */
FB_IMPORT(kv_get)
fb_i64 fb_kv_get(const fb_u8 *store, fb_i32 store_len, const fb_u8 *key, fb_i32 key_len);
FB_IMPORT(kv_put)
fb_i32 fb_kv_put(const fb_u8 *store, fb_i32 store_len, const fb_u8 *key, fb_i32 key_len,
                 const fb_u8 *value, fb_i32 value_len);
/* 0 deleted, -1 the key was absent. */
FB_IMPORT(kv_delete)
fb_i32 fb_kv_delete(const fb_u8 *store, fb_i32 store_len, const fb_u8 *key, fb_i32 key_len);
/* Writes `new_value` only over `expect` (expect_len = -1: only if absent); -6 conflict. */
FB_IMPORT(kv_cas)
fb_i32 fb_kv_cas(const fb_u8 *store, fb_i32 store_len, const fb_u8 *key, fb_i32 key_len,
                 const fb_u8 *expect, fb_i32 expect_len, const fb_u8 *new_value,
                 fb_i32 new_len);
/* Packed JSON array [{"key","value","version"}, ...] of the live keys with the prefix, in key
 * order, at most `limit` (1..=FB_SCAN_LIMIT_MAX). */
FB_IMPORT(kv_scan)
fb_i64 fb_kv_scan(const fb_u8 *store, fb_i32 store_len, const fb_u8 *prefix, fb_i32 prefix_len,
                  fb_i32 limit);
/* kv_get that also writes the value's version (8 bytes, little-endian) at `version_out`. */
FB_IMPORT(kv_get_versioned)
fb_i64 fb_kv_get_versioned(const fb_u8 *store, fb_i32 store_len, const fb_u8 *key,
                           fb_i32 key_len, fb_i64 *version_out);
/* Writes `new_value` only if the key still holds the value written by `version` (-1: only if
 * absent); -6 conflict, also when the same bytes were written again in between. */
FB_IMPORT(kv_cas_version)
fb_i32 fb_kv_cas_version(const fb_u8 *store, fb_i32 store_len, const fb_u8 *key,
                         fb_i32 key_len, fb_i64 version, const fb_u8 *new_value,
                         fb_i32 new_len);

/* Caches (capability `cache`). */
FB_IMPORT(cache_get)
fb_i64 fb_cache_get(const fb_u8 *cache, fb_i32 cache_len, const fb_u8 *key, fb_i32 key_len);
FB_IMPORT(cache_put)
fb_i32 fb_cache_put(const fb_u8 *cache, fb_i32 cache_len, const fb_u8 *key, fb_i32 key_len,
                    const fb_u8 *value, fb_i32 value_len);
/* Invalidation: 0 a fresh entry was removed, -1 there was none. */
FB_IMPORT(cache_delete)
fb_i32 fb_cache_delete(const fb_u8 *cache, fb_i32 cache_len, const fb_u8 *key, fb_i32 key_len);

/* Channels and calls (capabilities `publish`, `call`). */
FB_IMPORT(publish)
fb_i32 fb_publish(const fb_u8 *channel, fb_i32 channel_len, const fb_u8 *message,
                  fb_i32 message_len);
FB_IMPORT(call)
fb_i64 fb_call(const fb_u8 *service, fb_i32 service_len, const fb_u8 *endpoint,
               fb_i32 endpoint_len, const fb_u8 *request, fb_i32 request_len);
/* `call` with each attempt's timeout `timeout_ms` (>= 1) instead of the channel's. */
FB_IMPORT(call_timeout)
fb_i64 fb_call_timeout(const fb_u8 *service, fb_i32 service_len, const fb_u8 *endpoint,
                       fb_i32 endpoint_len, const fb_u8 *request, fb_i32 request_len,
                       fb_i32 timeout_ms);

/* The rest (capabilities `log`, `clock`, `random`). */
FB_IMPORT(log) void fb_log(fb_i32 level, const fb_u8 *message, fb_i32 message_len);
FB_IMPORT(now) fb_i64 fb_now(void);
FB_IMPORT(random) fb_i64 fb_random(void);

/* A buffer handed over by the host. */
typedef struct {
    const fb_u8 *ptr;
    fb_u32 len;
} fb_bytes;

/* Splits a packed result: 0 and the buffer in *out, or the negative code (out untouched). */
static inline fb_i32 fb_unpack(fb_i64 result, fb_bytes *out) {
    if (result < 0) return (fb_i32)result;
    out->ptr = (const fb_u8 *)(__SIZE_TYPE__)(fb_u32)((fb_u64)result >> 32);
    out->len = (fb_u32)result;
    return 0;
}

/* Length of a NUL-terminated name. */
static inline fb_i32 fb_strlen(const char *s) {
    fb_i32 n = 0;
    while (s[n]) n++;
    return n;
}

/* kv_scan with a NUL-terminated store name: 0 and the JSON array in *json, or a code. */
static inline fb_i32 fb_scan(const char *store, const fb_u8 *prefix, fb_i32 prefix_len,
                             fb_i32 limit, fb_bytes *json) {
    return fb_unpack(fb_kv_scan((const fb_u8 *)store, fb_strlen(store), prefix, prefix_len,
                                limit),
                     json);
}

/* cache_delete with a NUL-terminated cache name: 1 removed, 0 there was none, or a code. */
static inline fb_i32 fb_invalidate(const char *cache, const fb_u8 *key, fb_i32 key_len) {
    fb_i32 r = fb_cache_delete((const fb_u8 *)cache, fb_strlen(cache), key, key_len);
    return r == 0 ? 1 : r == FB_NOT_FOUND ? 0 : r;
}

/* call_timeout with NUL-terminated names: 0 and the response in *reply, or a code (-3 when
 * every attempt timed out). */
static inline fb_i32 fb_call_within(const char *service, const char *endpoint,
                                    const fb_u8 *request, fb_i32 request_len,
                                    fb_i32 timeout_ms, fb_bytes *reply) {
    return fb_unpack(fb_call_timeout((const fb_u8 *)service, fb_strlen(service),
                                     (const fb_u8 *)endpoint, fb_strlen(endpoint), request,
                                     request_len, timeout_ms),
                     reply);
}

/* kv_delete with a NUL-terminated store name: 1 deleted, 0 it was absent, or a code. */
static inline fb_i32 fb_delete(const char *store, const fb_u8 *key, fb_i32 key_len) {
    fb_i32 r = fb_kv_delete((const fb_u8 *)store, fb_strlen(store), key, key_len);
    return r == 0 ? 1 : r == FB_NOT_FOUND ? 0 : r;
}

/* kv_cas with a NUL-terminated store name; expect = 0 (NULL) means "only if absent":
 * 1 written, 0 conflict (nothing written: read again and retry), or a code. */
static inline fb_i32 fb_cas(const char *store, const fb_u8 *key, fb_i32 key_len,
                            const fb_u8 *expect, fb_i32 expect_len, const fb_u8 *new_value,
                            fb_i32 new_len) {
    fb_i32 r = fb_kv_cas((const fb_u8 *)store, fb_strlen(store), key, key_len, expect,
                         expect ? expect_len : -1, new_value, new_len);
    return r == 0 ? 1 : r == FB_CONFLICT ? 0 : r;
}

#endif /* FUSEBENCH_H */
