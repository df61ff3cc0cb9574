// catalog, in AssemblyScript: the same service and contract as guests/shop/catalog (Rust).
// See scenarios/shop/SERVICES.md for the contract and guests/ABI.md for the ABI.
//
//   get_product {"sku"} -> {"sku","name","price_cents"}: product-cache, else catalog-db (then
//               refill the cache); unknown sku -> {"error":"not_found"}.
//   put_product {"sku","name","price_cents"} -> the product: write catalog-db, refresh the cache.
//
// Host calls, in order (identical to the Rust module): get: cache_get; on a miss, error or
// unreadable entry kv_get then cache_put. put: kv_put then cache_put. Cache failures are
// ignored; store failures answer {"error":"storage_unavailable"}.
//
// Memory: the stub runtime (a bump allocator) and `__reset`. `alloc` called outside a handler
// starts a new request and resets the heap (the host has copied the previous response by
// then), as does a handler called with an empty request (which comes without `alloc`); during
// a handler everything bumps. So a response stays valid until the next call into
// the module and memory never grows beyond one request's needs. Consequently nothing may live
// in the heap across requests: no object-valued globals.
import { Buf, Scanner } from "./json";

@external("fusebench", "kv_get")
declare function kv_get(store: usize, storeLen: i32, key: usize, keyLen: i32): i64;
@external("fusebench", "kv_put")
declare function kv_put(
  store: usize, storeLen: i32, key: usize, keyLen: i32, value: usize, valueLen: i32,
): i32;
@external("fusebench", "cache_get")
declare function cache_get(cache: usize, cacheLen: i32, key: usize, keyLen: i32): i64;
@external("fusebench", "cache_put")
declare function cache_put(
  cache: usize, cacheLen: i32, key: usize, keyLen: i32, value: usize, valueLen: i32,
): i32;

let inHandler = false;

// The runtime's `abort` (failed assertion, out-of-bounds access, out of memory): trap, which
// the host records as a guest fault. Wired in with `--use abort=assembly/catalog/trap` (see
// asconfig.json), so the module imports no `env.abort`.
function trap(message: string | null, fileName: string | null, line: u32, column: u32): void {
  unreachable();
}

/** `len` fresh bytes for the host to write (never 0). */
export function alloc(len: i32): usize {
  if (!inHandler) __reset(); // a new request begins: the previous one is done with
  return heap.alloc(<usize>len);
}

export function handle_get_product(ptr: usize, len: i32): i64 {
  if (len == 0) __reset(); // an empty request comes without `alloc`
  inHandler = true;
  const response = getProduct(ptr, len);
  inHandler = false;
  return packed(response);
}

export function handle_put_product(ptr: usize, len: i32): i64 {
  if (len == 0) __reset(); // an empty request comes without `alloc`
  inHandler = true;
  const response = putProduct(ptr, len);
  inHandler = false;
  return packed(response);
}

function packed(b: Buf): i64 {
  return (<i64>b.ptr << 32) | <i64>b.len;
}

/** A host reply `(ptr << 32) | len` as a buffer. */
function reply(r: i64): Buf {
  return Buf.view(<usize>(<u64>r >>> 32), <i32>(r & 0xffffffff));
}

function text(s: string): Buf {
  const b = new Buf(s.length);
  b.ascii(s);
  return b;
}

class Product {
  sku: Buf | null = null;
  name: Buf | null = null;
  priceCents: i64 = 0;
  hasPrice: bool = false;
}

/** Parses `{"sku"}` (`whole` false) or `{"sku","name","price_cents"}`; other keys are skipped. */
function parseProduct(s: Scanner, whole: bool): Product {
  const p = new Product();
  if (!s.expect(0x7b, whole ? "invalid type: expected struct Product" : "invalid type: expected struct ProductQuery")) return p;
  s.skipWs();
  if (s.peek() == 0x7d && !s.atEnd()) {
    s.p++;
  } else {
    while (true) {
      s.skipWs();
      if (s.peek() != 0x22 || s.atEnd()) {
        s.fail("key must be a string");
        return p;
      }
      const key = new Buf(16);
      s.string(key);
      if (!s.expect(0x3a, "expected `:`")) return p;
      s.skipWs();
      if (key.equalsAscii("sku") || (whole && key.equalsAscii("name"))) {
        const isSku = key.equalsAscii("sku");
        if ((isSku ? p.sku : p.name) !== null) {
          s.fail("duplicate field");
          return p;
        }
        if (s.peek() != 0x22 || s.atEnd()) {
          s.fail("invalid type: expected a string");
          return p;
        }
        const value = new Buf(32);
        s.string(value);
        if (isSku) p.sku = value;
        else p.name = value;
      } else if (whole && key.equalsAscii("price_cents")) {
        if (p.hasPrice) {
          s.fail("duplicate field");
          return p;
        }
        p.priceCents = s.integer();
        p.hasPrice = true;
      } else {
        s.skipValue(1);
      }
      if (!s.ok()) return p;
      s.skipWs();
      if (s.atEnd()) {
        s.fail("EOF while parsing an object");
        return p;
      }
      const next = s.peek();
      s.p++;
      if (next == 0x2c) continue;
      if (next == 0x7d) break;
      s.fail("expected `,` or `}`");
      return p;
    }
  }
  s.skipWs();
  if (!s.atEnd()) s.fail("trailing characters");
  else if (p.sku === null) s.fail("missing field `sku`");
  else if (whole && p.name === null) s.fail("missing field `name`");
  else if (whole && !p.hasPrice) s.fail("missing field `price_cents`");
  return p;
}

function encodeProduct(p: Product): Buf {
  const out = new Buf(64);
  out.ascii('{"sku":');
  out.jsonString(p.sku!);
  out.ascii(',"name":');
  out.jsonString(p.name!);
  out.ascii(',"price_cents":');
  out.int(p.priceCents);
  out.byte(0x7d);
  return out;
}

function error(code: string, detail: string | null = null): Buf {
  const message = text(code);
  if (detail !== null) message.ascii(detail);
  const out = new Buf(message.len + 16);
  out.ascii('{"error":');
  out.jsonString(message);
  out.byte(0x7d);
  return out;
}

function getProduct(ptr: usize, len: i32): Buf {
  const s = new Scanner(ptr, len);
  const query = parseProduct(s, false);
  if (!s.ok()) return error("bad_request: ", s.error);
  const sku = query.sku!;
  const cache = text("product-cache");
  const db = text("catalog-db");

  const cached = cache_get(cache.ptr, cache.len, sku.ptr, sku.len);
  if (cached >= 0) {
    const bytes = reply(cached);
    const cs = new Scanner(bytes.ptr, bytes.len);
    const product = parseProduct(cs, true);
    if (cs.ok()) return encodeProduct(product);
    // An unreadable cache entry only costs a store read.
  }
  const stored = kv_get(db.ptr, db.len, sku.ptr, sku.len);
  if (stored == -1) return error("not_found");
  if (stored < 0) return error("storage_unavailable");
  const bytes = reply(stored);
  const ps = new Scanner(bytes.ptr, bytes.len);
  const product = parseProduct(ps, true);
  if (!ps.ok()) return error("corrupt_record");
  // Best effort: a failed refill only means the next read goes to the store again.
  cache_put(cache.ptr, cache.len, sku.ptr, sku.len, bytes.ptr, bytes.len);
  return encodeProduct(product);
}

function putProduct(ptr: usize, len: i32): Buf {
  const s = new Scanner(ptr, len);
  const product = parseProduct(s, true);
  if (!s.ok()) return error("bad_request: ", s.error);
  if (product.priceCents < 0) return error("bad_request: price_cents must not be negative");
  const sku = product.sku!;
  const record = encodeProduct(product);
  const db = text("catalog-db");
  if (kv_put(db.ptr, db.len, sku.ptr, sku.len, record.ptr, record.len) < 0) {
    return error("storage_unavailable");
  }
  const cache = text("product-cache");
  cache_put(cache.ptr, cache.len, sku.ptr, sku.len, record.ptr, record.len);
  return record;
}
