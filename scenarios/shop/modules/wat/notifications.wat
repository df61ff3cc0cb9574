;; notifications, hand-written WebAssembly text: the same service and contract as
;; guests/shop/notifications (Rust). See scenarios/shop/SERVICES.md and guests/ABI.md.
;;
;;   on_shipment_created  {"shipment_id","customer",...} -> {"ok":true}
;;       if sent/<shipment_id> is absent: store it (value: the customer), increment
;;       count/<customer> (decimal text) and log "notify <customer>: shipment <shipment_id>".
;;   sent_count           {"customer"} -> {"customer","sent"}
;;
;; Host calls, in order (identical to the Rust module): kv_get sent/<id>; if absent kv_put
;; sent/<id>, kv_get count/<customer>, kv_put count/<customer>, log (level 1, info).
;; Store failures answer {"error":"storage_unavailable"}; an unreadable count
;; {"error":"corrupt_record"}; a malformed request {"error":"bad_request: ..."}.
;;
;; Limitation: string values must not contain escape sequences (\" \n \u00e9 ...): such a request
;; answers {"error":"bad_request: escaped strings are not supported"}. Without escapes the raw
;; bytes between the quotes are the value, and copying them into a response is already the
;; JSON serde_json would write, so both modules answer the same bytes.
;;
;; Memory: static data below 1024, then a bump arena. `alloc` called outside a handler starts a
;; new request and resets the arena (the host has copied the previous response by then), as
;; does a handler called with an empty request (which comes without `alloc`); during a handler
;; everything bumps. A response stays valid until the next call into the
;; module, and memory never grows beyond one request's needs.
(module
  (import "fusebench" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
  (import "fusebench" "kv_put" (func $kv_put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "fusebench" "log" (func $log (param i32 i32 i32)))

  (memory (export "memory") 1)

  ;; offset  length  text
  (data (i32.const 16) "notifications-db")  ;; 16  16  the store
  (data (i32.const 32) "sent/")             ;; 32   5
  (data (i32.const 48) "count/")            ;; 48   6
  (data (i32.const 64) "shipment_id")       ;; 64  11
  (data (i32.const 80) "customer")          ;; 80   8
  (data (i32.const 96) "notify ")           ;; 96   7
  (data (i32.const 112) ": shipment ")      ;; 112 11
  (data (i32.const 128) "{\"ok\":true}")    ;; 128 11
  (data (i32.const 144) "{\"error\":\"storage_unavailable\"}")  ;; 144 31
  (data (i32.const 176) "{\"error\":\"corrupt_record\"}")       ;; 176 26
  (data (i32.const 208) "{\"error\":\"bad_request: missing field `shipment_id`\"}")  ;; 208 52
  (data (i32.const 272) "{\"error\":\"bad_request: missing field `customer`\"}")     ;; 272 49
  (data (i32.const 336)
    "{\"error\":\"bad_request: malformed JSON, or a field of the wrong type\"}")     ;; 336 69
  (data (i32.const 416)
    "{\"error\":\"bad_request: escaped strings are not supported\"}")                ;; 416 58
  (data (i32.const 480) "{\"customer\":\"")  ;; 480 13
  (data (i32.const 496) "\",\"sent\":")      ;; 496  9
  (data (i32.const 512) "}")                 ;; 512  1

  (global $heap_base i32 (i32.const 1024))
  (global $top (mut i32) (i32.const 1024))      ;; the arena's first free byte
  (global $in_handler (mut i32) (i32.const 0))
  (global $had_escape (mut i32) (i32.const 0))  ;; set by $skip_string
  (global $decimal_ok (mut i32) (i32.const 0))  ;; set by $parse_decimal
  (global $out_start (mut i32) (i32.const 0))   ;; the response being written ($out_*)
  (global $out_pos (mut i32) (i32.const 0))

  ;; ---- packed (ptr << 32) | len ----

  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))

  ;; Unpacked in line where used: (i32.wrap_i64 (i64.shr_u $packed 32)) is the pointer,
  ;; (i32.wrap_i64 $packed) the length; constant answers are (i64.const 0x<ptr>_<len>). A call
  ;; costs wasmi far more host time than the two or three operators it saves in code.

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
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then (call $ensure (local.get $end))))
    (global.set $top (local.get $end))
    (local.get $start))

  (func (export "alloc") (param $len i32) (result i32)
    (if (i32.eqz (global.get $in_handler))
      (then (global.set $top (global.get $heap_base))))  ;; a new request begins
    (call $bump (local.get $len)))

  ;; ---- writing a response or key at the top of the arena ----

  (func $out_begin
    (global.set $out_start (i32.and (i32.add (global.get $top) (i32.const 7)) (i32.const -8)))
    (global.set $out_pos (global.get $out_start)))

  ;; One `memory.copy` (wasmi charges it 1 + 1 per 64 bytes; a byte loop pays its whole body
  ;; per byte).
  (func $out_bytes (param $p i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (global.get $out_pos) (local.get $n)))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then (call $ensure (local.get $end))))
    (memory.copy (global.get $out_pos) (local.get $p) (local.get $n))
    (global.set $out_pos (i32.add (global.get $out_pos) (local.get $n))))

  ;; Decimal text of $v.
  (func $out_i64 (param $v i64)
    (local $m i64)
    (local $t i64)
    (local $n i32)
    (local $i i32)
    (local.set $m (local.get $v))
    (if (i64.lt_s (local.get $v) (i64.const 0))
      (then
        (call $ensure (i32.add (global.get $out_pos) (i32.const 1)))
        (i32.store8 (global.get $out_pos) (i32.const 45))  ;; '-'
        (global.set $out_pos (i32.add (global.get $out_pos) (i32.const 1)))
        (local.set $m (i64.sub (i64.const 0) (local.get $v)))))  ;; unsigned from here on
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
                  (i32.add (i32.const 48)
                           (i32.wrap_i64 (i64.rem_u (local.get $m) (i64.const 10)))))
      (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
      (br_if $digit (i32.gt_u (local.get $i) (i32.const 0))))
    (global.set $out_pos (i32.add (global.get $out_pos) (local.get $n))))

  ;; Claims what was written since $out_begin; returns it packed.
  (func $out_end (result i64)
    (global.set $top (global.get $out_pos))
    (call $pack (global.get $out_start)
                (i32.sub (global.get $out_pos) (global.get $out_start))))

  ;; prefix ++ value, e.g. "sent/" ++ shipment id.
  (func $concat (param $prefix i32) (param $prefix_len i32) (param $value i64) (result i64)
    (call $out_begin)
    (call $out_bytes (local.get $prefix) (local.get $prefix_len))
    (call $out_bytes (i32.wrap_i64 (i64.shr_u (local.get $value) (i64.const 32)))
                     (i32.wrap_i64 (local.get $value)))
    (call $out_end))

  ;; ---- JSON scanning ----

  (func $is_ws (param $c i32) (result i32)
    (i32.or (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 9)))
            (i32.or (i32.eq (local.get $c) (i32.const 10)) (i32.eq (local.get $c) (i32.const 13)))))

  ;; wasmi meters fuel per region (function entry, loop header, `if` arm), charging the whole
  ;; region up front: the common case (no whitespace, compact JSON) stays in the smallest ones.
  ;; Its callers test the first byte themselves and call only for one that may be whitespace
  ;; (a call costs wasmi more host time than its fuel says).
  (func $skip_ws (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (loop $next
      (if (i32.lt_u (local.get $p) (local.get $end))
        (then
          (local.set $c (i32.load8_u (local.get $p)))
          (if (i32.le_u (local.get $c) (i32.const 32))
            (then
              (if (call $is_ws (local.get $c))
                (then
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (br $next))))))))
    (local.get $p))

  ;; $p is at an opening quote: the position after the closing quote, or -1 if the string is
  ;; unterminated or holds a raw control character. Sets $had_escape.
  ;;
  ;; Eight bytes at a time while eight are left: each byte of the word flagged (its high bit)
  ;; if it is below 0x20, '"' or '\' (x - 0x01.. & ~x & 0x80.. flags the zero bytes of x; the
  ;; lowest flag is exact, the subtraction's borrows only run upwards), the scan jumps to the
  ;; lowest flag and the byte steps below decide it. A loop iteration costs its whole body in
  ;; fuel, so this is about a fifth of the byte loop's cost per byte.
  (func $skip_string (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (local $x i64)
    (local $q i64)
    (local $e i64)
    (local $stops i64)
    (global.set $had_escape (i32.const 0))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (loop $next
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      ;; here $p < $end, so $end - $p does not wrap
      (block $slow
        (loop $fast
          (br_if $slow (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 8)))
          (local.set $x (i64.load (local.get $p)))
          (local.set $q (i64.xor (local.get $x) (i64.const 0x2222222222222222)))  ;; '"' -> 0
          (local.set $e (i64.xor (local.get $x) (i64.const 0x5c5c5c5c5c5c5c5c)))  ;; '\' -> 0
          (local.set $stops
            (i64.and
              (i64.or
                (i64.or
                  (i64.and (i64.sub (local.get $x) (i64.const 0x2020202020202020))
                           (i64.xor (local.get $x) (i64.const -1)))
                  (i64.and (i64.sub (local.get $q) (i64.const 0x0101010101010101))
                           (i64.xor (local.get $q) (i64.const -1))))
                (i64.and (i64.sub (local.get $e) (i64.const 0x0101010101010101))
                         (i64.xor (local.get $e) (i64.const -1))))
              (i64.const 0x8080808080808080)))
          (if (i64.eqz (local.get $stops))
            (then
              (local.set $p (i32.add (local.get $p) (i32.const 8)))
              (br $fast)))
          (local.set $p
            (i32.add (local.get $p) (i32.wrap_i64 (i64.shr_u (i64.ctz (local.get $stops))
                                                             (i64.const 3)))))))
      ;; a stop, or fewer than eight bytes left: one byte at a time
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.eq (local.get $c) (i32.const 34))  ;; '"'
        (then (return (i32.add (local.get $p) (i32.const 1)))))
      (if (i32.lt_u (local.get $c) (i32.const 32)) (then (return (i32.const -1))))
      (if (i32.eq (local.get $c) (i32.const 92))  ;; '\': skip the escaped character too
        (then
          (global.set $had_escape (i32.const 1))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next))
    unreachable)

  ;; Skips one value at $p (after whitespace): the position after it, or -1.
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

  ;; Eight bytes at a time, then byte by byte.
  (func $bytes_eq (param $a i32) (param $b i32) (param $n i32) (result i32)
    (loop $words
      (if (i32.ge_u (local.get $n) (i32.const 8))
        (then
          (if (i64.ne (i64.load (local.get $a)) (i64.load (local.get $b)))
            (then (return (i32.const 0))))
          (local.set $a (i32.add (local.get $a) (i32.const 8)))
          (local.set $b (i32.add (local.get $b) (i32.const 8)))
          (local.set $n (i32.sub (local.get $n) (i32.const 8)))
          (br $words))))
    (loop $bytes
      (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
      (if (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b)))
        (then (return (i32.const 0))))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $bytes))
    unreachable)

  ;; The string fields $a and $b (names of $a_len and $b_len bytes; $b_len -1 for none) of the
  ;; JSON object at $p (length $n), found in one pass: each into $found_a / $found_b as the
  ;; field alone would be answered: its raw bytes packed, or -1 missing, -2 malformed / not a
  ;; string / duplicate, -3 the value holds escapes. A malformed object (what a scan for either
  ;; field alone would stop at, however the values are typed) makes both -2.
  (global $found_a (mut i64) (i64.const -1))
  (global $found_b (mut i64) (i64.const -1))
  (func $fields (param $p i32) (param $n i32) (param $a i32) (param $a_len i32)
                (param $b i32) (param $b_len i32)
    (if (i32.eqz (call $scan_fields (local.get $p) (local.get $n) (local.get $a) (local.get $a_len)
                                    (local.get $b) (local.get $b_len)))
      (then
        (global.set $found_a (i64.const -2))
        (global.set $found_b (i64.const -2)))))

  ;; $fields' pass: 1 if the object is well formed, else 0.
  (func $scan_fields (param $p i32) (param $n i32) (param $a i32) (param $a_len i32)
                     (param $b i32) (param $b_len i32) (result i32)
    (local $end i32)
    (local $ks i32)
    (local $kl i32)
    (local $c i32)
    (global.set $found_a (i64.const -1))
    (global.set $found_b (i64.const -1))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (if (i32.lt_u (local.get $p) (local.get $end))  ;; whitespace? (compact JSON has none)
      (then (if (i32.le_u (i32.load8_u (local.get $p)) (i32.const 32))
        (then (local.set $p (call $skip_ws (local.get $p) (local.get $end)))))))
    (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 123)) (then (return (i32.const 0))))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (if (i32.lt_u (local.get $p) (local.get $end))  ;; whitespace? (compact JSON has none)
      (then (if (i32.le_u (i32.load8_u (local.get $p)) (i32.const 32))
        (then (local.set $p (call $skip_ws (local.get $p) (local.get $end)))))))
    (block $object_done
      (if (i32.lt_u (local.get $p) (local.get $end))
        (then
          (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 125))  ;; '{}'
            (then
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $object_done)))))
      (loop $member
        ;; "key"
        (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const 0))))
        (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 34)) (then (return (i32.const 0))))
        (local.set $ks (i32.add (local.get $p) (i32.const 1)))
        (local.set $p (call $skip_string (local.get $p) (local.get $end)))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const 0))))
        (local.set $kl (i32.sub (i32.sub (local.get $p) (i32.const 1)) (local.get $ks)))
        ;; :
        (if (i32.lt_u (local.get $p) (local.get $end))  ;; whitespace? (compact JSON has none)
          (then (if (i32.le_u (i32.load8_u (local.get $p)) (i32.const 32))
            (then (local.set $p (call $skip_ws (local.get $p) (local.get $end)))))))
        (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const 0))))
        (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 58)) (then (return (i32.const 0))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.lt_u (local.get $p) (local.get $end))  ;; whitespace? (compact JSON has none)
          (then (if (i32.le_u (i32.load8_u (local.get $p)) (i32.const 32))
            (then (local.set $p (call $skip_ws (local.get $p) (local.get $end)))))))
        ;; value: $c = 1 for field $a, 2 for $b, 0 for any other key
        (local.set $c (i32.const 0))
        (if (i32.eq (local.get $kl) (local.get $a_len))
          (then
            (if (call $bytes_eq (local.get $ks) (local.get $a) (local.get $kl))
              (then (local.set $c (i32.const 1))))))
        (if (i32.eq (local.get $kl) (local.get $b_len))
          (then
            (if (call $bytes_eq (local.get $ks) (local.get $b) (local.get $kl))
              (then (local.set $c (i32.const 2))))))
        (local.set $p
          (if (result i32) (local.get $c)
            (then (call $take (local.get $p) (local.get $end) (local.get $c)))
            (else (call $skip_value (local.get $p) (local.get $end)))))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const 0))))
        ;; , or }
        (if (i32.lt_u (local.get $p) (local.get $end))  ;; whitespace? (compact JSON has none)
          (then (if (i32.le_u (i32.load8_u (local.get $p)) (i32.const 32))
            (then (local.set $p (call $skip_ws (local.get $p) (local.get $end)))))))
        (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const 0))))
        (local.set $c (i32.load8_u (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eq (local.get $c) (i32.const 44))
          (then
            (if (i32.lt_u (local.get $p) (local.get $end))  ;; whitespace? (compact JSON has none)
              (then (if (i32.le_u (i32.load8_u (local.get $p)) (i32.const 32))
                (then (local.set $p (call $skip_ws (local.get $p) (local.get $end)))))))
            (br $member)))
        (if (i32.ne (local.get $c) (i32.const 125)) (then (return (i32.const 0))))))
    ;; trailing characters?
    (if (i32.lt_u (local.get $p) (local.get $end))  ;; whitespace? (compact JSON has none)
      (then (if (i32.le_u (i32.load8_u (local.get $p)) (i32.const 32))
        (then (local.set $p (call $skip_ws (local.get $p) (local.get $end)))))))
    (i32.eq (local.get $p) (local.get $end)))

  ;; The value at $p of field $which (1: $found_a, 2: $found_b), recorded as $fields says: the
  ;; position after the value, or -1 if it is malformed (a value of another type is skipped
  ;; as any other key's would be, so the scan goes on for the other field).
  (func $take (param $p i32) (param $end i32) (param $which i32) (result i32)
    (local $vs i32)
    (local $value i64)
    (local.set $value (i64.const -2))
    (block $typed
      (if (i32.lt_u (local.get $p) (local.get $end))
        (then
          (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 34))
            (then
              (local.set $vs (i32.add (local.get $p) (i32.const 1)))
              (local.set $p (call $skip_string (local.get $p) (local.get $end)))
              (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const -1))))
              (local.set $value
                (if (result i64) (global.get $had_escape)
                  (then (i64.const -3))
                  (else (call $pack (local.get $vs)
                                    (i32.sub (i32.sub (local.get $p) (i32.const 1))
                                             (local.get $vs))))))
              (br $typed)))))
      (local.set $p (call $skip_value (local.get $p) (local.get $end))))
    ;; a repeated field is -2 whatever its values
    (if (i32.eq (local.get $which) (i32.const 1))
      (then
        (global.set $found_a
          (if (result i64) (i64.eq (global.get $found_a) (i64.const -1))
            (then (local.get $value))
            (else (i64.const -2)))))
      (else
        (global.set $found_b
          (if (result i64) (i64.eq (global.get $found_b) (i64.const -1))
            (then (local.get $value))
            (else (i64.const -2))))))
    (local.get $p))

  ;; The answer for a $fields result that is not a value, or 0 if it is one.
  (func $field_error (param $found i64) (param $missing i32) (param $missing_len i32) (result i64)
    (if (i64.eq (local.get $found) (i64.const -1))
      (then (return (call $pack (local.get $missing) (local.get $missing_len)))))
    (if (i64.eq (local.get $found) (i64.const -2)) (then (return (i64.const 0x150_00000045))))
    (if (i64.eq (local.get $found) (i64.const -3)) (then (return (i64.const 0x1a0_0000003a))))
    (i64.const 0))

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

  ;; count/<customer> from the store: the count, or an error answer in $answer (0 if none).
  (global $answer (mut i64) (i64.const 0))
  (func $load_count (param $key i64) (result i64)
    (local $r i64)
    (local $count i64)
    (global.set $answer (i64.const 0))
    (local.set $r (call $kv_get (i32.const 16) (i32.const 16)
                                (i32.wrap_i64 (i64.shr_u (local.get $key) (i64.const 32)))
                                (i32.wrap_i64 (local.get $key))))
    (if (i64.eq (local.get $r) (i64.const -1)) (then (return (i64.const 0))))
    (if (i64.lt_s (local.get $r) (i64.const 0))
      (then
        (global.set $answer (i64.const 0x90_0000001f))
        (return (i64.const 0))))
    (local.set $count (call $parse_decimal (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32)))
                                           (i32.wrap_i64 (local.get $r))))
    (if (i32.eqz (global.get $decimal_ok))
      (then (global.set $answer (i64.const 0xb0_0000001a))))
    (local.get $count))

  ;; ---- endpoints ----

  (func $shipment_created (param $p i32) (param $n i32) (result i64)
    (local $shipment_id i64)
    (local $customer i64)
    (local $key i64)
    (local $r i64)
    (local $count i64)
    (call $fields (local.get $p) (local.get $n) (i32.const 64) (i32.const 11) (i32.const 80) (i32.const 8))
    (local.set $shipment_id (global.get $found_a))
    (local.set $customer (global.get $found_b))
    (local.set $r (call $field_error (local.get $shipment_id) (i32.const 208) (i32.const 52)))
    (if (i64.ne (local.get $r) (i64.const 0)) (then (return (local.get $r))))
    (local.set $r (call $field_error (local.get $customer) (i32.const 272) (i32.const 49)))
    (if (i64.ne (local.get $r) (i64.const 0)) (then (return (local.get $r))))

    ;; Already notified?
    (local.set $key (call $concat (i32.const 32) (i32.const 5) (local.get $shipment_id)))
    (local.set $r (call $kv_get (i32.const 16) (i32.const 16)
                                (i32.wrap_i64 (i64.shr_u (local.get $key) (i64.const 32)))
                                (i32.wrap_i64 (local.get $key))))
    (if (i64.ge_s (local.get $r) (i64.const 0)) (then (return (i64.const 0x80_0000000b))))
    (if (i64.ne (local.get $r) (i64.const -1)) (then (return (i64.const 0x90_0000001f))))
    (if (i32.lt_s (call $kv_put (i32.const 16) (i32.const 16)
                                (i32.wrap_i64 (i64.shr_u (local.get $key) (i64.const 32)))
                                (i32.wrap_i64 (local.get $key))
                                (i32.wrap_i64 (i64.shr_u (local.get $customer) (i64.const 32)))
                                (i32.wrap_i64 (local.get $customer)))
                  (i32.const 0))
      (then (return (i64.const 0x90_0000001f))))

    ;; count/<customer> += 1
    (local.set $key (call $concat (i32.const 48) (i32.const 6) (local.get $customer)))
    (local.set $count (call $load_count (local.get $key)))
    (if (i64.ne (global.get $answer) (i64.const 0)) (then (return (global.get $answer))))
    (call $out_begin)
    (call $out_i64 (i64.add (local.get $count) (i64.const 1)))
    (local.set $r (call $out_end))
    (if (i32.lt_s (call $kv_put (i32.const 16) (i32.const 16)
                                (i32.wrap_i64 (i64.shr_u (local.get $key) (i64.const 32)))
                                (i32.wrap_i64 (local.get $key))
                                (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32)))
                                (i32.wrap_i64 (local.get $r)))
                  (i32.const 0))
      (then (return (i64.const 0x90_0000001f))))

    ;; "notify <customer>: shipment <shipment_id>"
    (call $out_begin)
    (call $out_bytes (i32.const 96) (i32.const 7))
    (call $out_bytes (i32.wrap_i64 (i64.shr_u (local.get $customer) (i64.const 32)))
                     (i32.wrap_i64 (local.get $customer)))
    (call $out_bytes (i32.const 112) (i32.const 11))
    (call $out_bytes (i32.wrap_i64 (i64.shr_u (local.get $shipment_id) (i64.const 32)))
                     (i32.wrap_i64 (local.get $shipment_id)))
    (local.set $r (call $out_end))
    (call $log (i32.const 1) (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32)))
                             (i32.wrap_i64 (local.get $r)))
    (i64.const 0x80_0000000b))

  (func $sent_count (param $p i32) (param $n i32) (result i64)
    (local $customer i64)
    (local $r i64)
    (local $count i64)
    (call $fields (local.get $p) (local.get $n) (i32.const 80) (i32.const 8) (i32.const 0) (i32.const -1))
    (local.set $customer (global.get $found_a))
    (local.set $r (call $field_error (local.get $customer) (i32.const 272) (i32.const 49)))
    (if (i64.ne (local.get $r) (i64.const 0)) (then (return (local.get $r))))
    (local.set $count
      (call $load_count (call $concat (i32.const 48) (i32.const 6) (local.get $customer))))
    (if (i64.ne (global.get $answer) (i64.const 0)) (then (return (global.get $answer))))
    (call $out_begin)
    (call $out_bytes (i32.const 480) (i32.const 13))
    (call $out_bytes (i32.wrap_i64 (i64.shr_u (local.get $customer) (i64.const 32)))
                     (i32.wrap_i64 (local.get $customer)))
    (call $out_bytes (i32.const 496) (i32.const 9))
    (call $out_i64 (local.get $count))
    (call $out_bytes (i32.const 512) (i32.const 1))
    (call $out_end))

  (func (export "handle_on_shipment_created") (param $p i32) (param $n i32) (result i64)
    (local $r i64)
    (if (i32.eqz (local.get $n))  ;; an empty request comes without `alloc`
      (then (global.set $top (global.get $heap_base))))
    (global.set $in_handler (i32.const 1))
    (local.set $r (call $shipment_created (local.get $p) (local.get $n)))
    (global.set $in_handler (i32.const 0))
    (local.get $r))

  (func (export "handle_sent_count") (param $p i32) (param $n i32) (result i64)
    (local $r i64)
    (if (i32.eqz (local.get $n))  ;; an empty request comes without `alloc`
      (then (global.set $top (global.get $heap_base))))
    (global.set $in_handler (i32.const 1))
    (local.set $r (call $sent_count (local.get $p) (local.get $n)))
    (global.set $in_handler (i32.const 0))
    (local.get $r))
)
