;; A library exporting `tax` as (i64) -> i64: not the (i64, i32) -> i64 its importer expects.
(module
  (func (export "tax") (param $a i64) (result i64) (local.get $a)))
