package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-lattice/trellis/lattice"
)

// BuiltinHost is a built-in provider's handle on the host that runs it.
type BuiltinHost struct {
	h      *Host
	p      *provider
	origin lattice.Entity // the built-in as the origin of its invocations
	log    zerolog.Logger
}

func newBuiltinHost(h *Host, p *provider) *BuiltinHost {
	return &BuiltinHost{
		h: h, p: p,
		origin: lattice.Entity{PublicKey: p.id.key, ContractID: p.contract(), LinkName: p.id.linkName},
		log:    h.log.With().Str("provider", p.id.key).Str("link_name", p.id.linkName).Logger(),
	}
}

// HostID is the key (N…) of the host running the built-in.
func (b *BuiltinHost) HostID() string { return b.h.ID() }

// ProviderKey is the built-in's key (V…).
func (b *BuiltinHost) ProviderKey() string { return b.p.id.key }

// LinkName is the link name the built-in was started with.
func (b *BuiltinHost) LinkName() string { return b.p.id.linkName }

// Config is the configuration the lp command carried ("" for none).
func (b *BuiltinHost) Config() string { return b.p.config }

// Logger logs under the host's logger, with the built-in's key and link name.
func (b *BuiltinHost) Logger() zerolog.Logger { return b.log }

// CallActor invokes op on an actor for the built-in. When the actor runs on this host, the call
// goes straight into one of its instances, after the checks the actor's host and a provider
// would make (the actor has the built-in's contract in its claims, and a link of the actor to
// this built-in for that contract and link name is applied): no NATS, no signing, no envelope.
// Otherwise, or when the actor stops here under the call, a signed invocation goes over the
// lattice, from the built-in's key, contract and link name. It waits for the host's RPC timeout
// unless ctx has a deadline. Errors are those of the host's calls: nothing answering wraps
// lattice.ErrNoResponder, a timeout context.DeadlineExceeded.
func (b *BuiltinHost) CallActor(ctx context.Context, actorID, op string, msg []byte) ([]byte, error) {
	if err := lattice.CheckPublicKey(lattice.PrefixModule, actorID); err != nil {
		return nil, fmt.Errorf("call actor %s %s: actor id: %w", actorID, op, err)
	}
	if op == "" {
		return nil, fmt.Errorf("call actor %s: empty operation", actorID)
	}
	h := b.h
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.cfg.RPCTimeout)
		defer cancel()
	}
	if a, ok := h.actors.get(actorID); ok {
		out, err := b.callLocal(ctx, a, op, msg)
		if !errors.Is(err, errStopped) {
			return out, err
		}
		if now, ok := h.actors.get(actorID); ok && now == a {
			return out, err
		}
		// The actor stopped on this host under the call: its other hosts take it.
	}
	return h.rpc(ctx, b.origin, lattice.Entity{PublicKey: actorID}, op, msg)
}

// callLocal runs op in an instance of an actor of this host, refusing what a host refuses
// (acceptProvider) for a provider's invocation and what a provider refuses without a link.
func (b *BuiltinHost) callLocal(ctx context.Context, a *actor, op string, msg []byte) (out []byte, err error) {
	h, contract := b.h, b.origin.ContractID
	rec := h.metrics.begin(a.id)
	defer func() {
		if !errors.Is(err, errStopped) { // retried on another host: counted there
			rec.end()
		}
	}()
	if err := b.accept(a); err != nil {
		h.log.Warn().Err(err).Str("actor", a.id).Str("operation", op).Msg("invocation refused")
		return nil, err
	}
	a.load.Add(1)
	defer a.load.Add(-1)
	ctx, span := lattice.StartInvocationSpan(ctx, h.tracer, trace.SpanKindServer, b.origin, lattice.Entity{PublicKey: a.id}, op, "")
	rec.running(op)
	out, err = h.runActor(ctx, a, op, msg)
	rec.done(err)
	lattice.EndSpan(span, err)
	if err != nil && !errors.Is(err, errStopped) {
		h.log.Debug().Err(err).Str("actor", a.id).Str("contract", contract).Msg("built-in call failed")
	}
	return out, err
}

// accept is the local path's check of a call from the built-in to actor a.
func (b *BuiltinHost) accept(a *actor) error {
	contract := b.origin.ContractID
	if err := acceptProvider(a, b.origin); err != nil {
		return err
	}
	l, ok := b.h.links.get(a.id, contract, b.origin.LinkName)
	if !ok || l.ProviderID != b.origin.PublicKey {
		return fmt.Errorf("no link definition for actor %s, contract %s, link name %s to provider %s", a.id, contract, b.origin.LinkName, b.origin.PublicKey)
	}
	return nil
}
