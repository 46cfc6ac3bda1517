package host

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// What wazero 1.12 checks under WithCloseOnContextDone, in its compiler and its interpreter
// alike: loop headers only, not function entries. A guest stuck in a loop is stopped at its next
// back-edge; one recursing without a loop traps on the stack limit instead; a loop-free call tree
// that takes long (naive recursive fib) runs until it returns, and its call then reports the
// deadline while the watchdog discards the instance.

// runtimeHost is a host with a runtime and no NATS: enough for runActor on local actors.
func runtimeHost(t testing.TB) *Host {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.CacheDir = latticetest.CompilationCacheDir()
	h, err := New(cfg)
	require.NoError(t, err)
	h.rt, err = newRuntime(context.Background(), h)
	require.NoError(t, err)
	t.Cleanup(h.rt.close)
	return h
}

// made counts the instances a local actor's pool made.
type made struct {
	mu  sync.Mutex
	ins []*instance
}

func (m *made) all() []*instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*instance(nil), m.ins...)
}

// localActor runs a signed module as an actor of at most size instances on h.
func localActor(t testing.TB, h *Host, signed []byte, size int) (*actor, *made) {
	t.Helper()
	ctx := context.Background()
	v, err := verifyModule(signed)
	require.NoError(t, err)
	am, err := h.compileModule(ctx, v)
	require.NoError(t, err)
	a := &actor{id: v.claims.Subject}
	m := &made{}
	mk := h.instanceMaker(a, am)
	am.pool = newPool(size, 0, func(ctx context.Context) (*instance, error) {
		in, err := mk(ctx)
		if err == nil {
			m.mu.Lock()
			m.ins = append(m.ins, in)
			m.mu.Unlock()
		}
		return in, err
	})
	a.mod.Store(am)
	t.Cleanup(am.close)
	return a, m
}

func spinModule(t testing.TB, name string) []byte {
	t.Helper()
	code, err := os.ReadFile("testdata/spin/spin.wasm")
	require.NoError(t, err)
	return latticetest.SignModule(t, code, lattice.ActorMetadata{Name: name}, lattice.SignOptions{}).Module
}

func callWithin(ctx context.Context, h *Host, a *actor, op string, msg []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return h.runActor(ctx, a, op, msg)
}

func TestSpinningGuestIsStoppedAtItsDeadline(t *testing.T) {
	h := runtimeHost(t)
	spinner, made := localActor(t, h, spinModule(t, "spinner"), 2)
	other, _ := localActor(t, h, spinModule(t, "other"), 1)
	ctx := context.Background()

	const deadline = 200 * time.Millisecond
	type result struct {
		err     error
		elapsed time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		_, err := callWithin(ctx, h, spinner, "Loop.Forever", nil, deadline)
		done <- result{err, time.Since(start)}
	}()
	// While the guest spins, the actor's other instance and other actors are served.
	require.Eventually(t, func() bool { busy, _, _ := spinner.mod.Load().pool.stats(); return busy == 1 }, 5*time.Second, time.Millisecond)
	for range 20 {
		out, err := callWithin(ctx, h, spinner, "Echo.Echo", []byte("same actor"), time.Second)
		require.NoError(t, err)
		require.Equal(t, "same actor", string(out))
		out, err = callWithin(ctx, h, other, "Echo.Echo", []byte("other actor"), time.Second)
		require.NoError(t, err)
		require.Equal(t, "other actor", string(out))
	}

	var r result
	select {
	case r = <-done:
	case <-time.After(deadline + 5*time.Second):
		t.Fatal("the spinning guest was not stopped")
	}
	require.ErrorIs(t, r.err, context.DeadlineExceeded)
	require.ErrorContains(t, r.err, "actor "+spinner.id+": Loop.Forever: call stopped at its deadline")
	require.GreaterOrEqual(t, r.elapsed, deadline)
	require.Less(t, r.elapsed, deadline+time.Second, "stopped %s after its deadline; the watchdog checks every %s", r.elapsed-deadline, watchdogPeriod)

	// The stopped instance is discarded; the pool serves from the other one or a fresh one.
	ins := made.all()
	stopped := 0
	for _, in := range ins {
		if in.stopped.Load() {
			stopped++
			require.True(t, in.mod.IsClosed(), "a stopped instance is closed")
		}
	}
	require.Equal(t, 1, stopped)
	for range 3 {
		out, err := callWithin(ctx, h, spinner, "Echo.Echo", []byte("after"), time.Second)
		require.NoError(t, err)
		require.Equal(t, "after", string(out))
	}
	busy, idle, _ := spinner.mod.Load().pool.stats()
	require.Equal(t, 0, busy)
	require.LessOrEqual(t, idle, 2)
	for _, x := range spinner.mod.Load().pool.idle {
		require.False(t, x.in.broken(), "the pool keeps no broken instance")
	}

	// Nothing is in flight any more: the watchdog parks.
	require.Eventually(t, func() bool { return !h.rt.dog.ticking.Load() }, 5*time.Second, time.Millisecond)
}

func TestSpinningGuestsOfSeveralActorsAreAllStopped(t *testing.T) {
	h := runtimeHost(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		a, _ := localActor(t, h, spinModule(t, "spinner"), 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Deadlines apart, so the watchdog stops them on different ticks.
			_, errs[i] = callWithin(ctx, h, a, "Loop.Forever", nil, time.Duration(50+40*i)*time.Millisecond)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
}

func TestRecursingGuestTrapsAndIsReplaced(t *testing.T) {
	h := runtimeHost(t)
	a, made := localActor(t, h, spinModule(t, "recurser"), 1)
	ctx := context.Background()
	_, err := callWithin(ctx, h, a, "Recurse.Forever", nil, 10*time.Second)
	require.ErrorContains(t, err, "guest trapped")
	require.ErrorContains(t, err, "stack overflow")
	require.False(t, errors.Is(err, context.DeadlineExceeded), "the stack limit stopped it, not the watchdog: %v", err)
	out, err := callWithin(ctx, h, a, "Echo.Echo", []byte("still here"), time.Second)
	require.NoError(t, err)
	require.Equal(t, "still here", string(out))
	for _, in := range made.all() {
		require.False(t, in.stopped.Load())
	}
}

// The watchdog stops no call that returns in time, however many run: every call succeeds and
// the pool never has to make more instances than its size.
func TestWatchdogSparesCallsThatReturnInTime(t *testing.T) {
	h := runtimeHost(t)
	const size = 4
	a, made := localActor(t, h, spinModule(t, "echo"), size)
	ctx := context.Background()
	var wg sync.WaitGroup
	var failed atomic.Int32
	// Long enough for tens of watchdog ticks to find calls in flight.
	end := time.Now().Add(60 * watchdogPeriod)
	for g := range size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(end); i++ {
				// Deadlines of thirty to fifty ticks: far enough for a call under -race on two
				// cores busy with other packages' tests, near enough for the watchdog to look at
				// it many times.
				timeout := time.Duration(30+(g+i)%20) * watchdogPeriod
				out, err := callWithin(ctx, h, a, "Echo.Echo", []byte("x"), timeout)
				if err != nil || string(out) != "x" {
					failed.Add(1)
					t.Errorf("call %d/%d: %q, %v", g, i, out, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.Zero(t, failed.Load())
	ins := made.all()
	require.LessOrEqual(t, len(ins), size)
	for _, in := range ins {
		require.False(t, in.broken())
	}
}

// The race of a call ending when its deadline passes, decided on the instance's deadline word:
// whichever of end and the watchdog's check comes first wins, and the other sees it.
func TestWatchdogAndCallEndDecideOnce(t *testing.T) {
	h := runtimeHost(t)
	a, _ := localActor(t, h, spinModule(t, "echo"), 1)
	ctx := context.Background()
	in, err := a.mod.Load().pool.acquire(ctx)
	require.NoError(t, err)
	dog := h.rt.dog
	past := time.Now().Add(-time.Second)

	// The call ended first: a later check neither stops it nor sees it busy.
	dog.start(in, past)
	require.False(t, dog.end(in))
	require.False(t, dog.check(time.Now()))
	require.False(t, in.broken())
	require.NoError(t, in.ctx.Err())

	// The check came first: the call is stopped, its end says so, the instance is broken.
	dog.start(in, past)
	require.True(t, dog.check(time.Now()))
	require.ErrorIs(t, in.ctx.Err(), context.DeadlineExceeded)
	require.True(t, dog.end(in))
	in.stopped.Store(true) // what invoke does when end says stopped
	require.True(t, in.broken())
	a.mod.Load().pool.release(in)
	busy, idle, _ := a.mod.Load().pool.stats()
	require.Zero(t, busy+idle, "release closed the stopped instance")
}

// __host_call sees the caller's context, its deadline and its values, not the guest's.
func TestHostCallSeesTheCallersContext(t *testing.T) {
	h := runtimeHost(t)
	a, _ := localActor(t, h, spinModule(t, "caller"), 1)
	type key struct{}
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), key{}, "value"), time.Minute)
	defer cancel()
	want, _ := ctx.Deadline()
	in, err := a.mod.Load().pool.acquire(ctx)
	require.NoError(t, err)
	defer a.mod.Load().pool.release(in)
	var got context.Context
	c := &call{op: []byte("Host.Call"), msg: []byte("ping"),
		hostCall: func(ctx context.Context, binding, ns, op string, msg []byte) ([]byte, error) {
			got = ctx
			require.Equal(t, []string{"default", "test", "Op", "ping"}, []string{binding, ns, op, string(msg)})
			return []byte("pong"), nil
		}}
	out, err := in.invoke(ctx, c)
	require.NoError(t, err)
	require.Equal(t, "pong", string(out))
	require.NotNil(t, got)
	d, ok := got.Deadline()
	require.True(t, ok)
	require.Equal(t, want, d)
	require.Equal(t, "value", got.Value(key{}))
}

// A call whose deadline passed before it started does not run and leaves the instance whole.
func TestCallPastItsDeadlineDoesNotStart(t *testing.T) {
	h := runtimeHost(t)
	a, made := localActor(t, h, spinModule(t, "late"), 1)
	ctx := context.Background()
	in, err := a.mod.Load().pool.acquire(ctx)
	require.NoError(t, err)
	late, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Millisecond))
	defer cancel()
	_, err = in.invoke(late, &call{op: []byte("Loop.Forever")})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "call not started")
	require.False(t, in.broken())
	a.mod.Load().pool.release(in)
	out, err := callWithin(ctx, h, a, "Echo.Echo", []byte("ok"), time.Second)
	require.NoError(t, err)
	require.Equal(t, "ok", string(out))
	require.Len(t, made.all(), 1)
}

// Closing the runtime ends the watchdog's goroutine.
func TestRuntimeCloseStopsTheWatchdog(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	h, err := New(cfg)
	require.NoError(t, err)
	rt, err := newRuntime(context.Background(), h)
	require.NoError(t, err)
	rt.close()
	select {
	case <-rt.dog.done:
	default:
		t.Fatal("the watchdog still runs after runtime.close")
	}
}
