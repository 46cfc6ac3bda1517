package reconciler_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/reconciler"
)

// TestReconcilerInJetStreamDomain: a reconciler finds its buckets in its JetStream domain, making
// them with its replicas, and takes the lease; one given a domain the server does not have
// stops with an error instead of using the account's own JetStream.
func TestReconcilerInJetStreamDomain(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, JetStreamDomain: "hub",
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	require.NoError(t, err)
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	require.True(t, ns.ReadyForConnections(10*time.Second))
	r := newRigOn(t, ns)
	h := r.l.StartHost(func(c *host.Config) { c.JSDomain = "hub" })
	n := r.runReconciler(h, func(c *reconciler.Config) { c.JSDomain = "hub" })
	require.Eventually(t, n.rec.Leading, 10*time.Second, 20*time.Millisecond, "the reconciler takes the lease in domain hub")
	js, err := lattice.NewJetStream(r.l.NC, "hub")
	require.NoError(t, err)
	st, err := lattice.BucketStateOf(context.Background(), js, lattice.NewSubjects(lattice.DefaultLattice).Buckets()[2])
	require.NoError(t, err)
	require.True(t, st.Exists, "the lease bucket is in the domain")

	rec, err := reconciler.New(latticetest.Connect(t, ns), func() reconciler.Config {
		cfg := reconciler.DefaultConfig()
		cfg.HostID, cfg.JSDomain = h.ID(), "elsewhere"
		return cfg
	}())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.Error(t, rec.Run(ctx), "no JetStream in domain elsewhere")

	cfg := reconciler.DefaultConfig()
	cfg.HostID, cfg.Replicas = h.ID(), 0
	require.ErrorContains(t, cfg.Validate(), "reconciler bucket replicas 0: want 1 to 5")
}
