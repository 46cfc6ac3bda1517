package host

import (
	"context"
	"os"
	"testing"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// BenchmarkActorCallInProcess measures one HttpServer.HandleRequest call into a warm echo
// instance: the wazero guest call and the waPC exchange, without NATS.
func BenchmarkActorCallInProcess(b *testing.B) {
	echo := latticetest.SignedActor(b, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
	cfg := DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.CacheDir = latticetest.CompilationCacheDir()
	h, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	h.rt, err = newRuntime(ctx, h)
	if err != nil {
		b.Fatal(err)
	}
	defer h.rt.close()
	module, err := os.ReadFile(echo.Path)
	if err != nil {
		b.Fatal(err)
	}
	v, err := verifyModule(module)
	if err != nil {
		b.Fatal(err)
	}
	am, err := h.compileModule(ctx, v)
	if err != nil {
		b.Fatal(err)
	}
	a := &actor{id: echo.ID}
	am.pool = newPool(1, h.instanceMaker(a, am))
	a.mod.Store(am)
	msg, err := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.runActor(ctx, a, httpserver.OpHandleRequest, msg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.runActor(ctx, a, httpserver.OpHandleRequest, msg); err != nil {
			b.Fatal(err)
		}
	}
}
