// Command provider-messaging is the wasmcloud:messaging capability provider over NATS. A host
// launches it and writes the HostData line to its stdin; see package providers/messaging.
package main

import (
	"fmt"
	"os"

	"github.com/trellis-lattice/trellis/cmd/internal/tracing"
	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/messaging"
)

func main() { os.Exit(run()) }

func run() int {
	p, err := messaging.New(messaging.DefaultConfig())
	if err != nil {
		fmt.Fprintf(os.Stderr, "messaging provider: %v\n", err)
		return providers.ExitError
	}
	cfg := providers.DefaultConfig(messaging.ContractID)
	cfg.Name = "messaging"
	return tracing.ProviderMain("trellis-provider-messaging", p, cfg)
}
