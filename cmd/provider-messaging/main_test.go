package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	msg "github.com/trellis-lattice/trellis/lattice/contracts/messaging"
	"github.com/trellis-lattice/trellis/providers/providertest"
)

// TestBinary builds the provider, launches it as a host does (HostData on stdin), links an
// actor, publishes for it through the lattice, and stops it with a shutdown request.
func TestBinary(t *testing.T) {
	providertest.RunBinary(t, providertest.Binary{
		ContractID: msg.ContractID,
		LinkValues: func(*testing.T) map[string]string { return map[string]string{"SUBSCRIPTION": "to.actor"} },
		Probe: func(t *testing.T, env providertest.Env) {
			sub, err := env.NATS.SubscribeSync("from.actor")
			require.NoError(t, err)
			require.NoError(t, env.NATS.Flush())
			req, err := msg.PubMessage{Subject: "from.actor", Body: []byte("hello")}.Encode()
			require.NoError(t, err)
			_, err = env.Call(msg.OpPublish, req)
			require.NoError(t, err)
			got, err := sub.NextMsg(5 * time.Second)
			require.NoError(t, err)
			require.Equal(t, "hello", string(got.Data))
		},
	})
}
