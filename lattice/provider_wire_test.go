package lattice_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
)

// TestProviderWireBytes pins the bytes of the provider wire vocabulary to what the first wave
// sent (a map literal for the shutdown request, an empty map for the health request), so moving
// the types into lattice changed nothing on the wire.
func TestProviderWireBytes(t *testing.T) {
	req, err := lattice.Marshal(lattice.HealthRequest{})
	require.NoError(t, err)
	old, err := lattice.Marshal(map[string]any{})
	require.NoError(t, err)
	require.Equal(t, old, req, "health request: an empty msgpack map")

	reply, err := lattice.Marshal(lattice.HealthReply{Healthy: true})
	require.NoError(t, err)
	oldReply, err := lattice.Marshal(map[string]any{"healthy": true, "message": ""})
	require.NoError(t, err)
	var a, b map[string]any
	require.NoError(t, lattice.Unmarshal(reply, &a))
	require.NoError(t, lattice.Unmarshal(oldReply, &b))
	require.Equal(t, b, a, "health reply: {healthy, message}, message always present")
	require.Equal(t, byte(0x82), reply[0], "a two-entry map")

	var back lattice.HealthReply
	require.NoError(t, lattice.Unmarshal([]byte{0x81, 0xa7, 'h', 'e', 'a', 'l', 't', 'h', 'y', 0xc3}, &back))
	require.Equal(t, lattice.HealthReply{Healthy: true}, back, "an upstream reply without message")

	shut, err := json.Marshal(lattice.ShutdownRequest{HostID: "NHOST"})
	require.NoError(t, err)
	oldShut, err := json.Marshal(map[string]string{"host_id": "NHOST"})
	require.NoError(t, err)
	require.Equal(t, string(oldShut), string(shut))
	require.Equal(t, "shutting down", lattice.ShutdownAck)
}
