package integration_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

// TestAppWithBuiltinHTTPServer deploys an app whose capability component is the host's built-in
// HTTP server (image wasmcloud+builtin://http-server) on `trellis host` processes: the reconciler
// starts it like any provider, puts the link, and echo answers through it.
func TestAppWithBuiltinHTTPServer(t *testing.T) {
	ns := latticetest.RunNATS(t)
	procs := startHostProcs(t, ns.ClientURL(), 1)
	nc := latticetest.Connect(t, ns)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctl, err := lattice.NewClient(nc, lattice.ClientConfig{})
	require.NoError(t, err)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		hosts, err := ctl.GetHosts(ctx)
		return err == nil && len(hosts) == 1
	}, 60*time.Second, 50*time.Millisecond, "the host joins")
	store, err := app.OpenStore(ctx, js, lattice.DefaultLattice, 1)
	require.NoError(t, err)

	port := latticetest.FreePort(t)
	m, err := oam.Parse(fmt.Appendf(nil, `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: echo-builtin, annotations: {version: v1}}
spec:
  components:
    - name: echo
      type: actor
      properties: {image: %s}
      traits:
        - {type: spreadscaler, properties: {replicas: 2}}
        - {type: linkdef, properties: {target: httpserver, values: {address: "%s"}}}
    - name: httpserver
      type: capability
      properties: {image: %s, contract: wasmcloud:httpserver}
      traits:
        - {type: spreadscaler, properties: {replicas: 1}}
`, echoActor(t).Path, addr(port), host.BuiltinHTTPServer))
	require.NoError(t, err)
	put, err := store.Put(ctx, m, "")
	require.NoError(t, err)
	_, err = store.Deploy(ctx, put.Name, put.Version)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := store.Status(ctx, "echo-builtin")
		if err != nil || st.State != app.StateDeployed {
			return false
		}
		code, body, err := get(url(port, "/"))
		return err == nil && code == 200 && body == echoBody
	}, 90*time.Second, 50*time.Millisecond, "deployed and answering through the built-in")

	inv, err := ctl.GetInventory(ctx, procs[0].id)
	require.NoError(t, err)
	require.Len(t, inv.Providers, 1)
	require.Equal(t, host.BuiltinKey(host.BuiltinHTTPServer), inv.Providers[0].ID)
	require.Equal(t, host.BuiltinHTTPServer, inv.Providers[0].ImageRef)
}
