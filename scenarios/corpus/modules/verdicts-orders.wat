;; verdicts-twelve-services: `orders.place` records the order marker in `orders-db` (the same
;; value every time: a re-delivery changes nothing) and publishes an order event on
;; `order-events`. Hand-written: this file is the module (guests/ABI.md).
(module
  (import "fusebench" "kv_put" (func $put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "fusebench" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"ok\":true}")
  (data (i32.const 64) "orders-db")
  (data (i32.const 80) "placed")
  (data (i32.const 96) "{\"v\":1}")
  (data (i32.const 112) "order-events")
  (data (i32.const 128) "{\"order\":1}")
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
  (func (export "handle_place") (param i32 i32) (result i64)
    (global.set $next (i32.const 4096))
    (drop (call $put (i32.const 64) (i32.const 9) (i32.const 80) (i32.const 6) (i32.const 96) (i32.const 7)))
    (drop (call $publish (i32.const 112) (i32.const 12) (i32.const 128) (i32.const 11)))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 11))))
