;; `place` publishes its request on `order-events` and answers {"placed":true}, or
;; {"error":"unavailable"} when the broker did not take it (so no client is told "placed" for an
;; order whose event never left). Hand-written (the ABI in guests/ABI.md).
(module
  (import "fusebench" "publish" (func $pub (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"placed\":true}")
  (data (i32.const 48) "{\"error\":\"unavailable\"}")
  (data (i32.const 96) "order-events")
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
  (func (export "handle_place") (param $ptr i32) (param $len i32) (result i64)
    (if (result i64)
      (i32.lt_s (call $pub (i32.const 96) (i32.const 12) (local.get $ptr) (local.get $len))
        (i32.const 0))
      (then (i64.or (i64.shl (i64.const 48) (i64.const 32)) (i64.const 23)))
      (else (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 15))))))
