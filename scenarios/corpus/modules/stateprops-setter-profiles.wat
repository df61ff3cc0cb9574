;; stateprops: blind writes to `profiles-db` (key: the first 9 request bytes)
;; `set` writes the request under its key, `get` reads it.
;; Hand-written WebAssembly text (the ABI in guests/ABI.md); the key is the first 9 bytes
;; of the request (the whole request when shorter), every handler answers {"ok":true}.
(module
  (import "fusebench" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
  (import "fusebench" "kv_put" (func $kv_put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 4)
  (global $bump (mut i32) (i32.const 1024))
  (data (i32.const 0) "profiles-db")
  (data (i32.const 128) "{\"ok\":true}")
  ;; A ring allocator over [1024, 250000): requests and replies are small and short-lived.
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (if (i32.gt_u (i32.add (global.get $bump) (local.get $len)) (i32.const 250000))
      (then (global.set $bump (i32.const 1024))))
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (local.get $p))
  (func $ok (result i64) (i64.or (i64.shl (i64.const 128) (i64.const 32)) (i64.const 11)))
  (func $keylen (param $l i32) (result i32)
    (select (local.get $l) (i32.const 9) (i32.lt_u (local.get $l) (i32.const 9))))
  (func $ptr (param $v i64) (result i32) (i32.wrap_i64 (i64.shr_u (local.get $v) (i64.const 32))))
  (func $len (param $v i64) (result i32) (i32.wrap_i64 (i64.and (local.get $v) (i64.const 0xffffffff))))
  ;; A blind write: the request is the value (last writer wins, or arrival order).
  (func (export "handle_set") (param $p i32) (param $l i32) (result i64)
    (drop (call $kv_put (i32.const 0) (i32.const 11) (local.get $p) (call $keylen (local.get $l))
      (local.get $p) (local.get $l)))
    (call $ok))
  (func (export "handle_get") (param $p i32) (param $l i32) (result i64)
    (drop (call $kv_get (i32.const 0) (i32.const 11) (local.get $p) (call $keylen (local.get $l))))
    (call $ok))
)
