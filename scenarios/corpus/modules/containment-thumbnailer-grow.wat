;; `render` asks for 64 MiB more memory (refused by the service's limit: -1, which it
;; ignores) and answers {"rendered":true}. Hand-written (the ABI in guests/ABI.md).
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"rendered\":true}")
  (func (export "alloc") (param $len i32) (result i32)
    (local $short i32)
    (local.set $short
      (i32.sub
        (i32.shr_u (i32.add (i32.add (local.get $len) (i32.const 1024)) (i32.const 65535))
          (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $short) (i32.const 0))
      (then (drop (memory.grow (local.get $short)))))
    (i32.const 1024))
  (func (export "handle_render") (param i32 i32) (result i64)
    (drop (memory.grow (i32.const 1024)))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 17))))
