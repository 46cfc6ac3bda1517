package host_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// A host refuses an invocation of its actor sent a second time, and a chunked one whose payload
// was swapped in the object store; the original calls work, over real NATS into a real actor.
func TestHostRefusesReplayedAndSwappedInvocations(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	relay := relayActor(t)
	l.StartActor(h, relay.Path, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	origin := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixModule).PublicKey()}
	target := lattice.Entity{PublicKey: relay.ID}
	send := func(inv *lattice.Invocation) *lattice.InvocationResponse {
		t.Helper()
		data, err := inv.Encode()
		require.NoError(t, err)
		reply, err := l.NC.RequestWithContext(ctx, l.Ctl.Subjects().Actor(relay.ID), data)
		require.NoError(t, err)
		resp, err := lattice.DecodeInvocationResponse(reply.Data)
		require.NoError(t, err)
		return resp
	}

	inv, err := lattice.NewInvocation(l.Cluster, "N", origin, target, "Relay.Echo", []byte("once"))
	require.NoError(t, err)
	resp := send(inv)
	require.Empty(t, resp.Error)
	require.Equal(t, "once", string(resp.Msg))
	resp = send(inv)
	require.Contains(t, resp.Error, "actor "+relay.ID+": invocation "+inv.ID+" of Relay.Echo: invocation replayed: invocation "+inv.ID+" was already answered by this server")

	big := make([]byte, lattice.MaxInlinePayload+4096)
	for i := range big {
		big[i] = byte(i * 13)
	}
	out, err := l.Ctl.Call(ctx, relay.ID, "Relay.Echo", big)
	require.NoError(t, err, "a chunked call works, and makes the chunk store")
	require.Equal(t, big, out)

	js := latticetest.JetStream(t, l.NC)
	obj, err := js.ObjectStore(ctx, l.Ctl.Subjects().ObjectStore())
	require.NoError(t, err)
	inv, err = lattice.NewInvocation(l.Cluster, "N", origin, target, "Relay.Echo", big)
	require.NoError(t, err)
	size := uint64(len(big))
	inv.ContentLength, inv.Msg = &size, []byte{}
	swapped := bytes.Clone(big)
	swapped[len(swapped)/2] ^= 0xff
	_, err = obj.PutBytes(ctx, inv.ID, swapped)
	require.NoError(t, err)
	resp = send(inv)
	require.Contains(t, resp.Error, "invocation failed anti-forgery check: hash")
	require.Contains(t, resp.Error, "chunked payload, as read from the object store, does not match the claims' hash")
	_, err = obj.GetInfo(ctx, inv.ID)
	require.ErrorIs(t, err, jetstream.ErrObjectNotFound)

	out, err = l.Ctl.Call(ctx, relay.ID, "Relay.Echo", big)
	require.NoError(t, err)
	require.Equal(t, big, out)
}
