// Not a service: a module that calls every helper of ./fusebench.ts, compiled by
// guests/build.sh (to a temporary file) so that the helpers and their import signatures are
// type-checked on every build though no shipped module uses them yet.
import { Buf } from "./json";
import { callWithin, cas, invalidate, remove, scan, text } from "./fusebench";

export function alloc(len: i32): usize {
  return heap.alloc(<usize>len);
}

export function handle_check(ptr: usize, len: i32): i64 {
  const request = Buf.view(ptr, len);
  const scanned = scan(text("db"), text("item/"), 10);
  const removed = remove(text("db"), text("item/1"));
  const claimed = cas(text("db"), text("item/1"), null, text("1"));
  const invalidated = invalidate(text("cache"), text("item/1"));
  const called = callWithin(text("svc"), text("ep"), request, 250);
  const out = new Buf(16);
  out.ascii('{"r":');
  out.int(<i64>(scanned.code + removed + claimed + invalidated + called.code));
  out.byte(0x7d);
  return (<i64>out.ptr << 32) | <i64>out.len;
}
