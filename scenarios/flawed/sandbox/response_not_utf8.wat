;; Hostile guest: returns bytes that are not UTF-8 (0xff 0xfe).
;; Expected: GuestFault::ResponseNotUtf8 { valid_up_to: 1 }.
(module
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.const 60000)) (then (global.set $bump (i32.const 1024))))
    (local.get $p))
  (data (i32.const 16) "{\ff\fe}")
  (func (export "handle_run") (param i32 i32) (result i64)
    ;; (16 << 32) | 4
    (i64.const 0x0000001000000004)))
