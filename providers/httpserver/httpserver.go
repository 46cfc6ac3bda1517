// Package httpserver is the wasmcloud:httpserver capability provider: every actor linked to it
// gets its own HTTP listener (address from the link values, see ParseSettings), and each HTTP
// request becomes an HttpServer.HandleRequest invocation of that actor, whose HttpResponse becomes
// the HTTP response.
//
// It is built on package providers (the SDK) and the contract types of
// lattice/contracts/httpserver. It must not import host, actor or another provider. The same
// server runs inside a host as its built-in HTTP server (wasmcloud+builtin://http-server): the
// host hands it a Caller (NewWithCaller) instead of the SDK's lattice connection.
package httpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/providers"
)

// Config is the SDK configuration of this provider.
func Config() providers.Config {
	return providers.Config{ContractID: contract.ContractID, Name: "httpserver"}
}

// closeTimeout bounds how long in-flight requests may finish when a listener closes.
const closeTimeout = 2 * time.Second

// BuiltinName is the name in the claims of the HTTP server a host runs in process.
const BuiltinName = "HTTP Server (built-in)"

// Caller calls an actor's operation and returns its answer: the SDK's *providers.Host does it
// with a signed invocation over the lattice, a host's built-in in process when it runs the actor.
// An error meaning that no actor answered wraps providers.ErrActorNotFound (503), a timeout
// context.DeadlineExceeded (503); any other error is the actor failing (500).
type Caller interface {
	CallActor(ctx context.Context, actorID, operation string, msg []byte) ([]byte, error)
}

// Provider is the HTTP server provider. Make it with New, and providers.Run drives it; or with
// NewWithCaller, for a host that runs it in process.
type Provider struct {
	mu      sync.Mutex
	caller  Caller
	tracer  trace.Tracer // nil: no spans (tracing.go)
	log     zerolog.Logger
	servers map[string]*server // by actor id
	metrics *Metrics           // nil: no metrics (metrics.go)
}

// New returns a provider with no listeners; Init gives it the lattice connection.
func New() *Provider {
	return &Provider{servers: map[string]*server{}, log: zerolog.Nop()}
}

// NewWithCaller returns a provider with no listeners whose requests go to c, ready for PutLink
// without Init: what a host runs as its built-in HTTP server.
func NewWithCaller(c Caller, log zerolog.Logger) *Provider {
	return &Provider{servers: map[string]*server{}, caller: c, tracer: tracerOf(c), log: log.With().Str("component", "httpserver").Logger()}
}

// Init keeps the host handle, through which requests reach actors.
func (p *Provider) Init(_ context.Context, h *providers.Host) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.caller = h
	p.tracer = tracerOf(h)
	p.log = h.Logger().With().Str("component", "httpserver").Logger()
	if reg := h.Metrics(); reg != nil {
		m, err := NewMetrics(reg)
		if err != nil {
			return err
		}
		p.metrics = m
	}
	return nil
}

// PutLink starts the actor's listener. A link put again with the same settings keeps the
// listener; with other settings the old listener is closed and a new one started. An invalid
// setting or a failed bind is returned (the SDK then refuses the actor's link).
func (p *Provider) PutLink(_ context.Context, l lattice.LinkDefinition) error {
	settings, err := ParseSettings(l.Values)
	if err != nil {
		return fmt.Errorf("link of actor %s: %w", l.ActorID, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.caller == nil {
		return errors.New("httpserver: PutLink before Init")
	}
	if old, ok := p.servers[l.ActorID]; ok {
		if old.settings.equal(settings) {
			return nil
		}
		delete(p.servers, l.ActorID)
		old.close()
	}
	if !strings.HasSuffix(settings.Address, ":0") {
		for actor, s := range p.servers {
			if s.settings.Address == settings.Address {
				return fmt.Errorf("link of actor %s: address %s is already served for actor %s", l.ActorID, settings.Address, actor)
			}
		}
	}
	s, err := p.listen(l.ActorID, settings)
	if err != nil {
		return fmt.Errorf("link of actor %s: %w", l.ActorID, err)
	}
	p.servers[l.ActorID] = s
	p.log.Info().Str("actor", l.ActorID).Str("address", s.addr().String()).Bool("tls", settings.TLS.Enabled()).Msg("listening")
	return nil
}

// DeleteLink closes the actor's listener; its port is free when DeleteLink returns.
func (p *Provider) DeleteLink(_ context.Context, l lattice.LinkDefinition) error {
	p.mu.Lock()
	s, ok := p.servers[l.ActorID]
	delete(p.servers, l.ActorID)
	p.mu.Unlock()
	if ok {
		s.close()
		p.log.Info().Str("actor", l.ActorID).Str("address", s.addr().String()).Msg("listener closed")
	}
	return nil
}

// Handle answers invocations from actors: this contract has no operations actors call on the
// provider.
func (p *Provider) Handle(_ context.Context, inv providers.Invocation) ([]byte, error) {
	return nil, fmt.Errorf("httpserver provider has no operation %q: actors receive %s, they do not call the provider", inv.Operation, contract.OpHandleRequest)
}

// Health reports unhealthy when a listener stopped on its own.
func (p *Provider) Health(context.Context) (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var failed []string
	for actor, s := range p.servers {
		if err := s.failure(); err != nil {
			failed = append(failed, fmt.Sprintf("listener of actor %s on %s stopped: %v", actor, s.addr(), err))
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		return false, strings.Join(failed, "; ")
	}
	return true, fmt.Sprintf("%d listeners", len(p.servers))
}

// Shutdown closes every listener.
func (p *Provider) Shutdown(context.Context) error {
	p.mu.Lock()
	servers := p.servers
	p.servers = map[string]*server{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() { defer wg.Done(); s.close() }()
	}
	wg.Wait()
	return nil
}

// Addr returns the address an actor's listener is bound to (useful with port 0).
func (p *Provider) Addr(actorID string) (net.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.servers[actorID]
	if !ok {
		return nil, false
	}
	return s.addr(), true
}

// Settings returns the settings of an actor's listener.
func (p *Provider) Settings(actorID string) (Settings, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.servers[actorID]
	if !ok {
		return Settings{}, false
	}
	return s.settings, true
}

// server is one actor's listener.
type server struct {
	actorID  string
	settings Settings
	caller   Caller
	log      zerolog.Logger
	ln       net.Listener
	srv      *http.Server
	done     chan struct{}
	mu       sync.Mutex
	err      error // why Serve returned, when not closed by us
}

func (p *Provider) listen(actorID string, settings Settings) (*server, error) {
	ln, err := net.Listen("tcp", settings.Address)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", settings.Address, err)
	}
	if settings.TLS.Enabled() {
		cert, err := tls.LoadX509KeyPair(settings.TLS.CertFile, settings.TLS.PrivKeyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
	}
	s := &server{
		actorID:  actorID,
		settings: settings,
		caller:   p.caller,
		log:      p.log.With().Str("actor", actorID).Logger(),
		ln:       ln,
		done:     make(chan struct{}),
	}
	var handler http.Handler = s
	if p.tracer != nil {
		handler = traced{tracer: p.tracer, s: s}
	}
	s.srv = &http.Server{
		Handler:           p.metrics.instrument(actorID, handler),
		ReadHeaderTimeout: settings.ReadHeaderTimeout,
		ReadTimeout:       settings.ReadBodyTimeout,
		IdleTimeout:       settings.IdleTimeout,
		ErrorLog:          newStdLogger(s.log),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			s.log.Error().Err(err).Msg("listener stopped")
		}
	}()
	return s, nil
}

func (s *server) addr() net.Addr { return s.ln.Addr() }

func (s *server) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// close stops accepting at once (the port is free on return), lets in-flight requests finish for
// closeTimeout, then drops them.
func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

func (a Settings) equal(b Settings) bool {
	eq := func(x, y []string) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	return a.Address == b.Address && a.Timeout == b.Timeout && a.MaxContentLen == b.MaxContentLen &&
		a.TLS == b.TLS && a.ReadOnly == b.ReadOnly && a.CacheControl == b.CacheControl &&
		eq(a.CORS.AllowedOrigins, b.CORS.AllowedOrigins) && eq(a.CORS.AllowedHeaders, b.CORS.AllowedHeaders) &&
		eq(a.CORS.AllowedMethods, b.CORS.AllowedMethods) && eq(a.CORS.ExposedHeaders, b.CORS.ExposedHeaders) &&
		a.CORS.MaxAge == b.CORS.MaxAge && a.ReadHeaderTimeout == b.ReadHeaderTimeout &&
		a.ReadBodyTimeout == b.ReadBodyTimeout && a.IdleTimeout == b.IdleTimeout
}

// Interface guards.
var (
	_ providers.Provider      = (*Provider)(nil)
	_ providers.Initializer   = (*Provider)(nil)
	_ providers.HealthChecker = (*Provider)(nil)
	_ providers.Shutdowner    = (*Provider)(nil)
	_ Caller                  = (*providers.Host)(nil)
)
