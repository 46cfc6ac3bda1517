package host

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestProviderHostDataHoldsNoHostSecret: the HostData of a process provider carries its own
// connection (here a user and password, TLS material inline) and the provider cluster key, never
// the cluster seed, the host seed or the registry's password.
func TestProviderHostDataHoldsNoHostSecret(t *testing.T) {
	tf := latticetest.WriteTLS(t)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	clusterSeed, _ := cluster.Seed()
	hostKey := latticetest.Key(t, lattice.PrefixServer)
	hostSeed, _ := hostKey.Seed()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.ClusterSeed, cfg.HostSeed = clusterSeed, hostSeed
	cfg.NATS = lattice.NATSConfig{Servers: []string{"nats://alice:nats-pw@127.0.0.1:4222", "127.0.0.1:4223"}, TLSCAFile: tf.CA}
	cfg.RegistryCredentials = lattice.RegistryCredentialMap{"registry.example": {Username: "bob", Password: "registry-s3cret"}}
	h, err := New(cfg)
	require.NoError(t, err)
	h.conn, err = cfg.NATS.Normalize()
	require.NoError(t, err)

	p := &provider{id: providerID{key: latticetest.Key(t, lattice.PrefixService).PublicKey(), linkName: "default"}, instanceID: "i"}
	hd, err := h.hostData(p, nil)
	require.NoError(t, err)
	line, err := hd.Encode()
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(line)))
	require.NoError(t, err)
	for _, secret := range []string{clusterSeed, hostSeed, "registry-s3cret"} {
		require.NotContains(t, string(raw), secret)
	}
	derived, err := lattice.ProviderClusterKey(cluster)
	require.NoError(t, err)
	derivedSeed, _ := derived.Seed()
	require.Equal(t, derivedSeed, hd.InvocationSeed, "the provider signs with the derived key")
	require.Contains(t, hd.ClusterIssuers, cluster.PublicKey(), "it trusts the hosts' invocations")
	require.Contains(t, hd.ClusterIssuers, derived.PublicKey())
	require.Equal(t, "127.0.0.1:4222", hd.LatticeRPCURL, "wasmCloud's field: the first server's host:port")
	require.Equal(t, []string{"nats://127.0.0.1:4222", "nats://127.0.0.1:4223"}, hd.NATSServers)
	require.Equal(t, "alice", hd.NATSUser)
	require.Equal(t, "nats-pw", hd.NATSPassword, "its own connection's password")
	require.True(t, hd.LatticeRPCTLS)
	ca, err := os.ReadFile(tf.CA)
	require.NoError(t, err)
	require.Equal(t, string(ca), hd.NATSTLSCA, "the CA as PEM: the provider needs no file")

	back, err := lattice.DecodeHostData(line)
	require.NoError(t, err)
	require.Equal(t, h.conn.Servers, back.NATS().Servers)
}

func TestProviderEnvAllowList(t *testing.T) {
	got := providerEnv([]string{
		"PATH=/usr/bin", "HOME=/root", "LC_ALL=C", "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318", "RUST_LOG=info",
		"TRELLIS_CLUSTER_SEED=SC…", "WASMCLOUD_CLUSTER_SEED=SC…", "OCI_REGISTRY_PASSWORD=x", "TRELLIS_NATS_PASSWORD=x",
		"TRELLIS_NATS_TOKEN=x", "AWS_SECRET_ACCESS_KEY=x", "PATHX=1", "malformed",
	})
	require.Equal(t, []string{"PATH=/usr/bin", "HOME=/root", "LC_ALL=C", "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318", "RUST_LOG=info"}, got)
}
