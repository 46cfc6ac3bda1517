package keyvalue_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	kv "github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/keyvalue"
	"github.com/trellis-lattice/trellis/providers/providertest"
)

// TestConformance runs the providers' conformance suite with an in-memory link and with a Redis
// link.
func TestConformance(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			providertest.Run(t, providertest.Subject{
				New: func(t *testing.T) providers.Provider {
					p, err := keyvalue.New(keyvalue.DefaultConfig())
					require.NoError(t, err)
					return p
				},
				Config:     providers.DefaultConfig(keyvalue.ContractID),
				LinkValues: b.values,
				Probe:      probe,
			})
		})
	}
}

// probe sets, reads and deletes a key through the lattice, leaving the store as it was.
func probe(t *testing.T, env providertest.Env) {
	t.Helper()
	call := func(op string, arg any) []byte {
		out, err := env.Call(op, encode(t, arg))
		require.NoError(t, err, op)
		return out
	}
	call(kv.OpSet, kv.SetRequest{Key: "probe", Value: env.ActorID})
	got, err := kv.DecodeGetResponse(call(kv.OpGet, "probe"))
	require.NoError(t, err)
	require.Equal(t, kv.GetResponse{Value: env.ActorID, Exists: true}, got)
	var existed bool
	require.NoError(t, kv.Unmarshal(call(kv.OpDel, "probe"), &existed))
	require.True(t, existed)

	_, err = env.Call("KeyValue.Nope", nil)
	require.ErrorContains(t, err, `unknown operation "KeyValue.Nope"`)
	_, err = env.Call(kv.OpGet, []byte{0xc1})
	require.ErrorContains(t, err, "KeyValue.Get: malformed msgpack")
}
