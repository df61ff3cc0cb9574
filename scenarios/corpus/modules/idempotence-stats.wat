;; idempotence corpus (rest-cache-counter): `stats.hit` bumps a counter kept in the cache
;; `view-counts` (one more byte under `views`) on every request it receives.
(module
  (import "fusebench" "cache_get" (func $cache_get (param i32 i32 i32 i32) (result i64)))
  (import "fusebench" "cache_put" (func $cache_put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; the bump allocator's next free byte; `busy` while a handler runs (an allocation
  ;; outside a handler is a new request: everything before it is free again)
  (global $bump (mut i32) (i32.const 4096))
  (global $busy (mut i32) (i32.const 0))
  (data (i32.const 64) "{}")
  (data (i32.const 72) "view-counts")
  (data (i32.const 88) "views")
  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $p i32) (local $short i32)
    (if (i32.eqz (global.get $busy)) (then (global.set $bump (i32.const 4096))))
    (local.set $p (global.get $bump))
    (global.set $bump
      (i32.and (i32.add (i32.add (local.get $p) (local.get $len)) (i32.const 7)) (i32.const -8)))
    ;; pages missing below the new bump: grow by them
    (local.set $short
      (i32.sub (i32.shr_u (i32.add (global.get $bump) (i32.const 65535)) (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $short) (i32.const 0))
      (then (drop (memory.grow (local.get $short)))))
    (local.get $p))
  ;; the handler is over: answer `{}`
  (func $answer (result i64)
    (global.set $busy (i32.const 0))
    (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.const 2)))
  (func (export "handle_hit") (param $p i32) (param $l i32) (result i64)
    (local $r i64) (local $op i32) (local $ol i32) (local $n i32)
    (global.set $busy (i32.const 1))
    ;; append one byte to cache `view-counts` key `views`
    (local.set $r (call $cache_get (i32.const 72) (i32.const 11) (i32.const 88) (i32.const 5)))
    (local.set $op (i32.const 0))
    (local.set $ol (i32.const 0))
    (if (i64.ge_s (local.get $r) (i64.const 0))
      (then
        (local.set $op (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32))))
        (local.set $ol (i32.wrap_i64 (i64.and (local.get $r) (i64.const 0xffffffff))))))
    (if (i64.lt_s (local.get $r) (i64.const -1)) (then (return (call $answer))))
    (local.set $n (call $alloc (i32.add (local.get $ol) (i32.const 1))))
    (memory.copy (local.get $n) (local.get $op) (local.get $ol))
    (i32.store8 (i32.add (local.get $n) (local.get $ol)) (i32.const 120))
    (drop (call $cache_put (i32.const 72) (i32.const 11) (i32.const 88) (i32.const 5)
      (local.get $n) (i32.add (local.get $ol) (i32.const 1))))
    (call $answer))
)
