;; grow is a waPC actor for the memory limit tests. __guest_call reads its message as a
;; little-endian u32 N and grows the memory by N pages (64 KiB each): when memory.grow fails it
;; traps (unreachable), as a guest that cannot go on without the memory would; else it answers
;; the memory's size in pages before the grow, as a little-endian u32. A call with N = 0 grows
;; nothing and answers the size. The memory starts at 1 page.
;; Build: wat2wasm grow.wat -o grow.wasm
(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (memory (export "memory") 1)

  ;; op at 0, message at 1024, answer at 2048
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (local $before i32)
    (call $guest_request (i32.const 0) (i32.const 1024))
    (local.set $before (memory.grow (i32.load (i32.const 1024))))
    (if (i32.eq (local.get $before) (i32.const -1))
      (then (unreachable)))
    (i32.store (i32.const 2048) (local.get $before))
    (call $guest_response (i32.const 2048) (i32.const 4))
    (i32.const 1)))
