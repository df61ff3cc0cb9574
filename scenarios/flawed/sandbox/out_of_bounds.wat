;; Hostile guest: stores to an address far past the end of its 64 KiB memory.
;; Expected: GuestFault::Trap { kind: MemoryOutOfBounds, grow_refused: None }.
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
    (i64.store (i32.const 0x7fff0000) (i64.const 42))
    (i64.const 0)))
