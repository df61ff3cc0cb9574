/*
 * Not a service: a module that calls every helper of fusebench.h, compiled by guests/build.sh
 * (to a temporary object) so that the header and its import signatures are type-checked on
 * every build though no shipped module includes it yet.
 */
#include "fusebench.h"

static fb_u8 heap[4096];
static fb_u32 top;

__attribute__((export_name("alloc"))) void *alloc(fb_i32 len) {
    void *p = heap + top;
    top = (top + (fb_u32)len) % (sizeof heap - 256);
    return p;
}

static const fb_u8 KEY[] = "item/1";

__attribute__((export_name("handle_check"))) fb_i64 handle_check(const fb_u8 *req, fb_i32 len) {
    fb_bytes out = {req, (fb_u32)len};
    fb_i32 r = fb_scan("db", KEY, 5, 10, &out);
    r += fb_delete("db", KEY, 6);
    r += fb_cas("db", KEY, 6, 0, 0, KEY, 6);
    r += fb_invalidate("cache", KEY, 6);
    r += fb_call_within("svc", "ep", req, len, 250, &out);
    return r < -100 ? (fb_i64)r : (fb_i64)((fb_u64)(fb_u32)(__SIZE_TYPE__)out.ptr << 32 | out.len);
}
