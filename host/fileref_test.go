package host_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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

// vmRSS is this process's resident set size, from /proc/self/status.
func vmRSS(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

func totalAlloc() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.TotalAlloc)
}

// TestFileReferencesAreRefused: a host reads only regular files, under the directories it
// allows, up to its size cap. Each refusal is a clear error, the host keeps serving, and its
// memory does not grow by what it refused (the refusals run in this process: the host is
// in-process, so its allocations are this test's).
func TestFileReferencesAreRefused(t *testing.T) {
	echo := echoActor(t)
	allowed, outside := t.TempDir(), t.TempDir()
	limit := int64(len(echo.Module)) + 1<<20

	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.AllowFileLoad = []string{allowed}; c.MaxArtifactSize = limit })
	// A second host also allows /dev: a device there is refused for what it is.
	hdev := l.StartHost(func(c *host.Config) { c.AllowFileLoad = []string{allowed, "/dev"}; c.MaxArtifactSize = limit })

	write := func(dir, name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	inside := write(allowed, "echo_s.wasm", echo.Module)
	outsideFile := write(outside, "echo_s.wasm", echo.Module)
	echoID := l.StartActor(h, inside, 1)

	require.NoError(t, os.Mkdir(filepath.Join(allowed, "sub"), 0o755))
	fifo := filepath.Join(allowed, "actor.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	sock := filepath.Join(allowed, "actor.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	overByOne := write(allowed, "over_s.wasm", append(bytes.Repeat([]byte{0}, int(limit)), 0))
	huge := filepath.Join(allowed, "huge_s.wasm") // 4 GiB, sparse: reading it would show
	hf, err := os.Create(huge)
	require.NoError(t, err)
	require.NoError(t, hf.Truncate(4<<30))
	require.NoError(t, hf.Close())
	require.NoError(t, os.Symlink(outside, filepath.Join(allowed, "out")))                                    // a directory outside
	require.NoError(t, os.Symlink(outsideFile, filepath.Join(allowed, "out_s.wasm")))                         // a file outside
	require.NoError(t, os.Symlink(filepath.Join(outside, "nosuch.wasm"), filepath.Join(allowed, "dangling"))) // nothing outside
	require.NoError(t, os.Symlink("../"+filepath.Base(outside)+"/echo_s.wasm", filepath.Join(allowed, "rel_s.wasm")))
	require.NoError(t, os.Symlink("echo_s.wasm", filepath.Join(allowed, "link_s.wasm"))) // inside: fine

	outsideMsg := "is not under a directory this host loads files from (" + allowed + "; see --allow-file-load)"
	// The outside paths that exist and those that do not get the same words.
	outsideRefs := []string{
		"/dev/zero", "/etc/passwd", "/etc/nosuch", outsideFile, filepath.Join(outside, "nosuch.wasm"),
		filepath.Join(allowed, "..", filepath.Base(outside), "echo_s.wasm"),
		filepath.Join(allowed, "..", filepath.Base(outside), "nosuch.wasm"),
		"file://" + outsideFile,
		filepath.Join(allowed, "out", "echo_s.wasm"), filepath.Join(allowed, "out", "nosuch.wasm"),
		filepath.Join(allowed, "out_s.wasm"), filepath.Join(allowed, "dangling"), filepath.Join(allowed, "rel_s.wasm"),
	}
	tests := []struct {
		name string
		on   *host.Host
		ref  string
		want string
	}{
		{"a directory", h, filepath.Join(allowed, "sub"), "is a directory, not a regular file"},
		{"the allowed directory itself", h, allowed, "is a directory, not a regular file"},
		{"a FIFO", h, fifo, "is a FIFO (named pipe), not a regular file"},
		{"a socket", h, sock, "is a socket, not a regular file"},
		{"a device", hdev, "/dev/zero", "is a character device, not a regular file"},
		{"a device by a file URL", hdev, "file:///dev/zero", "is a character device, not a regular file"},
		{"one byte over the cap", h, overByOne, "is " + strconv.FormatInt(limit+1, 10) + " bytes: over this host's limit of " +
			strconv.FormatInt(limit, 10) + " bytes for an actor or provider archive (--max-artifact-size)"},
		{"4 GiB", h, huge, "is 4294967296 bytes: over this host's limit"},
		{"missing inside", h, filepath.Join(allowed, "nosuch.wasm"), "no such file"},
	}
	for _, ref := range outsideRefs {
		tests = append(tests, struct {
			name string
			on   *host.Host
			ref  string
			want string
		}{"outside " + ref, h, ref, outsideMsg})
	}

	rss0, alloc0 := vmRSS(t), totalAlloc()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := totalAlloc()
			msg := l.StartActorFails(tt.on, tt.ref)
			require.Contains(t, msg, tt.ref) // the error names the reference
			require.Contains(t, msg, tt.want)
			// Not one read of what was refused: far less than the cap was allocated meanwhile
			// (by the host, the NATS server and this test's client together).
			require.Less(t, totalAlloc()-before, limit, "allocated while refusing %s", tt.ref)
			// Still serving.
			resp := callHTTP(t, l, echoID, httpserver.HttpRequest{Method: "GET", Path: "/"})
			require.EqualValues(t, 200, resp.StatusCode)
		})
	}
	rss1, alloc1 := vmRSS(t), totalAlloc()
	t.Logf("%d refusals: VmRSS %d → %d KiB, %d KiB allocated in all (cap %d KiB)", len(tests), rss0>>10, rss1>>10, (alloc1-alloc0)>>10, limit>>10)
	require.Less(t, rss1-rss0, limit+32<<20, "VmRSS grew by %d bytes", rss1-rss0)

	// The same words for an outside path whether it exists or not.
	norm := func(ref string) string {
		return strings.ReplaceAll(l.StartActorFails(h, ref), ref, "REF")
	}
	require.Equal(t, norm(outsideFile), norm(filepath.Join(outside, "nosuch.wasm")))
	require.Equal(t, norm(filepath.Join(allowed, "out_s.wasm")), norm(filepath.Join(allowed, "dangling")))
	// A bare name is a file only under an allowed directory: one that exists in the working
	// directory (not allowed) reads as one that exists nowhere.
	require.FileExists(t, "fileref_test.go")
	require.Equal(t, norm("fileref_test.go"), norm("nosuch_test.go"))

	// A symlink inside to a file inside is fine.
	require.Equal(t, echoID, l.StartActor(h, filepath.Join(allowed, "link_s.wasm"), 1))
	inv, err := l.Ctl.GetInventory(context.Background(), h.ID())
	require.NoError(t, err)
	require.Len(t, inv.Actors, 1)
}

// TestFileLoadDisabled: a host without --allow-file-load reads no file, and says so for paths
// without telling whether they exist.
func TestFileLoadDisabled(t *testing.T) {
	echo := echoActor(t)
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.AllowFileLoad = nil })
	for _, ref := range []string{echo.Path, "/etc/nosuch", "file://" + echo.Path} {
		msg := l.StartActorFails(h, ref)
		require.Contains(t, msg, ref+" looks like a file path, but this host does not load files (start it with --allow-file-load=DIR)")
	}
	// A bare name is an OCI reference only.
	msg := l.StartActorFails(h, "fileref_test.go")
	require.Equal(t, "pull fileref_test.go: invalid OCI reference \"fileref_test.go\": no registry host: write REGISTRY/REPOSITORY:TAG, e.g. 127.0.0.1:5000/fileref_test.go", msg)
}

// TestFIFOReferenceDoesNotBlockStop: a FIFO reference is refused at once, and the host still
// stops when asked (as on SIGTERM).
func TestFIFOReferenceDoesNotBlockStop(t *testing.T) {
	l := hosttest.New(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "actor.wasm")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	cfg := l.Config()
	cfg.AllowFileLoad = []string{dir}
	h, err := host.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	select {
	case <-h.Ready():
	case err := <-done:
		t.Fatalf("host did not start: %v", err)
	}
	require.Contains(t, l.StartActorFails(h, fifo), "is a FIFO (named pipe), not a regular file")
	// A provider reference to it too.
	require.Contains(t, l.StartProviderFails(h, fifo), "is a FIFO (named pipe), not a regular file")
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("host did not stop within 10 s")
	}
}

// TestProviderIssuers: with ProviderIssuers set, an archive signed by another account is refused
// before anything of it is extracted or run, from a file and from a registry; one signed by a
// listed account is extracted.
func TestProviderIssuers(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	prov := fakeProvider(t)
	ref := reg.Addr + "/untrusted:1.0.0"
	pushTo(t, reg, ref, prov.Path, nil)
	other, err := lattice.CreateKeyPair(lattice.PrefixAccount)
	require.NoError(t, err)
	require.NotEmpty(t, prov.Claims.Issuer)

	l := hosttest.New(t)
	dataDir := t.TempDir()
	h := l.StartHost(insecure(reg), func(c *host.Config) {
		c.DataDir = dataDir
		c.ProviderIssuers = []string{other.PublicKey()}
	})
	for _, r := range []string{prov.Path, ref} {
		msg := l.StartProviderFails(h, r)
		require.Contains(t, msg, "is signed by account "+prov.Claims.Issuer+", which is not one of the 1 trusted provider issuers")
		require.Contains(t, msg, "--provider-issuers")
		require.NoDirExists(t, filepath.Join(dataDir, "providers"), "nothing extracted")
	}
	inv, err := l.Ctl.GetInventory(context.Background(), h.ID())
	require.NoError(t, err)
	require.Empty(t, inv.Providers)

	// Listed: the same archive is extracted (it is no real provider, so it does not run long).
	dataDir2 := t.TempDir()
	h2 := l.StartHost(func(c *host.Config) {
		c.DataDir = dataDir2
		c.ProviderIssuers = []string{other.PublicKey(), prov.Claims.Issuer}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, l.Ctl.StartProvider(ctx, lattice.StartProviderCommand{ProviderRef: prov.Path, HostID: h2.ID()}))
	require.Eventually(t, func() bool {
		bins, _ := filepath.Glob(filepath.Join(dataDir2, "providers", prov.ID, "*.bin"))
		return len(bins) == 1
	}, 10*time.Second, 20*time.Millisecond, "the archive of a listed issuer is extracted")
}
