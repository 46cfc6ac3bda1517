package host_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

var relayMeta = lattice.ActorMetadata{Name: "relay"}

// revisionOf asks the relay which revision answers; given a host call (as hostCallMsg describes
// it), the relay makes that call first.
func revisionOf(ctx context.Context, l *hosttest.Lattice, id string, hostCall ...[]byte) (int, error) {
	var msg []byte
	if len(hostCall) > 0 {
		msg = hostCall[0]
	}
	out, err := l.Ctl.Call(ctx, id, "Relay.Revision", msg)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(out))
}

func requireRevision(t *testing.T, l *hosttest.Lattice, id string, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := revisionOf(ctx, l, id)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// TestStartOfOtherBytesIsRefused starts a module whose key already runs on the host: the same
// bytes from another reference add instances, and the start's events carry that reference;
// other bytes are refused at once, pointing to an update, and the running module keeps serving.
func TestStartOfOtherBytesIsRefused(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	revs := hosttest.Revisions(t, hosttest.RelayPackage, relayMeta, 1, 2)
	v1, v2 := revs[0], revs[1]
	id := l.StartActor(h, v1.Path, 1)

	// The same bytes under another reference: more instances, and ctl's wait ends.
	copyRef := filepath.Join(t.TempDir(), "relay_copy_s.wasm")
	require.NoError(t, os.WriteFile(copyRef, v1.Module, 0o644))
	require.Equal(t, id, l.StartActor(h, copyRef, 2))

	msg := l.StartActorFails(h, v2.Path)
	require.Equal(t, fmt.Sprintf(`actor %s already runs on this host from %s (revision 1); %s holds other bytes (revision 2): use "trellis ctl update actor %s %s" to replace it`,
		id, v1.Path, v2.Path, id, v2.Path), msg)

	inv, err := l.Ctl.GetInventory(context.Background(), h.ID())
	require.NoError(t, err)
	require.Len(t, inv.Actors, 1)
	require.Equal(t, v1.Path, inv.Actors[0].ImageRef, "the inventory keeps the reference of the first start")
	require.Len(t, inv.Actors[0].Instances, 3)
	requireRevision(t, l, id, 1)
}

// TestStartRefusalHints checks the refusal of other bytes under a running key, when the new
// module's revision is not above the running one and when its reference is the running one.
func TestStartRefusalHints(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	keys := hosttest.NewActorKeys(t)
	v2 := keys.Build(t, hosttest.RelayPackage, relayMeta, 2, 2)
	older := keys.Build(t, hosttest.RelayPackage, relayMeta, 1, 1)
	id := l.StartActor(h, v2.Path, 1)

	// A revision not above the running one: sign a higher one first.
	msg := l.StartActorFails(h, older.Path)
	require.Equal(t, fmt.Sprintf(`actor %s already runs on this host from %s (revision 2); %s holds other bytes (revision 1): to replace it, sign it with a revision above 2 and use "trellis ctl update actor %s %s"`,
		id, v2.Path, older.Path, id, older.Path), msg)

	// The file the actor was started from now holds other bytes.
	v3 := keys.Build(t, hosttest.RelayPackage, relayMeta, 3, 3)
	require.NoError(t, os.WriteFile(v2.Path, v3.Module, 0o644))
	msg = l.StartActorFails(h, v2.Path)
	require.Contains(t, msg, fmt.Sprintf("from %s (revision 2); %s now holds other bytes (revision 3): use", v2.Path, v2.Path))
	requireRevision(t, l, id, 2)
}

// TestUpdateFollowsTheRevisionRule runs revision 2 and tries every kind of update: only the same
// key with a higher revision replaces the module; the module already running is a no-op that
// still reports actor_updated; everything else is refused by actor_update_failed or by the ack.
func TestUpdateFollowsTheRevisionRule(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	keys := hosttest.NewActorKeys(t)
	v1 := keys.Build(t, hosttest.RelayPackage, relayMeta, 1, 1)
	v2 := keys.Build(t, hosttest.RelayPackage, relayMeta, 2, 2)
	v2other := keys.Build(t, hosttest.RelayPackage, relayMeta, 3, 2) // other bytes, same revision
	v3 := keys.Build(t, hosttest.RelayPackage, relayMeta, 3, 3)
	stranger := hosttest.Revisions(t, hosttest.RelayPackage, relayMeta, 5)[0]
	broken := keys.Sign(t, trappingInit, lattice.ActorMetadata{Name: "broken"}, 4)
	id := l.StartActor(h, v2.Path, 2)

	refusals := []struct {
		name, ref, want string
		rev             int
	}{
		{"lower revision", v1.Path, fmt.Sprintf("update actor %s: %s holds revision 1, not above revision 2 that runs on this host from %s: an update needs a higher revision (sign the new module with trellis claims sign --rev 3 or more)", id, v1.Path, v2.Path), 1},
		{"same revision, other bytes", v2other.Path, fmt.Sprintf("update actor %s: %s holds revision 2, not above revision 2 that runs on this host from %s", id, v2other.Path, v2.Path), 2},
		{"another key", stranger.Path, fmt.Sprintf("update actor %s: %s holds actor %s, not %s: an update keeps the actor's key", id, stranger.Path, stranger.ID, id), 5},
		{"no such file", "/nonexistent/relay.wasm", fmt.Sprintf("update actor %s: /nonexistent/relay.wasm: no such file", id), 0},
		{"does not start", broken.Path, fmt.Sprintf("update actor %s: %s (revision 4) does not start, so revision 2 keeps running: ", id, broken.Path), 4},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			o := l.UpdateActor(h, id, tt.ref)
			require.True(t, o.Failed, "update to %s should be refused", tt.ref)
			require.Contains(t, o.Error, tt.want)
			require.Equal(t, tt.rev, o.Revision)
			failed := l.Events.Wait(t, lattice.EventActorUpdateFailed, func(d map[string]any) bool { return d["image_ref"] == tt.ref })
			require.Equal(t, id, failed["public_key"], "refused by actor_update_failed")
			requireRevision(t, l, id, 2)
		})
	}

	t.Run("the module already running", func(t *testing.T) {
		o := l.UpdateActor(h, id, v2.Path)
		require.Equal(t, lattice.StartOutcome{PublicKey: id, Revision: 2, PreviousRevision: 2}, o)
		requireRevision(t, l, id, 2)
	})

	t.Run("a higher revision", func(t *testing.T) {
		o := l.UpdateActor(h, id, v3.Path)
		require.Equal(t, lattice.StartOutcome{PublicKey: id, Revision: 3, PreviousRevision: 2}, o)
		requireRevision(t, l, id, 3)
		inv, err := l.Ctl.GetInventory(context.Background(), h.ID())
		require.NoError(t, err)
		require.Equal(t, v3.Path, inv.Actors[0].ImageRef)
		require.Len(t, inv.Actors[0].Instances, 2)
		for _, in := range inv.Actors[0].Instances {
			require.Equal(t, 3, in.Revision)
		}
		// One actor_updated per instance, as the OTP host sends them.
		require.Eventually(t, func() bool {
			return len(l.Events.Find(lattice.EventActorUpdated, func(d map[string]any) bool { return d["image_ref"] == v3.Path })) == 2
		}, 10*time.Second, 10*time.Millisecond)
		ev := l.Events.Find(lattice.EventActorUpdated, func(d map[string]any) bool { return d["image_ref"] == v3.Path })[0]
		var d lattice.ActorUpdatedData
		require.NoError(t, ev.DecodeData(&d))
		require.Equal(t, lattice.ActorUpdatedData{PublicKey: id, Revision: 3, InstanceID: d.InstanceID, ImageRef: v3.Path, PreviousRevision: 2}, d)
		require.Contains(t, []string{inv.Actors[0].Instances[0].InstanceID, inv.Actors[0].Instances[1].InstanceID}, d.InstanceID)
		claims, err := l.Ctl.GetClaims(context.Background())
		require.NoError(t, err)
		require.Len(t, claims, 1)
		require.Equal(t, "3", claims[0]["rev"], "the lattice learns the new claims")
	})

	t.Run("refused by the ack", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		other := latticetest.Key(t, lattice.PrefixModule).PublicKey()
		err := l.Ctl.UpdateActor(ctx, lattice.UpdateActorCommand{ActorID: other, NewActorRef: v3.Path, HostID: h.ID()})
		require.ErrorIs(t, err, lattice.ErrRefused)
		require.ErrorContains(t, err, "update actor "+other+": not running on this host")
		err = l.Ctl.UpdateActor(ctx, lattice.UpdateActorCommand{ActorID: "Mnope", NewActorRef: v3.Path, HostID: h.ID()})
		require.ErrorContains(t, err, "update actor_id")
	})
}

// trappingInit is a module whose _initialize traps, so it never starts:
//
//	(module
//	  (func (export "__guest_call") (param i32 i32) (result i32) i32.const 0)
//	  (func (export "_initialize") unreachable))
var trappingInit = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
	0x01, 0x0a, 0x02, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00, // types: (i32 i32)->i32, ()->()
	0x03, 0x03, 0x02, 0x00, 0x01, // functions
	0x07, 0x1e, 0x02, // exports
	0x0c, '_', '_', 'g', 'u', 'e', 's', 't', '_', 'c', 'a', 'l', 'l', 0x00, 0x00,
	0x0b, '_', 'i', 'n', 'i', 't', 'i', 'a', 'l', 'i', 'z', 'e', 0x00, 0x01,
	0x0a, 0x0a, 0x02, 0x04, 0x00, 0x41, 0x00, 0x0b, 0x03, 0x00, 0x00, 0x0b, // code
}

// TestUpdateLetsCallsInFlightFinish updates an actor while one call is inside its only instance
// (blocked in a host call the test holds) and more wait for that instance: the waiting calls run
// on the new module without waiting for the held one, which then finishes on the old module.
func TestUpdateLetsCallsInFlightFinish(t *testing.T) {
	// The calls wait while the host compiles the new revision, which under -race with a cold
	// compilation cache takes tens of seconds.
	const wait = 3 * time.Minute
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.RPCTimeout = wait })
	revs := hosttest.Revisions(t, hosttest.RelayPackage, relayMeta, 1, 2)
	id := l.StartActor(h, revs[0].Path, 1)

	holdKey, entered, release := holdActor(t, l)
	held := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		out, err := l.Ctl.Call(ctx, id, "Relay.HostCall", hostCallMsg("", holdKey, "Hold.Wait", nil))
		if err == nil && string(out) != "held" {
			err = fmt.Errorf("held call returned %q", out)
		}
		held <- err
	}()
	<-entered

	const queued = 4
	answers := make(chan error, queued)
	for range queued {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			rev, err := revisionOf(ctx, l, id)
			if err == nil && rev != 2 {
				err = fmt.Errorf("a call that waited for the old module's instance was answered by revision %d", rev)
			}
			answers <- err
		}()
	}
	require.Eventually(t, func() bool { return h.ActorLoad(id) == 1+queued }, 10*time.Second, 5*time.Millisecond,
		"all calls should have reached the host")

	o := l.UpdateActor(h, id, revs[1].Path)
	require.False(t, o.Failed, o.Error)
	for range queued {
		require.NoError(t, <-answers, "the waiting calls are answered while the held call still holds the old instance")
	}
	select {
	case err := <-held:
		t.Fatalf("the held call ended before its host call was answered: %v", err)
	default:
	}
	close(release)
	require.NoError(t, <-held, "the call inside the old module finishes there")
	requireRevision(t, l, id, 2)
}

// TestUpdateDropsNoCall keeps callers calling the actor in a loop while it is updated three
// times: no call fails, each caller sees the revisions in order, and after each actor_updated
// the answers come from the new revision. Each call holds its instance for a host call to an
// actor the test plays, so at every update calls are inside the old module and others wait for it.
func TestUpdateDropsNoCall(t *testing.T) {
	const wait = time.Minute // generous: the host compiles each revision while it serves
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.RPCTimeout = wait })
	revs := hosttest.Revisions(t, hosttest.RelayPackage, relayMeta, 1, 2, 3, 4)
	id := l.StartActor(h, revs[0].Path, 2)

	pong := playActor(t, l, func() lattice.InvocationResponse { return lattice.InvocationResponse{Msg: []byte("pong")} })
	ping := hostCallMsg("", pong, "Pong.Now", nil)

	const callers = 12 // on two instances: most calls wait for one
	var (
		calls    atomic.Int64
		failures atomic.Int64
		latest   atomic.Int64 // the highest revision any caller has seen
		mu       sync.Mutex
		errs     []error
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		failures.Add(1)
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				rev, err := revisionOf(ctx, l, id, ping)
				cancel()
				calls.Add(1)
				switch {
				case err != nil:
					fail(fmt.Errorf("caller %d: %w", c, err))
				case rev < last:
					fail(fmt.Errorf("caller %d: revision %d answered after revision %d", c, rev, last))
				default:
					last = rev
					for {
						cur := latest.Load()
						if int64(rev) <= cur || latest.CompareAndSwap(cur, int64(rev)) {
							break
						}
					}
				}
			}
		}()
	}
	stopCallers := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopCallers)

	steady := func(n int64) { // let the callers make n more calls
		target := calls.Load() + n
		require.Eventually(t, func() bool { return calls.Load() >= target || failures.Load() > 0 }, 30*time.Second, time.Millisecond)
	}
	steady(50)
	for _, v := range revs[1:] {
		rev := v.Claims.Revision()
		o := l.UpdateActor(h, id, v.Path)
		require.False(t, o.Failed, o.Error)
		require.Equal(t, rev, o.Revision)
		require.Eventually(t, func() bool { return latest.Load() == int64(rev) || failures.Load() > 0 }, 10*time.Second, time.Millisecond,
			"callers keep getting revision %d after the update to %d", latest.Load(), rev)
		steady(50)
	}
	stopCallers()
	mu.Lock()
	defer mu.Unlock()
	require.Zero(t, failures.Load(), "failed calls (of %d): %v", calls.Load(), errors.Join(errs...))
	require.EqualValues(t, 4, latest.Load())
	requireRevision(t, l, id, 4)
}
