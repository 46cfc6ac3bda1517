package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

func TestBadModulesAreRefused(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	echo := echoActor(t)
	l.StartActor(h, echo.Path, 1)

	unsigned := writeTemp(t, latticetest.BuildWasm(t, "./actor/examples/echo"))
	tampered := append([]byte(nil), echo.Module...)
	// Flip a byte well inside the code, far from the claims section at the end.
	tampered[len(tampered)/2] ^= 0xff
	expired := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "old"}, latticetest.Expired())

	tests := []struct {
		name, path, want string
	}{
		{"unsigned", unsigned, "not signed"},
		{"tampered", writeTemp(t, tampered), "hash"},
		{"expired", expired.Path, "expired"},
		{"missing file", "/nonexistent/actor.wasm", "no such file"},
		{"not wasm", writeTemp(t, []byte("hello")), "wasm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := l.StartActorFails(h, tt.path)
			require.Contains(t, msg, tt.want)
		})
	}
	// Still serving, with only echo.
	inv, err := l.Ctl.GetInventory(context.Background(), h.ID())
	require.NoError(t, err)
	require.Len(t, inv.Actors, 1)
	require.Equal(t, 200, int(callHTTP(t, l, echo.ID, httpserver.HttpRequest{Method: "GET", Path: "/"}).StatusCode))
}

func TestForgedInvocationsAreRefused(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	echo := echoActor(t)
	l.StartActor(h, echo.Path, 1)

	msg, err := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	require.NoError(t, err)
	origin := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixModule).PublicKey()}
	target := lattice.Entity{PublicKey: echo.ID}
	stranger := latticetest.Key(t, lattice.PrefixCluster)
	provider := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixService).PublicKey(), ContractID: "wasmcloud:keyvalue", LinkName: "default"}

	tests := []struct {
		name   string
		forge  func() *lattice.Invocation
		raw    []byte
		wanted string
	}{
		{"valid", func() *lattice.Invocation { return mustInvocation(t, l.Cluster, origin, target, msg) }, nil, ""},
		{"unknown issuer", func() *lattice.Invocation { return mustInvocation(t, stranger, origin, target, msg) }, nil, "not a cluster issuer"},
		{"bad signature", func() *lattice.Invocation {
			inv := mustInvocation(t, l.Cluster, origin, target, msg)
			b := []byte(inv.EncodedClaims)
			b[len(b)-3] ^= 0x01
			if b[len(b)-3] == inv.EncodedClaims[len(b)-3] {
				b[len(b)-3] = 'A'
			}
			inv.EncodedClaims = string(b)
			return inv
		}, nil, "anti-forgery"},
		{"wrong hash", func() *lattice.Invocation {
			inv := mustInvocation(t, l.Cluster, origin, target, msg)
			inv.Msg = bytes.Repeat([]byte{1}, 10)
			return inv
		}, nil, "hash"},
		{"wrong target", func() *lattice.Invocation {
			other := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixModule).PublicKey()}
			return mustInvocation(t, l.Cluster, origin, other, msg)
		}, nil, "targets"},
		{"provider without the capability", func() *lattice.Invocation { return mustInvocation(t, l.Cluster, provider, target, msg) }, nil, "does not have the capability wasmcloud:keyvalue"},
		{"malformed msgpack", nil, []byte{0x85, 0xff, 0x00}, "malformed msgpack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.raw
			if tt.forge != nil {
				var err error
				data, err = tt.forge().Encode()
				require.NoError(t, err)
			}
			reply, err := l.NC.Request(l.Ctl.Subjects().Actor(echo.ID), data, 5*time.Second)
			require.NoError(t, err)
			resp, err := lattice.DecodeInvocationResponse(reply.Data)
			require.NoError(t, err)
			if tt.wanted == "" {
				require.Empty(t, resp.Error)
				r, err := httpserver.DecodeResponse(resp.Msg)
				require.NoError(t, err)
				require.EqualValues(t, 200, r.StatusCode)
				return
			}
			require.Contains(t, resp.Error, tt.wanted)
			require.Empty(t, resp.Msg)
		})
	}
}

func mustInvocation(t *testing.T, cluster *lattice.KeyPair, origin, target lattice.Entity, msg []byte) *lattice.Invocation {
	t.Helper()
	inv, err := lattice.NewInvocation(cluster, "test", origin, target, httpserver.OpHandleRequest, msg)
	require.NoError(t, err)
	return inv
}

func TestMalformedControlJSONIsRefused(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	s := l.Ctl.Subjects()
	subjects := []string{
		s.Command(h.ID(), lattice.CmdLaunchActor),
		s.Command(h.ID(), lattice.CmdStopActor),
		s.Command(h.ID(), lattice.CmdScaleActor),
		s.Command(h.ID(), lattice.CmdUpdateActor),
		s.LinkPut(),
		s.LinkDel(),
	}
	for _, subject := range subjects {
		for _, payload := range []string{"", "{", `{"actor_ref": 5}`, "[]"} {
			reply, err := l.NC.Request(subject, []byte(payload), 5*time.Second)
			require.NoError(t, err, subject)
			var ack lattice.Ack
			require.NoError(t, json.Unmarshal(reply.Data, &ack), "%s: %s", subject, reply.Data)
			require.False(t, ack.Accepted, "%s %q accepted", subject, payload)
			require.NotEmpty(t, ack.Error)
		}
	}
	// A link with a bad actor key is refused with the field named, and nothing is stored.
	reply, err := l.NC.Request(s.LinkPut(), []byte(`{"actor_id":"Mnope","provider_id":"Vnope","contract_id":"x"}`), 5*time.Second)
	require.NoError(t, err)
	var ack lattice.Ack
	require.NoError(t, json.Unmarshal(reply.Data, &ack))
	require.False(t, ack.Accepted)
	require.Contains(t, ack.Error, "actor_id")
	links, err := l.Ctl.GetLinks(context.Background())
	require.NoError(t, err)
	require.Empty(t, links)
	// Unknown commands too.
	reply, err = l.NC.Request(s.Command(h.ID(), "nope"), []byte(`{}`), 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(reply.Data, &ack))
	require.False(t, ack.Accepted)
	require.Contains(t, ack.Error, `unknown host command "nope"`)
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	f := t.TempDir() + "/module.wasm"
	require.NoError(t, os.WriteFile(f, b, 0o644))
	return f
}
