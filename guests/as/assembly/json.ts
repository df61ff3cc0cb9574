// Byte buffers and JSON scanning over guest memory, without AssemblyScript strings: requests
// and replies are UTF-8 bytes, and staying in bytes keeps the per-request cost low.
// Mirrors guests/c/payments.c; output escaping matches serde_json byte for byte.
//
// Written for wasmi's fuel model (benches/README.md, "Lighter guests"): fuel is charged per
// metered region up front (function entry, loop header, `if` arm), so the common case (plain
// ASCII strings, no escapes) takes short loops and bulk copies, and the escape handling sits
// in `if` arms and functions that only that case enters.
//
// Small helpers every request runs through (`peek`, `atEnd`, `ok`, `skipWs`, `expect`,
// `isDigit`, `equalBytes`, `Buf.view`/`byte`/`bytes`) are `@inline`: a call costs wasmi a frame
// set-up and a return, far more host time than the operator fuel charges for it, and binaryen
// keeps the inlined code in `if` arms (metered only when taken). `equalBytes` in line also
// folds its length branches against the constant key lengths. (benches/README.md, "Lighter
// guests, sixth round": 123 → 48 calls per `get_product`.)

/** A growable byte buffer in the stub runtime's heap (reset per request, see catalog.ts). */
export class Buf {
  ptr: usize;
  len: i32 = 0;
  cap: i32;

  constructor(cap: i32) {
    this.cap = cap;
    this.ptr = cap > 0 ? heap.alloc(<usize>cap) : 0;
  }

  /** Wraps bytes that already exist (a host reply). */
  // @ts-ignore: decorator
  @inline
  static view(ptr: usize, len: i32): Buf {
    const b = new Buf(0);
    b.ptr = ptr;
    b.len = len;
    b.cap = len;
    return b;
  }

  /** Room for `n` more bytes: the test in line, the growth (rare: buffers are pre-sized)
   * out of line, as every call pays its function's entry in fuel. */
  // @ts-ignore: decorator
  @inline
  private reserve(n: i32): void {
    if (this.len + n > this.cap) this.grow(n);
  }

  @inline(never)
  private grow(n: i32): void {
    const cap = this.cap * 2 + n;
    const grown = heap.alloc(<usize>cap);
    memory.copy(grown, this.ptr, <usize>this.len);
    this.ptr = grown;
    this.cap = cap;
  }

  // @ts-ignore: decorator
  @inline
  byte(b: u8): void {
    this.reserve(1);
    store<u8>(this.ptr + <usize>this.len, b);
    this.len += 1;
  }

  // @ts-ignore: decorator
  @inline
  bytes(ptr: usize, n: i32): void {
    this.reserve(n);
    memory.copy(this.ptr + <usize>this.len, ptr, <usize>n);
    this.len += n;
  }

  append(other: Buf): void {
    this.bytes(other.ptr, other.len);
  }

  /** Appends an ASCII string literal. */
  ascii(s: string): void {
    const n = s.length;
    this.reserve(n);
    for (let i = 0; i < n; i++) store<u8>(this.ptr + <usize>(this.len + i), <u8>s.charCodeAt(i));
    this.len += n;
  }

  int(v: i64): void {
    if (v < 0) this.byte(0x2d);
    let m: u64 = v < 0 ? <u64>0 - <u64>v : <u64>v;
    let n = 1;
    for (let t = m; t >= 10; t /= 10) n++;
    this.reserve(n);
    let at = this.ptr + <usize>(this.len + n);
    do {
      at--;
      store<u8>(at, <u8>(0x30 + <i32>(m % 10)));
      m /= 10;
    } while (m != 0);
    this.len += n;
  }

  /** A JSON string literal of `s`, escaped as serde_json does. */
  jsonString(s: Buf): void {
    const n = s.len;
    const i = plainRun(s.ptr, 0, n);
    this.reserve(n + 2);
    store<u8>(this.ptr + <usize>this.len, 0x22);
    memory.copy(this.ptr + <usize>(this.len + 1), s.ptr, <usize>i);
    this.len += i + 1;
    if (i < n) this.escapedTail(s, i);
    this.byte(0x22);
  }

  /** The rest of `s` from `i`, escaping byte by byte (the first byte there needs it). */
  @inline(never)
  private escapedTail(s: Buf, i: i32): void {
    for (; i < s.len; i++) {
      const c = load<u8>(s.ptr + <usize>i);
      if (c == 0x22) this.ascii('\\"');
      else if (c == 0x5c) this.ascii("\\\\");
      else if (c == 0x08) this.ascii("\\b");
      else if (c == 0x0c) this.ascii("\\f");
      else if (c == 0x0a) this.ascii("\\n");
      else if (c == 0x0d) this.ascii("\\r");
      else if (c == 0x09) this.ascii("\\t");
      else if (c < 0x20) {
        this.ascii("\\u00");
        this.byte(hexDigit(c >> 4));
        this.byte(hexDigit(c & 15));
      } else this.byte(c);
    }
  }

  equalsAscii(s: string): bool {
    if (this.len != s.length) return false;
    for (let i = 0; i < this.len; i++) {
      if (<i32>load<u8>(this.ptr + <usize>i) != s.charCodeAt(i)) return false;
    }
    return true;
  }
}

/**
 * Whether the `len` bytes at `a` are exactly the `n` bytes at `b`. Keys of up to 16 bytes
 * without a loop (each iteration pays the loop's body in fuel): two overlapping words, or the
 * first, middle and last of up to three bytes.
 */
// @ts-ignore: decorator
@inline
export function equalBytes(a: usize, len: i32, b: usize, n: i32): bool {
  if (len != n) return false;
  const m = <usize>n;
  if (n >= 8) {
    if (n > 16) return equalsLong(a, b, n);
    return load<u64>(a) == load<u64>(b) && load<u64>(a + m - 8) == load<u64>(b + m - 8);
  }
  if (n >= 4) {
    return load<u32>(a) == load<u32>(b) && load<u32>(a + m - 4) == load<u32>(b + m - 4);
  }
  if (n == 0) return true;
  return (
    load<u8>(a) == load<u8>(b) &&
    load<u8>(a + (m >> 1)) == load<u8>(b + (m >> 1)) &&
    load<u8>(a + m - 1) == load<u8>(b + m - 1)
  );
}

/** `equalBytes` past 16 bytes: eight at a time, then byte by byte. */
@inline(never)
function equalsLong(a: usize, b: usize, n: i32): bool {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    if (load<u64>(a + <usize>i) != load<u64>(b + <usize>i)) return false;
  }
  for (; i < n; i++) {
    if (load<u8>(a + <usize>i) != load<u8>(b + <usize>i)) return false;
  }
  return true;
}

const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

/**
 * The high bit of each of the eight bytes of `x` that `needsEscape`: below 0x20, `"` or `\\`
 * (the SDK's and payments.c's word test). Exact up to the lowest flagged byte, which is all
 * its callers use: above it a borrow may flag a byte spuriously.
 */
// @ts-ignore: decorator
@inline
function escapeFlags(x: u64): u64 {
  const quote = x ^ (ONES * 0x22);
  const backslash = x ^ (ONES * 0x5c);
  return (
    ((x - ONES * 0x20) & ~x & HIGHS) |
    ((quote - ONES) & ~quote & HIGHS) |
    ((backslash - ONES) & ~backslash & HIGHS)
  );
}

/**
 * The offset of the first byte at or after `i` of the `n` at `ptr` that `needsEscape`, or `n`:
 * eight bytes per iteration while eight remain, then byte by byte.
 */
// @ts-ignore: decorator
@inline
function plainRun(ptr: usize, i: i32, n: i32): i32 {
  while (i + 8 <= n) {
    const flags = escapeFlags(load<u64>(ptr + <usize>i));
    if (flags != 0) return i + <i32>(ctz(flags) >> 3);
    i += 8;
  }
  if (i == n) return n;
  // Fewer than eight bytes left: one word whose bytes past the end are masked off (the flags'
  // borrows only run upwards), if the word lies inside memory; else byte by byte.
  const at = ptr + <usize>i;
  if (at + 8 <= (<usize>memory.size() << 16)) {
    const flags = escapeFlags(load<u64>(at)) & ((<u64>1 << (<u64>(n - i) << 3)) - 1);
    return flags != 0 ? i + <i32>(ctz(flags) >> 3) : n;
  }
  while (i < n && !needsEscape(load<u8>(ptr + <usize>i))) i++;
  return i;
}

/** A byte JSON strings cannot hold as is: `"`, `\\`, a control character. */
// @ts-ignore: decorator
@inline
function needsEscape(c: u8): bool {
  return c < 0x20 || c == 0x22 || c == 0x5c;
}

function hexDigit(v: u8): u8 {
  return v < 10 ? 0x30 + v : 0x61 + v - 10;
}

function hexValue(c: u8): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** A cursor over UTF-8 JSON that remembers the first problem (for `bad_request`). */
export class Scanner {
  p: usize;
  end: usize;
  error: string | null = null;

  constructor(ptr: usize, len: i32) {
    this.p = ptr;
    this.end = ptr + <usize>len;
  }

  // `=== null` on a string compiles to a call of `String.__eq`; the pointer test does not.
  fail(why: string): void {
    if (changetype<usize>(this.error) == 0) this.error = why;
  }

  // @ts-ignore: decorator
  @inline
  ok(): bool {
    return changetype<usize>(this.error) == 0;
  }

  // @ts-ignore: decorator
  @inline
  atEnd(): bool {
    return this.p >= this.end;
  }

  // @ts-ignore: decorator
  @inline
  peek(): u8 {
    return this.p < this.end ? load<u8>(this.p) : 0;
  }

  /** Skips whitespace: compact JSON has none, so the loop (its header paid whenever it is
   * entered) is behind one test. */
  // @ts-ignore: decorator
  @inline
  skipWs(): void {
    if (this.p < this.end && load<u8>(this.p) <= 0x20) this.skipWsLoop();
  }

  @inline(never)
  private skipWsLoop(): void {
    while (this.p < this.end) {
      const c = load<u8>(this.p);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.p++;
    }
  }

  /** Expects `c` (after whitespace) and consumes it. */
  // @ts-ignore: decorator
  @inline
  expect(c: u8, why: string): bool {
    this.skipWs();
    if (this.peek() != c || this.atEnd()) {
      this.fail(why);
      return false;
    }
    this.p++;
    return true;
  }

  private hex4(): i32 {
    if (this.end - this.p < 4) return -1;
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const d = hexValue(load<u8>(this.p + <usize>i));
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    this.p += 4;
    return v;
  }

  /** The last key read by `key`: its bytes, a view of the input or of a decoded buffer. */
  keyPtr: usize = 0;
  keyLen: i32 = 0;

  /**
   * Reads a string literal at the cursor (a `"`) into `keyPtr`/`keyLen`, as `stringValue`
   * reads it but without a `Buf` object per key (an allocation each).
   */
  key(): void {
    const start = this.p + 1;
    const p = start + <usize>plainRun(start, 0, <i32>(this.end - start));
    if (p < this.end && load<u8>(p) == 0x22) {
      this.p = p + 1;
      this.keyPtr = start;
      this.keyLen = <i32>(p - start);
      return;
    }
    const decoded = this.decoded();
    this.keyPtr = decoded.ptr;
    this.keyLen = decoded.len;
  }

  /**
   * Reads a string literal at the cursor (a `"`): a plain one (no escape, no control
   * character) as a view of the input, else decoded into a fresh buffer by `string`.
   */
  stringValue(): Buf {
    const start = this.p + 1;
    const p = start + <usize>plainRun(start, 0, <i32>(this.end - start));
    if (p < this.end && load<u8>(p) == 0x22) {
      this.p = p + 1;
      return Buf.view(start, <i32>(p - start));
    }
    return this.decoded();
  }

  @inline(never)
  private decoded(): Buf {
    const out = new Buf(32);
    this.string(out);
    return out;
  }

  /** Reads a string literal at the cursor (a `"`), decoding escapes into `out` if given. */
  string(out: Buf | null): void {
    this.p++;
    while (this.p < this.end) {
      const c = load<u8>(this.p++);
      if (c == 0x22) return;
      if (c < 0x20) {
        this.fail("control character in string");
        return;
      }
      if (c != 0x5c) {
        if (out) out.byte(c);
        continue;
      }
      if (this.p >= this.end) break;
      const e = load<u8>(this.p++);
      let plain: i32 = -1;
      if (e == 0x22 || e == 0x5c || e == 0x2f) plain = e;
      else if (e == 0x62) plain = 0x08;
      else if (e == 0x66) plain = 0x0c;
      else if (e == 0x6e) plain = 0x0a;
      else if (e == 0x72) plain = 0x0d;
      else if (e == 0x74) plain = 0x09;
      else if (e == 0x75) {
        let cp = this.hex4();
        if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff)) {
          this.fail("invalid escape");
          return;
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
          if (this.end - this.p < 2 || load<u8>(this.p) != 0x5c || load<u8>(this.p + 1) != 0x75) {
            this.fail("lone surrogate in hex escape");
            return;
          }
          this.p += 2;
          const low = this.hex4();
          if (low < 0xdc00 || low > 0xdfff) {
            this.fail("lone surrogate in hex escape");
            return;
          }
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        if (out) putUtf8(out, cp);
        continue;
      } else {
        this.fail("invalid escape");
        return;
      }
      if (out) out.byte(<u8>plain);
    }
    this.fail("EOF while parsing a string");
  }

  /** Reads an integer; a fraction or exponent is a type error, as in serde. */
  integer(): i64 {
    let p = this.p;
    let negative = false;
    let v: u64 = 0;
    if (p < this.end && load<u8>(p) == 0x2d) {
      negative = true;
      p++;
    }
    if (p >= this.end || !isDigit(load<u8>(p))) {
      this.fail("invalid type: expected i64");
      return 0;
    }
    if (load<u8>(p) == 0x30 && p + 1 < this.end && isDigit(load<u8>(p + 1))) {
      this.fail("invalid number");
      return 0;
    }
    while (p < this.end && isDigit(load<u8>(p))) {
      const d = <u64>(load<u8>(p++) - 0x30);
      if (v > (<u64>0x8000000000000000 - d) / 10) {
        this.fail("number out of range");
        return 0;
      }
      v = v * 10 + d;
    }
    if (p < this.end) {
      const c = load<u8>(p);
      if (c == 0x2e || c == 0x65 || c == 0x45) {
        this.fail("invalid type: floating point, expected i64");
        return 0;
      }
    }
    if (!negative && v > <u64>0x7fffffffffffffff) {
      this.fail("number out of range");
      return 0;
    }
    this.p = p;
    return negative ? <i64>(<u64>0 - v) : <i64>v;
  }

  private digits(): bool {
    const start = this.p;
    while (this.p < this.end && isDigit(load<u8>(this.p))) this.p++;
    return this.p != start;
  }

  private literal(word: string): bool {
    const n = word.length;
    if (<i32>(this.end - this.p) < n) return false;
    for (let i = 0; i < n; i++) {
      if (<i32>load<u8>(this.p + <usize>i) != word.charCodeAt(i)) return false;
    }
    this.p += <usize>n;
    return true;
  }

  /** Skips any JSON value, checking its syntax; nesting is bounded like serde_json's. */
  skipValue(depth: i32): void {
    this.skipWs();
    if (this.atEnd()) {
      this.fail("EOF while parsing a value");
      return;
    }
    if (depth > 128) {
      this.fail("recursion limit exceeded");
      return;
    }
    const c = this.peek();
    if (c == 0x22) {
      this.string(null);
      return;
    }
    if (c == 0x7b || c == 0x5b) {
      const close: u8 = c == 0x7b ? 0x7d : 0x5d;
      this.p++;
      this.skipWs();
      if (this.peek() == close && !this.atEnd()) {
        this.p++;
        return;
      }
      while (true) {
        if (c == 0x7b) {
          this.skipWs();
          if (this.peek() != 0x22 || this.atEnd()) {
            this.fail("key must be a string");
            return;
          }
          this.string(null);
          if (!this.expect(0x3a, "expected `:`")) return;
        }
        this.skipValue(depth + 1);
        if (!this.ok()) return;
        this.skipWs();
        if (this.atEnd()) break;
        const next = this.peek();
        this.p++;
        if (next == 0x2c) continue;
        if (next == close) return;
        break;
      }
      this.fail("expected `,` or a closing bracket");
      return;
    }
    if (c == 0x2d || isDigit(c)) {
      if (c == 0x2d) this.p++;
      if (!this.digits()) {
        this.fail("invalid number");
        return;
      }
      if (this.peek() == 0x2e && !this.atEnd()) {
        this.p++;
        if (!this.digits()) {
          this.fail("invalid number");
          return;
        }
      }
      const e = this.peek();
      if ((e == 0x65 || e == 0x45) && !this.atEnd()) {
        this.p++;
        const sign = this.peek();
        if ((sign == 0x2b || sign == 0x2d) && !this.atEnd()) this.p++;
        if (!this.digits()) this.fail("invalid number");
      }
      return;
    }
    if (this.literal("true") || this.literal("false") || this.literal("null")) return;
    this.fail("expected value");
  }
}

// @ts-ignore: decorator
@inline
function isDigit(c: u8): bool {
  return c >= 0x30 && c <= 0x39;
}

function putUtf8(out: Buf, cp: i32): void {
  if (cp < 0x80) {
    out.byte(<u8>cp);
  } else if (cp < 0x800) {
    out.byte(<u8>(0xc0 | (cp >> 6)));
    out.byte(<u8>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.byte(<u8>(0xe0 | (cp >> 12)));
    out.byte(<u8>(0x80 | ((cp >> 6) & 0x3f)));
    out.byte(<u8>(0x80 | (cp & 0x3f)));
  } else {
    out.byte(<u8>(0xf0 | (cp >> 18)));
    out.byte(<u8>(0x80 | ((cp >> 12) & 0x3f)));
    out.byte(<u8>(0x80 | ((cp >> 6) & 0x3f)));
    out.byte(<u8>(0x80 | (cp & 0x3f)));
  }
}
