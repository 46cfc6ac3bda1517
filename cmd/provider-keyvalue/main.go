// Command provider-keyvalue is the wasmcloud:keyvalue capability provider: in memory per actor by
// default, Redis for links with a URL value. A host launches it and writes the HostData line to
// its stdin; see package providers/keyvalue.
package main

import (
	"fmt"
	"os"

	"github.com/trellis-lattice/trellis/cmd/internal/tracing"
	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/keyvalue"
)

func main() { os.Exit(run()) }

func run() int {
	p, err := keyvalue.New(keyvalue.DefaultConfig())
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyvalue provider: %v\n", err)
		return providers.ExitError
	}
	cfg := providers.DefaultConfig(keyvalue.ContractID)
	cfg.Name = "keyvalue"
	return tracing.ProviderMain("trellis-provider-keyvalue", p, cfg)
}
