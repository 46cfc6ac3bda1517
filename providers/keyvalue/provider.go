package keyvalue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/trellis-lattice/trellis/lattice"
	kv "github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
	"github.com/trellis-lattice/trellis/providers"
)

// ContractID is the contract this provider implements.
const ContractID = kv.ContractID

// URLKey is the link value naming a Redis database; it is looked up case-insensitively.
const URLKey = "URL"

// ErrUnknownOperation: the invocation's operation is not one of the contract.
var ErrUnknownOperation = errors.New("unknown operation")

// Config configures the provider.
type Config struct {
	// Logger receives the provider's logs. When it is disabled, Init takes the SDK's logger.
	Logger zerolog.Logger
	// PingTimeout bounds the Redis check made when a link is put and each health check's
	// per-database ping.
	PingTimeout time.Duration
}

// DefaultConfig returns a Config with a disabled logger and a 2 s ping timeout.
func DefaultConfig() Config {
	return Config{Logger: zerolog.Nop(), PingTimeout: 2 * time.Second}
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	if c.PingTimeout <= 0 {
		return fmt.Errorf("keyvalue provider config: PingTimeout %s: want > 0", c.PingTimeout)
	}
	return nil
}

// Provider is the wasmcloud:keyvalue provider. It implements providers.Provider, Initializer,
// HealthChecker and Shutdowner, and is safe for concurrent use.
type Provider struct {
	cfg Config

	mu     sync.Mutex
	log    zerolog.Logger
	links  map[string]store   // the backend of each linked actor
	memory map[string]*memory // in-memory namespaces by actor, kept for the provider's life
	closed bool
}

// New returns a provider with no links.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Provider{
		cfg:    cfg,
		log:    cfg.Logger.With().Str("component", "keyvalue").Logger(),
		links:  map[string]store{},
		memory: map[string]*memory{},
	}, nil
}

// Init takes the SDK's logger when the provider was configured without one.
func (p *Provider) Init(_ context.Context, h *providers.Host) error {
	if p.cfg.Logger.GetLevel() == zerolog.Disabled {
		p.mu.Lock()
		p.log = h.Logger().With().Str("component", "keyvalue").Logger()
		p.mu.Unlock()
	}
	return nil
}

// PutLink gives the actor its backend: a Redis client when the link has a URL value, else its
// in-memory namespace. A link put again replaces the previous backend (closing a Redis client it
// had). A URL that does not parse is an error; a Redis server that does not answer yet is not:
// the client reconnects on use, the failure is logged and Health reports it.
func (p *Provider) PutLink(ctx context.Context, l lattice.LinkDefinition) error {
	var s store
	url, _ := l.Value(URLKey)
	url = strings.TrimSpace(url)
	if url != "" {
		r, err := newRedis(url)
		if err != nil {
			return fmt.Errorf("keyvalue link of actor %s: %w", l.ActorID, err)
		}
		pctx, cancel := context.WithTimeout(ctx, p.cfg.PingTimeout)
		if err := r.ping(pctx); err != nil {
			p.logger().Warn().Err(err).Str("actor", l.ActorID).
				Msg("redis does not answer yet; the link is kept and the client will retry")
		}
		cancel()
		s = r
	}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		if s != nil {
			_ = s.close()
		}
		return fmt.Errorf("keyvalue link of actor %s: provider is shut down", l.ActorID)
	}
	if s == nil {
		m, ok := p.memory[l.ActorID]
		if !ok {
			m = newMemory(time.Now)
			p.memory[l.ActorID] = m
		}
		s = m
	}
	old := p.links[l.ActorID]
	p.links[l.ActorID] = s
	p.mu.Unlock()

	if old != nil && old != s {
		if err := old.close(); err != nil {
			p.logger().Warn().Err(err).Str("actor", l.ActorID).Msg("close the link's previous backend")
		}
	}
	return nil
}

// DeleteLink drops the actor's backend, closing its Redis client. An in-memory namespace keeps
// its data for when the actor is linked again.
func (p *Provider) DeleteLink(_ context.Context, l lattice.LinkDefinition) error {
	p.mu.Lock()
	s := p.links[l.ActorID]
	delete(p.links, l.ActorID)
	p.mu.Unlock()
	if s == nil {
		return nil
	}
	if err := s.close(); err != nil {
		return fmt.Errorf("keyvalue unlink actor %s: %w", l.ActorID, err)
	}
	return nil
}

// Handle serves one KeyValue.* operation of a linked actor. Errors name the operation; a payload
// that is not the operation's msgpack argument wraps lattice.ErrMalformedMsgpack, an operation
// the contract does not have wraps ErrUnknownOperation, and an actor without a link wraps
// providers.ErrNotLinked.
func (p *Provider) Handle(ctx context.Context, inv providers.Invocation) ([]byte, error) {
	o, ok := ops[inv.Operation]
	if !ok {
		return nil, fmt.Errorf("%w %q: %s has %s", ErrUnknownOperation, inv.Operation, ContractID, strings.Join(Operations(), ", "))
	}
	actor := inv.Origin.PublicKey
	p.mu.Lock()
	s := p.links[actor]
	p.mu.Unlock()
	if s == nil {
		return nil, fmt.Errorf("%s: actor %s is %w to the keyvalue provider", inv.Operation, actor, providers.ErrNotLinked)
	}
	out, err := o(ctx, s, inv.Msg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", inv.Operation, err)
	}
	return out, nil
}

// Health pings every linked Redis database; the message names those that do not answer.
func (p *Provider) Health(ctx context.Context) (bool, string) {
	p.mu.Lock()
	pings := map[string]*redisStore{}
	for actor, s := range p.links {
		if r, ok := s.(*redisStore); ok {
			pings[actor] = r
		}
	}
	p.mu.Unlock()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
	)
	for actor, r := range pings {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, p.cfg.PingTimeout)
			defer cancel()
			if err := r.ping(pctx); err != nil {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("actor %s: %v", actor, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		sort.Strings(failures)
		return false, "redis unreachable: " + strings.Join(failures, "; ")
	}
	return true, ""
}

// Shutdown closes every Redis client and refuses later links.
func (p *Provider) Shutdown(context.Context) error {
	p.mu.Lock()
	p.closed = true
	links := p.links
	p.links = map[string]store{}
	p.mu.Unlock()
	var errs []error
	for _, s := range links {
		errs = append(errs, s.close())
	}
	return errors.Join(errs...)
}

func (p *Provider) logger() *zerolog.Logger {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.log
	return &l
}

// Operations returns the operations the provider serves, sorted.
func Operations() []string {
	out := make([]string, 0, len(ops))
	for name := range ops {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Interface guards.
var (
	_ providers.Provider      = (*Provider)(nil)
	_ providers.Initializer   = (*Provider)(nil)
	_ providers.HealthChecker = (*Provider)(nil)
	_ providers.Shutdowner    = (*Provider)(nil)
)
