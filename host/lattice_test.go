package host_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// playActor plays an actor on l's lattice under a fresh key, as another host's actor would: each
// invocation is answered, in its own goroutine, with what answer returns. It returns the key.
func playActor(t *testing.T, l *hosttest.Lattice, answer func() lattice.InvocationResponse) string {
	t.Helper()
	key := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	sub, err := l.NC.Subscribe(l.Ctl.Subjects().Actor(key), func(m *nats.Msg) {
		go func() {
			resp := answer()
			if inv, err := lattice.DecodeInvocation(m.Data); err == nil {
				resp.InvocationID = inv.ID
			}
			data, _ := resp.Encode()
			_ = m.Respond(data)
		}()
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return key
}

// holdActor plays an actor whose one call is held: entered is closed when the call arrives, and
// the call is answered "held" once the test closes release.
func holdActor(t *testing.T, l *hosttest.Lattice) (key string, entered, release chan struct{}) {
	t.Helper()
	entered, release = make(chan struct{}), make(chan struct{})
	key = playActor(t, l, func() lattice.InvocationResponse {
		close(entered)
		<-release
		return lattice.InvocationResponse{Msg: []byte("held")}
	})
	return key, entered, release
}

func TestTwoHostsShareTheLattice(t *testing.T) {
	l := hosttest.New(t)
	a := l.StartHost(func(c *host.Config) { c.Labels = map[string]string{"zone": "a"} })
	b := l.StartHost(func(c *host.Config) { c.Labels = map[string]string{"zone": "b"} })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	hosts, err := l.Ctl.GetHosts(ctx)
	require.NoError(t, err)
	ids := map[string]lattice.Host{}
	for _, hh := range hosts {
		ids[hh.ID] = hh
	}
	require.Len(t, ids, 2)
	require.Equal(t, "a", ids[a.ID()].Labels["zone"])
	require.Equal(t, "b", ids[b.ID()].Labels["zone"])
	require.Equal(t, "default", ids[a.ID()].LatticePrefix)
	require.Equal(t, l.Cluster.PublicKey(), ids[a.ID()].Issuer)

	// The echo actor runs on a; the relay on b calls it by key through a's queue subscription.
	echo := echoActor(t)
	relay := relayActor(t)
	l.StartActor(a, echo.Path, 1)
	l.StartActor(b, relay.Path, 1)
	req, err := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	require.NoError(t, err)
	out, err := relayCall(l, relay.ID, "", echo.ID, httpserver.OpHandleRequest, req)
	require.NoError(t, err)
	resp, err := httpserver.DecodeResponse(out)
	require.NoError(t, err)
	require.Equal(t, `{"body":[],"method":"GET","path":"/","query_string":""}`, string(resp.Body))

	invA, err := l.Ctl.GetInventory(ctx, a.ID())
	require.NoError(t, err)
	require.Len(t, invA.Actors, 1)
	require.Equal(t, echo.ID, invA.Actors[0].ID)
	invB, err := l.Ctl.GetInventory(ctx, b.ID())
	require.NoError(t, err)
	require.Len(t, invB.Actors, 1)
	require.Equal(t, relay.ID, invB.Actors[0].ID)

	// Auctions: only the host whose labels match answers.
	acks, err := l.Ctl.AuctionActor(ctx, lattice.ActorAuctionRequest{ActorRef: echo.Path, Constraints: map[string]string{"zone": "b"}})
	require.NoError(t, err)
	require.Len(t, acks, 1)
	require.Equal(t, b.ID(), acks[0].HostID)
}

// TestScaleRunsInstancesInParallel scales the relay to 3 and makes 3 concurrent calls, each of
// which blocks in a host call until all 3 are in flight: with fewer instances, the barrier would
// never fill.
func TestScaleRunsInstancesInParallel(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	relay := relayActor(t)
	id := l.StartActor(h, relay.Path, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, l.Ctl.ScaleActor(ctx, lattice.ScaleActorCommand{ActorID: id, Count: 3, HostID: h.ID()}))
	require.Eventually(t, func() bool {
		inv, err := l.Ctl.GetInventory(ctx, h.ID())
		return err == nil && len(inv.Actors) == 1 && len(inv.Actors[0].Instances) == 3
	}, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		return len(l.Events.Find(lattice.EventActorStarted, func(d map[string]any) bool { return d["public_key"] == id })) == 3
	}, 10*time.Second, 10*time.Millisecond, "one actor_started per instance")

	const n = 3
	var inFlight, maxInFlight atomic.Int32
	all := make(chan struct{})
	var once sync.Once
	barrierKey := playActor(t, l, func() lattice.InvocationResponse {
		cur := inFlight.Add(1)
		for {
			old := maxInFlight.Load()
			if cur <= old || maxInFlight.CompareAndSwap(old, cur) {
				break
			}
		}
		if cur == n {
			once.Do(func() { close(all) })
		}
		select {
		case <-all:
			return lattice.InvocationResponse{Msg: []byte("through")}
		case <-time.After(4 * time.Second):
			return lattice.InvocationResponse{Error: "barrier not reached"}
		}
	})

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = relayCall(l, id, "", barrierKey, "Barrier.Wait", nil)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, n, maxInFlight.Load())

	// Scale back down to 1: two actor_stopped events.
	require.NoError(t, l.Ctl.ScaleActor(ctx, lattice.ScaleActorCommand{ActorID: id, Count: 1, HostID: h.ID()}))
	require.Eventually(t, func() bool {
		return len(l.Events.Find(lattice.EventActorStopped, func(d map[string]any) bool { return d["public_key"] == id })) == 2
	}, 10*time.Second, 20*time.Millisecond)
	inv, err := l.Ctl.GetInventory(ctx, h.ID())
	require.NoError(t, err)
	require.Len(t, inv.Actors[0].Instances, 1)
}

// TestStopActorAnswersInvocationsInFlight stops an actor while one invocation is inside it
// (blocked in a host call the test holds) and more wait for its only instance: every one of them
// is answered, and only then is the actor gone for good.
func TestStopActorAnswersInvocationsInFlight(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	relay := relayActor(t)
	id := l.StartActor(h, relay.Path, 1)

	holdKey, entered, release := holdActor(t, l)

	held := make(chan error, 1)
	go func() {
		out, err := relayCall(l, id, "", holdKey, "Hold.Wait", nil)
		if err == nil && string(out) != "held" {
			err = fmt.Errorf("held call returned %q", out)
		}
		held <- err
	}()
	<-entered

	// These wait for the one instance, which the held call occupies.
	const queued = 5
	errs := make(chan error, queued)
	for i := range queued {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			want := fmt.Sprintf("queued %d", i)
			out, err := l.Ctl.Call(ctx, id, "Relay.Echo", []byte(want))
			if err == nil && string(out) != want {
				err = fmt.Errorf("echo returned %q, want %q", out, want)
			}
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return h.ActorLoad(id) == 1+queued }, 10*time.Second, 5*time.Millisecond,
		"all calls should have reached the host")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, l.Ctl.StopActor(ctx, lattice.StopActorCommand{HostID: h.ID(), ActorRef: id}))
	require.Eventually(t, func() bool {
		inv, err := l.Ctl.GetInventory(ctx, h.ID())
		return err == nil && len(inv.Actors) == 0
	}, 10*time.Second, 5*time.Millisecond, "the actor leaves the inventory at once")
	require.Empty(t, l.Events.Find(lattice.EventActorStopped, func(d map[string]any) bool { return d["public_key"] == id }),
		"actor_stopped comes only after the invocations in flight are answered")

	close(release)
	require.NoError(t, <-held)
	for range queued {
		require.NoError(t, <-errs)
	}
	l.Events.Wait(t, lattice.EventActorStopped, func(d map[string]any) bool { return d["public_key"] == id })
	_, err := l.Ctl.Call(ctx, id, "Relay.Echo", []byte("after"))
	require.Error(t, err, "a stopped actor takes no more invocations")
}
