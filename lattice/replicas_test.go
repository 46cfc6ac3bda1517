package lattice_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestBucketReplicasRaised: on a three-server cluster, a lattice bucket made with one replica is
// reported as below three and raised to three, its data kept; a raise never lowers, one past the
// cluster's size is refused naming why and leaves the bucket as it was.
func TestBucketReplicasRaised(t *testing.T) {
	c := latticetest.RunCluster(t, 3)
	js := latticetest.JetStream(t, c.Connect(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	st, err := lattice.OpenStore(ctx, js, "raise", 1)
	require.NoError(t, err)
	link := testLink(t, "wasmcloud:httpserver", map[string]string{"ADDRESS": "127.0.0.1:8080"})
	require.NoError(t, st.PutLink(ctx, link))

	states, err := lattice.BucketStates(ctx, js, "raise")
	require.NoError(t, err)
	require.Len(t, states, 4)
	data := states[0]
	require.Equal(t, "LATTICEDATA_raise", data.Name)
	require.Equal(t, "KV_LATTICEDATA_raise", data.Stream)
	require.True(t, data.Exists)
	require.Equal(t, 1, data.Replicas)
	require.True(t, data.Below(3), "an R1 bucket is reported below 3")
	require.False(t, data.Below(1))
	require.NotEmpty(t, data.Leader)
	for _, other := range states[1:] {
		require.False(t, other.Exists, "%s was not created", other.Name)
		require.False(t, other.Below(3), "a bucket not created is not reported")
	}

	had, err := lattice.RaiseReplicas(ctx, js, data.Bucket, 3)
	require.NoError(t, err)
	require.Equal(t, 1, had)
	require.Eventually(t, func() bool {
		s, err := lattice.BucketStateOf(ctx, js, data.Bucket)
		return err == nil && s.Replicas == 3 && s.Current == 3 && len(s.Peers) == 2
	}, 30*time.Second, 50*time.Millisecond, "the bucket has three current copies")
	got, err := st.Link(ctx, link.ActorID, link.ContractID, "")
	require.NoError(t, err)
	require.Equal(t, link.Values, got.Values)

	had, err = lattice.RaiseReplicas(ctx, js, data.Bucket, 1)
	require.NoError(t, err, "asking for fewer is no error")
	require.Equal(t, 3, had)
	s, err := lattice.BucketStateOf(ctx, js, data.Bucket)
	require.NoError(t, err)
	require.Equal(t, 3, s.Replicas, "never lowered")

	_, err = lattice.RaiseReplicas(ctx, js, data.Bucket, 4)
	require.ErrorContains(t, err, "raise bucket LATTICEDATA_raise from 3 to 4 replicas")
	s, err = lattice.BucketStateOf(ctx, js, data.Bucket)
	require.NoError(t, err)
	require.Equal(t, 3, s.Replicas, "a refused raise leaves the bucket as it was")

	_, err = lattice.RaiseReplicas(ctx, js, states[1].Bucket, 3)
	require.ErrorIs(t, err, lattice.ErrBucketNotFound)
	_, err = lattice.RaiseReplicas(ctx, js, data.Bucket, 6)
	require.ErrorContains(t, err, "want 1 to 5")
}

// TestBucketStateSingleServer: on one server without a cluster a bucket has one replica, no
// leader named and one current copy.
func TestBucketStateSingleServer(t *testing.T) {
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	ctx := context.Background()
	_, err := lattice.OpenStore(ctx, js, "single", 1)
	require.NoError(t, err)
	s, err := lattice.BucketStateOf(ctx, js, lattice.NewSubjects("single").Buckets()[0])
	require.NoError(t, err)
	require.True(t, s.Exists)
	require.Equal(t, 1, s.Replicas)
	require.Equal(t, 1, s.Current)
	require.Empty(t, s.Peers)
	_, err = lattice.RaiseReplicas(ctx, js, s.Bucket, 3)
	require.Error(t, err, "one server cannot hold three copies")
}
