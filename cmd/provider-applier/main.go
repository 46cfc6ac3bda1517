// Command provider-applier is the cosmonic:kubernetes_applier capability provider binary, which
// also keeps a Kubernetes Service for every wasmcloud:httpserver link of its lattice: a host
// launches it and writes its HostData line to stdin (see packages providers and applier).
package main

import (
	"os"

	"github.com/trellis-lattice/trellis/applier"
	"github.com/trellis-lattice/trellis/cmd/internal/tracing"
)

func main() {
	os.Exit(tracing.ProviderMain("trellis-provider-applier", applier.New(applier.DefaultConfig()), applier.ProviderConfig()))
}
