;; idempotence correct corpus (idempotence-upsert-timing): `front.put` calls `records.upsert`
;; with its request, then publishes it on `changes`.
(module
  (import "fusebench" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (import "fusebench" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  ;; the bump allocator's next free byte; `busy` while a handler runs (an allocation
  ;; outside a handler is a new request: everything before it is free again)
  (global $bump (mut i32) (i32.const 4096))
  (global $busy (mut i32) (i32.const 0))
  (data (i32.const 64) "{}")
  (data (i32.const 72) "records")
  (data (i32.const 80) "upsert")
  (data (i32.const 88) "changes")
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
  (func (export "handle_put") (param $p i32) (param $l i32) (result i64)
    (local $r i64) (local $op i32) (local $ol i32) (local $n i32)
    (global.set $busy (i32.const 1))
    ;; call `records.upsert` with the request
    (drop (call $call (i32.const 72) (i32.const 7) (i32.const 80) (i32.const 6)
      (local.get $p) (local.get $l)))
    ;; publish the request on `changes`
    (drop (call $publish (i32.const 88) (i32.const 7) (local.get $p) (local.get $l)))
    (call $answer))
)
