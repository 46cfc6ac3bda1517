package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
)

// A cluster key as the chart generates it (Helm's genPrivateKey "ed25519") works wherever a
// cluster seed does: the host's --cluster-seed and ctl's --cluster-seed, as text or as a file.
func TestClusterSeedAsPEM(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	text := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	want, err := lattice.KeyPairFromPEM(lattice.PrefixCluster, []byte(text))
	require.NoError(t, err)
	wantSeed, err := want.Seed()
	require.NoError(t, err)

	hostConfig := func(seed string) (host.Config, error) {
		f := &hostFlags{}
		fs := pflag.NewFlagSet("host", pflag.ContinueOnError)
		f.register(fs, false)
		require.NoError(t, fs.Parse([]string{"--cluster-seed", seed}))
		return f.config(os.Stderr)
	}
	cfg, err := hostConfig(text)
	require.NoError(t, err)
	require.Equal(t, wantSeed, cfg.ClusterSeed)

	file := filepath.Join(t.TempDir(), "cluster.pem")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o600))
	for _, v := range []string{text, file, wantSeed} {
		kp, err := seedOrFile("cluster-seed", v, lattice.PrefixCluster)
		require.NoError(t, err)
		require.Equal(t, want.PublicKey(), kp.PublicKey())
	}

	_, err = hostConfig("-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----\n")
	require.ErrorContains(t, err, "--cluster-seed: invalid seed: PEM private key")
	_, err = seedOrFile("cluster-seed", "nope", lattice.PrefixCluster)
	require.ErrorContains(t, err, "neither a seed (SC…), a PEM ed25519 key, nor an existing file")
}
