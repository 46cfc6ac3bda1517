package host_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// spinActor is testdata/spin: "Loop…" spins until the watchdog stops it, anything else echoes.
func spinActor(t *testing.T) latticetest.Actor {
	t.Helper()
	module, err := os.ReadFile("testdata/spin/spin.wasm")
	require.NoError(t, err)
	return latticetest.SignModule(t, module, lattice.ActorMetadata{Name: "spin"}, lattice.SignOptions{})
}

func u16(n uint16) *uint16 { return &n }

// waitInstances polls h's inventory until actor id has inUse instances in a call and idle ones
// idle, and returns its description.
func waitInstances(t *testing.T, l *hosttest.Lattice, h *host.Host, id string, inUse, idle int) lattice.ActorDescription {
	t.Helper()
	var d lattice.ActorDescription
	require.Eventually(t, func() bool {
		var ok bool
		d, ok = l.Actor(h, id)
		return ok && d.InstancesInUse == inUse && d.InstancesIdle == idle
	}, 15*time.Second, 5*time.Millisecond, "actor %s: want %d in use and %d idle, last seen %+v", id, inUse, idle, d)
	return d
}

// An actor whose instances all timed out idle is at zero: still in the inventory with its count,
// compiled and subscribed, and its next call makes an instance and answers.
func TestActorAtZeroAnswersItsFirstRequest(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.ActorIdleTimeout = 50 * time.Millisecond })
	get, err := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	require.NoError(t, err)
	tests := []struct {
		name  string
		actor latticetest.Actor
		op    string
		msg   []byte
		check func(t *testing.T, out []byte)
	}{
		{"go echo", echoActor(t), httpserver.OpHandleRequest, get, func(t *testing.T, out []byte) {
			resp, err := httpserver.DecodeResponse(out)
			require.NoError(t, err)
			require.EqualValues(t, 200, resp.StatusCode)
			require.Equal(t, `{"body":[],"method":"GET","path":"/","query_string":""}`, string(resp.Body))
		}},
		{"wat module", spinActor(t), "Echo.Echo", []byte("from zero"), func(t *testing.T, out []byte) {
			require.Equal(t, "from zero", string(out))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := l.StartActor(h, tt.actor.Path, 1)
			d := waitInstances(t, l, h, id, 0, 0) // the instance made at start timed out
			require.Len(t, d.Instances, 1, "the count stays")
			require.Equal(t, 1, d.MaxInstances)
			require.Zero(t, d.MinInstances)

			for range 2 { // from zero, then from zero again after the next timeout
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				out, err := l.Ctl.Call(ctx, id, tt.op, tt.msg)
				cancel()
				require.NoError(t, err)
				tt.check(t, out)
				waitInstances(t, l, h, id, 0, 0)
			}
		})
	}
}

// With on-demand instances up to a max, a call that spins occupies one instance and the next call
// gets another, answered while the first still spins.
func TestSpinningCallDoesNotBlockTheNext(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.RPCTimeout = 3 * time.Second })
	spin := spinActor(t)
	o := l.StartActorCommand(h, lattice.StartActorCommand{ActorRef: spin.Path, Count: 1, MaxInstances: u16(4)})
	require.False(t, o.Failed, o.Error)
	id := o.PublicKey
	d := waitInstances(t, l, h, id, 0, 1)
	require.Equal(t, 4, d.MaxInstances)
	require.Len(t, d.Instances, 1)

	slow := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := l.Ctl.Call(ctx, id, "Loop.Forever", nil)
		slow <- err
	}()
	waitInstances(t, l, h, id, 1, 0) // the slow call holds the only instance

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := l.Ctl.Call(ctx, id, "Echo.Echo", []byte("fast"))
	require.NoError(t, err)
	require.Equal(t, "fast", string(out))
	select {
	case err := <-slow:
		t.Fatalf("the spinning call ended before the fast one was answered: %v", err)
	default:
	}
	d = waitInstances(t, l, h, id, 1, 1) // a second instance answered, and waits idle
	require.Equal(t, 4, d.MaxInstances)

	select {
	case err := <-slow:
		require.Error(t, err, "the watchdog stops the spinning call at the RPC timeout")
	case <-time.After(30 * time.Second):
		t.Fatal("the spinning call was not stopped")
	}
	waitInstances(t, l, h, id, 0, 1) // the stopped instance is not kept
}

// scale sets min and max instances without changing the count; limits that do not agree are
// refused naming why, and leave the actor as it was.
func TestScaleMinMaxInstances(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.ActorIdleTimeout = 50 * time.Millisecond })
	echo := echoActor(t)
	id := l.StartActor(h, echo.Path, 1)
	waitInstances(t, l, h, id, 0, 0)
	scale := func(cmd lattice.ScaleActorCommand) {
		t.Helper()
		cmd.ActorID, cmd.HostID = id, h.ID()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, l.Ctl.ScaleActor(ctx, cmd))
	}

	scale(lattice.ScaleActorCommand{MinInstances: u16(2), MaxInstances: u16(3)})
	d := waitInstances(t, l, h, id, 0, 2) // min instances are made, and stay through the timeout
	require.Equal(t, 2, d.MinInstances)
	require.Equal(t, 3, d.MaxInstances)
	require.Len(t, d.Instances, 1, "a count of 0 with limits keeps the count")

	for _, tt := range []struct {
		name string
		cmd  lattice.ScaleActorCommand
		want string
	}{
		{"min above max", lattice.ScaleActorCommand{MinInstances: u16(5)}, "min_instances 5 is above max_instances 3"},
		{"max below min", lattice.ScaleActorCommand{MaxInstances: u16(1)}, "min_instances 2 is above max_instances 1"},
		{"max 0", lattice.ScaleActorCommand{Count: 2, MaxInstances: u16(0)}, "max_instances 0: must be at least 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			scale(tt.cmd)
			l.Events.Wait(t, lattice.EventActorStartFailed, func(d map[string]any) bool {
				return d["actor_ref"] == id && strings.Contains(d["error"].(string), tt.want)
			})
			d, ok := l.Actor(h, id)
			require.True(t, ok)
			require.Equal(t, 2, d.MinInstances)
			require.Equal(t, 3, d.MaxInstances)
			require.Len(t, d.Instances, 1)
		})
	}

	scale(lattice.ScaleActorCommand{MinInstances: u16(0)})
	d = waitInstances(t, l, h, id, 0, 0)
	require.Zero(t, d.MinInstances)
	require.Equal(t, 3, d.MaxInstances)

	// A 0.x scale (no limits) to 0 still stops the actor.
	scale(lattice.ScaleActorCommand{Count: 0})
	require.Eventually(t, func() bool { _, ok := l.Actor(h, id); return !ok }, 15*time.Second, 5*time.Millisecond)
}
