package host_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestHostReportsAndRaisesBucketReplicas: on a three-server cluster whose lattice buckets were
// made with one replica, a host asked for three reports each (bucket_replicas_low) and changes
// nothing; one also asked to raise them raises each to three (bucket_replicas_raised). A host
// asked for fewer than a bucket has leaves it as it is.
func TestHostReportsAndRaisesBucketReplicas(t *testing.T) {
	c := latticetest.RunCluster(t, 3)
	l := hosttest.OnWith(t, c.Servers[0], lattice.NATSConfig{Servers: strings.Split(c.URLs(), ",")})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	js := latticetest.JetStream(t, l.NC)
	l.StartHost() // creates the lattice data and the chunk store with one replica
	_, err := app.OpenStore(ctx, js, lattice.DefaultLattice, 1)
	require.NoError(t, err)
	buckets := lattice.NewSubjects(lattice.DefaultLattice).Buckets()
	replicas := func() map[string]int {
		out := map[string]int{}
		for _, b := range buckets {
			st, err := lattice.BucketStateOf(ctx, js, b)
			require.NoError(t, err)
			if st.Exists {
				out[b.Name] = st.Replicas
			}
		}
		return out
	}
	require.Eventually(t, func() bool {
		return maps.Equal(map[string]int{"LATTICEDATA_default": 1, "TRELLIS_APPS_default": 1, "default": 1}, replicas())
	}, 10*time.Second, 20*time.Millisecond, "the host makes the chunk store beside serving; the lease bucket does not exist: no reconciler ran")

	l.StartHost(func(cfg *host.Config) { cfg.JSReplicas = 3 })
	for _, name := range []string{"LATTICEDATA_default", "TRELLIS_APPS_default", "default"} {
		ev := l.Events.Wait(t, lattice.EventBucketReplicasLow, func(d map[string]any) bool { return d["bucket"] == name })
		require.EqualValues(t, 1, ev["replicas"])
		require.EqualValues(t, 3, ev["want"])
		require.Empty(t, ev["error"])
	}
	require.Empty(t, l.Events.Find(lattice.EventBucketReplicasLow, func(d map[string]any) bool { return d["bucket"] == "TRELLIS_LEASE_default" }))
	require.Equal(t, map[string]int{"LATTICEDATA_default": 1, "TRELLIS_APPS_default": 1, "default": 1}, replicas(), "reported, not changed")

	l.StartHost(func(cfg *host.Config) { cfg.JSReplicas, cfg.JSRaiseReplicas = 3, true })
	for _, name := range []string{"LATTICEDATA_default", "TRELLIS_APPS_default", "default"} {
		ev := l.Events.Wait(t, lattice.EventBucketReplicasRaised, func(d map[string]any) bool { return d["bucket"] == name })
		require.EqualValues(t, 1, ev["replicas"])
		require.EqualValues(t, 3, ev["want"])
	}
	require.Equal(t, map[string]int{"LATTICEDATA_default": 3, "TRELLIS_APPS_default": 3, "default": 3}, replicas())

	before := len(l.Events.Find(lattice.EventBucketReplicasLow, nil)) + len(l.Events.Find(lattice.EventBucketReplicasRaised, nil))
	l.StartHost(func(cfg *host.Config) { cfg.JSReplicas, cfg.JSRaiseReplicas = 1, true })
	l.Events.Wait(t, lattice.EventHostStarted, nil)
	require.Equal(t, map[string]int{"LATTICEDATA_default": 3, "TRELLIS_APPS_default": 3, "default": 3}, replicas(), "never lowered")
	after := len(l.Events.Find(lattice.EventBucketReplicasLow, nil)) + len(l.Events.Find(lattice.EventBucketReplicasRaised, nil))
	require.Equal(t, before, after, "nothing to report")
}

// TestHostCreatesBucketsWithReplicas: the first host of a lattice on a cluster makes its buckets
// with the replicas asked for; a count JetStream cannot take is refused at New.
func TestHostCreatesBucketsWithReplicas(t *testing.T) {
	c := latticetest.RunCluster(t, 3)
	l := hosttest.OnWith(t, c.Servers[1], lattice.NATSConfig{Servers: strings.Split(c.URLs(), ",")})
	l.StartHost(func(cfg *host.Config) { cfg.JSReplicas = 3 })
	js := latticetest.JetStream(t, l.NC)
	var states []lattice.BucketState
	require.Eventually(t, func() bool {
		var err error
		states, err = lattice.BucketStates(context.Background(), js, lattice.DefaultLattice)
		return err == nil && states[3].Exists
	}, 10*time.Second, 20*time.Millisecond, "the host makes the chunk store beside serving")
	for _, st := range states {
		switch st.Name {
		case "LATTICEDATA_default", "default":
			require.True(t, st.Exists, st.Name)
			require.Equal(t, 3, st.Replicas, st.Name)
		default:
			require.False(t, st.Exists, st.Name)
		}
	}
	require.Empty(t, l.Events.Find(lattice.EventBucketReplicasLow, nil))

	cfg := l.Config()
	for _, n := range []int{0, 6} {
		cfg.JSReplicas = n
		_, err := host.New(cfg)
		require.ErrorContains(t, err, "jetstream replicas")
	}
}

// TestHostReplicasOnOneServer: a host asked for three replicas on a server that is not in a
// cluster fails at once, saying why, instead of waiting for its connect timeout.
func TestHostReplicasOnOneServer(t *testing.T) {
	l := hosttest.New(t)
	cfg := l.Config()
	cfg.JSReplicas = 3
	cfg.ConnectTimeout = time.Minute
	h, err := host.New(cfg)
	require.NoError(t, err)
	start := time.Now()
	err = h.Run(context.Background())
	require.ErrorContains(t, err, "open lattice store LATTICEDATA_default with 3 replicas (does "+l.NS.ClientURL()+" run a NATS cluster of 3 JetStream servers, all up?)")
	require.ErrorContains(t, err, "replicas > 1 not supported in non-clustered mode")
	require.Less(t, time.Since(start), cfg.ConnectTimeout, "refused at once, not after the connect timeout")
}
