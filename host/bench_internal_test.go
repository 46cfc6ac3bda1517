package host

import (
	"context"
	"os"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// echoBench is the Go echo actor compiled in a host's runtime, with a request for it.
type echoBench struct {
	h   *Host
	a   *actor
	am  *actorModule
	msg []byte
}

func newEchoBench(b *testing.B, size int) *echoBench {
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
	b.Cleanup(h.rt.close)
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
	am.pool = newPool(size, 0, h.instanceMaker(a, am))
	a.mod.Store(am)
	b.Cleanup(am.close)
	msg, err := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.runActor(ctx, a, httpserver.OpHandleRequest, msg); err != nil {
		b.Fatal(err)
	}
	return &echoBench{h: h, a: a, am: am, msg: msg}
}

// BenchmarkActorCallInProcess measures one HttpServer.HandleRequest call into a warm echo
// instance: the wazero guest call and the waPC exchange, without NATS. "deadline" makes a
// context with the RPC timeout per call, as an invocation does; "background" calls without one
// (nothing bounds such a guest).
func BenchmarkActorCallInProcess(b *testing.B) {
	e := newEchoBench(b, goruntime.GOMAXPROCS(0))
	for _, deadline := range []bool{false, true} {
		name := "background"
		if deadline {
			name = "deadline"
		}
		one := func(b *testing.B) {
			ctx, cancel := context.Background(), context.CancelFunc(nil)
			if deadline {
				ctx, cancel = context.WithTimeout(ctx, e.h.cfg.RPCTimeout)
			}
			if _, err := e.h.runActor(ctx, e.a, httpserver.OpHandleRequest, e.msg); err != nil {
				b.Fatal(err)
			}
			if cancel != nil {
				cancel()
			}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				one(b)
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					one(b)
				}
			})
		})
	}
}

// BenchmarkGuestInterrupt compares the ways to bound a guest call with wazero 1.12, one echo
// call each with a context holding the RPC deadline, in instances taken from a channel:
//
//	ctx-deadline  WithCloseOnContextDone, the caller's context handed to wazero (what the host
//	              did before the watchdog): wazero's goroutine per call waits on its timer
//	watchdog      WithCloseOnContextDone, the instance's guestCtx (never done unless stopped)
//	              and the runtime's watchdog: what invoke does
//	interpreter   the same as watchdog on wazero's interpreter
//	unbounded     without WithCloseOnContextDone: no loop checks and nothing stops a guest;
//	              the floor, and what a per-actor opt-out would give
func BenchmarkGuestInterrupt(b *testing.B) {
	echo := latticetest.SignedActor(b, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
	v, err := verifyModule(echo.Module)
	if err != nil {
		b.Fatal(err)
	}
	msg, err := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	if err != nil {
		b.Fatal(err)
	}
	byWatchdog := func(ctx context.Context, in *instance, c *call) error {
		_, err := in.invoke(ctx, c)
		return err
	}
	byCtx := func(ctx context.Context, in *instance, c *call) error {
		res, err := in.guestCall.Call(context.WithValue(ctx, callKey{}, c), uint64(len(c.op)), uint64(len(c.msg)))
		if err == nil && uint32(res[0]) != 1 {
			b.Fatalf("guest error %s", c.guestErr)
		}
		return err
	}
	for _, o := range []struct {
		name   string
		config wazero.RuntimeConfig
		call   func(context.Context, *instance, *call) error
	}{
		{"ctx-deadline", wazero.NewRuntimeConfig().WithCloseOnContextDone(true), byCtx},
		{"watchdog", wazero.NewRuntimeConfig().WithCloseOnContextDone(true), byWatchdog},
		{"interpreter", wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(true), byWatchdog},
		{"unbounded", wazero.NewRuntimeConfig(), byCtx},
	} {
		b.Run(o.name, func(b *testing.B) {
			ctx := context.Background()
			cache, err := wazero.NewCompilationCacheWithDir(latticetest.CompilationCacheDir())
			if err != nil {
				b.Fatal(err)
			}
			rt, err := openRuntime(ctx, cache, o.config)
			if err != nil {
				b.Fatal(err)
			}
			defer rt.close()
			cm, err := rt.compile(ctx, v.code)
			if err != nil {
				b.Fatal(err)
			}
			n := goruntime.GOMAXPROCS(0)
			free := make(chan *instance, n)
			for range n {
				in, err := rt.instantiate(ctx, cm, os.Stderr, 0)
				if err != nil {
					b.Fatal(err)
				}
				free <- in
			}
			one := func(b *testing.B) {
				ctx, cancel := context.WithTimeout(ctx, lattice.DefaultRPCTimeout*time.Millisecond)
				in := <-free
				err := o.call(ctx, in, &call{op: []byte(httpserver.OpHandleRequest), msg: msg})
				free <- in
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
			one(b)
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					one(b)
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						one(b)
					}
				})
			})
		})
	}
}
