;; spin is a waPC actor for the watchdog tests. __guest_call dispatches on the first byte of the
;; operation:
;;   "Loop…"    never returns: a loop back-edge, where wazero checks whether the module was closed;
;;   "Recurse…" calls itself without end and without a loop: it traps on wazero's stack limit;
;;   "Host…"    makes one __host_call (binding "default", namespace "test", operation "Op") with
;;              the message, and answers the host's response;
;;   anything else echoes the message.
;; Build: wat2wasm spin.wat -o spin.wasm
(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__host_call"
    (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 3072) "defaulttestOp")

  (func $recurse (param $n i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))

  ;; op at 0, message at 1024, host response at 4096
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (local $op i32)
    (call $guest_request (i32.const 0) (i32.const 1024))
    (local.set $op (i32.load8_u (i32.const 0)))
    (if (i32.eq (local.get $op) (i32.const 0x4c)) ;; 'L'
      (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $op) (i32.const 0x52)) ;; 'R'
      (then (drop (call $recurse (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 0x48)) ;; 'H'
      (then
        (if (i32.eqz (call $host_call
              (i32.const 3072) (i32.const 7)   ;; default
              (i32.const 3079) (i32.const 4)   ;; test
              (i32.const 3083) (i32.const 2)   ;; Op
              (i32.const 1024) (local.get $msg_len)))
          (then (return (i32.const 0))))
        (call $host_response (i32.const 4096))
        (call $guest_response (i32.const 4096) (call $host_response_len))
        (return (i32.const 1))))
    (call $guest_response (i32.const 1024) (local.get $msg_len))
    (i32.const 1)))
