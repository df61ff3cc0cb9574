;; corpus-coupling-fallback: `front.lookup` asks `profiles.get` (declared) for the profile; when that call fails it falls back to `archive.get`, which the design does not declare (the host refuses it, -2), and answers the first reply or {"error":"unavailable"}.
;; Hand-written: this file is the module (the ABI in guests/ABI.md).
(module
  (import "fusebench" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  ;; `alloc` always hands out the buffer at 1024 (growing memory to fit): the request is copied
  ;; to 16384 first, so a reply written there never overwrites it.
  (func (export "alloc") (param $len i32) (result i32)
    (local $short i32)
    (local.set $short
      (i32.sub
        (i32.shr_u (i32.add (i32.add (local.get $len) (i32.const 1024)) (i32.const 65535))
          (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $short) (i32.const 0))
      (then (drop (memory.grow (local.get $short)))))
    (i32.const 1024))
  (data (i32.const 16) "{\"error\":\"unavailable\"}")
  (data (i32.const 64) "profiles")
  (data (i32.const 128) "get")
  (data (i32.const 192) "archive")
  (func (export "handle_lookup") (param $p i32) (param $n i32) (result i64)
    (local $r i64)
    (memory.copy (i32.const 16384) (local.get $p) (local.get $n))
    (local.set $r (call $call (i32.const 64) (i32.const 8) (i32.const 128) (i32.const 3) (i32.const 16384) (local.get $n)))
    (if (i64.ge_s (local.get $r) (i64.const 0)) (then (return (local.get $r))))
    (local.set $r (call $call (i32.const 192) (i32.const 7) (i32.const 128) (i32.const 3) (i32.const 16384) (local.get $n)))
    (if (i64.ge_s (local.get $r) (i64.const 0)) (then (return (local.get $r))))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 23)))
)
