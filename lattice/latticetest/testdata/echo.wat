;; echo: the smallest waPC actor. Every operation answers its message as it came; nothing is
;; imported but __guest_request and __guest_response, so an instance costs one page of memory.
;; Build: wat2wasm echo.wat -o echo.wasm
(module
  (import "wasmbus" "__guest_request" (func $request (param i32 i32)))
  (import "wasmbus" "__guest_response" (func $response (param i32 i32)))
  (memory (export "memory") 1)
  ;; The operation is written at 0 and the message after it (both fit one page in tests).
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (call $request (i32.const 0) (local.get $op_len))
    (call $response (local.get $op_len) (local.get $msg_len))
    (i32.const 1)))
