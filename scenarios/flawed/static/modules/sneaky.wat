;; Valid and ABI-shaped, but imports `kv_put` (capability `kv`) and `env.system` (no capability
;; can grant it): the scenario grants only `log`. Sandbox violations caught before the run.
(module
  (import "fusebench" "kv_put" (func $kv_put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "fusebench" "log" (func $log (param i32 i32 i32)))
  (import "env" "system" (func $system (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "handle_get") (param i32 i32) (result i64)
    (drop (call $kv_put (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
    (drop (call $system (i32.const 0)))
    (i64.const 0)))
