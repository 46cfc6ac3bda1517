package host_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestHostWaitsForNATSAtStart starts a host before its NATS server, as a Helm release does: the
// host keeps trying and becomes ready once the server is up.
func TestHostWaitsForNATSAtStart(t *testing.T) {
	port := latticetest.FreePort(t)
	cfg := host.DefaultConfig()
	cfg.NATS.Servers = []string{fmt.Sprintf("nats://127.0.0.1:%d", port)}
	cfg.DataDir = t.TempDir()
	cfg.CacheDir = latticetest.CompilationCacheDir()
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	h, err := host.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	// Nothing listens yet: the host is still trying, not failed.
	select {
	case <-h.Ready():
		t.Fatal("host ready without a NATS server")
	case err := <-done:
		t.Fatalf("host gave up on NATS at once: %v", err)
	case <-time.After(300 * time.Millisecond):
	}

	ns := latticetest.RunNATSWithDir(t, t.TempDir(), port)
	select {
	case <-h.Ready():
	case err := <-done:
		t.Fatalf("host stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("host not ready 20s after NATS started")
	}
	l := hosttest.On(t, ns)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	hosts, err := l.Ctl.GetHosts(ctx2)
	require.NoError(t, err)
	require.Len(t, hosts, 1)
	require.Equal(t, h.ID(), hosts[0].ID)
}

// TestHostGivesUpOnNATSAfterConnectTimeout: with no server at all, Run fails after ConnectTimeout
// with an error that names the URL.
func TestHostGivesUpOnNATSAfterConnectTimeout(t *testing.T) {
	url := fmt.Sprintf("nats://127.0.0.1:%d", latticetest.FreePort(t))
	cfg := host.DefaultConfig()
	cfg.NATS.Servers = []string{url}
	cfg.DataDir = t.TempDir()
	cfg.ConnectTimeout = 500 * time.Millisecond
	h, err := host.New(cfg)
	require.NoError(t, err)
	err = h.Run(context.Background())
	require.Error(t, err)
	require.Contains(t, err.Error(), "connect to nats "+url)
}
