;; pricing, hand-written WebAssembly text: the fare of a ride (scenarios/rides/SERVICES.md; the
;; ABI is guests/ABI.md).
;;
;;   quote  {"distance_km": n} -> {"distance_km": n, "fare_cents": base + per_km * n}
;;
;; The tariff is data, not code: store `pricing-db` (owned) holds `tariff/base_cents` and
;; `tariff/per_km_cents` as decimal text (the scenario's `[store.init]`). Host calls, in order:
;; kv_get tariff/base_cents, kv_get tariff/per_km_cents.
;;
;; Answers: a store failure {"error":"storage_unavailable"}; a tariff key absent
;; {"error":"tariff_missing"}; a tariff value that is not a decimal in 0..=1000000000
;; {"error":"corrupt_record"}; a request that is not a JSON object, or repeats a field,
;; {"error":"bad_request: malformed JSON"}; without `distance_km`
;; {"error":"bad_request: missing field `distance_km`"}; a `distance_km` that is not an integer
;; in 1..=500 {"error":"bad_request: distance_km must be an integer within 1..=500"}.
;; Other fields are ignored (contracts allow extra fields).
;;
;; Memory: static data below 1024, then a bump arena, as scenarios/shop/modules/wat/
;; notifications.wat: `alloc` called outside a handler starts a new request and resets the arena
;; (the host has copied the previous response by then), as does a handler called with an empty
;; request (which comes without `alloc`); during a handler everything bumps.
(module
  (import "fusebench" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))

  (memory (export "memory") 1)

  ;; offset  length  text
  (data (i32.const 16) "pricing-db")                                            ;; 16 10
  (data (i32.const 32) "tariff/base_cents")                                     ;; 32 17
  (data (i32.const 64) "tariff/per_km_cents")                                   ;; 64 19
  (data (i32.const 96) "distance_km")                                           ;; 96 11
  (data (i32.const 112) "{\"distance_km\":")                                    ;; 112 15
  (data (i32.const 128) ",\"fare_cents\":")                                     ;; 128 14
  (data (i32.const 144) "}")                                                    ;; 144 1
  (data (i32.const 160) "{\"error\":\"storage_unavailable\"}")                  ;; 160 31
  (data (i32.const 192) "{\"error\":\"tariff_missing\"}")                       ;; 192 26
  (data (i32.const 224) "{\"error\":\"corrupt_record\"}")                       ;; 224 26
  (data (i32.const 256) "{\"error\":\"bad_request: malformed JSON\"}")          ;; 256 39
  (data (i32.const 304) "{\"error\":\"bad_request: missing field `distance_km`\"}");; 304 52
  (data (i32.const 368) "{\"error\":\"bad_request: distance_km must be an integer within 1..=500\"}");; 368 70

  (global $heap_base i32 (i32.const 1024))
  (global $top (mut i32) (i32.const 1024))      ;; the arena's first free byte
  (global $in_handler (mut i32) (i32.const 0))
  (global $decimal_ok (mut i32) (i32.const 0))  ;; set by $parse_decimal
  (global $out_start (mut i32) (i32.const 0))   ;; the response being written ($out_*)
  (global $out_pos (mut i32) (i32.const 0))
  (global $answer (mut i64) (i64.const 0))      ;; set by $tariff: an error answer, or 0

  ;; ---- packed (ptr << 32) | len ----

  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))

  (func $ptr (param $packed i64) (result i32)
    (i32.wrap_i64 (i64.shr_u (local.get $packed) (i64.const 32))))

  (func $len (param $packed i64) (result i32)
    (i32.wrap_i64 (local.get $packed)))

  ;; ---- memory ----

  ;; Grows the memory so that addresses below $end exist; traps if it cannot.
  (func $ensure (param $end i32)
    (local $have i32)
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq
              (memory.grow
                (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $have))
                                    (i32.const 65535))
                           (i32.const 16)))
              (i32.const -1))
          (then unreachable)))))

  (func $bump (param $len i32) (result i32)
    (local $start i32)
    (local $end i32)
    (local.set $start (i32.and (i32.add (global.get $top) (i32.const 7)) (i32.const -8)))
    (local.set $end (i32.add (local.get $start) (local.get $len)))
    (if (i32.lt_u (local.get $end) (local.get $start)) (then unreachable))
    (call $ensure (local.get $end))
    (global.set $top (local.get $end))
    (local.get $start))

  (func (export "alloc") (param $len i32) (result i32)
    (if (i32.eqz (global.get $in_handler))
      (then (global.set $top (global.get $heap_base))))  ;; a new request begins
    (call $bump (local.get $len)))

  ;; ---- writing the response at the top of the arena ----

  (func $out_begin
    (global.set $out_start (i32.and (i32.add (global.get $top) (i32.const 7)) (i32.const -8)))
    (global.set $out_pos (global.get $out_start)))

  (func $out_bytes (param $p i32) (param $n i32)
    (local $i i32)
    (call $ensure (i32.add (global.get $out_pos) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (global.get $out_pos) (local.get $i))
                    (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (global.set $out_pos (i32.add (global.get $out_pos) (local.get $n))))

  ;; Decimal text of $v (not negative).
  (func $out_u64 (param $v i64)
    (local $t i64)
    (local $n i32)
    (local $i i32)
    (local.set $t (local.get $v))
    (local.set $n (i32.const 1))
    (block $counted
      (loop $count
        (br_if $counted (i64.lt_u (local.get $t) (i64.const 10)))
        (local.set $t (i64.div_u (local.get $t) (i64.const 10)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $count)))
    (call $ensure (i32.add (global.get $out_pos) (local.get $n)))
    (local.set $i (local.get $n))
    (loop $digit
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (global.get $out_pos) (local.get $i))
                  (i32.add (i32.const 48)
                           (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digit (i32.gt_u (local.get $i) (i32.const 0))))
    (global.set $out_pos (i32.add (global.get $out_pos) (local.get $n))))

  ;; Claims what was written since $out_begin; returns it packed.
  (func $out_end (result i64)
    (global.set $top (global.get $out_pos))
    (call $pack (global.get $out_start)
                (i32.sub (global.get $out_pos) (global.get $out_start))))

  ;; ---- JSON scanning ----

  (func $is_ws (param $c i32) (result i32)
    (i32.or (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 9)))
            (i32.or (i32.eq (local.get $c) (i32.const 10)) (i32.eq (local.get $c) (i32.const 13)))))

  (func $skip_ws (param $p i32) (param $end i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $done (i32.eqz (call $is_ws (i32.load8_u (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; $p is at an opening quote: the position after the closing quote, or -1 if the string is
  ;; unterminated or holds a raw control character. An escape skips the escaped character.
  (func $skip_string (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (loop $next
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.eq (local.get $c) (i32.const 34))  ;; '"'
        (then (return (i32.add (local.get $p) (i32.const 1)))))
      (if (i32.lt_u (local.get $c) (i32.const 32)) (then (return (i32.const -1))))
      (if (i32.eq (local.get $c) (i32.const 92))  ;; '\'
        (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next))
    unreachable)

  ;; Skips one value at $p: the position after it, or -1.
  (func $skip_value (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (local $depth i32)
    (local $start i32)
    (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
    (local.set $c (i32.load8_u (local.get $p)))
    (if (i32.eq (local.get $c) (i32.const 34))
      (then (return (call $skip_string (local.get $p) (local.get $end)))))
    (if (i32.or (i32.eq (local.get $c) (i32.const 123)) (i32.eq (local.get $c) (i32.const 91)))
      (then
        ;; An object or array: balance brackets, stepping over strings.
        (loop $next
          (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
          (local.set $c (i32.load8_u (local.get $p)))
          (if (i32.eq (local.get $c) (i32.const 34))
            (then
              (local.set $p (call $skip_string (local.get $p) (local.get $end)))
              (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const -1))))
              (br $next)))
          (if (i32.or (i32.eq (local.get $c) (i32.const 123)) (i32.eq (local.get $c) (i32.const 91)))
            (then (local.set $depth (i32.add (local.get $depth) (i32.const 1)))))
          (if (i32.or (i32.eq (local.get $c) (i32.const 125)) (i32.eq (local.get $c) (i32.const 93)))
            (then
              (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))
              (if (i32.eqz (local.get $depth))
                (then (return (i32.add (local.get $p) (i32.const 1)))))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $next))
        unreachable))
    ;; A number or literal: up to the next delimiter.
    (local.set $start (local.get $p))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.or (i32.or (i32.eq (local.get $c) (i32.const 44))
                                     (i32.eq (local.get $c) (i32.const 125)))
                             (i32.or (i32.eq (local.get $c) (i32.const 93))
                                     (call $is_ws (local.get $c)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (if (result i32) (i32.eq (local.get $p) (local.get $start))
      (then (i32.const -1))
      (else (local.get $p))))

  (func $bytes_eq (param $a i32) (param $b i32) (param $n i32) (result i32)
    (local $i i32)
    (block $differ
      (loop $next
        (if (i32.ge_u (local.get $i) (local.get $n)) (then (return (i32.const 1))))
        (br_if $differ (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                               (i32.load8_u (i32.add (local.get $b) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; The field $name of the JSON object at $p (length $n): the raw bytes of its value packed
  ;; (a number's digits, a string with its quotes), or -1 missing, -2 malformed / duplicate.
  (func $field (param $p i32) (param $n i32) (param $name i32) (param $name_len i32) (result i64)
    (local $end i32)
    (local $ks i32)
    (local $kl i32)
    (local $vs i32)
    (local $c i32)
    (local $found i64)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (local.set $found (i64.const -1))
    (local.set $p (call $skip_ws (local.get $p) (local.get $end)))
    (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i64.const -2))))
    (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 123)) (then (return (i64.const -2))))
    (local.set $p (call $skip_ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
    (block $object_done
      (if (i32.lt_u (local.get $p) (local.get $end))
        (then
          (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 125))  ;; '{}'
            (then
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $object_done)))))
      (loop $member
        ;; "key"
        (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i64.const -2))))
        (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 34)) (then (return (i64.const -2))))
        (local.set $ks (i32.add (local.get $p) (i32.const 1)))
        (local.set $p (call $skip_string (local.get $p) (local.get $end)))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i64.const -2))))
        (local.set $kl (i32.sub (i32.sub (local.get $p) (i32.const 1)) (local.get $ks)))
        ;; :
        (local.set $p (call $skip_ws (local.get $p) (local.get $end)))
        (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i64.const -2))))
        (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 58)) (then (return (i64.const -2))))
        (local.set $p (call $skip_ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
        ;; value
        (local.set $vs (local.get $p))
        (local.set $p (call $skip_value (local.get $p) (local.get $end)))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i64.const -2))))
        (local.set $c (i32.const 0))  ;; 1 if this member is the field we want
        (if (i32.eq (local.get $kl) (local.get $name_len))
          (then (local.set $c (call $bytes_eq (local.get $ks) (local.get $name) (local.get $kl)))))
        (if (local.get $c)
          (then
            (if (i64.ne (local.get $found) (i64.const -1)) (then (return (i64.const -2))))
            (local.set $found
              (call $pack (local.get $vs) (i32.sub (local.get $p) (local.get $vs))))))
        ;; , or }
        (local.set $p (call $skip_ws (local.get $p) (local.get $end)))
        (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i64.const -2))))
        (local.set $c (i32.load8_u (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eq (local.get $c) (i32.const 44))
          (then
            (local.set $p (call $skip_ws (local.get $p) (local.get $end)))
            (br $member)))
        (if (i32.ne (local.get $c) (i32.const 125)) (then (return (i64.const -2))))))
    (if (i32.ne (call $skip_ws (local.get $p) (local.get $end)) (local.get $end))
      (then (return (i64.const -2))))  ;; trailing characters
    (local.get $found))

  ;; Decimal text (optional '-', 1 to 18 digits); sets $decimal_ok.
  (func $parse_decimal (param $p i32) (param $n i32) (result i64)
    (local $end i32)
    (local $negative i32)
    (local $v i64)
    (local $d i32)
    (global.set $decimal_ok (i32.const 0))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (if (i32.lt_u (local.get $p) (local.get $end))
      (then
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 45))
          (then
            (local.set $negative (i32.const 1))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))))))
    (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i64.const 0))))
    (if (i32.gt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 18))
      (then (return (i64.const 0))))
    (loop $next
      (local.set $d (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
      (if (i32.gt_u (local.get $d) (i32.const 9)) (then (return (i64.const 0))))
      (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10)) (i64.extend_i32_u (local.get $d))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $p) (local.get $end))))
    (global.set $decimal_ok (i32.const 1))
    (if (result i64) (local.get $negative)
      (then (i64.sub (i64.const 0) (local.get $v)))
      (else (local.get $v))))

  ;; A tariff value from pricing-db: the value, or an error answer in $answer (0 if none).
  (func $tariff (param $key i32) (param $key_len i32) (result i64)
    (local $r i64)
    (local $v i64)
    (global.set $answer (i64.const 0))
    (local.set $r (call $kv_get (i32.const 16) (i32.const 10)
                                (local.get $key) (local.get $key_len)))
    (if (i64.eq (local.get $r) (i64.const -1))
      (then
        (global.set $answer (call $pack (i32.const 192) (i32.const 26)))
        (return (i64.const 0))))
    (if (i64.lt_s (local.get $r) (i64.const 0))
      (then
        (global.set $answer (call $pack (i32.const 160) (i32.const 31)))
        (return (i64.const 0))))
    (local.set $v (call $parse_decimal (call $ptr (local.get $r)) (call $len (local.get $r))))
    (if (i32.or (i32.eqz (global.get $decimal_ok))
                (i64.gt_u (local.get $v) (i64.const 1000000000)))  ;; also catches negatives
      (then (global.set $answer (call $pack (i32.const 224) (i32.const 26)))))
    (local.get $v))

  ;; ---- endpoint ----

  (func $quote (param $p i32) (param $n i32) (result i64)
    (local $f i64)
    (local $km i64)
    (local $base i64)
    (local $per_km i64)
    (local.set $f (call $field (local.get $p) (local.get $n)
                               (i32.const 96) (i32.const 11)))
    (if (i64.eq (local.get $f) (i64.const -1))
      (then (return (call $pack (i32.const 304) (i32.const 52)))))
    (if (i64.lt_s (local.get $f) (i64.const 0))
      (then (return (call $pack (i32.const 256) (i32.const 39)))))
    (local.set $km (call $parse_decimal (call $ptr (local.get $f)) (call $len (local.get $f))))
    (if (i32.or (i32.eqz (global.get $decimal_ok))
                (i32.or (i64.lt_s (local.get $km) (i64.const 1))
                        (i64.gt_s (local.get $km) (i64.const 500))))
      (then (return (call $pack (i32.const 368) (i32.const 70)))))

    (local.set $base (call $tariff (i32.const 32) (i32.const 17)))
    (if (i64.ne (global.get $answer) (i64.const 0)) (then (return (global.get $answer))))
    (local.set $per_km (call $tariff (i32.const 64) (i32.const 19)))
    (if (i64.ne (global.get $answer) (i64.const 0)) (then (return (global.get $answer))))

    ;; {"distance_km":<km>,"fare_cents":<base + per_km * km>}: at most 1e9 + 1e9 * 500.
    (call $out_begin)
    (call $out_bytes (i32.const 112) (i32.const 15))
    (call $out_u64 (local.get $km))
    (call $out_bytes (i32.const 128) (i32.const 14))
    (call $out_u64 (i64.add (local.get $base) (i64.mul (local.get $per_km) (local.get $km))))
    (call $out_bytes (i32.const 144) (i32.const 1))
    (call $out_end))

  (func (export "handle_quote") (param $p i32) (param $n i32) (result i64)
    (local $r i64)
    (if (i32.eqz (local.get $n))  ;; an empty request comes without `alloc`
      (then (global.set $top (global.get $heap_base))))
    (global.set $in_handler (i32.const 1))
    (local.set $r (call $quote (local.get $p) (local.get $n)))
    (global.set $in_handler (i32.const 0))
    (local.get $r))
)
