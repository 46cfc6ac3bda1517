package lattice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
)

// ErrWaiterStopped: a Waiter's subscription ended (Stop, or the connection closed) with no
// matching event left.
var ErrWaiterStopped = errors.New("event waiter stopped")

// decodeCloudEvent parses an event as published on wasmbus.evt.{L}. JSON that is not an object
// with a type is refused.
func decodeCloudEvent(data []byte) (CloudEvent, error) {
	var e CloudEvent
	if err := json.Unmarshal(data, &e); err != nil {
		return CloudEvent{}, fmt.Errorf("decode event: %w", err)
	}
	if e.Type == "" {
		return CloudEvent{}, errors.New("decode event: no type")
	}
	return e, nil
}

// Subscribe calls handler with every event of the lattice, in order, one at a time, from a
// goroutine of the NATS connection: keep it quick or hand the work off. Messages that are not
// CloudEvents are skipped and logged as warnings on the client's Logger; they never reach handler.
// The subscription is in place at the server when Subscribe returns. Call unsubscribe to end it.
func (c *Client) Subscribe(handler func(CloudEvent)) (unsubscribe func() error, err error) {
	subject := c.subj.Events()
	sub, err := c.nc.Subscribe(subject, func(m *nats.Msg) {
		e, err := decodeCloudEvent(m.Data)
		if err != nil {
			c.log.Warn().Err(err).Str("subject", subject).Msg("skipped a malformed event")
			return
		}
		handler(e)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to events on %s: %w", subject, err)
	}
	if err := c.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to events on %s: %w", subject, err)
	}
	return func() error {
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrBadSubscription) {
			return fmt.Errorf("unsubscribe from events on %s: %w", subject, err)
		}
		return nil
	}, nil
}

// Waiter collects the events that match a predicate from the moment it is created. Create it
// BEFORE sending the command whose outcome you wait for, or a fast host's event can come and go
// before anyone listens:
//
//	w, err := c.NewWaiter(func(e lattice.CloudEvent) bool { return e.Source == hostID && … })
//	if err != nil { … }
//	defer w.Stop()
//	if err := c.StartActor(ctx, cmd); err != nil { … }
//	ev, err := w.Wait(ctx)
type Waiter struct {
	sub     *nats.Subscription
	subject string

	mu     sync.Mutex
	queue  []CloudEvent
	notify chan struct{} // has an element when queue may have grown
	done   chan struct{} // closed when the subscription ends
	once   sync.Once
}

// NewWaiter subscribes to the lattice's events and keeps those for which match returns true.
// match runs on a goroutine of the NATS connection. The subscription is in place at the server
// when NewWaiter returns. Stop the waiter when done.
func (c *Client) NewWaiter(match func(CloudEvent) bool) (*Waiter, error) {
	w := &Waiter{
		subject: c.subj.Events(),
		notify:  make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	sub, err := c.nc.Subscribe(w.subject, func(m *nats.Msg) {
		e, err := decodeCloudEvent(m.Data)
		if err != nil {
			c.log.Warn().Err(err).Str("subject", w.subject).Msg("skipped a malformed event")
			return
		}
		if !match(e) {
			return
		}
		w.mu.Lock()
		w.queue = append(w.queue, e)
		w.mu.Unlock()
		select {
		case w.notify <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("wait for events on %s: %w", w.subject, err)
	}
	sub.SetClosedHandler(func(string) { w.once.Do(func() { close(w.done) }) })
	w.sub = sub
	if err := c.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("wait for events on %s: %w", w.subject, err)
	}
	return w, nil
}

// Wait returns the next matching event (in the order they arrived), waiting until one comes, ctx
// ends, or the waiter stops. Give ctx a deadline: events can take long (a start fetches from a
// registry), and a command that fails may never produce the event you match.
func (w *Waiter) Wait(ctx context.Context) (CloudEvent, error) {
	for {
		w.mu.Lock()
		if len(w.queue) > 0 {
			e := w.queue[0]
			w.queue = w.queue[1:]
			w.mu.Unlock()
			return e, nil
		}
		w.mu.Unlock()
		select {
		case <-w.notify:
		case <-w.done:
			w.mu.Lock()
			n := len(w.queue)
			w.mu.Unlock()
			if n == 0 {
				return CloudEvent{}, fmt.Errorf("wait for event on %s: %w", w.subject, ErrWaiterStopped)
			}
		case <-ctx.Done():
			return CloudEvent{}, fmt.Errorf("wait for event on %s: %w", w.subject, ctx.Err())
		}
	}
}

// Stop ends the waiter's subscription. Events already matched can still be taken with Wait. It is
// safe to call more than once.
func (w *Waiter) Stop() error {
	if err := w.sub.Unsubscribe(); err != nil &&
		!errors.Is(err, nats.ErrBadSubscription) && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("stop waiting for events on %s: %w", w.subject, err)
	}
	return nil
}

// WaitFor waits for the first event that matches. It only sees events published after it
// subscribed, so do not use it for the outcome of a command you have already sent: use NewWaiter
// before sending.
func (c *Client) WaitFor(ctx context.Context, match func(CloudEvent) bool) (CloudEvent, error) {
	w, err := c.NewWaiter(match)
	if err != nil {
		return CloudEvent{}, err
	}
	defer w.Stop() //nolint:errcheck // the event is in hand; a failed unsubscribe changes nothing
	return w.Wait(ctx)
}
