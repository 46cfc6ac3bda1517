package host_test

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// wasmCache is one compilation cache for every host of the tests, so each module is compiled
// once (and, across runs on one machine, once at all).
var wasmCache string

func TestMain(m *testing.M) {
	wasmCache = latticetest.CompilationCacheDir()
	os.Exit(m.Run())
}

// lat is a test lattice: a NATS server, a cluster key and a ctl client.
type lat struct {
	t       testing.TB
	ns      *server.Server
	nc      *nats.Conn
	cluster *lattice.KeyPair
	seed    string
	ctl     *lattice.Client
	events  *eventLog
}

func newLattice(t testing.TB) *lat {
	t.Helper()
	ns := latticetest.RunNATS(t)
	return newLatticeOn(t, ns)
}

func newLatticeOn(t testing.TB, ns *server.Server) *lat {
	t.Helper()
	nc := latticetest.Connect(t, ns)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, err := cluster.Seed()
	require.NoError(t, err)
	ctl, err := lattice.NewClient(nc, lattice.ClientConfig{Lattice: "default", ClusterSeed: seed, Timeout: 5 * time.Second, AuctionTimeout: 500 * time.Millisecond})
	require.NoError(t, err)
	l := &lat{t: t, ns: ns, nc: nc, cluster: cluster, seed: seed, ctl: ctl, events: &eventLog{}}
	unsub, err := ctl.Subscribe(l.events.add)
	require.NoError(t, err)
	t.Cleanup(func() { _ = unsub() })
	return l
}

type hostOpt func(*host.Config)

// startHost runs a host on the lattice until the test ends.
func (l *lat) startHost(opts ...hostOpt) *host.Host {
	t := l.t
	t.Helper()
	cfg := host.DefaultConfig()
	cfg.NATSURL = l.ns.ClientURL()
	cfg.ClusterSeed = l.seed
	cfg.DataDir = t.TempDir()
	cfg.CacheDir = wasmCache
	cfg.AllowFileLoad = true
	cfg.RPCTimeout = 5 * time.Second
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	for _, o := range opts {
		o(&cfg)
	}
	h, err := host.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	select {
	case <-h.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("host did not start: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("host not ready after 20s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Error("host did not stop within 20s")
		}
	})
	return h
}

// startActor starts the actor at path on h and waits for its actor_started events.
func (l *lat) startActor(h *host.Host, path string, count int) string {
	t := l.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := l.ctl.NewWaiter(func(ev lattice.CloudEvent) bool {
		if ev.Source != h.ID() {
			return false
		}
		var d struct {
			ImageRef string `json:"image_ref"`
			ActorRef string `json:"actor_ref"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		return (ev.Name() == lattice.EventActorStarted && d.ImageRef == path) ||
			(ev.Name() == lattice.EventActorStartFailed && d.ActorRef == path)
	})
	require.NoError(t, err)
	defer w.Stop()
	require.NoError(t, l.ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: path, HostID: h.ID(), Count: uint16(count)}))
	ev, err := w.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, lattice.EventActorStarted, ev.Name(), "start %s: %s", path, string(ev.Data))
	var d lattice.ActorStartedData
	require.NoError(t, ev.DecodeData(&d))
	return d.PublicKey
}

// eventLog records every lattice event seen by the test.
type eventLog struct {
	mu  sync.Mutex
	evs []lattice.CloudEvent
}

func (e *eventLog) add(ev lattice.CloudEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

// find returns the events of the given name for which match holds.
func (e *eventLog) find(name string, match func(map[string]any) bool) []lattice.CloudEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []lattice.CloudEvent
	for _, ev := range e.evs {
		if ev.Name() != name {
			continue
		}
		var d map[string]any
		if json.Unmarshal(ev.Data, &d) != nil {
			continue
		}
		if match == nil || match(d) {
			out = append(out, ev)
		}
	}
	return out
}

// waitEvent polls until an event of that name matching match has been seen.
func (e *eventLog) waitEvent(t testing.TB, name string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	var got map[string]any
	require.Eventually(t, func() bool {
		evs := e.find(name, match)
		if len(evs) == 0 {
			return false
		}
		require.NoError(t, json.Unmarshal(evs[0].Data, &got))
		return true
	}, 10*time.Second, 10*time.Millisecond, "no %s event", name)
	return got
}
