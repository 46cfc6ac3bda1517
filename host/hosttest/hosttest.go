// Package hosttest runs real Trellis lattices for tests: an embedded NATS server, a cluster key,
// a ctl client with an event log, and hosts started and stopped with the test.
//
// It imports host and lattice; test code of any package may use it.
package hosttest

import (
	"context"
	"encoding/json"
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

// Lattice is a test lattice: a NATS server, a cluster key and a ctl client that records events.
type Lattice struct {
	T       testing.TB
	NS      *server.Server
	NC      *nats.Conn
	Cluster *lattice.KeyPair
	Seed    string
	Ctl     *lattice.Client
	Events  *EventLog
	// Conn is how the ctl client and the hosts connect (OnWith); On makes it the server's URL.
	Conn lattice.NATSConfig
}

// New starts an embedded NATS server with JetStream and connects a ctl client to it.
func New(t testing.TB) *Lattice {
	t.Helper()
	return On(t, latticetest.RunNATS(t))
}

// On connects a test lattice to a running server.
func On(t testing.TB, ns *server.Server) *Lattice {
	t.Helper()
	return OnWith(t, ns, lattice.NATSConfig{Servers: []string{ns.ClientURL()}})
}

// OnWith connects a test lattice to a running server with conn (credentials, TLS, several
// servers); hosts started by StartHost connect with it too.
func OnWith(t testing.TB, ns *server.Server, conn lattice.NATSConfig) *Lattice {
	t.Helper()
	nc, err := conn.Connect(nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.ReconnectJitter(0, 0))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, err := cluster.Seed()
	require.NoError(t, err)
	ctl, err := lattice.NewClient(nc, lattice.ClientConfig{Lattice: lattice.DefaultLattice, ClusterSeed: seed, Timeout: 5 * time.Second, AuctionTimeout: 500 * time.Millisecond})
	require.NoError(t, err)
	l := &Lattice{T: t, NS: ns, NC: nc, Cluster: cluster, Seed: seed, Ctl: ctl, Events: &EventLog{}, Conn: conn}
	unsub, err := ctl.Subscribe(l.Events.add)
	require.NoError(t, err)
	t.Cleanup(func() { _ = unsub() })
	return l
}

// Option adjusts a host's config before it starts.
type Option func(*host.Config)

// Config returns the config StartHost uses, before options.
func (l *Lattice) Config() host.Config {
	cfg := host.DefaultConfig()
	cfg.NATS = l.Conn
	cfg.ClusterSeed = l.Seed
	cfg.DataDir = l.T.TempDir()
	cfg.CacheDir = latticetest.CompilationCacheDir()
	cfg.AllowFileLoad = []string{"/"} // test files live in temp dirs
	cfg.RPCTimeout = 5 * time.Second
	cfg.ProviderHealthDelay = 200 * time.Millisecond
	cfg.ProviderShutdownDelay = 2 * time.Second
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(l.T)).Level(zerolog.WarnLevel)
	return cfg
}

// StartHost runs a host on the lattice until the test ends.
func (l *Lattice) StartHost(opts ...Option) *host.Host {
	t := l.T
	t.Helper()
	cfg := l.Config()
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
		case <-time.After(30 * time.Second):
			t.Error("host did not stop within 30s")
		}
	})
	return h
}

// StartActor starts the actor at ref on h, waits for its actor_started events and returns its key.
func (l *Lattice) StartActor(h *host.Host, ref string, count int) string {
	l.T.Helper()
	o := l.start(ref, lattice.ActorStart(h.ID(), ref), func(ctx context.Context) error {
		return l.Ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: ref, HostID: h.ID(), Count: uint16(count)})
	})
	require.False(l.T, o.Failed, "start %s: %s", ref, o.Error)
	return o.PublicKey
}

// StartActorWith starts count instances of the actor at ref on h with annotations and returns
// how the start ended, from its first actor_started or its actor_start_failed event.
func (l *Lattice) StartActorWith(h *host.Host, ref string, count int, annotations map[string]string) lattice.StartOutcome {
	l.T.Helper()
	return l.start(ref, lattice.ActorStart(h.ID(), ref), func(ctx context.Context) error {
		return l.Ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: ref, HostID: h.ID(), Count: uint16(count), Annotations: annotations})
	})
}

// StartActorCommand sends cmd (its HostID set to h's) and returns how the start ended, from its
// first actor_started or its actor_start_failed event.
func (l *Lattice) StartActorCommand(h *host.Host, cmd lattice.StartActorCommand) lattice.StartOutcome {
	l.T.Helper()
	cmd.HostID = h.ID()
	return l.start(cmd.ActorRef, lattice.ActorStart(h.ID(), cmd.ActorRef), func(ctx context.Context) error {
		return l.Ctl.StartActor(ctx, cmd)
	})
}

// Actor returns actor id as h's inventory describes it, and whether h runs it.
func (l *Lattice) Actor(h *host.Host, id string) (lattice.ActorDescription, bool) {
	l.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	inv, err := l.Ctl.GetInventory(ctx, h.ID())
	require.NoError(l.T, err)
	for _, a := range inv.Actors {
		if a.ID == id {
			return a, true
		}
	}
	return lattice.ActorDescription{}, false
}

// StartActorFails starts ref on h and returns the error of its actor_start_failed event.
func (l *Lattice) StartActorFails(h *host.Host, ref string) string {
	l.T.Helper()
	o := l.start(ref, lattice.ActorStart(h.ID(), ref), func(ctx context.Context) error {
		return l.Ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: ref, HostID: h.ID(), Count: 1})
	})
	require.True(l.T, o.Failed, "start %s should fail", ref)
	return o.Error
}

// StartProvider starts the provider archive at ref on h with a link name, waits for
// provider_started and returns the provider's key.
func (l *Lattice) StartProvider(h *host.Host, ref, linkName string) string {
	l.T.Helper()
	o := l.start(ref, lattice.ProviderStart(h.ID(), ref, linkName), func(ctx context.Context) error {
		return l.Ctl.StartProvider(ctx, lattice.StartProviderCommand{ProviderRef: ref, LinkName: linkName, HostID: h.ID()})
	})
	require.False(l.T, o.Failed, "start %s: %s", ref, o.Error)
	return o.PublicKey
}

// StartProviderFails starts ref on h and returns the error of its provider_start_failed event.
func (l *Lattice) StartProviderFails(h *host.Host, ref string) string {
	l.T.Helper()
	o := l.start(ref, lattice.ProviderStart(h.ID(), ref, ""), func(ctx context.Context) error {
		return l.Ctl.StartProvider(ctx, lattice.StartProviderCommand{ProviderRef: ref, HostID: h.ID()})
	})
	require.True(l.T, o.Failed, "start %s should fail", ref)
	return o.Error
}

// UpdateActor sends upd for actor id on h with the module at ref and returns how it ended, from
// its first actor_updated or its actor_update_failed event. A refused ack fails the test.
func (l *Lattice) UpdateActor(h *host.Host, id, ref string) lattice.StartOutcome {
	l.T.Helper()
	return l.start(ref, lattice.ActorUpdate(h.ID(), id, ref), func(ctx context.Context) error {
		return l.Ctl.UpdateActor(ctx, lattice.UpdateActorCommand{ActorID: id, NewActorRef: ref, HostID: h.ID()})
	})
}

// start sends a start (or update) command and waits for the event that tells how it ended.
func (l *Lattice) start(ref string, outcome lattice.StartOf, send func(context.Context) error) lattice.StartOutcome {
	t := l.T
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w, err := l.Ctl.NewWaiter(outcome.Match)
	require.NoError(t, err)
	defer w.Stop()
	require.NoError(t, send(ctx))
	ev, err := w.Wait(ctx)
	require.NoError(t, err, "waiting for the command on %s to end", ref)
	o, _ := outcome(ev)
	return o
}

// PutLink puts a link through the ctl interface and waits until the host has applied it.
func (l *Lattice) PutLink(link lattice.LinkDefinition) {
	t := l.T
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	link.Normalize()
	before := len(l.Events.Find(lattice.EventLinkdefSet, func(d map[string]any) bool { return d["id"] == link.ID }))
	require.NoError(t, l.Ctl.PutLink(ctx, link))
	require.Eventually(t, func() bool {
		return len(l.Events.Find(lattice.EventLinkdefSet, func(d map[string]any) bool { return d["id"] == link.ID })) > before
	}, 10*time.Second, 5*time.Millisecond, "no linkdef_set for %s", link.ID)
}

// EventLog records every lattice event seen by the test's ctl client.
type EventLog struct {
	mu  sync.Mutex
	evs []lattice.CloudEvent
}

func (e *EventLog) add(ev lattice.CloudEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

// Find returns the events of the given name for which match (nil: any) holds.
func (e *EventLog) Find(name string, match func(map[string]any) bool) []lattice.CloudEvent {
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

// Wait polls until an event of that name matching match has been seen and returns its data.
func (e *EventLog) Wait(t testing.TB, name string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	var got map[string]any
	require.Eventually(t, func() bool {
		evs := e.Find(name, match)
		if len(evs) == 0 {
			return false
		}
		require.NoError(t, json.Unmarshal(evs[0].Data, &got))
		return true
	}, 15*time.Second, 5*time.Millisecond, "no %s event", name)
	return got
}
