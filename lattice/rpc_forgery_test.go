package lattice_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// request sends an encoded invocation as it is and returns the decoded response.
func (l *rpcLattice) request(t *testing.T, inv *lattice.Invocation) *lattice.InvocationResponse {
	t.Helper()
	data, err := inv.Encode()
	require.NoError(t, err)
	reply, err := l.nc.Request(l.subj.Actor(l.actor.PublicKey), data, 10*time.Second)
	require.NoError(t, err)
	resp, err := lattice.DecodeInvocationResponse(reply.Data)
	require.NoError(t, err)
	return resp
}

// objectStore is the lattice's chunk store as a JetStream client sees it.
func (l *rpcLattice) objectStore(t *testing.T) (jetstream.ObjectStore, jetstream.Stream) {
	t.Helper()
	js := latticetest.JetStream(t, l.nc)
	obj, err := js.ObjectStore(context.Background(), l.subj.ObjectStore())
	require.NoError(t, err)
	stream, err := js.Stream(context.Background(), "OBJ_"+l.subj.ObjectStore())
	require.NoError(t, err)
	return obj, stream
}

// A captured invocation sent again is refused; so is a chunked one whose payload was swapped in
// the object store. The original calls work.
func TestRoundTripReplayAndSwapRefused(t *testing.T) {
	h := &reverser{seen: make(chan *lattice.Invocation, 8)}
	l := newRPCLattice(t, h, 5*time.Second)
	ctx := context.Background()

	inv, err := lattice.NewInvocation(l.cluster, "N", l.origin, l.actor, "Echo.Reverse", []byte("abc"))
	require.NoError(t, err)
	resp := l.request(t, inv)
	require.Empty(t, resp.Error)
	require.Equal(t, "cba", string(resp.Msg))
	<-h.seen
	resp = l.request(t, inv)
	require.Contains(t, resp.Error, lattice.ErrReplayedInvocation.Error())
	require.Contains(t, resp.Error, "invocation "+inv.ID+" was already answered by this server")
	require.Empty(t, h.seen, "a replay reaches no handler")

	// A chunked invocation whose payload is replaced in the store before the server reads it.
	big := bytes.Repeat([]byte("0123456789"), lattice.MaxInlinePayload/10+7)
	out, err := l.caller.Call(ctx, l.origin, l.actor, "Echo.Reverse", big)
	require.NoError(t, err, "the store exists after a first chunked call")
	require.Len(t, out, len(big))
	<-h.seen
	obj, _ := l.objectStore(t)
	inv, err = lattice.NewInvocation(l.cluster, "N", l.origin, l.actor, "Echo.Reverse", big)
	require.NoError(t, err)
	size := uint64(len(big))
	inv.ContentLength, inv.Msg = &size, []byte{}
	swapped := bytes.ToUpper(bytes.Clone(big))
	swapped[0] = 'X'
	_, err = obj.PutBytes(ctx, inv.ID, swapped)
	require.NoError(t, err)
	resp = l.request(t, inv)
	require.Contains(t, resp.Error, "invocation failed anti-forgery check")
	require.Contains(t, resp.Error, "chunked payload, as read from the object store, does not match the claims' hash")
	require.Empty(t, h.seen, "a swapped payload reaches no handler")
	_, err = obj.GetInfo(ctx, inv.ID)
	require.ErrorIs(t, err, jetstream.ErrObjectNotFound, "the swapped payload is deleted")

	// The caller's own calls, chunked or not, still work.
	out, err = l.caller.Call(ctx, l.origin, l.actor, "Echo.Reverse", big)
	require.NoError(t, err)
	require.Equal(t, big[len(big)-1], out[0])
	<-h.seen
	out, err = l.caller.Call(ctx, l.origin, l.actor, "Echo.Reverse", []byte("xy"))
	require.NoError(t, err)
	require.Equal(t, "yx", string(out))
}

// late is a reverser whose "Late" operation answers with a large reply after its caller gave up.
type late struct{ reverser }

func (l *late) Handle(ctx context.Context, inv *lattice.Invocation) ([]byte, error) {
	if inv.Operation == "Late" {
		select {
		case <-time.After(300 * time.Millisecond): // the caller waits 100 ms
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return bytes.Repeat([]byte("r"), lattice.MaxInlinePayload+1), nil
	}
	return l.reverser.Handle(ctx, inv)
}

// After 100 failed large-payload calls, every way a call fails, the chunk store holds what it
// held before: the handler fails, the target refuses the caller, the signer is not trusted, the
// caller gives up before a large reply is stored.
func TestChunkStoreBackToItsSizeAfterFailedCalls(t *testing.T) {
	refused := latticetest.Key(t, lattice.PrefixService).PublicKey()
	l := newRPCLattice(t, &late{reverser{refuse: refused}}, 2*time.Second)
	ctx := context.Background()
	big := bytes.Repeat([]byte("0123456789"), lattice.MaxInlinePayload/10+7)
	_, err := l.caller.Call(ctx, l.origin, l.actor, "Echo.Reverse", big)
	require.NoError(t, err)
	_, stream := l.objectStore(t)
	state := func() (uint64, uint64) {
		info, err := stream.Info(ctx)
		require.NoError(t, err)
		return info.State.Msgs, info.State.Bytes
	}
	msgs0, bytes0 := state()

	forger := lattice.NewCaller(l.nc, latticetest.Key(t, lattice.PrefixCluster), "N", l.subj,
		lattice.NewChunks(l.nc, "", l.subj.Lattice, lattice.ChunkLimits{}, zerolog.Nop()), 2*time.Second)
	fail := []func() error{
		func() error { _, err := l.caller.Call(ctx, l.origin, l.actor, "Fail", big); return err },
		func() error {
			_, err := l.caller.Call(ctx, lattice.Entity{PublicKey: refused, ContractID: "wasmcloud:test"}, l.actor, "Echo.Reverse", big)
			return err
		},
		func() error { _, err := forger.Call(ctx, l.origin, l.actor, "Echo.Reverse", big); return err },
		func() error {
			short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_, err := l.caller.Call(short, l.origin, l.actor, "Late", big)
			return err
		},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if err := fail[(w+i)%len(fail)](); err == nil {
					errs <- fmt.Errorf("call %d of worker %d did not fail", i, w)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		msgs, size := state()
		return msgs == msgs0 && size == bytes0
	}, 20*time.Second, 50*time.Millisecond, "the chunk store holds what it held before the failed calls")
	msgs, size := state()
	t.Logf("chunk store after 100 failed calls: %d messages, %d bytes (before: %d, %d)", msgs, size, msgs0, bytes0)
}

// The chunk store has its own size limit and expiry, and is a stream apart from the links and
// claims: with it full, a call with a large payload fails with an error naming the store, leaves
// nothing behind, and links can still be written.
func TestChunkStoreFullLeavesLinksWritable(t *testing.T) {
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		JetStreamMaxStore: 24 << 20,
	})
	require.NoError(t, err)
	ns.Start()
	t.Cleanup(ns.Shutdown)
	require.True(t, ns.ReadyForConnections(10*time.Second))
	nc := latticetest.Connect(t, ns)
	js := latticetest.JetStream(t, nc)
	ctx := context.Background()
	subj := lattice.NewSubjects("full")
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	limits := lattice.ChunkLimits{MaxBytes: 4 << 20, MaxAge: 2 * time.Minute}
	chunks := lattice.NewChunks(nc, "", "full", limits, zerolog.Nop())
	srv := &lattice.Server{Issuers: []string{cluster.PublicKey()}, Chunks: chunks, Timeout: 5 * time.Second, Log: zerolog.Nop()}
	actor := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixModule).PublicKey()}
	sub, err := nc.Subscribe(subj.Actor(actor.PublicKey), func(m *nats.Msg) { srv.Respond(ctx, m, &reverser{}) })
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	caller := lattice.NewCaller(latticetest.Connect(t, ns), cluster, "N", subj, lattice.NewChunks(nc, "", "full", limits, zerolog.Nop()), 5*time.Second)
	origin := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixModule).PublicKey()}
	big := bytes.Repeat([]byte("z"), lattice.MaxInlinePayload+1)
	_, err = caller.Call(ctx, origin, actor, "Echo.Reverse", big)
	require.NoError(t, err)

	stream, err := js.Stream(ctx, "OBJ_full")
	require.NoError(t, err)
	cfg := stream.CachedInfo().Config
	require.Equal(t, limits.MaxBytes, cfg.MaxBytes)
	require.Equal(t, limits.MaxAge, cfg.MaxAge)

	// Fill the store with payloads nobody takes.
	obj, err := js.ObjectStore(ctx, "full")
	require.NoError(t, err)
	for i := 0; ; i++ {
		require.Less(t, i, 10, "the chunk store of 4 MiB took 10 MiB")
		if _, err := obj.PutBytes(ctx, fmt.Sprint("filler-", i), big); err != nil {
			break
		}
	}
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	before := info.State

	_, err = caller.Call(ctx, origin, actor, "Echo.Reverse", big)
	require.ErrorContains(t, err, "store chunked payload")
	require.ErrorContains(t, err, "in full (at most 4194304 bytes in all)")
	info, err = stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, before.Msgs, info.State.Msgs, "the failed put left nothing behind")
	require.Equal(t, before.Bytes, info.State.Bytes)

	store, err := lattice.OpenStore(ctx, js, "full", 1)
	require.NoError(t, err)
	link := lattice.LinkDefinition{ActorID: actor.PublicKey, ProviderID: latticetest.Key(t, lattice.PrefixService).PublicKey(),
		ContractID: "wasmcloud:keyvalue", Values: map[string]string{"URL": "redis://127.0.0.1:6379"}}
	require.NoError(t, store.PutLink(ctx, link), "links are written with the chunk store full")
	got, err := store.Link(ctx, link.ActorID, link.ContractID, lattice.DefaultLinkName)
	require.NoError(t, err)
	require.Equal(t, link.Values, got.Values)

	// Small calls are untouched by the full store.
	out, err := caller.Call(ctx, origin, actor, "Echo.Reverse", []byte("ab"))
	require.NoError(t, err)
	require.Equal(t, "ba", string(out))
}

// A chunk store made without limits (by an older host) gets them when a host binds it.
func TestChunkStoreWithoutLimitsGetsThem(t *testing.T) {
	ns := latticetest.RunNATS(t)
	nc := latticetest.Connect(t, ns)
	js := latticetest.JetStream(t, nc)
	ctx := context.Background()
	_, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "old"})
	require.NoError(t, err)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	subj := lattice.NewSubjects("old")
	actor := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixModule).PublicKey()}
	srv := &lattice.Server{Issuers: []string{cluster.PublicKey()}, Chunks: lattice.NewChunks(nc, "", "old", lattice.ChunkLimits{}, zerolog.Nop()), Log: zerolog.Nop()}
	sub, err := nc.Subscribe(subj.Actor(actor.PublicKey), func(m *nats.Msg) { srv.Respond(ctx, m, &reverser{}) })
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	caller := lattice.NewCaller(latticetest.Connect(t, ns), cluster, "N", subj, lattice.NewChunks(nc, "", "old", lattice.ChunkLimits{}, zerolog.Nop()), 5*time.Second)
	_, err = caller.Call(ctx, lattice.Entity{PublicKey: actor.PublicKey}, actor, "Echo.Reverse", make([]byte, lattice.MaxInlinePayload+1))
	require.NoError(t, err)
	stream, err := js.Stream(ctx, "OBJ_old")
	require.NoError(t, err)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, lattice.DefaultChunkMaxBytes, info.Config.MaxBytes)
	require.Equal(t, lattice.DefaultChunkMaxAge, info.Config.MaxAge)
}
