package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

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
