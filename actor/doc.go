// Package actor is the Go guest SDK for Trellis and wasmCloud 0.x actors, built with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. It owns the guest side of the
// waPC/"wasmbus" ABI (PROTOCOL.md §3): the __guest_call export, the wasmbus imports, the
// table that dispatches an operation name to its handler, and host calls to providers,
// other actors and the host builtins.
//
// An actor's main package has an empty main and registers its handlers from init, which the
// host runs once per instance through _initialize:
//
//	func init() {
//		actor.HandleHTTP(func(r httpserver.HttpRequest) (httpserver.HttpResponse, error) {
//			return httpserver.HttpResponse{StatusCode: 200, Body: []byte("hi")}, nil
//		})
//	}
//
//	func main() {}
//
// One invocation runs at a time in an instance and runs to completion: handlers must not
// start goroutines that outlive it or block on channels. A handler that panics returns a
// guest error instead of killing the instance. Every call runs on the goroutine that ran init,
// whose stack persists from call to call.
//
// Cost. Go code compiled to wasm turns every taken branch into a jump back to the top of its
// function's dispatch loop, and a host that can interrupt guests (wazero's
// WithCloseOnContextDone, which Trellis hosts use) leaves the compiled code at each of those to
// check for cancellation: tens of nanoseconds per branch. Code heavy in branches and
// allocations (reflection: encoding/json, fmt, reflection-based msgpack) is therefore many
// times slower than natively, and each of those packages adds most of a megabyte to the
// module. This package uses neither: the contracts' codec is written by hand, the operation
// name and payload of each call are read into a buffer reused across calls, and HandleHTTP
// encodes its reply into one; handlers registered with Handle still get a copy of the payload
// they may keep. The echo example builds its JSON by hand for the same reasons.
//
// The ABI code is in files built only for wasip1; on other platforms the package compiles,
// host calls fail with ErrNoHost, and the dispatch logic can be tested with plain go test.
//
// It imports only the standard library and lattice/contracts/* (not even fmt), and must not
// import any other Trellis package: it runs inside the sandbox, not in the host.
package actor
