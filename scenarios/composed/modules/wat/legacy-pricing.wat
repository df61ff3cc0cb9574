;; legacy-pricing, hand-written WebAssembly text: the "legacy core" of scenarios/composed/, a
;; library linked as `legacy` by the `quotes` adapter (guests/composed/quotes/). It predates the
;; service ABI: no JSON, no handle_* export — one function over integers and error codes.
;;
;;   legacy_quote(sku: i32, qty: i32) -> i64
;;     base price of `sku` (1: 1999, 2: 4550, 3: 12000 cents) × qty × markup / 100, where the
;;     markup (percent, decimal text) is key `markup_percent` of store `legacy-db` (100 when the
;;     key is absent); -1 unknown sku, -2 the store failed, -3 the markup is not a decimal in
;;     0..=1000.
;;
;; It calls the host itself (`fusebench.kv_get`): a host operation made inside a linked library,
;; allowed only because the service linking it is granted `kv` and reads `legacy-db`. The reply
;; is copied into this module's own memory through its own `alloc` (shared-nothing: the adapter's
;; memory is not this one). Memory: static data below 1024, then a bump arena reset by each call.
(module
  (import "fusebench" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))

  (memory (export "memory") 1)

  (data (i32.const 16) "legacy-db")        ;; 16 9
  (data (i32.const 32) "markup_percent")   ;; 32 14

  (global $top (mut i32) (i32.const 1024))

  (func (export "alloc") (param $len i32) (result i32)
    (local $start i32)
    (local $end i32)
    (local.set $start (global.get $top))
    (local.set $end (i32.add (local.get $start) (local.get $len)))
    (if (i32.lt_u (local.get $end) (local.get $start)) (then unreachable))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq
              (memory.grow
                (i32.shr_u (i32.add (i32.sub (local.get $end) (i32.shl (memory.size) (i32.const 16)))
                                    (i32.const 65535))
                           (i32.const 16)))
              (i32.const -1))
          (then unreachable))))
    (global.set $top (local.get $end))
    (local.get $start))

  ;; 1 to 4 decimal digits, else -1.
  (func $parse_percent (param $p i32) (param $n i32) (result i64)
    (local $end i32)
    (local $v i64)
    (local $d i32)
    (if (i32.or (i32.eqz (local.get $n)) (i32.gt_u (local.get $n) (i32.const 4)))
      (then (return (i64.const -1))))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (loop $next
      (local.set $d (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
      (if (i32.gt_u (local.get $d) (i32.const 9)) (then (return (i64.const -1))))
      (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10)) (i64.extend_i32_u (local.get $d))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $p) (local.get $end))))
    (local.get $v))

  (func (export "legacy_quote") (param $sku i32) (param $qty i32) (result i64)
    (local $base i64)
    (local $r i64)
    (local $markup i64)
    (global.set $top (i32.const 1024))
    (block $known
      (local.set $base (i64.const 1999))
      (br_if $known (i32.eq (local.get $sku) (i32.const 1)))
      (local.set $base (i64.const 4550))
      (br_if $known (i32.eq (local.get $sku) (i32.const 2)))
      (local.set $base (i64.const 12000))
      (br_if $known (i32.eq (local.get $sku) (i32.const 3)))
      (return (i64.const -1)))
    (local.set $r (call $kv_get (i32.const 16) (i32.const 9) (i32.const 32) (i32.const 14)))
    (local.set $markup (i64.const 100))
    (if (i64.lt_s (local.get $r) (i64.const -1)) (then (return (i64.const -2))))
    (if (i64.ge_s (local.get $r) (i64.const 0))
      (then
        (local.set $markup
          (call $parse_percent (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32)))
                               (i32.wrap_i64 (local.get $r))))
        (if (i32.or (i64.lt_s (local.get $markup) (i64.const 0))
                    (i64.gt_s (local.get $markup) (i64.const 1000)))
          (then (return (i64.const -3))))))
    (i64.div_s (i64.mul (i64.mul (local.get $base) (i64.extend_i32_s (local.get $qty)))
                        (local.get $markup))
               (i64.const 100)))
)
