package hosttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// RelayPackage is the test actor whose Relay.Revision operation answers the revision it was
// built with by Revisions.
const RelayPackage = "./host/testdata/relay"

var (
	revMu    sync.Mutex
	revCache = map[string][]byte{}
)

// ActorKeys are the account and module keys of one actor, to sign its revisions.
type ActorKeys struct {
	Account, Module *lattice.KeyPair
}

// NewActorKeys makes fresh keys for an actor.
func NewActorKeys(t testing.TB) ActorKeys {
	t.Helper()
	return ActorKeys{Account: latticetest.Key(t, lattice.PrefixAccount), Module: latticetest.Key(t, lattice.PrefixModule)}
}

// Sign signs module as claims revision rev (meta.Rev is set) and writes it to a temp file.
func (k ActorKeys) Sign(t testing.TB, module []byte, meta lattice.ActorMetadata, rev int) latticetest.Actor {
	t.Helper()
	meta.Rev = rev
	signed, claims, err := lattice.SignActor(module, k.Account, k.Module, meta, lattice.SignOptions{})
	if err != nil {
		t.Fatalf("sign %s revision %d: %v", meta.Name, rev, err)
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("%s_rev%d_s.wasm", strings.ReplaceAll(meta.Name, " ", "_"), rev))
	if err := os.WriteFile(path, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	return latticetest.Actor{Path: path, ID: k.Module.PublicKey(), Claims: claims, Module: signed}
}

// Build builds the Go actor package pkg for wasip1 with main.revision linked to build (-ldflags
// -X, for actors that report it, like RelayPackage) and signs it as claims revision rev. Builds
// are cached per test process.
func (k ActorKeys) Build(t testing.TB, pkg string, meta lattice.ActorMetadata, build, rev int) latticetest.Actor {
	t.Helper()
	return k.Sign(t, buildRevision(t, pkg, build), meta, rev)
}

// Revisions builds pkg once per revision (main.revision = that revision) and signs each build
// with one pair of keys as that revision: the modules of successive updates of one actor.
func Revisions(t testing.TB, pkg string, meta lattice.ActorMetadata, revs ...int) []latticetest.Actor {
	t.Helper()
	k := NewActorKeys(t)
	out := make([]latticetest.Actor, len(revs))
	for i, rev := range revs {
		out[i] = k.Build(t, pkg, meta, rev, rev)
	}
	return out
}

func buildRevision(t testing.TB, pkg string, rev int) []byte {
	t.Helper()
	key := pkg + "@" + strconv.Itoa(rev)
	revMu.Lock()
	defer revMu.Unlock()
	if b, ok := revCache[key]; ok {
		return b
	}
	out := filepath.Join(t.TempDir(), "actor.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-ldflags=-X=main.revision="+strconv.Itoa(rev), "-o", out, pkg)
	cmd.Dir = latticetest.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s revision %d for wasip1: %v\n%s", pkg, rev, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	revCache[key] = b
	return b
}
