;; Hostile guest: calls WASI `proc_exit(3)` in the middle of a request (needs capability wasi).
;; Expected: GuestFault::ProcExit { code: 3 } — the guest ends, the host does not.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.const 60000)) (then (global.set $bump (i32.const 1024))))
    (local.get $p))
  (func (export "handle_run") (param i32 i32) (result i64)
    (call $proc_exit (i32.const 3))
    (i64.const 0)))
