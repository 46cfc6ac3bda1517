package host

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The idle timeout closes idle instances down to min, the longest idle first, and never those in
// a call; stats reports what is left.
func TestPoolIdleTimeoutKeepsMin(t *testing.T) {
	h := runtimeHost(t)
	a, made := localActor(t, h, spinModule(t, "idle"), 3)
	p := a.mod.Load().pool
	p.idleTimeout = 20 * time.Millisecond
	p.resize(3, 1)
	ctx := context.Background()

	var busy []*instance
	for range 3 {
		in, err := p.acquire(ctx)
		require.NoError(t, err)
		busy = append(busy, in)
	}
	inUse, idle, most := p.stats()
	require.Equal(t, [3]int{3, 0, 3}, [3]int{inUse, idle, most})
	p.release(busy[0])
	p.release(busy[1])
	require.Eventually(t, func() bool { inUse, idle, _ := p.stats(); return inUse == 1 && idle == 0 }, 5*time.Second, time.Millisecond,
		"idle instances above min are closed; the busy one counts toward min")
	require.True(t, made.all()[0].mod.IsClosed())
	require.True(t, made.all()[1].mod.IsClosed())

	p.release(busy[2])
	p.reap() // due or not, the last instance is min's
	_, idle, _ = p.stats()
	require.Equal(t, 1, idle)
	require.False(t, made.all()[2].mod.IsClosed())

	p.resize(3, 0)
	require.Eventually(t, func() bool { _, idle, _ := p.stats(); return idle == 0 }, 5*time.Second, time.Millisecond)
	require.True(t, made.all()[2].mod.IsClosed())

	require.NoError(t, p.warm(ctx)) // min 0: nothing to make
	require.Len(t, made.all(), 3)
	p.resize(3, 2)
	require.NoError(t, p.warm(ctx))
	_, idle, _ = p.stats()
	require.Equal(t, 2, idle)
	require.Len(t, made.all(), 5)
}
