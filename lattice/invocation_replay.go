package lattice

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// The lifetime of an invocation (PROTOCOL.md §7, docs/compat.md): a signer sets the claims' exp
// InvocationLifetime after their iat; a receiver accepts an invocation from its iat (less
// InvocationClockSkew, for clocks that run ahead of the receiver's) until its exp, or until
// InvocationLifetime after its iat when it has no exp (as wasmCloud 0.x signs them) or a later
// one. Within that window a Server answers each invocation id once.
//
// The lifetime covers the signature, the chunked payload's upload, the queue and the pick-up by
// the receiver, which the RPC timeout (2 s by default) bounds far below: a minute leaves room for
// large uploads and slow callers while keeping the replay window, and with it the replay cache,
// short.
const (
	InvocationLifetime  = 60 * time.Second
	InvocationClockSkew = 15 * time.Second
)

// DefaultReplayCacheSize is how many invocation ids a Server remembers unless told otherwise
// (about 100 bytes each).
const DefaultReplayCacheSize = 65536

// ErrReplayedInvocation: an invocation the server has already answered, or one older than the
// oldest it still remembers (so it cannot tell whether it answered it).
var ErrReplayedInvocation = errors.New("invocation replayed")

// invocationWindow checks the claims' times against now (seconds) and returns the second after
// which the invocation is no longer accepted: min(exp, iat + InvocationLifetime).
func invocationWindow(c *invocationClaims, now int64) (int64, error) {
	if c.IssuedAt <= 0 {
		return 0, errors.New("claims have no iat (issue time)")
	}
	if skew := int64(InvocationClockSkew / time.Second); c.IssuedAt > now+skew {
		return 0, fmt.Errorf("claims were issued at %s, more than %s after now (%s): are the clocks of sender and receiver apart?",
			stamp(c.IssuedAt), InvocationClockSkew, stamp(now))
	}
	exp := c.IssuedAt + int64(InvocationLifetime/time.Second)
	if c.Expires != 0 && c.Expires < exp {
		exp = c.Expires
	}
	if exp < now {
		return 0, fmt.Errorf("%w: invocation issued at %s expired at %s (now %s)", ErrExpired, stamp(c.IssuedAt), stamp(exp), stamp(now))
	}
	return exp, nil
}

// replayCache remembers the ids of the invocations a server accepted until they expire, at most
// max of them. Ids are kept in buckets by the second their invocation expires: a replay carries
// the same signed claims, so the same expiry, and is found in one bucket. When the cache is full
// the bucket that expires first is forgotten and floor rises to its second: from then on an
// invocation that expires at or before floor is refused, since a replay of it could no longer be
// told apart. A full cache refuses old invocations; it never lets a replay through.
type replayCache struct {
	mu      sync.Mutex
	max     int
	n       int
	buckets map[int64]map[string]struct{}
	seconds []int64 // the buckets' keys, ascending
	floor   int64
}

func newReplayCache(max int) *replayCache {
	if max <= 0 {
		max = DefaultReplayCacheSize
	}
	return &replayCache{max: max, buckets: map[int64]map[string]struct{}{}}
}

// admit records id, which expires at exp (seconds), or refuses it as a replay. now is in seconds.
func (c *replayCache) admit(id string, exp, now int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Buckets whose invocations have expired are refused by their times alone.
	for len(c.seconds) > 0 && c.seconds[0] < now {
		c.drop()
	}
	if exp <= c.floor {
		return fmt.Errorf("%w: invocation %s expires at %s, not after %s, the oldest expiry this server's replay cache of %d invocations still remembers; "+
			"it is refused because a replay of it could not be told apart (the server receives more invocations than it remembers in their lifetime)",
			ErrReplayedInvocation, id, stamp(exp), stamp(c.floor), c.max)
	}
	b := c.buckets[exp]
	if _, seen := b[id]; seen {
		return fmt.Errorf("%w: invocation %s was already answered by this server", ErrReplayedInvocation, id)
	}
	for c.n >= c.max && len(c.seconds) > 0 {
		c.floor = max(c.floor, c.seconds[0])
		c.drop()
	}
	if exp <= c.floor {
		return fmt.Errorf("%w: invocation %s expires at %s, not after %s: this server's replay cache of %d invocations is full with newer ones",
			ErrReplayedInvocation, id, stamp(exp), stamp(c.floor), c.max)
	}
	if b = c.buckets[exp]; b == nil {
		b = map[string]struct{}{}
		c.buckets[exp] = b
		i, _ := slices.BinarySearch(c.seconds, exp)
		c.seconds = slices.Insert(c.seconds, i, exp)
	}
	b[strings.Clone(id)] = struct{}{}
	c.n++
	return nil
}

// drop forgets the bucket that expires first.
func (c *replayCache) drop() {
	c.n -= len(c.buckets[c.seconds[0]])
	delete(c.buckets, c.seconds[0])
	c.seconds = c.seconds[1:]
}

// len is how many ids the cache holds.
func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
