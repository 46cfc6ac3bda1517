package providers

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/trellis-lattice/trellis/lattice"
)

// Host is the provider's view of the host that launched it and of the lattice: its HostData, the
// links currently applied, and a way to call actors. Run makes one and hands it to
// Initializer.Init; it is safe for concurrent use.
type Host struct {
	data    lattice.HostData
	cfg     Config
	log     zerolog.Logger
	nc      *nats.Conn
	subj    lattice.Subjects
	cluster *lattice.KeyPair
	timeout time.Duration

	mu     sync.RWMutex
	links  map[string]lattice.LinkDefinition // by actor id
	failed map[string]error                  // by actor id: why the last PutLink failed

	caller *lattice.Caller

	metrics *metricsServer // nil without metrics_addr (metrics.go)
}

// Data returns a copy of the HostData the provider was launched with.
func (h *Host) Data() lattice.HostData {
	d := h.data
	d.LinkDefinitions = append([]lattice.LinkDefinition(nil), d.LinkDefinitions...)
	d.ClusterIssuers = append([]string(nil), d.ClusterIssuers...)
	return d
}

// Logger returns the provider's logger.
func (h *Host) Logger() zerolog.Logger { return h.log }

// NATS returns the lattice RPC connection.
func (h *Host) NATS() *nats.Conn { return h.nc }

// Origin is the entity the provider calls actors as: {provider key, contract id, link name}.
func (h *Host) Origin() lattice.Entity {
	return lattice.Entity{PublicKey: h.data.ProviderKey, ContractID: h.cfg.ContractID, LinkName: h.data.LinkName}
}

// Links returns the links applied now, sorted by actor id.
func (h *Host) Links() []lattice.LinkDefinition {
	h.mu.RLock()
	out := make([]lattice.LinkDefinition, 0, len(h.links))
	for _, l := range h.links {
		out = append(out, l)
	}
	h.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ActorID < out[j].ActorID })
	return out
}

// Link returns the applied link of an actor.
func (h *Host) Link(actorID string) (lattice.LinkDefinition, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	l, ok := h.links[actorID]
	return l, ok
}

func (h *Host) setLink(l lattice.LinkDefinition) {
	h.mu.Lock()
	h.links[l.ActorID] = l
	delete(h.failed, l.ActorID)
	h.mu.Unlock()
}

func (h *Host) forgetLink(actorID string) {
	h.mu.Lock()
	delete(h.links, actorID)
	delete(h.failed, actorID)
	h.mu.Unlock()
}

// CallActor invokes operation on an actor with msg and returns the actor's reply. The invocation
// comes from Origin, is signed with the invocation seed, and goes to wasmbus.rpc.{L}.{actor}. It
// waits for default_rpc_timeout_ms, unless ctx has a deadline, which then wins (so a caller can
// wait longer or shorter than the lattice default). Errors are lattice.Caller's: an error the
// actor or its host answers with wraps lattice.ErrInvocation; nothing listening on the subject
// wraps ErrActorNotFound (lattice.ErrNoResponder); a timeout wraps context.DeadlineExceeded.
// Payloads over lattice.MaxInlinePayload travel through the lattice's object store, either way.
func (h *Host) CallActor(ctx context.Context, actorID, operation string, msg []byte) ([]byte, error) {
	if err := lattice.CheckPublicKey(lattice.PrefixModule, actorID); err != nil {
		return nil, fmt.Errorf("call actor %s %s: actor id: %w", actorID, operation, err)
	}
	return h.caller.Call(ctx, h.Origin(), lattice.Entity{PublicKey: actorID}, operation, msg)
}

func (h *Host) failLink(actorID string, err error) {
	h.mu.Lock()
	delete(h.links, actorID)
	h.failed[actorID] = err
	h.mu.Unlock()
}

// linkFailure returns why the last put of an actor's link failed, or nil.
func (h *Host) linkFailure(actorID string) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.failed[actorID]
}
