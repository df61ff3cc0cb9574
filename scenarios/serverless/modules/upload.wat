;; `upload` accepts an image upload: it publishes the request on `images` (for the resize
;; worker), ignores the result, and answers {"accepted":true}. Hand-written (the ABI in
;; guests/ABI.md).
(module
  (import "fusebench" "publish" (func $pub (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"accepted\":true}")
  (data (i32.const 64) "images")
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
  (func (export "handle_upload") (param $ptr i32) (param $len i32) (result i64)
    (drop (call $pub (i32.const 64) (i32.const 6) (local.get $ptr) (local.get $len)))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 17))))
