package lattice

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReplayCache(t *testing.T) {
	const now = 1_000
	c := newReplayCache(3)
	require.NoError(t, c.admit("a", now+60, now))
	err := c.admit("a", now+60, now)
	require.ErrorIs(t, err, ErrReplayedInvocation)
	require.ErrorContains(t, err, "invocation a was already answered by this server")
	require.NoError(t, c.admit("b", now+61, now))
	require.NoError(t, c.admit("c", now+62, now))
	require.Equal(t, 3, c.len())

	// Full: the bucket that expires first is forgotten, and what expires at or before it refused.
	require.NoError(t, c.admit("d", now+63, now))
	require.Equal(t, 3, c.len())
	err = c.admit("a", now+60, now)
	require.ErrorIs(t, err, ErrReplayedInvocation, "a forgotten invocation is still refused")
	require.ErrorContains(t, err, "a replay of it could not be told apart")
	err = c.admit("e", now+60, now)
	require.ErrorIs(t, err, ErrReplayedInvocation, "so is a new one as old as the forgotten")
	for _, id := range []string{"b", "c", "d"} {
		require.ErrorIs(t, c.admit(id, now+int64(61+int(id[0]-'b')), now), ErrReplayedInvocation, id)
	}
	// An invocation in the oldest bucket when the cache is full forgets that bucket and is refused.
	err = c.admit("f", now+61, now)
	require.ErrorIs(t, err, ErrReplayedInvocation)
	require.ErrorContains(t, err, "full with newer ones")
	require.Equal(t, 2, c.len())
	require.ErrorIs(t, c.admit("b", now+61, now), ErrReplayedInvocation)

	// Expired buckets go: their invocations are refused by their times.
	require.NoError(t, c.admit("g", now+200, now+100))
	require.Equal(t, 1, c.len())
}

func TestReplayCacheBoundedUnderLoad(t *testing.T) {
	c := newReplayCache(1000)
	now := int64(5_000)
	for i := range 10_000 {
		if i%500 == 0 {
			now++ // 500 invocations a second
		}
		require.NoError(t, c.admit(fmt.Sprint(i), now+60, now), "invocation %d", i)
		require.LessOrEqual(t, c.len(), 1000)
	}
	// What the cache spans (two seconds of this load) is still refused as a replay.
	require.ErrorIs(t, c.admit("9999", now+60, now), ErrReplayedInvocation)
	require.ErrorIs(t, c.admit("0", now-20+60, now), ErrReplayedInvocation)
}

func TestInvocationWindow(t *testing.T) {
	now := time.Now().Unix()
	life := int64(InvocationLifetime / time.Second)
	skew := int64(InvocationClockSkew / time.Second)
	for _, tc := range []struct {
		name     string
		iat, exp int64
		want     int64
		err      string
	}{
		{"signed now", now, now + life, now + life, ""},
		{"0.x: no exp, a window from iat", now - 10, 0, now - 10 + life, ""},
		{"exp later than the lifetime is cut to it", now, now + 3600, now + life, ""},
		{"shorter exp holds", now, now + 5, now + 5, ""},
		{"clock of the sender ahead within the allowance", now + skew, 0, now + skew + life, ""},
		{"clock of the sender too far ahead", now + skew + 1, 0, 0, "more than 15s after now"},
		{"0.x: no exp, too old", now - life - 1, 0, 0, "expired at"},
		{"no iat", 0, now + 10, 0, "no iat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := invocationWindow(&invocationClaims{Claims: Claims{IssuedAt: tc.iat, Expires: tc.exp}}, now)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// Invocations carry an exp a lifetime after their iat; one signed as wasmCloud 0.x signs them
// (no exp) is accepted within a lifetime from its iat.
func TestInvocationExpiry(t *testing.T) {
	cluster := claimsTestKey(t, PrefixCluster)
	issuers := []string{cluster.PublicKey()}
	target := Entity{PublicKey: claimsTestKey(t, PrefixModule).PublicKey()}
	origin := Entity{PublicKey: claimsTestKey(t, PrefixModule).PublicKey()}
	inv, err := NewInvocation(cluster, "N", origin, target, "Echo.Say", []byte("hi"))
	require.NoError(t, err)
	c, err := parseInvocationClaims(inv.EncodedClaims, time.Now())
	require.NoError(t, err)
	require.Equal(t, c.IssuedAt+int64(InvocationLifetime/time.Second), c.Expires)
	require.NoError(t, inv.Validate(issuers, time.Now()))
	err = inv.Validate(issuers, time.Now().Add(InvocationLifetime+2*time.Second))
	require.ErrorIs(t, err, ErrForgedInvocation)
	require.ErrorIs(t, err, ErrExpired)

	old := *inv
	old.EncodedClaims, err = SignJWT(&invocationClaims{
		Claims:     Claims{Subject: inv.ID},
		Invocation: invocationMetadata{TargetURL: inv.TargetURL(), OriginURL: origin.URL(), Hash: invocationHash(origin.URL(), inv.TargetURL(), inv.Operation, inv.Msg)},
	}, cluster)
	require.NoError(t, err)
	require.NoError(t, old.Validate(issuers, time.Now()))
	err = old.Validate(issuers, time.Now().Add(InvocationLifetime+2*time.Second))
	require.ErrorIs(t, err, ErrExpired)
	require.ErrorContains(t, err, "expired at")

	// A chunked invocation is checked once its payload is read.
	big := make([]byte, MaxInlinePayload+1)
	inv, err = NewInvocation(cluster, "N", origin, target, "Echo.Say", big)
	require.NoError(t, err)
	size := uint64(len(big))
	inv.ContentLength = &size
	inv.Msg = nil
	require.ErrorContains(t, inv.Validate(issuers, time.Now()), "carries no payload")
	inv.Msg = big
	require.NoError(t, inv.Validate(issuers, time.Now()))
	inv.Msg = append([]byte{1}, big[1:]...)
	err = inv.Validate(issuers, time.Now())
	require.ErrorIs(t, err, ErrForgedInvocation)
	require.ErrorContains(t, err, "chunked payload, as read from the object store, does not match the claims' hash")
}
