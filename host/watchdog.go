package host

import (
	"sync"
	"sync/atomic"
	"time"
)

// watchdogPeriod is how often the watchdog looks at the calls in flight while there are some:
// a guest that does not return is stopped at most this long (plus scheduling) after its deadline.
const watchdogPeriod = 10 * time.Millisecond

// watchdog stops the guest calls that run past their deadline. There is one per runtime, with
// one goroutine: guests are called with a context that cannot be cancelled (so wazero does not
// watch a timer per call), and the watchdog closes the instance's stop channel instead, which
// wazero treats as the context being done: the guest exits at its next loop back-edge, wazero's
// own checks under WithCloseOnContextDone.
//
// A call costs two atomic stores and a load: start stores the deadline in the instance, end
// swaps it back to zero. The watchdog ticks only while a call is in flight, and parks when none
// is. A call and the watchdog decide who wins on the instance's deadline word alone:
//
//	idle (0) ──start──▶ in flight (deadline) ──end (swap 0)──▶ idle
//	                         │
//	                         └─watchdog, deadline passed (CAS to stopped)─▶ stopped ──end──▶ discarded
//
// so an instance whose call ended first is never stopped later, and one the watchdog stopped is
// never reused, whatever the guest's call returned.
type watchdog struct {
	period time.Duration

	mu        sync.Mutex
	instances map[*instance]struct{} // the live instances of the runtime

	ticking atomic.Bool   // the watchdog is ticking; a call starting when it is not kicks it
	kick    chan struct{} // capacity 1
	quit    chan struct{}
	done    chan struct{}
}

// deadlineStopped in instance.deadline marks a call the watchdog stopped.
const deadlineStopped = -1

func newWatchdog(period time.Duration) *watchdog {
	w := &watchdog{
		period:    period,
		instances: map[*instance]struct{}{},
		kick:      make(chan struct{}, 1),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	go w.run()
	return w
}

// stop ends the watchdog's goroutine; calls still in flight are no longer stopped.
func (w *watchdog) stop() {
	close(w.quit)
	<-w.done
}

func (w *watchdog) add(in *instance) {
	w.mu.Lock()
	w.instances[in] = struct{}{}
	w.mu.Unlock()
}

func (w *watchdog) remove(in *instance) {
	w.mu.Lock()
	delete(w.instances, in)
	w.mu.Unlock()
}

// start marks a call on in as in flight until deadline.
func (w *watchdog) start(in *instance, deadline time.Time) {
	in.deadline.Store(max(deadline.UnixNano(), 1))
	if !w.ticking.Load() {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// end marks the call on in as ended and reports whether the watchdog stopped it first.
func (w *watchdog) end(in *instance) (stopped bool) {
	return in.deadline.Swap(0) == deadlineStopped
}

func (w *watchdog) run() {
	defer close(w.done)
	t := time.NewTicker(w.period)
	t.Stop()
	for {
		select {
		case <-w.quit:
			t.Stop()
			return
		case <-w.kick:
			if !w.ticking.Load() {
				w.ticking.Store(true)
				t.Reset(w.period)
			}
		case now := <-t.C:
			if w.check(now) {
				continue
			}
			// Nothing in flight: park. A call that started before ticking went false was seen
			// by the second check; one that starts after sees it false and kicks.
			w.ticking.Store(false)
			if w.check(time.Now()) {
				w.ticking.Store(true)
			} else {
				t.Stop()
			}
		}
	}
}

// check stops the calls whose deadline is before now and reports whether any call is in flight.
func (w *watchdog) check(now time.Time) (busy bool) {
	n := now.UnixNano()
	w.mu.Lock()
	defer w.mu.Unlock()
	for in := range w.instances {
		d := in.deadline.Load()
		if d <= 0 {
			continue
		}
		busy = true
		if d <= n && in.deadline.CompareAndSwap(d, deadlineStopped) {
			in.ctx.stopCall()
		}
	}
	return busy
}
