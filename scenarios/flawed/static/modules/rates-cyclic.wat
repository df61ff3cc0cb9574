;; A library exporting `base`, itself importing `money.tax`: linked back to money, a cycle.
(module
  (import "money" "tax" (func $tax (param i64 i32) (result i64)))
  (func (export "base") (result i32) (i32.const 2000)))
