;; Hostile guest: calls `env.abort` as AssemblyScript's runtime does on a failed assertion,
;; with its UTF-16 message "boom!" and file "svc.ts" (byte length stored 4 bytes before each).
;; Expected: GuestFault::Abort { message: "boom!", file: "svc.ts", line: 12, column: 5 }.
(module
  (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.const 60000)) (then (global.set $bump (i32.const 1024))))
    (local.get $p))
  (data (i32.const 60) "\0a\00\00\00b\00o\00o\00m\00!\00")
  (data (i32.const 96) "\0c\00\00\00s\00v\00c\00.\00t\00s\00")
  (func (export "handle_run") (param i32 i32) (result i64)
    (call $abort (i32.const 64) (i32.const 100) (i32.const 12) (i32.const 5))
    (i64.const 0)))
