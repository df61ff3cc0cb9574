;; Hostile guest: unbounded recursion.
;; Expected: GuestFault::Trap { kind: StackOverflow } once the engine's recursion limit is hit.
(module
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.const 60000)) (then (global.set $bump (i32.const 1024))))
    (local.get $p))
  (func $down (param $n i64) (result i64)
    (i64.add (call $down (i64.add (local.get $n) (i64.const 1))) (i64.const 1)))
  (func (export "handle_run") (param i32 i32) (result i64)
    (call $down (i64.const 0))))
