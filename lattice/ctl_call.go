package lattice

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Call invokes operation on an actor with msg (for most contracts, msgpack) and returns the
// actor's reply. The invocation is signed with the cluster seed, comes from the client's own module
// key (OriginKey) under link name "default", and goes to wasmbus.rpc.{L}.{actor}. An error the
// actor or its host answers with wraps ErrInvocation and carries its text. Payloads over
// MaxInlinePayload, either way, travel through the lattice's object store as upstream does.
//
// The call waits for Timeout (default 2s) unless ctx has a deadline, which then wins.
func (c *Client) Call(ctx context.Context, actorID, operation string, msg []byte) ([]byte, error) {
	op := fmt.Sprintf("call %s %s", actorID, operation)
	if c.cluster == nil {
		return nil, fmt.Errorf("%s: %w", op, ErrNoClusterSeed)
	}
	if err := CheckPublicKey(PrefixModule, actorID); err != nil {
		return nil, fmt.Errorf("%s: actor id: %w", op, err)
	}
	if operation == "" {
		return nil, fmt.Errorf("call %s: operation is empty", actorID)
	}
	origin := Entity{PublicKey: c.origin.PublicKey(), LinkName: DefaultLinkName}
	target := Entity{PublicKey: actorID, LinkName: DefaultLinkName}
	inv, err := NewInvocation(c.cluster, c.hostID, origin, target, operation, msg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	size := uint64(len(inv.Msg))
	inv.ContentLength = &size

	ctx, cancel, limit := withTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if len(inv.Msg) > MaxInlinePayload {
		// The claims hash covers the whole payload; receivers skip the hash of a chunked message.
		if err := c.chunks.Put(ctx, inv.ID, inv.Msg); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		inv.Msg = []byte{}
	}
	data, err := inv.Encode()
	if err != nil {
		return nil, fmt.Errorf("%s: encode invocation: %w", op, err)
	}
	subject := c.subj.Actor(actorID)
	reply, err := c.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("%s: %w on %s: is the actor running on lattice %s?", op, ErrNoHost, subject, c.cfg.Lattice)
		}
		return nil, c.requestError(op, subject, "", limit, err)
	}
	resp, err := DecodeInvocationResponse(reply.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: reply on %s: %w", op, subject, err)
	}
	if resp.Error != "" {
		return nil, fmt.Errorf("%s: %w: %s", op, ErrInvocation, resp.Error)
	}
	if resp.InvocationID != "" && resp.InvocationID != inv.ID {
		return nil, fmt.Errorf("%s: reply on %s is for invocation %s, not %s", op, subject, resp.InvocationID, inv.ID)
	}
	if len(resp.Msg) == 0 && resp.ContentLength != nil && *resp.ContentLength > 0 {
		out, err := c.chunks.Take(ctx, inv.ID+"-r", *resp.ContentLength)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		return out, nil
	}
	if resp.Msg == nil {
		resp.Msg = []byte{}
	}
	return resp.Msg, nil
}
