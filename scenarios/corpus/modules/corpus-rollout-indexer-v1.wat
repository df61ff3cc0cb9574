;; corpus-rollout-indexer (v1): `indexer.index` consumes a document message and answers {"indexed":true} whatever it holds.
;; Hand-written: this file is the module (the ABI in guests/ABI.md).
(module
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
  (data (i32.const 16) "{\"indexed\":true}")
  (func (export "handle_index") (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 16)))
)
