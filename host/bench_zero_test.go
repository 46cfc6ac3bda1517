package host

import (
	"bufio"
	"bytes"
	"context"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// zeroActor is an actor compiled in a host's runtime with an empty pool of one instance at most.
func zeroActor(b *testing.B, h *Host, signed []byte) *actor {
	b.Helper()
	ctx := context.Background()
	v, err := verifyModule(signed)
	if err != nil {
		b.Fatal(err)
	}
	am, err := h.compileModule(ctx, v)
	if err != nil {
		b.Fatal(err)
	}
	a := &actor{id: v.claims.Subject}
	am.pool = newPool(1, 0, h.instanceMaker(a, am))
	a.mod.Store(am)
	b.Cleanup(am.close)
	return a
}

// toZero closes the actor's idle instances, as the idle timeout does.
func toZero(a *actor) {
	p := a.mod.Load().pool
	p.resize(0, 0)
	p.resize(1, 0)
}

// BenchmarkFirstCallFromZero measures a call of an actor at zero instances: compiled (from the
// warm compilation cache, once), no instance; the call makes one (instantiate, run its init
// functions) and runs in it. The baseline is the same call into an idle instance, measured in the
// same run: first-ms is the call from zero, warm-ms the call with an instance idle, and
// first/warm their ratio. Targets: first-ms <= 15 for the Go echo actor, <= 1 for the .wat module.
func BenchmarkFirstCallFromZero(b *testing.B) {
	get, err := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	if err != nil {
		b.Fatal(err)
	}
	spin, err := os.ReadFile("testdata/spin/spin.wasm")
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		module func(b *testing.B) []byte
		op     string
		msg    []byte
	}{
		{"go-echo", func(b *testing.B) []byte {
			return latticetest.SignedActor(b, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{}).Module
		}, httpserver.OpHandleRequest, get},
		{"wat", func(b *testing.B) []byte {
			return latticetest.SignModule(b, spin, lattice.ActorMetadata{Name: "spin"}, lattice.SignOptions{}).Module
		}, "Echo.Echo", []byte("hello")},
	} {
		b.Run(tt.name, func(b *testing.B) {
			h := runtimeHost(b)
			a := zeroActor(b, h, tt.module(b))
			ctx := context.Background()
			call := func() time.Duration {
				start := time.Now()
				if _, err := h.runActor(ctx, a, tt.op, tt.msg); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			call() // the compiled code is warm
			var first, warm time.Duration
			for b.Loop() {
				toZero(a)
				first += call()
				warm += call()
			}
			n := float64(b.N)
			b.ReportMetric(float64(first.Microseconds())/1000/n, "first-ms")
			b.ReportMetric(float64(warm.Microseconds())/1000/n, "warm-ms")
			b.ReportMetric(float64(first)/float64(warm), "first/warm")
		})
	}
}

// BenchmarkActorsAtZeroMemory measures the host process's resident memory (VmRSS, after a GC
// that returns freed memory to the OS) with 100 Go echo actors compiled and at zero instances,
// then with one idle instance each, then at zero again once those are closed. The actors are 100
// signed copies of one module, so their compiled code is shared, as it is for the instances of
// one actor. Reported: rss-base-MiB (the runtime before any actor), rss-zero-MiB, rss-one-MiB, rss-closed-MiB, per-instance-MiB
// ((one - zero) / 100) and one/zero.
func BenchmarkActorsAtZeroMemory(b *testing.B) {
	const actors = 100
	code := latticetest.BuildWasm(b, "./actor/examples/echo")
	get, err := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	if err != nil {
		b.Fatal(err)
	}
	h := runtimeHost(b)
	base := rssMiB(b) // the runtime, no actor
	as := make([]*actor, actors)
	for i := range as {
		as[i] = zeroActor(b, h, latticetest.SignModule(b, code, lattice.ActorMetadata{Name: "echo" + strconv.Itoa(i), Caps: []string{httpserver.ContractID}}, lattice.SignOptions{}).Module)
	}
	ctx := context.Background()
	var zero, one, closed float64
	for b.Loop() {
		zero = rssMiB(b)
		for _, a := range as {
			if _, err := h.runActor(ctx, a, httpserver.OpHandleRequest, get); err != nil {
				b.Fatal(err)
			}
		}
		one = rssMiB(b)
		for _, a := range as {
			toZero(a)
		}
		closed = rssMiB(b)
	}
	b.ReportMetric(base, "rss-base-MiB")
	b.ReportMetric(zero, "rss-zero-MiB")
	b.ReportMetric(one, "rss-one-MiB")
	b.ReportMetric(closed, "rss-closed-MiB")
	b.ReportMetric((one-zero)/actors, "per-instance-MiB")
	b.ReportMetric(one/zero, "one/zero")
}

// rssMiB is this process's VmRSS in MiB, after a GC that returns what it can to the OS.
func rssMiB(b *testing.B) float64 {
	b.Helper()
	goruntime.GC()
	debug.FreeOSMemory()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status (Linux only): %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			f := bytes.Fields(rest) // "123456 kB"
			kb, err := strconv.ParseFloat(string(f[0]), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}
