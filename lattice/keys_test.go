package lattice

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/require"
)

func TestKeysCompatibleWithNkeys(t *testing.T) {
	for _, tc := range []struct {
		prefix KeyPrefix
		letter byte
	}{
		{PrefixAccount, 'A'},
		{PrefixCluster, 'C'},
		{PrefixServer, 'N'},
		{PrefixOperator, 'O'},
		{PrefixUser, 'U'},
	} {
		t.Run(tc.prefix.String(), func(t *testing.T) {
			// Ours → nkeys.
			ours, err := CreateKeyPair(tc.prefix)
			require.NoError(t, err)
			seed, err := ours.Seed()
			require.NoError(t, err)
			require.Equal(t, "S"+string(tc.letter), seed[:2])
			theirs, err := nkeys.FromSeed([]byte(seed))
			require.NoError(t, err)
			pub, err := theirs.PublicKey()
			require.NoError(t, err)
			require.Equal(t, ours.PublicKey(), pub)
			require.Equal(t, tc.letter, pub[0])

			// nkeys → ours, and signatures cross-verify.
			sig, err := theirs.Sign([]byte("hello"))
			require.NoError(t, err)
			require.NoError(t, ours.Verify([]byte("hello"), sig))
			sig, err = ours.Sign([]byte("world"))
			require.NoError(t, err)
			require.NoError(t, theirs.Verify([]byte("world"), sig))

			back, err := KeyPairFromSeed(seed)
			require.NoError(t, err)
			require.Equal(t, ours.PublicKey(), back.PublicKey())
		})
	}
}

func TestKeysModuleAndServiceRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		prefix KeyPrefix
		letter string
	}{
		{PrefixModule, "M"},
		{PrefixService, "V"},
	} {
		t.Run(tc.prefix.String(), func(t *testing.T) {
			k, err := CreateKeyPair(tc.prefix)
			require.NoError(t, err)
			pub := k.PublicKey()
			require.Len(t, pub, 56)
			require.Equal(t, tc.letter, pub[:1])
			seed, err := k.Seed()
			require.NoError(t, err)
			require.Len(t, seed, 58)
			require.Equal(t, "S"+tc.letter, seed[:2])

			fromSeed, err := KeyPairFromSeed(seed)
			require.NoError(t, err)
			require.Equal(t, pub, fromSeed.PublicKey())
			require.Equal(t, tc.prefix, fromSeed.Prefix())

			fromPub, err := keyPairFromPublicKey(pub)
			require.NoError(t, err)
			require.False(t, fromPub.HasPrivateKey())
			sig, err := fromSeed.Sign([]byte("x"))
			require.NoError(t, err)
			require.NoError(t, fromPub.Verify([]byte("x"), sig))
			require.ErrorIs(t, fromPub.Verify([]byte("y"), sig), ErrBadSignature)
			_, err = fromPub.Sign([]byte("x"))
			require.ErrorIs(t, err, ErrNoPrivateKey)

			require.NoError(t, CheckPublicKey(tc.prefix, pub))
			require.ErrorIs(t, CheckPublicKey(PrefixAccount, pub), ErrWrongKeyKind)

			// nkeys itself does not know these prefixes, which is why we encode them.
			_, err = nkeys.FromPublicKey(pub)
			require.Error(t, err)
		})
	}
}

func TestKeysBadChecksum(t *testing.T) {
	k, err := CreateKeyPair(PrefixModule)
	require.NoError(t, err)
	seed, err := k.Seed()
	require.NoError(t, err)

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	pub := k.PublicKey()
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"last char", flip(pub, len(pub)-1)},
		{"middle char", flip(pub, 20)},
		{"truncated", pub[:40]},
		{"not base32", pub[:55] + "!"},
		{"empty", ""},
	} {
		t.Run("public "+tc.name, func(t *testing.T) {
			_, err := keyPairFromPublicKey(tc.in)
			require.ErrorIs(t, err, ErrInvalidKey)
		})
	}
	t.Run("seed", func(t *testing.T) {
		_, err := KeyPairFromSeed(flip(seed, 30))
		require.ErrorIs(t, err, ErrInvalidSeed)
	})
	t.Run("public key as seed", func(t *testing.T) {
		_, err := KeyPairFromSeed(pub)
		require.ErrorIs(t, err, ErrInvalidSeed)
	})
}

func TestKeyPairFromPEM(t *testing.T) {
	// As Helm's genPrivateKey "ed25519" writes it.
	const helmPEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINaihy/22yeODkPJYixBCpv4qi6dJ7lz4RhG2EedMfGo\n-----END PRIVATE KEY-----\n"
	require.True(t, IsPEM("\n"+helmPEM))
	kp, err := KeyPairFromPEM(PrefixCluster, []byte(helmPEM))
	require.NoError(t, err)
	require.Equal(t, PrefixCluster, kp.Prefix())

	// The PEM key's seed is the nkey seed: the same key as nkeys makes from it.
	block, _ := pem.Decode([]byte(helmPEM))
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	ref, err := nkeys.FromRawSeed(nkeys.PrefixByteCluster, parsed.(ed25519.PrivateKey).Seed())
	require.NoError(t, err)
	refPub, err := ref.PublicKey()
	require.NoError(t, err)
	require.Equal(t, refPub, kp.PublicKey())
	seed, err := kp.Seed()
	require.NoError(t, err)
	again, err := KeyPairFromSeed(seed)
	require.NoError(t, err)
	require.Equal(t, kp.PublicKey(), again.PublicKey())

	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	rsaDER, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	require.NoError(t, err)
	for _, tc := range []struct{ name, in, want string }{
		{"not PEM", "SCAB", "no PEM PRIVATE KEY block"},
		{"other block", "-----BEGIN CERTIFICATE-----\nMAo=\n-----END CERTIFICATE-----\n", "no PEM PRIVATE KEY block"},
		{"rsa", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})), "want ed25519"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := KeyPairFromPEM(PrefixCluster, []byte(tc.in))
			require.ErrorIs(t, err, ErrInvalidSeed)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// FuzzKeyPairFromPEM feeds arbitrary text to the PEM reading of cluster keys (it comes from
// flags, environment variables and Secrets): nothing may panic, and a key read is a whole one.
func FuzzKeyPairFromPEM(f *testing.F) {
	f.Add("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINaihy/22yeODkPJYixBCpv4qi6dJ7lz4RhG2EedMfGo\n-----END PRIVATE KEY-----\n")
	f.Add("-----BEGIN PRIVATE KEY-----\nMAo=\n-----END PRIVATE KEY-----\n")
	f.Add("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
	f.Add("SCAB")
	f.Fuzz(func(t *testing.T, text string) {
		kp, err := KeyPairFromPEM(PrefixCluster, []byte(text))
		if err != nil {
			return
		}
		seed, err := kp.Seed()
		if err != nil {
			t.Fatalf("a key read from PEM has no seed: %v", err)
		}
		again, err := KeyPairFromSeed(seed)
		if err != nil || again.PublicKey() != kp.PublicKey() {
			t.Fatalf("the seed of a key read from PEM does not give it back: %v", err)
		}
	})
}
