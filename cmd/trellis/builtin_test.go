package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// builtinKey is the built-in HTTP server's key on every host (docs/compat.md).
const builtinKey = "VBWZ2AQZ6OSB2VGQBQ3ZVKQUD7ONDZUNC3E3T3QTMAXIG76BRYL55Q2H"

const echoReply = `{"body":[],"method":"GET","path":"/","query_string":""}`

// withBuiltins gives a test host the built-ins `trellis up` and `trellis host` run.
func withBuiltins(c *host.Config) { c.Builtins = builtinProviders() }

// withLog sends a host's warnings to w as well as to the test's log.
func withLog(t *testing.T, w io.Writer) hosttest.Option {
	return func(c *host.Config) {
		c.Logger = zerolog.New(zerolog.MultiLevelWriter(w, zerolog.NewTestWriter(t))).Level(zerolog.WarnLevel)
	}
}

func echoSigned(t *testing.T, name string, caps ...string) latticetest.Actor {
	return latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: name, Caps: caps}, lattice.SignOptions{})
}

// httpGet fetches url; a connection error is returned as is.
func httpGet(url string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// awaitHTTP polls url until it answers, then returns status and body.
func awaitHTTP(t *testing.T, url string) (int, string) {
	t.Helper()
	var status int
	var body string
	require.Eventually(t, func() bool {
		s, b, err := httpGet(url)
		status, body = s, b
		return err == nil
	}, 15*time.Second, 10*time.Millisecond, "nothing answers on %s", url)
	return status, body
}

// countInvocations counts the invocations of actor that travel over NATS (a plain subscription
// sees every message on the subject besides the hosts' queue group) until stop is called.
func countInvocations(t *testing.T, l *hosttest.Lattice, actor string, seen func(*nats.Msg)) (n *atomic.Int64, stop func()) {
	t.Helper()
	n = new(atomic.Int64)
	sub, err := l.NC.Subscribe(lattice.NewSubjects(lattice.DefaultLattice).Actor(actor), func(m *nats.Msg) {
		n.Add(1)
		if seen != nil {
			seen(m)
		}
	})
	require.NoError(t, err)
	require.NoError(t, l.NC.Flush())
	stop = func() { _ = sub.Unsubscribe() }
	t.Cleanup(stop)
	return n, stop
}

func builtinLink(actor string, port int) lattice.LinkDefinition {
	return lattice.LinkDefinition{ActorID: actor, ProviderID: builtinKey, ContractID: contract.ContractID,
		Values: map[string]string{"ADDRESS": fmt.Sprintf("127.0.0.1:%d", port)}}
}

func TestBuiltinKeyIsFixed(t *testing.T) {
	require.Equal(t, builtinKey, host.BuiltinKey(host.BuiltinHTTPServer))
	require.NoError(t, lattice.CheckPublicKey(lattice.PrefixService, builtinKey))
}

// TestBuiltinHTTPServerLocal starts the built-in on a host running echo, links it, and serves
// echo in process (no invocation on NATS); the inventory and claims list it; stopping it closes
// its listener.
func TestBuiltinHTTPServerLocal(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost(withBuiltins)
	echoID := l.StartActor(h, echoSigned(t, "echo", contract.ContractID).Path, 1)
	overNATS, _ := countInvocations(t, l, echoID, nil)

	require.Equal(t, builtinKey, l.StartProvider(h, host.BuiltinHTTPServer, ""))
	require.Eventually(t, func() bool {
		return len(l.Events.Find(lattice.EventProviderStarted, func(d map[string]any) bool {
			return d["public_key"] == builtinKey && d["image_ref"] == host.BuiltinHTTPServer && d["contract_id"] == contract.ContractID
		})) == 1
	}, 5*time.Second, 5*time.Millisecond, "provider_started")
	port := latticetest.FreePort(t)
	l.PutLink(builtinLink(echoID, port))

	status, body := awaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	require.Equal(t, 200, status)
	require.Equal(t, echoReply, body)
	status, body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/a/b?x=1", port))
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Equal(t, `{"body":[],"method":"GET","path":"/a/b","query_string":"x=1"}`, body)
	require.Zero(t, overNATS.Load(), "a local actor is called in process")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	inv, err := l.Ctl.GetInventory(ctx, h.ID())
	require.NoError(t, err)
	require.Len(t, inv.Providers, 1)
	p := inv.Providers[0]
	require.Equal(t, builtinKey, p.ID)
	require.Equal(t, host.BuiltinHTTPServer, p.ImageRef)
	require.Equal(t, contract.ContractID, p.ContractID)
	require.Equal(t, lattice.DefaultLinkName, p.LinkName)
	require.Equal(t, "HTTP Server (built-in)", p.Name)
	require.Equal(t, host.ProviderRunning, p.State)
	require.Equal(t, "healthy", p.Health)
	claims, err := l.Ctl.GetClaims(ctx)
	require.NoError(t, err)
	var found map[string]string
	for _, c := range claims {
		if c["sub"] == builtinKey {
			found = c
		}
	}
	require.NotNil(t, found, "claims of the built-in in get claims: %v", claims)
	require.Equal(t, contract.ContractID, found["contract_id"])
	require.Equal(t, "HTTP Server (built-in)", found["name"])

	require.NoError(t, l.Ctl.StopProvider(ctx, lattice.StopProviderCommand{ProviderRef: builtinKey, ContractID: contract.ContractID, HostID: h.ID()}))
	require.Eventually(t, func() bool {
		return len(l.Events.Find(lattice.EventProviderStopped, func(d map[string]any) bool { return d["public_key"] == builtinKey })) == 1
	}, 10*time.Second, 5*time.Millisecond, "provider_stopped")
	_, _, err = httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port))
	require.Error(t, err, "the listener is closed once provider_stopped is out")
	inv, err = l.Ctl.GetInventory(ctx, h.ID())
	require.NoError(t, err)
	require.Empty(t, inv.Providers)
}

// TestBuiltinHTTPServerRemote: host A runs the built-in, only host B runs echo; a request to A's
// listener reaches echo through a signed invocation from the built-in.
func TestBuiltinHTTPServerRemote(t *testing.T) {
	l := hosttest.New(t)
	a := l.StartHost(withBuiltins)
	b := l.StartHost(withBuiltins)
	echoID := l.StartActor(b, echoSigned(t, "echo", contract.ContractID).Path, 1)
	origins := make(chan lattice.Entity, 16)
	overNATS, stopCounting := countInvocations(t, l, echoID, func(m *nats.Msg) {
		inv, err := lattice.DecodeInvocation(m.Data)
		if err == nil && inv.Validate([]string{l.Cluster.PublicKey()}, time.Now()) == nil {
			select {
			case origins <- inv.Origin:
			default:
			}
		}
	})

	require.Equal(t, builtinKey, l.StartProvider(a, host.BuiltinHTTPServer, ""))
	port := latticetest.FreePort(t)
	l.PutLink(builtinLink(echoID, port))
	status, body := awaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	require.Equal(t, 200, status)
	require.Equal(t, echoReply, body)
	require.Positive(t, overNATS.Load())
	select {
	case o := <-origins:
		require.Equal(t, lattice.Entity{PublicKey: builtinKey, ContractID: contract.ContractID, LinkName: lattice.DefaultLinkName}, o)
	case <-time.After(5 * time.Second):
		t.Fatal("no signed invocation from the built-in seen on the actor's subject")
	}

	// With the actor running nowhere (and nothing else on its subject), the answer is the
	// process provider's: 503.
	stopCounting()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, l.Ctl.StopActor(ctx, lattice.StopActorCommand{ActorRef: echoID, HostID: b.ID()}))
	require.Eventually(t, func() bool {
		return len(l.Events.Find(lattice.EventActorStopped, func(d map[string]any) bool { return d["public_key"] == echoID })) == 1
	}, 10*time.Second, 5*time.Millisecond, "actor_stopped")
	status, body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port))
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "the actor is not running\n", body)
}

// TestBuiltinHTTPServerRefusesWithoutCapability: an actor without wasmcloud:httpserver in its
// claims is refused alike whether it runs on the built-in's host or on another.
func TestBuiltinHTTPServerRefusesWithoutCapability(t *testing.T) {
	l := hosttest.New(t)
	var logA, logB latticetest.SyncBuffer
	a := l.StartHost(withBuiltins, withLog(t, &logA))
	b := l.StartHost(withBuiltins, withLog(t, &logB))
	local := l.StartActor(a, echoSigned(t, "no caps here").Path, 1)
	remote := l.StartActor(b, echoSigned(t, "no caps there").Path, 1)
	l.StartProvider(a, host.BuiltinHTTPServer, "")
	pl, pr := latticetest.FreePort(t), latticetest.FreePort(t)
	l.PutLink(builtinLink(local, pl))
	l.PutLink(builtinLink(remote, pr))

	sl, bl := awaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", pl))
	sr, br := awaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", pr))
	require.Equal(t, 500, sl)
	require.Equal(t, sl, sr)
	require.Equal(t, bl, br)
	refusal := func(actor string) string {
		return fmt.Sprintf("actor %s does not have the capability %s that provider %s calls it for", actor, contract.ContractID, builtinKey)
	}
	require.Eventually(t, func() bool {
		return strings.Contains(logA.String(), refusal(local)) && strings.Contains(logB.String(), refusal(remote))
	}, 5*time.Second, 5*time.Millisecond, "host A: %s\nhost B: %s", logA.String(), logB.String())
}

// TestBuiltinHTTPServerCLI starts the built-in with `trellis ctl start provider REF` (an auction:
// only a host with the built-in bids), links it with `ctl link put`, and stops it.
func TestBuiltinHTTPServerCLI(t *testing.T) {
	useTempKeys(t)
	l := hosttest.New(t)
	h := l.StartHost(withBuiltins)
	l.StartHost() // a host without built-ins does not bid
	echoID := l.StartActor(h, echoSigned(t, "echo", contract.ContractID).Path, 1)
	natsURL := []string{"--nats-url", l.NS.ClientURL()}

	code, out, errOut := runCLI(t, context.Background(), append([]string{"ctl", "start", "provider", host.BuiltinHTTPServer}, natsURL...)...)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, out, builtinKey)
	require.Contains(t, out, h.ID())

	port := latticetest.FreePort(t)
	code, out, errOut = runCLI(t, context.Background(), append([]string{"ctl", "link", "put", echoID, builtinKey, contract.ContractID,
		fmt.Sprintf("ADDRESS=127.0.0.1:%d", port)}, natsURL...)...)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	status, body := awaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	require.Equal(t, 200, status)
	require.Equal(t, echoReply, body)

	code, out, errOut = runCLI(t, context.Background(), append([]string{"ctl", "get", "inventory", h.ID()}, natsURL...)...)
	require.Equal(t, 0, code, "stderr: %s", errOut)
	require.Contains(t, out, builtinKey)
	require.Contains(t, out, host.BuiltinHTTPServer)

	code, out, errOut = runCLI(t, context.Background(), append([]string{"ctl", "stop", "provider", builtinKey, contract.ContractID, "--host-id", h.ID()}, natsURL...)...)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	_, _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port))
	require.Error(t, err, "the listener is closed once the stop is reported")
}

// TestBuiltinHTTPServerLinks: a link put before the built-in starts is applied at start; a link
// it cannot bind is refused and logged, and applied once it changes; a deleted link closes its
// listener; stopping the host closes the rest.
func TestBuiltinHTTPServerLinks(t *testing.T) {
	l := hosttest.New(t)
	var logs latticetest.SyncBuffer
	h := l.StartHost(withBuiltins, withLog(t, &logs))
	first := l.StartActor(h, echoSigned(t, "first", contract.ContractID).Path, 1)
	second := l.StartActor(h, echoSigned(t, "second", contract.ContractID).Path, 1)
	p1 := latticetest.FreePort(t)
	l.PutLink(builtinLink(first, p1))

	l.StartProvider(h, host.BuiltinHTTPServer, "")
	status, body := awaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", p1))
	require.Equal(t, 200, status)
	require.Equal(t, echoReply, body)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	l.PutLink(lattice.LinkDefinition{ActorID: second, ProviderID: builtinKey, ContractID: contract.ContractID,
		Values: map[string]string{"ADDRESS": busy.Addr().String()}})
	require.Eventually(t, func() bool {
		s := logs.String()
		return strings.Contains(s, "link refused") && strings.Contains(s, "put link of actor "+second) && strings.Contains(s, "address already in use")
	}, 10*time.Second, 5*time.Millisecond, "the refused link is logged: %s", logs.String())
	p2 := latticetest.FreePort(t)
	l.PutLink(builtinLink(second, p2))
	status, _ = awaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", p2))
	require.Equal(t, 200, status)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, l.Ctl.DeleteLink(ctx, first, contract.ContractID, ""))
	require.Eventually(t, func() bool {
		_, _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", p1))
		return err != nil
	}, 10*time.Second, 5*time.Millisecond, "the deleted link's listener closes")
	status, _, err = httpGet(fmt.Sprintf("http://127.0.0.1:%d/", p2))
	require.NoError(t, err, "the other link's listener stays")
	require.Equal(t, 200, status)

	h.Stop()
	require.Eventually(t, func() bool {
		_, _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", p2))
		return err != nil
	}, 30*time.Second, 10*time.Millisecond, "a stopping host closes its built-in's listeners")
}
