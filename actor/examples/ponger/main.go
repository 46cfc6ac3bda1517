// Command ponger is an actor that answers Ponger.Ping with the bytes "pong". Callers reach it
// by its call alias, "wasmcloud/ponger", which is set in its claims when it is signed.
package main

import "github.com/trellis-lattice/trellis/actor"

func init() {
	actor.Handle("Ponger.Ping", func([]byte) ([]byte, error) { return []byte("pong"), nil })
}

func main() {}
