package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

func writeSized(t *testing.T, path string, size int) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, make([]byte, size), 0o644))
}

// TestDrain drains the caches of a data dir a host is running a provider from: every cache's
// files go and their sizes are reported, but the running provider's binary, a file being
// written, the provider records and the JetStream store stay.
func TestDrain(t *testing.T) {
	useTempKeys(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.DataDir, c.CacheDir = dir, "" })
	provider := latticetest.ProviderArchive(t, "./cmd/provider-httpserver", lattice.ProviderMetadata{
		Name: "HTTP Server", CapID: contract.ContractID, Vendor: "Trellis"})
	providerID := l.StartProvider(h, provider.Path, "")
	running, err := host.RunningProviders(dir)
	require.NoError(t, err)
	if runtime.GOOS == "linux" {
		require.Len(t, running, 1)
		require.True(t, strings.HasPrefix(running[0].Binary, filepath.Join(dir, "providers", providerID)+"/"), running[0].Binary)
	}

	writeSized(t, filepath.Join(dir, "oci", "blobs", "sha256", "aa"), 1000)
	writeSized(t, filepath.Join(dir, "oci", "refs", "bb.json"), 24)
	writeSized(t, filepath.Join(dir, "providers", "VOLD", "0123-x86_64-linux.bin"), 4096)
	compiledDir := filepath.Join(dir, "wazero", "wazero-v1-amd64-linux")
	writeSized(t, filepath.Join(compiledDir, "cc"), 2000)
	writeSized(t, filepath.Join(compiledDir, "dd.123.tmp"), 7) // being written
	writeSized(t, filepath.Join(dir, "jetstream", "store"), 10)
	pids, err := os.ReadDir(filepath.Join(dir, "providers", "pids"))
	require.NoError(t, err)

	code, out, errOut := runCLI(t, context.Background(), "drain", "all", "--data-dir", dir, "-o", "json")
	require.Equal(t, 0, code, errOut)
	var rep drainReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Len(t, rep.Caches, 4)
	byName := map[string]cacheReport{}
	for _, c := range rep.Caches {
		byName[c.Cache] = c
	}
	require.Equal(t, cacheReport{Cache: "oci", Path: filepath.Join(dir, "oci"), Files: 2, FreedBytes: 1024, Kept: []keptFile{}}, byName["oci"])
	require.Equal(t, int64(2000), byName["compiled"].FreedBytes)
	require.Equal(t, []keptFile{{Path: filepath.Join(compiledDir, "dd.123.tmp"), Bytes: 7, Reason: "being written"}}, byName["compiled"].Kept)
	require.DirExists(t, compiledDir, "a running host's compilation cache keeps its directories")
	require.Contains(t, byName["downloads"].Note, "Trellis downloads no host or NATS binaries")
	require.Zero(t, byName["downloads"].FreedBytes)

	prov := byName["providers"]
	require.NoDirExists(t, filepath.Join(dir, "providers", "VOLD"))
	if runtime.GOOS == "linux" {
		require.Equal(t, int64(4096), prov.FreedBytes, "only the stale binary is freed")
		require.Len(t, prov.Kept, 1)
		require.Equal(t, running[0].Binary, prov.Kept[0].Path)
		require.Contains(t, prov.Kept[0].Reason, "in use by provider process")
		require.FileExists(t, running[0].Binary)
	}
	require.Equal(t, rep.FreedBytes, byName["oci"].FreedBytes+prov.FreedBytes+byName["compiled"].FreedBytes)
	require.FileExists(t, filepath.Join(dir, "jetstream", "store"))
	left, err := os.ReadDir(filepath.Join(dir, "providers", "pids"))
	require.NoError(t, err)
	require.Len(t, left, len(pids), "the provider records stay")
	require.NoFileExists(t, filepath.Join(dir, "oci", "blobs", "sha256", "aa"))

	// The provider still answers its health checks: nothing it needs went away.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	inv, err := l.Ctl.GetInventory(ctx, h.ID())
	require.NoError(t, err)
	require.Len(t, inv.Providers, 1)
	require.Equal(t, host.ProviderRunning, inv.Providers[0].State)

	// Draining again frees nothing; text output names each cache.
	code, out, errOut = runCLI(t, context.Background(), "drain", "lib", "--data-dir", dir)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Drained the caches under "+dir)
	require.Contains(t, out, "providers")
	require.Contains(t, out, "compiled")
	require.NotContains(t, out, "oci ")
	require.Contains(t, out, "Freed 0 B")
}

func TestDrainErrors(t *testing.T) {
	ctx := context.Background()
	code, _, errOut := runCLI(t, ctx, "drain", "smithy")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `drain "smithy": want all, oci, lib or downloads`)

	empty := filepath.Join(t.TempDir(), "none")
	code, out, errOut := runCLI(t, ctx, "drain", "oci", "--data-dir", empty, "-o", "json")
	require.Equal(t, 0, code, errOut)
	var rep drainReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, "nothing there", rep.Caches[0].Note)
	require.NoDirExists(t, empty, "drain makes nothing")

	t.Setenv("TRELLIS_DATA_DIR", empty)
	code, out, _ = runCLI(t, ctx, "drain", "downloads")
	require.Equal(t, 0, code)
	require.Contains(t, out, empty)
}
