package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/tetratelabs/wazero"

	"github.com/trellis-lattice/trellis/lattice"
)

// actor is one actor running on this host.
type actor struct {
	id  string
	mod atomic.Pointer[actorModule] // swapped by upd
	sub *nats.Subscription

	mu       sync.Mutex
	imageRef string                  // where mod came from
	inst     []lattice.ActorInstance // logical instances: the count
	// minInst and maxInst bound the live wasm instances (pool.go): at least minInst stay open
	// through the idle timeout, at most maxInst exist, 0 meaning the count.
	minInst, maxInst int

	memPages uint32 // each instance's memory limit, from the first start's annotations; 0: the host's

	inflight sync.WaitGroup // invocations handed to the actor and not yet answered
	load     atomic.Int32   // how many, for tests and metrics
}

// actorModule is a verified, compiled revision of an actor with its instance pool.
type actorModule struct {
	claims   *lattice.ActorClaims
	compiled wazero.CompiledModule
	pool     *pool
}

func (a *actor) claims() *lattice.ActorClaims { return a.mod.Load().claims }

// ref is the reference the running module came from: the first start's, or the last update's.
func (a *actor) ref() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.imageRef
}

// poolLimits are the size and the min of the actor's pool: maxInst, or the count when unset, and
// minInst capped at that size.
func (a *actor) poolLimits() (size, least int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	size = a.maxInst
	if size == 0 {
		size = len(a.inst)
	}
	return size, min(a.minInst, size)
}

// instanceStats reports the actor's live instances in a call and idle, and the most that may
// exist: what the inventory and the metrics show. It takes only the pool's lock.
func (a *actor) instanceStats() (inUse, idle, most int) {
	return a.mod.Load().pool.stats()
}

func (a *actor) instances() []lattice.ActorInstance {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]lattice.ActorInstance(nil), a.inst...)
}

// actorTable is the actors running on this host, by key. Only its methods take its lock.
type actorTable struct {
	mu     sync.Mutex
	actors map[string]*actor
}

func newActorTable() *actorTable { return &actorTable{actors: map[string]*actor{}} }

func (t *actorTable) get(id string) (*actor, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.actors[id]
	return a, ok
}

// add records a started actor.
func (t *actorTable) add(a *actor) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.actors[a.id] = a
}

// remove forgets actor a, unless another actor has taken its key since.
func (t *actorTable) remove(a *actor) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.actors[a.id] == a {
		delete(t.actors, a.id)
	}
}

// running reports whether a is the actor running under its key.
func (t *actorTable) running(a *actor) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.actors[a.id] == a
}

func (t *actorTable) all() []*actor {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*actor, 0, len(t.actors))
	for _, a := range t.actors {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// loadModule reads an actor module from a reference, a file path under the directories the host
// loads files from (fileref.go), else an OCI reference (oci_host.go), and verifies it; an OCI
// reference's refmap is recorded once its module verified.
func (h *Host) loadModule(ctx context.Context, ref string) (*verifiedModule, error) {
	if path, ok := h.filePath(ref); ok {
		b, err := h.files.read(ref, path)
		if err != nil {
			return nil, err
		}
		return verifyModule(b)
	}
	b, err := h.pullModule(ctx, ref)
	if err != nil {
		return nil, h.refError(ref, err)
	}
	v, err := verifyModule(b)
	if err != nil {
		return nil, err
	}
	h.putRefMap(ctx, ref, v.claims.Subject)
	return v, nil
}

// refError says, for a reference that is not an OCI reference on a host that loads files, that it
// is not a file it loads either: "echo.wasm" is most often a file the user expected this host to
// have. Whether such a file exists outside the allowed directories is not told.
func (h *Host) refError(ref string, err error) error {
	if err != nil && h.files.enabled() && errors.Is(err, lattice.ErrBadOCIRef) {
		return fmt.Errorf("%s is neither a file under a directory this host loads files from (%s; see --allow-file-load) nor an OCI reference: %w",
			ref, h.files.dirList(), err)
	}
	return err
}

// filePath reports whether ref names a local file: a file:// URL, an absolute or relative path
// (/…, ./…, ../…), or a name that exists under an allowed directory (nothing outside them is
// looked at, so such a name never tells whether a file exists elsewhere).
func (h *Host) filePath(ref string) (string, bool) {
	if p, ok := strings.CutPrefix(ref, "file://"); ok {
		return p, true
	}
	if strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") {
		return ref, true
	}
	if h.files.exists(ref) {
		return ref, true
	}
	return "", false
}

// verifiedModule is an actor module whose claims have been checked, not yet compiled.
type verifiedModule struct {
	claims *lattice.ActorClaims
	code   []byte // the module without its claims section
}

// verifyModule checks the module's claims (signature, times, hash) and strips them off.
func verifyModule(module []byte) (*verifiedModule, error) {
	claims, err := lattice.VerifyActor(module, time.Now())
	if err != nil {
		return nil, err
	}
	if claims.Actor.Provider {
		return nil, fmt.Errorf("module %s is marked as a provider, not an actor", claims.Subject)
	}
	code, err := lattice.StripClaims(module)
	if err != nil {
		return nil, err
	}
	return &verifiedModule{claims: claims, code: code}, nil
}

// compileModule compiles a verified module; its pool is the caller's to make.
func (h *Host) compileModule(ctx context.Context, v *verifiedModule) (*actorModule, error) {
	cm, err := h.rt.compile(ctx, v.code)
	if err != nil {
		return nil, err
	}
	return &actorModule{claims: v.claims, compiled: cm}, nil
}

// close closes the module's pool, then its compiled code once no instance of it is busy or being
// made: instances busy at that moment finish their call first.
func (am *actorModule) close() {
	am.pool.close(func() { _ = am.compiled.Close(context.Background()) })
}

// startActor runs count more instances of the actor at ref; it returns the actor's key. When the
// actor already runs here, ref must hold the same module (the same claims hash): more instances
// of it are added, and their actor_started events carry ref. Other bytes under the same key are
// refused, pointing to an update. lim sets the actor's min and max live instances.
//
// A new actor is compiled, subscribed and instantiated once (a module that does not instantiate
// is refused at start); that instance, like every other, is closed after the idle timeout unless
// the actor's min keeps it, and the next call makes one again.
func (h *Host) startActor(ctx context.Context, ref string, count int, annotations map[string]string, lim limits) (string, error) {
	if count <= 0 {
		count = 1
	}
	pages, err := memoryLimit(annotations, h.rt.maxPages)
	if err != nil {
		return "", fmt.Errorf("start actor %s: %w", ref, err)
	}
	v, err := h.loadModule(ctx, ref)
	if err != nil {
		return "", err
	}
	id := v.claims.Subject
	// Running already: no compile needed to add instances or to refuse.
	if added, err := h.addToRunning(ctx, id, ref, v.claims, count, annotations, lim); err != nil {
		return "", err
	} else if added {
		return id, nil
	}
	am, err := h.compileModule(ctx, v)
	if err != nil {
		return "", err
	}

	h.lifecycle.Lock()
	defer h.lifecycle.Unlock()
	if a, ok := h.actors.get(id); ok { // started by another command while this one compiled
		_ = am.compiled.Close(ctx)
		if err := sameModule(a, ref, v.claims); err != nil {
			return "", err
		}
		if err := sameMemory(a, pages); err != nil {
			return "", err
		}
		if err := a.applyLimits(lim, len(a.instances())+count); err != nil {
			return "", err
		}
		h.addInstances(a, count, annotations, ref)
		h.fitPool(ctx, a)
		return id, nil
	}
	a := &actor{id: id, imageRef: ref, memPages: pages}
	if err := a.applyLimits(lim, count); err != nil {
		_ = am.compiled.Close(ctx)
		return "", err
	}
	am.pool = h.newActorPool(a, am)
	first, err := h.rt.instantiate(ctx, am.compiled, h.guestLog(id), pages)
	if err != nil {
		_ = am.compiled.Close(ctx)
		return "", fmt.Errorf("actor %s: %w", id, err)
	}
	am.pool.put(first)
	a.mod.Store(am)
	sub, err := h.nc.QueueSubscribe(h.subj.Actor(id), h.subj.Actor(id), func(m *nats.Msg) {
		a.inflight.Add(1)
		a.load.Add(1)
		go func() {
			defer a.inflight.Done()
			defer a.load.Add(-1)
			h.serveInvocation(a, m)
		}()
	})
	if err != nil {
		am.close()
		return "", fmt.Errorf("subscribe %s: %w", h.subj.Actor(id), err)
	}
	a.sub = sub
	h.actors.add(a)
	if err := h.store.PutClaims(ctx, am.claims.Token); err != nil {
		h.log.Warn().Err(err).Str("actor", id).Msg("store claims")
	}
	h.aliases.put(id, am.claims.StringMap())
	h.addInstances(a, count, annotations, ref)
	h.fitPool(ctx, a)
	return id, nil
}

// newActorPool makes the pool of a module of actor a, empty, sized by a's limits; the pool of
// a new actor is sized again once its instances are recorded.
func (h *Host) newActorPool(a *actor, am *actorModule) *pool {
	p := newPool(0, h.cfg.ActorIdleTimeout, h.instanceMaker(a, am))
	p.resize(a.poolLimits())
	return p
}

// addToRunning adds count instances to actor id when it runs here and ref holds its module;
// added is false when the actor does not run here.
func (h *Host) addToRunning(ctx context.Context, id, ref string, claims *lattice.ActorClaims, count int, annotations map[string]string, lim limits) (added bool, err error) {
	h.lifecycle.Lock()
	defer h.lifecycle.Unlock()
	a, ok := h.actors.get(id)
	if !ok {
		return false, nil
	}
	if err := sameModule(a, ref, claims); err != nil {
		return false, err
	}
	if pages, _ := memoryLimit(annotations, h.rt.maxPages); pages != 0 {
		if err := sameMemory(a, pages); err != nil {
			return false, err
		}
	}
	if err := a.applyLimits(lim, len(a.instances())+count); err != nil {
		return false, err
	}
	h.addInstances(a, count, annotations, ref)
	h.fitPool(ctx, a)
	return true, nil
}

// sameModule checks that claims, read from ref, are of the module actor a runs: a start adds
// instances of the running module, and only an update replaces it.
func sameModule(a *actor, ref string, claims *lattice.ActorClaims) error {
	cur := a.claims()
	if cur.Actor.Hash == claims.Actor.Hash {
		return nil
	}
	running, rev := a.ref(), claims.Revision()
	holds := ref + " holds other bytes"
	if ref == running {
		holds = ref + " now holds other bytes"
	}
	hint := fmt.Sprintf("use \"trellis ctl update actor %s %s\" to replace it", a.id, ref)
	if rev <= cur.Revision() {
		hint = fmt.Sprintf("to replace it, sign it with a revision above %d and use \"trellis ctl update actor %s %s\"", cur.Revision(), a.id, ref)
	}
	return fmt.Errorf("actor %s already runs on this host from %s (revision %d); %s (revision %d): %s",
		a.id, running, cur.Revision(), holds, rev, hint)
}

// instanceMaker returns the pool's constructor for new instances of a module.
func (h *Host) instanceMaker(a *actor, am *actorModule) func(context.Context) (*instance, error) {
	return func(ctx context.Context) (*instance, error) {
		in, err := h.rt.instantiate(ctx, am.compiled, h.guestLog(a.id), a.memPages)
		if err != nil {
			return nil, fmt.Errorf("actor %s: %w", a.id, err)
		}
		return in, nil
	}
}

// guestLog is where an actor's stdout and stderr go.
func (h *Host) guestLog(id string) io.Writer {
	return h.log.With().Str("actor", id).Logger()
}

// addInstances grows the actor by n logical instances and publishes actor_started for each, with
// ref (the reference of the command that asked for them) as image_ref.
func (h *Host) addInstances(a *actor, n int, annotations map[string]string, ref string) {
	am := a.mod.Load()
	a.mu.Lock()
	added := make([]lattice.ActorInstance, n)
	for i := range added {
		added[i] = lattice.ActorInstance{InstanceID: uuid.NewString(), Annotations: nonNil(annotations), Revision: am.claims.Actor.Rev}
	}
	a.inst = append(a.inst, added...)
	a.mu.Unlock()
	am.pool.resize(a.poolLimits())
	for _, in := range added {
		h.publish(lattice.EventActorStarted, lattice.ActorStartedData{
			PublicKey: a.id, ImageRef: ref, APIVersion: "n/a", InstanceID: in.InstanceID,
			Annotations: in.Annotations, Claims: am.claims.EventMap(),
		})
	}
}

// stopActor removes count instances (0 = all) whose annotations include the given ones; when none
// remain the actor is unsubscribed and dropped. Callers hold the lifecycle lock or are shutting down.
func (h *Host) stopActor(a *actor, count int, annotations map[string]string) int {
	a.mu.Lock()
	var removed, kept []lattice.ActorInstance
	for i := len(a.inst) - 1; i >= 0; i-- {
		in := a.inst[i]
		if (count == 0 || len(removed) < count) && matches(in.Annotations, annotations) {
			removed = append(removed, in)
		} else {
			kept = append([]lattice.ActorInstance{in}, kept...)
		}
	}
	a.inst = kept
	a.mu.Unlock()
	am := a.mod.Load()
	if len(kept) == 0 {
		h.actors.remove(a)
		h.quiesceActor(a)
		am.close()
	} else {
		am.pool.resize(a.poolLimits())
	}
	for _, in := range removed {
		h.publish(lattice.EventActorStopped, lattice.ActorStoppedData{PublicKey: a.id, InstanceID: in.InstanceID, Annotations: in.Annotations})
	}
	return len(removed)
}

// quiesceActor stops an actor taking invocations without losing any it was handed: the queue
// subscription is drained (the server stops delivering, and what it had sent is still served),
// then the invocations in flight are awaited. Other hosts' instances take the new ones.
func (h *Host) quiesceActor(a *actor) {
	if a.sub != nil {
		closed := a.sub.StatusChanged(nats.SubscriptionClosed)
		if err := a.sub.Drain(); err == nil {
			select {
			case <-closed:
			case <-time.After(h.cfg.RPCTimeout):
				h.log.Warn().Str("actor", a.id).Msg("draining the actor's subscription timed out")
				_ = a.sub.Unsubscribe()
			}
		}
	}
	a.inflight.Wait()
}

// scaleActor sets the number of instances of a running actor, or starts it from ref when absent,
// and the min and max live instances lim asks for. A count of 0 with limits changes only the
// limits of a running actor (a 0.x client sends no limits, so its count 0 still stops the actor).
func (h *Host) scaleActor(ctx context.Context, id, ref string, count int, annotations map[string]string, lim limits) error {
	a, ok := h.actors.get(id)
	if !ok {
		if count == 0 {
			if lim.set() {
				return fmt.Errorf("actor %s is not running on this host: its instance limits need a count to start it", id)
			}
			return nil
		}
		if ref == "" {
			return fmt.Errorf("actor %s is not running on this host and no actor_ref was given to start it", id)
		}
		got, err := h.startActor(ctx, ref, count, annotations, lim)
		if err != nil {
			return err
		}
		if got != id {
			return fmt.Errorf("actor_ref %s holds actor %s, not %s", ref, got, id)
		}
		return nil
	}
	h.lifecycle.Lock()
	defer h.lifecycle.Unlock()
	if err := h.stillRunning(a); err != nil {
		return fmt.Errorf("actor %s: %w", id, err)
	}
	cur := len(a.instances())
	if count == 0 && lim.set() {
		count = cur
	}
	if count > 0 {
		if err := a.applyLimits(lim, count); err != nil {
			return err
		}
	}
	switch {
	case count > cur:
		h.addInstances(a, count-cur, annotations, a.ref())
	case count < cur:
		h.stopActor(a, cur-count, nil)
	}
	if count > 0 {
		h.fitPool(ctx, a)
	}
	return nil
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

var errNotRunning = errors.New("not running on this host")
