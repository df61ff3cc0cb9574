;; undeclared-call: `pricing.quote`, a flat unit price (checkout's declared callee).
;; Answers {"unit_cents":1250} to every request. Hand-written: this file is the module (the ABI in
;; guests/ABI.md). The request is the only buffer `alloc` hands out per invocation (the handler
;; makes no host call), so `alloc` always returns the same buffer at 1024, growing the memory if
;; a request does not fit; the response is a constant at 16.
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"unit_cents\":1250}")
  (func (export "alloc") (param $len i32) (result i32)
    (local $short i32)
    ;; Pages missing for [1024, 1024 + len): grow by them (-1 from memory.grow is left to the
    ;; host, which then cannot write the request and reports it).
    (local.set $short
      (i32.sub
        (i32.shr_u (i32.add (i32.add (local.get $len) (i32.const 1024)) (i32.const 65535))
          (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $short) (i32.const 0))
      (then (drop (memory.grow (local.get $short)))))
    (i32.const 1024))
  (func (export "handle_quote") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 19))))
