package host

import (
	"context"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"os"
	"strings"
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
	swapRuntime(ctx, h)
	defer h.rt.close()
	module, _ := os.ReadFile(act.Path)
	am, err := h.prepareModule(ctx, module)
	if err != nil {
		b.Fatal(err)
	}
	msg, _ := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	ops := []string{"X.Nop"}
	if os.Getenv("EXP_OPS") != "" {
		ops = strings.Split(os.Getenv("EXP_OPS"), ",")
	}
	_ = []string{"X.Nop", "X.Alloc", "X.Deep", "X.Decode", "X.Encode", "X.JSON", httpserver.OpHandleRequest}
	for _, gcoff := range []bool{false} {
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
				var st []byte
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := h.runActor(ctx, a, op, msg); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				var st2 []byte
				b.Logf("N=%d\nbefore %s\nafter  %s", b.N, st, st2)
			})
		}
	}
}

func TestZZInGuest(t *testing.T) {
	pkg := os.Getenv("EXP_PKG")
	if pkg == "" {
		pkg = "./actor/zz_exp"
	}
	act := latticetest.SignedActor(t, pkg, lattice.ActorMetadata{Name: "exp", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.CacheDir = latticetest.CompilationCacheDir()
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h.rt, err = newRuntime(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	swapRuntime(ctx, h)
	defer h.rt.close()
	module, _ := os.ReadFile(act.Path)
	am, err := h.prepareModule(ctx, module)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	a := &actor{id: act.ID}
	am.pool = newPool(1, h.instanceMaker(a, am))
	a.mod.Store(am)
	st, _ := h.runActor(ctx, a, "X.Stats", nil)
	for i := 0; i < 2000; i++ {
		h.runActor(ctx, a, httpserver.OpHandleRequest, msg)
	}
	st2, _ := h.runActor(ctx, a, "X.Stats", nil)
	t.Logf("2000 echo calls:\n%s\n%s", st, st2)
	for _, op := range []string{"T.Nothing", "P.MapLookup", "P.Eq24", "P.Clone60", "P.Defer"} {
		for i := 0; i < 3; i++ {
			out, err := h.runActor(ctx, a, op, msg)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s ns/iter", op, out)
		}
	}
}

func swapRuntime(ctx context.Context, h *Host) {
	if v := os.Getenv("EXP_RT"); v != "" {
		rc := wazero.NewRuntimeConfig()
		if v == "interp" {
			rc = wazero.NewRuntimeConfigInterpreter()
		}
		if v == "compiler-noclose" {
			rc = wazero.NewRuntimeConfigCompiler()
		}
		r := wazero.NewRuntimeWithConfig(ctx, rc)
		wasi_snapshot_preview1.MustInstantiate(ctx, r)
		instantiateHostModule(ctx, r, "wasmbus")
		instantiateHostModule(ctx, r, "wapc")
		h.rt = &runtime{r: r, cache: h.rt.cache}
	}
}

// EXP_WASMS="name=path:op,..."
func BenchmarkZZModules(b *testing.B) {
	ctx := context.Background()
	for _, spec := range strings.Split(os.Getenv("EXP_WASMS"), ",") {
		name, rest, _ := strings.Cut(spec, "=")
		path, op, _ := strings.Cut(rest, ":")
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		act := latticetest.SignModule(b, raw, lattice.ActorMetadata{Name: name, Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
		cfg := DefaultConfig()
		cfg.DataDir = b.TempDir()
		cfg.CacheDir = latticetest.CompilationCacheDir()
		h, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		h.rt, err = newRuntime(ctx, h)
		if err != nil {
			b.Fatal(err)
		}
		swapRuntime(ctx, h)
		am, err := h.prepareModule(ctx, act.Module)
		if err != nil {
			b.Fatal(err)
		}
		a := &actor{id: act.ID}
		am.pool = newPool(1, h.instanceMaker(a, am))
		a.mod.Store(am)
		msg, _ := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
		out, err := h.runActor(ctx, a, op, msg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.runActor(ctx, a, op, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Logf("%s: %d bytes, reply %q", name, len(raw), out)
		h.rt.close()
	}
}
