;; corpus-stock-writethrough: `stock` writes through to `stock-cache` (on its own node) in front
;; of `stock-db`, an eventual three-replica store.
;;   set {"k","v"}: notes the clock, writes the store; when the write was acknowledged within
;;       50 ms of virtual time it puts the same value in the cache, else (slow, or -3: it may
;;       have happened) it invalidates the cached copy (cache_delete).
;;   get {"k"}: a cache hit is answered; a miss reads the store and does NOT fill the cache (the
;;       cache only ever holds values written through it).
;; Hand-written WebAssembly text (the ABI in guests/ABI.md); the key is the first 9 bytes of the
;; request (the whole request when shorter), the value the whole request; every handler
;; answers {"ok":true}.
(module
  (import "fusebench" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
  (import "fusebench" "kv_put" (func $kv_put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "fusebench" "cache_get" (func $cache_get (param i32 i32 i32 i32) (result i64)))
  (import "fusebench" "cache_put" (func $cache_put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "fusebench" "cache_delete" (func $cache_delete (param i32 i32 i32 i32) (result i32)))
  (import "fusebench" "now" (func $now (result i64)))
  (memory (export "memory") 4)
  (global $bump (mut i32) (i32.const 1024))
  (data (i32.const 0) "stock-db")
  (data (i32.const 64) "stock-cache")
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
  (func (export "handle_get") (param $p i32) (param $l i32) (result i64)
    (local $k i32)
    (local.set $k (call $keylen (local.get $l)))
    (if (i64.ge_s (call $cache_get (i32.const 64) (i32.const 11) (local.get $p) (local.get $k))
                  (i64.const 0))
      (then (return (call $ok))))
    (drop (call $kv_get (i32.const 0) (i32.const 8) (local.get $p) (local.get $k)))
    (call $ok))
  (func (export "handle_set") (param $p i32) (param $l i32) (result i64)
    (local $k i32) (local $t0 i64) (local $r i32)
    (local.set $k (call $keylen (local.get $l)))
    (local.set $t0 (call $now))
    (local.set $r (call $kv_put (i32.const 0) (i32.const 8) (local.get $p) (local.get $k)
      (local.get $p) (local.get $l)))
    ;; 50 ms = 50_000_000 ns since before the write.
    (if (i32.and (i32.eqz (local.get $r))
                 (i64.le_u (i64.sub (call $now) (local.get $t0)) (i64.const 50000000)))
      (then (drop (call $cache_put (i32.const 64) (i32.const 11) (local.get $p) (local.get $k)
        (local.get $p) (local.get $l))))
      (else (drop (call $cache_delete (i32.const 64) (i32.const 11) (local.get $p) (local.get $k)))))
    (call $ok))
)
