;; corpus-quotes-invalidate: `feed.push` forwards a new quote to `quotes.set` (a declared REST
;; call, no retries) and answers {"ok":true} whatever the call answered.
;; Hand-written WebAssembly text (the ABI in guests/ABI.md).
(module
  (import "fusebench" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 4)
  (global $bump (mut i32) (i32.const 1024))
  (data (i32.const 0) "quotes")
  (data (i32.const 16) "set")
  (data (i32.const 128) "{\"ok\":true}")
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (if (i32.gt_u (i32.add (global.get $bump) (local.get $len)) (i32.const 250000))
      (then (global.set $bump (i32.const 1024))))
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (local.get $p))
  (func (export "handle_push") (param $p i32) (param $l i32) (result i64)
    (drop (call $call (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 3)
      (local.get $p) (local.get $l)))
    (i64.or (i64.shl (i64.const 128) (i64.const 32)) (i64.const 11)))
)
