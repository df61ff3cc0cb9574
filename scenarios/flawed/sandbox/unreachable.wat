;; Hostile guest: executes `unreachable` (what a Rust guest's panic compiles to).
;; Expected: GuestFault::Trap { kind: Unreachable }, the instance discarded, the host unharmed.
(module
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.const 60000)) (then (global.set $bump (i32.const 1024))))
    (local.get $p))
  (func (export "handle_run") (param i32 i32) (result i64)
    unreachable))
