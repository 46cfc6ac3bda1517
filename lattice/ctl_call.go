package lattice

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
		if err := c.putChunk(ctx, inv.ID, inv.Msg); err != nil {
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
		out, err := c.takeChunk(ctx, inv.ID+"-r", *resp.ContentLength)
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

// chunkStore binds the lattice's object store, creating it when missing.
func (c *Client) chunkStore(ctx context.Context) (jetstream.ObjectStore, error) {
	js, err := c.jetStream()
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", c.subj.ObjectStore(), err)
	}
	name := c.subj.ObjectStore()
	obj, err := js.ObjectStore(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obj, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      name,
			Description: "lattice " + c.cfg.Lattice + ": chunked invocation payloads",
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			obj, err = js.ObjectStore(ctx, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", name, err)
	}
	return obj, nil
}

func (c *Client) putChunk(ctx context.Context, name string, data []byte) error {
	obj, err := c.chunkStore(ctx)
	if err != nil {
		return err
	}
	if _, err := obj.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("store chunked payload %s in %s: %w", name, c.subj.ObjectStore(), err)
	}
	return nil
}

// takeChunk reads a chunked payload, checks its length and deletes it.
func (c *Client) takeChunk(ctx context.Context, name string, size uint64) ([]byte, error) {
	obj, err := c.chunkStore(ctx)
	if err != nil {
		return nil, err
	}
	data, err := obj.GetBytes(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read chunked reply %s from %s: %w", name, c.subj.ObjectStore(), err)
	}
	if uint64(len(data)) != size {
		return nil, fmt.Errorf("chunked reply %s in %s has %d bytes, the reply said %d", name, c.subj.ObjectStore(), len(data), size)
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := obj.Delete(dctx, name); err != nil {
		c.log.Warn().Err(err).Str("object", name).Msg("could not delete a chunked reply after reading it")
	}
	return data, nil
}
