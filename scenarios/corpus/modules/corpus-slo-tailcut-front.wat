;; `search` asks `catalog.find` with a 50 ms per-attempt timeout and answers with the reply, or
;; {"error":"unavailable"} when the call failed. Hand-written (the ABI in guests/ABI.md).
(module
  (import "fusebench" "call_timeout"
    (func $call (param i32 i32 i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"error\":\"unavailable\"}")
  (data (i32.const 64) "catalog")
  (data (i32.const 128) "find")
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
  (func (export "handle_search") (param $ptr i32) (param $len i32) (result i64)
    (local $r i64)
    (local.set $r
      (call $call (i32.const 64) (i32.const 7) (i32.const 128) (i32.const 4)
        (local.get $ptr) (local.get $len) (i32.const 50)))
    (if (result i64) (i64.lt_s (local.get $r) (i64.const 0))
      (then (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 23)))
      (else (local.get $r)))))
