package providertest

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
)

// Binary describes a provider command (cmd/provider-NAME) for RunBinary.
type Binary struct {
	// Package is the command's package directory, relative to the test's; "" means the test's own.
	Package string
	// ContractID is the contract the provider's links name.
	ContractID string
	// LinkValues and Probe are as in Subject: the values of a working link, and one exercise of
	// the linked provider.
	LinkValues func(t *testing.T) map[string]string
	Probe      func(t *testing.T, env Env)
}

// RunBinary builds the command and runs it as a host does: malformed HostData makes it exit with
// providers.ExitHostData naming the problem; good HostData on stdin makes it answer health
// checks, accept a link, serve b.Probe, and exit 0 after a shutdown request.
func RunBinary(t *testing.T, b Binary) {
	bin := filepath.Join(t.TempDir(), "provider")
	build := exec.Command("go", "build", "-o", bin, "./"+strings.TrimPrefix(b.Package, "./"))
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	t.Run("bad host data", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Stdin = strings.NewReader("not base64 at all\n")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "exit status: %v", err)
		require.Equal(t, providers.ExitHostData, exit.ExitCode())
		require.Contains(t, string(out), "host data")
	})

	t.Run("serves and shuts down", func(t *testing.T) {
		lat := newLattice(t, latticetest.RunNATS(t))
		s := Subject{Config: providers.Config{ContractID: b.ContractID}, LinkValues: b.LinkValues}
		pr := &provider{lat: lat, hd: lat.hostData(t), cfg: s.Config}
		line, err := pr.hd.Encode()
		require.NoError(t, err)

		var logs latticetest.SyncBuffer
		cmd := exec.Command(bin)
		cmd.Stdin = bytes.NewReader(line)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
		})

		health := lat.subj.ProviderHealth(pr.hd.ProviderKey, pr.hd.LinkName)
		require.Eventually(t, func() bool {
			_, err := lat.nc.Request(health, nil, 200*time.Millisecond)
			return err == nil
		}, 10*time.Second, 20*time.Millisecond, "no health answer; logs:\n%s", &logs)

		actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
		link := pr.putLink(t, s, actor)
		if b.Probe != nil {
			b.Probe(t, pr.env(actor, link))
		}

		m, err := lat.nc.Request(lat.subj.ProviderShutdown(pr.hd.ProviderKey, pr.hd.LinkName), fmt.Appendf(nil, `{"host_id":%q}`, pr.hd.HostID), 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, lattice.ShutdownAck, string(m.Data))
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			require.NoError(t, err, "exit status; logs:\n%s", &logs)
			require.NotContains(t, logs.String(), "connection lost", "an orderly shutdown is not a lost connection")
		case <-time.After(10 * time.Second):
			t.Fatalf("the provider did not exit within 10s of the shutdown request; logs:\n%s", &logs)
		}
	})
}
