package lattice_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// signedActorClaims signs actor claims for a fresh module key with a fresh account key.
func signedActorClaims(t *testing.T, meta lattice.ActorMetadata) *lattice.ActorClaims {
	t.Helper()
	c := &lattice.ActorClaims{Claims: lattice.Claims{Subject: latticetest.Key(t, lattice.PrefixModule).PublicKey()}, Actor: meta}
	_, err := lattice.SignJWT(c, latticetest.Key(t, lattice.PrefixAccount))
	require.NoError(t, err)
	require.NotEmpty(t, c.Token)
	return c
}

// signedProviderClaims signs provider claims for a fresh service key with a fresh account key.
func signedProviderClaims(t *testing.T, meta lattice.ProviderMetadata) *lattice.ProviderClaims {
	t.Helper()
	c := &lattice.ProviderClaims{Claims: lattice.Claims{Subject: latticetest.Key(t, lattice.PrefixService).PublicKey()}, Provider: meta}
	_, err := lattice.SignJWT(c, latticetest.Key(t, lattice.PrefixAccount))
	require.NoError(t, err)
	return c
}

// tamper gives a token a call alias its issuer never signed, keeping the signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(payload, &m)
	m["wascap"].(map[string]any)["call_alias"] = "wasmcloud/ponger"
	payload, _ = json.Marshal(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestStoreVerifiesClaimsEntries(t *testing.T) {
	ctx := context.Background()
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	st := openTestStore(t, js, "claimsverify")
	kv, err := js.KeyValue(ctx, st.Bucket())
	require.NoError(t, err)
	log := watch(t, st)

	good := signedActorClaims(t, lattice.ActorMetadata{Name: "ponger", CallAlias: "wasmcloud/ponger"})
	other := signedActorClaims(t, lattice.ActorMetadata{Name: "other"})
	hijacker := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	expired := &lattice.ActorClaims{Claims: lattice.Claims{Subject: hijacker, Expires: time.Now().Add(-time.Hour).Unix()},
		Actor: lattice.ActorMetadata{CallAlias: "wasmcloud/ponger"}}
	_, err = lattice.SignJWT(expired, latticetest.Key(t, lattice.PrefixAccount))
	require.NoError(t, err)
	provider := signedProviderClaims(t, lattice.ProviderMetadata{Name: "kv", CapID: "wasmcloud:keyvalue"})
	entry := func(fields map[string]string) string {
		b, err := json.Marshal(fields)
		require.NoError(t, err)
		return string(b)
	}

	tests := []struct {
		name, key, value string
		want             string // "" accepted, else in the error
	}{
		{"signed actor entry as hosts write it", lattice.ClaimsKey(good.Subject), entry(good.StoreEntry()), ""},
		{"signed provider entry", lattice.ClaimsKey(provider.Subject), entry(provider.StoreEntry()), ""},
		{"token only: the fields come from it", lattice.ClaimsKey(other.Subject), entry(map[string]string{"jwt": other.Token}), ""},
		{"wasmCloud 0.x entry without a token", lattice.ClaimsKey(hijacker),
			entry(map[string]string{"call_alias": "wasmcloud/ponger", "sub": hijacker, "name": "ponger"}), `no "jwt" token`},
		{"another key's token", lattice.ClaimsKey(hijacker), entry(withField(good.StoreEntry(), "sub", hijacker)), "its token is for " + good.Subject},
		{"a field the token does not say", lattice.ClaimsKey(other.Subject),
			entry(withField(other.StoreEntry(), "call_alias", "wasmcloud/ponger")), `field call_alias is "wasmcloud/ponger", but its token says ""`},
		{"a tampered token", lattice.ClaimsKey(other.Subject), entry(map[string]string{"jwt": tamper(other.Token)}), "signature"},
		{"an expired token", lattice.ClaimsKey(hijacker), entry(map[string]string{"jwt": expired.Token}), "expired"},
		{"a token that is not a jwt", lattice.ClaimsKey(hijacker), entry(map[string]string{"jwt": "not.a.jwt"}), "does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := kv.Put(ctx, tt.key, []byte(tt.value))
			require.NoError(t, err)
			var got lattice.StoreChange
			require.Eventually(t, func() bool {
				c, i := log.find(0, func(c lattice.StoreChange) bool { return c.Key == tt.key && string(c.Raw) == tt.value })
				got = c
				return i >= 0
			}, 10*time.Second, 5*time.Millisecond)
			require.Equal(t, lattice.KindClaims, got.Kind)
			if tt.want == "" {
				require.NoError(t, got.DecodeErr)
				require.Equal(t, strings.TrimPrefix(tt.key, lattice.ClaimsKeyPrefix), got.Claims["sub"])
				require.NotContains(t, got.Claims, lattice.ClaimsTokenField)
				return
			}
			require.ErrorIs(t, got.DecodeErr, lattice.ErrUnverifiedClaims)
			require.ErrorContains(t, got.DecodeErr, tt.key)
			require.ErrorContains(t, got.DecodeErr, tt.want)
			require.Nil(t, got.Claims, "nothing of an unverified entry is taken")
		})
	}

	// The last value of each key: the accepted entries are listed, the hijacker's is reported.
	claims, err := st.Claims(ctx)
	require.ErrorIs(t, err, lattice.ErrUnverifiedClaims)
	require.ErrorContains(t, err, lattice.ClaimsKey(hijacker))
	subs := map[string]map[string]string{}
	for _, c := range claims {
		subs[c["sub"]] = c
	}
	require.Len(t, subs, 2, "%v", subs)
	require.Equal(t, "wasmcloud/ponger", subs[good.Subject]["call_alias"])
	require.Equal(t, "wasmcloud:keyvalue", subs[provider.Subject]["contract_id"])
	require.NotContains(t, subs, other.Subject, "its last value is a tampered token")
}

func withField(m map[string]string, k, v string) map[string]string {
	m[k] = v
	return m
}
