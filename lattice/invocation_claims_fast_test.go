package lattice

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// payloadOf returns the decoded payload of a token.
func payloadOf(t testing.TB, tok string) []byte {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	p, err := b64url.DecodeString(parts[1])
	require.NoError(t, err)
	return p
}

// awkwardStrings are URLs and ids as the network may send them.
var awkwardStrings = []string{
	"", "plain", "wasmbus://MABC/Echo.Say", `quote " and \ backslash`, "<script>&amp;</script>",
	"tab\tnewline\ncr\rbs\bff\f", "\x00\x01\x1f\x7f", "é ü 日本語 😀", "\u2028\u2029", "bad \xff\xfe utf8 \xc3",
	"\xed\xa0\x80 surrogate", "\\u0041", "/slash/", strings.Repeat("x", 600),
}

// viaJSON is s after a json.Marshal and json.Unmarshal (invalid UTF-8 becomes U+FFFD).
func viaJSON(t testing.TB, s string) string {
	b, err := json.Marshal(s)
	require.NoError(t, err)
	var out string
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range awkwardStrings {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendJSONString(nil, s)), "%q", s)
	}
}

func TestSignInvocationClaimsShape(t *testing.T) {
	cluster := claimsTestKey(t, PrefixCluster)
	now := time.Now()
	for _, s := range awkwardStrings {
		id, origin, target, hash := "inv-"+s, "wasmbus://"+s, "wasmbus://M/"+s, s+"HASH"
		if s == "" {
			id = "inv"
		}
		tok, err := signInvocationClaims(cluster, id, origin, target, hash)
		require.NoError(t, err)

		// The general parser takes it.
		var c invocationClaims
		require.NoError(t, ParseJWT(tok, &c, now), "%q", s)
		require.Equal(t, cluster.PublicKey(), c.Issuer)
		require.Equal(t, viaJSON(t, id), c.Subject, "%q", s)
		require.Equal(t, viaJSON(t, target), c.Invocation.TargetURL)
		require.Equal(t, WascapRevision, c.WascapRevision)
		require.Len(t, c.ID, tokenIDLen)
		require.InDelta(t, now.Unix(), c.IssuedAt, 5)
		require.Equal(t, jwtHeaderB64, strings.Split(tok, ".")[0])

		// The payload is json.Marshal's bytes for the claims SignJWT would have signed.
		signed := c.Claims
		signed.Subject = id
		want, err := json.Marshal(&invocationClaims{Claims: signed, Invocation: invocationMetadata{TargetURL: target, OriginURL: origin, Hash: hash}})
		require.NoError(t, err)
		require.Equal(t, string(want), string(payloadOf(t, tok)))

		// Both parsers agree on it.
		fast, err := parseInvocationClaims(tok, now)
		require.NoError(t, err)
		require.Equal(t, &c, fast)
	}
}

func TestSignJWTTokensTakeTheFastPath(t *testing.T) {
	cluster := claimsTestKey(t, PrefixCluster)
	now := time.Now()
	for _, claims := range []*invocationClaims{
		{Claims: Claims{Subject: "inv"}, Invocation: invocationMetadata{TargetURL: "t", OriginURL: "o", Hash: "h"}},
		{Claims: Claims{Subject: "inv", Expires: now.Unix() + 60, NotBefore: now.Unix() - 60}, Invocation: invocationMetadata{Hash: "h"}},
		{Claims: Claims{Subject: "日本", ID: "x", IssuedAt: -5, WascapRevision: 9}},
	} {
		tok, err := SignJWT(claims, cluster)
		require.NoError(t, err)
		got, err, ok := parseInvocationFast(tok, now)
		require.True(t, ok, "SignJWT's token did not take the fast path: %s", payloadOf(t, tok))
		require.NoError(t, err)
		require.Equal(t, claims, got)
	}
	// Upstream wascap's field order (serde: exp, jti, iat, iss, sub, nbf, wascap, wascap_revision).
	wascap := `{"exp":99999999999,"jti":"j","iat":1,"iss":"` + cluster.PublicKey() + `","sub":"inv","nbf":1,"wascap":{"target_url":"t","origin_url":"o","hash":"h"},"wascap_revision":3}`
	got, err, ok := parseInvocationFast(rawPayloadToken(cluster, wascap), now)
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, "t", got.Invocation.TargetURL)
	require.EqualValues(t, 99999999999, got.Expires)
}

// TestParseInvocationClaimsPathsAgree: for tokens of every kind, the fast path either passes
// (and the general path would have said the same) or gives the general path's answer.
func TestParseInvocationClaimsPathsAgree(t *testing.T) {
	cluster := claimsTestKey(t, PrefixCluster)
	acct := claimsTestKey(t, PrefixAccount)
	now := time.Unix(1_700_000_000, 0)
	good, err := signInvocationClaims(cluster, "inv", "o", "t", "h")
	require.NoError(t, err)
	parts := strings.Split(good, ".")
	iss := cluster.PublicKey()
	tokens := map[string]string{
		"good":               good,
		"padded":             good + "==",
		"spaces":             "  " + good + "\n",
		"bad signature":      parts[0] + "." + parts[1] + "." + strings.Split(rawPayloadToken(cluster, `{}`), ".")[2],
		"signature too long": good + "AA",
		"four parts":         good + ".x",
		"other header":       rawToken(t, cluster, `{"alg":"ed25519"}`, map[string]any{"iss": iss, "sub": "s"}),
		"expired":            rawPayloadToken(cluster, `{"iss":"`+iss+`","sub":"s","exp":1}`),
		"not yet valid":      rawPayloadToken(cluster, `{"iss":"`+iss+`","sub":"s","nbf":99999999999}`),
		"account issuer":     rawPayloadToken(acct, `{"iss":"`+acct.PublicKey()+`","sub":"s"}`),
		"escaped string":     rawPayloadToken(cluster, `{"iss":"`+iss+`","sub":"a\"b"}`),
		"case variant":       rawPayloadToken(cluster, `{"iss":"`+iss+`","Iss":"x","sub":"s"}`),
		"float iat":          rawPayloadToken(cluster, `{"iss":"`+iss+`","sub":"s","iat":1.5}`),
		"no sub":             rawPayloadToken(cluster, `{"iss":"`+iss+`"}`),
		"trailing":           rawPayloadToken(cluster, `{"iss":"`+iss+`","sub":"s"} x`),
		"whitespace":         rawPayloadToken(cluster, `{ "iss":"`+iss+`","sub":"s"}`),
		"duplicate":          rawPayloadToken(cluster, `{"iss":"`+iss+`","sub":"s","sub":"t"}`),
		"iss not a key":      rawPayloadToken(cluster, `{"iss":"Cnope","sub":"s"}`),
		"empty":              "",
	}
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			wantC, wantErr := parseInvocationGeneral(tok, now)
			gotC, gotErr := parseInvocationClaims(tok, now)
			require.Equal(t, wantC, gotC)
			if wantErr == nil {
				require.NoError(t, gotErr)
				return
			}
			require.EqualError(t, gotErr, wantErr.Error())
		})
	}
	_, err = parseInvocationClaims(tokens["bad signature"], now)
	require.ErrorIs(t, err, ErrBadSignature)
	_, err = parseInvocationClaims(tokens["expired"], now)
	require.ErrorIs(t, err, ErrExpired)
	_, err = parseInvocationClaims(tokens["not yet valid"], now)
	require.ErrorIs(t, err, ErrNotYetValid)
	_, err = parseInvocationClaims(tokens["account issuer"], now)
	require.ErrorIs(t, err, ErrWrongKeyKind)
}

func TestTableCache(t *testing.T) {
	c := tableCache{max: 2}
	keys := []*KeyPair{claimsTestKey(t, PrefixCluster), claimsTestKey(t, PrefixCluster), claimsTestKey(t, PrefixCluster)}
	msg := []byte("m")
	// Keys nobody trusts get no table: a sender cannot fill the cache with keys it made up.
	untrusted := claimsTestKey(t, PrefixCluster)
	usig, _ := untrusted.Sign(msg)
	require.True(t, c.verify(untrusted.PublicKey(), untrusted.pub, msg, usig))
	require.Nil(t, c.get(untrusted.PublicKey()))
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() { c.trust([]string{k.PublicKey(), claimsTestKey(t, PrefixModule).PublicKey()}) })
	}
	wg.Wait()
	for range 4 {
		for _, k := range keys {
			wg.Go(func() {
				sig, err := k.Sign(msg)
				require.NoError(t, err)
				require.True(t, c.verify(k.PublicKey(), k.pub, msg, sig))
				require.False(t, c.verify(k.PublicKey(), k.pub, []byte("other"), sig))
				require.False(t, c.verify(k.PublicKey(), k.pub, msg, sig[:63]))
			})
		}
	}
	wg.Wait()
	require.Len(t, c.keys, 2, "the cache holds no more than its bound")
	// A key beyond the bound still verifies, with crypto/ed25519.
	k := claimsTestKey(t, PrefixCluster)
	sig, _ := k.Sign(msg)
	require.True(t, c.verify(k.PublicKey(), k.pub, msg, sig))
	require.Nil(t, c.get(k.PublicKey()))
	// Bytes that are not a point verify nothing, as with crypto/ed25519.
	notPoint := make([]byte, 32)
	notPoint[0] = 2
	c2 := tableCache{max: 1}
	require.False(t, c2.verify("X", notPoint, msg, make([]byte, 64)))
}

// FuzzParseInvocationClaims compares the fast path with the general path on tokens signed by a
// cluster key over fuzzed payloads (mode 0), the same with the signature or the header changed
// (mode 1, 2), and on fuzzed whole tokens (mode 3).
func FuzzParseInvocationClaims(f *testing.F) {
	// A fresh key each run: the seeds below name it, inputs kept from other runs test the
	// paths for a key that did not sign.
	cluster, err := CreateKeyPair(PrefixCluster)
	if err != nil {
		f.Fatal(err)
	}
	iss := cluster.PublicKey()
	good, _ := signInvocationClaims(cluster, "inv", "wasmbus://o", "wasmbus://t/Op", "H")
	for _, p := range []string{
		string(payloadOfToken(good)),
		`{"exp":99999999999,"jti":"j","iat":1,"iss":"` + iss + `","sub":"inv","nbf":1,"wascap":{"target_url":"t","origin_url":"o","hash":"h"},"wascap_revision":3}`,
		`{"iss":"` + iss + `","sub":"s","exp":-0,"iat":-9223372036854775808}`,
		`{"iss":"` + iss + `","sub":"s","iat":9223372036854775808}`,
		`{"iss":"` + iss + `","sub":"s","iat":01}`,
		`{"iss":"` + iss + `","sub":"\u00e9","ISS":"x"}`,
		`{"iss":"` + iss + `","sub":"é\xff"}`,
		`{"iss":"` + iss + `","sub":"s","wascap":{"hash":"a","hash":"b"}}`,
		`{"iss":"` + iss + `","sub":"s","wascap":null}`,
		`{"iss":"` + iss + `","sub":"s","wascap_revision":1e3}`,
		`{}`, `[]`, `null`, ``,
	} {
		f.Add(byte(0), []byte(p))
	}
	f.Add(byte(3), []byte(good))
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		var tok string
		switch mode % 4 {
		case 0:
			tok = rawPayloadToken(cluster, string(data))
		case 1:
			tok = rawPayloadToken(cluster, string(data))
			tok = tok[:len(tok)-3] + "AAA"
		case 2:
			signing := b64url.EncodeToString([]byte(`{"alg":"Ed25519"}`)) + "." + b64url.EncodeToString(data)
			sig, _ := cluster.Sign([]byte(signing))
			tok = signing + "." + b64url.EncodeToString(sig)
		case 3:
			tok = string(data)
		}
		wantC, wantErr := parseInvocationGeneral(tok, now)
		gotC, gotErr := parseInvocationClaims(tok, now)
		if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
			t.Fatalf("errors differ on %q:\nfast    %v\ngeneral %v", tok, gotErr, wantErr)
		}
		if wantErr == nil && *wantC != *gotC {
			t.Fatalf("claims differ on %q:\nfast    %+v\ngeneral %+v", tok, gotC, wantC)
		}
		var c invocationClaims
		if scanInvocationPayload(string(data), &c) {
			// What the scanner accepts is JSON that decodes to the same claims.
			var ref invocationClaims
			if err := json.Unmarshal(data, &ref); err != nil || ref != c {
				t.Fatalf("scanner accepted %q as %+v, json.Unmarshal: %+v, %v", data, c, ref, err)
			}
		}
	})
}

// payloadOfToken is payloadOf for a fuzz seed (no testing.TB yet).
func payloadOfToken(tok string) []byte {
	parts := strings.Split(tok, ".")
	p, _ := b64url.DecodeString(parts[1])
	return p
}
