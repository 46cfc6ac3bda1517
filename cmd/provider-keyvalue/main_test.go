package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	kv "github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
	"github.com/trellis-lattice/trellis/providers/providertest"
)

// TestBinary builds the provider, launches it as a host does (HostData on stdin), links an
// actor, increments a counter through the lattice, and stops it with a shutdown request.
func TestBinary(t *testing.T) {
	providertest.RunBinary(t, providertest.Binary{
		ContractID: kv.ContractID,
		Probe: func(t *testing.T, env providertest.Env) {
			req, err := kv.IncrementRequest{Key: "counter", Value: 2}.Encode()
			require.NoError(t, err)
			for want := int32(2); want <= 4; want += 2 {
				out, err := env.Call(kv.OpIncrement, req)
				require.NoError(t, err)
				var got int32
				require.NoError(t, kv.Unmarshal(out, &got))
				require.Equal(t, want, got)
			}
		},
	})
}
