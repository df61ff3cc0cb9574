;; Hostile guest: grows its memory one page at a time until `memory.grow` returns -1 (the
;; service's memory limit refuses it), then writes the first byte past the end of what it got.
;; Expected: GuestFault::Trap { kind: MemoryOutOfBounds, grow_refused: Some(..) } naming the
;; refused grow; the host's memory use stays at the limit.
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
    (block $refused
      (loop $grow
        (br_if $refused (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $grow)))
    ;; memory.size is in 64 KiB pages: store at the first byte past the end.
    (i32.store8 (i32.mul (memory.size) (i32.const 65536)) (i32.const 1))
    (i64.const 0)))
