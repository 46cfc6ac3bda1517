package lattice

import (
	"testing"
	"time"
	"unsafe"
)

func benchInvocationClaims(b *testing.B) (*KeyPair, string, string, string) {
	b.Helper()
	cluster := claimsTestKey(b, PrefixCluster)
	actor := claimsTestKey(b, PrefixModule)
	origin := Entity{PublicKey: claimsTestKey(b, PrefixService).PublicKey(), ContractID: "wasmcloud:httpserver", LinkName: "default"}.URL()
	target := Entity{PublicKey: actor.PublicKey()}.URL() + "/HttpServer.HandleRequest"
	return cluster, origin, target, invocationHash(origin, target, "HttpServer.HandleRequest", []byte("hello"))
}

const benchInvocationID = "5f0d6d4c-3f0e-4c5e-9a43-8a7f0b1d2e3c"

// signInvocationClaimsJSON is signInvocationClaims as it was before the one-pass writer: the
// baseline of the benchmark, and the reference of the tests.
func signInvocationClaimsJSON(cluster *KeyPair, id, originURL, targetURL, hash string) (string, error) {
	return SignJWT(&invocationClaims{
		Claims:     Claims{Subject: id},
		Invocation: invocationMetadata{TargetURL: targetURL, OriginURL: originURL, Hash: hash},
	}, cluster)
}

// parseInvocationClaimsStdlib is parseInvocationClaims as it was before the fast path and the
// tables: the baseline of the benchmark.
func parseInvocationClaimsStdlib(token string, now time.Time) (*invocationClaims, error) {
	t, err := decodeJWT(token)
	if err != nil {
		return nil, err
	}
	key, err := keyPairFromPublicKey(t.iss)
	if err != nil {
		return nil, err
	}
	if err := key.Verify([]byte(t.signing), t.sig); err != nil {
		return nil, err
	}
	if err := checkTimes(t.exp, t.nbf, now); err != nil {
		return nil, err
	}
	var c invocationClaims
	if err := t.decodeInto(&c); err != nil {
		return nil, err
	}
	if err := CheckPublicKey(PrefixCluster, c.Issuer); err != nil {
		return nil, err
	}
	return &c, nil
}

func BenchmarkSignInvocationClaims(b *testing.B) {
	cluster, origin, target, hash := benchInvocationClaims(b)
	for _, bc := range []struct {
		name string
		sign func(*KeyPair, string, string, string, string) (string, error)
	}{{"json", signInvocationClaimsJSON}, {"onepass", signInvocationClaims}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.sign(cluster, benchInvocationID, origin, target, hash); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseInvocationClaims(b *testing.B) {
	cluster, origin, target, hash := benchInvocationClaims(b)
	tok, err := signInvocationClaims(cluster, benchInvocationID, origin, target, hash)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	clusterTables.trust([]string{cluster.PublicKey()}) // as Invocation.Validate does for its issuers
	for _, bc := range []struct {
		name  string
		parse func(string, time.Time) (*invocationClaims, error)
	}{
		{"stdlib", parseInvocationClaimsStdlib}, // before: ParseJWT with crypto/ed25519
		{"general", parseInvocationGeneral},     // ParseJWT with the cluster key's table
		{"fast", parseInvocationClaims},         // the fast path
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.parse(tok, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInvocationClaimsParts splits the fast path's cost.
func BenchmarkInvocationClaimsParts(b *testing.B) {
	cluster, origin, target, hash := benchInvocationClaims(b)
	tok, err := signInvocationClaims(cluster, benchInvocationID, origin, target, hash)
	if err != nil {
		b.Fatal(err)
	}
	var scratch [512]byte
	payload, _ := appendInvocationPayload(scratch[:0], cluster, 1, 61, benchInvocationID, origin, target, hash)
	b.Run("payload", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = appendInvocationPayload(scratch[:0], cluster, 1, 61, benchInvocationID, origin, target, hash)
		}
	})
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			_, _ = cluster.Sign(payload)
		}
	})
	stringOf := func(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c invocationClaims
			if !scanInvocationPayload(stringOf(payload), &c) {
				b.Fatal("not scanned")
			}
		}
	})
	b.Logf("token of %d bytes, payload of %d", len(tok), len(payload))
}
