;; idempotence corpus (stream-list-append): `tickets.open` publishes its request on
;; `audit-events`.
(module
  (import "fusebench" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; the bump allocator's next free byte; `busy` while a handler runs (an allocation
  ;; outside a handler is a new request: everything before it is free again)
  (global $bump (mut i32) (i32.const 4096))
  (global $busy (mut i32) (i32.const 0))
  (data (i32.const 64) "{}")
  (data (i32.const 72) "audit-events")
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
  (func (export "handle_open") (param $p i32) (param $l i32) (result i64)
    (local $r i64) (local $op i32) (local $ol i32) (local $n i32)
    (global.set $busy (i32.const 1))
    ;; publish the request on `audit-events`
    (drop (call $publish (i32.const 72) (i32.const 12) (local.get $p) (local.get $l)))
    (call $answer))
)
