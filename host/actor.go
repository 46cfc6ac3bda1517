package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
	id       string
	imageRef string

	mod  atomic.Pointer[actorModule] // swapped by upd
	sub  *nats.Subscription
	mu   sync.Mutex
	inst []lattice.ActorInstance // logical instances; len = pool size

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

func (a *actor) instances() []lattice.ActorInstance {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]lattice.ActorInstance(nil), a.inst...)
}

type actorTable struct {
	mu     sync.Mutex
	actors map[string]*actor
	// lifecycle serializes starts, stops, scales and updates on this host.
	lifecycle sync.Mutex
}

func newActorTable() *actorTable { return &actorTable{actors: map[string]*actor{}} }

func (t *actorTable) get(id string) (*actor, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.actors[id]
	return a, ok
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

// loadModule reads an actor module from a reference: a file path when the host allows it, else
// an OCI reference (oci_host.go).
func (h *Host) loadModule(ctx context.Context, ref string) ([]byte, error) {
	if path, ok := filePath(ref); ok {
		if !h.cfg.AllowFileLoad {
			return nil, fmt.Errorf("%s looks like a file path, but this host does not allow loading from files (--allow-file-load)", ref)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		return b, nil
	}
	m, err := h.pullModule(ctx, ref)
	return m, h.refError(ref, err)
}

// refError says, for a reference that is not an OCI reference on a host that loads files, that it
// is not a file either: "echo.wasm" is most often a file the user expected this host to have.
func (h *Host) refError(ref string, err error) error {
	if err != nil && h.cfg.AllowFileLoad && errors.Is(err, lattice.ErrBadOCIRef) {
		return fmt.Errorf("%s is not a file on this host, nor an OCI reference: %w", ref, err)
	}
	return err
}

// filePath reports whether ref names a local file (file:// URL, absolute or relative path, or an
// existing file).
func filePath(ref string) (string, bool) {
	if p, ok := strings.CutPrefix(ref, "file://"); ok {
		return p, true
	}
	if strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") {
		return ref, true
	}
	if _, err := os.Stat(ref); err == nil {
		return ref, true
	}
	return "", false
}

// prepareModule verifies the module's claims and compiles it.
func (h *Host) prepareModule(ctx context.Context, module []byte) (*actorModule, error) {
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
	cm, err := h.rt.compile(ctx, code)
	if err != nil {
		return nil, err
	}
	return &actorModule{claims: claims, compiled: cm}, nil
}

// startActor runs count more instances of the actor at ref; it returns the actor's key.
func (h *Host) startActor(ctx context.Context, ref string, count int, annotations map[string]string) (string, error) {
	if count <= 0 {
		count = 1
	}
	module, err := h.loadModule(ctx, ref)
	if err != nil {
		return "", err
	}
	am, err := h.prepareModule(ctx, module)
	if err != nil {
		return "", err
	}
	id := am.claims.Subject

	h.actors.lifecycle.Lock()
	defer h.actors.lifecycle.Unlock()
	if a, ok := h.actors.get(id); ok {
		_ = am.compiled.Close(ctx)
		h.addInstances(a, count, annotations)
		return id, nil
	}
	a := &actor{id: id, imageRef: ref}
	am.pool = newPool(count, h.instanceMaker(a, am))
	first, err := h.rt.instantiate(ctx, am.compiled, h.guestLog(id))
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
		am.pool.close()
		_ = am.compiled.Close(ctx)
		return "", fmt.Errorf("subscribe %s: %w", h.subj.Actor(id), err)
	}
	a.sub = sub
	h.actors.mu.Lock()
	h.actors.actors[id] = a
	h.actors.mu.Unlock()
	if err := h.store.PutClaims(ctx, id, am.claims.StringMap()); err != nil {
		h.log.Warn().Err(err).Str("actor", id).Msg("store claims")
	}
	h.links.putClaims(id, am.claims.StringMap())
	h.addInstances(a, count, annotations)
	return id, nil
}

// instanceMaker returns the pool's constructor for new instances of a module.
func (h *Host) instanceMaker(a *actor, am *actorModule) func(context.Context) (*instance, error) {
	return func(ctx context.Context) (*instance, error) {
		in, err := h.rt.instantiate(ctx, am.compiled, h.guestLog(a.id))
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

// addInstances grows the actor by n logical instances and publishes actor_started for each.
func (h *Host) addInstances(a *actor, n int, annotations map[string]string) {
	am := a.mod.Load()
	a.mu.Lock()
	added := make([]lattice.ActorInstance, n)
	for i := range added {
		added[i] = lattice.ActorInstance{InstanceID: uuid.NewString(), Annotations: nonNil(annotations), Revision: am.claims.Actor.Rev}
	}
	a.inst = append(a.inst, added...)
	size := len(a.inst)
	a.mu.Unlock()
	am.pool.resize(size)
	for _, in := range added {
		h.publish(lattice.EventActorStarted, lattice.ActorStartedData{
			PublicKey: a.id, ImageRef: a.imageRef, APIVersion: "n/a", InstanceID: in.InstanceID,
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
		h.actors.mu.Lock()
		delete(h.actors.actors, a.id)
		h.actors.mu.Unlock()
		h.quiesceActor(a)
		am.pool.close()
	} else {
		am.pool.resize(len(kept))
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

// scaleActor sets the number of instances of a running actor, or starts it from ref when absent.
func (h *Host) scaleActor(ctx context.Context, id, ref string, count int, annotations map[string]string) error {
	a, ok := h.actors.get(id)
	if !ok {
		if count == 0 {
			return nil
		}
		if ref == "" {
			return fmt.Errorf("actor %s is not running on this host and no actor_ref was given to start it", id)
		}
		got, err := h.startActor(ctx, ref, count, annotations)
		if err != nil {
			return err
		}
		if got != id {
			return fmt.Errorf("actor_ref %s holds actor %s, not %s", ref, got, id)
		}
		return nil
	}
	h.actors.lifecycle.Lock()
	defer h.actors.lifecycle.Unlock()
	cur := len(a.instances())
	switch {
	case count > cur:
		h.addInstances(a, count-cur, annotations)
	case count < cur:
		h.stopActor(a, cur-count, nil)
	}
	return nil
}

// updateActor swaps a running actor's module for the one at ref, which must have the same subject.
func (h *Host) updateActor(ctx context.Context, id, ref string) error {
	a, ok := h.actors.get(id)
	if !ok {
		return fmt.Errorf("actor %s is not running on this host", id)
	}
	module, err := h.loadModule(ctx, ref)
	if err != nil {
		return err
	}
	am, err := h.prepareModule(ctx, module)
	if err != nil {
		return err
	}
	if am.claims.Subject != id {
		_ = am.compiled.Close(ctx)
		return fmt.Errorf("new actor_ref %s holds actor %s, not %s: an update keeps the same subject", ref, am.claims.Subject, id)
	}
	h.actors.lifecycle.Lock()
	defer h.actors.lifecycle.Unlock()
	am.pool = newPool(len(a.instances()), h.instanceMaker(a, am))
	old := a.mod.Swap(am)
	a.mu.Lock()
	a.imageRef = ref
	for i := range a.inst {
		a.inst[i].Revision = am.claims.Actor.Rev
	}
	a.mu.Unlock()
	old.pool.close()
	if err := h.store.PutClaims(ctx, id, am.claims.StringMap()); err != nil {
		h.log.Warn().Err(err).Str("actor", id).Msg("store claims")
	}
	h.links.putClaims(id, am.claims.StringMap())
	h.publish(lattice.EventActorUpdated, map[string]any{"public_key": id, "revision": am.claims.Actor.Rev, "image_ref": ref})
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
