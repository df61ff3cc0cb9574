;; stateprops: publishes every request it gets on `restock-events`.
;; Hand-written WebAssembly text (the ABI in guests/ABI.md); `send` answers {"ok":true}.
(module
  (import "fusebench" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (data (i32.const 0) "restock-events")
  (data (i32.const 128) "{\"ok\":true}")
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (if (i32.gt_u (i32.add (global.get $bump) (local.get $len)) (i32.const 60000))
      (then (global.set $bump (i32.const 1024))))
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (local.get $p))
  (func (export "handle_send") (param $p i32) (param $l i32) (result i64)
    (drop (call $publish (i32.const 0) (i32.const 14) (local.get $p) (local.get $l)))
    (i64.or (i64.shl (i64.const 128) (i64.const 32)) (i64.const 11))))
