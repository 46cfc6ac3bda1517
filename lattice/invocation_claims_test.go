package lattice

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInvocationHash(t *testing.T) {
	origin := "wasmbus://MACTOR"
	target := "wasmbus://wasmcloud/keyvalue/default/VPROVIDER/KeyValue.Get"
	op := "KeyValue.Get"
	msg := []byte{0xa3, 'k', 'e', 'y'}
	sum := sha256.Sum256([]byte(origin + target + op + string(msg)))
	want := strings.ToUpper(hex.EncodeToString(sum[:]))
	require.Equal(t, want, invocationHash(origin, target, op, msg))
	// Order matters: origin before target.
	require.NotEqual(t, want, invocationHash(target, origin, op, msg))
	require.Len(t, invocationHash("", "", "", nil), 64)
}

func TestInvocationClaims(t *testing.T) {
	cluster := claimsTestKey(t, PrefixCluster)
	origin, target := "wasmbus://MACTOR", "wasmbus://MOTHER/Echo.Say"
	hash := invocationHash(origin, target, "Echo.Say", []byte("hi"))

	tok, err := signInvocationClaims(cluster, "inv-1", origin, target, hash)
	require.NoError(t, err)
	c, err := parseInvocationClaims(tok, time.Now())
	require.NoError(t, err)
	require.Equal(t, cluster.PublicKey(), c.Issuer)
	require.Equal(t, "inv-1", c.Subject)
	require.Equal(t, invocationMetadata{TargetURL: target, OriginURL: origin, Hash: hash}, c.Invocation)
	require.NotEmpty(t, c.ID)
	require.NotZero(t, c.IssuedAt)

	t.Run("sign with a non-cluster key", func(t *testing.T) {
		_, err := signInvocationClaims(claimsTestKey(t, PrefixServer), "inv", origin, target, hash)
		require.ErrorIs(t, err, ErrWrongKeyKind)
	})
	t.Run("sign without an id", func(t *testing.T) {
		_, err := signInvocationClaims(cluster, "", origin, target, hash)
		require.ErrorContains(t, err, "empty invocation id")
	})
	t.Run("issued by a non-cluster key", func(t *testing.T) {
		acct := claimsTestKey(t, PrefixAccount)
		forged, err := SignJWT(&invocationClaims{Claims: Claims{Subject: "inv"}, Invocation: c.Invocation}, acct)
		require.NoError(t, err)
		_, err = parseInvocationClaims(forged, time.Now())
		require.ErrorIs(t, err, ErrWrongKeyKind)
		require.ErrorContains(t, err, "issuer")
	})
	t.Run("tampered", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		other, err := signInvocationClaims(cluster, "inv-2", origin, target, hash)
		require.NoError(t, err)
		forged := parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2]
		_, err = parseInvocationClaims(forged, time.Now())
		require.ErrorIs(t, err, ErrBadSignature)
	})
	t.Run("garbage", func(t *testing.T) {
		_, err := parseInvocationClaims("", time.Now())
		require.ErrorIs(t, err, ErrMalformedToken)
	})
}
