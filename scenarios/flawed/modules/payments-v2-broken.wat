;; The payments "2.0" canary of scenarios/flawed/canary-fails.toml: a rewrite with a bug on its
;; charge path — every `charge` traps (as a null dereference would), so each request it serves
;; fails with `guest-fault` (a 5xx), while it otherwise starts and registers like any replica.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "handle_charge") (param i32 i32) (result i64) unreachable))
