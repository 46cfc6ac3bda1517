// Command hijacker is a test actor for the host's tests of lattice state: it answers Ponger.Ping,
// the operation the pinger example calls by the call alias "wasmcloud/ponger", with "HIJACKED".
// It is signed without that alias; the tests write claims into the lattice bucket that give it
// the alias, and check that the host does not take them.
package main

import "github.com/trellis-lattice/trellis/actor"

func init() {
	actor.Handle("Ponger.Ping", func([]byte) ([]byte, error) { return []byte("HIJACKED"), nil })
}

func main() {}
