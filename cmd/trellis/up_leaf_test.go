package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestUpAsLeafNode: `trellis up --nats-remote-url` joins a hub lattice (a nats-server with
// JetStream and a leaf node listener that requires a user, and a host on it) as a leaf node. An
// actor started on the leaf's host is called from the hub's side, and one on the hub's host from
// the leaf's side; links put on either side are
// seen on both, and the leaf actor's claims are in the hub's lattice data.
func TestUpAsLeafNode(t *testing.T) {
	useTempKeys(t)
	hub := latticetest.RunLeafHub(t, latticetest.LeafHub{Domain: "hub", User: "laptop", Password: "leaf-s3cret"})
	l := hosttest.On(t, hub.Server)
	hubHost := l.StartHost()

	leafActor := latticetest.SignModule(t, latticetest.TinyEcho(), lattice.ActorMetadata{Name: "echo on the leaf"}, lattice.SignOptions{})
	hubActor := latticetest.SignModule(t, latticetest.TinyEcho(), lattice.ActorMetadata{Name: "echo on the hub"}, lattice.SignOptions{})

	dir := t.TempDir()
	leafURL, upOut, _ := startUp(t, natsLine, "--nats-port", "0", "--dashboard-addr", "", "--data-dir", filepath.Join(dir, "data"),
		"--log-level", "warn", "--cluster-seed", l.Seed, "--allow-file-load="+filepath.Dir(leafActor.Path),
		"--nats-remote-url", hub.LeafURLWith("laptop", "leaf-s3cret"), "--js-domain", "hub")
	require.Contains(t, upOut.String(), "Leaf of:   nats://laptop:xxxxx@127.0.0.1:")
	require.Contains(t, upOut.String(), `lattice data in the hub's JetStream (domain "hub")`)
	require.NotContains(t, upOut.String(), "leaf-s3cret")

	leafNC, err := nats.Connect(leafURL)
	require.NoError(t, err)
	t.Cleanup(leafNC.Close)
	leafCtl, err := lattice.NewClient(leafNC, lattice.ClientConfig{Lattice: lattice.DefaultLattice, ClusterSeed: l.Seed, Timeout: 5 * time.Second, AuctionTimeout: 500 * time.Millisecond})
	require.NoError(t, err)

	// Both sides see both hosts.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var leafHostID string
	for _, c := range []*lattice.Client{l.Ctl, leafCtl} {
		require.Eventually(t, func() bool {
			hosts, err := c.GetHosts(ctx)
			if err != nil || len(hosts) != 2 {
				return false
			}
			for _, h := range hosts {
				if h.ID != hubHost.ID() {
					leafHostID = h.ID
				}
			}
			return true
		}, 30*time.Second, 100*time.Millisecond)
	}

	// The leaf's actor is started from the leaf with the CLI, the hub's from the hub.
	code, out, errOut := runCLI(t, ctx, "ctl", "start", "actor", leafActor.Path, "--host-id", leafHostID, "--nats-url", leafURL, "--timeout", "3m")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, leafActor.ID)
	l.StartActor(hubHost, hubActor.Path, 1)

	call := func(c *lattice.Client, actorID, op string, msg []byte) string {
		t.Helper()
		out, err := c.Call(ctx, actorID, op, msg)
		require.NoError(t, err, "call %s %s", actorID, op)
		return string(out)
	}
	require.Equal(t, "from the hub to the leaf", call(l.Ctl, leafActor.ID, "Echo.Echo", []byte("from the hub to the leaf")))
	require.Equal(t, "from the leaf to the hub", call(leafCtl, hubActor.ID, "Echo.Echo", []byte("from the leaf to the hub")))
	code, out, errOut = runCLI(t, ctx, "ctl", "call", hubActor.ID, "Echo.Echo", `"via the leaf's ctl"`, "--nats-url", leafURL, "--cluster-seed", l.Seed)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "via the leaf's ctl")

	// One lattice's data: claims and links are the hub's, whichever side wrote them.
	claims, err := l.Ctl.GetClaims(ctx)
	require.NoError(t, err)
	subs := map[string]bool{}
	for _, c := range claims {
		subs[c["sub"]] = true
	}
	require.True(t, subs[leafActor.ID] && subs[hubActor.ID], "claims on the hub: %v", claims)

	provider := latticetest.Key(t, lattice.PrefixService).PublicKey()
	fromLeaf := lattice.LinkDefinition{ActorID: leafActor.ID, ProviderID: provider, LinkName: "default", ContractID: "wasmcloud:keyvalue", Values: map[string]string{"URL": "redis://leaf"}}
	fromHub := lattice.LinkDefinition{ActorID: hubActor.ID, ProviderID: provider, LinkName: "default", ContractID: "wasmcloud:keyvalue", Values: map[string]string{"URL": "redis://hub"}}
	require.NoError(t, leafCtl.PutLink(ctx, fromLeaf))
	require.NoError(t, l.Ctl.PutLink(ctx, fromHub))
	for side, c := range map[string]*lattice.Client{"hub": l.Ctl, "leaf": leafCtl} {
		require.Eventually(t, func() bool {
			links, err := c.GetLinks(ctx)
			if err != nil {
				return false
			}
			seen := map[string]string{}
			for _, ld := range links {
				seen[ld.ActorID] = ld.Values["URL"]
			}
			return seen[leafActor.ID] == "redis://leaf" && seen[hubActor.ID] == "redis://hub"
		}, 30*time.Second, 100*time.Millisecond, "the %s side does not see both links", side)
	}
	code, out, errOut = runCLI(t, ctx, "ctl", "get", "links", "--nats-url", leafURL, "-o", "json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "redis://hub")
	require.Contains(t, out, "redis://leaf")
}

// TestUpLeafNodeRefusals: a leaf node that cannot join fails with what went wrong, and half a
// leaf setup is refused before anything starts.
func TestUpLeafNodeRefusals(t *testing.T) {
	useTempKeys(t)
	hub := latticetest.RunLeafHub(t, latticetest.LeafHub{Domain: "hub", User: "laptop", Password: "leaf-s3cret"})
	dir := t.TempDir()
	badCreds := filepath.Join(dir, "bad.creds")
	require.NoError(t, os.WriteFile(badCreds, []byte("not a creds file\n"), 0o600))
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"wrong password", []string{"--nats-remote-url", hub.LeafURLWith("laptop", "wrong"), "--js-domain", "hub"},
			[]string{"leaf node of nats://laptop:xxxxx@127.0.0.1:", "not connected", "Authorization Violation"}},
		{"no JetStream domain", []string{"--nats-remote-url", hub.LeafURLWith("laptop", "leaf-s3cret")},
			[]string{"needs the JetStream domain of the hub (--js-domain)"}},
		{"another JetStream domain", []string{"--nats-remote-url", hub.LeafURLWith("laptop", "leaf-s3cret"), "--js-domain", "elsewhere"},
			[]string{`connected, but the hub's JetStream of domain "elsewhere" does not answer through it`}},
		{"creds without a remote", []string{"--nats-remote-creds", badCreds},
			[]string{"--nats-remote-creds and --nats-remote-tls-ca: need --nats-remote-url"}},
		{"a bad creds file", []string{"--nats-remote-url", hub.LeafURL, "--nats-remote-creds", badCreds, "--js-domain", "hub"},
			[]string{"leaf node remote credentials " + badCreds}},
		{"a client URL scheme", []string{"--nats-remote-url", "http://127.0.0.1:7422", "--js-domain", "hub"},
			[]string{`scheme "http", want nats://, tls://`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"up", "--nats-port", "0", "--dashboard-addr", "", "--data-dir", filepath.Join(t.TempDir(), "data"),
				"--log-level", "disabled", "--connect-timeout", "3s"}, tc.args...)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			code, out, errOut := runCLI(t, ctx, args...)
			require.NotEqual(t, 0, code, out)
			for _, w := range tc.want {
				require.Contains(t, errOut, w)
			}
			require.False(t, strings.Contains(errOut, "leaf-s3cret"), errOut)
		})
	}
}
