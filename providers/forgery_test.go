package providers_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// A provider refuses an invocation sent a second time, and a chunked one whose payload was
// swapped in the object store; the original calls work.
func TestProviderRefusesReplayedAndSwappedInvocations(t *testing.T) {
	r := newRig(t, newEcho(), nil)
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	require.True(t, r.put(t, r.link(actor, nil)).Accepted)
	origin := lattice.Entity{PublicKey: actor}
	target := lattice.Entity{PublicKey: r.hd.ProviderKey, ContractID: echoContract, LinkName: r.hd.LinkName}

	inv, err := lattice.NewInvocation(r.cluster, r.hd.HostID, origin, target, "Echo.Echo", []byte("once"))
	require.NoError(t, err)
	resp := r.send(t, inv)
	require.Empty(t, resp.Error)
	require.Equal(t, "once", string(resp.Msg))
	resp = r.send(t, inv)
	require.Contains(t, resp.Error, "invocation replayed: invocation "+inv.ID+" was already answered by this server")

	ctx := context.Background()
	js, err := jetstream.New(r.nc)
	require.NoError(t, err)
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: r.subj.ObjectStore()})
	require.NoError(t, err)
	big := bytes.Repeat([]byte("0123456789abcdef"), (lattice.MaxInlinePayload/16)+100)
	size := uint64(len(big))
	chunked := func(payload []byte) *lattice.InvocationResponse {
		inv, err := lattice.NewInvocation(r.cluster, r.hd.HostID, origin, target, "Echo.Echo", big)
		require.NoError(t, err)
		inv.ContentLength, inv.Msg = &size, []byte{}
		_, err = obj.PutBytes(ctx, inv.ID, payload)
		require.NoError(t, err)
		return r.send(t, inv)
	}
	resp = chunked(bytes.ToUpper(big))
	require.Contains(t, resp.Error, "invocation failed anti-forgery check")
	require.Contains(t, resp.Error, "chunked payload, as read from the object store, does not match the claims' hash")

	resp = chunked(big)
	require.Empty(t, resp.Error)
	out, err := obj.GetBytes(ctx, resp.InvocationID+"-r")
	require.NoError(t, err)
	require.Equal(t, big, out)
}
