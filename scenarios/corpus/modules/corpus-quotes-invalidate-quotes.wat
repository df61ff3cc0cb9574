;; corpus-quotes-invalidate: `quotes` in front of `quotes-db` (on the other node) with
;; `quotes-cache` on its own node.
;;   get {"k"}: cache-aside. A hit is answered; on a miss it notes the clock, reads the store
;;       and fills the cache only if the read came back within 50 ms of virtual time (a fill
;;       fence: a slow read may carry a value a write has replaced since, so it is not cached).
;;   set {"k","v"}: `v` is the feed's sequence number; the store keeps the highest one (a
;;       max-register: read, then kv_cas over exactly what was read unless it holds a number at
;;       least as high; again on a conflict, at most 8 tries), so a duplicated or late call never
;;       reverts a newer quote. Then it invalidates the cached copy (cache_delete) whatever the
;;       write answered (a -3 may follow a write that happened).
;; Hand-written WebAssembly text (the ABI in guests/ABI.md); the key is the first 9 bytes of the
;; request (the whole request when shorter), the value the whole request; every handler
;; answers {"ok":true}.
(module
  (import "fusebench" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
  (import "fusebench" "kv_cas" (func $kv_cas (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "fusebench" "cache_get" (func $cache_get (param i32 i32 i32 i32) (result i64)))
  (import "fusebench" "cache_put" (func $cache_put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "fusebench" "cache_delete" (func $cache_delete (param i32 i32 i32 i32) (result i32)))
  (import "fusebench" "now" (func $now (result i64)))
  (memory (export "memory") 4)
  (global $bump (mut i32) (i32.const 1024))
  (data (i32.const 0) "quotes-db")
  (data (i32.const 64) "quotes-cache")
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
    (local $k i32) (local $v i64) (local $t0 i64)
    (local.set $k (call $keylen (local.get $l)))
    (if (i64.ge_s (call $cache_get (i32.const 64) (i32.const 12) (local.get $p) (local.get $k))
                  (i64.const 0))
      (then (return (call $ok))))
    (local.set $t0 (call $now))
    (local.set $v (call $kv_get (i32.const 0) (i32.const 9) (local.get $p) (local.get $k)))
    ;; The fill fence: 50 ms = 50_000_000 ns since before the read.
    (if (i32.and (i64.ge_s (local.get $v) (i64.const 0))
                 (i64.le_u (i64.sub (call $now) (local.get $t0)) (i64.const 50000000)))
      (then (drop (call $cache_put (i32.const 64) (i32.const 12) (local.get $p) (local.get $k)
        (call $ptr (local.get $v)) (call $len (local.get $v))))))
    (call $ok))
  ;; The number after the key: the first run of digits from byte 9 on (0 when none).
  (func $seq (param $p i32) (param $l i32) (result i64)
    (local $v i64) (local $c i32) (local $end i32) (local $in i32)
    (local.set $end (i32.add (local.get $p) (local.get $l)))
    (local.set $p (i32.add (local.get $p) (i32.const 9)))
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
        (if (i32.le_u (local.get $c) (i32.const 9))
          (then
            (local.set $in (i32.const 1))
            (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10)) (i64.extend_i32_u (local.get $c)))))
          (else (br_if $done (local.get $in))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $scan)))
    (local.get $v))
  (func (export "handle_set") (param $p i32) (param $l i32) (result i64)
    (local $k i32) (local $v i64) (local $tries i32) (local $ep i32) (local $el i32)
    (local.set $k (call $keylen (local.get $l)))
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $tries) (i32.const 8)))
        (local.set $tries (i32.add (local.get $tries) (i32.const 1)))
        (local.set $v (call $kv_get (i32.const 0) (i32.const 9) (local.get $p) (local.get $k)))
        (if (i32.and (i64.lt_s (local.get $v) (i64.const 0)) (i64.ne (local.get $v) (i64.const -1)))
          (then (br $again)))
        (if (i64.eq (local.get $v) (i64.const -1))
          (then (local.set $ep (i32.const 0)) (local.set $el (i32.const -1)))
          (else
            (local.set $ep (call $ptr (local.get $v)))
            (local.set $el (call $len (local.get $v)))
            ;; The store holds this quote or a newer one: nothing to write.
            (br_if $done (i64.ge_u (call $seq (local.get $ep) (local.get $el))
                                   (call $seq (local.get $p) (local.get $l))))))
        (br_if $again (i32.ne (i32.const 0)
          (call $kv_cas (i32.const 0) (i32.const 9) (local.get $p) (local.get $k)
            (local.get $ep) (local.get $el) (local.get $p) (local.get $l))))))
    (drop (call $cache_delete (i32.const 64) (i32.const 12) (local.get $p) (local.get $k)))
    (call $ok))
)
