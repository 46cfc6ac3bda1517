// Command hog is a test actor for the host's memory limit: Hog.Grow allocates 1 MiB blocks and
// keeps them, without end, as an actor with a leak does; Hog.Ping answers "pong".
package main

import "github.com/trellis-lattice/trellis/actor"

var kept [][]byte

func init() {
	actor.Handle("Hog.Grow", func([]byte) ([]byte, error) {
		for {
			kept = append(kept, make([]byte, 1<<20))
		}
	})
	actor.Handle("Hog.Ping", func([]byte) ([]byte, error) { return []byte("pong"), nil })
}

func main() {}
