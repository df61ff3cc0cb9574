;; rollout-pricing-nocents: a rollout corpus module. `quote` answers the fixed JSON below whatever the request.
;; Hand-written: this file is the module (the ABI in guests/ABI.md).
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"sku\":\"a\"}")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "handle_quote") (param i32 i32) (result i64) (i64.const 11)))
