package messaging

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	msg "github.com/trellis-lattice/trellis/lattice/contracts/messaging"
	"github.com/trellis-lattice/trellis/providers"
)

// client is one linked actor's NATS connection, its subscriptions, and the deliveries in flight.
//
//	connect ──► [subscribed] ──close──► [closing]: no new deliveries; unsubscribe, close the
//	               │ message                        connection; wait for deliveries in flight
//	               ▼                                until ctx ends, then cancel them ──► [closed]
//	  wait for a slot (MaxConcurrent) ──► goroutine: CallActor HandleMessage
type client struct {
	actor string
	nc    *nats.Conn
	host  *providers.Host // nil when Init was not called: messages are then dropped, logged
	log   zerolog.Logger

	slots    chan struct{}   // one per delivery in flight
	done     chan struct{}   // closed when closing starts
	calls    context.Context // parent of the deliveries' calls
	cancel   context.CancelFunc
	mu       sync.Mutex
	closing  bool
	inflight sync.WaitGroup
}

// connect dials the actor's server(s), subscribes, and flushes so the server has the
// subscriptions when it returns.
func (p *Provider) connect(ctx context.Context, actor string, conn connection, host *providers.Host, log zerolog.Logger) (*client, error) {
	log = log.With().Str("actor", actor).Logger()
	opts := []nats.Option{
		nats.Name("trellis messaging provider for actor " + actor),
		nats.Timeout(p.cfg.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn().Err(err).Msg("actor's NATS connection lost; reconnecting")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("actor's NATS connection back")
		}),
	}
	if conn.jwt != "" {
		opts = append(opts, nats.UserJWTAndSeed(conn.jwt, conn.seed))
	}
	urls := strings.Join(conn.urls, ",")
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %s: %w", redact(conn.urls), err)
	}
	calls, cancel := context.WithCancel(context.Background())
	c := &client{
		actor:  actor,
		nc:     nc,
		host:   host,
		log:    log,
		slots:  make(chan struct{}, p.cfg.MaxConcurrent),
		done:   make(chan struct{}),
		calls:  calls,
		cancel: cancel,
	}
	for _, s := range conn.subs {
		if s.Queue != "" {
			_, err = nc.QueueSubscribe(s.Subject, s.Queue, c.dispatch)
		} else {
			_, err = nc.Subscribe(s.Subject, c.dispatch)
		}
		if err != nil {
			c.close(ctx)
			return nil, fmt.Errorf("subscribe to %s: %w", s, err)
		}
	}
	if err := flush(ctx, nc); err != nil {
		c.close(ctx)
		return nil, fmt.Errorf("subscribe on %s: %w", nc.ConnectedUrlRedacted(), err)
	}
	if err := nc.LastError(); err != nil { // a permissions violation arrives asynchronously
		c.close(ctx)
		return nil, fmt.Errorf("subscribe on %s: %w", nc.ConnectedUrlRedacted(), err)
	}
	return c, nil
}

// dispatch is the subscriptions' callback: it waits for a delivery slot and delivers in a
// goroutine, so one slow actor call does not hold up the subscription's other messages.
func (c *client) dispatch(m *nats.Msg) {
	select {
	case c.slots <- struct{}{}:
	case <-c.done:
		return
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		<-c.slots
		return
	}
	c.inflight.Add(1)
	c.mu.Unlock()
	go func() {
		defer func() { <-c.slots; c.inflight.Done() }()
		c.deliver(m)
	}()
}

// deliver hands one message to the actor. A failed delivery is logged: NATS has no way to
// redeliver it (upstream does the same).
func (c *client) deliver(m *nats.Msg) {
	ev := c.log.Warn().Str("subject", m.Subject)
	if c.host == nil {
		ev.Msg("message dropped: the provider has no host to call actors (Init was not called)")
		return
	}
	data, err := msg.SubMessage{Subject: m.Subject, ReplyTo: m.Reply, Body: m.Data}.Encode()
	if err != nil {
		ev.Err(err).Msg("message dropped")
		return
	}
	if _, err := c.host.CallActor(c.calls, c.actor, msg.OpHandleMessage, data); err != nil {
		ev.Err(err).Msg("message not handled by the actor")
	}
}

// close stops new deliveries, unsubscribes and closes the connection, then waits for the
// deliveries in flight until ctx ends and cancels the rest. It is idempotent.
func (c *client) close(ctx context.Context) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	close(c.done)
	c.mu.Unlock()

	c.nc.Close() // unsubscribes everything; the server drops the interest at once
	waited := make(chan struct{})
	go func() { c.inflight.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		c.log.Warn().Msg("messages still in delivery after the link went away; cancelling them")
		c.cancel()
		<-waited
	}
	c.cancel()
}

// redact renders server URLs without their passwords.
func redact(urls []string) string {
	out := make([]string, len(urls))
	for i, u := range urls {
		if scheme, rest, ok := strings.Cut(u, "://"); ok {
			if at := strings.LastIndexByte(rest, '@'); at >= 0 {
				rest = "***@" + rest[at+1:]
			}
			u = scheme + "://" + rest
		}
		out[i] = u
	}
	return strings.Join(out, ",")
}
