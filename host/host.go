package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/oci"
)

// Locks of the host, outermost first. A lock may be taken while holding only those above it;
// a leaf is never held while another lock is taken (its holder reads or writes what it guards,
// then lets go). The tables' locks (4, 7, 9, 10) are taken only by their tables' methods; an
// actor's or a provider's own locks by the host's code for actors (actor*.go) or providers
// (provider*.go, builtin_provider.go).
//
//  1. Host.lifecycle (host.go): serializes actor starts, stops, scales and updates on this host.
//     Held across a stop's quiesce, which waits for the actor's invocations in flight: so nothing
//     on the invocation path (invoke.go, runtime.go, builtin_caller.go) may take it.
//  2. provider.linkMu (provider.go): held while a provider process is told of its links
//     (provider_links.go), so it hears them in the link cache's order; it takes linkCache.mu to
//     read the links.
//  3. actor.mu (actor.go), leaf: an actor's image ref and logical instances.
//  4. actorTable.mu (actor.go), leaf: the running actors by key.
//  5. pool.mu (pool.go), leaf: an actor module's instances; they are closed after it is let go.
//  6. watchdog.mu (watchdog.go), leaf: the runtime's live instances (closing an instance takes it).
//  6a. runtime.mu (runtime.go): written while a module compiles, read while one instantiates
//     (a wazero 1.12 race); watchdog.mu may be taken under it, nothing else.
//  7. providerTable.mu (provider.go), leaf: the supervised providers and the starts in progress.
//  8. provider.mu (provider.go), leaf: a provider's state, restarts and health.
//  9. linkCache.mu (links.go), leaf: the links of the lattice bucket, applied and rejected.
//  10. aliasTable.mu (links.go), leaf: the call aliases of the claims in the lattice bucket.
//  11. lineLog.mu (provider_process.go), leaf: a provider's partial output line.
//  12. Host.stopMu (host.go), leaf: the cancel func of Run's context.
//
// Only lifecycle, linkMu and runtime.mu are held while another is taken: lifecycle with 3 to 6a
// and 10 (a start or update records the actor's claims), linkMu with 9, runtime.mu with 6. Neither is held with the other.
// No lock is held while waiting for a provider process or its supervisor.

// Host is one member of a lattice. Create it with New and run it with Run.
type Host struct {
	cfg     Config
	log     zerolog.Logger
	tracer  trace.Tracer     // nil: no spans (tracing.go)
	key     *lattice.KeyPair // N…
	cluster *lattice.KeyPair // C…
	issuers []string         // trusted cluster issuers, own key first
	subj    lattice.Subjects
	started time.Time

	ready     chan struct{}
	readyOnce sync.Once
	stop      context.CancelFunc // cancels Run's context; set while running
	stopMu    sync.Mutex

	// lifecycle serializes starts, stops, scales and updates of actors (see the lock order).
	lifecycle sync.Mutex

	ns   *server.Server     // embedded server, nil when joining
	conn lattice.NATSConfig // the connection made, normalized (connect)
	// providerKey is the cluster key process providers sign with (lattice.ProviderClusterKey).
	providerKey *lattice.KeyPair
	nc          *nats.Conn
	js          jetstream.JetStream
	store       *lattice.Store
	chunks      *lattice.Chunks // the lattice's store of large payloads
	caller      *lattice.Caller // actors' calls to providers and other actors
	server      *lattice.Server // invocations of local actors

	rt        *runtime
	actors    *actorTable
	providers *providerTable
	links     *linkCache
	aliases   *aliasTable
	oci       *oci.Client // pulls actors and providers from OCI registries (oci_host.go)
	metrics   *metrics    // nil without Config.Metrics (metrics.go)
	files     *fileLoader // reads actors and providers from files (fileref.go)

	// work is Run's context, the parent of everything the host runs in the background: the
	// commands it acked (background) and the provider supervisors. Run sets it before it serves
	// the lattice and cancels it when it stops, before shutdown.
	work context.Context
	wg   sync.WaitGroup // background work started by commands
}

// New checks cfg and prepares a host; nothing is started until Run.
func New(cfg Config) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("host config: %w", err)
	}
	h := &Host{cfg: cfg, ready: make(chan struct{}), subj: lattice.NewSubjects(cfg.Lattice)}
	var err error
	if cfg.HostSeed != "" {
		h.key, err = lattice.KeyPairFromSeed(cfg.HostSeed)
	} else {
		h.key, err = lattice.CreateKeyPair(lattice.PrefixServer)
	}
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	h.log = cfg.Logger.With().Str("component", "host").Str("host_id", h.key.PublicKey()).Logger()
	h.tracer = newTracer(cfg.TracerProvider)
	if cfg.ClusterSeed != "" {
		h.cluster, err = lattice.KeyPairFromSeed(cfg.ClusterSeed)
	} else {
		h.cluster, err = lattice.CreateKeyPair(lattice.PrefixCluster)
		if err == nil {
			h.log.Warn().Msg("no cluster seed given: generated one; only this host will trust its invocations")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cluster key: %w", err)
	}
	// Process providers sign with a key derived from the cluster key (they never get the cluster
	// seed); every host of the lattice derives and trusts the same one.
	if h.providerKey, err = lattice.ProviderClusterKey(h.cluster); err != nil {
		return nil, err
	}
	h.issuers = append([]string{h.cluster.PublicKey(), h.providerKey.PublicKey()}, cfg.ClusterIssuers...)
	h.actors = newActorTable()
	h.providers = newProviderTable()
	h.links = newLinkCache()
	h.aliases = newAliasTable()
	if h.oci, err = newHostOCIClient(cfg, h.log); err != nil {
		return nil, err
	}
	if h.files, err = newFileLoader(cfg.AllowFileLoad, cfg.MaxArtifactSize); err != nil {
		return nil, fmt.Errorf("host config: %w", err)
	}
	if h.metrics, err = newMetrics(h, cfg.Metrics); err != nil {
		return nil, err
	}
	return h, nil
}

// ID is the host's public key (N…).
func (h *Host) ID() string { return h.key.PublicKey() }

// ClusterPublicKey is the public key (C…) the host signs invocations with.
func (h *Host) ClusterPublicKey() string { return h.cluster.PublicKey() }

// ProviderClusterPublicKey is the public key (C…) its process providers sign invocations with;
// a wasmCloud host of the same lattice must list it in its cluster issuers.
func (h *Host) ProviderClusterPublicKey() string { return h.providerKey.PublicKey() }

// Ready is closed once the host serves the lattice.
func (h *Host) Ready() <-chan struct{} { return h.ready }

// NATSURL is the URL of the NATS server the host uses; for an embedded server, its client URL.
// Valid once Ready is closed.
func (h *Host) NATSURL() string {
	if h.ns != nil {
		return h.ns.ClientURL()
	}
	return h.cfg.NATS.URL()
}

// NATS is the connection the host made (for an embedded server, to its client URL), for parts
// that connect beside it (the dashboard, the reconciler). Valid once Ready is closed.
func (h *Host) NATS() lattice.NATSConfig { return h.conn }

// Stop asks a running host to stop; Run then returns. Safe to call at any time, more than once.
func (h *Host) Stop() {
	h.stopMu.Lock()
	defer h.stopMu.Unlock()
	if h.stop != nil {
		h.stop()
	}
}

// Run starts the host and blocks until ctx ends or the host is stopped, then stops everything it
// started. It returns an error only when the host could not start or failed while running.
func (h *Host) Run(ctx context.Context) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	h.stopMu.Lock()
	h.stop = cancel
	h.stopMu.Unlock()
	h.work = ctx
	h.started = time.Now()

	defer func() {
		cancel() // however Run ends, what runs under it is told to stop first
		h.shutdown()
	}()
	h.killLeftoverProviders()
	if err := h.connect(ctx); err != nil {
		return err
	}
	rt, err := newRuntime(ctx, h)
	if err != nil {
		return err
	}
	h.rt = rt

	watchErr := make(chan error, 1)
	synced := make(chan struct{})
	go func() { watchErr <- h.watchStore(ctx, synced) }()
	select {
	case <-synced:
	case err := <-watchErr:
		return fmt.Errorf("watch lattice data: %w", err)
	case <-ctx.Done():
		return nil
	}

	subs, err := h.subscribeControl()
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	if err := h.nc.Flush(); err != nil {
		return fmt.Errorf("nats flush: %w", err)
	}
	h.publish(lattice.EventHostStarted, lattice.HostStartedData{
		Labels: h.cfg.Labels, FriendlyName: h.friendlyName(), UptimeSeconds: 0, Version: h.cfg.Version,
	})
	h.readyOnce.Do(func() { close(h.ready) })
	h.log.Info().Str("nats", h.NATSURL()).Str("lattice", h.cfg.Lattice).Msg("host started")
	// The chunk store and the buckets' replicas are seen to beside serving: neither may hold the
	// host back (a NATS user without rights to a bucket would make each request wait out its
	// timeout).
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.openChunks(ctx)
		h.checkReplicas(ctx)
	}()

	hb := time.NewTicker(h.cfg.HeartbeatInterval)
	defer hb.Stop()
	h.heartbeat()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-watchErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch lattice data: %w", err)
		case <-hb.C:
			h.heartbeat()
		}
	}
}

// shutdown stops the host once Run's context has ended, in the order that loses no acknowledged
// work: the commands it acked return (a pull or a start in progress is abandoned, since their
// context ended, and says so in its failure event), then providers stop (each finishes what it is
// serving, which may still call actors here; their supervisors began shutting them down when the
// context ended), then actors (their subscriptions drained and their invocations in flight
// answered), and last the connection.
func (h *Host) shutdown() {
	h.wg.Wait()
	if h.nc != nil {
		var wg sync.WaitGroup
		for _, p := range h.providers.all() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.stopProvider(p, "host stopping")
			}()
		}
		wg.Wait()
		for _, a := range h.actors.all() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.stopActor(a, 0, nil)
			}()
		}
		wg.Wait()
	}
	if h.nc != nil && !h.nc.IsClosed() {
		h.publish(lattice.EventHostStopped, lattice.HostStoppedData{Labels: h.cfg.Labels})
		_ = h.nc.Drain()
		for i := 0; i < 100 && !h.nc.IsClosed(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		h.nc.Close()
	}
	if h.rt != nil {
		h.rt.close()
		h.rt = nil
	}
	if h.ns != nil {
		h.ns.Shutdown()
		h.ns.WaitForShutdown()
	}
	h.log.Info().Msg("host stopped")
}

func (h *Host) friendlyName() string {
	if h.cfg.FriendlyName != "" {
		return h.cfg.FriendlyName
	}
	return friendlyName(h.key.PublicKey())
}

// friendlyName derives a stable two-word name from a key, like upstream hosts do.
func friendlyName(key string) string {
	adjectives := []string{"quiet", "bold", "swift", "calm", "bright", "gentle", "brave", "eager", "lucky", "nimble", "proud", "sunny", "witty", "young", "ancient", "silent"}
	nouns := []string{"river", "forest", "meadow", "canyon", "harbor", "island", "summit", "valley", "glacier", "prairie", "lagoon", "orchard", "trellis", "garden", "comet", "breeze"}
	var sum int
	for _, c := range key {
		sum = sum*31 + int(c)
	}
	if sum < 0 {
		sum = -sum
	}
	return adjectives[sum%len(adjectives)] + "-" + nouns[(sum/len(adjectives))%len(nouns)] + "-" + strings.ToLower(key[len(key)-4:])
}

var errStopped = errors.New("host is stopping")
