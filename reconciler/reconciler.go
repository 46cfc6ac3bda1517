package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
)

// Config configures a Reconciler. Build it from DefaultConfig.
type Config struct {
	// Lattice is the lattice prefix {L}.
	Lattice string
	// HostID names this reconciler in the lease and in the statuses it writes: the host's key.
	HostID string
	// Interval is the longest time between two passes while this reconciler holds the lease;
	// events and store changes bring a pass sooner.
	Interval time.Duration
	// LeaseTTL is how long the lease outlives its holder; it is renewed every third of it. It
	// bounds how long a lattice goes unreconciled after the holder's host dies. Used when the
	// lease bucket is created; an existing bucket keeps its own.
	LeaseTTL time.Duration
	// CommandTimeout is how long a start or update counts as in flight (pulls can be slow).
	CommandTimeout time.Duration
	// RequestTimeout bounds each control request (acks, inventories).
	RequestTimeout time.Duration
	// Replicas of the buckets it creates.
	Replicas int
	// JSDomain is the JetStream domain of the lattice's buckets ("" for none).
	JSDomain string
	// LinkAccount, an account key with its seed, signs every link the reconciler puts (PROTOCOL.md
	// §10), so that hosts with a link-issuer list apply them. Nil puts links unsigned.
	LinkAccount *lattice.KeyPair
	// LinkIssuers are the link issuers of the hosts (those of the host it runs beside): when
	// non-empty, a link in the bucket counts as in place only when one of them signed it, and
	// without a LinkAccount among them the reconciler puts no link and says so in the app status.
	LinkIssuers []string
	// Logger receives the reconciler's logs; disabled by default.
	Logger zerolog.Logger
	// Metrics, when set, receives the reconciler's Prometheus metrics (metrics.go).
	Metrics prometheus.Registerer
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Lattice:        lattice.DefaultLattice,
		Interval:       3 * time.Second,
		LeaseTTL:       10 * time.Second,
		CommandTimeout: 2 * time.Minute,
		RequestTimeout: 2 * time.Second,
		Replicas:       1,
		Logger:         zerolog.Nop(),
	}
}

// Validate reports what is wrong with the config.
func (c *Config) Validate() error {
	var errs []error
	if err := lattice.CheckPublicKey(lattice.PrefixServer, c.HostID); err != nil {
		errs = append(errs, fmt.Errorf("reconciler host id: %w", err))
	}
	if c.Interval <= 0 || c.CommandTimeout <= 0 || c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("reconciler interval, command timeout and request timeout: must be positive"))
	}
	if err := lattice.CheckReplicas(c.Replicas); err != nil {
		errs = append(errs, fmt.Errorf("reconciler bucket %w", err))
	}
	if c.LeaseTTL < time.Second {
		errs = append(errs, fmt.Errorf("reconciler lease ttl %s: at least a second", c.LeaseTTL))
	}
	for _, k := range c.LinkIssuers {
		if err := lattice.CheckPublicKey(lattice.PrefixAccount, k); err != nil {
			errs = append(errs, fmt.Errorf("reconciler link issuer: %w", err))
		}
	}
	if a := c.LinkAccount; a != nil {
		switch {
		case a.Prefix() != lattice.PrefixAccount:
			errs = append(errs, fmt.Errorf("reconciler link account %s: a %s key, want an account key (A…)", a.PublicKey(), a.Prefix()))
		case !a.HasPrivateKey():
			errs = append(errs, fmt.Errorf("reconciler link account %s: no seed to sign with", a.PublicKey()))
		case len(c.LinkIssuers) > 0 && !slices.Contains(c.LinkIssuers, a.PublicKey()):
			errs = append(errs, fmt.Errorf("reconciler link account %s is not one of the link issuers (%s): hosts would reject every link it signs",
				a.PublicKey(), strings.Join(c.LinkIssuers, ", ")))
		}
	}
	return errors.Join(errs...)
}

// Reconciler keeps a lattice at its deployed apps while it holds the lease. Create it with New
// and run it with Run.
type Reconciler struct {
	cfg Config
	nc  *nats.Conn
	log zerolog.Logger

	client *lattice.Client
	store  *app.Store
	data   *lattice.Store
	lease  *app.Lease
	mem    *inflight

	kick chan struct{}

	mu      sync.Mutex
	leading bool
	passes  int
	states  map[app.State]int // the apps by state at the last pass (metrics.go)
}

// New prepares a reconciler on an open NATS connection, which stays the caller's.
func New(nc *nats.Conn, cfg Config) (*Reconciler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client, err := lattice.NewClient(nc, lattice.ClientConfig{Lattice: cfg.Lattice, Timeout: cfg.RequestTimeout,
		HostsQuietPeriod: 200 * time.Millisecond, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	r := &Reconciler{
		cfg: cfg, nc: nc, client: client,
		log:  cfg.Logger.With().Str("component", "reconciler").Logger(),
		mem:  newInflight(cfg.CommandTimeout),
		kick: make(chan struct{}, 1),
	}
	if err := r.registerMetrics(cfg.Metrics); err != nil {
		return nil, err
	}
	return r, nil
}

// Leading reports whether this reconciler holds the lease now.
func (r *Reconciler) Leading() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leading
}

// Passes is how many passes this reconciler has made as the leader.
func (r *Reconciler) Passes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.passes
}

// Run takes part in the lattice's reconciliation until ctx ends: it tries for the lease, and
// while it holds it, reconciles. On return it gives the lease up.
func (r *Reconciler) Run(ctx context.Context) error {
	js, err := lattice.NewJetStream(r.nc, r.cfg.JSDomain)
	if err != nil {
		return fmt.Errorf("reconciler: %w", err)
	}
	if r.store, err = app.OpenStore(ctx, js, r.cfg.Lattice, r.cfg.Replicas); err != nil {
		return fmt.Errorf("reconciler: %w", err)
	}
	if r.data, err = lattice.OpenStore(ctx, js, r.cfg.Lattice, r.cfg.Replicas); err != nil {
		return fmt.Errorf("reconciler: %w", err)
	}
	if r.lease, err = app.OpenLease(ctx, js, r.cfg.Lattice, r.cfg.HostID, r.cfg.LeaseTTL, r.cfg.Replicas); err != nil {
		return fmt.Errorf("reconciler: %w", err)
	}
	unsub, err := r.client.Subscribe(r.onEvent)
	if err != nil {
		return fmt.Errorf("reconciler: %w", err)
	}
	defer func() { _ = unsub() }()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.watchStore(ctx)
	}()
	defer wg.Wait()
	defer func() {
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer rcancel()
		if err := r.lease.Release(rctx); err != nil {
			r.log.Debug().Err(err).Msg("release lease")
		}
		r.setLeading(false)
	}()

	renew := time.NewTicker(r.lease.TTL() / 3)
	defer renew.Stop()
	next := time.NewTimer(0)
	defer next.Stop()
	r.tryLease(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-renew.C:
			r.tryLease(ctx)
		case <-r.kick:
			// Let a burst of events settle into one pass.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(50 * time.Millisecond):
			}
			r.drainKick()
			r.pass(ctx)
			next.Reset(r.cfg.Interval)
		case <-next.C:
			r.pass(ctx)
			next.Reset(r.cfg.Interval)
		}
	}
}

func (r *Reconciler) drainKick() {
	select {
	case <-r.kick:
	default:
	}
}

// poke asks for a pass soon.
func (r *Reconciler) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *Reconciler) setLeading(v bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leading = v
}

func (r *Reconciler) tryLease(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	held, err := r.lease.Acquire(lctx)
	if err != nil && ctx.Err() == nil {
		r.log.Warn().Err(err).Msg("reconciler lease")
	}
	was := r.Leading()
	r.setLeading(held)
	switch {
	case held && !was:
		r.log.Info().Msg("took the reconciler lease: reconciling the lattice's apps")
		r.mem.reset()
		r.poke()
	case !held && was:
		r.log.Info().Msg("lost the reconciler lease")
	}
}

// watchStore turns changes of the app records into passes (statuses are the reconciler's own
// output: a change of one needs no pass).
func (r *Reconciler) watchStore(ctx context.Context) {
	for ctx.Err() == nil {
		err := r.store.Watch(ctx, func(c app.Change) {
			if !strings.HasPrefix(c.Key, app.StatusKeyPrefix) {
				r.poke()
			}
		})
		if ctx.Err() != nil {
			return
		}
		r.log.Debug().Err(err).Msg("apps watch ended; watching again")
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// onEvent notes failures of commands in flight and brings the next pass sooner.
func (r *Reconciler) onEvent(e lattice.CloudEvent) {
	switch e.Name() {
	case lattice.EventHostHeartbeat, app.EventStatus, lattice.EventHealthCheckPassed:
		return
	case lattice.EventActorStartFailed:
		var d lattice.ActorStartFailedData
		if e.DecodeData(&d) == nil {
			r.mem.startFailed(e.Source, d.ActorRef, d.Error, false)
		}
	case lattice.EventActorUpdateFailed:
		var d lattice.ActorUpdateFailedData
		if e.DecodeData(&d) == nil {
			r.mem.startFailed(e.Source, d.ImageRef, d.Reason, false)
		}
	case lattice.EventProviderStartFailed:
		var d lattice.ProviderStartFailedData
		if e.DecodeData(&d) == nil {
			r.mem.startFailed(e.Source, d.ProviderRef, d.Error, true)
		}
	}
	if r.Leading() {
		r.poke()
	}
}

// observe reads the lattice: the hosts, their inventories and the links.
func (r *Reconciler) observe(ctx context.Context) (*world, error) {
	hosts, err := r.client.GetHosts(ctx)
	if err != nil && !errors.Is(err, lattice.ErrNoHost) {
		return nil, err
	}
	w := &world{hosts: make([]*hostState, len(hosts))}
	g, gctx := errgroup.WithContext(ctx)
	for i, h := range hosts {
		g.Go(func() error {
			inv, err := r.client.GetInventory(gctx, h.ID)
			if err != nil {
				return err
			}
			w.hosts[i] = &hostState{id: h.ID, labels: cloneLabels(inv.Labels), actors: inv.Actors, providers: inv.Providers}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	links, err := r.data.Links(ctx)
	if err != nil && links == nil {
		return nil, err
	}
	w.links = make(map[string]lattice.LinkDefinition, len(links))
	for _, l := range links {
		w.links[lattice.LinkID(l.ActorID, l.ContractID, l.LinkName)] = l
	}
	return w, nil
}

// pass is one round: observe, plan every app, act, write statuses.
func (r *Reconciler) pass(ctx context.Context) {
	if !r.Leading() {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 4*r.cfg.RequestTimeout)
	defer cancel()
	records, err := r.store.List(pctx)
	if err != nil && !errors.Is(err, lattice.ErrMalformedEntry) {
		r.log.Warn().Err(err).Msg("reconcile: list apps")
		return
	}
	complete := err == nil // every record could be read: only then is an app without one gone
	if err != nil {
		r.log.Warn().Err(err).Msg("reconcile: some app records cannot be read")
	}
	statuses, err := r.store.Statuses(pctx)
	if err != nil {
		r.log.Warn().Err(err).Msg("reconcile: some app statuses cannot be read")
	}
	w, err := r.observe(pctx)
	if err != nil {
		r.log.Warn().Err(err).Msg("reconcile: read the lattice (nothing done this pass)")
		return
	}
	pl := &planner{w: w, mem: r.mem, signer: r.cfg.LinkAccount, issuers: r.cfg.LinkIssuers, now: time.Now()}
	seen := map[string]bool{}
	var acts []action
	var out []app.Status
	var gone []string
	for i := range records {
		rec := &records[i]
		seen[rec.Name] = true
		prev := statusPtr(statuses, rec.Name)
		if m := rec.DeployedManifest(); m != nil {
			a, st := pl.plan(rec.Name, m, prev)
			acts = append(acts, a...)
			out = append(out, st)
			continue
		}
		a, st, _ := pl.cleanup(rec.Name, prev)
		if len(a) == 0 {
			r.mem.forgetApp(rec.Name)
		}
		acts = append(acts, a...)
		out = append(out, st)
	}
	// Apps whose records are gone, or that only annotations remember: clean up, then forget.
	orphans := map[string]bool{}
	for name := range statuses {
		orphans[name] = true
	}
	for _, h := range w.hosts {
		h.managedApps(orphans)
	}
	for name := range orphans {
		if seen[name] || !complete {
			continue
		}
		a, st, done := pl.cleanup(name, statusPtr(statuses, name))
		acts = append(acts, a...)
		if done {
			if _, ok := statuses[name]; ok {
				gone = append(gone, name)
			}
			r.mem.forgetApp(name)
			continue
		}
		out = append(out, st)
	}
	// Commands to different hosts and components go out together; each gets its own timeout.
	g := new(errgroup.Group)
	g.SetLimit(16)
	for _, a := range acts {
		g.Go(func() error {
			actx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
			defer cancel()
			r.act(actx, a)
			return nil
		})
	}
	_ = g.Wait()
	sctx, scancel := context.WithTimeout(ctx, 4*r.cfg.RequestTimeout)
	defer scancel()
	for _, st := range out {
		r.writeStatus(sctx, st, statusPtr(statuses, st.Name))
	}
	for _, name := range gone {
		if err := r.store.DeleteStatus(sctx, name); err != nil {
			r.log.Warn().Err(err).Str("app", name).Msg("reconcile: delete status")
		}
	}
	r.mu.Lock()
	r.passes++
	r.states = countStates(out)
	r.mu.Unlock()
}

func statusPtr(m map[string]app.Status, name string) *app.Status {
	if st, ok := m[name]; ok {
		return &st
	}
	return nil
}

// act sends one command and remembers it as in flight; a refusal counts as a failure of the
// component on that host.
func (r *Reconciler) act(ctx context.Context, a action) {
	var err error
	hc := hostComp{a.host, a.key.app, a.key.comp}
	if a.rollTo != "" {
		r.mem.updateSent(hc, a.rollTo)
	}
	switch a.kind {
	case startActor:
		r.mem.sent(a.key, a.current, a.count, a.image)
		err = r.client.StartActor(ctx, lattice.StartActorCommand{ActorRef: a.image, HostID: a.host, Count: uint16(a.count), Annotations: a.annotations,
			MinInstances: a.minInst, MaxInstances: a.maxInst})
	case limitActor: // count 0 with limits: the host keeps the count
		err = r.client.ScaleActor(ctx, lattice.ScaleActorCommand{ActorID: a.actorID, ActorRef: a.image, HostID: a.host,
			MinInstances: a.minInst, MaxInstances: a.maxInst})
	case stopActor:
		r.mem.sent(a.key, a.current, a.count, "")
		err = r.client.StopActor(ctx, lattice.StopActorCommand{ActorRef: a.actorID, HostID: a.host, Count: uint16(a.count), Annotations: a.annotations})
	case updateActor:
		hc = hostComp{a.host, a.key.app, a.key.comp}
		err = r.client.UpdateActor(ctx, lattice.UpdateActorCommand{ActorID: a.actorID, HostID: a.host, NewActorRef: a.image})
	case startProvider:
		r.mem.sent(a.key, a.current, 1, a.image)
		err = r.client.StartProvider(ctx, lattice.StartProviderCommand{ProviderRef: a.image, LinkName: a.linkName, HostID: a.host,
			Configuration: a.config, Annotations: a.annotations})
	case stopProvider:
		r.mem.sent(a.key, a.current, 1, "")
		err = r.client.StopProvider(ctx, lattice.StopProviderCommand{ProviderRef: a.provider.ID, LinkName: a.provider.LinkName,
			ContractID: a.provider.ContractID, HostID: a.host, Annotations: a.provider.Annotations})
	case putLink:
		if r.mem.linkInFlight(a.link.ID) {
			return
		}
		r.mem.linkSent(a.link.ID)
		err = r.client.PutLink(ctx, a.link)
	case deleteLink:
		if r.mem.linkInFlight(a.link.ID) {
			return
		}
		r.mem.linkSent(a.link.ID)
		err = r.client.DeleteLink(ctx, a.link.ActorID, a.link.ContractID, a.link.LinkName)
	}
	ev := r.log.Debug()
	if err != nil {
		ev = r.log.Warn().Err(err)
		switch {
		case a.kind == updateActor:
			r.mem.updateRefused(hc, err.Error())
		case a.host != "":
			r.mem.failed(hc, err.Error())
			r.mem.forget(a.key) // refused: nothing is in flight
		}
	}
	ev.Str("action", a.kind.String()).Str("host", a.host).Str("app", a.key.app).Str("component", a.key.comp).
		Str("image", a.image).Int("count", a.count).Msg("reconcile")
}

// writeStatus stores and announces a status when it says something new against the one stored
// (read at the start of the pass).
func (r *Reconciler) writeStatus(ctx context.Context, st app.Status, stored *app.Status) {
	now := time.Now().UTC()
	st.Reconciler = r.cfg.HostID
	st.Since = now
	if stored != nil && stored.State == st.State && stored.Version == st.Version {
		st.Since = stored.Since
	}
	if stored != nil && sameStatus(*stored, st) {
		return
	}
	st.Updated = now
	if err := r.store.PutStatus(ctx, st); err != nil {
		r.log.Warn().Err(err).Str("app", st.Name).Msg("reconcile: write status")
		return
	}
	ev, err := lattice.NewEvent(app.EventStatus, r.cfg.HostID, st)
	if err == nil {
		if raw, err := json.Marshal(ev); err == nil {
			_ = r.nc.Publish(r.client.Subjects().Events(), raw)
		}
	}
	r.log.Info().Str("app", st.Name).Str("version", st.Version).Str("state", string(st.State)).Str("message", st.Message).Msg("app status")
}

// sameStatus compares two statuses but for when they were written.
func sameStatus(a, b app.Status) bool {
	a.Updated, b.Updated = time.Time{}, time.Time{}
	a.Since, b.Since = a.Since.Truncate(time.Second).UTC(), b.Since.Truncate(time.Second).UTC()
	return reflect.DeepEqual(normalize(a), normalize(b))
}

// normalize makes empty and nil slices equal, as they are after a JSON round trip.
func normalize(s app.Status) app.Status {
	if len(s.Components) == 0 {
		s.Components = nil
	}
	if len(s.Links) == 0 {
		s.Links = nil
	}
	if len(s.Hosts) == 0 {
		s.Hosts = nil
	}
	return s
}
