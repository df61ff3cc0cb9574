;; cache-staleness-fares-slow-fill: `fares` in front of `fares-db`, cache-aside with
;; invalidation on write, but a slow fill.
;;   get {"k"}: a cache hit is answered; on a miss it reads the store, then asks `fx.rate` for
;;       the exchange rate (a slow call) and only then fills the cache with what it read — by
;;       then a write and its invalidation may have come and gone.
;;   set {"k","v"}: writes the store, then invalidates the cached copy (cache_delete).
;; Hand-written WebAssembly text (the ABI in guests/ABI.md); the key is the first 9 bytes of the
;; request (the whole request when shorter), the value the whole request; every handler
;; answers {"ok":true}.
(module
  (import "fusebench" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
  (import "fusebench" "kv_put" (func $kv_put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "fusebench" "cache_get" (func $cache_get (param i32 i32 i32 i32) (result i64)))
  (import "fusebench" "cache_put" (func $cache_put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "fusebench" "cache_delete" (func $cache_delete (param i32 i32 i32 i32) (result i32)))
  (import "fusebench" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 4)
  (global $bump (mut i32) (i32.const 1024))
  (data (i32.const 0) "fares-db")
  (data (i32.const 16) "fares-cache")
  (data (i32.const 32) "fx")
  (data (i32.const 48) "rate")
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
  (func (export "handle_get") (param $p i32) (param $l i32) (result i64)
    (local $k i32) (local $v i64)
    (local.set $k (call $keylen (local.get $l)))
    (if (i64.ge_s (call $cache_get (i32.const 16) (i32.const 11) (local.get $p) (local.get $k))
                  (i64.const 0))
      (then (return (call $ok))))
    (local.set $v (call $kv_get (i32.const 0) (i32.const 8) (local.get $p) (local.get $k)))
    (if (i64.lt_s (local.get $v) (i64.const 0)) (then (return (call $ok))))
    ;; The slow part: the value read waits for the exchange rate before it is cached.
    (drop (call $call (i32.const 32) (i32.const 2) (i32.const 48) (i32.const 4)
      (local.get $p) (local.get $l)))
    (drop (call $cache_put (i32.const 16) (i32.const 11) (local.get $p) (local.get $k)
      (call $ptr (local.get $v)) (call $len (local.get $v))))
    (call $ok))
  (func (export "handle_set") (param $p i32) (param $l i32) (result i64)
    (local $k i32)
    (local.set $k (call $keylen (local.get $l)))
    (drop (call $kv_put (i32.const 0) (i32.const 8) (local.get $p) (local.get $k)
      (local.get $p) (local.get $l)))
    (drop (call $cache_delete (i32.const 16) (i32.const 11) (local.get $p) (local.get $k)))
    (call $ok))
)
