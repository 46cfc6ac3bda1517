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
// guest error instead of killing the instance.
//
// The ABI code is in files built only for wasip1; on other platforms the package compiles,
// host calls fail with ErrNoHost, and the dispatch logic can be tested with plain go test.
//
// It imports only the standard library, the msgpack codec and lattice/contracts/*, and must
// not import any other Trellis package: it runs inside the sandbox, not in the host.
package actor
