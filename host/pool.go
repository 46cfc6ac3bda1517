package host

import (
	"context"
	"sync"
)

// pool holds the instances of one actor. At most size instances exist; each runs one call at a
// time. Instances are made on demand and kept idle for the next call.
type pool struct {
	make func(context.Context) (*instance, error)

	mu      sync.Mutex
	size    int
	busy    int
	idle    []*instance
	waiters []chan struct{}
	closed  bool
	drained func() // after close, called once no instance is busy (or being made)
}

func newPool(size int, mk func(context.Context) (*instance, error)) *pool {
	return &pool{size: size, make: mk}
}

// put adds an already made instance to the idle set (used for the instance made at start).
func (p *pool) put(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, in)
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
			in := p.idle[n-1]
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
				p.mu.Lock()
				p.busy--
				p.wakeLocked()
				drained := p.drainedLocked()
				p.mu.Unlock()
				if drained != nil {
					drained()
				}
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

// release gives an instance back; broken instances and those over the size are closed.
func (p *pool) release(in *instance) {
	p.mu.Lock()
	p.busy--
	keep := !p.closed && !in.broken() && p.busy+len(p.idle) < p.size
	if keep {
		p.idle = append(p.idle, in)
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

// resize sets the most instances that may exist; surplus idle instances are closed.
func (p *pool) resize(size int) {
	p.mu.Lock()
	p.size = size
	var drop []*instance
	for p.busy+len(p.idle) > p.size && len(p.idle) > 0 {
		drop = append(drop, p.idle[len(p.idle)-1])
		p.idle = p.idle[:len(p.idle)-1]
	}
	for range max(0, p.size-p.busy-len(p.idle)) {
		p.wakeLocked()
	}
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
	for _, w := range p.waiters {
		close(w)
	}
	p.waiters = nil
	due := p.drainedLocked()
	p.mu.Unlock()
	for _, in := range idle {
		in.close(context.Background())
	}
	if due != nil {
		due()
	}
}

// stats reports how many instances exist and how many are busy.
func (p *pool) stats() (live, busy int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy + len(p.idle), p.busy
}
