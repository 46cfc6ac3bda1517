package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/trellis-lattice/trellis/lattice"
)

// serveInvocation answers one invocation of a local actor received on its queue subscription.
func (h *Host) serveInvocation(a *actor, m *nats.Msg) {
	resp := h.invocationResponse(a, m.Data)
	data, err := resp.Encode()
	if err != nil {
		h.log.Error().Err(err).Msg("encode invocation response")
		return
	}
	if m.Reply == "" {
		return
	}
	if err := m.Respond(data); err != nil {
		h.log.Debug().Err(err).Str("actor", a.id).Msg("respond to invocation")
	}
}

func (h *Host) invocationResponse(a *actor, data []byte) *lattice.InvocationResponse {
	inv, err := lattice.DecodeInvocation(data)
	if err != nil {
		return &lattice.InvocationResponse{Error: fmt.Sprintf("actor %s: %v", a.id, err)}
	}
	resp := &lattice.InvocationResponse{InvocationID: inv.ID}
	if err = h.checkInvocation(a, inv); err != nil {
		resp.Error = err.Error()
		h.log.Warn().Err(err).Str("actor", a.id).Str("operation", inv.Operation).Msg("invocation refused")
		return resp
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.RPCTimeout)
	defer cancel()
	msg := inv.Msg
	if len(msg) == 0 && inv.ContentLength != nil && *inv.ContentLength > 0 {
		if msg, err = h.chunks.Take(ctx, inv.ID, *inv.ContentLength); err != nil {
			resp.Error = fmt.Sprintf("actor %s: %v", a.id, err)
			return resp
		}
	}
	out, err := h.runActor(ctx, a, inv.Operation, msg)
	if err != nil {
		resp.Error = err.Error()
		return resp
	}
	size := uint64(len(out))
	resp.ContentLength = &size
	if len(out) > lattice.MaxInlinePayload {
		if err := h.chunks.Put(ctx, inv.ID+"-r", out); err != nil {
			resp.Error = fmt.Sprintf("actor %s: %v", a.id, err)
			return resp
		}
		out = []byte{}
	}
	resp.Msg = out
	return resp
}

// checkInvocation is what a host verifies before running an invocation of a local actor.
func (h *Host) checkInvocation(a *actor, inv *lattice.Invocation) error {
	if err := inv.Validate(h.issuers, time.Now()); err != nil {
		return fmt.Errorf("invocation %s of %s: %w", inv.ID, inv.Operation, err)
	}
	if inv.Target.PublicKey != a.id {
		return fmt.Errorf("invocation %s targets %s, not actor %s", inv.ID, inv.Target.PublicKey, a.id)
	}
	if !inv.Origin.IsActor() {
		if c := a.claims(); !c.HasCap(inv.Origin.ContractID) {
			return fmt.Errorf("actor %s does not have the capability %s that provider %s calls it for", a.id, inv.Origin.ContractID, inv.Origin.PublicKey)
		}
	}
	return nil
}

// runActor runs one operation in a free instance of a local actor. The call runs on one module
// from start to end, its code and its claims: when an update replaces the module while the call
// waits for an instance, the call takes one of the new module instead (the old pool is closed
// after the swap), so an update fails no call.
func (h *Host) runActor(ctx context.Context, a *actor, op string, msg []byte) ([]byte, error) {
	am, in, err := acquire(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("actor %s: no instance free: %w", a.id, err)
	}
	c := &call{
		op:  []byte(op),
		msg: msg,
		hostCall: func(ctx context.Context, binding, ns, op string, msg []byte) ([]byte, error) {
			return h.hostCall(ctx, a, am.claims, binding, ns, op, msg)
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
		return h.rpc(ctx, h.subj.Provider(l.ProviderID, binding), origin, target, op, msg)
	}
	if lattice.IsValidPublicKey(lattice.PrefixModule, ns) {
		return h.rpc(ctx, h.subj.Actor(ns), origin, lattice.Entity{PublicKey: ns}, op, msg)
	}
	if pk, ok := h.links.alias(ns); ok {
		return h.rpc(ctx, h.subj.Actor(pk), origin, lattice.Entity{PublicKey: pk}, op, msg)
	}
	if strings.Contains(ns, ":") {
		if !claims.HasCap(ns) {
			return nil, fmt.Errorf("actor %s is not allowed to call %s: the capability is not in its claims", a.id, ns)
		}
		return nil, fmt.Errorf("no link definition for actor %s, contract %s, link name %s", a.id, ns, binding)
	}
	return nil, fmt.Errorf("Call alias not found: %s", ns)
}

// rpc sends a signed invocation and returns the response message or its error.
func (h *Host) rpc(ctx context.Context, subject string, origin, target lattice.Entity, op string, msg []byte) ([]byte, error) {
	inv, err := lattice.NewInvocation(h.cluster, h.ID(), origin, target, op, msg)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.cfg.RPCTimeout)
		defer cancel()
	}
	size := uint64(len(inv.Msg))
	inv.ContentLength = &size
	if len(inv.Msg) > lattice.MaxInlinePayload {
		// The claims hash covers the whole payload; receivers skip it for a chunked message.
		if err := h.chunks.Put(ctx, inv.ID, inv.Msg); err != nil {
			return nil, fmt.Errorf("%s %s: %w", op, target.URL(), err)
		}
		inv.Msg = []byte{}
	}
	data, err := inv.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode invocation: %w", err)
	}
	reply, err := h.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("%s %s: nothing is running to answer on %s", op, target.URL(), subject)
		}
		return nil, fmt.Errorf("%s %s: %w", op, target.URL(), err)
	}
	resp, err := lattice.DecodeInvocationResponse(reply.Data)
	if err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	if len(resp.Msg) == 0 && resp.ContentLength != nil && *resp.ContentLength > 0 {
		return h.chunks.Take(ctx, inv.ID+"-r", *resp.ContentLength)
	}
	return resp.Msg, nil
}
