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
import { Buf, Scanner, equalBytes } from "./json";

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

// ASCII bytes in the data segment (string literals are UTF-16): copied and compared without a
// conversion per request.
const SKU = memory.data<u8>([0x73, 0x6b, 0x75]); // sku
const NAME = memory.data<u8>([0x6e, 0x61, 0x6d, 0x65]); // name
const PRICE_CENTS = memory.data<u8>([
  0x70, 0x72, 0x69, 0x63, 0x65, 0x5f, 0x63, 0x65, 0x6e, 0x74, 0x73,
]); // price_cents
const OPEN_SKU = memory.data<u8>([0x7b, 0x22, 0x73, 0x6b, 0x75, 0x22, 0x3a]); // {"sku":
const COMMA_NAME = memory.data<u8>([0x2c, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a]); // ,"name":
const COMMA_PRICE_CENTS = memory.data<u8>([
  0x2c, 0x22, 0x70, 0x72, 0x69, 0x63, 0x65, 0x5f, 0x63, 0x65, 0x6e, 0x74, 0x73, 0x22, 0x3a,
]); // ,"price_cents":
const PRODUCT_CACHE = memory.data<u8>([
  0x70, 0x72, 0x6f, 0x64, 0x75, 0x63, 0x74, 0x2d, 0x63, 0x61, 0x63, 0x68, 0x65,
]); // product-cache
const PRODUCT_CACHE_LEN = 13;
const CATALOG_DB = memory.data<u8>([
  0x63, 0x61, 0x74, 0x61, 0x6c, 0x6f, 0x67, 0x2d, 0x64, 0x62,
]); // catalog-db
const CATALOG_DB_LEN = 10;

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
      s.key();
      if (!s.expect(0x3a, "expected `:`")) return p;
      s.skipWs();
      const isSku = equalBytes(s.keyPtr, s.keyLen, SKU, 3);
      if (isSku || (whole && equalBytes(s.keyPtr, s.keyLen, NAME, 4))) {
        if ((isSku ? p.sku : p.name) !== null) {
          s.fail("duplicate field");
          return p;
        }
        if (s.peek() != 0x22 || s.atEnd()) {
          s.fail("invalid type: expected a string");
          return p;
        }
        const value = s.stringValue();
        if (isSku) p.sku = value;
        else p.name = value;
      } else if (whole && equalBytes(s.keyPtr, s.keyLen, PRICE_CENTS, 11)) {
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
  const sku = p.sku!;
  const name = p.name!;
  // Room for everything when nothing needs escaping (an i64 has at most 20 characters).
  const out = new Buf(7 + 8 + 15 + 4 + 20 + 1 + sku.len + name.len);
  out.bytes(OPEN_SKU, 7);
  out.jsonString(sku);
  out.bytes(COMMA_NAME, 8);
  out.jsonString(name);
  out.bytes(COMMA_PRICE_CENTS, 15);
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

  const cached = cache_get(PRODUCT_CACHE, PRODUCT_CACHE_LEN, sku.ptr, sku.len);
  if (cached >= 0) {
    const bytes = reply(cached);
    const cs = new Scanner(bytes.ptr, bytes.len);
    const product = parseProduct(cs, true);
    if (cs.ok()) return encodeProduct(product);
    // An unreadable cache entry only costs a store read.
  }
  const stored = kv_get(CATALOG_DB, CATALOG_DB_LEN, sku.ptr, sku.len);
  if (stored == -1) return error("not_found");
  if (stored < 0) return error("storage_unavailable");
  const bytes = reply(stored);
  const ps = new Scanner(bytes.ptr, bytes.len);
  const product = parseProduct(ps, true);
  if (!ps.ok()) return error("corrupt_record");
  // Best effort: a failed refill only means the next read goes to the store again.
  cache_put(PRODUCT_CACHE, PRODUCT_CACHE_LEN, sku.ptr, sku.len, bytes.ptr, bytes.len);
  return encodeProduct(product);
}

function putProduct(ptr: usize, len: i32): Buf {
  const s = new Scanner(ptr, len);
  const product = parseProduct(s, true);
  if (!s.ok()) return error("bad_request: ", s.error);
  if (product.priceCents < 0) return error("bad_request: price_cents must not be negative");
  const sku = product.sku!;
  const record = encodeProduct(product);
  if (kv_put(CATALOG_DB, CATALOG_DB_LEN, sku.ptr, sku.len, record.ptr, record.len) < 0) {
    return error("storage_unavailable");
  }
  cache_put(PRODUCT_CACHE, PRODUCT_CACHE_LEN, sku.ptr, sku.len, record.ptr, record.len);
  return record;
}
