;; corpus-coupling-peek: `reports.daily` reads `balance/acct-1` from `accounts-db` — a store `accounts` owns and `reports` does not declare it reads (the host refuses it, -2) — ignores the result and answers {"ok":true}.
;; Hand-written: this file is the module (the ABI in guests/ABI.md).
(module
  (import "fusebench" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
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
  (data (i32.const 16) "{\"ok\":true}")
  (data (i32.const 64) "accounts-db")
  (data (i32.const 128) "balance/acct-1")
  (func (export "handle_daily") (param $p i32) (param $n i32) (result i64)
    (drop (call $kv_get (i32.const 64) (i32.const 11) (i32.const 128) (i32.const 14)))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 11)))
)
