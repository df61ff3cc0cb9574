;; `itinerary` forwards its request to `fares.lookup` and answers with the reply — and
;; "unwraps" the call's result: when the call fails (a negative code) it executes
;; `unreachable`, a trap, instead of answering an error. Hand-written (the ABI in guests/ABI.md).
(module
  (import "fusebench" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 64) "fares")
  (data (i32.const 128) "lookup")
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
  (func (export "handle_itinerary") (param $ptr i32) (param $len i32) (result i64)
    (local $r i64)
    (local.set $r
      (call $call (i32.const 64) (i32.const 5) (i32.const 128) (i32.const 6)
        (local.get $ptr) (local.get $len)))
    (if (i64.lt_s (local.get $r) (i64.const 0)) (then (unreachable)))
    (local.get $r)))
