;; SLO mutation corpus-slo-cacheless-hot-path: `quotes.quote`, at the edge, reads the exchange
;; rate `rate/<pair>` from store `fx-db` in a distant cloud region on every request (no cache
;; in front of it) and answers the stored quote (a JSON object), or {"error":"not_found"} /
;; {"error":"storage_unavailable"}. Hand-written: this file is the module (guests/ABI.md).
(module
  (import "fusebench" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 64) "fx-db\00")
  (data (i32.const 128) "rate/\00")
  (data (i32.const 192) "pair\00")
  (data (i32.const 256) "{\"error\":\"not_found\"}\00")
  (data (i32.const 320) "{\"error\":\"storage_unavailable\"}\00")
  (data (i32.const 384) "{\"error\":\"bad_request: pair is required\"}\00")
  ;; ---- prelude (the same in every corpus module) ----
  ;; Constant strings are NUL-terminated data at fixed offsets below 4096; $s(offset) packs one.
  ;; Memory: a bump arena from 4096. `alloc` outside a handler starts a new request (the arena
  ;; is reset: the host has copied the previous response by then); inside a handler (the host
  ;; allocating a reply buffer) it bumps. Memory grows on demand; a failed grow traps, which the
  ;; host contains (it cannot happen within the scenario's memory limit for these messages).

  (global $top (mut i32) (i32.const 4096))
  (global $in_handler (mut i32) (i32.const 0))
  (global $out_start (mut i32) (i32.const 0))
  (global $out_pos (mut i32) (i32.const 0))
  (global $decimal_ok (mut i32) (i32.const 0))

  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))
  (func $ptr (param $packed i64) (result i32)
    (i32.wrap_i64 (i64.shr_u (local.get $packed) (i64.const 32))))
  (func $len (param $packed i64) (result i32)
    (i32.wrap_i64 (local.get $packed)))

  ;; The NUL-terminated constant at $p, packed.
  (func $s (param $p i32) (result i64)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $pack (local.get $p) (local.get $i)))

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
    (local.set $start (i32.and (i32.add (global.get $top) (i32.const 7)) (i32.const -8)))
    (call $ensure (i32.add (local.get $start) (local.get $len)))
    (global.set $top (i32.add (local.get $start) (local.get $len)))
    (local.get $start))

  (func (export "alloc") (param $len i32) (result i32)
    (if (i32.eqz (global.get $in_handler))
      (then (global.set $top (i32.const 4096))))
    (call $bump (local.get $len)))

  ;; Every handler brackets its work with $enter/$leave (the request buffer stays below $top).
  (func $enter (param $p i32) (param $n i32)
    (global.set $in_handler (i32.const 1))
    (if (i32.lt_u (global.get $top) (i32.add (local.get $p) (local.get $n)))
      (then (global.set $top (i32.add (local.get $p) (local.get $n))))))
  (func $leave (param $r i64) (result i64)
    (global.set $in_handler (i32.const 0))
    (local.get $r))

  ;; ---- building a key or response at the top of the arena ----
  (func $out_begin
    (global.set $out_start (i32.and (i32.add (global.get $top) (i32.const 7)) (i32.const -8)))
    (global.set $out_pos (global.get $out_start)))
  (func $out_bytes (param $p i32) (param $n i32)
    (call $ensure (i32.add (global.get $out_pos) (local.get $n)))
    (memory.copy (global.get $out_pos) (local.get $p) (local.get $n))
    (global.set $out_pos (i32.add (global.get $out_pos) (local.get $n))))
  (func $out (param $v i64)
    (call $out_bytes (call $ptr (local.get $v)) (call $len (local.get $v))))
  (func $out_s (param $p i32)
    (call $out (call $s (local.get $p))))
  (func $out_i64 (param $v i64)
    (local $m i64) (local $t i64) (local $n i32) (local $i i32)
    (local.set $m (local.get $v))
    (if (i64.lt_s (local.get $v) (i64.const 0))
      (then
        (call $ensure (i32.add (global.get $out_pos) (i32.const 1)))
        (i32.store8 (global.get $out_pos) (i32.const 45))
        (global.set $out_pos (i32.add (global.get $out_pos) (i32.const 1)))
        (local.set $m (i64.sub (i64.const 0) (local.get $v)))))
    (local.set $t (local.get $m))
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
                  (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $m) (i64.const 10)))))
      (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
      (br_if $digit (i32.gt_u (local.get $i) (i32.const 0))))
    (global.set $out_pos (i32.add (global.get $out_pos) (local.get $n))))
  ;; Claims what was written since $out_begin; returns it packed.
  (func $out_end (result i64)
    (global.set $top (global.get $out_pos))
    (call $pack (global.get $out_start) (i32.sub (global.get $out_pos) (global.get $out_start))))
  ;; The constant at $prefix followed by $v (a store key such as "post/" ++ id).
  (func $key (param $prefix i32) (param $v i64) (result i64)
    (call $out_begin)
    (call $out_s (local.get $prefix))
    (call $out (local.get $v))
    (call $out_end))

  ;; ---- reading a flat JSON object ----
  ;; Messages here are flat objects this scenario's workload and services write: a field is
  ;; found by its `"name":` text. The value's raw bytes come back packed: a string's without its
  ;; quotes, a number's digits. -1: no such field or a malformed value; -2: an escaped string
  ;; (not supported: the workload never writes one).
  (func $field (param $p i32) (param $n i32) (param $name i32) (result i64)
    (local $nl i32) (local $end i32) (local $i i32) (local $c i32) (local $v i32)
    (local.set $nl (call $len (call $s (local.get $name))))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (local.set $i (local.get $p))
    (block $missing
      (loop $scan
        ;; "name": at $i ?
        (br_if $missing (i32.gt_u (i32.add (i32.add (local.get $i) (local.get $nl)) (i32.const 3))
                                  (local.get $end)))
        (if (i32.and
              (i32.and (i32.eq (i32.load8_u (local.get $i)) (i32.const 34))
                       (i32.eq (i32.load8_u (i32.add (i32.add (local.get $i) (local.get $nl)) (i32.const 1)))
                               (i32.const 34)))
              (i32.and (i32.eq (i32.load8_u (i32.add (i32.add (local.get $i) (local.get $nl)) (i32.const 2)))
                               (i32.const 58))
                       (call $bytes_eq (i32.add (local.get $i) (i32.const 1)) (local.get $name) (local.get $nl))))
          (then
            (local.set $v (i32.add (i32.add (local.get $i) (local.get $nl)) (i32.const 3)))
            ;; skip spaces
            (block $ws (loop $sp
              (br_if $ws (i32.ge_u (local.get $v) (local.get $end)))
              (br_if $ws (i32.ne (i32.load8_u (local.get $v)) (i32.const 32)))
              (local.set $v (i32.add (local.get $v) (i32.const 1)))
              (br $sp)))
            (if (i32.ge_u (local.get $v) (local.get $end)) (then (return (i64.const -1))))
            (if (i32.eq (i32.load8_u (local.get $v)) (i32.const 34))
              (then
                ;; a string: up to the closing quote
                (local.set $v (i32.add (local.get $v) (i32.const 1)))
                (local.set $i (local.get $v))
                (loop $str
                  (if (i32.ge_u (local.get $i) (local.get $end)) (then (return (i64.const -1))))
                  (local.set $c (i32.load8_u (local.get $i)))
                  (if (i32.eq (local.get $c) (i32.const 92)) (then (return (i64.const -2))))
                  (if (i32.eq (local.get $c) (i32.const 34))
                    (then (return (call $pack (local.get $v) (i32.sub (local.get $i) (local.get $v))))))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br $str))))
            ;; a number or literal: up to , } ] or a space
            (local.set $i (local.get $v))
            (block $stop (loop $lit
              (br_if $stop (i32.ge_u (local.get $i) (local.get $end)))
              (local.set $c (i32.load8_u (local.get $i)))
              (br_if $stop (i32.or (i32.or (i32.eq (local.get $c) (i32.const 44))
                                           (i32.eq (local.get $c) (i32.const 125)))
                                   (i32.or (i32.eq (local.get $c) (i32.const 93))
                                           (i32.eq (local.get $c) (i32.const 32)))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $lit)))
            (if (i32.eq (local.get $i) (local.get $v)) (then (return (i64.const -1))))
            (return (call $pack (local.get $v) (i32.sub (local.get $i) (local.get $v))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (i64.const -1))

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

  ;; Whether two packed byte strings are equal.
  (func $same (param $a i64) (param $b i64) (result i32)
    (if (i32.ne (call $len (local.get $a)) (call $len (local.get $b))) (then (return (i32.const 0))))
    (call $bytes_eq (call $ptr (local.get $a)) (call $ptr (local.get $b)) (call $len (local.get $a))))

  ;; Decimal digits (optional '-', 1 to 18 digits); sets $decimal_ok.
  (func $decimal (param $v i64) (result i64)
    (local $p i32) (local $end i32) (local $neg i32) (local $r i64) (local $d i32)
    (global.set $decimal_ok (i32.const 0))
    (if (i64.lt_s (local.get $v) (i64.const 0)) (then (return (i64.const 0))))
    (local.set $p (call $ptr (local.get $v)))
    (local.set $end (i32.add (local.get $p) (call $len (local.get $v))))
    (if (i32.lt_u (local.get $p) (local.get $end))
      (then (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 45))
        (then (local.set $neg (i32.const 1))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))))))
    (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i64.const 0))))
    (if (i32.gt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 18)) (then (return (i64.const 0))))
    (loop $next
      (local.set $d (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
      (if (i32.gt_u (local.get $d) (i32.const 9)) (then (return (i64.const 0))))
      (local.set $r (i64.add (i64.mul (local.get $r) (i64.const 10)) (i64.extend_i32_u (local.get $d))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $p) (local.get $end))))
    (global.set $decimal_ok (i32.const 1))
    (if (result i64) (local.get $neg) (then (i64.sub (i64.const 0) (local.get $r))) (else (local.get $r))))
  ;; ---- end of prelude ----
  (func (export "handle_quote") (param $p i32) (param $n i32) (result i64)
    (local $pair i64) (local $db i64) (local $k i64) (local $v i64)
    (call $enter (local.get $p) (local.get $n))
    (local.set $pair (call $field (local.get $p) (local.get $n) (i32.const 192)))
    (if (i64.lt_s (local.get $pair) (i64.const 0))
      (then (return (call $leave (call $s (i32.const 384))))))
    (local.set $db (call $s (i32.const 64)))
    (local.set $k (call $key (i32.const 128) (local.get $pair)))
    (local.set $v (call $kv_get (call $ptr (local.get $db)) (call $len (local.get $db))
                                (call $ptr (local.get $k)) (call $len (local.get $k))))
    (if (i64.eq (local.get $v) (i64.const -1))
      (then (return (call $leave (call $s (i32.const 256))))))
    (if (i64.lt_s (local.get $v) (i64.const 0))
      (then (return (call $leave (call $s (i32.const 320))))))
    (call $leave (local.get $v))))
