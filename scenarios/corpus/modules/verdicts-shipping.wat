;; verdicts-twelve-services: a consumer of `order-events`. Each delivery sets `handled` in
;; `shipping-db` to the same value, so a redelivery or duplicate changes nothing; answers
;; {"ok":true} (the acknowledgement). Hand-written: this file is the module (guests/ABI.md).
(module
  (import "fusebench" "kv_put" (func $put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"ok\":true}")
  (data (i32.const 64) "shipping-db")
  (data (i32.const 96) "handled")
  (data (i32.const 112) "{\"v\":1}")
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
  (func (export "handle_on_order") (param i32 i32) (result i64)
    (global.set $next (i32.const 4096))
    (drop (call $put (i32.const 64) (i32.const 11) (i32.const 96) (i32.const 7) (i32.const 112) (i32.const 7)))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 11))))
