;; `pack` consumes parcel events: a standard parcel (`{"kind":"std"}`, 14 bytes) is answered
;; {"packed":true}; a gift (`{"kind":"gift"}`, 15 bytes) takes a branch that answers
;; {"gift":true} — without the `packed` field its contract requires, so the delivery is refused
;; and every redelivery of it too. Hand-written (the ABI in guests/ABI.md).
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"packed\":true}")
  (data (i32.const 48) "{\"gift\":true}")
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
  (func (export "handle_pack") (param $ptr i32) (param $len i32) (result i64)
    (if (result i64) (i32.eq (local.get $len) (i32.const 15))
      (then (i64.or (i64.shl (i64.const 48) (i64.const 32)) (i64.const 13)))
      (else (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 15))))))
