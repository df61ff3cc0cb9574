/*
 * A mesh filter in freestanding C (guests/ABI.md, "Mesh filters"): a **request-body
 * validator** for orders.create_order. A body must be a JSON object with a string `sku` and
 * an integer `qty` from 1 to 10 (the shop's limit per order, which its contract cannot say);
 * any other body is answered 400 by the proxy and never reaches the service (the validation a
 * proxy-wasm schema filter does at the edge). Answers pass unchanged (no `handle_response`).
 *
 * The proxy hands the view `{"body":{...},"endpoint":...,...}`: a small JSON scanner finds the
 * top-level `body` member, then the top-level `sku` and `qty` members inside it (strings and
 * nesting are skipped, so a `"qty"` inside a string or a nested object does not count).
 *
 * Memory: one static 64 KiB input buffer (`alloc` hands it out; a larger request is refused
 * with 0 and the host faults the call); the answers are static strings. No imports.
 *
 * Build: clang --target=wasm32 -O2 -nostdlib -c, then wasm-ld --no-entry (guests/build.sh).
 */

typedef unsigned char u8;
typedef int i32;
typedef long long i64;

#define EXPORT(name) __attribute__((export_name(#name)))

static u8 input[65536];

EXPORT(alloc) i32 alloc(i32 len) {
    if (len < 0 || len > (i32)sizeof input) return 0;
    return (i32)(__SIZE_TYPE__)input;
}

static const char PASS[] = "{\"action\":\"continue\"}";
static const char NOT_OBJECT[] =
    "{\"action\":\"stop\",\"status\":400,\"body\":{\"error\":\"bad_request: the body is not a JSON object\"}}";
static const char NO_SKU[] =
    "{\"action\":\"stop\",\"status\":400,\"body\":{\"error\":\"bad_request: sku must be a string\"}}";
static const char BAD_QTY[] =
    "{\"action\":\"stop\",\"status\":400,\"body\":{\"error\":\"bad_request: qty must be an integer from 1 to 10\"}}";

static i64 answer(const char *text, i32 len) {
    return ((i64)(__SIZE_TYPE__)text << 32) | (i64)len;
}
#define ANSWER(s) answer((s), (i32)sizeof(s) - 1)

/* A cursor over [p, end). Every scanner returns the position after what it read, or 0. */
typedef const u8 *pos;

static pos ws(pos p, pos end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* A string starting at p (a '"'): the position after its closing quote. */
static pos string_end(pos p, pos end) {
    if (p >= end || *p != '"') return 0;
    for (p++; p < end; p++) {
        if (*p == '\\') { p++; continue; }
        if (*p == '"') return p + 1;
    }
    return 0;
}

/* Any JSON value starting at p: the position after it. */
static pos value_end(pos p, pos end) {
    p = ws(p, end);
    if (p >= end) return 0;
    if (*p == '"') return string_end(p, end);
    if (*p == '{' || *p == '[') {
        i32 depth = 0;
        while (p < end) {
            if (*p == '"') { p = string_end(p, end); if (!p) return 0; continue; }
            if (*p == '{' || *p == '[') depth++;
            if (*p == '}' || *p == ']') { depth--; if (depth == 0) return p + 1; }
            p++;
        }
        return 0;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n') p++;
    return p;
}

static i32 key_is(pos k, pos k_end, const char *name) {
    /* k .. k_end spans the quoted key. */
    pos q = k + 1;
    for (; q < k_end - 1 && *name; q++, name++) {
        if (*q != (u8)*name) return 0;
    }
    return q == k_end - 1 && *name == 0;
}

/* In the object at p, the value of top-level member `name` (its first byte), or 0. */
static pos member(pos p, pos end, const char *name) {
    p = ws(p, end);
    if (p >= end || *p != '{') return 0;
    p++;
    for (;;) {
        p = ws(p, end);
        if (p >= end || *p == '}') return 0;
        pos k = p;
        pos k_end = string_end(p, end);
        if (!k_end) return 0;
        p = ws(k_end, end);
        if (p >= end || *p != ':') return 0;
        p = ws(p + 1, end);
        if (key_is(k, k_end, name)) return p;
        p = value_end(p, end);
        if (!p) return 0;
        p = ws(p, end);
        if (p < end && *p == ',') p++;
    }
}

EXPORT(handle_request) i64 handle_request(i32 ptr, i32 len) {
    pos start = (pos)(__SIZE_TYPE__)ptr;
    pos end = start + len;
    pos body = member(start, end, "body");
    if (!body || *body != '{') return ANSWER(NOT_OBJECT);
    pos sku = member(body, end, "sku");
    if (!sku || *sku != '"') return ANSWER(NO_SKU);
    pos qty = member(body, end, "qty");
    if (!qty || *qty < '0' || *qty > '9') return ANSWER(BAD_QTY);
    i32 n = 0;
    for (; qty < end && *qty >= '0' && *qty <= '9'; qty++) {
        n = n * 10 + (*qty - '0');
        if (n > 10) return ANSWER(BAD_QTY);
    }
    if (qty < end && (*qty == '.' || *qty == 'e' || *qty == 'E')) return ANSWER(BAD_QTY);
    if (n < 1) return ANSWER(BAD_QTY);
    return ANSWER(PASS);
}
