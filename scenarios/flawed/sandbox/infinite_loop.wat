;; Hostile guest: spins forever without calling the host.
;; Expected: GuestFault::FuelExhausted { budget } — fuel metering halts it deterministically.
(module
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.const 60000)) (then (global.set $bump (i32.const 1024))))
    (local.get $p))
  (func (export "handle_run") (param i32 i32) (result i64)
    (loop $forever (br $forever))
    (i64.const 0)))
