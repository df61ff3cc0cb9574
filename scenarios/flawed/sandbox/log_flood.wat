;; Hostile guest: writes 3,000 log lines in one request (needs capability log), trying to
;; flood the trace.
;; Expected: not a fault — the response {"ok":true} arrives, the host keeps the first
;; LOG_LINES_PER_INVOCATION_MAX lines and counts the rest in the report as dropped.
(module
  (import "fusebench" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.const 60000)) (then (global.set $bump (i32.const 1024))))
    (local.get $p))
  (data (i32.const 16) "flood")
  (data (i32.const 32) "{\"ok\":true}")
  (func (export "handle_run") (param i32 i32) (result i64)
    (local $i i32)
    (loop $again
      (call $log (i32.const 1) (i32.const 16) (i32.const 5))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 3000))))
    ;; (32 << 32) | 11
    (i64.const 0x000000200000000b)))
