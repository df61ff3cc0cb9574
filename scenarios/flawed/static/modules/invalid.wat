;; Parses as WAT but fails validation: `handle_get` returns an i32 where its type says i64.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "handle_get") (param i32 i32) (result i64)
    (i32.const 0)))
