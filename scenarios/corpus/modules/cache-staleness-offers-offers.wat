;; cache-staleness-offers-async-invalidation: `offers` in front of `offers-db`, invalidated
;; asynchronously.
;;   get {"k"}: cache-aside. A hit is answered; on a miss it reads the store, fills the cache,
;;       reads the store again and invalidates what it filled if the value changed meanwhile
;;       (so a fill never outlives a write that raced it).
;;   set {"k","v"}: writes the store, then publishes the request on `offer-invalidations` (a
;;       queue on a broker on the other node) instead of invalidating itself; a failed publish
;;       is not retried.
;;   invalidate {"k","v"}: the queue's consumer: deletes the cached copy of the key.
;; Hand-written WebAssembly text (the ABI in guests/ABI.md); the key is the first 9 bytes of the
;; request (the whole request when shorter), the value the whole request; every handler
;; answers {"ok":true}.
(module
  (import "fusebench" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
  (import "fusebench" "kv_put" (func $kv_put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "fusebench" "cache_get" (func $cache_get (param i32 i32 i32 i32) (result i64)))
  (import "fusebench" "cache_put" (func $cache_put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "fusebench" "cache_delete" (func $cache_delete (param i32 i32 i32 i32) (result i32)))
  (import "fusebench" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 4)
  (global $bump (mut i32) (i32.const 1024))
  (data (i32.const 0) "offers-db")
  (data (i32.const 16) "offers-cache")
  (data (i32.const 32) "offer-invalidations")
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
  ;; Whether two packed replies hold the same bytes.
  (func $same (param $a i64) (param $b i64) (result i32)
    (local $pa i32) (local $pb i32) (local $n i32) (local $i i32)
    (local.set $n (call $len (local.get $a)))
    (if (i32.ne (local.get $n) (call $len (local.get $b))) (then (return (i32.const 0))))
    (local.set $pa (call $ptr (local.get $a)))
    (local.set $pb (call $ptr (local.get $b)))
    (block $diff
      (loop $bytes
        (if (i32.ge_u (local.get $i) (local.get $n)) (then (return (i32.const 1))))
        (br_if $diff (i32.ne (i32.load8_u (i32.add (local.get $pa) (local.get $i)))
                             (i32.load8_u (i32.add (local.get $pb) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $bytes)))
    (i32.const 0))
  (func (export "handle_get") (param $p i32) (param $l i32) (result i64)
    (local $k i32) (local $v i64) (local $w i64)
    (local.set $k (call $keylen (local.get $l)))
    (if (i64.ge_s (call $cache_get (i32.const 16) (i32.const 12) (local.get $p) (local.get $k))
                  (i64.const 0))
      (then (return (call $ok))))
    (local.set $v (call $kv_get (i32.const 0) (i32.const 9) (local.get $p) (local.get $k)))
    (if (i64.lt_s (local.get $v) (i64.const 0)) (then (return (call $ok))))
    (drop (call $cache_put (i32.const 16) (i32.const 12) (local.get $p) (local.get $k)
      (call $ptr (local.get $v)) (call $len (local.get $v))))
    ;; Double-check: a write that landed between the read and the fill undoes the fill.
    (local.set $w (call $kv_get (i32.const 0) (i32.const 9) (local.get $p) (local.get $k)))
    (if (i32.or (i64.lt_s (local.get $w) (i64.const 0))
                (i32.eqz (call $same (local.get $v) (local.get $w))))
      (then (drop (call $cache_delete (i32.const 16) (i32.const 12) (local.get $p) (local.get $k)))))
    (call $ok))
  (func (export "handle_set") (param $p i32) (param $l i32) (result i64)
    (drop (call $kv_put (i32.const 0) (i32.const 9) (local.get $p) (call $keylen (local.get $l))
      (local.get $p) (local.get $l)))
    (drop (call $publish (i32.const 32) (i32.const 19) (local.get $p) (local.get $l)))
    (call $ok))
  (func (export "handle_invalidate") (param $p i32) (param $l i32) (result i64)
    (drop (call $cache_delete (i32.const 16) (i32.const 12) (local.get $p) (call $keylen (local.get $l))))
    (call $ok))
)
