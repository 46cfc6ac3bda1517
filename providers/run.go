package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/trellis-lattice/trellis/lattice"
)

// Timeouts of the provider's own work.
const (
	// callbackTimeout bounds PutLink, DeleteLink, Health and Shutdown calls.
	callbackTimeout = 10 * time.Second
	// healthTimeout bounds a HealthChecker answer; hosts wait a few seconds for it.
	healthTimeout = 2 * time.Second
)

// Run serves p on the lattice hd describes until ctx ends or a host asks the provider to shut
// down, then drains and returns nil. It returns an error when cfg or hd is invalid, the lattice
// cannot be reached, Init fails, or the lattice connection is closed under it.
//
// Before serving invocations it calls Init (when p is an Initializer) and applies every link of
// hd.LinkDefinitions. See the package comment for the whole lifecycle.
func Run(ctx context.Context, hd lattice.HostData, p Provider, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if p == nil {
		return errors.New("run provider: nil Provider")
	}
	if err := hd.Validate(); err != nil {
		return fmt.Errorf("run provider %s: %w", cfg.name(), err)
	}
	cluster, err := lattice.KeyPairFromSeed(hd.InvocationSeed)
	if err != nil {
		return fmt.Errorf("run provider %s: invocation seed: %w", cfg.name(), err)
	}
	hd.LinkDefinitions = append([]lattice.LinkDefinition(nil), hd.LinkDefinitions...)
	log := cfg.Logger.With().
		Str("component", "provider").
		Str("provider", hd.ProviderKey).
		Str("contract", cfg.ContractID).
		Str("link_name", hd.LinkName).
		Logger()

	closed := make(chan struct{})
	nc, err := connect(hd, cfg, log, closed)
	if err != nil {
		return fmt.Errorf("run provider %s: %w", cfg.name(), err)
	}
	defer nc.Close()
	ms, err := serveMetrics(hd.ConfigJSON, log)
	if err != nil {
		return fmt.Errorf("run provider %s: %w", cfg.name(), err)
	}
	defer ms.stop()

	subj := lattice.NewSubjects(hd.LatticeRPCPrefix)
	h := &Host{
		data:    hd,
		cfg:     cfg,
		log:     log,
		nc:      nc,
		subj:    subj,
		cluster: cluster,
		timeout: time.Duration(hd.DefaultRPCTimeoutMS) * time.Millisecond,
		links:   map[string]lattice.LinkDefinition{},
		failed:  map[string]error{},
		metrics: ms,
	}
	chunks := lattice.NewChunks(nc, hd.JSDomain, hd.LatticeRPCPrefix, lattice.ChunkLimits{}, log)
	h.caller = lattice.NewCaller(nc, cluster, hd.HostID, subj, chunks, h.timeout).WithTracer(cfg.TracerProvider)
	r := &runner{h: h, p: p, log: log, stop: make(chan struct{}), closed: closed}
	r.server = &lattice.Server{
		Issuers: hd.ClusterIssuers,
		Chunks:  chunks,
		Timeout: h.timeout,
		Log:     log,
		Tracer:  tracer(cfg.TracerProvider),
	}
	return r.run(ctx)
}

// runner is one Run: the subscriptions and the in-flight invocations.
type runner struct {
	h        *Host
	p        Provider
	server   *lattice.Server
	log      zerolog.Logger
	base     context.Context // parent of Handle contexts; cancelled after the drain
	inflight sync.WaitGroup  // invocations and link changes under way
	mu       sync.Mutex
	draining bool          // set once; no new work is started after it
	stop     chan struct{} // closed by a shutdown request
	stopOnce sync.Once
	closed   chan struct{} // closed when the NATS connection is closed
}

func (r *runner) run(ctx context.Context) error {
	h := r.h
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	r.base = base

	if in, ok := r.p.(Initializer); ok {
		if err := in.Init(ctx, h); err != nil {
			return fmt.Errorf("run provider %s: init: %w", h.cfg.name(), err)
		}
	}
	for _, l := range h.data.LinkDefinitions {
		if err := r.putLink(ctx, l); err != nil {
			r.log.Error().Err(err).Str("actor", l.ActorID).Msg("link from host data not applied")
		}
	}

	subj, key, ln := h.subj, h.data.ProviderKey, h.data.LinkName
	var subs []*nats.Subscription
	subscribe := func(subject, queue string, cb nats.MsgHandler) error {
		var s *nats.Subscription
		var err error
		if queue != "" {
			s, err = h.nc.QueueSubscribe(subject, queue, cb)
		} else {
			s, err = h.nc.Subscribe(subject, cb)
		}
		if err != nil {
			return fmt.Errorf("run provider %s: subscribe %s: %w", h.cfg.name(), subject, err)
		}
		s.SetPendingLimits(-1, -1) //nolint:errcheck // only fails on a closed subscription
		subs = append(subs, s)
		return nil
	}
	unsubscribe := func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	// Links are one subscription so puts and deletes apply in the order they were published.
	// Health last, so a healthy answer means everything else is listening.
	err := errors.Join(
		subscribe(subj.Provider(key, ln)+".linkdefs.*", "", r.onLink),
		subscribe(subj.ProviderShutdown(key, ln), "", r.onShutdown),
		subscribe(subj.Provider(key, ln), lattice.ProviderQueueGroup, r.onInvocation),
		subscribe(subj.ProviderHealth(key, ln), "", r.onHealth),
	)
	if err == nil {
		err = h.nc.Flush()
	}
	if err != nil {
		unsubscribe()
		r.shutdownProvider()
		return err
	}
	r.log.Info().Int("links", len(h.Links())).Msg("provider serving")

	var runErr error
	select {
	case <-ctx.Done():
		r.log.Info().Msg("provider stopping: context done")
	case <-r.stop:
		r.log.Info().Msg("provider stopping: shutdown requested")
	case <-r.closed:
		runErr = fmt.Errorf("run provider %s: lattice connection closed", h.cfg.name())
	}

	// Drain: no new work, let in-flight invocations finish within the RPC timeout.
	unsubscribe()
	r.mu.Lock()
	r.draining = true
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(h.timeout + time.Second):
		r.log.Warn().Msg("in-flight invocations did not finish; cancelling them")
		cancelBase()
		<-done
	}
	r.shutdownProvider()
	if err := h.nc.FlushTimeout(time.Second); err != nil && runErr == nil && !h.nc.IsClosed() {
		r.log.Debug().Err(err).Msg("flush before close")
	}
	return runErr
}

func (r *runner) shutdownProvider() {
	s, ok := r.p.(Shutdowner)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), callbackTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		r.log.Error().Err(err).Msg("provider shutdown")
	}
}

// begin registers work under way; it reports false once draining started.
func (r *runner) begin() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.draining {
		return false
	}
	r.inflight.Add(1)
	return true
}

// onShutdown answers a shutdown request: JSON {"host_id": H}. A request for another host is
// ignored (several hosts may run the same provider and link name); an empty or unreadable
// payload shuts down, as upstream providers do for old hosts.
func (r *runner) onShutdown(m *nats.Msg) {
	var req lattice.ShutdownRequest
	if len(m.Data) > 0 {
		if err := json.Unmarshal(m.Data, &req); err != nil {
			r.log.Warn().Err(err).Msg("shutdown request payload is not JSON {\"host_id\"}; shutting down anyway")
		}
	}
	if req.HostID != "" && req.HostID != r.h.data.HostID {
		r.log.Debug().Str("host_id", req.HostID).Msg("ignoring shutdown request for another host")
		return
	}
	if m.Reply != "" {
		if err := m.Respond([]byte(lattice.ShutdownAck)); err != nil {
			r.log.Warn().Err(err).Msg("acknowledge shutdown")
		}
	}
	r.stopOnce.Do(func() { close(r.stop) })
}

// onHealth answers a health check with msgpack {healthy, message}.
func (r *runner) onHealth(m *nats.Msg) {
	hl := lattice.HealthReply{Healthy: true}
	if hc, ok := r.p.(HealthChecker); ok {
		ctx, cancel := context.WithTimeout(r.base, healthTimeout)
		hl.Healthy, hl.Message = hc.Health(ctx)
		cancel()
	}
	if m.Reply == "" {
		return
	}
	data, err := lattice.Marshal(hl)
	if err != nil {
		r.log.Error().Err(err).Msg("encode health answer")
		return
	}
	if err := m.Respond(data); err != nil {
		r.log.Debug().Err(err).Msg("answer health check")
	}
}

// onLink applies a link put or delete (msgpack LinkDefinition), in publication order.
func (r *runner) onLink(m *nats.Msg) {
	if !r.begin() {
		return
	}
	defer r.inflight.Done()
	var err error
	var l lattice.LinkDefinition
	kind := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	if uerr := lattice.Unmarshal(m.Data, &l); uerr != nil {
		err = fmt.Errorf("link %s on %s: %w", kind, m.Subject, uerr)
	} else {
		ctx, cancel := context.WithTimeout(r.base, callbackTimeout)
		switch kind {
		case "put":
			err = r.putLink(ctx, l)
		case "del":
			err = r.deleteLink(ctx, l)
		default:
			err = fmt.Errorf("unknown link operation %q on %s", kind, m.Subject)
		}
		cancel()
	}
	if err != nil {
		ev := r.log.Error()
		if errors.Is(err, errOtherProvider) {
			ev = r.log.Debug()
		}
		ev.Err(err).Str("actor", l.ActorID).Msg("link " + kind)
	}
	if m.Reply != "" {
		// A link put or delete with a reply subject (a Trellis extension) gets the control ack.
		ack := lattice.Ack{Accepted: err == nil}
		if err != nil {
			ack.Error = err.Error()
		}
		data, _ := json.Marshal(ack)
		_ = m.Respond(data)
	}
}

var errOtherProvider = errors.New("link is for another provider")

// checkLink says whether a pushed link is for this provider instance.
func (r *runner) checkLink(l *lattice.LinkDefinition) error {
	h := r.h
	// The subject already addresses this provider and link name: empty fields mean "this one"
	// (a delete may carry only the link's identity).
	if l.LinkName == "" {
		l.LinkName = lattice.DefaultLinkName
	}
	if l.ProviderID == "" {
		l.ProviderID = h.data.ProviderKey
	}
	if l.ContractID == "" {
		l.ContractID = h.cfg.ContractID
	}
	if l.ProviderID != h.data.ProviderKey {
		return fmt.Errorf("%w: %s, this is %s", errOtherProvider, l.ProviderID, h.data.ProviderKey)
	}
	if l.LinkName != h.data.LinkName {
		return fmt.Errorf("%w: link name %q, this instance serves %q", errOtherProvider, l.LinkName, h.data.LinkName)
	}
	if err := lattice.CheckPublicKey(lattice.PrefixModule, l.ActorID); err != nil {
		return fmt.Errorf("link actor_id: %w", err)
	}
	if l.ContractID != h.cfg.ContractID {
		return fmt.Errorf("link of actor %s is for contract %q, provider %s implements %q", l.ActorID, l.ContractID, h.data.ProviderKey, h.cfg.ContractID)
	}
	l.Normalize()
	return nil
}

// putLink hands a link to the provider and records it; a failed link is recorded as failed, so the
// actor's invocations are refused with the reason.
func (r *runner) putLink(ctx context.Context, l lattice.LinkDefinition) error {
	if err := r.checkLink(&l); err != nil {
		return err
	}
	if err := r.p.PutLink(ctx, l); err != nil {
		err = fmt.Errorf("put link of actor %s: %w", l.ActorID, err)
		r.h.failLink(l.ActorID, err)
		return err
	}
	r.h.setLink(l)
	r.log.Info().Str("actor", l.ActorID).Msg("link applied")
	return nil
}

// deleteLink forgets a link and tells the provider, with the values it was put with when known.
func (r *runner) deleteLink(ctx context.Context, l lattice.LinkDefinition) error {
	if err := r.checkLink(&l); err != nil {
		return err
	}
	if known, ok := r.h.Link(l.ActorID); ok {
		l = known
	}
	r.h.forgetLink(l.ActorID)
	if err := r.p.DeleteLink(ctx, l); err != nil {
		return fmt.Errorf("delete link of actor %s: %w", l.ActorID, err)
	}
	r.log.Info().Str("actor", l.ActorID).Msg("link deleted")
	return nil
}

// onInvocation answers one invocation in its own goroutine.
func (r *runner) onInvocation(m *nats.Msg) {
	if !r.begin() {
		_ = lattice.Refuse(m, fmt.Sprintf("provider %s is shutting down", r.h.data.ProviderKey))
		return
	}
	go func() {
		defer r.inflight.Done()
		r.server.Respond(r.base, m, r)
	}()
}

// Name names the provider in the errors of its responses.
func (r *runner) Name() string { return "provider " + r.h.data.ProviderKey }

// Accept runs the provider's checks on an invocation that passed the anti-forgery check: its
// target is this provider and link name, and its origin is a linked actor.
func (r *runner) Accept(inv *lattice.Invocation) error {
	if _, err := r.link(inv); err != nil {
		return err
	}
	return lattice.CheckPayload("invocation "+inv.ID+" of provider "+r.h.data.ProviderKey, lattice.PayloadSize(inv),
		r.h.cfg.MaxInvocationBytes, "the provider's MaxInvocationBytes")
}

// Handle serves an accepted invocation to the provider.
func (r *runner) Handle(ctx context.Context, inv *lattice.Invocation) ([]byte, error) {
	link, err := r.link(inv)
	if err != nil { // unlinked since Accept
		return nil, err
	}
	return r.handle(ctx, Invocation{Origin: inv.Origin, Operation: inv.Operation, Msg: inv.Msg, Link: link, ID: inv.ID})
}

// link checks an invocation's target and returns the link of its origin actor.
func (r *runner) link(inv *lattice.Invocation) (lattice.LinkDefinition, error) {
	h := r.h
	t := inv.Target
	if t.PublicKey != h.data.ProviderKey || t.LinkName != h.data.LinkName || t.ContractID != h.cfg.ContractID {
		return lattice.LinkDefinition{}, fmt.Errorf("%w: invocation %s targets %s (%s, link name %s), this is provider %s (%s, link name %s)",
			ErrWrongTarget, inv.ID, t.PublicKey, t.ContractID, t.LinkName, h.data.ProviderKey, h.cfg.ContractID, h.data.LinkName)
	}
	actor := inv.Origin.PublicKey
	if inv.Origin.IsActor() {
		if l, ok := h.Link(actor); ok {
			return l, nil
		}
	}
	err := fmt.Errorf("actor %s is %w to provider %s (%s, link name %s)", actor, ErrNotLinked, h.data.ProviderKey, h.cfg.ContractID, h.data.LinkName)
	if ferr := h.linkFailure(actor); ferr != nil {
		err = fmt.Errorf("%w: its link failed: %v", err, ferr)
	}
	return lattice.LinkDefinition{}, err
}

// handle calls the provider, turning a panic into an error.
func (r *runner) handle(ctx context.Context, inv Invocation) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error().Str("panic", fmt.Sprint(p)).Bytes("stack", debug.Stack()).Str("operation", inv.Operation).Msg("provider panicked")
			out, err = nil, fmt.Errorf("provider %s: %s panicked: %v", r.h.data.ProviderKey, inv.Operation, p)
		}
	}()
	out, err = r.p.Handle(ctx, inv)
	if out == nil {
		out = []byte{}
	}
	return out, err
}

// connect opens the lattice RPC connection HostData describes: every server, the credentials
// and the TLS settings of its host (lattice.HostData.NATS).
func connect(hd lattice.HostData, cfg Config, log zerolog.Logger, closed chan struct{}) (*nats.Conn, error) {
	var closeOnce sync.Once
	nc := hd.NATS()
	nc.Name = cfg.name() + " provider " + hd.ProviderKey
	conn, err := nc.Connect(
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if !nc.IsClosed() { // Close runs this callback too
				log.Warn().Err(err).Msg("lattice connection lost; reconnecting")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("lattice connection back")
		}),
		nats.ClosedHandler(func(*nats.Conn) { closeOnce.Do(func() { close(closed) }) }),
	)
	if err != nil {
		return nil, err // names the servers, never the credentials
	}
	return conn, nil
}
