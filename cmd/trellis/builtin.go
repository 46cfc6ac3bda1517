package main

import (
	"context"

	"github.com/trellis-lattice/trellis/host"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/providers/httpserver"
)

// builtinProviders are the providers `trellis up` and `trellis host` run in process, by reference.
func builtinProviders() map[string]host.BuiltinProvider { return builtinProvidersWith(nil) }

// builtinProvidersWith are builtinProviders counting into the host's metrics (nil: none).
func builtinProvidersWith(hm *httpserver.Metrics) map[string]host.BuiltinProvider {
	return map[string]host.BuiltinProvider{
		host.BuiltinHTTPServer: {Name: httpserver.BuiltinName, ContractID: contract.ContractID, New: newBuiltinHTTPServer(hm)},
	}
}

// newBuiltinHTTPServer makes the wasmcloud:httpserver provider's server, calling actors through
// the host that runs it and counting its requests into hm.
func newBuiltinHTTPServer(hm *httpserver.Metrics) host.BuiltinFactory {
	return func(_ context.Context, bh *host.BuiltinHost) (host.Builtin, error) {
		p := httpserver.NewWithCaller(bh, bh.Logger())
		p.SetMetrics(hm)
		return p, nil
	}
}
