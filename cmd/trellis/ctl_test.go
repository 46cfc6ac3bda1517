package main

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
)

// startNATS runs a real nats-server with JetStream on a free port, stopped at cleanup.
func startNATS(t *testing.T) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	require.NoError(t, err)
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	require.True(t, ns.ReadyForConnections(10*time.Second), "nats-server not ready")
	return ns.ClientURL()
}

func TestCtlWithoutHosts(t *testing.T) {
	keys := useTempKeys(t)
	url := startNATS(t)
	actor, err := lattice.CreateKeyPair(lattice.PrefixModule)
	require.NoError(t, err)
	cluster, err := lattice.CreateKeyPair(lattice.PrefixCluster)
	require.NoError(t, err)
	clusterSeed, err := cluster.Seed()
	require.NoError(t, err)
	mod := writeTinyModule(t, "a.wasm")

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"get hosts", []string{"ctl", "get", "hosts"}, []string{"no host answered", `lattice "default"`, url, "trellis up"}},
		{"get hosts json", []string{"ctl", "get", "hosts", "-o", "json"}, []string{"no host answered"}},
		{"get inventory", []string{"ctl", "get", "inventory"}, []string{"no host answered"}},
		{"get links", []string{"ctl", "get", "links"}, []string{"get links: no host answered", "wasmbus.ctl.default.get.links"}},
		{"get claims", []string{"ctl", "get", "claims"}, []string{"get claims: no host answered"}},
		{"start actor", []string{"ctl", "start", "actor", mod}, []string{"no host answered"}},
		{"start actor on a host", []string{"ctl", "start", "actor", mod, "--host-id", "NB2RGHOQUTSUWAXXBEYX3VRIEGM3WZDRCWCFG254QB7SDFELFIHQJNLS"},
			[]string{"no host answered", "NB2RGHOQUTSUWAXXBEYX3VRIEGM3WZDRCWCFG254QB7SDFELFIHQJNLS"}},
		{"stop actor", []string{"ctl", "stop", "actor", actor.PublicKey()}, []string{"no host answered"}},
		{"call without seed", []string{"ctl", "call", actor.PublicKey(), "Op", "{}"},
			[]string{"no cluster seed", filepath.Join(keys, "default_cluster.nk"), "--cluster-seed"}},
		{"call", []string{"ctl", "call", actor.PublicKey(), "Op", "{}", "--cluster-seed", clusterSeed},
			[]string{"nothing is running to answer", "running on lattice default"}},
		{"call bad json", []string{"ctl", "call", actor.PublicKey(), "Op", "{nope", "--cluster-seed", clusterSeed},
			[]string{"payload is not valid JSON"}},
		{"call bad actor", []string{"ctl", "call", "MNOPE", "Op", "{}"}, []string{"actor id:", "MNOPE"}},
		{"link put bad value", []string{"ctl", "link", "put", actor.PublicKey(), "VPROVIDER", "wasmcloud:httpserver", "ADDRESS"},
			[]string{`link value "ADDRESS": want KEY=VALUE`}},
		{"link put bad provider", []string{"ctl", "link", "put", actor.PublicKey(), "VPROVIDER", "wasmcloud:httpserver", "A=1"},
			[]string{"link provider_id", "VPROVIDER"}},
		{"link del with a provider id", []string{"ctl", "link", "del", actor.PublicKey(), "VPROVIDER", "wasmcloud:httpserver"},
			[]string{"accepts 2 arg(s), received 3", "usage: trellis ctl link del ACTOR_ID CONTRACT_ID", "see `trellis ctl link del --help`"}},
		{"link put key as contract", []string{"ctl", "link", "put", actor.PublicKey(), actor.PublicKey(), actor.PublicKey()},
			[]string{"looks like an actor or provider id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--nats-url", url, "--ctl-timeout", "300ms")
			code, out, errOut := runCLI(t, context.Background(), args...)
			require.Equal(t, 1, code, "stdout: %s", out)
			for _, w := range tc.want {
				require.Contains(t, errOut, w)
			}
		})
	}
}

func TestCtlConnectErrorAndEnv(t *testing.T) {
	useTempKeys(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	dead := "nats://127.0.0.1:" + strconv.Itoa(port)

	code, _, errOut := runCLI(t, context.Background(), "ctl", "get", "hosts", "--nats-url", dead)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "connect to NATS at "+dead)

	// wasmCloud's variables are fallbacks: here they pick the server and the lattice.
	url := startNATS(t)
	t.Setenv("WASMCLOUD_NATS_URL", url)
	t.Setenv("WASMCLOUD_LATTICE_PREFIX", "envlattice")
	code, _, errOut = runCLI(t, context.Background(), "ctl", "get", "hosts", "--ctl-timeout", "200ms")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `no host answered ping on lattice "envlattice" at `+url)

	// TRELLIS_ wins over WASMCLOUD_, and the flag over both.
	t.Setenv("TRELLIS_LATTICE", "trellislattice")
	code, _, errOut = runCLI(t, context.Background(), "ctl", "get", "hosts", "--ctl-timeout", "200ms")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `lattice "trellislattice"`)
	code, _, errOut = runCLI(t, context.Background(), "ctl", "get", "hosts", "--ctl-timeout", "200ms", "--lattice", "flaglattice")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `lattice "flaglattice"`)

	t.Setenv("TRELLIS_CTL_TIMEOUT", "soon")
	code, _, errOut = runCLI(t, context.Background(), "ctl", "get", "hosts")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `environment variable TRELLIS_CTL_TIMEOUT="soon"`)
}

func TestCtlHostPortEnv(t *testing.T) {
	useTempKeys(t)
	url := startNATS(t)
	_, port, err := net.SplitHostPort(url[len("nats://"):])
	require.NoError(t, err)
	t.Setenv("TRELLIS_NATS_URL", "") // empty counts as unset
	t.Setenv("WASMCLOUD_NATS_URL", "")
	t.Setenv("WASMCLOUD_CTL_HOST", "127.0.0.1")
	t.Setenv("WASMCLOUD_CTL_PORT", port)
	code, _, errOut := runCLI(t, context.Background(), "ctl", "get", "hosts", "--ctl-timeout", "200ms")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no host answered ping on lattice \"default\" at nats://127.0.0.1:"+port)
}
