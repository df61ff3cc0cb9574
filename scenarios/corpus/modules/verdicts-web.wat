;; verdicts-twelve-services: `web.get` calls `get` on api, profile in turn (an
;; unavailable callee is tolerated: the answer does not depend on it) and answers {"ok":true}.
;; Hand-written: this file is the module (guests/ABI.md).
(module
  (import "fusebench" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"ok\":true}")
  (data (i32.const 64) "get")
  (data (i32.const 80) "{}")
  (data (i32.const 96) "api")
  (data (i32.const 112) "profile")
  ;; A bump allocator from 4096, reset when a handler starts (the request, written before, is
  ;; never read after), growing the memory when a buffer does not fit.
  (global $next (mut i32) (i32.const 4096))
  (func (export "alloc") (param $len i32) (result i32)
    (local $at i32) (local $short i32)
    (local.set $at (global.get $next))
    (global.set $next (i32.add (local.get $at) (i32.add (local.get $len) (i32.const 8))))
    (local.set $short
      (i32.sub
        (i32.shr_u (i32.add (global.get $next) (i32.const 65535)) (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $short) (i32.const 0))
      (then (drop (memory.grow (local.get $short)))))
    (local.get $at))
  (func (export "handle_get") (param i32 i32) (result i64)
    (global.set $next (i32.const 4096))
    (drop (call $call (i32.const 96) (i32.const 3) (i32.const 64) (i32.const 3) (i32.const 80) (i32.const 2)))
    (drop (call $call (i32.const 112) (i32.const 7) (i32.const 64) (i32.const 3) (i32.const 80) (i32.const 2)))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 11))))
