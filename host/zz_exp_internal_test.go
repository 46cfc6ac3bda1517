package host

import (
	"context"
	"os"
	"testing"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

func BenchmarkZZExp(b *testing.B) {
	pkg := os.Getenv("EXP_PKG")
	if pkg == "" {
		pkg = "./actor/zz_exp"
	}
	act := latticetest.SignedActor(b, pkg, lattice.ActorMetadata{Name: "exp", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
	b.Logf("module size %d", len(act.Module))
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
	module, _ := os.ReadFile(act.Path)
	am, err := h.prepareModule(ctx, module)
	if err != nil {
		b.Fatal(err)
	}
	msg, _ := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	ops := []string{"X.Nop", "X.Alloc", "X.Deep", "X.Decode", "X.Encode", "X.JSON", httpserver.OpHandleRequest}
	for _, gcoff := range []bool{false, true} {
		for _, op := range ops {
			name := op
			if gcoff {
				name = "gcoff/" + op
			}
			b.Run(name, func(b *testing.B) {
				a := &actor{id: act.ID}
				am.pool = newPool(1, h.instanceMaker(a, am))
				a.mod.Store(am)
				if gcoff {
					if _, err := h.runActor(ctx, a, "X.GCOff", nil); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := h.runActor(ctx, a, op, msg); err != nil {
					b.Fatal(err)
				}
				st, _ := h.runActor(ctx, a, "X.Stats", nil)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := h.runActor(ctx, a, op, msg); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				st2, _ := h.runActor(ctx, a, "X.Stats", nil)
				b.Logf("N=%d\nbefore %s\nafter  %s", b.N, st, st2)
			})
		}
	}
}
