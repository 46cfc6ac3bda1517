package host_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

func echoActor(t testing.TB) latticetest.Actor {
	return latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{
		Name: "echo", Caps: []string{httpserver.ContractID}, Rev: 1, Ver: "0.1.0"}, lattice.SignOptions{})
}

func relayActor(t testing.TB, caps ...string) latticetest.Actor {
	return latticetest.SignedActor(t, "./host/testdata/relay", lattice.ActorMetadata{Name: "relay", Caps: caps}, lattice.SignOptions{})
}

func callHTTP(t *testing.T, l *hosttest.Lattice, actorID string, req httpserver.HttpRequest) httpserver.HttpResponse {
	t.Helper()
	msg, err := req.Encode()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := l.Ctl.Call(ctx, actorID, httpserver.OpHandleRequest, msg)
	require.NoError(t, err)
	resp, err := httpserver.DecodeResponse(out)
	require.NoError(t, err)
	return resp
}

// relayCall asks the relay actor to make a host call and returns its reply or error.
func relayCall(l *hosttest.Lattice, relayID, binding, namespace, operation string, msg []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return l.Ctl.Call(ctx, relayID, "Relay.HostCall", hostCallMsg(binding, namespace, operation, msg))
}

// hostCallMsg describes a host call for the relay to make (Relay.HostCall, Relay.Revision).
func hostCallMsg(binding, namespace, operation string, msg []byte) []byte {
	b, _ := json.Marshal(map[string]any{"binding": binding, "namespace": namespace, "operation": operation, "msg": msg})
	return b
}

func TestEchoThroughTheLattice(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	echo := echoActor(t)
	id := l.StartActor(h, echo.Path, 1)
	require.Equal(t, echo.ID, id)

	tests := []struct {
		name string
		req  httpserver.HttpRequest
		want string
	}{
		{"get root", httpserver.HttpRequest{Method: "GET", Path: "/"}, `{"body":[],"method":"GET","path":"/","query_string":""}`},
		{"post hello", httpserver.HttpRequest{Method: "POST", Path: "/x", QueryString: "a=1", Body: []byte("hello")},
			`{"body":[104,101,108,108,111],"method":"POST","path":"/x","query_string":"a=1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := callHTTP(t, l, id, tt.req)
			require.EqualValues(t, 200, resp.StatusCode)
			require.Equal(t, tt.want, string(resp.Body))
		})
	}
}

func TestPingerCallsPongerByAlias(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	ponger := latticetest.SignedActor(t, "./actor/examples/ponger", lattice.ActorMetadata{Name: "ponger", CallAlias: "wasmcloud/ponger"}, lattice.SignOptions{})
	pinger := latticetest.SignedActor(t, "./actor/examples/pinger", lattice.ActorMetadata{Name: "pinger", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
	l.StartActor(h, ponger.Path, 1)
	l.StartActor(h, pinger.Path, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := l.Ctl.Call(ctx, pinger.ID, "Pinger.Ping", nil)
	require.NoError(t, err)
	require.JSONEq(t, `{"value":"ping pong"}`, string(out))
}

func TestHostCallRouting(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	// The relay may use keyvalue and logging but not messaging.
	relay := relayActor(t, "wasmcloud:keyvalue", host.BuiltinLogging, host.BuiltinNumberGen)
	echo := echoActor(t)
	l.StartActor(h, relay.Path, 1)
	l.StartActor(h, echo.Path, 1)
	provider := latticetest.Key(t, lattice.PrefixService)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, l.Ctl.PutLink(ctx, lattice.LinkDefinition{ActorID: relay.ID, ProviderID: provider.PublicKey(), ContractID: "wasmcloud:messaging"}))
	// A link to a provider that runs nowhere, under link name "cache".
	require.NoError(t, l.Ctl.PutLink(ctx, lattice.LinkDefinition{ActorID: relay.ID, ProviderID: provider.PublicKey(), ContractID: "wasmcloud:keyvalue", LinkName: "cache"}))
	require.Eventually(t, func() bool {
		links, err := l.Ctl.GetLinks(ctx)
		return err == nil && len(links) == 2
	}, 10*time.Second, 10*time.Millisecond)

	guid, err := relayCall(l, relay.ID, "", host.BuiltinNumberGen, "NumberGen.GenerateGuid", nil)
	require.NoError(t, err)
	var s string
	require.NoError(t, lattice.Unmarshal(guid, &s))
	require.Len(t, s, 36)

	req, err := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	require.NoError(t, err)
	out, err := relayCall(l, relay.ID, "", echo.ID, httpserver.OpHandleRequest, req)
	require.NoError(t, err, "actor to actor by key")
	resp, err := httpserver.DecodeResponse(out)
	require.NoError(t, err)
	require.Equal(t, `{"body":[],"method":"GET","path":"/","query_string":""}`, string(resp.Body))

	refusals := []struct {
		name, namespace, want string
	}{
		{"contract not in caps, link present", "wasmcloud:messaging", "not allowed to call wasmcloud:messaging"},
		{"no link", "wasmcloud:keyvalue", "no link definition for actor " + relay.ID + ", contract wasmcloud:keyvalue"},
		{"unknown alias", "nobody/here", "Call alias not found"},
		{"builtin without cap", "wasmcloud:builtin:unknown", "not allowed to call wasmcloud:builtin:unknown"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := relayCall(l, relay.ID, "", tt.namespace, "Any.Thing", []byte{0xc0})
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
	// Nothing running to answer: the round trip's one error, for a provider and for an actor.
	_, err = relayCall(l, relay.ID, "cache", "wasmcloud:keyvalue", "KeyValue.Get", []byte{0xa1, 'k'})
	require.ErrorContains(t, err, "nothing is running to answer on "+l.Ctl.Subjects().Provider(provider.PublicKey(), "cache"))
	gone := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	_, err = relayCall(l, relay.ID, "", gone, "Any.Thing", nil)
	require.ErrorContains(t, err, "nothing is running to answer on "+l.Ctl.Subjects().Actor(gone))

	// The host still serves.
	require.Equal(t, 200, int(callHTTP(t, l, echo.ID, httpserver.HttpRequest{Method: "GET", Path: "/"}).StatusCode))
}

// TestLargePayloadsTravelThroughTheObjectStore sends 2 MiB to an actor and gets 2 MiB back: both
// ways over MaxInlinePayload, so both travel through the lattice's object store.
func TestLargePayloadsTravelThroughTheObjectStore(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	relay := relayActor(t)
	l.StartActor(h, relay.Path, 1)
	big := make([]byte, 2<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := l.Ctl.Call(ctx, relay.ID, "Relay.Echo", big)
	require.NoError(t, err)
	require.Equal(t, big, out)
}
