// Command provider-httpserver is the wasmcloud:httpserver capability provider binary: a host
// launches it and writes its HostData line to stdin (see package providers).
package main

import (
	"os"

	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/httpserver"
)

func main() { os.Exit(providers.Main(httpserver.New(), httpserver.Config())) }
