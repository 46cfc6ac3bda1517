package main

import (
	"context"

	"github.com/trellis-lattice/trellis/host"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/providers/httpserver"
)

// builtinProviders are the providers `trellis up` and `trellis host` run in process, by reference.
func builtinProviders() map[string]host.BuiltinProvider {
	return map[string]host.BuiltinProvider{
		host.BuiltinHTTPServer: {Name: httpserver.BuiltinName, ContractID: contract.ContractID, New: newBuiltinHTTPServer},
	}
}

// newBuiltinHTTPServer is the wasmcloud:httpserver provider's server, calling actors through the
// host that runs it.
func newBuiltinHTTPServer(_ context.Context, bh *host.BuiltinHost) (host.Builtin, error) {
	return httpserver.NewWithCaller(bh, bh.Logger()), nil
}
