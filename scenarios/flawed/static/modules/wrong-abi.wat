;; Valid, but not the guest ABI: no `alloc`, and `handle_get` takes one i32 and returns i32.
(module
  (memory (export "memory") 1)
  (func (export "handle_get") (param i32) (result i32)
    (i32.const 0)))
