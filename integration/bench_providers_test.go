package integration_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/httpserver"
)

// The provider rows of BenchmarkHTTPEcho besides wire: the host's built-in HTTP server, and the
// httpserver provider run inside the test process.
const (
	builtinHTTPServer = "wasmcloud+builtin://http-server"
	// Link names of the extra rows: the echo actor's default httpserver link is wire's.
	builtinLinkName = "builtin"
	inprocLinkName  = "inproc"
)

// startProviderRef starts the provider at ref under linkName on h through the ctl client and
// returns its key as the host's inventory lists it. Unlike hosttest's StartProvider it works for
// any reference (not only an archive whose claims the test knows) and returns an error instead
// of failing the benchmark: a refused command, a provider_start_failed event, or 30 s without
// the provider in the inventory.
func startProviderRef(l *hosttest.Lattice, h *host.Host, ref, linkName string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	outcome := lattice.ProviderStart(h.ID(), ref, linkName)
	w, err := l.Ctl.NewWaiter(outcome.Match)
	if err != nil {
		return "", err
	}
	defer w.Stop() //nolint:errcheck // the outcome is in hand
	if err := l.Ctl.StartProvider(ctx, lattice.StartProviderCommand{ProviderRef: ref, LinkName: linkName, HostID: h.ID()}); err != nil {
		return "", err
	}
	// The event says how the start ended; the inventory says under which key it runs. Either
	// may come first (or an event may not name ref as this host does): watch both.
	ended := make(chan lattice.StartOutcome, 1)
	go func() {
		if ev, err := w.Wait(ctx); err == nil {
			o, _ := outcome(ev)
			ended <- o
		}
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		select {
		case o := <-ended:
			if o.Failed {
				return "", errors.New(o.Error)
			}
		case <-tick.C:
		case <-ctx.Done():
			if lastErr != nil {
				return "", fmt.Errorf("not in the inventory of host %s: %w", h.ID(), lastErr)
			}
			return "", fmt.Errorf("not in the inventory of host %s: %w", h.ID(), ctx.Err())
		}
		inv, err := l.Ctl.GetInventory(ctx, h.ID())
		if err != nil {
			lastErr = err
			continue
		}
		for _, p := range inv.Providers {
			if p.ImageRef == ref && orDefaultLink(p.LinkName) == orDefaultLink(linkName) && (p.State == "" || p.State == host.ProviderRunning) {
				return p.ID, nil
			}
		}
	}
}

func orDefaultLink(name string) string {
	if name == "" {
		return lattice.DefaultLinkName
	}
	return name
}

// inprocProvider runs the httpserver provider in the test process with the HostData a host gives
// a child (host/provider_process.go), a fresh service key, and the echo actor linked to it on a
// free port; it returns the URL the provider serves.
func inprocProvider(b *testing.B, l *hosttest.Lattice, h *host.Host, echoID string) string {
	key := latticetest.Key(b, lattice.PrefixService).PublicKey()
	port := latticetest.FreePort(b)
	link := lattice.LinkDefinition{ActorID: echoID, ProviderID: key, LinkName: inprocLinkName, ContractID: contract.ContractID, Values: map[string]string{"ADDRESS": addr(port)}}
	link.Normalize()
	cfg := l.Config()
	hd := lattice.HostData{
		HostID: h.ID(), LatticeRPCPrefix: cfg.Lattice, LinkName: inprocLinkName,
		LatticeRPCURL: addr(latticetest.Port(b, l.NS)), EnvValues: map[string]string{}, InstanceID: "bench-inproc",
		ProviderKey: key, LinkDefinitions: []lattice.LinkDefinition{link},
		DefaultRPCTimeoutMS: uint64(cfg.RPCTimeout.Milliseconds()), ClusterIssuers: []string{h.ClusterPublicKey()},
		InvocationSeed: l.Seed, LogLevel: "warn",
	}
	pcfg := httpserver.Config()
	pcfg.Logger = providers.NewLogger(zerolog.NewTestWriter(b), hd)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- providers.Run(ctx, hd, httpserver.New(), pcfg) }()
	b.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(b, err)
		case <-time.After(10 * time.Second):
			b.Error("in-process httpserver provider did not stop within 10s")
		}
	})
	// The lattice knows the link too, as it would for a provider a host runs.
	l.PutLink(link)
	return url(port, "/")
}

// withBuiltinHTTPServer gives a host the built-in HTTP server, as `trellis up` and `trellis host`
// do (cmd/trellis/builtin.go).
func withBuiltinHTTPServer(c *host.Config) {
	c.Builtins = map[string]host.BuiltinProvider{
		host.BuiltinHTTPServer: {
			Name:       httpserver.BuiltinName,
			ContractID: contract.ContractID,
			New: func(_ context.Context, bh *host.BuiltinHost) (host.Builtin, error) {
				return httpserver.NewWithCaller(bh, bh.Logger()), nil
			},
		},
	}
}
