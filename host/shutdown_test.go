package host_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
)

// shutdownGrace bounds how long a host may take to stop once its context ends. The host has no
// setting for it; its own steps (providers' shutdown delay, draining) fit well within it.
const shutdownGrace = 5 * time.Second

// silentRegistry accepts TCP connections and never answers on them: a registry that hangs.
type silentRegistry struct {
	ln       net.Listener
	mu       sync.Mutex
	conns    []net.Conn
	accepted chan struct{} // closed at the first connection
}

func runSilentRegistry(t *testing.T) *silentRegistry {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &silentRegistry{ln: ln, accepted: make(chan struct{})}
	var once sync.Once
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			once.Do(func() { close(r.accepted) })
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, c := range r.conns {
			_ = c.Close()
		}
	})
	return r
}

func (r *silentRegistry) addr() string { return r.ln.Addr().String() }

// TestStopDuringAHangingPull: a host whose acked start is pulling from a registry that never
// answers stops within the grace once its context ends (Ctrl-C), for actors and providers alike.
func TestStopDuringAHangingPull(t *testing.T) {
	tests := []struct {
		name  string
		start func(ctx context.Context, ctl *lattice.Client, hostID, ref string) error
	}{
		{"actor", func(ctx context.Context, ctl *lattice.Client, hostID, ref string) error {
			return ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: ref, HostID: hostID, Count: 1})
		}},
		{"provider", func(ctx context.Context, ctl *lattice.Client, hostID, ref string) error {
			return ctl.StartProvider(ctx, lattice.StartProviderCommand{ProviderRef: ref, HostID: hostID})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := runSilentRegistry(t)
			l := hosttest.New(t)
			cfg := l.Config()
			cfg.AllowedInsecure = []string{reg.addr()}
			h, err := host.New(cfg)
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- h.Run(ctx) }()
			select {
			case <-h.Ready():
			case err := <-done:
				t.Fatalf("host did not start: %v", err)
			case <-time.After(20 * time.Second):
				t.Fatal("host not ready after 20s")
			}

			actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer acancel()
			require.NoError(t, tt.start(actx, l.Ctl, h.ID(), reg.addr()+"/x:1"), "the start was not acked")
			select {
			case <-reg.accepted:
			case <-time.After(10 * time.Second):
				t.Fatal("the host never reached the registry")
			}

			cancel() // Ctrl-C
			stopped := time.Now()
			select {
			case err := <-done:
				require.NoError(t, err)
				require.Less(t, time.Since(stopped), shutdownGrace)
			case <-time.After(shutdownGrace):
				t.Fatalf("the host did not stop within %s of its context ending: it waits for the pull", shutdownGrace)
			}
		})
	}
}
