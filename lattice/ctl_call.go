package lattice

import (
	"context"
	"fmt"
)

// Call invokes operation on an actor with msg (for most contracts, msgpack) and returns the
// actor's reply. The invocation is signed with the cluster seed, comes from the client's own module
// key (OriginKey) under link name "default", and goes to wasmbus.rpc.{L}.{actor}. Errors are the
// Caller's: nothing running to answer wraps ErrNoResponder, an error the actor or its host answers
// with wraps ErrInvocation and carries its text, no answer in time wraps
// context.DeadlineExceeded. Payloads over MaxInlinePayload, either way, travel through the
// lattice's object store as upstream does.
//
// The call waits for Timeout (default 2s) unless ctx has a deadline, which then wins.
func (c *Client) Call(ctx context.Context, actorID, operation string, msg []byte) ([]byte, error) {
	if err := CheckPublicKey(PrefixModule, actorID); err != nil {
		return nil, fmt.Errorf("call actor %s %s: actor id: %w", actorID, operation, err)
	}
	origin := Entity{PublicKey: c.origin.PublicKey(), LinkName: DefaultLinkName}
	target := Entity{PublicKey: actorID, LinkName: DefaultLinkName}
	return c.caller.Call(ctx, origin, target, operation, msg)
}
