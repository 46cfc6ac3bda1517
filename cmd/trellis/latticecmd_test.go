package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestLatticeStatusAndReplicas: on a three-server cluster, `lattice status` lists the buckets
// with their replicas and flags one below --js-replicas; `lattice replicas 3` raises it and
// skips what does not exist; a count the cluster cannot hold, or that is no count, is refused
// naming why.
func TestLatticeStatusAndReplicas(t *testing.T) {
	c := latticetest.RunCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	js := latticetest.JetStream(t, c.Connect(t))
	_, err := lattice.OpenStore(ctx, js, lattice.DefaultLattice, 1)
	require.NoError(t, err)
	conn := []string{"--nats-url", c.URLs()}

	code, out, errOut := runCLI(t, ctx, append([]string{"lattice", "status", "--js-replicas", "3"}, conn...)...)
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `LATTICEDATA_default\s+kv\s+1\s+1/1\s+n\d`, out)
	require.Regexp(t, `TRELLIS_APPS_default\s+kv\s+not created`, out)
	require.Contains(t, out, "Warning: fewer replicas than 3 (--js-replicas): LATTICEDATA_default has 1; raise them with `trellis lattice replicas 3`.")

	code, out, errOut = runCLI(t, ctx, append([]string{"lattice", "replicas", "3"}, conn...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "LATTICEDATA_default: raised from 1 to 3 replicas")
	require.Contains(t, out, "TRELLIS_APPS_default: not created yet (skipped)")
	code, out, errOut = runCLI(t, ctx, append([]string{"lattice", "replicas", "3"}, conn...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "LATTICEDATA_default: has 3 replicas already")

	require.Eventually(t, func() bool {
		code, out, _ := runCLI(t, ctx, append([]string{"lattice", "status", "-o", "json"}, conn...)...)
		var states []lattice.BucketState
		if code != 0 || json.Unmarshal([]byte(out), &states) != nil || len(states) != 4 {
			return false
		}
		return states[0].Replicas == 3 && states[0].Current == 3
	}, 30*time.Second, 100*time.Millisecond, "three current copies")
	code, out, _ = runCLI(t, ctx, append([]string{"lattice", "status", "--js-replicas", "3"}, conn...)...)
	require.Equal(t, 0, code)
	require.NotContains(t, out, "Warning")

	code, out, errOut = runCLI(t, ctx, append([]string{"lattice", "replicas", "4"}, conn...)...)
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "LATTICEDATA_default: not raised")
	require.Contains(t, errOut, "raise bucket LATTICEDATA_default from 3 to 4 replicas")
	for _, bad := range []string{"0", "6", "three"} {
		code, _, errOut = runCLI(t, ctx, append([]string{"lattice", "replicas", bad}, conn...)...)
		require.NotEqual(t, 0, code, bad)
		require.Contains(t, errOut, "want", bad)
	}
	code, _, errOut = runCLI(t, ctx, append([]string{"lattice", "status", "--js-replicas", "9"}, conn...)...)
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "--js-replicas: replicas 9: want 1 to 5")
}

// TestJSDomainAndReplicasFlags: the lattice and app commands reach JetStream in --js-domain (a
// domain the server does not have is an error saying what to check); a host refuses a replica
// count JetStream cannot take, from the flag or from TRELLIS_JS_REPLICAS.
func TestJSDomainAndReplicasFlags(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, JetStreamDomain: "hub",
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	require.NoError(t, err)
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	require.True(t, ns.ReadyForConnections(10*time.Second))
	ctx := context.Background()
	conn := []string{"--nats-url", ns.ClientURL(), "--ctl-timeout", "1s"}

	code, out, errOut := runCLI(t, ctx, append([]string{"lattice", "status", "--js-domain", "hub"}, conn...)...)
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `LATTICEDATA_default\s+kv\s+not created`, out)
	code, _, errOut = runCLI(t, ctx, append([]string{"lattice", "status", "--js-domain", "elsewhere"}, conn...)...)
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "--js-domain")

	manifest := filepath.Join("..", "..", "examples", "echo.yaml")
	code, _, errOut = runCLI(t, ctx, append([]string{"app", "put", manifest, "--js-domain", "hub"}, conn...)...)
	require.Equal(t, 0, code, errOut)
	code, out, errOut = runCLI(t, ctx, append([]string{"lattice", "status", "-o", "json", "--js-domain", "hub"}, conn...)...)
	require.Equal(t, 0, code, errOut)
	var states []lattice.BucketState
	require.NoError(t, json.Unmarshal([]byte(out), &states))
	require.Equal(t, "TRELLIS_APPS_default", states[1].Name)
	require.True(t, states[1].Exists, "app put made the apps bucket in the domain")
	code, _, errOut = runCLI(t, ctx, append([]string{"app", "put", manifest, "--js-replicas", "0"}, conn...)...)
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "--js-replicas: replicas 0: want 1 to 5")

	code, _, errOut = runCLI(t, ctx, "host", "--nats-url", ns.ClientURL(), "--js-replicas", "7", "--dashboard-addr", "")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "jetstream replicas 7: want 1 to 5")
	t.Setenv("TRELLIS_JS_REPLICAS", "many")
	code, _, errOut = runCLI(t, ctx, "host", "--nats-url", ns.ClientURL(), "--dashboard-addr", "")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, `TRELLIS_JS_REPLICAS="many"`)
}
