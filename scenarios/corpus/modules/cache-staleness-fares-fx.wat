;; cache-staleness-fares-slow-fill: `fx.rate` answers {"ok":true} (its time is the scenario's
;; service_time: a slow exchange-rate look-up). Hand-written WebAssembly text (guests/ABI.md).
(module
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (data (i32.const 128) "{\"ok\":true}")
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (if (i32.gt_u (i32.add (global.get $bump) (local.get $len)) (i32.const 60000))
      (then (global.set $bump (i32.const 1024))))
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (local.get $p))
  (func (export "handle_rate") (param $p i32) (param $l i32) (result i64)
    (i64.or (i64.shl (i64.const 128) (i64.const 32)) (i64.const 11)))
)
