package reconciler_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/lattice/oam"
	"github.com/trellis-lattice/trellis/reconciler"
)

const echoBody = `{"body":[],"method":"GET","path":"/","query_string":""}`

// rig is a test lattice whose hosts each run a reconciler, as `trellis host` does.
type rig struct {
	t     testing.TB
	l     *hosttest.Lattice
	store *app.Store
	nodes []*node
}

// node is one host with its reconciler.
type node struct {
	h      *host.Host
	rec    *reconciler.Reconciler
	cancel context.CancelFunc
	done   chan error
}

func newRig(t testing.TB) *rig { return newRigOn(t, latticetest.RunNATS(t)) }

// newRigOn is newRig on a running NATS server.
func newRigOn(t testing.TB, ns *server.Server) *rig {
	l := hosttest.On(t, ns)
	js, err := jetstream.New(l.NC)
	require.NoError(t, err)
	store, err := app.OpenStore(context.Background(), js, lattice.DefaultLattice, 1)
	require.NoError(t, err)
	return &rig{t: t, l: l, store: store}
}

// addHost starts a host with the labels and a reconciler beside it.
func (r *rig) addHost(labels map[string]string) *node {
	return r.runReconciler(r.l.StartHost(func(c *host.Config) {
		if labels != nil {
			c.Labels = labels
		}
	}), nil)
}

// runReconciler runs a reconciler beside h, its config changed by mod (when not nil).
func (r *rig) runReconciler(h *host.Host, mod func(*reconciler.Config)) *node {
	t := r.t
	cfg := reconciler.DefaultConfig()
	cfg.HostID = h.ID()
	cfg.Interval = 500 * time.Millisecond
	cfg.LeaseTTL = 2 * time.Second
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	if mod != nil {
		mod(&cfg)
	}
	rec, err := reconciler.New(latticetest.Connect(t, r.l.NS), cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{h: h, rec: rec, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- rec.Run(ctx) }()
	t.Cleanup(n.stopReconciler)
	r.nodes = append(r.nodes, n)
	return n
}

// stopReconciler stops the node's reconciler (it gives the lease up); idempotent.
func (n *node) stopReconciler() {
	n.cancel()
	if n.done != nil {
		<-n.done
		n.done = nil
	}
}

// stop stops the reconciler, then the host.
func (n *node) stop() {
	n.stopReconciler()
	n.h.Stop()
}

// deploy parses and puts a manifest and deploys it.
func (r *rig) deploy(manifest string) string {
	m, err := oam.Parse([]byte(manifest))
	require.NoError(r.t, err)
	put, err := r.store.Put(context.Background(), m, "")
	require.NoError(r.t, err)
	_, err = r.store.Deploy(context.Background(), put.Name, put.Version)
	require.NoError(r.t, err)
	return put.Version
}

func (r *rig) status(name string) *app.Status {
	st, err := r.store.Status(context.Background(), name)
	if err != nil {
		return nil
	}
	return st
}

// waitState waits until the app's status is in state (and, when version is given, of it).
func (r *rig) waitState(name string, state app.State, version string, within time.Duration) *app.Status {
	r.t.Helper()
	var last *app.Status
	require.Eventually(r.t, func() bool {
		last = r.status(name)
		return last != nil && last.State == state && (version == "" || last.Version == version)
	}, within, 20*time.Millisecond, "app %s never %s; last status: %+v", name, state, last)
	return last
}

// managed counts the instances of actorID on h that the reconciler started for the app.
func (r *rig) managed(h *host.Host, actorID, appName string) (managed, other int) {
	inv, err := r.l.Ctl.GetInventory(context.Background(), h.ID())
	require.NoError(r.t, err)
	for _, a := range inv.Actors {
		if a.ID != actorID {
			continue
		}
		for _, in := range a.Instances {
			if in.Annotations[reconciler.AnnotationAppSpec] == appName {
				managed++
			} else {
				other++
			}
		}
	}
	return managed, other
}

func (r *rig) leader() *node {
	for _, n := range r.nodes {
		if n.done != nil && n.rec.Leading() {
			return n
		}
	}
	return nil
}

// withBuild appends a custom section to a module so that its bytes (and claims hash) differ
// while its code stays the same: another build of one actor.
func withBuild(module []byte, build string) []byte {
	name := "trellis_test_build"
	payload := append([]byte{byte(len(name))}, name...)
	payload = append(payload, build...)
	out := append(bytes.Clone(module), 0)
	n := len(payload)
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			out = append(out, b|0x80)
			continue
		}
		out = append(out, b)
		break
	}
	return append(out, payload...)
}

// echoRevisions signs builds of the echo example as revisions of one actor.
func echoRevisions(t *testing.T, revs ...int) []latticetest.Actor {
	module := latticetest.BuildWasm(t, "./actor/examples/echo")
	keys := hosttest.NewActorKeys(t)
	out := make([]latticetest.Actor, len(revs))
	for i, rev := range revs {
		out[i] = keys.Sign(t, withBuild(module, fmt.Sprint(rev)), lattice.ActorMetadata{Name: "echo", Caps: []string{httpserver.ContractID}}, rev)
	}
	return out
}

func httpProvider(t *testing.T) latticetest.Provider {
	return latticetest.ProviderArchive(t, "./cmd/provider-httpserver", lattice.ProviderMetadata{
		Name: "HTTP Server", CapID: httpserver.ContractID, Vendor: "Trellis"})
}

func get(url string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), err
}

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o644))
}

func tempPath(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name) }
