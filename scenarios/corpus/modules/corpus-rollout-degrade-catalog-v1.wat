;; corpus-rollout-degrade (v1): `catalog.item` reads `item-1` from `catalog-db` and answers {"sku":"item-1","price":1299}; a missing key answers {"error":"not_found"}; when the store gives no answer (-3) it answers {"error":"storage_unavailable"} (an application error).
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
  (data (i32.const 16) "{\"error\":\"storage_unavailable\"}")
  (data (i32.const 128) "{\"sku\":\"item-1\",\"price\":1299}")
  (data (i32.const 256) "{\"error\":\"not_found\"}")
  (data (i32.const 512) "catalog-db")
  (data (i32.const 576) "item-1")
  (func (export "handle_item") (param $p i32) (param $n i32) (result i64)
    (local $r i64)
    (local.set $r (call $kv_get (i32.const 512) (i32.const 10) (i32.const 576) (i32.const 6)))
    (if (i64.ge_s (local.get $r) (i64.const 0)) (then (return (i64.or (i64.shl (i64.const 128) (i64.const 32)) (i64.const 29)))))
    (if (i64.eq (local.get $r) (i64.const -1)) (then (return (i64.or (i64.shl (i64.const 256) (i64.const 32)) (i64.const 21)))))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 31)))
)
