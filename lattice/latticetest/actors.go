package latticetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-lattice/trellis/lattice"
)

// ModuleRoot returns the directory of the repository's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		t.Fatalf("find module root: go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

var (
	buildMu    sync.Mutex
	buildCache = map[string][]byte{}
)

// BuildWasm builds a Go actor package (e.g. "./actor/examples/echo") for wasip1 as a reactor and
// returns the unsigned module. Builds are cached per test process.
func BuildWasm(t testing.TB, pkg string) []byte {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := buildCache[pkg]; ok {
		return b
	}
	out := filepath.Join(t.TempDir(), "actor.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Dir = ModuleRoot(t)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s for wasip1: %v\n%s", pkg, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	buildCache[pkg] = b
	return b
}

// Actor is a signed test actor written to disk.
type Actor struct {
	Path   string
	ID     string
	Claims *lattice.ActorClaims
	Module []byte
}

// SignedActor builds pkg, signs it with a fresh account and module key and the given metadata,
// and writes it to a temp file.
func SignedActor(t testing.TB, pkg string, meta lattice.ActorMetadata, opts lattice.SignOptions) Actor {
	t.Helper()
	return SignModule(t, BuildWasm(t, pkg), meta, opts)
}

// SignModule signs module with a fresh account and module key and writes it to a temp file.
func SignModule(t testing.TB, module []byte, meta lattice.ActorMetadata, opts lattice.SignOptions) Actor {
	t.Helper()
	account := Key(t, lattice.PrefixAccount)
	subject := Key(t, lattice.PrefixModule)
	signed, claims, err := lattice.SignActor(module, account, subject, meta, opts)
	if err != nil {
		t.Fatalf("sign actor: %v", err)
	}
	path := filepath.Join(t.TempDir(), strings.ReplaceAll(meta.Name, " ", "_")+"_s.wasm")
	if err := os.WriteFile(path, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	return Actor{Path: path, ID: subject.PublicKey(), Claims: claims, Module: signed}
}

// Expired returns sign options whose claims expired an hour ago.
func Expired() lattice.SignOptions {
	return lattice.SignOptions{Expires: time.Now().Add(-time.Hour)}
}

// CompilationCacheDir is a wazero compilation cache shared by test hosts across packages and runs
// on this machine ($TRELLIS_TEST_CACHE, else the user cache dir). Compiling a Go actor takes
// seconds; loading it from the cache, milliseconds.
func CompilationCacheDir() string {
	if d := os.Getenv("TRELLIS_TEST_CACHE"); d != "" {
		return filepath.Join(d, "wazero")
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "trellis-test", "wazero")
}
