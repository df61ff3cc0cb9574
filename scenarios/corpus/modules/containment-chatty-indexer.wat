;; `index` logs one debug line per term it indexes — 1100 of them for every document — then
;; answers {"indexed":true}. The sandbox keeps 1024 lines per invocation and drops the rest.
;; Hand-written (the ABI in guests/ABI.md).
(module
  (import "fusebench" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"indexed\":true}")
  (data (i32.const 64) "term indexed")
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
  (func (export "handle_index") (param i32 i32) (result i64)
    (local $i i32)
    (loop $terms
      (call $log (i32.const 0) (i32.const 64) (i32.const 12))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $terms (i32.lt_u (local.get $i) (i32.const 1100))))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 16))))
