;; `resize` is the thumbnail worker: it spends a fixed amount of compute on the image (a loop
;; of 250,000 iterations, about 1.5 M fuel, standing in for the resampling), writes the
;; thumbnail's record {"width":128} to `thumbnails` under the request itself (one key per
;; image, so a redelivered image writes the same value again), and answers {"ok":true}.
;; Hand-written (the ABI in guests/ABI.md).
(module
  (import "fusebench" "kv_put" (func $put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"ok\":true}")
  (data (i32.const 64) "thumbnails")
  (data (i32.const 128) "{\"width\":128}")
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
  (func (export "handle_resize") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32)
    (local $acc i32)
    (loop $work
      (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (i32.const 31))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $work (i32.lt_u (local.get $i) (i32.const 250000))))
    (drop (call $put (i32.const 64) (i32.const 10) (local.get $ptr) (local.get $len)
      (i32.const 128) (i32.const 13)))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 11))))
