// Command provider-httpserver is the wasmcloud:httpserver capability provider binary: a host
// launches it and writes its HostData line to stdin (see package providers).
package main

import (
	"os"

	"github.com/trellis-lattice/trellis/cmd/internal/tracing"
	"github.com/trellis-lattice/trellis/providers/httpserver"
)

func main() {
	os.Exit(tracing.ProviderMain("trellis-provider-httpserver", httpserver.New(), httpserver.Config()))
}
