package integration_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

// hostProc is a `trellis host` process.
type hostProc struct {
	id  string
	cmd *exec.Cmd
}

// startHostProcs runs n `trellis host` processes on the NATS server at url, sharing a cluster
// seed, each reconciling with a short lease so that losing one shows quickly.
func startHostProcs(tb testing.TB, url string, n int) []*hostProc {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "trellis")
	require.NoError(tb, os.WriteFile(bin, latticetest.BuildBinary(tb, "./cmd/trellis"), 0o755))
	seed, err := latticetest.Key(tb, lattice.PrefixCluster).Seed()
	require.NoError(tb, err)
	var out []*hostProc
	for range n {
		key := latticetest.Key(tb, lattice.PrefixServer)
		hostSeed, err := key.Seed()
		require.NoError(tb, err)
		home := tb.TempDir()
		cmd := exec.Command(bin, "host", "--nats-url", url, "--cluster-seed", seed, "--host-seed", hostSeed,
			"--allow-file-load="+os.TempDir(), "--dashboard-addr", "", "--data-dir", filepath.Join(home, "data"),
			"--reconcile-lease-ttl", "2s", "--reconcile-interval", "500ms", "--log-level", "warn")
		cmd.Env = append(os.Environ(), "HOME="+home)
		cmd.Stdout, cmd.Stderr = &latticetest.SyncBuffer{}, &latticetest.SyncBuffer{}
		require.NoError(tb, cmd.Start())
		p := &hostProc{id: key.PublicKey(), cmd: cmd}
		tb.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
		out = append(out, p)
	}
	return out
}

// hostLoss deploys echo (4 replicas), the httpserver provider and their link on two host
// processes, then kills the host holding the reconciler lease with SIGKILL, and returns how long
// the lattice took to run all replicas again (status deployed, reconciled by the other host, and
// HTTP answering).
func hostLoss(tb testing.TB) time.Duration {
	ns := latticetest.RunNATS(tb)
	procs := startHostProcs(tb, ns.ClientURL(), 2)
	nc := latticetest.Connect(tb, ns)
	js, err := jetstream.New(nc)
	require.NoError(tb, err)
	ctl, err := lattice.NewClient(nc, lattice.ClientConfig{})
	require.NoError(tb, err)
	ctx := context.Background()
	require.Eventually(tb, func() bool {
		hosts, err := ctl.GetHosts(ctx)
		return err == nil && len(hosts) == 2
	}, 60*time.Second, 50*time.Millisecond, "both hosts join")
	store, err := app.OpenStore(ctx, js, lattice.DefaultLattice, 1)
	require.NoError(tb, err)

	echo, prov := echoActor(tb), ociHTTPProvider(tb)
	port := latticetest.FreePort(tb)
	m, err := oam.Parse(fmt.Appendf(nil, `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: echo, annotations: {version: v1}}
spec:
  components:
    - name: echo
      type: actor
      properties: {image: %s}
      traits:
        - {type: spreadscaler, properties: {replicas: 4}}
        - {type: linkdef, properties: {target: httpserver, values: {address: "%s"}}}
    - name: httpserver
      type: capability
      properties: {image: %s, contract: wasmcloud:httpserver}
      traits:
        - {type: spreadscaler, properties: {replicas: 1}}
`, echo.Path, addr(port), prov.Path))
	require.NoError(tb, err)
	put, err := store.Put(ctx, m, "")
	require.NoError(tb, err)
	_, err = store.Deploy(ctx, put.Name, put.Version)
	require.NoError(tb, err)
	deployed := func(notBy string) bool {
		st, err := store.Status(ctx, "echo")
		if err != nil || st.State != app.StateDeployed || st.Reconciler == notBy {
			return false
		}
		code, body, err := get(url(port, "/"))
		return err == nil && code == 200 && body == echoBody
	}
	require.Eventually(tb, func() bool { return deployed("") }, 90*time.Second, 50*time.Millisecond, "deployed and answering")

	holder, ok, err := app.CurrentHolder(ctx, js, lattice.DefaultLattice)
	require.NoError(tb, err)
	require.True(tb, ok)
	var victim *hostProc
	for _, p := range procs {
		if p.id == holder.Holder {
			victim = p
		}
	}
	require.NotNil(tb, victim, "the lease holder is one of the hosts")
	require.NoError(tb, victim.cmd.Process.Signal(syscall.SIGKILL))
	killed := time.Now()
	require.Eventually(tb, func() bool { return deployed(victim.id) }, 60*time.Second, 20*time.Millisecond,
		"the other host takes over and runs everything again")
	took := time.Since(killed)
	st, err := store.Status(ctx, "echo")
	require.NoError(tb, err)
	require.Equal(tb, 4, st.Components[0].Actual)
	inv, err := ctl.GetInventory(ctx, st.Reconciler)
	require.NoError(tb, err)
	require.Len(tb, inv.Actors, 1)
	require.Len(tb, inv.Actors[0].Instances, 4, "all four instances on the surviving host")
	return took
}

// TestAppSurvivesHostKill: the host holding the reconciler is killed; its share reappears on the
// other host and the status goes back to deployed, with no command given.
func TestAppSurvivesHostKill(t *testing.T) {
	took := hostLoss(t)
	t.Logf("all replicas back %v after SIGKILL of the reconciling host", took.Round(time.Millisecond))
}

// BenchmarkAppHostLoss reports the time from the loss (SIGKILL) of the host holding the
// reconciler lease to all replicas running again, with a 2 s lease.
func BenchmarkAppHostLoss(b *testing.B) {
	var total time.Duration
	for range b.N {
		total += hostLoss(b)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/recovery")
}
