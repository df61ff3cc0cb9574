;; A library exporting `tax` (i64, i32) -> i64 and importing `rates.base` from library `rates`.
(module
  (import "rates" "base" (func $base (result i32)))
  (func (export "tax") (param $a i64) (param $bp i32) (result i64)
    (i64.div_s (i64.mul (local.get $a) (i64.extend_i32_s (call $base))) (i64.const 10000))))
