// Package examples holds example actors written with the Go guest SDK (package actor), one
// main package per directory, and a test that runs them under wazero with a minimal host.
//
//   - echo: answers every HTTP request with the request as JSON, like the wasmCloud echo.
//   - kvcounter: increments a counter per URL path in the linked key-value store.
//   - pinger, ponger: an actor-to-actor call through the call alias "wasmcloud/ponger".
//
// Build one from the repository root (the module needs no other flags or tools):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o echo.wasm ./actor/examples/echo
//
// The module imports from "wasmbus" and "wasi_snapshot_preview1" and exports __guest_call,
// memory and _initialize (check with wasm-objdump -x echo.wasm). Sign it, with the claims it
// needs (wasmcloud:httpserver; kvcounter also wasmcloud:keyvalue; ponger the call alias
// wasmcloud/ponger), before a host will start it.
package examples
