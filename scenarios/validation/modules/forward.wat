;; forward: carries one request through a tandem of stations (scenarios/validation/
;; tandem-jackson.toml). Endpoint `serve`, any request -> {}: calls station-a.serve with {},
;; then station-b.serve with {}, then answers {}. A failed call (negative code) answers
;; {"error":"station_unavailable"}. Guest ABI: guests/ABI.md.
;;
;; The module reads neither its request nor the stations' answers, so every buffer the host
;; asks for (`alloc`) is the same scratch area at 1024: nothing in it is ever used.
(module
  (import "fusebench" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))

  (memory (export "memory") 1)

  (data (i32.const 16) "station-a")                         ;; 16   9
  (data (i32.const 32) "station-b")                         ;; 32   9
  (data (i32.const 48) "serve")                             ;; 48   5
  (data (i32.const 64) "{}")                                ;; 64   2
  (data (i32.const 80) "{\"error\":\"station_unavailable\"}")  ;; 80  31

  ;; Scratch for whatever the host writes (the request, the stations' answers).
  (func (export "alloc") (param $len i32) (result i32)
    (if (i32.gt_u (local.get $len) (i32.const 64512)) (then unreachable))
    (i32.const 1024))

  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))

  ;; Calls `serve` of the station named at $name ($len bytes) with {}; true if it answered.
  (func $visit (param $name i32) (param $len i32) (result i32)
    (i64.ge_s
      (call $call (local.get $name) (local.get $len) (i32.const 48) (i32.const 5)
                  (i32.const 64) (i32.const 2))
      (i64.const 0)))

  (func (export "handle_serve") (param $p i32) (param $n i32) (result i64)
    (if (i32.eqz (call $visit (i32.const 16) (i32.const 9)))
      (then (return (call $pack (i32.const 80) (i32.const 31)))))
    (if (i32.eqz (call $visit (i32.const 32) (i32.const 9)))
      (then (return (call $pack (i32.const 80) (i32.const 31)))))
    (call $pack (i32.const 64) (i32.const 2)))
)
