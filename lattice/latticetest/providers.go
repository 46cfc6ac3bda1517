package latticetest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/trellis-lattice/trellis/lattice"
)

// BuildBinary builds a Go command package (e.g. "./cmd/provider-httpserver") for this platform
// and returns its bytes. Builds are cached per test process.
func BuildBinary(t testing.TB, pkg string) []byte {
	t.Helper()
	key := "native:" + pkg
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := buildCache[key]; ok {
		return b
	}
	out := filepath.Join(t.TempDir(), "provider.bin")
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	buildCache[key] = b
	return b
}

// Provider is a signed test provider archive written to disk.
type Provider struct {
	Path   string
	ID     string
	Claims *lattice.ProviderClaims
}

// ProviderArchive builds pkg for this platform and writes a signed .par.gz with it as the only
// target, signed by a fresh account and service key.
func ProviderArchive(t testing.TB, pkg string, meta lattice.ProviderMetadata) Provider {
	t.Helper()
	bin := BuildBinary(t, pkg)
	return WriteArchive(t, meta, map[string][]byte{lattice.TargetName(runtime.GOOS, runtime.GOARCH): bin})
}

// WriteArchive signs targets into a .par.gz in a temp dir.
func WriteArchive(t testing.TB, meta lattice.ProviderMetadata, targets map[string][]byte) Provider {
	t.Helper()
	account := Key(t, lattice.PrefixAccount)
	service := Key(t, lattice.PrefixService)
	var buf bytes.Buffer
	claims, err := lattice.WritePAR(&buf, account, service, meta, targets, lattice.SignOptions{})
	if err != nil {
		t.Fatalf("write provider archive: %v", err)
	}
	path := filepath.Join(t.TempDir(), "provider.par.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return Provider{Path: path, ID: service.PublicKey(), Claims: claims}
}
