;; `pack` does real work within its sandbox: it spins a counting loop of 78 000 rounds (about
;; 70 % of its 1 000 000 fuel budget: 707 221 fuel a request), grows its memory to 6 pages (its limit is 8),
;; fills 4000 bytes there and logs them as one line (the line limit is 4096), then answers
;; {"packed":true}. Hand-written (the ABI in guests/ABI.md).
(module
  (import "fusebench" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1 8)
  (data (i32.const 16) "{\"packed\":true}")
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
  (func (export "handle_pack") (param i32 i32) (result i64)
    (local $i i32)
    (loop $spin
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $i) (i32.const 78000))))
    (if (i32.lt_u (memory.size) (i32.const 6))
      (then (drop (memory.grow (i32.sub (i32.const 6) (memory.size))))))
    (memory.fill (i32.const 327680) (i32.const 120) (i32.const 4000))
    (call $log (i32.const 1) (i32.const 327680) (i32.const 4000))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 15))))
