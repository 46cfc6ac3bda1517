package messaging

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/trellis-lattice/trellis/lattice"
	msg "github.com/trellis-lattice/trellis/lattice/contracts/messaging"
	"github.com/trellis-lattice/trellis/providers"
)

// ContractID is the contract this provider implements.
const ContractID = msg.ContractID

// ErrUnknownOperation: the invocation's operation is not one of the contract.
var ErrUnknownOperation = errors.New("unknown operation")

// Provider is the wasmcloud:messaging provider. It implements providers.Provider, Initializer,
// HealthChecker and Shutdowner, and is safe for concurrent use.
type Provider struct {
	cfg Config

	mu       sync.Mutex
	log      zerolog.Logger
	host     *providers.Host
	defaults ConnectionConfig
	defURL   string
	actors   map[string]*client
	closed   bool
}

// New returns a provider with no links. It delivers messages to actors only once Init has given
// it the SDK's Host.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Provider{
		cfg:    cfg,
		log:    cfg.Logger.With().Str("component", "messaging").Logger(),
		defURL: cfg.DefaultURL,
		actors: map[string]*client{},
	}, nil
}

// Init keeps the Host (to call actors), reads the provider-wide defaults from the host's
// config_json, and takes the lattice's server as default URL when Config.DefaultURL is empty.
func (p *Provider) Init(_ context.Context, h *providers.Host) error {
	def, err := ParseConnectionConfig(h.Data().ConfigJSON)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.host = h
	p.defaults = def
	if p.defURL == "" && h.NATS() != nil {
		p.defURL = h.NATS().ConnectedUrl()
	}
	if p.cfg.Logger.GetLevel() == zerolog.Disabled {
		p.log = h.Logger().With().Str("component", "messaging").Logger()
	}
	return nil
}

// PutLink connects the actor to its NATS server and subscribes to its subjects; the link is in
// place once the server has the subscriptions. A link put again replaces the previous connection
// (the new one subscribes before the old one closes, so no message is missed; one may arrive
// twice).
func (p *Provider) PutLink(ctx context.Context, l lattice.LinkDefinition) error {
	p.mu.Lock()
	def, defURL, host, log, closed := p.defaults, p.defURL, p.host, p.log, p.closed
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("messaging link of actor %s: provider is shut down", l.ActorID)
	}
	conn, err := resolve(l, def, defURL)
	if err != nil {
		return fmt.Errorf("messaging link of actor %s: %w", l.ActorID, err)
	}
	c, err := p.connect(ctx, l.ActorID, conn, host, log)
	if err != nil {
		return fmt.Errorf("messaging link of actor %s: %w", l.ActorID, err)
	}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close(ctx)
		return fmt.Errorf("messaging link of actor %s: provider is shut down", l.ActorID)
	}
	old := p.actors[l.ActorID]
	p.actors[l.ActorID] = c
	p.mu.Unlock()
	if old != nil {
		old.close(ctx)
	}
	return nil
}

// DeleteLink unsubscribes the actor and closes its connection, letting messages in delivery
// finish until ctx ends.
func (p *Provider) DeleteLink(ctx context.Context, l lattice.LinkDefinition) error {
	p.mu.Lock()
	c := p.actors[l.ActorID]
	delete(p.actors, l.ActorID)
	p.mu.Unlock()
	if c != nil {
		c.close(ctx)
	}
	return nil
}

// Shutdown closes every actor's connection.
func (p *Provider) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	actors := p.actors
	p.actors = map[string]*client{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range actors {
		wg.Go(func() { c.close(ctx) })
	}
	wg.Wait()
	return nil
}

// Health reports the actors whose connection is not up.
func (p *Provider) Health(context.Context) (bool, string) {
	p.mu.Lock()
	var down []string
	for actor, c := range p.actors {
		if st := c.nc.Status(); st != nats.CONNECTED {
			down = append(down, fmt.Sprintf("actor %s: %s", actor, st))
		}
	}
	p.mu.Unlock()
	if len(down) > 0 {
		sort.Strings(down)
		return false, "NATS connections not up: " + strings.Join(down, "; ")
	}
	return true, ""
}

// Handle serves Messaging.Publish and Messaging.Request from a linked actor, on the actor's own
// connection. Errors name the operation; a payload that does not decode wraps
// lattice.ErrMalformedMsgpack, an operation the contract does not have wraps ErrUnknownOperation.
func (p *Provider) Handle(ctx context.Context, inv providers.Invocation) ([]byte, error) {
	var handle func(context.Context, *nats.Conn, []byte) ([]byte, error)
	switch inv.Operation {
	case msg.OpPublish:
		handle = publish
	case msg.OpRequest:
		handle = request
	default:
		return nil, fmt.Errorf("%w %q: %s has %s and %s (and delivers %s to actors)",
			ErrUnknownOperation, inv.Operation, ContractID, msg.OpPublish, msg.OpRequest, msg.OpHandleMessage)
	}
	actor := inv.Origin.PublicKey
	p.mu.Lock()
	c := p.actors[actor]
	p.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("%s: actor %s is %w to the messaging provider", inv.Operation, actor, providers.ErrNotLinked)
	}
	out, err := handle(ctx, c.nc, inv.Msg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", inv.Operation, err)
	}
	return out, nil
}

// publish sends a PubMessage and flushes, so the message has left when the actor gets its answer.
func publish(ctx context.Context, nc *nats.Conn, data []byte) ([]byte, error) {
	m, err := msg.DecodePubMessage(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", lattice.ErrMalformedMsgpack, err)
	}
	if err := nc.PublishMsg(&nats.Msg{Subject: m.Subject, Reply: m.ReplyTo, Data: m.Body}); err != nil {
		return nil, fmt.Errorf("publish to %q: %w", m.Subject, err)
	}
	if err := flush(ctx, nc); err != nil {
		return nil, fmt.Errorf("publish to %q: flush: %w", m.Subject, err)
	}
	return []byte{}, nil
}

// defaultRequestTimeout is the wait of a request whose timeoutMs is 0 (upstream would time out at
// once, which no caller means).
const defaultRequestTimeout = lattice.DefaultRPCTimeout * time.Millisecond

// request sends a RequestMessage and waits for one reply, up to timeoutMs and never past ctx.
func request(ctx context.Context, nc *nats.Conn, data []byte) ([]byte, error) {
	m, err := msg.DecodeRequestMessage(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", lattice.ErrMalformedMsgpack, err)
	}
	timeout := time.Duration(m.TimeoutMs) * time.Millisecond
	if timeout == 0 {
		timeout = defaultRequestTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply, err := nc.RequestMsgWithContext(rctx, &nats.Msg{Subject: m.Subject, Data: m.Body})
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("request on %q: nobody subscribes: %w", m.Subject, err)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return nil, fmt.Errorf("request on %q: no reply within %s: %w", m.Subject, timeout, context.DeadlineExceeded)
	case err != nil:
		return nil, fmt.Errorf("request on %q: %w", m.Subject, err)
	}
	return msg.ReplyMessage{Subject: reply.Subject, ReplyTo: reply.Reply, Body: reply.Data}.Encode()
}

// flush waits for the server to have what nc sent, until ctx's deadline or 2 s.
func flush(ctx context.Context, nc *nats.Conn) error {
	if _, ok := ctx.Deadline(); ok {
		return nc.FlushWithContext(ctx)
	}
	return nc.FlushTimeout(defaultRequestTimeout)
}

// Interface guards.
var (
	_ providers.Provider      = (*Provider)(nil)
	_ providers.Initializer   = (*Provider)(nil)
	_ providers.HealthChecker = (*Provider)(nil)
	_ providers.Shutdowner    = (*Provider)(nil)
)
