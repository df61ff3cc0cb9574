;; A property checker (guests/ABI.md, "Property checkers"): dedup markers are written once.
;; A consumer that claims `seen/<id>` before applying a message must claim it only if absent;
;; a marker written over an earlier one (a `store_write` of a `seen/` key whose accepting
;; replica held a version already, `prev_version` ≠ 0) means a duplicate went through as if
;; new. `handle_event` gets each trace line (JSON) and answers {} or {"violation": "..."};
;; `handle_end` answers whether any marker was written at all (else: not exercised).
;; Hand-written: this file is the module.
(module
  (memory (export "memory") 2)
  (data (i32.const 64) "\"ev\":\"store_write\"")          ;; 18 bytes
  (data (i32.const 128) "\"key\":\"seen/")               ;; 12 bytes
  (data (i32.const 192) "\"prev_version\":0,")           ;; 17 bytes
  (data (i32.const 256) "{}")                            ;; 2 bytes
  (data (i32.const 320) "{\"violation\":\"dedup marker overwritten: a duplicate was applied as new\"}") ;; 72 bytes
  (data (i32.const 448) "{\"exercised\":true}")          ;; 18 bytes
  (data (i32.const 512) "{\"exercised\":false,\"notes\":[\"no seen/ marker was written\"]}") ;; 59 bytes
  (global $markers (mut i32) (i32.const 0))
  ;; Every input goes to offset 4096; memory grows to fit it.
  (func (export "alloc") (param $len i32) (result i32)
    (local $need i32)
    (local.set $need (i32.add (i32.div_u (i32.add (local.get $len) (i32.const 4096)) (i32.const 65536)) (i32.const 1)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
        (then (unreachable)))))
    (i32.const 4096))
  ;; 1 when the `nlen` bytes at `n` occur in the `hlen` bytes at `h`.
  (func $contains (param $h i32) (param $hlen i32) (param $n i32) (param $nlen i32) (result i32)
    (local $i i32) (local $j i32)
    (block $no
      (loop $start
        (br_if $no (i32.gt_u (i32.add (local.get $i) (local.get $nlen)) (local.get $hlen)))
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $cmp
            (if (i32.eq (local.get $j) (local.get $nlen)) (then (return (i32.const 1))))
            (br_if $mismatch
              (i32.ne (i32.load8_u (i32.add (local.get $h) (i32.add (local.get $i) (local.get $j))))
                      (i32.load8_u (i32.add (local.get $n) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cmp)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $start)))
    (i32.const 0))
  (func $answer (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len))))
  (func (export "handle_event") (param $p i32) (param $n i32) (result i64)
    (if (i32.eqz (call $contains (local.get $p) (local.get $n) (i32.const 64) (i32.const 18)))
      (then (return (call $answer (i32.const 256) (i32.const 2)))))
    (if (i32.eqz (call $contains (local.get $p) (local.get $n) (i32.const 128) (i32.const 12)))
      (then (return (call $answer (i32.const 256) (i32.const 2)))))
    (global.set $markers (i32.add (global.get $markers) (i32.const 1)))
    (if (call $contains (local.get $p) (local.get $n) (i32.const 192) (i32.const 17))
      (then (return (call $answer (i32.const 256) (i32.const 2)))))
    (call $answer (i32.const 320) (i32.const 72)))
  (func (export "handle_end") (param i32 i32) (result i64)
    (if (global.get $markers) (then (return (call $answer (i32.const 448) (i32.const 18)))))
    (call $answer (i32.const 512) (i32.const 59))))
