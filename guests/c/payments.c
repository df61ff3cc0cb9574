/*
 * payments, in freestanding C: the same service and contract as guests/shop/payments (Rust).
 * See scenarios/shop/SERVICES.md for the contract and guests/ABI.md for the ABI.
 *
 * Endpoint `charge` (idempotent by payment_id):
 *   {"payment_id","order_id","amount_cents"} -> {"payment_id","order_id","amount_cents","status"}
 * Host calls, in order (identical to the Rust module): kv_get payment/<id>; if absent
 * kv_put payment/<id>, and when charged kv_get + kv_put charged/<order_id> (decimal text).
 * The record is written before the total: a lost second write under-counts, never double-charges.
 *
 * Memory: a bump arena above __heap_base. `alloc` called outside a handler starts a new request
 * and resets the arena (the host has copied the previous response by then), as does a handler
 * called with an empty request (which comes without `alloc`); `alloc` during a handler (host
 * replies) and the handler's own allocations bump. So a response stays valid until
 * the next call into the module, and memory never grows beyond one request's needs.
 *
 * Build: clang --target=wasm32 -Os -mbulk-memory -nostdlib -c, then wasm-ld --no-entry
 * (guests/build.sh says why the two steps).
 */

typedef unsigned char u8;
typedef unsigned int u32;
typedef int i32;
typedef long long i64;
typedef unsigned long long u64;
typedef __SIZE_TYPE__ size_t;

#define IMPORT(name) __attribute__((import_module("fusebench"), import_name(#name)))
#define EXPORT(name) __attribute__((export_name(#name)))

IMPORT(kv_get) i64 fb_kv_get(const u8 *store, i32 store_len, const u8 *key, i32 key_len);
IMPORT(kv_put)
i32 fb_kv_put(const u8 *store, i32 store_len, const u8 *key, i32 key_len, const u8 *value,
              i32 value_len);

/* ---- freestanding libc pieces the compiler may call ---- */

void *memcpy(void *dst, const void *src, size_t n) {
    u8 *d = dst;
    const u8 *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    u8 *d = dst;
    while (n--) *d++ = (u8)c;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    u8 *d = dst;
    const u8 *s = src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        while (n--) d[n] = s[n];
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
    const u8 *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x - *y;
    return 0;
}

/* ---- arena ---- */

extern u8 __heap_base;
static u32 arena_top;
static int in_handler;

static void *arena_alloc(u32 len) {
    u32 base = (u32)(size_t)&__heap_base;
    u32 start = ((arena_top < base ? base : arena_top) + 7u) & ~7u;
    u32 end = start + len;
    if (end < start) __builtin_trap();
    u32 have = (u32)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        u32 pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) __builtin_trap();
    }
    arena_top = end;
    return (void *)(size_t)start;
}

EXPORT(alloc) void *guest_alloc(i32 len) {
    if (!in_handler) arena_top = (u32)(size_t)&__heap_base; /* a new request begins */
    return arena_alloc((u32)len);
}

/* ---- byte buffers ---- */

typedef struct {
    u8 *ptr;
    u32 len, cap;
} buf;

static buf buf_new(u32 cap) {
    buf b = {arena_alloc(cap), 0, cap};
    return b;
}

static void buf_put(buf *b, const void *bytes, u32 n) {
    if (b->len + n > b->cap) {
        u32 cap = b->cap * 2 + n;
        u8 *grown = arena_alloc(cap);
        memcpy(grown, b->ptr, b->len);
        b->ptr = grown;
        b->cap = cap;
    }
    memcpy(b->ptr + b->len, bytes, n);
    b->len += n;
}

static u32 cstr_len(const char *s) {
    u32 n = 0;
    while (s[n]) n++;
    return n;
}

static void buf_str(buf *b, const char *s) { buf_put(b, s, cstr_len(s)); }

static void buf_i64(buf *b, i64 v) {
    u8 digits[20];
    u32 at = sizeof digits; /* written from the end: one buf_put, not one per digit */
    u64 m = v < 0 ? (u64)0 - (u64)v : (u64)v;
    do {
        digits[--at] = (u8)('0' + m % 10);
        m /= 10;
    } while (m);
    if (v < 0) buf_put(b, "-", 1);
    buf_put(b, digits + at, sizeof digits - at);
}

/* ---- eight bytes at a time ----
 *
 * wasmi charges fuel per metered region up front (a function's code outside loops at each call,
 * a loop's whole body at each iteration), so a byte loop pays its whole body per byte. These
 * test eight bytes per iteration: the high bit of each byte of a word below 0x20, '"' or '\\'
 * (x - 0x01.. & ~x & 0x80.. flags the zero bytes of x; the lowest flag is exact, the
 * subtraction's borrows only run upwards). The rare cases (escapes, control characters) take
 * the byte-wise code, kept out of line so that its size is not paid on the common path. */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static u64 load8(const u8 *p) {
    u64 x;
    __builtin_memcpy(&x, p, 8);
    return x;
}

/* Flags the bytes of x that are below 0x20, '"' or '\\'. */
static u64 stops(u64 x) {
    u64 q = x ^ (ONES * '"'), e = x ^ (ONES * '\\');
    return (((x - ONES * 0x20) & ~x) | ((q - ONES) & ~q) | ((e - ONES) & ~e)) & HIGHS;
}

/* Whether no byte of s[0..n) is below 0x20, '"' or '\\' (nothing JSON escapes). */
static int plain(const u8 *s, u32 n) {
    u32 i = 0;
    for (; n - i >= 8; i += 8)
        if (stops(load8(s + i))) return 0;
    u64 last = ONES * ' ';
    __builtin_memcpy(&last, s + i, n - i);
    return !stops(last);
}

/* A JSON string literal, escaped exactly as serde_json does (so both modules answer the same
 * bytes): \" \\ \b \f \n \r \t, other control characters as \u00xx, everything else raw. */
static void buf_json_str_escaped(buf *b, const u8 *s, u32 n);

static void buf_json_str(buf *b, const u8 *s, u32 n) {
    if (!plain(s, n)) return buf_json_str_escaped(b, s, n);
    buf_put(b, "\"", 1);
    buf_put(b, s, n);
    buf_put(b, "\"", 1);
}

__attribute__((noinline)) static void buf_json_str_escaped(buf *b, const u8 *s, u32 n) {
    static const char hex[] = "0123456789abcdef";
    buf_put(b, "\"", 1);
    u32 run = 0; /* start of the pending run of bytes that need no escaping */
    for (u32 i = 0; i < n; i++) {
        u8 c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_put(b, s + run, i - run);
        run = i + 1;
        const char *esc = 0;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        }
        if (esc) {
            buf_str(b, esc);
        } else {
            u8 u[6] = {'\\', 'u', '0', '0', (u8)hex[c >> 4], (u8)hex[c & 15]};
            buf_put(b, u, 6);
        }
    }
    buf_put(b, s + run, n - run);
    buf_put(b, "\"", 1);
}

/* ---- JSON scanning ---- */

typedef struct {
    const u8 *p, *end;
    const char *error; /* the first problem found, for bad_request */
} scanner;

static void fail(scanner *s, const char *why) {
    if (!s->error) s->error = why;
}

static void skip_ws(scanner *s) {
    if (s->p < s->end && *s->p > ' ') return; /* compact JSON: no loop entered */
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex_digit(u8 c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(scanner *s, u32 *out) {
    if (s->end - s->p < 4) return 0;
    u32 v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(s->p[i]);
        if (d < 0) return 0;
        v = v * 16 + (u32)d;
    }
    s->p += 4;
    *out = v;
    return 1;
}

static void put_utf8(buf *b, u32 cp) {
    u8 u[4];
    u32 n;
    if (cp < 0x80) {
        u[0] = (u8)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (u8)(0xC0 | cp >> 6);
        u[1] = (u8)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (u8)(0xE0 | cp >> 12);
        u[1] = (u8)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (u8)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (u8)(0xF0 | cp >> 18);
        u[1] = (u8)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (u8)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (u8)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_put(b, u, n);
}

/* Reads a string literal at s->p (which is '"'); the decoded bytes go to *out when out != 0. */
static void scan_string_escaped(scanner *s, buf *out);

/* The first byte at or after p below 0x20, '"' or '\\' (end if none), eight bytes at a time.
 * In line at its two callers: a call costs wasmi host time beyond its fuel, and the loop is
 * metered the same either way. (buf_put in line was tried: +10 % fuel per charge, its copy code
 * paid at every site on entry.) */
__attribute__((always_inline)) static const u8 *plain_run(const u8 *p, const u8 *end) {
    for (;;) {
        if (end - p < 8) {
            while (p < end && *p >= 0x20 && *p != '"' && *p != '\\') p++;
            return p;
        }
        u64 flags = stops(load8(p));
        if (flags) return p + (__builtin_ctzll(flags) >> 3);
        p += 8;
    }
}

static void scan_string(scanner *s, buf *out) {
    const u8 *run = s->p + 1;
    const u8 *p = plain_run(run, s->end);
    if (p < s->end && *p == '"') { /* the common case: no escape */
        if (out) buf_put(out, run, (u32)(p - run));
        s->p = p + 1;
        return;
    }
    scan_string_escaped(s, out); /* from the opening quote again */
}

/* Reads a string literal at s->p into *out: without escapes a view of the request (read only;
 * the request stays in the arena until the handler returns), else decoded into a new buffer of
 * capacity cap. */
static void scan_text(scanner *s, buf *out, u32 cap) {
    const u8 *run = s->p + 1;
    const u8 *p = plain_run(run, s->end);
    if (p < s->end && *p == '"') {
        out->ptr = (u8 *)run;
        out->len = out->cap = (u32)(p - run);
        s->p = p + 1;
        return;
    }
    *out = buf_new(cap);
    scan_string_escaped(s, out);
}

__attribute__((noinline)) static void scan_string_escaped(scanner *s, buf *out) {
    s->p++; /* opening quote */
    while (s->p < s->end) {
        /* Copy the run of plain bytes at once. */
        const u8 *run = s->p;
        while (s->p < s->end && *s->p != '"' && *s->p != '\\' && *s->p >= 0x20) s->p++;
        if (out) buf_put(out, run, (u32)(s->p - run));
        if (s->p >= s->end) break;
        u8 c = *s->p++;
        if (c == '"') return;
        if (c < 0x20) return fail(s, "control character in string");
        if (s->p >= s->end) break;
        u8 e = *s->p++;
        u8 plain = 0;
        switch (e) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': {
            u32 cp;
            if (!read_hex4(s, &cp)) return fail(s, "invalid escape");
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(s, "lone surrogate in hex escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                u32 low;
                if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                    return fail(s, "lone surrogate in hex escape");
                s->p += 2;
                if (!read_hex4(s, &low) || low < 0xDC00 || low > 0xDFFF)
                    return fail(s, "lone surrogate in hex escape");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            if (out) put_utf8(out, cp);
            continue;
        }
        default: return fail(s, "invalid escape");
        }
        if (out) buf_put(out, &plain, 1);
    }
    fail(s, "EOF while parsing a string");
}

/* Reads an integer literal; a fraction or exponent is a type error, as in serde. */
static i64 scan_integer(scanner *s) {
    const u8 *p = s->p;
    int negative = 0;
    u64 v = 0;
    if (p < s->end && *p == '-') negative = 1, p++;
    if (p >= s->end || *p < '0' || *p > '9') return fail(s, "invalid type: expected i64"), 0;
    if (*p == '0' && p + 1 < s->end && p[1] >= '0' && p[1] <= '9')
        return fail(s, "invalid number"), 0;
    while (p < s->end && *p >= '0' && *p <= '9') {
        u32 d = (u32)(*p++ - '0');
        if (v > (9223372036854775808ull - d) / 10) return fail(s, "number out of range"), 0;
        v = v * 10 + d;
    }
    if (p < s->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return fail(s, "invalid type: floating point, expected i64"), 0;
    if (!negative && v > 9223372036854775807ull) return fail(s, "number out of range"), 0;
    s->p = p;
    return negative ? (i64)(0 - v) : (i64)v;
}

static int scan_literal(scanner *s, const char *word) {
    u32 n = cstr_len(word);
    if ((u32)(s->end - s->p) < n || memcmp(s->p, word, n)) return 0;
    s->p += n;
    return 1;
}

/* Skips any JSON value, checking its syntax. Depth is bounded like serde_json's (128). */
static void skip_value(scanner *s, int depth) {
    skip_ws(s);
    if (s->p >= s->end) return fail(s, "EOF while parsing a value");
    if (depth > 128) return fail(s, "recursion limit exceeded");
    u8 c = *s->p;
    if (c == '"') return scan_string(s, 0);
    if (c == '{' || c == '[') {
        u8 close = c == '{' ? '}' : ']';
        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return;
        }
        for (;;) {
            if (c == '{') {
                skip_ws(s);
                if (s->p >= s->end || *s->p != '"') return fail(s, "key must be a string");
                scan_string(s, 0);
                skip_ws(s);
                if (s->p >= s->end || *s->p != ':') return fail(s, "expected `:`");
                s->p++;
            }
            skip_value(s, depth + 1);
            if (s->error) return;
            skip_ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                continue;
            }
            if (s->p < s->end && *s->p == close) {
                s->p++;
                return;
            }
            return fail(s, "expected `,` or a closing bracket");
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        /* Any number: integer part, optional fraction and exponent. */
        if (c == '-') s->p++;
        const u8 *digits = s->p;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
        if (s->p == digits) return fail(s, "invalid number");
        if (s->p < s->end && *s->p == '.') {
            s->p++;
            digits = s->p;
            while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
            if (s->p == digits) return fail(s, "invalid number");
        }
        if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
            s->p++;
            if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
            digits = s->p;
            while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
            if (s->p == digits) return fail(s, "invalid number");
        }
        return;
    }
    if (scan_literal(s, "true") || scan_literal(s, "false") || scan_literal(s, "null")) return;
    fail(s, "expected value");
}

/* ---- the endpoint ---- */

static const u8 STORE[] = "payments-db";
#define STORE_LEN ((i32)sizeof STORE - 1)
#define AMOUNT_CENTS_MAX 100000

typedef struct {
    buf payment_id, order_id;
    i64 amount_cents;
    int has_payment_id, has_order_id, has_amount;
} charge_req;

__attribute__((always_inline)) static int key_is(const u8 *key, u32 n, const char *name) {
    if (n != cstr_len(name)) return 0;
    u32 i = 0;
    for (; n - i >= 8; i += 8) /* eight bytes at a time */
        if (load8(key + i) != load8((const u8 *)name + i)) return 0;
    return !memcmp(key + i, name + i, n - i);
}

static void parse_charge(scanner *s, charge_req *r) {
    skip_ws(s);
    if (s->p >= s->end || *s->p != '{') return fail(s, "invalid type: expected struct Charge");
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return;
    }
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"') return fail(s, "key must be a string");
        buf key;
        scan_text(s, &key, 16);
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') return fail(s, "expected `:`");
        s->p++;
        skip_ws(s);
        int *seen = 0;
        buf *text = 0;
        if (key_is(key.ptr, key.len, "payment_id")) {
            seen = &r->has_payment_id;
            text = &r->payment_id;
        } else if (key_is(key.ptr, key.len, "order_id")) {
            seen = &r->has_order_id;
            text = &r->order_id;
        } else if (key_is(key.ptr, key.len, "amount_cents")) {
            seen = &r->has_amount;
        }
        if (seen && *seen) return fail(s, "duplicate field");
        if (text) {
            if (s->p >= s->end || *s->p != '"') return fail(s, "invalid type: expected a string");
            scan_text(s, text, 32);
            *seen = 1;
        } else if (seen) {
            r->amount_cents = scan_integer(s);
            *seen = 1;
        } else {
            skip_value(s, 1);
        }
        if (s->error) return;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            break;
        }
        return fail(s, "expected `,` or `}`");
    }
    skip_ws(s);
    if (s->p != s->end) return fail(s, "trailing characters");
    if (!r->has_payment_id) return fail(s, "missing field `payment_id`");
    if (!r->has_order_id) return fail(s, "missing field `order_id`");
    if (!r->has_amount) return fail(s, "missing field `amount_cents`");
}

static i64 respond(buf b) { return (i64)((u64)(u32)(size_t)b.ptr << 32 | b.len); }

static i64 respond_error(const char *code, const char *detail) {
    buf b = buf_new(64);
    buf_str(&b, "{\"error\":");
    buf text = buf_new(64);
    buf_str(&text, code);
    if (detail) buf_str(&text, detail);
    buf_json_str(&b, text.ptr, text.len);
    buf_str(&b, "}");
    return respond(b);
}

static buf key_of(const char *prefix, buf id) {
    buf k = buf_new(cstr_len(prefix) + id.len);
    buf_str(&k, prefix);
    buf_put(&k, id.ptr, id.len);
    return k;
}

/* Parses the decimal text of a stored total; 0 on corrupt input (reported by *ok). */
static i64 parse_decimal(const u8 *p, u32 n, int *ok) {
    scanner s = {p, p + n, 0};
    i64 v = scan_integer(&s);
    *ok = !s.error && s.p == s.end && n > 0;
    return v;
}

static i64 charge(const u8 *req, u32 req_len) {
    scanner s = {req, req + req_len, 0};
    charge_req r = {0};
    parse_charge(&s, &r);
    if (s.error) return respond_error("bad_request: ", s.error);

    buf record_key = key_of("payment/", r.payment_id);
    i64 got = fb_kv_get(STORE, STORE_LEN, record_key.ptr, (i32)record_key.len);
    if (got >= 0) {
        /* The stored payment, as first answered: a repeat charges nothing again. */
        buf stored = {(u8 *)(size_t)(u32)((u64)got >> 32), (u32)got, (u32)got};
        return respond(stored);
    }
    if (got != -1) return respond_error("storage_unavailable", 0);

    int charged = r.amount_cents > 0 && r.amount_cents <= AMOUNT_CENTS_MAX;
    buf payment = buf_new(128);
    buf_str(&payment, "{\"payment_id\":");
    buf_json_str(&payment, r.payment_id.ptr, r.payment_id.len);
    buf_str(&payment, ",\"order_id\":");
    buf_json_str(&payment, r.order_id.ptr, r.order_id.len);
    buf_str(&payment, ",\"amount_cents\":");
    buf_i64(&payment, r.amount_cents);
    buf_str(&payment, charged ? ",\"status\":\"charged\"}" : ",\"status\":\"declined\"}");
    if (fb_kv_put(STORE, STORE_LEN, record_key.ptr, (i32)record_key.len, payment.ptr,
                  (i32)payment.len) < 0)
        return respond_error("storage_unavailable", 0);

    if (charged) {
        buf total_key = key_of("charged/", r.order_id);
        i64 total = 0;
        got = fb_kv_get(STORE, STORE_LEN, total_key.ptr, (i32)total_key.len);
        if (got >= 0) {
            int ok;
            total = parse_decimal((const u8 *)(size_t)(u32)((u64)got >> 32), (u32)got, &ok);
            if (!ok) return respond_error("corrupt_record", 0);
        } else if (got != -1) {
            return respond_error("storage_unavailable", 0);
        }
        if (__builtin_add_overflow(total, r.amount_cents, &total))
            return respond_error("corrupt_record", 0);
        buf text = buf_new(20);
        buf_i64(&text, total);
        if (fb_kv_put(STORE, STORE_LEN, total_key.ptr, (i32)total_key.len, text.ptr,
                      (i32)text.len) < 0)
            return respond_error("storage_unavailable", 0);
    }
    return respond(payment);
}

EXPORT(handle_charge) i64 handle_charge(const u8 *req, i32 len) {
    /* An empty request comes without `alloc` (ptr 0): start the arena afresh here instead. */
    if (len == 0) arena_top = 0;
    in_handler = 1;
    i64 result = charge(req, (u32)len);
    in_handler = 0;
    return result;
}
