package host

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/trellis-lattice/trellis/lattice"
)

// serveInvocation answers one invocation of a local actor received on its queue subscription.
func (h *Host) serveInvocation(a *actor, m *nats.Msg) {
	rec := h.metrics.begin(a.id)
	h.server.Respond(context.Background(), m, actorServer{h: h, a: a, rec: rec})
	rec.end()
}

// actorServer is what a host checks and runs for invocations of one local actor.
type actorServer struct {
	h   *Host
	a   *actor
	rec *invocation // metrics.go; nil without metrics
}

// Name names the actor in the errors of its responses.
func (s actorServer) Name() string { return "actor " + s.a.id }

// Accept checks that the invocation is for this actor and, when a provider calls, that the
// provider's contract is in the actor's claims.
func (s actorServer) Accept(inv *lattice.Invocation) error {
	a := s.a
	if inv.Target.PublicKey != a.id {
		return fmt.Errorf("invocation %s targets %s, not actor %s", inv.ID, inv.Target.PublicKey, a.id)
	}
	if err := s.h.checkPayload("invocation "+inv.ID+" of actor "+a.id, lattice.PayloadSize(inv)); err != nil {
		return err // before a chunked payload is read
	}
	if !inv.Origin.IsActor() {
		return acceptProvider(a, inv.Origin)
	}
	return nil
}

// acceptProvider refuses a provider's call of an actor whose claims lack the provider's contract:
// the check of invocations from the lattice and of the built-in providers' local calls.
func acceptProvider(a *actor, origin lattice.Entity) error {
	if c := a.claims(); !c.HasCap(origin.ContractID) {
		return fmt.Errorf("actor %s does not have the capability %s that provider %s calls it for", a.id, origin.ContractID, origin.PublicKey)
	}
	return nil
}

// Handle runs the invocation in a free instance.
func (s actorServer) Handle(ctx context.Context, inv *lattice.Invocation) ([]byte, error) {
	s.rec.running(inv.Operation)
	out, err := s.h.runActor(ctx, s.a, inv.Operation, inv.Msg)
	s.rec.done(err)
	return out, err
}

// runActor runs one operation in a free instance of a local actor. The call runs on one module
// from start to end, its code and its claims: when an update replaces the module while the call
// waits for an instance, the call takes one of the new module instead (the old pool is closed
// after the swap), so an update fails no call.
func (h *Host) runActor(ctx context.Context, a *actor, op string, msg []byte) ([]byte, error) {
	if err := h.checkPayload("call actor "+a.id+" "+op, uint64(len(msg))); err != nil {
		return nil, err
	}
	am, in, err := acquire(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("actor %s: no instance free: %w", a.id, err)
	}
	c := &call{
		op:  []byte(op),
		msg: msg,
		hostCall: func(ctx context.Context, binding, ns, op string, msg []byte) ([]byte, error) {
			return h.tracedHostCall(ctx, a, am.claims, binding, ns, op, msg)
		},
		log: func(s string) { h.log.Info().Str("actor", a.id).Msg(s) },
	}
	out, err := in.invoke(ctx, c)
	am.pool.release(in)
	if err != nil {
		var ge *guestError
		if errors.As(err, &ge) {
			return nil, fmt.Errorf("actor %s: %s: %s", a.id, op, ge.msg)
		}
		return nil, fmt.Errorf("actor %s: %s: %w", a.id, op, err)
	}
	return out, nil
}

// acquire takes a free instance of the actor's current module, moving on to the module that
// replaced it when its pool closes under the call.
func acquire(ctx context.Context, a *actor) (*actorModule, *instance, error) {
	for {
		am := a.mod.Load()
		in, err := am.pool.acquire(ctx)
		if errors.Is(err, errStopped) && a.mod.Load() != am {
			continue // replaced by an update
		}
		return am, in, err
	}
}

// hostCall routes an actor's __host_call (PROTOCOL.md §3): builtins, then a link to a provider,
// then an actor by key, then a call alias. claims are those of the module making the call.
func (h *Host) hostCall(ctx context.Context, a *actor, claims *lattice.ActorClaims, binding, ns, op string, msg []byte) ([]byte, error) {
	if binding == "" {
		binding = lattice.DefaultLinkName
	}
	if b, ok := builtins[ns]; ok {
		if !claims.HasCap(ns) {
			return nil, fmt.Errorf("actor %s is not allowed to call %s: the capability is not in its claims", a.id, ns)
		}
		return b(h, a, op, msg)
	}
	origin := lattice.Entity{PublicKey: a.id}
	if l, ok := h.links.get(a.id, ns, binding); ok {
		if !claims.HasCap(ns) {
			return nil, fmt.Errorf("actor %s is not allowed to call %s: the capability is not in its claims", a.id, ns)
		}
		target := lattice.Entity{PublicKey: l.ProviderID, LinkName: binding, ContractID: ns}
		return h.rpc(ctx, origin, target, op, msg)
	}
	if lattice.IsValidPublicKey(lattice.PrefixModule, ns) {
		return h.rpc(ctx, origin, lattice.Entity{PublicKey: ns}, op, msg)
	}
	if pk, ok := h.aliases.get(ns); ok {
		return h.rpc(ctx, origin, lattice.Entity{PublicKey: pk}, op, msg)
	}
	if strings.Contains(ns, ":") {
		if !claims.HasCap(ns) {
			return nil, fmt.Errorf("actor %s is not allowed to call %s: the capability is not in its claims", a.id, ns)
		}
		return nil, fmt.Errorf("no link definition for actor %s, contract %s, link name %s", a.id, ns, binding)
	}
	return nil, fmt.Errorf("Call alias not found: %s", ns)
}

// rpc sends a signed invocation for an actor's host call and returns the response message. An
// error the other side answered with reaches the guest as that side wrote it.
func (h *Host) rpc(ctx context.Context, origin, target lattice.Entity, op string, msg []byte) ([]byte, error) {
	out, err := h.caller.Call(ctx, origin, target, op, msg)
	var remote *lattice.RemoteError
	if errors.As(err, &remote) {
		return nil, errors.New(remote.Text)
	}
	return out, err
}
