package main

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// An actor at zero instances through the CLI: the inventory shows it with its count and no live
// instance, `ctl call` is answered from zero, and `ctl scale --min/--max` sets the limits alone.
func TestCtlActorAtZero(t *testing.T) {
	useTempKeys(t)
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.ActorIdleTimeout = 50 * time.Millisecond })
	echo := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
	ctl := func(args ...string) (int, string, string) {
		return runCLI(t, context.Background(), append(append([]string{"ctl"}, args...), "--nats-url", l.NS.ClientURL())...)
	}
	inventory := func() lattice.ActorDescription {
		t.Helper()
		code, out, errOut := ctl("get", "inventory", h.ID(), "-o", "json")
		require.Equal(t, 0, code, errOut)
		var inv lattice.HostInventory
		require.NoError(t, json.Unmarshal([]byte(out), &inv), out)
		require.Len(t, inv.Actors, 1)
		return inv.Actors[0]
	}
	atZero := func() {
		t.Helper()
		require.Eventually(t, func() bool { d := inventory(); return d.InstancesIdle == 0 && d.InstancesInUse == 0 }, 15*time.Second, 10*time.Millisecond)
	}

	code, _, errOut := ctl("start", "actor", echo.Path, "--host-id", h.ID(), "--max-instances", "2")
	require.Equal(t, 0, code, errOut)
	atZero()
	d := inventory()
	require.Len(t, d.Instances, 1)
	require.Equal(t, 2, d.MaxInstances)
	code, out, errOut := ctl("get", "inventory", h.ID())
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `ACTOR ID\s+NAME\s+INSTANCES\s+IN USE\s+IDLE\s+MIN\s+MAX\s+IMAGE REF`, out)
	require.Regexp(t, regexp.QuoteMeta(echo.ID)+`\s+echo\s+1\s+0\s+0\s+0\s+2\s`, out)

	code, out, errOut = ctl("call", echo.ID, "HttpServer.HandleRequest",
		`{"method":"GET","path":"/","queryString":"","header":{},"body":""}`, "--rpc-timeout", "1m", "--cluster-seed", l.Seed)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `{"body":[],"method":"GET","path":"/","query_string":""}`)
	atZero()

	code, out, errOut = ctl("scale", "actor", echo.ID, "--min", "1", "--max", "3")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "accepted to set the instance limits of actor "+echo.ID+" (live wasm instances: min 1, max 3)")
	require.Eventually(t, func() bool {
		d := inventory()
		return d.InstancesIdle == 1 && d.MinInstances == 1 && d.MaxInstances == 3 && len(d.Instances) == 1
	}, 15*time.Second, 10*time.Millisecond)

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--min", "4", "--max", "3"}, "--min 4 is above --max 3"},
		{[]string{"--max", "0"}, "--max 0: want 1-65535"},
		{[]string{"--min", "-1"}, "--min -1: want 0-65535"},
		{[]string{"--count", "0", "--max", "2"}, "--count 0 stops the actor"},
		{nil, "--count is required (or --min/--max"},
	} {
		code, _, errOut := ctl(append([]string{"scale", "actor", echo.ID}, tt.args...)...)
		require.NotEqual(t, 0, code)
		require.Contains(t, errOut, tt.want)
	}
	code, _, errOut = ctl("start", "actor", echo.Path, "--host-id", h.ID(), "--min-instances", "3", "--max-instances", "2")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "--min-instances 3 is above --max-instances 2")

	// The positional form with --count still sets the count.
	code, _, errOut = ctl("scale", "actor", echo.ID, echo.Path, "--count", "2")
	require.Equal(t, 0, code, errOut)
	require.Eventually(t, func() bool { return len(inventory().Instances) == 2 }, 15*time.Second, 10*time.Millisecond)
}
