package lattice_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// reverser is a Handler that answers with its payload reversed, refuses origins it was told to,
// and fails operations named "Fail".
type reverser struct {
	refuse string
	seen   chan *lattice.Invocation
}

func (r *reverser) Name() string { return "actor under test" }

func (r *reverser) Accept(inv *lattice.Invocation) error {
	if inv.Origin.PublicKey == r.refuse {
		return errors.New("origin refused")
	}
	return nil
}

func (r *reverser) Handle(ctx context.Context, inv *lattice.Invocation) ([]byte, error) {
	if r.seen != nil {
		r.seen <- inv
	}
	if inv.Operation == "Fail" {
		return nil, errors.New("it failed")
	}
	if inv.Operation == "Slow" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	out := bytes.Clone(inv.Msg)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

type rpcLattice struct {
	caller  *lattice.Caller
	actor   lattice.Entity
	origin  lattice.Entity
	cluster *lattice.KeyPair
	nc      *nats.Conn // the caller's connection
	subj    lattice.Subjects
	ns      *server.Server
}

// newRPCLattice runs a server for h on an actor's subject, with the changes of opts applied to
// it, and a caller.
func newRPCLattice(t *testing.T, h lattice.Handler, timeout time.Duration, opts ...func(*lattice.Server)) *rpcLattice {
	t.Helper()
	s := latticetest.RunNATS(t)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	subj := lattice.NewSubjects("rpctest")
	actor := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixModule).PublicKey()}
	origin := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixService).PublicKey(), ContractID: "wasmcloud:test", LinkName: "default"}

	snc := latticetest.Connect(t, s)
	srv := &lattice.Server{
		Issuers: []string{cluster.PublicKey()},
		Chunks:  lattice.NewChunks(snc, "", "rpctest", lattice.ChunkLimits{}, zerolog.Nop()),
		Timeout: timeout,
		Log:     zerolog.Nop(),
	}
	for _, o := range opts {
		o(srv)
	}
	sub, err := snc.QueueSubscribe(subj.Actor(actor.PublicKey), subj.Actor(actor.PublicKey), func(m *nats.Msg) {
		go srv.Respond(context.Background(), m, h)
	})
	require.NoError(t, err)
	require.NoError(t, snc.Flush())
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	cnc := latticetest.Connect(t, s)
	caller := lattice.NewCaller(cnc, cluster, latticetest.Key(t, lattice.PrefixServer).PublicKey(), subj,
		lattice.NewChunks(cnc, "", "rpctest", lattice.ChunkLimits{}, zerolog.Nop()), timeout)
	return &rpcLattice{caller: caller, actor: actor, origin: origin, cluster: cluster, nc: cnc, subj: subj, ns: s}
}

func TestRoundTrip(t *testing.T) {
	h := &reverser{seen: make(chan *lattice.Invocation, 4)}
	l := newRPCLattice(t, h, time.Second)
	ctx := context.Background()

	out, err := l.caller.Call(ctx, l.origin, l.actor, "Echo.Reverse", []byte("abc"))
	require.NoError(t, err)
	require.Equal(t, "cba", string(out))
	inv := <-h.seen
	require.Equal(t, l.origin, inv.Origin)
	require.Equal(t, "Echo.Reverse", inv.Operation)
	require.Equal(t, uint64(3), *inv.ContentLength)

	// Over MaxInlinePayload both ways: through the object store, and the handler sees it whole.
	big := bytes.Repeat([]byte("0123456789"), lattice.MaxInlinePayload/10+7)
	out, err = l.caller.Call(ctx, l.origin, l.actor, "Echo.Reverse", big)
	require.NoError(t, err)
	require.Len(t, out, len(big))
	require.Equal(t, big[len(big)-1], out[0])
	require.Len(t, (<-h.seen).Msg, len(big))

	_, err = l.caller.Call(ctx, l.origin, l.actor, "Fail", nil)
	var remote *lattice.RemoteError
	require.ErrorAs(t, err, &remote)
	require.ErrorIs(t, err, lattice.ErrInvocation)
	require.Equal(t, "it failed", remote.Text)
	require.ErrorContains(t, err, "call actor "+l.actor.PublicKey+" Fail")
	<-h.seen
}

func TestRoundTripRefusals(t *testing.T) {
	refused := latticetest.Key(t, lattice.PrefixService).PublicKey()
	l := newRPCLattice(t, &reverser{refuse: refused}, 300*time.Millisecond)
	ctx := context.Background()

	_, err := l.caller.Call(ctx, lattice.Entity{PublicKey: refused, ContractID: "wasmcloud:test"}, l.actor, "Echo.Reverse", nil)
	require.ErrorIs(t, err, lattice.ErrInvocation)
	require.ErrorContains(t, err, "origin refused")

	// Nobody subscribed: the one "nothing answers" error, naming the subject and the lattice.
	other := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixModule).PublicKey()}
	_, err = l.caller.Call(ctx, l.origin, other, "Echo.Reverse", nil)
	require.ErrorIs(t, err, lattice.ErrNoResponder)
	require.ErrorContains(t, err, "wasmbus.rpc.rpctest."+other.PublicKey)
	require.ErrorContains(t, err, "lattice rpctest")
	provider := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixService).PublicKey(), ContractID: "wasmcloud:keyvalue", LinkName: "cache"}
	_, err = l.caller.Call(ctx, l.actor, provider, "KeyValue.Get", nil)
	require.ErrorIs(t, err, lattice.ErrNoResponder)
	require.ErrorContains(t, err, "wasmbus.rpc.rpctest."+provider.PublicKey+".cache")

	// The handler outlives the caller's patience: a deadline error, not a hang.
	start := time.Now()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = l.caller.Call(short, l.origin, l.actor, "Slow", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "no reply")
	require.Less(t, time.Since(start), 5*time.Second)

	_, err = l.caller.Call(ctx, l.origin, l.actor, "", nil)
	require.ErrorContains(t, err, "operation is empty")
}

// A server refuses an invocation signed by a key that is not one of its cluster issuers.
func TestRoundTripForged(t *testing.T) {
	s := latticetest.RunNATS(t)
	nc := latticetest.Connect(t, s)
	srv := &lattice.Server{Issuers: []string{latticetest.Key(t, lattice.PrefixCluster).PublicKey()}, Log: zerolog.Nop()}
	forger := latticetest.Key(t, lattice.PrefixCluster)
	subj := lattice.NewSubjects("rpctest")
	actor := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixModule).PublicKey()}
	sub, err := nc.Subscribe(subj.Actor(actor.PublicKey), func(m *nats.Msg) { srv.Respond(context.Background(), m, &reverser{}) })
	require.NoError(t, err)
	require.NoError(t, nc.Flush()) // subscribed on the server before the other connection calls
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	caller := lattice.NewCaller(latticetest.Connect(t, s), forger, "N", subj, nil, time.Second)
	_, err = caller.Call(context.Background(), lattice.Entity{PublicKey: "VX", ContractID: "c"}, actor, "Echo.Reverse", []byte("x"))
	require.ErrorIs(t, err, lattice.ErrInvocation)
	require.True(t, strings.Contains(err.Error(), "not a cluster issuer"), err.Error())
}
