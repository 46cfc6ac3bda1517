package reconciler

import (
	"maps"
	"sync"
	"time"
)

// inflight remembers the commands sent and not yet seen through, so that a pass does not repeat
// what an earlier one asked for while a host is still pulling an image, and the failures the
// hosts reported, so that a host that failed is tried again only after a back-off. Its lock is
// taken only by its methods: events arrive on NATS goroutines, passes run on the reconciler's.
type inflight struct {
	mu       sync.Mutex
	now      func() time.Time
	timeout  time.Duration // how long a command counts as in flight at most
	pending  map[pendingKey]*pending
	updates  map[hostComp]*update
	replace  map[hostComp]bool // live update refused: replace instances instead
	failures map[hostComp]*failure
	links    map[string]time.Time // link id → put/delete sent at
}

// pendingKey is one kind of command for one spread of one component on one host.
type pendingKey struct {
	host, app, comp, spread string
	stop                    bool
}

// pending is a start (count more) or a stop (count fewer) sent when the host ran baseline.
type pending struct {
	baseline, count int
	image           string
	sent            time.Time
}

type hostComp struct{ host, app, comp string }

type update struct {
	image string
	sent  time.Time
}

type failure struct {
	err      string
	at       time.Time
	attempts int
	retry    time.Time // no new attempt before
}

func newInflight(timeout time.Duration) *inflight {
	return &inflight{
		now: time.Now, timeout: timeout,
		pending: map[pendingKey]*pending{}, updates: map[hostComp]*update{}, replace: map[hostComp]bool{},
		failures: map[hostComp]*failure{}, links: map[string]time.Time{},
	}
}

// sent records a start or stop of count, sent when the host ran current.
func (f *inflight) sent(k pendingKey, current, count int, image string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending[k] = &pending{baseline: current, count: count, image: image, sent: f.now()}
}

// remaining is how much of a start (or stop) is still to show, given what the host runs now.
func (f *inflight) remaining(k pendingKey, current int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pending[k]
	if !ok {
		return 0
	}
	if f.now().Sub(p.sent) > f.timeout {
		delete(f.pending, k)
		return 0
	}
	var r int
	if k.stop {
		r = p.count - (p.baseline - current)
	} else {
		r = p.baseline + p.count - current
	}
	if r <= 0 {
		delete(f.pending, k)
		return 0
	}
	return r
}

// forget drops a start or stop that was refused.
func (f *inflight) forget(k pendingKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pending, k)
}

// updateRefused records a live update the host refused at once: the instances are replaced
// instead.
func (f *inflight) updateRefused(k hostComp, reason string) {
	f.mu.Lock()
	delete(f.updates, k)
	f.replace[k] = true
	f.mu.Unlock()
	f.failed(k, reason)
}

// updating reports whether an update of the component on the host is in flight.
func (f *inflight) updating(k hostComp) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.updates[k]
	if ok && f.now().Sub(u.sent) > f.timeout {
		delete(f.updates, k)
		return false
	}
	return ok
}

func (f *inflight) updateSent(k hostComp, image string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates[k] = &update{image: image, sent: f.now()}
}

// updateDone forgets an update once the host runs the new image.
func (f *inflight) updateDone(k hostComp) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.updates, k)
	delete(f.replace, k)
}

// mustReplace reports whether a live update of the component on the host was refused, so its
// instances are to be replaced instead.
func (f *inflight) mustReplace(k hostComp) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.replace[k]
}

// failed records a host's failure for a component and backs off: 2 s, doubling to 30 s.
func (f *inflight) failed(k hostComp, err string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl := f.failures[k]
	if fl == nil {
		fl = &failure{}
		f.failures[k] = fl
	}
	fl.attempts++
	fl.err = err
	fl.at = f.now()
	backoff := 2 * time.Second << min(fl.attempts-1, 4)
	fl.retry = fl.at.Add(min(backoff, 30*time.Second))
}

// backingOff reports whether the component must not be tried on the host yet.
func (f *inflight) backingOff(k hostComp) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl, ok := f.failures[k]
	return ok && f.now().Before(fl.retry)
}

// failure returns the last failure of the component on any host: its text, "" when none.
func (f *inflight) failure(app, comp string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var last *failure
	for k, fl := range f.failures {
		if k.app == app && k.comp == comp && (last == nil || fl.at.After(last.at)) {
			last = fl
		}
	}
	if last == nil {
		return ""
	}
	return last.err
}

// succeeded forgets the failures of a component on a host once it runs there as it should.
func (f *inflight) succeeded(k hostComp) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.failures, k)
}

// forgetApp drops everything remembered of an app.
func (f *inflight) forgetApp(app string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	maps.DeleteFunc(f.pending, func(k pendingKey, _ *pending) bool { return k.app == app })
	maps.DeleteFunc(f.updates, func(k hostComp, _ *update) bool { return k.app == app })
	maps.DeleteFunc(f.replace, func(k hostComp, _ bool) bool { return k.app == app })
	maps.DeleteFunc(f.failures, func(k hostComp, _ *failure) bool { return k.app == app })
}

// linkSent records a link put or delete; linkInFlight says whether one was sent recently.
func (f *inflight) linkSent(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links[id] = f.now()
}

func (f *inflight) linkInFlight(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.links[id]
	if ok && f.now().Sub(at) > 5*time.Second {
		delete(f.links, id)
		return false
	}
	return ok
}

// startFailed matches a host's start failure to the starts (and, for actors, updates) in flight
// there from image and records the failure on their components; a failed update turns into a
// replacement.
func (f *inflight) startFailed(host, image, reason string, provider bool) {
	f.mu.Lock()
	var hit []hostComp
	for k, p := range f.pending {
		if k.host == host && !k.stop && p.image == image {
			delete(f.pending, k)
			hit = append(hit, hostComp{host, k.app, k.comp})
		}
	}
	if !provider {
		for k, u := range f.updates {
			if k.host == host && u.image == image {
				delete(f.updates, k)
				f.replace[k] = true
				hit = append(hit, k)
			}
		}
	}
	f.mu.Unlock()
	for _, k := range hit {
		f.failed(k, reason)
	}
}

// reset forgets everything: a reconciler that lost and regained the lease starts afresh.
func (f *inflight) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = map[pendingKey]*pending{}
	f.updates = map[hostComp]*update{}
	f.replace = map[hostComp]bool{}
	f.failures = map[hostComp]*failure{}
	f.links = map[string]time.Time{}
}
