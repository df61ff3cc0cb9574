;; A well-formed guest whose `handle_get` asks library `money` for a tax: imports `money.tax`
;; (i64, i32) -> i64. Linked by the `link-*` flawed scenarios.
(module
  (import "money" "tax" (func $tax (param i64 i32) (result i64)))
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (data (i32.const 16) "{\"id\":\"x\",\"value\":1}")
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (local.get $p))
  (func (export "handle_get") (param i32 i32) (result i64)
    (drop (call $tax (i64.const 100) (i32.const 2000)))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 20))))
