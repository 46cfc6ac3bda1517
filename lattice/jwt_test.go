package lattice

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// claimsTestKey makes a fresh key of the given kind.
func claimsTestKey(t testing.TB, p KeyPrefix) *KeyPair {
	t.Helper()
	k, err := CreateKeyPair(p)
	require.NoError(t, err)
	return k
}

// rawToken signs an arbitrary header and payload, for tokens SignJWT would not make.
func rawToken(t testing.TB, key *KeyPair, header string, payload any) string {
	t.Helper()
	body, err := json.Marshal(payload)
	require.NoError(t, err)
	signing := b64url.EncodeToString([]byte(header)) + "." + b64url.EncodeToString(body)
	sig, err := key.Sign([]byte(signing))
	require.NoError(t, err)
	return signing + "." + b64url.EncodeToString(sig)
}

func TestSignJWTFillsStandardClaims(t *testing.T) {
	acct := claimsTestKey(t, PrefixAccount)
	mod := claimsTestKey(t, PrefixModule)
	c := &ActorClaims{Claims: Claims{Subject: mod.PublicKey()}, Actor: ActorMetadata{Name: "echo", Caps: []string{"wasmcloud:httpserver"}}}
	before := time.Now().Unix()
	tok, err := SignJWT(c, acct)
	require.NoError(t, err)

	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	require.Equal(t, `{"typ":"jwt","alg":"Ed25519"}`, string(header))
	require.NotContains(t, tok, "=")

	require.Equal(t, acct.PublicKey(), c.Issuer)
	require.GreaterOrEqual(t, c.IssuedAt, before)
	require.Len(t, c.ID, 22)
	require.Equal(t, WascapRevision, c.WascapRevision)

	var got ActorClaims
	require.NoError(t, ParseJWT(tok, &got, time.Now()))
	require.Equal(t, *c, got)

	// A second signature gets a different jti.
	c2 := &ActorClaims{Claims: Claims{Subject: mod.PublicKey()}}
	_, err = SignJWT(c2, acct)
	require.NoError(t, err)
	require.NotEqual(t, c.ID, c2.ID)
}

func TestSignJWTRejects(t *testing.T) {
	acct := claimsTestKey(t, PrefixAccount)
	other := claimsTestKey(t, PrefixAccount)
	pubOnly, err := keyPairFromPublicKey(acct.PublicKey())
	require.NoError(t, err)

	_, err = SignJWT(&Claims{Subject: "x"}, pubOnly)
	require.ErrorIs(t, err, ErrNoPrivateKey)

	_, err = SignJWT(&Claims{Subject: "x", Issuer: other.PublicKey()}, acct)
	require.ErrorContains(t, err, "is not the signing key")

	_, err = SignJWT((*ActorClaims)(nil), acct)
	require.ErrorContains(t, err, "no claims")

	_, err = SignJWT(&Claims{Subject: "x"}, nil)
	require.Error(t, err)
}

func TestParseJWT(t *testing.T) {
	acct := claimsTestKey(t, PrefixAccount)
	other := claimsTestKey(t, PrefixAccount)
	now := time.Unix(1_700_000_000, 0)
	sign := func(c *Claims) string {
		tok, err := SignJWT(c, acct)
		require.NoError(t, err)
		return tok
	}
	good := sign(&Claims{Subject: "sub"})
	parts := strings.Split(good, ".")
	tamperedPayload := parts[0] + "." + b64url.EncodeToString([]byte(`{"iss":"`+acct.PublicKey()+`","sub":"other"}`)) + "." + parts[2]
	otherSig := strings.Split(sign(&Claims{Subject: "sub2"}), ".")[2]
	payload := map[string]any{"iss": acct.PublicKey(), "sub": "s", "jti": "j", "iat": 1}

	for _, tc := range []struct {
		name  string
		token string
		want  error
		msg   string
	}{
		{"valid", good, nil, ""},
		{"valid with surrounding space", " " + good + "\n", nil, ""},
		{"alg in lower case", rawToken(t, acct, `{"typ":"JWT","alg":"ed25519"}`, payload), nil, ""},
		{"expires exactly now", sign(&Claims{Subject: "s", Expires: now.Unix()}), nil, ""},
		{"valid from now", sign(&Claims{Subject: "s", NotBefore: now.Unix()}), nil, ""},
		{"tampered payload", tamperedPayload, ErrBadSignature, "not signed by its issuer"},
		{"signature of another token", parts[0] + "." + parts[1] + "." + otherSig, ErrBadSignature, ""},
		{"signed by someone else", rawToken(t, other, jwtHeader, payload), ErrBadSignature, ""},
		{"empty signature", parts[0] + "." + parts[1] + ".", ErrBadSignature, ""},
		{"expired", sign(&Claims{Subject: "s", Expires: now.Unix() - 1}), ErrExpired, "expired at 2023-11-14T22:13:19Z"},
		{"not yet valid", sign(&Claims{Subject: "s", NotBefore: now.Unix() + 3600}), ErrNotYetValid, "valid from 2023-11-14T23:13:20Z"},
		{"empty", "", ErrMalformedToken, "empty token"},
		{"two parts", parts[0] + "." + parts[1], ErrMalformedToken, "3 dot-separated parts"},
		{"four parts", good + ".x", ErrMalformedToken, "got 4"},
		{"header not base64", "!!." + parts[1] + "." + parts[2], ErrMalformedToken, "header is not base64url"},
		{"payload not base64", parts[0] + ".!!." + parts[2], ErrMalformedToken, "payload is not base64url"},
		{"signature not base64", parts[0] + "." + parts[1] + ".!!", ErrMalformedToken, "signature is not base64url"},
		{"wrong alg", rawToken(t, acct, `{"typ":"jwt","alg":"HS256"}`, payload), ErrMalformedToken, `alg "HS256"`},
		{"no alg", rawToken(t, acct, `{"typ":"jwt"}`, payload), ErrMalformedToken, "no alg"},
		{"wrong typ", rawToken(t, acct, `{"typ":"jwe","alg":"Ed25519"}`, payload), ErrMalformedToken, "typ"},
		{"header not json", rawToken(t, acct, `nope`, payload), ErrMalformedToken, "header is not a JSON object"},
		{"payload not object", rawToken(t, acct, jwtHeader, []int{1}), ErrMalformedToken, "payload is not a JSON object"},
		{"no iss", rawToken(t, acct, jwtHeader, map[string]any{"sub": "s"}), ErrMalformedToken, "no iss"},
		{"no sub", rawToken(t, acct, jwtHeader, map[string]any{"iss": acct.PublicKey()}), ErrMalformedToken, "no sub"},
		{"iss not a key", rawToken(t, acct, jwtHeader, map[string]any{"iss": "bob", "sub": "s"}), ErrInvalidKey, "iss"},
		{"iss not a string", rawToken(t, acct, jwtHeader, map[string]any{"iss": 7, "sub": "s"}), ErrMalformedToken, "iss is not a string"},
		{"exp not a number", rawToken(t, acct, jwtHeader, map[string]any{"iss": acct.PublicKey(), "sub": "s", "exp": "soon"}), ErrMalformedToken, "exp is not a number"},
		{"claims of the wrong shape", rawToken(t, acct, jwtHeader, map[string]any{"iss": acct.PublicKey(), "sub": "s", "iat": "yesterday"}), ErrMalformedToken, "expected shape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Claims
			err := ParseJWT(tc.token, &c, now)
			if tc.want == nil {
				require.NoError(t, err)
				require.Equal(t, acct.PublicKey(), c.Issuer)
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

// rawPayloadToken signs a payload given as JSON text, for key orders and repeats a map cannot make.
func rawPayloadToken(key *KeyPair, payload string) string {
	signing := jwtHeaderB64 + "." + b64url.EncodeToString([]byte(payload))
	sig, _ := key.Sign([]byte(signing))
	return signing + "." + b64url.EncodeToString(sig)
}

// TestParseJWTCaseVariantKeys: json.Unmarshal matches keys regardless of case and keeps the last,
// so "iss" then "ISS" would decode to an issuer other than the key that signed. Refused.
func TestParseJWTCaseVariantKeys(t *testing.T) {
	signer := claimsTestKey(t, PrefixCluster)
	trusted := claimsTestKey(t, PrefixCluster)
	for _, tc := range []struct{ name, payload string }{
		{"ISS after iss", `{"iss":"` + signer.PublicKey() + `","ISS":"` + trusted.PublicKey() + `","sub":"s"}`},
		{"Sub after sub", `{"iss":"` + signer.PublicKey() + `","sub":"s","Sub":"other"}`},
		{"EXP after exp", `{"iss":"` + signer.PublicKey() + `","sub":"s","exp":99999999999,"EXP":5}`},
		{"Nbf alone", `{"iss":"` + signer.PublicKey() + `","sub":"s","Nbf":99999999999}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c invocationClaims
			err := ParseJWT(rawPayloadToken(signer, tc.payload), &c, time.Now())
			require.ErrorIs(t, err, ErrMalformedToken)
			require.ErrorContains(t, err, "another case")
			_, err = parseInvocationClaims(rawPayloadToken(signer, tc.payload), time.Now())
			require.ErrorIs(t, err, ErrMalformedToken)
		})
	}
	// Repeating a key in the same case is not ambiguous: both readers keep the last.
	tok := rawPayloadToken(signer, `{"iss":"`+trusted.PublicKey()+`","iss":"`+signer.PublicKey()+`","sub":"s"}`)
	var c Claims
	require.NoError(t, ParseJWT(tok, &c, time.Now()))
	require.Equal(t, signer.PublicKey(), c.Issuer)
}

func TestParseJWTFloatTimes(t *testing.T) {
	acct := claimsTestKey(t, PrefixAccount)
	tok := rawToken(t, acct, jwtHeader, map[string]any{"iss": acct.PublicKey(), "sub": "s", "exp": 1.5e9})
	require.ErrorIs(t, ParseJWT(tok, nil, time.Unix(1_600_000_000, 0)), ErrExpired)
	require.NoError(t, ParseJWT(tok, nil, time.Unix(1_400_000_000, 0)))

	// Times beyond int64 clamp instead of wrapping around.
	far := rawToken(t, acct, jwtHeader, map[string]any{"iss": acct.PublicKey(), "sub": "s", "exp": 1e300})
	require.NoError(t, ParseJWT(far, nil, time.Now()))
	early := rawToken(t, acct, jwtHeader, map[string]any{"iss": acct.PublicKey(), "sub": "s", "exp": -1e300})
	require.ErrorIs(t, ParseJWT(early, nil, time.Now()), ErrExpired)
}

func TestActorClaimsFlat2019Form(t *testing.T) {
	acct := claimsTestKey(t, PrefixAccount)
	mod := claimsTestKey(t, PrefixModule)
	tok := rawToken(t, acct, jwtHeader, map[string]any{
		"jti": "abc", "iat": 1_560_000_000, "iss": acct.PublicKey(), "sub": mod.PublicKey(),
		"caps": []string{"wascc:messaging", "wascc:keyvalue"}, "hash": "ABCDEF", "tags": []string{"demo"},
	})
	var c ActorClaims
	require.NoError(t, ParseJWT(tok, &c, time.Now()))
	require.Equal(t, ActorMetadata{Hash: "ABCDEF", Caps: []string{"wascc:messaging", "wascc:keyvalue"}, Tags: []string{"demo"}}, c.Actor)
	require.True(t, c.HasCap("wascc:keyvalue"))
	require.False(t, c.HasCap("wasmcloud:httpserver"))
	require.Equal(t, mod.PublicKey(), c.Subject)
}

func TestActorClaimsEmptyCaps(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		caps []string
	}{
		{"caps with one empty string", `{"wascap":{"hash":"H","caps":[""],"tags":[""]}}`, nil},
		{"caps with blanks among real ones", `{"wascap":{"hash":"H","caps":["","wasmcloud:keyvalue"," "]}}`, []string{"wasmcloud:keyvalue"}},
		{"flat caps with one empty string", `{"hash":"H","caps":[""]}`, nil},
		{"no caps", `{"wascap":{"hash":"H"}}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c ActorClaims
			require.NoError(t, json.Unmarshal([]byte(tc.json), &c))
			require.Equal(t, tc.caps, c.Actor.Caps)
			require.Empty(t, c.Actor.Tags)
			require.Equal(t, "H", c.Actor.Hash)
			require.False(t, c.HasCap(""))
			require.Equal(t, strings.Join(tc.caps, ","), c.StringMap()["caps"])
		})
	}
}

func TestActorClaimsNestedFormWinsOverFlat(t *testing.T) {
	var c ActorClaims
	require.NoError(t, json.Unmarshal([]byte(`{"hash":"FLAT","wascap":{"hash":"NESTED","caps":["a:b"]}}`), &c))
	require.Equal(t, "NESTED", c.Actor.Hash)
	require.Equal(t, []string{"a:b"}, c.Actor.Caps)
}

func TestActorClaimsMaps(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := &ActorClaims{
		Claims: Claims{Issuer: "AISSUER", Subject: "MSUBJECT", IssuedAt: 1_690_000_000, Expires: now.Unix() + 3*86400, NotBefore: now.Unix() - 7200},
		Actor: ActorMetadata{Name: "echo", Caps: []string{"wasmcloud:httpserver", "wasmcloud:keyvalue"},
			Tags: []string{"a", "b"}, Rev: 4, Ver: "0.3.1", CallAlias: "echo_alias"},
	}
	require.Equal(t, map[string]string{
		"call_alias": "echo_alias", "iss": "AISSUER", "name": "echo",
		"caps": "wasmcloud:httpserver,wasmcloud:keyvalue", "rev": "4", "tags": "a,b",
		"version": "0.3.1", "sub": "MSUBJECT", "contract_id": "",
	}, c.StringMap())
	require.Equal(t, map[string]any{
		"call_alias": "echo_alias", "caps": []string{"wasmcloud:httpserver", "wasmcloud:keyvalue"},
		"expires_human": "in 3 days", "issuer": "AISSUER", "name": "echo",
		"not_before_human": "2 hours ago", "revision": 4, "tags": []string{"a", "b"}, "version": "0.3.1",
	}, c.eventMap(now))

	// Without rev, upstream hosts report iat as the revision; unset times read never/immediately.
	bare := &ActorClaims{Claims: Claims{Issuer: "A", Subject: "M", IssuedAt: 1_690_000_000}}
	require.Equal(t, "1690000000", bare.StringMap()["rev"])
	ev := bare.eventMap(now)
	require.Equal(t, "never", ev["expires_human"])
	require.Equal(t, "immediately", ev["not_before_human"])
	require.Equal(t, []string{}, ev["caps"])
	require.Equal(t, []string{}, ev["tags"])
	out, err := json.Marshal(ev)
	require.NoError(t, err)
	require.NotContains(t, string(out), "null")
}

func TestProviderClaimsMaps(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := &ProviderClaims{
		Claims:   Claims{Issuer: "AISSUER", Subject: "VSUBJECT", IssuedAt: 5},
		Provider: ProviderMetadata{Name: "HTTP Server", CapID: "wasmcloud:httpserver", Vendor: "wasmCloud", Rev: 0, Ver: "0.14.0"},
	}
	require.Equal(t, map[string]string{
		"call_alias": "", "iss": "AISSUER", "name": "HTTP Server", "caps": "", "rev": "5", "tags": "",
		"version": "0.14.0", "sub": "VSUBJECT", "contract_id": "wasmcloud:httpserver",
	}, c.StringMap())
	require.Equal(t, map[string]any{
		"expires_human": "never", "issuer": "AISSUER", "name": "HTTP Server",
		"not_before_human": "immediately", "tags": []string{}, "version": "0.14.0",
	}, c.eventMap(now))
}

func TestHumanStamp(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		delta int64
		want  string
	}{
		{5, "now"},
		{-10, "now"},
		{30, "in 30 seconds"},
		{-50, "a minute ago"},
		{600, "in 10 minutes"},
		{-3000, "an hour ago"},
		{5 * 3600, "in 5 hours"},
		{-23 * 3600, "a day ago"},
		{3 * 86400, "in 3 days"},
		{8 * 86400, "in a week"},
		{-20 * 86400, "2 weeks ago"},
		{35 * 86400, "in a month"},
		{-100 * 86400, "3 months ago"},
		{400 * 86400, "in a year"},
		{-800 * 86400, "2 years ago"},
	} {
		require.Equal(t, tc.want, humanStamp(now.Unix()+tc.delta, now, "never"), "delta %d", tc.delta)
	}
	require.Equal(t, "never", humanStamp(0, now, "never"))
}

func FuzzParseJWT(f *testing.F) {
	acct := claimsTestKey(f, PrefixAccount)
	mod := claimsTestKey(f, PrefixModule)
	good, err := SignJWT(&ActorClaims{Claims: Claims{Subject: mod.PublicKey()}, Actor: ActorMetadata{Hash: "H", Caps: []string{""}}}, acct)
	require.NoError(f, err)
	flat := rawToken(f, acct, jwtHeader, map[string]any{"iss": acct.PublicKey(), "sub": mod.PublicKey(), "caps": []string{"x"}, "hash": "H"})
	for _, seed := range []string{
		good, flat, good[:len(good)/2], "a.b.c", "..", "", "eyJ9.eyJ9.", strings.Replace(good, ".", "..", 1),
	} {
		f.Add(seed)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, token string) {
		var ac ActorClaims
		if err := ParseJWT(token, &ac, now); err == nil {
			// Whatever verified must have a key as issuer and re-encode.
			_, _, kerr := decodePublicKey(ac.Issuer)
			require.NoError(t, kerr)
			_, jerr := json.Marshal(&ac)
			require.NoError(t, jerr)
		}
		var m map[string]any
		_ = ParseJWT(token, &m, now)
		var pc ProviderClaims
		_ = ParseJWT(token, &pc, now)
	})
}
