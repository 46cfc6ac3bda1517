package host_test

import (
	"context"
	"encoding/binary"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// growActor is testdata/grow: each call grows its memory by the pages its message asks for.
func growActor(t *testing.T) latticetest.Actor {
	t.Helper()
	module, err := os.ReadFile("testdata/grow/grow.wasm")
	require.NoError(t, err)
	return latticetest.SignModule(t, module, lattice.ActorMetadata{Name: "grow"}, lattice.SignOptions{})
}

// grow asks the grow actor to grow by pages and returns the size it had before, or the error.
func grow(l *hosttest.Lattice, id string, pages uint32) (uint32, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := l.Ctl.Call(ctx, id, "Grow", binary.LittleEndian.AppendUint32(nil, pages))
	if err != nil {
		return 0, err
	}
	if len(out) != 4 {
		return 0, strconv.ErrSyntax
	}
	return binary.LittleEndian.Uint32(out), nil
}

// The memory limit, the host's and one actor's, at one page more than the limit: the grow that
// passes it fails the call with an error naming the limit, the instance is dropped, and the next
// call runs in a fresh instance.
func TestActorMemoryLimitOnePageOver(t *testing.T) {
	l := hosttest.New(t)
	const hostPages = 40
	h := l.StartHost(func(c *host.Config) { c.MaxActorMemoryPages = hostPages })
	tests := []struct {
		name        string
		annotations map[string]string
		limit       uint32
	}{
		{"host limit", nil, hostPages},
		{"actor annotation", map[string]string{host.MemoryPagesAnnotation: "8"}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := growActor(t)
			o := l.StartActorWith(h, a.Path, 1, tt.annotations)
			require.False(t, o.Failed, o.Error)
			// The memory starts at 1 page: growing to the limit exactly works.
			before, err := grow(l, a.ID, tt.limit-1)
			require.NoError(t, err)
			require.EqualValues(t, 1, before)
			// One page more fails the call, naming the limit.
			_, err = grow(l, a.ID, 1)
			require.Error(t, err)
			require.ErrorContains(t, err, "instance stopped: it asked for "+strconv.Itoa(int(tt.limit)+1)+" pages of memory, over its limit of "+strconv.Itoa(int(tt.limit))+" pages")
			require.ErrorContains(t, err, "memory limit")
			// The actor keeps serving, from a fresh instance (back at 1 page).
			before, err = grow(l, a.ID, 0)
			require.NoError(t, err)
			require.EqualValues(t, 1, before)
			// From scratch, one page over in one grow fails too.
			_, err = grow(l, a.ID, tt.limit)
			require.ErrorContains(t, err, "over its limit of "+strconv.Itoa(int(tt.limit))+" pages")
		})
	}
}

func TestActorMemoryAnnotationRefused(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.MaxActorMemoryPages = 40 })
	a := growActor(t)
	for _, v := range []string{"41", "0", "lots"} {
		o := l.StartActorWith(h, a.Path, 1, map[string]string{host.MemoryPagesAnnotation: v})
		require.True(t, o.Failed, "start with %s=%s", host.MemoryPagesAnnotation, v)
		require.Contains(t, o.Error, host.MemoryPagesAnnotation)
	}
	o := l.StartActorWith(h, a.Path, 1, map[string]string{host.MemoryPagesAnnotation: "40"})
	require.False(t, o.Failed, o.Error)
	o = l.StartActorWith(h, a.Path, 1, map[string]string{host.MemoryPagesAnnotation: "20"})
	require.True(t, o.Failed)
	require.Contains(t, o.Error, "already runs here with a memory limit of 40 pages")
}

// A Go actor that allocates without end is stopped at its memory limit with an error that says
// so, and the host (and the actor) keep serving.
func TestActorAllocatingWithoutEndIsStopped(t *testing.T) {
	l := hosttest.New(t)
	const pages = 1024 // 64 MiB
	h := l.StartHost(func(c *host.Config) { c.MaxActorMemoryPages = pages })
	hog := latticetest.SignedActor(t, "./host/testdata/hog", lattice.ActorMetadata{Name: "hog"}, lattice.SignOptions{})
	id := l.StartActor(h, hog.Path, 1)
	echo := echoActor(t)
	echoID := l.StartActor(h, echo.Path, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := l.Ctl.Call(ctx, id, "Hog.Grow", nil)
	require.Error(t, err)
	require.ErrorContains(t, err, "over its limit of 1024 pages (64 MiB)")
	require.ErrorContains(t, err, "memory limit")

	out, err := l.Ctl.Call(ctx, id, "Hog.Ping", nil)
	require.NoError(t, err)
	require.Equal(t, "pong", string(out))
	require.Equal(t, 200, int(callHTTP(t, l, echoID, httpserver.HttpRequest{Method: "GET", Path: "/"}).StatusCode))
}
