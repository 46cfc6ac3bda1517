package oci_test

import (
	"context"
	"fmt"

	"github.com/trellis-lattice/trellis/oci"
)

// A client refuses :latest (given or implied) unless its Config allows it, before it asks any
// registry.
func ExampleClient_Pull() {
	c, err := oci.NewClient(oci.DefaultConfig())
	if err != nil {
		panic(err)
	}
	_, err = c.Pull(context.Background(), "registry.example/echo", oci.KindActor, nil)
	fmt.Println(err)
	// Output: pull registry.example/echo: no tag means :latest, and :latest is refused; pin a version, or pass --allow-latest
}

func ExampleDetectKind() {
	kind, err := oci.DetectKind([]byte("\x00asm\x01\x00\x00\x00"))
	fmt.Println(kind, err)
	// Output: wasmCloud actor <nil>
}
