package host

import (
	"context"
	"slices"
	"sync"
	"time"
)

// pool holds the instances of one actor module. At most size instances exist; each runs one call
// at a time. Instances are made on demand, so a pool may hold none at all: its actor is then
// compiled and subscribed, and its next call makes an instance (scale to zero). A released
// instance waits idle for the next call; with an idle timeout, an instance left idle that long is
// closed, unless closing it would leave fewer than min instances.
//
//	none ── acquire, fewer than size live: make ──▶ busy ── release ──▶ idle ── acquire ──▶ busy
//	idle ── idle timeout, more than min live ──▶ closed
//	busy ── release, broken or over size ──▶ closed
type pool struct {
	make func(context.Context) (*instance, error)
	// idleTimeout is how long an instance may stay idle before it is closed; 0 keeps it.
	idleTimeout time.Duration

	mu      sync.Mutex
	size    int // the most instances that may exist
	min     int // the fewest instances the idle timeout leaves open
	busy    int // instances in a call, or being made
	idle    []idleInstance
	waiters []chan struct{}
	closed  bool
	drained func()      // after close, called once no instance is busy (or being made)
	reaper  *time.Timer // set while an idle instance is due to time out
}

// idleInstance is an idle instance and when it was released. The pool's idle slice is in release
// order: the longest idle first; calls take the most recently released, so the others age out.
type idleInstance struct {
	in    *instance
	since time.Time
}

func newPool(size int, idleTimeout time.Duration, mk func(context.Context) (*instance, error)) *pool {
	return &pool{size: size, idleTimeout: idleTimeout, make: mk}
}

// put adds an already made instance to the idle set (used for the instance made at start).
func (p *pool) put(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, idleInstance{in: in, since: time.Now()})
	p.armLocked()
}

// acquire returns a free instance, making one when none is idle and fewer than size exist, and
// otherwise waits until one is released or ctx ends.
func (p *pool) acquire(ctx context.Context) (*instance, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errStopped
		}
		if n := len(p.idle); n > 0 {
			in := p.idle[n-1].in
			p.idle = p.idle[:n-1]
			p.busy++
			p.mu.Unlock()
			return in, nil
		}
		if p.busy < p.size {
			p.busy++
			p.mu.Unlock()
			in, err := p.make(ctx)
			if err != nil {
				p.unmade()
				return nil, err
			}
			return in, nil
		}
		w := make(chan struct{})
		p.waiters = append(p.waiters, w)
		p.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			p.mu.Lock()
			for i, x := range p.waiters {
				if x == w {
					p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
					break
				}
			}
			p.mu.Unlock()
			return nil, ctx.Err()
		}
	}
}

// unmade gives back the place of an instance that could not be made.
func (p *pool) unmade() {
	p.mu.Lock()
	p.busy--
	p.wakeLocked()
	drained := p.drainedLocked()
	p.mu.Unlock()
	if drained != nil {
		drained()
	}
}

// release gives an instance back; broken instances and those over the size are closed.
func (p *pool) release(in *instance) {
	p.mu.Lock()
	p.busy--
	keep := !p.closed && !in.broken() && p.busy+len(p.idle) < p.size
	if keep {
		p.idle = append(p.idle, idleInstance{in: in, since: time.Now()})
		p.armLocked()
	}
	p.wakeLocked()
	drained := p.drainedLocked()
	p.mu.Unlock()
	if !keep {
		in.close(context.Background())
	}
	if drained != nil {
		drained()
	}
}

// warm makes instances until min exist (at most size), so that many calls find one ready.
func (p *pool) warm(ctx context.Context) error {
	for {
		p.mu.Lock()
		if p.closed || p.busy+len(p.idle) >= min(p.min, p.size) {
			p.mu.Unlock()
			return nil
		}
		p.busy++
		p.mu.Unlock()
		in, err := p.make(ctx)
		if err != nil {
			p.unmade()
			return err
		}
		p.release(in)
	}
}

// armLocked sets the reaper for the longest idle instance when one may be closed and none is set.
func (p *pool) armLocked() {
	if p.idleTimeout <= 0 || p.reaper != nil || p.closed || len(p.idle) == 0 || p.busy+len(p.idle) <= p.min {
		return
	}
	wait := time.Until(p.idle[0].since.Add(p.idleTimeout))
	p.reaper = time.AfterFunc(max(wait, 0), p.reap)
}

// reap closes the instances idle for the idle timeout, the longest idle first, down to min
// instances, and sets the reaper again for the next one due.
func (p *pool) reap() {
	p.mu.Lock()
	p.reaper = nil
	now := time.Now()
	var drop []*instance
	for !p.closed && len(p.idle) > 0 && p.busy+len(p.idle) > p.min && !now.Before(p.idle[0].since.Add(p.idleTimeout)) {
		drop = append(drop, p.idle[0].in)
		p.idle = slices.Delete(p.idle, 0, 1)
	}
	p.armLocked()
	p.mu.Unlock()
	for _, in := range drop {
		in.close(context.Background())
	}
}

// drainedLocked returns the drained callback when it is due, once.
func (p *pool) drainedLocked() func() {
	if !p.closed || p.busy > 0 {
		return nil
	}
	f := p.drained
	p.drained = nil
	return f
}

func (p *pool) wakeLocked() {
	if len(p.waiters) > 0 {
		close(p.waiters[0])
		p.waiters = p.waiters[1:]
	}
}

// resize sets the most instances that may exist and the fewest the idle timeout leaves open
// (capped at size); surplus idle instances are closed, the longest idle first.
func (p *pool) resize(size, least int) {
	p.mu.Lock()
	p.size = size
	p.min = min(least, size)
	var drop []*instance
	for p.busy+len(p.idle) > p.size && len(p.idle) > 0 {
		drop = append(drop, p.idle[0].in)
		p.idle = slices.Delete(p.idle, 0, 1)
	}
	for range max(0, p.size-p.busy-len(p.idle)) {
		p.wakeLocked()
	}
	p.armLocked()
	p.mu.Unlock()
	for _, in := range drop {
		in.close(context.Background())
	}
}

// close stops handing out instances and closes the idle ones; busy ones close on release. Calls
// waiting for an instance get errStopped. drained (may be nil) runs once no instance is busy:
// at once, or after the last release.
func (p *pool) close(drained func()) {
	p.mu.Lock()
	p.closed = true
	p.drained = drained
	idle := p.idle
	p.idle = nil
	if p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
	for _, w := range p.waiters {
		close(w)
	}
	p.waiters = nil
	due := p.drainedLocked()
	p.mu.Unlock()
	for _, x := range idle {
		x.in.close(context.Background())
	}
	if due != nil {
		due()
	}
}

// stats reports how many instances are in a call (or being made), how many are idle, and the
// most that may exist. It takes only the pool's lock: cheap enough for every inventory and scrape.
func (p *pool) stats() (inUse, idle, most int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy, len(p.idle), p.size
}
