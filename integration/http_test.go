package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestHTTPEchoEndToEnd is the user's first success: curl → httpserver process → NATS → host →
// echo actor → curl gets the echo body.
func TestHTTPEchoEndToEnd(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	echo := echoActor(t)
	echoID := l.StartActor(h, echo.Path, 1)
	providerID := l.StartProvider(h, httpProvider(t).Path, "")
	port := latticetest.FreePort(t)
	l.PutLink(lattice.LinkDefinition{ActorID: echoID, ProviderID: providerID, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(port)}})

	status, body := waitHTTP(t, url(port, "/"))
	require.Equal(t, 200, status)
	require.Equal(t, echoBody, body)
	status, body, err := get(url(port, "/some/path?a=1&b=two"))
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Equal(t, `{"body":[],"method":"GET","path":"/some/path","query_string":"a=1&b=two"}`, body)
}

func TestLinkDeleteClosesTheListenerAndTwoActorsServeAtOnce(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	echo := echoActor(t)
	other := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo two", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
	echoID := l.StartActor(h, echo.Path, 1)
	otherID := l.StartActor(h, other.Path, 1)
	providerID := l.StartProvider(h, httpProvider(t).Path, "")
	p1, p2 := latticetest.FreePort(t), latticetest.FreePort(t)
	link := lattice.LinkDefinition{ActorID: echoID, ProviderID: providerID, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(p1)}}
	l.PutLink(link)
	l.PutLink(lattice.LinkDefinition{ActorID: otherID, ProviderID: providerID, ContractID: httpserver.ContractID, Values: map[string]string{"port": fmt.Sprint(p2)}})
	for _, p := range []int{p1, p2} {
		status, body := waitHTTP(t, url(p, "/"))
		require.Equal(t, 200, status)
		require.Equal(t, echoBody, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, l.Ctl.DeleteLink(ctx, echoID, httpserver.ContractID, ""))
	waitClosed(t, p1)
	status, _, err := get(url(p2, "/"))
	require.NoError(t, err, "the other actor's listener stays")
	require.Equal(t, 200, status)

	l.PutLink(link)
	status, body := waitHTTP(t, url(p1, "/"))
	require.Equal(t, 200, status)
	require.Equal(t, echoBody, body)
}

// TestLinkMovedToAnotherProvider puts the actor's link again with another provider: the new one
// serves, and the one that had the link lets go of it (its listener closes).
func TestLinkMovedToAnotherProvider(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	echoID := l.StartActor(h, echoActor(t).Path, 1)
	first := l.StartProvider(h, httpProvider(t).Path, "")
	second := l.StartProvider(h, httpProvider(t).Path, "")
	require.NotEqual(t, first, second)
	p1, p2 := latticetest.FreePort(t), latticetest.FreePort(t)

	l.PutLink(lattice.LinkDefinition{ActorID: echoID, ProviderID: first, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(p1)}})
	status, body := waitHTTP(t, url(p1, "/"))
	require.Equal(t, 200, status)
	require.Equal(t, echoBody, body)

	l.PutLink(lattice.LinkDefinition{ActorID: echoID, ProviderID: second, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(p2)}})
	status, body = waitHTTP(t, url(p2, "/"))
	require.Equal(t, 200, status)
	require.Equal(t, echoBody, body)
	waitClosed(t, p1)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	links, err := l.Ctl.GetLinks(ctx)
	require.NoError(t, err)
	require.Len(t, links, 1)
	require.Equal(t, second, links[0].ProviderID)
}

func TestKVCounter(t *testing.T) {
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			l := hosttest.New(t)
			h := l.StartHost()
			counter := kvcounter(t, httpserver.ContractID, keyvalueContract)
			counterID := l.StartActor(h, counter.Path, 1)
			httpID := l.StartProvider(h, httpProvider(t).Path, "")
			kvID := l.StartProvider(h, kvProvider(t).Path, "")
			values := map[string]string{}
			var redisAddr string
			if backend == "redis" {
				redisAddr = latticetest.RunRedis(t)
				values["URL"] = "redis://" + redisAddr
			}
			l.PutLink(lattice.LinkDefinition{ActorID: counterID, ProviderID: kvID, ContractID: keyvalueContract, Values: values})
			port := latticetest.FreePort(t)
			l.PutLink(lattice.LinkDefinition{ActorID: counterID, ProviderID: httpID, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(port)}})

			// The kv link reaches the provider shortly after the http one: wait until a counter
			// of its own answers before counting.
			require.Eventually(t, func() bool {
				status, _, err := get(url(port, "/warmup"))
				return err == nil && status == 200
			}, 15*time.Second, 20*time.Millisecond, "kvcounter never answered 200")
			for want := 1; want <= 3; want++ {
				status, body, err := get(url(port, "/hits"))
				require.NoError(t, err)
				require.Equal(t, 200, status, body)
				require.JSONEq(t, fmt.Sprintf(`{"counter":%d}`, want), body)
			}
			status, body, err := get(url(port, "/hits?amount=10"))
			require.NoError(t, err)
			require.Equal(t, 200, status, body)
			require.JSONEq(t, `{"counter":13}`, body)
			if backend == "redis" {
				out, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", redisAddr[len("127.0.0.1:"):], "--scan").Output()
				require.NoError(t, err)
				require.Contains(t, string(out), "hits", "the counter lives in Redis")
			}
		})
	}
}

func TestActorWithoutTheCapabilityIsDenied(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	counter := kvcounter(t, httpserver.ContractID) // no wasmcloud:keyvalue
	counterID := l.StartActor(h, counter.Path, 1)
	httpID := l.StartProvider(h, httpProvider(t).Path, "")
	kvID := l.StartProvider(h, kvProvider(t).Path, "")
	l.PutLink(lattice.LinkDefinition{ActorID: counterID, ProviderID: kvID, ContractID: keyvalueContract})
	port := latticetest.FreePort(t)
	l.PutLink(lattice.LinkDefinition{ActorID: counterID, ProviderID: httpID, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(port)}})
	status, body := waitHTTP(t, url(port, "/hits"))
	require.Equal(t, 500, status)
	require.Contains(t, body, "not allowed to call wasmcloud:keyvalue")
}

// TestProviderRestartsAfterKill kills the httpserver process with SIGKILL: the host restarts
// it, replays its links, and it serves again; events and inventory show the restart.
func TestProviderRestartsAfterKill(t *testing.T) {
	l := hosttest.New(t)
	dataDir := t.TempDir()
	h := l.StartHost(func(c *host.Config) { c.DataDir = dataDir })
	echoID := l.StartActor(h, echoActor(t).Path, 1)
	providerID := l.StartProvider(h, httpProvider(t).Path, "")
	port := latticetest.FreePort(t)
	l.PutLink(lattice.LinkDefinition{ActorID: echoID, ProviderID: providerID, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(port)}})
	waitHTTP(t, url(port, "/"))

	pids := processesUnder(t, dataDir)
	require.Len(t, pids, 1, "one provider process under the host's data dir")
	require.NoError(t, syscall.Kill(pids[0], syscall.SIGKILL))
	killed := time.Now()

	stopped := l.Events.Wait(t, lattice.EventProviderStopped, func(d map[string]any) bool { return d["public_key"] == providerID })
	require.Contains(t, stopped["reason"], "exited unexpectedly")
	require.Eventually(t, func() bool {
		return len(l.Events.Find(lattice.EventProviderStarted, func(d map[string]any) bool { return d["public_key"] == providerID })) == 2
	}, 10*time.Second, 10*time.Millisecond, "provider_started again after the restart")
	require.Eventually(t, func() bool {
		status, body, err := get(url(port, "/"))
		return err == nil && status == 200 && body == echoBody
	}, 5*time.Second, 10*time.Millisecond, "serving again with its link replayed")
	t.Logf("serving again %v after SIGKILL", time.Since(killed).Round(time.Millisecond))

	inv, err := l.Ctl.GetInventory(context.Background(), h.ID())
	require.NoError(t, err)
	require.Len(t, inv.Providers, 1)
	require.Equal(t, 1, inv.Providers[0].Restarts)
	require.Equal(t, host.ProviderRunning, inv.Providers[0].State)
	raw, _ := json.Marshal(inv.Providers[0])
	require.Contains(t, string(raw), `"restarts":1`)
}
