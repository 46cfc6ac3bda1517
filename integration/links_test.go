package integration_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestSignedLinks runs a host that trusts one account's links: unsigned, foreign-signed and
// tampered links are rejected and never reach the provider; a correctly signed link works.
func TestSignedLinks(t *testing.T) {
	l := hosttest.New(t)
	trusted := latticetest.Key(t, lattice.PrefixAccount)
	stranger := latticetest.Key(t, lattice.PrefixAccount)
	h := l.StartHost(func(c *host.Config) { c.LinkIssuers = []string{trusted.PublicKey()} })
	providerID := l.StartProvider(h, httpProvider(t).Path, "")
	l.Events.Wait(t, lattice.EventHealthCheckPassed, func(d map[string]any) bool { return d["public_key"] == providerID })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	link := func(actorID string, port int) lattice.LinkDefinition {
		return lattice.LinkDefinition{ActorID: actorID, ProviderID: providerID, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(port)}}
	}
	rejected := []struct {
		name   string
		make   func(actorID string, port int) lattice.LinkDefinition
		reason string
	}{
		{"unsigned", link, "unsigned"},
		{"foreign signer", func(a string, p int) lattice.LinkDefinition {
			l := link(a, p)
			require.NoError(t, lattice.SignLink(&l, stranger))
			return l
		}, "not a trusted link issuer"},
		{"values changed after signing", func(a string, p int) lattice.LinkDefinition {
			l := link(a, p)
			require.NoError(t, lattice.SignLink(&l, trusted))
			l.Values["ADDRESS"] = addr(p + 1)
			return l
		}, "values"},
	}
	var closedPorts []int
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
			lk := tt.make(actor, latticetest.FreePort(t))
			_, portStr, err := net.SplitHostPort(lk.Values["ADDRESS"])
			require.NoError(t, err)
			port, err := strconv.Atoi(portStr)
			require.NoError(t, err)
			closedPorts = append(closedPorts, port)
			require.NoError(t, l.Ctl.PutLink(ctx, lk))
			ev := l.Events.Wait(t, lattice.EventLinkdefRejected, func(d map[string]any) bool { return d["actor_id"] == actor })
			require.Contains(t, ev["reason"], tt.reason)
			links, err := l.Ctl.GetLinks(ctx)
			require.NoError(t, err)
			found := false
			for _, got := range links {
				if got.ActorID == actor {
					found = true
					require.True(t, strings.HasPrefix(got.Status, "rejected: "), got.Status)
					require.Contains(t, got.Status, tt.reason)
				}
			}
			require.True(t, found, "ctl get links shows the rejected link")
		})
	}

	// A correctly signed link is applied and serves.
	echoID := l.StartActor(h, echoActor(t).Path, 1)
	port := latticetest.FreePort(t)
	good := link(echoID, port)
	require.NoError(t, lattice.SignLink(&good, trusted))
	require.NoError(t, l.Ctl.PutLink(ctx, good))
	status, body := waitHTTP(t, url(port, "/"))
	require.Equal(t, 200, status)
	require.Equal(t, echoBody, body)
	links, err := l.Ctl.GetLinks(ctx)
	require.NoError(t, err)
	for _, got := range links {
		if got.ActorID == echoID {
			require.Equal(t, "signed", got.Status)
		}
	}
	// Links reach the provider in order, so the rejected ones would be open by now.
	for _, p := range closedPorts {
		_, _, err := get(url(p, "/"))
		require.Error(t, err, "a rejected link reached the provider: port %d answers", p)
	}
}

func TestBadArchivesAndHostData(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost()
	bin := latticetest.BuildBinary(t, "./cmd/provider-httpserver")
	here := lattice.TargetName(runtime.GOOS, runtime.GOARCH)
	meta := lattice.ProviderMetadata{Name: "HTTP Server", CapID: httpserver.ContractID, Vendor: "Trellis"}

	t.Run("wrong target hash", func(t *testing.T) {
		p := latticetest.WriteArchive(t, meta, map[string][]byte{here: bin})
		tamperArchiveBinary(t, p.Path)
		msg := l.StartProviderFails(h, p.Path)
		require.Contains(t, msg, "hash")
	})
	t.Run("another architecture only", func(t *testing.T) {
		p := latticetest.WriteArchive(t, meta, map[string][]byte{"riscv64gc-linux": bin})
		msg := l.StartProviderFails(h, p.Path)
		require.Contains(t, msg, "no "+here+" binary")
		require.Contains(t, msg, "riscv64gc-linux")
	})
	t.Run("malformed host data", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "provider")
		require.NoError(t, os.WriteFile(path, bin, 0o755))
		for _, stdin := range []string{"", "not base64 at all!\n", "e30=\n" /* {} */} {
			cmd := exec.Command(path)
			cmd.Stdin = strings.NewReader(stdin)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "stdin %q", stdin)
			require.Contains(t, strings.ToLower(string(out)), "host data", "stdin %q: %s", stdin, out)
		}
	})
	// The host still serves.
	_, err := l.Ctl.GetInventory(context.Background(), h.ID())
	require.NoError(t, err)
}

// tamperArchiveBinary rewrites a .par.gz with one byte of its binary changed, keeping the claims.
func tamperArchiveBinary(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	par, err := lattice.ReadPAR(f)
	f.Close()
	require.NoError(t, err)
	require.NoError(t, rewriteArchive(path, par.Token, par.Targets, func(b []byte) { b[len(b)/2] ^= 0xff }))
}
