;; Hostile guest: its `alloc` returns 0 (null) instead of a buffer, so the host cannot copy the
;; request in.
;; Expected: GuestFault::BadAlloc in phase WriteRequest; the handler never runs.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param $len i32) (result i32)
    (i32.const 0))
  (func (export "handle_run") (param i32 i32) (result i64)
    unreachable))
